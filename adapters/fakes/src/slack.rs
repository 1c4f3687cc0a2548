//! A fake Slack for tests: the Web API methods frontdesk calls, served at
//! `http://127.0.0.1:PORT/api/{method}`, a Socket Mode websocket at `/socket`, and helpers to
//! build and sign Events API requests.
//!
//! ```ignore
//! let slack = FakeSlack::start().await;
//! let config = SlackConfig::new(slack::BOT_TOKEN)
//!     .with_app_token(slack::APP_TOKEN)
//!     .with_api_url(slack.api_url());
//! // … run the adapter, then:
//! let posts = slack.wait_for_delivered("chat.postMessage", 1, Duration::from_secs(5)).await;
//! assert_eq!(posts[0].body["text"], "hello");
//! ```
//!
//! Web API: `auth.test`, `chat.postMessage`, `usergroups.list`, `apps.connections.open`,
//! `files.getUploadURLExternal`, `files.completeUploadExternal` (the bytes go to
//! `/upload/{file_id}`, recorded as method `upload`). Every call must carry
//! `Authorization: Bearer` [`BOT_TOKEN`] ([`APP_TOKEN`] for `apps.connections.open`), else it
//! gets `{"ok":false,"error":"invalid_auth"}` (`not_authed` without a header). Every call is
//! recorded ([`RecordedCall`]) with its JSON, form or query parameters. Tests can queue 429s
//! ([`FakeSlack::rate_limit_next`]) and `ok:false` errors ([`FakeSlack::fail_next`]).
//!
//! Socket Mode: `apps.connections.open` hands out `ws://127.0.0.1:PORT/socket`; each
//! connection gets `hello`, then whatever the test pushes ([`FakeSlack::push_event`],
//! [`FakeSlack::send_disconnect`]); acks (`{"envelope_id": …}`) are recorded
//! ([`FakeSlack::wait_for_ack`]).
//!
//! Events API: [`EventBuilder`] makes `event_callback` bodies, [`sign_event`] the
//! `X-Slack-Signature` for them, [`signed_headers`] both headers at the current time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The bot token the fake accepts.
pub const BOT_TOKEN: &str = "xoxb-fake-bot-token";
/// The app-level token the fake accepts for `apps.connections.open`.
pub const APP_TOKEN: &str = "xapp-fake-app-token";
/// The fake workspace's team id.
pub const TEAM_ID: &str = "TFAKE0001";
/// The bot's user id, as `auth.test` reports it.
pub const BOT_USER_ID: &str = "UFAKEBOT1";
/// The bot id, as `auth.test` reports it.
pub const BOT_ID: &str = "BFAKEBOT1";
/// A signing secret tests may use for the Events API.
pub const SIGNING_SECRET: &str = "fake-signing-secret";

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The Web API method (`chat.postMessage`), or `upload` for a file upload URL.
    pub method: String,
    /// `GET` or `POST`.
    pub http_method: String,
    /// The `Authorization` header, as sent.
    pub auth: Option<String>,
    /// The query string parameters.
    pub query: BTreeMap<String, String>,
    /// The body: parsed JSON, a form as an object of strings, or `Null`.
    pub body: Value,
    /// The raw body bytes.
    pub raw_body: Vec<u8>,
    /// The HTTP status answered.
    pub status: u16,
    /// Whether the answer was `"ok": true`.
    pub ok: bool,
}

impl RecordedCall {
    /// Returns a parameter from the body (JSON or form) or else the query string, as text.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<String> {
        match self.body.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => self.query.get(name).cloned(),
            Some(other) => Some(other.to_string()),
        }
    }

    /// Whether the call was answered 200 with `"ok": true`.
    #[must_use]
    pub fn delivered(&self) -> bool {
        self.status == 200 && self.ok
    }
}

/// Something to send on the current Socket Mode connection.
#[derive(Debug)]
enum Outgoing {
    Text(String),
    Close,
}

/// The current Socket Mode connection.
#[derive(Debug)]
struct Socket {
    id: usize,
    outbox: mpsc::UnboundedSender<Outgoing>,
}

