//! Sending against the fake Bot API: MarkdownV2 escaping, splitting to 4096, replies and
//! threads, tables, the contact keyboard, photos, typing and 429s.

mod common;

use std::time::Duration;

use common::{assert_fully_escaped, connect, unescape, TOKEN, WAIT};
use frontdesk_chat::{AdapterError, Attachment, ChatAdapter, Outbound, Table};
use frontdesk_fakes::telegram::{check_markdown_v2, FakeTelegram};
use serde_json::json;
use tokio::time::Instant;

const HOSTILE: &str = r"Price: 1,500.00 (50% off!) _x_ *y* [a](b) #1 - done. ~ ` > + = | { } \ end";

#[tokio::test]
async fn hostile_text_is_escaped_and_round_trips() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    adapter.send(&Outbound::new("4242", HOSTILE)).await.unwrap();

    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    let text = sent[0].text.as_deref().unwrap();
    assert_eq!(sent[0].parse_mode.as_deref(), Some("MarkdownV2"));
    assert_eq!(sent[0].chat_id, "4242");
    assert_eq!(
        text,
        r"Price: 1,500\.00 \(50% off\!\) \_x\_ \*y\* \[a\]\(b\) \#1 \- done\. \~ \` \> \+ \= \| \{ \} \\ end"
    );
    assert_fully_escaped(text);
    assert_eq!(unescape(text), HOSTILE);
    assert!(check_markdown_v2(text).is_ok());
}

#[tokio::test]
async fn long_answer_is_split_into_parts_that_fit_after_escaping() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let lines: Vec<String> = (0..200)
        .map(|i| format!("Line {i:04}: vinyasa flow at 9.00, bring a mat! ok"))
        .collect();
    let mut original = lines.join("\n");
    while original.chars().count() < 9000 {
        original.push_str(" more");
    }
    original.truncate(9000);
    let original = original.trim_end().to_owned();

    adapter
        .send(&Outbound::new("4242", original.clone()))
        .await
        .unwrap();
    let sent = fake.wait_for_sent(3, WAIT).await;
    assert_eq!(
        sent.len(),
        3,
        "{:?}",
        sent.iter()
            .map(|s| s.text.as_ref().map(|t| t.len()))
            .collect::<Vec<_>>()
    );
    for part in &sent {
        let text = part.text.as_deref().unwrap();
        assert!(
            text.chars().count() <= 4096,
            "{} chars",
            text.chars().count()
        );
        assert_fully_escaped(text);
    }
    let parts: Vec<String> = sent
        .iter()
        .map(|p| unescape(p.text.as_deref().unwrap()))
        .collect();
    // Cut at line boundaries: every part but the last ends a line, and nothing is lost.
    assert_eq!(parts.join("\n"), original);
    for part in &parts[..2] {
        assert!(
            part.ends_with(" ok"),
            "cut inside a line: …{:?}",
            &part[part.len() - 20..]
        );
    }
}

#[tokio::test]
async fn reply_goes_to_the_chat_thread_and_message_it_answers() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let out = Outbound::new(
        "-1001234",
        format!("{}\n{}", "a".repeat(4000), "b".repeat(200)),
    )
    .with_thread("15")
    .with_reply_to_event("-1001234:77");
    adapter.send(&out).await.unwrap();

    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[0].chat_id, "-1001234");
    assert_eq!(sent[0].thread_id, Some(15));
    assert_eq!(sent[0].reply_to, Some(77));
    assert_eq!(sent[0].allow_sending_without_reply, Some(true));
    // Only the first part is a reply; every part stays in the topic.
    assert_eq!(sent[1].reply_to, None);
    assert_eq!(sent[1].thread_id, Some(15));
    assert_eq!(sent[1].text.as_deref(), Some("b".repeat(200).as_str()));

    // An event id of another chat, or garbage, is no reply but still a message.
    adapter
        .send(&Outbound::new("4242", "hi").with_reply_to_event("999:5"))
        .await
        .unwrap();
    adapter
        .send(&Outbound::new("4242", "hi").with_reply_to_event("nonsense"))
        .await
        .unwrap();
    let sent = fake.wait_for_sent(4, WAIT).await;
    assert_eq!(sent[2].reply_to, None);
    assert_eq!(sent[3].reply_to, None);
}

#[tokio::test]
async fn rate_limit_is_honoured_and_the_message_delivered_once() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    fake.refuse_next_sends(1, 1);
    let started = Instant::now();
    adapter
        .send(&Outbound::new("4242", "after the wait"))
        .await
        .unwrap();
    let elapsed = started.elapsed();

    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    let attempts = fake.calls_to("sendMessage");
    assert_eq!(
        attempts.iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text.as_deref(), Some("after the wait"));
}

#[tokio::test]
async fn persistent_rate_limit_gives_up_with_rate_limited() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    fake.refuse_next_sends(10, 61);
    let err = adapter.send(&Outbound::new("4242", "x")).await.unwrap_err();
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Duration::from_secs(61)
        }
    );
    assert!(fake.sent().is_empty());
}

