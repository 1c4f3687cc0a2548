//! A fake Telegram Bot API for tests ([`FakeTelegram`]), and a launcher for the npm
//! `telegram-test-api` emulator ([`emulator`]).
//!
//! The fake serves `/bot{token}/{method}` on 127.0.0.1 (method names in any case, as Telegram
//! accepts them) for `getMe`, `getUpdates` (long polling, real offset semantics),
//! `sendMessage`, `sendPhoto`, `sendChatAction`, `setWebhook`, `deleteWebhook`,
//! `getWebhookInfo`, `setMyCommands` and `getMyCommands`. It records
//! every call, lets a test queue user messages ([`UserMessage`]), and can answer the next sends
//! with 429. A wrong token gets Telegram's 401 answer.
//!
//! `sendMessage` with `parse_mode: MarkdownV2` is checked like Telegram does it for the subset
//! frontdesk produces: every reserved character outside `pre`/`code` must be escaped (entity
//! markup such as `*bold*` is refused here although Telegram accepts it), code blocks must be
//! closed, and a text must be 1–4096 characters.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use frontdesk_fakes::telegram::{FakeTelegram, UserMessage};
//! let fake = FakeTelegram::start("123:TEST").await;
//! // point the adapter at fake.base_url(), start its polling, then:
//! fake.push_message(&UserMessage::private(42, "Asha", "hello"));
//! let sent = fake.wait_for_sent(1, Duration::from_secs(5)).await;
//! assert_eq!(sent[0].plain_text(), "echo: hello");
//! # }
//! ```

pub mod emulator;
mod markdown_check;
mod multipart;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use markdown_check::{check_markdown_v2, unescape_markdown_v2};

/// The fake bot's user id.
pub const FAKE_BOT_ID: i64 = 7_000_000_001;

/// The fake bot's @username.
pub const FAKE_BOT_USERNAME: &str = "frontdesk_test_bot";

/// The longest `getUpdates` wait the fake honours, in seconds.
const MAX_POLL_TIMEOUT_SECS: u64 = 30;

/// One API call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The method as written in the path, e.g. `SendMessage`.
    pub method: String,
    /// The token from the path.
    pub token: String,
    /// The parameters: the JSON body, or the form/multipart fields (fields holding JSON are
    /// parsed; a file becomes `{"file_name": …, "len": …, "bytes": […]}`), merged with the
    /// query string.
    pub body: Value,
    /// The HTTP status the fake answered; 0 while the call is still open (a long poll).
    pub status: u16,
}

impl RecordedCall {
    /// Whether this call is `method` (case-insensitive, as Telegram).
    #[must_use]
    pub fn is(&self, method: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
    }

    /// A parameter as a string (numbers and booleans written out).
    #[must_use]
    pub fn param(&self, key: &str) -> Option<String> {
        value_string(self.body.get(key)?)
    }
}

/// A message the bot delivered (a successful `sendMessage` or `sendPhoto`).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// `sendMessage` or `sendPhoto`, as in the path.
    pub method: String,
    /// The chat it went to.
    pub chat_id: String,
    /// The text, or the photo's caption, exactly as sent (MarkdownV2-escaped if so sent).
    pub text: Option<String>,
    /// `parse_mode`, if any.
    pub parse_mode: Option<String>,
    /// `message_thread_id`, if any.
    pub thread_id: Option<i64>,
    /// The message answered: `reply_parameters.message_id` or `reply_to_message_id`.
    pub reply_to: Option<i64>,
    /// `reply_parameters.allow_sending_without_reply`, if given.
    pub allow_sending_without_reply: Option<bool>,
    /// `reply_markup`, if any.
    pub reply_markup: Option<Value>,
    /// For a photo: the uploaded file's name and size.
    pub photo: Option<(String, usize)>,
    /// For a photo: the uploaded file's bytes.
    pub photo_bytes: Option<Vec<u8>>,
    /// Every parameter.
    pub body: Value,
}

