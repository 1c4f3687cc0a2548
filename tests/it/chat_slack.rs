//! Slack end to end: the real adapter (slack-morphism) started by the wiring `serve` uses,
//! in front of the real gateway, agents and database, against the fake Web API on
//! 127.0.0.1 — signed Events API requests (and Slack's retry of one), and Socket Mode; and
//! a Slack that cannot be reached at start, waited for in the background.

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

/// The state of the Slack adapter in the start-up report.
/// The adapters started with Slack at a closed port (and `mode`: the app token or the
/// signing secret), checked to say they wait for that API and keep trying (the connection
/// refused named); the port's address, for the fake to come up at.
async fn started_while_slack_is_down(db: &TestDb, mode: (&str, &str)) -> (String, ChatAdapters) {
    let address = crate::harness::closed_port();
    let api = format!("http://{address}/api");
    let adapters = start_adapters(
        db,
        &[
            ("SLACK_BOT_TOKEN", BOT_TOKEN),
            mode,
            ("SLACK_API_URL", &api),
        ],
    )
    .await;
    let AdapterState::Running(state) = slack_state(&adapters) else {
        panic!("{:?}", adapters.status);
    };
    assert!(
        state.contains(&api) && state.contains("retrying") && state.contains("refused"),
        "{state}"
    );
    (address, adapters)
}

fn slack_state(adapters: &ChatAdapters) -> &AdapterState {
    let line = &adapters.status[1];
    assert_eq!(line.platform, frontdesk_chat::Platform::Slack);
    &line.state
}

/// POSTs a signed Events API request with `body` to `url`.
async fn post_signed(url: &str, body: &str) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in signed_headers(SIGNING_SECRET, body) {
        req = req.header(name, value);
    }
    req.send().await.unwrap()
}

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

/// Slack unreachable when `serve` starts (a closed port): the adapter says it is waiting,
/// keeps trying, and answers over Socket Mode once the Web API comes up.
#[tokio::test]
async fn socket_mode_started_against_a_closed_port_connects_when_slack_comes_up() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let (address, mut adapters) =
        started_while_slack_is_down(&db, ("SLACK_APP_TOKEN", APP_TOKEN)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fake = FakeSlack::start_at(&address).await;
    fake.set_user_groups(&[("S_STAFF", &["U_BOB"])]);
    fake.wait_for_socket_connections(1, WAIT).await;
    let event = EventBuilder::channel_message(
        "C_SUPPORT",
        "U_BOB",
        "What is the status of order #12345?",
        "1764065000.000100",
    );
    let envelope = fake.push_event(event.callback()).await;
    assert!(fake.wait_for_ack(&envelope, WAIT).await);
    let posts = fake.wait_for_delivered("chat.postMessage", 1, WAIT).await;
    let text = posts[0].param("text").unwrap();
    assert!(text.contains("12345"), "{text}");
    assert_eq!(posts[0].param("channel").as_deref(), Some("C_SUPPORT"));
    adapters.tasks.shutdown().await;
}

/// The Events API route is served from start even when Slack is not reachable: 503 (Slack
/// delivers again) until the adapter connects, then the event is answered, once.
#[tokio::test]
async fn events_api_answers_503_until_slack_is_reachable_then_answers_the_event() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let (address, mut adapters) =
        started_while_slack_is_down(&db, ("SLACK_SIGNING_SECRET", SIGNING_SECRET)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        frontdesk_slack::EVENTS_PATH
    );
    let webhooks = std::mem::take(&mut adapters.webhooks);
    tokio::spawn(async move { axum::serve(listener, webhooks).await });

    let body = EventBuilder::channel_message(
        "C_SUPPORT",
        "U_BOB",
        "What is the status of order #12345?",
        "1764065100.000100",
    )
    .body();
    let early = post_signed(&url, &body).await;
    assert_eq!(early.status(), 503);
    assert_eq!(
        early.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    assert!(early.headers().contains_key("retry-after"));
    let problem: serde_json::Value = early.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("slack"),
        "{problem}"
    );

    let fake = FakeSlack::start_at(&address).await;
    fake.set_user_groups(&[("S_STAFF", &["U_BOB"])]);
    // Slack delivers again after a 5xx; the route answers once the adapter is connected.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let status = post_signed(&url, &body).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            std::time::Instant::now() < deadline,
            "still 503 after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let posts = fake.wait_for_delivered("chat.postMessage", 1, WAIT).await;
    let text = posts[0].param("text").unwrap();
    assert!(text.contains("12345"), "{text}");
    assert_eq!(
        posts[0].param("thread_ts").as_deref(),
        Some("1764065100.000100")
    );
    // A forged request is still refused by the real route behind.
    let forged = reqwest::Client::new()
        .post(&url)
        .header(
            "X-Slack-Request-Timestamp",
            frontdesk_fakes::slack::now_timestamp(),
        )
        .header("X-Slack-Signature", "v0=deadbeef")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    adapters.tasks.shutdown().await;
}

/// Slack's own passing trouble at start (`service_unavailable`) is waited out; a refused
/// bot token is final: `NOT running`, and never tried again.
#[tokio::test]
async fn slack_trouble_at_start_is_waited_out_but_a_refused_token_is_final() {
    let db = TestDb::new().await;
    let fake = FakeSlack::start().await;
    fake.fail_next("auth.test", "service_unavailable");
    let mut adapters = start(&db, &fake).await;
    let AdapterState::Running(state) = slack_state(&adapters) else {
        panic!("{:?}", adapters.status);
    };
    assert!(
        state.contains("service_unavailable") && state.contains("retrying"),
        "{state}"
    );
    fake.wait_for_socket_connections(1, WAIT).await;
    assert_eq!(fake.calls_to("auth.test").len(), 2);
    adapters.tasks.shutdown().await;

    let fake = FakeSlack::start().await;
    let mut adapters = start_adapters(
        &db,
        &[
            ("SLACK_BOT_TOKEN", "xoxb-a-wrong-token"),
            ("SLACK_APP_TOKEN", APP_TOKEN),
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
            ("SLACK_API_URL", &fake.api_url()),
        ],
    )
    .await;
    let AdapterState::Failed(why) = slack_state(&adapters) else {
        panic!("{:?}", adapters.status);
    };
    assert!(why.contains("invalid_auth"), "{why}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(fake.calls_to("auth.test").len(), 1, "tried again");
    assert!(fake.calls_to("apps.connections.open").is_empty());
    assert!(adapters.tasks.is_empty());
    // Without the adapter the Events API path is not served.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        frontdesk_slack::EVENTS_PATH
    );
    let webhooks = std::mem::take(&mut adapters.webhooks);
    tokio::spawn(async move { axum::serve(listener, webhooks).await });
    assert_eq!(post_signed(&url, "{}").await.status(), 404);
}
