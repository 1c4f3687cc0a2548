//! The rules planner on a table of phrasings per intent, with periods resolved against a
//! fixed clock.

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};
use serde_json::{json, Value};

use super::*;
use crate::domain::Intent;
use crate::domain::{Course, CourseCategory, CourseLevel, Currency, Money, WeeklySlot};

fn catalogue() -> Vec<Course> {
    [
        "Yoga Beginner",
        "Vinyasa Flow",
        "Yin Yoga",
        "Pilates",
        "Pilates Intermediate",
        "Strength Training",
        "Zumba",
        "Mindful Meditation",
    ]
    .iter()
    .map(|n| {
        let slot =
            WeeklySlot::new(Weekday::Mon, NaiveTime::from_hms_opt(7, 0, 0).unwrap(), 60).unwrap();
        Course::new(
            n,
            CourseCategory::Yoga,
            CourseLevel::All,
            Money::new(100, Currency::INR).unwrap(),
            "X",
            10,
            vec![slot],
        )
        .unwrap()
    })
    .collect()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ist() -> FixedOffset {
    FixedOffset::east_opt(19_800).unwrap()
}

/// What the planner knows besides the text, at the demo's clock.
fn context(agent: AgentKind, role: Role, courses: &[Course]) -> Context<'_> {
    Context {
        agent,
        role,
        courses,
        now: now(),
        offset: ist(),
    }
}

fn run(agent: AgentKind, role: Role, text: &str) -> Plan {
    let courses = catalogue();
    let ctx = context(agent, role, &courses);
    plan(text, &ctx, None)
}

fn call(agent: AgentKind, role: Role, text: &str) -> (&'static str, Value) {
    match run(agent, role, text) {
        Plan::Call { tool, args } => (tool.as_str(), args),
        other => panic!("{text:?} planned {other:?}"),
    }
}

fn assert_table(agent: AgentKind, role: Role, rows: &[(&str, &str, Value)]) {
    for (text, intent, expected_args) in rows {
        let (tool, args) = call(agent, role, text);
        assert_eq!(tool, *intent, "{text:?} → {args}");
        for (k, v) in expected_args.as_object().unwrap() {
            assert_eq!(args.get(k), Some(v), "{text:?}: argument {k} in {args}");
        }
    }
}

