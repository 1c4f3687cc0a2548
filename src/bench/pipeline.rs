//! `frontdesk bench pipeline`: simulated Slack users send a day's traffic (see
//! [`super::workload`]: distinct questions about distinct people, follow-ups in
//! threads, a few bookings; or with `--repeat` the same questions again and again)
//! through the real gateway → rules planner → database tools → reply path, C threads at
//! a time, into an in-process adapter that records when each reply is sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use frontdesk_chat::{AdapterError, ChatAdapter, DynChatAdapter, Inbound, Outbound, Platform};
use serde::Serialize;

use super::workload::{self, Workload};
use super::{eval_cases, percentile, process_cpu_ms, self_cpu_ms, with_demo_clock, Row, Server};
use crate::agents::Agents;
use crate::config::{PlannerKind, Settings};
use crate::dev::seed::{seed, SeedOptions};
use crate::gateway::{Gateway, GatewaySettings, Outcome, RoleQuotas, Route};
use crate::store::Store;
use crate::tools::{AgentKind, Role};

/// Targets on the 2-core machine with a local database, for a realistic day.
pub const TARGET_CPU_MS: f64 = 0.3;
pub const TARGET_P99_MS: f64 = 25.0;

const SUPPORT_CHANNEL: &str = "C_BENCH_SUPPORT";
const DASHBOARD_CHANNEL: &str = "C_BENCH_DASHBOARD";
const STAFF_GROUP: &str = "S_BENCH_STAFF";
const MANAGER_GROUP: &str = "S_BENCH_MANAGER";

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    pub users: usize,
    pub concurrency: usize,
    pub messages: usize,
    /// Compute every answer afresh instead of giving kept answers again (the cost of
    /// the tools themselves, for comparison).
    pub fresh: bool,
    /// The same questions again and again instead of a realistic day.
    pub repeat: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            users: 200,
            concurrency: 32,
            messages: 2000,
            fresh: false,
            repeat: false,
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineReport {
    pub server: Server,
    pub users: usize,
    pub concurrency: usize,
    pub messages: usize,
    /// Whether every answer was computed afresh (no kept answers).
    pub fresh: bool,
    /// Whether the same questions were asked again and again (else a realistic day).
    pub repeat: bool,
    /// Threads, and those with follow-ups (more than one message).
    pub threads: usize,
    pub follow_up_threads: usize,
    /// Of the answers a tool gave, the share given again from a kept answer.
    pub kept_answer_share: f64,
    pub answered: usize,
    pub errors: usize,
    /// Up to five examples of what went wrong.
    pub error_samples: Vec<String>,
    pub seconds: f64,
    pub messages_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub frontdesk_cpu_ms_per_message: f64,
    /// `None` when the server is not a local process frontdesk knows.
    pub db_cpu_ms_per_message: Option<f64>,
    /// Distinct questions in the mix.
    pub distinct_questions: usize,
    /// Messages the sentence model was asked about (the rules were not sure) and their
    /// share of all; how many of those it read afresh (the rest were kept readings); and
    /// its time per message read, over the whole run with the warm-up (where each
    /// question is read for the first time).
    pub model_messages: u64,
    pub model_share: f64,
    pub model_reads: u64,
    /// The model's passes over those reads (messages that waited together share one).
    pub model_passes: u64,
    pub model_ms_per_read: f64,
    /// Replies per intent.
    pub intents: BTreeMap<String, usize>,
    /// Latency per intent: where the time goes.
    pub intent_latency: BTreeMap<String, IntentLatency>,
    pub rows: Vec<Row>,
}

/// One intent's share of a run.
#[derive(Debug, Clone, Serialize)]
pub struct IntentLatency {
    pub messages: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// A chat platform in memory for one message: records the first reply and when it came.
struct Probe {
    started: Instant,
    reply: Mutex<Option<(Duration, String)>>,
}

impl Probe {
    /// A probe whose clock starts now.
    fn start() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            reply: Mutex::new(None),
        })
    }
}

impl ChatAdapter for Probe {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn send(&self, out: &Outbound) -> Result<(), AdapterError> {
        let elapsed = self.started.elapsed();
        if let Ok(mut reply) = self.reply.lock() {
            if reply.is_none() {
                *reply = Some((elapsed, out.text.clone()));
            }
        }
        Ok(())
    }
}

