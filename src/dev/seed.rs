//! Deterministic demo data: `frontdesk seed`. The same `--seed` and clock always give the
//! same studio: ten courses across yoga, pilates, strength, dance and meditation, a
//! year of weekly classes with attendance, orders, payments (some pending and overdue),
//! new clients this month and clients who stopped coming.
//!
//! Guarantees (INTERFACES.md): client Priya Sharma `priya@example.com`, order #12345,
//! courses Yoga Beginner and Pilates with classes this week, pending payments, new
//! clients this month, clients inactive for 30+ days, attendance at Pilates classes.
//! A second Priya (Priya Patel) exists so ambiguous names can be tested.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Utc, Weekday};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::domain::{
    Attendance, AttendanceStatus, ClassSession, Client, ClientStatus, Course, CourseCategory,
    CourseLevel, Currency, Email, Enrollment, Money, ObjectId, Order, OrderNumber, OrderStatus,
    Payment, PaymentMethod, PaymentStatus, PersonName, Phone, WeeklySlot,
};
use crate::store::{AttendanceCounts, Store, StoreError, Visit};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub clients: usize,
    pub seed: u64,
    pub now: DateTime<Utc>,
    pub offset: FixedOffset,
    pub currency: Currency,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// How many documents of each kind were written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    pub clients: usize,
    pub courses: usize,
    pub classes: usize,
    pub orders: usize,
    pub payments: usize,
    pub attendance: usize,
}

/// The order number the demo data always has (Priya Sharma's Pilates order).
pub const DEMO_ORDER_NUMBER: u32 = 12_345;
/// Clients per timetable section: a bigger studio runs the timetable in more rooms.
const CLIENTS_PER_SECTION: usize = 700;
/// Weeks a course order runs.
const COURSE_WEEKS: i64 = 12;
const BATCH: usize = 5_000;

const FIRST_NAMES: &[&str] = &[
    "Aarav", "Vivaan", "Aditya", "Arjun", "Sai", "Reyansh", "Ishaan", "Kabir", "Rohan", "Vikram",
    "Ananya", "Diya", "Aditi", "Kavya", "Isha", "Meera", "Nisha", "Pooja", "Riya", "Sneha",
    "Tanvi", "Lakshmi", "Neha", "Anjali", "Emma", "Olivia", "Sophia", "Mia", "Lucas", "Noah",
    "Liam", "Ethan", "Chloe", "Hannah", "Yuki", "Hiro", "Mei", "Chen", "Fatima", "Omar", "Layla",
    "Amara", "Kwame", "Zara", "Mateo", "Sofia", "Lena", "Jonas", "Ines", "Nadia",
];
const LAST_NAMES: &[&str] = &[
    "Sharma",
    "Verma",
    "Gupta",
    "Iyer",
    "Nair",
    "Reddy",
    "Rao",
    "Patel",
    "Shah",
    "Mehta",
    "Kapoor",
    "Malhotra",
    "Singh",
    "Kaur",
    "Das",
    "Banerjee",
    "Chatterjee",
    "Menon",
    "Pillai",
    "Joshi",
    "Kulkarni",
    "Desai",
    "Bose",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "Martinez",
    "Rossi",
    "Müller",
    "Dubois",
    "Tanaka",
    "Kim",
    "Nguyen",
    "Okafor",
    "Haddad",
    "Silva",
    "Novak",
    "Andersen",
];
const PREFERENCES: &[&str] = &[
    "morning classes",
    "evening classes",
    "weekends",
    "small groups",
    "beginner friendly",
    "high intensity",
    "mindfulness",
    "flexibility",
];

struct CourseSpec {
    name: &'static str,
    category: CourseCategory,
    level: CourseLevel,
    price_major: i64,
    instructor: &'static str,
    capacity: u32,
    slots: &'static [(Weekday, u32, u32, u32)],
    description: &'static str,
}

