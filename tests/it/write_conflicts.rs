//! Many orders at once over REST: 60 parallel `POST /api/orders` for different clients
//! and courses all succeed (no 5xx), each makes exactly one order and one pending
//! payment, order numbers are distinct, the kept figures they update (live orders per
//! course, the outstanding balance) add up to what the records say, and sending the
//! same requests again with their idempotency keys makes nothing new.

use std::collections::{BTreeMap, BTreeSet};

use bson::doc;
use frontdesk::domain::{Currency, Order, OrderStatus, Payment, PaymentStatus};
use serde_json::{json, Value};

use crate::harness::{all, demo_now, TestApi, TestDb};

const ORDERS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_orders_at_once_all_succeed_once() {
    let (db, _) = TestDb::with_demo_data(ORDERS + 20).await;
    let clients: Vec<bson::Document> = all(db.store.raw().clients()).await;
    let courses = db.store.all_courses().await.unwrap();
    let orders_before = all(db.store.raw().orders()).await.len();
    let api = TestApi::spawn(db).await;
    let token = api.token("staff", "conflict-test");

    let requests: Vec<(String, String, String)> = clients
        .iter()
        .take(ORDERS)
        .enumerate()
        .map(|(i, c)| {
            (
                c.get_object_id("_id").unwrap().to_hex(),
                courses[i % courses.len()].id.to_hex(),
                format!("burst-{i}"),
            )
        })
        .collect();
    let send = |(client, course, key): (String, String, String)| {
        let http = api.http.clone();
        let url = api.url("/api/orders");
        let token = token.clone();
        tokio::spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", &key)
                .json(&json!({ "client_id": client, "course_id": course }))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (key, status, body)
        })
    };
    let answers = futures::future::join_all(requests.iter().cloned().map(send)).await;
    let mut numbers = BTreeMap::new();
    for answer in answers {
        let (key, status, body) = answer.unwrap();
        assert_eq!(status, 201, "{key}: {status} {body}");
        numbers.insert(key, body["order"]["number"].as_i64().unwrap());
    }
    let distinct: BTreeSet<i64> = numbers.values().copied().collect();
    assert_eq!(distinct.len(), ORDERS, "every order got its own number");

    // The database holds exactly one order and one pending payment per request.
    let orders: Vec<Order> = all(api.db.store.raw().orders()).await;
    assert_eq!(orders.len(), orders_before + ORDERS);
    let made: Vec<&Order> = orders
        .iter()
        .filter(|o| {
            o.idempotency_key
                .as_deref()
                .is_some_and(|k| k.contains(":burst-"))
        })
        .collect();
    assert_eq!(made.len(), ORDERS);
    for o in &made {
        // Stored scoped to the client: api:<client>:<key>.
        let key = o
            .idempotency_key
            .as_deref()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap();
        assert_eq!(i64::from(o.number.get()), numbers[key], "{key}");
    }
    let payments: Vec<Payment> = all(api.db.store.raw().payments()).await;
    for o in &made {
        assert_eq!(
            payments.iter().filter(|p| p.order_id == o.id).count(),
            1,
            "order {} has one payment",
            o.number
        );
    }

    // The kept figures add up to the records, counted here from the records themselves.
    let mut live: BTreeMap<String, (u64, BTreeSet<bson::oid::ObjectId>)> = BTreeMap::new();
    for o in orders.iter().filter(|o| o.status != OrderStatus::Cancelled) {
        let course = courses.iter().find(|c| c.id == o.course_id).unwrap();
        let entry = live.entry(course.name.clone()).or_default();
        entry.0 += 1;
        entry.1.insert(o.client_id);
    }
    let kept = api.db.store.course_enrollment(None).await.unwrap();
    assert_eq!(kept.len(), live.len());
    for line in &kept {
        let (orders, clients) = &live[&line.course];
        assert_eq!(line.orders, *orders, "{}", line.course);
        assert_eq!(line.active_clients, clients.len() as u64, "{}", line.course);
    }
    let pending: Vec<&Payment> = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Pending)
        .collect();
    let owed = api
        .db
        .store
        .outstanding_balance(demo_now(), Currency::INR)
        .await
        .unwrap();
    assert_eq!(owed.pending_count, pending.len() as u64);
    assert_eq!(
        owed.pending_minor,
        pending.iter().map(|p| p.amount.minor()).sum::<i64>()
    );

    // The same requests again: the same orders, nothing new.
    let again = futures::future::join_all(requests.iter().take(20).cloned().map(send)).await;
    for answer in again {
        let (key, status, body) = answer.unwrap();
        assert!(status.is_success(), "{key}: {status} {body}");
        assert_eq!(body["order"]["number"].as_i64().unwrap(), numbers[&key]);
    }
    assert_eq!(
        api.db
            .store
            .raw()
            .orders()
            .count_documents(doc! {})
            .await
            .unwrap(),
        (orders_before + ORDERS) as u64
    );
}