#[derive(Debug, Default)]
struct FakeState {
    calls: Vec<RecordedCall>,
    /// Per method: how many more calls get a 429, and the `Retry-After` seconds.
    rate_limits: HashMap<String, (usize, u64)>,
    /// Per method: errors to answer the next calls with.
    failures: HashMap<String, VecDeque<String>>,
    /// User groups: id and member ids.
    user_groups: Vec<(String, Vec<String>)>,
    socket: Option<Socket>,
    connections: usize,
    acks: Vec<String>,
    next_id: u64,
}

#[derive(Debug)]
struct Shared {
    base_url: String,
    state: Mutex<FakeState>,
    /// Bumped after every change of `state`, for the `wait_*` methods.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn next_id(&self) -> u64 {
        let mut state = self.lock();
        state.next_id += 1;
        state.next_id
    }
}

/// A running fake Slack on 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub struct FakeSlack {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSlack {
    /// Starts the fake on a free port.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start() -> Self {
        Self::start_at("127.0.0.1:0").await
    }

    /// [`FakeSlack::start`] on a given address (a port the adapter was told about before
    /// the fake came up).
    ///
    /// # Panics
    /// When the address cannot be bound.
    pub async fn start_at(address: &str) -> Self {
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(e) => panic!("fake slack: cannot bind {address}: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => panic!("fake slack: no local address: {e}"),
        };
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            state: Mutex::new(FakeState::default()),
            changed,
        });
        let app = Router::new()
            .route("/api/{method}", any(api))
            .route("/upload/{file_id}", post(upload))
            .route("/socket", get(socket))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake slack stopped: {e}");
            }
        });
        Self {
            shared,
            addr,
            server,
        }
    }

    /// Returns `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Returns the Web API base URL, `http://127.0.0.1:PORT/api` (for `SLACK_API_URL`).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}/api", self.shared.base_url)
    }

    /// Returns the address the fake listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns every call received so far, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// Returns the calls to `method` received so far.
    #[must_use]
    pub fn calls_to(&self, method: &str) -> Vec<RecordedCall> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Returns the calls to `method` answered 200 with `"ok": true`.
    #[must_use]
    pub fn delivered(&self, method: &str) -> Vec<RecordedCall> {
        self.calls_to(method)
            .into_iter()
            .filter(RecordedCall::delivered)
            .collect()
    }

    /// Waits until at least `n` calls to `method` (answered any way) were received, and
    /// returns all of them.
    ///
    /// # Panics
    /// When `timeout` passes first, listing the calls received.
    pub async fn wait_for_calls(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<RecordedCall> {
        self.wait_for(method, n, timeout, |_| true).await
    }

    /// Waits until at least `n` calls to `method` were answered 200 with `"ok": true`, and
    /// returns those calls.
    ///
    /// # Panics
    /// When `timeout` passes first, listing the calls received.
    pub async fn wait_for_delivered(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<RecordedCall> {
        self.wait_for(method, n, timeout, RecordedCall::delivered)
            .await
    }

    async fn wait_for(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
        keep: fn(&RecordedCall) -> bool,
    ) -> Vec<RecordedCall> {
        let found = self
            .wait_until(timeout, |state| {
                let calls: Vec<RecordedCall> = state
                    .calls
                    .iter()
                    .filter(|c| c.method == method && keep(c))
                    .cloned()
                    .collect();
                (calls.len() >= n).then_some(calls)
            })
            .await;
        match found {
            Some(calls) => calls,
            None => panic!(
                "fake slack: fewer than {n} matching {method} calls within {timeout:?}; got {:#?}",
                self.calls()
            ),
        }
    }

    /// Answers the next `times` calls to `method` with HTTP 429, `Retry-After:
    /// retry_after_secs` and `{"ok":false,"error":"ratelimited"}`.
    pub fn rate_limit_next(&self, method: &str, times: usize, retry_after_secs: u64) {
        self.shared
            .lock()
            .rate_limits
            .insert(method.to_owned(), (times, retry_after_secs));
    }

    /// Answers the next call to `method` with `{"ok":false,"error":error}`; calls queue up.
    pub fn fail_next(&self, method: &str, error: &str) {
        self.shared
            .lock()
            .failures
            .entry(method.to_owned())
            .or_default()
            .push_back(error.to_owned());
    }

    /// Sets the workspace's user groups: `(group id, member user ids)`.
    pub fn set_user_groups(&self, groups: &[(&str, &[&str])]) {
        self.shared.lock().user_groups = groups
            .iter()
            .map(|(id, users)| {
                (
                    (*id).to_owned(),
                    users.iter().map(|u| (*u).to_owned()).collect(),
                )
            })
            .collect();
    }

    /// Returns how many Socket Mode connections have been opened (and greeted) so far.
    #[must_use]
    pub fn socket_connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Waits until at least `n` Socket Mode connections have been opened and greeted.
    ///
    /// # Panics
    /// When `timeout` passes first.
    pub async fn wait_for_socket_connections(&self, n: usize, timeout: Duration) {
        let done = self
            .wait_until(timeout, |state| {
                (state.connections >= n && state.socket.is_some()).then_some(())
            })
            .await;
        if done.is_none() {
            panic!(
                "fake slack: fewer than {n} socket mode connections within {timeout:?} (have {})",
                self.socket_connections()
            );
        }
    }

    /// Sends an `events_api` envelope carrying `payload` (an `event_callback`, e.g.
    /// [`EventBuilder::callback`]) on the current Socket Mode connection, waiting up to 5 s
    /// for one, and returns its `envelope_id`.
    ///
    /// # Panics
    /// When no connection is open within 5 s.
    pub async fn push_event(&self, payload: Value) -> String {
        let envelope_id = format!("env-{}", self.shared.next_id());
        let envelope = json!({
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": payload,
        });
        self.push_raw(envelope.to_string()).await;
        envelope_id
    }

    /// Sends `{"type":"disconnect","reason":reason}` on the current connection (Slack's
    /// "please reconnect"); the connection stays open until the client closes it.
    ///
    /// # Panics
    /// When no connection is open within 5 s.
    pub async fn send_disconnect(&self, reason: &str) {
        let message = json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": { "host": "fake-slack" },
        });
        self.push_raw(message.to_string()).await;
    }

    /// Sends any text frame on the current connection.
    ///
    /// # Panics
    /// When no connection is open within 5 s.
    pub async fn push_raw(&self, text: String) {
        let outbox = self
            .wait_until(Duration::from_secs(5), |state| {
                state.socket.as_ref().map(|s| s.outbox.clone())
            })
            .await;
        let sent = outbox.is_some_and(|outbox| outbox.send(Outgoing::Text(text)).is_ok());
        if !sent {
            panic!("fake slack: no socket mode connection to push to");
        }
    }

    /// Closes the current Socket Mode connection from the server side, if any.
    pub fn close_socket(&self) {
        if let Some(socket) = self.shared.lock().socket.take() {
            let _ = socket.outbox.send(Outgoing::Close);
        }
        self.shared.bump();
    }

    /// Returns the envelope ids acknowledged so far.
    #[must_use]
    pub fn acks(&self) -> Vec<String> {
        self.shared.lock().acks.clone()
    }

    /// Waits until `envelope_id` is acknowledged; returns whether it was within `timeout`.
    pub async fn wait_for_ack(&self, envelope_id: &str, timeout: Duration) -> bool {
        self.wait_until(timeout, |state| {
            state.acks.iter().any(|a| a == envelope_id).then_some(())
        })
        .await
        .is_some()
    }

    /// Polls `check` after every change of the fake's state until it gives a value or
    /// `timeout` passes.
    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeState) -> Option<T>,
    ) -> Option<T> {
        let mut changes = self.shared.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check(&self.shared.lock()) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return check(&self.shared.lock()),
            }
        }
    }
}

