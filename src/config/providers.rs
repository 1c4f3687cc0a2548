//! The providers' and chat adapters' credentials and URLs, read once from the environment
//! (names as in INTERFACES.md). A provider or adapter is `None` (off) without its
//! credentials; a URL that is set must be an http(s) URL.

use super::{ConfigError, Secret};

/// Razorpay payment links: `RAZORPAY_KEY_ID` + `RAZORPAY_KEY_SECRET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RazorpaySettings {
    pub key_id: String,
    pub key_secret: Secret,
    /// `RAZORPAY_API_URL`: another API server (tests); `None` for Razorpay's own.
    pub api_url: Option<String>,
}

/// Stripe Checkout: `STRIPE_SECRET_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSettings {
    pub secret_key: Secret,
    /// `STRIPE_API_URL`.
    pub api_url: Option<String>,
}

/// The secrets the payment webhooks are signed with, each on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// `RAZORPAY_WEBHOOK_SECRET`.
    pub razorpay: Option<Secret>,
    /// `STRIPE_WEBHOOK_SECRET`.
    pub stripe: Option<Secret>,
}

/// SendGrid email: `SENDGRID_API_KEY` + `EMAIL_FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendgridSettings {
    pub api_key: Secret,
    pub from: String,
    /// `SENDGRID_API_URL`.
    pub api_url: Option<String>,
}

/// Twilio SMS: `TWILIO_ACCOUNT_SID` + `TWILIO_AUTH_TOKEN` + `TWILIO_FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    pub from: String,
    /// `TWILIO_API_URL`.
    pub api_url: Option<String>,
}

/// Google Calendar: `GOOGLE_CALENDAR_ID` + `GOOGLE_SERVICE_ACCOUNT_JSON`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleCalendarSettings {
    pub calendar_id: String,
    /// The service account's key file: its JSON itself, or the path of the file (read
    /// and checked by the calendar client).
    pub service_account: Secret,
    /// `GOOGLE_API_URL`.
    pub api_url: Option<String>,
    /// `GOOGLE_TOKEN_URL`: else the key file's `token_uri`, else Google's.
    pub token_url: Option<String>,
}

/// Every provider's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSettings {
    pub razorpay: Option<RazorpaySettings>,
    pub stripe: Option<StripeSettings>,
    pub webhooks: WebhookSecrets,
    pub sendgrid: Option<SendgridSettings>,
    pub twilio: Option<TwilioSettings>,
    pub google_calendar: Option<GoogleCalendarSettings>,
    /// Providers left off because only part of what they need is set, each with why
    /// ("SENDGRID_API_KEY is set but EMAIL_FROM is not: email is off").
    pub half_set: Vec<String>,
}

/// Why a provider that needs all of `names` is off when only some are set.
fn half_set(get: &impl Fn(&str) -> Option<String>, names: &[&str], what: &str) -> Option<String> {
    let (set, unset): (Vec<&str>, Vec<&str>) = names.iter().partition(|n| get(n).is_some());
    if set.is_empty() || unset.is_empty() {
        return None;
    }
    let verb = |list: &[&str]| if list.len() == 1 { "is" } else { "are" };
    Some(format!(
        "{} {} set but {} {} not: {what} is off",
        set.join(" and "),
        verb(&set),
        unset.join(" and "),
        verb(&unset)
    ))
}

/// Telegram: `TELEGRAM_BOT_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramSettings {
    pub bot_token: Secret,
    /// `TELEGRAM_API_URL`.
    pub api_url: Option<String>,
    /// `TELEGRAM_WEBHOOK_URL`: webhooks instead of long polling.
    pub webhook_url: Option<String>,
    /// `TELEGRAM_WEBHOOK_SECRET`.
    pub webhook_secret: Option<Secret>,
    /// `TELEGRAM_TAKE_OVER_WEBHOOK`: long polling may delete a webhook set elsewhere.
    pub take_over_webhook: bool,
}

/// Slack: `SLACK_BOT_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSettings {
    pub bot_token: Secret,
    /// `SLACK_APP_TOKEN`: Socket Mode.
    pub app_token: Option<Secret>,
    /// `SLACK_SIGNING_SECRET`: the Events API.
    pub signing_secret: Option<Secret>,
    /// `SLACK_API_URL`.
    pub api_url: Option<String>,
}

/// Discord: `DISCORD_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordSettings {
    pub token: Secret,
    /// `DISCORD_API_URL`.
    pub api_url: Option<String>,
}

/// Every chat adapter's tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdapterSettings {
    pub telegram: Option<TelegramSettings>,
    pub slack: Option<SlackSettings>,
    pub discord: Option<DiscordSettings>,
}

