//! The figures kept as records are written. Attendance counts on classes: every way
//! attendance is written (a mark, a re-mark, many marks at once, an import, a database
//! from before the counts) leaves each class's `marked` and `attended` equal to its
//! records. Revenue per day: payments recorded live, at once, across UTC midnights, and
//! a database from before the days, give the revenue the payments add up to here. Live
//! orders per course, clients per join day and per day last seen: every write that
//! changes them leaves the figures equal to the documents counted here.

use bson::{doc, Bson, Document};
use chrono::Duration;
use frontdesk::domain::{
    Attendance, AttendanceStatus, ClassSession, Course, ObjectId, Payment, PaymentMethod, Period,
    ResolvedPeriod,
};
use frontdesk::store::{RevenueBreakdown, Store, StoreError};
use futures::TryStreamExt;

use crate::harness::{demo_now, ist, server_url, test_keys, TestDb};
use crate::store::{client, course, new_order};

/// A class of `course` two days before the demo clock, with twelve seats.
fn class_of(course: &Course) -> ClassSession {
    class_at(course.id, &course.name, demo_now() - Duration::days(2))
}

/// An hour-long class of a course at `start`, with twelve seats.
fn class_at(course_id: ObjectId, name: &str, start: chrono::DateTime<chrono::Utc>) -> ClassSession {
    ClassSession::new(
        course_id,
        name,
        start,
        start + Duration::hours(1),
        "Sofia",
        "Studio A",
        12,
    )
    .unwrap()
}

fn this_month() -> ResolvedPeriod {
    Period::ThisMonth.resolve(demo_now(), ist()).unwrap()
}

fn number(d: &Document, key: &str) -> i64 {
    match d.get(key) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        _ => 0,
    }
}

fn raw_classes(s: &Store) -> mongodb::Collection<Document> {
    s.raw().database().collection("classes")
}

/// (marked, attended) as the class document carries them.
async fn carried(s: &Store, class: ObjectId) -> (i64, i64) {
    let d = raw_classes(s)
        .find_one(doc! { "_id": class })
        .await
        .unwrap()
        .unwrap();
    (number(&d, "marked"), number(&d, "attended"))
}

/// (marked, attended) counted from the class's records.
async fn counted(s: &Store, class: ObjectId) -> (i64, i64) {
    let records: Vec<Attendance> = s
        .raw()
        .attendance()
        .find(doc! { "class_id": class })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let attended = records.iter().filter(|r| r.status.attended()).count();
    (records.len() as i64, attended as i64)
}

/// The database as a version from before a kept figure left it: the figure's
/// collections gone and its marker too.
async fn as_before_it(s: &Store, collections: &[&str], marker: &str) {
    for name in collections {
        s.raw()
            .database()
            .collection::<Document>(name)
            .drop()
            .await
            .unwrap();
    }
    s.raw()
        .database()
        .collection::<Document>("counters")
        .delete_one(doc! { "_id": marker })
        .await
        .unwrap();
}

/// The same database opened again, as at the next start.
async fn reopen(db: &TestDb) -> Store {
    Store::open(&server_url(), db.name(), test_keys())
        .await
        .unwrap()
}

/// A course, one class of it and `n` clients, all stored.
async fn class_and_clients(s: &Store, n: usize) -> (ClassSession, Vec<ObjectId>) {
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    let class = class_of(&pilates);
    s.insert_class(&class).await.unwrap();
    let mut clients = Vec::new();
    for i in 0..n {
        let c = client(&format!("Client {i}"), &format!("c{i}@example.com"));
        s.insert_client(&c).await.unwrap();
        clients.push(c.id);
    }
    (class, clients)
}

#[tokio::test]
async fn marks_and_re_marks_keep_the_class_counts_equal_to_its_records() {
    use AttendanceStatus::{Absent, Late, Present};
    let db = TestDb::new().await;
    let s = &db.store;
    let (class, who) = class_and_clients(s, 3).await;
    let steps = [
        (0, Present),
        (1, Absent),
        (2, Late),
        (1, Present), // absent → present
        (2, Absent),  // late → absent
        (0, Present), // the same again
    ];
    for (i, status) in steps {
        s.mark_attendance(class.id, who[i], status, demo_now())
            .await
            .unwrap();
        assert_eq!(
            carried(s, class.id).await,
            counted(s, class.id).await,
            "after marking client {i} {status:?}"
        );
    }
    assert_eq!(counted(s, class.id).await, (3, 2));

    let rate = s.attendance_rate(&this_month(), None).await.unwrap();
    assert_eq!((rate.attended, rate.total), (2, 3));
    let fill = s.class_fill_rate(&this_month(), None).await.unwrap();
    assert_eq!((fill.classes, fill.attended, fill.seats), (1, 2, 12));

    // A reschedule keeps the counts, and every change moves the revision on.
    let mut moved = class.clone();
    for (k, hours) in [1, 0, 1].into_iter().enumerate() {
        let start = class.starts_at() + Duration::hours(hours);
        moved.reschedule(start, start + Duration::hours(1)).unwrap();
        s.update_class(&moved).await.unwrap();
        let d = raw_classes(s)
            .find_one(doc! { "_id": class.id })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(number(&d, "revision"), k as i64 + 1);
        assert_eq!(carried(s, class.id).await, (3, 2));
    }
}

