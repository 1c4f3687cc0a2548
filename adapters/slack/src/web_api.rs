//! The Slack Web API client: slack-morphism's hyper connector over plain HTTP (a local fake at
//! an `http://` base URL) or HTTPS with rustls (Slack itself), and the mapping of its errors to
//! [`AdapterError`].
//!
//! Requests and answers are plain JSON values: slack-morphism supplies the transport, the
//! bearer token, the `ok`/`error` envelope and 429 `Retry-After` handling, while the adapter
//! reads only the few fields it needs, so a field Slack adds or drops never breaks a reply.

use std::time::Duration;

use frontdesk_chat::{with_causes, AdapterError};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use slack_morphism::errors::{
    SlackClientError, SlackClientHttpProtocolError, SlackClientSystemError,
};
use slack_morphism::prelude::{
    SlackApiToken, SlackApiTokenValue, SlackClient, SlackClientHttpConnector,
    SlackClientHyperConnector, SlackClientHyperHttpsConnector,
};
use url::Url;

use crate::tls;

/// How long to wait after a 429 that carried no `Retry-After` header.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long one request may take before it counts as a transport failure (hyper's client
/// has no timeout of its own, and a hung request would hold up a reply or the group cache).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a slack-morphism token from its string form.
pub(crate) fn token(value: &str) -> SlackApiToken {
    SlackApiToken::new(SlackApiTokenValue(value.to_owned()))
}

/// A Web API client for one base URL.
pub(crate) enum WebApi {
    /// Plain HTTP, for a local fake.
    Plain(SlackClient<SlackClientHyperConnector<HttpConnector>>),
    /// HTTPS, for Slack.
    Tls(SlackClient<SlackClientHyperHttpsConnector>),
}

impl WebApi {
    /// Creates a client for `api_url` (e.g. `https://slack.com/api`).
    ///
    /// # Errors
    /// [`AdapterError::Transport`] for a URL that is neither `http://` nor `https://`, or when
    /// the TLS roots cannot be loaded.
    pub(crate) fn new(api_url: &str) -> Result<Self, AdapterError> {
        let lower = api_url.to_ascii_lowercase();
        if lower.starts_with("http://") {
            let connector = SlackClientHyperConnector::with_connector(HttpConnector::new())
                .with_slack_api_url(api_url);
            Ok(Self::Plain(SlackClient::new(connector)))
        } else if lower.starts_with("https://") {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config((*tls::client_config()?).clone())
                .https_only()
                .enable_http1()
                .enable_http2()
                .build();
            let connector =
                SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url);
            Ok(Self::Tls(SlackClient::new(connector)))
        } else {
            Err(AdapterError::Transport(format!(
                "slack api url must start with http:// or https://, got `{api_url}`"
            )))
        }
    }

    /// POSTs `body` as JSON to `method` (e.g. `chat.postMessage`).
    pub(crate) async fn post(
        &self,
        token: &SlackApiToken,
        method: &str,
        body: &Value,
    ) -> Result<Value, AdapterError> {
        let call = async {
            match self {
                Self::Plain(client) => post_with(client, token, method, body).await,
                Self::Tls(client) => post_with(client, token, method, body).await,
            }
        };
        check(within_timeout(method, call).await?)
    }

    /// GETs `method` with query `params`.
    pub(crate) async fn get(
        &self,
        token: &SlackApiToken,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, AdapterError> {
        let call = async {
            match self {
                Self::Plain(client) => get_with(client, token, method, params).await,
                Self::Tls(client) => get_with(client, token, method, params).await,
            }
        };
        check(within_timeout(method, call).await?)
    }

    /// POSTs raw bytes to a full URL (a file upload URL).
    pub(crate) async fn post_bytes(
        &self,
        token: &SlackApiToken,
        url: Url,
        content_type: &str,
        data: &[u8],
    ) -> Result<(), AdapterError> {
        let call = async {
            match self {
                Self::Plain(client) => bytes_with(client, token, url, content_type, data).await,
                Self::Tls(client) => bytes_with(client, token, url, content_type, data).await,
            }
        };
        within_timeout("file upload", call)
            .await?
            .map(|_| ())
            .map_err(to_adapter_error)
    }
}

