//! Starts the chat adapters whose tokens are set, each behind its cargo feature, and hands
//! their messages to the [`Gateway`]. A bad or missing token stops only that platform,
//! with a clear message naming it; the others keep running.

use std::fmt;

use frontdesk_chat::{Platform, SharedHandler};
use tokio::task::JoinSet;

use super::Gateway;
use crate::config::Settings;
use crate::integrations::ChatRoutes;

/// How one platform fared at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterState {
    /// No token: not started.
    Off(&'static str),
    /// Connected; the text says how messages arrive ("long polling", "Socket Mode"…).
    Running(String),
    /// The token or settings were refused.
    Failed(String),
}

/// One line of the start-up report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterStatus {
    pub platform: Platform,
    pub state: AdapterState,
}

impl fmt::Display for AdapterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            AdapterState::Off(why) => write!(f, "{:<9} off: {why}", self.platform.as_str()),
            AdapterState::Running(how) => {
                write!(f, "{:<9} running ({how})", self.platform.as_str())
            }
            AdapterState::Failed(why) => {
                write!(f, "{:<9} NOT running: {why}", self.platform.as_str())
            }
        }
    }
}

/// The running adapters: their background tasks, the webhook routes to serve, and the
/// start-up report.
pub struct ChatAdapters {
    pub tasks: JoinSet<()>,
    pub webhooks: axum::Router,
    pub status: Vec<AdapterStatus>,
    /// Further start-up lines (the providers) for the operator.
    pub status_lines: Vec<String>,
}

impl fmt::Debug for ChatAdapters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatAdapters")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Connects every platform whose token is set, starts receiving, and registers each
/// running adapter in `routes` for proactive messages (reminders, the digest).
pub async fn start(settings: &Settings, gateway: &Gateway, routes: &ChatRoutes) -> ChatAdapters {
    let handler: SharedHandler = std::sync::Arc::new(gateway.clone());
    let mut adapters = ChatAdapters {
        tasks: JoinSet::new(),
        webhooks: axum::Router::new(),
        status: Vec::new(),
        status_lines: Vec::new(),
    };
    let telegram = telegram::start(settings, &handler, &mut adapters, routes).await;
    adapters.status.push(status(Platform::Telegram, telegram));
    let slack = slack::start(settings, &handler, &mut adapters, routes).await;
    adapters.status.push(status(Platform::Slack, slack));
    let discord = discord::start(settings, &handler, &mut adapters, routes).await;
    adapters.status.push(status(Platform::Discord, discord));
    for line in &adapters.status {
        match &line.state {
            AdapterState::Failed(_) => tracing::error!(platform = %line.platform, "{line}"),
            _ => tracing::info!(platform = %line.platform, "{line}"),
        }
    }
    adapters
}

fn status(platform: Platform, state: AdapterState) -> AdapterStatus {
    AdapterStatus { platform, state }
}

/// Connects an adapter with its config: `Off(missing)` when its token is not set,
/// `Failed` when the platform refused it.
#[cfg_attr(
    not(any(feature = "telegram", feature = "slack", feature = "discord")),
    allow(dead_code)
)]
async fn connect<C, A, E, F>(
    config: Option<C>,
    missing: &'static str,
    connect: impl FnOnce(C) -> F,
) -> Result<A, AdapterState>
where
    F: std::future::Future<Output = Result<A, E>>,
    E: fmt::Display,
{
    let config = config.ok_or(AdapterState::Off(missing))?;
    connect(config)
        .await
        .map_err(|e| AdapterState::Failed(e.to_string()))
}

/// What `doctor` says of a token the platform accepted, or why it was not.
#[cfg_attr(not(any(feature = "slack", feature = "discord")), allow(dead_code))]
fn accepted<A>(connected: Result<A, AdapterState>) -> AdapterState {
    connected.map_or_else(
        |state| state,
        |_| AdapterState::Running("token accepted".into()),
    )
}

/// Runs an adapter's receive loop; its end is logged with the platform's name.
#[cfg_attr(
    not(any(feature = "telegram", feature = "slack", feature = "discord")),
    allow(dead_code)
)]
fn spawn_receiver<F>(tasks: &mut JoinSet<()>, platform: Platform, run: F)
where
    F: std::future::Future<Output = Result<(), frontdesk_chat::AdapterError>> + Send + 'static,
{
    tasks.spawn(async move {
        match run.await {
            Ok(()) => tracing::info!(%platform, "adapter stopped"),
            Err(e) => tracing::error!(%platform, error = %e, "adapter stopped"),
        }
    });
}

/// The module of a platform built without its cargo feature: never started, and says so.
#[allow(unused_macros)]
macro_rules! built_without {
    ($platform:ident, $feature:literal) => {
        mod $platform {
            use frontdesk_chat::SharedHandler;

            use super::{AdapterState, ChatAdapters};
            use crate::config::Settings;
            use crate::integrations::ChatRoutes;

            const OFF: &str = concat!("built without the ", $feature, " feature");

            pub(super) async fn check(_: &Settings) -> AdapterState {
                AdapterState::Off(OFF)
            }

            pub(super) async fn start(
                _: &Settings,
                _: &SharedHandler,
                _: &mut ChatAdapters,
                _: &ChatRoutes,
            ) -> AdapterState {
                AdapterState::Off(OFF)
            }
        }
    };
}

