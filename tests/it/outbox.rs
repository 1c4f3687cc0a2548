//! The outbox end to end against a real database and a SendGrid stand-in (wiremock): an
//! outage delays a message but delivers it exactly once, a permanent failure parks it as
//! dead with its error, a crashed worker's item is taken over when its lease runs out, and
//! two workers never deliver one item twice. Then the enrolment → confirmation path and
//! the scheduler's reminders.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use frontdesk::config::Settings;
use frontdesk::domain::Clock;
use frontdesk::integrations::scheduler::Scheduler;
use frontdesk::integrations::worker::{Delivered, OutboxWorker};
use frontdesk::integrations::{ChatRoutes, Providers};
use frontdesk::store::{Job, OutboxItem, OutboxStatus};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{all, demo_now, TestDb};

/// A clock the test moves.
#[derive(Debug)]
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(t)))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
    pub fn advance(&self, d: chrono::Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn settings(pairs: &[(&str, &str)], outbox: &str) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outbox.toml");
    std::fs::write(&file, outbox).unwrap();
    let mut env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert("FRONTDESK_CONFIG".into(), file.display().to_string());
    Settings::from_env(env).unwrap()
}

pub const FAST: &str = "[outbox]\nmax_attempts = 8\nfirst_retry_secs = 1\nmax_retry_secs = 60\nlease_secs = 60\npoll_millis = 10\n";

async fn sendgrid() -> MockServer {
    MockServer::start().await
}

pub fn sendgrid_env(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("SENDGRID_API_KEY", "SG.key".to_owned()),
        ("SENDGRID_API_URL", server.uri()),
        ("EMAIL_FROM", "desk@studio.example".to_owned()),
    ]
}

