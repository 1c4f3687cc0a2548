//! The tools agents call: typed arguments (serde + a JSON schema from schemars), a role
//! check before every call, and results that are data (the answer text is made from
//! them).
//!
//! **Invariant:** a tool runs with the caller's identity and role from [`ToolCtx`], never
//! with anything the message text or an LLM says. A client only ever sees their own
//! orders, payments and profile; guests see the catalogue and can make an enquiry.

pub mod answers;
mod dashboard;
pub mod figures;
mod resolve;
mod support;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::charts::ChartSpec;
use crate::config::StudioSettings;
use crate::domain::SharedClock;
use crate::store::{Store, StoreError};

pub use crate::domain::{AgentKind, Caller, Intent, Role};
pub use resolve::{course_filter, match_course, or_list, CourseMatch, CourseSelection};

/// Everything a tool may use: the database, the clock, the studio and the caller.
#[derive(Debug, Clone)]
pub struct ToolCtx {
    pub store: Store,
    pub clock: SharedClock,
    pub studio: StudioSettings,
    pub caller: Caller,
    /// Derived from the platform event id: the same message twice makes one order.
    pub idempotency_key: Option<String>,
    /// The chat the message came from (`None` over REST): where a hand-off answers.
    pub conversation: Option<frontdesk_chat::ConversationKey>,
}

/// Why a tool gave no result. Each is shown to the person asking (and to an LLM).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadArgs(String),
    /// An argument the tool needs was not given: `question` asks for it in plain words.
    #[error("{question}")]
    Missing {
        field: &'static str,
        question: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// Several records fit what was typed for `field`: `question` asks which.
    #[error("{question}")]
    Ambiguous {
        field: &'static str,
        question: String,
        options: Vec<String>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the database is not answering right now; please try again in a moment")]
    Store(#[source] StoreError),
}

/// The kind of a [`ToolError`], for logs, metrics, memory and the LLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolErrorKind {
    Forbidden,
    BadArgs,
    Missing,
    NotFound,
    Ambiguous,
    Conflict,
    Unavailable,
    Store,
}

impl ToolErrorKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Forbidden => "forbidden",
            Self::BadArgs => "bad_args",
            Self::Missing => "missing",
            Self::NotFound => "not_found",
            Self::Ambiguous => "ambiguous",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Store => "store",
        }
    }
}

impl ToolError {
    #[must_use]
    pub fn kind(&self) -> ToolErrorKind {
        match self {
            Self::Forbidden(_) => ToolErrorKind::Forbidden,
            Self::BadArgs(_) => ToolErrorKind::BadArgs,
            Self::Missing { .. } => ToolErrorKind::Missing,
            Self::NotFound(_) => ToolErrorKind::NotFound,
            Self::Ambiguous { .. } => ToolErrorKind::Ambiguous,
            Self::Conflict(_) => ToolErrorKind::Conflict,
            Self::Unavailable(_) => ToolErrorKind::Unavailable,
            Self::Store(_) => ToolErrorKind::Store,
        }
    }

    /// The error as data, for an LLM and the `result` of a tool call record.
    #[must_use]
    pub fn as_data(&self) -> serde_json::Value {
        match self {
            Self::Ambiguous { field, options, .. } => serde_json::json!({
                "error": self.kind(), "message": self.to_string(), "field": field,
                "options": options,
            }),
            Self::Missing { field, .. } => serde_json::json!({
                "error": self.kind(), "message": self.to_string(), "field": field,
            }),
            _ => serde_json::json!({ "error": self.kind(), "message": self.to_string() }),
        }
    }
}

