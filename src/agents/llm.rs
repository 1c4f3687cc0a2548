//! The LLM planner: an OpenAI-compatible function-calling loop (async-openai; any base
//! URL: OpenAI, Azure, Ollama, vLLM) over the agent's own tools.
//!
//! The model only chooses tools and arguments: every call goes through
//! [`Registry::call`], which runs with the caller's identity from [`ToolCtx`] and checks
//! their role. Nothing the model says changes who the caller is.

use std::sync::Arc;
use std::time::Duration;

use async_openai::config::{OpenAIConfig, OPENAI_API_BASE};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestToolMessageContent,
    ChatCompletionRequestUserMessage, ChatCompletionRequestUserMessageContent, ChatCompletionTool,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CreateChatCompletionRequest,
    CreateChatCompletionResponse, FunctionObject, ToolChoiceOptions,
};
use async_openai::Client;
use serde_json::{json, Value};
use tracing::field::Empty;
use tracing::Instrument;

use crate::config::{LlmSettings, PlannerKind};
use crate::tools::ToolErrorKind;
use crate::tools::{AgentKind, Registry, Role, ToolCtx};

use super::memory::{Turn, KEPT_TURNS};
use super::ToolCallRecord;

/// The most characters of one tool result sent back to the model.
const MAX_TOOL_CONTENT_CHARS: usize = 8_000;
/// A tool's structured result goes back to the model beside its text only when it is
/// this small; otherwise the text alone, which says the same in fewer tokens.
const SMALL_RESULT_CHARS: usize = 800;
/// A tool text longer than this (a list of classes, every pending payment) is the
/// answer as it stands: asking the model to rephrase it would cost a second prompt of
/// well over 1,500 tokens and could drop rows.
const SHOWN_AS_IS_CHARS: usize = 1_200;

/// What one LLM-planned answer cost and produced.
#[derive(Debug, Clone, Default)]
pub struct LlmOutcome {
    pub answer: String,
    /// The first tool called, or "smalltalk".
    pub intent: String,
    pub tool_calls: Vec<ToolCallRecord>,
    pub llm_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Time spent waiting for the model.
    pub llm_time: Duration,
    /// Time spent in tools.
    pub tool_time: Duration,
    /// The chart of the last tool call that had one.
    pub chart: Option<crate::charts::ChartSpec>,
    /// Per call of a tool whose answers are kept: whether it was given again.
    pub kept_answers: Vec<bool>,
    /// The LLM server failed (unreachable, refused, timed out): the turn was answered
    /// without it.
    pub llm_failed: bool,
}

/// The configured LLM.
pub struct LlmPlanner {
    client: Client<OpenAIConfig>,
    model: String,
    base_url: String,
    timeout: Duration,
    max_tool_rounds: u32,
    /// Under the hybrid planner the rules still answer everyday questions.
    rules_too: bool,
}

impl std::fmt::Debug for LlmPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the client: its configuration holds the API key.
        f.debug_struct("LlmPlanner")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_tool_rounds", &self.max_tool_rounds)
            .finish_non_exhaustive()
    }
}

/// Why a model call gave no usable response.
enum CallError {
    Timeout,
    Api(OpenAIError),
    Empty,
}

impl CallError {
    /// A short reason for the person asking (no internals, no key).
    fn reason(&self, timeout: Duration) -> String {
        match self {
            Self::Timeout => format!("it did not answer within {} s", timeout.as_secs()),
            Self::Api(OpenAIError::ApiError(e)) => {
                format!("it answered with an error, HTTP {}", e.status_code.as_u16())
            }
            Self::Api(OpenAIError::Reqwest(_)) => "it could not be reached".to_owned(),
            Self::Api(OpenAIError::JSONDeserialize(..)) => {
                "its answer could not be read".to_owned()
            }
            Self::Api(_) => "the request failed".to_owned(),
            Self::Empty => "it sent an empty answer".to_owned(),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Api(e) => write!(f, "{e}"),
            Self::Empty => f.write_str("no choices in the response"),
        }
    }
}

/// The state of one question's tool loop.
#[derive(Default)]
struct Progress {
    outcome: LlmOutcome,
    /// The answer texts of the tools that succeeded, in order.
    texts: Vec<String>,
    /// A tool answered with a long list, which is shown as it is.
    show_as_is: bool,
}

impl Progress {
    /// The answer made from the tools' own texts, when the model gave none.
    fn tool_texts(&self) -> Option<String> {
        (!self.texts.is_empty()).then(|| self.texts.join("\n\n"))
    }

    fn finish(mut self, answer: String) -> LlmOutcome {
        self.outcome.answer = answer;
        if self.outcome.intent.is_empty() {
            self.outcome.intent = "smalltalk".to_owned();
        }
        self.outcome
    }
}

