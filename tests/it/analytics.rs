//! Analytics: every pipeline's figures against the same figures computed here by plain
//! iteration over the documents the test wrote (or, on the demo data, read back with
//! `find`), with documents just outside each period and of the wrong status.

// Helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bson::doc;
use chrono::{DateTime, Duration, Utc};
use frontdesk::domain::{
    Attendance, AttendanceStatus, ClassSession, Client, ClientStatus, Currency, Email, Money,
    ObjectId, Order, OrderNumber, OrderStatus, Payment, PaymentMethod, PaymentStatus, Period,
    PersonName, ResolvedPeriod,
};
use frontdesk::store::{RevenueBreakdown, RevenueLine, Store, StoreError};

use crate::harness::{all, demo_now, ist, TestDb};

const SECOND: Duration = Duration::seconds(1);

fn month() -> ResolvedPeriod {
    Period::ThisMonth.resolve(demo_now(), ist()).unwrap()
}

fn in_period(t: DateTime<Utc>, p: &ResolvedPeriod) -> bool {
    p.start <= t && t < p.end
}

/// Instants around and inside a period: one second before the start (out), the start,
/// the middle, one second before the end (in) and exactly the end (out).
fn edges(p: &ResolvedPeriod) -> [DateTime<Utc>; 5] {
    let mid = p.start + (p.end - p.start) / 2;
    [p.start - SECOND, p.start, mid, p.end - SECOND, p.end]
}

/// The percentage the reports give, computed here with floats (so a tolerance).
fn assert_percent(actual: f64, part: u64, whole: u64) {
    let expected = if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    };
    assert!(
        (actual - expected).abs() < 0.051,
        "{actual} vs {expected} ({part}/{whole})"
    );
}

fn payment(
    n: u32,
    course: &str,
    minor: i64,
    method: PaymentMethod,
    status: PaymentStatus,
    paid_at: Option<DateTime<Utc>>,
    due_at: DateTime<Utc>,
) -> Payment {
    Payment {
        id: ObjectId::new(),
        order_id: ObjectId::new(),
        order_number: OrderNumber::new(10_001 + n).unwrap(),
        client_id: ObjectId::new(),
        course_id: ObjectId::new(),
        course_name: course.to_owned(),
        amount: Money::new(minor, Currency::INR).unwrap(),
        method,
        status,
        due_at,
        paid_at,
        provider_ref: None,
        link_url: None,
        created_at: due_at - Duration::days(7),
        idempotency_key: None,
    }
}

fn client(i: usize, status: ClientStatus, joined_at: DateTime<Utc>) -> Client {
    Client::new(
        PersonName::parse(&format!("Member {i:03} Kapoor")).unwrap(),
        Email::parse(&format!("member{i}@example.com")).unwrap(),
        status,
        joined_at,
    )
}

fn record(
    class_id: ObjectId,
    client_id: ObjectId,
    course: (ObjectId, &str),
    starts: DateTime<Utc>,
    status: AttendanceStatus,
) -> Attendance {
    Attendance {
        id: ObjectId::new(),
        class_id,
        client_id,
        course_id: course.0,
        course_name: course.1.to_owned(),
        class_starts_at: starts,
        status,
        marked_at: starts + Duration::hours(1),
    }
}

/// Revenue lines by key, computed from payments, largest first then by key.
fn expected_lines(paid: &[&Payment], key: impl Fn(&Payment) -> String) -> Vec<RevenueLine> {
    let mut by: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for p in paid {
        let e = by.entry(key(p)).or_default();
        e.0 += p.amount.minor();
        e.1 += 1;
    }
    let mut lines: Vec<RevenueLine> = by
        .into_iter()
        .map(|(key, (total_minor, payments))| RevenueLine {
            key,
            total_minor,
            payments,
        })
        .collect();
    lines.sort_by(|a, b| {
        b.total_minor
            .cmp(&a.total_minor)
            .then_with(|| a.key.cmp(&b.key))
    });
    lines
}

