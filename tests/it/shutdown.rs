//! A real `frontdesk serve` process stopped with SIGTERM: the question in flight (held
//! up by a slow model server) is still answered, and the process exits 0 within the
//! grace period.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::harness::{server_url, TEST_ENCRYPTION_KEY};

const SECRET: &str = "a-secret-of-at-least-16-chars";

/// An OpenAI-compatible server that answers every completion after `wait`, and says
/// when a completion has arrived.
async fn slow_model(wait: Duration) -> (String, std::sync::Arc<tokio::sync::Notify>) {
    let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
    let tell = arrived.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |Json(_): Json<Value>| async move {
            tell.notify_one();
            tokio::time::sleep(wait).await;
            Json(json!({
                "id": "chatcmpl-slow",
                "object": "chat.completion",
                "created": 1_764_064_800,
                "model": "fake-model",
                "choices": [{ "index": 0, "finish_reason": "stop",
                    "message": { "role": "assistant", "content": "Answered after the wait." } }],
                "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 },
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{port}/v1"), arrived)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_what_is_in_flight_then_exits_0_on_sigterm() {
    let (model, arrived) = slow_model(Duration::from_millis(2500)).await;
    let database = format!("shutdown_{}", uuid::Uuid::new_v4().simple());
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("MONGODB_URL", server_url())
        .env("DATABASE_NAME", &database)
        .env("JWT_SECRET_KEY", SECRET)
        .env("FRONTDESK_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", &model)
        .env("FRONTDESK_PLANNER", "llm")
        .env("FRONTDESK_NLU", "off")
        .env("FRONTDESK_LOG_FORMAT", "human")
        .env_remove("TELEGRAM_BOT_TOKEN")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("DISCORD_BOT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(std::env::temp_dir().join("frontdesk-shutdown-test.log"))
                .map_or_else(|_| Stdio::null(), Stdio::from),
        )
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The first line names the address; the rest is read on, so serve never writes
    // into a closed pipe.
    let (first_line, first) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = first_line.send(lines.next().and_then(Result::ok).unwrap_or_default());
        for _ in lines {}
    });
    let first = first.await.unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    let token = frontdesk::api::JwtKeys::new(SECRET.as_bytes())
        .mint(
            "staff",
            "shutdown-test",
            chrono::Utc::now(),
            chrono::Duration::minutes(5),
        )
        .unwrap();
    let asked = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://{addr}/api/agents/support/query"))
            .bearer_auth(token)
            .json(&json!({ "query": "hello, what can you tell me?" }))
            .send()
            .await
    });
    // The question is with the slow model when the signal comes.
    tokio::time::timeout(Duration::from_secs(30), arrived.notified())
        .await
        .expect("the question reached the model");
    let signalled = Instant::now();
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let reply = asked
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert!(
        body.to_string().contains("Answered after the wait"),
        "{body}"
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "serve exited {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "serve took {:?} to stop",
        signalled.elapsed()
    );
}