impl SentMessage {
    /// The text as the user sees it: MarkdownV2 escapes removed and code fences dropped.
    #[must_use]
    pub fn plain_text(&self) -> String {
        let text = self.text.clone().unwrap_or_default();
        if self
            .parse_mode
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("MarkdownV2"))
        {
            unescape_markdown_v2(&text)
        } else {
            text
        }
    }

    fn from_call(call: &RecordedCall) -> Option<Self> {
        let is_photo = call.is("sendPhoto");
        if !(call.is("sendMessage") || is_photo) || call.status != 200 {
            return None;
        }
        let reply = call.body.get("reply_parameters");
        Some(Self {
            method: call.method.clone(),
            chat_id: call.param("chat_id").unwrap_or_default(),
            text: call.param(if is_photo { "caption" } else { "text" }),
            parse_mode: call.param("parse_mode"),
            thread_id: call.param("message_thread_id").and_then(|t| t.parse().ok()),
            reply_to: reply
                .and_then(|r| r.get("message_id"))
                .and_then(value_string)
                .or_else(|| call.param("reply_to_message_id"))
                .and_then(|id| id.parse().ok()),
            allow_sending_without_reply: reply
                .and_then(|r| r.get("allow_sending_without_reply"))
                .and_then(Value::as_bool),
            reply_markup: call.body.get("reply_markup").cloned(),
            photo: call.body.get("photo").and_then(|p| {
                Some((
                    p.get("file_name")?.as_str()?.to_owned(),
                    usize::try_from(p.get("len")?.as_u64()?).ok()?,
                ))
            }),
            photo_bytes: call
                .body
                .get("photo")
                .and_then(|p| p.get("bytes"))
                .and_then(|b| serde_json::from_value(b.clone()).ok()),
            body: call.body.clone(),
        })
    }
}

/// A message a user sends to the bot, to queue with [`FakeTelegram::push_message`] or post
/// to a webhook with [`UserMessage::to_update`].
#[derive(Debug, Clone, PartialEq)]
pub struct UserMessage {
    /// The chat id (the user's id for a private chat).
    pub chat_id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    pub chat_type: String,
    /// A forum topic id; sets `message_thread_id` and `is_topic_message`.
    pub topic: Option<i64>,
    /// The sender's user id.
    pub from_id: i64,
    /// The sender's first name.
    pub first_name: String,
    /// Whether the sender is a bot.
    pub from_bot: bool,
    /// The text, if any.
    pub text: Option<String>,
    /// A shared contact, if any.
    pub contact: Option<SharedContact>,
}

/// A contact card attached to a message.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedContact {
    /// The number, as Telegram sends it (usually without `+`).
    pub phone_number: String,
    /// The contact's first name.
    pub first_name: String,
    /// The contact's Telegram user id, when the contact is a Telegram user.
    pub user_id: Option<i64>,
}

impl UserMessage {
    /// A text in the private chat between user `user_id` and the bot.
    #[must_use]
    pub fn private(user_id: i64, first_name: &str, text: &str) -> Self {
        Self {
            chat_id: user_id,
            chat_type: "private".to_owned(),
            topic: None,
            from_id: user_id,
            first_name: first_name.to_owned(),
            from_bot: false,
            text: Some(text.to_owned()),
            contact: None,
        }
    }

    /// A text in supergroup `chat_id` (negative, e.g. `-1001234`).
    #[must_use]
    pub fn group(chat_id: i64, user_id: i64, first_name: &str, text: &str) -> Self {
        Self {
            chat_id,
            chat_type: "supergroup".to_owned(),
            ..Self::private(user_id, first_name, text)
        }
    }

    /// The user shares their own contact (the reply keyboard's button) in the private chat.
    #[must_use]
    pub fn own_contact(user_id: i64, first_name: &str, phone_number: &str) -> Self {
        Self::contact(user_id, first_name, phone_number, Some(user_id))
    }

    /// The user sends a contact card whose `user_id` is `contact_user_id` (someone else's, or
    /// `None` for a number that is not on Telegram).
    #[must_use]
    pub fn contact(
        user_id: i64,
        first_name: &str,
        phone_number: &str,
        contact_user_id: Option<i64>,
    ) -> Self {
        Self {
            text: None,
            contact: Some(SharedContact {
                phone_number: phone_number.to_owned(),
                first_name: first_name.to_owned(),
                user_id: contact_user_id,
            }),
            ..Self::private(user_id, first_name, "")
        }
    }

    /// Posts the message in forum topic `topic`.
    #[must_use]
    pub fn in_topic(mut self, topic: i64) -> Self {
        self.topic = Some(topic);
        self
    }