#[test]
fn support_phrasings_for_staff() {
    assert_table(
        AgentKind::Support,
        Role::Staff,
        &[
            (
                "Find client by email priya@example.com",
                "find_client",
                json!({"email": "priya@example.com"}),
            ),
            (
                "look up the customer with mail priya@example.com",
                "find_client",
                json!({"email": "priya@example.com"}),
            ),
            (
                "priya@example.com",
                "find_client",
                json!({"email": "priya@example.com"}),
            ),
            (
                "who is +91 98765 43210?",
                "find_client",
                json!({"phone": "+91 98765 43210"}),
            ),
            (
                "find client Priya Sharma",
                "find_client",
                json!({"name": "Priya Sharma"}),
            ),
            (
                "find client priya sharma please",
                "find_client",
                json!({"name": "priya sharma"}),
            ),
            (
                "What is the status of order #12345?",
                "order_status",
                json!({"order": "12345"}),
            ),
            (
                "status of ORD-12345",
                "order_status",
                json!({"order": "12345"}),
            ),
            ("order no. 12345", "order_status", json!({"order": "12345"})),
            (
                "where is order 12345",
                "order_status",
                json!({"order": "12345"}),
            ),
            ("12345 status?", "order_status", json!({"order": "12345"})),
            (
                "What classes are available this week?",
                "list_classes",
                json!({"period": "this_week"}),
            ),
            (
                "classes tomorrow",
                "list_classes",
                json!({"period": "tomorrow"}),
            ),
            (
                "next Pilates class",
                "list_classes",
                json!({"course": "Pilates", "next_only": true}),
            ),
            (
                "when is the next pilates intermediate session",
                "list_classes",
                json!({"course": "Pilates Intermediate"}),
            ),
            (
                "zumba schedule next week",
                "list_classes",
                json!({"course": "Zumba", "period": "next_week"}),
            ),
            (
                "how much does Yoga Beginner cost?",
                "course_info",
                json!({"course": "Yoga Beginner"}),
            ),
            (
                "who teaches vinyasa flow",
                "course_info",
                json!({"course": "Vinyasa Flow"}),
            ),
            ("what courses do you offer", "course_info", json!({})),
            (
                "Create an order for Yoga Beginner for client Priya Sharma",
                "create_order",
                json!({"course": "Yoga Beginner", "client": "Priya Sharma"}),
            ),
            (
                "enrol priya@example.com in Pilates, paying by UPI",
                "create_order",
                json!({"course": "Pilates", "client": "priya@example.com", "method": "upi"}),
            ),
            (
                "Show me all pending payments",
                "pending_payments",
                json!({"scope": "all"}),
            ),
            (
                "any overdue payments?",
                "pending_payments",
                json!({"overdue_only": true}),
            ),
            (
                "unpaid dues for Priya Sharma",
                "pending_payments",
                json!({"client": "Priya Sharma"}),
            ),
            (
                "mark order #12345 as paid by cash",
                "record_payment",
                json!({"order": "12345", "method": "cash"}),
            ),
            (
                "record payment for order 12345 upi",
                "record_payment",
                json!({"order": "12345", "method": "upi"}),
            ),
            (
                "orders of client Priya Sharma",
                "client_orders",
                json!({"client": "Priya Sharma"}),
            ),
            (
                "I want to speak to a real person",
                "escalate_to_staff",
                json!({}),
            ),
        ],
    );
}

#[test]
fn support_phrasings_for_clients() {
    assert_table(
        AgentKind::Support,
        Role::Client,
        &[
            (
                "Show me all pending payments",
                "pending_payments",
                json!({"scope": "self"}),
            ),
            (
                "do I owe anything?",
                "pending_payments",
                json!({"scope": "self"}),
            ),
            ("my orders", "client_orders", json!({})),
            (
                "sign me up for pilates",
                "create_order",
                json!({"course": "Pilates"}),
            ),
            (
                "book yoga beginer",
                "create_order",
                // As typed: a misspelt course makes the enrolment a proposal.
                json!({"course": "yoga beginer"}),
            ),
            (
                "I'd like to complain about the instructor",
                "escalate_to_staff",
                json!({}),
            ),
        ],
    );
}

#[test]
fn dashboard_phrasings() {
    assert_table(
        AgentKind::Dashboard,
        Role::Manager,
        &[
            (
                "How much revenue did we generate this month?",
                "revenue",
                json!({"period": "this_month"}),
            ),
            (
                "total sales last month",
                "revenue",
                json!({"period": "last_month"}),
            ),
            (
                "revenue by course in October",
                "revenue",
                json!({"period": "2026-10", "by": "course"}),
            ),
            (
                "income by payment method this year",
                "revenue",
                json!({"period": "this_year", "by": "method"}),
            ),
            (
                "revenue this month compared to last",
                "revenue",
                json!({"period": "this_month", "compare": true}),
            ),
            (
                "earnings for the last 7 days",
                "revenue",
                json!({"period": "last_7_days"}),
            ),
            (
                "revenue from 2026-10-01 to 2026-10-15",
                "revenue",
                json!({"period": "2026-10-01..2026-10-15"}),
            ),
            (
                "revenu in december 2025",
                "revenue",
                json!({"period": "2025-12"}),
            ),
            (
                "How many new clients joined this month?",
                "new_clients",
                json!({"period": "this_month"}),
            ),
            (
                "new members last week",
                "new_clients",
                json!({"period": "last_week"}),
            ),
            (
                "Which course has the highest enrollment?",
                "course_enrollment",
                json!({}),
            ),
            (
                "most popular course this year",
                "course_enrollment",
                json!({"period": "this_year"}),
            ),
            (
                "What is the attendance percentage for Pilates classes?",
                "attendance_rate",
                json!({"course": "Pilates"}),
            ),
            (
                "pilates attendence",
                "attendance_rate",
                json!({"course": "Pilates"}),
            ),
            (
                "attendance rate last month",
                "attendance_rate",
                json!({"period": "last_month"}),
            ),
            (
                "How many inactive clients do we have?",
                "inactive_clients",
                json!({}),
            ),
            (
                "how many clients haven't visited in 60 days",
                "inactive_clients",
                json!({"days": 60}),
            ),
            (
                "who stopped coming in the last 8 weeks",
                "inactive_clients",
                json!({"days": 56}),
            ),
            (
                "what's the outstanding balance?",
                "outstanding_balance",
                json!({}),
            ),
            ("how much are we owed", "outstanding_balance", json!({})),
            (
                "retention last month",
                "retention",
                json!({"period": "last_month"}),
            ),
            (
                "class fill rate for zumba this month",
                "class_fill_rate",
                json!({"course": "Zumba", "period": "this_month"}),
            ),
            (
                "which classes are full? occupancy this week",
                "class_fill_rate",
                json!({"period": "this_week"}),
            ),
        ],
    );
}

