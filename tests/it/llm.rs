//! The LLM planner against a fake OpenAI-compatible server on 127.0.0.1: the tool loop,
//! the requests it sends (tools offered, history, tool results, the key), the caller's
//! isolation whatever the model asks, every failure the model or the network can cause,
//! and the hybrid planner keeping the model out of questions the rules answer.

// Helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use frontdesk::agents::{AgentReply, AgentRequest, Agents};
use frontdesk::config::Settings;
use frontdesk::domain::Email;
use frontdesk::tools::{AgentKind, Caller, Role};
use serde_json::{json, Value};

use crate::harness::TestDb;

// --- the fake server ---------------------------------------------------------------------

/// One scripted response.
#[derive(Clone)]
enum Reply {
    Json(Value),
    Status(u16, &'static str),
    Slow(Duration, Value),
}

/// One request the fake received.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    body: Value,
}

#[derive(Default)]
struct FakeState {
    script: Mutex<VecDeque<Reply>>,
    /// Answered when the script has run out.
    fallback: Mutex<Option<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

/// A fake `POST /v1/chat/completions` answering from a script and recording requests.
struct Fake {
    base_url: String,
    state: Arc<FakeState>,
}

impl Fake {
    async fn start(script: Vec<Reply>) -> Self {
        let state = Arc::new(FakeState {
            script: Mutex::new(script.into()),
            ..Default::default()
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            state,
        }
    }

    /// Answers every request past the script with `reply`.
    fn always(self, reply: Reply) -> Self {
        *self.state.fallback.lock().unwrap() = Some(reply);
        self
    }

    fn push(&self, reply: Reply) {
        self.state.script.lock().unwrap().push_back(reply);
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn completions(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    state.seen.lock().unwrap().push(Seen {
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    });
    let next = state.script.lock().unwrap().pop_front();
    let reply = next
        .or_else(|| state.fallback.lock().unwrap().clone())
        .unwrap_or_else(|| Reply::Json(text("(the script ran out)", 1, 1)));
    match reply {
        Reply::Json(v) => Json(v).into_response(),
        Reply::Status(code, body) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
        Reply::Slow(wait, v) => {
            tokio::time::sleep(wait).await;
            Json(v).into_response()
        }
    }
}

fn completion(message: Value, finish: &str, prompt: u32, done: u32) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_764_064_800,
        "model": "fake-model",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": { "prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done },
    })
}

/// The model answers with text.
fn text(answer: &str, prompt: u32, done: u32) -> Value {
    completion(
        json!({ "role": "assistant", "content": answer }),
        "stop",
        prompt,
        done,
    )
}

/// The model calls one tool with these raw arguments.
fn call(id: &str, name: &str, arguments: &str, prompt: u32, done: u32) -> Value {
    completion(
        json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } }],
        }),
        "tool_calls",
        prompt,
        done,
    )
}

// --- the agents under test ------------------------------------------------------------------

/// Settings as the service would load them, pointed at the fake.
fn settings(
    base_url: &str,
    planner: &str,
    config_toml: Option<&str>,
) -> (Settings, Option<tempfile::TempDir>) {
    let dir = config_toml.map(|toml| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("llm.toml"), toml).unwrap();
        dir
    });
    let config = dir
        .as_ref()
        .map(|d| d.path().join("llm.toml").to_str().unwrap().to_owned());
    let mut pairs = vec![
        ("OPENAI_API_KEY", "test-key"),
        ("OPENAI_BASE_URL", base_url),
        ("FRONTDESK_PLANNER", planner),
    ];
    if let Some(config) = &config {
        pairs.push(("FRONTDESK_CONFIG", config));
    }
    (crate::harness::settings(&pairs), dir)
}

fn agents_for(db: &TestDb, settings: &Settings) -> Agents {
    Agents::new(
        db.store.clone(),
        settings.clock(),
        settings.studio.clone(),
        &settings.llm,
        24,
    )
}

async fn ask(agents: &Agents, caller: &Caller, text: &str) -> AgentReply {
    ask_in(agents, caller, text, None).await
}

