//! `frontdesk bench analytics`: each dashboard query at growing data sizes (one database
//! per size, seeded once and reused), timed over repeated runs, its result checked
//! against a plain scan of the documents, and the index the server's `explain` reports
//! for the query's `$match` stage.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use anyhow::Result;
use bson::{doc, Bson, Document};
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use serde::Serialize;

use super::{percentile, with_demo_clock, Row, Server};
use crate::config::Settings;
use crate::domain::{Period, ResolvedPeriod};
use crate::store::seed::{seed, SeedOptions};
use crate::store::RevenueBreakdown;
use crate::store::{names, Store};

/// p95 target for every dashboard query at the largest size.
pub const TARGET_P95_MS: f64 = 150.0;
/// Attendance records per seeded client (500 clients ≈ 3.4k records).
const ATTENDANCE_PER_CLIENT: f64 = 6.7;
const ATTENDED: [&str; 2] = ["present", "late"];

/// One query at one size.
#[derive(Debug, Clone, Serialize)]
pub struct QueryTiming {
    pub query: &'static str,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// The result equals the reference scan.
    pub correct: bool,
    /// What was compared, when it differed: (query's figures, scan's figures).
    pub mismatch: Option<(String, String)>,
    /// The index `explain` names for the `$match` stage, or "n/a".
    pub index: String,
}

