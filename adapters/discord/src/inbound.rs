//! Turning a gateway MESSAGE_CREATE into an [`Inbound`], or ignoring it (bots, the bot
//! itself, webhooks, system messages, messages without text).

use chrono::{DateTime, Utc};
use frontdesk_chat::{Inbound, Platform};
use serenity::model::channel::{Message, MessageType};

/// The [`Inbound`] for `message`, or `None` when frontdesk should not answer it.
///
/// The workspace is the guild (none in a DM, which is what makes the message direct); the
/// channel is the channel id (a Discord thread is a channel of its own, so `thread` stays
/// empty); the event id is the message id; the roles are the author's guild role ids.
pub(crate) fn to_inbound(
    message: &Message,
    bot_user_id: u64,
    received_at: DateTime<Utc>,
) -> Option<Inbound> {
    let author = &message.author;
    if author.bot || author.system || author.id.get() == bot_user_id {
        return None;
    }
    if message.webhook_id.is_some()
        || !matches!(
            message.kind,
            MessageType::Regular | MessageType::InlineReply
        )
    {
        return None;
    }
    if message.content.trim().is_empty() {
        return None;
    }
    let user_name = author
        .global_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| author.name.clone());
    let roles: Vec<String> = message
        .member
        .as_ref()
        .map(|m| m.roles.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let mut inbound = Inbound::new(
        Platform::Discord,
        message.channel_id.to_string(),
        author.id.to_string(),
        message.content.clone(),
        message.id.to_string(),
        received_at,
    )
    .with_user_name(user_name)
    .with_roles(roles)
    .with_direct(message.guild_id.is_none());
    if let Some(guild) = message.guild_id {
        inbound = inbound.with_workspace(guild.to_string());
    }
    Some(inbound)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    const BOT: u64 = 5;

    fn message(extra: Value) -> Message {
        let mut m = json!({
            "id": "100", "channel_id": "200", "content": "book yoga",
            "author": { "id": "300", "username": "asha", "global_name": "Asha K" },
            "timestamp": "2026-11-02T10:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0,
        });
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                m.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(m).unwrap()
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn guild_message_carries_guild_roles_and_names() {
        let m = message(json!({ "guild_id": "400", "member": { "roles": ["7", "8"] } }));
        let expected = Inbound::new(Platform::Discord, "200", "300", "book yoga", "100", at())
            .with_workspace("400")
            .with_user_name("Asha K")
            .with_roles(["7", "8"]);
        assert_eq!(to_inbound(&m, BOT, at()), Some(expected));
    }

    #[test]
    fn direct_message_has_no_workspace() {
        let m =
            message(json!({ "author": { "id": "300", "username": "asha", "global_name": null } }));
        let inbound = to_inbound(&m, BOT, at()).unwrap();
        assert!(inbound.is_direct);
        assert_eq!(inbound.workspace, None);
        assert_eq!(inbound.user_name.as_deref(), Some("asha"));
        assert!(inbound.platform_roles.is_empty());
    }

    #[test]
    fn bots_self_webhooks_system_and_empty_messages_are_ignored() {
        let ignored = [
            json!({ "author": { "id": "300", "username": "b", "bot": true } }),
            json!({ "author": { "id": BOT.to_string(), "username": "me" } }),
            json!({ "webhook_id": "9" }),
            json!({ "type": 18, "content": "new thread name" }),
            json!({ "content": "" }),
            json!({ "content": " \n " }),
        ];
        for extra in ignored {
            assert_eq!(
                to_inbound(&message(extra.clone()), BOT, at()),
                None,
                "{extra}"
            );
        }
        // A reply to another message is a normal message.
        assert!(to_inbound(&message(json!({ "type": 19 })), BOT, at()).is_some());
    }
}
