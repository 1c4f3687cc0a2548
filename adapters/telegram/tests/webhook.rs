//! Webhook mode: the secret header decides, the update is handled after the 200, and
//! `setWebhook` registers the URL with the secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, next, recorder, TOKEN};
use frontdesk_chat::{AdapterError, Inbound};
use frontdesk_fakes::telegram::{FakeTelegram, UserMessage};
use frontdesk_telegram::{TelegramAdapter, SECRET_HEADER, WEBHOOK_PATH};
use tokio::sync::mpsc;

const SECRET: &str = "s3cret_Token-42";

/// Serves the adapter's webhook router on 127.0.0.1 and returns its URL.
async fn serve(
    adapter: Arc<TelegramAdapter>,
) -> (
    String,
    mpsc::UnboundedReceiver<Inbound>,
    tokio::task::JoinHandle<()>,
) {
    let (handler, inbox) = recorder();
    let router = adapter.webhook_router(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (url, inbox, server)
}

async fn post(url: &str, secret: Option<&str>, body: String) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(secret) = secret {
        request = request.header(SECRET_HEADER, secret);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn only_the_right_secret_gets_an_update_handled() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = TelegramAdapter::connect(config(&fake).with_webhook_secret(SECRET))
        .await
        .unwrap();
    let (url, mut inbox, server) = serve(adapter).await;

    let (forged, _) = fake.make_update(&UserMessage::private(1, "Mallory", "forged"));
    assert_eq!(post(&url, None, forged.to_string()).await, 401);
    assert_eq!(post(&url, Some("wrong"), forged.to_string()).await, 401);
    assert_eq!(
        post(&url, Some(&format!("{SECRET}x")), forged.to_string()).await,
        401
    );
    assert_eq!(post(&url, Some(""), forged.to_string()).await, 401);

    let (update, pushed) = fake.make_update(&UserMessage::private(4242, "Asha", "via webhook"));
    assert_eq!(post(&url, Some(SECRET), update.to_string()).await, 200);
    let got = next(&mut inbox).await;
    assert_eq!(got.text, "via webhook");
    assert_eq!(got.event_id, pushed.event_id());
    assert_eq!(got.user, "4242");
    assert!(inbox.try_recv().is_err(), "a refused update was handled");

    // Junk after a good secret is refused without a panic; the route keeps serving.
    assert_eq!(post(&url, Some(SECRET), "{not json".to_owned()).await, 400);
    let (bot_update, _) = fake.make_update(&UserMessage::private(9, "Bot", "beep").from_bot());
    assert_eq!(post(&url, Some(SECRET), bot_update.to_string()).await, 200);
    let (update, _) = fake.make_update(&UserMessage::private(4242, "Asha", "still up"));
    assert_eq!(post(&url, Some(SECRET), update.to_string()).await, 200);
    assert_eq!(next(&mut inbox).await.text, "still up");
    server.abort();
}

#[tokio::test]
async fn without_a_configured_secret_every_call_is_refused() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = TelegramAdapter::connect(config(&fake)).await.unwrap();
    let (url, mut inbox, server) = serve(adapter.clone()).await;
    let (update, _) = fake.make_update(&UserMessage::private(4242, "Asha", "hi"));
    assert_eq!(post(&url, None, update.to_string()).await, 401);
    assert_eq!(post(&url, Some("anything"), update.to_string()).await, 401);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), inbox.recv())
            .await
            .is_err()
    );
    let err = adapter
        .set_webhook("https://example.org/webhooks/telegram")
        .await;
    assert!(matches!(err, Err(AdapterError::Rejected(_))), "{err:?}");
    assert!(fake.webhook().is_none());
    server.abort();
}

#[tokio::test]
async fn set_webhook_registers_the_url_with_the_secret() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = TelegramAdapter::connect(config(&fake).with_webhook_secret(SECRET))
        .await
        .unwrap();
    adapter
        .set_webhook("https://frontdesk.example.org/webhooks/telegram")
        .await
        .unwrap();
    let webhook = fake.webhook().unwrap();
    assert_eq!(
        webhook.url,
        "https://frontdesk.example.org/webhooks/telegram"
    );
    assert_eq!(webhook.secret_token.as_deref(), Some(SECRET));
    let call = &fake.calls_to("setWebhook")[0];
    assert_eq!(call.body["allowed_updates"], serde_json::json!(["message"]));

    let err = adapter.set_webhook("not a url").await.unwrap_err();
    assert!(matches!(err, AdapterError::Rejected(_)));
}
