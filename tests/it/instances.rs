//! Several instances on one database. Each instance here is a `Store` (and a gateway over
//! it) opened on its own: it shares nothing with the others but the database, as
//! separate `serve` processes would (no in-process lock, cache or claim is shared).

use std::sync::Arc;

use bson::doc;
use chrono::Utc;
use frontdesk::domain::{Client, Course, PaymentMethod};
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

/// `n` clients (not deleted, as the store reads them), each with a course they have never
/// enrolled in: an order for it finds nothing to reuse, so each makes one. Panics with
/// fewer than `n`.
pub(crate) async fn clients_new_to_a_course(db: &TestDb, n: usize) -> Vec<(Client, Course)> {
    let courses = db.store.all_courses().await.unwrap();
    let mut pairs = Vec::new();
    for raw in crate::harness::all::<bson::Document>(db.store.raw().clients()).await {
        let id = raw.get_object_id("_id").unwrap();
        let Some(client) = db.store.client_by_id(id).await.unwrap() else {
            continue;
        };
        let new = courses
            .iter()
            .find(|c| client.enrollments.iter().all(|e| e.course_id != c.id));
        if let (None, Some(course)) = (client.deleted_at, new) {
            pairs.push((client, course.clone()));
        }
        if pairs.len() == n {
            return pairs;
        }
    }
    panic!("only {} clients new to a course, {n} wanted", pairs.len());
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
    // Each try another client, in a course they are not in: each makes an order.
    let asks: Vec<String> = clients_new_to_a_course(&db, TRIES)
        .await
        .iter()
        .map(|(client, course)| format!("Create an order for {} for {}", course.name, client.name))
        .collect();
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
    // A course the client has never enrolled in: nothing to find before the race.
    for (client, course) in &clients_new_to_a_course(&db, TRIES).await {
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
    }
}

/// Waits, when the current minute is nearly over, for the next one: the shared counts are
/// kept per wall-clock minute, and a test must not straddle two.
async fn a_fresh_minute() {
    use chrono::Timelike;
    let second = Utc::now().second();
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - second))).await;
    }
}

