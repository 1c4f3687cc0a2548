//! Several instances on one database. Each instance here is a `Store` (and a gateway over
//! it) opened on its own: it shares nothing with the others but the database, as
//! separate `serve` processes would (no in-process lock, cache or claim is shared).

use std::sync::Arc;

use bson::doc;
use chrono::Utc;
use frontdesk::domain::{Client, PaymentMethod};
use frontdesk::gateway::Outcome;
use frontdesk::store::{NewOrder, Store};

use crate::gateway::{env, gateway_over, gateway_settings, run, slack, Recorder};
use crate::harness::{server_url, test_keys, TestDb};

const TRIES: usize = 20;

async fn another_instance(db: &TestDb) -> Store {
    Store::open(&server_url(), db.name(), test_keys())
        .await
        .expect("a second store on the same database")
}

/// The clients not deleted, as the store reads them.
async fn live_clients(db: &TestDb) -> Vec<Client> {
    let mut clients = Vec::new();
    for raw in crate::harness::all::<bson::Document>(db.store.raw().clients()).await {
        let id = raw.get_object_id("_id").unwrap();
        if let Some(client) = db.store.client_by_id(id).await.unwrap() {
            if client.deleted_at.is_none() {
                clients.push(client);
            }
        }
    }
    clients
}

async fn order_count(store: &Store) -> u64 {
    store.raw().orders().count_documents(doc! {}).await.unwrap()
}

/// A message mentioning the bot comes as a `message` and an `app_mention` event with
/// different event ids, and each may land on another instance. The Slack adapter gives
/// both the message's `channel/ts`; the instance that claims it first answers.
#[tokio::test]
async fn a_slack_message_and_its_twin_at_two_instances_get_one_reply_and_make_one_order() {
    let (db, _) = TestDb::with_demo_data(60).await;
    let settings = env(&[]);
    let first = gateway_over(db.store.clone(), gateway_settings(), &settings);
    let second = gateway_over(another_instance(&db).await, gateway_settings(), &settings);
    let (rec_a, rec_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let before = order_count(&db.store).await;
    let courses = db.store.all_courses().await.unwrap();
    let clients = live_clients(&db).await;
    // Each try another client, in a course they are not in: each makes an order.
    let asks: Vec<String> = clients
        .iter()
        .filter_map(|client| {
            let course = courses
                .iter()
                .find(|c| client.enrollments.iter().all(|e| e.course_id != c.id))?;
            Some(format!(
                "Create an order for {} for {}",
                course.name, client.name
            ))
        })
        .take(TRIES)
        .collect();
    assert_eq!(asks.len(), TRIES);
    for (i, text) in asks.iter().enumerate() {
        let message_id = format!("C_SUPPORT/17000{i:05}.000100");
        let twin = slack("C_SUPPORT", "U_BOB", &["S_STAFF"], text, &message_id);
        let (a, b) = tokio::join!(
            run(&first, &rec_a, twin.clone()),
            run(&second, &rec_b, twin)
        );
        let answered = [&a, &b]
            .iter()
            .filter(|o| matches!(o, Outcome::Answered { .. }))
            .count();
        assert_eq!(answered, 1, "try {i}: {a:?} and {b:?}");
        assert!(
            a == Outcome::Duplicate || b == Outcome::Duplicate,
            "try {i}: {a:?} and {b:?}"
        );
        let replies = rec_a.texts().len() + rec_b.texts().len();
        assert_eq!(replies, i + 1, "try {i}: replies");
        assert_eq!(
            order_count(&db.store).await,
            before + i as u64 + 1,
            "try {i}"
        );
    }
}

/// Two staff enrol one client in one course at the same moment through two instances:
/// one order, which both are told about.
#[tokio::test]
async fn two_instances_enrolling_one_client_at_once_make_one_order() {
    let (db, _) = TestDb::with_demo_data(60).await;
    let second = another_instance(&db).await;
    let courses = db.store.all_courses().await.unwrap();
    let clients = live_clients(&db).await;
    let mut tried = 0;
    for client in &clients {
        // A course the client has never enrolled in: nothing to find before the race.
        let Some(course) = courses
            .iter()
            .find(|c| client.enrollments.iter().all(|e| e.course_id != c.id))
        else {
            continue;
        };
        let new = |key: &str| NewOrder {
            client_id: client.id,
            course_id: course.id,
            amount: None,
            method: PaymentMethod::Cash,
            due_in_days: 7,
            idempotency_key: Some(format!("{key}-{}", client.id.to_hex())),
            now: Utc::now(),
        };
        let (a, b) = tokio::join!(
            db.store.enrol(new("desk-a"), client),
            second.enrol(new("desk-b"), client)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.order.number, b.order.number, "{}: two orders", client.id);
        assert!(
            a.already_enrolled != b.already_enrolled,
            "{}: one made it, the other was told",
            client.id
        );
        let made = db
            .store
            .raw()
            .orders()
            .count_documents(doc! { "client_id": client.id, "course_id": course.id })
            .await
            .unwrap();
        assert_eq!(made, 1, "{}: orders in the database", client.id);
        tried += 1;
        if tried == TRIES {
            break;
        }
    }
    assert_eq!(tried, TRIES, "not enough clients to try");
}
