//! `frontdesk bench queries`: every read the service sends, with the index the server
//! chooses for it. Over a database of its own (the demo data), it runs every eval case
//! (questions and dialogues, as each role), chat messages through the gateway (event
//! claims, conversation memory, follow-ups in threads), every REST endpoint of the
//! OpenAPI document, the outbox worker and the scheduler, with a store that records each
//! query's shape; then `explain`s each shape and fails when one scans a collection.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use super::pipeline::{ask, bench_agents, bench_gateway_settings};
use super::{with_demo_clock, Row, Server};
use crate::agents::eval::{parse_cases, run_case};
use crate::dev::seed::{seed, SeedOptions};
use crate::integrations::scheduler::Scheduler;
use crate::integrations::worker::OutboxWorker;
use crate::integrations::{ChatRoutes, Providers};
use crate::protect::Keyring;
use crate::store::{Plan, QueryLog, QueryPlan, Store};
use crate::tools::AgentKind;

/// The held-out questions, for more ways of asking.
const HELDOUT_CASES: &str = include_str!("../../tests/eval/heldout.jsonl");
/// Dialogues: follow-ups, confirmations, writes.
const DIALOGUE_CASES: &str = include_str!("../../tests/eval/dialogues.jsonl");

/// How big a run is and where it writes.
#[derive(Debug, Clone)]
pub struct QueriesOptions {
    /// Clients in the demo data the queries run over.
    pub clients: usize,
    /// The database of its own (dropped before and after the run).
    pub database: String,
}

/// What the run found.
#[derive(Debug, Clone, Serialize)]
pub struct QueriesReport {
    pub server: Server,
    /// Distinct query shapes sent.
    pub shapes: usize,
    /// Those a collection scan serves.
    pub scans: usize,
    /// Those the server could not explain.
    pub unexplained: usize,
    /// REST operations of the OpenAPI document the run did not call.
    pub endpoints_missed: Vec<String>,
    pub plans: Vec<QueryPlan>,
    pub rows: Vec<Row>,
}

impl QueriesReport {
    /// Whether every read uses an index and every endpoint was called.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.scans == 0 && self.endpoints_missed.is_empty()
    }
}

/// Runs the service's reads over fresh demo data and explains each.
///
/// # Errors
/// The database cannot be reached or written, or the built-in cases do not parse.
pub async fn run(
    settings: &crate::config::Settings,
    url: &str,
    keys: &Keyring,
    server: Server,
    opts: &QueriesOptions,
) -> Result<QueriesReport> {
    let mut settings = with_demo_clock(settings);
    // A staff channel for hand-offs, so that tickets wait for a reminder.
    settings.integrations.handoff = Some(crate::config::HandoffTarget {
        platform: frontdesk_chat::Platform::Slack,
        channel: "C_BENCH_HANDOFF".into(),
        remind_after: chrono::Duration::minutes(30),
        mention: String::new(),
    });
    // Email "configured" at a closed port: links by email are offered, nothing is sent.
    settings.providers.sendgrid = Some(crate::config::SendgridSettings {
        api_key: crate::config::Secret::new("bench-queries"),
        from: "desk@example.com".into(),
        api_url: Some("http://127.0.0.1:9".into()),
    });
    let plain = Store::open(url, &opts.database, keys.clone()).await?;
    // Whatever an earlier run left: gone, then the indexes again.
    plain.drop_database().await?;
    plain.ensure_indexes().await?;
    seed(
        &plain,
        &SeedOptions {
            clients: opts.clients,
            seed: 42,
            now: settings.clock().now(),
            offset: settings.studio.utc_offset,
            currency: settings.studio.currency,
            progress: false,
        },
    )
    .await?;
    let log = QueryLog::default();
    let store = Store::connect_watched(url, &opts.database, keys.clone(), Some(&log)).await?;
    log.record(true);

    let outcome = exercise(&settings, &store).await;
    log.record(false);
    let plans = store.explain_logged(&log).await;
    plain.drop_database().await?;
    let endpoints_missed = outcome?;

    let scans = plans
        .iter()
        .filter(|p| p.plan == Plan::CollectionScan)
        .count();
    let unexplained = plans
        .iter()
        .filter(|p| matches!(p.plan, Plan::Unknown(_)))
        .count();
    let mut report = QueriesReport {
        server,
        shapes: plans.len(),
        scans,
        unexplained,
        endpoints_missed,
        plans,
        rows: Vec::new(),
    };
    report.rows = rows(&report);
    Ok(report)
}

