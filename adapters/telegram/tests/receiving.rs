//! Token check and long polling against the fake Bot API: what becomes an `Inbound`, with
//! which fields, and what is ignored.

mod common;

use std::time::Duration;

use common::{config, connect, next, recorder, TOKEN, WAIT};
use frontdesk_chat::{AdapterError, Platform};
use frontdesk_fakes::telegram::{FakeTelegram, UserMessage, FAKE_BOT_ID};
use frontdesk_telegram::{TelegramAdapter, TelegramConfig};
use tokio::time::Instant;

#[tokio::test]
async fn good_token_connects_with_one_get_me() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    assert_eq!(adapter.bot_user_id(), FAKE_BOT_ID as u64);
    assert_eq!(adapter.bot_username(), Some("frontdesk_test_bot"));
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "GetMe");
    assert_eq!(calls[0].token, TOKEN);
    assert_eq!(calls[0].status, 200);
}

#[tokio::test]
async fn bad_token_is_a_bad_token_error_naming_telegram() {
    let fake = FakeTelegram::start(TOKEN).await;
    let config = TelegramConfig::new("999:WRONG").with_api_url(fake.base_url());
    let err = TelegramAdapter::connect(config).await.unwrap_err();
    let AdapterError::BadToken { platform, reason } = &err else {
        panic!("expected BadToken, got {err:?}");
    };
    assert_eq!(*platform, Platform::Telegram);
    assert!(reason.contains("Unauthorized"), "{reason}");
    assert!(err.to_string().starts_with("bad token for telegram"));
    assert_eq!(fake.calls()[0].status, 401);

    let empty = TelegramAdapter::connect(TelegramConfig::new("  ").with_api_url(fake.base_url()));
    assert!(matches!(empty.await, Err(AdapterError::BadToken { .. })));
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = TelegramConfig::new(TOKEN).with_api_url(format!("http://127.0.0.1:{port}"));
    let err = TelegramAdapter::connect(config).await.unwrap_err();
    assert!(matches!(err, AdapterError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn malformed_webhook_secret_is_refused_before_any_call() {
    let fake = FakeTelegram::start(TOKEN).await;
    let err = TelegramAdapter::connect(config(&fake).with_webhook_secret("has spaces!"))
        .await
        .unwrap_err();
    let AdapterError::Rejected(message) = err else {
        panic!("expected Rejected");
    };
    assert!(message.contains("1-256 characters"), "{message}");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn private_text_becomes_an_inbound_with_every_field() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let (handler, mut inbox) = recorder();
    let polling = tokio::spawn(adapter.clone().run_polling(handler));

    let before = chrono::Utc::now();
    let pushed = fake.push_message(&UserMessage::private(4242, "Asha", "/start"));
    let got = next(&mut inbox).await;
    assert_eq!(got.platform, Platform::Telegram);
    assert_eq!(got.workspace, None);
    assert_eq!(got.channel, "4242");
    assert_eq!(got.thread, None);
    assert_eq!(got.user, "4242");
    assert_eq!(got.user_name.as_deref(), Some("Asha"));
    assert!(got.platform_roles.is_empty());
    assert!(got.is_direct);
    assert_eq!(got.text, "/start");
    assert_eq!(got.event_id, format!("4242:{}", pushed.message_id));
    assert_eq!(got.event_id, pushed.event_id());
    assert!(got.received_at >= before);
    assert_eq!(got.contact_phone, None);

    // The next poll confirms the update, so it is never delivered twice.
    let polls = fake.wait_for_calls("getUpdates", 2, WAIT).await;
    let offset = polls[1].param("offset");
    assert_eq!(offset, Some((pushed.update_id + 1).to_string()));
    assert_eq!(polls[0].param("timeout").as_deref(), Some("25"));
    assert_eq!(fake.pending_updates(), 0);
    assert!(inbox.try_recv().is_err(), "handled twice");
    // Polling began by clearing any webhook.
    assert!(fake.calls()[1].is("deleteWebhook"));
    polling.abort();
}

#[tokio::test]
async fn group_topic_message_carries_chat_thread_and_sender() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let (handler, mut inbox) = recorder();
    let polling = tokio::spawn(adapter.run_polling(handler));

    let message =
        UserMessage::group(-1_001_234_567_890, 77, "Ravi", "any spots at 9?").in_topic(15);
    let pushed = fake.push_message(&message);
    let got = next(&mut inbox).await;
    assert_eq!(got.channel, "-1001234567890");
    assert_eq!(got.thread.as_deref(), Some("15"));
    assert_eq!(got.user, "77");
    assert_eq!(got.user_name.as_deref(), Some("Ravi"));
    assert!(!got.is_direct);
    assert_eq!(got.text, "any spots at 9?");
    assert_eq!(
        got.event_id,
        format!("-1001234567890:{}", pushed.message_id)
    );
    polling.abort();
}

#[tokio::test]
async fn own_contact_links_the_phone_but_a_foreign_contact_is_dropped() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let (handler, mut inbox) = recorder();
    let polling = tokio::spawn(adapter.run_polling(handler));

    fake.push_message(&UserMessage::own_contact(4242, "Asha", "15550100"));
    let got = next(&mut inbox).await;
    assert_eq!(got.contact_phone.as_deref(), Some("+15550100"));
    assert_eq!(got.text, "");
    assert_eq!(got.user, "4242");
    assert!(got.is_direct);

    fake.push_message(&UserMessage::own_contact(4242, "Asha", "+447700900123"));
    assert_eq!(
        next(&mut inbox).await.contact_phone.as_deref(),
        Some("+447700900123")
    );

    // Someone else's card, and a card of a number not on Telegram: both dropped.
    fake.push_message(&UserMessage::contact(4242, "Asha", "15550199", Some(999)));
    fake.push_message(&UserMessage::contact(4242, "Asha", "15550198", None));
    fake.push_message(&UserMessage::private(4242, "Asha", "after the cards"));
    let got = next(&mut inbox).await;
    assert_eq!(got.text, "after the cards");
    assert_eq!(got.contact_phone, None);
    polling.abort();
}

#[tokio::test]
async fn bots_and_the_bot_itself_are_never_handled() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let (handler, mut inbox) = recorder();
    let polling = tokio::spawn(adapter.run_polling(handler));

    fake.push_message(&UserMessage::private(555, "OtherBot", "I am a bot").from_bot());
    let mut own = UserMessage::group(-100_200, FAKE_BOT_ID, "Frontdesk", "my own echo");
    own.from_bot = true;
    fake.push_message(&own);
    // Not a message at all, and a message without text: ignored without fuss.
    fake.push_update(serde_json::json!({"edited_message": {"nonsense": true}}));
    fake.push_update(serde_json::json!({"some_future_update": {"x": 1}}));
    fake.push_message(&UserMessage::private(4242, "Asha", "human"));
    let got = next(&mut inbox).await;
    assert_eq!(got.text, "human");
    fake.wait_for_calls("getUpdates", 2, WAIT).await;
    assert!(inbox.try_recv().is_err());
    polling.abort();
}

#[tokio::test]
async fn failing_get_updates_backs_off_instead_of_spinning() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let (handler, mut inbox) = recorder();
    fake.refuse_next_polls(2);
    fake.push_message(&UserMessage::private(4242, "Asha", "still there?"));
    let started = Instant::now();
    let polling = tokio::spawn(adapter.run_polling(handler));

    let got = next(&mut inbox).await;
    let elapsed = started.elapsed();
    assert_eq!(got.text, "still there?");
    // 1 s after the first 409, 2 s after the second.
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    let polls = fake.calls_to("getUpdates");
    assert_eq!(polls.iter().filter(|c| c.status == 409).count(), 2);
    assert!(polls.len() <= 4, "polled {} times", polls.len());
    polling.abort();
}
