//! `frontdesk bench …`: measured commands, never timed tests. Each benchmark returns a
//! report that prints as a table (figure, target, met?) or, with `--json`, as JSON.
//!
//! * [`pipeline`] — simulated users through the real gateway, rules planner and database.
//! * [`memory`] — peak RSS under the pipeline load, and `serve` start-up to `/readyz`.
//! * [`llm`] — the eval set through the `hybrid` and `llm` planners against a fake
//!   OpenAI-compatible server: calls and tokens per question.
//! * [`analytics`] — each dashboard query at growing data sizes, checked against a scan.
//! * [`api`] — the same traffic over HTTP of a `serve` process: its CPU per question.
//! * [`queries`] — every read the service sends, explained: fails on a collection scan.
//! * [`understanding`] — the sentence model alone: its time per read, alone and busy.

pub mod analytics;
pub mod api;
pub mod llm;
pub mod memory;
pub mod pipeline;
pub mod queries;
pub mod serve;
pub mod understanding;
pub mod workload;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::agents::eval::{parse_cases, EvalCase};
use crate::app::{running_localdb, Database};
use crate::config::Settings;
use crate::store::redact_url;

/// The public eval questions, built in so the benchmarks run from any directory.
pub const EVAL_CASES: &str = include_str!("../../tests/eval/queries.jsonl");
/// Everyday questions as people type them, for distinct questions in the pipeline.
pub const EVERYDAY_CASES: &str = include_str!("../../tests/eval/everyday.jsonl");

/// The clock of the demo data and the eval file.
pub const DEMO_NOW: &str = "2026-11-25T10:00:00Z";

/// The parsed built-in eval cases.
///
/// # Errors
/// The built-in file does not parse (a build problem).
pub fn eval_cases() -> anyhow::Result<Vec<EvalCase>> {
    Ok(parse_cases(EVAL_CASES)?)
}

/// The demo clock's "now".
#[must_use]
pub fn demo_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(DEMO_NOW)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// Settings with the clock fixed at the demo "now" unless `FRONTDESK_NOW` names one.
#[must_use]
pub fn with_demo_clock(settings: &Settings) -> Settings {
    let mut s = settings.clone();
    if s.now.is_none() {
        s.now = Some(demo_now());
        s.clock_frozen = true;
    }
    s
}

/// The database server a benchmark ran against.
#[derive(Debug, Clone, Serialize)]
pub struct Server {
    /// `mongod`, `secantus-rs`, `secantus-py`, or `external`.
    pub kind: String,
    /// The URL with any password removed.
    pub url: String,
    /// The server's process id when it runs on this machine and frontdesk knows it.
    pub pid: Option<u32>,
}

impl Server {
    /// Describes the server behind an open database.
    #[must_use]
    pub fn of(settings: &Settings, db: &Database) -> Self {
        let url = redact_url(&db.url);
        if let Some(local) = &db.local {
            return Self {
                kind: local.kind().as_str().to_owned(),
                url,
                pid: local.pid(),
            };
        }
        if settings.database.url.is_none() {
            if let Some((_, pid)) = running_localdb() {
                let pid = u32::try_from(pid).ok();
                return Self {
                    kind: pid.and_then(process_kind).unwrap_or_else(|| "local".into()),
                    url,
                    pid,
                };
            }
        }
        Self {
            kind: "external".into(),
            url,
            pid: None,
        }
    }

    /// One line for the table output.
    #[must_use]
    pub fn describe(&self) -> String {
        match self.pid {
            Some(pid) => format!("{} at {} (pid {pid})", self.kind, self.url),
            None => format!("{} at {}", self.kind, self.url),
        }
    }
}

/// The server kind a local process looks like, from its command name.
fn process_kind(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let comm = comm.trim();
    Some(if comm.contains("mongod") {
        "mongod".into()
    } else if comm.contains("python") || comm.ends_with("-py") {
        "secantus-py".into()
    } else if comm.contains("secantusd") {
        "secantus-rs".into()
    } else {
        comm.to_owned()
    })
}

/// CPU time (user + system) this process has used, in milliseconds.
#[must_use]
pub fn self_cpu_ms() -> f64 {
    // SAFETY: getrusage fills the zeroed struct we pass it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage struct.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// CPU time (user + system) another process has used, in milliseconds, from
/// `/proc/PID/stat`; `None` when it cannot be read.
#[must_use]
pub fn process_cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: the fields after it follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) * 1000.0 / ticks)
}

/// Peak resident set size of this process (VmHWM), in MiB.
#[must_use]
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The value at percentile `p` (0–100) of sorted values, nearest rank.
#[must_use]
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One row of a benchmark table: a figure and, when there is one, its target.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub what: String,
    pub figure: String,
    pub target: Option<String>,
    /// Whether the figure meets the target; `None` without a target or a figure.
    pub met: Option<bool>,
}

impl Row {
    #[must_use]
    pub fn info(what: impl Into<String>, figure: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            figure: figure.into(),
            target: None,
            met: None,
        }
    }

    #[must_use]
    pub fn target(
        what: impl Into<String>,
        figure: impl Into<String>,
        target: impl Into<String>,
        met: Option<bool>,
    ) -> Self {
        Self {
            what: what.into(),
            figure: figure.into(),
            target: Some(target.into()),
            met,
        }
    }
}

/// Prints rows as an aligned table.
pub fn print_table(title: &str, rows: &[Row]) {
    println!("{title}");
    let w_what = rows.iter().map(|r| r.what.len()).max().unwrap_or(4).max(4);
    let w_fig = rows
        .iter()
        .map(|r| r.figure.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w_tgt = rows
        .iter()
        .map(|r| r.target.as_deref().map_or(0, str::len))
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "  {:<w_what$}  {:>w_fig$}  {:<w_tgt$}  met",
        "what", "figure", "target"
    );
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!(
            "  {:<w_what$}  {:>w_fig$}  {:<w_tgt$}  {met}",
            r.what,
            r.figure,
            r.target.as_deref().unwrap_or("")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&v, 50.0) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&v, 99.0) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&[3.0], 95.0) - 3.0).abs() < f64::EPSILON);
        assert!(percentile(&[], 50.0).abs() < f64::EPSILON);
    }

    #[test]
    fn own_cpu_and_memory_are_readable() {
        assert!(self_cpu_ms() > 0.0);
        assert!(peak_rss_mb().unwrap_or(0.0) > 0.0);
        assert!(process_cpu_ms(std::process::id()).is_some());
        assert!(eval_cases().unwrap().len() >= 10);
    }
}
