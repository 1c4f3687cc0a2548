//! A fake Discord for tests: the REST API under `/api/v10` and a gateway websocket, on
//! 127.0.0.1, speaking the shapes serenity 0.12 and frontdesk's Discord adapter expect.
//!
//! Point the adapter at [`FakeDiscord::api_url`] (what `DISCORD_API_URL` takes). The fake
//! answers `GET /gateway` with its own `ws://` URL, so serenity's gateway connects here too.
//!
//! * REST: `GET /gateway`, `GET /gateway/bot`, `GET /users/@me`,
//!   `POST /channels/{id}/messages` (JSON or multipart with `payload_json` and `files[n]`),
//!   `POST /channels/{id}/typing`; anything else is recorded and answered 404. Every route
//!   checks `Authorization: Bot TOKEN` (401 `{"message":"401: Unauthorized","code":0}`).
//! * Gateway: HELLO (op 10) → IDENTIFY (op 2, recorded) → READY; heartbeats (op 1) are
//!   acknowledged (op 11). A test then pushes dispatches ([`FakeDiscord::push_message`],
//!   [`FakeDiscord::dispatch`]) with increasing `s`, or closes the socket with a code
//!   ([`FakeDiscord::close_gateway`]). A bad IDENTIFY token closes with 4004; intents listed
//!   in [`FakeDiscord::disallow_intents`] close with 4014, as Discord does.
//! * Failures: [`FakeDiscord::rate_limit_next_messages`] answers the next message creates
//!   with 429 and a `retry_after`.
//!
//! Everything the adapter sent is recorded ([`FakeDiscord::calls`],
//! [`FakeDiscord::messages`], [`FakeDiscord::identifies`]); the `wait_for_*` methods wait for
//! it without sleeping and panic with what was seen when the timeout passes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The fake bot's user id (what `GET /users/@me` and READY report).
pub const BOT_USER_ID: u64 = 900_000_000_000_000_001;
/// The fake bot's user name.
pub const BOT_USER_NAME: &str = "frontdesk-bot";
/// The fake bot's application id (in READY).
pub const APPLICATION_ID: u64 = 900_000_000_000_000_002;
/// The heartbeat interval HELLO announces, in milliseconds.
pub const HEARTBEAT_INTERVAL_MS: u64 = 41_250;
/// The MESSAGE_CONTENT gateway intent bit (1 << 15), a privileged intent.
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;

/// The timestamp every fake message carries.
const TIMESTAMP: &str = "2026-11-02T10:00:00.000000+00:00";

/// One REST request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The full path, e.g. `/api/v10/channels/42/messages`.
    pub path: String,
    /// The `Authorization` header as sent, e.g. `Bot TOKEN`.
    pub authorization: Option<String>,
    /// The JSON body, or a multipart request's `payload_json`.
    pub json: Option<Value>,
    /// The files of a multipart request.
    pub files: Vec<UploadedFile>,
    /// The status the fake answered with.
    pub status: u16,
}

/// One file part of a multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The form field name, e.g. `files[0]`.
    pub field: String,
    /// The file name given in `Content-Disposition`.
    pub file_name: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// The file's content.
    pub bytes: Vec<u8>,
}

/// A message the fake accepted (`POST /channels/{id}/messages` answered 200).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// The channel it was posted to.
    pub channel_id: String,
    /// The id the fake gave it.
    pub id: String,
    /// The JSON payload (or multipart `payload_json`) as sent.
    pub payload: Value,
    /// The files sent with it.
    pub files: Vec<UploadedFile>,
}

