//! Charts: every kind of chart decodes as a PNG of the fixed size that is not blank; each
//! chart question answers with a golden summary whose figures are computed here from the
//! documents the test wrote; the chart reaches the console reply, the REST API and each
//! chat platform's local fake (Discord attachment, Slack external upload, Telegram photo).

use std::collections::{BTreeMap, HashSet};
use std::io::Cursor;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use frontdesk::agents::{AgentReply, AgentRequest, Agents};
use frontdesk::charts::{ChartKind, ChartSpec, Point, Unit, HEIGHT, WIDTH};
use frontdesk::config::Settings;
use frontdesk::domain::{
    Attendance, AttendanceStatus, ClassSession, Client, ClientStatus, Currency, Email, Money,
    ObjectId, Order, OrderNumber, OrderStatus, Payment, PaymentMethod, PaymentStatus, PersonName,
};
use frontdesk::gateway::platforms;
use frontdesk::tools::{AgentKind, Caller};
use frontdesk_chat::Platform;
use frontdesk_fakes::discord::{FakeDiscord, IncomingMessage};
use frontdesk_fakes::slack::{self, EventBuilder, FakeSlack};
use frontdesk_fakes::telegram::{FakeTelegram, UserMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::agents::local;
use crate::gateway::start_adapters;
use crate::harness::{demo_now, ist, TestApi, TestDb};

const WAIT: Duration = Duration::from_secs(30);

// --- helpers -------------------------------------------------------------------------

/// What a decoded PNG looks like: its size, how many distinct colours it has and the
/// share of its pixels that are not white.
struct Decoded {
    width: u32,
    height: u32,
    colours: usize,
    inked: f64,
}

fn decode(bytes: &[u8]) -> Decoded {
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let colours: HashSet<&[u8]> = pixels.iter().copied().collect();
    let inked =
        pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count() as f64 / pixels.len() as f64;
    Decoded {
        width: info.width,
        height: info.height,
        colours: colours.len(),
        inked,
    }
}

/// A real chart: the fixed size, anti-aliased text and lines (many colours) and a fair
/// amount of ink, but not a filled canvas.
fn assert_real_chart(bytes: &[u8], what: &str) {
    let d = decode(bytes);
    assert_eq!((d.width, d.height), (WIDTH, HEIGHT), "{what}");
    assert_eq!((d.width, d.height), (800, 450), "{what}");
    assert!(d.colours > 40, "{what}: only {} colours", d.colours);
    assert!(
        d.inked > 0.01 && d.inked < 0.6,
        "{what}: {:.3} of the pixels are inked",
        d.inked
    );
}

fn settings() -> Settings {
    crate::harness::settings(&[])
}

/// The agents, ranking courses and instructors over a single class: these fixtures are
/// small. [`agents_ranking_from`] sets another minimum.
fn agents(db: &TestDb) -> Agents {
    agents_ranking_from(db, 1)
}

fn agents_ranking_from(db: &TestDb, min_to_rank: u64) -> Agents {
    let s = settings();
    let mut studio = s.studio.clone();
    studio.min_to_rank = min_to_rank;
    Agents::new(db.store.clone(), s.clock(), studio, &s.llm, 24)
}

async fn dashboard(agents: &Agents, text: &str) -> AgentReply {
    agents
        .handle(AgentRequest {
            agent: AgentKind::Dashboard,
            caller: Caller::manager(),
            text: text.to_owned(),
            conversation: None,
            event_id: None,
        })
        .await
}

/// The reply's chart, checked to be a real PNG of the given kind and title.
fn chart_of(reply: &AgentReply, kind: ChartKind, title: &str) {
    let chart = reply
        .chart
        .as_ref()
        .unwrap_or_else(|| panic!("no chart for {:?}: {}", reply.intent, reply.answer));
    assert_eq!(chart.kind, kind, "{title}");
    assert_eq!(chart.title, title);
    assert_real_chart(&chart.png, title);
}

/// Asks the Dashboard Agent `question` and checks the whole answer and the chart that
/// comes with it (see [`chart_of`]); the reply is returned for further checks.
async fn golden(
    agents: &Agents,
    question: &str,
    answer: &str,
    kind: ChartKind,
    title: &str,
) -> AgentReply {
    let reply = dashboard(agents, question).await;
    assert_eq!(reply.answer, answer, "{question}");
    chart_of(&reply, kind, title);
    reply
}

fn inr(rupees: i64) -> Money {
    Money::new(rupees * 100, Currency::INR).unwrap()
}

fn payment(n: u32, course: &str, rupees: i64, status: PaymentStatus, at: DateTime<Utc>) -> Payment {
    Payment {
        id: ObjectId::new(),
        order_id: ObjectId::new(),
        order_number: OrderNumber::new(30_000 + n).unwrap(),
        client_id: ObjectId::new(),
        course_id: ObjectId::new(),
        course_name: course.to_owned(),
        amount: inr(rupees),
        method: PaymentMethod::Upi,
        status,
        due_at: at,
        paid_at: (status == PaymentStatus::Paid).then_some(at),
        provider_ref: None,
        link_url: None,
        created_at: at,
        idempotency_key: None,
    }
}

fn record(class: &ClassSession, status: AttendanceStatus) -> Attendance {
    Attendance {
        id: ObjectId::new(),
        class_id: class.id,
        client_id: ObjectId::new(),
        course_id: class.course_id,
        course_name: class.course_name.clone(),
        class_starts_at: class.starts_at(),
        status,
        marked_at: class.starts_at(),
    }
}

fn class(
    course: (ObjectId, &str),
    at: DateTime<Utc>,
    instructor: &str,
    capacity: u32,
) -> ClassSession {
    ClassSession::new(
        course.0,
        course.1,
        at,
        at + chrono::Duration::hours(1),
        instructor,
        "Studio A",
        capacity,
    )
    .unwrap()
}

/// Writes the classes of `plan` and one attendance record per status of each; returns
/// both as written.
async fn insert_classes(
    db: &TestDb,
    plan: &[(ClassSession, Vec<AttendanceStatus>)],
) -> (Vec<ClassSession>, Vec<Attendance>) {
    let classes: Vec<ClassSession> = plan.iter().map(|(c, _)| c.clone()).collect();
    let records: Vec<Attendance> = plan
        .iter()
        .flat_map(|(c, statuses)| statuses.iter().map(|s| record(c, *s)))
        .collect();
    for c in &classes {
        db.store.insert_class(c).await.unwrap();
    }
    db.store.record_attendance(&records).await.unwrap();
    (classes, records)
}

// --- rendering -------------------------------------------------------------------------

#[test]
fn every_kind_of_chart_is_a_png_of_the_fixed_size_and_not_blank() {
    let months = ["Jun", "Jul", "Aug", "Sep", "Oct", "Nov"];
    let courses = [
        "Yoga Beginner",
        "Vinyasa Flow",
        "Pilates Intermediate for Strong Backs and Shoulders",
        "Zumba",
        "Yin Yoga",
        "Strength Training",
        "Mindful Meditation",
        "HIIT Bootcamp",
        "Barre",
        "Kids Yoga",
        "Aerial",
        "Prenatal",
    ];
    let specs = [
        ChartSpec::line(
            "Revenue per month",
            "Month",
            "Revenue",
            Unit::Money(Currency::INR),
            months
                .iter()
                .enumerate()
                .map(|(i, m)| Point::new(*m, (i as f64 + 1.0) * 1_234_500.0))
                .collect(),
        ),
        ChartSpec::line(
            "New clients per week",
            "Week starting",
            "New clients",
            Unit::Count,
            (0..13)
                .map(|i| Point::new(format!("{} Sep", 1 + i), f64::from(i % 4)))
                .collect(),
        ),
        ChartSpec::line(
            "One month",
            "Month",
            "Revenue",
            Unit::Money(Currency::USD),
            vec![Point::new("Nov", 500.0)],
        ),
        ChartSpec::bar(
            "Attendance by course",
            "Course",
            "Attendance",
            Unit::Percent,
            vec![
                Point::new("Pilates", 86.5),
                Point::new("Yoga", 40.0),
                Point::new("Zumba", 100.0),
            ],
        ),
        ChartSpec::bar(
            "Revenue by course",
            "Course",
            "Revenue",
            Unit::Money(Currency::INR),
            courses
                .iter()
                .enumerate()
                .map(|(i, c)| Point::new(*c, 4_000_000.0 - i as f64 * 300_000.0))
                .collect(),
        ),
        ChartSpec::bar(
            "Nothing yet",
            "Course",
            "Enrollments",
            Unit::Count,
            vec![Point::new("A", 0.0), Point::new("B", 0.0)],
        ),
    ];
    for spec in specs {
        let chart = spec.render().unwrap();
        assert_eq!((chart.width, chart.height), (WIDTH, HEIGHT));
        assert_eq!(chart.kind, spec.kind);
        assert!(chart.alt.contains(&spec.title), "{}", chart.alt);
        assert_real_chart(&chart.png, &spec.title);
    }
}

#[test]
fn a_blank_canvas_does_not_pass_for_a_chart() {
    // The check above must be able to fail: a white PNG of the right size has one colour.
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&vec![255; (WIDTH * HEIGHT * 3) as usize])
            .unwrap();
    }
    let d = decode(&out);
    assert_eq!((d.colours, d.inked), (1, 0.0));
}

