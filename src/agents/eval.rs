//! The eval harness (`frontdesk eval FILE.jsonl`) and the `--as WHO` callers of the
//! console: each case is a question, who asks it, and what the answer must show.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AgentReply, AgentRequest, Agents};
use crate::domain::Email;
use crate::store::Store;
use crate::tools::{AgentKind, Caller, Role};

/// One line of an eval file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalCase {
    pub id: String,
    pub agent: String,
    #[serde(rename = "as", default)]
    pub who: Option<String>,
    pub text: String,
    pub expect: Expect,
}

/// What a case's answer must show.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub args: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub answer_contains: Vec<String>,
    #[serde(default)]
    pub answer_excludes: Vec<String>,
}

/// A case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    pub id: String,
    pub passed: bool,
    pub failures: Vec<String>,
    pub reply: AgentReply,
}

/// Why an eval file could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("line {line}: {reason}")]
    BadLine { line: usize, reason: String },
    #[error("case {id}: {reason}")]
    BadCase { id: String, reason: String },
}

/// Parses an eval file.
///
/// # Errors
/// A line that is not a case.
pub fn parse_cases(text: &str) -> Result<Vec<EvalCase>, EvalError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| EvalError::BadLine {
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// The caller a `--as` value names: `client:EMAIL`, `guest`, `staff`, `manager` or
/// `admin`; `None` picks the agent's default (staff for support, manager for the
/// dashboard).
///
/// # Errors
/// An unknown role, or a client email that is not in the database.
pub async fn resolve_caller(
    store: &Store,
    who: Option<&str>,
    agent: AgentKind,
) -> Result<Caller, String> {
    let who = who.map(str::trim).filter(|w| !w.is_empty());
    match who {
        None => Ok(match agent {
            AgentKind::Support => Caller::staff(),
            AgentKind::Dashboard => Caller::manager(),
        }),
        Some("staff") => Ok(Caller::staff()),
        Some("manager") => Ok(Caller::manager()),
        Some("admin") => Ok(Caller {
            role: Role::Admin,
            client_id: None,
            name: "admin".into(),
            account: None,
        }),
        Some("guest") => Ok(Caller::guest()),
        Some(other) => {
            let Some(email) = other.strip_prefix("client:") else {
                return Err(format!(
                    "{other:?} is not a caller: use client:EMAIL, guest, staff, manager or admin"
                ));
            };
            let email = Email::parse(email).map_err(|e| e.to_string())?;
            let client = store
                .client_by_email(&email)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no client has the email {email}"))?;
            Ok(Caller::client(client.id, client.name.first()))
        }
    }
}

fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) => e.eq_ignore_ascii_case(a),
        (Value::String(e), Value::Number(n)) | (Value::Number(n), Value::String(e)) => {
            e == &n.to_string()
        }
        (e, a) => e == a,
    }
}

/// Runs one case.
///
/// # Errors
/// The case names an unknown agent or caller.
pub async fn run_case(agents: &Agents, case: &EvalCase) -> Result<EvalResult, EvalError> {
    let bad = |reason: String| EvalError::BadCase {
        id: case.id.clone(),
        reason,
    };
    let agent: AgentKind = case.agent.parse().map_err(bad)?;
    let caller = resolve_caller(agents.store(), case.who.as_deref(), agent)
        .await
        .map_err(bad)?;
    let reply = agents
        .handle(AgentRequest {
            agent,
            caller,
            text: case.text.clone(),
            conversation: None,
            event_id: Some(format!("eval:{}", case.id)),
        })
        .await;
    let mut failures = Vec::new();
    if let Some(intent) = &case.expect.intent {
        if !intent.eq_ignore_ascii_case(reply.intent.as_str()) {
            failures.push(format!("intent {} (expected {intent})", reply.intent));
        }
    }
    if let Some(args) = &case.expect.args {
        let actual = reply
            .tool_calls
            .first()
            .map(|c| c.args.clone())
            .unwrap_or(Value::Null);
        for (k, v) in args {
            match actual.get(k) {
                Some(a) if same(v, a) => {}
                Some(a) => failures.push(format!("argument {k} = {a} (expected {v})")),
                None => failures.push(format!("argument {k} missing (expected {v})")),
            }
        }
    }
    let answer = reply.answer.to_lowercase();
    for needle in &case.expect.answer_contains {
        if !answer.contains(&needle.to_lowercase()) {
            failures.push(format!("answer lacks {needle:?}"));
        }
    }
    for needle in &case.expect.answer_excludes {
        if answer.contains(&needle.to_lowercase()) {
            failures.push(format!("answer shows {needle:?}"));
        }
    }
    Ok(EvalResult {
        id: case.id.clone(),
        passed: failures.is_empty(),
        failures,
        reply,
    })
}
