//! The read side of the REST API on the demo data: the analytics endpoints give exactly
//! the Dashboard Agent's numbers (and the sums of the documents), the catalogue, bad
//! input as problem details, the rate limits, the docs page and the OpenAPI document.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use frontdesk::domain::{
    Attendance, ClassSession, Client, ClientStatus, Order, OrderStatus, Payment, PaymentStatus,
    Period, ResolvedPeriod,
};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::api_matrix::endpoints;
use crate::harness::{all, demo_now, ist, TestApi, TestDb};

async fn get(api: &TestApi, token: &str, path: &str) -> (StatusCode, HeaderMap, Value) {
    api.get(path, token).await
}

async fn ok(api: &TestApi, token: &str, path: &str) -> Value {
    api.get_ok(path, token).await
}

/// Asks the Dashboard Agent over HTTP; the first tool call's name and result.
async fn dashboard(api: &TestApi, token: &str, query: &str) -> (String, Value) {
    let res = api
        .http
        .post(api.url("/api/agents/dashboard/query"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    let body: Value = res.json().await.unwrap();
    let call = &body["tool_calls"][0];
    assert!(call.is_object(), "{query}: no tool call in {body}");
    (
        call["name"].as_str().unwrap_or_default().to_owned(),
        call["result"].clone(),
    )
}

fn within(t: DateTime<Utc>, p: &ResolvedPeriod) -> bool {
    p.start <= t && t < p.end
}

fn to_date(period: Period) -> ResolvedPeriod {
    period
        .resolve(demo_now(), ist())
        .unwrap()
        .to_date(demo_now())
}

fn paid_in(payments: &[Payment], p: &ResolvedPeriod) -> (i64, u64) {
    let paid: Vec<&Payment> = payments
        .iter()
        .filter(|x| x.status == PaymentStatus::Paid && x.paid_at.is_some_and(|t| within(t, p)))
        .collect();
    (
        paid.iter().map(|x| x.amount.minor()).sum(),
        paid.len() as u64,
    )
}

#[tokio::test]
async fn analytics_give_the_dashboard_agents_numbers_and_the_documents_sums() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let store = db.store.clone();
    let api = TestApi::spawn(db).await;
    let manager = api.token("manager", "read-test");
    let payments: Vec<Payment> = all(store.raw().payments()).await;
    let month = to_date(Period::ThisMonth);

    // Revenue this month: the agent, the endpoint and the documents agree.
    let (tool, said) = dashboard(&api, &manager, "revenue this month").await;
    assert_eq!(tool, "revenue");
    let figures = ok(&api, &manager, "/api/analytics/revenue?period=this_month").await;
    assert_eq!(figures["total_minor"], said["total_minor"], "{figures}");
    assert_eq!(figures["payments"], said["payments"]);
    assert_eq!(figures["currency"], said["currency"]);
    assert_eq!(figures["period_label"], said["period"]);
    assert_eq!(figures["period_label"], "1–25 Nov 2026 so far (to 15:30)");
    assert_eq!(figures["period"], "this_month");
    assert!(
        figures.get("previous").is_none(),
        "previous only with compare"
    );
    let (total, n) = paid_in(&payments, &month);
    assert!(total > 0, "the demo data has revenue this month");
    assert_eq!(figures["total_minor"], total);
    assert_eq!(figures["payments"], n);
    // The default period is this month, to date.
    let default = ok(&api, &manager, "/api/analytics/revenue").await;
    assert_eq!(default["total_minor"], total);

    // Compared with the same stretch of October, as the agent does.
    let compared = ok(
        &api,
        &manager,
        "/api/analytics/revenue?period=this_month&compare=true&by=course",
    )
    .await;
    assert_eq!(compared["total_minor"], total);
    assert_eq!(
        compared["previous"]["total_minor"],
        said["previous"]["total_minor"]
    );
    assert_eq!(
        compared["previous"]["period_label"],
        said["previous"]["period"]
    );
    let (before, _) = paid_in(&payments, &month.previous());
    assert_eq!(compared["previous"]["total_minor"], before);
    // The breakdown by course adds up and matches the documents line by line.
    let mut by_course: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for p in payments
        .iter()
        .filter(|x| x.status == PaymentStatus::Paid && x.paid_at.is_some_and(|t| within(t, &month)))
    {
        let line = by_course.entry(p.course_name.clone()).or_default();
        line.0 += p.amount.minor();
        line.1 += 1;
    }
    let lines = compared["breakdown"].as_array().unwrap();
    assert_eq!(lines.len(), by_course.len());
    for line in lines {
        let (t, n) = by_course[line["key"].as_str().unwrap()];
        assert_eq!(line["total_minor"], t, "{line}");
        assert_eq!(line["payments"], n, "{line}");
    }
    let by_method = ok(&api, &manager, "/api/analytics/revenue?by=method").await;
    let sum: i64 = by_method["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["total_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, total);

    // A whole past month.
    let (tool, said) = dashboard(&api, &manager, "total sales last month").await;
    assert_eq!(tool, "revenue");
    let october = ok(&api, &manager, "/api/analytics/revenue?period=last_month").await;
    assert_eq!(october["total_minor"], said["total_minor"]);
    assert_eq!(october["period_label"], "1–31 Oct 2026");
    assert_eq!(
        october["total_minor"],
        paid_in(&payments, &to_date(Period::LastMonth)).0
    );

    // New clients this month, and inactive clients.
    let clients: Vec<Client> = store.find_clients(bson::doc! {}).await.unwrap();
    let (tool, said) = dashboard(&api, &manager, "How many new clients joined this month?").await;
    assert_eq!(tool, "new_clients");
    let figures = ok(&api, &manager, "/api/analytics/clients?period=this_month").await;
    assert_eq!(figures["new_clients"], said["count"], "{figures}");
    assert_eq!(figures["new_clients_previous"], said["previous_count"]);
    let joined = clients
        .iter()
        .filter(|c| c.deleted_at.is_none() && within(c.joined_at, &month))
        .count();
    assert_eq!(figures["new_clients"], joined);
    assert_eq!(figures["inactive_days"], 30);

    let (tool, said) = dashboard(
        &api,
        &manager,
        "how many clients haven't visited in 60 days",
    )
    .await;
    assert_eq!(tool, "inactive_clients");
    let figures = ok(&api, &manager, "/api/analytics/clients?inactive_days=60").await;
    assert_eq!(figures["inactive_clients"], said["count"], "{figures}");
    let cutoff = demo_now() - chrono::Duration::days(60);
    let inactive = clients
        .iter()
        .filter(|c| {
            c.deleted_at.is_none()
                && c.status != ClientStatus::Lead
                && c.last_visit_at.map_or(c.joined_at < cutoff, |t| t < cutoff)
        })
        .count();
    assert!(inactive > 0);
    assert_eq!(figures["inactive_clients"], inactive);

    // Attendance at Pilates this month.
    let pilates = store.course_by_name("Pilates").await.unwrap().unwrap();
    let (tool, said) = dashboard(
        &api,
        &manager,
        "What is the attendance percentage for Pilates classes?",
    )
    .await;
    assert_eq!(tool, "attendance_rate");
    let figures = ok(
        &api,
        &manager,
        &format!(
            "/api/analytics/attendance?course_id={}",
            pilates.id.to_hex()
        ),
    )
    .await;
    assert_eq!(figures["course"], "Pilates");
    assert_eq!(figures["attended"], said["report"]["attended"], "{figures}");
    assert_eq!(figures["total"], said["report"]["total"]);
    assert_eq!(figures["percent"], said["report"]["percent"]);
    let records: Vec<Attendance> = all(store.raw().attendance()).await;
    let at_pilates: Vec<&Attendance> = records
        .iter()
        .filter(|a| a.course_id == pilates.id && within(a.class_starts_at, &month))
        .collect();
    assert!(!at_pilates.is_empty());
    assert_eq!(figures["total"], at_pilates.len());
    assert_eq!(
        figures["attended"],
        at_pilates.iter().filter(|a| a.status.attended()).count()
    );
    // All courses: the lines add up to the total.
    let overall = ok(
        &api,
        &manager,
        "/api/analytics/attendance?period=last_30_days",
    )
    .await;
    let lines = overall["by_course"].as_array().unwrap();
    assert!(lines.len() > 1);
    let line_total: u64 = lines.iter().map(|l| l["total"].as_u64().unwrap()).sum();
    assert_eq!(overall["total"], line_total);

    // Course enrollment and fill rate this month.
    let figures = ok(&api, &manager, "/api/analytics/courses?period=this_month").await;
    let orders: Vec<Order> = all(store.raw().orders()).await;
    let mut per_course: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    for o in orders
        .iter()
        .filter(|o| o.status != OrderStatus::Cancelled && within(o.created_at, &month))
    {
        let e = per_course.entry(o.course_id.to_hex()).or_default();
        e.0 += 1;
        e.1.insert(o.client_id.to_hex());
    }
    let ranking = figures["enrollment"].as_array().unwrap();
    assert_eq!(ranking.len(), per_course.len(), "{figures}");
    let orders_total: u64 = ranking.iter().map(|l| l["orders"].as_u64().unwrap()).sum();
    assert_eq!(
        orders_total,
        per_course.values().map(|(n, _)| n).sum::<u64>()
    );
    let mut counts: Vec<u64> = per_course.values().map(|(n, _)| *n).collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let listed: Vec<u64> = ranking
        .iter()
        .map(|l| l["orders"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, counts, "most orders first");
    let classes: Vec<ClassSession> = all(store.raw().classes()).await;
    let held: Vec<&ClassSession> = classes
        .iter()
        .filter(|c| !c.cancelled && within(c.starts_at(), &month))
        .collect();
    assert_eq!(figures["fill_rate"]["classes"], held.len());
    assert_eq!(
        figures["fill_rate"]["seats"],
        held.iter().map(|c| u64::from(c.capacity)).sum::<u64>()
    );
    let same = store.class_fill_rate(&month, None).await.unwrap();
    assert_eq!(figures["fill_rate"]["attended"], same.attended);
    assert_eq!(figures["fill_rate"]["percent"], same.percent);
}

#[tokio::test]
async fn the_catalogue_lists_courses_and_classes() {
    let (db, report) = TestDb::with_demo_data(200).await;
    let store = db.store.clone();
    let priya = crate::harness::priya(&store).await;
    let api = TestApi::spawn(db).await;
    let client = api.token("client", &priya.id.to_hex());

    let courses = ok(&api, &client, "/api/courses").await;
    let items = courses["items"].as_array().unwrap();
    assert_eq!(items.len(), report.courses);
    let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "by name");
    let pilates = items.iter().find(|c| c["name"] == "Pilates").unwrap();
    assert_eq!(pilates["currency"], "INR");
    assert!(pilates["price_minor"].as_i64().unwrap() > 0);
    assert!(!pilates["schedule"].as_array().unwrap().is_empty());

    let id = pilates["id"].as_str().unwrap();
    let one = ok(&api, &client, &format!("/api/courses/{id}")).await;
    assert_eq!(&one, pilates);
    let (status, headers, body) = get(&api, &client, "/api/courses/not-an-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    let (status, _, _) = get(&api, &client, "/api/courses/0123456789abcdef01234567").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // This week's classes (the whole week), earliest first, none cancelled.
    let week = Period::ThisWeek.resolve(demo_now(), ist()).unwrap();
    let classes: Vec<ClassSession> = all(store.raw().classes()).await;
    let expected: Vec<&ClassSession> = classes
        .iter()
        .filter(|c| !c.cancelled && within(c.starts_at(), &week))
        .collect();
    assert!(!expected.is_empty());
    let listed = ok(&api, &client, "/api/classes").await;
    assert_eq!(listed["period"], "this_week");
    assert_eq!(listed["period_label"], "23–29 Nov 2026");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), expected.len().min(200));
    assert_eq!(listed["truncated"], expected.len() > 200);
    let starts: Vec<&str> = items
        .iter()
        .map(|c| c["starts_at"].as_str().unwrap())
        .collect();
    let mut in_order = starts.clone();
    in_order.sort_unstable();
    assert_eq!(starts, in_order, "earliest first");
    let ids: HashSet<String> = expected.iter().map(|c| c.id.to_hex()).collect();
    assert!(items
        .iter()
        .all(|c| ids.contains(c["id"].as_str().unwrap())));

    // One course, a short page, another period.
    let only = ok(&api, &client, &format!("/api/classes?course_id={id}")).await;
    let only = only["items"].as_array().unwrap();
    assert_eq!(
        only.len(),
        expected
            .iter()
            .filter(|c| c.course_id.to_hex() == id)
            .count()
    );
    assert!(only.iter().all(|c| c["course_name"] == "Pilates"));
    let page = ok(&api, &client, "/api/classes?limit=3").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["truncated"], true);
    let next = ok(&api, &client, "/api/classes?period=next_week").await;
    assert_eq!(next["period_label"], "30 Nov – 6 Dec 2026");
    // A long period is capped at 200.
    let year = ok(&api, &client, "/api/classes?period=this_year").await;
    assert_eq!(year["items"].as_array().unwrap().len(), 200);
    assert_eq!(year["truncated"], true);
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    let db = TestDb::new().await;
    let api = TestApi::spawn(db).await;
    let manager = api.token("manager", "read-test");
    for (path, status, field) in [
        ("/api/analytics/revenue?period=fortnight", 400, "period"),
        ("/api/analytics/revenue?period=2026-13", 400, "period"),
        ("/api/analytics/revenue?period=last_0_days", 400, "period"),
        ("/api/analytics/revenue?by=day", 400, "by"),
        ("/api/analytics/revenue?compare=maybe", 400, "compare"),
        ("/api/analytics/clients?period=someday", 400, "period"),
        (
            "/api/analytics/clients?inactive_days=0",
            400,
            "inactive_days",
        ),
        (
            "/api/analytics/clients?inactive_days=ten",
            400,
            "inactive_days",
        ),
        (
            "/api/analytics/courses?period=2026-10-15..2026-10-01",
            400,
            "period",
        ),
        ("/api/analytics/attendance?period=%00", 400, "period"),
        (
            "/api/analytics/attendance?course_id=pilates",
            400,
            "course_id",
        ),
        ("/api/classes?period=whenever", 400, "period"),
        ("/api/classes?limit=0", 400, "limit"),
        ("/api/classes?limit=201", 400, "limit"),
        (
            "/api/classes?course_id=%7B%22%24ne%22%3A1%7D",
            400,
            "course_id",
        ),
    ] {
        let (got, headers, body) = get(&api, &manager, path).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{path}"
        );
        assert_eq!(body["field"], field, "{path}: {body}");
        assert_eq!(body["status"], status);
    }
    // Well-formed ids of nothing.
    for path in [
        "/api/analytics/attendance?course_id=0123456789abcdef01234567",
        "/api/classes?course_id=0123456789abcdef01234567",
        "/api/courses/0123456789abcdef01234567",
    ] {
        let (got, _, body) = get(&api, &manager, path).await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // An empty database has figures of zero, not errors.
    let empty = ok(&api, &manager, "/api/analytics/revenue?compare=true").await;
    assert_eq!(empty["total_minor"], 0);
    assert_eq!(empty["payments"], 0);
    assert!(empty["previous"].get("change_percent").is_none());
}

