//! The eval harness (`frontdesk eval FILE.jsonl`) and the `--as WHO` callers of the
//! console: each case is a question, who asks it, and what the answer must show; or a
//! dialogue (`turns`, one conversation) with what each answer must show and what the
//! whole of it may write (`effects`, checked in the database).

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
    /// The question of a one-turn case (empty for a dialogue).
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub expect: Expect,
    /// The turns of a dialogue, said in one conversation.
    #[serde(default)]
    pub turns: Vec<EvalTurn>,
    /// What the whole case writes; unset counts are not checked.
    #[serde(default)]
    pub effects: Option<Effects>,
}

/// One turn of a dialogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalTurn {
    pub text: String,
    #[serde(default)]
    pub expect: Expect,
}

/// How many records a case creates: orders, payments recorded as paid, tickets.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Effects {
    #[serde(default)]
    pub orders: Option<u64>,
    #[serde(default)]
    pub payments: Option<u64>,
    #[serde(default)]
    pub tickets: Option<u64>,
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
    /// The last turn's reply.
    pub reply: AgentReply,
    /// Turns said, and how many of them showed what they had to.
    pub turns: usize,
    pub turns_passed: usize,
    /// What each turn was expected to be and was, for the scores.
    pub readings: Vec<Reading>,
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
            let bad = |reason: String| EvalError::BadLine {
                line: i + 1,
                reason,
            };
            let case: EvalCase = serde_json::from_str(l).map_err(|e| bad(e.to_string()))?;
            if case.text.trim().is_empty() == case.turns.is_empty() {
                return Err(bad("a case has either `text` or `turns`".into()));
            }
            Ok(case)
        })
        .collect()
}

impl EvalCase {
    /// The case as turns: a one-turn case is a dialogue of one.
    #[must_use]
    pub fn all_turns(&self) -> Vec<EvalTurn> {
        if self.turns.is_empty() {
            vec![EvalTurn {
                text: self.text.clone(),
                expect: self.expect.clone(),
            }]
        } else {
            self.turns.clone()
        }
    }
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

/// Runs one case: a question, or a dialogue in one conversation of its own (a new one
/// at every run, so that a dialogue can be run again on the same database).
///
/// # Errors
/// The case names an unknown agent or caller, or the database cannot be counted.
pub async fn run_case(agents: &Agents, case: &EvalCase) -> Result<EvalResult, EvalError> {
    let bad = |reason: String| EvalError::BadCase {
        id: case.id.clone(),
        reason,
    };
    let agent: AgentKind = case.agent.parse().map_err(bad)?;
    let caller = resolve_caller(agents.store(), case.who.as_deref(), agent)
        .await
        .map_err(bad)?;
    let dialogue = !case.turns.is_empty();
    let run = crate::domain::ObjectId::new().to_hex();
    let conversation = dialogue.then(|| super::ConversationKey {
        platform: frontdesk_chat::Platform::Console,
        channel: format!("eval-{run}"),
        thread: Some(case.id.clone()),
        user: case
            .who
            .clone()
            .unwrap_or_else(|| agent.as_str().to_owned()),
    });
    let before = match case.effects {
        Some(_) => Some(
            agents
                .store()
                .record_counts()
                .await
                .map_err(|e| bad(e.to_string()))?,
        ),
        None => None,
    };
    let turns = case.all_turns();
    let mut failures = Vec::new();
    let mut turns_passed = 0;
    let mut readings = Vec::new();
    let mut last = None;
    for (n, turn) in turns.iter().enumerate() {
        let event_id = if dialogue {
            format!("eval:{run}:{}:{n}", case.id)
        } else {
            format!("eval:{}", case.id)
        };
        let reply = agents
            .handle(AgentRequest {
                agent,
                caller: caller.clone(),
                text: turn.text.clone(),
                conversation: conversation.clone(),
                event_id: Some(event_id),
            })
            .await;
        let missed = check(&turn.expect, &reply);
        readings.push(Reading {
            expected: turn.expect.intent.clone(),
            got: reply.intent.as_str().to_owned(),
            args_right: turn
                .expect
                .args
                .as_ref()
                .map(|_| !missed.iter().any(|m| m.starts_with("argument"))),
        });
        if missed.is_empty() {
            turns_passed += 1;
        }
        failures.extend(missed.into_iter().map(|f| {
            if dialogue {
                format!("turn {} ({:?}): {f}", n + 1, turn.text)
            } else {
                f
            }
        }));
        last = Some(reply);
    }
    if let (Some(before), Some(effects)) = (before, case.effects) {
        let after = agents
            .store()
            .record_counts()
            .await
            .map_err(|e| bad(e.to_string()))?;
        for (what, expected, made) in [
            (
                "orders",
                effects.orders,
                after.orders.saturating_sub(before.orders),
            ),
            (
                "payments",
                effects.payments,
                after.paid_payments.saturating_sub(before.paid_payments),
            ),
            (
                "tickets",
                effects.tickets,
                after.tickets.saturating_sub(before.tickets),
            ),
        ] {
            if let Some(expected) = expected {
                if made != expected {
                    failures.push(format!("{made} {what} written (expected {expected})"));
                }
            }
        }
    }
    let reply = last.ok_or_else(|| bad("the case has no turns".into()))?;
    Ok(EvalResult {
        id: case.id.clone(),
        passed: failures.is_empty(),
        failures,
        reply,
        turns: turns.len(),
        turns_passed,
        readings,
    })
}

/// One turn's expected and actual intent, and whether its arguments were right.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    pub expected: Option<String>,
    pub got: String,
    /// `None`: the turn expects no arguments.
    pub args_right: Option<bool>,
}