impl LlmPlanner {
    /// `None` without an API key or a server of one's own (`OPENAI_BASE_URL`: a local
    /// Ollama or vLLM needs no key).
    #[must_use]
    pub fn new(settings: &LlmSettings) -> Option<Self> {
        if !settings.configured() {
            return None;
        }
        let key = settings.api_key.as_ref().map_or("", |k| k.expose());
        let base_url = settings.own_server().unwrap_or(OPENAI_API_BASE).to_owned();
        // Set every field: the defaults would read OPENAI_* from the process environment,
        // and only `Settings` reads the environment.
        let config = OpenAIConfig::new()
            .with_api_key(key)
            .with_api_base(base_url.clone())
            .with_org_id("")
            .with_project_id("");
        Some(Self {
            client: Client::with_config(config),
            model: settings.model.clone(),
            base_url,
            timeout: Duration::from_secs(settings.timeout_secs.max(1)),
            max_tool_rounds: settings.max_tool_rounds.max(1),
            rules_too: settings.planner == PlannerKind::Hybrid,
        })
    }

    /// Runs the tool loop for one message.
    pub async fn run(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        registry: &Registry,
        history: &[Turn],
        text: &str,
    ) -> LlmOutcome {
        let tools: Vec<ChatCompletionTools> = registry
            .available(agent, ctx.caller.role)
            .map(|t| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.name().to_owned(),
                        description: Some(t.description().to_owned()),
                        parameters: Some(compact_schema(t.parameters())),
                        strict: None,
                    },
                })
            })
            .collect();
        let mut messages = vec![system(system_prompt(agent, ctx))];
        let start = history.len().saturating_sub(KEPT_TURNS);
        for turn in &history[start..] {
            if !turn.user.trim().is_empty() {
                messages.push(user(&turn.user));
            }
            if !turn.answer.trim().is_empty() {
                messages.push(assistant(Some(turn.answer.clone()), None));
            }
        }
        messages.push(user(text));

        let mut progress = Progress::default();
        let mut round = 0;
        loop {
            // After `max_tool_rounds` rounds of tools, one last call that may not use them.
            let last = round >= self.max_tool_rounds;
            let request = CreateChatCompletionRequest {
                model: self.model.clone(),
                messages: messages.clone(),
                tool_choice: (last && !tools.is_empty()).then_some(
                    ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::None),
                ),
                tools: (!tools.is_empty()).then(|| tools.clone()),
                ..Default::default()
            };
            progress.outcome.llm_calls += 1;
            let asked = std::time::Instant::now();
            let response = self.complete(agent, round, request).await;
            progress.outcome.llm_time += asked.elapsed();
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, model = %self.model, round, "LLM request failed");
                    progress.outcome.llm_failed = true;
                    let answer = self.unavailable(agent, &e.reason(self.timeout), &progress);
                    return progress.finish(answer);
                }
            };
            let outcome = &mut progress.outcome;
            if let Some(usage) = &response.usage {
                outcome.prompt_tokens += u64::from(usage.prompt_tokens);
                outcome.completion_tokens += u64::from(usage.completion_tokens);
            }
            let Some(choice) = response.choices.into_iter().next() else {
                tracing::warn!(model = %self.model, round, "LLM response without choices");
                let answer =
                    self.unavailable(agent, &CallError::Empty.reason(self.timeout), &progress);
                return progress.finish(answer);
            };
            let message = choice.message;
            let content = message
                .content
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(ToOwned::to_owned);
            let calls = message.tool_calls.unwrap_or_default();
            if calls.is_empty() || last {
                if !calls.is_empty() {
                    tracing::warn!(model = %self.model, rounds = round, "LLM still calling tools after the last round");
                }
                let answer = match (content, message.refusal, calls.is_empty()) {
                    (Some(c), _, _) => c,
                    (None, Some(r), _) if !r.trim().is_empty() => r.trim().to_owned(),
                    (None, _, false) => max_rounds_answer(&progress, round),
                    (None, _, true) => progress.tool_texts().unwrap_or_else(|| {
                        "Sorry, I have no answer to that. Could you put it another way?".to_owned()
                    }),
                };
                return progress.finish(answer);
            }
            messages.push(assistant(content, Some(calls.clone())));
            for call in &calls {
                let started = std::time::Instant::now();
                let (id, content) = self
                    .tool_call(agent, ctx, registry, call, &mut progress)
                    .await;
                progress.outcome.tool_time += started.elapsed();
                messages.push(ChatCompletionRequestMessage::Tool(
                    ChatCompletionRequestToolMessage {
                        content: ChatCompletionRequestToolMessageContent::Text(content),
                        tool_call_id: id,
                    },
                ));
            }
            if progress.show_as_is {
                if let Some(answer) = progress.tool_texts() {
                    return progress.finish(answer);
                }
            }
            round += 1;
        }
    }

    /// One chat completion, with the timeout and an `llm_call` span.
    async fn complete(
        &self,
        agent: AgentKind,
        round: u32,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, CallError> {
        let span = tracing::info_span!(
            "llm_call",
            agent = agent.as_str(),
            model = %self.model,
            round,
            prompt_tokens = Empty,
            completion_tokens = Empty,
            tool_calls = Empty,
        );
        let chat = self.client.chat();
        let call = chat.create(request).instrument(span.clone());
        let response = match tokio::time::timeout(self.timeout, call).await {
            Err(_) => return Err(CallError::Timeout),
            Ok(Err(e)) => return Err(CallError::Api(e)),
            Ok(Ok(r)) => r,
        };
        if let Some(usage) = &response.usage {
            span.record("prompt_tokens", usage.prompt_tokens);
            span.record("completion_tokens", usage.completion_tokens);
        }
        let calls = response
            .choices
            .first()
            .and_then(|c| c.message.tool_calls.as_ref())
            .map_or(0, Vec::len);
        span.record("tool_calls", calls);
        Ok(response)
    }

    /// Runs one tool call the model asked for; returns the tool message's id and content.
    /// Never fails: a bad name or bad arguments become an error the model can read.
    async fn tool_call(
        &self,
        agent: AgentKind,
        ctx: &ToolCtx,
        registry: &Registry,
        call: &ChatCompletionMessageToolCalls,
        progress: &mut Progress,
    ) -> (String, String) {
        let (id, name, raw_args) = match call {
            ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                id,
                function,
            }) => (
                id.clone(),
                function.name.clone(),
                function.arguments.clone(),
            ),
            ChatCompletionMessageToolCalls::Custom(c) => (
                c.id.clone(),
                c.custom_tool.name.clone(),
                c.custom_tool.input.clone(),
            ),
        };
        let outcome = &mut progress.outcome;
        let known = registry.get(&name).filter(|t| t.agent() == agent).is_some();
        if !known {
            tracing::warn!(tool = %clip(&name, 64), "LLM asked for an unknown tool");
            let names: Vec<&str> = registry
                .available(agent, ctx.caller.role)
                .map(|t| t.name())
                .collect();
            let error = json!({
                "error": "unknown_tool",
                "message": format!("There is no tool called {:?}. Use one of: {}.", clip(&name, 64), names.join(", ")),
            });
            outcome.tool_calls.push(ToolCallRecord {
                name: clip(&name, 64),
                args: parse_args(&raw_args).unwrap_or_else(|_| Value::String(clip(&raw_args, 500))),
                result: Arc::new(error.clone()),
                error: Some(ToolErrorKind::BadArgs),
            });
            return (id, error.to_string());
        }
        let args = match parse_args(&raw_args) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(tool = %name, error = %e, "LLM sent malformed tool arguments");
                let error = json!({
                    "error": "bad_args",
                    "message": format!("The arguments are not valid JSON ({e}). Send a JSON object that matches the tool's parameters."),
                });
                outcome.tool_calls.push(ToolCallRecord {
                    name,
                    args: Value::String(clip(&raw_args, 500)),
                    result: Arc::new(error.clone()),
                    error: Some(ToolErrorKind::BadArgs),
                });
                return (id, error.to_string());
            }
        };
        if outcome.intent.is_empty() {
            outcome.intent.clone_from(&name);
        }
        let mut failed = None;
        let (result, content) = match registry.call(agent, ctx, &name, args.clone()).await {
            Ok(out) => {
                let content = if out.data.to_string().len() <= SMALL_RESULT_CHARS {
                    json!({ "result": out.data, "text": out.text })
                } else {
                    json!({ "text": out.text })
                }
                .to_string();
                progress.show_as_is |= out.text.chars().count() > SHOWN_AS_IS_CHARS;
                let content = if content.chars().count() > MAX_TOOL_CONTENT_CHARS {
                    json!({ "text": clip(&out.text, MAX_TOOL_CONTENT_CHARS), "note": "result shortened" })
                        .to_string()
                } else {
                    content
                };
                progress.texts.push(out.text);
                progress.outcome.kept_answers.extend(out.kept);
                if out.chart.is_some() {
                    progress.outcome.chart = out.chart;
                }
                (out.data, content)
            }
            Err(e) => {
                failed = Some(e.kind());
                let error = e.as_data();
                let content = error.to_string();
                (Arc::new(error), content)
            }
        };
        progress.outcome.tool_calls.push(ToolCallRecord {
            name,
            args,
            result,
            error: failed,
        });
        (id, content)
    }

    /// The answer when the model cannot be used: what the tools found, or what still works.
    fn unavailable(&self, agent: AgentKind, reason: &str, progress: &Progress) -> String {
        if let Some(texts) = progress.tool_texts() {
            return format!("{texts}\n\n(The assistant stopped before finishing: {reason}.)");
        }
        if !self.rules_too {
            return format!(
                "The assistant is not available right now ({reason}); please try again in a moment."
            );
        }
        let examples = match agent {
            AgentKind::Support => {
                "\"classes this week\", \"next Pilates class\", \"price of Yoga Beginner\" or \"status of order #12345\""
            }
            AgentKind::Dashboard => {
                "\"revenue this month\", \"new clients this month\" or \"attendance for Pilates last month\""
            }
        };
        format!(
            "The assistant is not available right now ({reason}); I can still answer everyday questions such as {examples}."
        )
    }
}