pub fn with_env(pairs: &[(&'static str, String)], outbox: &str) -> Settings {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    settings(&borrowed, outbox)
}

pub fn worker(
    db: &TestDb,
    settings: &Settings,
    clock: &Arc<TestClock>,
    owner: &str,
) -> OutboxWorker {
    let providers = Providers::from_settings(settings, ChatRoutes::default()).unwrap();
    OutboxWorker::new(
        db.store.clone(),
        clock.clone(),
        Arc::new(providers),
        settings.integrations.clone(),
        owner,
    )
}

pub fn email(key: &str, now: DateTime<Utc>) -> OutboxItem {
    OutboxItem::new(
        key,
        Job::Email {
            to: "priya@example.com".into(),
            subject: "Hello".into(),
            text: "A message".into(),
        },
        now,
    )
}

/// The `frontdesk_id` of every mail the fake received, in order.
async fn keys_received(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .map(|b| {
            b["custom_args"]["frontdesk_id"]
                .as_str()
                .unwrap_or("-")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn an_outage_delays_a_message_and_it_is_delivered_exactly_once() {
    let db = TestDb::new().await;
    let server = sendgrid().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .up_to_n_times(5)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let s = with_env(&sendgrid_env(&server), FAST);
    let clock = TestClock::at(demo_now());
    db.store
        .enqueue(&[email("mail:1", demo_now())])
        .await
        .unwrap();
    let w = worker(&db, &s, &clock, "w1");
    let mut waits = Vec::new();
    loop {
        let (_, outcome) = w.run_once().await.unwrap().expect("the item is due");
        match outcome {
            Delivered::Done => break,
            Delivered::Retry { at, .. } => {
                waits.push((at - clock.now()).num_seconds());
                // Not due before its time.
                assert!(w.run_once().await.unwrap().is_none());
                clock.set(at);
            }
            Delivered::Dead { error } => panic!("dead: {error}"),
        }
    }
    assert_eq!(waits, [1, 2, 4, 8, 16], "exponential backoff");
    assert_eq!(keys_received(&server).await, vec!["mail:1"; 6]);
    let item = db.store.outbox_item("mail:1").await.unwrap().unwrap();
    assert_eq!(item.status, OutboxStatus::Done);
    assert_eq!(item.attempts, 6);
    assert!(
        w.run_once().await.unwrap().is_none(),
        "nothing left to send"
    );
    let stats = db.store.outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.done, stats.dead), (0, 1, 0));
}

#[tokio::test]
async fn permanent_failures_and_exhausted_retries_park_the_item_as_dead() {
    let db = TestDb::new().await;
    let server = sendgrid().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "errors": [{ "message": "The to email does not contain a valid address.", "field": "personalizations.0.to.0.email" }]
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let s = with_env(
        &sendgrid_env(&server),
        "[outbox]\nmax_attempts = 3\nfirst_retry_secs = 1\nmax_retry_secs = 60\nlease_secs = 60\npoll_millis = 10\n",
    );
    let clock = TestClock::at(demo_now());
    let w = worker(&db, &s, &clock, "w1");
    db.store
        .enqueue(&[email("mail:bad", demo_now())])
        .await
        .unwrap();
    let (_, outcome) = w.run_once().await.unwrap().unwrap();
    let Delivered::Dead { error } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        error.contains("does not contain a valid address"),
        "{error}"
    );
    let item = db.store.outbox_item("mail:bad").await.unwrap().unwrap();
    assert_eq!((item.status, item.attempts), (OutboxStatus::Dead, 1));
    assert_eq!(item.last_error.as_deref(), Some(error.as_str()));

    db.store
        .enqueue(&[email("mail:down", clock.now())])
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    while let Some((_, outcome)) = w.run_once().await.unwrap() {
        if let Delivered::Retry { at, .. } = &outcome {
            clock.set(*at);
        }
        outcomes.push(outcome);
    }
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(matches!(outcomes[2], Delivered::Dead { .. }));
    let stats = db.store.outbox_stats().await.unwrap();
    assert_eq!(stats.dead, 2);
    // The same key queued again (a retried message) adds nothing.
    assert_eq!(
        db.store
            .enqueue(&[email("mail:down", clock.now())])
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_crashed_workers_item_is_taken_over_after_its_lease_and_sent_once() {
    let db = TestDb::new().await;
    let server = sendgrid().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let s = with_env(&sendgrid_env(&server), FAST);
    let clock = TestClock::at(demo_now());
    db.store
        .enqueue(&[email("mail:crash", demo_now())])
        .await
        .unwrap();
    // Instance A claims the item and dies before sending it.
    let claimed = db
        .store
        .claim_outbox_item("instance-a", clock.now(), Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.key, "mail:crash");
    let b = worker(&db, &s, &clock, "instance-b");
    assert!(
        b.run_once().await.unwrap().is_none(),
        "A's lease still holds"
    );
    clock.advance(chrono::Duration::seconds(61));
    let (item, outcome) = b.run_once().await.unwrap().unwrap();
    assert_eq!(
        (item.key.as_str(), outcome),
        ("mail:crash", Delivered::Done)
    );
    assert_eq!(item.attempts, 2);
    // A comes back and tries to finish: refused, it no longer holds the item.
    assert!(!db
        .store
        .complete_outbox_item(claimed.id, "instance-a", clock.now())
        .await
        .unwrap());
    assert_eq!(keys_received(&server).await, ["mail:crash"]);
}

/// A delivery slower than the lease keeps its item: the worker renews the lease while
/// the provider takes its time, so a second instance polling all along never sends it.
#[tokio::test]
async fn a_delivery_slower_than_its_lease_is_not_taken_over() {
    let db = TestDb::new().await;
    let server = sendgrid().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(7)))
        .mount(&server)
        .await;
    let lease = "[outbox]\nmax_attempts = 8\nfirst_retry_secs = 1\nmax_retry_secs = 60\nlease_secs = 5\npoll_millis = 10\n";
    let s = with_env(&sendgrid_env(&server), lease);
    let clock = TestClock::at(demo_now());
    db.store
        .enqueue(&[email("mail:slow", demo_now())])
        .await
        .unwrap();
    let a = worker(&db, &s, &clock, "instance-a");
    let slow = tokio::spawn(async move { a.run_once().await });
    let b = worker(&db, &s, &clock, "instance-b");
    // The database's clock moves with real time while B polls.
    let step = Duration::from_millis(250);
    while !slow.is_finished() {
        tokio::time::sleep(step).await;
        clock.advance(chrono::Duration::from_std(step).unwrap());
        let taken = b.run_once().await.unwrap();
        assert!(
            taken.is_none(),
            "B took the item A was delivering: {taken:?}"
        );
    }
    let (item, outcome) = slow.await.unwrap().unwrap().unwrap();
    assert_eq!((item.key.as_str(), outcome), ("mail:slow", Delivered::Done));
    assert_eq!(keys_received(&server).await, ["mail:slow"]);
    let stats = db.store.outbox_stats().await.unwrap();
    assert_eq!((stats.done, stats.in_flight), (1, 0));
}

#[tokio::test]
async fn a_worker_stopped_mid_delivery_loses_nothing() {
    let db = TestDb::new().await;
    let server = sendgrid().await;
    // The provider is slow: the worker is stopped while the request is in flight.
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let s = with_env(&sendgrid_env(&server), FAST);
    let clock = TestClock::at(demo_now());
    db.store
        .enqueue(&[email("mail:midway", demo_now())])
        .await
        .unwrap();
    let a = worker(&db, &s, &clock, "instance-a");
    let running = tokio::spawn(async move { a.run_once().await });
    // Wait until the request reached the provider, then stop the worker.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.abort();
    let item = db.store.outbox_item("mail:midway").await.unwrap().unwrap();
    assert_eq!(
        item.status,
        OutboxStatus::InFlight,
        "not lost: still claimed"
    );
    clock.advance(chrono::Duration::seconds(61));
    let b = worker(&db, &s, &clock, "instance-b");
    let (_, outcome) = b.run_once().await.unwrap().unwrap();
    assert_eq!(outcome, Delivered::Done);
    // SendGrid has no idempotency header: the second delivery carries the same
    // frontdesk_id, by which the receiving side recognises the repeat.
    assert_eq!(keys_received(&server).await, ["mail:midway", "mail:midway"]);
    let stats = db.store.outbox_stats().await.unwrap();
    assert_eq!((stats.done, stats.in_flight, stats.pending), (1, 0, 0));
}

#[tokio::test]
async fn two_workers_share_the_queue_without_sending_anything_twice() {
    let db = TestDb::new().await;
    let server = sendgrid().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_millis(5)))
        .mount(&server)
        .await;
    let s = with_env(&sendgrid_env(&server), FAST);
    let clock = TestClock::at(demo_now());
    let items: Vec<OutboxItem> = (0..30)
        .map(|i| email(&format!("mail:{i}"), demo_now()))
        .collect();
    assert_eq!(db.store.enqueue(&items).await.unwrap(), 30);
    let drain = |w: OutboxWorker| async move {
        let mut n = 0;
        while w.run_once().await.unwrap().is_some() {
            n += 1;
        }
        n
    };
    let (a, b) = tokio::join!(
        drain(worker(&db, &s, &clock, "a")),
        drain(worker(&db, &s, &clock, "b"))
    );
    assert_eq!(a + b, 30);
    assert!(a > 0 && b > 0, "both worked: {a} and {b}");
    let mut keys = keys_received(&server).await;
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 30);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        30,
        "no item sent twice"
    );
}

