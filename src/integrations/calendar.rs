//! Classes as events in the studio's Google Calendar, written with a service account
//! (`GOOGLE_CALENDAR_ID`, `GOOGLE_SERVICE_ACCOUNT_JSON`; `GOOGLE_API_URL` and
//! `GOOGLE_TOKEN_URL` for local fakes).
//!
//! Authorisation is Google's two-legged OAuth for service accounts: an RS256 JWT signed
//! with the account's private key (`kid` = `private_key_id`; claims `iss` = `client_email`,
//! `scope` = calendar.events, `aud` = the token URL, `iat`, `exp` = `iat` + 1 h) is
//! exchanged at the token URL for an access token, which is cached until 60 s before it
//! expires. The JWT times come from the real clock, not the injected `Clock`: Google checks
//! them against real time.
//!
//! Events are upserted under ids frontdesk chooses ([`CalendarClient::event_id_for`]):
//! `events.insert` with the id, and on 409 (the id exists, perhaps as a deleted event)
//! `events.update` of that id, so delivering the same class twice leaves one event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::{form_body, http, percent_encode, IntegrationError};
use crate::config::{GoogleCalendarSettings, Secret, Settings};
use crate::domain::ObjectId;

const PROVIDER: &str = "Google Calendar";
const DEFAULT_API_URL: &str = "https://www.googleapis.com";
const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
const JSON_VAR: &str = "GOOGLE_SERVICE_ACCOUNT_JSON";
/// A cached access token is replaced this long before Google says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// One class as a calendar event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// From [`CalendarClient::event_id_for`].
    pub id: String,
    pub summary: String,
    pub description: String,
    pub location: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The studio's UTC offset (`+05:30`, as `FixedOffset` displays it): the times are sent
    /// as RFC 3339 date-times with that offset. An IANA zone name (`Asia/Kolkata`) is
    /// passed on as Google's `timeZone` instead; empty means UTC.
    pub time_zone: String,
}

/// A configured Google Calendar client. Clones share the cached access token.
#[derive(Clone)]
pub struct CalendarClient {
    http: reqwest::Client,
    api_url: String,
    token_url: String,
    calendar_id: String,
    account: ServiceAccount,
    token: Arc<Mutex<Option<CachedToken>>>,
}

/// What frontdesk needs from the service-account key file.
#[derive(Clone)]
struct ServiceAccount {
    client_email: String,
    key_id: Option<String>,
    key: EncodingKey,
}

struct CachedToken {
    access_token: Secret,
    refresh_at: Instant,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

/// The token endpoint's error: `{"error":"invalid_grant","error_description":"…"}`.
#[derive(Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

/// What one authorised attempt at a call came to.
enum Attempt {
    Done,
    /// 401: the access token was not accepted.
    Unauthorized,
}

impl std::fmt::Debug for CalendarClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarClient")
            .field("api_url", &self.api_url)
            .field("token_url", &self.token_url)
            .field("calendar_id", &self.calendar_id)
            .field("client_email", &self.account.client_email)
            .finish_non_exhaustive()
    }
}

impl CalendarClient {
    /// The client, when `GOOGLE_CALENDAR_ID` and `GOOGLE_SERVICE_ACCOUNT_JSON` (the key
    /// file's JSON itself, or the path of the file) are both set.
    ///
    /// # Errors
    /// `BadConfig` naming `GOOGLE_SERVICE_ACCOUNT_JSON` when the file cannot be read, is not
    /// service-account JSON, or its `private_key` is not a usable RSA key (the key itself
    /// is never part of the message).
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, IntegrationError> {
        settings
            .providers
            .google_calendar
            .as_ref()
            .map(Self::new)
            .transpose()
    }

