//! Course families as filters ("yoga": every course with Yoga in its name) in the read
//! tools, the emptiest-first fill rate, and the client names staff see beside pending
//! payments: each figure against the same figure computed here from the seeded
//! collections, read back whole with `find`.

// Helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bson::Document;
use chrono::{DateTime, Utc};
use frontdesk::domain::{
    Attendance, ClassSession, Course, ObjectId, Payment, PaymentStatus, Period, ResolvedPeriod,
};
use frontdesk::store::Store;
use frontdesk::tools::{AgentKind, Caller, Registry, ToolCtx, ToolError, ToolOutput};
use serde_json::{json, Value};

use crate::harness::{all, demo_now, ist, TestDb};

fn ctx(store: &Store, caller: Caller) -> ToolCtx {
    let settings = crate::harness::settings(&[]);
    assert_eq!(settings.clock().now(), demo_now());
    assert_eq!(settings.studio.utc_offset, ist());
    ToolCtx {
        store: store.clone(),
        clock: settings.clock(),
        studio: settings.studio,
        caller,
        idempotency_key: None,
        conversation: None,
    }
}

async fn call(
    ctx: &ToolCtx,
    agent: AgentKind,
    tool: &str,
    args: Value,
) -> Result<ToolOutput, ToolError> {
    // Afresh every time: no answer kept from an earlier call of the test.
    Registry::without_kept_answers()
        .call(agent, ctx, tool, args)
        .await
}

/// The catalogue's courses whose name has `word` as a whole word, ignoring case.
/// In the catalogue's order (by name).
fn family_of<'a>(courses: &'a [Course], word: &str) -> Vec<&'a Course> {
    let mut family: Vec<&Course> = courses
        .iter()
        .filter(|c| {
            c.name
                .split_whitespace()
                .any(|w| w.eq_ignore_ascii_case(word))
        })
        .collect();
    family.sort_by(|a, b| a.name.cmp(&b.name));
    family
}

fn resolved(token: &str) -> ResolvedPeriod {
    Period::parse_or(Some(token), Period::ThisMonth)
        .unwrap()
        .resolve(demo_now(), ist())
        .unwrap()
}

fn within(t: DateTime<Utc>, p: &ResolvedPeriod) -> bool {
    p.start <= t && t < p.end
}

