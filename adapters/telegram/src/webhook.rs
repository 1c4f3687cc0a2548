//! Webhook mode: the axum route Telegram posts updates to, guarded by the secret header, and
//! `setWebhook` to register it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use frontdesk_chat::{AdapterError, SharedHandler};
use subtle::ConstantTimeEq;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, Update};

use crate::config::validate_webhook_secret;
use crate::errors::adapter_error;
use crate::TelegramAdapter;

/// The path the router serves.
pub const WEBHOOK_PATH: &str = "/webhooks/telegram";

/// The header Telegram puts the webhook secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// What the webhook route needs.
#[derive(Clone)]
struct WebhookState {
    adapter: Arc<TelegramAdapter>,
    handler: SharedHandler,
}

impl TelegramAdapter {
    /// Returns a router serving `POST /webhooks/telegram`.
    ///
    /// A request without the configured secret in `X-Telegram-Bot-Api-Secret-Token`
    /// (compared in constant time) gets 401 and is not handled; with no secret configured every
    /// request gets 401. A good request is answered 200 at once and its update handed to
    /// `handler` on its own task; a body that is not an update gets 400.
    pub fn webhook_router(self: Arc<Self>, handler: SharedHandler) -> Router {
        if self.webhook_secret.is_none() {
            tracing::error!("telegram webhook_secret is not set: every webhook call will get 401");
        }
        Router::new()
            .route(WEBHOOK_PATH, post(receive_update))
            .with_state(WebhookState {
                adapter: self,
                handler,
            })
    }

    /// Registers `url` as the bot's webhook, with the configured secret and message updates
    /// only.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Rejected`] when no valid secret is configured, `url` is not a URL or
    /// Telegram refuses it; otherwise as any Bot API call.
    pub async fn set_webhook(&self, url: &str) -> Result<(), AdapterError> {
        let secret = self.webhook_secret.as_deref().ok_or_else(|| {
            AdapterError::Rejected(
                "telegram webhook_secret is not set; a webhook needs one".to_owned(),
            )
        })?;
        validate_webhook_secret(secret).map_err(AdapterError::Rejected)?;
        let url = url::Url::parse(url).map_err(|e| {
            AdapterError::Rejected(format!("webhook url `{url}` is not a URL: {e}"))
        })?;
        self.bot
            .set_webhook(url)
            .secret_token(secret)
            .allowed_updates([AllowedUpdate::Message])
            .await
            .map(drop)
            .map_err(adapter_error)
    }

    /// The URL of the webhook Telegram has for this bot, if one is set: another
    /// deployment (or this one, in webhook mode) receives the bot's messages there.
    ///
    /// # Errors
    /// As any Bot API call.
    pub async fn webhook_in_use(&self) -> Result<Option<String>, AdapterError> {
        let info = self.bot.get_webhook_info().await.map_err(adapter_error)?;
        Ok(info.url.map(|u| u.to_string()).filter(|u| !u.is_empty()))
    }

    /// Whether `given` is the configured secret; constant time for equal lengths.
    fn secret_matches(&self, given: Option<&[u8]>) -> bool {
        match (self.webhook_secret.as_deref(), given) {
            (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given)),
            _ => false,
        }
    }
}

/// Checks the secret, parses the update and hands it over on its own task.
async fn receive_update(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if !state.adapter.secret_matches(given) {
        tracing::warn!("telegram webhook call without the right secret; refused");
        return StatusCode::UNAUTHORIZED;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            tracing::warn!(error = %e, "telegram webhook body is not an update");
            return StatusCode::BAD_REQUEST;
        }
    };
    state.adapter.dispatch(&update, &state.handler);
    StatusCode::OK
}