const COURSES: &[CourseSpec] = &[
    CourseSpec {
        name: "Yoga Beginner",
        category: CourseCategory::Yoga,
        level: CourseLevel::Beginner,
        price_major: 3_000,
        instructor: "Ananya Iyer",
        capacity: 16,
        slots: &[(Weekday::Mon, 7, 0, 60), (Weekday::Wed, 7, 0, 60)],
        description: "Foundations of posture, breath and balance for new students.",
    },
    CourseSpec {
        name: "Vinyasa Flow",
        category: CourseCategory::Yoga,
        level: CourseLevel::Intermediate,
        price_major: 3_500,
        instructor: "Ananya Iyer",
        capacity: 14,
        slots: &[(Weekday::Tue, 18, 30, 60), (Weekday::Thu, 18, 30, 60)],
        description: "Breath-linked sequences that build heat and strength.",
    },
    CourseSpec {
        name: "Yin Yoga",
        category: CourseCategory::Yoga,
        level: CourseLevel::All,
        price_major: 2_800,
        instructor: "Rohan Mehta",
        capacity: 14,
        slots: &[(Weekday::Sat, 9, 0, 75)],
        description: "Long, quiet holds for deep flexibility.",
    },
    CourseSpec {
        name: "Pilates",
        category: CourseCategory::Pilates,
        level: CourseLevel::All,
        price_major: 4_000,
        instructor: "Sofia Martinez",
        capacity: 12,
        slots: &[(Weekday::Mon, 18, 0, 55), (Weekday::Thu, 18, 0, 55)],
        description: "Mat Pilates for core strength and posture.",
    },
    CourseSpec {
        name: "Pilates Intermediate",
        category: CourseCategory::Pilates,
        level: CourseLevel::Intermediate,
        price_major: 4_500,
        instructor: "Sofia Martinez",
        capacity: 10,
        slots: &[(Weekday::Wed, 19, 0, 55), (Weekday::Sat, 11, 0, 55)],
        description: "Reformer-style mat work for students with a Pilates base.",
    },
    CourseSpec {
        name: "Strength Training",
        category: CourseCategory::Strength,
        level: CourseLevel::Intermediate,
        price_major: 3_800,
        instructor: "Arjun Reddy",
        capacity: 15,
        slots: &[(Weekday::Tue, 7, 0, 50), (Weekday::Fri, 7, 0, 50)],
        description: "Kettlebells, dumbbells and bodyweight progressions.",
    },
    CourseSpec {
        name: "HIIT Bootcamp",
        category: CourseCategory::Strength,
        level: CourseLevel::Advanced,
        price_major: 3_200,
        instructor: "Arjun Reddy",
        capacity: 20,
        slots: &[(Weekday::Sat, 8, 0, 45)],
        description: "High-intensity intervals; bring water.",
    },
    CourseSpec {
        name: "Bollywood Dance",
        category: CourseCategory::Dance,
        level: CourseLevel::Beginner,
        price_major: 2_500,
        instructor: "Meera Kapoor",
        capacity: 20,
        slots: &[(Weekday::Wed, 19, 30, 60), (Weekday::Fri, 19, 30, 60)],
        description: "Learn a new routine every month.",
    },
    CourseSpec {
        name: "Zumba",
        category: CourseCategory::Dance,
        level: CourseLevel::All,
        price_major: 2_200,
        instructor: "Meera Kapoor",
        capacity: 25,
        slots: &[(Weekday::Sun, 10, 0, 60)],
        description: "Latin-inspired dance fitness.",
    },
    CourseSpec {
        name: "Mindful Meditation",
        category: CourseCategory::Meditation,
        level: CourseLevel::All,
        price_major: 1_800,
        instructor: "Daniel Okafor",
        capacity: 20,
        slots: &[(Weekday::Sun, 8, 0, 45), (Weekday::Thu, 7, 0, 30)],
        description: "Guided sitting and breath practice.",
    },
];

