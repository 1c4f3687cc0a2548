//! The gateway connection: a serenity client that receives MESSAGE_CREATE events and hands
//! each accepted message to the [`InboundHandler`](frontdesk_chat::InboundHandler) on its own
//! task, and the translation of the gateway's refusals into [`AdapterError`]s.

use std::sync::Arc;

use chrono::Utc;
use frontdesk_chat::{AdapterError, DynChatAdapter, Platform, SharedHandler};
use serenity::all::{Context, EventHandler, GatewayIntents, Message, Ready, ShardManager};
use serenity::client::ClientBuilder;
use serenity::gateway::GatewayError;
use serenity::http::HttpBuilder;

use crate::inbound::to_inbound;
use crate::DiscordAdapter;

/// The intents the bot asks for: guild and direct messages, with their text.
/// MESSAGE_CONTENT is privileged: it must be enabled in the developer portal.
pub const INTENTS: GatewayIntents = GatewayIntents::GUILD_MESSAGES
    .union(GatewayIntents::DIRECT_MESSAGES)
    .union(GatewayIntents::MESSAGE_CONTENT);

/// What the gateway says when the Message Content Intent is not enabled.
pub const MESSAGE_CONTENT_REFUSED: &str = "the Discord gateway refused the MESSAGE_CONTENT intent \
    (close code 4014, disallowed intents): enable \"Message Content Intent\" for this bot in the \
    Discord developer portal (Applications → your app → Bot → Privileged Gateway Intents)";

/// Receives gateway events for one adapter.
struct Events {
    adapter: Arc<DiscordAdapter>,
    handler: SharedHandler,
}

#[serenity::async_trait]
impl EventHandler for Events {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        self.adapter.set_bot_user_id(ready.user.id.get());
        tracing::info!(
            bot = %ready.user.name,
            guilds = ready.guilds.len(),
            "discord gateway ready"
        );
    }

    async fn message(&self, _ctx: Context, message: Message) {
        let Some(inbound) = to_inbound(&message, self.adapter.bot_user_id(), Utc::now()) else {
            tracing::trace!(message = %message.id, "discord message ignored");
            return;
        };
        let handler = Arc::clone(&self.handler);
        let reply_via: Arc<dyn DynChatAdapter> = Arc::clone(&self.adapter) as _;
        tokio::spawn(async move { handler.handle(inbound, reply_via).await });
    }
}

/// Tells serenity's shard runners to stop when the gateway future ends or is dropped; they
/// hold the shard manager themselves, so dropping the client alone would leave them running.
struct ShutdownOnDrop(Arc<ShardManager>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let manager = Arc::clone(&self.0);
            runtime.spawn(async move { manager.shutdown_all().await });
        }
    }
}

/// Connects to the gateway and delivers messages until the connection is refused or the
/// future is dropped.
pub(crate) async fn run(
    adapter: Arc<DiscordAdapter>,
    handler: SharedHandler,
) -> Result<(), AdapterError> {
    let config = adapter.config();
    let builder = HttpBuilder::new(config.authorization()).client(adapter.http_client());
    // With a proxy serenity's rate limiter must be off (it would call discord.com directly);
    // the adapter's own sends honour 429s.
    let http = match &config.api_url {
        Some(url) => builder
            .proxy(url.trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build(),
        None => builder.build(),
    };
    let events = Events {
        adapter: Arc::clone(&adapter),
        handler,
    };
    let mut client = ClientBuilder::new_with_http(http, INTENTS)
        .event_handler(events)
        .await
        .map_err(|e| AdapterError::Transport(format!("discord gateway client: {e}")))?;
    // Also when start() returns an error: a refused shard has stopped but the queuer has not.
    // (Shutting down waits up to 5 s for runners that already stopped, hence in the background.)
    let _shutdown = ShutdownOnDrop(Arc::clone(&client.shard_manager));
    client.start().await.map_err(gateway_error)
}

/// The [`AdapterError`] for the reason the gateway stopped.
fn gateway_error(error: serenity::Error) -> AdapterError {
    match error {
        serenity::Error::Gateway(GatewayError::InvalidAuthentication) => AdapterError::BadToken {
            platform: Platform::Discord,
            reason: "the gateway refused the token (close code 4004, authentication failed)"
                .to_owned(),
        },
        serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents) => {
            AdapterError::Rejected(MESSAGE_CONTENT_REFUSED.to_owned())
        }
        serenity::Error::Gateway(GatewayError::InvalidGatewayIntents) => AdapterError::Rejected(
            "the Discord gateway refused the intents (close code 4013, invalid intents)".to_owned(),
        ),
        other => AdapterError::Transport(format!("discord gateway: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_are_guild_and_direct_messages_with_content() {
        assert_eq!(INTENTS.bits(), (1 << 9) | (1 << 12) | (1 << 15));
    }

    #[test]
    fn refusals_map_to_clear_errors() {
        let bad = gateway_error(serenity::Error::Gateway(
            GatewayError::InvalidAuthentication,
        ));
        assert!(matches!(
            bad,
            AdapterError::BadToken {
                platform: Platform::Discord,
                ..
            }
        ));
        let intents = gateway_error(serenity::Error::Gateway(
            GatewayError::DisallowedGatewayIntents,
        ));
        assert!(intents.to_string().contains("MESSAGE_CONTENT"), "{intents}");
        assert!(
            intents.to_string().contains("developer portal"),
            "{intents}"
        );
    }
}