/// The gateway's settings for the benchmark: a Slack support and dashboard channel, staff
/// and manager groups, and per-user limits high enough never to interfere.
#[must_use]
pub fn bench_gateway_settings() -> GatewaySettings {
    let route = |channel: &str, agent| Route {
        platform: Platform::Slack,
        workspace: None,
        channel: channel.into(),
        agent,
    };
    GatewaySettings {
        per_user_per_minute: RoleQuotas {
            guest: 1_000_000,
            client: 1_000_000,
            staff: 1_000_000,
            manager: 1_000_000,
            admin: 1_000_000,
        },
        per_platform_per_minute: HashMap::new(),
        routes: vec![
            route(SUPPORT_CHANNEL, AgentKind::Support),
            route(DASHBOARD_CHANNEL, AgentKind::Dashboard),
        ],
        platform_roles: HashMap::from([
            ((Platform::Slack, STAFF_GROUP.into()), Role::Staff),
            ((Platform::Slack, MANAGER_GROUP.into()), Role::Manager),
        ]),
        ..GatewaySettings::default()
    }
}

/// Loads the demo data (500 clients at the demo clock) when the database is empty;
/// returns whether it did.
///
/// # Errors
/// The database cannot be read or written.
pub async fn ensure_demo_data(settings: &Settings, store: &Store) -> Result<bool> {
    if !store.is_empty().await? {
        return Ok(false);
    }
    let settings = with_demo_clock(settings);
    let opts = SeedOptions {
        clients: 500,
        seed: 42,
        now: settings.clock().now(),
        offset: settings.studio.utc_offset,
        currency: settings.studio.currency,
        progress: false,
    };
    seed(store, &opts).await?;
    Ok(true)
}

/// The real gateway over the rules planner, with the benchmark's routes and limits;
/// `fresh`: no kept answers.
#[must_use]
pub fn bench_gateway(settings: &Settings, store: &Store, fresh: bool) -> Gateway {
    bench_gateway_over(settings, bench_agents(settings, store, fresh))
}

/// The gateway of [`bench_gateway`] over these agents.
#[must_use]
pub fn bench_gateway_over(settings: &Settings, agents: Agents) -> Gateway {
    let settings = with_demo_clock(settings);
    Gateway::new(
        agents,
        bench_gateway_settings(),
        None,
        settings.studio.name.clone(),
        settings.clock(),
    )
}

/// The agents over the rules planner at the demo clock (with the sentence model when it
/// is available); `fresh`: no kept answers.
#[must_use]
pub fn bench_agents(settings: &Settings, store: &Store, fresh: bool) -> Agents {
    let mut settings = with_demo_clock(settings);
    settings.llm.planner = PlannerKind::Rules;
    let agents = crate::app::agents(&settings, store, true);
    if fresh {
        agents.without_kept_answers()
    } else {
        agents
    }
}

/// Whether a reply is an apology rather than an answer (the gateway's "Sorry, …", or a
/// tool's database failure).
fn is_apology(text: &str) -> bool {
    text.starts_with("Sorry") || text.contains("the database is not answering")
}

/// A message of a run: `question` from simulated Slack user `user`, in thread `thread`
/// (named per run, so that no run follows up on another's conversation).
fn message(question: &(AgentKind, String), event_id: &str, thread: &str, user: usize) -> Inbound {
    let (agent, text) = question;
    let (channel, group) = match agent {
        AgentKind::Support => (SUPPORT_CHANNEL, STAFF_GROUP),
        AgentKind::Dashboard => (DASHBOARD_CHANNEL, MANAGER_GROUP),
    };
    Inbound::new(
        Platform::Slack,
        channel,
        format!("UBENCH{user:05}"),
        text.clone(),
        event_id,
        Utc::now(),
    )
    .with_workspace("TBENCH")
    .with_thread(thread)
    .with_roles([group])
}

/// The benchmark's questions, each with the agent it is asked of: the seed's eval
/// cases, then the everyday questions that only read (a write would pile up orders and
/// tickets run after run).
///
/// # Errors
/// The eval cases do not parse, or there are none.
pub fn questions() -> Result<Vec<(AgentKind, String)>> {
    let everyday = crate::agents::eval::parse_cases(super::EVERYDAY_CASES)?;
    let reads = everyday.into_iter().filter(|c| {
        c.expect
            .intent
            .as_deref()
            .and_then(|i| i.parse::<crate::domain::Intent>().ok())
            .is_some_and(|i| !i.is_write())
    });
    let questions: Vec<(AgentKind, String)> = eval_cases()?
        .into_iter()
        .chain(reads)
        .map(|c| {
            let agent = if c.agent == "dashboard" {
                AgentKind::Dashboard
            } else {
                AgentKind::Support
            };
            (agent, c.text)
        })
        .collect();
    anyhow::ensure!(!questions.is_empty(), "no eval questions");
    Ok(questions)
}