/// Arguments that did not fit a tool's types, said in plain words: a missing argument is
/// asked for ([`Tool::ask_for`]); anything else names what could not be used.
fn readable_args_error(
    e: &serde_json::Error,
    tool: &'static str,
    ask_for: fn(&str) -> Option<(&'static str, String)>,
) -> ToolError {
    let message = e.to_string();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        if let Some((field, question)) = ask_for(field) {
            return ToolError::Missing { field, question };
        }
    }
    // A value outside a closed list ("order": "smallest"): name the choices.
    if let Some((given, expected)) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split_once("`, expected "))
    {
        tracing::debug!(tool, error = %message, "tool arguments did not fit");
        let choices = expected
            .split(" at line ")
            .next()
            .unwrap_or(expected)
            .trim_start_matches("one of ")
            .replace('`', "\"");
        return ToolError::BadArgs(format!(
            "\"{}\" is not one of the choices here: {choices}.",
            resolve::clip(given)
        ));
    }
    let field = message
        .split('`')
        .nth(1)
        .filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|f| format!(" (the {})", f.replace('_', " ")))
        .unwrap_or_default();
    tracing::debug!(tool, error = %message, "tool arguments did not fit");
    ToolError::BadArgs(format!(
        "I couldn't use some of the details given{field}; could you say it another way?"
    ))
}

impl From<StoreError> for ToolError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, key } => Self::NotFound(format!("no {what} {key}")),
            StoreError::Invalid(d) => Self::BadArgs(d.to_string()),
            StoreError::Duplicate { what, value } => {
                Self::Conflict(format!("{what} {value} already exists"))
            }
            StoreError::Conflict(m) => Self::Conflict(m),
            other => {
                tracing::error!(error = %other, "store error in a tool");
                Self::Store(other)
            }
        }
    }
}

/// What a tool returns: the result as data, the answer text made from it, and for a
/// trend or a breakdown the chart to draw (rendered by the agents, never sent to an LLM).
#[derive(Debug, Clone, Serialize)]
pub struct ToolOutput {
    /// Shared: a kept answer ([`answers`]) is handed out again without a copy.
    pub data: std::sync::Arc<serde_json::Value>,
    pub text: String,
    #[serde(skip)]
    pub chart: Option<ChartSpec>,
    /// Given again from the kept answers; `None` for a tool whose answers are not kept.
    #[serde(skip)]
    pub kept: Option<bool>,
}

impl ToolOutput {
    /// # Errors
    /// The data does not serialize (never for our result types).
    pub fn new(data: &impl Serialize, text: String) -> Result<Self, ToolError> {
        let data = serde_json::to_value(data).map_err(|e| ToolError::BadArgs(e.to_string()))?;
        Ok(Self {
            data: std::sync::Arc::new(data),
            text,
            chart: None,
            kept: None,
        })
    }

    /// Adds a chart, or nothing for `None`.
    #[must_use]
    pub fn with_chart(mut self, chart: Option<ChartSpec>) -> Self {
        self.chart = chart;
        self
    }
}

/// A typed tool.
pub trait Tool: Send + Sync + 'static {
    /// What the tool answers; its name is the tool's name.
    const INTENT: Intent;
    const NAME: &'static str = Self::INTENT.as_str();
    const DESCRIPTION: &'static str;
    /// The agent whose tool it is: the intent's.
    const AGENT: AgentKind = match Self::INTENT.agent() {
        Some(agent) => agent,
        None => panic!("a tool's intent belongs to an agent"),
    };
    type Args: DeserializeOwned + JsonSchema + Send + Sync;

    /// The tool only reads, and its answer depends only on its arguments, the caller's
    /// role and client, the clock's minute and the data: such answers are kept for a few
    /// seconds ([`answers`]).
    const ONLY_READS: bool = false;

    /// The least role that may call the tool.
    const MIN_ROLE: Role;

    /// Whether a caller with this role may call the tool at all: [`Self::MIN_ROLE`] or
    /// above, unless a tool's rule is not a minimum.
    fn allowed(role: Role) -> bool {
        role >= Self::MIN_ROLE
    }

    /// The question that asks for a missing argument, with the argument's name; `None`
    /// for arguments that are never missing.
    fn ask_for(field: &str) -> Option<(&'static str, String)> {
        let _ = field;
        None
    }

    fn call(
        ctx: &ToolCtx,
        args: Self::Args,
    ) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;

    /// For a write: what it would do, resolved but not done, so the agent can ask for a
    /// "yes" first. `None`: the tool has nothing to show before it runs.
    fn preview(
        ctx: &ToolCtx,
        args: &Self::Args,
    ) -> impl Future<Output = Result<Option<Preview>, ToolError>> + Send {
        let _ = (ctx, args);
        std::future::ready(Ok(None))
    }
}

