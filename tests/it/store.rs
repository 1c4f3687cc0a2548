//! Store tests: every collection's create/read/update, the unique indexes, validation
//! errors and transactions, against the real local server.

use bson::doc;
use chrono::{Duration, NaiveTime, Weekday};
use frontdesk::domain::{
    AttendanceStatus, ClassSession, Client, ClientStatus, Course, CourseCategory, CourseLevel,
    Currency, Email, Money, OrderNumber, OrderStatus, PaymentMethod, PaymentStatus, PersonName,
    Phone, WeeklySlot,
};
use frontdesk::store::{ClientQuery, NewOrder, PaymentQuery, Store, StoreError};

use crate::harness::{demo_now, TestDb};

pub(crate) fn client(name: &str, email: &str) -> Client {
    Client::new(
        PersonName::parse(name).unwrap(),
        Email::parse(email).unwrap(),
        ClientStatus::Lead,
        demo_now() - Duration::days(10),
    )
}

pub(crate) fn course(name: &str, price_major: i64) -> Course {
    let slot =
        WeeklySlot::new(Weekday::Mon, NaiveTime::from_hms_opt(7, 0, 0).unwrap(), 60).unwrap();
    Course::new(
        name,
        CourseCategory::Pilates,
        CourseLevel::All,
        Money::new(price_major * 100, Currency::INR).unwrap(),
        "Sofia Martinez",
        12,
        vec![slot],
    )
    .unwrap()
}

pub(crate) fn new_order(client: &Client, course: &Course, key: Option<&str>) -> NewOrder {
    NewOrder {
        client_id: client.id,
        course_id: course.id,
        amount: None,
        method: PaymentMethod::Upi,
        due_in_days: 7,
        idempotency_key: key.map(str::to_owned),
        now: demo_now(),
    }
}

/// A client and a Pilates course at 4,000, both stored.
async fn client_and_pilates(s: &Store, name: &str, email: &str) -> (Client, Course) {
    let c = client(name, email);
    let pilates = course("Pilates", 4000);
    s.insert_client(&c).await.unwrap();
    s.insert_course(&pilates).await.unwrap();
    (c, pilates)
}

