//! Demo data: deterministic, and it holds what INTERFACES.md promises.

use bson::doc;
use chrono::Duration;
use frontdesk::dev::seed::seed;
use frontdesk::domain::{OrderNumber, Period};
use futures::TryStreamExt;

use crate::harness::{demo_now, demo_options, ist, TestDb};

#[tokio::test]
async fn the_demo_data_keeps_its_promises() {
    let (db, report) = TestDb::with_demo_data(300).await;
    let s = &db.store;
    let now = demo_now();
    assert_eq!(report.clients, 300);
    assert!(report.courses >= 8);

    let priya = crate::harness::priya(s).await;
    assert_eq!(priya.name.as_str(), "Priya Sharma");
    assert_eq!(
        s.clients_by_name("Priya", 10).await.unwrap().len(),
        2,
        "two Priyas for ambiguity"
    );
    let order = s
        .order_by_number(OrderNumber::new(12345).unwrap())
        .await
        .unwrap()
        .expect("order #12345");
    assert_eq!(order.client_id, priya.id);

    let week = Period::ThisWeek.resolve(now, ist()).unwrap();
    for name in ["Yoga Beginner", "Pilates"] {
        let course = s
            .course_by_name(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}"));
        let classes = s
            .classes_between(week.start, week.end, Some(course.id), 50)
            .await
            .unwrap();
        assert!(!classes.is_empty(), "{name} has classes this week");
    }
    let pending = s
        .raw()
        .payments()
        .count_documents(doc! { "status": "pending" })
        .await
        .unwrap();
    assert!(pending > 0);
    let month = Period::ThisMonth.resolve(now, ist()).unwrap();
    let new_this_month = s
        .raw().clients()
        .count_documents(doc! { "joined_at": { "$gte": bson::DateTime::from_chrono(month.start), "$lt": bson::DateTime::from_chrono(now) } })
        .await
        .unwrap();
    assert!(new_this_month > 0);
    let cutoff = bson::DateTime::from_chrono(now - Duration::days(30));
    let inactive = s
        .raw()
        .clients()
        .count_documents(doc! { "last_visit_at": { "$lt": cutoff } })
        .await
        .unwrap();
    assert!(inactive > 0);
    let pilates = s.course_by_name("Pilates").await.unwrap().unwrap();
    assert!(
        s.raw()
            .attendance()
            .count_documents(doc! { "course_id": pilates.id })
            .await
            .unwrap()
            > 0
    );

    // Consistency: every attendance is for a class of the same course, every paid payment
    // belongs to a confirmed or completed order, and last visits match attendance.
    let paid: Vec<_> = s
        .raw()
        .payments()
        .find(doc! { "status": "paid" })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for p in paid.iter().take(50) {
        let o = s.order_by_id(p.order_id).await.unwrap().unwrap();
        assert!(
            matches!(o.status.as_str(), "confirmed" | "completed"),
            "{}",
            o.number
        );
        assert!(p.paid_at.unwrap() <= now);
    }
    let visits: Vec<_> = s
        .raw()
        .attendance()
        .find(doc! { "client_id": priya.id, "status": { "$in": ["present", "late"] } })
        .sort(doc! { "class_starts_at": -1 })
        .limit(1)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(priya.last_visit_at, Some(visits[0].class_starts_at));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_studio() {
    let (a, ra) = TestDb::with_demo_data(120).await;
    let b = TestDb::new().await;
    let rb = seed(&b.store, &demo_options(120)).await.unwrap();
    assert_eq!(ra, rb);
    let emails = |db: &TestDb| {
        let s = db.store.clone();
        async move {
            let mut docs = s.find_clients(doc! {}).await.unwrap();
            docs.sort_by(|x, y| x.email.as_str().cmp(y.email.as_str()));
            docs.into_iter()
                .map(|c| (c.id, c.email.to_string(), c.last_visit_at))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(emails(&a).await, emails(&b).await);

    let c = TestDb::new().await;
    let mut other = demo_options(120);
    other.seed = 7;
    seed(&c.store, &other).await.unwrap();
    assert_ne!(
        emails(&a).await,
        emails(&c).await,
        "another seed, another studio"
    );

    let err = seed(&a.store, &demo_options(10)).await.unwrap_err();
    assert!(err.to_string().contains("--reset"), "{err}");
}

/// Every recent month of the demo data has something to say: clients who joined, visits,
/// payments; and some clients have stayed away, so each dashboard question has a
/// meaningful answer on the demo — also early in a month (the demo's clock is today's
/// date), with no empty month followed by a jump.
#[tokio::test]
async fn every_recent_month_of_the_demo_has_joins_visits_and_payments() {
    for now in ["2026-11-25T10:00:00Z", "2026-12-02T06:00:00Z"] {
        let now = chrono::DateTime::parse_from_rfc3339(now)
            .unwrap()
            .with_timezone(&chrono::Utc);
        let db = TestDb::new().await;
        let options = frontdesk::dev::seed::SeedOptions {
            now,
            ..demo_options(500)
        };
        seed(&db.store, &options).await.unwrap();
        recent_months_have_something_to_say(&db, now).await;
    }
}

async fn recent_months_have_something_to_say(db: &TestDb, now: chrono::DateTime<chrono::Utc>) {
    let s = &db.store;
    use chrono::Datelike;
    let this_month = Period::ThisMonth.resolve(now, ist()).unwrap().to_date(now);
    let first = now.with_timezone(&ist()).date_naive().with_day(1).unwrap();
    // This month so far, then the five whole months before it.
    let months = (0..6).map(|k| {
        if k == 0 {
            return this_month.clone();
        }
        let d = first.checked_sub_months(chrono::Months::new(k)).unwrap();
        Period::month(d.year(), d.month())
            .unwrap()
            .resolve(now, ist())
            .unwrap()
    });
    let mut joins_per_day = Vec::new();
    for month in months {
        let between = doc! { "$gte": bson::DateTime::from_chrono(month.start), "$lt": bson::DateTime::from_chrono(month.end) };
        let count = |collection: &str, filter: bson::Document| {
            let c = s.raw().database().collection::<bson::Document>(collection);
            async move { c.count_documents(filter).await.unwrap() }
        };
        let joined = count("clients", doc! { "joined_at": between.clone() }).await;
        let visits = count(
            "attendance",
            doc! { "class_starts_at": between.clone(), "status": { "$in": ["present", "late"] } },
        )
        .await;
        let paid = count("payments", doc! { "paid_at": between, "status": "paid" }).await;
        let label = month.label();
        assert!(joined > 0, "nobody joined in {label}");
        assert!(paid > 0, "no payments in {label}");
        if month != this_month {
            assert!(visits > 0, "no visits in {label}");
        }
        #[allow(clippy::cast_precision_loss)]
        let days = (month.end - month.start).num_seconds() as f64 / 86_400.0;
        #[allow(clippy::cast_precision_loss)]
        joins_per_day.push(joined as f64 / days);
    }
    // Whole months join at one pace (none under a third of the busiest), and this month
    // is no jump over them.
    let whole = &joins_per_day[1..];
    let (least, most) = whole
        .iter()
        .fold((f64::MAX, 0.0_f64), |(l, m), x| (l.min(*x), m.max(*x)));
    assert!(
        least * 3.0 >= most,
        "joins a day, month by month: {joins_per_day:?}"
    );
    let this = joins_per_day[0];
    assert!(
        this <= most * 3.0,
        "this month jumps: {joins_per_day:?} joins a day"
    );
    let inactive = s.inactive_clients(now, 30).await.unwrap();
    assert!(inactive.count > 0);
}
