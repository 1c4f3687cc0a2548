//! The Web API side against the fake Slack: the token check, replies in threads, splitting,
//! escaping, tables as blocks, 429s, rejections and image uploads.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{connected, echo, post_signed, WAIT};
use frontdesk_chat::{AdapterError, Attachment, ChatAdapter, Outbound, Platform, Table};
use frontdesk_fakes::slack::{self, EventBuilder, FakeSlack};
use frontdesk_slack::{BotIdentity, SlackAdapter, SlackConfig};
use serde_json::json;

#[tokio::test]
async fn good_token_connects_and_learns_who_the_bot_is() {
    let (fake, adapter) = connected().await;
    assert_eq!(
        *adapter.identity(),
        BotIdentity {
            user_id: slack::BOT_USER_ID.into(),
            bot_id: Some(slack::BOT_ID.into()),
            team_id: slack::TEAM_ID.into(),
        }
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "auth.test");
    assert_eq!(calls[0].http_method, "POST");
    assert_eq!(calls[0].auth.as_deref(), Some("Bearer xoxb-fake-bot-token"));
    assert_eq!(adapter.platform(), Platform::Slack);
}

#[tokio::test]
async fn bad_token_is_a_bad_token_error_naming_slack() {
    let fake = FakeSlack::start().await;
    let config = SlackConfig::new("xoxb-wrong").with_api_url(fake.api_url());
    let err = SlackAdapter::connect(config).await.unwrap_err();
    assert_eq!(
        err,
        AdapterError::BadToken {
            platform: Platform::Slack,
            reason: "invalid_auth".into()
        }
    );
    assert_eq!(err.to_string(), "bad token for slack: invalid_auth");
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    // A port that was just free: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    drop(listener);
    let err = SlackAdapter::connect(SlackConfig::new(slack::BOT_TOKEN).with_api_url(url))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn reply_goes_to_the_messages_thread() {
    let (fake, adapter) = connected().await;
    let router = adapter.events_router(echo());
    let top = EventBuilder::channel_message("C0SUPPORT", "U1", "hi", "1700000800.000100");
    assert_eq!(post_signed(&router, &top.body()).await, StatusCode::OK);
    let posts = fake.wait_for_delivered("chat.postMessage", 1, WAIT).await;
    assert_eq!(
        posts[0].body,
        json!({ "channel": "C0SUPPORT", "text": "echo: hi", "thread_ts": "1700000800.000100" })
    );
    assert_eq!(posts[0].auth.as_deref(), Some("Bearer xoxb-fake-bot-token"));

    let reply = EventBuilder::thread_reply(
        "C0SUPPORT",
        "U1",
        "more",
        "1700000900.000100",
        "1700000800.000100",
    );
    assert_eq!(post_signed(&router, &reply.body()).await, StatusCode::OK);
    let posts = fake.wait_for_delivered("chat.postMessage", 2, WAIT).await;
    assert_eq!(posts[1].body["thread_ts"], "1700000800.000100");

    let dm = EventBuilder::direct_message("D0U1", "U1", "in private", "1700001000.000100");
    assert_eq!(post_signed(&router, &dm.body()).await, StatusCode::OK);
    let posts = fake.wait_for_delivered("chat.postMessage", 3, WAIT).await;
    assert_eq!(
        posts[2].body,
        json!({ "channel": "D0U1", "text": "echo: in private" })
    );
}

#[tokio::test]
async fn long_text_is_split_at_lines_into_parts_within_4000() {
    let (fake, adapter) = connected().await;
    let mut lines: Vec<String> = (0..90)
        .map(|i| format!("{i:02} {}", "x".repeat(96)))
        .collect();
    lines[89].push('!');
    let text = lines.join("\n");
    assert_eq!(text.chars().count(), 9000);
    let started = Instant::now();
    adapter
        .send(&Outbound::new("C1", text).with_thread("1700000000.000001"))
        .await
        .unwrap();
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 3);
    let mut sent_lines = Vec::new();
    for post in &posts {
        let part = post.body["text"].as_str().unwrap();
        assert!(part.chars().count() <= 4000, "{}", part.chars().count());
        assert_eq!(post.body["thread_ts"], "1700000000.000001");
        assert_eq!(post.body["channel"], "C1");
        sent_lines.extend(part.lines().map(str::to_owned));
    }
    assert_eq!(
        sent_lines, lines,
        "cut only between lines, nothing lost, in order"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "paced 1 s per channel"
    );
}

#[tokio::test]
async fn text_is_escaped_and_escaped_parts_still_fit() {
    let (fake, adapter) = connected().await;
    adapter
        .send(&Outbound::new("C1", "a < b & c > d"))
        .await
        .unwrap();
    assert_eq!(
        fake.delivered("chat.postMessage")[0].body["text"],
        "a &lt; b &amp; c &gt; d"
    );

    let text = "<&> ".repeat(1500); // 6000 characters, 21000 once escaped
    adapter
        .send(&Outbound::new("C2", text.trim_end()))
        .await
        .unwrap();
    let posts: Vec<_> = fake
        .delivered("chat.postMessage")
        .into_iter()
        .filter(|p| p.body["channel"] == "C2")
        .collect();
    assert!(posts.len() >= 6, "{}", posts.len());
    for post in &posts {
        let part = post.body["text"].as_str().unwrap();
        assert!(part.chars().count() <= 4000);
        assert!(part.split(' ').all(|w| w == "&lt;&amp;&gt;"));
    }
}