/// A write resolved but not done: what to ask the person to confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// "Enrol Priya Sharma (priya@example.com) in Pilates, ₹4,500.00, payment pending".
    pub summary: String,
    /// The arguments as resolved (an email for a client, a catalogue name for a course):
    /// what runs on "yes", whatever the catalogue or the client list says by then.
    pub args: serde_json::Value,
    /// Every target was named exactly (an email, a full name, a course's own name), so
    /// the write may run without asking.
    pub exact: bool,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A tool with its types erased, so the registry can hold them all.
pub trait ToolDyn: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn agent(&self) -> AgentKind;
    fn allowed(&self, role: Role) -> bool;
    fn only_reads(&self) -> bool;
    /// The JSON schema of the arguments, for an LLM.
    fn parameters(&self) -> serde_json::Value;
    fn call_json<'a>(
        &'a self,
        ctx: &'a ToolCtx,
        args: serde_json::Value,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;
    fn preview_json<'a>(
        &'a self,
        ctx: &'a ToolCtx,
        args: serde_json::Value,
    ) -> BoxFuture<'a, Result<Option<Preview>, ToolError>>;
}

/// Arguments as the tool's type, with a readable error.
fn typed_args<T: Tool>(args: serde_json::Value) -> Result<T::Args, ToolError> {
    let args = if args.is_null() {
        serde_json::json!({})
    } else {
        args
    };
    serde_json::from_value(args).map_err(|e| readable_args_error(&e, T::NAME, T::ask_for))
}

struct Erased<T>(PhantomData<fn() -> T>);

impl<T: Tool> ToolDyn for Erased<T> {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn description(&self) -> &'static str {
        T::DESCRIPTION
    }
    fn agent(&self) -> AgentKind {
        T::AGENT
    }
    fn allowed(&self, role: Role) -> bool {
        T::allowed(role)
    }
    fn only_reads(&self) -> bool {
        T::ONLY_READS
    }
    fn parameters(&self) -> serde_json::Value {
        let schema = schemars::gen::SchemaSettings::openapi3()
            .with(|s| s.inline_subschemas = true)
            .into_generator()
            .into_root_schema_for::<T::Args>();
        let mut value = serde_json::to_value(schema).unwrap_or_default();
        if let Some(obj) = value.as_object_mut() {
            obj.remove("$schema");
            obj.remove("title");
            obj.remove("definitions");
        }
        value
    }
    fn call_json<'a>(
        &'a self,
        ctx: &'a ToolCtx,
        args: serde_json::Value,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        Box::pin(async move { T::call(ctx, typed_args::<T>(args)?).await })
    }
    fn preview_json<'a>(
        &'a self,
        ctx: &'a ToolCtx,
        args: serde_json::Value,
    ) -> BoxFuture<'a, Result<Option<Preview>, ToolError>> {
        Box::pin(async move { T::preview(ctx, &typed_args::<T>(args)?).await })
    }
}

/// Every tool, built once at start-up; immutable afterwards.
pub struct Registry {
    tools: Vec<Box<dyn ToolDyn>>,
    /// `None` when every answer is computed afresh.
    answers: Option<answers::Answers>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|t| t.name()))
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

fn erased<T: Tool>() -> Box<dyn ToolDyn> {
    Box::new(Erased::<T>(PhantomData))
}

impl Registry {
    #[must_use]
    pub fn new() -> Self {
        let mut tools = support::all();
        tools.extend(dashboard::all());
        Self {
            tools,
            answers: Some(answers::Answers::default()),
        }
    }

    /// A registry that computes every answer afresh (the benchmark's comparison).
    #[must_use]
    pub fn without_kept_answers() -> Self {
        Self {
            answers: None,
            ..Self::new()
        }
    }