async fn post_with<C>(
    client: &SlackClient<C>,
    token: &SlackApiToken,
    method: &str,
    body: &Value,
) -> Result<Value, SlackClientError>
where
    C: SlackClientHttpConnector + Send + Sync,
{
    let session = client.open_session(token);
    session.http_session_api.http_post(method, body, None).await
}

async fn get_with<C>(
    client: &SlackClient<C>,
    token: &SlackApiToken,
    method: &str,
    params: &[(&str, String)],
) -> Result<Value, SlackClientError>
where
    C: SlackClientHttpConnector + Send + Sync,
{
    let params: Vec<(&str, Option<&String>)> = params
        .iter()
        .map(|(name, value)| (*name, Some(value)))
        .collect();
    let session = client.open_session(token);
    session
        .http_session_api
        .http_get(method, &params, None)
        .await
}

async fn bytes_with<C>(
    client: &SlackClient<C>,
    token: &SlackApiToken,
    url: Url,
    content_type: &str,
    data: &[u8],
) -> Result<Value, SlackClientError>
where
    C: SlackClientHttpConnector + Send + Sync,
{
    let session = client.open_session(token);
    session
        .http_session_api
        .http_post_uri_binary(url, content_type.to_owned(), data, None)
        .await
}

/// Runs one request, giving up after [`REQUEST_TIMEOUT`].
async fn within_timeout<T>(
    what: &str,
    call: impl std::future::Future<Output = T>,
) -> Result<T, AdapterError> {
    tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .map_err(|_| AdapterError::Transport(format!("slack {what} timed out")))
}

/// Maps a slack-morphism result, treating `"ok": false` without an `error` as a rejection.
fn check(result: Result<Value, SlackClientError>) -> Result<Value, AdapterError> {
    let value = result.map_err(to_adapter_error)?;
    if value.get("ok").and_then(Value::as_bool) == Some(false) {
        return Err(AdapterError::Rejected("unknown_error".to_owned()));
    }
    Ok(value)
}

/// The `ok:false` errors Slack documents as its own, passing trouble.
const TRANSIENT: [&str; 4] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Maps a slack-morphism error: `ok:false` → `Rejected(error)`, 429 → `RateLimited`,
/// everything else → `Transport`.
pub(crate) fn to_adapter_error(err: SlackClientError) -> AdapterError {
    match err {
        // Slack's own trouble, worth trying again (its documented transient errors).
        SlackClientError::ApiError(api) if TRANSIENT.contains(&api.code.as_str()) => {
            AdapterError::Transport(format!("slack answered {}", api.code))
        }
        SlackClientError::ApiError(api) => AdapterError::Rejected(api.code),
        SlackClientError::RateLimitError(limit) => AdapterError::RateLimited {
            retry_after: limit.retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        },
        SlackClientError::HttpError(http) => {
            AdapterError::Transport(format!("slack answered http {}", http.status_code))
        }
        // The request did not get an answer (connection refused, DNS, TLS…): slack-morphism
        // shows the cause only as `Debug`, so the chain of causes is spelt out instead.
        SlackClientError::HttpProtocolError(SlackClientHttpProtocolError {
            cause: Some(cause),
        }) => AdapterError::Transport(format!(
            "slack request failed: {}",
            with_causes(cause.as_ref())
        )),
        SlackClientError::SystemError(SlackClientSystemError {
            message,
            cause: Some(cause),
        }) => AdapterError::Transport(match message {
            Some(message) => format!("slack: {message}: {}", with_causes(cause.as_ref())),
            None => format!("slack: {}", with_causes(cause.as_ref())),
        }),
        other => AdapterError::Transport(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_schemes() {
        let err = WebApi::new("ftp://example.com/api").err();
        assert!(matches!(err, Some(AdapterError::Transport(m)) if m.contains("ftp://")));
        assert!(matches!(
            WebApi::new("http://127.0.0.1:1/api"),
            Ok(WebApi::Plain(_))
        ));
    }
}