// --- golden answers ------------------------------------------------------------------

#[tokio::test]
async fn revenue_trend_for_the_last_6_months_is_a_line_chart_with_monthly_totals() {
    let db = TestDb::new().await;
    let paid = PaymentStatus::Paid;
    let payments = vec![
        // Before 1 June (local): outside the six months.
        payment(1, "Pilates", 8_000, paid, local(2026, 5, 31, 23)),
        payment(2, "Pilates", 1_500, paid, local(2026, 6, 1, 0)),
        payment(3, "Zumba", 2_000, paid, local(2026, 8, 10, 9)),
        payment(4, "Zumba", 500, paid, local(2026, 8, 31, 23)),
        payment(5, "Yoga Beginner", 3_000, paid, local(2026, 9, 15, 9)),
        payment(
            6,
            "Yoga Beginner",
            5_000,
            PaymentStatus::Pending,
            local(2026, 9, 20, 9),
        ),
        payment(7, "Pilates", 4_000, paid, local(2026, 10, 5, 9)),
        payment(8, "Pilates", 1_000, paid, local(2026, 11, 3, 9)),
        // Late in October: in the whole month, not in its stretch to the 25th.
        payment(10, "Zumba", 500, paid, local(2026, 10, 28, 9)),
        // After now: not yet.
        payment(9, "Pilates", 700, paid, local(2026, 11, 26, 10)),
    ];
    db.store.import_payments(&payments).await.unwrap();

    // The monthly totals, computed here from the documents.
    let start = local(2026, 6, 1, 0);
    let mut by_month: BTreeMap<String, i64> =
        (6..=11).map(|m| (format!("2026-{m:02}"), 0)).collect();
    for p in &payments {
        let Some(at) = p.paid_at else { continue };
        if p.status == PaymentStatus::Paid && start <= at && at < demo_now() {
            let month = at.with_timezone(&ist()).format("%Y-%m").to_string();
            *by_month.get_mut(&month).unwrap() += p.amount.minor();
        }
    }
    let expected: Vec<i64> = by_month.values().copied().collect();
    assert_eq!(expected, [150_000, 0, 250_000, 300_000, 450_000, 100_000]);

    let reply = golden(
        &agents(&db),
        "revenue trend for the last 6 months",
        "Revenue per month, 1 Jun – 25 Nov 2026 so far (to 15:30): ₹12,500 in all. \
         1–25 Nov 2026 so far (to 15:30): ₹1,000, against ₹4,000 in 1–25 Oct 2026 to the same time (15:30) (-₹3,000, -75.0%). \
         Best: Oct 2026 at ₹4,500; worst: Jul 2026 at ₹0 — ₹4,500 apart.\n\
         • Jun 2026 — ₹1,500\n\
         • Jul 2026 — ₹0\n\
         • Aug 2026 — ₹2,500\n\
         • Sep 2026 — ₹3,000\n\
         • Oct 2026 — ₹4,500\n\
         • Nov 2026 (so far) — ₹1,000",
        ChartKind::Line,
        "Revenue per month, 1 Jun – 25 Nov 2026 so far (to 15:30)",
    )
    .await;
    assert_eq!(reply.intent, "revenue");
    assert_eq!(
        reply.tool_calls[0].args,
        json!({"by": "month", "months": 6})
    );
    let months: Vec<i64> = reply.tool_calls[0].result["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["total_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(months, expected);
}

#[tokio::test]
async fn this_month_vs_last_month_and_the_breakdown_by_course() {
    let db = TestDb::new().await;
    let paid = PaymentStatus::Paid;
    let payments = vec![
        payment(1, "Pilates", 3_000, paid, local(2026, 11, 2, 10)),
        payment(2, "Yoga Beginner", 1_500, paid, local(2026, 11, 20, 10)),
        // Later today (now is 15:30 local): not yet.
        payment(3, "Pilates", 999, paid, local(2026, 11, 25, 16)),
        payment(4, "Pilates", 4_000, paid, local(2026, 10, 3, 10)),
        payment(5, "Zumba", 2_000, paid, local(2026, 10, 25, 10)),
        // After the same stretch of last month (1–25 Oct).
        payment(6, "Zumba", 10_000, paid, local(2026, 10, 28, 10)),
    ];
    db.store.import_payments(&payments).await.unwrap();
    let sum = |from: DateTime<Utc>, to: DateTime<Utc>| -> i64 {
        payments
            .iter()
            .filter(|p| p.paid_at.is_some_and(|at| from <= at && at < to))
            .map(|p| p.amount.minor())
            .sum()
    };
    let now = sum(local(2026, 11, 1, 0), demo_now());
    let before = sum(local(2026, 10, 1, 0), demo_now() - chrono::Months::new(1));
    assert_eq!((now, before), (450_000, 600_000));
    let agents = agents(&db);

    let reply = golden(
        &agents,
        "this month vs last month",
        "Revenue for 1–25 Nov 2026 so far (to 15:30): ₹4,500 from 2 payments. \
         Against 1–25 Oct 2026 to the same time (15:30): ₹6,000 (-₹1,500, -25.0%).",
        ChartKind::Bar,
        "Revenue: 1–25 Nov 2026 so far (to 15:30) vs 1–25 Oct 2026 to the same time (15:30)",
    )
    .await;
    assert_eq!(reply.intent, "revenue");

    golden(
        &agents,
        "revenue by course this month",
        "Revenue for 1–25 Nov 2026 so far (to 15:30): ₹4,500 from 2 payments. \
         Against 1–25 Oct 2026 to the same time (15:30): ₹6,000 (-₹1,500, -25.0%). \
         Best: Pilates at ₹3,000; worst: Yoga Beginner at ₹1,500 — ₹1,500 apart (Pilates is 100.0% higher).\n\
         • Pilates — ₹3,000 (1)\n\
         • Yoga Beginner — ₹1,500 (1)",
        ChartKind::Bar,
        "Revenue by course, 1–25 Nov 2026 so far (to 15:30)",
    )
    .await;

    // A single figure is not a trend or a breakdown: no chart.
    let reply = dashboard(&agents, "revenue this month").await;
    assert!(reply.chart.is_none(), "{}", reply.answer);
}

#[tokio::test]
async fn attendance_by_course_this_month_is_a_bar_chart_with_best_and_worst() {
    let db = TestDb::new().await;
    let (pilates, yoga, zumba) = (
        (ObjectId::new(), "Pilates"),
        (ObjectId::new(), "Yoga Beginner"),
        (ObjectId::new(), "Zumba"),
    );
    use AttendanceStatus::{Absent as A, Late as L, Present as P};
    let plan = [
        (
            class(pilates, local(2026, 11, 3, 7), "Ana", 10),
            vec![P, P, L, A],
        ),
        (class(yoga, local(2026, 11, 4, 7), "Ana", 10), vec![P, A]),
        (
            class(zumba, local(2026, 11, 5, 18), "Sofia", 10),
            vec![P, L, A, A, A],
        ),
        // Last month, and later today: outside this month to date.
        (
            class(zumba, local(2026, 10, 30, 18), "Sofia", 10),
            vec![P, P, P],
        ),
        (class(yoga, local(2026, 11, 25, 18), "Ana", 10), vec![P, P]),
    ];
    let (_, records) = insert_classes(&db, &plan).await;

    // Per course: attended (present or late) of booked, this month to date.
    let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in &records {
        if local(2026, 11, 1, 0) <= r.class_starts_at && r.class_starts_at < demo_now() {
            let e = by.entry(r.course_name.as_str()).or_default();
            e.0 += u64::from(r.status.attended());
            e.1 += 1;
        }
    }
    assert_eq!(
        by.into_iter().collect::<Vec<_>>(),
        [
            ("Pilates", (3, 4)),
            ("Yoga Beginner", (1, 2)),
            ("Zumba", (2, 5))
        ]
    );

    let reply = golden(
        &agents(&db),
        "attendance by course this month",
        "Attendance for all classes in 1–25 Nov 2026 so far (to 15:30): 54.5% (6 of 11 bookings attended). \
         Best: Pilates at 75.0% (4 bookings); worst: Zumba at 40.0% (5 bookings) — 35.0 pts apart (Pilates is 87.5% higher).\n\
         • Pilates — 75.0% (3/4)\n\
         • Yoga Beginner — 50.0% (1/2)\n\
         • Zumba — 40.0% (2/5)",
        ChartKind::Bar,
        "Attendance by course, 1–25 Nov 2026 so far (to 15:30)",
    )
    .await;
    assert_eq!(reply.intent, "attendance_rate");
}

#[tokio::test]
async fn which_instructors_classes_fill_best_and_the_fill_rate_by_course() {
    let db = TestDb::new().await;
    let (pilates, yoga, zumba) = (
        (ObjectId::new(), "Pilates"),
        (ObjectId::new(), "Yoga Beginner"),
        (ObjectId::new(), "Zumba"),
    );
    use AttendanceStatus::{Absent as A, Late as L, Present as P};
    let mut cancelled = class(zumba, local(2026, 11, 7, 18), "Sofia", 10);
    cancelled.cancelled = true;
    let came = |n: usize, late: usize, absent: usize| {
        let mut v = vec![P; n];
        v.extend(vec![L; late]);
        v.extend(vec![A; absent]);
        v
    };
    let plan = [
        (
            class(pilates, local(2026, 11, 3, 7), "Ana", 10),
            came(8, 1, 1),
        ),
        (class(yoga, local(2026, 11, 4, 7), "Ana", 10), came(8, 0, 0)),
        (
            class(zumba, local(2026, 11, 5, 18), "Sofia", 10),
            came(4, 1, 2),
        ),
        (
            class(pilates, local(2026, 11, 6, 7), "Rahul", 8),
            came(6, 0, 1),
        ),
        (cancelled, came(0, 0, 0)),
        (
            class(pilates, local(2026, 10, 20, 7), "Rahul", 10),
            came(10, 0, 0),
        ),
    ];
    let (classes, records) = insert_classes(&db, &plan).await;

    // Seats and attendees per instructor, from the documents.
    let mut by: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for c in &classes {
        if c.cancelled || c.starts_at() < local(2026, 11, 1, 0) || c.starts_at() >= demo_now() {
            continue;
        }
        let attended = records
            .iter()
            .filter(|r| r.class_id == c.id && r.status.attended())
            .count() as u64;
        let e = by.entry(c.instructor.as_str()).or_default();
        e.0 += 1;
        e.1 += u64::from(c.capacity);
        e.2 += attended;
    }
    assert_eq!(
        by.into_iter().collect::<Vec<_>>(),
        [
            ("Ana", (2, 20, 17)),
            ("Rahul", (1, 8, 6)),
            ("Sofia", (1, 10, 5))
        ]
    );
    let agents = agents(&db);

    let reply = golden(
        &agents,
        "which instructor's classes fill best",
        "Ana's classes fill best in 1–25 Nov 2026 so far (to 15:30): 85.0% (17 of 20 seats over 2 classes). \
         Overall for all classes: 73.7% (28 attendees for 38 seats over 4 classes). \
         Best: Ana at 85.0% (2 classes); worst: Sofia at 50.0% (1 class) — 35.0 pts apart (Ana is 70.0% higher).\n\
         • Ana — 85.0% (17/20, 2 classes)\n\
         • Rahul — 75.0% (6/8, 1 class)\n\
         • Sofia — 50.0% (5/10, 1 class)",
        ChartKind::Bar,
        "Fill rate by instructor, 1–25 Nov 2026 so far (to 15:30)",
    )
    .await;
    assert_eq!(reply.intent, "class_fill_rate");

    golden(
        &agents,
        "fill rate by course this month",
        "Fill rate for all classes in 1–25 Nov 2026 so far (to 15:30): 73.7% (28 attendees for 38 seats over 4 classes). \
         Best: Pilates at 83.3% (2 classes); worst: Zumba at 50.0% (1 class) — 33.3 pts apart (Pilates is 66.6% higher).\n\
         • Pilates (Ana, Rahul) — 83.3% (2 classes)\n\
         • Yoga Beginner (Ana) — 80.0% (1 class)\n\
         • Zumba (Sofia) — 50.0% (1 class)",
        ChartKind::Bar,
        "Fill rate by course, 1–25 Nov 2026 so far (to 15:30)",
    )
    .await;
}

#[tokio::test]
async fn classes_without_an_instructor_are_shown_as_no_instructor() {
    let db = TestDb::new().await;
    let yoga = (ObjectId::new(), "Yoga Beginner");
    let plan = [
        // No instructor: 8 of 10 seats; Ana: 4 of 10.
        (
            class(yoga, local(2026, 11, 3, 7), "", 10),
            vec![AttendanceStatus::Present; 8],
        ),
        (
            class(yoga, local(2026, 11, 4, 7), "Ana", 10),
            vec![AttendanceStatus::Present; 4],
        ),
    ];
    insert_classes(&db, &plan).await;

    // One class each: shown, but too few to call one best (the default minimum is 3).
    let reply = golden(
        &agents_ranking_from(&db, 3),
        "which instructor's classes fill best",
        "Fill rate for all classes in 1–25 Nov 2026 so far (to 15:30): 60.0% (12 attendees for 20 seats over 2 classes). \
         Too few classes to rank them: a fair ranking needs at least 3 classes each.\n\
         • No instructor — 80.0% (8/10, 1 class)\n\
         • Ana — 40.0% (4/10, 1 class)",
        ChartKind::Bar,
        "Fill rate by instructor, 1–25 Nov 2026 so far (to 15:30)",
    )
    .await;
    assert_eq!(reply.intent, "class_fill_rate");
    // The chart's bar is labelled too (its alt text lists each label and figure).
    let alt = &reply.chart.as_ref().unwrap().alt;
    assert!(alt.contains(": No instructor 80.0%, Ana 40.0%"), "{alt}");
    // The figures themselves keep the report's empty name: only what is shown changes.
    let lines = &reply.tool_calls[0].result["report"]["by_instructor"];
    assert_eq!(lines[0]["instructor"], "", "{lines}");
    assert_eq!(lines[1]["instructor"], "Ana", "{lines}");

    // By course, a course taught by nobody gets no empty brackets: 5 of 10 seats.
    let zumba = (ObjectId::new(), "Zumba");
    let more = [(
        class(zumba, local(2026, 11, 5, 18), "", 10),
        vec![AttendanceStatus::Present; 5],
    )];
    insert_classes(&db, &more).await;
    golden(
        &agents(&db),
        "fill rate by course this month",
        "Fill rate for all classes in 1–25 Nov 2026 so far (to 15:30): 56.7% (17 attendees for 30 seats over 3 classes). \
         Best: Yoga Beginner at 60.0% (2 classes); worst: Zumba at 50.0% (1 class) — 10.0 pts apart (Yoga Beginner is 20.0% higher).\n\
         • Yoga Beginner (Ana) — 60.0% (2 classes)\n\
         • Zumba — 50.0% (1 class)",
        ChartKind::Bar,
        "Fill rate by course, 1–25 Nov 2026 so far (to 15:30)",
    )
    .await;
}

#[tokio::test]
async fn new_clients_per_week_since_september_is_a_line_chart() {
    let db = TestDb::new().await;
    let joined = [
        local(2026, 8, 31, 23), // before September: out
        local(2026, 9, 1, 9),
        local(2026, 9, 6, 23), // Sunday: still the first week
        local(2026, 9, 7, 0),  // Monday: the second week
        local(2026, 9, 16, 9), // a lead counts too
        local(2026, 10, 14, 9),
        local(2026, 10, 14, 10),
        local(2026, 10, 17, 9),
        local(2026, 11, 24, 9),
        local(2026, 11, 25, 18), // later today: out
        local(2026, 9, 15, 9),   // deleted: out
    ];
    let mut clients = Vec::new();
    for (i, at) in joined.iter().enumerate() {
        let status = if i == 4 {
            ClientStatus::Lead
        } else {
            ClientStatus::Active
        };
        let mut c = Client::new(
            PersonName::parse(&format!("Weekly Member {i:02}")).unwrap(),
            Email::parse(&format!("weekly{i}@example.com")).unwrap(),
            status,
            *at,
        );
        if i == 10 {
            c.deleted_at = Some(demo_now());
        }
        db.store.insert_client(&c).await.unwrap();
        clients.push(c);
    }

    // Weeks from 1 Sep (a Tuesday), then each Monday, to today; counts from the documents.
    let first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let mut weeks: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    let mut day = first;
    while day <= NaiveDate::from_ymd_opt(2026, 11, 25).unwrap() {
        if day == first || day.weekday() == chrono::Weekday::Mon {
            weeks.insert(day, 0);
        }
        day = day.succ_opt().unwrap();
    }
    for c in &clients {
        if c.deleted_at.is_some() || c.joined_at < local(2026, 9, 1, 0) || c.joined_at >= demo_now()
        {
            continue;
        }
        let date = c.joined_at.with_timezone(&ist()).date_naive();
        let week = *weeks.keys().rfind(|w| **w <= date).unwrap();
        *weeks.get_mut(&week).unwrap() += 1;
    }
    let counts: Vec<u64> = weeks.values().copied().collect();
    assert_eq!(counts, [2, 1, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 1]);
    // The first week (from a Tuesday) and the running one are marked, and not ranked.
    let last = *weeks.keys().last().unwrap();
    let bullets: Vec<String> = weeks
        .iter()
        .map(|(d, n)| {
            let note = if *d == first {
                " (part)"
            } else if *d == last {
                " (so far)"
            } else {
                ""
            };
            format!("• {}{note} — {n}", d.format("%-d %b"))
        })
        .collect();
    let whole: Vec<u64> = counts[1..counts.len() - 1].to_vec();
    let zeros = whole.iter().filter(|n| **n == 0).count();
    assert_eq!(zeros, 8);
    // Per seven days covered: 1 Sep 00:00 to 25 Nov 15:30 is 85 days and 15.5 hours.
    let average = 8.0 / ((85.0 + 15.5 / 24.0) / 7.0);
    let answer = format!(
        "New clients per week, 1 Sep – 25 Nov 2026 so far (to 15:30): 8 in all, {average:.1} a week on average. \
         Best: week of 12 Oct at 3; worst: {zeros} of them (tied) at 0 — 3 apart.\n{}",
        bullets.join("\n")
    );
    let reply = golden(
        &agents(&db),
        "new clients per week since September",
        &answer,
        ChartKind::Line,
        "New clients per week, 1 Sep – 25 Nov 2026 so far (to 15:30)",
    )
    .await;
    assert_eq!(reply.intent, "new_clients");
}

#[tokio::test]
async fn best_and_worst_course_by_enrollment_with_the_gap() {
    let db = TestDb::new().await;
    let people: Vec<ObjectId> = (0..3).map(|_| ObjectId::new()).collect();
    let courses = [
        (
            ObjectId::new(),
            "Pilates",
            vec![
                (0, OrderStatus::Confirmed),
                (1, OrderStatus::Pending),
                (2, OrderStatus::Completed),
            ],
        ),
        (
            ObjectId::new(),
            "Yoga Beginner",
            vec![(0, OrderStatus::Confirmed), (0, OrderStatus::Completed)],
        ),
        (
            ObjectId::new(),
            "Zumba",
            vec![(1, OrderStatus::Confirmed), (2, OrderStatus::Cancelled)],
        ),
    ];
    let mut orders = Vec::new();
    for (id, name, list) in &courses {
        for (who, status) in list {
            let n = orders.len() as u32;
            orders.push(Order {
                id: ObjectId::new(),
                number: OrderNumber::new(40_000 + n).unwrap(),
                client_id: people[*who],
                course_id: *id,
                course_name: (*name).to_owned(),
                status: *status,
                amount: inr(3_000),
                created_at: local(2026, 11, 2 + n, 9),
                updated_at: local(2026, 11, 2 + n, 9),
                idempotency_key: None,
            });
        }
    }
    db.store.import_orders(&orders).await.unwrap();
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for o in orders.iter().filter(|o| o.status != OrderStatus::Cancelled) {
        *by.entry(o.course_name.as_str()).or_default() += 1;
    }
    assert_eq!(
        by.into_iter().collect::<Vec<_>>(),
        [("Pilates", 3), ("Yoga Beginner", 2), ("Zumba", 1)]
    );

    let reply = golden(
        &agents(&db),
        "best and worst course",
        "Pilates has the highest enrollment (all time): 3 enrollments. \
         Best: Pilates at 3; worst: Zumba at 1 — 2 apart (Pilates is 200.0% higher).\n\
         1. Pilates — 3 enrollments (3 clients)\n\
         2. Yoga Beginner — 2 enrollments (1 clients)\n\
         3. Zumba — 1 enrollments (1 clients)",
        ChartKind::Bar,
        "Enrollments by course, all time",
    )
    .await;
    assert_eq!(reply.intent, "course_enrollment");
}

// --- where the chart goes --------------------------------------------------------------

/// Two payments this month by course: a short answer with a chart.
async fn two_courses_this_month(db: &TestDb) {
    let paid = PaymentStatus::Paid;
    db.store
        .import_payments(&[
            payment(1, "Pilates", 3_000, paid, local(2026, 11, 2, 10)),
            payment(2, "Yoga Beginner", 1_500, paid, local(2026, 11, 20, 10)),
        ])
        .await
        .unwrap();
}

#[tokio::test]
async fn the_rest_api_returns_the_chart_as_base64_png() {
    let db = TestDb::new().await;
    two_courses_this_month(&db).await;
    let api = TestApi::spawn(db).await;
    let token = api.token("manager", "m1");
    let ask = |query: &'static str| {
        let (api, token) = (&api, &token);
        async move {
            let res = api
                .http
                .post(api.url("/api/agents/dashboard/query"))
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.unwrap()
        }
    };
    let body = ask("revenue by course this month").await;
    let chart = &body["chart"];
    assert_eq!(chart["mime_type"], "image/png", "{body}");
    assert_eq!(chart["kind"], "bar");
    assert_eq!(
        chart["title"],
        "Revenue by course, 1–25 Nov 2026 so far (to 15:30)"
    );
    assert_eq!(
        (chart["width"].as_u64(), chart["height"].as_u64()),
        (Some(800), Some(450))
    );
    assert!(
        chart["alt"].as_str().unwrap().contains("Pilates ₹3,000"),
        "{chart}"
    );
    let png = base64::engine::general_purpose::STANDARD
        .decode(chart["data_base64"].as_str().unwrap())
        .unwrap();
    assert_real_chart(&png, "REST chart");

    let body = ask("revenue this month").await;
    assert!(body["chart"].is_null(), "{body}");
    assert!(body.as_object().unwrap().contains_key("chart"));
}