/// Everything the service reads in a day, through `store`; returns the REST operations
/// that were not called.
async fn exercise(settings: &crate::config::Settings, store: &Store) -> Result<Vec<String>> {
    let agents = bench_agents(settings, store, true);
    // With an email sender, so that a stranger can ask for a link code (the email itself
    // waits in the outbox for a provider that is not there).
    let gateway = crate::gateway::Gateway::new(
        agents.clone(),
        bench_gateway_settings(),
        crate::integrations::email::EmailSender::from_settings(settings),
        settings.studio.name.clone(),
        settings.clock(),
    );

    // Every eval case: questions and dialogues, as staff, managers, clients and guests.
    let cases = [
        super::EVAL_CASES,
        super::EVERYDAY_CASES,
        HELDOUT_CASES,
        DIALOGUE_CASES,
    ]
    .into_iter()
    .map(parse_cases)
    .collect::<Result<Vec<_>, _>>()?;
    for case in cases.iter().flatten() {
        // A case's own failure is the eval's business; its reads are what counts here
        // (without the eval's own counting of records before and after).
        let mut case = case.clone();
        case.effects = None;
        let _ = run_case(&agents, &case).await;
    }

    // Chat: a question, a follow-up in its thread, and the same event again.
    let thread = [
        (AgentKind::Support, "find priya sharma"),
        (AgentKind::Support, "and her orders?"),
        (AgentKind::Dashboard, "revenue this month"),
        (AgentKind::Dashboard, "and last month?"),
        (AgentKind::Support, "I'd like to talk to a person please"),
    ];
    for (i, (agent, text)) in thread.iter().enumerate() {
        let question = (*agent, (*text).to_owned());
        ask(&gateway, &question, &format!("queries-{i}"), 0).await;
        ask(&gateway, &question, &format!("queries-{i}"), 0).await;
    }

    // A stranger links their chat: asks for a code by email, then guesses one.
    for (i, text) in ["/link priya@example.com", "000000"].iter().enumerate() {
        let inbound = frontdesk_chat::Inbound::new(
            frontdesk_chat::Platform::Telegram,
            "7001",
            "7001",
            *text,
            format!("queries-link-{i}"),
            settings.clock().now(),
        )
        .with_direct(true);
        gateway.handle(inbound, Arc::new(Silent)).await;
    }
    // The hand-off's ticket, as posted to the staff channel (no Slack here to post it).
    let (waiting, _) = store.tickets_not_closed(10).await?;
    for ticket in &waiting {
        let thread = crate::store::StaffThread {
            platform: "slack".into(),
            channel: "C_BENCH_HANDOFF".into(),
            root: format!("1700000001.{}", ticket.id.to_hex()),
        };
        store.set_staff_thread(ticket.id, &thread).await?;
    }

    let missed = rest(settings, store, &agents).await?;

    // The outbox worker (no providers configured: each job is read, tried, put back)
    // and the scheduler's round.
    let providers = Arc::new(
        Providers::from_settings(settings, ChatRoutes::default())
            .map_err(|e| anyhow::anyhow!("providers: {e}"))?,
    );
    let worker = OutboxWorker::new(
        store.clone(),
        settings.clock(),
        providers.clone(),
        settings.integrations.clone(),
        "bench-queries",
    );
    for _ in 0..20 {
        if worker.run_once().await?.is_none() {
            break;
        }
    }
    // The scheduler's round now, and a day later: then the tickets of the run wait for
    // a reminder, tomorrow's classes and the payments falling due are reminded of.
    let now = settings.clock().now();
    for at in [now, now + chrono::Duration::days(1)] {
        let clock: crate::domain::SharedClock = Arc::new(crate::domain::FixedClock(at));
        Scheduler::new(
            store.clone(),
            clock,
            providers.clone(),
            settings.integrations.clone(),
            "bench-queries",
        )
        .run_once()
        .await
        .map_err(|e| anyhow::anyhow!("scheduler: {e}"))?;
    }
    Ok(missed)
}

