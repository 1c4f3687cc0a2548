//! [`DiscordAdapter`]: checks the token, sends replies (split, paced, retried after 429s),
//! shows typing, and runs the gateway.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use frontdesk_chat::{
    retry_rate_limited, AdapterError, Attachment, ChatAdapter, Outbound, Pacer, Platform,
    SharedHandler,
};

use crate::render::{is_snowflake, plan, PlannedMessage};
use crate::rest::{FileUpload, Rest};
use crate::{gateway, DiscordConfig};

/// Sends at most one message per channel per second (Discord allows 5 per 5 s).
const CHANNEL_INTERVAL: Duration = Duration::from_secs(1);

/// A connected Discord bot.
#[derive(Debug)]
pub struct DiscordAdapter {
    config: DiscordConfig,
    rest: Rest,
    bot_user_id: AtomicU64,
    pacer: Pacer,
}

impl DiscordAdapter {
    /// Checks the token with `GET /users/@me` and returns the adapter.
    ///
    /// # Errors
    /// [`AdapterError::BadToken`] when Discord refuses the token (or it cannot be sent in a
    /// header), [`AdapterError::Transport`] when Discord cannot be reached,
    /// [`AdapterError::Rejected`] for any other refusal.
    pub async fn connect(config: DiscordConfig) -> Result<Arc<Self>, AdapterError> {
        let token = config.token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(AdapterError::BadToken {
                platform: Platform::Discord,
                reason: "the token is empty or holds characters a token cannot have".to_owned(),
            });
        }
        let rest = Rest::new(&config)?;
        let bot_user_id = rest.current_user_id().await?;
        tracing::info!(bot_user_id, "discord token accepted");
        Ok(Arc::new(Self {
            config,
            rest,
            bot_user_id: AtomicU64::new(bot_user_id),
            pacer: Pacer::new(CHANNEL_INTERVAL),
        }))
    }

    /// Connects to the gateway (intents GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT) and
    /// hands every user message to `handler`, each on its own task. Runs until the gateway
    /// refuses the bot or the future is dropped (which stops the connection).
    ///
    /// # Errors
    /// [`AdapterError::BadToken`] on close code 4004; [`AdapterError::Rejected`] on 4014
    /// (the Message Content Intent is not enabled: the message says so) and 4013;
    /// [`AdapterError::Transport`] otherwise.
    pub async fn run_gateway(self: Arc<Self>, handler: SharedHandler) -> Result<(), AdapterError> {
        gateway::run(self, handler).await
    }

    /// The bot's own user id (its messages are never handled).
    #[must_use]
    pub fn bot_user_id(&self) -> u64 {
        self.bot_user_id.load(Ordering::Relaxed)
    }

    pub(crate) fn set_bot_user_id(&self, id: u64) {
        self.bot_user_id.store(id, Ordering::Relaxed);
    }

    pub(crate) fn config(&self) -> &DiscordConfig {
        &self.config
    }

    pub(crate) fn http_client(&self) -> reqwest::Client {
        self.rest.http_client()
    }

    /// Sends one planned message, retrying after 429s. An image Discord refuses is left
    /// out rather than failing the message.
    async fn send_planned(
        &self,
        channel: &str,
        part: &PlannedMessage,
        image: Option<&Attachment>,
    ) -> Result<(), AdapterError> {
        let file = part
            .image
            .as_ref()
            .zip(image)
            .map(|(plan, image)| FileUpload {
                name: &plan.file_name,
                mime: &image.mime,
                bytes: &image.bytes,
            });
        if let (Some(file), Some(payload)) = (file, part.payload(true)) {
            match retry_rate_limited(|| self.rest.create_message(channel, &payload, Some(file)))
                .await
            {
                Err(AdapterError::Rejected(reason)) => {
                    tracing::warn!(%reason, channel, "discord refused the image; sending without it");
                }
                other => return other,
            }
        }
        let Some(payload) = part.payload(false) else {
            return Ok(());
        };
        retry_rate_limited(|| self.rest.create_message(channel, &payload, None)).await
    }
}

impl ChatAdapter for DiscordAdapter {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    /// Sends `out` to its thread (a Discord thread is a channel) or channel: text in parts of
    /// at most 2000 characters, the first replying to `reply_to_event`, the table as an embed
    /// and the image as an attachment on the last; mentions are never parsed.
    async fn send(&self, out: &Outbound) -> Result<(), AdapterError> {
        let channel = out.thread.as_deref().unwrap_or(&out.channel);
        check_channel(channel)?;
        for part in plan(out) {
            self.pacer.wait_turn(channel).await;
            self.send_planned(channel, &part, out.image.as_ref())
                .await?;
        }
        Ok(())
    }

    /// `POST /channels/{id}/typing`; not retried (a late typing indicator is worthless).
    async fn typing(&self, channel: &str) -> Result<(), AdapterError> {
        check_channel(channel)?;
        self.rest.trigger_typing(channel).await
    }
}

fn check_channel(channel: &str) -> Result<(), AdapterError> {
    if is_snowflake(channel) {
        Ok(())
    } else {
        let shown: String = channel.chars().take(40).collect();
        Err(AdapterError::Rejected(format!(
            "not a Discord channel id: {shown:?}"
        )))
    }
}
