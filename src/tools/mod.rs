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
use crate::domain::{ObjectId, SharedClock};
use crate::store::{Store, StoreError};

pub use resolve::{match_course, or_list, CourseMatch};

/// What the caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Not linked to a client record yet: catalogue, classes and enquiries only.
    Guest,
    Client,
    Staff,
    Manager,
    Admin,
}

impl Role {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Client => "client",
            Self::Staff => "staff",
            Self::Manager => "manager",
            Self::Admin => "admin",
        }
    }

    /// A role by name (`guest`, `client`, `staff`, `manager`, `admin`), any case.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "guest" => Some(Self::Guest),
            "client" => Some(Self::Client),
            "staff" => Some(Self::Staff),
            "manager" => Some(Self::Manager),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Staff, managers and admins: people who work at the studio.
    #[must_use]
    pub fn is_staff(&self) -> bool {
        *self >= Self::Staff
    }
}

/// Who is asking, as established by the gateway or the API (never by the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// Set for clients: the only client record they may see.
    pub client_id: Option<ObjectId>,
    /// How to address them ("Priya", "staff").
    pub name: String,
}

impl Caller {
    #[must_use]
    pub fn staff() -> Self {
        Self {
            role: Role::Staff,
            client_id: None,
            name: "staff".into(),
        }
    }

    #[must_use]
    pub fn manager() -> Self {
        Self {
            role: Role::Manager,
            client_id: None,
            name: "manager".into(),
        }
    }

    #[must_use]
    pub fn client(id: ObjectId, name: impl Into<String>) -> Self {
        Self {
            role: Role::Client,
            client_id: Some(id),
            name: name.into(),
        }
    }

    #[must_use]
    pub fn guest() -> Self {
        Self {
            role: Role::Guest,
            client_id: None,
            name: "there".into(),
        }
    }
}

/// The two agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Support,
    Dashboard,
}

impl AgentKind {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::Dashboard => "dashboard",
        }
    }
}

impl std::str::FromStr for AgentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "support" => Ok(Self::Support),
            "dashboard" => Ok(Self::Dashboard),
            other => Err(format!("{other:?} is not an agent (support or dashboard)")),
        }
    }
}

/// Everything a tool may use: the database, the clock, the studio and the caller.
#[derive(Debug, Clone)]
pub struct ToolCtx {
    pub store: Store,
    pub clock: SharedClock,
    pub studio: StudioSettings,
    pub caller: Caller,
    /// Derived from the platform event id: the same message twice makes one order.
    pub idempotency_key: Option<String>,
}

/// Why a tool gave no result. Each is shown to the person asking (and to an LLM).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadArgs(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{question}")]
    Ambiguous {
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

impl ToolError {
    /// A short machine-readable kind, for logs, metrics and the LLM.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Forbidden(_) => "forbidden",
            Self::BadArgs(_) => "bad_args",
            Self::NotFound(_) => "not_found",
            Self::Ambiguous { .. } => "ambiguous",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Store(_) => "store",
        }
    }
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
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    const AGENT: AgentKind;
    type Args: DeserializeOwned + JsonSchema + Send;

    /// The tool only reads, and its answer depends only on its arguments, the caller's
    /// role and client, the clock's minute and the data: such answers are kept for a few
    /// seconds ([`answers`]).
    const ONLY_READS: bool = false;

    /// Whether a caller with this role may call the tool at all.
    fn allowed(role: Role) -> bool;

    fn call(
        ctx: &ToolCtx,
        args: Self::Args,
    ) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;
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
        Box::pin(async move {
            let args = if args.is_null() {
                serde_json::json!({})
            } else {
                args
            };
            let typed: T::Args = serde_json::from_value(args)
                .map_err(|e| ToolError::BadArgs(format!("arguments for {}: {e}", T::NAME)))?;
            T::call(ctx, typed).await
        })
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
}

fn forbidden_text(tool: &str, role: Role) -> String {
    match (tool, role) {
        ("record_payment", _) => "Only studio staff can record payments.".into(),
        (_, Role::Guest) => "I need to know who you are first: share your phone number (send /link for the button), or send /link followed by the email the studio has for you.".into(),
        _ => format!("That is not something I can do for a {} account.", role.as_str()),
    }
}