#[tokio::test]
async fn many_marks_at_one_class_at_once_all_count() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (class, who) = class_and_clients(s, 10).await;
    let statuses = [
        AttendanceStatus::Present,
        AttendanceStatus::Late,
        AttendanceStatus::Absent,
    ];
    let marks = who
        .iter()
        .enumerate()
        .map(|(i, id)| s.mark_attendance(class.id, *id, statuses[i % 3], demo_now()));
    for marked in futures::future::join_all(marks).await {
        marked.unwrap();
    }
    let expected_attended = (0..who.len()).filter(|i| i % 3 != 2).count() as i64;
    assert_eq!(counted(s, class.id).await, (10, expected_attended));
    assert_eq!(carried(s, class.id).await, (10, expected_attended));
}

#[tokio::test]
async fn records_for_an_unknown_class_write_nothing() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (class, who) = class_and_clients(s, 2).await;
    let record = |class_id: ObjectId, client_id: ObjectId| Attendance {
        id: ObjectId::new(),
        class_id,
        client_id,
        course_id: class.course_id,
        course_name: class.course_name.clone(),
        class_starts_at: class.starts_at(),
        status: AttendanceStatus::Present,
        marked_at: demo_now(),
    };
    let records = [record(class.id, who[0]), record(ObjectId::new(), who[1])];
    assert!(matches!(
        s.record_attendance(&records).await,
        Err(StoreError::NotFound { what: "class", .. })
    ));
    assert_eq!(
        s.raw().attendance().count_documents(doc! {}).await.unwrap(),
        0
    );
    assert_eq!(carried(s, class.id).await, (0, 0));

    // The known class alone goes in, counted.
    s.record_attendance(&records[..1]).await.unwrap();
    assert_eq!(carried(s, class.id).await, (1, 1));
}

#[tokio::test]
async fn a_database_from_before_the_counts_is_counted_once_when_opened() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (class, who) = class_and_clients(s, 5).await;
    let empty = class_of(&course("Yoga", 3000));
    s.insert_class(&empty).await.unwrap();
    // Records written straight into the collection, as an older version did.
    let records: Vec<Attendance> = who
        .iter()
        .enumerate()
        .map(|(i, id)| Attendance {
            id: ObjectId::new(),
            class_id: class.id,
            client_id: *id,
            course_id: class.course_id,
            course_name: class.course_name.clone(),
            class_starts_at: class.starts_at(),
            status: if i < 3 {
                AttendanceStatus::Present
            } else {
                AttendanceStatus::Absent
            },
            marked_at: demo_now(),
        })
        .collect();
    s.raw().attendance().insert_many(&records).await.unwrap();
    as_before_it(s, &[], "attendance_counts").await;
    assert_eq!(carried(s, class.id).await, (0, 0));

    let reopened = reopen(&db).await;
    assert_eq!(carried(&reopened, class.id).await, (5, 3));
    let d = raw_classes(s)
        .find_one(doc! { "_id": empty.id })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (number(&d, "marked"), d.contains_key("attended")),
        (0, true)
    );
    let rate = reopened.attendance_rate(&this_month(), None).await.unwrap();
    assert_eq!((rate.attended, rate.total), (3, 5));

    // Counted once: a later start leaves the counts as they are.
    raw_classes(s)
        .update_one(doc! { "_id": class.id }, doc! { "$set": { "marked": 99 } })
        .await
        .unwrap();
    let again = reopen(&db).await;
    assert_eq!(carried(&again, class.id).await, (99, 3));
}

/// Revenue of `period` added up here from every payment in the database.
async fn paid_in(s: &Store, period: &ResolvedPeriod) -> (i64, u64, Vec<(String, i64)>) {
    let all: Vec<Payment> = s
        .raw()
        .payments()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut by_method: std::collections::BTreeMap<String, i64> = Default::default();
    let (mut total, mut n) = (0, 0);
    for p in &all {
        let Some(at) = p.paid_at else { continue };
        if p.status.as_str() != "paid" || at < period.start || at >= period.end {
            continue;
        }
        total += p.amount.minor();
        n += 1;
        *by_method.entry(p.method.as_str().to_owned()).or_default() += p.amount.minor();
    }
    (total, n, by_method.into_iter().collect())
}

