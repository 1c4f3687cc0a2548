//! `frontdesk bench memory`: peak RSS after the pipeline load, and the time from starting
//! `frontdesk serve` to its `/readyz` answering 200.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::pipeline::{self, PipelineOptions};
use super::{peak_rss_mb, Row, Server};
use crate::config::Settings;
use crate::store::Store;

/// Peak RSS with the rules alone, and with the sentence model loaded (its weights are
/// about 90 MB).
pub const TARGET_RSS_MB: f64 = 80.0;
pub const TARGET_RSS_WITH_MODEL_MB: f64 = 160.0;
pub const TARGET_STARTUP_MS: f64 = 1000.0;

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub server: Server,
    pub messages: usize,
    pub concurrency: usize,
    /// VmHWM of this process after the pipeline load, MiB.
    pub peak_rss_mb: Option<f64>,
    /// `frontdesk serve` start to the first 200 from `/readyz`; `None` when not measured.
    pub startup_ms: Option<f64>,
    pub rows: Vec<Row>,
}

/// Where `serve` should find its database.
#[derive(Debug, Clone)]
pub struct ServeTarget<'a> {
    /// The `frontdesk` executable.
    pub exe: &'a Path,
    /// The unredacted database URL.
    pub url: &'a str,
    pub database: &'a str,
    /// `FRONTDESK_ENCRYPTION_KEY` for `serve` (it refuses to start without one).
    pub encryption_key: &'a str,
}

/// Runs the pipeline load, reads the peak RSS, then times `serve` start-up when `serve`
/// is given.
///
/// # Errors
/// The pipeline failed, or `serve` did not become ready.
pub async fn run(
    settings: &Settings,
    store: &Store,
    server: Server,
    opts: PipelineOptions,
    serve: Option<ServeTarget<'_>>,
) -> Result<MemoryReport> {
    let load = pipeline::run(settings, store, server.clone(), opts).await?;
    let rss = peak_rss_mb();
    let nlu = crate::app::understanding(settings, false);
    let target_mb = if nlu.ready().is_some() {
        TARGET_RSS_WITH_MODEL_MB
    } else {
        TARGET_RSS_MB
    };
    let startup_ms = match serve {
        Some(target) => Some(startup(&target).await?),
        None => None,
    };
    let mut rows = vec![
        Row::info("database", server.describe()),
        Row::info(
            "load",
            format!(
                "{} messages through the pipeline, concurrency {} ({} errors)",
                load.messages, load.concurrency, load.errors
            ),
        ),
        Row::info("sentence model", nlu.status()),
        Row::target(
            "peak RSS (VmHWM)",
            rss.map_or_else(|| "n/a".into(), |mb| format!("{mb:.1} MB")),
            format!("<= {target_mb} MB"),
            rss.map(|mb| mb <= target_mb),
        ),
    ];
    rows.push(Row::target(
        "serve start to /readyz 200",
        startup_ms.map_or_else(|| "not measured".into(), |ms| format!("{ms:.0} ms")),
        format!("<= {TARGET_STARTUP_MS} ms"),
        startup_ms.map(|ms| ms <= TARGET_STARTUP_MS),
    ));
    Ok(MemoryReport {
        server,
        messages: load.messages,
        concurrency: load.concurrency,
        peak_rss_mb: rss,
        startup_ms,
        rows,
    })
}

/// Starts `frontdesk serve` on a free port and times it until `/readyz` answers 200.
///
/// # Errors
/// `serve` cannot be started, exits, or is not ready within 30 seconds.
pub async fn startup(target: &ServeTarget<'_>) -> Result<f64> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(target.exe)
        .arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .env("JWT_SECRET_KEY", &secret)
        .env("MONGODB_URL", target.url)
        .env("DATABASE_NAME", target.database)
        .env("FRONTDESK_ENCRYPTION_KEY", target.encryption_key)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", target.exe.display()))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let url = format!("http://127.0.0.1:{port}/readyz");
    let result = loop {
        if let Ok(resp) = client.get(&url).send().await {
            if resp.status().as_u16() == 200 {
                break Ok(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if let Some(status) = child.try_wait()? {
            break Err(anyhow::anyhow!(
                "`serve` exited before it was ready ({status})"
            ));
        }
        if started.elapsed() > Duration::from_secs(30) {
            break Err(anyhow::anyhow!("`serve` was not ready within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}