#[tokio::test]
async fn revenue_adds_up_paid_payments_inside_the_period() {
    let db = TestDb::new().await;
    let s = &db.store;
    let p = month();
    let courses = ["Pilates", "Yoga Beginner", "Power Yoga"];
    let methods = [
        PaymentMethod::Upi,
        PaymentMethod::Card,
        PaymentMethod::Cash,
        PaymentMethod::Online,
    ];
    let mut docs = Vec::new();
    let mut n = 0;
    for (i, at) in edges(&p).into_iter().enumerate() {
        for (j, course) in courses.iter().enumerate() {
            n += 1;
            let minor = 150_000 + (i as i64) * 25_050 + (j as i64) * 10_000;
            let method = methods[(i + j) % methods.len()];
            docs.push(payment(
                n,
                course,
                minor,
                method,
                PaymentStatus::Paid,
                Some(at),
                at,
            ));
            // Wrong statuses, at the same instants: never revenue.
            n += 1;
            docs.push(payment(
                n,
                course,
                minor + 1,
                method,
                PaymentStatus::Refunded,
                Some(at),
                at,
            ));
            n += 1;
            docs.push(payment(
                n,
                course,
                minor + 2,
                method,
                PaymentStatus::Pending,
                None,
                at,
            ));
        }
    }
    n += 1;
    docs.push(payment(
        n,
        "Pilates",
        99_900,
        PaymentMethod::Card,
        PaymentStatus::Failed,
        None,
        p.start + Duration::days(2),
    ));
    s.import_payments(&docs).await.unwrap();

    let paid: Vec<&Payment> = docs
        .iter()
        .filter(|d| d.status == PaymentStatus::Paid && d.paid_at.is_some_and(|t| in_period(t, &p)))
        .collect();
    assert!(paid.len() >= 6 && paid.len() < docs.len() / 3);
    let total: i64 = paid.iter().map(|d| d.amount.minor()).sum();

    let plain = s
        .revenue(&p, RevenueBreakdown::None, Currency::USD)
        .await
        .unwrap();
    assert_eq!(plain.total_minor, total);
    assert_eq!(plain.payments, paid.len() as u64);
    assert!(plain.breakdown.is_empty());
    assert_eq!(
        plain.currency,
        Currency::INR,
        "the currency of the documents"
    );

    let by_course = s
        .revenue(&p, RevenueBreakdown::Course, Currency::INR)
        .await
        .unwrap();
    assert_eq!(by_course.total_minor, total);
    assert_eq!(
        by_course.breakdown,
        expected_lines(&paid, |d| d.course_name.clone())
    );
    let by_method = s
        .revenue(&p, RevenueBreakdown::Method, Currency::INR)
        .await
        .unwrap();
    assert_eq!(
        by_method.breakdown,
        expected_lines(&paid, |d| d.method.as_str().to_owned())
    );

    // The month before: only the payment one second before this month's start.
    let previous = p.previous();
    let (now, before) = s
        .revenue_compared(&p, &previous, RevenueBreakdown::None, Currency::INR)
        .await
        .unwrap();
    assert_eq!(now, plain);
    let expected_before: Vec<&Payment> = docs
        .iter()
        .filter(|d| {
            d.status == PaymentStatus::Paid && d.paid_at.is_some_and(|t| in_period(t, &previous))
        })
        .collect();
    assert_eq!(before.payments, expected_before.len() as u64);
    assert_eq!(
        before.total_minor,
        expected_before
            .iter()
            .map(|d| d.amount.minor())
            .sum::<i64>()
    );

    // Nothing paid: zero, in the currency asked for.
    let empty = Period::month(2020, 1)
        .unwrap()
        .resolve(demo_now(), ist())
        .unwrap();
    let none = s
        .revenue(&empty, RevenueBreakdown::Course, Currency::USD)
        .await
        .unwrap();
    assert_eq!(
        (none.total_minor, none.payments, none.currency),
        (0, 0, Currency::USD)
    );
    assert!(none.breakdown.is_empty());

    // Two currencies cannot be added up.
    let mixed = Period::month(2021, 3)
        .unwrap()
        .resolve(demo_now(), ist())
        .unwrap();
    let at = mixed.start + Duration::days(3);
    let mut usd = payment(
        900,
        "Pilates",
        5_000,
        PaymentMethod::Card,
        PaymentStatus::Paid,
        Some(at),
        at,
    );
    usd.amount = Money::new(5_000, Currency::USD).unwrap();
    let inr = payment(
        901,
        "Pilates",
        5_000,
        PaymentMethod::Card,
        PaymentStatus::Paid,
        Some(at),
        at,
    );
    s.import_payments(&[usd.clone(), inr.clone()])
        .await
        .unwrap();
    let err = s
        .revenue(&mixed, RevenueBreakdown::None, Currency::INR)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("currency")),
        "{err}"
    );
}

