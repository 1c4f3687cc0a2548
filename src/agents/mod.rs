//! The Support and Dashboard agents: take a question with the caller's identity, plan
//! with the rules, the LLM or both (hybrid), run the tools, remember the conversation,
//! and answer.
//!
//! **Invariant:** the agent never decides who the caller is; the [`Caller`] comes from
//! the gateway or the API. The planner only chooses tools and arguments, and the
//! registry checks the caller's role before every call.

pub mod eval;
pub mod llm;
pub mod memory;
mod plans;
pub mod rules;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::charts::{Chart, ChartSpec};
use crate::config::{LlmSettings, PlannerKind, StudioSettings};
use crate::domain::SharedClock;
use crate::store::Store;
use crate::telemetry::metrics::{AgentTurn, Metrics};
use crate::tools::{AgentKind, Caller, Registry, Role, ToolCtx, ToolError};

pub use llm::LlmPlanner;

/// The longest message the agents read.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// One question to an agent.
#[derive(Debug, Clone)]
pub struct AgentRequest {
    pub agent: AgentKind,
    pub caller: Caller,
    pub text: String,
    /// The conversation key (platform, channel, thread, user) for memory; `None` for
    /// one-off questions.
    pub conversation: Option<String>,
    /// The platform event id: the idempotency key of any write this message makes.
    pub event_id: Option<String>,
}

/// A turn of conversation to save in memory; see [`Agents::respond`].
#[must_use = "the turn is saved only by `save`"]
pub struct TurnToRemember<'a> {
    agents: &'a Agents,
    key: String,
    turn: memory::Turn,
}

impl TurnToRemember<'_> {
    /// Saves the turn; a failure is logged (the answer was given, a follow-up will ask
    /// again in full).
    pub async fn save(self) {
        let agents = self.agents;
        if let Err(e) = memory::remember(
            &agents.store,
            &self.key,
            self.turn,
            agents.clock.now(),
            agents.memory_ttl_hours,
        )
        .await
        {
            tracing::warn!(error = %e, "conversation memory not saved");
        }
    }
}

/// Who is asking, for the audit trail: a client by their id, anyone else by their
/// platform account (`slack:U0ASHA`) when the message came from a chat, else by role.
fn actor_for(
    req: &AgentRequest,
    agent: AgentKind,
    at: chrono::DateTime<chrono::Utc>,
) -> crate::store::Actor {
    // The conversation key is `platform:channel:thread:user`.
    let parts: Vec<&str> = req
        .conversation
        .as_deref()
        .unwrap_or("")
        .split(':')
        .collect();
    let platform = (parts.len() >= 4).then(|| parts[0].to_owned());
    let subject = match (&req.caller.client_id, &platform, parts.last()) {
        (Some(id), _, _) => id.to_hex(),
        (None, Some(p), Some(user)) => format!("{p}:{user}"),
        _ => req.caller.role.as_str().to_owned(),
    };
    crate::store::Actor::new(
        subject,
        req.caller.role.as_str(),
        platform,
        crate::store::Via::new("agent", agent.as_str()),
        at,
    )
}

/// One tool call made while answering.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolCallRecord {
    pub name: String,
    pub args: Value,
    /// Shared with the kept answer it may come from.
    pub result: Arc<Value>,
}

/// The answer, with how it was reached.
#[derive(Debug, Clone, Serialize)]
pub struct AgentReply {
    pub agent: AgentKind,
    pub intent: String,
    pub tool_calls: Vec<ToolCallRecord>,
    pub answer: String,
    pub llm_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: u64,
    /// Time spent in tools, in milliseconds.
    pub tool_ms: u64,
    /// Time spent waiting for the LLM, in milliseconds.
    pub llm_ms: u64,
    /// Which planner produced the answer: rules or llm.
    pub planner: &'static str,
    /// The chart of a trend or a breakdown (its PNG is not serialized here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
}

