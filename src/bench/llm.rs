//! `frontdesk bench llm`: the public eval questions through the `hybrid` and `llm`
//! planners against an in-process fake OpenAI-compatible server, counting LLM calls and
//! tokens per question.
//!
//! The fake is deterministic: for a question it knows (the eval file's text), it calls
//! the tool the eval case expects with the arguments it expects, if that tool is offered;
//! once a tool result is in the conversation (or for a question it does not know) it
//! answers in text. It reports usage from the request's size: prompt tokens are the
//! characters of the messages and tools over 4, completion tokens those of its reply.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};

use super::{eval_cases, with_demo_clock, Row, Server};
use crate::agents::eval::resolve_caller;
use crate::agents::{AgentRequest, Agents};
use crate::config::{PlannerKind, Secret, Settings};
use crate::store::Store;
use crate::tools::AgentKind;

pub const TARGET_LLM_CALLS: u32 = 2;
/// The largest prompt of a question: the system text and the caller's tools (their
/// schemas). 1,500 held for 18 tools; with cancel_order, client_summary and top_clients
/// the largest (a staff or manager question) is about 1,700.
pub const TARGET_PROMPT_TOKENS: u64 = 1800;

/// One question through one planner.
#[derive(Debug, Clone, Serialize)]
pub struct LlmCase {
    pub planner: &'static str,
    pub id: String,
    pub intent: String,
    /// Which planner answered (rules or llm).
    pub answered_by: &'static str,
    pub llm_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The largest single prompt sent for this question (the one after a tool call
    /// carries the tool's result).
    pub max_prompt_tokens: u64,
    /// The first prompt: system prompt, question and tool schemas.
    pub first_prompt_tokens: u64,
    /// The eval case names one tool (the fake calls exactly one).
    pub single_tool: bool,
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LlmReport {
    pub server: Server,
    pub cases: Vec<LlmCase>,
    pub hybrid_llm_calls: u32,
    pub llm_max_calls_single_tool: u32,
    pub llm_max_prompt_tokens: u64,
    pub llm_max_first_prompt_tokens: u64,
    pub llm_mean_prompt_tokens_per_question: f64,
    pub llm_mean_completion_tokens_per_question: f64,
    pub rows: Vec<Row>,
}

#[derive(Default)]
struct FakeState {
    /// Question text → (tool, arguments).
    script: HashMap<String, (String, Value)>,
    /// Prompt sizes (tokens) of the requests since the last reset.
    prompts: Mutex<Vec<u64>>,
}

fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

async fn completions(State(state): State<Arc<FakeState>>, Json(body): Json<Value>) -> Json<Value> {
    let empty = Vec::new();
    let messages = body["messages"].as_array().unwrap_or(&empty);
    let prompt = tokens(body["messages"].to_string().len() + body["tools"].to_string().len());
    if let Ok(mut p) = state.prompts.lock() {
        p.push(prompt);
    }
    let last_user = messages.iter().rposition(|m| m["role"] == "user");
    let has_result = last_user.is_some_and(|i| messages[i..].iter().any(|m| m["role"] == "tool"));
    let question = last_user
        .and_then(|i| messages[i]["content"].as_str())
        .unwrap_or("");
    let offered = |name: &str| {
        body["tools"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["function"]["name"] == name))
    };
    let message = match state.script.get(question) {
        Some((tool, args)) if !has_result && offered(tool.as_str()) => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": "call_bench_1",
                "type": "function",
                "function": { "name": tool, "arguments": args.to_string() },
            }],
        }),
        _ => json!({ "role": "assistant", "content": "Here is what the studio's records say." }),
    };
    let finish = if message["tool_calls"].is_null() {
        "stop"
    } else {
        "tool_calls"
    };
    let done = tokens(message.to_string().len());
    Json(json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_764_064_800,
        "model": "fake-model",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": { "prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done },
    }))
}