#[tokio::test]
async fn discord_gets_the_chart_as_an_attachment_in_an_embed() {
    let db = TestDb::new().await;
    two_courses_this_month(&db).await;
    let fake = FakeDiscord::start("discord-test-token").await;
    let mut adapters = start_adapters(
        &db,
        &[
            ("DISCORD_TOKEN", "discord-test-token"),
            ("DISCORD_API_URL", &fake.api_url()),
        ],
    )
    .await;
    fake.wait_for_identify(1, WAIT).await;

    fake.push_message(
        &IncomingMessage::in_guild(1, 900, 222, "revenue by course this month").with_id(7001),
    );
    let sent = fake.wait_for_messages(1, WAIT).await;
    let message = &sent[0];
    assert!(
        message
            .content()
            .starts_with("Revenue for 1–25 Nov 2026 so far (to 15:30): ₹4,500"),
        "{}",
        message.content()
    );
    let embeds = message.embeds();
    assert_eq!(
        embeds.len(),
        2,
        "a table embed and an image embed: {:?}",
        message.payload
    );
    let file_name = "revenue-by-course-1-25-nov-2026-so-far-to-15-30.png";
    assert_eq!(
        embeds[1]["image"]["url"],
        format!("attachment://{file_name}")
    );
    assert_eq!(
        embeds[1]["description"],
        "Revenue by course, 1–25 Nov 2026 so far (to 15:30)"
    );
    assert_eq!(message.files.len(), 1, "one multipart file");
    assert_eq!(message.files[0].file_name.as_deref(), Some(file_name));
    assert_real_chart(&message.files[0].bytes, "discord attachment");
    adapters.tasks.shutdown().await;
}

