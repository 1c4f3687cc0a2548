//! How every provider client is built: one `reqwest` client with the provider's timeout,
//! and the API's base URL (the one set in the settings, else the provider's own).

use std::time::Duration;

/// An HTTP client whose every request gives up after `timeout`.
///
/// # Errors
/// The TLS backend could not be set up.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().timeout(timeout).build()
}

/// Sends a provider's read-only request that needs its credentials (`doctor`'s check):
/// `Ok` on a 2xx; `Refused` with the status (401/403: the credentials) otherwise;
/// `Unreachable` when no answer came within 5 s.
///
/// # Errors
/// As above.
pub(crate) async fn check_credentials(
    provider: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<(), super::IntegrationError> {
    let response = request
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| super::IntegrationError::Unreachable {
            provider,
            reason: e.to_string(),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Err(super::IntegrationError::Refused {
        provider,
        status: status.as_u16(),
        body,
    })
}

/// The base URL: the one set, else `default`, without a trailing `/`.
pub(crate) fn base_url(set: Option<&str>, default: &str) -> String {
    set.unwrap_or(default).trim_end_matches('/').to_owned()
}