#[tokio::test]
async fn reminders_go_out_once_however_many_schedulers_run() {
    let (db, _) = TestDb::with_demo_data(60).await;
    let server = sendgrid().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    // A day's lead, so the demo data has classes to remind of.
    let config = format!("{FAST}[reminders]\nclass_lead_minutes = 1440\n");
    let s = with_env(&sendgrid_env(&server), &config);
    let clock = TestClock::at(demo_now());
    let providers = Arc::new(Providers::from_settings(&s, ChatRoutes::default()).unwrap());
    let scheduler = |owner: &str| {
        Scheduler::new(
            db.store.clone(),
            clock.clone(),
            providers.clone(),
            s.integrations.clone(),
            owner,
        )
    };
    // What the scheduler should find, computed here from the documents.
    let lead = chrono::Duration::minutes(i64::from(s.integrations.class_lead_minutes));
    let classes: Vec<frontdesk::domain::ClassSession> = all(db.store.raw().classes()).await;
    let clients: Vec<frontdesk::domain::Client> =
        db.store.find_clients(bson::doc! {}).await.unwrap();
    let now = clock.now();
    let mut expected_class = 0;
    for class in classes
        .iter()
        .filter(|c| !c.cancelled && c.starts_at() > now && c.starts_at() <= now + lead)
    {
        expected_class += clients
            .iter()
            .filter(|c| {
                c.deleted_at.is_none() && c.status != frontdesk::domain::ClientStatus::Inactive
            })
            .filter(|c| c.enrollments.iter().any(|e| e.course_id == class.course_id))
            .count();
    }
    let payments: Vec<frontdesk::domain::Payment> = all(db.store.raw().payments()).await;
    let cutoff = now - chrono::Duration::days(i64::from(s.integrations.payment_overdue_days));
    // Overdue, but not by more than the reminder window.
    let oldest = cutoff
        - chrono::Duration::days(frontdesk::integrations::scheduler::PAYMENT_REMINDER_WINDOW_DAYS);
    let expected_payment = payments
        .iter()
        .filter(|p| {
            p.status == frontdesk::domain::PaymentStatus::Pending
                && p.due_at < cutoff
                && p.due_at >= oldest
        })
        .count();
    assert!(expected_payment > 0, "the demo data has overdue payments");
    assert!(expected_class > 0, "classes start within the lead time");

    let first = scheduler("a").run_once().await.unwrap();
    assert_eq!(first.class_reminders, expected_class);
    assert_eq!(first.payment_reminders, expected_payment.min(500));
    // The same instance again, and another instance: nothing new.
    let again = scheduler("a").run_once().await.unwrap();
    assert_eq!((again.class_reminders, again.payment_reminders), (0, 0));
    clock.advance(chrono::Duration::minutes(5));
    let other = scheduler("b").run_once().await.unwrap();
    assert_eq!((other.class_reminders, other.payment_reminders), (0, 0));
    // Each reminder is one email (no client has a linked chat here).
    let stats = db.store.outbox_stats().await.unwrap();
    assert_eq!(
        stats.pending as usize,
        expected_class + expected_payment.min(500),
        "{stats:?}"
    );
    let w = worker(&db, &s, &clock, "w");
    while w.run_once().await.unwrap().is_some() {}
    let received = server.received_requests().await.unwrap().len();
    assert_eq!(received, expected_class + expected_payment.min(500));
}

