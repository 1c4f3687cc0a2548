//! Outbound HTTP clients for the providers frontdesk talks to. Each is off when its
//! credentials are missing, and the features that need it say so politely.
//!
//! * [`email`] — SendGrid v3 mail send.

pub mod email;

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
