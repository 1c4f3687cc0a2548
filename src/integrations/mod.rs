//! Outbound HTTP clients for the providers frontdesk talks to. Each is off when its
//! credentials are missing, and the features that need it say so politely.
//!
//! * [`email`] — SendGrid v3 mail send.
//! * [`sms`] — Twilio Messages API.
//! * [`calendar`] — Google Calendar events for classes (service-account JWT → token).
//! * [`messages`] — the texts of the emails and SMS frontdesk sends.
//! * [`payments`] — Razorpay payment links and Stripe Checkout sessions; [`webhooks`] —
//!   their signed webhooks, which mark a payment paid and its order confirmed.

pub mod calendar;
pub mod email;
pub mod messages;
pub mod payments;
pub mod sms;
pub mod webhooks;

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("{provider} is not configured: {what}")]
    NotConfigured {
        provider: &'static str,
        what: String,
    },
    #[error("{provider} settings are invalid: {reason}")]
    BadConfig {
        provider: &'static str,
        reason: String,
    },
    #[error("{provider} sent an answer frontdesk cannot read: {reason}")]
    BadResponse {
        provider: &'static str,
        reason: String,
    },
    #[error("{provider} is not reachable: {reason}")]
    Unreachable {
        provider: &'static str,
        reason: String,
    },
    #[error("{provider} refused the request ({status}): {body}")]
    Refused {
        provider: &'static str,
        status: u16,
        body: String,
    },
}

impl IntegrationError {
    /// Whether trying again later may succeed: an unreachable provider, a 5xx, a 429 or an
    /// answer that could not be read. A 4xx refusal or missing/invalid settings will fail
    /// the same way every time, so the outbox parks those at once.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::BadResponse { .. } => true,
            Self::Refused { status, .. } => *status == 429 || *status >= 500,
            Self::NotConfigured { .. } | Self::BadConfig { .. } => false,
        }
    }
}

/// An `application/x-www-form-urlencoded` body (reqwest's `form` feature is off): every
/// byte outside `A–Z a–z 0–9 - . _ ~` is percent-encoded, which every form decoder reads.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything outside RFC 3986's unreserved characters: right for a form
/// value and for one URL path segment alike.
pub(crate) fn percent_encode(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}