impl SentMessage {
    /// The `content` field, or `""`.
    #[must_use]
    pub fn content(&self) -> &str {
        self.payload
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The `embeds` array, or empty.
    #[must_use]
    pub fn embeds(&self) -> Vec<Value> {
        self.payload
            .get("embeds")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// One IDENTIFY (op 2) the gateway received.
#[derive(Debug, Clone, PartialEq)]
pub struct Identify {
    /// The token, as sent (serenity sends it with its `Bot ` prefix).
    pub token: String,
    /// The intents bit set.
    pub intents: u64,
    /// The whole `d` object.
    pub raw: Value,
}

/// A user message for the gateway to deliver as MESSAGE_CREATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The message id.
    pub id: u64,
    /// The channel (or DM channel) id.
    pub channel_id: u64,
    /// The guild id; `None` for a direct message.
    pub guild_id: Option<u64>,
    /// The author's user id.
    pub author_id: u64,
    /// The author's user name.
    pub username: String,
    /// The author's display name.
    pub global_name: Option<String>,
    /// Whether the author is a bot.
    pub bot: bool,
    /// The author's role ids in the guild (sent as `member.roles` for guild messages).
    pub roles: Vec<u64>,
    /// The text.
    pub content: String,
}

impl IncomingMessage {
    /// A message in a guild channel, id 1, from user `author_id` named `user{author_id}`.
    #[must_use]
    pub fn in_guild(guild_id: u64, channel_id: u64, author_id: u64, content: &str) -> Self {
        Self {
            id: 1,
            channel_id,
            guild_id: Some(guild_id),
            author_id,
            username: format!("user{author_id}"),
            global_name: None,
            bot: false,
            roles: Vec::new(),
            content: content.to_owned(),
        }
    }

    /// A direct message to the bot.
    #[must_use]
    pub fn direct(channel_id: u64, author_id: u64, content: &str) -> Self {
        Self {
            guild_id: None,
            ..Self::in_guild(0, channel_id, author_id, content)
        }
    }

    /// Sets the message id.
    #[must_use]
    pub fn with_id(mut self, id: u64) -> Self {
        self.id = id;
        self
    }

    /// Sets the author's role ids.
    #[must_use]
    pub fn with_roles(mut self, roles: impl IntoIterator<Item = u64>) -> Self {
        self.roles = roles.into_iter().collect();
        self
    }

    /// Sets the author's user name and display name.
    #[must_use]
    pub fn with_names(mut self, username: &str, global_name: Option<&str>) -> Self {
        self.username = username.to_owned();
        self.global_name = global_name.map(str::to_owned);
        self
    }

    /// Marks the author as a bot.
    #[must_use]
    pub fn from_bot(mut self) -> Self {
        self.bot = true;
        self
    }

    /// The MESSAGE_CREATE `d` object, as Discord sends it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut author = json!({
            "id": self.author_id.to_string(),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": null,
            "public_flags": 0,
        });
        if self.bot {
            author["bot"] = json!(true);
        }
        let mut message = json!({
            "id": self.id.to_string(),
            "channel_id": self.channel_id.to_string(),
            "author": author,
            "content": self.content,
            "timestamp": TIMESTAMP,
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": false,
            "type": 0,
            "flags": 0,
            "nonce": self.id.to_string(),
        });
        if let Some(guild_id) = self.guild_id {
            message["guild_id"] = json!(guild_id.to_string());
            message["member"] = json!({
                "roles": self.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
                "joined_at": TIMESTAMP,
                "nick": null,
                "avatar": null,
                "premium_since": null,
                "deaf": false,
                "mute": false,
                "flags": 0,
                "pending": false,
            });
        }
        message
    }
}

/// What a test asks the live gateway session to do.
#[derive(Debug)]
enum GatewayCommand {
    Dispatch { event: String, data: Value },
    Close { code: u16, reason: String },
}

/// How many message creates to refuse with 429, and the wait to ask for.
#[derive(Debug, Default)]
struct RateLimit {
    remaining: usize,
    retry_after: Duration,
}