    /// Marks the sender as a bot.
    #[must_use]
    pub fn from_bot(mut self) -> Self {
        self.from_bot = true;
        self
    }

    /// The update Telegram would deliver for this message.
    #[must_use]
    pub fn to_update(&self, update_id: i64, message_id: i64) -> Value {
        let mut chat = json!({"id": self.chat_id, "type": self.chat_type});
        if self.chat_type == "private" {
            chat["first_name"] = json!(self.first_name);
        } else {
            chat["title"] = json!("Studio group");
            if self.topic.is_some() {
                chat["is_forum"] = json!(true);
            }
        }
        let mut message = json!({
            "message_id": message_id,
            "date": unix_now(),
            "chat": chat,
            "from": {"id": self.from_id, "is_bot": self.from_bot, "first_name": self.first_name},
        });
        if let Some(topic) = self.topic {
            message["message_thread_id"] = json!(topic);
            message["is_topic_message"] = json!(true);
        }
        if let Some(text) = &self.text {
            message["text"] = json!(text);
        }
        if let Some(contact) = &self.contact {
            let mut card = json!({
                "phone_number": contact.phone_number,
                "first_name": contact.first_name,
            });
            if let Some(id) = contact.user_id {
                card["user_id"] = json!(id);
            }
            message["contact"] = card;
        }
        json!({"update_id": update_id, "message": message})
    }
}

/// Ids of a queued message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// The update id.
    pub update_id: i64,
    /// The message id within its chat.
    pub message_id: i64,
    /// The chat id.
    pub chat_id: i64,
}

impl Pushed {
    /// The event id the adapter gives this message: `"{chat_id}:{message_id}"`.
    #[must_use]
    pub fn event_id(&self) -> String {
        format!("{}:{}", self.chat_id, self.message_id)
    }
}

/// What the fake remembers.
#[derive(Debug)]
struct Inner {
    calls: Vec<RecordedCall>,
    /// Updates not yet confirmed by an offset, oldest first.
    updates: VecDeque<(i64, Value)>,
    next_update_id: i64,
    next_message_id: i64,
    /// Sends still to refuse with 429, and the `retry_after` to ask for.
    refuse_sends: usize,
    retry_after: u64,
    /// `getUpdates` calls still to refuse with 409 Conflict.
    refuse_polls: usize,
    webhook: Option<Webhook>,
    /// The command menus set with `setMyCommands`, by language code ("" for everyone).
    commands: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

/// The webhook the bot registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The URL.
    pub url: String,
    /// The `secret_token`, if given.
    pub secret_token: Option<String>,
}

struct Shared {
    token: String,
    inner: Mutex<Inner>,
    /// Bumped after every recorded call.
    changed: watch::Sender<u64>,
    /// Woken when an update is queued.
    update_added: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a call as it arrives; returns its index.
    fn record(&self, call: RecordedCall) -> usize {
        let index = {
            let mut inner = self.lock();
            inner.calls.push(call);
            inner.calls.len() - 1
        };
        self.changed.send_modify(|n| *n += 1);
        index
    }

    /// Records the status the fake answered a call with.
    fn set_status(&self, index: usize, status: u16) {
        if let Some(call) = self.lock().calls.get_mut(index) {
            call.status = status;
        }
        self.changed.send_modify(|n| *n += 1);
    }
}

/// A fake Bot API server on 127.0.0.1; stops when dropped.
pub struct FakeTelegram {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTelegram {
    /// Starts the fake; only `token` is accepted.
    ///
    /// # Panics
    ///
    /// When no local port can be bound (a broken test machine).
    pub async fn start(token: &str) -> Self {
        Self::start_at(token, "127.0.0.1:0").await
    }