/// Parses the model's arguments: empty means none.
fn parse_args(raw: &str) -> Result<Value, serde_json::Error> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(raw)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(max).collect();
        c.push('…');
        c
    }
}

fn system(text: String) -> ChatCompletionRequestMessage {
    ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(text))
}

fn user(text: &str) -> ChatCompletionRequestMessage {
    ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
        content: ChatCompletionRequestUserMessageContent::Text(text.to_owned()),
        name: None,
    })
}

fn assistant(
    content: Option<String>,
    tool_calls: Option<Vec<ChatCompletionMessageToolCalls>>,
) -> ChatCompletionRequestMessage {
    ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
        content: content.map(ChatCompletionRequestAssistantMessageContent::Text),
        tool_calls,
        ..Default::default()
    })
}

/// The system prompt: short, so a one-tool question stays well under 1,500 prompt
/// tokens with the tool schemas.
fn system_prompt(agent: AgentKind, ctx: &ToolCtx) -> String {
    let now = ctx.clock.now().with_timezone(&ctx.studio.utc_offset);
    let today = format!(
        "{} (UTC{})",
        now.format("%A %-d %B %Y, %H:%M"),
        ctx.studio.utc_offset
    );
    let studio = &ctx.studio.name;
    let role = ctx.caller.role;
    match agent {
        AgentKind::Support => {
            let who = match role {
                Role::Guest => "a guest who is not identified yet (role: guest): they can see courses and classes or leave an enquiry".to_owned(),
                Role::Client => format!("the client {} (role: client)", ctx.caller.name),
                r => format!("studio {} (role: {})", if r == Role::Staff { "staff" } else { "management" }, r.as_str()),
            };
            format!(
                "You are the front desk of {studio}, a yoga and pilates studio. Answer briefly and kindly. \
                 Use the tools for every fact; never invent names, numbers, dates or prices. \
                 Today is {today}. The caller is {who}. \
                 The tools already know who the caller is: never pass another person's email, phone, name or order on a client's behalf. \
                 If a tool returns an error, explain it plainly."
            )
        }
        AgentKind::Dashboard => format!(
            "You are the analytics assistant of {studio} for its managers. \
             Every figure must come from a tool; never estimate or invent one. \
             Always state the period the figures cover. Be brief: figures first. \
             Today is {today}. The caller's role is {}.",
            role.as_str()
        ),
    }
}

