//! SMS through Twilio's Messages API (`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`,
//! `TWILIO_FROM`, `TWILIO_API_URL` for a local fake): class and payment reminders.
//!
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth
//! `AccountSid:AuthToken`, form fields `To`, `From` (or `MessagingServiceSid` when
//! `TWILIO_FROM` is a Messaging Service `MG…` sid) and `Body`. Twilio answers 201 with the
//! message resource; its `sid` identifies the message.

use std::time::Duration;

use serde::Deserialize;

use super::{form_body, http, IntegrationError};
use crate::config::{Secret, Settings, TwilioSettings};

const PROVIDER: &str = "Twilio";
const DEFAULT_API_URL: &str = "https://api.twilio.com";

/// Twilio's limit on one message body, in characters.
pub const MAX_BODY_CHARS: usize = 1600;

/// A configured Twilio sender.
#[derive(Debug, Clone)]
pub struct SmsSender {
    http: reqwest::Client,
    api_url: String,
    account_sid: String,
    auth_token: Secret,
    from: String,
}

/// The part of Twilio's message resource frontdesk reads.
#[derive(Deserialize)]
struct MessageResource {
    sid: String,
}

/// Twilio's error body: `{"code":21211,"message":"…","more_info":"…","status":400}`.
#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

impl SmsSender {
    /// The sender, when `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `TWILIO_FROM` are
    /// all set.
    #[must_use]
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        Self::new(settings.providers.twilio.as_ref()?)
    }

    /// The sender for these Twilio settings.
    #[must_use]
    pub fn new(twilio: &TwilioSettings) -> Option<Self> {
        Some(Self {
            http: http::client(Duration::from_secs(10)).ok()?,
            api_url: http::base_url(twilio.api_url.as_deref(), DEFAULT_API_URL),
            account_sid: twilio.account_sid.clone(),
            auth_token: twilio.auth_token.clone(),
            from: twilio.from.clone(),
        })
    }

    /// Sends one SMS to `to` (E.164, e.g. `+919812345678`) and returns Twilio's message
    /// sid. A body over [`MAX_BODY_CHARS`] is cut to fit, ending in "…".
    ///
    /// # Errors
    /// Twilio could not be reached (`Unreachable`), refused the message (`Refused` with
    /// Twilio's message and code; 5xx and 429 are retryable), or answered something that
    /// is not a message resource — that last one only when it was not a success: a 2xx
    /// whose body cannot be read means Twilio took the message, so it is reported sent
    /// (sid `"unknown"`) rather than retried into a second SMS.
    pub async fn send(&self, to: &str, body: &str) -> Result<String, IntegrationError> {
        self.send_message(to, body).await
    }

    /// Whether Twilio takes the account and token (`GET /2010-04-01/Accounts/{sid}.json`).
    ///
    /// # Errors
    /// Refused (the credentials) or unreachable.
    pub async fn check(&self) -> Result<(), IntegrationError> {
        let request = self
            .http
            .get(format!(
                "{}/2010-04-01/Accounts/{}.json",
                self.api_url, self.account_sid
            ))
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()));
        super::http::check_credentials("Twilio", request).await
    }

    async fn send_message(&self, to: &str, body: &str) -> Result<String, IntegrationError> {
        let body = fit_body(body);
        let sender_field = if self.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let form = form_body(&[("To", to), (sender_field, &self.from), ("Body", &body)]);
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api_url,
            super::percent_encode(&self.account_sid)
        );
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| IntegrationError::Unreachable {
                provider: PROVIDER,
                reason: e.without_url().to_string(),
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(IntegrationError::Refused {
                provider: PROVIDER,
                status: status.as_u16(),
                body: error_message(&text),
            });
        }
        match serde_json::from_str::<MessageResource>(&text) {
            Ok(message) => Ok(message.sid),
            Err(e) => {
                tracing::warn!(error = %e, "Twilio accepted an SMS but its answer has no sid");
                Ok("unknown".to_owned())
            }
        }
    }
}

/// `body` if it fits in one Twilio message, else its first characters and "…" (cut at a
/// character, never inside one).
fn fit_body(body: &str) -> String {
    if body.chars().count() <= MAX_BODY_CHARS {
        return body.to_owned();
    }
    let kept: String = body.chars().take(MAX_BODY_CHARS - 1).collect();
    format!("{}…", kept.trim_end())
}

/// Twilio's error message with its code, or the start of whatever else it sent.
fn error_message(text: &str) -> String {
    match serde_json::from_str::<TwilioError>(text) {
        Ok(TwilioError {
            message: Some(message),
            code,
        }) => match code {
            Some(code) => format!("{message} (Twilio error {code})"),
            None => message,
        },
        _ => text.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_at_a_character_with_an_ellipsis() {
        let short = "Reminder: Hatha Flow tomorrow 07:00";
        assert_eq!(fit_body(short), short);
        let exact = "é".repeat(MAX_BODY_CHARS);
        assert_eq!(fit_body(&exact), exact);
        let long = "ü".repeat(MAX_BODY_CHARS + 5);
        let cut = fit_body(&long);
        assert_eq!(cut.chars().count(), MAX_BODY_CHARS);
        assert!(cut.ends_with("ü…"));
    }

    #[test]
    fn twilio_errors_read_as_their_message_and_code() {
        assert_eq!(
            error_message(r#"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#),
            "Invalid 'To' Phone Number (Twilio error 21211)"
        );
        assert_eq!(
            error_message("<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
    }
}