#[tokio::test]
async fn slack_uploads_the_chart_into_the_thread_with_the_external_upload_flow() {
    let db = TestDb::new().await;
    two_courses_this_month(&db).await;
    let fake = FakeSlack::start().await;
    let mut adapters = start_adapters(
        &db,
        &[
            ("SLACK_BOT_TOKEN", slack::BOT_TOKEN),
            ("SLACK_APP_TOKEN", slack::APP_TOKEN),
            ("SLACK_API_URL", &fake.api_url()),
        ],
    )
    .await;
    fake.wait_for_socket_connections(1, WAIT).await;

    let event = EventBuilder::channel_message(
        "C_MGMT",
        "U_ASHA",
        "revenue by course this month",
        "1764064900.000100",
    );
    fake.push_event(event.callback()).await;
    let complete = fake
        .wait_for_delivered("files.completeUploadExternal", 1, WAIT)
        .await;
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert!(posts[0].param("text").unwrap().contains("₹4,500"));

    // The sequence: ask for an upload URL, send the bytes there, then share the file.
    let methods: Vec<String> = fake
        .calls()
        .into_iter()
        .map(|c| c.method)
        .filter(|m| m.starts_with("files.") || m == "upload")
        .collect();
    assert_eq!(
        methods,
        [
            "files.getUploadURLExternal",
            "upload",
            "files.completeUploadExternal"
        ]
    );
    let upload = fake.delivered("upload");
    assert_real_chart(&upload[0].raw_body, "slack upload");
    let get_url = fake.delivered("files.getUploadURLExternal");
    assert_eq!(
        get_url[0].param("length"),
        Some(upload[0].raw_body.len().to_string())
    );
    assert_eq!(
        get_url[0].param("filename").as_deref(),
        Some("revenue-by-course-1-25-nov-2026-so-far-to-15-30.png")
    );
    let body = &complete[0].body;
    assert_eq!(body["channel_id"], "C_MGMT", "{body}");
    assert!(body["thread_ts"].is_string(), "{body}");
    assert_eq!(body["thread_ts"], posts[0].body["thread_ts"], "{body}");
    assert_eq!(
        body["initial_comment"],
        "Revenue by course, 1–25 Nov 2026 so far (to 15:30)"
    );
    adapters.tasks.shutdown().await;
}