async fn reported(s: &Store, period: &ResolvedPeriod) -> (i64, u64, Vec<(String, i64)>) {
    let r = s
        .revenue(
            period,
            RevenueBreakdown::Method,
            frontdesk::domain::Currency::INR,
        )
        .await
        .unwrap();
    let mut lines: Vec<(String, i64)> = r
        .breakdown
        .iter()
        .map(|l| (l.key.clone(), l.total_minor))
        .collect();
    lines.sort();
    (r.total_minor, r.payments, lines)
}

#[tokio::test]
async fn payments_recorded_at_once_across_midnights_add_up_in_every_period() {
    let db = TestDb::new().await;
    let s = &db.store;
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    let who = client("Meera Nair", "meera@example.com");
    s.insert_client(&who).await.unwrap();
    let mut pending = Vec::new();
    for _ in 0..12 {
        pending.push(
            s.create_order(new_order(&who, &pilates, None))
                .await
                .unwrap(),
        );
    }
    // Paid every five hours back from the demo clock: several UTC days, some in the
    // hours where India's day and UTC's differ.
    let methods = [PaymentMethod::Upi, PaymentMethod::Card, PaymentMethod::Cash];
    let records = pending.iter().enumerate().map(|(i, made)| {
        s.record_payment(
            made.payment.id,
            methods[i % 3],
            None,
            demo_now() - Duration::hours(5 * i as i64),
        )
    });
    for paid in futures::future::join_all(records).await {
        assert!(paid.unwrap().1, "newly paid");
    }
    let month = this_month();
    // Edges anywhere in a day, and a period inside one day.
    let between = |from: Duration, to: Duration| {
        let mut p = month.clone();
        p.start = demo_now() - from;
        p.end = demo_now() - to;
        p
    };
    let odd = between(
        Duration::hours(41) + Duration::minutes(17),
        Duration::hours(3),
    );
    let short = between(Duration::hours(11), Duration::hours(9));
    for period in [&month, &odd, &short] {
        let expected = paid_in(s, period).await;
        assert!(expected.1 > 0, "{period:?} holds payments");
        assert_eq!(reported(s, period).await, expected, "{period:?}");
    }
    // Recording one again adds nothing.
    let (_, again) = s
        .record_payment(pending[0].payment.id, PaymentMethod::Upi, None, demo_now())
        .await
        .unwrap();
    assert!(!again);
    assert_eq!(reported(s, &month).await, paid_in(s, &month).await);
}

#[tokio::test]
async fn revenue_days_are_counted_once_for_a_database_from_before_them() {
    let db = TestDb::new().await;
    let s = &db.store;
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    let who = client("Meera Nair", "meera@example.com");
    s.insert_client(&who).await.unwrap();
    for i in 0..6 {
        let made = s
            .create_order(new_order(&who, &pilates, None))
            .await
            .unwrap();
        s.record_payment(
            made.payment.id,
            PaymentMethod::Card,
            None,
            demo_now() - Duration::hours(7 * i),
        )
        .await
        .unwrap();
    }
    // As an older version left it: no day documents, no marker.
    as_before_it(s, &["revenue_days"], "revenue_days").await;
    let month = this_month();
    let expected = paid_in(s, &month).await;
    assert_eq!(expected.1, 6);
    assert_ne!(reported(s, &month).await, expected, "nothing kept yet");

    let reopened = reopen(&db).await;
    assert_eq!(reported(&reopened, &month).await, expected);
}

/// (course, live orders, distinct clients) per course, counted here from every order.
async fn enrolment_in_orders(s: &Store) -> Vec<(String, u64, u64)> {
    let all: Vec<frontdesk::domain::Order> = s
        .raw()
        .orders()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut by: std::collections::BTreeMap<String, (u64, std::collections::BTreeSet<ObjectId>)> =
        Default::default();
    for o in all
        .iter()
        .filter(|o| o.status != frontdesk::domain::OrderStatus::Cancelled)
    {
        let line = by.entry(o.course_name.clone()).or_default();
        line.0 += 1;
        line.1.insert(o.client_id);
    }
    by.into_iter()
        .map(|(course, (orders, clients))| (course, orders, clients.len() as u64))
        .collect()
}