#[tokio::test]
async fn revenue_trend_buckets_by_local_month_and_fills_gaps() {
    let db = TestDb::new().await;
    let s = &db.store;
    let nov = month();
    let start = nov.start - Duration::days(92); // 1 Aug 2026 IST, 00:00
    let end = nov.end;
    let mut docs = Vec::new();
    let instants = [
        start - SECOND,                    // out
        start,                             // August
        start + Duration::days(3),         // August
        nov.start - Duration::minutes(30), // 31 Oct 23:30 IST: October
        nov.start + Duration::minutes(30), // 1 Nov 00:30 IST, still 31 Oct in UTC
        nov.start + Duration::days(10),    // November
        end - SECOND,                      // November
        end,                               // out
    ];
    for (i, at) in instants.into_iter().enumerate() {
        docs.push(payment(
            i as u32,
            "Pilates",
            10_000 * (i as i64 + 1),
            PaymentMethod::Upi,
            PaymentStatus::Paid,
            Some(at),
            at,
        ));
        docs.push(payment(
            100 + i as u32,
            "Pilates",
            777,
            PaymentMethod::Upi,
            PaymentStatus::Pending,
            None,
            at,
        ));
    }
    s.import_payments(&docs).await.unwrap();

    let trend = s.revenue_trend(start, end, ist()).await.unwrap();
    let mut expected: BTreeMap<String, i64> = ["2026-08", "2026-09", "2026-10", "2026-11"]
        .into_iter()
        .map(|m| (m.to_owned(), 0))
        .collect();
    for d in &docs {
        if let (PaymentStatus::Paid, Some(t)) = (d.status, d.paid_at) {
            if start <= t && t < end {
                *expected
                    .entry(t.with_timezone(&ist()).format("%Y-%m").to_string())
                    .or_default() += d.amount.minor();
            }
        }
    }
    assert_eq!(trend, expected.into_iter().collect::<Vec<_>>());
    assert_eq!(
        trend[1],
        ("2026-09".to_owned(), 0),
        "a month without revenue"
    );
}

#[tokio::test]
async fn new_clients_are_those_who_joined_in_the_period() {
    let db = TestDb::new().await;
    let s = &db.store;
    let p = month();
    let mut clients = Vec::new();
    for (i, at) in edges(&p).into_iter().enumerate() {
        clients.push(client(i, ClientStatus::Active, at));
    }
    for i in 0..12 {
        let status = if i % 3 == 0 {
            ClientStatus::Lead
        } else {
            ClientStatus::Active
        };
        let mut c = client(
            100 + i,
            status,
            p.start + Duration::hours(13 * i as i64 + 5),
        );
        if i == 7 {
            c.deleted_at = Some(demo_now());
        }
        clients.push(c);
    }
    for c in &clients {
        s.insert_client(c).await.unwrap();
    }

    let report = s.new_clients(&p).await.unwrap();
    let mut joined: Vec<&Client> = clients
        .iter()
        .filter(|c| c.deleted_at.is_none() && in_period(c.joined_at, &p))
        .collect();
    assert_eq!(report.count, joined.len() as u64);
    assert!(joined.iter().any(|c| c.status == ClientStatus::Lead));
    joined.sort_by_key(|c| std::cmp::Reverse(c.joined_at));
    let expected: Vec<(String, String, DateTime<Utc>)> = joined
        .iter()
        .take(10)
        .map(|c| (c.id.to_hex(), c.email.to_string(), c.joined_at))
        .collect();
    let got: Vec<(String, String, DateTime<Utc>)> = report
        .sample
        .iter()
        .map(|c| (c.id.clone(), c.email.clone(), c.joined_at))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(report.sample[0].name, joined[0].name.as_str());

    let empty = s.new_clients(&p.previous().previous()).await.unwrap();
    assert_eq!((empty.count, empty.sample.len()), (0, 0));
}