    /// [`FakeTelegram::start`] on a given address (a port a client was told about before
    /// the fake came up).
    ///
    /// # Panics
    ///
    /// When the address cannot be bound.
    pub async fn start_at(token: &str, address: &str) -> Self {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            inner: Mutex::new(Inner {
                calls: Vec::new(),
                updates: VecDeque::new(),
                next_update_id: 100_000,
                next_message_id: 1,
                refuse_sends: 0,
                retry_after: 1,
                refuse_polls: 0,
                webhook: None,
                commands: std::collections::BTreeMap::new(),
            }),
            changed: watch::channel(0).0,
            update_added: Notify::new(),
        });
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(e) => panic!("fake telegram: cannot bind {address}: {e}"),
        };
        let base_url = match listener.local_addr() {
            Ok(addr) => format!("http://{addr}"),
            Err(e) => panic!("fake telegram: no local address: {e}"),
        };
        let app = Router::new().fallback(serve_api).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake telegram stopped: {e}");
            }
        });
        Self {
            base_url,
            shared,
            server,
        }
    }

    /// The base URL to give the adapter (`TELEGRAM_API_URL`), e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The token the fake accepts.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Queues a user's message for `getUpdates` and returns its ids.
    pub fn push_message(&self, message: &UserMessage) -> Pushed {
        let (update_id, message_id) = self.next_ids();
        self.queue(update_id, message.to_update(update_id, message_id));
        Pushed {
            update_id,
            message_id,
            chat_id: message.chat_id,
        }
    }

    /// Queues a raw update (its `update_id` is set if missing) and returns its update id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let update_id = match update.get("update_id").and_then(Value::as_i64) {
            Some(id) => id,
            None => {
                let (id, _) = self.next_ids();
                if let Some(object) = update.as_object_mut() {
                    object.insert("update_id".to_owned(), json!(id));
                }
                id
            }
        };
        self.queue(update_id, update);
        update_id
    }

    /// Builds the update for `message` with fresh ids without queueing it (to post it to a
    /// webhook), and returns it with its ids.
    pub fn make_update(&self, message: &UserMessage) -> (Value, Pushed) {
        let (update_id, message_id) = self.next_ids();
        let pushed = Pushed {
            update_id,
            message_id,
            chat_id: message.chat_id,
        };
        (message.to_update(update_id, message_id), pushed)
    }

    /// Answers the next `count` `sendMessage`/`sendPhoto` calls with 429 and
    /// `retry_after: retry_after_secs`.
    pub fn refuse_next_sends(&self, count: usize, retry_after_secs: u64) {
        let mut inner = self.shared.lock();
        inner.refuse_sends = count;
        inner.retry_after = retry_after_secs;
    }

    /// Answers the next `count` `getUpdates` calls with 409 Conflict (as Telegram does when
    /// another instance polls), to exercise the adapter's backoff.
    pub fn refuse_next_polls(&self, count: usize) {
        self.shared.lock().refuse_polls = count;
    }

    /// Every call so far, oldest first.
    #[must_use]
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// The calls to `method` so far (case-insensitive).
    #[must_use]
    pub fn calls_to(&self, method: &str) -> Vec<RecordedCall> {
        self.calls().into_iter().filter(|c| c.is(method)).collect()
    }

    /// Every message the bot delivered so far, oldest first.
    #[must_use]
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter_map(SentMessage::from_call)
            .collect()
    }

    /// Updates queued and not yet confirmed by a `getUpdates` offset.
    #[must_use]
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// The webhook registered with `setWebhook`, if any.
    #[must_use]
    pub fn webhook(&self) -> Option<Webhook> {
        self.shared.lock().webhook.clone()
    }

    /// The command menu set with `setMyCommands` for `language` (`None`: the default
    /// menu), as `(command, description)` pairs; empty when none was set.
    #[must_use]
    pub fn commands(&self, language: Option<&str>) -> Vec<(String, String)> {
        self.shared
            .lock()
            .commands
            .get(language.unwrap_or(""))
            .cloned()
            .unwrap_or_default()
    }

    /// Sets a webhook as another deployment would have (`setWebhook` from elsewhere).
    pub fn set_webhook_elsewhere(&self, url: &str) {
        self.shared.lock().webhook = Some(Webhook {
            url: url.to_owned(),
            secret_token: None,
        });
    }

    /// Waits until at least `count` calls to `method` arrived and returns them all (a long
    /// poll still open has status 0).
    ///
    /// # Panics
    ///
    /// After `timeout`, listing the calls received.
    pub async fn wait_for_calls(
        &self,
        method: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<RecordedCall> {
        let found = self
            .wait_until(timeout, |inner| {
                let calls: Vec<RecordedCall> = inner
                    .calls
                    .iter()
                    .filter(|c| c.is(method))
                    .cloned()
                    .collect();
                (calls.len() >= count).then_some(calls)
            })
            .await;
        match found {
            Some(calls) => calls,
            None => panic!(
                "fake telegram: wanted {count} {method} calls within {timeout:?}; got {:#?}",
                self.calls()
            ),
        }
    }

    /// Waits until at least `count` messages were delivered and returns them all.
    ///
    /// # Panics
    ///
    /// After `timeout`, listing the calls received.
    pub async fn wait_for_sent(&self, count: usize, timeout: Duration) -> Vec<SentMessage> {
        let found = self
            .wait_until(timeout, |inner| {
                let sent: Vec<SentMessage> = inner
                    .calls
                    .iter()
                    .filter_map(SentMessage::from_call)
                    .collect();
                (sent.len() >= count).then_some(sent)
            })
            .await;
        match found {
            Some(sent) => sent,
            None => panic!(
                "fake telegram: wanted {count} sent messages within {timeout:?}; got {:#?}",
                self.calls()
            ),
        }
    }

    /// Waits up to `timeout` for `check` to give a value, re-checking after every call.
    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Inner) -> Option<T>,
    ) -> Option<T> {
        let mut changed = self.shared.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check(&self.shared.lock()) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return check(&self.shared.lock()),
            }
        }
    }

    fn next_ids(&self) -> (i64, i64) {
        let mut inner = self.shared.lock();
        let ids = (inner.next_update_id, inner.next_message_id);
        inner.next_update_id += 1;
        inner.next_message_id += 1;
        ids
    }

    fn queue(&self, update_id: i64, update: Value) {
        self.shared.lock().updates.push_back((update_id, update));
        self.shared.update_added.notify_waiters();
    }
}