#[tokio::test]
async fn clients_round_trip_and_emails_are_unique() {
    let db = TestDb::new().await;
    let s = &db.store;
    let priya = client("Priya Sharma", "Priya@Example.com")
        .with_phone(Phone::parse("98765 43210").unwrap());
    s.insert_client(&priya).await.unwrap();

    assert_eq!(s.client_by_id(priya.id).await.unwrap().unwrap(), priya);
    assert_eq!(
        s.client_by_email(&Email::parse("PRIYA@example.com").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
        priya.id
    );
    assert_eq!(
        s.client_by_phone(&Phone::parse("+91 98765 43210").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
        priya.id
    );
    assert_eq!(s.clients_by_name("sharma priya", 5).await.unwrap().len(), 1);
    assert!(s
        .clients_by_name("Priya Patel", 5)
        .await
        .unwrap()
        .is_empty());

    let twin = client("Another Priya", "priya@example.com");
    match s.insert_client(&twin).await {
        Err(StoreError::Duplicate { what, value }) => {
            assert!(what.contains("email"));
            assert_eq!(value, "priya@example.com");
        }
        other => panic!("expected a duplicate error, got {other:?}"),
    }
    assert_eq!(
        s.raw().clients().count_documents(doc! {}).await.unwrap(),
        1,
        "nothing half-written"
    );

    let mut renamed = priya.clone();
    renamed.rename(PersonName::parse("Priya S. Sharma").unwrap());
    renamed.status = ClientStatus::Active;
    s.update_client(&renamed).await.unwrap();
    let stored = s.client_by_id(priya.id).await.unwrap().unwrap();
    assert_eq!(stored.name.as_str(), "Priya S. Sharma");
    assert_eq!(stored.name_tokens, vec!["priya", "s", "sharma"]);

    let other = client("Rahul Verma", "rahul@example.com");
    s.insert_client(&other).await.unwrap();
    let mut clash = other.clone();
    clash.email = Email::parse("priya@example.com").unwrap();
    assert!(matches!(
        s.update_client(&clash).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(
        s.client_by_id(other.id)
            .await
            .unwrap()
            .unwrap()
            .email
            .as_str(),
        "rahul@example.com"
    );
}

#[tokio::test]
async fn listing_filters_searches_and_pages() {
    let db = TestDb::new().await;
    let s = &db.store;
    for i in 0..7 {
        let mut c = client(
            &format!("Member {i:02} Kapoor"),
            &format!("m{i}@example.com"),
        );
        c.status = if i % 2 == 0 {
            ClientStatus::Active
        } else {
            ClientStatus::Inactive
        };
        s.insert_client(&c).await.unwrap();
    }
    let (page, total) = s
        .list_clients(&ClientQuery {
            status: Some(ClientStatus::Active),
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 4);
    assert_eq!(page.len(), 3);
    assert!(page.iter().all(|c| c.status == ClientStatus::Active));
    let (second, _) = s
        .list_clients(&ClientQuery {
            status: Some(ClientStatus::Active),
            skip: 3,
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert!(!page.iter().any(|c| c.id == second[0].id));
    let (by_email, n) = s
        .list_clients(&ClientQuery {
            // Emails are sealed: a search by email matches the whole address only.
            search: Some("M3@Example.com".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((n, by_email[0].email.as_str()), (1, "m3@example.com"));
    let (by_name, n) = s
        .list_clients(&ClientQuery {
            search: Some("kapoor 05".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((n, by_name[0].name.as_str()), (1, "Member 05 Kapoor"));
}

#[tokio::test]
async fn deleted_clients_disappear_but_keep_their_orders() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (c, pilates) = client_and_pilates(s, "Kabir Das", "kabir@example.com").await;
    let created = s.create_order(new_order(&c, &pilates, None)).await.unwrap();
    s.delete_client(c.id, demo_now()).await.unwrap();
    assert!(s.client_by_id(c.id).await.unwrap().is_none());
    assert!(matches!(
        s.delete_client(c.id, demo_now()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s
        .order_by_number(created.order.number)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn documents_that_break_an_invariant_are_errors_on_read_not_panics() {
    let db = TestDb::new().await;
    let raw = db
        .store
        .raw()
        .database()
        .collection::<bson::Document>("clients");
    let id = bson::oid::ObjectId::new();
    // A sealed value that opens, but to something that is not an email address.
    let sealed = db
        .store
        .keys()
        .seal("not-an-email", &format!("client:{}:email", id.to_hex()));
    raw.insert_one(doc! {
        "_id": id, "name": "Broken", "name_tokens": ["broken"],
        "email": { "k": sealed.k, "n": sealed.n, "c": sealed.c },
        "status": "active", "joined_at": bson::DateTime::now(),
    })
    .await
    .unwrap();
    let err = db.store.client_by_id(id).await.unwrap_err();
    assert!(err.to_string().contains("email is not valid"), "{err}");
    assert!(
        !err.to_string().contains("not-an-email"),
        "the value itself stays out of errors (and logs): {err}"
    );
}

#[tokio::test]
async fn courses_are_unique_by_name_whatever_the_case() {
    let db = TestDb::new().await;
    let s = &db.store;
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    assert!(matches!(
        s.insert_course(&course("PILATES", 1)).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(
        s.course_by_name("  pilates ").await.unwrap().unwrap().id,
        pilates.id
    );
    let mut dearer = pilates.clone();
    dearer.price = Money::new(450_000, Currency::INR).unwrap();
    s.update_course(&dearer).await.unwrap();
    assert_eq!(
        s.course_by_id(pilates.id)
            .await
            .unwrap()
            .unwrap()
            .price
            .minor(),
        450_000
    );
    assert_eq!(s.all_courses().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_kept_catalogue_follows_every_course_write_at_once() {
    let db = TestDb::new().await;
    let s = &db.store;
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    // Read once, so the next reads come from the process's copy.
    assert_eq!(s.all_courses().await.unwrap().len(), 1);
    // A clone (as every agent turn uses) shares the copy and clears it on a write.
    let clone = s.clone();
    clone.insert_course(&course("Yoga", 3000)).await.unwrap();
    let names: Vec<String> = s
        .all_courses()
        .await
        .unwrap()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, ["Pilates", "Yoga"]);
    let mut dearer = pilates.clone();
    dearer.price = Money::new(450_000, Currency::INR).unwrap();
    clone.update_course(&dearer).await.unwrap();
    let kept = s.all_courses().await.unwrap();
    assert_eq!(kept[0].price.minor(), 450_000);
    // And the copy is what the database holds.
    let stored = s.raw().courses().count_documents(doc! {}).await.unwrap();
    assert_eq!(stored, kept.len() as u64);
    s.drop_database().await.unwrap();
    assert!(s.all_courses().await.unwrap().is_empty());
}

#[tokio::test]
async fn classes_are_listed_in_order_and_attendance_moves_the_last_visit() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (pilates, yoga) = (course("Pilates", 4000), course("Yoga", 3000));
    s.insert_course(&pilates).await.unwrap();
    s.insert_course(&yoga).await.unwrap();
    let t0 = demo_now();
    let mut ids = Vec::new();
    for (i, c) in [(3, &pilates), (1, &yoga), (2, &pilates), (30, &pilates)] {
        let start = t0 + Duration::days(i);
        let class = ClassSession::new(
            c.id,
            &c.name,
            start,
            start + Duration::hours(1),
            "Sofia",
            "Studio A",
            12,
        )
        .unwrap();
        s.insert_class(&class).await.unwrap();
        ids.push(class.id);
    }
    let week = s
        .classes_between(t0, t0 + Duration::days(7), None, 50)
        .await
        .unwrap();
    let days: Vec<i64> = week
        .iter()
        .map(|c| (c.starts_at() - t0).num_days())
        .collect();
    assert_eq!(days, vec![1, 2, 3]);
    let only_pilates = s
        .classes_between(t0, t0 + Duration::days(7), Some(pilates.id), 50)
        .await
        .unwrap();
    assert_eq!(only_pilates.len(), 2);

    let mut moved = week[0].clone();
    moved
        .reschedule(
            t0 + Duration::days(4),
            t0 + Duration::days(4) + Duration::hours(1),
        )
        .unwrap();
    s.update_class(&moved).await.unwrap();
    assert_eq!(
        s.class_by_id(moved.id).await.unwrap().unwrap().starts_at(),
        t0 + Duration::days(4)
    );

    let c = client("Meera Nair", "meera@example.com");
    s.insert_client(&c).await.unwrap();
    let class_id = ids[2];
    let record = s
        .mark_attendance(class_id, c.id, AttendanceStatus::Absent, t0)
        .await
        .unwrap();
    assert_eq!(record.status, AttendanceStatus::Absent);
    assert!(
        s.client_by_id(c.id)
            .await
            .unwrap()
            .unwrap()
            .last_visit_at
            .is_none(),
        "absent is not a visit"
    );
    s.mark_attendance(class_id, c.id, AttendanceStatus::Late, t0)
        .await
        .unwrap();
    assert_eq!(
        s.raw().attendance().count_documents(doc! {}).await.unwrap(),
        1,
        "re-marking updates, never duplicates"
    );
    assert_eq!(
        s.client_by_id(c.id).await.unwrap().unwrap().last_visit_at,
        Some(t0 + Duration::days(2))
    );
    assert!(matches!(
        s.mark_attendance(
            class_id,
            bson::oid::ObjectId::new(),
            AttendanceStatus::Present,
            t0
        )
        .await,
        Err(StoreError::NotFound { what: "client", .. })
    ));
}

#[tokio::test]
async fn an_order_comes_with_its_payment_and_enrollment_and_a_retry_makes_no_second() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (c, pilates) = client_and_pilates(s, "Ishaan Rao", "ishaan@example.com").await;

    let first = s
        .create_order(new_order(&c, &pilates, Some("telegram:update:77")))
        .await
        .unwrap();
    assert!(!first.replayed);
    assert_eq!(first.order.status, OrderStatus::Pending);
    assert_eq!(first.order.amount.minor(), 400_000);
    assert_eq!(first.payment.status, PaymentStatus::Pending);
    assert_eq!(first.payment.due_at, demo_now() + Duration::days(7));
    let stored = s.client_by_id(c.id).await.unwrap().unwrap();
    assert_eq!(stored.status, ClientStatus::Active);
    assert_eq!(stored.enrollments.len(), 1);
    assert_eq!(stored.enrollments[0].order_number, first.order.number);

    // Delivered again, sequentially and concurrently: still one order.
    let again = s
        .create_order(new_order(&c, &pilates, Some("telegram:update:77")))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.order.number, first.order.number);
    let (a, b) = tokio::join!(
        s.create_order(new_order(&c, &pilates, Some("slack:Ev123"))),
        s.create_order(new_order(&c, &pilates, Some("slack:Ev123")))
    );
    assert_eq!(a.unwrap().order.number, b.unwrap().order.number);
    assert_eq!(s.raw().orders().count_documents(doc! {}).await.unwrap(), 2);
    assert_eq!(
        s.raw().payments().count_documents(doc! {}).await.unwrap(),
        2
    );

    // Without a key, every call is a new order with a new number.
    let third = s.create_order(new_order(&c, &pilates, None)).await.unwrap();
    assert!(third.order.number > first.order.number);
    assert_eq!(
        s.order_by_number(third.order.number)
            .await
            .unwrap()
            .unwrap()
            .id,
        third.order.id
    );
    let newest_first = s.orders_for_client(c.id, 10).await.unwrap();
    assert_eq!(newest_first.len(), 3);
    assert!(newest_first.iter().any(|o| o.number == third.order.number));
}

#[tokio::test]
async fn many_enrolments_of_one_client_at_once_all_land_with_their_own_numbers() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (c, pilates) = client_and_pilates(s, "Ishaan Rao", "ishaan@example.com").await;
    const AT_ONCE: usize = 16;
    let (c, pilates) = (&c, &pilates);
    let made = futures::future::join_all((0..AT_ONCE).map(|i| {
        let key = format!("slack:burst-{i}");
        async move { s.create_order(new_order(c, pilates, Some(&key))).await }
    }))
    .await;
    let mut numbers: Vec<u32> = made
        .into_iter()
        .map(|r| r.expect("every enrolment lands").order.number.get())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), AT_ONCE);
    let stored = s.client_by_id(c.id).await.unwrap().unwrap();
    assert_eq!(stored.enrollments.len(), AT_ONCE);
    assert_eq!(
        s.raw().payments().count_documents(doc! {}).await.unwrap(),
        AT_ONCE as u64
    );
}

#[tokio::test]
async fn a_failed_order_writes_nothing() {
    let db = TestDb::new().await;
    let s = &db.store;
    let c = client("Zara Khan", "zara@example.com");
    s.insert_client(&c).await.unwrap();
    let ghost = course("Ghost Course", 100);
    let err = s
        .create_order(new_order(&c, &ghost, Some("k1")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "course", .. }),
        "{err}"
    );
    assert_eq!(s.raw().orders().count_documents(doc! {}).await.unwrap(), 0);
    assert_eq!(
        s.raw().payments().count_documents(doc! {}).await.unwrap(),
        0
    );
    assert!(s
        .client_by_id(c.id)
        .await
        .unwrap()
        .unwrap()
        .enrollments
        .is_empty());
}

#[tokio::test]
async fn order_status_moves_are_checked_by_the_store() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (c, pilates) = client_and_pilates(s, "Liam Brown", "liam@example.com").await;
    let o = s
        .create_order(new_order(&c, &pilates, None))
        .await
        .unwrap()
        .order;
    let err = s
        .set_order_status(o.id, OrderStatus::Completed, demo_now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let confirmed = s
        .set_order_status(
            o.id,
            OrderStatus::Confirmed,
            demo_now() + Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(confirmed.status, OrderStatus::Confirmed);
    assert_eq!(confirmed.updated_at, demo_now() + Duration::hours(1));
    assert!(s
        .set_order_status(
            bson::oid::ObjectId::new(),
            OrderStatus::Confirmed,
            demo_now()
        )
        .await
        .is_err());
    let other = s.create_order(new_order(&c, &pilates, None)).await.unwrap();
    s.set_order_status(other.order.id, OrderStatus::Cancelled, demo_now())
        .await
        .unwrap();
    let payments = s.payments_for_order(other.order.id).await.unwrap();
    assert_eq!(
        payments[0].status,
        PaymentStatus::Failed,
        "a cancelled order owes nothing"
    );
}

#[tokio::test]
async fn recording_a_payment_confirms_the_order_once() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (a, b) = (
        client("Ana Silva", "ana@example.com"),
        client("Ben Kim", "ben@example.com"),
    );
    let pilates = course("Pilates", 4000);
    s.insert_client(&a).await.unwrap();
    s.insert_client(&b).await.unwrap();
    s.insert_course(&pilates).await.unwrap();
    let mut late = new_order(&a, &pilates, None);
    late.now = demo_now() - Duration::days(20);
    let overdue = s.create_order(late).await.unwrap();
    let fresh = s.create_order(new_order(&b, &pilates, None)).await.unwrap();

    let (all, total) = s
        .pending_payments(&PaymentQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(all[0].id, overdue.payment.id, "longest overdue first");
    let (mine, n) = s
        .pending_payments(&PaymentQuery {
            client_id: Some(b.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((n, mine[0].id), (1, fresh.payment.id));
    let (late_only, n) = s
        .pending_payments(&PaymentQuery {
            overdue_at: Some(demo_now()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((n, late_only[0].id), (1, overdue.payment.id));

    let (paid, changed) = s
        .record_payment(
            overdue.payment.id,
            PaymentMethod::Cash,
            Some("desk-1".into()),
            demo_now(),
        )
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(
        (paid.status, paid.method, paid.paid_at),
        (PaymentStatus::Paid, PaymentMethod::Cash, Some(demo_now()))
    );
    assert_eq!(
        s.order_by_id(overdue.order.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::Confirmed
    );
    let (again, changed) = s
        .record_payment(
            overdue.payment.id,
            PaymentMethod::Card,
            None,
            demo_now() + Duration::days(1),
        )
        .await
        .unwrap();
    assert!(!changed);
    assert_eq!(
        (again.method, again.paid_at),
        (PaymentMethod::Cash, Some(demo_now())),
        "the second call changes nothing"
    );
    assert_eq!(
        s.pending_payments(&PaymentQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .1,
        1
    );
}

#[tokio::test]
async fn order_numbers_are_never_handed_out_twice() {
    let db = TestDb::new().await;
    let s = &db.store;
    let numbers: Vec<OrderNumber> =
        futures::future::try_join_all((0..20).map(|_| s.next_order_number()))
            .await
            .unwrap();
    let mut sorted: Vec<u32> = numbers.iter().map(OrderNumber::get).collect();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 20);
    assert_eq!(sorted[0], 10_001);
}

#[tokio::test]
async fn indexes_are_created_idempotently() {
    let db = TestDb::new().await;
    db.store.ensure_indexes().await.unwrap();
    db.store.ensure_indexes().await.unwrap();
    let names = db.store.raw().orders().list_index_names().await.unwrap();
    for expected in [
        "number_unique",
        "idempotency_key_sparse",
        "client_created_at",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let names = db
        .store
        .raw()
        .attendance()
        .list_index_names()
        .await
        .unwrap();
    assert!(names.iter().any(|n| n == "class_starts_at_course"));
}

#[tokio::test]
async fn unreachable_and_malformed_urls_are_clear_errors() {
    let keys = crate::harness::test_keys;
    let err = Store::connect(
        "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500",
        "x",
        keys(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("cannot reach MongoDB at mongodb://127.0.0.1:1"),
        "{err}"
    );
    let err = Store::connect("mongodb://user:hunter2@/", "x", keys())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadUrl { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let _ = Store::connect(&crate::harness::server_url(), "x", keys())
        .await
        .unwrap();
}

// --- batched inserts -------------------------------------------------------------------

#[tokio::test]
async fn event_marks_made_at_once_claim_each_event_exactly_once() {
    let db = TestDb::new().await;
    let now = demo_now();
    // 12 events, each delivered 5 times, all at once: they meet in shared batches.
    let claims = (0..60).map(|i| {
        let store = db.store.clone();
        async move {
            let key = format!("slack:Ev{:02}", i % 12);
            let claimed = store
                .claim_event(&key, now, Duration::hours(24))
                .await
                .unwrap();
            (key, claimed)
        }
    });
    let results = futures::future::join_all(claims).await;
    let mut firsts: std::collections::BTreeMap<String, usize> = Default::default();
    for (key, claimed) in &results {
        *firsts.entry(key.clone()).or_default() += usize::from(*claimed);
    }
    assert_eq!(firsts.len(), 12);
    assert!(firsts.values().all(|n| *n == 1), "{firsts:?}");
    let marks = db
        .store
        .raw()
        .database()
        .collection::<bson::Document>("processed_events")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(marks, 12);
    // Later deliveries are still repeats; a new event is not.
    assert!(!db
        .store
        .claim_event("slack:Ev03", now, Duration::hours(24))
        .await
        .unwrap());
    assert!(db
        .store
        .claim_event("slack:Ev12", now, Duration::hours(24))
        .await
        .unwrap());
}

#[tokio::test]
async fn a_conversation_keeps_its_last_turns_in_the_order_they_were_said() {
    use frontdesk::agents::memory::{self, Turn, KEPT_TURNS};
    let db = TestDb::new().await;
    let now = demo_now();
    let turn = |i: usize| Turn {
        user: format!("question {i}"),
        answer: format!("answer {i}"),
        intent: frontdesk::domain::Intent::Revenue,
        pending: None,
        args: serde_json::json!({ "period": format!("p{i}") }),
    };
    for i in 0..KEPT_TURNS + 3 {
        memory::remember(&db.store, "slack:C1:t1:U1", turn(i), now, 24)
            .await
            .unwrap();
    }
    // Another conversation's turns, written at the same time, stay apart.
    let others = (0..20).map(|i| {
        let store = db.store.clone();
        async move {
            memory::remember(&store, &format!("slack:C1:t{i}:U2"), turn(100 + i), now, 24)
                .await
                .unwrap();
        }
    });
    futures::future::join_all(others).await;
    let kept = memory::load(&db.store, "slack:C1:t1:U1").await.unwrap();
    let said: Vec<&str> = kept.turns.iter().map(|t| t.user.as_str()).collect();
    let expected: Vec<String> = (3..KEPT_TURNS + 3)
        .map(|i| format!("question {i}"))
        .collect();
    assert_eq!(said, expected);
    let last = format!("p{}", KEPT_TURNS + 2);
    assert_eq!(kept.turns.last().unwrap().args["period"], last.as_str());
    assert_eq!(kept.expires_at, Some(now + Duration::hours(24)));
    let other = memory::load(&db.store, "slack:C1:t7:U2").await.unwrap();
    assert_eq!(other.turns.len(), 1);
    assert_eq!(other.turns[0].user, "question 107");
    assert!(memory::load(&db.store, "slack:C9:t1:U1")
        .await
        .unwrap()
        .turns
        .is_empty());
}

#[tokio::test]
async fn asks_to_enrol_made_at_once_make_one_order_until_it_is_paid() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (c, pilates) = client_and_pilates(s, "Asha Iyer", "asha@example.com").await;
    // Eight different messages asking at once: one order, seven answers with it.
    let asks = (0..8).map(|i| {
        let s = s.clone();
        let new = new_order(&c, &pilates, Some(&format!("slack:Ev{i}")));
        let c = c.clone();
        async move { s.enrol(new, &c).await.unwrap() }
    });
    let made = futures::future::join_all(asks).await;
    let first: Vec<_> = made.iter().filter(|m| !m.replayed).collect();
    assert_eq!(first.len(), 1, "{made:#?}");
    let number = first[0].order.number;
    assert!(made.iter().all(|m| m.order.number == number));
    assert_eq!(made.iter().filter(|m| m.already_enrolled).count(), 7);
    let orders = s
        .raw()
        .orders()
        .count_documents(doc! { "client_id": c.id })
        .await
        .unwrap();
    assert_eq!(orders, 1);
    // The same message again is a replay, not "already enrolled".
    let again = s
        .enrol(new_order(&c, &pilates, Some("slack:Ev0")), &c)
        .await
        .unwrap();
    assert_eq!(again.order.number, number);
    // Asked with the client as read just now (the agent's way): answered from the
    // enrolments on that record, the same order.
    let as_read = s.client_by_id(c.id).await.unwrap().unwrap();
    let known = s
        .enrol(new_order(&c, &pilates, Some("slack:Ev8")), &as_read)
        .await
        .unwrap();
    assert!(known.already_enrolled, "{known:#?}");
    assert_eq!(known.order.number, number);
    // `create_order` (the REST API's) does not ask: a second order.
    let second = s
        .create_order(new_order(&c, &pilates, Some("api:2")))
        .await
        .unwrap();
    assert_ne!(second.order.number, number);
    assert!(!second.replayed && !second.already_enrolled);
    // Once both are paid, asking again is a new enrolment (the next term).
    for n in [number, second.order.number] {
        let order = s.order_by_number(n).await.unwrap().unwrap();
        let pay = s.payments_for_order(order.id).await.unwrap();
        s.record_payment(pay[0].id, PaymentMethod::Cash, None, demo_now())
            .await
            .unwrap();
    }
    let next = s
        .enrol(new_order(&c, &pilates, Some("slack:Ev9")), &c)
        .await
        .unwrap();
    assert!(!next.replayed && !next.already_enrolled, "{next:#?}");
}