async fn ask_in(
    agents: &Agents,
    caller: &Caller,
    text: &str,
    conversation: Option<&str>,
) -> AgentReply {
    agents
        .handle(AgentRequest {
            agent: AgentKind::Support,
            caller: caller.clone(),
            text: text.to_owned(),
            conversation: conversation.map(|c| frontdesk::agents::ConversationKey {
                platform: frontdesk_chat::Platform::Console,
                channel: c.to_owned(),
                thread: None,
                user: "tester".to_owned(),
            }),
            event_id: None,
        })
        .await
}

async fn priya(db: &TestDb) -> Caller {
    let email = Email::parse("priya@example.com").unwrap();
    let client = db.store.client_by_email(&email).await.unwrap().unwrap();
    Caller::client(client.id, "Priya")
}

fn tool_names(request: &Value) -> BTreeSet<String> {
    request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "function");
            t["function"]["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn messages(request: &Value) -> &Vec<Value> {
    request["messages"].as_array().unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

const CLIENT_TOOLS: &[&str] = &[
    "find_client",
    "client_orders",
    "order_status",
    "list_classes",
    "course_info",
    "create_order",
    "create_enquiry",
    "pending_payments",
    "escalate_to_staff",
];

// --- the loop -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_tool_call_then_an_answer_with_what_was_sent_and_what_it_cost() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let fake = Fake::start(vec![
        Reply::Json(call(
            "call_1",
            "find_client",
            r#"{"email":"priya@example.com"}"#,
            600,
            20,
        )),
        Reply::Json(text("Priya Sharma is an active client.", 700, 15)),
    ])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "llm", None);
    let agents = agents_for(&db, &settings);

    let reply = ask(&agents, &Caller::staff(), "Who is priya@example.com?").await;
    assert_eq!(reply.planner, "llm");
    assert_eq!(reply.intent, "find_client");
    assert_eq!(reply.answer, "Priya Sharma is an active client.");
    assert_eq!(reply.llm_calls, 2);
    assert_eq!((reply.prompt_tokens, reply.completion_tokens), (1300, 35));
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].name, "find_client");
    assert_eq!(
        reply.tool_calls[0].args,
        json!({ "email": "priya@example.com" })
    );
    assert!(
        reply.tool_calls[0]
            .result
            .to_string()
            .contains("Priya Sharma"),
        "{:?}",
        reply.tool_calls[0]
    );

    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.authorization.as_deref(), Some("Bearer test-key"));
        assert_eq!(s.body["model"], settings.llm.model.as_str());
    }
    // The first request: system prompt, the question, and the staff's Support tools.
    let first = &seen[0].body;
    let msgs = messages(first);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["role"], "system");
    let system = msgs[0]["content"].as_str().unwrap();
    assert!(system.contains("Lotus & Line Studio"), "{system}");
    assert!(
        system.contains("25 November 2026"),
        "the studio's local date: {system}"
    );
    assert!(system.contains("role: staff"), "{system}");
    assert_eq!(
        msgs[1],
        json!({ "role": "user", "content": "Who is priya@example.com?" })
    );
    let mut staff_tools = set(CLIENT_TOOLS);
    staff_tools.insert("record_payment".into());
    staff_tools.insert("cancel_order".into());
    staff_tools.insert("open_tickets".into());
    assert_eq!(tool_names(first), staff_tools);
    let registry: BTreeSet<String> = agents
        .registry()
        .available(AgentKind::Support, Role::Staff)
        .map(|t| t.name().to_owned())
        .collect();
    assert_eq!(tool_names(first), registry);
    for tool in first["tools"].as_array().unwrap() {
        assert!(!tool["function"]["description"].as_str().unwrap().is_empty());
        assert_eq!(tool["function"]["parameters"]["type"], "object", "{tool}");
    }
    // Compact enough for the < 1,800 prompt tokens target (about 4 characters a token;
    // twelve Support tools for staff).
    let size = first["messages"].to_string().len() + first["tools"].to_string().len();
    assert!(
        size < 6600,
        "the first request is {size} characters of prompt and tools"
    );
    eprintln!("first request: {size} characters of messages and tools");

    // The second request: the assistant's tool call and the tool's result.
    let msgs = messages(&seen[1].body);
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(msgs[2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(msgs[2]["tool_calls"][0]["function"]["name"], "find_client");
    assert_eq!(msgs[3]["role"], "tool");
    assert_eq!(msgs[3]["tool_call_id"], "call_1");
    let content: Value = serde_json::from_str(msgs[3]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["result"]["name"], "Priya Sharma");
    assert_eq!(content["result"]["email"], "priya@example.com");
    assert!(content["text"].as_str().unwrap().contains("Priya Sharma"));

    // A client is offered the tools a client may use: no record_payment.
    fake.push(Reply::Json(text("Hello Priya!", 300, 5)));
    let client = priya(&db).await;
    let reply = ask(&agents, &client, "hi there, what can you do").await;
    assert_eq!(reply.intent, "smalltalk");
    assert_eq!(reply.answer, "Hello Priya!");
    assert_eq!(reply.llm_calls, 1);
    let seen = fake.seen();
    let tools = tool_names(&seen[2].body);
    assert_eq!(tools, set(CLIENT_TOOLS));
    assert!(!tools.contains("record_payment"));
    let system = messages(&seen[2].body)[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.contains("role: client") && system.contains("Priya"),
        "{system}"
    );
}

#[tokio::test]
async fn the_conversation_history_goes_with_the_question() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let fake = Fake::start(vec![
        Reply::Json(text("We have Yoga Beginner and Pilates.", 100, 10)),
        Reply::Json(text("Pilates is on Monday.", 120, 8)),
    ])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "llm", None);
    let agents = agents_for(&db, &settings);
    let key = format!("test:llm:{}", uuid::Uuid::new_v4().simple());
    ask_in(
        &agents,
        &Caller::guest(),
        "what courses do you have",
        Some(&key),
    )
    .await;
    ask_in(
        &agents,
        &Caller::guest(),
        "and when is the second one?",
        Some(&key),
    )
    .await;
    let seen = fake.seen();
    let msgs = messages(&seen[1].body);
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(msgs[1]["content"], "what courses do you have");
    assert_eq!(msgs[2]["content"], "We have Yoga Beginner and Pilates.");
    assert_eq!(msgs[3]["content"], "and when is the second one?");
    // A guest is offered only the catalogue, classes, enquiries and a hand-off.
    assert_eq!(
        tool_names(&seen[1].body),
        set(&[
            "list_classes",
            "course_info",
            "create_enquiry",
            "escalate_to_staff"
        ])
    );
}

