//! One received message ([`Inbound`]) and the key of the conversation it belongs to
//! ([`ConversationKey`]).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Platform;

/// One message received from a chat platform, already stripped of platform specifics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    /// The platform the message came from.
    pub platform: Platform,
    /// The workspace, team or guild, where the platform has one.
    pub workspace: Option<String>,
    /// The chat, channel or direct-message id.
    pub channel: String,
    /// The thread the message was posted in, if any.
    pub thread: Option<String>,
    /// The sender's platform user id.
    pub user: String,
    /// The sender's display name, when the platform gives one.
    pub user_name: Option<String>,
    /// The sender's roles on the platform (Discord roles, Slack user groups), by name.
    pub platform_roles: Vec<String>,
    /// Whether the message is a one-to-one conversation with the bot.
    pub is_direct: bool,
    /// The message text.
    pub text: String,
    /// The platform's id of this message, the same in every delivery of it (retries,
    /// Slack's `message` and `app_mention` twins, another instance's copy): the gateway
    /// claims it in the database so a message is handled once. Slack: `channel/ts`;
    /// Telegram: `chat:message`; Discord: the message id.
    pub event_id: String,
    /// When frontdesk received the message.
    pub received_at: DateTime<Utc>,
    /// The phone number of a contact the sender shared (Telegram's contact button).
    pub contact_phone: Option<String>,
}

impl Inbound {
    /// Creates a message in a channel, with no thread, workspace, name, roles or contact.
    #[must_use]
    pub fn new(
        platform: Platform,
        channel: impl Into<String>,
        user: impl Into<String>,
        text: impl Into<String>,
        event_id: impl Into<String>,
        received_at: DateTime<Utc>,
    ) -> Self {
        Self {
            platform,
            workspace: None,
            channel: channel.into(),
            thread: None,
            user: user.into(),
            user_name: None,
            platform_roles: Vec::new(),
            is_direct: false,
            text: text.into(),
            event_id: event_id.into(),
            received_at,
            contact_phone: None,
        }
    }

    /// Sets the workspace, team or guild.
    #[must_use]
    pub fn with_workspace(mut self, workspace: impl Into<String>) -> Self {
        self.workspace = Some(workspace.into());
        self
    }

    /// Sets the thread.
    #[must_use]
    pub fn with_thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = Some(thread.into());
        self
    }

    /// Sets the sender's display name.
    #[must_use]
    pub fn with_user_name(mut self, name: impl Into<String>) -> Self {
        self.user_name = Some(name.into());
        self
    }

    /// Sets the sender's platform roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.platform_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Marks the message as a direct (one-to-one) conversation, or not.
    #[must_use]
    pub fn with_direct(mut self, is_direct: bool) -> Self {
        self.is_direct = is_direct;
        self
    }

    /// Sets the phone number of a contact the sender shared.
    #[must_use]
    pub fn with_contact_phone(mut self, phone: impl Into<String>) -> Self {
        self.contact_phone = Some(phone.into());
        self
    }

    /// Returns the key of the conversation this message belongs to.
    #[must_use]
    pub fn conversation_key(&self) -> ConversationKey {
        ConversationKey {
            platform: self.platform,
            channel: self.channel.clone(),
            thread: self.thread.clone(),
            user: self.user.clone(),
        }
    }
}

/// Identifies one conversation: one user, in one channel and thread, on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationKey {
    /// The platform.
    pub platform: Platform,
    /// The chat, channel or direct-message id.
    pub channel: String,
    /// The thread, if any.
    pub thread: Option<String>,
    /// The user id.
    pub user: String,
}

impl ConversationKey {
    /// Returns the key as one string, `platform:channel:thread:user`, for use as a database key.
    ///
    /// A missing thread is written `-`. Inside each part `%` becomes `%25`, `:` becomes `%3A`,
    /// and a thread that is exactly `-` becomes `%2D`, so distinct keys give distinct strings,
    /// e.g. `telegram:123:-:456`.
    #[must_use]
    pub fn as_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let thread = match self.thread.as_deref() {
            None => "-".to_owned(),
            Some("-") => "%2D".to_owned(),
            Some(t) => escape(t),
        };
        write!(
            f,
            "{}:{}:{}:{}",
            self.platform,
            escape(&self.channel),
            thread,
            escape(&self.user)
        )
    }
}

/// Escapes the key separator and the escape character itself.
fn escape(part: &str) -> String {
    part.replace('%', "%25").replace(':', "%3A")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn builder_sets_every_field() {
        let m = Inbound::new(Platform::Slack, "C1", "U1", "hi", "ev1", at())
            .with_workspace("T1")
            .with_thread("171.5")
            .with_user_name("Asha")
            .with_roles(["staff", "front desk"])
            .with_direct(true)
            .with_contact_phone("+15550100");
        assert_eq!(m.workspace.as_deref(), Some("T1"));
        assert_eq!(m.thread.as_deref(), Some("171.5"));
        assert_eq!(m.user_name.as_deref(), Some("Asha"));
        assert_eq!(m.platform_roles, ["staff", "front desk"]);
        assert!(m.is_direct);
        assert_eq!(m.contact_phone.as_deref(), Some("+15550100"));
        assert_eq!(m.received_at, at());
    }

    #[test]
    fn conversation_key_string_form() {
        let m = Inbound::new(Platform::Telegram, "123", "456", "hi", "1", at());
        assert_eq!(m.conversation_key().as_string(), "telegram:123:-:456");
        let m = Inbound::new(Platform::Telegram, "-100", "7", "hi", "1", at()).with_thread("9");
        assert_eq!(m.conversation_key().to_string(), "telegram:-100:9:7");
    }

    #[test]
    fn conversation_key_string_is_unambiguous() {
        let key = |channel: &str, thread: Option<&str>, user: &str| ConversationKey {
            platform: Platform::Api,
            channel: channel.into(),
            thread: thread.map(Into::into),
            user: user.into(),
        };
        let a = key("a:b", None, "c");
        let b = key("a", Some("b"), "c");
        assert_ne!(a.as_string(), b.as_string());
        assert_ne!(
            key("x", None, "u").as_string(),
            key("x", Some("-"), "u").as_string()
        );
        assert_eq!(key("a:%", None, "u").as_string(), "api:a%3A%25:-:u");
    }
}