/// State shared by the REST handlers, the gateway sessions and the test.
struct Shared {
    token: String,
    ws_url: String,
    calls: Mutex<Vec<RecordedCall>>,
    messages: Mutex<Vec<SentMessage>>,
    identifies: Mutex<Vec<Identify>>,
    rate_limit: Mutex<RateLimit>,
    disallowed_intents: AtomicU64,
    seq: AtomicU64,
    open_sessions: AtomicUsize,
    next_id: AtomicU64,
    commands: mpsc::UnboundedSender<GatewayCommand>,
    /// Taken by the one identified session for as long as it lives.
    command_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<GatewayCommand>>,
    /// Bumped after every recorded call, message and IDENTIFY.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn bot_user(&self) -> Value {
        json!({
            "id": BOT_USER_ID.to_string(),
            "username": BOT_USER_NAME,
            "global_name": null,
            "discriminator": "0",
            "avatar": null,
            "bot": true,
            "verified": true,
            "mfa_enabled": false,
            "flags": 0,
        })
    }

    fn good_auth(&self) -> String {
        format!("Bot {}", self.token)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake Discord; the server stops when this is dropped.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeDiscord {
    /// Starts the fake on 127.0.0.1 with a random port; `token` is the only bot token it
    /// accepts (without the `Bot ` prefix).
    ///
    /// # Panics
    /// If no local port can be bound.
    pub async fn start(token: &str) -> Self {
        Self::start_at(token, "127.0.0.1:0").await
    }

    /// [`FakeDiscord::start`] on a given address (a port the adapter was told about before
    /// the fake came up).
    ///
    /// # Panics
    /// If the address cannot be bound.
    pub async fn start_at(token: &str, address: &str) -> Self {
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(e) => panic!("fake discord: cannot bind {address}: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => panic!("fake discord: no local address: {e}"),
        };
        let (commands, command_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            ws_url: format!("ws://{addr}/ws"),
            calls: Mutex::default(),
            messages: Mutex::default(),
            identifies: Mutex::default(),
            rate_limit: Mutex::default(),
            disallowed_intents: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            open_sessions: AtomicUsize::new(0),
            next_id: AtomicU64::new(1_100_000_000_000_000_000),
            commands,
            command_rx: tokio::sync::Mutex::new(command_rx),
            changed: watch::channel(0).0,
        });
        let app = Router::new()
            .route("/ws", get(gateway_upgrade))
            .fallback(rest)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake discord: server stopped: {e}");
            }
        });
        Self {
            shared,
            addr,
            server,
        }
    }

    /// The base URL to give the adapter (`DISCORD_API_URL`), e.g. `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway URL `GET /gateway` hands out, e.g. `ws://127.0.0.1:PORT/ws`.
    #[must_use]
    pub fn gateway_url(&self) -> String {
        self.shared.ws_url.clone()
    }

    /// Every REST call so far, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.calls).clone()
    }

    /// Every message accepted so far, in order.
    #[must_use]
    pub fn messages(&self) -> Vec<SentMessage> {
        lock(&self.shared.messages).clone()
    }

    /// Every IDENTIFY received so far, in order.
    #[must_use]
    pub fn identifies(&self) -> Vec<Identify> {
        lock(&self.shared.identifies).clone()
    }

    /// Waits until at least `n` REST calls have been recorded and returns them all.
    ///
    /// # Panics
    /// When `timeout` passes first.
    pub async fn wait_for_calls(&self, n: usize, timeout: Duration) -> Vec<RecordedCall> {
        self.wait_until(timeout, "REST calls", || {
            let calls = self.calls();
            (calls.len() >= n).then_some(calls)
        })
        .await
    }

    /// Waits until at least `n` messages have been accepted and returns them all.
    ///
    /// # Panics
    /// When `timeout` passes first.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<SentMessage> {
        self.wait_until(timeout, "messages", || {
            let messages = self.messages();
            (messages.len() >= n).then_some(messages)
        })
        .await
    }

    /// Waits for the `n`th (1-based) IDENTIFY since the fake started and returns it.
    ///
    /// # Panics
    /// When `timeout` passes first.
    pub async fn wait_for_identify(&self, n: usize, timeout: Duration) -> Identify {
        self.wait_until(timeout, "IDENTIFY", || {
            self.identifies().get(n.saturating_sub(1)).cloned()
        })
        .await
    }

    /// How many gateway websockets are open now.
    #[must_use]
    pub fn open_sessions(&self) -> usize {
        self.shared.open_sessions.load(Ordering::SeqCst)
    }

    /// Waits until exactly `n` gateway websockets are open (e.g. 0 after the client stopped).
    ///
    /// # Panics
    /// When `timeout` passes first.
    pub async fn wait_for_open_sessions(&self, n: usize, timeout: Duration) {
        self.wait_until(timeout, "open gateway sessions", || {
            (self.open_sessions() == n).then_some(())
        })
        .await;
    }

    /// Answers the next `count` message creates with HTTP 429 asking to wait `retry_after`.
    pub fn rate_limit_next_messages(&self, count: usize, retry_after: Duration) {
        *lock(&self.shared.rate_limit) = RateLimit {
            remaining: count,
            retry_after,
        };
    }

    /// Closes the gateway with 4014 (disallowed intents) when an IDENTIFY asks for any of
    /// these intent bits, e.g. [`INTENT_MESSAGE_CONTENT`] for a bot whose Message Content
    /// Intent is not enabled.
    pub fn disallow_intents(&self, mask: u64) {
        self.shared.disallowed_intents.store(mask, Ordering::SeqCst);
    }

    /// Sends a dispatch (op 0) with event name `event` and data `data` on the identified
    /// session, once there is one.
    pub fn dispatch(&self, event: &str, data: Value) {
        self.command(GatewayCommand::Dispatch {
            event: event.to_owned(),
            data,
        });
    }

    /// Delivers `message` as a MESSAGE_CREATE dispatch.
    pub fn push_message(&self, message: &IncomingMessage) {
        self.dispatch("MESSAGE_CREATE", message.to_json());
    }

    /// Closes the identified session's websocket with `code` (e.g. 4004, 4014).
    pub fn close_gateway(&self, code: u16, reason: &str) {
        self.command(GatewayCommand::Close {
            code,
            reason: reason.to_owned(),
        });
    }

    fn command(&self, command: GatewayCommand) {
        // The receiver lives in `shared`, so the channel never closes while `self` exists.
        let _ = self.shared.commands.send(command);
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut ready: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changed = self.shared.changed.subscribe();
        loop {
            if let Some(value) = ready() {
                return value;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                panic!(
                    "fake discord: timed out after {timeout:?} waiting for {what}; calls: {:#?}; identifies: {:#?}",
                    self.calls(),
                    self.identifies()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// REST

/// Answers and records every REST request.
async fn rest(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (json, files) = parse_body(&headers, &body);
    let response = if authorization.as_deref() != Some(shared.good_auth().as_str()) {
        error(StatusCode::UNAUTHORIZED, "401: Unauthorized")
    } else {
        route(&shared, &method, &path, json.as_ref(), &files)
    };
    let status = response.status().as_u16();
    if status == 404 {
        eprintln!("fake discord: unknown route {method} {path}");
    }
    lock(&shared.calls).push(RecordedCall {
        method: method.to_string(),
        path,
        authorization,
        json,
        files,
        status,
    });
    shared.bump();
    response
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    json: Option<&Value>,
    files: &[UploadedFile],
) -> Response {
    let Some(rest) = path.strip_prefix("/api/v10/") else {
        return error(StatusCode::NOT_FOUND, "404: Not Found");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["gateway"]) => Json(json!({ "url": shared.ws_url })).into_response(),
        ("GET", ["gateway", "bot"]) => Json(json!({
            "url": shared.ws_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1
            }
        }))
        .into_response(),
        ("GET", ["users", "@me"]) => Json(shared.bot_user()).into_response(),
        ("POST", ["channels", channel, "messages"]) if is_snowflake(channel) => {
            create_message(shared, channel, json, files)
        }
        ("POST", ["channels", channel, "typing"]) if is_snowflake(channel) => {
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "404: Not Found"),
    }
}

fn is_snowflake(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn create_message(
    shared: &Shared,
    channel: &str,
    json: Option<&Value>,
    files: &[UploadedFile],
) -> Response {
    {
        let mut limit = lock(&shared.rate_limit);
        if limit.remaining > 0 {
            limit.remaining -= 1;
            let secs = limit.retry_after.as_secs_f64();
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": secs,
                    "global": false,
                })),
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(
                "retry-after",
                HeaderValue::from(limit.retry_after.as_secs_f64().ceil() as u64),
            );
            headers.insert("x-ratelimit-global", HeaderValue::from_static("false"));
            headers.insert("x-ratelimit-scope", HeaderValue::from_static("user"));
            return response;
        }
    }
    let Some(payload) = json.cloned() else {
        return error(StatusCode::BAD_REQUEST, "Cannot send an empty message");
    };
    let content = payload.get("content").and_then(Value::as_str).unwrap_or("");
    let embeds = payload.get("embeds").cloned().unwrap_or_else(|| json!([]));
    let has_embeds = embeds.as_array().is_some_and(|e| !e.is_empty());
    if content.is_empty() && !has_embeds && files.is_empty() {
        return error(StatusCode::BAD_REQUEST, "Cannot send an empty message");
    }
    if content.chars().count() > 2000 {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid Form Body: content too long",
        );
    }
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst).to_string();
    let reference = payload.get("message_reference").cloned();
    let attachments: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({
                "id": (i + 1).to_string(),
                "filename": f.file_name.clone().unwrap_or_else(|| "file".to_owned()),
                "size": f.bytes.len(),
                "url": format!("https://cdn.example/{id}/{i}"),
                "proxy_url": format!("https://cdn.example/{id}/{i}"),
                "content_type": f.content_type,
            })
        })
        .collect();
    let answer = json!({
        "id": id,
        "channel_id": channel,
        "author": shared.bot_user(),
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": attachments,
        "embeds": embeds,
        "pinned": false,
        "type": if reference.is_some() { 19 } else { 0 },
        "flags": 0,
    });
    lock(&shared.messages).push(SentMessage {
        channel_id: channel.to_owned(),
        id,
        payload,
        files: files.to_vec(),
    });
    Json(answer).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message, "code": 0 }))).into_response()
}