/// Calls every operation of the OpenAPI document over HTTP, as a manager (and a client
/// where it reads its own), with ids taken from the data; returns those not called.
async fn rest(
    settings: &crate::config::Settings,
    store: &Store,
    agents: &crate::agents::Agents,
) -> Result<Vec<String>> {
    const SECRET: &[u8] = b"bench-queries-secret-of-32-bytes!";
    let state = crate::app::api_state_with(settings, store, agents.clone(), SECRET);
    let router = crate::api::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(crate::api::serve(listener, router, settings.http, async {
        let _ = stopped.await;
    }));
    let jwt = crate::api::JwtKeys::new(SECRET);
    let now = settings.clock().now();
    let manager = jwt
        .mint("manager", "bench-manager", now, chrono::Duration::hours(1))
        .context("token")?;
    let http = reqwest::Client::new();
    let mut called = BTreeSet::new();
    let mut call = |method: reqwest::Method, template: &str, path: String, body: Option<Value>| {
        called.insert(format!("{} {template}", method.as_str().to_lowercase()));
        let mut req = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&manager);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            match req.send().await {
                Ok(res) => res.json::<Value>().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            }
        }
    };
    use reqwest::Method as M;
    let first = |v: &Value, key: &str| -> String {
        v["items"][0][key]
            .as_str()
            .map(str::to_owned)
            .or_else(|| v[0][key].as_str().map(str::to_owned))
            .or_else(|| v["items"][0][key].as_u64().map(|n| n.to_string()))
            .unwrap_or_default()
    };

    let clients = call(
        M::GET,
        "/api/clients",
        "/api/clients?per_page=5".into(),
        None,
    )
    .await;
    let (client_id, email) = (first(&clients, "id"), first(&clients, "email"));
    call(
        M::GET,
        "/api/clients",
        format!("/api/clients?search={}", enc(&email)),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/clients",
        "/api/clients?search=priya&status=active".into(),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/clients/{client_id}",
        format!("/api/clients/{client_id}"),
        None,
    )
    .await;
    let courses = call(M::GET, "/api/courses", "/api/courses".into(), None).await;
    let course_id = first(&courses, "id");
    call(
        M::GET,
        "/api/courses/{course_id}",
        format!("/api/courses/{course_id}"),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/classes",
        format!("/api/classes?period=this_week&course_id={course_id}"),
        None,
    )
    .await;
    // A manager renames the course's instructor: its upcoming classes follow.
    call(
        M::PATCH,
        "/api/courses/{course_id}",
        format!("/api/courses/{course_id}"),
        Some(json!({ "instructor": "Bench Queries", "description": "Changed by bench queries" })),
    )
    .await;
    call(M::GET, "/api/classes", "/api/classes".into(), None).await;
    let orders = call(
        M::GET,
        "/api/orders",
        format!("/api/orders?client_id={client_id}"),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/orders",
        "/api/orders?status=pending&per_page=5".into(),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/orders",
        format!("/api/orders?course_id={course_id}&from=2026-11-01"),
        None,
    )
    .await;
    let order_id = {
        let id = first(&orders, "id");
        if id.is_empty() {
            first(
                &call(M::GET, "/api/orders", "/api/orders".into(), None).await,
                "id",
            )
        } else {
            id
        }
    };
    call(
        M::GET,
        "/api/orders/{order_id}",
        format!("/api/orders/{order_id}"),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/payments",
        format!("/api/payments?client_id={client_id}&status=paid"),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/payments",
        format!("/api/payments?order_id={order_id}"),
        None,
    )
    .await;
    call(M::GET, "/api/payments", "/api/payments".into(), None).await;
    call(M::GET, "/api/orders", "/api/orders".into(), None).await;
    call(M::GET, "/api/tickets", "/api/tickets".into(), None).await;
    call(
        M::GET,
        "/api/payments/pending",
        "/api/payments/pending?overdue=true".into(),
        None,
    )
    .await;
    call(
        M::GET,
        "/api/payments/pending",
        format!("/api/payments/pending?client_id={client_id}"),
        None,
    )
    .await;
    for path in [
        "/api/analytics/revenue?period=last_month&by=course",
        "/api/analytics/clients?period=this_month",
        "/api/analytics/top-clients?period=this_year&by=spend",
        "/api/analytics/courses",
        "/api/analytics/outstanding",
        "/api/analytics/retention",
        "/api/analytics/fill-rate",
        "/api/analytics/revenue/months?months=6",
        "/api/analytics/new-clients/weekly",
        "/api/agents/status",
        "/api/tickets?status=open",
    ] {
        let template = path.split('?').next().unwrap_or(path);
        call(M::GET, template, path.into(), None).await;
    }
    call(
        M::GET,
        "/api/analytics/attendance",
        format!("/api/analytics/attendance?course_id={course_id}"),
        None,
    )
    .await;
    for (agent, query) in [
        ("support", "what does priya sharma owe"),
        ("dashboard", "new clients this week"),
    ] {
        let path = format!("/api/agents/{agent}/query");
        call(
            M::POST,
            &path,
            path.clone(),
            Some(json!({ "query": query })),
        )
        .await;
    }
    // Writes, each on records of its own.
    let made = call(
        M::POST,
        "/api/clients",
        "/api/clients".into(),
        Some(json!({ "name": "Bench Queries", "email": "bench.queries@example.com", "phone": "9800000001" })),
    )
    .await;
    let new_client = made["id"].as_str().unwrap_or_default().to_owned();
    call(
        M::PUT,
        "/api/clients/{client_id}",
        format!("/api/clients/{new_client}"),
        Some(json!({ "phone": "9800000002" })),
    )
    .await;
    let order = call(
        M::POST,
        "/api/orders",
        "/api/orders".into(),
        Some(json!({ "client_id": new_client, "course_id": course_id, "idempotency_key": "bench-queries-1" })),
    )
    .await;
    let (new_order, number) = (
        order["id"].as_str().unwrap_or_default().to_owned(),
        order["number"].as_u64().unwrap_or_default(),
    );
    call(
        M::PUT,
        "/api/orders/{order_id}",
        format!("/api/orders/{new_order}"),
        Some(json!({ "notes": "bench" })),
    )
    .await;
    call(
        M::POST,
        "/api/payments",
        "/api/payments".into(),
        Some(json!({ "order_id": new_order, "method": "cash" })),
    )
    .await;
    let second = call(
        M::POST,
        "/api/orders",
        "/api/orders".into(),
        Some(json!({ "client_id": client_id, "course_id": course_id })),
    )
    .await;
    let second = second["number"].as_u64().unwrap_or(number);
    call(
        M::POST,
        "/api/orders/{number}/cancel",
        format!("/api/orders/{second}/cancel"),
        Some(json!({ "reason": "bench" })),
    )
    .await;
    let tickets = call(M::GET, "/api/tickets", "/api/tickets".into(), None).await;
    let ticket_id = first(&tickets, "id");
    call(
        M::GET,
        "/api/tickets/{ticket_id}",
        format!("/api/tickets/{ticket_id}"),
        None,
    )
    .await;
    call(
        M::POST,
        "/api/tickets/{ticket_id}/close",
        format!("/api/tickets/{ticket_id}/close"),
        None,
    )
    .await;
    call(
        M::DELETE,
        "/api/clients/{client_id}",
        format!("/api/clients/{new_client}"),
        None,
    )
    .await;
    for path in ["/healthz", "/readyz", "/api/openapi.json"] {
        call(M::GET, path, path.into(), None).await;
    }
    let openapi = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await?
        .json::<Value>()
        .await?;
    let _ = stop.send(());
    let _ = served.await;

    let mut missed = Vec::new();
    if let Some(paths) = openapi["paths"].as_object() {
        for (path, ops) in paths {
            for method in ops.as_object().map(|o| o.keys()).into_iter().flatten() {
                let op = format!("{method} {path}");
                if !called.contains(&op) {
                    missed.push(op);
                }
            }
        }
    }
    Ok(missed)
}

