//! Socket Mode against the fake Slack: envelopes are acked at once and handed over, a
//! `disconnect` leads to a new connection that still delivers, and token problems are clear
//! errors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, next, WAIT};
use frontdesk_chat::{AdapterError, BoxFuture, DynChatAdapter, Inbound, Platform, SharedHandler};
use frontdesk_fakes::slack::{self, EventBuilder, FakeSlack};
use frontdesk_slack::SlackAdapter;
use tokio::sync::mpsc;

/// Slack's deadline for an ack.
const ACK_WITHIN: Duration = Duration::from_secs(3);

/// A handler that records the message and then stays busy for a minute, so an ack can only
/// arrive in time if it does not wait for the handler.
fn slow_recorder() -> (SharedHandler, mpsc::UnboundedReceiver<Inbound>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler =
        move |inbound: Inbound, _reply: Arc<dyn DynChatAdapter>| -> BoxFuture<'static, ()> {
            let tx = tx.clone();
            Box::pin(async move {
                let _ = tx.send(inbound);
                tokio::time::sleep(Duration::from_secs(60)).await;
            })
        };
    (Arc::new(handler), rx)
}

#[tokio::test]
async fn envelopes_are_acked_and_handed_over_across_a_reconnect() {
    let fake = FakeSlack::start().await;
    fake.set_user_groups(&[("S0STAFF", &["U0STAFF1"])]);
    let adapter = SlackAdapter::connect(config(&fake)).await.unwrap();
    let (handler, mut rx) = slow_recorder();
    let run = tokio::spawn(adapter.run_socket_mode(handler));

    fake.wait_for_socket_connections(1, WAIT).await;
    let opens = fake.calls_to("apps.connections.open");
    assert_eq!(opens.len(), 1);
    assert_eq!(opens[0].auth.as_deref(), Some("Bearer xapp-fake-app-token"));

    let first = EventBuilder::direct_message("D0STAFF1", "U0STAFF1", "first", "1700002000.000100");
    let envelope = fake.push_event(first.callback()).await;
    assert!(
        fake.wait_for_ack(&envelope, ACK_WITHIN).await,
        "ack within 3 s"
    );
    let got = next(&mut rx).await;
    assert_eq!(
        got,
        Inbound {
            platform: Platform::Slack,
            workspace: Some(slack::TEAM_ID.into()),
            channel: "D0STAFF1".into(),
            thread: None,
            user: "U0STAFF1".into(),
            user_name: None,
            platform_roles: vec!["S0STAFF".into()],
            is_direct: true,
            text: "first".into(),
            event_id: first.message_id(),
            received_at: got.received_at,
            contact_phone: None,
        }
    );

    // The handler is still busy with the first message; the next one is acked anyway.
    let second = EventBuilder::channel_message("C1", "U0STAFF1", "second", "1700002001.000100");
    let envelope = fake.push_event(second.callback()).await;
    assert!(fake.wait_for_ack(&envelope, ACK_WITHIN).await);
    assert_eq!(next(&mut rx).await.event_id, second.message_id());

    // Slack asks for a reconnect: a new connection is opened and still delivers.
    fake.send_disconnect("refresh_requested").await;
    fake.wait_for_socket_connections(2, WAIT).await;
    assert_eq!(fake.calls_to("apps.connections.open").len(), 2);
    let third = EventBuilder::channel_message("C1", "U0STAFF1", "third", "1700002002.000100");
    let envelope = fake.push_event(third.callback()).await;
    assert!(fake.wait_for_ack(&envelope, ACK_WITHIN).await);
    let got = next(&mut rx).await;
    assert_eq!(got.event_id, third.message_id());
    assert_eq!(got.thread.as_deref(), Some("1700002002.000100"));

    // Junk on the socket is acked when it has an envelope id and never kills the loop.
    fake.push_raw("not json".into()).await;
    fake.push_raw(r#"{"envelope_id":"env-junk","type":"events_api"}"#.into())
        .await;
    assert!(fake.wait_for_ack("env-junk", ACK_WITHIN).await);
    let bot = EventBuilder::bot_message("C1", "B0OTHER", "beep", "1700002003.000100");
    let envelope = fake.push_event(bot.callback()).await;
    assert!(fake.wait_for_ack(&envelope, ACK_WITHIN).await);
    let fourth = EventBuilder::channel_message("C1", "U0STAFF1", "fourth", "1700002004.000100");
    fake.push_event(fourth.callback()).await;
    assert_eq!(next(&mut rx).await.text, "fourth");
    assert!(!run.is_finished());
    run.abort();
}

#[tokio::test]
async fn server_side_close_reconnects_after_a_backoff() {
    let fake = FakeSlack::start().await;
    let adapter = SlackAdapter::connect(config(&fake)).await.unwrap();
    let (handler, mut rx) = slow_recorder();
    let run = tokio::spawn(adapter.run_socket_mode(handler));
    fake.wait_for_socket_connections(1, WAIT).await;
    fake.close_socket();
    fake.wait_for_socket_connections(2, WAIT).await;
    let event = EventBuilder::channel_message("C1", "U1", "still here", "1700002100.000100");
    let envelope = fake.push_event(event.callback()).await;
    assert!(fake.wait_for_ack(&envelope, ACK_WITHIN).await);
    assert_eq!(next(&mut rx).await.text, "still here");
    run.abort();
}

#[tokio::test]
async fn missing_or_refused_app_token_is_a_clear_error() {
    let fake = FakeSlack::start().await;
    let (handler, _rx) = slow_recorder();

    let mut no_app = config(&fake);
    no_app.app_token = None;
    let adapter = SlackAdapter::connect(no_app).await.unwrap();
    let err = tokio::time::timeout(WAIT, adapter.run_socket_mode(handler.clone()))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::BadToken { platform: Platform::Slack, reason } if reason.contains("xapp")),
        "{err:?}"
    );

    let wrong_app = config(&fake).with_app_token("xapp-wrong");
    let adapter = SlackAdapter::connect(wrong_app).await.unwrap();
    let err = tokio::time::timeout(WAIT, adapter.run_socket_mode(handler))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::BadToken {
            platform: Platform::Slack,
            reason: "invalid_auth".into()
        }
    );
}
