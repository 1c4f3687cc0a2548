//! The gateway between the chat adapters and the agents. For each [`Inbound`] message:
//! identity and role → route to an agent (or stay silent) → drop a repeat of an event
//! already handled → rate limit → account linking → the agent, with a typing indicator
//! when it takes a while → the reply, in the thread the question came from → the turn saved in conversation
//! memory (after the reply, so the user never waits for that write).
//!
//! **Invariant:** the caller's identity and role come from the platform account (config
//! and linked records), never from the message text. The platform event id is the
//! idempotency key of any write the message makes, so a retried event never doubles an
//! order even if it got past the dedupe mark.
//!
//! * [`settings`] — routes, people, platform roles, limits (the `[gateway]` config).
//! * [`identity`] — account → [`Caller`].
//! * [`routing`] — message → agent.
//! * [`limits`] — per-user and per-platform rate limits with a single "please wait".
//! * [`linking`] — `/start`, `/link EMAIL`, codes, shared contacts, `/unlink`.
//! * [`platforms`] — starts the adapters whose tokens are set.
//! * [`present`] — agent answer → [`Outbound`], with tables for lists of figures.

pub mod drain;
mod handoff;
pub mod identity;
pub mod limits;
pub mod linking;
pub mod platforms;
pub mod present;
pub mod routing;
pub use crate::config::gateway as settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use frontdesk_chat::{BoxFuture, DynChatAdapter, Inbound, InboundHandler, Outbound};
use tracing::Instrument;

pub use settings::{GatewaySettings, Person, RoleQuotas, Route};

use crate::agents::{AgentRequest, Agents};
use crate::domain::SharedClock;
use crate::domain::{AgentKind, Caller, Role};
use crate::integrations::email::EmailSender;
use crate::telemetry::metrics::Metrics;
use handoff::Handled;
use limits::{Admission, Limits};

/// How long an answer may take before the typing indicator is shown: an instant answer
/// needs none, and costs no call to the platform for it.
pub const TYPING_AFTER: Duration = Duration::from_millis(800);

/// How often the typing indicator is renewed while an agent works (platforms show it for
/// about 5–10 seconds).
const TYPING_EVERY: Duration = Duration::from_secs(4);

/// What the gateway did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not for the bot: an unrouted channel, or nothing to read.
    Ignored,
    /// The same platform event was handled before.
    Duplicate,
    /// Over a rate limit; `notified` when this message got the "please wait" reply.
    RateLimited { notified: bool },
    /// Part of linking the chat account to a client record.
    Linking,
    /// An agent answered.
    Answered { agent: AgentKind, intent: String },
    /// Part of a hand-off: relayed between the person and the staff thread.
    Relayed,
    /// Something failed; the user got an apology if it could be sent.
    Failed(String),
}

impl Outcome {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ignored => "ignored",
            Self::Duplicate => "duplicate",
            Self::RateLimited { .. } => "rate_limited",
            Self::Linking => "linking",
            Self::Answered { .. } => "answered",
            Self::Relayed => "relayed",
            Self::Failed(_) => "failed",
        }
    }
}

struct Inner {
    agents: Agents,
    settings: GatewaySettings,
    limits: Limits,
    mailer: Option<EmailSender>,
    studio_name: String,
    clock: SharedClock,
    handled: AtomicU64,
    drain: Arc<drain::Drain>,
}

/// The gateway; cheap to clone (one shared state).
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.inner.settings.routes.len())
            .field("people", &self.inner.settings.people.len())
            .finish_non_exhaustive()
    }
}

const DATABASE_DOWN: &str =
    "Sorry, I can't reach the studio's records right now. Please try again in a minute.";

