//! Two real `frontdesk serve` processes on one database behind the fake Slack: a message
//! mentioning the bot arrives as a `message` event at one and its `app_mention` twin at
//! the other, at the same moment, 20 times over. Each message gets one reply and makes
//! one order.

use std::process::Stdio;
use std::time::Duration;

use bson::doc;
use frontdesk_fakes::slack::{self, EventBuilder, FakeSlack};

use crate::harness::{server_url, TestDb, TEST_ENCRYPTION_KEY};
use crate::instances::live_clients;

const TRIES: usize = 20;

/// A `frontdesk serve` child on a port of its own; killed when dropped.
struct Instance {
    _child: tokio::process::Child,
    base: String,
}

async fn serve(db: &TestDb, fake: &FakeSlack, config: &std::path::Path, name: &str) -> Instance {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("MONGODB_URL", server_url())
        .env("DATABASE_NAME", db.name())
        .env("FRONTDESK_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
        .env("JWT_SECRET_KEY", "serve-instances-test-secret")
        .env("FRONTDESK_CONFIG", config)
        .env("FRONTDESK_NOW", "2026-11-25T10:00:00Z")
        .env("FRONTDESK_NLU", "off")
        .env("HOSTNAME", name)
        .env("SLACK_BOT_TOKEN", slack::BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", slack::SIGNING_SECRET)
        .env("SLACK_API_URL", fake.api_url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start frontdesk serve");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "{name} exited");
        assert!(tokio::time::Instant::now() < deadline, "{name} not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Instance {
        _child: child,
        base,
    }
}

async fn post_event(http: &reqwest::Client, instance: &Instance, event: &EventBuilder) -> u16 {
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

    let courses = db.store.all_courses().await.unwrap();
    let asks: Vec<String> = live_clients(&db)
        .await
        .iter()
        .filter_map(|client| {
            let course = courses
                .iter()
                .find(|c| client.enrollments.iter().all(|e| e.course_id != c.id))?;
            Some(format!(
                "<@{}> Create an order for {} for {}",
                slack::BOT_USER_ID,
                course.name,
                client.name
            ))
        })
        .take(TRIES)
        .collect();
    assert_eq!(asks.len(), TRIES);
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