async fn enrolment_reported(s: &Store) -> Vec<(String, u64, u64)> {
    let mut lines: Vec<(String, u64, u64)> = s
        .course_enrollment(None)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.course, l.orders, l.active_clients))
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn orders_made_at_once_and_cancelled_keep_each_course_s_orders_and_clients() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (pilates, yoga) = (course("Pilates", 4000), course("Yoga", 3000));
    s.insert_course(&pilates).await.unwrap();
    s.insert_course(&yoga).await.unwrap();
    let mut who = Vec::new();
    for i in 0..4 {
        let c = client(&format!("Client {i}"), &format!("c{i}@example.com"));
        s.insert_client(&c).await.unwrap();
        who.push(c);
    }
    // Client 0 twice in Pilates, everyone once more: made at once.
    let plan = [
        (0, &pilates),
        (0, &pilates),
        (1, &pilates),
        (2, &pilates),
        (3, &yoga),
        (1, &yoga),
    ];
    let made: Vec<_> = futures::future::join_all(
        plan.iter()
            .map(|(i, c)| s.create_order(new_order(&who[*i], c, None))),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert_eq!(
        enrolment_reported(s).await,
        vec![("Pilates".into(), 4, 3), ("Yoga".into(), 2, 2)]
    );
    assert_eq!(enrolment_reported(s).await, enrolment_in_orders(s).await);

    // Client 0 still has one Pilates order after cancelling the other; client 1's
    // only Pilates order gone takes them out; a confirmed order still counts.
    let cancel = frontdesk::domain::OrderStatus::Cancelled;
    for k in [0, 2] {
        s.set_order_status(made[k].order.id, cancel, demo_now())
            .await
            .unwrap();
        assert_eq!(enrolment_reported(s).await, enrolment_in_orders(s).await);
    }
    s.record_payment(made[4].payment.id, PaymentMethod::Card, None, demo_now())
        .await
        .unwrap();
    assert_eq!(
        enrolment_reported(s).await,
        vec![("Pilates".into(), 2, 2), ("Yoga".into(), 2, 2)]
    );
    // A cancelled order cannot be cancelled again, and counts nothing twice.
    assert!(s
        .set_order_status(made[0].order.id, cancel, demo_now())
        .await
        .is_err());
    assert_eq!(enrolment_reported(s).await, enrolment_in_orders(s).await);
}

#[tokio::test]
async fn enrolments_are_counted_once_for_a_database_from_before_them() {
    let db = TestDb::new().await;
    let s = &db.store;
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    for i in 0..3 {
        let c = client(&format!("Client {i}"), &format!("c{i}@example.com"));
        s.insert_client(&c).await.unwrap();
        for _ in 0..=i {
            s.create_order(new_order(&c, &pilates, None)).await.unwrap();
        }
    }
    as_before_it(s, &["course_clients", "course_enrolments"], "enrolments").await;
    assert!(enrolment_reported(s).await.is_empty(), "nothing kept yet");

    let reopened = reopen(&db).await;
    assert_eq!(
        enrolment_reported(&reopened).await,
        vec![("Pilates".into(), 6, 3)]
    );
    assert_eq!(
        enrolment_reported(&reopened).await,
        enrolment_in_orders(s).await
    );
}

/// Clients and leads not deleted who joined in `period`, counted here from every client.
async fn joined_in(s: &Store, period: &ResolvedPeriod) -> u64 {
    let all: Vec<Document> = s
        .raw()
        .clients()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    all.iter()
        .filter(|c| matches!(c.get("deleted_at"), None | Some(Bson::Null)))
        .filter_map(|c| c.get_datetime("joined_at").ok())
        .map(|t| t.to_chrono())
        .filter(|t| *t >= period.start && *t < period.end)
        .count() as u64
}

/// Clients joined every seven hours back from the demo clock (a few already deleted),
/// then some deleted.
async fn clients_joined_over_days(s: &Store) -> Vec<ObjectId> {
    let mut ids = Vec::new();
    for i in 0..14 {
        let mut c = client(&format!("Client {i}"), &format!("c{i}@example.com"));
        c.joined_at = demo_now() - Duration::hours(7 * i);
        if i % 5 == 4 {
            c.deleted_at = Some(demo_now());
        }
        s.insert_client(&c).await.unwrap();
        ids.push(c.id);
    }
    ids
}

