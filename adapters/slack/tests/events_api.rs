//! The Events API route against the fake Slack: signatures, url_verification, what becomes
//! an `Inbound` (field by field) and what is ignored, retries and mention twins.

mod common;

use axum::http::StatusCode;
use chrono::Utc;
use common::{assert_quiet, connected, next, post_event, post_signed, recorder, WAIT};
use frontdesk_chat::{Inbound, Platform};
use frontdesk_fakes::slack::{self, sign_event, EventBuilder};
use frontdesk_slack::{SlackAdapter, SlackConfig};
use serde_json::json;

#[tokio::test]
async fn signed_channel_message_becomes_an_exact_inbound() {
    let (fake, adapter) = connected().await;
    fake.set_user_groups(&[
        ("S0STAFF", &["U0STAFF1", "U0OTHER"]),
        ("S0OWNERS", &["U0OTHER"]),
        ("S0MGRS", &["U0STAFF1"]),
    ]);
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let event = EventBuilder::channel_message(
        "C0SUPPORT",
        "U0STAFF1",
        "When is &lt;yoga&gt; &amp; pilates?",
        "1700000100.000200",
    )
    .with_field(
        "user_profile",
        json!({ "display_name": "Asha", "real_name": "Asha K" }),
    );
    let before = Utc::now();
    assert_eq!(post_signed(&router, &event.body()).await, StatusCode::OK);
    let got = next(&mut rx).await;
    assert!(got.received_at >= before && got.received_at <= Utc::now());
    let expected = Inbound {
        platform: Platform::Slack,
        workspace: Some(slack::TEAM_ID.into()),
        channel: "C0SUPPORT".into(),
        thread: Some("1700000100.000200".into()),
        user: "U0STAFF1".into(),
        user_name: Some("Asha".into()),
        platform_roles: vec!["S0STAFF".into(), "S0MGRS".into()],
        is_direct: false,
        text: "When is <yoga> & pilates?".into(),
        event_id: "C0SUPPORT/1700000100.000200".into(),
        received_at: got.received_at,
        contact_phone: None,
    };
    assert_eq!(got, expected);

    // The group list was asked for once, with members, with the bot token.
    let lists = fake.calls_to("usergroups.list");
    assert_eq!(lists.len(), 1);
    assert_eq!(
        lists[0].query.get("include_users").map(String::as_str),
        Some("true")
    );
    assert_eq!(lists[0].auth.as_deref(), Some("Bearer xoxb-fake-bot-token"));

    // A second message within five minutes uses the cached groups.
    let dm = EventBuilder::direct_message("D0STAFF1", "U0STAFF1", "hi", "1700000101.000100");
    assert_eq!(post_signed(&router, &dm.body()).await, StatusCode::OK);
    let got = next(&mut rx).await;
    assert_eq!(got.platform_roles, ["S0STAFF", "S0MGRS"]);
    assert!(got.is_direct);
    assert_eq!(got.thread, None, "a top-level DM is not threaded");
    assert_eq!(got.user_name, None);
    assert_eq!(fake.calls_to("usergroups.list").len(), 1);
}

#[tokio::test]
async fn thread_reply_keeps_its_thread() {
    let (_fake, adapter) = connected().await;
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let event = EventBuilder::thread_reply(
        "C0SUPPORT",
        "U0STAFF1",
        "and tomorrow?",
        "1700000200.000900",
        "1700000100.000200",
    );
    assert_eq!(post_signed(&router, &event.body()).await, StatusCode::OK);
    let got = next(&mut rx).await;
    assert_eq!(got.thread.as_deref(), Some("1700000100.000200"));
    assert_eq!(got.text, "and tomorrow?");
}

#[tokio::test]
async fn group_list_error_means_no_roles() {
    let (fake, adapter) = connected().await;
    fake.set_user_groups(&[("S0STAFF", &["U0STAFF1"])]);
    fake.fail_next("usergroups.list", "missing_scope");
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let event = EventBuilder::channel_message("C1", "U0STAFF1", "hi", "1700000300.000100");
    assert_eq!(post_signed(&router, &event.body()).await, StatusCode::OK);
    let got = next(&mut rx).await;
    assert!(got.platform_roles.is_empty());
    assert_eq!(got.text, "hi");
}

