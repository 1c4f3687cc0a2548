//! [`TelegramAdapter`]: connecting (token check), sending, typing, and handing received
//! updates to the [`SharedHandler`] on their own tasks.

use std::sync::Arc;
use std::time::Duration;

use frontdesk_chat::{
    AdapterError, ChatAdapter, DynChatAdapter, Outbound, Pacer, Platform, SharedHandler,
};
use teloxide::payloads::SetMyCommandsSetters;
use teloxide::prelude::Requester;
use teloxide::types::{BotCommand, ChatAction, Me, Update};
use teloxide::Bot;

use crate::config::TelegramConfig;
use crate::errors::adapter_error;
use crate::inbound::inbound_from_update;
use crate::send::send_outbound;

/// How long any one Bot API request may take; above the long-polling wait.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);

/// How long a typing indicator may take before it is given up (it is only a courtesy).
const TYPING_TIMEOUT: Duration = Duration::from_secs(5);

/// Telegram allows about one message per second to one private chat…
const PER_CHAT_INTERVAL: Duration = Duration::from_secs(1);
/// …and about 20 a minute to one group (group chat ids are negative).
const PER_GROUP_INTERVAL: Duration = Duration::from_secs(3);

/// Talks to one Telegram bot: receives through [`run_polling`](Self::run_polling) or
/// [`webhook_router`](Self::webhook_router) and sends through [`ChatAdapter`].
pub struct TelegramAdapter {
    pub(crate) bot: Bot,
    me: Me,
    pub(crate) webhook_secret: Option<String>,
    pacer: Pacer,
    group_pacer: Pacer,
}

impl std::fmt::Debug for TelegramAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramAdapter")
            .field("bot_id", &self.me.user.id.0)
            .field("bot_username", &self.me.user.username)
            .finish_non_exhaustive()
    }
}

impl TelegramAdapter {
    /// Checks the configuration and the token (one `getMe` call) and returns the adapter.
    ///
    /// # Errors
    ///
    /// [`AdapterError::BadToken`] when Telegram rejects the token (or it is empty),
    /// [`AdapterError::Transport`] when the Bot API cannot be reached or `api_url` is not a
    /// URL, [`AdapterError::Rejected`] when the webhook secret breaks Telegram's rules.
    pub async fn connect(config: TelegramConfig) -> Result<Arc<Self>, AdapterError> {
        config.validate().map_err(AdapterError::Rejected)?;
        if config.token.trim().is_empty() {
            return Err(AdapterError::BadToken {
                platform: Platform::Telegram,
                reason: "the bot token is empty".to_owned(),
            });
        }
        let client = teloxide::net::default_reqwest_settings()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| AdapterError::Transport(format!("cannot build the HTTP client: {e}")))?;
        let mut bot = Bot::with_client(config.token.trim(), client);
        if let Some(api_url) = config.api_url.as_deref().filter(|u| !u.trim().is_empty()) {
            let url = url::Url::parse(api_url.trim()).map_err(|e| {
                AdapterError::Transport(format!("telegram api_url `{api_url}` is not a URL: {e}"))
            })?;
            bot = bot.set_api_url(url);
        }
        let me = bot.get_me().await.map_err(adapter_error)?;
        tracing::info!(bot_id = me.user.id.0, username = ?me.user.username, "telegram bot connected");
        Ok(Arc::new(Self {
            bot,
            me,
            webhook_secret: config.webhook_secret,
            pacer: Pacer::new(PER_CHAT_INTERVAL),
            group_pacer: Pacer::new(PER_GROUP_INTERVAL),
        }))
    }

    /// The bot's own user id.
    #[must_use]
    pub fn bot_user_id(&self) -> u64 {
        self.me.user.id.0
    }

    /// The bot's @username, if it has one.
    #[must_use]
    pub fn bot_username(&self) -> Option<&str> {
        self.me.user.username.as_deref()
    }

    /// Sets the bot's command menu (`setMyCommands`): `(command, description)` pairs,
    /// commands without their slash. `language` is an ISO 639-1 code for users of that
    /// language, or `None` for everyone else.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Rejected`] when a command breaks Telegram's rules (1–32 of a–z,
    /// 0–9, _; a description of 1–256 characters) or Telegram refuses the list; otherwise
    /// as any Bot API call.
    pub async fn set_commands(
        &self,
        commands: &[(&str, &str)],
        language: Option<&str>,
    ) -> Result<(), AdapterError> {
        for (command, description) in commands {
            let valid = (1..=32).contains(&command.len())
                && command
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid || !(1..=256).contains(&description.chars().count()) {
                return Err(AdapterError::Rejected(format!(
                    "telegram command `{command}` breaks the Bot API's rules"
                )));
            }
        }
        let list = commands
            .iter()
            .map(|(command, description)| BotCommand::new(*command, *description));
        let mut request = self.bot.set_my_commands(list);
        if let Some(language) = language {
            request = request.language_code(language);
        }
        request.await.map(drop).map_err(adapter_error)
    }

    /// Whether `text` is for this bot: anything but a command addressed to another bot
    /// ("/start@other_bot" in a group, where every bot sees every command).
    fn is_for_this_bot(&self, text: &str) -> bool {
        let Some(command) = text.trim_start().strip_prefix('/') else {
            return true;
        };
        let head = command.split_whitespace().next().unwrap_or("");
        match (head.split_once('@'), self.bot_username()) {
            (Some((_, addressed)), Some(me)) => addressed.eq_ignore_ascii_case(me),
            _ => true,
        }
    }

    /// Turns an update into an `Inbound` and hands it to `handler` on its own task.
    ///
    /// Returns whether the update was handed over (its own messages and bots' never are).
    pub(crate) fn dispatch(self: &Arc<Self>, update: &Update, handler: &SharedHandler) -> bool {
        let Some(inbound) = inbound_from_update(update, self.me.user.id, chrono::Utc::now()) else {
            return false;
        };
        if !self.is_for_this_bot(&inbound.text) {
            return false;
        }
        let reply_via: Arc<dyn DynChatAdapter> = self.clone();
        tokio::spawn(handler.handle(inbound, reply_via));
        true
    }
}

impl ChatAdapter for TelegramAdapter {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn send(&self, out: &Outbound) -> Result<(), AdapterError> {
        let pacer = if out.channel.trim_start().starts_with('-') {
            &self.group_pacer
        } else {
            &self.pacer
        };
        send_outbound(&self.bot, pacer, out).await
    }

    /// Sends the `typing` chat action; gives up after 5 s, as it is only a courtesy.
    async fn typing(&self, channel: &str) -> Result<(), AdapterError> {
        let chat = channel.trim().parse::<i64>().map_err(|_| {
            AdapterError::Rejected(format!("`{channel}` is not a telegram chat id"))
        })?;
        let request = self
            .bot
            .send_chat_action(teloxide::types::ChatId(chat), ChatAction::Typing);
        match tokio::time::timeout(TYPING_TIMEOUT, request).await {
            Ok(result) => result.map(drop).map_err(adapter_error),
            Err(_) => Err(AdapterError::Transport(
                "typing indicator timed out".to_owned(),
            )),
        }
    }
}
