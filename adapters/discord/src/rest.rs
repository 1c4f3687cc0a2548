//! The few Discord REST calls the adapter makes (`GET /users/@me`, `POST
//! /channels/{id}/messages`, `POST /channels/{id}/typing`), over reqwest, with Discord's
//! answers mapped to [`AdapterError`] — a 429 becomes [`AdapterError::RateLimited`] carrying
//! Discord's `retry_after`.
//!
//! serenity's `Http` is not used here: its error type fails to decode a 429 body (which has
//! no `code`) and keeps neither `retry_after` nor the `Retry-After` header.

use std::time::Duration;

use frontdesk_chat::{with_causes, AdapterError, Platform};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::DiscordConfig;

/// How long one REST call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The wait assumed when a 429 names none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The most characters of an error body kept in an error message.
const MAX_REASON_CHARS: usize = 300;

/// A file to upload with a message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileUpload<'a> {
    /// The file name, already made safe for `attachment://` URLs.
    pub name: &'a str,
    pub mime: &'a str,
    pub bytes: &'a [u8],
}

/// An authenticated client for one bot's REST calls.
#[derive(Debug)]
pub(crate) struct Rest {
    http: reqwest::Client,
    root: String,
    authorization: String,
}

impl Rest {
    /// Builds the client.
    ///
    /// # Errors
    /// [`AdapterError::Transport`] if the HTTP client cannot be built.
    pub(crate) fn new(config: &DiscordConfig) -> Result<Self, AdapterError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "DiscordBot (https://github.com/frontdesk/frontdesk, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| AdapterError::Transport(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            http,
            root: config.api_root(),
            authorization: config.authorization(),
        })
    }

    /// The underlying HTTP client (cheap to clone), shared with serenity.
    pub(crate) fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// `GET /users/@me`: the bot's own user id.
    pub(crate) async fn current_user_id(&self) -> Result<u64, AdapterError> {
        let response = self
            .http
            .get(format!("{}/users/@me", self.root))
            .header(AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(transport)?;
        let response = check(response).await?;
        let body: Value = response.json().await.map_err(transport)?;
        body.get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| AdapterError::Rejected("GET /users/@me gave no user id".to_owned()))
    }

    /// `POST /channels/{channel}/messages` with a JSON payload, or multipart with
    /// `payload_json` and `files[0]` when there is a file.
    pub(crate) async fn create_message(
        &self,
        channel: &str,
        payload: &Value,
        file: Option<FileUpload<'_>>,
    ) -> Result<(), AdapterError> {
        let request = self
            .http
            .post(format!("{}/channels/{channel}/messages", self.root))
            .header(AUTHORIZATION, &self.authorization);
        let request = match file {
            None => request.json(payload),
            Some(file) => request.multipart(multipart(payload, file)),
        };
        let response = request.send().await.map_err(transport)?;
        check(response).await.map(drop)
    }

    /// `POST /channels/{channel}/typing`.
    pub(crate) async fn trigger_typing(&self, channel: &str) -> Result<(), AdapterError> {
        let response = self
            .http
            .post(format!("{}/channels/{channel}/typing", self.root))
            .header(AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(transport)?;
        check(response).await.map(drop)
    }
}

fn multipart(payload: &Value, file: FileUpload<'_>) -> Form {
    let json = with_mime(|| Part::text(payload.to_string()), "application/json");
    let bytes = with_mime(
        || Part::bytes(file.bytes.to_vec()).file_name(file.name.to_owned()),
        file.mime,
    );
    Form::new()
        .part("payload_json", json)
        .part("files[0]", bytes)
}

/// A part with this MIME type, or without one when reqwest does not accept the type.
fn with_mime(make: impl Fn() -> Part, mime: &str) -> Part {
    make().mime_str(mime).unwrap_or_else(|_| make())
}

fn transport(e: reqwest::Error) -> AdapterError {
    AdapterError::Transport(with_causes(&e))
}