/// Serves the REST API over `store` (its own instance) with these per-minute limits.
async fn serve_api(store: &Store, per_token: u32, shared: bool) -> String {
    let mut settings = env(&[("FRONTDESK_SHARED_LIMITS", if shared { "1" } else { "0" })]);
    settings.api_per_token_per_minute = per_token;
    let state =
        frontdesk::app::api_state(&settings, store, crate::harness::TEST_JWT_SECRET.as_bytes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(frontdesk::api::serve(
        listener,
        frontdesk::api::router(state),
        settings.http,
        std::future::pending(),
    ));
    base
}

/// A token's limit is one limit however many instances share the traffic; without
/// `shared_limits` each instance grants it again (what the setting is for).
#[tokio::test]
async fn a_tokens_limit_holds_across_instances_when_shared() {
    let db = TestDb::new().await;
    let second = another_instance(&db).await;
    let keys = frontdesk::api::JwtKeys::new(crate::harness::TEST_JWT_SECRET.as_bytes());
    let http = reqwest::Client::new();
    for (shared, allowed) in [(false, 10), (true, 5)] {
        a_fresh_minute().await;
        let bases = [
            serve_api(&db.store, 5, shared).await,
            serve_api(&second, 5, shared).await,
        ];
        // A token of its own per round: the counts of one do not touch the other.
        let token = keys
            .mint(
                "staff",
                &format!("desk-{shared}"),
                crate::harness::demo_now(),
                chrono::Duration::hours(1),
            )
            .unwrap();
        let mut ok = 0;
        let mut limited = 0;
        for i in 0..10 {
            let res = http
                .get(format!("{}/api/courses", bases[i % 2]))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            match res.status().as_u16() {
                200 => ok += 1,
                429 => {
                    assert!(res.headers().contains_key("retry-after"));
                    limited += 1;
                }
                other => panic!("{other}"),
            }
        }
        assert_eq!((ok, limited), (allowed, 10 - allowed), "shared: {shared}");
    }
}

/// A chat user's quota is one quota across instances when shared: a client allowed 3
/// messages a minute gets 3 answers from two instances together, and a "please wait".
#[tokio::test]
async fn a_chat_users_quota_holds_across_instances_when_shared() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let settings = env(&[("FRONTDESK_SHARED_LIMITS", "1")]);
    let mut gw_settings = gateway_settings();
    gw_settings.per_user_per_minute.guest = 3;
    gw_settings.shared_limits = true;
    a_fresh_minute().await;
    let first = gateway_over(db.store.clone(), gw_settings.clone(), &settings);
    let second = gateway_over(another_instance(&db).await, gw_settings, &settings);
    let rec = Arc::new(Recorder::default());
    let mut answered = 0;
    let mut waits = 0;
    for i in 0..8u32 {
        let gw = if i % 2 == 0 { &first } else { &second };
        let message = crate::gateway::telegram_dm("77001", "what classes are on tomorrow?", i);
        match run(gw, &rec, message).await {
            Outcome::Answered { .. } => answered += 1,
            Outcome::RateLimited { notified } => waits += usize::from(notified),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(answered, 3, "answers across both instances");
    assert!(
        (1..=2).contains(&waits),
        "told to wait once per instance at most: {waits}"
    );
}

/// A manager changes a course's price and instructor through one instance: the other
/// quotes the new price at once (not after its 30 s catalogue), upcoming classes show the
/// new instructor, and the change is audited; a staff member may not change a course.
#[tokio::test]
async fn a_course_changed_through_one_instance_is_seen_by_the_other_at_once() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let second = another_instance(&db).await;
    let course = db.store.all_courses().await.unwrap()[0].clone();
    // The second instance has read (and kept) the catalogue.
    let kept = second.all_courses().await.unwrap();
    assert_eq!(
        kept.iter().find(|c| c.id == course.id).unwrap().price,
        course.price
    );
    let base = serve_api(&db.store, 1000, false).await;
    let keys = frontdesk::api::JwtKeys::new(crate::harness::TEST_JWT_SECRET.as_bytes());
    let token = |role: &str| {
        keys.mint(
            role,
            "desk",
            crate::harness::demo_now(),
            chrono::Duration::hours(1),
        )
        .unwrap()
    };
    let http = reqwest::Client::new();
    let url = format!("{base}/api/courses/{}", course.id.to_hex());
    let new_price = course.price.minor() + 50_000;
    let body = serde_json::json!({ "price_minor": new_price, "instructor": "Meera Iyer" });
    let refused = http
        .patch(&url)
        .bearer_auth(token("staff"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let bad = http
        .patch(&url)
        .bearer_auth(token("manager"))
        .json(&serde_json::json!({ "capacity": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let changed = http
        .patch(&url)
        .bearer_auth(token("manager"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let view: serde_json::Value = changed.json().await.unwrap();
    assert_eq!(view["price_minor"], new_price);

    // Within the version check, not the 30 s catalogue.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let seen = second.all_courses().await.unwrap();
    let seen = seen.iter().find(|c| c.id == course.id).unwrap();
    assert_eq!(seen.price.minor(), new_price);
    assert_eq!(seen.instructor, "Meera Iyer");

    let upcoming: Vec<frontdesk::domain::ClassSession> =
        crate::harness::all(db.store.raw().classes())
            .await
            .into_iter()
            .filter(|c: &frontdesk::domain::ClassSession| {
                c.course_id == course.id && c.starts_at() >= Utc::now()
            })
            .collect();
    for class in &upcoming {
        assert_ne!(
            class.instructor, course.instructor,
            "{} kept the old instructor",
            class.id
        );
    }
    assert!(!upcoming.is_empty(), "the course has upcoming classes");
    let audited = db
        .store
        .raw()
        .database()
        .collection::<bson::Document>("audit")
        .find_one(doc! { "action": "course.update", "target": course.id.to_hex() })
        .await
        .unwrap()
        .expect("the change is audited");
    assert_eq!(audited.get_str("role").unwrap(), "manager");
}

/// Two managers change different fields of one course at the same moment through two
/// instances: both changes stand (neither write undoes the other's field), every time.
#[tokio::test]
async fn two_changes_to_one_course_at_once_both_stand() {
    use frontdesk::store::CourseChanges;
    let (db, _) = TestDb::with_demo_data(10).await;
    let second = another_instance(&db).await;
    let course = db.store.all_courses().await.unwrap()[0].clone();
    let now = crate::harness::demo_now();
    for round in 1..=10u32 {
        let price = frontdesk::domain::Money::new(
            course.price.minor() + i64::from(round) * 100,
            course.price.currency(),
        )
        .unwrap();
        let capacity = course.capacity + round;
        let by_price = CourseChanges {
            price: Some(price),
            ..CourseChanges::default()
        };
        let by_capacity = CourseChanges {
            capacity: Some(capacity),
            ..CourseChanges::default()
        };
        let (a, b) = tokio::join!(
            db.store.patch_course(course.id, &by_price, now),
            second.patch_course(course.id, &by_capacity, now)
        );
        a.unwrap();
        b.unwrap();
        let stored = db.store.course_by_id(course.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.price, stored.capacity),
            (price, capacity),
            "round {round}: one change undid the other"
        );
    }
}
