//! [`SlackAdapter`]: connects with the bot token, knows who the bot is, turns event callbacks
//! into [`Inbound`]s for the gateway and sends [`Outbound`]s with `chat.postMessage`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use frontdesk_chat::{
    retry_rate_limited, AdapterError, ChatAdapter, DynChatAdapter, Inbound, Outbound, Pacer,
    Platform, SharedHandler,
};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackApiToken;

use crate::events::user_message;
use crate::user_groups::UserGroups;
use crate::web_api::{self, WebApi};
use crate::{events_api, files, render, socket_mode, SlackConfig};

/// The least time between two messages to one channel (Slack: about one per second).
const CHANNEL_INTERVAL: Duration = Duration::from_secs(1);

/// Slack error codes that mean the token itself is refused.
const AUTH_ERRORS: [&str; 6] = [
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
];

/// Who the bot is, as `auth.test` reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    /// The bot's user id (`U…`), as it appears in mentions and in `user` of its messages.
    pub user_id: String,
    /// The bot id (`B…`), as it appears in `bot_id` of its messages.
    pub bot_id: Option<String>,
    /// The team (workspace) id (`T…`).
    pub team_id: String,
}

/// The Slack side of frontdesk for one workspace.
pub struct SlackAdapter {
    pub(crate) config: SlackConfig,
    pub(crate) api: WebApi,
    bot_token: SlackApiToken,
    identity: BotIdentity,
    pacer: Pacer,
    user_groups: UserGroups,
}

impl std::fmt::Debug for SlackAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackAdapter")
            .field("config", &self.config)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl SlackAdapter {
    /// Checks the bot token with `auth.test` and remembers the bot's user id, bot id and team.
    ///
    /// # Errors
    /// [`AdapterError::BadToken`] when Slack refuses the token (e.g. `invalid_auth`), or it is
    /// empty; [`AdapterError::Transport`] when Slack cannot be reached or the base URL is
    /// unusable.
    pub async fn connect(config: SlackConfig) -> Result<Arc<Self>, AdapterError> {
        if config.bot_token.trim().is_empty() {
            return Err(bad_token("empty bot token"));
        }
        let api = WebApi::new(config.api_url())?;
        let bot_token = web_api::token(&config.bot_token);
        let answer = api
            .post(&bot_token, "auth.test", &json!({}))
            .await
            .map_err(auth_error)?;
        let field = |key: &str| answer.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(user_id), Some(team_id)) = (field("user_id"), field("team_id")) else {
            return Err(AdapterError::Transport(
                "auth.test answer lacks user_id or team_id".into(),
            ));
        };
        let identity = BotIdentity {
            user_id,
            bot_id: field("bot_id"),
            team_id,
        };
        tracing::info!(?identity, "connected to slack");
        Ok(Arc::new(Self {
            config,
            api,
            bot_token,
            identity,
            pacer: Pacer::new(CHANNEL_INTERVAL),
            user_groups: UserGroups::default(),
        }))
    }

    /// Returns who the bot is.
    #[must_use]
    pub fn identity(&self) -> &BotIdentity {
        &self.identity
    }

    /// Receives events over Socket Mode until the app token is refused; see
    /// [`socket_mode`](crate::socket_mode). Reconnects by itself after a `disconnect` or a
    /// dropped connection.
    ///
    /// # Errors
    /// [`AdapterError::BadToken`] when no app token is configured or Slack refuses it.
    pub async fn run_socket_mode(
        self: Arc<Self>,
        handler: SharedHandler,
    ) -> Result<(), AdapterError> {
        socket_mode::run(self, handler).await
    }

    /// Returns the router serving `POST /webhooks/slack/events`; see
    /// [`events_api`](crate::events_api). Without a signing secret every request is refused.
    pub fn events_router(self: Arc<Self>, handler: SharedHandler) -> axum::Router {
        events_api::router(self, handler)
    }

    /// Turns an event callback into an [`Inbound`] and hands it to `handler`, or logs why
    /// it is ignored. Called on its own task once Slack has been acknowledged.
    pub(crate) async fn deliver(self: Arc<Self>, handler: SharedHandler, callback: Value) {
        let Some(inbound) = self.inbound(&callback).await else {
            return;
        };
        tracing::debug!(event_id = %inbound.event_id, channel = %inbound.channel, "slack message");
        let reply_via: Arc<dyn DynChatAdapter> = self;
        handler.handle(inbound, reply_via).await;
    }

    /// Builds the [`Inbound`] for a user message in `callback`.
    async fn inbound(&self, callback: &Value) -> Option<Inbound> {
        let message = match user_message(callback, &self.identity) {
            Ok(message) => message,
            Err(why) => {
                tracing::debug!(%why, "slack event ignored");
                return None;
            }
        };
        let roles = self
            .user_groups
            .of_user(&self.api, &self.bot_token, &message.user)
            .await;
        let team = message
            .team
            .unwrap_or_else(|| self.identity.team_id.clone());
        // One message mentioning the bot arrives twice, as a `message` and as an
        // `app_mention` event with different event ids, perhaps at two instances; Slack
        // retries an event with its own id. The message's channel and `ts` are the same
        // in all of them: the gateway's claim of that id in the database lets one through.
        tracing::debug!(slack_event_id = %message.event_id, "slack event");
        let message_id = format!("{}/{}", message.channel, message.ts);
        let mut inbound = Inbound::new(
            Platform::Slack,
            message.channel,
            message.user,
            message.text,
            message_id,
            Utc::now(),
        )
        .with_workspace(team)
        .with_roles(roles)
        .with_direct(message.is_direct);
        inbound.thread = message.thread;
        inbound.user_name = message.user_name;
        Some(inbound)
    }
}

