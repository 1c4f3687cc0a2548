//! Email through SendGrid's v3 `mail/send` API (`SENDGRID_API_KEY`, `EMAIL_FROM`,
//! `SENDGRID_API_URL` for a local fake).

use std::time::Duration;

use serde_json::json;

use super::IntegrationError;
use crate::config::{Secret, Settings};

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
        let api_key = settings.env("SENDGRID_API_KEY")?;
        let from = settings.env("EMAIL_FROM")?;
        let api_url = settings
            .env("SENDGRID_API_URL")
            .unwrap_or(DEFAULT_API_URL)
            .trim_end_matches('/')
            .to_owned();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .ok()?;
        Some(Self {
            http,
            api_url,
            api_key: Secret::new(api_key),
            from: from.to_owned(),
            from_name: settings.studio.name.clone(),
        })
    }

    /// Sends one plain-text email.
    ///
    /// # Errors
    /// SendGrid could not be reached or did not accept the message (anything but 2xx).
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), IntegrationError> {
        let body = json!({
            "personalizations": [{ "to": [{ "email": to }] }],
            "from": { "email": self.from, "name": self.from_name },
            "subject": subject,
            "content": [{ "type": "text/plain", "value": text }],
        });
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
            body: body.chars().take(300).collect(),
        })
    }
}