#[tokio::test]
async fn a_token_over_its_limit_gets_429_with_retry_after() {
    let api = TestApi::spawn_with_limits(TestDb::new().await, 3, 1000).await;
    let staff = api.token("staff", "limited");
    for i in 0..3 {
        let (status, _, body) = get(&api, &staff, "/api/courses").await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
    }
    let (status, headers, body) = get(&api, &staff, "/api/courses").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["content-type"], "application/problem+json");
    // Another token has a quota of its own.
    let other = api.token("staff", "someone-else");
    let (status, _, _) = get(&api, &other, "/api/courses").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_address_over_its_limit_gets_429_with_retry_after() {
    let api = TestApi::spawn_with_limits(TestDb::new().await, 1000, 3).await;
    for i in 0..3 {
        let token = api.token("staff", &format!("ip-{i}"));
        let (status, _, body) = get(&api, &token, "/api/courses").await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
    }
    // A fresh token does not help, and neither does asking without one.
    let (status, headers, _) = get(&api, &api.token("staff", "ip-3"), "/api/courses").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let res = api.http.get(api.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_docs_page_and_the_openapi_document_cover_every_endpoint() {
    let api = TestApi::spawn(TestDb::new().await).await;

    let res = api.http.get(api.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    let html = res.text().await.unwrap();
    assert!(html.contains("openapi.json"));
    assert!(
        html.contains("Authorization"),
        "a try-it form sends the token"
    );
    // Self-contained: nothing is loaded from elsewhere.
    for outside in ["src=\"http", "href=\"http", "@import", "cdn", "<script src"] {
        assert!(!html.contains(outside), "the docs page loads {outside:?}");
    }

    let res = api
        .http
        .get(api.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    // Every operation of the document is in the role matrix, and every route of the
    // matrix (but the document itself and the page) is in the document.
    let normal = |path: &str| {
        let mut out = String::new();
        let mut inside = false;
        for ch in path.chars() {
            match ch {
                '{' => {
                    inside = true;
                    out.push_str("{}");
                }
                '}' => inside = false,
                c if !inside => out.push(c),
                _ => {}
            }
        }
        out
    };
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                assert!(op["responses"].is_object(), "{method} {path}");
                documented.insert(format!("{} {}", method.to_uppercase(), normal(path)));
            }
        }
    }
    let routed: BTreeSet<String> = endpoints()
        .iter()
        .filter(|e| e.path != "/docs" && e.path != "/api/openapi.json")
        .map(|e| format!("{} {}", e.method, normal(e.path)))
        .collect();
    let missing: Vec<&String> = routed.difference(&documented).collect();
    let unlisted: Vec<&String> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes the OpenAPI document lacks: {missing:?}"
    );
    assert!(
        unlisted.is_empty(),
        "documented operations the role matrix lacks: {unlisted:?}"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Problems are documented as sent, and a 429 with its Retry-After.
    for path in [
        "/api/analytics/revenue",
        "/api/classes",
        "/api/courses/{course_id}",
    ] {
        let responses = &doc["paths"][path]["get"]["responses"];
        assert!(
            responses["401"]["content"]["application/problem+json"].is_object(),
            "{path}: {responses}"
        );
        assert!(responses["401"]["content"]["application/json"].is_null());
        assert!(responses["429"]["headers"]["Retry-After"].is_object());
    }
}

/// The figures added for the dashboard's other questions, over REST, each checked
/// against a sum over the documents computed here: retention, the outstanding balance,
/// fill rate by course and instructor (with the classes each rests on), revenue per
/// month (the running month marked partial and compared with the same stretch before)
/// and new clients per week.
#[tokio::test]
async fn the_dashboards_other_figures_are_on_rest_and_add_up() {
    let (db, _) = TestDb::with_demo_data(150).await;
    let payments: Vec<Payment> = all(db.store.raw().payments()).await;
    let classes: Vec<ClassSession> = all(db.store.raw().classes()).await;
    let attendance: Vec<Attendance> = all(db.store.raw().attendance()).await;
    let clients = db.store.find_clients(bson::doc! {}).await.unwrap();
    let api = TestApi::spawn(db).await;
    let manager = api.token("manager", "m-1");

    // Outstanding: every pending payment, and those due before now.
    let owed = ok(&api, &manager, "/api/analytics/outstanding").await;
    let pending: Vec<&Payment> = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Pending)
        .collect();
    assert_eq!(owed["pending_count"], pending.len() as u64);
    assert_eq!(
        owed["pending_minor"],
        pending.iter().map(|p| p.amount.minor()).sum::<i64>()
    );
    let overdue: Vec<&&Payment> = pending.iter().filter(|p| p.due_at < demo_now()).collect();
    assert_eq!(owed["overdue_count"], overdue.len() as u64);
    assert_eq!(
        owed["overdue_minor"],
        overdue.iter().map(|p| p.amount.minor()).sum::<i64>()
    );

    // Retention last month: who came in September came again in October.
    let came = |p: &ResolvedPeriod| -> BTreeSet<bson::oid::ObjectId> {
        attendance
            .iter()
            .filter(|a| a.status.attended() && within(a.class_starts_at, p))
            .map(|a| a.client_id)
            .collect()
    };
    let october = to_date(Period::LastMonth);
    let september = october.previous();
    let (before, now) = (came(&september), came(&october));
    let kept = ok(&api, &manager, "/api/analytics/retention?period=last_month").await;
    assert_eq!(kept["previous_active"], before.len() as u64);
    assert_eq!(kept["retained"], before.intersection(&now).count() as u64);
    assert_eq!(kept["running"], false);
    assert_eq!(kept["previous"]["period_label"], september.label());
    // This month is running, and compared with last month to the same time.
    let this_month = ok(&api, &manager, "/api/analytics/retention").await;
    assert_eq!(this_month["running"], true);
    assert_eq!(
        this_month["previous"]["period_label"],
        "1–25 Oct 2026 to the same time (15:30)"
    );

    // Fill rate last month, by course, from the classes and their attendance.
    let held: Vec<&ClassSession> = classes
        .iter()
        .filter(|c| !c.cancelled && within(c.starts_at(), &october))
        .collect();
    let fill = ok(&api, &manager, "/api/analytics/fill-rate?period=last_month").await;
    assert_eq!(fill["classes"], held.len() as u64);
    assert_eq!(
        fill["seats"],
        held.iter().map(|c| u64::from(c.capacity)).sum::<u64>()
    );
    let held_ids: HashSet<bson::oid::ObjectId> = held.iter().map(|c| c.id).collect();
    let attended = attendance
        .iter()
        .filter(|a| a.status.attended() && held_ids.contains(&a.class_id))
        .count() as u64;
    assert_eq!(fill["attended"], attended);
    let mut per_course: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &held {
        *per_course.entry(c.course_name.as_str()).or_default() += 1;
    }
    let min = fill["min_to_rank"].as_u64().unwrap();
    let by_course = fill["by_course"].as_array().unwrap();
    assert!(!per_course.is_empty(), "classes were held last month");
    assert_eq!(by_course.len(), per_course.len(), "{fill}");
    for line in by_course {
        let classes = per_course[line["course"].as_str().unwrap()];
        assert_eq!(line["classes"], classes, "{line}");
        assert_eq!(line["ranked"], classes >= min, "{line}");
    }
    let by_instructor: u64 = fill["by_instructor"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["classes"].as_u64().unwrap())
        .sum();
    assert_eq!(by_instructor, held.len() as u64);

    // Revenue per month for six months: the running month is partial and compared with
    // the same stretch of October.
    let trend = ok(&api, &manager, "/api/analytics/revenue/months?months=6").await;
    let months = trend["months"].as_array().unwrap();
    assert_eq!(months.len(), 6);
    for m in months {
        let key = m["month"].as_str().unwrap();
        let (year, month) = key.split_once('-').unwrap();
        let period = Period::month(year.parse().unwrap(), month.parse().unwrap())
            .unwrap()
            .resolve(demo_now(), ist())
            .unwrap()
            .to_date(demo_now());
        assert_eq!(m["total_minor"], paid_in(&payments, &period).0, "{key}");
        assert_eq!(m["partial"], key == "2026-11", "{key}");
    }
    let running = &trend["running_month"];
    assert_eq!(
        running["total_minor"],
        paid_in(&payments, &to_date(Period::ThisMonth)).0
    );
    assert_eq!(
        running["previous_label"],
        "1–25 Oct 2026 to the same time (15:30)"
    );
    assert_eq!(
        running["previous_total_minor"],
        paid_in(&payments, &to_date(Period::ThisMonth).previous()).0
    );

    // New clients per week over the last 84 days.
    let weekly = ok(&api, &manager, "/api/analytics/new-clients/weekly").await;
    let span = to_date(Period::LastDays(84));
    let joined = clients
        .iter()
        .filter(|c| c.deleted_at.is_none() && within(c.joined_at, &span))
        .count() as u64;
    assert_eq!(weekly["total"], joined);
    let weeks = weekly["weeks"].as_array().unwrap();
    assert_eq!(weeks.last().unwrap()["partial"], true, "the running week");
    assert!(weeks.iter().filter(|w| w["partial"] == false).count() >= 10);
}