    /// The client for these Google Calendar settings.
    ///
    /// # Errors
    /// As [`CalendarClient::from_settings`].
    pub fn new(google: &GoogleCalendarSettings) -> Result<Self, IntegrationError> {
        let calendar_id = &google.calendar_id;
        let raw = google.service_account.expose();
        let json = if raw.starts_with('{') {
            raw.to_owned()
        } else {
            std::fs::read_to_string(raw)
                .map_err(|e| bad_config(format!("cannot read {raw}: {e}")))?
        };
        let (account, token_uri) = parse_service_account(&json)?;
        let token_url = google
            .token_url
            .clone()
            .or(token_uri)
            .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
        let api_url = http::base_url(google.api_url.as_deref(), DEFAULT_API_URL);
        let http =
            http::client(Duration::from_secs(15)).map_err(|e| IntegrationError::BadConfig {
                provider: PROVIDER,
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Self {
            http,
            api_url,
            token_url,
            calendar_id: calendar_id.clone(),
            account,
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// The event id of a class: `fd` followed by the 24 hex digits of its ObjectId.
    /// Google accepts client-chosen ids of 5–1024 characters from base32hex (`a–v`, `0–9`);
    /// hex digits and `f`, `d` are all in that alphabet, and the id is the same every time,
    /// which is what makes [`CalendarClient::upsert_event`] idempotent.
    #[must_use]
    pub fn event_id_for(class_id: &ObjectId) -> String {
        format!("fd{}", class_id.to_hex())
    }

    /// Creates the event, or updates it when an event with its id already exists (also a
    /// deleted one, which the update restores). A rejected access token is replaced and
    /// the call tried once more.
    ///
    /// # Errors
    /// `Unreachable`; `Refused` with Google's message (5xx, 429 and Google's
    /// rate-limit 403s, reported as 429, are retryable); `BadResponse` for an unreadable
    /// token answer; `BadConfig` for a `time_zone` that is not an offset or zone name.
    pub async fn upsert_event(&self, event: &CalendarEvent) -> Result<(), IntegrationError> {
        self.upsert(event).await
    }

    /// Whether Google gives the service account a token (the one sign-in step).
    ///
    /// # Errors
    /// Refused (the service account) or unreachable.
    pub async fn check(&self) -> Result<(), IntegrationError> {
        self.access_token().await.map(drop)
    }

    async fn upsert(&self, event: &CalendarEvent) -> Result<(), IntegrationError> {
        let body = event_body(event)?;
        let token = self.access_token().await?;
        match self.try_upsert(&token, &event.id, &body).await? {
            Attempt::Done => Ok(()),
            Attempt::Unauthorized => {
                self.forget_token(&token).await;
                let token = self.access_token().await?;
                match self.try_upsert(&token, &event.id, &body).await? {
                    Attempt::Done => Ok(()),
                    Attempt::Unauthorized => {
                        self.forget_token(&token).await;
                        Err(fresh_token_rejected())
                    }
                }
            }
        }
    }

    /// Deletes the event with `event_id` (a cancelled class). An event that is already
    /// gone counts as deleted.
    ///
    /// # Errors
    /// As [`CalendarClient::upsert_event`].
    pub async fn delete_event(&self, event_id: &str) -> Result<(), IntegrationError> {
        let mut token = self.access_token().await?;
        for attempt in 0..2 {
            let response = self
                .http
                .delete(self.event_url(event_id))
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(unreachable_err)?;
            let status = response.status().as_u16();
            match status {
                200..=299 | 404 | 410 => return Ok(()),
                401 => {
                    self.forget_token(&token).await;
                    if attempt > 0 {
                        break;
                    }
                    token = self.access_token().await?;
                }
                _ => return Err(refused(status, &response.text().await.unwrap_or_default())),
            }
        }
        Err(fresh_token_rejected())
    }

    async fn try_upsert(
        &self,
        token: &Secret,
        event_id: &str,
        body: &Value,
    ) -> Result<Attempt, IntegrationError> {
        let response = self
            .http
            .post(self.events_url())
            .bearer_auth(token.expose())
            .json(body)
            .send()
            .await
            .map_err(unreachable_err)?;
        let status = response.status().as_u16();
        match status {
            200..=299 => return Ok(Attempt::Done),
            401 => return Ok(Attempt::Unauthorized),
            409 => {}
            _ => return Err(refused(status, &response.text().await.unwrap_or_default())),
        }
        let response = self
            .http
            .put(self.event_url(event_id))
            .bearer_auth(token.expose())
            .json(body)
            .send()
            .await
            .map_err(unreachable_err)?;
        match response.status().as_u16() {
            200..=299 => Ok(Attempt::Done),
            401 => Ok(Attempt::Unauthorized),
            status => Err(refused(status, &response.text().await.unwrap_or_default())),
        }
    }

    fn events_url(&self) -> String {
        format!(
            "{}/calendar/v3/calendars/{}/events",
            self.api_url,
            percent_encode(&self.calendar_id)
        )
    }

    fn event_url(&self, event_id: &str) -> String {
        format!("{}/{}", self.events_url(), percent_encode(event_id))
    }

    /// The cached access token, or a new one when there is none or it is about to expire.
    async fn access_token(&self) -> Result<Secret, IntegrationError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.access_token.clone());
        }
        let fresh = self.fetch_token().await?;
        let token = fresh.access_token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token if it is still the one Google rejected.
    async fn forget_token(&self, rejected: &Secret) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| &t.access_token == rejected) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, IntegrationError> {
        let assertion = self
            .account
            .assertion(&self.token_url, Utc::now().timestamp())?;
        let response = self
            .http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form_body(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &assertion),
            ]))
            .send()
            .await
            .map_err(unreachable_err)?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let body = match serde_json::from_str::<TokenError>(&text) {
                Ok(TokenError {
                    error,
                    error_description: Some(description),
                }) => format!("{error}: {description}"),
                Ok(TokenError { error, .. }) => error,
                Err(_) => text.chars().take(300).collect(),
            };
            return Err(IntegrationError::Refused {
                provider: PROVIDER,
                status: status.as_u16(),
                body: format!("token exchange: {body}"),
            });
        }
        let answer: TokenAnswer =
            serde_json::from_str(&text).map_err(|e| IntegrationError::BadResponse {
                provider: PROVIDER,
                reason: format!("no access token in the token answer ({e})"),
            })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        Ok(CachedToken {
            access_token: Secret::new(answer.access_token),
            refresh_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
        })
    }
}