/// A Bot API answer: HTTP status and body.
type Answer = (StatusCode, Value);

fn ok(result: Value) -> Answer {
    (StatusCode::OK, json!({"ok": true, "result": result}))
}

fn error(status: StatusCode, description: &str) -> Answer {
    (
        status,
        json!({"ok": false, "error_code": status.as_u16(), "description": description}),
    )
}

fn bad_request(description: &str) -> Answer {
    error(
        StatusCode::BAD_REQUEST,
        &format!("Bad Request: {description}"),
    )
}

/// Serves every request: `/bot{token}/{method}`.
async fn serve_api(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut segments = uri.path().trim_start_matches('/').splitn(2, '/');
    let token = segments
        .next()
        .and_then(|s| s.strip_prefix("bot"))
        .unwrap_or_default()
        .to_owned();
    let method = segments.next().unwrap_or_default().to_owned();
    let params = parse_params(&uri, &headers, &body);
    let index = shared.record(RecordedCall {
        method: method.clone(),
        token: token.clone(),
        body: params.clone(),
        status: 0,
    });
    let (status, answer) = if token != shared.token {
        error(StatusCode::UNAUTHORIZED, "Unauthorized")
    } else {
        answer_method(&shared, &method, &params).await
    };
    shared.set_status(index, status.as_u16());
    (status, Json(answer)).into_response()
}

/// Runs one Bot API method.
async fn answer_method(shared: &Shared, method: &str, params: &Value) -> Answer {
    let method = method.to_ascii_lowercase();
    let is_send = method == "sendmessage" || method == "sendphoto";
    if is_send {
        let mut inner = shared.lock();
        if inner.refuse_sends > 0 {
            inner.refuse_sends -= 1;
            let wait = inner.retry_after;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "ok": false,
                    "error_code": 429,
                    "description": format!("Too Many Requests: retry after {wait}"),
                    "parameters": {"retry_after": wait},
                }),
            );
        }
    }
    if method == "getupdates" {
        let mut inner = shared.lock();
        if inner.refuse_polls > 0 {
            inner.refuse_polls -= 1;
            return error(
                StatusCode::CONFLICT,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            );
        }
    }
    match method.as_str() {
        "getme" => ok(bot_user(true)),
        "getupdates" => ok(get_updates(shared, params).await),
        "sendmessage" => send_message(shared, params),
        "sendphoto" => send_photo(shared, params),
        "sendchataction" => match param_str(params, "chat_id") {
            Some(_) => ok(json!(true)),
            None => bad_request("chat_id is empty"),
        },
        "setwebhook" => match param_str(params, "url") {
            Some(url) => {
                shared.lock().webhook = Some(Webhook {
                    url,
                    secret_token: param_str(params, "secret_token"),
                });
                ok(json!(true))
            }
            None => bad_request("url is empty"),
        },
        "deletewebhook" => {
            shared.lock().webhook = None;
            ok(json!(true))
        }
        "setmycommands" => match bot_commands(params) {
            Ok(commands) => {
                let language = param_str(params, "language_code").unwrap_or_default();
                shared.lock().commands.insert(language, commands);
                ok(json!(true))
            }
            Err(why) => bad_request(&why),
        },
        "getmycommands" => {
            let language = param_str(params, "language_code").unwrap_or_default();
            let commands = shared.lock().commands.get(&language).cloned();
            let list: Vec<Value> = commands
                .unwrap_or_default()
                .into_iter()
                .map(|(command, description)| json!({"command": command, "description": description}))
                .collect();
            ok(Value::Array(list))
        }
        "getwebhookinfo" => {
            let url = shared.lock().webhook.as_ref().map(|w| w.url.clone());
            ok(json!({
                "url": url.unwrap_or_default(),
                "has_custom_certificate": false,
                "pending_update_count": 0,
            }))
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found: method not found"),
    }
}