#[tokio::test]
async fn enrollment_counts_orders_and_distinct_clients_per_course() {
    let db = TestDb::new().await;
    let s = &db.store;
    let p = month();
    let courses = [
        (ObjectId::new(), "Pilates"),
        (ObjectId::new(), "Yoga Beginner"),
        (ObjectId::new(), "Barre"),
    ];
    let people: Vec<ObjectId> = (0..4).map(|_| ObjectId::new()).collect();
    let statuses = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];
    let mut orders = Vec::new();
    let mut n = 0_u32;
    for (i, at) in edges(&p).into_iter().enumerate() {
        for (j, course) in courses.iter().enumerate() {
            for k in 0..(j + i % 2 + 1) {
                n += 1;
                orders.push(Order {
                    id: ObjectId::new(),
                    number: OrderNumber::new(20_000 + n).unwrap(),
                    client_id: people[(i + k) % people.len()],
                    course_id: course.0,
                    course_name: course.1.to_owned(),
                    status: statuses[(n as usize) % statuses.len()],
                    amount: Money::new(300_000, Currency::INR).unwrap(),
                    created_at: at,
                    updated_at: at,
                    idempotency_key: None,
                });
            }
        }
    }
    s.import_orders(&orders).await.unwrap();

    let expected = |period: Option<&ResolvedPeriod>| {
        let mut by: BTreeMap<String, (u64, BTreeSet<ObjectId>)> = BTreeMap::new();
        for o in &orders {
            if o.status == OrderStatus::Cancelled
                || period.is_some_and(|p| !in_period(o.created_at, p))
            {
                continue;
            }
            let e = by.entry(o.course_name.clone()).or_default();
            e.0 += 1;
            e.1.insert(o.client_id);
        }
        let mut lines: Vec<(String, u64, u64)> = by
            .into_iter()
            .map(|(course, (n, clients))| (course, n, clients.len() as u64))
            .collect();
        lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        lines
    };
    for period in [Some(&p), None] {
        let got: Vec<(String, u64, u64)> = s
            .course_enrollment(period)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.course, l.orders, l.active_clients))
            .collect();
        assert_eq!(
            got,
            expected(period),
            "period {:?}",
            period.map(|p| p.label())
        );
    }
    assert_ne!(expected(Some(&p)), expected(None));
}

#[tokio::test]
async fn attendance_rate_counts_present_and_late_over_all_records() {
    let db = TestDb::new().await;
    let s = &db.store;
    let p = month();
    let pilates = (ObjectId::new(), "Pilates");
    let yoga = (ObjectId::new(), "Yoga Beginner");
    let statuses = [
        AttendanceStatus::Present,
        AttendanceStatus::Absent,
        AttendanceStatus::Late,
        AttendanceStatus::Present,
        AttendanceStatus::Absent,
    ];
    let mut docs = Vec::new();
    let mut classes = Vec::new();
    for (i, at) in edges(&p).into_iter().enumerate() {
        for (c, course) in [pilates, yoga].into_iter().enumerate() {
            let class = ClassSession::new(
                course.0,
                course.1,
                at,
                at + Duration::hours(1),
                "Ana",
                "Studio A",
                20,
            )
            .unwrap();
            for k in 0..(3 + c * 2 + i) {
                let status = statuses[(i * 7 + k * (c + 1)) % statuses.len()];
                docs.push(record(class.id, ObjectId::new(), course, at, status));
            }
            classes.push(class);
        }
    }
    for c in &classes {
        s.insert_class(c).await.unwrap();
    }
    s.record_attendance(&docs).await.unwrap();

    let count = |course: Option<ObjectId>| {
        let mut overall = (0_u64, 0_u64);
        let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for a in &docs {
            if !in_period(a.class_starts_at, &p) || course.is_some_and(|c| c != a.course_id) {
                continue;
            }
            let e = by.entry(a.course_name.clone()).or_default();
            e.1 += 1;
            overall.1 += 1;
            if a.status.attended() {
                e.0 += 1;
                overall.0 += 1;
            }
        }
        let mut lines: Vec<(String, u64, u64)> =
            by.into_iter().map(|(k, (a, t))| (k, a, t)).collect();
        lines.sort_by(|x, y| (y.1 * x.2).cmp(&(x.1 * y.2)).then_with(|| x.0.cmp(&y.0)));
        (overall, lines)
    };
    for course in [None, Some(pilates.0), Some(yoga.0)] {
        let report = s.attendance_rate(&p, course).await.unwrap();
        let ((attended, total), lines) = count(course);
        assert!(total > attended && attended > 0);
        assert_eq!((report.attended, report.total), (attended, total));
        assert_percent(report.percent, attended, total);
        let got: Vec<(String, u64, u64)> = report
            .by_course
            .iter()
            .map(|l| (l.course.clone(), l.attended, l.total))
            .collect();
        assert_eq!(got, lines);
        for l in &report.by_course {
            assert_percent(l.percent, l.attended, l.total);
        }
    }
    let nothing = s
        .attendance_rate(&p.previous().previous(), None)
        .await
        .unwrap();
    assert_eq!(
        (nothing.attended, nothing.total, nothing.percent),
        (0, 0, 0.0)
    );
    assert!(nothing.by_course.is_empty());
}

