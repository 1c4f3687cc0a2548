//! Telegram end to end: the real adapter (teloxide) started by the wiring `serve` uses, in
//! front of the real gateway, agents and database — against the npm `telegram-test-api`
//! emulator, and against the fake Bot API for what the emulator cannot do (contacts,
//! redelivery, webhooks with their secret header).

use std::time::Duration;

use bson::doc;
use frontdesk::domain::Order;
use frontdesk::gateway::platforms::{self, AdapterState, ChatAdapters};
use frontdesk::gateway::Gateway;
use frontdesk::store::LinkedIdentity;
use frontdesk_chat::Platform;
use frontdesk_fakes::telegram::emulator::{EmulatorUser, TelegramEmulator};
use frontdesk_fakes::telegram::unescape_markdown_v2;
use frontdesk_fakes::telegram::{FakeTelegram, UserMessage};

use crate::gateway::env;
use crate::harness::{demo_now, TestDb};

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "123456:telegram-test-token";

async fn order_12345(db: &TestDb) -> Order {
    db.store
        .raw()
        .orders()
        .find_one(doc! { "number": 12345 })
        .await
        .unwrap()
        .unwrap()
}

async fn start(db: &TestDb, pairs: &[(&str, &str)]) -> (Gateway, ChatAdapters) {
    let settings = env(pairs);
    let gw = crate::gateway::gateway_with(db, settings.gateway.clone(), &settings);
    let adapters = platforms::start(
        &settings,
        &gw,
        &frontdesk::integrations::ChatRoutes::default(),
    )
    .await;
    (gw, adapters)
}

#[tokio::test]
async fn a_client_asks_the_emulator_bot_for_their_order_status() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let emulator = TelegramEmulator::start(TOKEN)
        .await
        .unwrap_or_else(|e| panic!("{e} (needs node and npm)"));
    let user = EmulatorUser::private(4242, "Priya");
    // Priya linked this Telegram account earlier (linking itself is tested below and in
    // the gateway tests; the emulator cannot send a contact).
    let order = order_12345(&db).await;
    db.store
        .link_identity(&LinkedIdentity {
            account: format!("telegram:{}", user.user_id),
            client_id: order.client_id,
            via: "phone".into(),
            linked_at: demo_now(),
        })
        .await
        .unwrap();
    let (_gw, mut adapters) = start(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", emulator.api_url()),
        ],
    )
    .await;
    assert_eq!(
        adapters.status[0].state,
        AdapterState::Running("long polling".into())
    );

    emulator
        .send_user_message(&user, "What is the status of order #12345?")
        .await
        .unwrap();
    let replies = emulator
        .wait_bot_messages(user.chat_id, 1, WAIT)
        .await
        .unwrap();
    let text = unescape_markdown_v2(replies[0]["text"].as_str().unwrap());
    assert!(text.contains("12345"), "{text}");
    assert!(
        text.contains(order.status.as_str()),
        "{text} should name {:?}",
        order.status
    );
    assert!(text.contains(&order.course_name), "{text}");
    adapters.tasks.shutdown().await;
}

#[tokio::test]
async fn a_guest_shares_their_contact_and_a_redelivered_update_is_answered_once() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let fake = FakeTelegram::start(TOKEN).await;
    let (_gw, mut adapters) = start(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", fake.base_url()),
        ],
    )
    .await;

    fake.push_message(&UserMessage::private(77, "Priya", "/start"));
    let sent = fake.wait_for_sent(1, WAIT).await;
    let keyboard = sent[0]
        .reply_markup
        .clone()
        .expect("the welcome offers the contact button");
    assert_eq!(
        keyboard["keyboard"][0][0]["request_contact"], true,
        "{keyboard}"
    );

    // Someone else's contact card links nothing.
    fake.push_message(&UserMessage::contact(
        77,
        "Priya",
        "+919876543210",
        Some(78),
    ));
    // Her own contact, with Telegram's digits-only number.
    fake.push_message(&UserMessage::own_contact(77, "Priya", "919876543210"));
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert!(
        sent[1].plain_text().starts_with("Thanks, Priya!"),
        "{}",
        sent[1].plain_text()
    );
    let priya = db
        .store
        .linked_identity("telegram:77")
        .await
        .unwrap()
        .unwrap();
    let order = order_12345(&db).await;
    assert_eq!(priya.client_id, order.client_id);

    // The question, then the same update delivered again after a "restart" (new update id,
    // same message): one answer.
    let (update, pushed) =
        fake.make_update(&UserMessage::private(77, "Priya", "status of order #12345"));
    fake.push_update(update.clone());
    let sent = fake.wait_for_sent(3, WAIT).await;
    assert!(
        sent[2].plain_text().contains(order.status.as_str()),
        "{}",
        sent[2].plain_text()
    );
    assert_eq!(sent[2].reply_to, Some(pushed.message_id));
    let mut again = update;
    again["update_id"] = serde_json::json!(pushed.update_id + 1000);
    fake.push_update(again);
    let classes = fake.push_message(&UserMessage::private(
        77,
        "Priya",
        "what classes are on this week?",
    ));
    let sent = fake.wait_for_sent(4, WAIT).await;
    assert_eq!(
        sent[3].reply_to,
        Some(classes.message_id),
        "the next answer is to the classes question, not the redelivered one: {}",
        sent[3].plain_text()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.sent().len(),
        4,
        "no second answer to the redelivered update"
    );
    adapters.tasks.shutdown().await;
}