/// The spans opened (name and fields, with those recorded later), for one test.
/// Recorded spans: (id, name, recorded fields).
type SpanLog = Vec<(u64, String, Vec<(String, String)>)>;

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<SpanLog>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        let name = attrs.metadata().name().to_owned();
        self.0.lock().unwrap().push((id.into_u64(), name, fields));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut spans = self.0.lock().unwrap();
        if let Some(span) = spans.iter_mut().rev().find(|s| s.0 == id.into_u64()) {
            values.record(&mut Fields(&mut span.2));
        }
    }
}

#[tokio::test]
async fn each_model_call_has_an_llm_call_span_with_its_tokens() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let (db, _) = TestDb::with_demo_data(200).await;
    let fake = Fake::start(vec![
        Reply::Json(call("c1", "course_info", "{}", 600, 20)),
        Reply::Json(text("We have ten courses.", 700, 15)),
    ])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "llm", None);
    let agents = agents_for(&db, &settings);
    let spans = Spans::default();
    // The test's runtime is single-threaded: the whole answer runs under this subscriber.
    let guard = tracing_subscriber::registry()
        .with(spans.clone())
        .set_default();
    let reply = ask(&agents, &Caller::guest(), "what courses are there").await;
    drop(guard);
    assert_eq!(reply.llm_calls, 2);

    let spans = spans.0.lock().unwrap().clone();
    let calls: Vec<&Vec<(String, String)>> = spans
        .iter()
        .filter(|s| s.1 == "llm_call")
        .map(|s| &s.2)
        .collect();
    assert_eq!(calls.len(), 2, "{spans:?}");
    let field = |fields: &Vec<(String, String)>, name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field(calls[0], "prompt_tokens"), "600");
    assert_eq!(field(calls[0], "completion_tokens"), "20");
    assert_eq!(field(calls[0], "tool_calls"), "1");
    assert_eq!(field(calls[1], "prompt_tokens"), "700");
    assert_eq!(field(calls[1], "tool_calls"), "0");
    assert_eq!(field(calls[0], "model"), settings.llm.model);
    assert!(!format!("{spans:?}").contains("test-key"));
}

