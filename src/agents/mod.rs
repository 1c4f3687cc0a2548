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
mod referents;
pub mod rules;
pub mod settle;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::charts::{Chart, ChartSpec};
use crate::config::{LlmSettings, PlannerKind, StudioSettings};
use crate::domain::Intent;
use crate::domain::SharedClock;
use crate::nlu::NluHandle;
use crate::store::Store;
use crate::telemetry::metrics::{AgentTurn, Metrics};
use crate::tools::{AgentKind, Caller, Registry, Role, ToolCtx, ToolError, ToolErrorKind};

pub use frontdesk_chat::ConversationKey;

pub use llm::LlmPlanner;

/// The longest message the agents read.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// One question to an agent.
#[derive(Debug, Clone)]
pub struct AgentRequest {
    pub agent: AgentKind,
    pub caller: Caller,
    pub text: String,
    /// The conversation (platform, channel, thread, user) for memory; `None` for
    /// one-off questions.
    pub conversation: Option<ConversationKey>,
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
            // Forgotten by the server's clock: counted from the real time.
            agents.clock.wall(),
            agents.memory_ttl_hours,
        )
        .await
        {
            tracing::warn!(error = %e, "conversation memory not saved");
        }
    }
}

/// Who is asking, for the audit trail: a client by their id, anyone else by the account
/// the request came from (`slack:U0ASHA`, `api:<token subject>`), else by role.
fn actor_for(
    req: &AgentRequest,
    agent: AgentKind,
    at: chrono::DateTime<chrono::Utc>,
) -> crate::store::Actor {
    let subject = match (&req.caller.client_id, &req.caller.account) {
        (Some(id), _) => id.to_hex(),
        (None, Some(account)) => account.to_string(),
        (None, None) => req.caller.role.as_str().to_owned(),
    };
    let platform = req
        .conversation
        .as_ref()
        .map(|c| c.platform.as_str().to_owned());
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
    /// Why the call gave no result, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ToolErrorKind>,
}

