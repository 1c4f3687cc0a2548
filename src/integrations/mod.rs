//! Outbound HTTP clients for the providers frontdesk talks to. Each is off when its
//! credentials are missing, and the features that need it say so politely.
//!
//! * [`email`] — SendGrid v3 mail send.
//! * [`sms`] — Twilio Messages API.
//! * [`calendar`] — Google Calendar events for classes (service-account JWT → token).
//! * [`messages`] — the texts of the emails and SMS frontdesk sends.
//! * [`payments`] — Razorpay payment links and Stripe Checkout sessions; [`webhooks`] —
//!   their signed webhooks, which mark a payment paid and its order confirmed.
//! * [`worker`] — the outbox worker (leases, backoff, dead letters); [`deliver`] — what
//!   delivering each kind of job means; [`scheduler`] — reminders, the digest, calendar
//!   sync. [`Providers`] holds every configured client; [`ChatRoutes`] the running chat
//!   adapters for proactive messages.

pub mod calendar;
pub mod deliver;
pub mod email;
mod http;
pub mod messages;
pub mod payments;
pub mod scheduler;
pub mod sms;
pub mod webhooks;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use frontdesk_chat::{DynChatAdapter, Platform};

use crate::config::{Settings, StudioSettings};

/// The running chat adapters the outbox sends proactive messages through (reminders,
/// confirmations, the digest). Filled in as the adapters start.
#[derive(Clone, Default)]
pub struct ChatRoutes(Arc<RwLock<HashMap<Platform, Arc<dyn DynChatAdapter>>>>);

impl std::fmt::Debug for ChatRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let platforms: Vec<Platform> = self
            .0
            .read()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        f.debug_tuple("ChatRoutes").field(&platforms).finish()
    }
}

impl ChatRoutes {
    pub fn register(&self, platform: Platform, adapter: Arc<dyn DynChatAdapter>) {
        if let Ok(mut map) = self.0.write() {
            map.insert(platform, adapter);
        }
    }

    #[must_use]
    pub fn get(&self, platform: Platform) -> Option<Arc<dyn DynChatAdapter>> {
        self.0.read().ok().and_then(|m| m.get(&platform).cloned())
    }
}

/// Every provider frontdesk can use; each is `None` (off) without its credentials.
#[derive(Debug, Clone)]
pub struct Providers {
    pub studio: StudioSettings,
    pub email: Option<email::EmailSender>,
    pub sms: Option<sms::SmsSender>,
    pub payments: Option<payments::PaymentProvider>,
    pub calendar: Option<calendar::CalendarClient>,
    pub chat: ChatRoutes,
    /// Where hand-off tickets are posted for the staff.
    pub handoff: Option<crate::config::HandoffTarget>,
}

impl Providers {
    /// The providers whose credentials are set.
    ///
    /// # Errors
    /// Credentials that are set but unusable (an unreadable Google service account).
    pub fn from_settings(settings: &Settings, chat: ChatRoutes) -> Result<Self, IntegrationError> {
        Ok(Self {
            studio: settings.studio.clone(),
            email: email::EmailSender::from_settings(settings),
            sms: sms::SmsSender::from_settings(settings),
            payments: payments::PaymentProvider::from_settings(settings),
            calendar: calendar::CalendarClient::from_settings(settings)?,
            chat,
            handoff: settings.integrations.handoff.clone(),
        })
    }

    /// One line per provider, for `doctor` and the start-up log.
    #[must_use]
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        let on = |b: bool, what: &str| {
            if b {
                format!("on ({what})")
            } else {
                "off".to_owned()
            }
        };
        vec![
            (
                "payments",
                self.payments.as_ref().map_or_else(
                    || "off: clients are told to pay at the desk".to_owned(),
                    |p| format!("on ({})", p.name()),
                ),
            ),
            ("email", on(self.email.is_some(), "SendGrid")),
            ("sms", on(self.sms.is_some(), "Twilio")),
            ("calendar", on(self.calendar.is_some(), "Google Calendar")),
        ]
    }

    /// Each configured provider asked whether it takes its credentials, at once.
    pub async fn check_credentials(&self) -> Vec<(&'static str, Result<(), IntegrationError>)> {
        use futures::future::OptionFuture;
        let (payments, email, sms, calendar) = tokio::join!(
            OptionFuture::from(self.payments.as_ref().map(payments::PaymentProvider::check)),
            OptionFuture::from(self.email.as_ref().map(email::EmailSender::check)),
            OptionFuture::from(self.sms.as_ref().map(sms::SmsSender::check)),
            OptionFuture::from(self.calendar.as_ref().map(calendar::CalendarClient::check)),
        );
        [
            ("payments", payments),
            ("email", email),
            ("sms", sms),
            ("calendar", calendar),
        ]
        .into_iter()
        .filter_map(|(what, checked)| checked.map(|c| (what, c)))
        .collect()
    }
}

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