/// Reads the providers' settings; `get` gives a trimmed, non-empty variable.
pub(super) fn resolve_providers(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let razorpay = match (get("RAZORPAY_KEY_ID"), get("RAZORPAY_KEY_SECRET")) {
        (Some(key_id), Some(key_secret)) => Some(RazorpaySettings {
            key_id,
            key_secret: Secret::new(key_secret),
            api_url: url(get, "RAZORPAY_API_URL")?,
        }),
        _ => None,
    };
    let stripe = match get("STRIPE_SECRET_KEY") {
        Some(secret_key) => Some(StripeSettings {
            secret_key: Secret::new(secret_key),
            api_url: url(get, "STRIPE_API_URL")?,
        }),
        None => None,
    };
    let sendgrid = match (get("SENDGRID_API_KEY"), get("EMAIL_FROM")) {
        (Some(api_key), Some(from)) => Some(SendgridSettings {
            api_key: Secret::new(api_key),
            from,
            api_url: url(get, "SENDGRID_API_URL")?,
        }),
        _ => None,
    };
    let twilio = match (
        get("TWILIO_ACCOUNT_SID"),
        get("TWILIO_AUTH_TOKEN"),
        get("TWILIO_FROM"),
    ) {
        (Some(account_sid), Some(auth_token), Some(from)) => Some(TwilioSettings {
            account_sid,
            auth_token: Secret::new(auth_token),
            from,
            api_url: url(get, "TWILIO_API_URL")?,
        }),
        _ => None,
    };
    let google_calendar = match (
        get("GOOGLE_CALENDAR_ID"),
        get("GOOGLE_SERVICE_ACCOUNT_JSON"),
    ) {
        (Some(calendar_id), Some(json)) => Some(GoogleCalendarSettings {
            calendar_id,
            service_account: Secret::new(json),
            api_url: url(get, "GOOGLE_API_URL")?,
            token_url: url(get, "GOOGLE_TOKEN_URL")?,
        }),
        _ => None,
    };
    let half_set = [
        (&["RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET"][..], "Razorpay"),
        (&["SENDGRID_API_KEY", "EMAIL_FROM"][..], "email"),
        (
            &["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"][..],
            "SMS",
        ),
        (
            &["GOOGLE_CALENDAR_ID", "GOOGLE_SERVICE_ACCOUNT_JSON"][..],
            "the calendar",
        ),
    ]
    .iter()
    .filter_map(|(names, what)| half_set(get, names, what))
    .collect();
    Ok(ProviderSettings {
        half_set,
        razorpay,
        stripe,
        webhooks: WebhookSecrets {
            razorpay: get("RAZORPAY_WEBHOOK_SECRET").map(Secret::new),
            stripe: get("STRIPE_WEBHOOK_SECRET").map(Secret::new),
        },
        sendgrid,
        twilio,
        google_calendar,
    })
}

/// Reads the chat adapters' settings; `get` gives a trimmed, non-empty variable.
pub(super) fn resolve_adapters(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<AdapterSettings, ConfigError> {
    let telegram = match get("TELEGRAM_BOT_TOKEN") {
        Some(token) => Some(TelegramSettings {
            bot_token: Secret::new(token),
            api_url: url(get, "TELEGRAM_API_URL")?,
            webhook_url: url(get, "TELEGRAM_WEBHOOK_URL")?,
            webhook_secret: get("TELEGRAM_WEBHOOK_SECRET").map(Secret::new),
            take_over_webhook: switch(get, "TELEGRAM_TAKE_OVER_WEBHOOK")?.unwrap_or(false),
        }),
        None => None,
    };
    let slack = match get("SLACK_BOT_TOKEN") {
        Some(token) => Some(SlackSettings {
            bot_token: Secret::new(token),
            app_token: get("SLACK_APP_TOKEN").map(Secret::new),
            signing_secret: get("SLACK_SIGNING_SECRET").map(Secret::new),
            api_url: url(get, "SLACK_API_URL")?,
        }),
        None => None,
    };
    let discord = match get("DISCORD_TOKEN") {
        Some(token) => Some(DiscordSettings {
            token: Secret::new(token),
            api_url: url(get, "DISCORD_API_URL")?,
        }),
        None => None,
    };
    Ok(AdapterSettings {
        telegram,
        slack,
        discord,
    })
}

/// An on/off setting: `None` when unset or empty; on, true, yes, 1 or off, false, no, 0.
///
/// # Errors
/// Any other value, naming the setting.
pub(super) fn switch(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
) -> Result<Option<bool>, ConfigError> {
    match get(key).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("on" | "true" | "yes" | "1") => Ok(Some(true)),
        Some("off" | "false" | "no" | "0") => Ok(Some(false)),
        Some(other) => Err(ConfigError::Invalid {
            key,
            reason: format!("{other:?} is not on or off"),
        }),
    }
}

/// An optional URL setting: when set, an http(s) URL.
fn url(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
) -> Result<Option<String>, ConfigError> {
    match get(key) {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
            Err(ConfigError::Invalid {
                key,
                reason: format!("{u:?} is not an http(s) URL"),
            })
        }
        other => Ok(other),
    }
}
