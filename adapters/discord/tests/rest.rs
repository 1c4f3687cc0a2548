//! The Discord adapter's REST side against the fake: token check, replies, splitting,
//! tables, images, typing and 429s.

mod common;

use std::time::{Duration, Instant};

use common::{setup, TOKEN, WAIT};
use frontdesk_chat::{AdapterError, Attachment, ChatAdapter, Outbound, Platform, Table};
use frontdesk_discord::{DiscordAdapter, DiscordConfig};
use frontdesk_fakes::discord::{FakeDiscord, BOT_USER_ID};
use serde_json::json;

#[tokio::test]
async fn good_token_connects_and_learns_the_bot_id() {
    let (fake, adapter) = setup().await;
    assert_eq!(adapter.bot_user_id(), BOT_USER_ID);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "GET");
    assert_eq!(calls[0].path, "/api/v10/users/@me");
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some("Bot fake-bot-token")
    );
}

#[tokio::test]
async fn bad_token_is_a_bad_token_error_naming_discord() {
    let fake = FakeDiscord::start(TOKEN).await;
    let err = DiscordAdapter::connect(DiscordConfig::new("wrong").with_api_url(fake.api_url()))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::BadToken {
            platform: Platform::Discord,
            reason: "401: Unauthorized".into()
        }
    );
    assert!(
        err.to_string().starts_with("bad token for discord"),
        "{err}"
    );
    assert_eq!(fake.calls()[0].status, 401);
    // A token that cannot even be a header value is refused without a call.
    let err = DiscordAdapter::connect(DiscordConfig::new("a\nb").with_api_url(fake.api_url()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AdapterError::BadToken {
            platform: Platform::Discord,
            ..
        }
    ));
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    let url = {
        let fake = FakeDiscord::start(TOKEN).await;
        fake.api_url()
    };
    // The fake is dropped: nothing listens there any more.
    let err = DiscordAdapter::connect(DiscordConfig::new(TOKEN).with_api_url(url))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn reply_references_the_message_and_never_parses_mentions() {
    let (fake, adapter) = setup().await;
    let out = Outbound::new("4242", "Booked! @everyone <@&1>").with_reply_to_event("1234567");
    adapter.send(&out).await.unwrap();
    let sent = fake.wait_for_messages(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].channel_id, "4242");
    assert_eq!(
        sent[0].payload,
        json!({
            "content": "Booked! @everyone <@&1>",
            "allowed_mentions": { "parse": [] },
            "message_reference": { "message_id": "1234567", "fail_if_not_exists": false },
        })
    );
    let call = fake.calls().pop().unwrap();
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/api/v10/channels/4242/messages");
    assert_eq!(call.authorization.as_deref(), Some("Bot fake-bot-token"));
}

#[tokio::test]
async fn a_reply_in_a_thread_goes_to_the_thread_channel() {
    let (fake, adapter) = setup().await;
    adapter
        .send(&Outbound::new("10", "in the thread").with_thread("11"))
        .await
        .unwrap();
    let sent = fake.wait_for_messages(1, WAIT).await;
    assert_eq!(sent[0].channel_id, "11");
}

#[tokio::test]
async fn long_text_is_split_into_parts_of_at_most_2000_at_line_breaks() {
    let (fake, adapter) = setup().await;
    // 100 lines of 44 characters + newline = 4500 characters.
    let text: String = (0..100)
        .map(|i| format!("{i:03} Hatha yoga with Asha K, studio two, 9:00\n"))
        .collect();
    assert_eq!(text.chars().count(), 4500);
    let out = Outbound::new("42", text.clone()).with_reply_to_event("99");
    adapter.send(&out).await.unwrap();
    let sent = fake.wait_for_messages(3, WAIT).await;
    assert_eq!(sent.len(), 3);
    for (i, message) in sent.iter().enumerate() {
        assert!(message.content().chars().count() <= 2000);
        // Cut at line boundaries: every part holds whole lines.
        assert!(
            message.content().trim_end().ends_with("9:00"),
            "part {i}: {:?}",
            message.content()
        );
        assert_eq!(message.payload["allowed_mentions"], json!({ "parse": [] }));
        assert_eq!(message.payload.get("message_reference").is_some(), i == 0);
    }
    let joined: Vec<&str> = sent.iter().map(|m| m.content().trim_end()).collect();
    assert_eq!(joined.join("\n"), text.trim_end());
}