#[tokio::test]
async fn inactive_clients_have_not_come_for_the_given_days() {
    let db = TestDb::new().await;
    let s = &db.store;
    let now = demo_now();
    let days = 30;
    let cutoff = now - Duration::days(days);
    let mut clients = Vec::new();
    // (status, joined days ago, last visit: seconds before the cutoff (negative: after), deleted)
    let cases: &[(ClientStatus, i64, Option<i64>, bool)] = &[
        (ClientStatus::Active, 400, Some(1), false), // just over 30 days: in
        (ClientStatus::Active, 400, Some(0), false), // exactly 30 days: out
        (ClientStatus::Active, 400, Some(-3600), false), // 29 days and 23 hours: out
        (ClientStatus::Inactive, 400, Some(86_400 * 90), false),
        (ClientStatus::Inactive, 400, Some(86_400 * 5), false),
        (ClientStatus::Active, 200, Some(86_400 * 40), false),
        (ClientStatus::Lead, 400, Some(86_400 * 60), false), // a lead: out
        (ClientStatus::Lead, 400, None, false),              // a lead: out
        (ClientStatus::Active, 400, Some(86_400 * 80), true), // deleted: out
        (ClientStatus::Active, 45, None, false),             // never came, joined long ago: in
        (ClientStatus::Active, 31, None, false),             // in
        (ClientStatus::Active, 29, None, false),             // joined recently: out
        (ClientStatus::Inactive, 300, None, false),          // in
        (ClientStatus::Active, 500, Some(86_400 * 300), false),
        (ClientStatus::Active, 500, Some(86_400 * 10), false),
        (ClientStatus::Active, 500, Some(86_400 * 20), false),
        (ClientStatus::Active, 500, Some(86_400 * 30), false),
        (ClientStatus::Inactive, 500, Some(86_400 * 100), false),
        (ClientStatus::Active, 60, Some(-86_400 * 20), false), // came recently: out
    ];
    for (i, (status, joined, visit, deleted)) in cases.iter().enumerate() {
        let mut c = client(i, *status, now - Duration::days(*joined));
        c.last_visit_at = visit.map(|secs| cutoff - Duration::seconds(secs));
        if *deleted {
            c.deleted_at = Some(now - Duration::days(1));
        }
        clients.push(c);
    }
    for c in &clients {
        s.insert_client(c).await.unwrap();
    }

    let report = s.inactive_clients(now, days as u32).await.unwrap();
    let mut expected: Vec<&Client> = clients
        .iter()
        .filter(|c| {
            c.deleted_at.is_none()
                && c.status != ClientStatus::Lead
                && match c.last_visit_at {
                    Some(t) => t < cutoff,
                    None => c.joined_at < cutoff,
                }
        })
        .collect();
    assert_eq!(report.count, expected.len() as u64);
    assert!(report.count > 10, "enough to see the sample cut at ten");
    assert_eq!(report.days, 30);
    expected.sort_by_key(|c| c.last_visit_at.unwrap_or(c.joined_at));
    let want: Vec<(String, Option<DateTime<Utc>>)> = expected
        .iter()
        .take(10)
        .map(|c| (c.email.to_string(), c.last_visit_at))
        .collect();
    let got: Vec<(String, Option<DateTime<Utc>>)> = report
        .sample
        .iter()
        .map(|c| (c.email.clone(), c.last_visit_at))
        .collect();
    assert_eq!(got, want);
    assert_eq!(report.sample[0].name, expected[0].name.as_str());
}

