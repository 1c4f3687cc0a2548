//! Two real `frontdesk serve` processes on one database behind the fake Slack: a message
//! mentioning the bot arrives as a `message` event at one and its `app_mention` twin at
//! the other, at the same moment, 20 times over. Each message gets one reply and makes
//! one order.

use std::time::Duration;

use bson::doc;
use frontdesk::bench::serve::{ServeTarget, Served};
use frontdesk_fakes::slack::{self, EventBuilder, FakeSlack};

use crate::harness::{server_url, TestDb, TEST_ENCRYPTION_KEY};
use crate::instances::clients_new_to_a_course;

const TRIES: usize = 20;

/// A `frontdesk serve` child (the benchmarks' `Served`: its own port, killed when dropped)
/// on the test's database, with the fake Slack and `config`.
async fn serve(db: &TestDb, fake: &FakeSlack, config: &std::path::Path, name: &str) -> Served {
    let (url, api, config) = (server_url(), fake.api_url(), config.display().to_string());
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_frontdesk"));
    Served::start(&ServeTarget {
        exe: &exe,
        url: &url,
        database: db.name(),
        encryption_key: TEST_ENCRYPTION_KEY,
        env: &[
            ("FRONTDESK_CONFIG", &config),
            ("FRONTDESK_NLU", "off"),
            ("HOSTNAME", name),
            ("SLACK_BOT_TOKEN", slack::BOT_TOKEN),
            ("SLACK_SIGNING_SECRET", slack::SIGNING_SECRET),
            ("SLACK_API_URL", &api),
        ],
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

async fn post_event(http: &reqwest::Client, instance: &Served, event: &EventBuilder) -> u16 {
    let body = event.body();
    let mut request = http
        .post(format!("{}/webhooks/slack/events", instance.base))
        .header("content-type", "application/json")
        .body(body.clone());
    for (name, value) in slack::signed_headers(slack::SIGNING_SECRET, &body) {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn two_serve_processes_answer_a_slack_message_and_its_twin_once_with_one_order() {
    let (db, _) = TestDb::with_demo_data(60).await;
    let fake = FakeSlack::start().await;
    fake.set_user_groups(&[("S_STAFF", &["U_BOB"])]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("instances.toml");
    std::fs::write(
        &config,
        "[[gateway.routes]]\nplatform = \"slack\"\nchannel = \"C_SUPPORT\"\nagent = \"support\"\n\n[gateway.platform_roles]\nslack = { \"S_STAFF\" = \"staff\" }\n",
    )
    .unwrap();
    let a = serve(&db, &fake, &config, "instance-a").await;
    let b = serve(&db, &fake, &config, "instance-b").await;

    let asks: Vec<String> = clients_new_to_a_course(&db, TRIES)
        .await
        .iter()
        .map(|(client, course)| {
            format!(
                "<@{}> Create an order for {} for {}",
                slack::BOT_USER_ID,
                course.name,
                client.name
            )
        })
        .collect();
    let orders = || async {
        db.store
            .raw()
            .orders()
            .count_documents(doc! {})
            .await
            .unwrap()
    };
    let before = orders().await;
    let http = reqwest::Client::new();
    for (i, text) in asks.iter().enumerate() {
        let ts = format!("17640648{i:02}.000100");
        let message = EventBuilder::channel_message("C_SUPPORT", "U_BOB", text, &ts)
            .with_event_id(&format!("EvMessage{i}"));
        let mention = EventBuilder::app_mention("C_SUPPORT", "U_BOB", text, &ts)
            .with_event_id(&format!("EvMention{i}"));
        let (x, y) = tokio::join!(
            post_event(&http, &a, &message),
            post_event(&http, &b, &mention)
        );
        assert_eq!((x, y), (200, 200), "try {i}");
    }
    let posts = fake
        .wait_for_delivered("chat.postMessage", TRIES, Duration::from_secs(60))
        .await;
    // Whatever was still on its way has arrived by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let posts_now = fake.calls_to("chat.postMessage").len();
    assert_eq!(
        posts_now, TRIES,
        "replies: {posts_now} for {TRIES} messages"
    );
    let mut threads: Vec<String> = posts.iter().filter_map(|p| p.param("thread_ts")).collect();
    threads.sort();
    threads.dedup();
    assert_eq!(threads.len(), TRIES, "one reply in each message's thread");
    assert_eq!(
        orders().await,
        before + TRIES as u64,
        "one order per message"
    );
}
