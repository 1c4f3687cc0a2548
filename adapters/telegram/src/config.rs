//! [`TelegramConfig`]: the bot token, an optional Bot API base URL (a local server in tests)
//! and the webhook secret, with the checks Telegram applies to that secret.

use std::fmt;

/// How frontdesk reaches the Telegram Bot API.
#[derive(Clone, Default)]
pub struct TelegramConfig {
    /// The bot token from @BotFather (`TELEGRAM_BOT_TOKEN`).
    pub token: String,
    /// The Bot API base URL, e.g. `http://127.0.0.1:8081` (`TELEGRAM_API_URL`); `None` means
    /// `https://api.telegram.org`.
    pub api_url: Option<String>,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with every webhook
    /// call: 1–256 characters of `A-Z`, `a-z`, `0-9`, `_` and `-`. Required for webhooks.
    pub webhook_secret: Option<String>,
}

impl TelegramConfig {
    /// Creates a configuration for the real Bot API, without a webhook secret.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            api_url: None,
            webhook_secret: None,
        }
    }

    /// Sets the Bot API base URL.
    #[must_use]
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Sets the webhook secret.
    #[must_use]
    pub fn with_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// Checks the webhook secret, if one is set, against Telegram's rules.
    ///
    /// # Errors
    ///
    /// Returns a message naming the rule the secret breaks.
    pub fn validate(&self) -> Result<(), String> {
        match &self.webhook_secret {
            None => Ok(()),
            Some(secret) => validate_webhook_secret(secret),
        }
    }
}

/// Hides the token and the secret.
impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &"<redacted>")
            .field("api_url", &self.api_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The longest secret Telegram accepts.
const MAX_SECRET_LEN: usize = 256;

/// Checks a webhook secret: 1–256 characters of `A-Z`, `a-z`, `0-9`, `_` and `-`.
///
/// # Errors
///
/// Returns a message naming the rule the secret breaks (never the secret itself).
pub fn validate_webhook_secret(secret: &str) -> Result<(), String> {
    const RULE: &str = "1-256 characters of A-Z, a-z, 0-9, _ and -";
    if secret.is_empty() {
        return Err(format!(
            "telegram webhook secret is empty; it must be {RULE}"
        ));
    }
    if secret.len() > MAX_SECRET_LEN {
        return Err(format!(
            "telegram webhook secret is {} characters long; it must be {RULE}",
            secret.chars().count()
        ));
    }
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "telegram webhook secret has a character Telegram does not allow; it must be {RULE}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_rules() {
        assert!(validate_webhook_secret("a").is_ok());
        assert!(validate_webhook_secret("Abc_09-xyz").is_ok());
        assert!(validate_webhook_secret(&"x".repeat(256)).is_ok());
        assert!(validate_webhook_secret("").is_err());
        assert!(validate_webhook_secret(&"x".repeat(257)).is_err());
        assert!(validate_webhook_secret("has space").is_err());
        assert!(validate_webhook_secret("ümlaut").is_err());
        let err = validate_webhook_secret("bad/secret").unwrap_err();
        assert!(!err.contains("bad/secret"), "{err}");
    }

    #[test]
    fn debug_hides_secrets() {
        let config = TelegramConfig::new("123:SECRET").with_webhook_secret("hidden-secret");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("hidden"),
            "{shown}"
        );
    }
}