#[tokio::test]
async fn the_calendar_follows_the_classes_once_per_change() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let google = MockServer::start().await;
    crate::integrations_messaging::mount_token_endpoint(&google, "/token").await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(
            r"^/calendar/v3/calendars/[^/]+/events$",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "status": "confirmed" })),
        )
        .mount(&google)
        .await;
    let account =
        crate::integrations_messaging::service_account_json(&format!("{}/token", google.uri()));
    let s = with_env(
        &[
            (
                "GOOGLE_CALENDAR_ID",
                crate::integrations_messaging::CALENDAR_ID.to_owned(),
            ),
            ("GOOGLE_SERVICE_ACCOUNT_JSON", account),
            ("GOOGLE_API_URL", google.uri()),
        ],
        FAST,
    );
    let clock = TestClock::at(demo_now());
    let providers = Arc::new(Providers::from_settings(&s, ChatRoutes::default()).unwrap());
    assert!(providers.calendar.is_some());
    let scheduler = Scheduler::new(
        db.store.clone(),
        clock.clone(),
        providers.clone(),
        s.integrations.clone(),
        "a",
    );
    let now = clock.now();
    let classes: Vec<frontdesk::domain::ClassSession> = all(db.store.raw().classes()).await;
    let upcoming: Vec<_> = classes
        .iter()
        .filter(|c| c.starts_at() > now && c.starts_at() <= now + chrono::Duration::days(14))
        .collect();
    assert!(!upcoming.is_empty());
    let run = scheduler.run_once().await.unwrap();
    assert_eq!(run.calendar_events, upcoming.len());
    let w = worker(&db, &s, &clock, "w");
    while w.run_once().await.unwrap().is_some() {}
    let inserts = |reqs: &[wiremock::Request]| {
        reqs.iter()
            .filter(|r| r.url.path().ends_with("/events"))
            .count()
    };
    assert_eq!(
        inserts(&google.received_requests().await.unwrap()),
        upcoming.len()
    );
    // Nothing changed: nothing to send.
    assert_eq!(scheduler.run_once().await.unwrap().calendar_events, 0);
    // One class moves by an hour: one update, with the new time.
    let mut moved = (*upcoming[0]).clone();
    let (start, end) = (
        moved.starts_at() + chrono::Duration::hours(1),
        moved.ends_at() + chrono::Duration::hours(1),
    );
    moved.reschedule(start, end).unwrap();
    db.store.update_class(&moved).await.unwrap();
    assert_eq!(scheduler.run_once().await.unwrap().calendar_events, 1);
    while w.run_once().await.unwrap().is_some() {}
    let requests = google.received_requests().await.unwrap();
    assert_eq!(inserts(&requests), upcoming.len() + 1);
    let last: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    let expected_start = start.with_timezone(&s.studio.utc_offset).to_rfc3339();
    assert_eq!(
        last["start"]["dateTime"].as_str(),
        Some(expected_start.as_str()),
        "{last}"
    );
    assert_eq!(
        last["id"].as_str(),
        Some(frontdesk::integrations::calendar::CalendarClient::event_id_for(&moved.id).as_str())
    );
    // Moved back to where it was, then forward again as the first time: each is a
    // change of its own and is sent (every update moves the revision on).
    let back = (upcoming[0].starts_at(), upcoming[0].ends_at());
    for (start, end) in [back, (start, end)] {
        moved.reschedule(start, end).unwrap();
        db.store.update_class(&moved).await.unwrap();
        assert_eq!(scheduler.run_once().await.unwrap().calendar_events, 1);
        while w.run_once().await.unwrap().is_some() {}
        let requests = google.received_requests().await.unwrap();
        let last: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
        let expected_start = start.with_timezone(&s.studio.utc_offset).to_rfc3339();
        assert_eq!(
            last["start"]["dateTime"].as_str(),
            Some(expected_start.as_str()),
            "{last}"
        );
    }
}