/// "Thu 26 Nov, 07:00", as the tools show a class's start.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&ist())
        .format("%a %-d %b, %H:%M")
        .to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_classes_of_a_family_lists_every_class_of_its_courses() {
    let (db, _) = TestDb::with_demo_data(60).await;
    let s = &db.store;
    let staff = ctx(s, Caller::staff());
    let courses = all(s.raw().courses()).await;
    let yoga = family_of(&courses, "yoga");
    assert!(
        yoga.len() >= 2,
        "the demo catalogue has several Yoga courses"
    );
    let yoga_ids: BTreeSet<ObjectId> = yoga.iter().map(|c| c.id).collect();
    let yoga_names: BTreeSet<String> = yoga.iter().map(|c| c.name.clone()).collect();
    let classes = all(s.raw().classes()).await;

    for token in ["next_week", "tomorrow", "next_7_days"] {
        let out = call(
            &staff,
            AgentKind::Support,
            "list_classes",
            json!({ "course": "yoga", "period": token }),
        )
        .await
        .unwrap();
        // Every class of a Yoga course in the period, each time and course once (a
        // class run in two rooms at once is one line), and nothing else.
        let p = resolved(token);
        let start = p.start.max(demo_now());
        let expected: BTreeSet<(String, String)> = classes
            .iter()
            .filter(|c| {
                yoga_ids.contains(&c.course_id)
                    && !c.cancelled
                    && start <= c.starts_at()
                    && c.starts_at() < p.end
            })
            .map(|c| (local(c.starts_at()), c.course_name.clone()))
            .collect();
        assert!(expected.len() < 40, "{token}: within one answer");
        let listed: Vec<(String, String)> = out.data["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["starts"].as_str().unwrap().to_owned(),
                    v["course"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            listed.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{token}: {}",
            out.text
        );
        assert_eq!(listed.len(), expected.len(), "{token}: each class once");
        assert!(listed.iter().all(|(_, c)| yoga_names.contains(c)));
        assert_eq!(out.data["family"], "Yoga");
        assert_eq!(
            strings(&out.data["courses"])
                .into_iter()
                .collect::<BTreeSet<_>>(),
            yoga_names
        );
        // The answer says the family was used, and which courses it holds.
        for name in &yoga_names {
            assert!(out.text.contains(name.as_str()), "{token}: {}", out.text);
        }
        assert!(out.text.contains("Yoga ("), "{token}: {}", out.text);
    }
    let week = call(
        &staff,
        AgentKind::Support,
        "list_classes",
        json!({ "course": "yoga", "period": "next_week" }),
    )
    .await
    .unwrap();
    let in_week: BTreeSet<String> = week.data["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["course"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        in_week, yoga_names,
        "a week has classes of every Yoga course"
    );

    // The next class of the family: the earliest of all its courses' classes.
    let next = call(
        &staff,
        AgentKind::Support,
        "list_classes",
        json!({ "course": "Yoga", "next_only": true }),
    )
    .await
    .unwrap();
    let first = classes
        .iter()
        .filter(|c| yoga_ids.contains(&c.course_id) && !c.cancelled && c.starts_at() >= demo_now())
        .min_by_key(|c| c.starts_at())
        .unwrap();
    assert_eq!(next.data["classes"][0]["starts"], local(first.starts_at()));
    assert!(
        next.text.contains(&first.course_name) && next.text.starts_with("The next Yoga ("),
        "{}",
        next.text
    );

    // One course, exactly or misspelt, is that course alone, as before.
    for (typed, want) in [("Yin Yoga", "Yin Yoga"), ("yoga beginer", "Yoga Beginner")] {
        let out = call(
            &staff,
            AgentKind::Support,
            "list_classes",
            json!({ "course": typed, "period": "next_week" }),
        )
        .await
        .unwrap();
        let listed = out.data["classes"].as_array().unwrap();
        assert!(!listed.is_empty(), "{typed}");
        assert!(
            listed.iter().all(|v| v["course"] == want),
            "{typed}: {}",
            out.text
        );
        assert_eq!(out.data["course"], want);
        assert!(out.data.get("family").is_none());
        assert!(
            out.text.starts_with(&format!("{want} classes")),
            "{}",
            out.text
        );
    }
    // An unknown course: not found, with suggestions.
    let err = call(
        &staff,
        AgentKind::Support,
        "list_classes",
        json!({ "course": "kickboxing" }),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Did you mean"), "{err}");
}

#[tokio::test]
async fn attendance_and_fill_rate_of_a_family_add_up_its_courses() {
    let (db, _) = TestDb::with_demo_data(150).await;
    let s = &db.store;
    let manager = ctx(s, Caller::manager());
    let courses = all(s.raw().courses()).await;
    let classes = all(s.raw().classes()).await;
    let attendance: Vec<Attendance> = all(s.raw().attendance()).await;

    for word in ["yoga", "pilates"] {
        let family = family_of(&courses, word);
        assert!(family.len() >= 2, "{word}");
        let ids: BTreeSet<ObjectId> = family.iter().map(|c| c.id).collect();
        // "pilates" alone is the course called Pilates; "all pilates" the family.
        let typed = if word == "pilates" {
            "all pilates"
        } else {
            word
        };
        for token in ["last_month", "this_month"] {
            let p = resolved(token).to_date(demo_now());

            // Attendance: present or late over all records, of the family's classes.
            let records: Vec<&Attendance> = attendance
                .iter()
                .filter(|a| ids.contains(&a.course_id) && within(a.class_starts_at, &p))
                .collect();
            let attended = records.iter().filter(|a| a.status.attended()).count();
            assert!(!records.is_empty(), "{word} {token}");
            let out = call(
                &manager,
                AgentKind::Dashboard,
                "attendance_rate",
                json!({ "course": typed, "period": token }),
            )
            .await
            .unwrap();
            let report = &out.data["report"];
            assert_eq!(report["total"], records.len(), "{word} {token}");
            assert_eq!(report["attended"], attended, "{word} {token}");
            let percent = (attended as f64 * 1000.0 / records.len() as f64).round() / 10.0;
            assert!((report["percent"].as_f64().unwrap() - percent).abs() < 0.051);
            assert!(
                out.text
                    .contains(&format!("{:.1}%", report["percent"].as_f64().unwrap())),
                "{word} {token}: {}",
                out.text
            );
            // A line per course of the family, each its own records.
            let lines = report["by_course"].as_array().unwrap();
            assert_eq!(lines.len(), family.len(), "{word} {token}: {}", out.text);
            for c in &family {
                let line = lines
                    .iter()
                    .find(|l| l["course"] == c.name.as_str())
                    .unwrap();
                let mine: Vec<&&Attendance> =
                    records.iter().filter(|a| a.course_id == c.id).collect();
                assert_eq!(line["total"], mine.len());
                assert_eq!(
                    line["attended"],
                    mine.iter().filter(|a| a.status.attended()).count()
                );
                assert!(
                    out.text.contains(&format!("• {} — ", c.name)),
                    "{}",
                    out.text
                );
            }
            let label = format!(
                "{} ({})",
                if word == "yoga" { "Yoga" } else { "Pilates" },
                family
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            assert!(out.text.contains(&label), "{label}: {}", out.text);
            assert!(out.chart.is_some(), "a breakdown has its chart");

            // Fill rate: attended seats over capacity of the family's classes not
            // cancelled; the attended seats counted here from the records.
            let held: Vec<&ClassSession> = classes
                .iter()
                .filter(|c| ids.contains(&c.course_id) && !c.cancelled && within(c.starts_at(), &p))
                .collect();
            let held_ids: BTreeSet<ObjectId> = held.iter().map(|c| c.id).collect();
            let came = attendance
                .iter()
                .filter(|a| held_ids.contains(&a.class_id) && a.status.attended())
                .count();
            let seats: u64 = held.iter().map(|c| u64::from(c.capacity)).sum();
            let out = call(
                &manager,
                AgentKind::Dashboard,
                "class_fill_rate",
                json!({ "course": typed, "period": token }),
            )
            .await
            .unwrap();
            let r = &out.data["report"];
            assert_eq!(r["classes"], held.len(), "{word} {token}");
            assert_eq!(r["seats"], seats, "{word} {token}");
            assert_eq!(r["attended"], came, "{word} {token}");
            assert_eq!(out.data["family"].as_str().unwrap().to_lowercase(), word);
            assert!(out.text.contains(&label), "{}", out.text);
            let by_course: BTreeSet<String> = r["by_course"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["course"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                by_course,
                family
                    .iter()
                    .map(|c| c.name.clone())
                    .collect::<BTreeSet<_>>()
            );
        }
    }

    // The family's figure is its courses' together: the sum of each course's own.
    let p = resolved("last_month");
    let mut sum = (0, 0);
    for c in family_of(&courses, "yoga") {
        let one = call(
            &manager,
            AgentKind::Dashboard,
            "attendance_rate",
            json!({ "course": c.name, "period": "last_month" }),
        )
        .await
        .unwrap();
        assert_eq!(one.data["course"], c.name.as_str());
        assert!(one.data.get("family").is_none());
        assert!(one.chart.is_none(), "one course: no breakdown");
        sum.0 += one.data["report"]["attended"].as_u64().unwrap();
        sum.1 += one.data["report"]["total"].as_u64().unwrap();
    }
    let family = call(
        &manager,
        AgentKind::Dashboard,
        "attendance_rate",
        json!({ "course": "YOGA classes", "period": "last_month" }),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            family.data["report"]["attended"].as_u64().unwrap(),
            family.data["report"]["total"].as_u64().unwrap()
        ),
        sum,
        "{}",
        p.label()
    );
    // "Pilates" is one course's own name: that course alone, as before.
    let pilates = call(
        &manager,
        AgentKind::Dashboard,
        "attendance_rate",
        json!({ "course": "Pilates", "period": "last_month" }),
    )
    .await
    .unwrap();
    assert_eq!(pilates.data["course"], "Pilates");
    assert_eq!(
        pilates.data["report"]["by_course"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The fill rates of a breakdown in the order given.
fn rates(lines: &Value) -> Vec<f64> {
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["percent"].as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn fill_rate_lists_the_emptiest_or_the_fullest_first() {
    let (db, _) = TestDb::with_demo_data(150).await;
    let s = &db.store;
    let manager = ctx(s, Caller::manager());
    let classes = all(s.raw().classes()).await;
    let attendance: Vec<Attendance> = all(s.raw().attendance()).await;
    let p = resolved("last_month");

    // Each course's fill rate computed here: attended records over capacity of the
    // classes held (not cancelled) in the period.
    let mut by_course: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let came: HashMap<ObjectId, u64> =
        attendance
            .iter()
            .filter(|a| a.status.attended())
            .fold(HashMap::new(), |mut m, a| {
                *m.entry(a.class_id).or_default() += 1;
                m
            });
    for c in classes
        .iter()
        .filter(|c| !c.cancelled && within(c.starts_at(), &p))
    {
        let line = by_course.entry(c.course_name.clone()).or_default();
        line.0 += came.get(&c.id).copied().unwrap_or(0);
        line.1 += u64::from(c.capacity);
    }
    assert!(by_course.len() > 2);
    let rate = |(came, seats): (u64, u64)| came as f64 / seats as f64;
    let emptiest = by_course
        .iter()
        .min_by(|a, b| rate(*a.1).total_cmp(&rate(*b.1)).then_with(|| a.0.cmp(b.0)))
        .unwrap();
    let fullest = by_course
        .iter()
        .max_by(|a, b| rate(*a.1).total_cmp(&rate(*b.1)).then_with(|| b.0.cmp(a.0)))
        .unwrap();

    let ask = |args: Value| {
        let manager = manager.clone();
        async move {
            call(&manager, AgentKind::Dashboard, "class_fill_rate", args)
                .await
                .unwrap()
        }
    };
    let low = ask(json!({ "period": "last_month", "order": "emptiest" })).await;
    let lows = rates(&low.data["report"]["by_course"]);
    assert_eq!(lows.len(), by_course.len());
    assert!(
        lows.windows(2).all(|w| w[0] <= w[1]),
        "non-decreasing: {lows:?}"
    );
    assert_eq!(low.data["order"], "emptiest");
    assert_eq!(
        low.data["report"]["by_course"][0]["course"],
        emptiest.0.as_str()
    );
    for line in low.data["report"]["by_course"].as_array().unwrap() {
        let (came, seats) = by_course[line["course"].as_str().unwrap()];
        assert_eq!(
            (line["attended"].as_u64(), line["seats"].as_u64()),
            (Some(came), Some(seats))
        );
    }
    // The answer leads with the emptiest course, and its lines go emptiest first.
    assert!(
        low.text
            .starts_with(&format!("{} filled least", emptiest.0)),
        "{}",
        low.text
    );
    let bullets: Vec<&str> = low.text.lines().filter(|l| l.starts_with("• ")).collect();
    assert_eq!(bullets.len(), by_course.len());
    assert!(
        bullets[0].starts_with(&format!("• {} ", emptiest.0)),
        "{}",
        low.text
    );

    // Fullest first: the default, and asked for.
    for args in [
        json!({ "period": "last_month" }),
        json!({ "period": "last_month", "order": "fullest" }),
    ] {
        let high = ask(args).await;
        let highs = rates(&high.data["report"]["by_course"]);
        assert!(
            highs.windows(2).all(|w| w[0] >= w[1]),
            "non-increasing: {highs:?}"
        );
        assert_eq!(
            high.data["report"]["by_course"][0]["course"],
            fullest.0.as_str()
        );
        assert_eq!(high.data["order"], "fullest");
    }

    // By instructor, emptiest first.
    let teachers =
        ask(json!({ "period": "last_month", "by": "instructor", "order": "emptiest" })).await;
    let lows = rates(&teachers.data["report"]["by_instructor"]);
    assert!(lows.len() > 1);
    assert!(
        lows.windows(2).all(|w| w[0] <= w[1]),
        "non-decreasing: {lows:?}"
    );
    assert!(teachers.text.contains("fill least"), "{}", teachers.text);

    // A family, emptiest first: its courses only, in that order.
    let yoga = ask(json!({ "period": "last_month", "course": "yoga", "order": "emptiest" })).await;
    let lows = rates(&yoga.data["report"]["by_course"]);
    assert!(lows.len() >= 2);
    assert!(
        lows.windows(2).all(|w| w[0] <= w[1]),
        "non-decreasing: {lows:?}"
    );

    // The order is one of two words; anything else is refused, plainly.
    for order in ["smallest", "EMPTIEST", ""] {
        let err = call(
            &manager,
            AgentKind::Dashboard,
            "class_fill_rate",
            json!({ "period": "last_month", "order": order }),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ToolError::BadArgs(_)), "{order}: {err:?}");
        assert!(err.to_string().contains("\"emptiest\""), "{err}");
    }

    // The argument reads well for an LLM: a closed list of values.
    let registry = Registry::new();
    let schema = registry.get("class_fill_rate").unwrap().parameters();
    let order = &schema["properties"]["order"];
    assert_eq!(order["enum"], json!(["fullest", "emptiest"]), "{schema:#}");
    assert!(order["description"].as_str().unwrap().contains("emptiest"));
    let course = &schema["properties"]["course"]["description"];
    assert!(course.as_str().unwrap().contains("yoga"), "{schema:#}");
    for tool in ["list_classes", "attendance_rate", "pending_payments"] {
        let schema = registry.get(tool).unwrap().parameters();
        let course = schema["properties"]["course"]["description"].as_str();
        assert!(
            course.is_some_and(|d| d.contains("yoga")),
            "{tool}: {schema:#}"
        );
    }
}

#[tokio::test]
async fn staff_see_who_owes_each_pending_payment_and_a_client_sees_no_names() {
    let (db, _) = TestDb::with_demo_data(150).await;
    let s = &db.store;
    let staff = ctx(s, Caller::staff());
    let courses = all(s.raw().courses()).await;
    let payments = all(s.raw().payments()).await;
    let pending: Vec<&Payment> = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Pending)
        .collect();
    assert!(pending.len() > 3);
    let names: HashMap<ObjectId, String> = all(s.raw().clients())
        .await
        .iter()
        .map(|d: &Document| {
            (
                d.get_object_id("_id").unwrap(),
                d.get_str("name").unwrap().to_owned(),
            )
        })
        .collect();
    let by_number: HashMap<String, &Payment> = pending
        .iter()
        .map(|p| (p.order_number.to_string(), *p))
        .collect();

    // Staff: every payment listed with its client's name, in the data and the text.
    let out = call(
        &staff,
        AgentKind::Support,
        "pending_payments",
        json!({ "scope": "all" }),
    )
    .await
    .unwrap();
    assert_eq!(out.data["total"], pending.len());
    let listed = out.data["payments"].as_array().unwrap();
    assert_eq!(listed.len(), pending.len().min(25));
    for v in listed {
        let p = by_number[v["order"].as_str().unwrap()];
        let name = &names[&p.client_id];
        assert_eq!(v["client"], name.as_str());
        let line = out
            .text
            .lines()
            .find(|l| l.starts_with(&format!("• {} ", v["order"].as_str().unwrap())))
            .unwrap();
        assert!(line.contains(name.as_str()), "{line}");
    }

    // Staff, one family of courses: its pending payments only, all counted.
    let yoga: BTreeSet<ObjectId> = family_of(&courses, "yoga").iter().map(|c| c.id).collect();
    let of_yoga: Vec<&&Payment> = pending
        .iter()
        .filter(|p| yoga.contains(&p.course_id))
        .collect();
    assert!(!of_yoga.is_empty());
    let out = call(
        &staff,
        AgentKind::Support,
        "pending_payments",
        json!({ "course": "yoga" }),
    )
    .await
    .unwrap();
    assert_eq!(out.data["total"], of_yoga.len(), "{}", out.text);
    assert_eq!(out.data["family"], "Yoga");
    for v in out.data["payments"].as_array().unwrap() {
        let p = by_number[v["order"].as_str().unwrap()];
        assert!(yoga.contains(&p.course_id));
        assert_eq!(v["client"], names[&p.client_id].as_str());
    }
    assert!(out.text.contains(" for Yoga ("), "{}", out.text);
    let sum: i64 = out.data["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["amount_minor"].as_i64().unwrap())
        .sum();
    if of_yoga.len() <= 25 {
        assert_eq!(sum, of_yoga.iter().map(|p| p.amount.minor()).sum::<i64>());
    }

    // A client: their own payments only, and no name at all, theirs or anyone's.
    let (client_id, theirs) = pending
        .iter()
        .fold(HashMap::<ObjectId, usize>::new(), |mut m, p| {
            *m.entry(p.client_id).or_default() += 1;
            m
        })
        .into_iter()
        .max_by_key(|(id, n)| (*n, *id))
        .unwrap();
    let own_name = names[&client_id].clone();
    let me = ctx(s, Caller::client(client_id, own_name.clone()));
    // Someone else named: told they see only their own, whoever it is, no names said.
    let other = names.values().find(|n| **n != own_name).unwrap();
    let refused = call(
        &me,
        AgentKind::Support,
        "pending_payments",
        json!({ "client": other }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, frontdesk::tools::ToolError::Forbidden(_)),
        "{refused:?}"
    );
    for name in names.values() {
        assert!(
            !refused.to_string().contains(name.as_str()),
            "{name} in {refused}"
        );
    }
    for args in [json!({}), json!({ "scope": "all" })] {
        let out = call(&me, AgentKind::Support, "pending_payments", args.clone())
            .await
            .unwrap();
        assert_eq!(out.data["total"], theirs, "{args}");
        let listed = out.data["payments"].as_array().unwrap();
        assert_eq!(listed.len(), theirs);
        for v in listed {
            assert_eq!(by_number[v["order"].as_str().unwrap()].client_id, client_id);
            assert!(v.get("client").is_none(), "{v}");
        }
        for name in names.values() {
            assert!(!out.text.contains(name.as_str()), "{name} in {}", out.text);
            assert!(!out.data.to_string().contains(name.as_str()), "{name}");
        }
    }
    // A client asking for a family: their own payments of it only.
    let mine_of_yoga = pending
        .iter()
        .filter(|p| p.client_id == client_id && yoga.contains(&p.course_id))
        .count();
    let out = call(
        &me,
        AgentKind::Support,
        "pending_payments",
        json!({ "course": "yoga" }),
    )
    .await
    .unwrap();
    assert_eq!(out.data["total"], mine_of_yoga, "{}", out.text);
    assert!(out.text.contains("Yoga ("), "{}", out.text);
}
