//! Shared pieces of the Slack adapter tests: connecting to the fake, recording and echo
//! handlers, and signed Events API requests sent straight into the router.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a test failure

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use frontdesk_chat::{BoxFuture, DynChatAdapter, Inbound, Outbound, SharedHandler};
use frontdesk_fakes::slack::{self, FakeSlack};
use frontdesk_slack::{SlackAdapter, SlackConfig, EVENTS_PATH};
use tokio::sync::mpsc;
use tower::ServiceExt;

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(5);

/// A configuration pointing at `fake` with its tokens and the test signing secret.
pub fn config(fake: &FakeSlack) -> SlackConfig {
    SlackConfig::new(slack::BOT_TOKEN)
        .with_app_token(slack::APP_TOKEN)
        .with_signing_secret(slack::SIGNING_SECRET)
        .with_api_url(fake.api_url())
}

/// Starts a fake and connects an adapter to it.
pub async fn connected() -> (FakeSlack, Arc<SlackAdapter>) {
    let fake = FakeSlack::start().await;
    let adapter = SlackAdapter::connect(config(&fake)).await.unwrap();
    (fake, adapter)
}

/// A handler that forwards every inbound message to the returned receiver.
pub fn recorder() -> (SharedHandler, mpsc::UnboundedReceiver<Inbound>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler =
        move |inbound: Inbound, _reply: Arc<dyn DynChatAdapter>| -> BoxFuture<'static, ()> {
            let tx = tx.clone();
            Box::pin(async move {
                let _ = tx.send(inbound);
            })
        };
    (Arc::new(handler), rx)
}

/// A handler that answers every message with `echo: {text}` in its thread.
pub fn echo() -> SharedHandler {
    let handler = |inbound: Inbound, reply: Arc<dyn DynChatAdapter>| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let out = Outbound::reply(&inbound, format!("echo: {}", inbound.text));
            reply.dyn_send(&out).await.unwrap();
        })
    };
    Arc::new(handler)
}

/// Receives the next inbound message, failing the test after [`WAIT`].
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> Inbound {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no inbound message in time")
        .expect("handler channel closed")
}

/// Asserts that no further inbound message arrives within a short while.
pub async fn assert_quiet(rx: &mut mpsc::UnboundedReceiver<Inbound>) {
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected inbound message: {extra:?}");
    }
}

/// POSTs `body` to the events route with `headers`; returns the status and response body.
pub async fn post_event(
    router: &Router,
    body: &str,
    headers: &[(&str, String)],
) -> (StatusCode, String) {
    let mut request = Request::post(EVENTS_PATH).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// POSTs `body` signed with the test secret at the current time.
pub async fn post_signed(router: &Router, body: &str) -> StatusCode {
    let headers = slack::signed_headers(slack::SIGNING_SECRET, body);
    post_event(router, body, &headers).await.0
}