#[tokio::test]
async fn outstanding_balance_splits_pending_from_overdue() {
    let db = TestDb::new().await;
    let s = &db.store;
    let now = demo_now();
    let empty = s.outstanding_balance(now, Currency::USD).await.unwrap();
    assert_eq!(
        (empty.pending_minor, empty.pending_count, empty.currency),
        (0, 0, Currency::USD)
    );

    let mut docs = Vec::new();
    let dues = [
        now - Duration::days(20),
        now - SECOND,
        now,
        now + SECOND,
        now + Duration::days(5),
    ];
    for (i, due) in dues.into_iter().enumerate() {
        for (k, status) in [
            PaymentStatus::Pending,
            PaymentStatus::Paid,
            PaymentStatus::Failed,
            PaymentStatus::Pending,
        ]
        .into_iter()
        .enumerate()
        {
            let paid_at = (status == PaymentStatus::Paid).then_some(due);
            docs.push(payment(
                (i * 10 + k) as u32,
                "Pilates",
                1_000 * (i as i64 + 1) + 7 * k as i64,
                PaymentMethod::BankTransfer,
                status,
                paid_at,
                due,
            ));
        }
    }
    s.import_payments(&docs).await.unwrap();

    let report = s.outstanding_balance(now, Currency::USD).await.unwrap();
    let pending: Vec<&Payment> = docs
        .iter()
        .filter(|d| d.status == PaymentStatus::Pending)
        .collect();
    let overdue: Vec<&&Payment> = pending.iter().filter(|d| d.due_at < now).collect();
    assert_eq!(report.pending_count, pending.len() as u64);
    assert_eq!(
        report.pending_minor,
        pending.iter().map(|d| d.amount.minor()).sum::<i64>()
    );
    assert_eq!(report.overdue_count, overdue.len() as u64);
    assert_eq!(
        report.overdue_minor,
        overdue.iter().map(|d| d.amount.minor()).sum::<i64>()
    );
    assert!(report.overdue_count > 0 && report.overdue_count < report.pending_count);
    assert_eq!(report.currency, Currency::INR);
}

#[tokio::test]
async fn retention_follows_the_clients_who_came_before() {
    let db = TestDb::new().await;
    let s = &db.store;
    let p = month();
    let prev = p.previous();
    let course = (ObjectId::new(), "Pilates");
    let present = AttendanceStatus::Present;
    let late = AttendanceStatus::Late;
    let absent = AttendanceStatus::Absent;
    let mid = |r: &ResolvedPeriod| r.start + (r.end - r.start) / 2;
    // Each client's visits: (instant, status).
    let plans: Vec<Vec<(DateTime<Utc>, AttendanceStatus)>> = vec![
        vec![(mid(&prev), present), (mid(&p), present)], // retained
        vec![(mid(&prev), late), (p.end - SECOND, late)], // retained at the edges
        vec![(prev.start, present)],                     // lost
        vec![(mid(&prev), absent), (mid(&p), present)],  // did not come before
        vec![(mid(&p), present)],                        // new
        vec![(mid(&prev), present), (mid(&p), absent)],  // lost: absent now
        vec![(prev.start - SECOND, present), (mid(&p), present)], // before the previous period
        vec![(prev.end - SECOND, present), (p.end, present)], // lost: now is at the end
        vec![
            (mid(&prev), present),
            (mid(&prev) + Duration::days(1), late),
            (p.start, present),
        ],
    ];
    let mut docs = Vec::new();
    let mut clients = Vec::new();
    let mut classes = Vec::new();
    for plan in &plans {
        let who = ObjectId::new();
        clients.push(who);
        for (at, status) in plan {
            let class = ClassSession::new(
                course.0,
                course.1,
                *at,
                *at + Duration::hours(1),
                "Ana",
                "Studio A",
                20,
            )
            .unwrap();
            docs.push(record(class.id, who, course, *at, *status));
            classes.push(class);
        }
    }
    for c in &classes {
        s.insert_class(c).await.unwrap();
    }
    s.record_attendance(&docs).await.unwrap();

    let came = |r: &ResolvedPeriod| -> BTreeSet<ObjectId> {
        docs.iter()
            .filter(|a| a.status.attended() && in_period(a.class_starts_at, r))
            .map(|a| a.client_id)
            .collect()
    };
    let before = came(&prev);
    let retained = before.intersection(&came(&p)).count() as u64;
    let report = s.retention(&p, &prev).await.unwrap();
    assert_eq!(report.previous_active, before.len() as u64);
    assert_eq!(report.retained, retained);
    assert!(retained > 0 && retained < report.previous_active);
    assert_percent(report.percent, retained, before.len() as u64);

    let nobody = s
        .retention(&prev.previous(), &prev.previous().previous())
        .await
        .unwrap();
    assert_eq!(
        (nobody.previous_active, nobody.retained, nobody.percent),
        (0, 0, 0.0)
    );
}