/// The answer, with how it was reached.
#[derive(Debug, Clone, Serialize)]
pub struct AgentReply {
    pub agent: AgentKind,
    /// The tool that answered, the write proposed for a "yes", or an answer without one.
    pub intent: Intent,
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
    /// A write proposed and waiting for a "yes", with the arguments it would run with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed: Option<Value>,
    /// What the answer leaves waiting for the next message (kept in memory).
    #[serde(skip)]
    pub pending: Option<memory::Pending>,
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
    /// The sentence model, asked when the rules are not sure.
    nlu: NluHandle,
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
            nlu: NluHandle::off(),
        }
    }

    /// Asks this sentence model when the rules are not sure (see [`crate::nlu`]).
    #[must_use]
    pub fn with_understanding(mut self, nlu: NluHandle) -> Self {
        self.nlu = nlu;
        self
    }

    /// The sentence model's state, for `doctor` and the status endpoint.
    #[must_use]
    pub fn understanding(&self) -> &NluHandle {
        &self.nlu
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
        let failed: Vec<ToolErrorKind> = reply.tool_calls.iter().filter_map(|c| c.error).collect();
        self.metrics.agent_turn(&AgentTurn {
            agent: reply.agent,
            intent: reply.intent,
            failed: !failed.is_empty(),
            latency_ms: reply.latency_ms,
            seconds: started.elapsed().as_secs_f64(),
            tool_calls: reply.tool_calls.len(),
            tool_seconds: times.tool.as_secs_f64(),
            llm_calls: reply.llm_calls,
            llm_seconds: times.llm.as_secs_f64(),
            prompt_tokens: reply.prompt_tokens,
            completion_tokens: reply.completion_tokens,
        });
        for kind in failed {
            self.metrics.error(&format!("tool_{}", kind.as_str()));
        }
        let turn = req.conversation.map(|key| TurnToRemember {
            agents: self,
            key: key.as_string(),
            turn: memory::Turn {
                user: req.text.chars().take(500).collect(),
                answer: reply.answer.chars().take(1000).collect(),
                intent: reply.intent,
                args: remembered_args(&reply),
                pending: reply.pending.clone(),
            },
        });
        // A question back or a proposal is saved before the reply goes: the answer to
        // it may come at once.
        if reply.pending.is_some() {
            if let Some(turn) = turn {
                turn.save().await;
            }
            return (reply, None);
        }
        (reply, turn)
    }

    fn reply(agent: AgentKind, intent: Intent, answer: String) -> AgentReply {
        AgentReply {
            agent,
            intent,
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
            proposed: None,
            pending: None,
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
                Intent::Smalltalk,
                format!(
                    "What can I help you with? {}",
                    rules::help_text(agent, req.caller.role)
                ),
            );
        }
        let length = text.chars().count();
        if length > MAX_MESSAGE_CHARS {
            return Self::reply(agent, Intent::Smalltalk, format!("That message is too long for me ({length} characters). Please send a shorter question, under {MAX_MESSAGE_CHARS} characters."));
        }
        if agent == AgentKind::Dashboard && req.caller.role < Role::Manager {
            return Self::reply(agent, Intent::Refused, "The dashboard's figures are for studio managers. I can help with classes, courses, your orders and payments instead.".into());
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
            conversation: req.conversation.clone(),
        };
        // `/human`: the hand-off asked for by command, whichever planner reads the rest.
        if let Some(reason) = rules::person_command(text) {
            return match agent {
                AgentKind::Support => {
                    let args = serde_json::json!({ "reason": reason });
                    let in_conversation = req.conversation.is_some();
                    let (intent, origin) = (Intent::EscalateToStaff, Origin::Message);
                    self.run_tool(agent, &ctx, intent, args, origin, in_conversation, times)
                        .await
                }
                AgentKind::Dashboard => Self::reply(agent, Intent::Smalltalk, "This chat answers the studio's figures; to reach a person, write to the studio in the support chat.".into()),
            };
        }
        if self.planner == PlannerKind::Llm {
            let conversation = self.conversation(req).await;
            // Boxed: the model's loop is a large future most messages never run.
            return Box::pin(self.ask_llm(agent, &ctx, &conversation, text, times)).await;
        }
        let courses = match self.store.all_courses().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "catalogue not loaded");
                return Self::reply(agent, Intent::Smalltalk, ToolError::Store(e).to_string());
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
        let (plan, conversation, origin) = match kept {
            Some(plan) => {
                self.metrics.reuse("plan", true);
                (plan, memory::Conversation::default(), Origin::Message)
            }
            None => {
                let reading = rules::Reading::of(text, &plan_ctx);
                if reading.understood()
                    && !settle::starts_like_a_reply(text)
                    && !reading.refers_back()
                {
                    // A question complete in itself needs no earlier turn: no memory
                    // read for it, and its plan holds for the same words. When the
                    // rules only lean to an intent, the sentence model may overrule them.
                    let (plan, origin) = self.decide(&reading, &plan_ctx, None, times).await;
                    if let (Some(plans), Origin::Message) = (&self.plans, &origin) {
                        plans.keep(text, &plan_for, &plan);
                        self.metrics.reuse("plan", false);
                    }
                    (plan, memory::Conversation::default(), origin)
                } else {
                    let conversation = self.conversation(req).await;
                    match self.settle(&conversation, text) {
                        Some(Settled::Reply(reply)) => {
                            return Self::reply(agent, Intent::Smalltalk, reply)
                        }
                        Some(Settled::Run {
                            intent,
                            args,
                            origin,
                        }) => (
                            rules::Plan::Call { tool: intent, args },
                            conversation,
                            origin,
                        ),
                        None if settle::is_yes(text) && !reading.understood() => {
                            return Self::reply(agent, Intent::Smalltalk, "There's nothing waiting for a yes right now. What can I do for you?".into());
                        }
                        None => {
                            let follow_up =
                                conversation.last_read_turn().map(|t| (t.intent, &t.args));
                            let (mut plan, mut origin) =
                                self.decide(&reading, &plan_ctx, follow_up, times).await;
                            if reading.refers_back() {
                                // "how much is it", "mark it as paid": what the message
                                // leans to, about what was said before.
                                if plan == rules::Plan::Unsure {
                                    if let Some((intent, args)) = reading.guess(&plan_ctx) {
                                        plan = rules::Plan::Call { tool: intent, args };
                                        if intent.is_write() {
                                            origin = Origin::Conversation;
                                        }
                                    }
                                }
                                plan = referents::fill(
                                    plan,
                                    conversation.last_tool_turn(),
                                    &mut origin,
                                );
                            }
                            (plan, conversation, origin)
                        }
                    }
                }
            }
        };
        match plan {
            rules::Plan::Call { tool, args } => {
                // An order or a payment the message only asks about is shown, not made
                // (a hand-off or an enquiry asked for in a question is what was wanted).
                let origin = if origin == Origin::Message
                    && matches!(tool, Intent::CreateOrder | Intent::RecordPayment)
                    && rules::asks_rather_than_tells(text)
                {
                    Origin::Question
                } else {
                    origin
                };
                let in_conversation = req.conversation.is_some();
                self.run_tool(agent, &ctx, tool, args, origin, in_conversation, times)
                    .await
            }
            rules::Plan::Reply { intent, text } => Self::reply(agent, intent, text),
            rules::Plan::Ask {
                intent,
                args,
                field,
                question,
                options,
            } => {
                let mut reply = Self::reply(agent, intent, question);
                reply.pending = Some(self.pending(
                    intent,
                    args,
                    memory::WaitingFor::Answer {
                        field: field.to_owned(),
                        options,
                    },
                ));
                reply
            }
            rules::Plan::Unsure if self.llm.is_some() => {
                Box::pin(self.ask_llm(agent, &ctx, &conversation, text, times)).await
            }
            rules::Plan::Unsure if !rules::reads_as_english(text) => Self::reply(
                agent,
                Intent::Smalltalk,
                format!(
                    "Sorry, I understand English and romanised Hindi (\"kal yoga class kitne baje hai?\"). {}",
                    rules::help_text(agent, req.caller.role)
                ),
            ),
            rules::Plan::Unsure => Self::unsure(agent, req.caller.role),
        }
    }

    /// The rules' plan, unless they only lean to an intent (or have none) and the
    /// sentence model is sure of another; a message nothing understood is read by its
    /// slots alone ([`rules::Reading::fallback`]).
    async fn decide(
        &self,
        reading: &rules::Reading<'_>,
        ctx: &rules::Context<'_>,
        follow_up: Option<(Intent, &Value)>,
        times: &mut Times,
    ) -> (rules::Plan, Origin) {
        let mut plan = reading.plan_before_model(ctx, follow_up);
        let mut origin = Origin::Message;
        let leaning = match reading.confidence() {
            rules::Confidence::Sure(_) => None,
            rules::Confidence::Leaning(intent) => Some(Some(intent)),
            // "and last month?" with nothing before it is no question to guess at.
            rules::Confidence::Unsure => {
                (plan == rules::Plan::Unsure && !reading.only_slots(ctx)).then_some(None)
            }
        };
        if let Some(leaning) = leaning {
            // Read among what this caller may ask: a client's message nearest a staff
            // tool is read as the nearest thing a client can ask.
            let verdict = self
                .model_verdict(reading.text(), ctx.agent, times)
                .await
                .map(|v| {
                    v.among(|label| match label {
                        crate::nlu::Label::Intent(i) if i.is_tool() => self
                            .registry
                            .get(i.as_str())
                            .is_some_and(|t| t.allowed(ctx.role)),
                        _ => true,
                    })
                });
            let chosen = match leaning {
                Some(rules_intent) => verdict
                    .and_then(|v| v.overrules())
                    .filter(|i| *i != rules_intent),
                None => verdict.and_then(|v| v.decided()),
            };
            if let Some(intent) = chosen {
                (plan, origin) = model_plan(reading, ctx, intent);
            }
        }
        if plan == rules::Plan::Unsure {
            plan = reading.fallback(ctx);
        }
        (plan, origin)
    }

    /// The sentence model's reading, when it is loaded; its time is counted.
    async fn model_verdict(
        &self,
        text: &str,
        agent: AgentKind,
        times: &mut Times,
    ) -> Option<crate::nlu::Verdict> {
        let nlu = self.nlu.ready()?;
        let started = Instant::now();
        let verdict = nlu.classify(text, agent).await;
        let elapsed = started.elapsed();
        times.model += elapsed;
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "sentence model failed");
                return None;
            }
        };
        let decided = verdict.decided();
        tracing::debug!(
            best = verdict.best.as_str(),
            score = verdict.score,
            margin = verdict.margin(),
            ?decided,
            "sentence model"
        );
        self.metrics
            .model_turn(decided.is_some(), elapsed.as_secs_f64());
        Some(verdict)
    }

    /// "Not sure", with what this agent can answer for this role.
    fn unsure(agent: AgentKind, role: Role) -> AgentReply {
        Self::reply(
            agent,
            Intent::Smalltalk,
            format!(
                "I'm not sure I understood that. {}",
                rules::help_text(agent, role)
            ),
        )
    }

    /// What the message settles of what the last turn left waiting: a "yes" runs the
    /// proposed write, a "no" drops it, an answer to a question back goes on with the
    /// request. `None`: nothing was waiting, or the message is something else (a new
    /// question is simply answered).
    fn settle(&self, conversation: &memory::Conversation, text: &str) -> Option<Settled> {
        let pending = conversation.pending(self.clock.now())?;
        match &pending.waiting_for {
            memory::WaitingFor::Confirmation if settle::is_yes(text) => Some(Settled::Run {
                intent: pending.intent,
                args: pending.args.clone(),
                origin: Origin::Confirmed(pending.id.clone()),
            }),
            memory::WaitingFor::Confirmation if settle::is_no(text) => Some(Settled::Reply(
                "OK, I haven't done it. Anything else?".into(),
            )),
            memory::WaitingFor::Confirmation => None,
            memory::WaitingFor::Answer { .. } if settle::is_no(text) => {
                Some(Settled::Reply("OK, I've left it. Anything else?".into()))
            }
            memory::WaitingFor::Answer { field, options } => {
                let value = settle::answer_for(field, options, text)?;
                let mut args = pending.args.as_object().cloned().unwrap_or_default();
                if pending.intent == Intent::FindClient {
                    // A client named another way replaces the first try.
                    for key in ["email", "phone", "order", "name"] {
                        args.remove(key);
                    }
                }
                args.insert(
                    referents::argument_for(pending.intent, field).to_owned(),
                    value,
                );
                Some(Settled::Run {
                    intent: pending.intent,
                    args: Value::Object(args),
                    origin: Origin::Answer,
                })
            }
        }
    }

    /// A request left waiting, forgotten after [`PENDING_MINUTES`].
    fn pending(
        &self,
        intent: Intent,
        args: Value,
        waiting_for: memory::WaitingFor,
    ) -> memory::Pending {
        memory::Pending {
            id: crate::domain::ObjectId::new().to_hex(),
            intent,
            args,
            waiting_for,
            expires_at: self.clock.now() + chrono::Duration::minutes(PENDING_MINUTES),
        }
    }

    /// Runs a planned tool. A write runs at once only when the message itself named
    /// every target exactly; otherwise it is proposed for a "yes", and a write that
    /// cannot be shown for a "yes" runs only when a message asked for it. A question the
    /// tool asks back (which client, which course, a missing detail) is left waiting.
    #[allow(clippy::too_many_arguments)]
    async fn run_tool(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        intent: Intent,
        args: Value,
        origin: Origin,
        in_conversation: bool,
        times: &mut Times,
    ) -> AgentReply {
        let started = Instant::now();
        let reply = self
            .tool_reply(agent, ctx, intent, args, origin, in_conversation)
            .await;
        times.tool += started.elapsed();
        reply
    }

    /// [`Agents::run_tool`] without its timing.
    async fn tool_reply(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        intent: Intent,
        args: Value,
        origin: Origin,
        in_conversation: bool,
    ) -> AgentReply {
        let mut ctx = std::borrow::Cow::Borrowed(ctx);
        if intent.is_write() {
            match &origin {
                Origin::Confirmed(id) => {
                    // Two "yes" to one proposal make one write.
                    ctx.to_mut().idempotency_key = Some(format!("confirm:{id}"));
                }
                Origin::Message
                | Origin::Answer
                | Origin::Conversation
                | Origin::Model
                | Origin::Question => {
                    match self
                        .registry
                        .preview(agent, &ctx, intent.as_str(), args.clone())
                        .await
                    {
                        Ok(Some(preview)) if origin != Origin::Message || !preview.exact => {
                            let asked = origin == Origin::Question;
                            return self.propose(agent, intent, preview, in_conversation, asked);
                        }
                        // A write with nothing to show for a "yes" (an enquiry, a
                        // hand-off) is made only when the message, or the one whose
                        // question it answers, asked for it.
                        // The sentence model chose it: asked before it is made.
                        Ok(None) if origin == Origin::Model => {
                            let preview = crate::tools::Preview {
                                summary: match intent {
                                    Intent::EscalateToStaff => {
                                        "Shall I pass this to a person at the studio".to_owned()
                                    }
                                    Intent::CreateEnquiry => {
                                        "Shall I leave this as an enquiry for the studio to answer"
                                            .to_owned()
                                    }
                                    other => format!("Shall I go ahead ({other})"),
                                },
                                args,
                                exact: false,
                            };
                            return self.propose(agent, intent, preview, in_conversation, false);
                        }
                        Ok(None) if origin == Origin::Conversation => {
                            return Self::unsure(agent, ctx.caller.role);
                        }
                        // Named exactly, or details of the asker's own: it runs as asked.
                        Ok(_) => {}
                        Err(e) => return self.tool_failed(agent, intent, args, &e),
                    }
                }
            }
        }
        self.call_tool(agent, &ctx, intent, args).await
    }

    /// A write resolved and shown for a "yes"; nothing is written.
    /// `asked`: the message was a question, so asking it again changes nothing.
    fn propose(
        &self,
        agent: AgentKind,
        intent: Intent,
        preview: crate::tools::Preview,
        in_conversation: bool,
        asked: bool,
    ) -> AgentReply {
        let ask = match intent {
            _ if in_conversation => "Reply *yes* to confirm or *no* to leave it.",
            _ if asked => "That was a question, so nothing was done: to go ahead, say it as a request (\"enrol me in Pilates\", \"record the payment for order #12345\").",
            Intent::CreateOrder => {
                "To go ahead, ask again naming the client by email and the course by its full name."
            }
            Intent::RecordPayment => "To go ahead, ask again naming the order by its number.",
            Intent::CancelOrder => {
                "A cancellation needs a *yes*: ask in a chat, or use POST /api/orders/{number}/cancel."
            }
            _ => "To go ahead, ask for it again in so many words.",
        };
        let mut reply = Self::reply(agent, intent, format!("{}? {ask}", preview.summary));
        reply.proposed = Some(preview.args.clone());
        if in_conversation {
            reply.pending =
                Some(self.pending(intent, preview.args, memory::WaitingFor::Confirmation));
        }
        reply
    }

    /// The conversation's earlier turns; none when it has no key or cannot be read.
    async fn conversation(&self, req: &AgentRequest) -> memory::Conversation {
        let Some(key) = &req.conversation else {
            return memory::Conversation::default();
        };
        memory::load(&self.store, &key.as_string())
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "conversation memory not loaded");
                memory::Conversation::default()
            })
    }

    async fn call_tool(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        intent: Intent,
        args: Value,
    ) -> AgentReply {
        let out = match self
            .registry
            .call(agent, ctx, intent.as_str(), args.clone())
            .await
        {
            Ok(out) => out,
            Err(e) => return self.tool_failed(agent, intent, args, &e),
        };
        if let Some(reused) = out.kept {
            self.metrics.reuse("answer", reused);
        }
        let mut reply = Self::reply(agent, intent, out.text);
        reply.tool_calls.push(ToolCallRecord {
            name: intent.as_str().to_owned(),
            args,
            result: out.data,
            error: None,
        });
        if let Some(spec) = out.chart {
            reply.chart = Box::pin(render_chart(spec)).await;
        }
        reply
    }

    /// The answer to a tool that gave no result: its error in plain words, and for a
    /// question back (which one? what is missing?) the request left waiting for the
    /// answer.
    fn tool_failed(
        &self,
        agent: AgentKind,
        intent: Intent,
        args: Value,
        e: &ToolError,
    ) -> AgentReply {
        let refused = matches!(e, ToolError::Forbidden(_));
        let mut reply = Self::reply(
            agent,
            if refused { Intent::Refused } else { intent },
            e.to_string(),
        );
        let waiting_for = match e {
            ToolError::Ambiguous { field, options, .. } => Some(memory::WaitingFor::Answer {
                field: (*field).to_owned(),
                options: options.clone(),
            }),
            ToolError::Missing { field, .. } => Some(memory::WaitingFor::Answer {
                field: (*field).to_owned(),
                options: Vec::new(),
            }),
            _ => None,
        };
        if let Some(waiting_for) = waiting_for {
            reply.pending = Some(self.pending(intent, args.clone(), waiting_for));
        }
        reply.tool_calls.push(ToolCallRecord {
            name: intent.as_str().to_owned(),
            args,
            result: Arc::new(e.as_data()),
            error: Some(e.kind()),
        });
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
                Intent::Smalltalk,
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
        if outcome.llm_failed {
            self.metrics.error("llm");
        }
        let chart = match outcome.chart {
            Some(spec) => render_chart(spec).await,
            None => None,
        };
        AgentReply {
            agent,
            intent: outcome.intent.parse().unwrap_or(Intent::Smalltalk),
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
            proposed: None,
            pending: None,
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
    model: std::time::Duration,
}

/// The plan for an intent the sentence model chose: a write it chose is only proposed.
fn model_plan(
    reading: &rules::Reading<'_>,
    ctx: &rules::Context<'_>,
    intent: Intent,
) -> (rules::Plan, Origin) {
    if intent == Intent::Smalltalk {
        let text = rules::help_text(ctx.agent, ctx.role);
        return (rules::Plan::Reply { intent, text }, Origin::Message);
    }
    let origin = if intent.is_write() {
        Origin::Model
    } else {
        Origin::Message
    };
    (reading.plan_as(ctx, intent), origin)
}

/// The arguments a turn is remembered by: the tool call's (or the proposal's), with the
/// order the answer made or showed, so that "its status" or "mark it as paid" can point
/// back at it.
fn remembered_args(reply: &AgentReply) -> Value {
    let call = reply.tool_calls.first();
    let mut args = call
        .map(|c| c.args.clone())
        .or_else(|| reply.proposed.clone())
        .unwrap_or(Value::Null);
    let shown = call
        .and_then(|c| c.result.get("order"))
        .and_then(|o| o.get("number"))
        .and_then(Value::as_str)
        .map(|n| n.trim_start_matches('#').to_owned());
    if let (Some(map), Some(number)) = (args.as_object_mut(), shown) {
        map.entry("order").or_insert(Value::from(number));
    }
    args
}

/// How long a question back or a proposal waits for its answer.
pub const PENDING_MINUTES: i64 = 10;

/// Where a planned request's targets came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The message itself.
    Message,
    /// The answer to a question back about a request the message before made.
    Answer,
    /// An earlier turn the message points back at ("her", "it"), or a request the
    /// message only leans to: never written without a "yes".
    Conversation,
    /// The sentence model's choice, not the rules': never written without a "yes",
    /// even when there is nothing to preview.
    Model,
    /// The message itself, asked as a question ("can I book a trial before enrolling?",
    /// "she paid for #12346, why is it still pending?"): a write it leads to is shown
    /// for a "yes", never made at once.
    Question,
    /// A "yes" to the proposal with this id.
    Confirmed(String),
}

/// What a message settled of what was waiting.
enum Settled {
    /// Go on with this request.
    Run {
        intent: Intent,
        args: Value,
        origin: Origin,
    },
    /// Answered with this (a "no").
    Reply(String),
}
