//! The `client_summary` and `top_clients` Dashboard tools on the demo data, and their
//! REST endpoints: every figure compared with one computed here from the raw
//! collections, the kept status counts followed through client writes and counted once
//! for an older database, ties named, and the role checks.

use std::collections::HashMap;

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use frontdesk::domain::{
    Attendance, Client, ClientStatus, Email, ObjectId, Payment, Period, PersonName, ResolvedPeriod,
};
use frontdesk::store::{NewOrder, Store};
use frontdesk::tools::{AgentKind, Caller, Registry, Role, ToolCtx, ToolErrorKind, ToolOutput};
use futures::TryStreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{demo_now, ist, server_url, test_keys, TestApi, TestDb};

fn ctx(store: &Store, caller: Caller) -> ToolCtx {
    let settings = crate::gateway::env(&[]);
    ToolCtx {
        store: store.clone(),
        clock: settings.clock(),
        studio: settings.studio,
        caller,
        idempotency_key: None,
        conversation: None,
    }
}

async fn ask(store: &Store, tool: &str, args: Value) -> ToolOutput {
    Registry::new()
        .call(
            AgentKind::Dashboard,
            &ctx(store, Caller::manager()),
            tool,
            args,
        )
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// A period as the tools resolve it: at the demo clock, in the studio's offset, cut at now.
fn to_date(p: Period) -> ResolvedPeriod {
    p.resolve(demo_now(), ist()).unwrap().to_date(demo_now())
}

fn within(t: DateTime<Utc>, p: &ResolvedPeriod) -> bool {
    p.start <= t && t < p.end
}

/// Every client document as stored (deleted ones too).
async fn raw_clients(store: &Store) -> Vec<Document> {
    store
        .raw()
        .clients()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// (total, active, leads, inactive, joined in `p`) of the clients not deleted, counted
/// here from the clients collection.
async fn summary_in(store: &Store, p: &ResolvedPeriod) -> (u64, u64, u64, u64, u64) {
    let live: Vec<Document> = raw_clients(store)
        .await
        .into_iter()
        .filter(|c| !matches!(c.get("deleted_at"), Some(bson::Bson::DateTime(_))))
        .collect();
    let with = |s: &str| live.iter().filter(|c| c.get_str("status") == Ok(s)).count() as u64;
    let joined = live
        .iter()
        .filter(|c| {
            c.get_datetime("joined_at")
                .is_ok_and(|t| within(t.to_chrono(), p))
        })
        .count() as u64;
    (
        live.len() as u64,
        with("active"),
        with("lead"),
        with("inactive"),
        joined,
    )
}

fn summary_of(out: &ToolOutput) -> (u64, u64, u64, u64, u64) {
    let n = |k: &str| out.data[k].as_u64().unwrap();
    (
        n("total"),
        n("active"),
        n("leads"),
        n("inactive"),
        n("joined"),
    )
}

#[tokio::test]
async fn the_client_summary_counts_every_client_by_status_as_the_collection_says() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let store = db.store.clone();
    let month = to_date(Period::ThisMonth);
    let counted = summary_in(&store, &month).await;
    let (total, active, leads, inactive, joined) = counted;
    assert!(
        active > 0 && leads > 0 && inactive > 0 && joined > 0,
        "{counted:?}"
    );
    assert_eq!(total, active + leads + inactive);

    let out = ask(&store, "client_summary", json!({})).await;
    assert_eq!(summary_of(&out), counted);
    assert_eq!(
        out.text,
        format!(
            "{total} clients: {active} active, {leads} leads, {inactive} inactive; {joined} joined this month so far (1–25 Nov 2026, to 15:30)."
        )
    );
    // The same count of joiners as new_clients gives.
    let new = ask(&store, "new_clients", json!({})).await;
    assert_eq!(new.data["count"].as_u64(), Some(joined));

    let october = to_date(Period::LastMonth);
    let out = ask(&store, "client_summary", json!({ "period": "last_month" })).await;
    assert_eq!(summary_of(&out), summary_in(&store, &october).await);
    assert!(
        out.text.ends_with("joined last month (1–31 Oct 2026)."),
        "{}",
        out.text
    );

    // The kept counts follow every kind of client write.
    let lead = Client::new(
        PersonName::parse("Nisha Verma").unwrap(),
        Email::parse("nisha.verma@example.com").unwrap(),
        ClientStatus::Lead,
        demo_now(),
    );
    store.insert_client(&lead).await.unwrap();
    let after_insert = summary_in(&store, &month).await;
    assert_eq!(after_insert.2, leads + 1);
    assert_eq!(
        summary_of(&ask(&store, "client_summary", json!({})).await),
        after_insert
    );

    // The lead buys a course: active.
    let course = store.course_by_name("Pilates").await.unwrap().unwrap();
    store
        .create_order(NewOrder {
            client_id: lead.id,
            course_id: course.id,
            amount: None,
            method: frontdesk::domain::PaymentMethod::Cash,
            due_in_days: 7,
            idempotency_key: None,
            now: demo_now(),
        })
        .await
        .unwrap();
    let after_order = summary_in(&store, &month).await;
    assert_eq!((after_order.1, after_order.2), (active + 1, leads));
    assert_eq!(
        summary_of(&ask(&store, "client_summary", json!({})).await),
        after_order
    );

    // Someone active is marked inactive, and an inactive client is deleted.
    let mut someone = store
        .find_clients(doc! { "status": "active", "deleted_at": null, "_id": { "$ne": lead.id } })
        .await
        .unwrap()
        .remove(0);
    someone.status = ClientStatus::Inactive;
    store.update_client(&someone).await.unwrap();
    let gone = store
        .find_clients(
            doc! { "status": "inactive", "deleted_at": null, "_id": { "$ne": someone.id } },
        )
        .await
        .unwrap()
        .remove(0);
    store.delete_client(gone.id, demo_now()).await.unwrap();
    let after_changes = summary_in(&store, &month).await;
    assert_eq!(after_changes.0, total);
    assert_eq!(
        summary_of(&ask(&store, "client_summary", json!({})).await),
        after_changes
    );

    // A database from before the counts were kept counts them once, at the next start.
    store
        .raw()
        .database()
        .collection::<Document>("client_statuses")
        .drop()
        .await
        .unwrap();
    store
        .raw()
        .database()
        .collection::<Document>("counters")
        .delete_one(doc! { "_id": "client_statuses" })
        .await
        .unwrap();
    let reopened = Store::open(&server_url(), db.name(), test_keys())
        .await
        .unwrap();
    assert_eq!(
        summary_of(&ask(&reopened, "client_summary", json!({})).await),
        after_changes
    );

    // Managers only.
    let err = Registry::new()
        .call(
            AgentKind::Dashboard,
            &ctx(&store, Caller::staff()),
            "client_summary",
            json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ToolErrorKind::Forbidden);
}

/// Per client, (value, count) in `p`, added up here from the raw collections: paid
/// payments (spend) or attended records (attendance).
async fn per_client(store: &Store, by: &str, p: &ResolvedPeriod) -> HashMap<ObjectId, (i64, u64)> {
    let mut sums: HashMap<ObjectId, (i64, u64)> = HashMap::new();
    if by == "spend" {
        let payments: Vec<Payment> = store
            .raw()
            .payments()
            .find(doc! {})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        for pay in payments.iter().filter(|pay| {
            pay.status == frontdesk::domain::PaymentStatus::Paid
                && pay.paid_at.is_some_and(|t| within(t, p))
        }) {
            let s = sums.entry(pay.client_id).or_default();
            s.0 += pay.amount.minor();
            s.1 += 1;
        }
    } else {
        let records: Vec<Attendance> = store
            .raw()
            .attendance()
            .find(doc! {})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        for r in records
            .iter()
            .filter(|r| r.status.attended() && within(r.class_starts_at, p))
        {
            let s = sums.entry(r.client_id).or_default();
            s.0 += 1;
            s.1 += 1;
        }
    }
    sums
}

/// Checks a `top_clients` answer against the sums computed here; returns the values
/// highest first.
async fn check_ranking(
    store: &Store,
    out: &ToolOutput,
    by: &str,
    p: &ResolvedPeriod,
    limit: usize,
) {
    let sums = per_client(store, by, p).await;
    let mut values: Vec<i64> = sums.values().map(|v| v.0).collect();
    values.sort_unstable_by(|a, b| b.cmp(a));
    let top = out.data["top"].as_array().unwrap();
    assert_eq!(out.data["clients"].as_u64(), Some(sums.len() as u64));
    assert_eq!(top.len(), limit.min(sums.len()), "{}", out.text);
    let names: HashMap<ObjectId, String> = raw_clients(store)
        .await
        .iter()
        .map(|c| {
            (
                c.get_object_id("_id").unwrap(),
                c.get_str("name").unwrap().to_owned(),
            )
        })
        .collect();
    let shown: Vec<i64> = top.iter().map(|l| l["value"].as_i64().unwrap()).collect();
    assert_eq!(
        shown,
        values[..top.len()],
        "the highest values, highest first"
    );
    for line in top {
        let id = ObjectId::parse_str(line["id"].as_str().unwrap()).unwrap();
        let (value, count) = sums[&id];
        assert_eq!(line["value"].as_i64(), Some(value), "{line}");
        assert_eq!(line["count"].as_u64(), Some(count), "{line}");
        assert_eq!(line["name"].as_str(), Some(names[&id].as_str()));
        let above = values.iter().filter(|v| **v > value).count() as u64;
        assert_eq!(line["rank"].as_u64(), Some(above + 1), "{line}");
        let same = values.iter().filter(|v| **v == value).count();
        assert_eq!(line["tied"].as_bool(), Some(same > 1), "{line}");
        assert!(
            out.text.contains(&format!("{}. {}", above + 1, names[&id])),
            "{}",
            out.text
        );
    }
    let last = *shown.last().unwrap();
    let beyond = values.iter().filter(|v| **v == last).count()
        - shown.iter().filter(|v| **v == last).count();
    assert_eq!(out.data["tied_beyond"].as_u64(), Some(beyond as u64));
    if top.iter().any(|l| l["tied"] == true) {
        assert!(out.text.contains(" tie for "), "{}", out.text);
    }
    if beyond > 0 {
        assert!(
            out.text.contains(&format!("{beyond} more not shown")),
            "{}",
            out.text
        );
    }
    let chart = out.chart.as_ref().expect("a bar chart");
    assert_eq!(chart.points.len(), top.len());
}

#[tokio::test]
async fn top_clients_rank_spend_and_attendance_as_the_records_add_up() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let store = db.store.clone();
    let month = to_date(Period::ThisMonth);

    // By spend, the default five.
    let out = ask(&store, "top_clients", json!({})).await;
    assert_eq!(out.data["by"], "spend");
    assert!(
        out.text
            .starts_with("Top 5 clients by spend in 1–25 Nov 2026 so far (to 15:30) ("),
        "{}",
        out.text
    );
    check_ranking(&store, &out, "spend", &month, 5).await;

    // A cut that falls inside a tie names those left out.
    let sums = per_client(&store, "spend", &month).await;
    let mut values: Vec<i64> = sums.values().map(|v| v.0).collect();
    values.sort_unstable_by(|a, b| b.cmp(a));
    let cut = (1..20)
        .find(|k| values.get(*k) == values.get(k - 1))
        .expect("the demo month has two clients who paid the same");
    let out = ask(
        &store,
        "top_clients",
        json!({ "by": "spend", "limit": cut }),
    )
    .await;
    check_ranking(&store, &out, "spend", &month, cut).await;
    assert!(out.data["tied_beyond"].as_u64().unwrap() > 0);

    // By attendance, over the last 30 days, up to 20.
    let days = to_date(Period::LastDays(30));
    let out = ask(
        &store,
        "top_clients",
        json!({ "by": "attendance", "period": "last_30_days", "limit": 20 }),
    )
    .await;
    assert_eq!(out.data["by"], "attendance");
    check_ranking(&store, &out, "attendance", &days, 20).await;
    assert!(out.text.contains(" classes"), "{}", out.text);

    // Nobody in a period without records.
    let out = ask(&store, "top_clients", json!({ "period": "2020-01" })).await;
    assert_eq!(out.text, "No client paid anything in 1–31 Jan 2020.");
    assert!(out.chart.is_none());

    // Arguments out of range, and roles below manager.
    let registry = Registry::new();
    let manager = ctx(&store, Caller::manager());
    for args in [
        json!({ "limit": 0 }),
        json!({ "limit": 21 }),
        json!({ "by": "height" }),
        json!({ "period": "someday" }),
    ] {
        let err = registry
            .call(AgentKind::Dashboard, &manager, "top_clients", args.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ToolErrorKind::BadArgs, "{args}: {err}");
    }
    let staff = ctx(&store, Caller::staff());
    let err = registry
        .call(AgentKind::Dashboard, &staff, "top_clients", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ToolErrorKind::Forbidden);
    let names = |role| -> Vec<&str> {
        registry
            .available(AgentKind::Dashboard, role)
            .map(|t| t.name())
            .collect()
    };
    for tool in ["client_summary", "top_clients"] {
        assert!(names(Role::Manager).contains(&tool));
        assert!(names(Role::Admin).contains(&tool));
        assert!(!names(Role::Staff).contains(&tool));
        assert!(registry.get(tool).unwrap().only_reads());
    }
}

