//! [`DiscordConfig`]: the bot token and, for tests and proxies, the API base URL.

use std::fmt;

/// How to reach Discord.
#[derive(Clone, PartialEq, Eq)]
pub struct DiscordConfig {
    /// The bot token from the developer portal (with or without the `Bot ` prefix).
    pub token: String,
    /// The REST base URL without `/api/v10` (`DISCORD_API_URL`, e.g. `http://127.0.0.1:PORT`).
    /// `None` means discord.com with serenity's own rate limiter; a set URL turns that rate
    /// limiter off (serenity ignores a proxy otherwise) and the adapter honours 429s itself.
    pub api_url: Option<String>,
}

impl DiscordConfig {
    /// A configuration for discord.com.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            api_url: None,
        }
    }

    /// Sends REST calls to `api_url` instead of discord.com.
    #[must_use]
    pub fn with_api_url(mut self, api_url: impl Into<String>) -> Self {
        self.api_url = Some(api_url.into());
        self
    }

    /// Reads `DISCORD_TOKEN` and the optional `DISCORD_API_URL`; `None` without a token.
    #[must_use]
    pub fn from_env() -> Option<Self> {
        let token = std::env::var("DISCORD_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())?;
        let api_url = std::env::var("DISCORD_API_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        Some(Self { token, api_url })
    }

    /// The token as the `Authorization` header and IDENTIFY want it: `Bot TOKEN`.
    pub(crate) fn authorization(&self) -> String {
        let token = self.token.trim();
        if token.starts_with("Bot ") {
            token.to_owned()
        } else {
            format!("Bot {token}")
        }
    }

    /// The REST root: `https://discord.com/api/v10`, or e.g. `http://127.0.0.1:PORT/api/v10`.
    #[must_use]
    pub fn api_root(&self) -> String {
        let base = self
            .api_url
            .as_deref()
            .unwrap_or("https://discord.com")
            .trim_end_matches('/');
        format!("{base}/api/v10")
    }
}

impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &"<redacted>")
            .field("api_url", &self.api_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_adds_the_bot_prefix_once() {
        assert_eq!(DiscordConfig::new("abc").authorization(), "Bot abc");
        assert_eq!(DiscordConfig::new(" Bot abc ").authorization(), "Bot abc");
    }

    #[test]
    fn api_root_defaults_to_discord_and_trims_slashes() {
        assert_eq!(
            DiscordConfig::new("t").api_root(),
            "https://discord.com/api/v10"
        );
        assert_eq!(
            DiscordConfig::new("t")
                .with_api_url("http://127.0.0.1:9/")
                .api_root(),
            "http://127.0.0.1:9/api/v10"
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let shown = format!("{:?}", DiscordConfig::new("secret-token"));
        assert!(!shown.contains("secret-token"), "{shown}");
    }
}