/// `getUpdates`: drops updates below `offset`, returns the rest, waiting up to `timeout`
/// seconds for one to arrive.
async fn get_updates(shared: &Shared, params: &Value) -> Value {
    let offset = param_i64(params, "offset");
    let limit = param_i64(params, "limit")
        .and_then(|l| usize::try_from(l).ok())
        .filter(|l| (1..=100).contains(l))
        .unwrap_or(100);
    let wait = param_i64(params, "timeout")
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(0)
        .min(MAX_POLL_TIMEOUT_SECS);
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let added = shared.update_added.notified();
        tokio::pin!(added);
        added.as_mut().enable();
        let ready: Vec<Value> = {
            let mut inner = shared.lock();
            if let Some(offset) = offset {
                inner.updates.retain(|(id, _)| *id >= offset);
            }
            inner
                .updates
                .iter()
                .take(limit)
                .map(|(_, update)| update.clone())
                .collect()
        };
        if !ready.is_empty() || Instant::now() >= deadline {
            return Value::Array(ready);
        }
        let _ = tokio::time::timeout_at(deadline, added).await;
    }
}

fn send_message(shared: &Shared, params: &Value) -> Answer {
    let Some(chat_id) = param_str(params, "chat_id") else {
        return bad_request("chat_id is empty");
    };
    let text = param_str(params, "text").unwrap_or_default();
    if text.trim().is_empty() {
        return bad_request("message text is empty");
    }
    if text.chars().count() > 4096 {
        return bad_request("message is too long");
    }
    if let Err(problem) = check_parse_mode(params, &text) {
        return bad_request(&problem);
    }
    let mut message = new_message(shared, &chat_id, params);
    message["text"] = json!(text);
    ok(message)
}

fn send_photo(shared: &Shared, params: &Value) -> Answer {
    let Some(chat_id) = param_str(params, "chat_id") else {
        return bad_request("chat_id is empty");
    };
    let Some(size) = params
        .get("photo")
        .and_then(|p| p.get("len"))
        .and_then(Value::as_u64)
    else {
        return bad_request("there is no photo in the request");
    };
    let mut message = new_message(shared, &chat_id, params);
    message["photo"] = json!([{
        "file_id": "fake-photo", "file_unique_id": "fake-photo-u",
        "width": 1, "height": 1, "file_size": size,
    }]);
    if let Some(caption) = param_str(params, "caption") {
        if caption.chars().count() > 1024 {
            return bad_request("message caption is too long");
        }
        if let Err(problem) = check_parse_mode(params, &caption) {
            return bad_request(&problem);
        }
        message["caption"] = json!(caption);
    }
    ok(message)
}

/// Checks MarkdownV2 text when that parse mode is asked for.
fn check_parse_mode(params: &Value, text: &str) -> Result<(), String> {
    match param_str(params, "parse_mode") {
        Some(mode) if mode == "MarkdownV2" => {
            check_markdown_v2(text).map_err(|e| format!("can't parse entities: {e}"))
        }
        Some(mode) if mode == "HTML" || mode == "Markdown" => Ok(()),
        Some(mode) => Err(format!("unsupported parse_mode {mode}")),
        None => Ok(()),
    }
}