// --- isolation -------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_learns_nothing_about_another_client_whatever_the_model_asks() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let caller = priya(&db).await;
    let other_email = Email::parse("priya.patel@example.com").unwrap();
    let other = db
        .store
        .client_by_email(&other_email)
        .await
        .unwrap()
        .unwrap();
    let orders = db.store.orders_for_client(other.id, 5).await.unwrap();
    let order = orders
        .first()
        .expect("Priya Patel has an order in the demo data");
    let number = order.number.to_string();
    let secrets = [
        other.name.to_string(),
        "Patel".to_owned(),
        other_email.to_string(),
        order.amount.to_string(),
        order.amount.minor().to_string(),
    ];

    let fake = Fake::start(vec![
        Reply::Json(call(
            "c1",
            "order_status",
            &json!({ "order": number }).to_string(),
            100,
            10,
        )),
        Reply::Json(text("I couldn't find that order on your account.", 120, 10)),
        Reply::Json(call(
            "c2",
            "find_client",
            r#"{"email":"priya.patel@example.com"}"#,
            100,
            10,
        )),
        Reply::Json(text("I can only share your own details.", 120, 10)),
        Reply::Json(call(
            "c3",
            "client_orders",
            r#"{"client":"priya.patel@example.com"}"#,
            100,
            10,
        )),
        Reply::Json(text("Here are your orders.", 120, 10)),
    ])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "llm", None);
    let agents = agents_for(&db, &settings);

    let checks = [
        (
            format!("What is the status of order {number}?"),
            "order_status",
            "not_found",
        ),
        (
            "Show me Priya Patel's profile, priya.patel@example.com".to_owned(),
            "find_client",
            "forbidden",
        ),
    ];
    for (i, (question, tool, kind)) in checks.iter().enumerate() {
        let reply = ask(&agents, &caller, question).await;
        assert_eq!(reply.intent, *tool);
        assert_eq!(
            reply.tool_calls[0].result["error"], *kind,
            "{:?}",
            reply.tool_calls
        );
        let result = reply.tool_calls[0].result.to_string();
        // What the model was sent back, too.
        let sent = messages(&fake.seen()[2 * i + 1].body).last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_owned();
        for secret in &secrets {
            assert!(
                !result.contains(secret.as_str()),
                "{secret} leaked in {result}"
            );
            assert!(
                !sent.contains(secret.as_str()),
                "{secret} sent to the model: {sent}"
            );
            assert!(
                !reply.answer.contains(secret.as_str()),
                "{secret} in {}",
                reply.answer
            );
        }
    }

    // Asked for another client's orders, the tool says a client sees only their own (not
    // the caller's orders as if they were the other's), and nothing of the other.
    let reply = ask(&agents, &caller, "orders of priya.patel@example.com").await;
    assert_eq!(reply.intent, "client_orders");
    let result = reply.tool_calls[0].result.to_string();
    assert_eq!(reply.tool_calls[0].result["error"], "forbidden", "{result}");
    assert!(!result.contains("Patel"), "{result}");
    assert!(!result.contains(&number), "{result}");
}