#[tokio::test]
async fn clients_added_and_deleted_keep_the_join_days() {
    let db = TestDb::new().await;
    let s = &db.store;
    let ids = clients_joined_over_days(s).await;
    let month = this_month();
    let mut odd = month.clone();
    odd.start = demo_now() - Duration::hours(50) - Duration::minutes(10);
    odd.end = demo_now() - Duration::hours(6);
    for step in 0..3 {
        for period in [&month, &odd] {
            let expected = joined_in(s, period).await;
            assert!(expected > 0);
            let got = s.new_clients(period).await.unwrap().count;
            assert_eq!(got, expected, "step {step}, {period:?}");
        }
        // Delete two more (not those deleted from the start); deleting one again is
        // refused and counts nothing.
        let (a, b) = (ids[[0, 2, 5][step]], ids[[1, 3, 6][step]]);
        s.delete_client(a, demo_now()).await.unwrap();
        s.delete_client(b, demo_now()).await.unwrap();
        assert!(matches!(
            s.delete_client(a, demo_now()).await,
            Err(StoreError::NotFound { .. })
        ));
    }
    let after = s.new_clients(&month).await.unwrap().count;
    assert_eq!(after, joined_in(s, &month).await);
    assert_eq!(
        after,
        14 - 2 - 6,
        "14 joined, 2 deleted from the start, 6 since"
    );
}

#[tokio::test]
async fn join_days_are_counted_once_for_a_database_from_before_them() {
    let db = TestDb::new().await;
    let s = &db.store;
    clients_joined_over_days(s).await;
    as_before_it(s, &["join_days"], "client_days").await;
    let month = this_month();
    let expected = joined_in(s, &month).await;
    assert!(s.new_clients(&month).await.unwrap().count < expected);

    let reopened = reopen(&db).await;
    assert_eq!(reopened.new_clients(&month).await.unwrap().count, expected);
}

/// Inactive for `days` as counted here from every client: (count, the ten longest
/// absent by name, longest first).
async fn inactive_in(s: &Store, days: i64) -> (u64, Vec<String>) {
    let cutoff = demo_now() - Duration::days(days);
    let all: Vec<Document> = s
        .raw()
        .clients()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let date = |c: &Document, k: &str| c.get_datetime(k).ok().map(|t| t.to_chrono());
    let mut absent: Vec<(chrono::DateTime<chrono::Utc>, ObjectId, String)> = all
        .iter()
        .filter(|c| matches!(c.get("deleted_at"), None | Some(Bson::Null)))
        .filter(|c| c.get_str("status").unwrap() != "lead")
        .filter_map(|c| {
            let since = date(c, "last_visit_at").or_else(|| date(c, "joined_at"))?;
            let name = c.get_str("name").unwrap().to_owned();
            (since < cutoff).then(|| (since, c.get_object_id("_id").unwrap(), name))
        })
        .collect();
    absent.sort();
    let count = absent.len() as u64;
    (
        count,
        absent.into_iter().take(10).map(|(_, _, n)| n).collect(),
    )
}

async fn inactive_reported(s: &Store, days: u32) -> (u64, Vec<String>) {
    let r = s.inactive_clients(demo_now(), days).await.unwrap();
    (r.count, r.sample.into_iter().map(|b| b.name).collect())
}

/// Fourteen clients: leads, some who never came, visits spread over ten weeks.
async fn clients_with_visits(s: &Store) -> Vec<frontdesk::domain::Client> {
    let mut all = Vec::new();
    for i in 0..14_i64 {
        let mut c = client(&format!("Client {i}"), &format!("c{i}@example.com"));
        c.status = match i % 4 {
            0 => frontdesk::domain::ClientStatus::Lead,
            1 => frontdesk::domain::ClientStatus::Inactive,
            _ => frontdesk::domain::ClientStatus::Active,
        };
        c.joined_at = demo_now() - Duration::days(20 + 5 * i);
        c.last_visit_at =
            (i % 3 != 0).then(|| demo_now() - Duration::days(3 * i) - Duration::hours(i));
        s.insert_client(&c).await.unwrap();
        all.push(c);
    }
    all
}

#[tokio::test]
async fn every_client_write_keeps_the_inactive_figures_equal_to_the_clients() {
    let db = TestDb::new().await;
    let s = &db.store;
    let who = clients_with_visits(s).await;
    let check = |step: &'static str| async move {
        for days in [14, 30, 45] {
            let expected = inactive_in(s, days).await;
            assert_eq!(
                inactive_reported(s, days as u32).await,
                expected,
                "{step}, {days} days"
            );
        }
    };
    check("as inserted").await;
    assert!(inactive_in(s, 30).await.0 >= 4, "enough to move");

    // A visit today brings a long-absent client back; an earlier visit moves nothing.
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    let today = class_of(&pilates);
    s.insert_class(&today).await.unwrap();
    s.mark_attendance(today.id, who[13].id, AttendanceStatus::Present, demo_now())
        .await
        .unwrap();
    check("after a visit").await;

    // A lead who enrols becomes a client (absent since they joined, never came).
    s.create_order(new_order(&who[12], &pilates, None))
        .await
        .unwrap();
    check("after a lead enrolled").await;

    // A client made a lead, another changed through a whole update, one deleted.
    let to_lead = frontdesk::store::ClientChanges {
        status: Some(frontdesk::domain::ClientStatus::Lead),
        ..Default::default()
    };
    s.patch_client(who[9].id, &to_lead).await.unwrap();
    check("after a patch").await;
    let mut changed = s.client_by_id(who[10].id).await.unwrap().unwrap();
    changed.last_visit_at = Some(demo_now() - Duration::days(100));
    s.update_client(&changed).await.unwrap();
    check("after an update").await;
    s.delete_client(who[11].id, demo_now()).await.unwrap();
    check("after a delete").await;
}