/// The `Message` the bot just sent, without its content.
fn new_message(shared: &Shared, chat_id: &str, params: &Value) -> Value {
    let message_id = {
        let mut inner = shared.lock();
        let id = inner.next_message_id;
        inner.next_message_id += 1;
        id
    };
    let chat = match chat_id.parse::<i64>() {
        Ok(id) if id > 0 => json!({"id": id, "type": "private", "first_name": "User"}),
        Ok(id) => json!({"id": id, "type": "supergroup", "title": "Studio group"}),
        Err(_) => json!({"id": -1_000_000_000_001_i64, "type": "channel", "title": "Channel",
                          "username": chat_id.trim_start_matches('@')}),
    };
    let mut message = json!({
        "message_id": message_id,
        "date": unix_now(),
        "chat": chat,
        "from": bot_user(false),
    });
    if let Some(thread) = param_i64(params, "message_thread_id") {
        message["message_thread_id"] = json!(thread);
        message["is_topic_message"] = json!(true);
    }
    message
}

/// The bot's `User`, or with `me` the `getMe` answer with every field teloxide needs.
fn bot_user(me: bool) -> Value {
    let mut user = json!({
        "id": FAKE_BOT_ID, "is_bot": true, "first_name": "Frontdesk", "username": FAKE_BOT_USERNAME,
    });
    if me {
        for (key, value) in [
            ("can_join_groups", true),
            ("can_read_all_group_messages", false),
            ("supports_inline_queries", false),
            ("can_connect_to_business", false),
            ("has_main_web_app", false),
        ] {
            user[key] = json!(value);
        }
    }
    user
}

/// The request's parameters: query string, then the JSON, form or multipart body.
fn parse_params(uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Value {
    let mut params = Map::new();
    if let Some(query) = uri.query() {
        params.extend(form_fields(query));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("multipart/form-data") {
        params.extend(multipart::fields(content_type, body));
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(form_fields(&String::from_utf8_lossy(body)));
    } else if !body.is_empty() {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => params.extend(object),
            Ok(other) => {
                params.insert("_body".to_owned(), other);
            }
            Err(_) => {
                params.insert(
                    "_body".to_owned(),
                    json!(String::from_utf8_lossy(body).into_owned()),
                );
            }
        }
    }
    Value::Object(params)
}

/// Parses `a=1&b=x` (percent-decoded) into fields, reading JSON-looking values as JSON.
fn form_fields(query: &str) -> Map<String, Value> {
    let uri = format!("/?{query}");
    let pairs = uri
        .parse::<Uri>()
        .ok()
        .and_then(|uri| {
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
                .ok()
                .map(|q| q.0)
        })
        .unwrap_or_default();
    pairs
        .into_iter()
        .map(|(key, value)| (key, field_value(value)))
        .collect()
}

/// A text field, parsed when it holds a JSON object or array.
fn field_value(text: String) -> Value {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(value) = serde_json::from_str(&text) {
            return value;
        }
    }
    Value::String(text)
}

fn value_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The `commands` of `setMyCommands`, checked as Telegram does: at most 100, each a
/// command of 1–32 of a–z, 0–9 and _ with a description of 1–256 characters.
fn bot_commands(params: &Value) -> Result<Vec<(String, String)>, String> {
    let list = match params.get("commands") {
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|e| e.to_string())?,
        Some(list) => list.clone(),
        None => return Err("parameter \"commands\" is required".to_owned()),
    };
    let Value::Array(list) = list else {
        return Err("can't parse commands JSON object".to_owned());
    };
    if list.len() > 100 {
        return Err("too many commands specified".to_owned());
    }
    list.iter()
        .map(|item| {
            let command = item.get("command").and_then(Value::as_str).unwrap_or("");
            let description = item
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            let valid = (1..=32).contains(&command.len())
                && command
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err("BOT_COMMAND_INVALID".to_owned());
            }
            if !(1..=256).contains(&description.chars().count()) {
                return Err("BOT_COMMAND_DESCRIPTION_INVALID".to_owned());
            }
            Ok((command.to_owned(), description.to_owned()))
        })
        .collect()
}

fn param_str(params: &Value, key: &str) -> Option<String> {
    value_string(params.get(key)?).filter(|s| !s.is_empty())
}

fn param_i64(params: &Value, key: &str) -> Option<i64> {
    param_str(params, key)?.trim().parse().ok()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