#[tokio::test]
async fn an_unreadable_item_is_parked_and_dead_items_can_be_requeued() {
    let db = TestDb::new().await;
    let now = demo_now();
    let raw = db
        .store
        .raw()
        .database()
        .collection::<bson::Document>("outbox");
    raw.insert_one(bson::doc! {
        "_id": bson::oid::ObjectId::new(), "key": "from:the-future", "job": { "kind": "teleport" },
        "status": "pending", "attempts": 0, "next_attempt_at": bson::DateTime::from_chrono(now),
        "created_at": bson::DateTime::from_chrono(now),
    })
    .await
    .unwrap();
    db.store
        .enqueue(&[email("mail:ok", now + chrono::Duration::seconds(1))])
        .await
        .unwrap();
    // The unreadable one is parked on the way; the readable one is claimed.
    let claimed = db
        .store
        .claim_outbox_item(
            "w",
            now + chrono::Duration::seconds(2),
            Duration::from_secs(60),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.key, "mail:ok");
    let parked = raw
        .find_one(bson::doc! { "key": "from:the-future" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parked.get_str("status").unwrap(), "dead");
    assert!(parked
        .get_str("last_error")
        .unwrap()
        .starts_with("unreadable"));
    // The operator requeues dead items: back to pending with a fresh budget.
    assert_eq!(db.store.requeue_dead(now).await.unwrap(), 1);
    let again = raw
        .find_one(bson::doc! { "key": "from:the-future" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.get_str("status").unwrap(), "pending");
}

#[tokio::test]
async fn one_instance_at_a_time_holds_a_scheduled_task() {
    let db = TestDb::new().await;
    let now = demo_now();
    let lease = Duration::from_secs(120);
    assert!(db
        .store
        .claim_task_lease("task:x", "a", now, lease)
        .await
        .unwrap());
    assert!(!db
        .store
        .claim_task_lease("task:x", "b", now, lease)
        .await
        .unwrap());
    // The holder renews its own lease.
    assert!(db
        .store
        .claim_task_lease("task:x", "a", now + chrono::Duration::seconds(60), lease)
        .await
        .unwrap());
    assert!(!db
        .store
        .claim_task_lease("task:x", "b", now + chrono::Duration::seconds(170), lease)
        .await
        .unwrap());
    // a died: after its lease, b takes over.
    assert!(db
        .store
        .claim_task_lease("task:x", "b", now + chrono::Duration::seconds(181), lease)
        .await
        .unwrap());
    assert!(!db
        .store
        .claim_task_lease("task:x", "a", now + chrono::Duration::seconds(182), lease)
        .await
        .unwrap());
    // Another task is independent.
    assert!(db
        .store
        .claim_task_lease("task:y", "a", now, lease)
        .await
        .unwrap());
}

#[tokio::test]
async fn the_daily_digest_goes_to_the_management_channel_once_a_day() {
    let (db, _) = TestDb::with_demo_data(60).await;
    let config = format!(
        "{FAST}[reminders]\nclass_lead_minutes = 120\npayment_overdue_days = 1\ndigest_platform = \"discord\"\ndigest_channel = \"900\"\ndigest_local_time = \"08:00\"\n"
    );
    let s = with_env(&[], &config);
    // 07:30 IST: too early; 08:05 IST: due.
    let early = chrono::DateTime::parse_from_rfc3339("2026-11-25T07:30:00+05:30")
        .unwrap()
        .with_timezone(&Utc);
    let clock = TestClock::at(early);
    let discord = Arc::new(crate::gateway::Recorder::default());
    let routes = ChatRoutes::default();
    routes.register(frontdesk_chat::Platform::Discord, discord.clone());
    let providers = Arc::new(Providers::from_settings(&s, routes).unwrap());
    let scheduler = Scheduler::new(
        db.store.clone(),
        clock.clone(),
        providers.clone(),
        s.integrations.clone(),
        "a",
    );
    assert_eq!(scheduler.run_once().await.unwrap().digests, 0);
    clock.set(early + chrono::Duration::minutes(35));
    assert_eq!(scheduler.run_once().await.unwrap().digests, 1);
    clock.advance(chrono::Duration::hours(3));
    assert_eq!(scheduler.run_once().await.unwrap().digests, 0, "once a day");
    let w = OutboxWorker::new(
        db.store.clone(),
        clock.clone(),
        providers,
        s.integrations.clone(),
        "w",
    );
    while w.run_once().await.unwrap().is_some() {}
    let sent = discord.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].channel, "900");
    // Yesterday's revenue, computed here from the payments.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-24T00:00:00+05:30")
        .unwrap()
        .with_timezone(&Utc);
    let end = start + chrono::Duration::days(1);
    let payments: Vec<frontdesk::domain::Payment> = all(db.store.raw().payments()).await;
    let (total, n) = crate::agents::paid_between(&payments, start, end);
    let figure = frontdesk::domain::format_minor(total, frontdesk::domain::Currency::INR);
    assert!(
        sent[0]
            .text
            .contains(&format!("revenue {figure} from {n} payments")),
        "{}",
        sent[0].text
    );
    assert!(sent[0].text.contains("24 Nov 2026"), "{}", sent[0].text);
}

#[tokio::test]
async fn agent_status_shows_the_outbox_depth_and_dead_letters() {
    let db = TestDb::new().await;
    let now = demo_now();
    db.store
        .enqueue(&[email("a", now), email("b", now), email("c", now)])
        .await
        .unwrap();
    let claimed = db
        .store
        .claim_outbox_item("x", now, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    db.store
        .fail_outbox_item(claimed.id, "x", "SendGrid refused", None)
        .await
        .unwrap();
    let api = crate::harness::TestApi::spawn(db).await;
    let status = api
        .get_ok("/api/agents/status", &api.token("manager", "m"))
        .await;
    assert_eq!(status["outbox"]["pending"], 2, "{status}");
    assert_eq!(status["outbox"]["dead"], 1, "{status}");
    assert_eq!(status["outbox"]["done"], 0, "{status}");
}