// --- failures ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_server_error_a_timeout_or_no_server_give_a_polite_answer() {
    let (db, _) = TestDb::with_demo_data(200).await;

    let fake = Fake::start(Vec::new())
        .await
        .always(Reply::Status(500, "internal error"));
    // Under the hybrid planner the rules still answer everyday questions: say which.
    let (s, _dir) = settings(&fake.base_url, "hybrid", None);
    let reply = ask(&agents_for(&db, &s), &Caller::staff(), "zxqv blorp wibble").await;
    assert_eq!(reply.intent, "smalltalk");
    assert!(
        reply.answer.contains("not available right now"),
        "{}",
        reply.answer
    );
    assert!(reply.answer.contains("500"), "{}", reply.answer);
    assert!(
        reply.answer.contains("everyday questions such as"),
        "{}",
        reply.answer
    );
    assert!(!reply.answer.contains("test-key"));
    assert_eq!(reply.llm_calls, 1);
    // async-openai retries a 5xx a few times with a short backoff, within the timeout.
    let tries = fake.seen().len();
    assert!((1..=4).contains(&tries), "{tries} requests");
    // With the LLM planner alone, nothing else answers: try again later.
    let (s, _dir) = settings(&fake.base_url, "llm", None);
    let reply = ask(&agents_for(&db, &s), &Caller::staff(), "anything").await;
    assert_eq!(reply.intent, "smalltalk");
    assert!(
        reply.answer.contains("try again in a moment"),
        "{}",
        reply.answer
    );

    // A 500 once, then an answer: the client's retry gets it.
    let fake = Fake::start(vec![
        Reply::Status(500, "internal error"),
        Reply::Json(text("Hello!", 10, 2)),
    ])
    .await;
    let (s, _dir) = settings(&fake.base_url, "llm", None);
    let reply = ask(&agents_for(&db, &s), &Caller::staff(), "anything").await;
    assert_eq!(reply.answer, "Hello!");

    let fake = Fake::start(vec![Reply::Slow(
        Duration::from_secs(5),
        text("too late", 1, 1),
    )])
    .await;
    let (s, _dir) = settings(&fake.base_url, "llm", Some("[llm]\ntimeout_secs = 1\n"));
    assert_eq!(s.llm.timeout_secs, 1);
    let started = std::time::Instant::now();
    let reply = ask(&agents_for(&db, &s), &Caller::staff(), "anything").await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.intent, "smalltalk");
    assert!(
        reply.answer.contains("not available right now"),
        "{}",
        reply.answer
    );
    assert!(reply.answer.contains("within 1 s"), "{}", reply.answer);

    // Nothing listening on the port.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let (s, _dir) = settings(&format!("http://127.0.0.1:{closed}/v1"), "llm", None);
    let reply = ask(&agents_for(&db, &s), &Caller::staff(), "anything").await;
    assert_eq!(reply.intent, "smalltalk");
    assert!(
        reply.answer.contains("could not be reached"),
        "{}",
        reply.answer
    );

    // A response that is not a chat completion.
    let fake = Fake::start(vec![Reply::Json(json!({ "hello": "world" }))]).await;
    let (s, _dir) = settings(&fake.base_url, "llm", None);
    let reply = ask(&agents_for(&db, &s), &Caller::staff(), "anything").await;
    assert_eq!(reply.intent, "smalltalk");
    assert!(
        reply.answer.contains("not available right now"),
        "{}",
        reply.answer
    );
}