/// One data size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub target_attendance: u64,
    pub database: String,
    pub clients: u64,
    pub attendance: u64,
    pub seeded_now: bool,
    pub queries: Vec<QueryTiming>,
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyticsReport {
    pub server: Server,
    pub runs: usize,
    pub sizes: Vec<SizeReport>,
    /// Per query, the p50 ratio from each size to the next (and the data ratio).
    pub growth: BTreeMap<String, Vec<f64>>,
    pub rows: Vec<Row>,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct AnalyticsOptions {
    /// Attendance records wanted per size.
    pub sizes: Vec<u64>,
    pub runs: usize,
    /// Prefix of the per-size database names.
    pub database_prefix: String,
}

/// The eight dashboard queries' arguments, as the dashboard asks them by default.
struct Args {
    now: DateTime<Utc>,
    this_month: ResolvedPeriod,
    last_month: ResolvedPeriod,
}

/// Runs the benchmark; `url` is the unredacted server URL, `keys` seal the clients it
/// seeds.
///
/// # Errors
/// The server failed, or seeding failed.
pub async fn run(
    settings: &Settings,
    url: &str,
    keys: &crate::protect::Keyring,
    server: Server,
    opts: &AnalyticsOptions,
) -> Result<AnalyticsReport> {
    let settings = with_demo_clock(settings);
    let now = settings.clock().now();
    let offset = settings.studio.utc_offset;
    let args = Args {
        now,
        this_month: Period::ThisMonth.resolve(now, offset)?,
        last_month: Period::LastMonth.resolve(now, offset)?,
    };
    let mut sizes = Vec::new();
    for &target in &opts.sizes {
        let name = format!("{}_bench_{target}", opts.database_prefix);
        let store = Store::open(url, &name, keys.clone()).await?;
        let clients = ((target as f64 / ATTENDANCE_PER_CLIENT).round() as usize).max(20);
        let seeded_now = if store.is_empty().await? {
            eprintln!("seeding {name}: {clients} clients for about {target} attendance records…");
            let opts = SeedOptions {
                clients,
                seed: 42,
                now,
                offset,
                currency: settings.studio.currency,
                progress: false,
            };
            seed(&store, &opts).await?;
            true
        } else {
            false
        };
        let attendance = store.attendance().estimated_document_count().await?;
        let client_count = store.clients().estimated_document_count().await?;
        let mut queries = Vec::new();
        for query in QUERIES {
            queries.push(measure(&store, &settings, &args, query, opts.runs.max(1)).await?);
        }
        sizes.push(SizeReport {
            target_attendance: target,
            database: name,
            clients: client_count,
            attendance,
            seeded_now,
            queries,
        });
    }
    let mut growth: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for pair in sizes.windows(2) {
        for (a, b) in pair[0].queries.iter().zip(&pair[1].queries) {
            growth
                .entry(a.query.to_owned())
                .or_default()
                .push(b.p50_ms / a.p50_ms.max(1e-6));
        }
    }
    let rows = rows(&server, &sizes, &growth);
    Ok(AnalyticsReport {
        server,
        runs: opts.runs.max(1),
        sizes,
        growth,
        rows,
    })
}

const QUERIES: [&str; 8] = [
    "revenue",
    "new_clients",
    "course_enrollment",
    "attendance_rate",
    "inactive_clients",
    "outstanding_balance",
    "retention",
    "class_fill_rate",
];

/// The query's key figures, as text to compare with the scan's.
async fn figures(store: &Store, settings: &Settings, a: &Args, query: &str) -> Result<String> {
    let currency = settings.studio.currency;
    Ok(match query {
        "revenue" => {
            let r = store
                .revenue(&a.this_month, RevenueBreakdown::None, currency)
                .await?;
            format!("{} in {} payments", r.total_minor, r.payments)
        }
        "new_clients" => store.new_clients(&a.this_month).await?.count.to_string(),
        "course_enrollment" => {
            let mut lines: Vec<(u64, u64)> = store
                .course_enrollment(None)
                .await?
                .iter()
                .map(|l| (l.orders, l.active_clients))
                .collect();
            lines.sort_unstable();
            format!("{lines:?}")
        }
        "attendance_rate" => {
            let r = store.attendance_rate(&a.this_month, None).await?;
            format!("{}/{}", r.attended, r.total)
        }
        "inactive_clients" => store.inactive_clients(a.now, 30).await?.count.to_string(),
        "outstanding_balance" => {
            let r = store.outstanding_balance(a.now, currency).await?;
            format!(
                "{} in {}, overdue {} in {}",
                r.pending_minor, r.pending_count, r.overdue_minor, r.overdue_count
            )
        }
        "retention" => {
            let r = store.retention(&a.this_month, &a.last_month).await?;
            format!("{}/{}", r.retained, r.previous_active)
        }
        _ => {
            let r = store.class_fill_rate(&a.this_month, None).await?;
            format!("{} classes, {}/{}", r.classes, r.attended, r.seats)
        }
    })
}

async fn scan(store: &Store, name: &str, filter: Document) -> Result<Vec<Document>> {
    Ok(store
        .database()
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
async fn reference(store: &Store, a: &Args, query: &str) -> Result<String> {
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
fn match_stage(a: &Args, query: &str) -> (&'static str, Document) {
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

/// Every `indexName` in an explain output, or "COLLSCAN" when it names a collection scan.
fn index_names(b: &Bson, out: &mut Vec<String>, collscan: &mut bool) {
    match b {
        Bson::Document(d) => {
            for (k, v) in d {
                match (k.as_str(), v) {
                    ("indexName", Bson::String(s)) if !out.contains(s) => out.push(s.clone()),
                    ("stage", Bson::String(s)) if s == "COLLSCAN" => *collscan = true,
                    _ => index_names(v, out, collscan),
                }
            }
        }
        Bson::Array(a) => a.iter().for_each(|v| index_names(v, out, collscan)),
        _ => {}
    }
}

async fn explain(store: &Store, a: &Args, query: &str) -> String {
    let (coll, filter) = match_stage(a, query);
    let command = doc! {
        "explain": {
            "aggregate": coll,
            "pipeline": [ { "$match": filter } ],
            "cursor": {},
        },
        "verbosity": "queryPlanner",
    };
    match store.database().run_command(command).await {
        Ok(out) => {
            let (mut found, mut collscan) = (Vec::new(), false);
            index_names(&Bson::Document(out), &mut found, &mut collscan);
            if !found.is_empty() {
                found.join(", ")
            } else if collscan {
                "COLLSCAN".into()
            } else {
                "n/a".into()
            }
        }
        Err(_) => "n/a".into(),
    }
}

async fn measure(
    store: &Store,
    settings: &Settings,
    a: &Args,
    query: &'static str,
    runs: usize,
) -> Result<QueryTiming> {
    // One untimed run first: the reference scan of the query before it reads a whole
    // collection, and the run after that pays for the server putting it away.
    let mut got = figures(store, settings, a, query).await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        got = figures(store, settings, a, query).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let want = reference(store, a, query).await?;
    let correct = got == want;
    Ok(QueryTiming {
        query,
        p50_ms: percentile(&times, 50.0),
        p95_ms: percentile(&times, 95.0),
        correct,
        mismatch: (!correct).then_some((got, want)),
        index: explain(store, a, query).await,
    })
}

fn rows(server: &Server, sizes: &[SizeReport], growth: &BTreeMap<String, Vec<f64>>) -> Vec<Row> {
    let mut rows = vec![Row::info("database", server.describe())];
    let largest = sizes.len().saturating_sub(1);
    for (i, s) in sizes.iter().enumerate() {
        rows.push(Row::info(
            format!("size {}", s.target_attendance),
            format!(
                "{} attendance records, {} clients ({})",
                s.attendance, s.clients, s.database
            ),
        ));
        for q in &s.queries {
            let what = format!("  {} [{}]", q.query, q.index);
            let figure = format!(
                "p50 {:.1} ms, p95 {:.1} ms, {}",
                q.p50_ms,
                q.p95_ms,
                if q.correct { "= scan" } else { "WRONG" }
            );
            if i == largest {
                rows.push(Row::target(
                    what,
                    figure,
                    format!("p95 <= {TARGET_P95_MS} ms, = scan"),
                    Some(q.p95_ms <= TARGET_P95_MS && q.correct),
                ));
            } else {
                rows.push(Row::target(what, figure, "= scan", Some(q.correct)));
            }
        }
    }
    for (query, ratios) in growth {
        let text: Vec<String> = ratios.iter().map(|r| format!("x{r:.1}")).collect();
        rows.push(Row::info(
            format!("growth of p50 per size step: {query}"),
            text.join(", "),
        ));
    }
    rows
}