/// Reads a JSON body, or a multipart body's `payload_json` and file parts.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> (Option<Value>, Vec<UploadedFile>) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(boundary) = multipart_boundary(content_type) {
        let mut json = None;
        let mut files = Vec::new();
        for part in multipart_parts(body, &boundary) {
            if part.field == "payload_json" {
                json = serde_json::from_slice(&part.bytes).ok();
            } else {
                files.push(part);
            }
        }
        return (json, files);
    }
    (serde_json::from_slice(body).ok(), Vec::new())
}

fn multipart_boundary(content_type: &str) -> Option<String> {
    let rest = content_type.strip_prefix("multipart/form-data")?;
    rest.split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
        .next()
}

/// Splits a multipart body into its parts (every part, files or not, as an [`UploadedFile`]).
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<UploadedFile> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = match find(body, &delimiter) {
        Some(at) => &body[at + delimiter.len()..],
        None => return parts,
    };
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        let rest_after_crlf = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(end) = find(rest_after_crlf, &delimiter) else {
            break;
        };
        let raw = &rest_after_crlf[..end];
        let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        if let Some(part) = parse_part(raw) {
            parts.push(part);
        }
        rest = &rest_after_crlf[end + delimiter.len()..];
    }
    parts
}

fn parse_part(raw: &[u8]) -> Option<UploadedFile> {
    let split = find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let bytes = raw[split + 4..].to_vec();
    let mut field = None;
    let mut file_name = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').map(str::trim) {
                if let Some(v) = param.strip_prefix("name=") {
                    field = Some(v.trim_matches('"').to_owned());
                } else if let Some(v) = param.strip_prefix("filename=") {
                    file_name = Some(v.trim_matches('"').to_owned());
                }
            }
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        }
    }
    Some(UploadedFile {
        field: field?,
        file_name,
        content_type,
        bytes,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Gateway

async fn gateway_upgrade(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    ws.on_upgrade(move |socket| async move {
        shared.open_sessions.fetch_add(1, Ordering::SeqCst);
        shared.bump();
        gateway_session(socket, Arc::clone(&shared)).await;
        shared.open_sessions.fetch_sub(1, Ordering::SeqCst);
        shared.bump();
    })
}

async fn send_json(socket: &mut WebSocket, value: &Value) -> bool {
    socket
        .send(WsMessage::Text(value.to_string().into()))
        .await
        .is_ok()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.to_owned().into(),
    };
    let _ = socket.send(WsMessage::Close(Some(frame))).await;
}

fn dispatch_frame(shared: &Shared, event: &str, data: Value) -> Value {
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
    json!({ "op": 0, "t": event, "s": seq, "d": data })
}

/// One gateway connection: HELLO, IDENTIFY, READY, then heartbeats and test commands.
async fn gateway_session(mut socket: WebSocket, shared: Arc<Shared>) {
    let hello = json!({
        "op": 10, "s": null, "t": null,
        "d": { "heartbeat_interval": HEARTBEAT_INTERVAL_MS }
    });
    if !send_json(&mut socket, &hello).await {
        return;
    }
    // Until IDENTIFY: answer heartbeats, refuse RESUME (op 9, not resumable).
    loop {
        let Some(frame) = next_json(&mut socket).await else {
            return;
        };
        let answer = match frame.get("op").and_then(Value::as_u64) {
            Some(1) => json!({ "op": 11 }),
            Some(6) => json!({ "op": 9, "d": false }),
            Some(2) if identify(&mut socket, &shared, &frame).await => break,
            Some(2) => return,
            _ => continue,
        };
        if !send_json(&mut socket, &answer).await {
            return;
        }
    }
    let mut commands = shared.command_rx.lock().await;
    loop {
        tokio::select! {
            frame = next_json(&mut socket) => {
                let Some(frame) = frame else { return };
                if frame.get("op").and_then(Value::as_u64) == Some(1)
                    && !send_json(&mut socket, &json!({ "op": 11 })).await
                {
                    return;
                }
            }
            command = commands.recv() => match command {
                Some(GatewayCommand::Dispatch { event, data }) => {
                    let frame = dispatch_frame(&shared, &event, data);
                    if !send_json(&mut socket, &frame).await {
                        return;
                    }
                }
                Some(GatewayCommand::Close { code, reason }) => {
                    close(&mut socket, code, &reason).await;
                    return;
                }
                None => return,
            },
        }
    }
}

/// Records an IDENTIFY and answers READY, or closes with 4004/4014; true when identified.
async fn identify(socket: &mut WebSocket, shared: &Shared, frame: &Value) -> bool {
    let data = frame.get("d").cloned().unwrap_or(Value::Null);
    let token = data
        .get("token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let intents = data.get("intents").and_then(Value::as_u64).unwrap_or(0);
    lock(&shared.identifies).push(Identify {
        token: token.clone(),
        intents,
        raw: data,
    });
    shared.bump();
    let token_ok = token == shared.good_auth() || token == shared.token;
    if !token_ok {
        close(socket, 4004, "Authentication failed.").await;
        return false;
    }
    if intents & shared.disallowed_intents.load(Ordering::SeqCst) != 0 {
        close(socket, 4014, "Disallowed intent(s).").await;
        return false;
    }
    let ready = json!({
        "v": 10,
        "user": shared.bot_user(),
        "guilds": [],
        "session_id": "fake-session",
        "resume_gateway_url": shared.ws_url,
        "application": { "id": APPLICATION_ID.to_string(), "flags": 0 },
    });
    let frame = dispatch_frame(shared, "READY", ready);
    send_json(socket, &frame).await
}

/// The next JSON text frame, skipping pings and unparsable frames; `None` when closed.
async fn next_json(socket: &mut WebSocket) -> Option<Value> {
    loop {
        match socket.recv().await? {
            Ok(WsMessage::Text(text)) => {
                if let Ok(value) = serde_json::from_str(text.as_str()) {
                    return Some(value);
                }
            }
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}