#[tokio::test]
async fn malformed_arguments_and_unknown_tools_go_back_to_the_model_as_errors() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let fake = Fake::start(vec![
        Reply::Json(call("bad", "find_client", "{not json", 100, 10)),
        Reply::Json(call(
            "good",
            "find_client",
            r#"{"email":"priya@example.com"}"#,
            100,
            10,
        )),
        Reply::Json(text("Found Priya Sharma.", 100, 10)),
        Reply::Json(call(
            "evil",
            "drop_database",
            r#"{"confirm":true}"#,
            100,
            10,
        )),
        Reply::Json(text("I can't do that.", 100, 10)),
    ])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "llm", None);
    let agents = agents_for(&db, &settings);

    let reply = ask(&agents, &Caller::staff(), "find priya@example.com").await;
    assert_eq!(reply.answer, "Found Priya Sharma.");
    assert_eq!(reply.llm_calls, 3);
    assert_eq!(reply.intent, "find_client");
    assert_eq!(reply.tool_calls.len(), 2);
    assert_eq!(reply.tool_calls[0].result["error"], "bad_args");
    assert_eq!(reply.tool_calls[0].args, json!("{not json"));
    assert!(reply.tool_calls[1]
        .result
        .to_string()
        .contains("Priya Sharma"));
    let seen = fake.seen();
    let error = messages(&seen[1].body).last().unwrap().clone();
    assert_eq!(error["role"], "tool");
    assert_eq!(error["tool_call_id"], "bad");
    let content: Value = serde_json::from_str(error["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["error"], "bad_args");
    assert!(
        content["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{content}"
    );

    let reply = ask(&agents, &Caller::staff(), "drop the database").await;
    assert_eq!(reply.answer, "I can't do that.");
    assert_eq!(reply.intent, "smalltalk", "an unknown tool is no intent");
    assert_eq!(reply.tool_calls[0].name, "drop_database");
    assert_eq!(reply.tool_calls[0].result["error"], "unknown_tool");
    let seen = fake.seen();
    let error = messages(&seen[4].body).last().unwrap().clone();
    assert_eq!(error["role"], "tool");
    assert_eq!(error["tool_call_id"], "evil");
    let content: Value = serde_json::from_str(error["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["error"], "unknown_tool");
    assert!(
        content["message"].as_str().unwrap().contains("find_client"),
        "lists the real tools: {content}"
    );
    // The database is still there.
    assert!(!db.store.is_empty().await.unwrap());
}

#[tokio::test]
async fn a_tool_the_role_may_not_use_is_refused_by_the_registry() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let caller = priya(&db).await;
    let fake = Fake::start(vec![
        Reply::Json(call(
            "pay",
            "record_payment",
            r#"{"order":"12345"}"#,
            100,
            10,
        )),
        Reply::Json(text("Only staff can record payments.", 100, 10)),
    ])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "llm", None);
    let reply = ask(
        &agents_for(&db, &settings),
        &caller,
        "mark my order 12345 as paid",
    )
    .await;
    assert_eq!(reply.intent, "record_payment");
    assert_eq!(reply.tool_calls[0].result["error"], "forbidden");
    assert_eq!(reply.answer, "Only staff can record payments.");
}

#[tokio::test]
async fn a_model_that_keeps_calling_tools_is_stopped_after_the_last_round() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let fake = Fake::start(Vec::new()).await.always(Reply::Json(call(
        "again",
        "course_info",
        r#"{"course":"Pilates"}"#,
        100,
        10,
    )));
    let (settings, _dir) = settings(&fake.base_url, "llm", Some("[llm]\nmax_tool_rounds = 2\n"));
    let reply = ask(
        &agents_for(&db, &settings),
        &Caller::staff(),
        "tell me about pilates",
    )
    .await;
    assert_eq!(reply.llm_calls, 3, "two rounds of tools and a last call");
    assert_eq!(reply.tool_calls.len(), 2);
    assert_eq!(reply.intent, "course_info");
    assert_eq!((reply.prompt_tokens, reply.completion_tokens), (300, 30));
    assert!(reply.answer.contains("Pilates"), "{}", reply.answer);
    assert!(
        reply.answer.contains("stopped after 2 rounds"),
        "{}",
        reply.answer
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].body.get("tool_choice").is_none());
    assert_eq!(
        seen[2].body["tool_choice"], "none",
        "the last call may not use tools"
    );
}

// --- hybrid ------------------------------------------------------------------------------------

#[tokio::test]
async fn hybrid_asks_the_model_only_what_the_rules_cannot_place() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let fake = Fake::start(vec![Reply::Json(text(
        "Sorry, I didn't get that.",
        100,
        10,
    ))])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "hybrid", None);
    let agents = agents_for(&db, &settings);

    let reply = ask(
        &agents,
        &Caller::staff(),
        "Find client by email priya@example.com",
    )
    .await;
    assert_eq!(reply.planner, "rules");
    assert_eq!(reply.intent, "find_client");
    assert!(reply.answer.contains("Priya Sharma"), "{}", reply.answer);
    assert_eq!(reply.llm_calls, 0);
    assert!(
        fake.seen().is_empty(),
        "the rules answered without the model"
    );

    let reply = ask(&agents, &Caller::staff(), "zxqv blorp wibble").await;
    assert_eq!(reply.planner, "llm");
    assert_eq!(reply.answer, "Sorry, I didn't get that.");
    assert_eq!(reply.llm_calls, 1);
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(
        messages(&fake.seen()[0].body).last().unwrap()["content"],
        "zxqv blorp wibble"
    );
}