#[tokio::test]
async fn absence_days_are_counted_once_for_a_database_from_before_them() {
    let db = TestDb::new().await;
    let s = &db.store;
    clients_with_visits(s).await;
    as_before_it(s, &["absence_days"], "client_days").await;
    let expected = inactive_in(s, 30).await;
    assert!(expected.0 > 0);
    assert_eq!(inactive_reported(s, 30).await.0, 0, "nothing kept yet");

    let reopened = reopen(&db).await;
    assert_eq!(inactive_reported(&reopened, 30).await, expected);
}

/// (pending minor, pending count, overdue minor, overdue count) at the demo clock,
/// counted here from every payment.
async fn owed_in(s: &Store) -> (i64, u64, i64, u64) {
    let all: Vec<Payment> = s
        .raw()
        .payments()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let pending: Vec<&Payment> = all
        .iter()
        .filter(|p| p.status == frontdesk::domain::PaymentStatus::Pending)
        .collect();
    let overdue: Vec<&&Payment> = pending.iter().filter(|p| p.due_at < demo_now()).collect();
    (
        pending.iter().map(|p| p.amount.minor()).sum(),
        pending.len() as u64,
        overdue.iter().map(|p| p.amount.minor()).sum(),
        overdue.len() as u64,
    )
}

async fn owed_reported(s: &Store) -> (i64, u64, i64, u64) {
    let r = s
        .outstanding_balance(demo_now(), frontdesk::domain::Currency::INR)
        .await
        .unwrap();
    (
        r.pending_minor,
        r.pending_count,
        r.overdue_minor,
        r.overdue_count,
    )
}

#[tokio::test]
async fn payments_owed_paid_and_cancelled_keep_the_outstanding_balance() {
    let db = TestDb::new().await;
    let s = &db.store;
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    let who = client("Meera Nair", "meera@example.com");
    s.insert_client(&who).await.unwrap();
    // Ordered days ago with a week to pay: due long ago, earlier today, later today,
    // and in days to come.
    let mut made = Vec::new();
    for back in [
        Duration::days(30),
        Duration::days(7) + Duration::hours(2),
        Duration::days(7) - Duration::hours(2),
        Duration::days(2),
        Duration::days(9),
    ] {
        let mut order = new_order(&who, &pilates, None);
        order.now = demo_now() - back;
        made.push(s.create_order(order).await.unwrap());
    }
    assert_eq!(owed_reported(s).await, owed_in(s).await);
    let (_, _, _, overdue) = owed_in(s).await;
    assert_eq!(overdue, 3, "30, 9 and 7 days + 2 hours ago");

    s.record_payment(made[0].payment.id, PaymentMethod::Card, None, demo_now())
        .await
        .unwrap();
    assert_eq!(owed_reported(s).await, owed_in(s).await);
    s.set_order_status(
        made[1].order.id,
        frontdesk::domain::OrderStatus::Cancelled,
        demo_now(),
    )
    .await
    .unwrap();
    assert_eq!(owed_reported(s).await, owed_in(s).await);
    assert_eq!(owed_in(s).await.1, 3);
}

#[tokio::test]
async fn pending_days_are_counted_once_for_a_database_from_before_them() {
    let db = TestDb::new().await;
    let s = &db.store;
    let pilates = course("Pilates", 4000);
    s.insert_course(&pilates).await.unwrap();
    let who = client("Meera Nair", "meera@example.com");
    s.insert_client(&who).await.unwrap();
    for days in [3, 10, 20] {
        let mut order = new_order(&who, &pilates, None);
        order.now = demo_now() - Duration::days(days);
        s.create_order(order).await.unwrap();
    }
    as_before_it(s, &["pending_days"], "pending_days").await;
    assert_eq!(owed_reported(s).await.1, 0, "nothing kept yet");

    let reopened = reopen(&db).await;
    let expected = owed_in(s).await;
    assert_eq!(expected.1, 3);
    assert_eq!(owed_reported(&reopened).await, expected);
}

