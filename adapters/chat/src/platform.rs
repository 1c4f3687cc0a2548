//! The chat platforms frontdesk talks on, their names and their message length limits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A place a message can come from or go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Telegram, where clients write.
    Telegram,
    /// Slack, where staff work.
    Slack,
    /// Discord, where managers work.
    Discord,
    /// The local terminal, for development and demos.
    Console,
    /// The HTTP API, for programmatic callers.
    Api,
}

impl Platform {
    /// Every platform, in declaration order.
    pub const ALL: [Platform; 5] = [
        Platform::Telegram,
        Platform::Slack,
        Platform::Discord,
        Platform::Console,
        Platform::Api,
    ];

    /// Returns the lowercase name used in configuration, keys and serialized data.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Console => "console",
            Platform::Api => "api",
        }
    }

    /// Returns the longest message, in characters, the platform accepts in one send.
    ///
    /// Console and API have no limit and return `usize::MAX`.
    #[must_use]
    pub const fn max_message_len(self) -> usize {
        match self {
            Platform::Telegram => 4096,
            Platform::Slack => 4000,
            Platform::Discord => 2000,
            Platform::Console | Platform::Api => usize::MAX,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no known platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}`: expected one of telegram, slack, discord, console, api")]
pub struct ParsePlatformError(pub String);

impl FromStr for Platform {
    type Err = ParsePlatformError;

    /// Parses a platform name, ignoring case and surrounding whitespace.
    ///
    /// # Errors
    ///
    /// Returns [`ParsePlatformError`] when the name is not one of [`Platform::ALL`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ParsePlatformError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_from_str_round_trip() {
        for p in Platform::ALL {
            assert_eq!(p.to_string().parse::<Platform>().unwrap(), p);
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
        }
        assert_eq!(
            " Telegram ".parse::<Platform>().unwrap(),
            Platform::Telegram
        );
    }

    #[test]
    fn unknown_name_is_rejected_with_a_clear_message() {
        let err = "whatsapp".parse::<Platform>().unwrap_err();
        assert_eq!(err, ParsePlatformError("whatsapp".into()));
        assert_eq!(
            err.to_string(),
            "unknown platform `whatsapp`: expected one of telegram, slack, discord, console, api"
        );
    }

    #[test]
    fn serde_reads_lowercase_names() {
        use serde::de::value::{Error, StrDeserializer};
        use serde::de::IntoDeserializer;
        for p in Platform::ALL {
            let de: StrDeserializer<'_, Error> = p.as_str().into_deserializer();
            assert_eq!(Platform::deserialize(de).unwrap(), p);
        }
        let de: StrDeserializer<'_, Error> = "Telegram".into_deserializer();
        assert!(Platform::deserialize(de).is_err());
    }

    #[test]
    fn limits_match_the_platforms() {
        assert_eq!(Platform::Telegram.max_message_len(), 4096);
        assert_eq!(Platform::Slack.max_message_len(), 4000);
        assert_eq!(Platform::Discord.max_message_len(), 2000);
        assert_eq!(Platform::Console.max_message_len(), usize::MAX);
        assert_eq!(Platform::Api.max_message_len(), usize::MAX);
    }
}