#[tokio::test]
async fn webhook_mode_checks_the_secret_and_answers_through_the_bot_api() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let fake = FakeTelegram::start(TOKEN).await;
    let (_gw, adapters) = start(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", fake.base_url()),
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://studio.example/webhooks/telegram",
            ),
            ("TELEGRAM_WEBHOOK_SECRET", "s3cret_token-1"),
        ],
    )
    .await;
    assert_eq!(
        adapters.status[0].state,
        AdapterState::Running("webhook at https://studio.example/webhooks/telegram".into())
    );
    let hook = fake.webhook().expect("setWebhook was called");
    assert_eq!(hook.url, "https://studio.example/webhooks/telegram");
    assert_eq!(hook.secret_token.as_deref(), Some("s3cret_token-1"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, adapters.webhooks).await });

    let http = reqwest::Client::new();
    let (update, _) = fake.make_update(&UserMessage::private(
        88,
        "Ravi",
        "what courses do you offer?",
    ));
    let post = |secret: Option<&'static str>| {
        let mut req = http.post(format!("{base}/webhooks/telegram")).json(&update);
        if let Some(secret) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        req.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(post(Some("wrong")).await.unwrap().status(), 401);
    assert_eq!(post(Some("s3cret_token-1")).await.unwrap().status(), 200);
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].chat_id, "88");
    assert!(
        sent[0].plain_text().contains("Yoga Beginner"),
        "{}",
        sent[0].plain_text()
    );
    // Telegram retrying the same delivery gets 200 and no second answer.
    assert_eq!(post(Some("s3cret_token-1")).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sent().len(), 1);
}

#[tokio::test]
async fn a_webhook_url_without_a_secret_is_refused_at_start() {
    let db = TestDb::new().await;
    let fake = FakeTelegram::start(TOKEN).await;
    let (_gw, adapters) = start(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", fake.base_url()),
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://studio.example/webhooks/telegram",
            ),
        ],
    )
    .await;
    let AdapterState::Failed(why) = &adapters.status[0].state else {
        panic!("{:?}", adapters.status);
    };
    assert!(why.contains("TELEGRAM_WEBHOOK_SECRET"), "{why}");
    assert_eq!(adapters.status[0].platform, Platform::Telegram);
}

/// A laptop started on the production bot's token, without a webhook URL, must not take
/// the production deployment's messages: long polling refuses while a webhook set
/// elsewhere is in place, and deletes it only when told to.
#[tokio::test]
async fn long_polling_leaves_another_deployments_webhook_alone_unless_told() {
    let db = TestDb::new().await;
    let fake = FakeTelegram::start(TOKEN).await;
    let production = "https://studio.example/webhooks/telegram";
    fake.set_webhook_elsewhere(production);
    let base = [
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("TELEGRAM_API_URL", fake.base_url()),
    ];
    let (_gw, adapters) = start(&db, &base).await;
    let AdapterState::Failed(why) = &adapters.status[0].state else {
        panic!("{:?}", adapters.status);
    };
    assert!(
        why.contains(production) && why.contains("TELEGRAM_TAKE_OVER_WEBHOOK"),
        "{why}"
    );
    assert_eq!(fake.webhook().map(|w| w.url).as_deref(), Some(production));
    assert!(fake.calls_to("deleteWebhook").is_empty());

    let mut told = base.to_vec();
    told.push(("TELEGRAM_TAKE_OVER_WEBHOOK", "1"));
    let (_gw, adapters) = start(&db, &told).await;
    assert_eq!(
        adapters.status[0].state,
        AdapterState::Running("long polling".into())
    );
    fake.wait_for_calls("getUpdates", 1, WAIT).await;
    assert!(fake.webhook().is_none(), "the webhook was not deleted");
}