impl ServiceAccount {
    /// The signed JWT that asks for a calendar.events token, issued at `iat` (Unix seconds).
    fn assertion(&self, token_url: &str, iat: i64) -> Result<String, IntegrationError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: token_url,
            iat,
            exp: iat + 3600,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| bad_config(format!("its private_key cannot sign ({e})")))
    }
}

/// The account and the `token_uri` from a service-account key file. Messages name fields,
/// never their values.
fn parse_service_account(json: &str) -> Result<(ServiceAccount, Option<String>), IntegrationError> {
    let value: Value = serde_json::from_str(json).map_err(|e| {
        bad_config(format!(
            "is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    if let Some(kind) = field("type").filter(|k| k != "service_account") {
        return Err(bad_config(format!(
            "is a {kind:?} key, not a service_account key"
        )));
    }
    let client_email =
        field("client_email").ok_or_else(|| bad_config("has no client_email".into()))?;
    let private_key =
        field("private_key").ok_or_else(|| bad_config("has no private_key".into()))?;
    let key = EncodingKey::from_rsa_pem(private_key.as_bytes())
        .map_err(|_| bad_config("has a private_key that is not an RSA key in PEM form".into()))?;
    let account = ServiceAccount {
        client_email,
        key_id: field("private_key_id"),
        key,
    };
    // PEM armour around bytes that are no RSA key only fails when signing: try it now.
    account
        .assertion(DEFAULT_TOKEN_URL, 0)
        .map_err(|_| bad_config("has a private_key that cannot sign RS256 tokens".into()))?;
    Ok((account, field("token_uri")))
}

/// Google's event resource for `event`.
fn event_body(event: &CalendarEvent) -> Result<Value, IntegrationError> {
    let zone = event.time_zone.trim();
    let (start, end) = if zone.is_empty() {
        (
            json!({ "dateTime": rfc3339(event.start, Utc) }),
            json!({ "dateTime": rfc3339(event.end, Utc) }),
        )
    } else if zone.starts_with(['+', '-']) {
        let offset: FixedOffset = zone.parse().map_err(|_| IntegrationError::BadConfig {
            provider: PROVIDER,
            reason: format!("time_zone {zone:?} is not an offset like +05:30"),
        })?;
        (
            json!({ "dateTime": rfc3339(event.start, offset) }),
            json!({ "dateTime": rfc3339(event.end, offset) }),
        )
    } else {
        (
            json!({ "dateTime": rfc3339(event.start, Utc), "timeZone": zone }),
            json!({ "dateTime": rfc3339(event.end, Utc), "timeZone": zone }),
        )
    };
    let mut body = json!({
        "id": event.id,
        "summary": event.summary,
        "description": event.description,
        "start": start,
        "end": end,
        "status": "confirmed",
    });
    if let (Some(location), Some(fields)) = (&event.location, body.as_object_mut()) {
        fields.insert("location".into(), json!(location));
    }
    Ok(body)
}

fn rfc3339<Tz: chrono::TimeZone>(at: DateTime<Utc>, zone: Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    at.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn fresh_token_rejected() -> IntegrationError {
    IntegrationError::Refused {
        provider: PROVIDER,
        status: 401,
        body: "a freshly issued access token was not accepted either".into(),
    }
}

fn bad_config(what: String) -> IntegrationError {
    IntegrationError::BadConfig {
        provider: PROVIDER,
        reason: format!("{JSON_VAR} {what}"),
    }
}

fn unreachable_err(e: reqwest::Error) -> IntegrationError {
    IntegrationError::Unreachable {
        provider: PROVIDER,
        reason: e.without_url().to_string(),
    }
}

/// Google's error (`{"error":{"code":…,"message":"…","errors":[{"reason":…}]}}`) as a
/// refusal. Google asks for rate-limit 403s to be retried with backoff, so those are
/// reported as 429.
fn refused(status: u16, text: &str) -> IntegrationError {
    let error = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let message = error
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let reason = error
        .as_ref()
        .and_then(|e| e.pointer("/errors/0/reason"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let rate_limited = status == 403
        && matches!(
            reason.as_str(),
            "rateLimitExceeded" | "userRateLimitExceeded"
        );
    let body = match message {
        Some(m) if rate_limited => format!("{m} ({reason}, HTTP 403)"),
        Some(m) => m,
        None => text.chars().take(300).collect(),
    };
    IntegrationError::Refused {
        provider: PROVIDER,
        status: if rate_limited { 429 } else { status },
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(time_zone: &str) -> CalendarEvent {
        CalendarEvent {
            id: "fd0123456789abcdef01234567".into(),
            summary: "Hatha Flow".into(),
            description: "With Asha".into(),
            location: None,
            start: Utc.with_ymd_and_hms(2026, 3, 2, 1, 30, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 3, 2, 2, 30, 0).unwrap(),
            time_zone: time_zone.into(),
        }
    }

    #[test]
    fn event_times_carry_the_studio_offset_or_the_zone_name() {
        let body = event_body(&event("+05:30")).unwrap();
        assert_eq!(
            body["start"],
            json!({ "dateTime": "2026-03-02T07:00:00+05:30" })
        );
        assert_eq!(
            body["end"],
            json!({ "dateTime": "2026-03-02T08:00:00+05:30" })
        );
        assert!(body.get("location").is_none());
        let body = event_body(&event("Asia/Kolkata")).unwrap();
        assert_eq!(
            body["start"],
            json!({ "dateTime": "2026-03-02T01:30:00Z", "timeZone": "Asia/Kolkata" })
        );
        assert_eq!(
            event_body(&event("")).unwrap()["end"],
            json!({ "dateTime": "2026-03-02T02:30:00Z" })
        );
        assert!(matches!(
            event_body(&event("+5")),
            Err(IntegrationError::BadConfig { .. })
        ));
    }

    #[test]
    fn event_ids_are_base32hex() {
        let id = CalendarClient::event_id_for(&ObjectId::new());
        assert_eq!(id.len(), 26);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c)));
    }

    #[test]
    fn google_rate_limit_403s_are_retryable() {
        let text = r#"{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"domain":"usageLimits","reason":"rateLimitExceeded"}]}}"#;
        let e = refused(403, text);
        assert!(e.is_retryable(), "{e}");
        let text =
            r#"{"error":{"code":403,"message":"Forbidden","errors":[{"reason":"forbidden"}]}}"#;
        assert!(
            matches!(refused(403, text), IntegrationError::Refused { status: 403, ref body, .. } if body == "Forbidden")
        );
    }
}