/// Sends `question` through `gateway` as message `i` of a run (event `event_id`) and
/// returns the reply's text, if one was sent.
pub async fn ask(
    gateway: &Gateway,
    question: &(AgentKind, String),
    event_id: &str,
    i: usize,
) -> Option<String> {
    let probe = Probe::start();
    gateway
        .handle(
            message(question, event_id, &format!("1700000000.{i:06}"), 0),
            probe.clone(),
        )
        .await;
    let reply = probe.reply.lock().ok()?.clone();
    reply.map(|(_, text)| text)
}

/// Sends one message and reads what came back.
async fn one_message(gateway: &Gateway, inbound: Inbound) -> Sample {
    let probe = Probe::start();
    let adapter: Arc<dyn DynChatAdapter> = probe.clone();
    let outcome = gateway.handle(inbound, adapter).await;
    let reply = probe.reply.lock().ok().and_then(|r| r.clone());
    let latency_ms = reply.as_ref().map(|(d, _)| d.as_secs_f64() * 1000.0);
    let (error, intent) = match (&outcome, &reply) {
        (Outcome::Answered { intent, .. }, Some((_, text))) if !is_apology(text) => {
            (None, Some(intent.clone()))
        }
        (Outcome::Answered { intent, .. }, Some((_, text))) => {
            (Some(format!("{intent}: {text}")), Some(intent.clone()))
        }
        (Outcome::Answered { intent, .. }, None) => (
            Some(format!("{intent}: no reply sent")),
            Some(intent.clone()),
        ),
        (other, _) => (Some(format!("outcome {other:?}")), None),
    };
    Sample {
        latency_ms,
        error,
        intent,
    }
}

struct Sample {
    latency_ms: Option<f64>,
    error: Option<String>,
    intent: Option<String>,
}