#[tokio::test]
async fn fill_rate_is_attended_seats_over_capacity() {
    let db = TestDb::new().await;
    let s = &db.store;
    let p = month();
    let pilates = (ObjectId::new(), "Pilates");
    let yoga = (ObjectId::new(), "Yoga Beginner");
    let statuses = [
        AttendanceStatus::Present,
        AttendanceStatus::Late,
        AttendanceStatus::Absent,
        AttendanceStatus::Present,
    ];
    let mut classes = Vec::new();
    let mut docs = Vec::new();
    for (i, at) in edges(&p).into_iter().enumerate() {
        for (c, course) in [pilates, yoga].into_iter().enumerate() {
            for extra in 0..2_usize {
                let starts = at + Duration::minutes(extra as i64 * 90);
                let instructor = if (i + extra) % 3 == 0 { "Ana" } else { "Sofia" };
                let mut class = ClassSession::new(
                    course.0,
                    course.1,
                    starts,
                    starts + Duration::hours(1),
                    if c == 0 { instructor } else { "Rahul" },
                    "Studio A",
                    (8 + i * 2 + c * 3) as u32,
                )
                .unwrap();
                class.cancelled = i == 2 && extra == 1;
                for k in 0..(2 + i + c * 3 + extra) {
                    docs.push(record(
                        class.id,
                        ObjectId::new(),
                        course,
                        starts,
                        statuses[(k + i) % statuses.len()],
                    ));
                }
                classes.push(class);
            }
        }
    }
    for c in &classes {
        s.insert_class(c).await.unwrap();
    }
    s.record_attendance(&docs).await.unwrap();

    struct Line {
        classes: u64,
        seats: u64,
        attended: u64,
        instructors: BTreeSet<String>,
    }
    let expected = |course: Option<ObjectId>| {
        let came: HashMap<ObjectId, u64> =
            docs.iter()
                .filter(|a| a.status.attended())
                .fold(HashMap::new(), |mut m, a| {
                    *m.entry(a.class_id).or_default() += 1;
                    m
                });
        let mut by: BTreeMap<String, Line> = BTreeMap::new();
        for c in &classes {
            if c.cancelled
                || !in_period(c.starts_at(), &p)
                || course.is_some_and(|id| id != c.course_id)
            {
                continue;
            }
            let line = by.entry(c.course_name.clone()).or_insert(Line {
                classes: 0,
                seats: 0,
                attended: 0,
                instructors: BTreeSet::new(),
            });
            line.classes += 1;
            line.seats += u64::from(c.capacity);
            line.attended += came.get(&c.id).copied().unwrap_or(0);
            line.instructors.insert(c.instructor.clone());
        }
        let mut lines: Vec<(String, String, u64, u64, u64)> = by
            .into_iter()
            .map(|(course, l)| {
                let names: Vec<String> = l.instructors.into_iter().collect();
                (course, names.join(", "), l.classes, l.seats, l.attended)
            })
            .collect();
        lines.sort_by(|x, y| (y.4 * x.3).cmp(&(x.4 * y.3)).then_with(|| x.0.cmp(&y.0)));
        lines
    };
    for course in [None, Some(pilates.0)] {
        let report = s.class_fill_rate(&p, course).await.unwrap();
        let lines = expected(course);
        let got: Vec<(String, String, u64, u64, u64)> = report
            .by_course
            .iter()
            .map(|l| {
                (
                    l.course.clone(),
                    l.instructor.clone(),
                    l.classes,
                    l.seats,
                    l.attended,
                )
            })
            .collect();
        assert_eq!(got, lines);
        assert_eq!(report.classes, lines.iter().map(|l| l.2).sum::<u64>());
        assert_eq!(report.seats, lines.iter().map(|l| l.3).sum::<u64>());
        assert_eq!(report.attended, lines.iter().map(|l| l.4).sum::<u64>());
        assert_percent(report.percent, report.attended, report.seats);
        for l in &report.by_course {
            assert_percent(l.percent, l.attended, l.seats);
        }
    }
    let report = s.class_fill_rate(&p, None).await.unwrap();
    assert_eq!(report.by_course.len(), 2);
    assert_eq!(
        report
            .by_course
            .iter()
            .find(|l| l.course == "Pilates")
            .unwrap()
            .instructor,
        "Ana, Sofia"
    );
}

