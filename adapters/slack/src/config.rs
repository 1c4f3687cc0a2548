//! [`SlackConfig`]: what the Slack adapter needs to know to talk to one workspace.

use std::fmt;

/// The Web API base URL of the real Slack.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Tokens and addresses for one Slack app.
///
/// `Debug` shows whether each secret is set, never its value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SlackConfig {
    /// The bot token (`xoxb-…`), used for every Web API call.
    pub bot_token: String,
    /// The app-level token (`xapp-…`) with `connections:write`, needed for Socket Mode.
    pub app_token: Option<String>,
    /// The signing secret, needed to verify Events API requests.
    pub signing_secret: Option<String>,
    /// The Web API base URL (`SLACK_API_URL`, e.g. `http://127.0.0.1:PORT/api` for a local
    /// fake); [`DEFAULT_API_URL`] when `None`.
    pub api_url: Option<String>,
}

impl SlackConfig {
    /// Creates a configuration with only the bot token.
    #[must_use]
    pub fn new(bot_token: impl Into<String>) -> Self {
        Self {
            bot_token: bot_token.into(),
            ..Self::default()
        }
    }

    /// Sets the app-level token for Socket Mode.
    #[must_use]
    pub fn with_app_token(mut self, app_token: impl Into<String>) -> Self {
        self.app_token = Some(app_token.into());
        self
    }

    /// Sets the signing secret for the Events API.
    #[must_use]
    pub fn with_signing_secret(mut self, secret: impl Into<String>) -> Self {
        self.signing_secret = Some(secret.into());
        self
    }

    /// Sets the Web API base URL.
    #[must_use]
    pub fn with_api_url(mut self, api_url: impl Into<String>) -> Self {
        self.api_url = Some(api_url.into());
        self
    }

    /// Returns the Web API base URL to use, without a trailing slash.
    #[must_use]
    pub fn api_url(&self) -> &str {
        self.api_url
            .as_deref()
            .map_or(DEFAULT_API_URL, |url| url.trim_end_matches('/'))
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &str| if s.is_empty() { "<empty>" } else { "<set>" };
        f.debug_struct("SlackConfig")
            .field("bot_token", &set(&self.bot_token))
            .field("app_token", &self.app_token.as_deref().map(set))
            .field("signing_secret", &self.signing_secret.as_deref().map(set))
            .field("api_url", &self.api_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let config = SlackConfig::new("xoxb-secret")
            .with_app_token("xapp-secret")
            .with_signing_secret("shh")
            .with_api_url("http://127.0.0.1:1/api/");
        let shown = format!("{config:?}");
        assert!(!shown.contains("xoxb-secret") && !shown.contains("xapp-secret"));
        assert!(!shown.contains("shh"));
        assert_eq!(config.api_url(), "http://127.0.0.1:1/api");
        assert_eq!(SlackConfig::new("x").api_url(), DEFAULT_API_URL);
    }
}
