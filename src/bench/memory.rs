//! `frontdesk bench memory`: peak RSS after the pipeline load, and the time from starting
//! `frontdesk serve` to its `/readyz` answering 200.

use anyhow::Result;
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

pub use super::serve::ServeTarget;

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
/// `serve` cannot be started, exits, or is not ready within a minute.
pub async fn startup(target: &ServeTarget<'_>) -> Result<f64> {
    let served = super::serve::Served::start(target).await?;
    let ms = served.ready_after.as_secs_f64() * 1000.0;
    served.stop().await;
    Ok(ms)
}
