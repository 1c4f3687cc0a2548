//! `frontdesk bench analytics`: each dashboard query at growing data sizes (one database
//! per size, seeded once and reused), timed over repeated runs, its result checked
//! against a plain scan of the documents, and the index the server's `explain` reports
//! for the query's `$match` stage.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::{percentile, with_demo_clock, Row, Server};
use crate::config::Settings;
use crate::dev::seed::{seed, SeedOptions};
use crate::domain::Period;
use crate::store::RevenueBreakdown;
use crate::store::{ScanArgs, Store};

/// p95 target for every dashboard query at the largest size.
pub const TARGET_P95_MS: f64 = 150.0;
/// Attendance records per seeded client (500 clients ≈ 3.4k records).
const ATTENDANCE_PER_CLIENT: f64 = 6.7;

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
type Args = ScanArgs;

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
        let counts = store.estimated_counts().await?;
        let (attendance, client_count) = (counts.attendance, counts.clients);
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
    let want = store.scanned_figures(a, query).await?;
    let correct = got == want;
    Ok(QueryTiming {
        query,
        p50_ms: percentile(&times, 50.0),
        p95_ms: percentile(&times, 95.0),
        correct,
        mismatch: (!correct).then_some((got, want)),
        index: store.index_used(a, query).await,
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