#[tokio::test]
async fn recount_sets_every_kept_figure_right_after_writes_behind_its_back() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (class, who) = class_and_clients(s, 3).await;
    for (i, id) in who.iter().enumerate() {
        let status = if i == 0 {
            AttendanceStatus::Absent
        } else {
            AttendanceStatus::Present
        };
        s.mark_attendance(class.id, *id, status, demo_now())
            .await
            .unwrap();
    }
    let pilates = s.course_by_id(class.course_id).await.unwrap().unwrap();
    let c = s.client_by_id(who[0]).await.unwrap().unwrap();
    let made = s.create_order(new_order(&c, &pilates, None)).await.unwrap();
    s.record_payment(made.payment.id, PaymentMethod::Upi, None, demo_now())
        .await
        .unwrap();
    s.create_order(new_order(&c, &pilates, None)).await.unwrap();
    let month = this_month();
    let figures = |s: &Store| {
        let (s, month) = (s.clone(), month.clone());
        async move {
            (
                carried(&s, class.id).await,
                reported(&s, &month).await,
                enrolment_reported(&s).await,
                s.new_clients(&month).await.unwrap().count,
                inactive_reported(&s, 30).await,
                owed_reported(&s).await,
                {
                    let r = s.attendance_rate(&month, None).await.unwrap();
                    (r.attended, r.total)
                },
            )
        }
    };
    let right = figures(s).await;
    assert_eq!(right.0, (3, 2));

    // Written behind frontdesk's back: every kept figure goes wrong.
    raw_classes(s)
        .update_one(doc! { "_id": class.id }, doc! { "$set": { "marked": 40 } })
        .await
        .unwrap();
    for name in [
        "revenue_days",
        "course_enrolments",
        "join_days",
        "absence_days",
        "pending_days",
        "visit_days",
        "class_days",
    ] {
        s.raw()
            .database()
            .collection::<Document>(name)
            .delete_many(doc! {})
            .await
            .unwrap();
    }
    let wrong = figures(s).await;
    assert_ne!(wrong.0, right.0);
    assert_ne!(wrong.1, right.1);
    assert_ne!(wrong.2, right.2);
    assert_ne!(wrong.3, right.3);
    assert_ne!(wrong.5, right.5);
    assert_ne!(wrong.6, right.6);

    let counted = s.recount_rollups().await.unwrap();
    assert_eq!(counted.len(), 8);
    assert_eq!(figures(s).await, right);
}

/// (retained, came before) for this month against last, counted here from the records.
async fn retention_in(s: &Store) -> (u64, u64) {
    let (p, prev) = (this_month(), this_month().previous());
    let records: Vec<Attendance> = s
        .raw()
        .attendance()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let came = |r: &ResolvedPeriod| -> std::collections::BTreeSet<ObjectId> {
        records
            .iter()
            .filter(|a| a.status.attended())
            .filter(|a| a.class_starts_at >= r.start && a.class_starts_at < r.end)
            .map(|a| a.client_id)
            .collect()
    };
    let before = came(&prev);
    (
        before.intersection(&came(&p)).count() as u64,
        before.len() as u64,
    )
}

async fn retention_reported(s: &Store) -> (u64, u64) {
    let r = s
        .retention(&this_month(), &this_month().previous())
        .await
        .unwrap();
    (r.retained, r.previous_active)
}

#[tokio::test]
async fn marks_and_re_marks_keep_retention_equal_to_the_records() {
    use AttendanceStatus::{Absent, Late, Present};
    let db = TestDb::new().await;
    let s = &db.store;
    let (this_class, who) = class_and_clients(s, 4).await;
    let prev = this_month().previous();
    // Last month: one class in the middle, one in its last minute (local time).
    let mut last = Vec::new();
    for start in [
        prev.start + (prev.end - prev.start) / 2,
        prev.end - Duration::minutes(1),
    ] {
        let class = class_at(this_class.course_id, &this_class.course_name, start);
        s.insert_class(&class).await.unwrap();
        last.push(class.id);
    }
    let steps = [
        (last[0], 0, Present),
        (last[1], 1, Late),
        (last[0], 2, Present),
        (this_class.id, 0, Present),
        (this_class.id, 1, Late),
        (this_class.id, 3, Present), // new this month
        (this_class.id, 0, Absent),  // re-marked: no longer came
        (last[0], 2, Absent),        // re-marked: never came before
        (this_class.id, 2, Present),
    ];
    for (class, i, status) in steps {
        s.mark_attendance(class, who[i], status, demo_now())
            .await
            .unwrap();
        assert_eq!(
            retention_reported(s).await,
            retention_in(s).await,
            "after client {i} {status:?}"
        );
    }
    assert_eq!(
        retention_in(s).await,
        (1, 2),
        "client 1 retained, client 0 not"
    );
}