/// A deterministic id: the creation second, then random bytes from the seeded generator.
fn oid(rng: &mut ChaCha8Rng, at: DateTime<Utc>) -> ObjectId {
    let mut bytes = [0_u8; 12];
    let secs = u32::try_from(at.timestamp().max(0)).unwrap_or(u32::MAX);
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    rng.fill(&mut bytes[4..]);
    ObjectId::from_bytes(bytes)
}

fn local(offset: FixedOffset, date: chrono::NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    offset
        .from_local_datetime(&date.and_time(time))
        .single()
        .map_or_else(|| date.and_time(time).and_utc(), |t| t.with_timezone(&Utc))
}

/// A client who may take a seat in a section's class of a course: (client, from, until).
type Seat = (usize, DateTime<Utc>, DateTime<Utc>);

/// Who sits in one past class and how they were marked, with each record's id, from the
/// clients whose orders cover it: the same choices for a generator in the same state.
fn seat_class(
    rng: &mut ChaCha8Rng,
    class: &ClassSession,
    candidates: &[Seat],
) -> Vec<(usize, AttendanceStatus, ObjectId)> {
    let starts = class.starts_at();
    let mut seats = class.capacity;
    let mut seated: Vec<(usize, AttendanceStatus, ObjectId)> = Vec::new();
    for &(client, from, until) in candidates {
        if seats == 0 {
            break;
        }
        // Two orders of the same course can overlap: one seat per client.
        if starts < from || starts >= until || seated.iter().any(|(c, _, _)| *c == client) {
            continue;
        }
        let chance = if client == 0 { 0.85 } else { 0.3 };
        if !rng.gen_bool(chance) {
            continue;
        }
        seats -= 1;
        let roll: u32 = rng.gen_range(0..100);
        let status = match roll {
            0..=79 => AttendanceStatus::Present,
            80..=87 => AttendanceStatus::Late,
            _ => AttendanceStatus::Absent,
        };
        seated.push((client, status, oid(rng, starts)));
    }
    seated
}

/// One order's plan before it is written.
struct PlannedOrder {
    client: usize,
    course: usize,
    created_at: DateTime<Utc>,
    status: OrderStatus,
}