#[test]
fn unknown_courses_and_bad_order_numbers_get_a_clear_word() {
    assert_eq!(
        call(AgentKind::Support, Role::Staff, "price of kickboxing").1,
        json!({"course": "kickboxing"})
    );
    assert_eq!(
        call(AgentKind::Support, Role::Staff, "what courses do you offer").1,
        json!({})
    );
    match run(
        AgentKind::Support,
        Role::Staff,
        "status of order #123456789",
    ) {
        Plan::Ask {
            intent: Intent::OrderStatus,
            field: "order",
            question,
            ..
        } => assert!(question.contains("not an order number"), "{question}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(AgentKind::Support, Role::Staff, "status of order"),
        Plan::Ask {
            intent: Intent::OrderStatus,
            ..
        }
    ));
    assert_eq!(
        call(
            AgentKind::Support,
            Role::Client,
            "what's the status of my order?"
        )
        .0,
        "client_orders"
    );
    assert_eq!(
        call(AgentKind::Support, Role::Client, "find my details"),
        ("find_client", json!({}))
    );
}

#[test]
fn unsure_questions_are_not_guessed() {
    for text in ["zxqv blorp wibble", "what is the meaning of life", "purple"] {
        assert_eq!(
            run(AgentKind::Dashboard, Role::Manager, text),
            Plan::Unsure,
            "{text}"
        );
    }
    assert!(matches!(
        run(AgentKind::Support, Role::Staff, "hello"),
        Plan::Reply {
            intent: Intent::Smalltalk,
            ..
        }
    ));
}

#[test]
fn follow_ups_reuse_the_last_question() {
    let courses = catalogue();
    let ctx = context(AgentKind::Dashboard, Role::Manager, &courses);
    let last = json!({"period": "this_month", "by": "course"});
    match plan("and last month?", &ctx, Some((Intent::Revenue, &last))) {
        Plan::Call { tool, args } => {
            assert_eq!(tool, "revenue");
            assert_eq!(args, json!({"period": "last_month", "by": "course"}));
        }
        other => panic!("{other:?}"),
    }
    match plan(
        "what about Zumba?",
        &ctx,
        Some((Intent::AttendanceRate, &json!({"course": "Pilates"}))),
    ) {
        Plan::Call { tool, args } => assert_eq!(
            (tool, args["course"].clone()),
            (Intent::AttendanceRate, json!("Zumba"))
        ),
        other => panic!("{other:?}"),
    }
    for text in [
        "same for October",
        "no, I meant October",
        "and for september?",
        "what about last week",
    ] {
        match plan(text, &ctx, Some((Intent::Revenue, &last))) {
            Plan::Call {
                tool: Intent::Revenue,
                ..
            } => {}
            other => panic!("{text:?} planned {other:?}"),
        }
    }
}

