//! Reading a user message out of an Events API `event_callback` payload (the same object
//! arrives as a Socket Mode envelope's `payload`), or saying why it is ignored.
//!
//! Only `message` and `app_mention` events from people are taken: anything with a `bot_id`,
//! from the bot's own user, or with a `subtype` other than `thread_broadcast` and
//! `file_share` (edits, deletions, joins, bot messages…) is ignored, as is a message with no
//! text once the leading mention of the bot is stripped.

use serde_json::Value;

use crate::render::unescape;
use crate::BotIdentity;

/// Subtypes that are still a person writing a message.
const USER_SUBTYPES: [&str; 2] = ["thread_broadcast", "file_share"];

/// A message a person wrote, as read from an event callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserMessage {
    /// The Events API `event_id`, stable across Slack's retries.
    pub(crate) event_id: String,
    /// The team (workspace) id.
    pub(crate) team: Option<String>,
    /// The channel, private channel or IM id.
    pub(crate) channel: String,
    /// The sender's user id.
    pub(crate) user: String,
    /// The sender's display name, when the event carries a profile.
    pub(crate) user_name: Option<String>,
    /// The text, unescaped, without a leading mention of the bot.
    pub(crate) text: String,
    /// The message's own timestamp (its id within the channel).
    pub(crate) ts: String,
    /// The thread to answer in: the message's `thread_ts`, or for a top-level message
    /// outside a DM its own `ts`, so the reply starts a thread under it.
    pub(crate) thread: Option<String>,
    /// Whether the message is in a one-to-one IM with the bot.
    pub(crate) is_direct: bool,
}

/// Reads the user message in `callback`, or returns why it is ignored.
pub(crate) fn user_message(callback: &Value, me: &BotIdentity) -> Result<UserMessage, String> {
    let str_field = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if callback.get("type").and_then(Value::as_str) != Some("event_callback") {
        return Err("not an event_callback".into());
    }
    let event_id = str_field(callback, "event_id").ok_or("event_callback without event_id")?;
    let event = callback
        .get("event")
        .ok_or("event_callback without event")?;
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "message" && kind != "app_mention" {
        return Err(format!("event type `{kind}` is not a message"));
    }
    if event.get("bot_id").is_some_and(|b| !b.is_null()) {
        return Err("message from a bot".into());
    }
    if let Some(subtype) = event.get("subtype").and_then(Value::as_str) {
        if !USER_SUBTYPES.contains(&subtype) {
            return Err(format!("message subtype `{subtype}`"));
        }
    }
    let user = str_field(event, "user").ok_or("message without user")?;
    if user == me.user_id {
        return Err("the bot's own message".into());
    }
    let channel = str_field(event, "channel").ok_or("message without channel")?;
    let ts = str_field(event, "ts").ok_or("message without ts")?;
    let raw_text = event.get("text").and_then(Value::as_str).unwrap_or("");
    let text = unescape(strip_mention(raw_text, &me.user_id))
        .trim()
        .to_owned();
    if text.is_empty() {
        return Err("message without text".into());
    }
    let is_direct = match event.get("channel_type").and_then(Value::as_str) {
        Some(channel_type) => channel_type == "im",
        None => channel.starts_with('D'),
    };
    let thread = str_field(event, "thread_ts").or_else(|| (!is_direct).then(|| ts.clone()));
    let team = str_field(callback, "team_id").or_else(|| str_field(event, "team"));
    let user_name = event.get("user_profile").and_then(|profile| {
        ["display_name", "real_name", "name"]
            .iter()
            .find_map(|key| str_field(profile, key))
    });
    Ok(UserMessage {
        event_id,
        team,
        channel,
        user,
        user_name,
        text,
        ts,
        thread,
        is_direct,
    })
}