#[tokio::test]
async fn visit_days_are_counted_once_for_a_database_from_before_them() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (class, who) = class_and_clients(s, 3).await;
    let prev = this_month().previous();
    let start = prev.start + Duration::days(3);
    let before = class_at(class.course_id, &class.course_name, start);
    s.insert_class(&before).await.unwrap();
    for (i, id) in who.iter().enumerate() {
        s.mark_attendance(before.id, *id, AttendanceStatus::Present, demo_now())
            .await
            .unwrap();
        if i > 0 {
            s.mark_attendance(class.id, *id, AttendanceStatus::Late, demo_now())
                .await
                .unwrap();
        }
    }
    as_before_it(s, &["visit_days"], "visit_days").await;
    assert_eq!(retention_reported(s).await, (0, 0), "nothing kept yet");

    let reopened = reopen(&db).await;
    assert_eq!(retention_in(s).await, (2, 3));
    assert_eq!(retention_reported(&reopened).await, (2, 3));
}

/// (classes, seats, attended) of this month's classes not cancelled, and (attended,
/// marked) of all this month's records, counted here from the documents.
async fn class_figures_in(s: &Store) -> ((u64, u64, u64), (u64, u64)) {
    let month = this_month();
    let classes: Vec<ClassSession> = s
        .raw()
        .classes()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let records: Vec<Attendance> = s
        .raw()
        .attendance()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let in_month = |c: &ClassSession| c.starts_at() >= month.start && c.starts_at() < month.end;
    let came = |c: &ClassSession| {
        records
            .iter()
            .filter(|r| r.class_id == c.id && r.status.attended())
            .count() as u64
    };
    let open: Vec<&ClassSession> = classes
        .iter()
        .filter(|c| in_month(c) && !c.cancelled)
        .collect();
    let fill = (
        open.len() as u64,
        open.iter().map(|c| u64::from(c.capacity)).sum(),
        open.iter().map(|c| came(c)).sum(),
    );
    let month_classes: Vec<&ClassSession> = classes.iter().filter(|c| in_month(c)).collect();
    let marked = records
        .iter()
        .filter(|r| month_classes.iter().any(|c| c.id == r.class_id))
        .count() as u64;
    let attended = month_classes.iter().map(|c| came(c)).sum();
    (fill, (attended, marked))
}

async fn class_figures_reported(s: &Store) -> ((u64, u64, u64), (u64, u64)) {
    let month = this_month();
    let fill = s.class_fill_rate(&month, None).await.unwrap();
    let rate = s.attendance_rate(&month, None).await.unwrap();
    (
        (fill.classes, fill.seats, fill.attended),
        (rate.attended, rate.total),
    )
}

#[tokio::test]
async fn classes_added_moved_cancelled_and_marked_keep_attendance_and_fill() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (first, who) = class_and_clients(s, 3).await;
    let mut second = class_of(&s.course_by_id(first.course_id).await.unwrap().unwrap());
    second.capacity = 8;
    s.insert_class(&second).await.unwrap();
    for (i, id) in who.iter().enumerate() {
        s.mark_attendance(first.id, *id, AttendanceStatus::Present, demo_now())
            .await
            .unwrap();
        if i < 2 {
            s.mark_attendance(second.id, *id, AttendanceStatus::Late, demo_now())
                .await
                .unwrap();
        }
    }
    assert_eq!(class_figures_reported(s).await, class_figures_in(s).await);
    assert_eq!(class_figures_in(s).await, ((2, 20, 5), (5, 5)));

    // Moved by eleven hours (to another UTC day), more seats, then cancelled; a
    // re-mark after each.
    let mut moved = s.class_by_id(second.id).await.unwrap().unwrap();
    let start = moved.starts_at() + Duration::hours(11);
    moved.reschedule(start, start + Duration::hours(1)).unwrap();
    moved.capacity = 15;
    s.update_class(&moved).await.unwrap();
    assert_eq!(class_figures_reported(s).await, class_figures_in(s).await);
    s.mark_attendance(second.id, who[0], AttendanceStatus::Absent, demo_now())
        .await
        .unwrap();
    assert_eq!(class_figures_reported(s).await, class_figures_in(s).await);
    moved.cancelled = true;
    s.update_class(&moved).await.unwrap();
    assert_eq!(class_figures_reported(s).await, class_figures_in(s).await);
    assert_eq!(class_figures_in(s).await, ((1, 12, 3), (4, 5)));
}