/// A chat platform that takes every reply and shows it to no one.
struct Silent;

impl frontdesk_chat::ChatAdapter for Silent {
    fn platform(&self) -> frontdesk_chat::Platform {
        frontdesk_chat::Platform::Slack
    }

    async fn send(&self, _: &frontdesk_chat::Outbound) -> Result<(), frontdesk_chat::AdapterError> {
        Ok(())
    }
}

/// A query-string value, percent-encoded.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn rows(r: &QueriesReport) -> Vec<Row> {
    let mut rows = vec![
        Row::info("database", r.server.describe()),
        Row::target(
            "query shapes on a collection scan",
            format!("{} of {}", r.scans, r.shapes),
            "0",
            Some(r.scans == 0),
        ),
        Row::info("could not be explained", r.unexplained.to_string()),
        Row::target(
            "REST operations not called",
            if r.endpoints_missed.is_empty() {
                "0".into()
            } else {
                r.endpoints_missed.join(", ")
            },
            "0",
            Some(r.endpoints_missed.is_empty()),
        ),
    ];
    rows.extend(r.plans.iter().map(|p| {
        let plan = match &p.plan {
            Plan::Index(names) => names.join(", "),
            Plan::CollectionScan => "COLLECTION SCAN".into(),
            Plan::BoundedScan => "whole (a small collection)".into(),
            Plan::Empty => "empty collection".into(),
            Plan::Unknown(why) => format!("unexplained: {why}"),
        };
        let met = match p.plan {
            Plan::CollectionScan => Some(false),
            Plan::Index(_) | Plan::Empty | Plan::BoundedScan => Some(true),
            Plan::Unknown(_) => None,
        };
        Row::target(
            format!(
                "  {} {} {} (x{})",
                p.operation, p.collection, p.shape, p.times
            ),
            plan,
            "an index",
            met,
        )
    }));
    rows
}