/// Follow-ups that would fit any earlier question: slots alone, corrections, "and …?".
const FOLLOW_UPS: &[&str] = &[
    "and last month?",
    "same for October",
    "what about Pilates?",
    "no, I meant Zumba",
    "and for Priya Sharma?",
    "also priya@example.com",
    "and tomorrow",
    "what about the last 30 days",
    "again",
    "yes",
    "ok",
    "and?",
    "the same",
    "#12345",
    "Pilates",
];

#[test]
fn a_follow_up_never_reaches_a_write() {
    let courses = catalogue();
    for role in [
        Role::Guest,
        Role::Client,
        Role::Staff,
        Role::Manager,
        Role::Admin,
    ] {
        let ctx = context(AgentKind::Support, role, &courses);
        for write in Intent::TOOLS.iter().filter(|i| i.is_write()) {
            let last = json!({"course": "Pilates", "client": "priya@example.com", "order": "12345", "name": "Asha", "email": "asha@example.com", "reason": "help"});
            for text in FOLLOW_UPS {
                // Not understood on its own: only then is an earlier turn consulted.
                if understood(text, &ctx) {
                    continue;
                }
                match plan(text, &ctx, Some((*write, &last))) {
                    Plan::Call { tool, .. } => assert!(
                        !tool.is_write(),
                        "{role:?}: {text:?} after {write} planned {tool}"
                    ),
                    Plan::Ask { intent, .. } => assert!(
                        !intent.is_write(),
                        "{role:?}: {text:?} after {write} asked for {intent}"
                    ),
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn a_message_with_words_of_its_own_is_not_forced_into_the_last_question() {
    let courses = catalogue();
    let ctx = context(AgentKind::Dashboard, Role::Manager, &courses);
    let last = json!({"period": "last_month"});
    match plan(
        "how many people came to yoga last week?",
        &ctx,
        Some((Intent::Revenue, &last)),
    ) {
        Plan::Call { tool, .. } => assert_eq!(tool, Intent::AttendanceRate),
        other => panic!("{other:?}"),
    }
    for text in [
        "what's the weather like in October",
        "can you order pizza for the team tomorrow",
    ] {
        let planned = plan(text, &ctx, Some((Intent::Revenue, &last)));
        assert!(
            !matches!(
                planned,
                Plan::Call {
                    tool: Intent::Revenue,
                    ..
                }
            ),
            "{text:?} was taken as a follow-up"
        );
    }
    let support = Context {
        agent: AgentKind::Support,
        role: Role::Staff,
        ..ctx
    };
    match plan(
        "what time is yoga tomorrow?",
        &support,
        Some((Intent::CourseInfo, &json!({}))),
    ) {
        Plan::Call { tool, args } => {
            assert_eq!(tool, Intent::ListClasses);
            assert_eq!(args["period"], json!("tomorrow"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_enrolment_names_who_it_is_for() {
    let (tool, args) = call(
        AgentKind::Support,
        Role::Staff,
        "book Priya Sharma into Pilates Intermediate",
    );
    assert_eq!(tool, "create_order");
    assert_eq!(args["client"], json!("Priya Sharma"));
    assert_eq!(args["course"], json!("Pilates Intermediate"));
    let (_, args) = call(
        AgentKind::Support,
        Role::Client,
        "Enrol Noah Malhotra in Pilates",
    );
    assert_eq!(args["client"], json!("Noah Malhotra"));
    let (_, args) = call(
        AgentKind::Support,
        Role::Client,
        "can you sign my daughter up for pilates",
    );
    assert_eq!(args["client"], json!("your daughter"));
    let (_, args) = call(
        AgentKind::Support,
        Role::Client,
        "please book pilates for my son",
    );
    assert_eq!(args["client"], json!("your son"));
    for own in [
        "Could I book myself onto the Pilates course? My daughter says it would do me good.",
        "enrol me in Pilates",
        "sign me up for Pilates please",
        "I want to book Pilates",
        "book a pilates class for me",
    ] {
        let (tool, args) = call(AgentKind::Support, Role::Client, own);
        assert_eq!(tool, "create_order", "{own}");
        assert_eq!(args.get("client"), None, "{own}");
    }
}

#[test]
fn periods_resolve_at_month_and_year_boundaries() {
    let jan = DateTime::parse_from_rfc3339("2027-01-05T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let p = |t: &str| period(&t.to_lowercase(), jan, ist());
    assert_eq!(
        p("in December"),
        Some(Period::Month {
            year: 2026,
            month: 12
        })
    );
    assert_eq!(
        p("in january"),
        Some(Period::Month {
            year: 2027,
            month: 1
        })
    );
    assert_eq!(
        p("oct 2025"),
        Some(Period::Month {
            year: 2025,
            month: 10
        })
    );
    assert_eq!(p("last month"), Some(Period::LastMonth));
    assert_eq!(p("past 30 days"), Some(Period::LastDays(30)));
    assert_eq!(
        p("2026-12"),
        Some(Period::Month {
            year: 2026,
            month: 12
        })
    );
    assert_eq!(p("may I ask something"), None);
    assert_eq!(p("nothing here"), None);
    let resolved = Period::LastMonth.resolve(jan, ist()).unwrap();
    assert_eq!(resolved.label(), "1–31 Dec 2026");
}

#[test]
fn hostile_text_is_only_text() {
    let (tool, args) = call(
        AgentKind::Support,
        Role::Staff,
        r#"find client {"$ne": null}"#,
    );
    assert_eq!(tool, "find_client");
    assert!(args.get("email").is_none());
    let huge = "pilates ".repeat(500);
    let _ = run(AgentKind::Support, Role::Staff, &huge);
}

/// The whole argument object, not a subset: a trend or breakdown question must not pick
/// up arguments it did not ask for.
fn assert_exact(rows: &[(&str, &str, Value)]) {
    for (text, intent, expected) in rows {
        let (tool, args) = call(AgentKind::Dashboard, Role::Manager, text);
        assert_eq!((tool, &args), (*intent, expected), "{text:?}");
    }
}

#[test]
fn trends_breakdowns_and_comparisons_for_charts() {
    assert_exact(&[
        (
            "revenue trend for the last 6 months",
            "revenue",
            json!({"by": "month", "months": 6}),
        ),
        (
            "monthly revenue over the past twelve months",
            "revenue",
            json!({"by": "month", "months": 12}),
        ),
        (
            "revenue trend",
            "revenue",
            json!({"by": "month", "months": 6}),
        ),
        (
            "revenue per month since September",
            "revenue",
            json!({"by": "month", "period": "2026-09-01..2026-11-25"}),
        ),
        (
            "attendance by course this month",
            "attendance_rate",
            json!({"period": "this_month"}),
        ),
        (
            "new clients per week since September",
            "new_clients",
            json!({"by": "week", "period": "2026-09-01..2026-11-25"}),
        ),
        (
            "weekly new signups last month",
            "new_clients",
            json!({"by": "week", "period": "last_month"}),
        ),
        (
            "revenue by course this month",
            "revenue",
            json!({"by": "course", "period": "this_month"}),
        ),
        (
            "fill rate by course last month",
            "class_fill_rate",
            json!({"period": "last_month"}),
        ),
        (
            "this month vs last month",
            "revenue",
            json!({"period": "this_month", "compare": true}),
        ),
        (
            "compare revenue this month with last month",
            "revenue",
            json!({"period": "this_month", "compare": true}),
        ),
        ("best and worst course", "course_enrollment", json!({})),
        (
            "best and worst course by revenue this month",
            "revenue",
            json!({"by": "course", "period": "this_month"}),
        ),
        (
            "which instructor's classes fill best",
            "class_fill_rate",
            json!({"by": "instructor"}),
        ),
        (
            "fill rate by teacher last month",
            "class_fill_rate",
            json!({"by": "instructor", "period": "last_month"}),
        ),
    ]);
}

#[test]
fn since_a_month_runs_to_today_and_reaches_back_a_year_when_needed() {
    let p = |t: &str| period(t, now(), ist()).map(|p| p.token());
    assert_eq!(
        p("since september").as_deref(),
        Some("2026-09-01..2026-11-25")
    );
    assert_eq!(p("since dec").as_deref(), Some("2025-12-01..2026-11-25"));
    assert_eq!(
        p("since jan 2026").as_deref(),
        Some("2026-01-01..2026-11-25")
    );
    assert_eq!(
        p("since 2026-11-20").as_deref(),
        Some("2026-11-20..2026-11-25")
    );
    assert_eq!(months_back("over the last 3 months"), Some(3));
    assert_eq!(months_back("last 99 months"), None);
}

#[test]
fn romanised_hindi_periods_and_questions() {
    assert_table(
        AgentKind::Dashboard,
        Role::Manager,
        &[
            (
                "is mahine kitna revenue hua?",
                "revenue",
                json!({"period": "this_month"}),
            ),
            (
                "pichle mahine ki kamai kitni thi",
                "revenue",
                json!({"period": "last_month"}),
            ),
            (
                "kaun se clients 45 din se nahi aaye, inactive list",
                "inactive_clients",
                json!({"days": 45}),
            ),
        ],
    );
    assert_table(
        AgentKind::Support,
        Role::Client,
        &[
            (
                "kal yoga class kitne baje hai?",
                "list_classes",
                json!({"period": "tomorrow", "course": "Yoga"}),
            ),
            (
                "aaj pilates class hai?",
                "list_classes",
                json!({"period": "today"}),
            ),
        ],
    );
    // "kal" with a verb in the past is yesterday, and an English "is" stays English.
    let courses = catalogue();
    let ctx = context(AgentKind::Dashboard, Role::Manager, &courses);
    assert_eq!(
        Reading::of("kal kitne log aaye the", &ctx).slots.period,
        Some(Period::Yesterday)
    );
    assert_eq!(Reading::of("what is the revenue", &ctx).slots.period, None);
}

#[test]
fn weekdays_and_weekends_are_the_coming_ones() {
    // The demo clock is Wednesday 25 Nov 2026, 15:30 in the studio.
    let courses = catalogue();
    let ctx = context(AgentKind::Support, Role::Client, &courses);
    let day = |text: &str| Reading::of(text, &ctx).slots.period;
    let date = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let range = |a: NaiveDate, b: NaiveDate| Some(Period::Range { from: a, to: b });
    assert_eq!(day("any classes on saturday?"), range(date(28), date(28)));
    assert_eq!(day("yoga on wednesday"), range(date(25), date(25)));
    let december_2 = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    assert_eq!(day("next wednesday pilates"), range(december_2, december_2));
    assert_eq!(day("what was on last monday"), range(date(23), date(23)));
    assert_eq!(day("classes this weekend"), range(date(28), date(29)));
    assert_eq!(day("mondays pilates"), range(date(30), date(30)));
}

#[test]
fn a_client_named_anywhere_is_the_client() {
    assert_table(
        AgentKind::Support,
        Role::Staff,
        &[
            (
                "Book Priya Sharma into Pilates Intermediate",
                "create_order",
                json!({"client": "Priya Sharma", "course": "Pilates Intermediate"}),
            ),
            (
                "has Rahul Verma paid anything? any dues",
                "pending_payments",
                json!({"client": "Rahul Verma"}),
            ),
            (
                "has Priya Sharma paid?",
                "pending_payments",
                json!({"client": "Priya Sharma"}),
            ),
            (
                "did Rahul Verma pay yet",
                "pending_payments",
                json!({"client": "Rahul Verma"}),
            ),
            (
                "Priya Sharma's orders",
                "client_orders",
                json!({"client": "Priya Sharma"}),
            ),
            (
                "any pending payments for priya sharma?",
                "pending_payments",
                json!({"client": "priya sharma"}),
            ),
            (
                "orders of noah malhotra",
                "client_orders",
                json!({"client": "noah malhotra"}),
            ),
            (
                "whats meera iyer's phone number",
                "find_client",
                json!({"name": "meera iyer"}),
            ),
            (
                "pull up anita desai's profile",
                "find_client",
                json!({"name": "anita desai"}),
            ),
        ],
    );
    // Title case is no name: the planner's own words and courses are skipped.
    let courses = catalogue();
    let ctx = context(AgentKind::Support, Role::Staff, &courses);
    assert_eq!(
        Reading::of("Show Pending Payments For Yin Yoga", &ctx)
            .slots
            .client,
        None
    );
}

#[test]
fn families_sorting_rankings_and_comparisons() {
    assert_table(
        AgentKind::Dashboard,
        Role::Manager,
        &[
            (
                "attendance at yoga last week",
                "attendance_rate",
                json!({"course": "Yoga", "period": "last_week"}),
            ),
            (
                "which classes are the emptiest this month",
                "class_fill_rate",
                json!({"order": "emptiest"}),
            ),
            (
                "fill rate, fullest first",
                "class_fill_rate",
                json!({"order": "fullest"}),
            ),
            (
                "top 10 clients by attendance this year",
                "top_clients",
                json!({"by": "attendance", "limit": 10, "period": "this_year"}),
            ),
            (
                "best customers last month",
                "top_clients",
                json!({"by": "spend"}),
            ),
            (
                "who came the most last month?",
                "top_clients",
                json!({"by": "attendance", "period": "last_month"}),
            ),
            (
                "who are our regulars",
                "top_clients",
                json!({"by": "attendance"}),
            ),
            (
                "most loyal members this year",
                "top_clients",
                json!({"by": "attendance", "period": "this_year"}),
            ),
            (
                "how many people came to yoga last week",
                "attendance_rate",
                json!({"period": "last_week"}),
            ),
            ("how many clients do we have", "client_summary", json!({})),
            (
                "is revenue up compared to last month?",
                "revenue",
                json!({"period": "this_month", "compare": true}),
            ),
        ],
    );
    assert_table(
        AgentKind::Support,
        Role::Staff,
        &[
            (
                "cancel order #12346",
                "cancel_order",
                json!({"order": "12346"}),
            ),
            (
                "void 10831 please",
                "cancel_order",
                json!({"order": "10831"}),
            ),
            ("show open tickets", "open_tickets", json!({})),
            ("any tickets waiting?", "open_tickets", json!({})),
            ("who asked for a human today", "open_tickets", json!({})),
            ("what's in the support queue", "open_tickets", json!({})),
        ],
    );
    assert_table(
        AgentKind::Support,
        Role::Client,
        &[
            (
                "can you open a ticket for me",
                "escalate_to_staff",
                json!({}),
            ),
            ("I want to talk to a human", "escalate_to_staff", json!({})),
        ],
    );
    // Cancelling with no order asks which.
    assert!(matches!(
        run(AgentKind::Support, Role::Staff, "cancel the order please"),
        Plan::Ask { field: "order", .. }
    ));
}

#[test]
fn other_scripts_are_told_which_languages_are_read() {
    assert!(reads_as_english("kal yoga class kitne baje hai?"));
    assert!(reads_as_english("Café au lait, crème brûlée?"));
    assert!(!reads_as_english("कल योग कक्षा कितने बजे है?"));
    assert!(!reads_as_english("明天的瑜伽课几点?"));
    // Latin-script languages other than English, by their everyday words.
    for other in [
        "¿cuándo es la clase de yoga mañana?",
        "cuanto ganamos este mes",
        "wie viel Umsatz haben wir diesen Monat?",
        "quand est le cours de yoga demain ?",
        "quanto custa a aula de pilates hoje",
        "hoeveel klanten hebben we deze maand",
        "kapan kelas yoga minggu ini",
        "Wanneer is de volgende yogales?",
        "Hoi, is er vandaag yoga?",
        "Ich möchte mit einem Menschen sprechen",
        "Halo, ada kelas yoga hari ini?",
        "Hola",
        "Bonjour !",
    ] {
        assert!(!reads_as_english(other), "{other}");
    }
    // English that borrows a word or a name, and romanised Hindi, still read.
    for english in [
        "how many clients did Olivia Müller bring this month?",
        "is the Pilates class on at 7 tomorrow?",
        "what does the class cost per mes... month",
        "is mahine kitna revenue hua?",
        "mera order kab aayega, Hari here",
        "Dan wants to know the price of Yin Yoga",
        "Has Mi Una paid?",
        "email for Mi Una",
        "is Mes Mis still active",
        "Des Del Rio orders",
        "er, what time is yoga tomorrow",
        "hi",
        "hello there",
    ] {
        assert!(reads_as_english(english), "{english}");
    }
}

/// "human" as a word of a course or a question is no hand-off: a ticket is opened only
/// when a person is asked for.
#[test]
fn a_word_about_humans_is_no_hand_off() {
    for text in [
        "human resources course?",
        "do you have a course on human anatomy?",
        "/humans",
        "is the human body workshop on this week",
        "do you have a human anatomy course?",
    ] {
        let plan = run(AgentKind::Support, Role::Guest, text);
        assert!(
            !matches!(
                plan,
                Plan::Call {
                    tool: Intent::EscalateToStaff,
                    ..
                }
            ),
            "{text:?} planned {plan:?}"
        );
    }
    for text in [
        "can I talk to a human",
        "human please",
        "I need a real human, not a bot",
        "get me a human",
        "pls connect me to a human",
        "mujhe kisi insaan se baat karni hai",
    ] {
        assert_eq!(
            call(AgentKind::Support, Role::Guest, text).0,
            "escalate_to_staff",
            "{text}"
        );
    }
}

#[test]
fn the_hand_off_command_carries_its_reason() {
    assert_eq!(
        person_command("/human"),
        Some("Asked for a person (/human).".to_owned())
    );
    assert_eq!(
        person_command("/human@frontdesk_bot my payment failed twice").as_deref(),
        Some("my payment failed twice")
    );
    assert_eq!(
        person_command("  /Person  about my refund ").as_deref(),
        Some("about my refund")
    );
    assert_eq!(person_command("human please"), None);
    assert_eq!(person_command("/humans"), None);
    assert_eq!(person_command("/help"), None);
}

/// Words that only look like a name are not one: a period, a course, Hindi question words.
#[test]
fn words_that_only_look_like_a_name_are_none() {
    let courses = catalogue();
    let ctx = context(AgentKind::Support, Role::Staff, &courses);
    for text in [
        "pending payments for last month",
        "any payments due for yoga beginner?",
        "kitne logon ka payment baaki hai",
        "classes for this week",
        "what have i signed up for so far",
    ] {
        assert_eq!(slots(text, &ctx).client, None, "{text}");
    }
}

/// An enquiry's name given beside the phone number, however it is written.
#[test]
fn an_enquirys_name_is_read_beside_its_phone() {
    let courses = catalogue();
    let ctx = context(AgentKind::Support, Role::Guest, &courses);
    for (text, name) in [
        ("call me back - Vikram 9123456780", Some("Vikram")),
        ("pls call me abt vinyasa, rahul 9123456789", Some("rahul")),
        (
            "interested in zumba, Kavita Rao: 98450 12345",
            Some("Kavita Rao"),
        ),
        ("interested in zumba, call me on 9845012345", None),
        ("info on yoga beginner 9845012345", None),
    ] {
        assert_eq!(name_by_phone(text, ctx.courses).as_deref(), name, "{text}");
    }
}
