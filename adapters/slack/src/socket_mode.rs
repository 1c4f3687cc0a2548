//! The Socket Mode client: `apps.connections.open` with the app token gives a websocket URL;
//! every envelope received is acknowledged (`{"envelope_id": …}`) before anything else, and an
//! `events_api` envelope's payload is then handled on its own task.
//!
//! A `disconnect` message (Slack refreshes connections every few hours) closes the socket and
//! reconnects at once (except `link_disabled`, which backs off); a dropped or refused
//! connection reconnects after a backoff of 1 s
//! doubling to 30 s, reset once a connection says `hello`. Only a refused app token ends
//! [`run`].

use std::sync::Arc;
use std::time::Duration;

use frontdesk_chat::{AdapterError, SharedHandler};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackApiToken;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

use crate::adapter::{auth_error, bad_token};
use crate::web_api::token;
use crate::{tls, SlackAdapter};

/// The first wait before reconnecting after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long opening the websocket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the connection may stay silent before a ping, and again before reconnecting
/// (Slack pings every few seconds, so this only fires on a dead connection).
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// How one connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ended {
    /// Slack asked to reconnect (`disconnect`): do it now.
    refresh: bool,
    /// The connection said `hello`, so it worked.
    was_up: bool,
}

impl Ended {
    const FAILED: Self = Self {
        refresh: false,
        was_up: false,
    };
}

/// Runs Socket Mode until the app token is refused.
///
/// # Errors
/// [`AdapterError::BadToken`] when no app token is configured or Slack refuses it.
pub(crate) async fn run(
    adapter: Arc<SlackAdapter>,
    handler: SharedHandler,
) -> Result<(), AdapterError> {
    let app_token = adapter
        .config
        .app_token
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            bad_token("socket mode needs an app-level token (xapp-…) in SlackConfig::app_token")
        })?;
    let app_token = token(app_token);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let ended = connection(&adapter, &handler, &app_token).await?;
        if ended.was_up {
            backoff = FIRST_BACKOFF;
        }
        if !ended.refresh {
            tracing::info!(
                wait_ms = backoff.as_millis(),
                "slack socket mode reconnecting"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Opens one connection and serves it until it ends.
async fn connection(
    adapter: &Arc<SlackAdapter>,
    handler: &SharedHandler,
    app_token: &SlackApiToken,
) -> Result<Ended, AdapterError> {
    let url = match adapter
        .api
        .post(app_token, "apps.connections.open", &json!({}))
        .await
        .map_err(auth_error)
    {
        Ok(answer) => answer.get("url").and_then(Value::as_str).map(str::to_owned),
        Err(err @ AdapterError::BadToken { .. }) => return Err(err),
        Err(err) => {
            tracing::warn!(error = %err, "slack apps.connections.open failed");
            return Ok(Ended::FAILED);
        }
    };
    let Some(url) = url else {
        tracing::warn!("slack apps.connections.open answered without a url");
        return Ok(Ended::FAILED);
    };
    let connector = if url.to_ascii_lowercase().starts_with("wss://") {
        Some(Connector::Rustls(tls::client_config()?))
    } else {
        None
    };
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, false, connector);
    let socket = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "slack socket mode connection failed");
            return Ok(Ended::FAILED);
        }
        Err(_) => {
            tracing::warn!("slack socket mode connection timed out");
            return Ok(Ended::FAILED);
        }
    };
    let (mut write, mut read) = socket.split();
    let mut ended = Ended::FAILED;
    let mut pinged = false;
    loop {
        // A half-open connection never ends by itself: after a quiet spell, ping; after a
        // second one with no answer at all, reconnect.
        let frame = match tokio::time::timeout(IDLE_TIMEOUT, read.next()).await {
            Ok(Some(frame)) => {
                pinged = false;
                frame
            }
            Ok(None) => break,
            Err(_) if !pinged => {
                pinged = true;
                if write.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
                continue;
            }
            Err(_) => {
                tracing::warn!("slack socket mode connection went quiet; reconnecting");
                break;
            }
        };
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(err) => {
                tracing::warn!(error = %err, "slack socket mode connection lost");
                break;
            }
        };
        let envelope: Value = match serde_json::from_str(text.as_str()) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(error = %err, "slack socket mode message is not json");
                continue;
            }
        };
        if let Some(id) = envelope.get("envelope_id").and_then(Value::as_str) {
            let ack = json!({ "envelope_id": id }).to_string();
            if let Err(err) = write.send(Message::text(ack)).await {
                tracing::warn!(error = %err, "slack socket mode ack failed");
                break;
            }
        }
        match envelope.get("type").and_then(Value::as_str) {
            Some("hello") => {
                tracing::info!("slack socket mode connected");
                ended.was_up = true;
            }
            Some("disconnect") => {
                let reason = envelope
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("-");
                tracing::info!(reason, "slack asked socket mode to reconnect");
                // `link_disabled` (Socket Mode turned off) is not a refresh: back off.
                ended.refresh = ended.was_up && reason != "link_disabled";
                let _ = write.send(Message::Close(None)).await;
                break;
            }
            Some("events_api") => match envelope.get("payload") {
                Some(payload) => {
                    tokio::spawn(adapter.clone().deliver(handler.clone(), payload.clone()));
                }
                None => tracing::warn!("slack events_api envelope without payload"),
            },
            other => tracing::debug!(
                kind = other.unwrap_or("-"),
                "slack socket mode message ignored"
            ),
        }
    }
    Ok(ended)
}