/// Returns `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` under `secret`: the
/// `X-Slack-Signature` Slack sends with an Events API request.
#[must_use]
pub fn sign_event(secret: &str, timestamp: &str, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC accepts keys of any length; this branch is never taken.
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Returns the current Unix time in seconds, as Slack puts it in
/// `X-Slack-Request-Timestamp`.
#[must_use]
pub fn now_timestamp() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

/// Returns the two headers of a signed Events API request for `body`, timestamped now:
/// `x-slack-request-timestamp` and `x-slack-signature`.
#[must_use]
pub fn signed_headers(secret: &str, body: &str) -> [(&'static str, String); 2] {
    let timestamp = now_timestamp();
    let signature = sign_event(secret, &timestamp, body);
    [
        ("x-slack-request-timestamp", timestamp),
        ("x-slack-signature", signature),
    ]
}

/// Returns a `url_verification` request body with `challenge`.
#[must_use]
pub fn url_verification(challenge: &str) -> String {
    json!({ "token": "fake", "challenge": challenge, "type": "url_verification" }).to_string()
}

/// Builds an Events API `event_callback` (also the payload of a Socket Mode `events_api`
/// envelope) around one message event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBuilder {
    team_id: String,
    event_id: String,
    event: Map<String, Value>,
}

impl EventBuilder {
    fn message(
        kind: &str,
        channel: &str,
        channel_type: Option<&str>,
        text: &str,
        ts: &str,
    ) -> Self {
        let mut event = Map::new();
        event.insert("type".into(), json!(kind));
        event.insert("channel".into(), json!(channel));
        if let Some(channel_type) = channel_type {
            event.insert("channel_type".into(), json!(channel_type));
        }
        event.insert("text".into(), json!(text));
        event.insert("ts".into(), json!(ts));
        event.insert("event_ts".into(), json!(ts));
        event.insert("team".into(), json!(TEAM_ID));
        Self {
            team_id: TEAM_ID.to_owned(),
            event_id: format!("Ev{}", ts.replace('.', "")),
            event,
        }
    }

    /// A top-level message by `user` in public channel `channel`. The `event_id` defaults to
    /// `Ev` + the digits of `ts`.
    #[must_use]
    pub fn channel_message(channel: &str, user: &str, text: &str, ts: &str) -> Self {
        Self::message("message", channel, Some("channel"), text, ts).with_field("user", json!(user))
    }

    /// A message by `user` in the IM `channel` with the bot.
    #[must_use]
    pub fn direct_message(channel: &str, user: &str, text: &str, ts: &str) -> Self {
        Self::message("message", channel, Some("im"), text, ts).with_field("user", json!(user))
    }

    /// A reply by `user` in the thread `thread_ts` of public channel `channel`.
    #[must_use]
    pub fn thread_reply(channel: &str, user: &str, text: &str, ts: &str, thread_ts: &str) -> Self {
        Self::channel_message(channel, user, text, ts).with_field("thread_ts", json!(thread_ts))
    }

    /// An `app_mention` event by `user` in `channel` (text usually starts with `<@BOT>`).
    #[must_use]
    pub fn app_mention(channel: &str, user: &str, text: &str, ts: &str) -> Self {
        Self::message("app_mention", channel, None, text, ts).with_field("user", json!(user))
    }

    /// A message posted by another app's bot (`subtype: bot_message`, `bot_id`).
    #[must_use]
    pub fn bot_message(channel: &str, bot_id: &str, text: &str, ts: &str) -> Self {
        Self::message("message", channel, Some("channel"), text, ts)
            .with_field("subtype", json!("bot_message"))
            .with_field("bot_id", json!(bot_id))
    }

    /// Sets the `event_id`.
    #[must_use]
    pub fn with_event_id(mut self, event_id: &str) -> Self {
        self.event_id = event_id.to_owned();
        self
    }

    /// Sets the team id of the callback and the event.
    #[must_use]
    pub fn with_team(mut self, team_id: &str) -> Self {
        self.team_id = team_id.to_owned();
        self.event.insert("team".into(), json!(team_id));
        self
    }

    /// Sets (or replaces) one field of the inner event, e.g. `subtype` or `bot_id`.
    #[must_use]
    pub fn with_field(mut self, key: &str, value: Value) -> Self {
        self.event.insert(key.to_owned(), value);
        self
    }

    /// Returns the `event_id`.
    #[must_use]
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// The id the adapter gives the message, `"{channel}/{ts}"`: the same for its
    /// `message` and `app_mention` events and for Slack's retries.
    #[must_use]
    pub fn message_id(&self) -> String {
        let field = |name: &str| self.event.get(name).and_then(Value::as_str).unwrap_or("");
        format!("{}/{}", field("channel"), field("ts"))
    }

    /// Returns the `event_callback` JSON.
    #[must_use]
    pub fn callback(&self) -> Value {
        json!({
            "token": "fake-verification-token",
            "team_id": self.team_id,
            "api_app_id": "AFAKEAPP1",
            "event": self.event,
            "type": "event_callback",
            "event_id": self.event_id,
            "event_time": 1_700_000_000,
            "authorizations": [{
                "team_id": self.team_id,
                "user_id": BOT_USER_ID,
                "is_bot": true,
            }],
        })
    }

    /// Returns the `event_callback` JSON as a request body.
    #[must_use]
    pub fn body(&self) -> String {
        self.callback().to_string()
    }
}

/// Parses a query string or form body into name → value.
fn parse_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Decodes `+` and `%XX` escapes; a malformed escape is kept as is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let decoded = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = decoded {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads the body as JSON, or a form, or nothing.
fn parse_body(headers: &HeaderMap, raw: &[u8]) -> Value {
    if raw.is_empty() {
        return Value::Null;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        serde_json::from_slice(raw).unwrap_or(Value::Null)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = parse_form(&String::from_utf8_lossy(raw));
        Value::Object(
            form.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        Value::Null
    }
}

/// Serves `/api/{method}`.
async fn api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    http_method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let mut call = RecordedCall {
        method: method.clone(),
        http_method: http_method.to_string(),
        auth: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        query: parse_form(query.as_deref().unwrap_or("")),
        body: parse_body(&headers, &raw),
        raw_body: raw.to_vec(),
        status: 200,
        ok: false,
    };
    let (status, retry_after, answer) = answer(&shared, &call);
    call.status = status.as_u16();
    call.ok = answer.get("ok").and_then(Value::as_bool) == Some(true);
    shared.lock().calls.push(call);
    shared.bump();
    let mut response = (status, Json(answer)).into_response();
    if let Some(secs) = retry_after {
        if let Ok(value) = secs.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// Decides the answer to one API call: status, `Retry-After` seconds, JSON body.
fn answer(shared: &Shared, call: &RecordedCall) -> (StatusCode, Option<u64>, Value) {
    let wanted = if call.method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    let error = |code: &str| (StatusCode::OK, None, json!({ "ok": false, "error": code }));
    match call.auth.as_deref() {
        None => return error("not_authed"),
        Some(auth) if auth != format!("Bearer {wanted}") => return error("invalid_auth"),
        Some(_) => {}
    }
    {
        let mut state = shared.lock();
        if let Some((left, secs)) = state.rate_limits.get_mut(&call.method) {
            if *left > 0 {
                *left -= 1;
                let secs = *secs;
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(secs),
                    json!({ "ok": false, "error": "ratelimited" }),
                );
            }
        }
        let failure: Option<String> = state
            .failures
            .get_mut(&call.method)
            .and_then(VecDeque::pop_front);
        if let Some(code) = failure {
            return error(code.as_str());
        }
    }
    let ok = |mut value: Value| {
        value["ok"] = json!(true);
        (StatusCode::OK, None, value)
    };
    match call.method.as_str() {
        "auth.test" => ok(json!({
            "url": "https://fake-studio.slack.com/",
            "team": "Fake Studio",
            "user": "frontdesk",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": false,
        })),
        "chat.postMessage" => post_message(shared, call),
        "usergroups.list" => {
            let include_users = call.param("include_users").as_deref() == Some("true");
            let groups: Vec<Value> = shared
                .lock()
                .user_groups
                .iter()
                .map(|(id, users)| user_group(id, users, include_users))
                .collect();
            ok(json!({ "usergroups": groups }))
        }
        "apps.connections.open" => ok(json!({
            "url": format!("{}/socket", shared.base_url.replacen("http://", "ws://", 1)),
        })),
        "files.getUploadURLExternal" => {
            let length = call.param("length").and_then(|l| l.parse::<u64>().ok());
            match (call.param("filename"), length) {
                (Some(_), Some(length)) if length > 0 => {
                    let file_id = format!("FFAKE{}", shared.next_id());
                    ok(json!({
                        "upload_url": format!("{}/upload/{file_id}", shared.base_url),
                        "file_id": file_id,
                    }))
                }
                _ => error("invalid_arguments"),
            }
        }
        "files.completeUploadExternal" => match call.body.get("files") {
            Some(Value::Array(files)) if !files.is_empty() => ok(json!({ "files": files })),
            _ => error("invalid_arguments"),
        },
        _ => error("unknown_method"),
    }
}

/// Answers `chat.postMessage` like Slack: needs a channel and text or blocks.
fn post_message(shared: &Shared, call: &RecordedCall) -> (StatusCode, Option<u64>, Value) {
    let error = |code: &str| (StatusCode::OK, None, json!({ "ok": false, "error": code }));
    let Some(channel) = call.param("channel").filter(|c| !c.is_empty()) else {
        return error("channel_not_found");
    };
    let text = call.param("text").unwrap_or_default();
    let blocks = call.body.get("blocks").and_then(Value::as_array);
    if text.is_empty() && blocks.is_none_or(Vec::is_empty) {
        return error("no_text");
    }
    if blocks.is_some_and(|b| b.len() > 50) {
        return error("invalid_blocks");
    }
    let ts = format!("1700000000.{:06}", shared.next_id());
    let mut message = json!({
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": text,
        "ts": ts,
    });
    if let Some(thread) = call.param("thread_ts") {
        message["thread_ts"] = json!(thread);
    }
    (
        StatusCode::OK,
        None,
        json!({ "ok": true, "channel": channel, "ts": ts, "message": message }),
    )
}

/// One `usergroups.list` entry, with the fields Slack always sends.
fn user_group(id: &str, users: &[String], include_users: bool) -> Value {
    let mut group = json!({
        "id": id,
        "team_id": TEAM_ID,
        "is_usergroup": true,
        "is_subteam": true,
        "name": format!("Group {id}"),
        "description": "",
        "handle": id.to_lowercase(),
        "is_external": false,
        "date_create": 1_700_000_000,
        "date_update": 1_700_000_000,
        "date_delete": 0,
        "auto_type": null,
        "created_by": "UADMIN001",
        "updated_by": "UADMIN001",
        "deleted_by": null,
        "prefs": { "channels": [], "groups": [] },
        "user_count": users.len(),
    });
    if include_users {
        group["users"] = json!(users);
    }
    group
}

/// Serves a file upload URL: records the bytes and answers like Slack's upload host.
async fn upload(
    State(shared): State<Arc<Shared>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let mut query = BTreeMap::new();
    query.insert("file_id".to_owned(), file_id);
    let call = RecordedCall {
        method: "upload".to_owned(),
        http_method: "POST".to_owned(),
        auth: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        query,
        body: Value::Null,
        raw_body: raw.to_vec(),
        status: 200,
        ok: true,
    };
    let length = call.raw_body.len();
    shared.lock().calls.push(call);
    shared.bump();
    (StatusCode::OK, format!("OK - {length}")).into_response()
}

/// Upgrades `/socket` to a Socket Mode connection.
async fn socket(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |ws| serve_socket(shared, ws))
}

/// Greets the connection, then relays what the test pushes and records acks.
async fn serve_socket(shared: Arc<Shared>, mut ws: WebSocket) {
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "debug_info": { "host": "fake-slack", "approximate_connection_time": 18060 },
        "connection_info": { "app_id": "AFAKEAPP1" },
    });
    if ws
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let (outbox, mut inbox) = mpsc::unbounded_channel();
    let id = {
        let mut state = shared.lock();
        state.connections += 1;
        let id = state.connections;
        if let Some(old) = state.socket.replace(Socket { id, outbox }) {
            drop(old);
        }
        id
    };
    shared.bump();
    loop {
        tokio::select! {
            outgoing = inbox.recv() => match outgoing {
                Some(Outgoing::Text(text)) => {
                    if ws.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = ws.send(Message::Close(None)).await;
                    break;
                }
            },
            incoming = ws.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let envelope_id = serde_json::from_str::<Value>(text.as_str())
                        .ok()
                        .and_then(|v| v.get("envelope_id").and_then(Value::as_str).map(str::to_owned));
                    if let Some(envelope_id) = envelope_id {
                        shared.lock().acks.push(envelope_id);
                        shared.bump();
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    {
        let mut state = shared.lock();
        if state.socket.as_ref().is_some_and(|s| s.id == id) {
            state.socket = None;
        }
    }
    shared.bump();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_slacks_documented_example() {
        // From Slack's "Verifying requests from Slack" guide.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign_event("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn forms_decode() {
        let form = parse_form("a=1&b=x+y&c=%2Fz&d=%zz&e=%4");
        assert_eq!(form["a"], "1");
        assert_eq!(form["b"], "x y");
        assert_eq!(form["c"], "/z");
        assert_eq!(form["d"], "%zz");
        assert_eq!(form["e"], "%4");
    }
}
