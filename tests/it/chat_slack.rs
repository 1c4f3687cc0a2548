//! Slack end to end: the real adapter (slack-morphism) started by the wiring `serve` uses,
//! in front of the real gateway, agents and database, against the fake Web API on
//! 127.0.0.1 — signed Events API requests (and Slack's retry of one), and Socket Mode.

use std::time::{Duration, Instant};

use bson::doc;
use frontdesk::domain::{format_minor, Currency, Order, Payment, PaymentStatus};
use frontdesk::gateway::platforms::{AdapterState, ChatAdapters};
use frontdesk_fakes::slack::{
    signed_headers, EventBuilder, FakeSlack, APP_TOKEN, BOT_TOKEN, SIGNING_SECRET,
};

use crate::agents::{local, paid_between};
use crate::gateway::start_adapters;
use crate::harness::{all, demo_now, TestDb};

const WAIT: Duration = Duration::from_secs(20);

async fn start(db: &TestDb, fake: &FakeSlack) -> ChatAdapters {
    // C_SUPPORT → support, C_MGMT → dashboard; user group S_STAFF is staff; U_ASHA a manager.
    start_adapters(
        db,
        &[
            ("SLACK_BOT_TOKEN", BOT_TOKEN),
            ("SLACK_APP_TOKEN", APP_TOKEN),
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
            ("SLACK_API_URL", &fake.api_url()),
        ],
    )
    .await
}

#[tokio::test]
async fn events_api_answers_staff_in_the_thread_and_a_retry_gets_no_second_reply() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let fake = FakeSlack::start().await;
    fake.set_user_groups(&[("S_STAFF", &["U_BOB"])]);
    let adapters = start(&db, &fake).await;
    assert_eq!(
        adapters.status[1].state,
        AdapterState::Running("Events API at /webhooks/slack/events and Socket Mode".into())
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/slack/events",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, adapters.webhooks).await });

    let event = EventBuilder::channel_message(
        "C_SUPPORT",
        "U_BOB",
        "What is the status of order #12345?",
        "1764064800.000100",
    );
    let body = event.body();
    let http = reqwest::Client::new();
    let post = |retry: Option<&'static str>| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in signed_headers(SIGNING_SECRET, &body) {
            req = req.header(name, value);
        }
        if let Some(n) = retry {
            req = req
                .header("X-Slack-Retry-Num", n)
                .header("X-Slack-Retry-Reason", "http_timeout");
        }
        req.send()
    };
    let started = Instant::now();
    assert_eq!(post(None).await.unwrap().status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "acked within Slack's 3 s"
    );
    let posts = fake.wait_for_delivered("chat.postMessage", 1, WAIT).await;
    let order: Order = db
        .store
        .raw()
        .orders()
        .find_one(doc! { "number": 12345 })
        .await
        .unwrap()
        .unwrap();
    let text = posts[0].param("text").unwrap();
    assert!(
        text.contains("12345") && text.contains(order.status.as_str()),
        "{text}"
    );
    assert_eq!(posts[0].param("channel").as_deref(), Some("C_SUPPORT"));
    assert_eq!(
        posts[0].param("thread_ts").as_deref(),
        Some("1764064800.000100")
    );

    // Slack retries the delivery: acknowledged, not answered again.
    assert_eq!(post(Some("1")).await.unwrap().status(), 200);
    assert_eq!(post(Some("2")).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        fake.delivered("chat.postMessage").len(),
        1,
        "one reply only"
    );

    // A forged request changes nothing.
    let forged = http
        .post(&url)
        .header(
            "X-Slack-Request-Timestamp",
            frontdesk_fakes::slack::now_timestamp(),
        )
        .header("X-Slack-Signature", "v0=deadbeef")
        .body(
            EventBuilder::channel_message(
                "C_SUPPORT",
                "U_BOB",
                "find client priya@example.com",
                "1764064801.000200",
            )
            .body(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.delivered("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn socket_mode_answers_a_manager_with_figures_as_blocks() {
    let (db, _) = TestDb::with_demo_data(60).await;
    let fake = FakeSlack::start().await;
    let mut adapters = start(&db, &fake).await;
    fake.wait_for_socket_connections(1, WAIT).await;

    let event = EventBuilder::channel_message(
        "C_MGMT",
        "U_ASHA",
        "revenue by course this month",
        "1764064900.000100",
    );
    let envelope = fake.push_event(event.callback()).await;
    assert!(
        fake.wait_for_ack(&envelope, Duration::from_secs(3)).await,
        "acked within 3 s"
    );
    let posts = fake.wait_for_delivered("chat.postMessage", 1, WAIT).await;
    let payments: Vec<Payment> = all(db.store.raw().payments()).await;
    let (total, _) = paid_between(&payments, local(2026, 11, 1, 0), demo_now());
    let figure = format_minor(total, Currency::INR);
    let text = posts[0].param("text").unwrap();
    assert!(text.contains(&figure), "{text} should contain {figure}");
    let blocks = posts[0].body["blocks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !blocks.is_empty(),
        "the breakdown goes as Block Kit: {}",
        posts[0].body
    );
    let rendered = serde_json::to_string(&blocks).unwrap();
    let (start, end) = (local(2026, 11, 1, 0), demo_now());
    let courses: std::collections::BTreeSet<&str> = payments
        .iter()
        .filter(|p| {
            p.status == PaymentStatus::Paid && p.paid_at.is_some_and(|at| start <= at && at < end)
        })
        .map(|p| p.course_name.as_str())
        .collect();
    assert!(!courses.is_empty());
    for course in courses {
        assert!(
            rendered.contains(course),
            "{course} missing from {rendered}"
        );
    }

    // A guest in the same channel is refused.
    let event = EventBuilder::channel_message(
        "C_MGMT",
        "U_GUEST",
        "revenue this month",
        "1764064901.000100",
    );
    fake.push_event(event.callback()).await;
    let posts = fake.wait_for_delivered("chat.postMessage", 2, WAIT).await;
    let refusal = posts[1].param("text").unwrap();
    assert!(
        !refusal.contains(&figure) && refusal.contains("managers"),
        "{refusal}"
    );
    adapters.tasks.shutdown().await;
}
