//! Prometheus metrics: one registry of typed families, served at `GET /metrics` in the
//! text exposition format (0.0.4).
//!
//! **Invariant:** label values are platforms, agents, intents (tool names), outcomes,
//! outbox kinds and statuses, and error kinds — never a user id, channel, email or phone.
//!
//! The process uses [`Metrics::global`]; the gateway, the agents and the outbox worker
//! take another instance with `with_metrics` (tests give each their own).
//!
//! `GET /api/agents/status` reads the same instance ([`Metrics::status_report`]): the
//! platform counters below and the per-agent figures in [`AgentStatus`], which every
//! agent turn (chat or REST) records.

use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::domain::{AgentKind, Intent};
use crate::store::OutboxStats;
use crate::telemetry::status::{AgentStatus, OutboxFigures, PlatformFigures, StatusReport};

/// The platforms whose counters the status report lists.
const PLATFORMS: [&str; 5] = ["telegram", "slack", "discord", "console", "api"];

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Latency buckets in seconds: 1 ms to 30 s.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformLabels {
    pub platform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub platform: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentLabels {
    pub agent: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentIntentLabels {
    pub agent: String,
    pub intent: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReuseLabels {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub kind: String,
    pub outcome: String,
}

type Seconds<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    Histogram::new(SECONDS_BUCKETS)
}

/// Every metric frontdesk exports (names without the `frontdesk_` prefix and the
/// `_total` suffix counters get when encoded).
pub struct Metrics {
    registry: Registry,
    /// `messages_received_total{platform}`: messages the gateway was handed.
    pub messages_received: Family<PlatformLabels, Counter>,
    /// `replies_sent_total{platform}`: messages the adapters accepted.
    pub replies_sent: Family<PlatformLabels, Counter>,
    /// `gateway_outcomes_total{platform,outcome}`: what the gateway did with each message.
    pub gateway_outcomes: Family<OutcomeLabels, Counter>,
    /// `agent_replies_total{agent,intent}`.
    pub agent_replies: Family<AgentIntentLabels, Counter>,
    /// `message_seconds{agent}`: an agent's whole turn (plan, tools, LLM, memory).
    pub message_seconds: Seconds<AgentLabels>,
    /// `tool_seconds{agent}`: time in tools per turn that called any.
    pub tool_seconds: Seconds<AgentLabels>,
    /// `llm_seconds{agent}`: time waiting for the LLM per turn that asked it.
    pub llm_seconds: Seconds<AgentLabels>,
    /// `llm_calls_total{agent}`.
    pub llm_calls: Family<AgentLabels, Counter>,
    /// `llm_tokens_total{kind="prompt"|"completion"}`.
    pub llm_tokens: Family<KindLabels, Counter>,
    /// `rate_limited_total{platform}`.
    pub rate_limited: Family<PlatformLabels, Counter>,
    /// `duplicates_dropped_total{platform}`.
    pub duplicates_dropped: Family<PlatformLabels, Counter>,
    /// `outbox_items{status}`: the outbox by status, refreshed on every scrape.
    pub outbox_items: Family<StatusLabels, Gauge>,
    /// `outbox_deliveries_total{kind,outcome="done"|"retry"|"dead"}`.
    pub outbox_deliveries: Family<DeliveryLabels, Counter>,
    /// `errors_total{kind}`: `tool_<ToolError::kind>`, `store`, `send`, `outbox_store`.
    pub errors: Family<KindLabels, Counter>,
    /// `reuse_total{kind="answer"|"plan",outcome="reused"|"made"}`: kept answers of
    /// read-only tools and kept plans, given again or made afresh.
    pub reuse: Family<ReuseLabels, Counter>,
    /// `model_messages_total{outcome="decided"|"undecided"}`: messages the sentence model
    /// read because the rules were not sure, by whether it was sure enough.
    pub model_messages: Family<DecisionLabels, Counter>,
    /// `http_connections_open`: HTTP connections open now.
    pub http_connections_open: Gauge,
    /// `http_connections_refused_total{kind}`: connections answered 503 and closed at
    /// once (`total` or `per_address` cap reached).
    pub http_connections_refused: Family<KindLabels, Counter>,
    /// `http_connections_cut_total{kind}`: connections closed for a slow or idle client
    /// (`header_timeout`, `body_timeout`, `write_timeout`).
    pub http_connections_cut: Family<KindLabels, Counter>,
    /// `http_accept_errors_total`: failed accepts (out of file descriptors, say).
    pub http_accept_errors: Counter,
    /// `unreadable_records`: records left out of lists since start because their sealed
    /// fields could not be opened (set at each scrape).
    pub unreadable_records: Gauge,
    /// `tickets_waiting`: tickets opened and not claimed by anyone (set at each scrape).
    pub tickets_waiting: Gauge,
    /// `http_responses_total{status}`: REST API responses by status class.
    pub http_responses: Family<StatusLabels, Counter>,
    /// `tickets_total{kind}`: hand-off tickets opened, claimed and closed.
    pub tickets: Family<KindLabels, Counter>,
    /// `ticket_first_reply_seconds`: from a ticket's opening to the first staff reply.
    pub ticket_first_reply_seconds: Histogram,
    /// `model_seconds`: the sentence model's time per message it read.
    pub model_seconds: Histogram,
    /// Per-agent queries, errors and latency percentiles for the status report.
    pub agents: AgentStatus,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered and nothing counted.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("frontdesk");
        let messages_received = Family::default();
        let replies_sent = Family::default();
        let gateway_outcomes = Family::default();
        let agent_replies = Family::default();
        let message_seconds: Seconds<AgentLabels> = Family::new_with_constructor(seconds_histogram);
        let tool_seconds: Seconds<AgentLabels> = Family::new_with_constructor(seconds_histogram);
        let llm_seconds: Seconds<AgentLabels> = Family::new_with_constructor(seconds_histogram);
        let llm_calls = Family::default();
        let llm_tokens = Family::default();
        let rate_limited = Family::default();
        let duplicates_dropped = Family::default();
        let outbox_items = Family::default();
        let outbox_deliveries = Family::default();
        let errors = Family::default();
        let reuse = Family::default();
        let model_messages = Family::default();
        let model_seconds = seconds_histogram();
        registry.register(
            "model_messages",
            "Messages the sentence model read (the rules were not sure), by whether it decided",
            Clone::clone(&model_messages),
        );
        registry.register(
            "model_seconds",
            "The sentence model's time per message it read, in seconds",
            Clone::clone(&model_seconds),
        );
        registry.register(
            "messages_received",
            "Messages the gateway was handed, per platform",
            Clone::clone(&messages_received),
        );
        registry.register(
            "replies_sent",
            "Messages the chat adapters accepted for sending, per platform",
            Clone::clone(&replies_sent),
        );
        registry.register(
            "gateway_outcomes",
            "What the gateway did with each message",
            Clone::clone(&gateway_outcomes),
        );
        registry.register(
            "agent_replies",
            "Agent answers per agent and intent",
            Clone::clone(&agent_replies),
        );
        registry.register(
            "message_seconds",
            "An agent's whole turn, in seconds",
            Clone::clone(&message_seconds),
        );
        registry.register(
            "tool_seconds",
            "Time in tools per agent turn that called any, in seconds",
            Clone::clone(&tool_seconds),
        );
        registry.register(
            "llm_seconds",
            "Time waiting for the LLM per agent turn that asked it, in seconds",
            Clone::clone(&llm_seconds),
        );
        registry.register(
            "llm_calls",
            "LLM chat-completion requests",
            Clone::clone(&llm_calls),
        );
        registry.register(
            "llm_tokens",
            "LLM tokens by kind (prompt, completion)",
            Clone::clone(&llm_tokens),
        );
        registry.register(
            "rate_limited",
            "Messages refused by a rate limit, per platform",
            Clone::clone(&rate_limited),
        );
        registry.register(
            "duplicates_dropped",
            "Repeated platform events dropped, per platform",
            Clone::clone(&duplicates_dropped),
        );
        registry.register(
            "outbox_items",
            "Outbox items by status at the last scrape",
            Clone::clone(&outbox_items),
        );
        registry.register(
            "outbox_deliveries",
            "Outbox delivery attempts by job kind and outcome",
            Clone::clone(&outbox_deliveries),
        );
        registry.register("errors", "Errors by kind", Clone::clone(&errors));
        let http_connections_open = Gauge::default();
        let http_connections_refused = Family::default();
        let http_connections_cut = Family::default();
        let http_accept_errors = Counter::default();
        let unreadable_records = Gauge::default();
        let tickets = Family::default();
        let http_responses = Family::default();
        let tickets_waiting = Gauge::default();
        registry.register(
            "tickets_waiting",
            "Hand-off tickets opened and not yet claimed by anyone, at the last scrape",
            Clone::clone(&tickets_waiting),
        );
        registry.register(
            "http_responses",
            "REST API responses by status class (2xx, 3xx, 4xx, 5xx)",
            Clone::clone(&http_responses),
        );
        let ticket_first_reply_seconds = Histogram::new([
            60.0,
            300.0,
            900.0,
            1800.0,
            3600.0,
            4.0 * 3600.0,
            24.0 * 3600.0,
        ]);
        registry.register(
            "tickets",
            "Hand-off tickets by what happened (opened, claimed, closed)",
            Clone::clone(&tickets),
        );
        registry.register(
            "ticket_first_reply_seconds",
            "From a ticket's opening to the first staff reply, in seconds",
            Clone::clone(&ticket_first_reply_seconds),
        );
        registry.register(
            "unreadable_records",
            "Records left out of lists since start because their sealed fields could not be opened",
            Clone::clone(&unreadable_records),
        );
        registry.register(
            "http_connections_open",
            "HTTP connections open now",
            Clone::clone(&http_connections_open),
        );
        registry.register(
            "http_connections_refused",
            "HTTP connections answered 503 and closed because a cap was reached (total, per_address)",
            Clone::clone(&http_connections_refused),
        );
        registry.register(
            "http_connections_cut",
            "HTTP connections closed for a slow or idle client (header_timeout, body_timeout, write_timeout)",
            Clone::clone(&http_connections_cut),
        );
        registry.register(
            "http_accept_errors",
            "Failed accepts of HTTP connections (the server waits before the next)",
            Clone::clone(&http_accept_errors),
        );
        registry.register(
            "reuse",
            "Kept answers (read-only tools) and kept plans, by whether one was given again or made afresh",
            Clone::clone(&reuse),
        );
        Self {
            registry,
            messages_received,
            replies_sent,
            gateway_outcomes,
            agent_replies,
            message_seconds,
            tool_seconds,
            llm_seconds,
            llm_calls,
            llm_tokens,
            rate_limited,
            duplicates_dropped,
            outbox_items,
            outbox_deliveries,
            errors,
            reuse,
            model_messages,
            model_seconds,
            http_connections_open,
            http_connections_refused,
            http_connections_cut,
            http_accept_errors,
            unreadable_records,
            http_responses,
            tickets_waiting,
            tickets,
            ticket_first_reply_seconds,
            agents: AgentStatus::new(chrono::Utc::now()),
        }
        .described_at_zero()
    }

    /// Every family with its usual label values at zero, so `/metrics` describes all of
    /// them (HELP and TYPE) from the start and dashboards and alerts (`rate(…[5m])`, a
    /// 5xx share) have a series to work on before any traffic.
    fn described_at_zero(self) -> Self {
        let label = |s: &str| s.to_owned();
        for platform in ["telegram", "slack", "discord"] {
            let p = platform_labels(platform);
            let _ = self.messages_received.get_or_create(&p);
            let _ = self.replies_sent.get_or_create(&p);
            let _ = self.rate_limited.get_or_create(&p);
            let _ = self.duplicates_dropped.get_or_create(&p);
            for outcome in ["answered", "duplicate", "failed", "rate_limited"] {
                let _ = self.gateway_outcomes.get_or_create(&OutcomeLabels {
                    platform: label(platform),
                    outcome: label(outcome),
                });
            }
        }
        for agent in ["support", "dashboard"] {
            let a = AgentLabels {
                agent: label(agent),
            };
            let _ = self.message_seconds.get_or_create(&a);
            let _ = self.tool_seconds.get_or_create(&a);
            let _ = self.llm_seconds.get_or_create(&a);
            let _ = self.llm_calls.get_or_create(&a);
            let _ = self.agent_replies.get_or_create(&AgentIntentLabels {
                agent: label(agent),
                intent: label("smalltalk"),
            });
        }
        let kinds = |family: &Family<KindLabels, Counter>, kinds: &[&str]| {
            for kind in kinds {
                let _ = family.get_or_create(&KindLabels { kind: label(kind) });
            }
        };
        kinds(&self.llm_tokens, &["prompt", "completion"]);
        kinds(&self.errors, &["store", "send", "outbox_store", "llm"]);
        kinds(&self.tickets, &["opened", "claimed", "closed"]);
        kinds(&self.http_connections_refused, &["total", "per_address"]);
        kinds(
            &self.http_connections_cut,
            &["header_timeout", "body_timeout", "write_timeout"],
        );
        for status in ["pending", "in_flight", "done", "dead"] {
            let _ = self.outbox_items.get_or_create(&StatusLabels {
                status: label(status),
            });
        }
        for class in ["2xx", "3xx", "4xx", "5xx"] {
            let _ = self.http_responses.get_or_create(&StatusLabels {
                status: label(class),
            });
        }
        for outcome in ["done", "retry", "dead"] {
            for kind in ["email", "sms", "chat", "confirm_order", "calendar"] {
                let _ = self.outbox_deliveries.get_or_create(&DeliveryLabels {
                    kind: label(kind),
                    outcome: label(outcome),
                });
            }
        }
        for kind in ["answer", "plan"] {
            for outcome in ["reused", "made"] {
                let _ = self.reuse.get_or_create(&ReuseLabels {
                    kind: label(kind),
                    outcome: label(outcome),
                });
            }
        }
        for outcome in ["decided", "undecided"] {
            let _ = self.model_messages.get_or_create(&DecisionLabels {
                outcome: label(outcome),
            });
        }
        self
    }

    /// Counts a REST API response by its status class.
    pub fn http_response(&self, status: u16) {
        let class = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_responses
            .get_or_create(&StatusLabels {
                status: class.to_owned(),
            })
            .inc();
    }

    /// The process's registry.
    #[must_use]
    pub fn global() -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<Metrics>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(|| Arc::new(Self::new())))
    }

    pub fn message_received(&self, platform: &str) {
        self.messages_received
            .get_or_create(&platform_labels(platform))
            .inc();
    }

    pub fn reply_sent(&self, platform: &str) {
        self.replies_sent
            .get_or_create(&platform_labels(platform))
            .inc();
    }

    pub fn gateway_outcome(&self, platform: &str, outcome: &str) {
        self.gateway_outcomes
            .get_or_create(&OutcomeLabels {
                platform: platform.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn rate_limit(&self, platform: &str) {
        self.rate_limited
            .get_or_create(&platform_labels(platform))
            .inc();
    }

    pub fn duplicate(&self, platform: &str) {
        self.duplicates_dropped
            .get_or_create(&platform_labels(platform))
            .inc();
    }

    /// An HTTP connection refused (`total` or `per_address` cap) or cut (`header_timeout`,
    /// `body_timeout`, `write_timeout`).
    pub fn http_connection_refused(&self, kind: &str) {
        self.http_connections_refused
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// A ticket `opened`, `claimed` or `closed`.
    pub fn ticket(&self, kind: &str) {
        self.tickets
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    pub fn http_connection_cut(&self, kind: &str) {
        self.http_connections_cut
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    pub fn error(&self, kind: &str) {
        self.errors
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    pub fn outbox_delivery(&self, kind: &str, outcome: &str) {
        self.outbox_deliveries
            .get_or_create(&DeliveryLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One agent turn: its intent, latency, tool and LLM time, LLM calls and tokens.
    /// A kept answer or plan given again (`reused`) or made afresh (`made`); `kind` is
    /// `answer` or `plan`.
    pub fn reuse(&self, kind: &str, reused: bool) {
        self.reuse
            .get_or_create(&ReuseLabels {
                kind: kind.to_owned(),
                outcome: if reused { "reused" } else { "made" }.to_owned(),
            })
            .inc();
    }

    /// How many kept answers or plans (`kind`) were given again (`reused`) or made.
    #[must_use]
    pub fn reuse_count(&self, kind: &str, reused: bool) -> u64 {
        self.reuse
            .get_or_create(&ReuseLabels {
                kind: kind.to_owned(),
                outcome: if reused { "reused" } else { "made" }.to_owned(),
            })
            .get()
    }

    /// A message the sentence model read, whether it decided, and its time.
    pub fn model_turn(&self, decided: bool, seconds: f64) {
        self.model_messages
            .get_or_create(&DecisionLabels {
                outcome: if decided { "decided" } else { "undecided" }.to_owned(),
            })
            .inc();
        self.model_seconds.observe(seconds);
    }

    pub fn agent_turn(&self, turn: &AgentTurn) {
        self.agents.record(turn);
        let agent = AgentLabels {
            agent: turn.agent.as_str().to_owned(),
        };
        self.agent_replies
            .get_or_create(&AgentIntentLabels {
                agent: turn.agent.as_str().to_owned(),
                intent: turn.intent.as_str().to_owned(),
            })
            .inc();
        self.message_seconds
            .get_or_create(&agent)
            .observe(turn.seconds);
        if turn.tool_calls > 0 {
            self.tool_seconds
                .get_or_create(&agent)
                .observe(turn.tool_seconds);
        }
        if turn.llm_calls > 0 {
            self.llm_seconds
                .get_or_create(&agent)
                .observe(turn.llm_seconds);
            self.llm_calls
                .get_or_create(&agent)
                .inc_by(u64::from(turn.llm_calls));
        }
        for (kind, n) in [
            ("prompt", turn.prompt_tokens),
            ("completion", turn.completion_tokens),
        ] {
            if n > 0 {
                self.llm_tokens
                    .get_or_create(&KindLabels {
                        kind: kind.to_owned(),
                    })
                    .inc_by(n);
            }
        }
    }

    /// Sets the outbox gauges to the counts `store.outbox_stats()` gave.
    pub fn set_outbox(&self, stats: &OutboxStats) {
        for (status, n) in [
            ("pending", stats.pending),
            ("in_flight", stats.in_flight),
            ("done", stats.done),
            ("dead", stats.dead),
        ] {
            self.outbox_items
                .get_or_create(&StatusLabels {
                    status: status.to_owned(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// What `GET /api/agents/status` shows: the agents' figures, each platform's
    /// message counters, and the outbox as read from the database.
    #[must_use]
    pub fn status_report(&self, outbox: OutboxFigures) -> StatusReport {
        let count = |family: &Family<PlatformLabels, Counter>, platform: &str| {
            family.get_or_create(&platform_labels(platform)).get()
        };
        let platforms = PLATFORMS
            .iter()
            .map(|&platform| PlatformFigures {
                platform: platform.to_owned(),
                received: count(&self.messages_received, platform),
                replied: count(&self.replies_sent, platform),
                duplicates: count(&self.duplicates_dropped, platform),
                rate_limited: count(&self.rate_limited, platform),
            })
            .filter(|p| p.received + p.replied > 0)
            .collect();
        self.agents.report(outbox, platforms)
    }

    /// The registry in the Prometheus text exposition format (0.0.4).
    ///
    /// # Errors
    /// Never in practice: writing to a `String` does not fail.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// A running server's counters, read back from its `/metrics` text (what `doctor` shows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSummary {
    /// Per platform: (messages received, replies sent).
    pub platforms: std::collections::BTreeMap<String, (u64, u64)>,
    /// Errors by kind.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Outbox items by status at the scrape.
    pub outbox: std::collections::BTreeMap<String, u64>,
}

impl LiveSummary {
    /// Reads the counters frontdesk exports out of a Prometheus text exposition;
    /// lines it does not know are skipped.
    #[must_use]
    pub fn parse(exposition: &str) -> Self {
        let mut out = Self::default();
        for line in exposition.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let value = value.max(0.0) as u64;
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let label = |key: &str| {
                labels
                    .trim_end_matches('}')
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.trim_matches('"').to_owned())
                    .unwrap_or_default()
            };
            match name {
                "frontdesk_messages_received_total" => {
                    out.platforms.entry(label("platform")).or_default().0 += value;
                }
                "frontdesk_replies_sent_total" => {
                    out.platforms.entry(label("platform")).or_default().1 += value;
                }
                "frontdesk_errors_total" => *out.errors.entry(label("kind")).or_default() += value,
                "frontdesk_outbox_items" => {
                    *out.outbox.entry(label("status")).or_default() += value
                }
                _ => {}
            }
        }
        out
    }
}

/// What [`Metrics::agent_turn`] counts.
#[derive(Debug, Clone, Copy)]
pub struct AgentTurn {
    pub agent: AgentKind,
    pub intent: Intent,
    /// A tool call of the turn failed.
    pub failed: bool,
    pub latency_ms: u64,
    pub seconds: f64,
    pub tool_calls: usize,
    pub tool_seconds: f64,
    pub llm_calls: u32,
    pub llm_seconds: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

fn platform_labels(platform: &str) -> PlatformLabels {
    PlatformLabels {
        platform: platform.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_described_before_anything_is_counted() {
        let text = Metrics::new().render().unwrap_or_default();
        let code = include_str!("metrics.rs")
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default();
        let registered = code.matches("registry.register(").count();
        let described = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(described, registered, "{text}");
        for series in [
            "frontdesk_http_responses_total{status=\"5xx\"} 0",
            "frontdesk_outbox_items{status=\"dead\"} 0",
            "frontdesk_errors_total{kind=\"store\"} 0",
            "frontdesk_gateway_outcomes_total{platform=\"slack\",outcome=\"failed\"} 0",
        ] {
            assert!(text.contains(series), "{series} missing in\n{text}");
        }
        let m = Metrics::new();
        m.http_response(503);
        m.http_response(201);
        let text = m.render().unwrap_or_default();
        assert!(text.contains("frontdesk_http_responses_total{status=\"5xx\"} 1"));
        assert!(text.contains("frontdesk_http_responses_total{status=\"2xx\"} 1"));
    }

    #[test]
    fn renders_prometheus_text_with_prefix_and_suffixes() {
        let m = Metrics::new();
        m.message_received("telegram");
        m.gateway_outcome("telegram", "answered");
        m.agent_turn(&AgentTurn {
            agent: AgentKind::Support,
            intent: Intent::CourseInfo,
            failed: false,
            latency_ms: 20,
            seconds: 0.02,
            tool_calls: 1,
            tool_seconds: 0.01,
            llm_calls: 2,
            llm_seconds: 0.5,
            prompt_tokens: 300,
            completion_tokens: 40,
        });
        m.set_outbox(&OutboxStats {
            pending: 3,
            in_flight: 1,
            done: 7,
            dead: 0,
        });
        let text = m.render().unwrap_or_default();
        for line in [
            "frontdesk_messages_received_total{platform=\"telegram\"} 1",
            "frontdesk_gateway_outcomes_total{platform=\"telegram\",outcome=\"answered\"} 1",
            "frontdesk_agent_replies_total{agent=\"support\",intent=\"course_info\"} 1",
            "frontdesk_llm_calls_total{agent=\"support\"} 2",
            "frontdesk_llm_tokens_total{kind=\"prompt\"} 300",
            "frontdesk_outbox_items{status=\"pending\"} 3",
            "frontdesk_message_seconds_count{agent=\"support\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn a_summary_reads_back_what_was_rendered() {
        let m = Metrics::new();
        for _ in 0..3 {
            m.message_received("slack");
        }
        m.reply_sent("slack");
        m.message_received("telegram");
        m.error("store");
        m.error("store");
        m.set_outbox(&OutboxStats {
            pending: 4,
            in_flight: 0,
            done: 9,
            dead: 1,
        });
        let summary = LiveSummary::parse(&m.render().unwrap_or_default());
        assert_eq!(summary.platforms.get("slack"), Some(&(3, 1)));
        assert_eq!(summary.platforms.get("telegram"), Some(&(1, 0)));
        assert_eq!(summary.errors.get("store"), Some(&2));
        assert_eq!(summary.outbox.get("dead"), Some(&1));
        assert_eq!(summary.outbox.get("pending"), Some(&4));
    }
}