/// Runs the pipeline benchmark (seed the demo data first with [`ensure_demo_data`]).
///
/// # Errors
/// The eval cases do not parse, the database cannot be read, or a task panicked.
pub async fn run(
    settings: &Settings,
    store: &Store,
    server: Server,
    opts: PipelineOptions,
) -> Result<PipelineReport> {
    let users = opts.users.max(1);
    let metrics = Arc::new(crate::telemetry::metrics::Metrics::new());
    let agents = bench_agents(settings, store, opts.fresh).with_metrics(metrics.clone());
    let gateway = bench_gateway_over(settings, agents);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let (workload, warm_up) = if opts.repeat {
        let questions = questions()?;
        let warm_up = Workload::repeated(&questions, questions.len(), 1);
        (
            Workload::repeated(&questions, opts.messages, users),
            warm_up,
        )
    } else {
        (
            workload::realistic(store, opts.messages, users, 42).await?,
            workload::realistic(store, 100, users, 7).await?,
        )
    };
    // Untimed, one at a time, as after a few minutes of service (the connection pool,
    // the catalogue, the first enrolment, some kept answers).
    for (t, thread) in warm_up.threads.iter().enumerate() {
        for (m, text) in thread.messages.iter().enumerate() {
            let question = (thread.agent, text.clone());
            let inbound = message(
                &question,
                &format!("warm-{run_id}-{t}-{m}"),
                &format!("warm-{run_id}.{t}"),
                thread.user,
            );
            gateway.handle(inbound, Probe::start()).await;
        }
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();

    let nlu = crate::app::understanding(settings, true).ready();
    let model_before = nlu.as_ref().map(|u| u.usage()).unwrap_or_default();
    let kept_before = (
        metrics.reuse_count("answer", true),
        metrics.reuse_count("answer", false),
    );
    let cpu_before = self_cpu_ms();
    let db_before = server.pid.and_then(process_cpu_ms);
    let started = Instant::now();
    for (t, thread) in workload.threads.iter().enumerate() {
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .context("semaphore closed")?;
        let gateway = gateway.clone();
        let thread = thread.clone();
        let run_id = run_id.clone();
        tasks.spawn(async move {
            let mut samples = Vec::with_capacity(thread.messages.len());
            for (m, text) in thread.messages.iter().enumerate() {
                let question = (thread.agent, text.clone());
                let inbound = message(
                    &question,
                    &format!("bench-{run_id}-{t}-{m}"),
                    &format!("{run_id}.{t}"),
                    thread.user,
                );
                samples.push(one_message(&gateway, inbound).await);
            }
            drop(permit);
            samples
        });
    }
    let mut samples = Vec::with_capacity(workload.messages());
    while let Some(done) = tasks.join_next().await {
        samples.extend(done.context("a benchmark task panicked")?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_ms = self_cpu_ms() - cpu_before;
    let model = nlu.as_ref().map(|u| u.usage()).unwrap_or_default();
    let model_messages = model.asked - model_before.asked;
    let kept = metrics.reuse_count("answer", true) - kept_before.0;
    let made = metrics.reuse_count("answer", false) - kept_before.1;
    let db_ms = match (db_before, server.pid.and_then(process_cpu_ms)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };

    let n = samples.len().max(1) as f64;
    let mut latencies: Vec<f64> = samples.iter().filter_map(|s| s.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let errors: Vec<&String> = samples.iter().filter_map(|s| s.error.as_ref()).collect();
    let mut intents = BTreeMap::new();
    let mut by_intent: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in &samples {
        if let Some(i) = &s.intent {
            *intents.entry(i.clone()).or_insert(0) += 1;
            if let Some(ms) = s.latency_ms {
                by_intent.entry(i.clone()).or_default().push(ms);
            }
        }
    }
    let intent_latency = by_intent
        .into_iter()
        .map(|(intent, mut ms)| {
            ms.sort_by(f64::total_cmp);
            let latency = IntentLatency {
                messages: ms.len(),
                p50_ms: percentile(&ms, 50.0),
                p95_ms: percentile(&ms, 95.0),
            };
            (intent, latency)
        })
        .collect();
    let p = |q| percentile(&latencies, q);
    let frontdesk_cpu = cpu_ms / n;
    let db_cpu = db_ms.map(|ms| ms / n);
    let mut report = PipelineReport {
        server,
        users,
        concurrency: opts.concurrency.max(1),
        messages: samples.len(),
        fresh: opts.fresh,
        repeat: opts.repeat,
        threads: workload.threads.len(),
        follow_up_threads: workload.follow_up_threads(),
        kept_answer_share: kept as f64 / (kept + made).max(1) as f64,
        answered: samples.len() - errors.len(),
        errors: errors.len(),
        error_samples: errors.iter().take(5).map(|e| (*e).clone()).collect(),
        seconds,
        messages_per_s: samples.len() as f64 / seconds.max(1e-9),
        p50_ms: p(50.0),
        p95_ms: p(95.0),
        p99_ms: p(99.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        frontdesk_cpu_ms_per_message: frontdesk_cpu,
        db_cpu_ms_per_message: db_cpu,
        distinct_questions: workload.distinct(),
        model_messages,
        model_share: model_messages as f64 / n,
        model_reads: model.read,
        model_passes: model.passes,
        model_ms_per_read: model.ms_per_read(),
        intents,
        intent_latency,
        rows: Vec::new(),
    };
    report.rows = rows(&report);
    Ok(report)
}

fn rows(r: &PipelineReport) -> Vec<Row> {
    let mut rows = vec![
        Row::info("database", r.server.describe()),
        Row::info(
            "load",
            format!(
                "{} messages in {} threads ({} with follow-ups), {} users, concurrency {}{}{}",
                r.messages,
                r.threads,
                r.follow_up_threads,
                r.users,
                r.concurrency,
                if r.repeat {
                    ", the same questions repeated"
                } else {
                    ", a realistic day"
                },
                if r.fresh {
                    ", every answer computed afresh"
                } else {
                    ""
                }
            ),
        ),
        Row::info("messages/s", format!("{:.0}", r.messages_per_s)),
        Row::info("p50 latency", format!("{:.2} ms", r.p50_ms)),
        Row::info("p95 latency", format!("{:.2} ms", r.p95_ms)),
        Row::target(
            "p99 latency",
            format!("{:.2} ms", r.p99_ms),
            format!("<= {TARGET_P99_MS} ms at C=32"),
            Some(r.p99_ms <= TARGET_P99_MS),
        ),
        Row::target(
            "frontdesk CPU / message",
            format!("{:.3} ms", r.frontdesk_cpu_ms_per_message),
            format!("<= {TARGET_CPU_MS} ms"),
            Some(r.frontdesk_cpu_ms_per_message <= TARGET_CPU_MS),
        ),
        Row::info(
            "database CPU / message",
            r.db_cpu_ms_per_message
                .map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.3} ms")),
        ),
        Row::target("errors", r.errors.to_string(), "0", Some(r.errors == 0)),
        Row::info("distinct questions", r.distinct_questions.to_string()),
        Row::info(
            "answers given again from kept ones",
            format!("{:.1}%", r.kept_answer_share * 100.0),
        ),
        Row::info(
            "sentence model",
            format!(
                "asked of {} messages ({:.1}%); {} read afresh in {} passes, {:.2} ms each",
                r.model_messages,
                r.model_share * 100.0,
                r.model_reads,
                r.model_passes,
                r.model_ms_per_read
            ),
        ),
    ];
    rows.extend(r.intent_latency.iter().map(|(intent, l)| {
        Row::info(
            format!("  {intent} ({} messages)", l.messages),
            format!("p50 {:.2} ms, p95 {:.2} ms", l.p50_ms, l.p95_ms),
        )
    }));
    rows
}