#[tokio::test]
async fn contact_request_shows_a_one_time_share_button() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let out = Outbound::new("4242", "Please share your number.").with_contact_request();
    adapter.send(&out).await.unwrap();

    let sent = fake.wait_for_sent(1, WAIT).await;
    let markup = sent[0].reply_markup.clone().unwrap();
    assert_eq!(
        markup["keyboard"],
        json!([[{"text": "Share my phone number", "request_contact": true}]])
    );
    assert_eq!(markup["one_time_keyboard"], json!(true));
    assert_eq!(markup["resize_keyboard"], json!(true));
    assert_eq!(sent[0].plain_text(), "Please share your number.");

    // Without contact request there is no keyboard.
    adapter.send(&Outbound::new("4242", "plain")).await.unwrap();
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[1].reply_markup, None);
}

#[tokio::test]
async fn table_is_a_pre_block_escaped_only_for_backticks_and_backslashes() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let table = Table::new(["Class", "Time", "Price"])
        .with_row(["Yoga (beginners)", "9.00", "1,500.00!"])
        .with_row(["Pilates `mat`", "18.30", r"a\b"]);
    let out = Outbound::new("4242", "Schedule for Mon.").with_table(table);
    adapter.send(&out).await.unwrap();

    let sent = fake.wait_for_sent(1, WAIT).await;
    let expected = "Schedule for Mon\\.\n\n```\n\
Class             Time   Price\n\
----------------  -----  ---------\n\
Yoga (beginners)  9.00   1,500.00!\n\
Pilates \\`mat\\`     18.30  a\\\\b\n```";
    assert_eq!(sent[0].text.as_deref(), Some(expected));
    assert!(check_markdown_v2(expected).is_ok());
}

#[tokio::test]
async fn image_is_sent_after_a_text_too_long_for_a_caption_with_its_own_caption() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3];
    let image =
        Attachment::new("schedule.png", "image/png", png.clone()).with_caption("x".repeat(1500));
    let out = Outbound::new("4242", format!("Here it is. {}", "y".repeat(1100)))
        .with_reply_to_event("4242:9")
        .with_image(image);
    adapter.send(&out).await.unwrap();

    let sent = fake.wait_for_sent(2, WAIT).await;
    assert!(sent[0].method.eq_ignore_ascii_case("sendMessage"));
    assert_eq!(sent[0].reply_to, Some(9));
    assert!(sent[1].method.eq_ignore_ascii_case("sendPhoto"));
    assert_eq!(sent[1].chat_id, "4242");
    assert_eq!(sent[1].photo, Some(("schedule.png".to_owned(), png.len())));
    let caption = sent[1].text.as_deref().unwrap();
    assert_eq!(caption.chars().count(), 1024);
    assert!(caption.ends_with('…'));
    assert_eq!(sent[1].reply_to, None);
}

#[tokio::test]
async fn a_short_text_becomes_the_caption_of_one_photo() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let png = vec![0x89, b'P', b'N', b'G', 4, 5, 6];
    let image =
        Attachment::new("revenue.png", "image/png", png.clone()).with_caption("Revenue per month");
    let out = Outbound::new("4242", "Revenue per month: ₹1,200 in all.")
        .with_reply_to_event("4242:9")
        .with_image(image);
    adapter.send(&out).await.unwrap();

    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1, "one photo, no separate text: {sent:?}");
    assert!(sent[0].method.eq_ignore_ascii_case("sendPhoto"));
    assert_eq!(sent[0].photo, Some(("revenue.png".to_owned(), png.len())));
    assert_eq!(
        sent[0].text.as_deref(),
        Some("Revenue per month: ₹1,200 in all\\.")
    );
    assert_eq!(sent[0].reply_to, Some(9));
    let calls = fake.wait_for_calls("sendPhoto", 1, WAIT).await;
    assert_eq!(calls[0].param("parse_mode").as_deref(), Some("MarkdownV2"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.sent().len(), 1, "nothing else was sent");
}

#[tokio::test]
async fn typing_sends_the_typing_action() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    adapter.typing("4242").await.unwrap();
    let calls = fake.wait_for_calls("sendChatAction", 1, WAIT).await;
    assert_eq!(calls[0].param("chat_id").as_deref(), Some("4242"));
    assert_eq!(calls[0].param("action").as_deref(), Some("typing"));
}

#[tokio::test]
async fn bad_destinations_and_empty_messages_are_rejected_without_a_call() {
    let fake = FakeTelegram::start(TOKEN).await;
    let adapter = connect(&fake).await;
    let calls_before = fake.calls().len();
    for out in [
        Outbound::new("not-a-chat", "hi"),
        Outbound::new("4242", "hi").with_thread("topic-x"),
        Outbound::new("4242", ""),
        Outbound::new("4242", "   \n "),
    ] {
        let err = adapter.send(&out).await.unwrap_err();
        assert!(matches!(err, AdapterError::Rejected(_)), "{out:?}: {err:?}");
    }
    assert_eq!(fake.calls().len(), calls_before);
}
