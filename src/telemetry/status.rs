//! Per-agent counters since start: queries, errors, latency percentiles, LLM calls and
//! tokens. They live in [`crate::telemetry::metrics::Metrics`], which every agent turn
//! counts into; `GET /api/agents/status` reads them there, and `frontdesk doctor` reads a
//! running server's `/metrics`.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::metrics::AgentTurn;
use crate::domain::{AgentKind, Intent};

const WINDOW: usize = 2048;

#[derive(Debug, Default)]
struct Counters {
    queries: u64,
    errors: u64,
    refused: u64,
    llm_calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    latencies_ms: VecDeque<u64>,
}

/// One agent's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentFigures {
    pub agent: String,
    pub queries: u64,
    pub errors: u64,
    pub refused: u64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub llm_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// One platform's message counters since start.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlatformFigures {
    pub platform: String,
    /// Messages the gateway was handed.
    pub received: u64,
    /// Messages the adapter accepted for sending.
    pub replied: u64,
    /// Repeated platform events dropped.
    pub duplicates: u64,
    /// Messages refused by a rate limit.
    pub rate_limited: u64,
}

/// Both agents' figures and since when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusReport {
    pub since: DateTime<Utc>,
    pub agents: Vec<AgentFigures>,
    /// Platforms that received or sent anything since start.
    pub platforms: Vec<PlatformFigures>,
    /// The outbox: side effects waiting (depth), being delivered, and given up on.
    pub outbox: OutboxFigures,
}

/// The outbox's depth and dead letters.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct OutboxFigures {
    pub pending: u64,
    pub in_flight: u64,
    pub done: u64,
    /// Items given up on after too many attempts or a permanent failure; each keeps its
    /// last error.
    pub dead: u64,
}

/// The counters, shared by every request.
#[derive(Debug)]
pub struct AgentStatus {
    since: DateTime<Utc>,
    support: Mutex<Counters>,
    dashboard: Mutex<Counters>,
}

impl AgentStatus {
    #[must_use]
    pub fn new(since: DateTime<Utc>) -> Self {
        Self {
            since,
            support: Mutex::default(),
            dashboard: Mutex::default(),
        }
    }

    fn counters(&self, agent: AgentKind) -> &Mutex<Counters> {
        match agent {
            AgentKind::Support => &self.support,
            AgentKind::Dashboard => &self.dashboard,
        }
    }

    /// Counts one answered question.
    pub fn record(&self, reply: &AgentTurn) {
        let Ok(mut c) = self.counters(reply.agent).lock() else {
            return;
        };
        c.queries += 1;
        if reply.failed {
            c.errors += 1;
        }
        if reply.intent == Intent::Refused {
            c.refused += 1;
        }
        c.llm_calls += u64::from(reply.llm_calls);
        c.prompt_tokens += reply.prompt_tokens;
        c.completion_tokens += reply.completion_tokens;
        if c.latencies_ms.len() == WINDOW {
            c.latencies_ms.pop_front();
        }
        c.latencies_ms.push_back(reply.latency_ms);
    }

    #[must_use]
    /// The agents' figures, with the platforms' and the outbox's.
    pub fn report(&self, outbox: OutboxFigures, platforms: Vec<PlatformFigures>) -> StatusReport {
        let figures = |agent: AgentKind| {
            let c = self.counters(agent).lock().map(|c| {
                let mut sorted: Vec<u64> = c.latencies_ms.iter().copied().collect();
                sorted.sort_unstable();
                (
                    c.queries,
                    c.errors,
                    c.refused,
                    c.llm_calls,
                    c.prompt_tokens,
                    c.completion_tokens,
                    percentile(&sorted, 50),
                    percentile(&sorted, 95),
                )
            });
            let (
                queries,
                errors,
                refused,
                llm_calls,
                prompt_tokens,
                completion_tokens,
                p50_ms,
                p95_ms,
            ) = c.unwrap_or_default();
            AgentFigures {
                agent: agent.as_str().to_owned(),
                queries,
                errors,
                refused,
                p50_ms,
                p95_ms,
                llm_calls,
                prompt_tokens,
                completion_tokens,
            }
        };
        StatusReport {
            since: self.since,
            agents: vec![figures(AgentKind::Support), figures(AgentKind::Dashboard)],
            platforms,
            outbox,
        }
    }
}

/// The nearest-rank percentile of sorted values (0 when empty).
#[must_use]
pub fn percentile(sorted: &[u64], p: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted[usize::try_from(rank - 1).unwrap_or(0).min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 95), 95);
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[], 50), 0);
    }
}
