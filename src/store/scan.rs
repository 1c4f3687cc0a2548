//! Every dashboard figure again, from a plain scan of the records (no server-side
//! filter, none of the figures kept as records are written): what `frontdesk bench
//! analytics` checks `analytics` against; and the index the server's `explain` names
//! for each query's main `$match` stage.

use std::collections::{HashMap, HashSet};

use bson::{doc, Bson, Document};
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;

use super::{names, Plan, Store, StoreError};
use crate::domain::ResolvedPeriod;

const ATTENDED: [&str; 2] = ["present", "late"];

/// The dashboard queries' arguments, as the dashboard asks them by default.
#[derive(Debug, Clone)]
pub struct ScanArgs {
    pub now: DateTime<Utc>,
    pub this_month: ResolvedPeriod,
    pub last_month: ResolvedPeriod,
}

impl Store {
    /// The key figures of dashboard query `query` ("revenue", "new_clients",
    /// "course_enrollment", "attendance_rate", "inactive_clients", "outstanding_balance",
    /// "retention", else the class fill rate), as text, from a plain scan of every record.
    ///
    /// # Errors
    /// The server failed.
    pub async fn scanned_figures(&self, a: &ScanArgs, query: &str) -> Result<String, StoreError> {
        reference(self, a, query).await
    }

    /// The indexes the server's `explain` names for `query`'s main `$match` stage,
    /// "COLLSCAN" for a collection scan, else "n/a".
    pub async fn index_used(&self, a: &ScanArgs, query: &str) -> String {
        explain(self, a, query).await
    }
}

async fn scan(store: &Store, name: &str, filter: Document) -> Result<Vec<Document>, StoreError> {
    Ok(store
        .db
        .collection::<Document>(name)
        .find(filter)
        .await?
        .try_collect()
        .await?)
}

fn date(d: &Document, key: &str) -> Option<DateTime<Utc>> {
    d.get_datetime(key).ok().map(|t| t.to_chrono())
}

fn within(t: Option<DateTime<Utc>>, p: &ResolvedPeriod) -> bool {
    t.is_some_and(|t| t >= p.start && t < p.end)
}

fn minor(d: &Document) -> i64 {
    match d.get_document("amount").ok().and_then(|a| a.get("minor")) {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    }
}

fn status(d: &Document) -> &str {
    d.get_str("status").unwrap_or("")
}

fn is_null(d: &Document, key: &str) -> bool {
    matches!(d.get(key), None | Some(Bson::Null))
}

