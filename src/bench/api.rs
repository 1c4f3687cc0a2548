//! `frontdesk bench api`: the same realistic day as `bench pipeline`, asked over HTTP of
//! a `frontdesk serve` process (`POST /api/agents/{support|dashboard}/query`, one
//! keep-alive connection per simulated thread, a conversation per thread). Its CPU is
//! read from the process, so the client's own work is not counted; the gateway path's
//! CPU per message comes from a pipeline run of the same traffic in this process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;

use super::pipeline::{self, PipelineOptions};
use super::serve::{ServeTarget, Served};
use super::workload;
use super::{percentile, process_cpu_ms, Row, Server};
use crate::config::Settings;
use crate::store::Store;
use crate::tools::AgentKind;

/// How much more CPU a question may cost over HTTP than through the gateway.
pub const TARGET_EXTRA_CPU_MS: f64 = 0.1;

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ApiReport {
    pub server: Server,
    pub questions: usize,
    pub concurrency: usize,
    pub errors: usize,
    pub error_samples: Vec<String>,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU of the `serve` process per question.
    pub serve_cpu_ms_per_question: Option<f64>,
    /// CPU per message of the same traffic through the gateway, in this process.
    pub gateway_cpu_ms_per_message: f64,
    pub rows: Vec<Row>,
}

/// Runs the same traffic through the gateway (in this process) and over HTTP (of a
/// `serve` process), and compares their CPU per question.
///
/// # Errors
/// The database cannot be read, or `serve` does not start.
pub async fn run(
    settings: &Settings,
    store: &Store,
    server: Server,
    opts: PipelineOptions,
    target: &ServeTarget<'_>,
) -> Result<ApiReport> {
    let gateway = pipeline::run(settings, store, server.clone(), opts).await?;
    let users = opts.users.max(1);
    let traffic = workload::realistic(store, opts.messages, users, 42).await?;
    let warm_up = workload::realistic(store, 100, users, 7).await?;
    let served = Served::start(target).await?;
    let pid = served.child.id();
    let keys = crate::api::JwtKeys::new(served.secret.as_bytes());
    let now = crate::bench::demo_now();
    let mint = |role: &str| keys.mint(role, "bench", now, chrono::Duration::hours(2));
    let tokens = Arc::new(HashMap::from([
        (AgentKind::Support, mint("staff")?),
        (AgentKind::Dashboard, mint("manager")?),
    ]));
    let base = served.base.clone();
    let ask = move |http: reqwest::Client, agent: AgentKind, text: String, conversation: String| {
        let tokens = tokens.clone();
        let url = format!(
            "{base}/api/agents/{}/query",
            match agent {
                AgentKind::Support => "support",
                AgentKind::Dashboard => "dashboard",
            }
        );
        async move {
            let started = Instant::now();
            let sent = http
                .post(url)
                .bearer_auth(tokens.get(&agent).map_or("", String::as_str))
                .json(&json!({ "query": text, "conversation_id": conversation }))
                .send()
                .await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            match sent {
                Ok(r) if r.status().is_success() => {
                    let _ = r.bytes().await;
                    Ok(ms)
                }
                Ok(r) => Err(format!(
                    "{}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                )),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency.max(1))
        .build()?;
    for (t, thread) in warm_up.threads.iter().enumerate() {
        for text in &thread.messages {
            let _ = ask(
                http.clone(),
                thread.agent,
                text.clone(),
                format!("warm-{t}"),
            )
            .await;
        }
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let cpu_before = pid.and_then(process_cpu_ms);
    let started = Instant::now();
    for (t, thread) in traffic.threads.iter().enumerate() {
        let permit = sem.clone().acquire_owned().await?;
        let (http, thread) = (http.clone(), thread.clone());
        let conversation = format!("{run_id}-{t}");
        let ask = ask.clone();
        tasks.spawn(async move {
            let mut out = Vec::new();
            for text in thread.messages {
                out.push(ask(http.clone(), thread.agent, text, conversation.clone()).await);
            }
            drop(permit);
            out
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.extend(done.context("a benchmark task panicked")?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, pid.and_then(process_cpu_ms)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    served.stop().await;

    let mut latencies: Vec<f64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .copied()
        .collect();
    latencies.sort_by(f64::total_cmp);
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .cloned()
        .collect();
    let n = results.len().max(1) as f64;
    let serve_cpu = cpu.map(|ms| ms / n);
    let mut report = ApiReport {
        server,
        questions: results.len(),
        concurrency: opts.concurrency.max(1),
        errors: errors.len(),
        error_samples: errors.into_iter().take(5).collect(),
        requests_per_s: results.len() as f64 / seconds.max(1e-9),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        serve_cpu_ms_per_question: serve_cpu,
        gateway_cpu_ms_per_message: gateway.frontdesk_cpu_ms_per_message,
        rows: Vec::new(),
    };
    report.rows = rows(&report);
    Ok(report)
}

fn rows(r: &ApiReport) -> Vec<Row> {
    let extra = r
        .serve_cpu_ms_per_question
        .map(|ms| ms - r.gateway_cpu_ms_per_message);
    vec![
        Row::info("database", r.server.describe()),
        Row::info(
            "load",
            format!(
                "{} questions over HTTP (keep-alive), concurrency {}, a realistic day",
                r.questions, r.concurrency
            ),
        ),
        Row::info("requests/s", format!("{:.0}", r.requests_per_s)),
        Row::info("p50 latency", format!("{:.2} ms", r.p50_ms)),
        Row::info("p99 latency", format!("{:.2} ms", r.p99_ms)),
        Row::info(
            "serve CPU / question",
            r.serve_cpu_ms_per_question
                .map_or_else(|| "n/a".into(), |ms| format!("{ms:.3} ms")),
        ),
        Row::info(
            "gateway CPU / message (same traffic)",
            format!("{:.3} ms", r.gateway_cpu_ms_per_message),
        ),
        Row::target(
            "HTTP over the gateway path",
            extra.map_or_else(|| "n/a".into(), |ms| format!("{ms:+.3} ms")),
            format!("<= {TARGET_EXTRA_CPU_MS} ms"),
            extra.map(|ms| ms <= TARGET_EXTRA_CPU_MS),
        ),
        Row::target("errors", r.errors.to_string(), "0", Some(r.errors == 0)),
    ]
}