/// Passes a success through and maps a failure to its [`AdapterError`].
async fn check(response: Response) -> Result<Response, AdapterError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body: Option<Value> = response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    Err(error_for(status, &headers, body.as_ref()))
}

/// The [`AdapterError`] for a failed answer.
pub(crate) fn error_for(
    status: StatusCode,
    headers: &HeaderMap,
    body: Option<&Value>,
) -> AdapterError {
    let message: String = body
        .and_then(|b| b.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason given"))
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    match status {
        StatusCode::TOO_MANY_REQUESTS => AdapterError::RateLimited {
            retry_after: retry_after(headers, body),
        },
        StatusCode::UNAUTHORIZED => AdapterError::BadToken {
            platform: Platform::Discord,
            reason: message,
        },
        // A server error says nothing about the message: worth trying again later.
        s if s.is_server_error() => {
            AdapterError::Transport(format!("HTTP {}: {message}", status.as_u16()))
        }
        _ => AdapterError::Rejected(format!("HTTP {}: {message}", status.as_u16())),
    }
}

/// The wait a 429 asks for: the body's `retry_after` (seconds, fractional), else the
/// `Retry-After` header, else `X-RateLimit-Reset-After`, else one second.
fn retry_after(headers: &HeaderMap, body: Option<&Value>) -> Duration {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    body.and_then(|b| b.get("retry_after"))
        .and_then(Value::as_f64)
        .or_else(|| header(RETRY_AFTER.as_str()))
        .or_else(|| header("x-ratelimit-reset-after"))
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    #[test]
    fn rate_limit_uses_the_body_retry_after_first() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        let body =
            json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false});
        assert_eq!(
            error_for(StatusCode::TOO_MANY_REQUESTS, &headers, Some(&body)),
            AdapterError::RateLimited {
                retry_after: Duration::from_millis(1500)
            }
        );
        assert_eq!(
            error_for(StatusCode::TOO_MANY_REQUESTS, &headers, None),
            AdapterError::RateLimited {
                retry_after: Duration::from_secs(2)
            }
        );
    }

    #[test]
    fn rate_limit_without_or_with_a_nonsense_wait_defaults_to_one_second() {
        let headers = HeaderMap::new();
        for body in [
            json!({}),
            json!({"retry_after": -3}),
            json!({"retry_after": "soon"}),
        ] {
            assert_eq!(
                error_for(StatusCode::TOO_MANY_REQUESTS, &headers, Some(&body)),
                AdapterError::RateLimited {
                    retry_after: DEFAULT_RETRY_AFTER
                },
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_discord_is_a_transport_error_naming_the_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let config = DiscordConfig::new("t").with_api_url(format!("http://127.0.0.1:{port}"));
        let err = Rest::new(&config)
            .unwrap()
            .current_user_id()
            .await
            .unwrap_err();
        let AdapterError::Transport(why) = &err else {
            panic!("{err:?}");
        };
        assert!(
            why.contains("/users/@me") && why.to_lowercase().contains("connection refused"),
            "{why}"
        );
    }

    #[test]
    fn unauthorized_is_a_bad_token_and_others_are_rejections() {
        let headers = HeaderMap::new();
        let body = json!({"message": "401: Unauthorized", "code": 0});
        assert_eq!(
            error_for(StatusCode::UNAUTHORIZED, &headers, Some(&body)),
            AdapterError::BadToken {
                platform: Platform::Discord,
                reason: "401: Unauthorized".into()
            }
        );
        let body = json!({"message": "Missing Access", "code": 50001});
        assert_eq!(
            error_for(StatusCode::FORBIDDEN, &headers, Some(&body)),
            AdapterError::Rejected("HTTP 403: Missing Access".into())
        );
        assert_eq!(
            error_for(StatusCode::BAD_GATEWAY, &headers, None),
            AdapterError::Transport("HTTP 502: Bad Gateway".into())
        );
    }
}
