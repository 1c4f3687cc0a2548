//! Shared helpers for the Telegram adapter tests: handlers that record or echo what they
//! receive, and connecting an adapter to a fake.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use frontdesk_chat::{
    AdapterError, BoxFuture, DynChatAdapter, Inbound, InboundHandler, Outbound, SharedHandler,
};
use frontdesk_fakes::telegram::FakeTelegram;
use frontdesk_telegram::{TelegramAdapter, TelegramConfig};
use tokio::sync::mpsc;

pub const TOKEN: &str = "123456:TEST-token_abc";
pub const WAIT: Duration = Duration::from_secs(10);

/// Sends every inbound message to a channel.
pub struct Recorder(mpsc::UnboundedSender<Inbound>);

impl InboundHandler for Recorder {
    fn handle(&self, inbound: Inbound, _: Arc<dyn DynChatAdapter>) -> BoxFuture<'static, ()> {
        let _ = self.0.send(inbound);
        Box::pin(async {})
    }
}

pub fn recorder() -> (SharedHandler, mpsc::UnboundedReceiver<Inbound>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Recorder(tx)), rx)
}

/// Replies "echo: {text}" to every message and reports the send result.
pub struct Echo(mpsc::UnboundedSender<Result<(), AdapterError>>);

impl InboundHandler for Echo {
    fn handle(&self, inbound: Inbound, via: Arc<dyn DynChatAdapter>) -> BoxFuture<'static, ()> {
        let tx = self.0.clone();
        Box::pin(async move {
            let reply = Outbound::reply(&inbound, format!("echo: {}", inbound.text));
            let _ = tx.send(via.dyn_send(&reply).await);
        })
    }
}

pub fn echo() -> (
    SharedHandler,
    mpsc::UnboundedReceiver<Result<(), AdapterError>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Echo(tx)), rx)
}

pub fn config(fake: &FakeTelegram) -> TelegramConfig {
    TelegramConfig::new(fake.token()).with_api_url(fake.base_url())
}

pub async fn connect(fake: &FakeTelegram) -> Arc<TelegramAdapter> {
    TelegramAdapter::connect(config(fake)).await.unwrap()
}

/// Receives the next inbound message, failing after [`WAIT`].
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> Inbound {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no inbound message in time")
        .expect("handler dropped")
}

/// Undoes MarkdownV2 escaping, written independently of the adapter and the fake: a `\`
/// followed by any character stands for that character; a `\` must not end the text.
pub fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().expect("dangling backslash"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Asserts that every MarkdownV2 reserved character outside code is escaped.
pub fn assert_fully_escaped(text: &str) {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            continue;
        }
        assert!(
            !"_*[]()~`>#+-=|{}.!".contains(c),
            "unescaped {c:?} in {text:?}"
        );
    }
}
