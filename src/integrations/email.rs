//! Email through SendGrid's v3 `mail/send` API (`SENDGRID_API_KEY`, `EMAIL_FROM`,
//! `SENDGRID_API_URL` for a local fake): link codes, order confirmations, payment
//! receipts and enquiry replies, tagged with the outbox key when there is one.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{http, IntegrationError};
use crate::config::{Secret, SendgridSettings, Settings};

const PROVIDER: &str = "SendGrid";
const DEFAULT_API_URL: &str = "https://api.sendgrid.com";

/// A configured SendGrid sender.
#[derive(Debug, Clone)]
pub struct EmailSender {
    http: reqwest::Client,
    api_url: String,
    api_key: Secret,
    from: String,
    from_name: String,
}

impl EmailSender {
    /// The sender, when `SENDGRID_API_KEY` and `EMAIL_FROM` are both set.
    #[must_use]
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        Self::new(settings.providers.sendgrid.as_ref()?, &settings.studio.name)
    }

    /// The sender for these SendGrid settings, sending as `from_name`.
    #[must_use]
    pub fn new(sendgrid: &SendgridSettings, from_name: &str) -> Option<Self> {
        Some(Self {
            http: http::client(Duration::from_secs(10)).ok()?,
            api_url: http::base_url(sendgrid.api_url.as_deref(), DEFAULT_API_URL),
            api_key: sendgrid.api_key.clone(),
            from: sendgrid.from.clone(),
            from_name: from_name.to_owned(),
        })
    }

    /// Whether SendGrid takes the key (`GET /v3/scopes`).
    ///
    /// # Errors
    /// Refused (the key) or unreachable.
    pub async fn check(&self) -> Result<(), IntegrationError> {
        let request = self
            .http
            .get(format!("{}/v3/scopes", self.api_url))
            .bearer_auth(self.api_key.expose());
        http::check_credentials("SendGrid", request).await
    }

    /// Sends one plain-text email.
    ///
    /// # Errors
    /// As [`EmailSender::send_with_key`].
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), IntegrationError> {
        self.deliver(to, subject, text, None).await
    }

    /// Sends one plain-text email tagged with `key` in SendGrid's `custom_args`
    /// (`{"frontdesk_id": key}`). SendGrid has no idempotency header; the tag comes back in
    /// its event webhooks and activity feed, so a receiver can tell a resend of the same
    /// outbox item from a new message.
    ///
    /// # Errors
    /// SendGrid could not be reached (`Unreachable`) or did not accept the message
    /// (`Refused`, with the messages of SendGrid's `errors` list when it sent one; 5xx and
    /// 429 are retryable).
    pub async fn send_with_key(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        key: &str,
    ) -> Result<(), IntegrationError> {
        self.deliver(to, subject, text, Some(key)).await
    }

    async fn deliver(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        key: Option<&str>,
    ) -> Result<(), IntegrationError> {
        let mut body = json!({
            "personalizations": [{ "to": [{ "email": to }] }],
            "from": { "email": self.from, "name": self.from_name },
            "subject": subject,
            "content": [{ "type": "text/plain", "value": text }],
        });
        if let (Some(key), Some(fields)) = (key, body.as_object_mut()) {
            fields.insert("custom_args".into(), json!({ "frontdesk_id": key }));
        }
        let response = self
            .http
            .post(format!("{}/v3/mail/send", self.api_url))
            .bearer_auth(self.api_key.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| IntegrationError::Unreachable {
                provider: PROVIDER,
                reason: e.to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(IntegrationError::Refused {
            provider: PROVIDER,
            status: status.as_u16(),
            body: error_message(&body),
        })
    }
}

/// SendGrid's error body: `{"errors":[{"message":"…","field":"…","help":…}]}`.
#[derive(Deserialize)]
struct SendGridErrors {
    errors: Vec<SendGridError>,
}

#[derive(Deserialize)]
struct SendGridError {
    message: Option<String>,
    field: Option<String>,
}

/// The messages of SendGrid's error list (with the field each is about), or the start of
/// whatever else it sent.
fn error_message(text: &str) -> String {
    let listed = serde_json::from_str::<SendGridErrors>(text)
        .map(|e| {
            e.errors
                .into_iter()
                .filter_map(|e| match (e.message, e.field) {
                    (Some(m), Some(f)) if !f.is_empty() => Some(format!("{m} ({f})")),
                    (Some(m), _) => Some(m),
                    (None, _) => None,
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    if listed.is_empty() {
        text.chars().take(300).collect()
    } else {
        listed
    }
}