/// Generates the demo studio and writes it with bulk inserts.
///
/// # Errors
/// The database already holds clients (seed with `--reset`), or the server failed.
pub async fn seed(store: &Store, opts: &SeedOptions) -> Result<SeedReport, StoreError> {
    if !store.is_empty().await? {
        return Err(StoreError::Conflict(
            "the database already has data; run `frontdesk seed --reset` to replace it".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let now = opts.now;
    let today = now.with_timezone(&opts.offset).date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let money = |major: i64| Money::new(major * 100, opts.currency);

    // Courses.
    let mut courses = Vec::with_capacity(COURSES.len());
    for spec in COURSES {
        let slots = spec
            .slots
            .iter()
            .map(|&(day, h, m, minutes)| {
                WeeklySlot::new(
                    day,
                    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default(),
                    minutes,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut course = Course::new(
            spec.name,
            spec.category,
            spec.level,
            money(spec.price_major)?,
            spec.instructor,
            spec.capacity,
            slots,
        )?;
        course.id = oid(&mut rng, now - Duration::days(400));
        course.description = spec.description.to_owned();
        courses.push(course);
    }
    let course_ix = |name: &str| courses.iter().position(|c| c.name == name).unwrap_or(0);
    let (yoga_beginner, pilates, vinyasa, yin) = (
        course_ix("Yoga Beginner"),
        course_ix("Pilates"),
        course_ix("Vinyasa Flow"),
        course_ix("Yin Yoga"),
    );

    // Clients.
    let n = opts.clients.max(2);
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let (name, email, phone) = match i {
            0 => (
                "Priya Sharma".to_owned(),
                "priya@example.com".to_owned(),
                "+919876543210".to_owned(),
            ),
            1 => (
                "Priya Patel".to_owned(),
                "priya.patel@example.com".to_owned(),
                "+919812345678".to_owned(),
            ),
            _ => {
                let first = FIRST_NAMES.choose(&mut rng).copied().unwrap_or("Asha");
                let last = LAST_NAMES.choose(&mut rng).copied().unwrap_or("Rao");
                let email_local: String = format!("{first}.{last}")
                    .to_lowercase()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' {
                            c
                        } else {
                            'u'
                        }
                    })
                    .collect();
                (
                    format!("{first} {last}"),
                    format!("{email_local}{i}@example.com"),
                    format!("+91{}", 7_000_000_000_u64 + i as u64),
                )
            }
        };
        let joined_at = match i {
            0 => local(
                opts.offset,
                today - Duration::days(520),
                NaiveTime::from_hms_opt(11, 0, 0).unwrap_or_default(),
            ),
            1 => local(
                opts.offset,
                today - Duration::days(300),
                NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default(),
            ),
            // Two joined this month whatever day it is, so "new clients this month" always
            // has an answer.
            2 | 3 => {
                let days_in = (today - month_start).num_days().max(0);
                let day = month_start + Duration::days(rng.gen_range(0..=days_in));
                let t = local(
                    opts.offset,
                    day,
                    NaiveTime::from_hms_opt(rng.gen_range(8..20), rng.gen_range(0..60), 0)
                        .unwrap_or_default(),
                );
                t.min(now - Duration::minutes(5))
            }
            // Everyone else over the last two years, evenly: every recent month has joins
            // (a gap before this month once made "new clients last month" look like zero).
            _ => now - Duration::minutes(rng.gen_range(60 * 24..60 * 24 * 730)),
        };
        let mut client = Client::new(
            PersonName::parse(&name)?,
            Email::parse(&email)?,
            ClientStatus::Lead,
            joined_at,
        )
        .with_phone(Phone::parse(&phone)?);
        client.id = oid(&mut rng, joined_at);
        let n_prefs = rng.gen_range(0..=2);
        client.preferences = PREFERENCES
            .choose_multiple(&mut rng, n_prefs)
            .map(|s| (*s).to_owned())
            .collect();
        clients.push(client);
    }

    // Orders: most clients buy one to three courses; one in ten stays a lead.
    let mut planned: Vec<PlannedOrder> = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        if i == 0 {
            let at = |days: i64| {
                local(
                    opts.offset,
                    today - Duration::days(days),
                    NaiveTime::from_hms_opt(10, 30, 0).unwrap_or_default(),
                )
            };
            planned.push(PlannedOrder {
                client: 0,
                course: vinyasa,
                created_at: at(200),
                status: OrderStatus::Completed,
            });
            planned.push(PlannedOrder {
                client: 0,
                course: pilates,
                created_at: at(36),
                status: OrderStatus::Confirmed,
            });
            planned.push(PlannedOrder {
                client: 0,
                course: yin,
                created_at: at(7),
                status: OrderStatus::Pending,
            });
            continue;
        }
        if i > 1 && rng.gen_ratio(1, 10) {
            continue;
        }
        let count = if i == 1 { 1 } else { rng.gen_range(1..=3) };
        for _ in 0..count {
            let course = if i == 1 {
                yoga_beginner
            } else {
                rng.gen_range(0..courses.len())
            };
            let span = (now - client.joined_at).num_minutes().max(1);
            let created_at = client.joined_at + Duration::minutes(rng.gen_range(0..span));
            let age_days = (now - created_at).num_days();
            let status = if age_days < 30 && rng.gen_ratio(2, 5) {
                OrderStatus::Pending
            } else if rng.gen_ratio(1, 20) {
                OrderStatus::Cancelled
            } else if rng.gen_ratio(1, 40) {
                // Long-forgotten unpaid orders: the overdue tail.
                OrderStatus::Pending
            } else if age_days >= COURSE_WEEKS * 7 {
                OrderStatus::Completed
            } else {
                OrderStatus::Confirmed
            };
            planned.push(PlannedOrder {
                client: i,
                course,
                created_at,
                status,
            });
        }
    }
    planned.sort_by_key(|p| (p.created_at, p.client));
    let mut next_number = 10_001_u32;
    let mut orders = Vec::with_capacity(planned.len());
    let mut payments = Vec::with_capacity(planned.len());
    let methods = [
        PaymentMethod::Upi,
        PaymentMethod::Card,
        PaymentMethod::Cash,
        PaymentMethod::BankTransfer,
        PaymentMethod::Online,
    ];
    for p in &planned {
        let number = if p.client == 0 && p.course == pilates {
            DEMO_ORDER_NUMBER
        } else {
            if next_number == DEMO_ORDER_NUMBER {
                next_number += 1;
            }
            next_number += 1;
            next_number - 1
        };
        let course = &courses[p.course];
        let order = Order {
            id: oid(&mut rng, p.created_at),
            number: OrderNumber::new(number)?,
            client_id: clients[p.client].id,
            course_id: course.id,
            course_name: course.name.clone(),
            status: p.status,
            amount: course.price,
            created_at: p.created_at,
            updated_at: p.created_at,
            idempotency_key: None,
        };
        let paid_at = (p.created_at + Duration::minutes(rng.gen_range(0..60 * 24 * 3)))
            .min(now - Duration::minutes(1));
        let (status, paid) = match p.status {
            OrderStatus::Pending => (PaymentStatus::Pending, None),
            OrderStatus::Cancelled if rng.gen_bool(0.5) => (PaymentStatus::Refunded, Some(paid_at)),
            OrderStatus::Cancelled => (PaymentStatus::Failed, None),
            OrderStatus::Confirmed | OrderStatus::Completed => (PaymentStatus::Paid, Some(paid_at)),
        };
        payments.push(Payment {
            id: oid(&mut rng, p.created_at),
            order_id: order.id,
            order_number: order.number,
            client_id: order.client_id,
            course_id: course.id,
            course_name: course.name.clone(),
            amount: course.price,
            method: *methods.choose(&mut rng).unwrap_or(&PaymentMethod::Upi),
            status,
            due_at: p.created_at + Duration::days(7),
            paid_at: paid,
            provider_ref: paid.map(|_| format!("demo_{number}")),
            link_url: None,
            created_at: p.created_at,
            idempotency_key: None,
        });
        clients[p.client].enrollments.push(Enrollment {
            course_id: course.id,
            course_name: course.name.clone(),
            order_number: order.number,
            enrolled_at: p.created_at,
        });
        orders.push(order);
    }

    // Classes: the weekly timetable from a year ago to four weeks ahead, once per section.
    let sections = n.div_ceil(CLIENTS_PER_SECTION).max(1);
    let first_day = today - Duration::days(365);
    let last_day = today + Duration::days(28);
    let mut classes = Vec::new();
    let mut day = first_day;
    while day <= last_day {
        for course in &courses {
            for slot in course
                .schedule
                .iter()
                .filter(|s| s.weekday == day.weekday())
            {
                let starts = local(opts.offset, day, slot.start);
                for section in 0..sections {
                    let room = format!(
                        "Studio {}",
                        char::from(b'A' + u8::try_from(section % 3).unwrap_or(0))
                    );
                    let room = if sections > 3 {
                        format!("{room}{}", section / 3 + 1)
                    } else {
                        room
                    };
                    let mut class = ClassSession::new(
                        course.id,
                        &course.name,
                        starts,
                        starts + Duration::minutes(i64::from(slot.minutes)),
                        &course.instructor,
                        &room,
                        course.capacity,
                    )?;
                    class.id = oid(&mut rng, starts);
                    classes.push((section, class));
                }
            }
        }
        day += Duration::days(1);
    }

    // Who may attend what: an active order covers twelve weeks from its creation.
    let mut enrolled: HashMap<(usize, ObjectId), Vec<Seat>> = HashMap::new();
    for (p, order) in planned.iter().zip(&orders) {
        if matches!(p.status, OrderStatus::Confirmed | OrderStatus::Completed) {
            enrolled
                .entry((p.client % sections, order.course_id))
                .or_default()
                .push((
                    p.client,
                    p.created_at,
                    p.created_at + Duration::weeks(COURSE_WEEKS),
                ));
        }
    }

    // The bar counts every document from the start, so its rate and ETA hold from the
    // first second: the attendance records (most of the work) are counted by choosing
    // the seats once on a copy of the generator, which then chooses the same again.
    let past = |class: &ClassSession| class.starts_at() < now;
    let mut dry_run = rng.clone();
    let attendance_total: usize = classes
        .iter()
        .filter(|(_, class)| past(class))
        .filter_map(|(section, class)| {
            let candidates = enrolled.get(&(*section, class.course_id))?;
            Some(seat_class(&mut dry_run, class, candidates).len())
        })
        .sum();
    let total_work =
        (courses.len() + clients.len() + orders.len() * 2 + classes.len() + attendance_total)
            as u64;
    let bar = if opts.progress {
        let bar = ProgressBar::new(total_work);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {msg:12} [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut report = SeedReport::default();
    let shown = |n: usize| bar.inc(n as u64);

    bar.set_message("courses");
    report.courses = store.load_courses(&courses, &shown).await?;
    bar.set_message("attendance");
    let mut last_visit: Vec<Option<DateTime<Utc>>> = vec![None; clients.len()];
    let mut batch: Vec<Attendance> = Vec::with_capacity(BATCH);
    // Each class's counts, written with the class below (as `record_attendance` would).
    let mut counts = vec![AttendanceCounts::default(); classes.len()];
    let mut visits: Vec<Visit> = Vec::new();
    for (i, (section, class)) in classes.iter().enumerate() {
        let starts = class.starts_at();
        if !past(class) {
            continue;
        }
        let Some(candidates) = enrolled.get(&(*section, class.course_id)) else {
            continue;
        };
        for (client, status, id) in seat_class(&mut rng, class, candidates) {
            if status.attended() && last_visit[client].is_none_or(|t| t < starts) {
                last_visit[client] = Some(starts);
            }
            counts[i].marked += 1;
            counts[i].attended += i64::from(status.attended());
            if status.attended() {
                visits.push((class.id, clients[client].id, starts));
            }
            batch.push(Attendance {
                id,
                class_id: class.id,
                client_id: clients[client].id,
                course_id: class.course_id,
                course_name: class.course_name.clone(),
                class_starts_at: starts,
                status,
                marked_at: class.ends_at(),
            });
            if batch.len() >= BATCH {
                report.attendance += store.load_attendance(&batch, &shown).await?;
                batch.clear();
            }
        }
    }
    report.attendance += store.load_attendance(&batch, &shown).await?;
    bar.set_message("classes");
    report.classes = store
        .load_classes(
            classes
                .iter()
                .map(|(_, class)| class)
                .zip(counts.iter().copied()),
            &visits,
            &shown,
        )
        .await?;

    // Status follows behaviour: a recent visit or a running course is active.
    for (i, client) in clients.iter_mut().enumerate() {
        client.last_visit_at = last_visit[i];
        client.status = if client.enrollments.is_empty() {
            ClientStatus::Lead
        } else if last_visit[i].is_some_and(|t| now - t <= Duration::days(45))
            || (now - client.joined_at) <= Duration::days(45)
        {
            ClientStatus::Active
        } else {
            ClientStatus::Inactive
        };
    }
    bar.set_message("clients");
    report.clients = store.load_clients(&clients, &shown).await?;
    bar.set_message("orders");
    report.orders = store.load_orders(&orders, &shown).await?;
    bar.set_message("payments");
    report.payments = store.load_payments(&payments, &shown).await?;
    bar.finish_and_clear();
    Ok(report)
}
