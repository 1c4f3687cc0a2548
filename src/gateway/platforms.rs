//! Starts the chat adapters whose tokens are set, each behind its cargo feature, and hands
//! their messages to the [`Gateway`]. A bad or missing token stops only that platform,
//! with a clear message naming it; the others keep running. A platform that cannot be
//! reached at start (a network error, its own passing trouble, a 429) is tried again in the
//! background ([`connect_when_reachable`]) and starts once it answers; its webhook route
//! answers 503 until then ([`LateRoutes`]).

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use frontdesk_chat::{AdapterError, Platform, SharedHandler};
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

/// The first wait before trying an unreachable platform again; it doubles after each
/// failure up to [`LAST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Whether connecting may work later: the platform was not reached, had passing trouble of
/// its own or asked to slow down. A refused token or any other refusal is final.
#[cfg_attr(
    not(any(feature = "telegram", feature = "slack", feature = "discord")),
    allow(dead_code)
)]
fn may_pass(e: &AdapterError) -> bool {
    matches!(
        e,
        AdapterError::Transport(_) | AdapterError::RateLimited { .. }
    )
}

/// Connects once the platform at `api` answers, after a first try failed with `failed`:
/// each failure that [`may_pass`] is logged with the URL and its causes and tried again
/// after 1 s, 2 s … up to 30 s (or a 429's own wait, if longer); any other error ends it.
#[cfg_attr(
    not(any(feature = "telegram", feature = "slack", feature = "discord")),
    allow(dead_code)
)]
async fn connect_when_reachable<A, F, Fut>(
    platform: Platform,
    api: &str,
    failed: AdapterError,
    mut connect: F,
) -> Result<A, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<A, AdapterError>>,
{
    let mut error = failed;
    let mut wait = FIRST_RETRY;
    loop {
        if !may_pass(&error) {
            return Err(error);
        }
        let pause = match &error {
            AdapterError::RateLimited { retry_after } => wait.max(*retry_after),
            _ => wait,
        };
        tracing::warn!(%platform, url = %api, error = %error, retry_in = ?pause, "platform not reachable");
        tokio::time::sleep(pause).await;
        wait = (wait * 2).min(LAST_RETRY);
        match connect().await {
            Ok(adapter) => {
                tracing::info!(%platform, url = %api, "platform answers: the adapter starts");
                return Ok(adapter);
            }
            Err(e) => error = e,
        }
    }
}

/// After a first try failed with `failed` (one that [`may_pass`]): keeps connecting in the
/// background ([`connect_when_reachable`]) and then runs `run` with the adapter, as a
/// receiver of `platform`. Returns the start-up state that says so.
#[cfg_attr(
    not(any(feature = "telegram", feature = "slack", feature = "discord")),
    allow(dead_code)
)]
fn connect_in_background<A, F, Fut, R, RFut>(
    tasks: &mut JoinSet<()>,
    platform: Platform,
    api: String,
    failed: AdapterError,
    connect: F,
    run: R,
) -> AdapterState
where
    A: Send + 'static,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<A, AdapterError>> + Send,
    R: FnOnce(A) -> RFut + Send + 'static,
    RFut: Future<Output = Result<(), AdapterError>> + Send,
{
    let state = format!("waiting for {api} ({failed}); retrying in the background");
    spawn_receiver(tasks, platform, async move {
        let adapter = connect_when_reachable(platform, &api, failed, connect).await?;
        run(adapter).await
    });
    AdapterState::Running(state)
}

/// What a receiver whose messages arrive over a webhook runs: nothing, until shutdown.
#[cfg_attr(not(any(feature = "telegram", feature = "slack")), allow(dead_code))]
async fn served_by_webhook() -> Result<(), AdapterError> {
    std::future::pending().await
}

/// A webhook route mounted at start for an adapter that has not connected yet: it answers
/// 503 (a problem detail with `Retry-After`; Slack and Telegram both deliver again after a
/// 5xx) until [`LateRoutes::serve`] hands it the adapter's router, then passes every
/// request to that router.
#[derive(Clone)]
#[cfg_attr(not(any(feature = "telegram", feature = "slack")), allow(dead_code))]
struct LateRoutes {
    platform: Platform,
    routes: Arc<OnceLock<axum::Router>>,
}