#[tokio::test]
async fn telegram_sends_the_chart_as_a_photo_captioned_with_the_answer() {
    let db = TestDb::new().await;
    two_courses_this_month(&db).await;
    let token = "123456:telegram-test-token";
    let fake = FakeTelegram::start(token).await;
    let mut adapters = start_adapters(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", token),
            ("TELEGRAM_API_URL", fake.base_url()),
        ],
    )
    .await;
    let running = adapters
        .status
        .iter()
        .find(|s| s.platform == Platform::Telegram)
        .unwrap();
    assert!(
        matches!(running.state, platforms::AdapterState::Running(_)),
        "{:?}",
        running.state
    );

    // 111 is Asha, a manager: her direct messages reach the dashboard.
    fake.push_message(&UserMessage::private(
        111,
        "Asha",
        "revenue by course this month",
    ));
    let sent = fake.wait_for_sent(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_now = fake.sent();
    assert_eq!(
        sent_now.len(),
        1,
        "one photo with the answer as caption: {sent:?}"
    );
    let photo = &sent_now[0];
    assert!(photo.method.eq_ignore_ascii_case("sendPhoto"), "{photo:?}");
    assert_eq!(photo.parse_mode.as_deref(), Some("MarkdownV2"));
    let caption = photo.plain_text();
    assert!(
        caption.starts_with("Revenue for 1–25 Nov 2026 so far (to 15:30): ₹4,500 from 2 payments."),
        "{caption}"
    );
    assert!(
        caption.contains("Yoga Beginner"),
        "the table is in the caption too: {caption}"
    );
    let (name, len) = photo.photo.clone().unwrap();
    assert_eq!(name, "revenue-by-course-1-25-nov-2026-so-far-to-15-30.png");
    let bytes = photo.photo_bytes.clone().unwrap();
    assert_eq!(bytes.len(), len);
    assert_real_chart(&bytes, "telegram photo");
    adapters.tasks.shutdown().await;
}