    /// The answers kept now, if any are.
    #[must_use]
    pub fn kept_answers(&self) -> usize {
        self.answers.as_ref().map_or(0, answers::Answers::len)
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&dyn ToolDyn> {
        self.tools
            .iter()
            .find(|t| t.name() == name)
            .map(AsRef::as_ref)
    }

    /// The tools of one agent that a role may call, in a stable order.
    pub fn available(&self, agent: AgentKind, role: Role) -> impl Iterator<Item = &dyn ToolDyn> {
        self.tools
            .iter()
            .filter(move |t| t.agent() == agent && t.allowed(role))
            .map(AsRef::as_ref)
    }

    /// Calls a tool by name after checking it belongs to the agent and the caller's role
    /// may use it.
    ///
    /// # Errors
    /// An unknown tool, a tool of the other agent, a role that may not call it, bad
    /// arguments, or the tool's own error.
    pub async fn call(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        name: &str,
        args: serde_json::Value,
    ) -> Result<ToolOutput, ToolError> {
        let (tool, ctx) = self.checked(agent, ctx, name)?;
        let kept = self
            .answers
            .as_ref()
            .filter(|_| tool.only_reads())
            .map(|answers| (answers, answers::AnswerKey::new(&ctx, tool.name(), &args)));
        let Some((answers, key)) = kept else {
            return tool.call_json(&ctx, args).await;
        };
        let reused = |output: ToolOutput| ToolOutput {
            kept: Some(true),
            ..output
        };
        if let Some(output) = answers.get(&key, &ctx.store) {
            tracing::debug!(tool = tool.name(), "answer kept from a moment ago");
            return Ok(reused(output));
        }
        let turn = answers.turn(&key);
        let _computing = turn.wait().await;
        if let Some(output) = answers.get(&key, &ctx.store) {
            return Ok(reused(output));
        }
        let generation = ctx.store.data_generation();
        let output = tool.call_json(&ctx, args).await?;
        answers.keep(key, generation, &ctx.store, &output);
        Ok(ToolOutput {
            kept: Some(false),
            ..output
        })
    }

    /// What a write would do, after the same checks as [`Registry::call`]; nothing is
    /// written.
    ///
    /// # Errors
    /// As [`Registry::call`].
    pub async fn preview(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        name: &str,
        args: serde_json::Value,
    ) -> Result<Option<Preview>, ToolError> {
        let (tool, ctx) = self.checked(agent, ctx, name)?;
        tool.preview_json(&ctx, args).await
    }

    /// The tool, once it is known to belong to the agent and the caller may use it, and
    /// the context its writes are audited under.
    fn checked(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        name: &str,
    ) -> Result<(&dyn ToolDyn, ToolCtx), ToolError> {
        let tool = self
            .get(name)
            .filter(|t| t.agent() == agent)
            .ok_or_else(|| {
                ToolError::BadArgs(format!(
                    "there is no tool called {name:?} for the {} agent",
                    agent.as_str()
                ))
            })?;
        if !tool.allowed(ctx.caller.role) {
            return Err(ToolError::Forbidden(forbidden_text(
                tool.name(),
                ctx.caller.role,
            )));
        }
        // Writes are audited as this tool's, in the name of whoever the agent named (or
        // the caller's role when the registry is called directly).
        let via = crate::store::Via::new("tool", tool.name());
        let actor = match ctx.store.actor() {
            Some(a) => a.clone().via(via),
            None => crate::store::Actor::new(
                ctx.caller
                    .client_id
                    .map_or_else(|| ctx.caller.role.as_str().to_owned(), |id| id.to_hex()),
                ctx.caller.role.as_str(),
                None,
                via,
                ctx.clock.now(),
            ),
        };
        let ctx = ToolCtx {
            store: ctx.store.acting(actor),
            ..ctx.clone()
        };
        Ok((tool, ctx))
    }
}

fn forbidden_text(tool: &str, role: Role) -> String {
    match (tool, role) {
        ("record_payment", _) => "Only studio staff can record payments.".into(),
        ("cancel_order", _) => "Only studio staff can cancel orders. If you'd like one of yours cancelled, I can pass the request to the studio team.".into(),
        (_, Role::Guest) => "I need to know who you are first: share your phone number (send /link for the button), or send /link followed by the email the studio has for you.".into(),
        _ => format!("That is not something I can do for a {} account.", role.as_str()),
    }
}