#[cfg_attr(not(any(feature = "telegram", feature = "slack")), allow(dead_code))]
impl LateRoutes {
    /// The seconds a 503 asks the platform to wait before delivering again.
    const RETRY_AFTER_SECS: u64 = 5;

    /// Mounts `path` (every method) in `webhooks` for `platform`'s router to come.
    fn mount(webhooks: &mut axum::Router, platform: Platform, path: &str) -> Self {
        let late = Self {
            platform,
            routes: Arc::new(OnceLock::new()),
        };
        let route = {
            let late = late.clone();
            axum::Router::new().route(
                path,
                axum::routing::any(move |request: Request| late.clone().call(request)),
            )
        };
        *webhooks = std::mem::take(webhooks).merge(route);
        late
    }

    /// Serves `routes` (which must cover the mounted path) from now on.
    fn serve(&self, routes: axum::Router) {
        if self.routes.set(routes).is_err() {
            tracing::warn!(platform = %self.platform, "webhook routes were already served");
        }
    }

    async fn call(self, request: Request) -> Response {
        let Some(mut routes) = self.routes.get().cloned() else {
            return self.not_yet();
        };
        use tower_service::Service;
        // A router is always ready; its error type is `Infallible`.
        let ready =
            std::future::poll_fn(|cx| Service::<Request>::poll_ready(&mut routes, cx)).await;
        match ready {
            Ok(()) => match Service::<Request>::call(&mut routes, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Err(never) => match never {},
        }
    }

    /// The answer while the adapter has not connected.
    fn not_yet(&self) -> Response {
        let status = StatusCode::SERVICE_UNAVAILABLE;
        let problem = crate::api::Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: format!(
                "frontdesk is still connecting to {}; deliver this again shortly",
                self.platform
            ),
            field: None,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(Self::RETRY_AFTER_SECS),
        );
        response
    }
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
    use std::sync::Arc;

    use frontdesk_chat::{AdapterError, Platform, SharedHandler};
    use frontdesk_telegram::{TelegramAdapter, TelegramConfig, WEBHOOK_PATH};

    use super::{
        connect, connect_in_background, may_pass, served_by_webhook, spawn_receiver, AdapterState,
        ChatAdapters, LateRoutes,
    };
    use crate::config::Settings;
    use crate::integrations::ChatRoutes;

    const MISSING: &str = "TELEGRAM_BOT_TOKEN is not set";
    /// The Bot API of the real Telegram.
    const DEFAULT_API_URL: &str = "https://api.telegram.org";

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

    /// Registers the connected bot for proactive messages and sets its command menu
    /// (`setMyCommands`; the menu is English only, as the replies are). A menu Telegram
    /// refuses is logged; the bot runs without it.
    async fn connected(bot: &Arc<TelegramAdapter>, routes: &ChatRoutes) {
        routes.register(Platform::Telegram, bot.clone());
        if let Err(e) = bot.set_commands(crate::gateway::linking::MENU, None).await {
            tracing::warn!(error = %e, "telegram command menu not set");
        }
    }