#[tokio::test]
async fn the_demo_data_figures_match_the_documents() {
    let (db, _) = TestDb::with_demo_data(300).await;
    let s: &Store = &db.store;
    let now = demo_now();

    // Revenue this month, to date.
    let month = Period::ThisMonth.resolve(now, ist()).unwrap().to_date(now);
    let payments = all(s.raw().payments()).await;
    let paid: Vec<&Payment> = payments
        .iter()
        .filter(|p| {
            p.status == PaymentStatus::Paid && p.paid_at.is_some_and(|t| in_period(t, &month))
        })
        .collect();
    let revenue = s
        .revenue(&month, RevenueBreakdown::Course, Currency::USD)
        .await
        .unwrap();
    assert!(revenue.payments > 0);
    assert_eq!(revenue.payments, paid.len() as u64);
    assert_eq!(
        revenue.total_minor,
        paid.iter().map(|p| p.amount.minor()).sum::<i64>()
    );
    assert_eq!(revenue.currency, Currency::INR);
    assert_eq!(
        revenue.breakdown,
        expected_lines(&paid, |p| p.course_name.clone())
    );

    // Outstanding balance.
    let outstanding = s.outstanding_balance(now, Currency::INR).await.unwrap();
    let pending: Vec<&Payment> = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Pending)
        .collect();
    assert!(outstanding.pending_count > 0);
    assert_eq!(outstanding.pending_count, pending.len() as u64);
    assert_eq!(
        outstanding.pending_minor,
        pending.iter().map(|p| p.amount.minor()).sum::<i64>()
    );
    let overdue: Vec<&&Payment> = pending.iter().filter(|p| p.due_at < now).collect();
    assert_eq!(outstanding.overdue_count, overdue.len() as u64);
    assert_eq!(
        outstanding.overdue_minor,
        overdue.iter().map(|p| p.amount.minor()).sum::<i64>()
    );

    // Attendance at Pilates in the last 30 days.
    let pilates = s.course_by_name("Pilates").await.unwrap().unwrap();
    let last30 = Period::LastDays(30).resolve(now, ist()).unwrap();
    let attendance = all(s.raw().attendance()).await;
    let at_pilates: Vec<&Attendance> = attendance
        .iter()
        .filter(|a| a.course_id == pilates.id && in_period(a.class_starts_at, &last30))
        .collect();
    let rate = s.attendance_rate(&last30, Some(pilates.id)).await.unwrap();
    assert!(rate.total > 0);
    assert_eq!(rate.total, at_pilates.len() as u64);
    assert_eq!(
        rate.attended,
        at_pilates.iter().filter(|a| a.status.attended()).count() as u64
    );
    assert_percent(rate.percent, rate.attended, rate.total);
    assert_eq!(rate.by_course.len(), 1);
    assert_eq!(rate.by_course[0].course, pilates.name);

    // Clients inactive for 30 days.
    let clients = s.find_clients(doc! {}).await.unwrap();
    let cutoff = now - Duration::days(30);
    let inactive: Vec<&Client> = clients
        .iter()
        .filter(|c| {
            c.deleted_at.is_none()
                && c.status != ClientStatus::Lead
                && c.last_visit_at.map_or(c.joined_at < cutoff, |t| t < cutoff)
        })
        .collect();
    let report = s.inactive_clients(now, 30).await.unwrap();
    assert!(report.count > 0);
    assert_eq!(report.count, inactive.len() as u64);
    let oldest = inactive
        .iter()
        .map(|c| c.last_visit_at.unwrap_or(c.joined_at))
        .min()
        .unwrap();
    let first = &report.sample[0];
    let first_client = inactive
        .iter()
        .find(|c| c.email.as_str() == first.email)
        .unwrap();
    assert_eq!(
        first_client.last_visit_at.unwrap_or(first_client.joined_at),
        oldest
    );
}
