//! A property test of the dashboard's figures over random records and random periods:
//! payments, clients, classes and attendance scattered over fourteen months with many of
//! them on the edges that go wrong (local midnight, the first and last of a month, the
//! turn of the year), and "now" at edge hours too. For every period people ask about
//! (today, yesterday, this and last week, month and year, the last N days, a month, an
//! explicit range) cut at now as the tools cut it, and for its previous period, every
//! figure equals a plain recomputation over the records this test wrote.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use frontdesk::domain::{
    Attendance, AttendanceStatus, ClassSession, Client, ClientStatus, Currency, Email, Money,
    ObjectId, OrderNumber, Payment, PaymentMethod, PaymentStatus, Period, PersonName,
    ResolvedPeriod,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::harness::{ist, TestDb};

/// The records of one round, as written.
struct Records {
    payments: Vec<Payment>,
    clients: Vec<Client>,
    classes: Vec<ClassSession>,
    attendance: Vec<Attendance>,
}

/// An instant around `now`: a random day from about fourteen months before to ten days
/// after, often on an edge (local midnight and the second either side of it, the first or
/// last day of a month), else at a random second of the day.
fn instant(rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> DateTime<Utc> {
    let local_today = now.with_timezone(&ist()).date_naive();
    let mut day = local_today - Duration::days(rng.gen_range(-10..430));
    match rng.gen_range(0..6) {
        0 => day = day.with_day(1).unwrap_or(day),
        1 => {
            let next_month = day.with_day(1).unwrap() + Duration::days(32);
            day = next_month.with_day(1).unwrap() - Duration::days(1);
        }
        _ => {}
    }
    let midnight = ist()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    match rng.gen_range(0..5) {
        0 => midnight,
        1 => midnight - Duration::seconds(1),
        2 => midnight + Duration::seconds(1),
        _ => midnight + Duration::seconds(rng.gen_range(0..86_400)),
    }
}

async fn write_records(db: &TestDb, rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> Records {
    let courses: Vec<(ObjectId, String)> = ["Yoga", "Pilates", "Zumba", "HIIT"]
        .iter()
        .map(|c| (ObjectId::new(), (*c).to_owned()))
        .collect();
    let instructors = ["Asha", "Ravi", ""];

    let mut payments = Vec::new();
    for n in 0..240u32 {
        let course = &courses[rng.gen_range(0..courses.len())];
        let created = instant(rng, now);
        let status = match rng.gen_range(0..10) {
            0..=5 => PaymentStatus::Paid,
            6..=8 => PaymentStatus::Pending,
            _ => PaymentStatus::Failed,
        };
        payments.push(Payment {
            id: ObjectId::new(),
            order_id: ObjectId::new(),
            order_number: OrderNumber::new(50_000 + n).unwrap(),
            client_id: ObjectId::new(),
            course_id: course.0,
            course_name: course.1.clone(),
            amount: Money::new(rng.gen_range(1..200) * 500, Currency::INR).unwrap(),
            method: PaymentMethod::Upi,
            status,
            due_at: instant(rng, now),
            paid_at: (status == PaymentStatus::Paid).then_some(created),
            provider_ref: None,
            link_url: None,
            created_at: created,
            idempotency_key: None,
        });
    }
    db.store.import_payments(&payments).await.unwrap();

    let mut clients = Vec::new();
    for i in 0..120 {
        let status = match rng.gen_range(0..4) {
            0 => ClientStatus::Lead,
            1 => ClientStatus::Inactive,
            _ => ClientStatus::Active,
        };
        let mut c = Client::new(
            PersonName::parse(&format!("Member {i:03}")).unwrap(),
            Email::parse(&format!("member{i}@example.com")).unwrap(),
            status,
            instant(rng, now),
        );
        if rng.gen_range(0..12) == 0 {
            c.deleted_at = Some(c.joined_at + Duration::days(1));
        }
        db.store.insert_client(&c).await.unwrap();
        clients.push(c);
    }

    let people: Vec<ObjectId> = (0..40).map(|_| ObjectId::new()).collect();
    let mut classes = Vec::new();
    let mut attendance = Vec::new();
    for _ in 0..90 {
        let course = &courses[rng.gen_range(0..courses.len())];
        let starts = instant(rng, now);
        let class = ClassSession::new(
            course.0,
            &course.1,
            starts,
            starts + Duration::hours(1),
            instructors[rng.gen_range(0..instructors.len())],
            "Studio A",
            rng.gen_range(4..20),
        )
        .unwrap();
        let booked = rng.gen_range(0..=class.capacity.min(8)) as usize;
        let mut who: Vec<ObjectId> = people.clone();
        for _ in 0..booked {
            let client_id = who.swap_remove(rng.gen_range(0..who.len()));
            attendance.push(Attendance {
                id: ObjectId::new(),
                class_id: class.id,
                client_id,
                course_id: class.course_id,
                course_name: class.course_name.clone(),
                class_starts_at: class.starts_at(),
                status: match rng.gen_range(0..4) {
                    0 => AttendanceStatus::Absent,
                    1 => AttendanceStatus::Late,
                    _ => AttendanceStatus::Present,
                },
                marked_at: class.starts_at(),
            });
        }
        db.store.insert_class(&class).await.unwrap();
        classes.push(class);
    }
    db.store.record_attendance(&attendance).await.unwrap();
    Records {
        payments,
        clients,
        classes,
        attendance,
    }
}

/// The periods asked about in a round: the named ones, the last N days for a few N, a
/// random month of the data and a random range.
fn periods(rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> Vec<Period> {
    let today = now.with_timezone(&ist()).date_naive();
    let month_ago = today - Duration::days(rng.gen_range(0..400));
    let from = today - Duration::days(rng.gen_range(0..400));
    let to = from + Duration::days(rng.gen_range(0..60));
    vec![
        Period::Today,
        Period::Yesterday,
        Period::ThisWeek,
        Period::LastWeek,
        Period::ThisMonth,
        Period::LastMonth,
        Period::ThisYear,
        Period::LastYear,
        Period::LastDays(1),
        Period::LastDays(7),
        Period::LastDays(rng.gen_range(2..120)),
        Period::month(month_ago.year(), month_ago.month()).unwrap(),
        Period::range(from, to).unwrap(),
    ]
}

fn within(t: DateTime<Utc>, p: &ResolvedPeriod) -> bool {
    p.start <= t && t < p.end
}

/// Every figure of `p` from the store, against the records.
async fn check(db: &TestDb, r: &Records, p: &ResolvedPeriod, what: &str) {
    let store = &db.store;
    // Revenue: paid payments, by when they were paid.
    let paid: Vec<&Payment> = r
        .payments
        .iter()
        .filter(|x| x.status == PaymentStatus::Paid && x.paid_at.is_some_and(|t| within(t, p)))
        .collect();
    let revenue = store
        .revenue(p, frontdesk::store::RevenueBreakdown::None, Currency::INR)
        .await
        .unwrap();
    assert_eq!(
        (revenue.total_minor, revenue.payments),
        (
            paid.iter().map(|x| x.amount.minor()).sum::<i64>(),
            paid.len() as u64
        ),
        "revenue, {what}"
    );
    // New clients: not deleted, by when they joined (leads too).
    let joined = r
        .clients
        .iter()
        .filter(|c| c.deleted_at.is_none() && within(c.joined_at, p))
        .count() as u64;
    assert_eq!(
        store.new_clients(p).await.unwrap().count,
        joined,
        "new clients, {what}"
    );
    // Attendance: records of classes that started in the period.
    let records: Vec<&Attendance> = r
        .attendance
        .iter()
        .filter(|a| within(a.class_starts_at, p))
        .collect();
    let rate = store.attendance_rate_for(p, None).await.unwrap();
    assert_eq!(
        (rate.attended, rate.total),
        (
            records.iter().filter(|a| a.status.attended()).count() as u64,
            records.len() as u64
        ),
        "attendance, {what}"
    );
    // Fill rate: classes that started in the period, seats and who came.
    let held: Vec<&ClassSession> = r
        .classes
        .iter()
        .filter(|c| within(c.starts_at(), p))
        .collect();
    let held_ids: BTreeSet<ObjectId> = held.iter().map(|c| c.id).collect();
    let fill = store.class_fill_rate_for(p, None).await.unwrap();
    assert_eq!(
        (fill.classes, fill.seats, fill.attended),
        (
            held.len() as u64,
            held.iter().map(|c| u64::from(c.capacity)).sum::<u64>(),
            r.attendance
                .iter()
                .filter(|a| a.status.attended() && held_ids.contains(&a.class_id))
                .count() as u64
        ),
        "fill rate, {what}"
    );
}

/// Who came in `p`.
fn came(r: &Records, p: &ResolvedPeriod) -> BTreeSet<ObjectId> {
    r.attendance
        .iter()
        .filter(|a| a.status.attended() && within(a.class_starts_at, p))
        .map(|a| a.client_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_and_its_previous_period_match_the_records_for_random_periods() {
    // "Now" on edges: mid-afternoon, a second before and at local midnight on the first of
    // a month, and the last second of a year in the studio's time.
    let nows = [
        "2026-11-25T10:00:00Z",
        "2026-11-30T18:29:59Z",
        "2026-11-30T18:30:00Z",
        "2026-12-31T18:29:59Z",
    ];
    for (round, now) in nows.iter().enumerate() {
        let now = DateTime::parse_from_rfc3339(now)
            .unwrap()
            .with_timezone(&Utc);
        let mut rng = ChaCha8Rng::seed_from_u64(2026 + round as u64);
        let db = TestDb::new().await;
        let records = write_records(&db, &mut rng, now).await;
        for period in periods(&mut rng, now) {
            let p = period.resolve(now, ist()).unwrap().to_date(now);
            let before = p.previous();
            let what = format!("{} at {now} ({})", period.token(), p.label());
            // Like with like: the previous stretch is as long (months and years by the
            // calendar), it ends where this one starts or earlier, and a running period
            // is compared to the same time of day.
            assert!(before.end <= p.start, "{what}: {} overlaps", before.label());
            if let Some(days) = period.days() {
                assert_eq!(p.start - before.start, Duration::days(days), "{what}");
                assert_eq!(p.end - before.end, Duration::days(days), "{what}");
            }
            if p.is_running() {
                assert_eq!(p.end, now, "{what}");
                assert_eq!(
                    before.end.with_timezone(&ist()).time(),
                    now.with_timezone(&ist()).time(),
                    "{what}: {}",
                    before.label()
                );
                assert!(p.label().contains("so far"), "{what}");
                assert!(before.label().contains("to the same time"), "{what}");
            }
            check(&db, &records, &p, &what).await;
            check(&db, &records, &before, &format!("the period before {what}")).await;
            // Retention compares the two.
            let kept = db.store.retention(&p, &before).await.unwrap();
            let (then, again) = (came(&records, &before), came(&records, &p));
            assert_eq!(
                (kept.previous_active, kept.retained),
                (then.len() as u64, then.intersection(&again).count() as u64),
                "retention, {what}"
            );
        }
        // The outstanding balance at now: pending, and of it what fell due before now.
        let owed = db
            .store
            .outstanding_balance(now, Currency::INR)
            .await
            .unwrap();
        let pending: Vec<&Payment> = records
            .payments
            .iter()
            .filter(|x| x.status == PaymentStatus::Pending)
            .collect();
        assert_eq!(
            (owed.pending_minor, owed.pending_count),
            (
                pending.iter().map(|x| x.amount.minor()).sum::<i64>(),
                pending.len() as u64
            ),
            "pending at {now}"
        );
        let overdue: Vec<&&Payment> = pending.iter().filter(|x| x.due_at < now).collect();
        assert_eq!(
            (owed.overdue_minor, owed.overdue_count),
            (
                overdue.iter().map(|x| x.amount.minor()).sum::<i64>(),
                overdue.len() as u64
            ),
            "overdue at {now}"
        );
    }
}