/// Telegram unreachable when `serve` starts (a closed port): the adapter says it is
/// waiting, keeps trying, and answers once the Bot API comes up.
#[tokio::test]
async fn an_adapter_started_against_a_closed_port_connects_when_telegram_comes_up() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let address = crate::harness::closed_port();
    let url = format!("http://{address}");
    let (_gw, adapters) = start(
        &db,
        &[("TELEGRAM_BOT_TOKEN", TOKEN), ("TELEGRAM_API_URL", &url)],
    )
    .await;
    let AdapterState::Running(state) = &adapters.status[0].state else {
        panic!("{:?}", adapters.status);
    };
    assert!(
        state.contains(&url) && state.contains("retrying"),
        "{state}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fake = FakeTelegram::start_at(TOKEN, &address).await;
    fake.wait_for_calls("getUpdates", 1, WAIT).await;
    fake.push_message(&UserMessage::private(5150, "Kiran", "hi"));
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].chat_id, "5150", "{sent:?}");
}

/// The bot's menu (`setMyCommands`) is set at start with every chat command, `/human`
/// among them, and `/human` chosen from it reaches the studio: a ticket with the words
/// after it as its reason.
#[tokio::test]
async fn the_bots_menu_offers_its_commands_and_human_opens_a_ticket() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let fake = FakeTelegram::start(TOKEN).await;
    let (_gw, _adapters) = start(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", fake.base_url()),
        ],
    )
    .await;
    let menu = fake.commands(None);
    let expected: Vec<(String, String)> = frontdesk::gateway::linking::MENU
        .iter()
        .map(|(c, d)| ((*c).to_owned(), (*d).to_owned()))
        .collect();
    assert_eq!(menu, expected);
    let names: Vec<&str> = menu.iter().map(|(c, _)| c.as_str()).collect();
    for command in ["start", "help", "link", "unlink", "human"] {
        assert!(names.contains(&command), "{command} missing from {names:?}");
    }

    fake.wait_for_calls("getUpdates", 1, WAIT).await;
    fake.push_message(&UserMessage::private(
        6161,
        "Kiran",
        "/human my card was charged twice",
    ));
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert!(
        sent[0]
            .plain_text()
            .contains("passed this to the studio team"),
        "{sent:?}"
    );
    let tickets = db.store.open_tickets(10).await.unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0].reason, "my card was charged twice");

    // In a group every bot sees every command: one addressed to another bot is left to
    // it; one addressed to this bot (any case) is answered.
    fake.push_message(&UserMessage::private(
        6262,
        "Ravi",
        "/human@some_other_bot my order",
    ));
    fake.push_message(&UserMessage::private(
        6363,
        "Asha",
        &format!(
            "/human@{} my order",
            frontdesk_fakes::telegram::FAKE_BOT_USERNAME.to_uppercase()
        ),
    ));
    fake.wait_for_sent(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = fake.wait_for_sent(2, WAIT).await;
    let sent_to: Vec<&str> = sent.iter().map(|m| m.chat_id.as_str()).collect();
    assert!(sent_to.contains(&"6363"), "{sent_to:?}");
    assert!(!sent_to.contains(&"6262"), "{sent_to:?}");
    assert_eq!(db.store.open_tickets(10).await.unwrap().len(), 2);
}

/// Telegram unreachable at start in webhook mode: the webhook route answers 503 until
/// the bot connects and its webhook is set (and its menu), then updates are answered.
#[tokio::test]
async fn webhook_mode_started_against_a_closed_port_serves_once_telegram_comes_up() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let address = crate::harness::closed_port();
    let api = format!("http://{address}");
    let hook = "https://studio.example/webhooks/telegram";
    let secret = "s3cret_token-1";
    let (_gw, mut adapters) = start(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", &api),
            ("TELEGRAM_WEBHOOK_URL", hook),
            ("TELEGRAM_WEBHOOK_SECRET", secret),
        ],
    )
    .await;
    let AdapterState::Running(state) = &adapters.status[0].state else {
        panic!("{:?}", adapters.status);
    };
    assert!(
        state.contains(&api) && state.contains("retrying"),
        "{state}"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let webhooks = std::mem::take(&mut adapters.webhooks);
    tokio::spawn(async move { axum::serve(listener, webhooks).await });
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        http.post(format!("{base}/webhooks/telegram"))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&body)
            .send()
    };
    let early = post(serde_json::json!({})).await.unwrap();
    assert_eq!(early.status(), 503);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fake = FakeTelegram::start_at(TOKEN, &address).await;
    fake.wait_for_calls("setWebhook", 1, WAIT).await;
    assert_eq!(fake.webhook().map(|w| w.url).as_deref(), Some(hook));
    let (update, _) = fake.make_update(&UserMessage::private(
        88,
        "Ravi",
        "what courses do you offer?",
    ));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let status = post(update.clone()).await.unwrap().status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(std::time::Instant::now() < deadline, "still 503");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].chat_id, "88");
    assert!(!fake.commands(None).is_empty(), "no menu set");
    adapters.tasks.shutdown().await;
}