/// Both agents over one database.
#[derive(Debug, Clone)]
pub struct Agents {
    registry: Arc<Registry>,
    store: Store,
    clock: SharedClock,
    studio: StudioSettings,
    planner: PlannerKind,
    llm: Option<Arc<LlmPlanner>>,
    memory_ttl_hours: u32,
    metrics: Arc<Metrics>,
    /// `None`: every question is read afresh.
    plans: Option<Arc<plans::Plans>>,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Agents {
    #[must_use]
    pub fn new(
        store: Store,
        clock: SharedClock,
        studio: StudioSettings,
        llm_settings: &LlmSettings,
        memory_ttl_hours: u32,
    ) -> Self {
        let llm = match llm_settings.planner {
            PlannerKind::Rules => None,
            PlannerKind::Llm | PlannerKind::Hybrid => LlmPlanner::new(llm_settings).map(Arc::new),
        };
        Self {
            registry: Arc::new(Registry::new()),
            store,
            clock,
            studio,
            planner: llm_settings.planner,
            llm,
            memory_ttl_hours,
            metrics: Metrics::global(),
            plans: Some(Arc::default()),
        }
    }

    /// Agents that compute every answer afresh: no kept answers (see
    /// [`crate::tools::answers`]) and no kept plans (see [`plans`]).
    #[must_use]
    pub fn without_kept_answers(mut self) -> Self {
        self.registry = Arc::new(Registry::without_kept_answers());
        self.plans = None;
        self
    }

    /// Counts into `metrics` instead of the process's registry.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    #[must_use]
    pub fn planner(&self) -> PlannerKind {
        self.planner
    }

    /// Answers one question and saves the turn in conversation memory. Never fails:
    /// every problem becomes a clear answer.
    pub async fn handle(&self, req: AgentRequest) -> AgentReply {
        let (reply, turn) = self.respond(req).await;
        if let Some(turn) = turn {
            turn.save().await;
        }
        reply
    }

    /// [`Agents::handle`] but the turn is not saved yet: the caller saves it once the
    /// reply is on its way, so the reply does not wait for that write.
    #[tracing::instrument(name = "agent_turn", skip_all, fields(agent = req.agent.as_str(), role = req.caller.role.as_str(), intent))]
    pub async fn respond(&self, req: AgentRequest) -> (AgentReply, Option<TurnToRemember<'_>>) {
        let started = Instant::now();
        let (mut reply, times) = self.answer(&req).await;
        reply.latency_ms = millis(started.elapsed());
        reply.tool_ms = millis(times.tool);
        reply.llm_ms = millis(times.llm);
        tracing::Span::current().record("intent", reply.intent.as_str());
        self.metrics.agent_turn(&AgentTurn {
            agent: reply.agent.as_str(),
            intent: &reply.intent,
            seconds: started.elapsed().as_secs_f64(),
            tool_calls: reply.tool_calls.len(),
            tool_seconds: times.tool.as_secs_f64(),
            llm_calls: reply.llm_calls,
            llm_seconds: times.llm.as_secs_f64(),
            prompt_tokens: reply.prompt_tokens,
            completion_tokens: reply.completion_tokens,
        });
        self.metrics.agents.record(&reply);
        for call in &reply.tool_calls {
            if let Some(kind) = call.result.get("error").and_then(Value::as_str) {
                self.metrics
                    .error(&format!("tool_{}", tool_error_kind(kind)));
            }
        }
        let turn = req.conversation.map(|key| TurnToRemember {
            agents: self,
            key,
            turn: memory::Turn {
                user: req.text.chars().take(500).collect(),
                answer: reply.answer.chars().take(1000).collect(),
                intent: reply.intent.clone(),
                args: reply
                    .tool_calls
                    .first()
                    .map(|c| c.args.clone())
                    .unwrap_or(Value::Null),
            },
        });
        (reply, turn)
    }

    fn reply(agent: AgentKind, intent: &str, answer: String) -> AgentReply {
        AgentReply {
            agent,
            intent: intent.to_owned(),
            tool_calls: Vec::new(),
            answer,
            llm_calls: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0,
            tool_ms: 0,
            llm_ms: 0,
            planner: "rules",
            chart: None,
        }
    }

    /// The answer and the time it spent in tools and in the LLM.
    async fn answer(&self, req: &AgentRequest) -> (AgentReply, Times) {
        let mut times = Times::default();
        let reply = self.plan_and_run(req, &mut times).await;
        (reply, times)
    }

    async fn plan_and_run(&self, req: &AgentRequest, times: &mut Times) -> AgentReply {
        let agent = req.agent;
        let text = req.text.trim();
        if text.is_empty() {
            return Self::reply(
                agent,
                "smalltalk",
                format!(
                    "What can I help you with? {}",
                    rules::help_text(agent, req.caller.role)
                ),
            );
        }
        let length = text.chars().count();
        if length > MAX_MESSAGE_CHARS {
            return Self::reply(agent, "smalltalk", format!("That message is too long for me ({length} characters). Please send a shorter question, under {MAX_MESSAGE_CHARS} characters."));
        }
        if agent == AgentKind::Dashboard && req.caller.role < Role::Manager {
            return Self::reply(agent, "refused", "The dashboard's figures are for studio managers. I can help with classes, courses, your orders and payments instead.".into());
        }
        // The Dashboard only reads: through the read-only connection when there is one.
        // Support writes are audited in the caller's name.
        let store = match agent {
            AgentKind::Dashboard => self.store.reader(),
            AgentKind::Support => self.store.acting(actor_for(req, agent, self.clock.now())),
        };
        let ctx = ToolCtx {
            store,
            clock: self.clock.clone(),
            studio: self.studio.clone(),
            caller: req.caller.clone(),
            idempotency_key: req.event_id.clone(),
        };
        if self.planner == PlannerKind::Llm {
            let conversation = self.conversation(req).await;
            // Boxed: the model's loop is a large future most messages never run.
            return Box::pin(self.ask_llm(agent, &ctx, &conversation, text, times)).await;
        }
        let courses = match self.store.all_courses().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "catalogue not loaded");
                return Self::reply(agent, "smalltalk", ToolError::Store(e).to_string());
            }
        };
        let plan_ctx = rules::Context {
            agent,
            role: req.caller.role,
            courses: &courses,
            now: self.clock.now(),
            offset: self.studio.utc_offset,
        };
        let plan_for = plans::PlanFor {
            agent,
            role: req.caller.role,
            minute: plan_ctx.now.timestamp().div_euclid(60),
            courses: &courses,
        };
        let kept = self.plans.as_ref().and_then(|p| p.get(text, &plan_for));
        let (plan, conversation) = match kept {
            Some(plan) => {
                self.metrics.reuse("plan", true);
                (plan, memory::Conversation::default())
            }
            None => {
                let reading = rules::Reading::of(text, &plan_ctx);
                if reading.understood() {
                    // A question complete in itself needs no earlier turn: no memory
                    // read for it, and its plan holds for the same words.
                    let plan = reading.plan(&plan_ctx, None);
                    if let Some(plans) = &self.plans {
                        plans.keep(text, &plan_for, &plan);
                        self.metrics.reuse("plan", false);
                    }
                    (plan, memory::Conversation::default())
                } else {
                    let conversation = self.conversation(req).await;
                    let follow_up = conversation
                        .last_tool_turn()
                        .map(|t| (t.intent.as_str(), &t.args));
                    (reading.plan(&plan_ctx, follow_up), conversation)
                }
            }
        };
        match plan {
            rules::Plan::Call { tool, args } => {
                let started = Instant::now();
                let reply = self.call_tool(agent, &ctx, tool, args).await;
                times.tool += started.elapsed();
                reply
            }
            rules::Plan::Reply { intent, text } => Self::reply(agent, intent, text),
            rules::Plan::Unsure if self.llm.is_some() => {
                Box::pin(self.ask_llm(agent, &ctx, &conversation, text, times)).await
            }
            rules::Plan::Unsure => Self::reply(
                agent,
                "smalltalk",
                format!(
                    "I'm not sure I understood that. {}",
                    rules::help_text(agent, req.caller.role)
                ),
            ),
        }
    }

    /// The conversation's earlier turns; none when it has no key or cannot be read.
    async fn conversation(&self, req: &AgentRequest) -> memory::Conversation {
        let Some(key) = &req.conversation else {
            return memory::Conversation::default();
        };
        memory::load(&self.store, key).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "conversation memory not loaded");
            memory::Conversation::default()
        })
    }

    async fn call_tool(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        tool: &str,
        args: Value,
    ) -> AgentReply {
        let result = self.registry.call(agent, ctx, tool, args.clone()).await;
        let mut chart = None;
        let (intent, answer, data) = match result {
            Ok(out) => {
                if let Some(reused) = out.kept {
                    self.metrics.reuse("answer", reused);
                }
                chart = out.chart;
                (tool.to_owned(), out.text, out.data)
            }
            Err(ToolError::Forbidden(msg))
                if !self
                    .registry
                    .get(tool)
                    .is_some_and(|t| t.allowed(ctx.caller.role)) =>
            {
                (
                    "refused".to_owned(),
                    msg.clone(),
                    Arc::new(serde_json::json!({ "error": "forbidden", "message": msg })),
                )
            }
            Err(e) => (
                tool.to_owned(),
                e.to_string(),
                Arc::new(serde_json::json!({ "error": e.kind(), "message": e.to_string() })),
            ),
        };
        let mut reply = Self::reply(agent, &intent, answer);
        reply.tool_calls.push(ToolCallRecord {
            name: tool.to_owned(),
            args,
            result: data,
        });
        if let Some(spec) = chart {
            reply.chart = Box::pin(render_chart(spec)).await;
        }
        reply
    }

    async fn ask_llm(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        conversation: &memory::Conversation,
        text: &str,
        times: &mut Times,
    ) -> AgentReply {
        let Some(llm) = &self.llm else {
            return Self::reply(
                agent,
                "smalltalk",
                "The AI assistant is not configured (no OPENAI_API_KEY); ask me in simpler words."
                    .into(),
            );
        };
        let outcome = llm
            .run(agent, ctx, &self.registry, &conversation.turns, text)
            .await;
        times.tool += outcome.tool_time;
        times.llm += outcome.llm_time;
        for reused in &outcome.kept_answers {
            self.metrics.reuse("answer", *reused);
        }
        let chart = match outcome.chart {
            Some(spec) => render_chart(spec).await,
            None => None,
        };
        AgentReply {
            agent,
            intent: outcome.intent,
            tool_calls: outcome.tool_calls,
            answer: outcome.answer,
            llm_calls: outcome.llm_calls,
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
            latency_ms: 0,
            tool_ms: 0,
            llm_ms: 0,
            planner: "llm",
            chart,
        }
    }
}

/// Draws a tool's chart off the async threads. A chart that cannot be drawn is logged
/// and left out: the answer's text stands on its own.
async fn render_chart(spec: ChartSpec) -> Option<Chart> {
    match tokio::task::spawn_blocking(move || spec.render_cached()).await {
        Ok(Ok(chart)) => Some(chart),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "chart not drawn");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "chart drawing task failed");
            None
        }
    }
}

/// Where one turn's time went.
#[derive(Debug, Default, Clone, Copy)]
struct Times {
    tool: std::time::Duration,
    llm: std::time::Duration,
}

/// A tool result's error kind as a metric label: the known kinds, else "other".
fn tool_error_kind(kind: &str) -> &'static str {
    const KINDS: [&str; 9] = [
        "forbidden",
        "bad_args",
        "not_found",
        "ambiguous",
        "conflict",
        "unavailable",
        "store",
        "unknown_tool",
        "other",
    ];
    KINDS
        .iter()
        .copied()
        .find(|k| *k == kind)
        .unwrap_or("other")
}
