//! Turning a Telegram [`Update`] into an [`Inbound`], or deciding to ignore it.
//!
//! Only new messages from people count: edits, channel posts, callbacks, service messages
//! and anything a bot sent are ignored. A shared contact counts only when it is the sender's
//! own (`contact.user_id == from.id`); a forwarded contact card of someone else is dropped, so
//! nobody can link their chat to another person's client record.

use chrono::{DateTime, Utc};
use frontdesk_chat::{Inbound, Platform};
use teloxide::types::{Message, Update, UpdateKind, UserId};

/// Converts an update into the message frontdesk handles, or `None` to ignore it.
///
/// `bot_id` is this bot's own user id: its messages are never handled.
#[must_use]
pub fn inbound_from_update(
    update: &Update,
    bot_id: UserId,
    received_at: DateTime<Utc>,
) -> Option<Inbound> {
    match &update.kind {
        UpdateKind::Message(message) => inbound_from_message(message, bot_id, received_at),
        UpdateKind::Error(value) => {
            tracing::debug!(update_id = update.id.0, %value, "telegram update not understood; ignored");
            None
        }
        _ => None,
    }
}

/// Converts one new message, or `None` when it is not a person's text or own contact.
fn inbound_from_message(
    message: &Message,
    bot_id: UserId,
    received_at: DateTime<Utc>,
) -> Option<Inbound> {
    let from = message.from.as_ref()?;
    if from.is_bot || from.id == bot_id {
        return None;
    }
    let chat_id = message.chat.id.0;
    let mut inbound = Inbound::new(
        Platform::Telegram,
        chat_id.to_string(),
        from.id.0.to_string(),
        "",
        format!("{chat_id}:{}", message.id.0),
        received_at,
    )
    .with_direct(message.chat.is_private());
    if !from.first_name.is_empty() {
        inbound = inbound.with_user_name(from.first_name.clone());
    }
    if message.is_topic_message {
        if let Some(thread) = message.thread_id {
            inbound = inbound.with_thread(thread.0 .0.to_string());
        }
    }
    if let Some(contact) = message.contact() {
        if contact.user_id != Some(from.id) {
            tracing::info!(
                chat = chat_id,
                "telegram contact that is not the sender's own; ignored"
            );
            return None;
        }
        return normalize_phone(&contact.phone_number)
            .map(|phone| inbound.with_contact_phone(phone));
    }
    let text = message.text().or_else(|| message.caption())?;
    inbound.text = text.to_owned();
    Some(inbound)
}

/// Writes a phone number in international form: trimmed, with a leading `+`.
///
/// Telegram sends contact numbers without the `+` (`"15550100"`). Returns `None` for a number
/// without digits.
#[must_use]
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if !trimmed.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if trimmed.starts_with('+') {
        Some(trimmed.to_owned())
    } else {
        Some(format!("+{trimmed}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_gets_a_plus() {
        assert_eq!(normalize_phone("15550100").as_deref(), Some("+15550100"));
        assert_eq!(
            normalize_phone(" +447700900123 ").as_deref(),
            Some("+447700900123")
        );
        assert_eq!(normalize_phone(""), None);
        assert_eq!(normalize_phone("+"), None);
    }

    /// Parses like the Bot API client does; teloxide's `Update` does not read from a
    /// `serde_json::Value` (it yields `UpdateKind::Error`).
    fn update(json: serde_json::Value) -> Update {
        serde_json::from_str(&json.to_string()).unwrap()
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn forum_topic_sets_the_thread_but_a_plain_reply_does_not() {
        let make = |is_topic: bool| {
            update(serde_json::json!({
                "update_id": 5,
                "message": {
                    "message_id": 77, "date": 1_700_000_000, "message_thread_id": 12,
                    "is_topic_message": is_topic,
                    "chat": {"id": -1001, "type": "supergroup", "title": "Studio", "is_forum": true},
                    "from": {"id": 42, "is_bot": false, "first_name": "Asha"},
                    "text": "hi"
                }
            }))
        };
        let topic = inbound_from_update(&make(true), UserId(1), at()).unwrap();
        assert_eq!(topic.thread.as_deref(), Some("12"));
        assert_eq!(topic.event_id, "-1001:77");
        assert!(!topic.is_direct);
        let plain = inbound_from_update(&make(false), UserId(1), at()).unwrap();
        assert_eq!(plain.thread, None);
    }

    #[test]
    fn caption_is_the_text_and_stickers_are_ignored() {
        let photo = update(serde_json::json!({
            "update_id": 6,
            "message": {
                "message_id": 3, "date": 1_700_000_000,
                "chat": {"id": 42, "type": "private", "first_name": "Asha"},
                "from": {"id": 42, "is_bot": false, "first_name": "Asha"},
                "photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
                "caption": "my receipt"
            }
        }));
        assert_eq!(
            inbound_from_update(&photo, UserId(1), at()).unwrap().text,
            "my receipt"
        );
        let sticker_less = update(serde_json::json!({
            "update_id": 7,
            "message": {
                "message_id": 4, "date": 1_700_000_000,
                "chat": {"id": 42, "type": "private", "first_name": "Asha"},
                "from": {"id": 42, "is_bot": false, "first_name": "Asha"},
                "location": {"latitude": 1.0, "longitude": 2.0}
            }
        }));
        assert_eq!(inbound_from_update(&sticker_less, UserId(1), at()), None);
    }
}