impl Gateway {
    #[must_use]
    pub fn new(
        agents: Agents,
        settings: GatewaySettings,
        mailer: Option<EmailSender>,
        studio_name: impl Into<String>,
        clock: SharedClock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits: Limits::new(&settings),
                agents,
                settings,
                mailer,
                studio_name: studio_name.into(),
                clock,
                handled: AtomicU64::new(0),
                drain: Arc::default(),
            }),
            metrics: Metrics::global(),
        }
    }

    /// Stops taking messages and waits up to `grace` for those in flight to be answered
    /// (and their turns saved); whether all were.
    pub async fn close_and_wait(&self, grace: Duration) -> bool {
        self.inner.drain.close_and_wait(grace).await
    }

    /// Messages being handled now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.inner.drain.in_flight()
    }

    /// Counts into `metrics` instead of the process's registry (the agents count into
    /// the registry they were given).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Handles one message and sends any reply through `reply_via`. Never fails: every
    /// problem is logged and, where the user is waiting, answered with an apology.
    pub async fn handle(&self, inbound: Inbound, reply_via: Arc<dyn DynChatAdapter>) -> Outcome {
        // Counted in flight, after the conversation's earlier messages; none once closing.
        let Some(_ticket) = self.inner.drain.admit(&inbound).await else {
            return Outcome::Ignored;
        };
        let started = Instant::now();
        let platform = inbound.platform.as_str();
        self.metrics.message_received(platform);
        let span = tracing::info_span!(
            "message",
            platform = %inbound.platform,
            agent = tracing::field::Empty,
            role = tracing::field::Empty,
            intent = tracing::field::Empty,
            tools = tracing::field::Empty,
            llm_calls = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let outcome = self
            .process(&inbound, reply_via)
            .instrument(span.clone())
            .await;
        span.record("outcome", outcome.as_str());
        if let Outcome::Answered { intent, .. } = &outcome {
            span.record("intent", intent.as_str());
        }
        span.record(
            "latency_ms",
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        self.metrics.gateway_outcome(platform, outcome.as_str());
        match &outcome {
            Outcome::Duplicate => self.metrics.duplicate(platform),
            Outcome::RateLimited { .. } => self.metrics.rate_limit(platform),
            Outcome::Failed(_) => self.metrics.error("store"),
            _ => {}
        }
        if !matches!(outcome, Outcome::Ignored) {
            // One line per message with the span's fields; never the text or the sender.
            tracing::info!(parent: &span, "message handled");
        }
        if self.inner.handled.fetch_add(1, Ordering::Relaxed) % 1000 == 999 {
            self.inner.limits.forget_quiet_users();
        }
        outcome
    }

    async fn process(&self, inbound: &Inbound, reply_via: Arc<dyn DynChatAdapter>) -> Outcome {
        let inner = &self.inner;
        if inbound.text.trim().is_empty() && inbound.contact_phone.is_none() {
            return Outcome::Ignored;
        }
        let store = inner.agents.store();
        // A staff member answering in a ticket's thread: to the person who asked.
        match handoff::from_staff(&inner.settings, store, &inner.clock, inbound).await {
            Ok(Handled::NotHandoff) => {}
            Ok(handled) => return self.after_handoff(reply_via.as_ref(), handled).await,
            Err(e) => {
                return self
                    .fail(reply_via.as_ref(), inbound, DATABASE_DOWN, &e)
                    .await
            }
        }
        // A channel message needs a route before anything else: channels the bot does not
        // serve cost no database work and never get a reply, not even an apology.
        let explicit_route = inner.settings.route_for(
            inbound.platform,
            inbound.workspace.as_deref(),
            &inbound.channel,
        );
        let by_default = explicit_route.is_none() && !inbound.is_direct;
        if by_default && !inner.settings.default_agent.contains_key(&inbound.platform) {
            return Outcome::Ignored;
        }
        let mut caller = match identity::resolve_caller(&inner.settings, store, inbound).await {
            Ok(caller) => caller,
            Err(e) => {
                return self
                    .fail(reply_via.as_ref(), inbound, DATABASE_DOWN, &e)
                    .await
            }
        };
        if by_default {
            // A group chat nobody routed on purpose (a Telegram class group): others read
            // along, so nobody's personal data is shown there, whoever asks.
            caller = Caller {
                role: Role::Guest,
                client_id: None,
                name: caller.name,
                account: None,
            };
        }
        tracing::Span::current().record("role", caller.role.as_str());
        let Some(agent) = routing::agent_for(&inner.settings, inbound, caller.role) else {
            return Outcome::Ignored;
        };
        tracing::Span::current().record("agent", agent.as_str());
        let event_key = format!("{}:{}", inbound.platform, inbound.event_id);
        let now = inner.clock.now();
        // The mark expires by the database server's clock: counted from the real time.
        let keep = ChronoDuration::hours(i64::from(inner.settings.dedupe_hours));
        match store
            .claim_event(&event_key, inner.clock.wall(), keep)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Outcome::Duplicate,
            Err(e) => {
                return self
                    .fail(reply_via.as_ref(), inbound, DATABASE_DOWN, &e)
                    .await
            }
        }
        let account = identity::account_key(inbound);
        let mut admission = inner.limits.admit(inbound.platform, &account, caller.role);
        if admission == Admission::Allowed && inner.settings.shared_limits {
            admission = match self
                .shared_admission(inbound.platform, &account, caller.role)
                .await
            {
                Ok(admitted) => admitted,
                Err(e) => {
                    return self
                        .fail(reply_via.as_ref(), inbound, DATABASE_DOWN, &e)
                        .await
                }
            };
        }
        match admission {
            Admission::Allowed => {}
            Admission::Silent => return Outcome::RateLimited { notified: false },
            Admission::Notify { wait } => {
                let out = Outbound::reply(inbound, limits::wait_message(wait));
                self.send(reply_via.as_ref(), &out).await;
                return Outcome::RateLimited { notified: true };
            }
        }
        // The person of a live ticket: their words go to the staff thread.
        match handoff::from_client(
            &inner.settings,
            store,
            &inner.clock,
            inbound,
            &caller,
            &event_key,
        )
        .await
        {
            Ok(Handled::NotHandoff) => {}
            Ok(handled) => return self.after_handoff(reply_via.as_ref(), handled).await,
            Err(e) => {
                return self
                    .fail(reply_via.as_ref(), inbound, DATABASE_DOWN, &e)
                    .await
            }
        }
        let linking = linking::LinkingCtx {
            store,
            mailer: inner.mailer.as_ref(),
            studio_name: &inner.studio_name,
            now,
            wall: inner.clock.wall(),
            code_minutes: inner.settings.link_code_minutes,
        };
        match linking::handle(&linking, inbound, &caller).await {
            Ok(Some(out)) => {
                self.send(reply_via.as_ref(), &out).await;
                return Outcome::Linking;
            }
            Ok(None) => {}
            Err(e) => {
                return self
                    .fail(reply_via.as_ref(), inbound, DATABASE_DOWN, &e)
                    .await
            }
        }
        if inbound.text.trim().is_empty() {
            // A contact shared where it links nothing (a group, a staff member).
            return Outcome::Ignored;
        }
        self.answer(inbound, agent, caller, event_key, reply_via)
            .await
    }

    async fn answer(
        &self,
        inbound: &Inbound,
        agent: AgentKind,
        caller: Caller,
        event_key: String,
        reply_via: Arc<dyn DynChatAdapter>,
    ) -> Outcome {
        let account = crate::domain::Account::new(inbound.platform.as_str(), &inbound.user);
        let respond = self.inner.agents.respond(AgentRequest {
            agent,
            caller: caller.with_account(account),
            text: inbound.text.clone(),
            conversation: Some(inbound.conversation_key()),
            event_id: Some(event_key),
        });
        // The answer and the typing indicator in one task: the indicator stops the
        // moment the answer is ready.
        let (reply, turn) = tokio::select! {
            biased;
            answered = respond => answered,
            never = keep_typing(reply_via.as_ref(), &inbound.channel) => match never {},
        };
        let span = tracing::Span::current();
        let tools: Vec<&str> = reply.tool_calls.iter().map(|c| c.name.as_str()).collect();
        span.record("tools", tools.join(",").as_str());
        span.record("llm_calls", reply.llm_calls);
        let out = present::reply_to(inbound, &reply);
        self.send(reply_via.as_ref(), &out).await;
        // Remembered once the reply is out: the user does not wait for that write.
        if let Some(turn) = turn {
            turn.save().await;
        }
        Outcome::Answered {
            agent,
            intent: reply.intent.as_str().to_owned(),
        }
    }
}