#[tokio::test]
async fn small_table_is_sent_as_section_fields() {
    let (fake, adapter) = connected().await;
    let table = Table::new(["Class", "Time"])
        .with_title("Monday")
        .with_row(["Yoga", "09:00"])
        .with_row(["Pilates & core", "18:30"]);
    let out = Outbound::new("C1", "Here is *Monday*:")
        .with_thread("1700000000.000002")
        .with_table(table);
    adapter.send(&out).await.unwrap();
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].body,
        json!({
            "channel": "C1",
            "thread_ts": "1700000000.000002",
            "text": "Here is *Monday*:",
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": "Here is *Monday*:" } },
                { "type": "header", "text": { "type": "plain_text", "text": "Monday", "emoji": true } },
                { "type": "section", "fields": [
                    { "type": "mrkdwn", "text": "*Class*" },
                    { "type": "mrkdwn", "text": "*Time*" },
                    { "type": "mrkdwn", "text": "Yoga" },
                    { "type": "mrkdwn", "text": "09:00" },
                    { "type": "mrkdwn", "text": "Pilates &amp; core" },
                    { "type": "mrkdwn", "text": "18:30" }
                ]}
            ]
        })
    );
}

#[tokio::test]
async fn wide_table_is_sent_preformatted() {
    let (fake, adapter) = connected().await;
    let table = Table::new(["Class", "Time", "Spots"])
        .with_row(["Yoga", "09:00", "3"])
        .with_row(["Pilates mat", "18:30", "12"]);
    adapter
        .send(&Outbound::new("C1", "").with_table(table))
        .await
        .unwrap();
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].body,
        json!({
            "channel": "C1",
            "text": "Table",
            "blocks": [{ "type": "rich_text", "elements": [{
                "type": "rich_text_preformatted",
                "elements": [{ "type": "text", "text":
                    "Class        Time   Spots\n-----------  -----  -----\nYoga         09:00  3\nPilates mat  18:30  12" }]
            }]}]
        })
    );
}

#[tokio::test]
async fn rate_limit_is_waited_out_and_the_message_sent_once() {
    let (fake, adapter) = connected().await;
    fake.rate_limit_next("chat.postMessage", 1, 1);
    let started = Instant::now();
    adapter
        .send(&Outbound::new("C1", "after the wait"))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let calls = fake.calls_to("chat.postMessage");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].status, 429);
    let delivered = fake.delivered("chat.postMessage");
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].body["text"], "after the wait");
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn persistent_rate_limit_gives_up_with_rate_limited() {
    let (fake, adapter) = connected().await;
    fake.rate_limit_next("chat.postMessage", 10, 0);
    let err = adapter
        .send(&Outbound::new("C1", "never"))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::RateLimited { .. }), "{err:?}");
    assert_eq!(
        fake.calls_to("chat.postMessage").len(),
        4,
        "first try and three retries"
    );
}

#[tokio::test]
async fn slack_errors_are_rejections() {
    let (fake, adapter) = connected().await;
    fake.fail_next("chat.postMessage", "channel_not_found");
    let err = adapter
        .send(&Outbound::new("C404", "hello"))
        .await
        .unwrap_err();
    assert_eq!(err, AdapterError::Rejected("channel_not_found".into()));
    // Typing is a no-op on Slack and empty messages send nothing.
    adapter.typing("C1").await.unwrap();
    adapter.send(&Outbound::new("C1", "")).await.unwrap();
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn image_is_uploaded_to_the_thread() {
    let (fake, adapter) = connected().await;
    let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3];
    let image = Attachment::new("schedule.png", "image/png", png.clone()).with_caption("Week <1>");
    let out = Outbound::new("C1", "Your schedule")
        .with_thread("1700000000.000003")
        .with_image(image);
    adapter.send(&out).await.unwrap();
    assert_eq!(fake.delivered("chat.postMessage").len(), 1);
    let get_url = fake.calls_to("files.getUploadURLExternal");
    assert_eq!(get_url.len(), 1);
    assert_eq!(
        get_url[0].param("filename").as_deref(),
        Some("schedule.png")
    );
    assert_eq!(get_url[0].param("length").as_deref(), Some("7"));
    let uploads = fake.calls_to("upload");
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].raw_body, png);
    let file_id = uploads[0].query["file_id"].clone();
    let complete = fake.delivered("files.completeUploadExternal");
    assert_eq!(
        complete[0].body,
        json!({
            "files": [{ "id": file_id, "title": "schedule.png" }],
            "channel_id": "C1",
            "thread_ts": "1700000000.000003",
            "initial_comment": "Week &lt;1&gt;"
        })
    );
}

#[tokio::test]
async fn failed_image_upload_does_not_fail_the_reply() {
    let (fake, adapter) = connected().await;
    fake.fail_next("files.getUploadURLExternal", "missing_scope");
    let out = Outbound::new("C1", "text survives").with_image(Attachment::new(
        "a.png",
        "image/png",
        vec![1, 2, 3],
    ));
    adapter.send(&out).await.unwrap();
    assert_eq!(
        fake.delivered("chat.postMessage")[0].body["text"],
        "text survives"
    );
    assert!(fake.calls_to("files.completeUploadExternal").is_empty());
}