/// How well a run understood: intents and arguments right, precision and recall per
/// intent, and which intents were taken for which.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    pub intents_checked: usize,
    pub intents_right: usize,
    pub args_checked: usize,
    pub args_right: usize,
    pub per_intent: std::collections::BTreeMap<String, IntentScore>,
    /// (expected, got, how many), most frequent first.
    pub confusions: Vec<(String, String, usize)>,
}

/// Precision and recall of one intent over a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IntentScore {
    /// Turns that expected it.
    pub expected: usize,
    /// Turns answered with it.
    pub predicted: usize,
    /// Turns that expected it and got it.
    pub right: usize,
    pub precision: f64,
    pub recall: f64,
}

impl Scores {
    /// The scores of these results.
    #[must_use]
    pub fn of(results: &[EvalResult]) -> Self {
        let mut scores = Self::default();
        let mut confusions: std::collections::BTreeMap<(String, String), usize> =
            std::collections::BTreeMap::new();
        for r in results.iter().flat_map(|r| &r.readings) {
            if let Some(ok) = r.args_right {
                scores.args_checked += 1;
                scores.args_right += usize::from(ok);
            }
            let Some(expected) = &r.expected else {
                continue;
            };
            let expected = expected.to_lowercase();
            scores.intents_checked += 1;
            let right = expected == r.got;
            scores.intents_right += usize::from(right);
            scores
                .per_intent
                .entry(expected.clone())
                .or_default()
                .expected += 1;
            scores
                .per_intent
                .entry(r.got.clone())
                .or_default()
                .predicted += 1;
            if right {
                scores.per_intent.entry(expected).or_default().right += 1;
            } else {
                *confusions.entry((expected, r.got.clone())).or_default() += 1;
            }
        }
        for score in scores.per_intent.values_mut() {
            let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
            score.precision = ratio(score.right, score.predicted);
            score.recall = ratio(score.right, score.expected);
        }
        scores.confusions = confusions
            .into_iter()
            .map(|((e, g), n)| (e, g, n))
            .collect();
        scores.confusions.sort_by_key(|c| std::cmp::Reverse(c.2));
        scores
    }

    /// The share of intents right (1.0 when none were checked).
    #[must_use]
    pub fn intent_accuracy(&self) -> f64 {
        share(self.intents_right, self.intents_checked)
    }

    /// The share of argument sets right (1.0 when none were checked).
    #[must_use]
    pub fn args_accuracy(&self) -> f64 {
        share(self.args_right, self.args_checked)
    }
}

fn share(right: usize, checked: usize) -> f64 {
    if checked == 0 {
        1.0
    } else {
        right as f64 / checked as f64
    }
}

/// What a reply fails to show of what was expected.
fn check(expect: &Expect, reply: &AgentReply) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(intent) = &expect.intent {
        if !intent.eq_ignore_ascii_case(reply.intent.as_str()) {
            failures.push(format!("intent {} (expected {intent})", reply.intent));
        }
    }
    if let Some(args) = &expect.args {
        // A proposal's arguments are those it would run with.
        let actual = reply
            .tool_calls
            .first()
            .map(|c| c.args.clone())
            .or_else(|| reply.proposed.clone())
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
    for needle in &expect.answer_contains {
        if !answer.contains(&needle.to_lowercase()) {
            failures.push(format!("answer lacks {needle:?}"));
        }
    }
    for needle in &expect.answer_excludes {
        if answer.contains(&needle.to_lowercase()) {
            failures.push(format!("answer shows {needle:?}"));
        }
    }
    failures
}