/// Checks each configured token without starting anything, for `frontdesk doctor`.
pub async fn check_tokens(settings: &Settings) -> Vec<AdapterStatus> {
    vec![
        status(Platform::Telegram, telegram::check(settings).await),
        status(Platform::Slack, slack::check(settings).await),
        status(Platform::Discord, discord::check(settings).await),
    ]
}

#[cfg(feature = "telegram")]
mod telegram {
    use frontdesk_chat::{AdapterError, Platform, SharedHandler};
    use frontdesk_telegram::{TelegramAdapter, TelegramConfig};

    use super::{connect, spawn_receiver, AdapterState, ChatAdapters};
    use crate::config::Settings;
    use crate::integrations::ChatRoutes;

    const MISSING: &str = "TELEGRAM_BOT_TOKEN is not set";

    fn config(settings: &Settings) -> Option<TelegramConfig> {
        let telegram = settings.adapters.telegram.as_ref()?;
        let mut config = TelegramConfig::new(telegram.bot_token.expose());
        if let Some(url) = &telegram.api_url {
            config = config.with_api_url(url);
        }
        if let Some(secret) = &telegram.webhook_secret {
            config = config.with_webhook_secret(secret.expose());
        }
        Some(config)
    }

    /// Whether long polling may start. Polling deletes the bot's webhook: never silently
    /// when another deployment set one (a laptop demo on the production token would take
    /// every message away from it), unless `take_over`.
    async fn may_poll(bot: &TelegramAdapter, take_over: bool) -> Result<(), String> {
        match bot.webhook_in_use().await {
            Ok(Some(url)) if !take_over => Err(format!(
                "this bot's messages go to a webhook at {url} (another deployment): set TELEGRAM_WEBHOOK_URL to serve them here too, or TELEGRAM_TAKE_OVER_WEBHOOK=1 to delete that webhook and poll"
            )),
            Ok(Some(url)) => {
                tracing::warn!(%url, "deleting another deployment's telegram webhook (TELEGRAM_TAKE_OVER_WEBHOOK)");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "telegram getWebhookInfo failed; polling anyway");
                Ok(())
            }
        }
    }

    /// Connects once Telegram answers: a refused token ends it, a network error is
    /// logged with the URL and its cause and tried again after 1 s, 2 s … up to 30 s.
    async fn connect_when_reachable(
        config: TelegramConfig,
        api: &str,
    ) -> Result<std::sync::Arc<TelegramAdapter>, AdapterError> {
        let mut wait = std::time::Duration::from_secs(1);
        loop {
            match TelegramAdapter::connect(config.clone()).await {
                Ok(bot) => {
                    tracing::info!(url = %api, "telegram answers: long polling starts");
                    return Ok(bot);
                }
                Err(e @ (AdapterError::Transport(_) | AdapterError::RateLimited { .. })) => {
                    tracing::warn!(url = %api, error = %e, retry_in = ?wait, "telegram not reachable");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(30));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) async fn check(settings: &Settings) -> AdapterState {
        match connect(config(settings), MISSING, TelegramAdapter::connect).await {
            Ok(bot) => AdapterState::Running(format!(
                "token accepted for @{}",
                bot.bot_username().unwrap_or("the bot")
            )),
            Err(state) => state,
        }
    }

    pub(super) async fn start(
        settings: &Settings,
        handler: &SharedHandler,
        adapters: &mut ChatAdapters,
        routes: &ChatRoutes,
    ) -> AdapterState {
        let Some(telegram) = &settings.adapters.telegram else {
            return AdapterState::Off(MISSING);
        };
        let webhook_url = telegram.webhook_url.as_deref();
        if webhook_url.is_some() && telegram.webhook_secret.is_none() {
            return AdapterState::Failed(
                "TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is not: webhooks need a secret (1-256 of A-Z a-z 0-9 _ -)".into(),
            );
        }
        let Some(config) = config(settings) else {
            return AdapterState::Off(MISSING);
        };
        let bot = match TelegramAdapter::connect(config.clone()).await {
            Ok(bot) => bot,
            // Telegram unreachable (not a refused token): long polling keeps trying in the
            // background, and starts once it answers.
            Err(e @ (AdapterError::Transport(_) | AdapterError::RateLimited { .. }))
                if webhook_url.is_none() =>
            {
                let api = config
                    .api_url
                    .clone()
                    .unwrap_or_else(|| "https://api.telegram.org".to_owned());
                let state = format!("waiting for {api} ({e}); retrying in the background");
                let (handler, routes) = (handler.clone(), routes.clone());
                let take_over = telegram.take_over_webhook;
                spawn_receiver(&mut adapters.tasks, Platform::Telegram, async move {
                    let bot = connect_when_reachable(config, &api).await?;
                    routes.register(Platform::Telegram, bot.clone());
                    may_poll(&bot, take_over)
                        .await
                        .map_err(AdapterError::Rejected)?;
                    bot.run_polling(handler).await
                });
                return AdapterState::Running(state);
            }
            Err(e) => return AdapterState::Failed(e.to_string()),
        };
        routes.register(Platform::Telegram, bot.clone());
        match webhook_url {
            Some(url) => {
                if let Err(e) = bot.set_webhook(url).await {
                    return AdapterState::Failed(format!("setWebhook failed: {e}"));
                }
                let routes = bot.webhook_router(handler.clone());
                adapters.webhooks = std::mem::take(&mut adapters.webhooks).merge(routes);
                AdapterState::Running(format!("webhook at {url}"))
            }
            None => {
                if let Err(why) = may_poll(&bot, telegram.take_over_webhook).await {
                    return AdapterState::Failed(why);
                }
                spawn_receiver(
                    &mut adapters.tasks,
                    Platform::Telegram,
                    bot.run_polling(handler.clone()),
                );
                AdapterState::Running("long polling".into())
            }
        }
    }
}

#[cfg(not(feature = "telegram"))]
built_without!(telegram, "telegram");

#[cfg(feature = "slack")]
mod slack {
    use frontdesk_chat::{Platform, SharedHandler};
    use frontdesk_slack::{SlackAdapter, SlackConfig};

    use super::{accepted, connect, spawn_receiver, AdapterState, ChatAdapters};
    use crate::config::Settings;
    use crate::integrations::ChatRoutes;

    const MISSING: &str = "SLACK_BOT_TOKEN is not set";

    fn config(settings: &Settings) -> Option<SlackConfig> {
        let slack = settings.adapters.slack.as_ref()?;
        let mut config = SlackConfig::new(slack.bot_token.expose());
        if let Some(app_token) = &slack.app_token {
            config = config.with_app_token(app_token.expose());
        }
        if let Some(secret) = &slack.signing_secret {
            config = config.with_signing_secret(secret.expose());
        }
        if let Some(url) = &slack.api_url {
            config = config.with_api_url(url);
        }
        Some(config)
    }

    pub(super) async fn check(settings: &Settings) -> AdapterState {
        accepted(connect(config(settings), MISSING, SlackAdapter::connect).await)
    }

    pub(super) async fn start(
        settings: &Settings,
        handler: &SharedHandler,
        adapters: &mut ChatAdapters,
        routes: &ChatRoutes,
    ) -> AdapterState {
        let Some(slack) = &settings.adapters.slack else {
            return AdapterState::Off(MISSING);
        };
        let socket = slack.app_token.is_some();
        let events = slack.signing_secret.is_some();
        if !socket && !events {
            return AdapterState::Failed(
                "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (Events API) is".into(),
            );
        }
        let slack = match connect(config(settings), MISSING, SlackAdapter::connect).await {
            Ok(slack) => slack,
            Err(state) => return state,
        };
        routes.register(Platform::Slack, slack.clone());
        let mut modes = Vec::new();
        if events {
            let routes = slack.clone().events_router(handler.clone());
            adapters.webhooks = std::mem::take(&mut adapters.webhooks).merge(routes);
            modes.push(format!("Events API at {}", frontdesk_slack::EVENTS_PATH));
        }
        if socket {
            spawn_receiver(
                &mut adapters.tasks,
                Platform::Slack,
                slack.run_socket_mode(handler.clone()),
            );
            modes.push("Socket Mode".into());
        }
        AdapterState::Running(modes.join(" and "))
    }
}

#[cfg(not(feature = "slack"))]
built_without!(slack, "slack");

#[cfg(feature = "discord")]
mod discord {
    use frontdesk_chat::{Platform, SharedHandler};
    use frontdesk_discord::{DiscordAdapter, DiscordConfig};

    use super::{accepted, connect, spawn_receiver, AdapterState, ChatAdapters};
    use crate::config::Settings;
    use crate::integrations::ChatRoutes;

    const MISSING: &str = "DISCORD_TOKEN is not set";

    fn config(settings: &Settings) -> Option<DiscordConfig> {
        let discord = settings.adapters.discord.as_ref()?;
        let mut config = DiscordConfig::new(discord.token.expose());
        if let Some(url) = &discord.api_url {
            config = config.with_api_url(url);
        }
        Some(config)
    }

    pub(super) async fn check(settings: &Settings) -> AdapterState {
        accepted(connect(config(settings), MISSING, DiscordAdapter::connect).await)
    }

    pub(super) async fn start(
        settings: &Settings,
        handler: &SharedHandler,
        adapters: &mut ChatAdapters,
        routes: &ChatRoutes,
    ) -> AdapterState {
        let discord = match connect(config(settings), MISSING, DiscordAdapter::connect).await {
            Ok(discord) => discord,
            Err(state) => return state,
        };
        routes.register(Platform::Discord, discord.clone());
        spawn_receiver(
            &mut adapters.tasks,
            Platform::Discord,
            discord.run_gateway(handler.clone()),
        );
        AdapterState::Running("gateway".into())
    }
}

#[cfg(not(feature = "discord"))]
built_without!(discord, "discord");