/// Removes a leading `<@BOT>` or `<@BOT|name>` mention, and a `:` or `,` after it.
fn strip_mention<'a>(text: &'a str, bot_user: &str) -> &'a str {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed
        .strip_prefix("<@")
        .and_then(|rest| rest.strip_prefix(bot_user))
    else {
        return text;
    };
    let after = if let Some(rest) = rest.strip_prefix('>') {
        rest
    } else if let Some(label) = rest.strip_prefix('|') {
        match label.find('>') {
            Some(end) => &label[end + 1..],
            None => return text,
        }
    } else {
        return text;
    };
    after
        .trim_start()
        .trim_start_matches([':', ','])
        .trim_start()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn me() -> BotIdentity {
        BotIdentity {
            user_id: "UBOT".into(),
            bot_id: Some("BBOT".into()),
            team_id: "T1".into(),
        }
    }

    fn callback(event: Value) -> Value {
        json!({ "type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event })
    }

    #[test]
    fn channel_message_is_threaded_under_itself() {
        let msg = user_message(
            &callback(json!({
                "type": "message", "channel": "C1", "channel_type": "channel",
                "user": "U1", "text": "book &lt;yoga&gt; &amp; pay", "ts": "1700.1"
            })),
            &me(),
        )
        .unwrap();
        assert_eq!(
            msg,
            UserMessage {
                event_id: "Ev1".into(),
                team: Some("T1".into()),
                channel: "C1".into(),
                user: "U1".into(),
                user_name: None,
                text: "book <yoga> & pay".into(),
                ts: "1700.1".into(),
                thread: Some("1700.1".into()),
                is_direct: false,
            }
        );
    }

    #[test]
    fn dm_has_no_thread_and_thread_reply_keeps_its_thread() {
        let dm = user_message(
            &callback(
                json!({ "type": "message", "channel": "D1", "channel_type": "im",
                "user": "U1", "text": "hi", "ts": "2.0" }),
            ),
            &me(),
        )
        .unwrap();
        assert!(dm.is_direct);
        assert_eq!(dm.thread, None);
        let reply = user_message(
            &callback(
                json!({ "type": "message", "channel": "C1", "channel_type": "channel",
                "user": "U1", "text": "more", "ts": "3.0", "thread_ts": "1.0" }),
            ),
            &me(),
        )
        .unwrap();
        assert_eq!(reply.thread.as_deref(), Some("1.0"));
    }

    #[test]
    fn mentions_of_the_bot_are_stripped() {
        assert_eq!(strip_mention("<@UBOT> hi", "UBOT"), "hi");
        assert_eq!(strip_mention("  <@UBOT|frontdesk>: hi", "UBOT"), "hi");
        assert_eq!(strip_mention("<@UBOTX> hi", "UBOT"), "<@UBOTX> hi");
        assert_eq!(strip_mention("hi <@UBOT>", "UBOT"), "hi <@UBOT>");
        assert_eq!(strip_mention("<@UBOT|broken", "UBOT"), "<@UBOT|broken");
        let mention = user_message(
            &callback(
                json!({ "type": "app_mention", "channel": "C1", "user": "U1",
                "text": "<@UBOT> schedule?", "ts": "4.0" }),
            ),
            &me(),
        )
        .unwrap();
        assert_eq!(mention.text, "schedule?");
        assert!(!mention.is_direct);
    }

    #[test]
    fn bots_own_messages_subtypes_and_junk_are_ignored() {
        let cases = [
            json!({ "type": "message", "subtype": "bot_message", "bot_id": "B2", "channel": "C1", "text": "x", "ts": "1" }),
            json!({ "type": "message", "bot_id": "B2", "user": "U2", "channel": "C1", "text": "x", "ts": "1" }),
            json!({ "type": "message", "user": "UBOT", "channel": "C1", "text": "x", "ts": "1" }),
            json!({ "type": "message", "subtype": "message_changed", "channel": "C1", "ts": "1" }),
            json!({ "type": "message", "subtype": "channel_join", "user": "U1", "channel": "C1", "text": "joined", "ts": "1" }),
            json!({ "type": "message", "user": "U1", "channel": "C1", "text": "<@UBOT>", "ts": "1" }),
            json!({ "type": "reaction_added", "user": "U1" }),
            json!({ "type": "message", "user": 5, "channel": ["C1"], "text": null }),
            json!("not even an object"),
        ];
        for event in cases {
            assert!(
                user_message(&callback(event.clone()), &me()).is_err(),
                "{event}"
            );
        }
        assert!(user_message(&json!({ "type": "url_verification" }), &me()).is_err());
        assert!(user_message(&json!([1, 2]), &me()).is_err());
        let broadcast = json!({ "type": "message", "subtype": "thread_broadcast", "user": "U1",
            "channel": "C1", "text": "also here", "ts": "5", "thread_ts": "1" });
        assert!(user_message(&callback(broadcast), &me()).is_ok());
    }
}
