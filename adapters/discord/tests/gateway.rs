//! The Discord gateway against the fake: IDENTIFY, MESSAGE_CREATE → Inbound, ignored
//! messages, close codes, and stopping cleanly.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{next_inbound, setup, Recorder, WAIT};
use frontdesk_chat::{AdapterError, Inbound, Platform};
use frontdesk_fakes::discord::{IncomingMessage, BOT_USER_ID, INTENT_MESSAGE_CONTENT};

#[tokio::test]
async fn identify_carries_the_token_and_the_message_intents() {
    let (fake, adapter) = setup().await;
    let (handler, _rx) = Recorder::handler(false);
    let gateway = tokio::spawn(adapter.run_gateway(handler));
    let identify = fake.wait_for_identify(1, WAIT).await;
    assert_eq!(identify.token, "Bot fake-bot-token");
    assert_eq!(identify.intents, (1 << 9) | (1 << 12) | (1 << 15));
    // The gateway URL came from the fake's GET /gateway.
    assert!(fake
        .calls()
        .iter()
        .any(|c| c.method == "GET" && c.path == "/api/v10/gateway" && c.status == 200));
    gateway.abort();
}

#[tokio::test]
async fn guild_message_becomes_an_inbound_and_gets_a_reply() {
    let (fake, adapter) = setup().await;
    let (handler, mut rx) = Recorder::handler(true);
    let gateway = tokio::spawn(adapter.run_gateway(handler));
    let before = Utc::now();
    fake.push_message(
        &IncomingMessage::in_guild(500, 600, 700, "book yoga tomorrow")
            .with_id(800)
            .with_names("asha", Some("Asha K"))
            .with_roles([11, 22]),
    );
    let inbound = next_inbound(&mut rx).await;
    assert!(inbound.received_at >= before && inbound.received_at <= Utc::now());
    let expected = Inbound::new(
        Platform::Discord,
        "600",
        "700",
        "book yoga tomorrow",
        "800",
        inbound.received_at,
    )
    .with_workspace("500")
    .with_user_name("Asha K")
    .with_roles(["11", "22"])
    .with_direct(false);
    assert_eq!(inbound, expected);
    // The echo handler replied through the adapter it was handed.
    let sent = fake.wait_for_messages(1, WAIT).await;
    assert_eq!(sent[0].channel_id, "600");
    assert_eq!(sent[0].content(), "echo: book yoga tomorrow");
    assert_eq!(sent[0].payload["message_reference"]["message_id"], "800");
    gateway.abort();
}

#[tokio::test]
async fn direct_message_is_direct_without_workspace() {
    let (fake, adapter) = setup().await;
    let (handler, mut rx) = Recorder::handler(false);
    let gateway = tokio::spawn(adapter.run_gateway(handler));
    fake.push_message(&IncomingMessage::direct(601, 701, "hi").with_id(801));
    let inbound = next_inbound(&mut rx).await;
    assert!(inbound.is_direct);
    assert_eq!(inbound.workspace, None);
    assert_eq!(inbound.channel, "601");
    assert_eq!(inbound.user, "701");
    assert_eq!(inbound.user_name.as_deref(), Some("user701"));
    assert_eq!(inbound.event_id, "801");
    assert!(inbound.platform_roles.is_empty());
    gateway.abort();
}

#[tokio::test]
async fn bot_own_empty_and_malformed_messages_are_ignored() {
    let (fake, adapter) = setup().await;
    let (handler, mut rx) = Recorder::handler(false);
    let gateway = tokio::spawn(adapter.run_gateway(handler));
    fake.push_message(
        &IncomingMessage::in_guild(1, 2, 3, "from a bot")
            .with_id(10)
            .from_bot(),
    );
    fake.push_message(&IncomingMessage::in_guild(1, 2, BOT_USER_ID, "from me").with_id(11));
    fake.push_message(&IncomingMessage::in_guild(1, 2, 3, "").with_id(12));
    fake.dispatch(
        "TYPING_START",
        serde_json::json!({ "channel_id": "2", "user_id": "3", "timestamp": 1 }),
    );
    // Malformed events are logged by serenity and skipped; the connection stays up.
    fake.dispatch(
        "MESSAGE_CREATE",
        serde_json::json!({ "id": "not a snowflake", "content": 7 }),
    );
    fake.dispatch("MESSAGE_CREATE", serde_json::json!(null));
    fake.push_message(&IncomingMessage::in_guild(1, 2, 3, "from a person").with_id(13));
    let inbound = next_inbound(&mut rx).await;
    assert_eq!(inbound.event_id, "13");
    assert_eq!(inbound.text, "from a person");
    assert!(tokio::time::timeout(Duration::from_millis(300), rx.recv())
        .await
        .is_err());
    gateway.abort();
}

#[tokio::test]
async fn disallowed_message_content_intent_is_a_clear_error() {
    let (fake, adapter) = setup().await;
    fake.disallow_intents(INTENT_MESSAGE_CONTENT);
    let (handler, _rx) = Recorder::handler(false);
    let result = tokio::time::timeout(WAIT, adapter.run_gateway(handler))
        .await
        .expect("run_gateway returns on close 4014");
    let err = result.unwrap_err();
    assert!(matches!(err, AdapterError::Rejected(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("MESSAGE_CONTENT"), "{text}");
    assert!(text.contains("developer portal"), "{text}");
    fake.wait_for_open_sessions(0, WAIT).await;
}

#[tokio::test]
async fn gateway_authentication_failure_is_a_bad_token() {
    let (fake, adapter) = setup().await;
    let (handler, _rx) = Recorder::handler(false);
    let gateway = tokio::spawn(adapter.run_gateway(handler));
    fake.wait_for_identify(1, WAIT).await;
    fake.close_gateway(4004, "Authentication failed.");
    let result = tokio::time::timeout(WAIT, gateway)
        .await
        .expect("run_gateway returns on close 4004")
        .expect("no panic");
    assert!(
        matches!(
            result,
            Err(AdapterError::BadToken {
                platform: Platform::Discord,
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn aborting_the_gateway_closes_the_connection() {
    let (fake, adapter) = setup().await;
    let (handler, _rx) = Recorder::handler(false);
    let gateway = tokio::spawn(adapter.run_gateway(handler));
    fake.wait_for_identify(1, WAIT).await;
    fake.wait_for_open_sessions(1, WAIT).await;
    gateway.abort();
    fake.wait_for_open_sessions(0, WAIT).await;
    // Nothing reconnects afterwards.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.open_sessions(), 0);
    assert_eq!(fake.identifies().len(), 1);
}