#[tokio::test]
async fn bad_or_stale_or_missing_signature_is_refused_and_not_handled() {
    let (_fake, adapter) = connected().await;
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let body = EventBuilder::channel_message("C1", "U1", "hi", "1700000400.000100").body();
    let now = slack::now_timestamp();

    let wrong_secret = [
        ("x-slack-request-timestamp", now.clone()),
        (
            "x-slack-signature",
            sign_event("not-the-secret", &now, &body),
        ),
    ];
    assert_eq!(
        post_event(&router, &body, &wrong_secret).await.0,
        StatusCode::UNAUTHORIZED
    );

    let stale: String = (now.parse::<i64>().unwrap() - 301).to_string();
    let stale_headers = [
        ("x-slack-request-timestamp", stale.clone()),
        (
            "x-slack-signature",
            sign_event(slack::SIGNING_SECRET, &stale, &body),
        ),
    ];
    assert_eq!(
        post_event(&router, &body, &stale_headers).await.0,
        StatusCode::UNAUTHORIZED
    );

    let tampered = [
        ("x-slack-request-timestamp", now.clone()),
        (
            "x-slack-signature",
            sign_event(slack::SIGNING_SECRET, &now, &body),
        ),
    ];
    let other_body = body.replace("hi", "ho");
    assert_eq!(
        post_event(&router, &other_body, &tampered).await.0,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        post_event(&router, &body, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_quiet(&mut rx).await;
}

#[tokio::test]
async fn router_without_signing_secret_refuses_everything() {
    let fake = frontdesk_fakes::slack::FakeSlack::start().await;
    let config = SlackConfig::new(slack::BOT_TOKEN).with_api_url(fake.api_url());
    let adapter = SlackAdapter::connect(config).await.unwrap();
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let body = EventBuilder::channel_message("C1", "U1", "hi", "1700000450.000100").body();
    assert_eq!(post_signed(&router, &body).await, StatusCode::UNAUTHORIZED);
    assert_quiet(&mut rx).await;
}

#[tokio::test]
async fn url_verification_is_answered_with_the_challenge() {
    let (_fake, adapter) = connected().await;
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let body = slack::url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    let headers = slack::signed_headers(slack::SIGNING_SECRET, &body);
    let (status, answer) = post_event(&router, &body, &headers).await;
    assert_eq!(status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer,
        json!({ "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" })
    );
    assert_quiet(&mut rx).await;
}

#[tokio::test]
async fn signed_junk_is_rejected_without_panicking() {
    let (_fake, adapter) = connected().await;
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    for body in ["not json", "{\"type\":\"event_callback\"}", "[]", "{\"type\":\"event_callback\",\"event_id\":\"Ev1\",\"event\":{\"type\":\"message\",\"text\":42}}"] {
        let status = post_signed(&router, body).await;
        assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{body}: {status}");
    }
    let huge = EventBuilder::channel_message("C1", "U1", &"é".repeat(200_000), "1700000460.000100");
    assert_eq!(post_signed(&router, &huge.body()).await, StatusCode::OK);
    assert_eq!(next(&mut rx).await.text.chars().count(), 200_000);
    assert_quiet(&mut rx).await;
}

#[tokio::test]
async fn a_retried_delivery_reaches_the_handler_with_the_same_event_id() {
    let (_fake, adapter) = connected().await;
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let event = EventBuilder::channel_message("C1", "U1", "book yoga", "1700000500.000100");
    let body = event.body();
    assert_eq!(post_signed(&router, &body).await, StatusCode::OK);
    let first = next(&mut rx).await;

    let mut headers = slack::signed_headers(slack::SIGNING_SECRET, &body).to_vec();
    headers.push(("x-slack-retry-num", "1".into()));
    headers.push(("x-slack-retry-reason", "http_timeout".into()));
    assert_eq!(post_event(&router, &body, &headers).await.0, StatusCode::OK);
    let retry = next(&mut rx).await;

    assert_eq!(first.event_id, "C1/1700000500.000100");
    assert_eq!(
        retry.event_id, first.event_id,
        "the gateway dedupes on this id"
    );
}

#[tokio::test]
async fn bot_own_and_subtype_messages_are_ignored() {
    let (_fake, adapter) = connected().await;
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let ignored = [
        EventBuilder::bot_message("C1", "B0OTHER", "I am a bot", "1700000600.000100"),
        EventBuilder::channel_message("C1", "U0HUMAN", "bot with a user", "1700000600.000200")
            .with_field("bot_id", json!("B0OTHER")),
        EventBuilder::channel_message(
            "C1",
            slack::BOT_USER_ID,
            "my own reply",
            "1700000600.000300",
        ),
        EventBuilder::channel_message("C1", "U0HUMAN", "edited", "1700000600.000400")
            .with_field("subtype", json!("message_changed")),
        EventBuilder::channel_message("C1", "U0HUMAN", "", "1700000600.000500")
            .with_field("subtype", json!("message_deleted")),
        EventBuilder::channel_message(
            "C1",
            "U0HUMAN",
            "<@U0HUMAN> has joined",
            "1700000600.000600",
        )
        .with_field("subtype", json!("channel_join")),
        EventBuilder::channel_message("C1", "U0HUMAN", "reaction", "1700000600.000700")
            .with_field("type", json!("reaction_added")),
    ];
    for event in &ignored {
        assert_eq!(post_signed(&router, &event.body()).await, StatusCode::OK);
    }
    let real =
        EventBuilder::channel_message("C1", "U0HUMAN", "a real question", "1700000600.000800");
    assert_eq!(post_signed(&router, &real.body()).await, StatusCode::OK);
    let got = next(&mut rx).await;
    assert_eq!(got.text, "a real question");
    assert_quiet(&mut rx).await;
}

#[tokio::test]
async fn a_mention_arriving_as_message_and_app_mention_carries_one_message_id() {
    let (_fake, adapter) = connected().await;
    let (handler, mut rx) = recorder();
    let router = adapter.events_router(handler);
    let text = format!("<@{}> what's on today?", slack::BOT_USER_ID);
    let message = EventBuilder::channel_message("C1", "U1", &text, "1700000700.000100")
        .with_event_id("EvMessage");
    let mention = EventBuilder::app_mention("C1", "U1", &text, "1700000700.000100")
        .with_event_id("EvMention");
    assert_eq!(post_signed(&router, &message.body()).await, StatusCode::OK);
    let got = next(&mut rx).await;
    assert_eq!(got.event_id, "C1/1700000700.000100");
    assert_eq!(got.text, "what's on today?");
    // The twin reaches the handler with the same message id: the gateway's claim in the
    // database lets one of them through, in this instance or another.
    assert_eq!(post_signed(&router, &mention.body()).await, StatusCode::OK);
    let twin = next(&mut rx).await;
    assert_eq!(twin.event_id, got.event_id);
    assert_eq!(twin.text, got.text);

    // A mention alone (the app subscribed only to app_mention) is handled.
    let alone = EventBuilder::app_mention("C1", "U1", &text, "1700000701.000100");
    assert_eq!(post_signed(&router, &alone.body()).await, StatusCode::OK);
    let got = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.thread.as_deref(), Some("1700000701.000100"));
    assert_eq!(got.text, "what's on today?");
}