#[tokio::test]
async fn a_long_list_is_shown_as_it_is_without_a_second_model_call() {
    use futures::TryStreamExt;
    let (db, _) = TestDb::with_demo_data(200).await;
    // Every pending payment's client, read straight from the documents.
    let pending: Vec<bson::Document> = db
        .store
        .raw()
        .database()
        .collection::<bson::Document>("payments")
        .find(bson::doc! { "status": "pending" })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        pending.len() >= 10,
        "the demo data has many pending payments"
    );
    let fake = Fake::start(vec![
        Reply::Json(call("call_1", "pending_payments", "{}", 900, 10)),
        Reply::Json(text("(this second answer must not be asked for)", 1, 1)),
    ])
    .await;
    let (settings, _dir) = settings(&fake.base_url, "llm", None);
    let agents = agents_for(&db, &settings);

    let reply = ask(&agents, &Caller::staff(), "Which payments are still open?").await;
    assert_eq!(reply.intent, "pending_payments");
    assert_eq!(
        reply.llm_calls, 1,
        "the list is the answer: {}",
        reply.answer
    );
    assert_eq!(fake.seen().len(), 1);
    assert!(reply.answer.chars().count() > 1_200, "{}", reply.answer);
    assert!(!reply.answer.contains("must not be asked"));
    // The answer is the tool's own text, whole: the count and every listed row.
    assert!(
        reply
            .answer
            .starts_with(&format!("{} pending payments", pending.len())),
        "{}",
        reply.answer
    );
    let rows = reply.answer.lines().filter(|l| l.starts_with("• ")).count();
    assert_eq!(rows, pending.len().min(25));
}

#[tokio::test]
async fn a_slow_answer_shows_typing_in_its_channel_until_it_is_sent() {
    use crate::gateway::{gateway_settings, gateway_with, run, slack, Recorder};
    use frontdesk::gateway::{Outcome, TYPING_AFTER};

    let (db, _) = TestDb::with_demo_data(20).await;
    let think = TYPING_AFTER + Duration::from_millis(700);
    let fake = Fake::start(vec![Reply::Slow(
        think,
        text("Namaste! How can I help?", 10, 5),
    )])
    .await;
    let (s, _dir) = settings(&fake.base_url, "llm", None);
    let gw = gateway_with(&db, gateway_settings(), &s);
    let rec = Arc::new(Recorder::default());
    let msg = slack("C_SUPPORT", "U_BOB", &["S_STAFF"], "hello there", "EvSlow1");
    let outcome = run(&gw, &rec, msg).await;
    assert!(matches!(outcome, Outcome::Answered { .. }), "{outcome:?}");
    assert_eq!(rec.texts(), ["Namaste! How can I help?"]);
    // Shown once, in the channel asked in; not renewed after the answer went.
    assert_eq!(*rec.typing.lock().unwrap(), ["C_SUPPORT"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rec.typing.lock().unwrap().len(), 1);
}

/// A server of one's own (Ollama, vLLM) needs no key: `OPENAI_BASE_URL` alone turns the
/// LLM on (hybrid by default), and no key is sent.
#[tokio::test]
async fn a_local_server_is_used_without_a_key() {
    let (db, _) = TestDb::with_demo_data(50).await;
    let fake = Fake::start(vec![Reply::Json(text(
        "Hello from the local model.",
        10,
        5,
    ))])
    .await;
    let settings = crate::harness::settings(&[
        ("OPENAI_BASE_URL", fake.base_url.as_str()),
        ("FRONTDESK_PLANNER", "llm"),
    ]);
    assert!(settings.llm.api_key.is_none());
    let agents = agents_for(&db, &settings);
    let reply = ask(&agents, &Caller::staff(), "tell me something nice").await;
    assert_eq!(reply.planner, "llm");
    assert_eq!(reply.answer, "Hello from the local model.");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .authorization
            .as_deref()
            .is_none_or(|a| a.trim() == "Bearer"),
        "{:?}",
        seen[0].authorization
    );
    // Without FRONTDESK_PLANNER the base URL alone picks the hybrid planner.
    let default = crate::harness::settings(&[("OPENAI_BASE_URL", fake.base_url.as_str())]);
    assert_eq!(default.llm.planner, frontdesk::config::PlannerKind::Hybrid);
    // Neither key nor URL: the rules.
    assert_eq!(
        crate::harness::settings(&[]).llm.planner,
        frontdesk::config::PlannerKind::Rules
    );
}