/// Shows the typing indicator in `channel` once the answer has taken [`TYPING_AFTER`],
/// then renews it every [`TYPING_EVERY`]; never ends (dropped with the answer ready).
async fn keep_typing(adapter: &dyn DynChatAdapter, channel: &str) -> std::convert::Infallible {
    tokio::time::sleep(TYPING_AFTER).await;
    loop {
        if let Err(e) = adapter.dyn_typing(channel).await {
            tracing::debug!(error = %e, "typing indicator not shown");
        }
        tokio::time::sleep(TYPING_EVERY).await;
    }
}

impl Gateway {
    /// The outcome of a hand-off message, with its reply (if any) sent.
    async fn after_handoff(&self, adapter: &dyn DynChatAdapter, handled: Handled) -> Outcome {
        match handled {
            Handled::Relayed { reply } => {
                if let Some(out) = reply {
                    self.send(adapter, &out).await;
                }
                Outcome::Relayed
            }
            Handled::Duplicate => Outcome::Duplicate,
            Handled::Ignored | Handled::NotHandoff => Outcome::Ignored,
        }
    }

    async fn send(&self, adapter: &dyn DynChatAdapter, out: &Outbound) {
        let platform = adapter.dyn_platform();
        match adapter.dyn_send(out).await {
            Ok(()) => self.metrics.reply_sent(platform.as_str()),
            Err(e) => {
                self.metrics.error("send");
                tracing::warn!(platform = %platform, error = %e, "reply not delivered");
            }
        }
    }