#[tokio::test]
async fn table_is_sent_as_an_embed_within_discord_limits() {
    let (fake, adapter) = setup().await;
    let table = Table::new(["Class", "Time", "Spots"])
        .with_title("Monday")
        .with_row(["Yoga", "09:00", "3"])
        .with_row(["Pilates mat", "18:30", "12"]);
    adapter
        .send(&Outbound::new("42", "This week:").with_table(table))
        .await
        .unwrap();
    let sent = fake.wait_for_messages(1, WAIT).await;
    assert_eq!(sent[0].content(), "This week:");
    let embeds = sent[0].embeds();
    assert_eq!(embeds.len(), 1);
    assert_eq!(embeds[0]["title"], "Monday");
    assert_eq!(
        embeds[0]["description"],
        "```\nClass        Time   Spots\n-----------  -----  -----\nYoga         09:00  3\nPilates mat  18:30  12\n```"
    );
}

#[tokio::test]
async fn huge_table_never_breaks_a_limit() {
    let (fake, adapter) = setup().await;
    let mut table = Table::new(["Client", "Plan"]).with_title("x".repeat(500));
    for i in 0..150 {
        table = table.with_row([format!("client number {i}"), "10-class pass".to_owned()]);
    }
    adapter
        .send(&Outbound::new("42", "All clients:").with_table(table))
        .await
        .unwrap();
    // Too long for one embed: the table goes as code-block text, in several parts.
    let calls = fake.wait_for_messages(2, WAIT).await;
    for message in &calls {
        assert!(message.content().chars().count() <= 2000);
        for embed in message.embeds() {
            assert!(embed["title"].as_str().map_or(0, |t| t.chars().count()) <= 256);
            assert!(
                embed["description"]
                    .as_str()
                    .map_or(0, |d| d.chars().count())
                    <= 4096
            );
        }
    }
}

#[tokio::test]
async fn image_is_uploaded_as_an_attachment_shown_in_an_embed() {
    let (fake, adapter) = setup().await;
    let png = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 255];
    let out = Outbound::new("42", "Your schedule").with_image(
        Attachment::new("schedule.png", "image/png", png.clone()).with_caption("Week 45"),
    );
    adapter.send(&out).await.unwrap();
    let sent = fake.wait_for_messages(1, WAIT).await;
    assert_eq!(sent[0].content(), "Your schedule");
    assert_eq!(sent[0].files.len(), 1);
    let file = &sent[0].files[0];
    assert_eq!(file.field, "files[0]");
    assert_eq!(file.file_name.as_deref(), Some("schedule.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(file.bytes, png);
    assert_eq!(
        sent[0].payload["attachments"],
        json!([{ "id": 0, "filename": "schedule.png" }])
    );
    assert_eq!(
        sent[0].embeds(),
        vec![json!({ "image": { "url": "attachment://schedule.png" }, "description": "Week 45" })]
    );
}

#[tokio::test]
async fn typing_posts_to_the_channel() {
    let (fake, adapter) = setup().await;
    adapter.typing("4242").await.unwrap();
    let calls = fake.wait_for_calls(2, WAIT).await;
    assert_eq!(calls[1].method, "POST");
    assert_eq!(calls[1].path, "/api/v10/channels/4242/typing");
    assert_eq!(
        calls[1].authorization.as_deref(),
        Some("Bot fake-bot-token")
    );
    assert_eq!(calls[1].status, 204);
}

#[tokio::test]
async fn a_429_is_honoured_and_the_message_sent_once() {
    let (fake, adapter) = setup().await;
    fake.rate_limit_next_messages(1, Duration::from_millis(300));
    let start = Instant::now();
    adapter.send(&Outbound::new("42", "hello")).await.unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    let sent = fake.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].content(), "hello");
    let statuses: Vec<u16> = fake
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/messages"))
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn endless_429s_end_in_a_rate_limited_error() {
    let (fake, adapter) = setup().await;
    fake.rate_limit_next_messages(10, Duration::from_millis(20));
    let err = adapter
        .send(&Outbound::new("42", "hello"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Duration::from_millis(20)
        }
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_channel_that_is_not_an_id_is_refused_without_a_call() {
    let (fake, adapter) = setup().await;
    let err = adapter
        .send(&Outbound::new("../../users/@me", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Rejected(_)), "{err:?}");
    assert!(adapter.typing("abc").await.is_err());
    assert_eq!(fake.calls().len(), 1, "only the token check");
}

#[tokio::test]
async fn an_empty_outbound_sends_nothing() {
    let (fake, adapter) = setup().await;
    adapter.send(&Outbound::new("42", "")).await.unwrap();
    assert_eq!(fake.calls().len(), 1, "only the token check");
}