impl ChatAdapter for SlackAdapter {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    /// Posts `out` to its channel and thread: the escaped text in parts of at most 4,000
    /// characters, a table as Block Kit blocks, each part paced 1 s per channel and retried
    /// after a 429; then the image, if any, as a file upload whose failure is only logged.
    async fn send(&self, out: &Outbound) -> Result<(), AdapterError> {
        self.post(out).await.map(|_| ())
    }

    /// As `send`, returning the `ts` of the first message posted (a thread's root).
    async fn post(&self, out: &Outbound) -> Result<Option<String>, AdapterError> {
        let thread = out.thread.as_deref();
        let mut first_ts = None;
        for message in render::plan(out) {
            let body = message.to_body(&out.channel, thread);
            self.pacer.wait_turn(&out.channel).await;
            let answer =
                retry_rate_limited(|| self.api.post(&self.bot_token, "chat.postMessage", &body))
                    .await?;
            if first_ts.is_none() {
                first_ts = answer
                    .get("ts")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned);
            }
        }
        if let Some(image) = &out.image {
            if let Err(err) =
                files::upload(&self.api, &self.bot_token, &out.channel, thread, image).await
            {
                tracing::warn!(error = %err, file = %image.file_name, "slack image upload failed; sent without it");
            }
        }
        Ok(first_ts)
    }

    /// Slack has no typing indicator for bots posting with `chat.postMessage`.
    async fn typing(&self, _channel: &str) -> Result<(), AdapterError> {
        Ok(())
    }
}

/// Returns the error for a refused token.
pub(crate) fn bad_token(reason: impl Into<String>) -> AdapterError {
    AdapterError::BadToken {
        platform: Platform::Slack,
        reason: reason.into(),
    }
}

/// Turns a rejection naming a token problem into [`AdapterError::BadToken`].
pub(crate) fn auth_error(err: AdapterError) -> AdapterError {
    match err {
        AdapterError::Rejected(code) if AUTH_ERRORS.contains(&code.as_str()) => bad_token(code),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_token_and_bad_scheme_fail_without_network() {
        let err = SlackAdapter::connect(SlackConfig::new("  "))
            .await
            .unwrap_err();
        assert_eq!(err, bad_token("empty bot token"));
        let err = SlackAdapter::connect(SlackConfig::new("xoxb-1").with_api_url("ws://x/api"))
            .await
            .unwrap_err();
        assert!(matches!(err, AdapterError::Transport(_)), "{err:?}");
    }

    #[tokio::test]
    async fn https_url_builds_a_tls_client_and_fails_as_transport() {
        // Port 1 on the loopback refuses the connection: the TLS connector is built (root
        // certificates loaded, crypto provider chosen) and the failure is a transport error.
        let config = SlackConfig::new("xoxb-1").with_api_url("https://127.0.0.1:1/api");
        let err = SlackAdapter::connect(config).await.unwrap_err();
        assert!(matches!(err, AdapterError::Transport(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_unreachable_slack_is_a_transport_error_naming_the_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let config =
            SlackConfig::new("xoxb-1").with_api_url(format!("http://127.0.0.1:{port}/api"));
        let err = SlackAdapter::connect(config).await.unwrap_err();
        let AdapterError::Transport(why) = &err else {
            panic!("{err:?}");
        };
        assert!(
            why.to_lowercase().contains("connection refused") && !why.contains("Some("),
            "{why}"
        );
    }

    #[test]
    fn auth_codes_become_bad_token() {
        assert_eq!(
            auth_error(AdapterError::Rejected("invalid_auth".into())),
            bad_token("invalid_auth")
        );
        assert_eq!(
            auth_error(AdapterError::Rejected("channel_not_found".into())),
            AdapterError::Rejected("channel_not_found".into())
        );
    }
}