#[tokio::test]
async fn the_analytics_endpoints_give_the_tools_figures() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let store = db.store.clone();
    let summary = ask(&store, "client_summary", json!({})).await;
    let spend = ask(&store, "top_clients", json!({ "limit": 8 })).await;
    let attendance = ask(&store, "top_clients", json!({ "by": "attendance" })).await;
    let api = TestApi::spawn(db).await;
    let manager = api.token("manager", "asha");
    let staff = api.token("staff", "anna");

    let figures = api.get_ok("/api/analytics/clients", &manager).await;
    for (field, key) in [
        ("total", "total"),
        ("active", "active"),
        ("leads", "leads"),
        ("inactive", "inactive"),
    ] {
        assert_eq!(figures["by_status"][field], summary.data[key], "{figures}");
    }
    assert_eq!(figures["new_clients"], summary.data["joined"]);

    let top = api
        .get_ok("/api/analytics/top-clients?limit=8", &manager)
        .await;
    assert_eq!(top["by"], "spend");
    assert_eq!(top["period_label"], "1–25 Nov 2026 so far (to 15:30)");
    assert_eq!(top["clients"], spend.data["clients"]);
    assert_eq!(top["tied_beyond"], spend.data["tied_beyond"]);
    let pairs = |lines: &Value, id: &str| -> Vec<(Value, Value, Value, Value)> {
        lines
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l[id].clone(),
                    l["value"].clone(),
                    l["rank"].clone(),
                    l["tied"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        pairs(&top["top"], "client_id"),
        pairs(&spend.data["top"], "id")
    );
    let top = api
        .get_ok("/api/analytics/top-clients?by=attendance", &manager)
        .await;
    assert_eq!(
        pairs(&top["top"], "client_id"),
        pairs(&attendance.data["top"], "id")
    );

    let (status, _, _) = api.get("/api/analytics/top-clients", &staff).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (query, field) in [
        ("by=height", "by"),
        ("limit=21", "limit"),
        ("period=someday", "period"),
    ] {
        let (status, _, body) = api
            .get(&format!("/api/analytics/top-clients?{query}"), &manager)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["field"], field, "{body}");
    }
}