/// Keeps a tool's JSON schema small (every character is prompt tokens on every call):
/// drops what the model does not need. Optional fields are the ones not `required`, and
/// unknown fields are refused by the tool's arguments type anyway.
fn compact_schema(mut schema: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in [
                    "$schema",
                    "title",
                    "definitions",
                    "nullable",
                    "additionalProperties",
                ] {
                    map.remove(key);
                }
                if map.get("default").is_some_and(Value::is_null) {
                    map.remove("default");
                }
                if let Some(Value::Object(props)) = map.get_mut("properties") {
                    props.values_mut().for_each(strip);
                }
                for key in ["items", "anyOf", "oneOf", "allOf"] {
                    if let Some(inner) = map.get_mut(key) {
                        strip(inner);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut schema);
    if let Value::Object(map) = &mut schema {
        // The top-level description repeats the tool's own.
        map.remove("description");
        map.entry("type").or_insert_with(|| json!("object"));
        map.entry("properties").or_insert_with(|| json!({}));
    }
    schema
}

/// The answer when the model kept calling tools past the last round.
fn max_rounds_answer(progress: &Progress, rounds: u32) -> String {
    let note = format!(
        "(I stopped after {rounds} rounds of looking things up; ask again more specifically if this is not what you needed.)"
    );
    match progress.tool_texts() {
        Some(texts) => format!("{texts}\n\n{note}"),
        None => format!("I couldn't find an answer to that. {note}"),
    }
}
