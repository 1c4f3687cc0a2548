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

/// The base URL: the one set, else `default`, without a trailing `/`.
pub(crate) fn base_url(set: Option<&str>, default: &str) -> String {
    set.unwrap_or(default).trim_end_matches('/').to_owned()
}