    /// Connects and registers `url` as the bot's webhook; Telegram refusing the webhook
    /// says `setWebhook failed`.
    async fn connect_webhook(
        config: TelegramConfig,
        url: String,
    ) -> Result<Arc<TelegramAdapter>, AdapterError> {
        let bot = TelegramAdapter::connect(config).await?;
        match bot.set_webhook(&url).await {
            Ok(()) => Ok(bot),
            Err(AdapterError::Rejected(why)) => {
                Err(AdapterError::Rejected(format!("setWebhook failed: {why}")))
            }
            Err(e) => Err(e),
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
        if telegram.webhook_url.is_some() && telegram.webhook_secret.is_none() {
            return AdapterState::Failed(
                "TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is not: webhooks need a secret (1-256 of A-Z a-z 0-9 _ -)".into(),
            );
        }
        let Some(config) = config(settings) else {
            return AdapterState::Off(MISSING);
        };
        let api = config
            .api_url
            .clone()
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        match telegram.webhook_url.clone() {
            Some(url) => {
                let bot = match connect_webhook(config.clone(), url.clone()).await {
                    Ok(bot) => bot,
                    // Telegram unreachable: its route answers 503 until the webhook is set.
                    Err(e) if may_pass(&e) => {
                        let late = LateRoutes::mount(
                            &mut adapters.webhooks,
                            Platform::Telegram,
                            WEBHOOK_PATH,
                        );
                        let (handler, routes) = (handler.clone(), routes.clone());
                        let webhook = url.clone();
                        return connect_in_background(
                            &mut adapters.tasks,
                            Platform::Telegram,
                            api,
                            e,
                            move || connect_webhook(config.clone(), webhook.clone()),
                            move |bot: Arc<TelegramAdapter>| async move {
                                connected(&bot, &routes).await;
                                late.serve(bot.webhook_router(handler));
                                tracing::info!(%url, "telegram webhook set");
                                served_by_webhook().await
                            },
                        );
                    }
                    Err(e) => return AdapterState::Failed(e.to_string()),
                };
                connected(&bot, routes).await;
                let routes = bot.webhook_router(handler.clone());
                adapters.webhooks = std::mem::take(&mut adapters.webhooks).merge(routes);
                AdapterState::Running(format!("webhook at {url}"))
            }
            None => {
                let bot = match TelegramAdapter::connect(config.clone()).await {
                    Ok(bot) => bot,
                    // Telegram unreachable (not a refused token): long polling keeps trying
                    // in the background, and starts once it answers.
                    Err(e) if may_pass(&e) => {
                        let (handler, routes) = (handler.clone(), routes.clone());
                        let take_over = telegram.take_over_webhook;
                        return connect_in_background(
                            &mut adapters.tasks,
                            Platform::Telegram,
                            api,
                            e,
                            move || TelegramAdapter::connect(config.clone()),
                            move |bot: Arc<TelegramAdapter>| async move {
                                connected(&bot, &routes).await;
                                may_poll(&bot, take_over)
                                    .await
                                    .map_err(AdapterError::Rejected)?;
                                bot.run_polling(handler).await
                            },
                        );
                    }
                    Err(e) => return AdapterState::Failed(e.to_string()),
                };
                connected(&bot, routes).await;
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
    use std::sync::Arc;

    use frontdesk_chat::{Platform, SharedHandler};
    use frontdesk_slack::{SlackAdapter, SlackConfig, EVENTS_PATH};

    use super::{
        accepted, connect, connect_in_background, may_pass, served_by_webhook, spawn_receiver,
        AdapterState, ChatAdapters, LateRoutes,
    };
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
        let Some(config) = config(settings) else {
            return AdapterState::Off(MISSING);
        };
        let mut modes = Vec::new();
        if events {
            modes.push(format!("Events API at {EVENTS_PATH}"));
        }
        if socket {
            modes.push("Socket Mode".to_owned());
        }
        let slack = match SlackAdapter::connect(config.clone()).await {
            Ok(slack) => slack,
            // Slack unreachable (not a refused token): keep trying in the background; the
            // Events API route answers 503 until then, and Slack delivers again.
            Err(e) if may_pass(&e) => {
                let late = events.then(|| {
                    LateRoutes::mount(&mut adapters.webhooks, Platform::Slack, EVENTS_PATH)
                });
                let (handler, routes) = (handler.clone(), routes.clone());
                let api = config.api_url().to_owned();
                return connect_in_background(
                    &mut adapters.tasks,
                    Platform::Slack,
                    api,
                    e,
                    move || SlackAdapter::connect(config.clone()),
                    move |slack: Arc<SlackAdapter>| async move {
                        routes.register(Platform::Slack, slack.clone());
                        if let Some(late) = late {
                            late.serve(slack.clone().events_router(handler.clone()));
                        }
                        tracing::info!(modes = %modes.join(" and "), "slack adapter running");
                        if socket {
                            slack.run_socket_mode(handler).await
                        } else {
                            served_by_webhook().await
                        }
                    },
                );
            }
            Err(e) => return AdapterState::Failed(e.to_string()),
        };
        routes.register(Platform::Slack, slack.clone());
        if events {
            let routes = slack.clone().events_router(handler.clone());
            adapters.webhooks = std::mem::take(&mut adapters.webhooks).merge(routes);
        }
        if socket {
            spawn_receiver(
                &mut adapters.tasks,
                Platform::Slack,
                slack.run_socket_mode(handler.clone()),
            );
        }
        AdapterState::Running(modes.join(" and "))
    }
}

#[cfg(not(feature = "slack"))]
built_without!(slack, "slack");

#[cfg(feature = "discord")]
mod discord {
    use std::sync::Arc;

    use frontdesk_chat::{Platform, SharedHandler};
    use frontdesk_discord::{DiscordAdapter, DiscordConfig};

    use super::{
        accepted, connect, connect_in_background, may_pass, spawn_receiver, AdapterState,
        ChatAdapters,
    };
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
        let Some(config) = config(settings) else {
            return AdapterState::Off(MISSING);
        };
        let discord = match DiscordAdapter::connect(config.clone()).await {
            Ok(discord) => discord,
            // Discord unreachable (not a refused token): the gateway starts once it answers.
            Err(e) if may_pass(&e) => {
                let (handler, routes) = (handler.clone(), routes.clone());
                return connect_in_background(
                    &mut adapters.tasks,
                    Platform::Discord,
                    config.api_root(),
                    e,
                    move || DiscordAdapter::connect(config.clone()),
                    move |discord: Arc<DiscordAdapter>| {
                        routes.register(Platform::Discord, discord.clone());
                        discord.run_gateway(handler)
                    },
                );
            }
            Err(e) => return AdapterState::Failed(e.to_string()),
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Instant;

    use axum::body::Body;

    use super::*;

    fn bad_token() -> AdapterError {
        AdapterError::BadToken {
            platform: Platform::Slack,
            reason: "invalid_auth".into(),
        }
    }

    #[tokio::test]
    async fn a_refusal_is_final_and_passing_trouble_is_tried_again_after_its_wait() {
        let calls = AtomicUsize::new(0);
        let connect = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<(), AdapterError>(())
        };
        let got = connect_when_reachable(Platform::Slack, "http://x/api", bad_token(), connect);
        assert_eq!(got.await, Err(bad_token()));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "a refused token is not tried again"
        );

        // A 429 asking for 1.5 s, then a network error, then a refused token.
        let answers = Mutex::new(vec![
            Err(bad_token()),
            Err(AdapterError::Transport("connection refused".into())),
        ]);
        let started = Instant::now();
        let got = connect_when_reachable(
            Platform::Slack,
            "http://x/api",
            AdapterError::RateLimited {
                retry_after: Duration::from_millis(1500),
            },
            || {
                let answer = answers.lock().unwrap().pop();
                async move { answer.unwrap_or(Ok(())) }
            },
        )
        .await;
        assert_eq!(got, Err(bad_token()));
        assert!(answers.lock().unwrap().is_empty());
        // 1.5 s (the 429's wait, longer than the first 1 s), then 2 s.
        assert!(
            started.elapsed() >= Duration::from_millis(3500),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn late_routes_answer_503_until_served_then_pass_requests_on() {
        let mut webhooks = axum::Router::new();
        let late = LateRoutes::mount(&mut webhooks, Platform::Slack, "/webhooks/x");
        let request = || {
            axum::http::Request::post("/webhooks/x")
                .body(Body::empty())
                .unwrap()
        };
        let early = late.clone().call(request()).await;
        assert_eq!(early.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(early.headers()[header::RETRY_AFTER], "5");
        assert_eq!(
            early.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        late.serve(axum::Router::new().route(
            "/webhooks/x",
            axum::routing::post(|| async { (StatusCode::ACCEPTED, "taken") }),
        ));
        assert_eq!(
            late.clone().call(request()).await.status(),
            StatusCode::ACCEPTED
        );
        let get = axum::http::Request::get("/webhooks/x")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            late.call(get).await.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "the adapter's router decides"
        );
    }
}
