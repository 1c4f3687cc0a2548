//! `bench understanding`: the sentence model alone, no database. Every distinct question
//! of the corpus is read once by one asker at a time (each read is a pass of its own), then
//! again by many askers at once (the reading thread reads those waiting together). The
//! model's time per read and the passes are reported beside the target.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Row;
use crate::config::Settings;
use crate::domain::AgentKind;
use crate::nlu::{Understanding, Usage};

/// The model's time per read, in milliseconds.
pub const TARGET_MS_PER_READ: f64 = 5.0;

/// One way of asking: the reads, the passes they took and the time per read.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub askers: usize,
    pub reads: u64,
    pub passes: u64,
    /// The model's time in its passes, per read.
    pub model_ms_per_read: f64,
    /// The phase's wall time, per read.
    pub wall_ms_per_read: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnderstandingReport {
    pub questions: usize,
    pub one_at_a_time: Phase,
    pub at_once: Phase,
    #[serde(skip)]
    pub rows: Vec<Row>,
}

/// Reads every distinct question one at a time, then with `askers` at once.
///
/// # Errors
/// The model is not loaded, or a read failed.
pub async fn run(settings: &Settings, askers: usize) -> Result<UnderstandingReport> {
    let handle = crate::app::understanding(settings, true);
    let nlu = handle
        .ready()
        .with_context(|| format!("the sentence model is not loaded: {}", handle.status()))?;
    let mut questions: Vec<(AgentKind, String)> = super::pipeline::questions()?;
    questions.sort_by(|a, b| a.1.cmp(&b.1));
    questions.dedup_by(|a, b| a.1 == b.1);
    // Warm-up: the first pass allocates the model's scratch memory.
    read(&nlu, &questions[..questions.len().min(4)], 1).await?;
    let one_at_a_time = read(&nlu, &questions, 1).await?;
    let at_once = read(&nlu, &questions, askers.max(1)).await?;
    let row = |what: &str, p: &Phase| {
        Row::target(
            what,
            format!(
                "{} reads in {} passes: {:.2} ms of model time each ({:.2} ms wall)",
                p.reads, p.passes, p.model_ms_per_read, p.wall_ms_per_read
            ),
            format!("<= {TARGET_MS_PER_READ} ms"),
            Some(p.model_ms_per_read <= TARGET_MS_PER_READ),
        )
    };
    let rows = vec![
        Row::info("sentence model", handle.status()),
        Row::info("distinct questions", questions.len().to_string()),
        row("one asker at a time", &one_at_a_time),
        row(&format!("{} askers at once", at_once.askers), &at_once),
    ];
    Ok(UnderstandingReport {
        questions: questions.len(),
        one_at_a_time,
        at_once,
        rows,
    })
}

/// Reads `questions` with `askers` asking at once; the model's memo is bypassed.
async fn read(
    nlu: &Arc<Understanding>,
    questions: &[(AgentKind, String)],
    askers: usize,
) -> Result<Phase> {
    let before = nlu.usage();
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let shared: Arc<Vec<(AgentKind, String)>> = Arc::new(questions.to_vec());
    let workers: Vec<_> = (0..askers)
        .map(|_| {
            let (nlu, next, shared) = (Arc::clone(nlu), Arc::clone(&next), Arc::clone(&shared));
            tokio::task::spawn_blocking(move || -> Result<()> {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((agent, text)) = shared.get(i) else {
                        return Ok(());
                    };
                    nlu.ranking(text, *agent)?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.context("a reader panicked")??;
    }
    let wall = started.elapsed();
    let after: Usage = nlu.usage();
    let reads = after.read - before.read;
    let per = |ms: f64| if reads == 0 { 0.0 } else { ms / reads as f64 };
    Ok(Phase {
        askers,
        reads,
        passes: after.passes - before.passes,
        model_ms_per_read: per((after.reading - before.reading).as_secs_f64() * 1000.0),
        wall_ms_per_read: per(wall.as_secs_f64() * 1000.0),
    })
}
