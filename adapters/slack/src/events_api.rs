//! The Events API endpoint, `POST /webhooks/slack/events`, as an axum router to merge into
//! frontdesk's HTTP server.
//!
//! Every request must carry `X-Slack-Signature: v0=<hex HMAC-SHA256>` of
//! `v0:{X-Slack-Request-Timestamp}:{raw body}` under the signing secret, with a timestamp
//! within five minutes of now (checked in constant time by slack-morphism's
//! `SlackEventSignatureVerifier`); anything else gets 401 and is not handled. A
//! `url_verification` request is answered with its challenge. An `event_callback` is
//! acknowledged with 200 at once and handled on its own task.
//!
//! Deliveries are not deduplicated here: Slack retries an unanswered event with
//! `X-Slack-Retry-Num`, and the retry carries the same `event_id`, which the gateway dedupes on.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use frontdesk_chat::SharedHandler;
use serde_json::{json, Value};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

use crate::SlackAdapter;

/// The path of the Events API endpoint.
pub const EVENTS_PATH: &str = "/webhooks/slack/events";

/// What the route needs.
struct Endpoint {
    adapter: Arc<SlackAdapter>,
    handler: SharedHandler,
    verifier: Option<SlackEventSignatureVerifier>,
}

/// Builds the router; see the module documentation.
pub(crate) fn router(adapter: Arc<SlackAdapter>, handler: SharedHandler) -> Router {
    let verifier = adapter
        .config
        .signing_secret
        .as_deref()
        .filter(|secret| !secret.is_empty())
        .map(|secret| SlackEventSignatureVerifier::new(&SlackSigningSecret(secret.to_owned())));
    if verifier.is_none() {
        tracing::error!(
            "slack events api mounted without a signing secret: every request is refused"
        );
    }
    let endpoint = Arc::new(Endpoint {
        adapter,
        handler,
        verifier,
    });
    Router::new()
        .route(EVENTS_PATH, post(receive))
        .with_state(endpoint)
}

async fn receive(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(verifier), Some(signature), Some(timestamp)) = (
        endpoint.verifier.as_ref(),
        header("x-slack-signature"),
        header("x-slack-request-timestamp"),
    ) else {
        tracing::debug!("slack event without signature headers or secret refused");
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if let Err(err) = verifier.verify(signature, text, timestamp) {
        tracing::warn!(error = %err, "slack event with a bad or stale signature refused");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let payload: Value = match serde_json::from_str(text) {
        Ok(payload) => payload,
        Err(err) => {
            tracing::warn!(error = %err, "signed slack event is not json");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    match payload.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = payload.get("challenge").cloned().unwrap_or(Value::Null);
            Json(json!({ "challenge": challenge })).into_response()
        }
        Some("event_callback") => {
            if let Some(retry) = header("x-slack-retry-num") {
                let event_id = payload
                    .get("event_id")
                    .and_then(Value::as_str)
                    .unwrap_or("-");
                tracing::info!(
                    retry,
                    reason = header("x-slack-retry-reason").unwrap_or("-"),
                    event_id,
                    "slack redelivered an event"
                );
            }
            let adapter = endpoint.adapter.clone();
            tokio::spawn(adapter.deliver(endpoint.handler.clone(), payload));
            StatusCode::OK.into_response()
        }
        other => {
            tracing::debug!(kind = other.unwrap_or("-"), "slack request ignored");
            StatusCode::OK.into_response()
        }
    }
}