    /// The quotas counted across every instance (`[server] shared_limits`): the user's
    /// per role, and the platform's when it has one.
    async fn shared_admission(
        &self,
        platform: frontdesk_chat::Platform,
        account: &str,
        role: Role,
    ) -> Result<Admission, crate::store::StoreError> {
        const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);
        let inner = &self.inner;
        let now = inner.clock.wall();
        let (per_user, per_platform) = inner.limits.quotas(platform, role);
        let store = inner.agents.store();
        let user = store
            .count_in_window(&format!("chat:{}:{account}", role.as_str()), MINUTE, now)
            .await?;
        if user.count > u64::from(per_user) {
            return Ok(inner.limits.tell_once(account, user.resets_in));
        }
        if let Some(quota) = per_platform {
            let all = store
                .count_in_window(&format!("chat-platform:{platform}"), MINUTE, now)
                .await?;
            if all.count > u64::from(quota) {
                return Ok(inner.limits.tell_once(account, all.resets_in));
            }
        }
        Ok(Admission::Allowed)
    }

    async fn fail(
        &self,
        adapter: &dyn DynChatAdapter,
        inbound: &Inbound,
        apology: &str,
        error: &(dyn std::fmt::Display + Sync),
    ) -> Outcome {
        let error = error.to_string();
        // An error may quote what was typed (an email, a number): masked in the log.
        tracing::error!(error = %crate::protect::mask::text(&error), "message not handled");
        self.send(adapter, &Outbound::reply(inbound, apology)).await;
        Outcome::Failed(error)
    }
}

impl InboundHandler for Gateway {
    fn handle(
        &self,
        inbound: Inbound,
        reply_via: Arc<dyn DynChatAdapter>,
    ) -> BoxFuture<'static, ()> {
        let gateway = self.clone();
        Box::pin(async move {
            gateway.handle(inbound, reply_via).await;
        })
    }
}