/// The same figures from a plain scan of every document (no server-side filter).
async fn reference(store: &Store, a: &ScanArgs, query: &str) -> Result<String, StoreError> {
    Ok(match query {
        "revenue" => {
            let paid: Vec<Document> = scan(store, names::PAYMENTS, doc! {})
                .await?
                .into_iter()
                .filter(|p| status(p) == "paid" && within(date(p, "paid_at"), &a.this_month))
                .collect();
            format!(
                "{} in {} payments",
                paid.iter().map(minor).sum::<i64>(),
                paid.len()
            )
        }
        "new_clients" => scan(store, names::CLIENTS, doc! {})
            .await?
            .iter()
            .filter(|c| is_null(c, "deleted_at") && within(date(c, "joined_at"), &a.this_month))
            .count()
            .to_string(),
        "course_enrollment" => {
            let mut by_course: HashMap<String, (u64, HashSet<String>)> = HashMap::new();
            for o in scan(store, names::ORDERS, doc! {}).await? {
                if status(&o) == "cancelled" {
                    continue;
                }
                let course = o
                    .get("course_id")
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let client = o
                    .get("client_id")
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let entry = by_course.entry(course).or_default();
                entry.0 += 1;
                entry.1.insert(client);
            }
            let mut lines: Vec<(u64, u64)> = by_course
                .values()
                .map(|(n, c)| (*n, c.len() as u64))
                .collect();
            lines.sort_unstable();
            format!("{lines:?}")
        }
        "attendance_rate" => {
            let (mut attended, mut total) = (0, 0);
            for r in scan(store, names::ATTENDANCE, doc! {}).await? {
                if within(date(&r, "class_starts_at"), &a.this_month) {
                    total += 1;
                    if ATTENDED.contains(&status(&r)) {
                        attended += 1;
                    }
                }
            }
            format!("{attended}/{total}")
        }
        "inactive_clients" => {
            let cutoff = a.now - Duration::days(30);
            scan(store, names::CLIENTS, doc! {})
                .await?
                .iter()
                .filter(|c| is_null(c, "deleted_at") && status(c) != "lead")
                .filter(|c| match date(c, "last_visit_at") {
                    Some(t) => t < cutoff,
                    None => {
                        is_null(c, "last_visit_at")
                            && date(c, "joined_at").is_some_and(|t| t < cutoff)
                    }
                })
                .count()
                .to_string()
        }
        "outstanding_balance" => {
            let (mut p_minor, mut p_n, mut o_minor, mut o_n) = (0i64, 0u64, 0i64, 0u64);
            for p in scan(store, names::PAYMENTS, doc! {}).await? {
                if status(&p) != "pending" {
                    continue;
                }
                p_minor += minor(&p);
                p_n += 1;
                if date(&p, "due_at").is_some_and(|t| t < a.now) {
                    o_minor += minor(&p);
                    o_n += 1;
                }
            }
            format!("{p_minor} in {p_n}, overdue {o_minor} in {o_n}")
        }
        "retention" => {
            let (mut before, mut now) = (HashSet::new(), HashSet::new());
            for r in scan(store, names::ATTENDANCE, doc! {}).await? {
                if !ATTENDED.contains(&status(&r)) {
                    continue;
                }
                let client = r
                    .get("client_id")
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let t = date(&r, "class_starts_at");
                if within(t, &a.last_month) {
                    before.insert(client.clone());
                }
                if within(t, &a.this_month) {
                    now.insert(client);
                }
            }
            format!("{}/{}", before.intersection(&now).count(), before.len())
        }
        _ => {
            let classes: Vec<Document> = scan(store, names::CLASSES, doc! {})
                .await?
                .into_iter()
                .filter(|c| {
                    !c.get_bool("cancelled").unwrap_or(false)
                        && within(date(c, "starts_at"), &a.this_month)
                })
                .collect();
            let ids: HashSet<String> = classes
                .iter()
                .filter_map(|c| c.get("_id").map(ToString::to_string))
                .collect();
            let seats: i64 = classes
                .iter()
                .map(|c| match c.get("capacity") {
                    Some(Bson::Int32(n)) => i64::from(*n),
                    Some(Bson::Int64(n)) => *n,
                    _ => 0,
                })
                .sum();
            let attended = scan(store, names::ATTENDANCE, doc! {})
                .await?
                .iter()
                .filter(|r| {
                    ATTENDED.contains(&status(r))
                        && r.get("class_id")
                            .is_some_and(|id| ids.contains(&id.to_string()))
                })
                .count();
            format!("{} classes, {attended}/{seats}", classes.len())
        }
    })
}

/// The collection and `$match` stage of each query's main read (as in `store::analytics`).
fn match_stage(a: &ScanArgs, query: &str) -> (&'static str, Document) {
    let between = |p: &ResolvedPeriod| {
        doc! {
            "$gte": bson::DateTime::from_chrono(p.start),
            "$lt": bson::DateTime::from_chrono(p.end),
        }
    };
    let cutoff = bson::DateTime::from_chrono(a.now - Duration::days(30));
    match query {
        // Whole days from the kept day totals (the edges read `status_paid_at`).
        "revenue" => (names::REVENUE_DAYS, doc! { "day": between(&a.this_month) }),
        // Whole days' counts kept as clients change (edge days from their entries).
        "new_clients" => (names::JOIN_DAYS, doc! { "_id": between(&a.this_month) }),
        // All time: the counts kept per course.
        "course_enrollment" => (names::COURSE_ENROLMENTS, doc! { "orders": { "$gt": 0 } }),
        // The classes summed per day (the edge hours read `starts_at`).
        "attendance_rate" => (names::CLASS_DAYS, doc! { "day": between(&a.this_month) }),
        "inactive_clients" => (names::ABSENCE_DAYS, doc! { "_id": { "$lt": cutoff } }),
        // The due days kept (today before now reads `status_due_at`).
        "outstanding_balance" => (names::PENDING_DAYS, doc! { "n": { "$gt": 0 } }),
        // The visit days of both months.
        "retention" => (names::VISIT_DAYS, doc! { "_id": between(&a.last_month) }),
        _ => (
            names::CLASS_DAYS,
            doc! { "day": between(&a.this_month), "cancelled": false },
        ),
    }
}

async fn explain(store: &Store, a: &ScanArgs, query: &str) -> String {
    let (coll, filter) = match_stage(a, query);
    let command = doc! {
        "explain": {
            "aggregate": coll,
            "pipeline": [ { "$match": filter } ],
            "cursor": {},
        },
        "verbosity": "queryPlanner",
    };
    match store.db.run_command(command).await {
        Ok(out) => match super::plans::plan_of(&out) {
            Plan::Index(names) => names.join(", "),
            Plan::CollectionScan | Plan::BoundedScan => "COLLSCAN".into(),
            Plan::Empty | Plan::Unknown(_) => "n/a".into(),
        },
        Err(_) => "n/a".into(),
    }
}