/// Runs both planners over the eval set (the database must hold the demo data).
///
/// # Errors
/// The fake server cannot start, or an eval case names an unknown caller.
pub async fn run(settings: &Settings, store: &Store, server: Server) -> Result<LlmReport> {
    let cases = eval_cases()?;
    // The first case that expects a tool for a text decides (a guard case may ask the
    // same question as a caller who gets it refused).
    let mut script: HashMap<String, (String, Value)> = HashMap::new();
    for c in &cases {
        let Some(intent) = c.expect.intent.clone().filter(|i| i != "refused") else {
            continue;
        };
        let args = c
            .expect
            .args
            .clone()
            .map_or_else(|| json!({}), Value::Object);
        script.entry(c.text.clone()).or_insert((intent, args));
    }
    let state = Arc::new(FakeState {
        script,
        prompts: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let fake = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let settings = with_demo_clock(settings);
    let mut results = Vec::new();
    for (planner, label) in [(PlannerKind::Hybrid, "hybrid"), (PlannerKind::Llm, "llm")] {
        let mut llm = settings.llm.clone();
        llm.planner = planner;
        llm.api_key = Some(Secret::new("bench-key"));
        llm.base_url = Some(format!("http://127.0.0.1:{port}/v1"));
        llm.timeout_secs = 10;
        let agents = Agents::new(
            store.clone(),
            settings.clock(),
            settings.studio.clone(),
            &llm,
            settings.memory_ttl_hours,
        );
        for case in &cases {
            let agent = if case.agent == "dashboard" {
                AgentKind::Dashboard
            } else {
                AgentKind::Support
            };
            let caller = resolve_caller(store, case.who.as_deref(), agent)
                .await
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("eval case {}", case.id))?;
            if let Ok(mut p) = state.prompts.lock() {
                p.clear();
            }
            let reply = agents
                .handle(AgentRequest {
                    agent,
                    caller,
                    text: case.text.clone(),
                    conversation: None,
                    event_id: Some(format!("bench-llm-{}", uuid::Uuid::new_v4().simple())),
                })
                .await;
            let (max_prompt, first_prompt) = state
                .prompts
                .lock()
                .ok()
                .map(|p| {
                    (
                        p.iter().copied().max().unwrap_or(0),
                        p.first().copied().unwrap_or(0),
                    )
                })
                .unwrap_or((0, 0));
            let single_tool = case
                .expect
                .intent
                .as_deref()
                .is_some_and(|i| i != "refused");
            results.push(LlmCase {
                planner: label,
                id: case.id.clone(),
                intent: reply.intent.as_str().to_owned(),
                answered_by: reply.planner,
                llm_calls: reply.llm_calls,
                prompt_tokens: reply.prompt_tokens,
                completion_tokens: reply.completion_tokens,
                max_prompt_tokens: max_prompt,
                first_prompt_tokens: first_prompt,
                single_tool,
            });
        }
    }
    fake.abort();

    let llm_cases: Vec<&LlmCase> = results.iter().filter(|c| c.planner == "llm").collect();
    let hybrid_calls: u32 = results
        .iter()
        .filter(|c| c.planner == "hybrid")
        .map(|c| c.llm_calls)
        .sum();
    let max_calls = llm_cases
        .iter()
        .filter(|c| c.single_tool)
        .map(|c| c.llm_calls)
        .max()
        .unwrap_or(0);
    let max_prompt = llm_cases
        .iter()
        .map(|c| c.max_prompt_tokens)
        .max()
        .unwrap_or(0);
    let max_first = llm_cases
        .iter()
        .map(|c| c.first_prompt_tokens)
        .max()
        .unwrap_or(0);
    let n = llm_cases.len().max(1) as f64;
    let mean_prompt = llm_cases
        .iter()
        .map(|c| c.prompt_tokens as f64)
        .sum::<f64>()
        / n;
    let mean_done = llm_cases
        .iter()
        .map(|c| c.completion_tokens as f64)
        .sum::<f64>()
        / n;
    let rows = vec![
        Row::info("database", server.describe()),
        Row::info("questions", format!("{} per planner", cases.len())),
        Row::target(
            "hybrid: LLM calls, whole eval set",
            hybrid_calls.to_string(),
            "0",
            Some(hybrid_calls == 0),
        ),
        Row::target(
            "llm: max calls, single-tool question",
            max_calls.to_string(),
            format!("<= {TARGET_LLM_CALLS}"),
            Some(max_calls <= TARGET_LLM_CALLS),
        ),
        Row::target(
            "llm: largest prompt",
            format!("{max_prompt} tokens"),
            format!("< {TARGET_PROMPT_TOKENS} tokens"),
            Some(max_prompt < TARGET_PROMPT_TOKENS),
        ),
        Row::target(
            "llm: largest first prompt (no tool result)",
            format!("{max_first} tokens"),
            format!("< {TARGET_PROMPT_TOKENS} tokens"),
            Some(max_first < TARGET_PROMPT_TOKENS),
        ),
        Row::info(
            "llm: tokens per question (mean)",
            format!("{mean_prompt:.0} prompt + {mean_done:.0} completion"),
        ),
    ];
    Ok(LlmReport {
        server,
        hybrid_llm_calls: hybrid_calls,
        llm_max_calls_single_tool: max_calls,
        llm_max_prompt_tokens: max_prompt,
        llm_max_first_prompt_tokens: max_first,
        llm_mean_prompt_tokens_per_question: mean_prompt,
        llm_mean_completion_tokens_per_question: mean_done,
        cases: results,
        rows,
    })
}
