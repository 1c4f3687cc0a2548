//! The payment webhooks, `POST /webhooks/razorpay` and `POST /webhooks/stripe`, as an
//! axum router to merge into frontdesk's HTTP server.
//!
//! Each request is verified before anything is read from it:
//! * Razorpay: `X-Razorpay-Signature` = hex HMAC-SHA256 of the raw body under
//!   `RAZORPAY_WEBHOOK_SECRET`.
//! * Stripe: `Stripe-Signature: t=…,v1=…[,v1=…]`, any `v1` = hex HMAC-SHA256 of
//!   `"{t}.{raw body}"` under `STRIPE_WEBHOOK_SECRET`, with `t` within 300 s of the clock.
//!
//! Then `payment_link.paid` (Razorpay) and `checkout.session.completed` /
//! `checkout.session.async_payment_succeeded` with `payment_status` "paid" (Stripe) mark
//! the payment named in the link's notes / the session's metadata paid and confirm its
//! order, through the idempotent [`Store::record_payment`].
//!
//! Answers (the providers retry anything but a 2xx):
//! * 200 — recorded; already paid (nothing changes); an unknown payment id (logged); a
//!   payment that is failed or refunded (logged as an error for staff); an event of
//!   another type; a paid event without a frontdesk payment id (a link or session made
//!   outside frontdesk on the same account).
//! * 400 — a signed body that is not JSON, lacks the event type or the link/session
//!   object, or names a payment id that is not an id.
//! * 401 — missing, malformed or wrong signature, or a Stripe timestamp outside the
//!   tolerance. Nothing is read or changed.
//! * 413 — a body over 256 KiB.
//! * 500 — the database failed: the provider retries later.
//! * 503 — that provider's webhook secret is not configured; the event is redelivered
//!   by the provider once it is.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::{Secret, Settings};
use crate::domain::{ObjectId, PaymentMethod, SharedClock};
use crate::store::{Store, StoreError};

/// The Razorpay webhook path.
pub const RAZORPAY_PATH: &str = "/webhooks/razorpay";
/// The Stripe webhook path.
pub const STRIPE_PATH: &str = "/webhooks/stripe";
/// The largest webhook body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How far a Stripe signature's timestamp may be from now, in seconds.
pub const STRIPE_TOLERANCE_SECS: i64 = 300;

/// What the webhook routes need.
#[derive(Clone, Debug)]
pub struct WebhookState {
    pub store: Store,
    pub clock: SharedClock,
    pub razorpay_secret: Option<Secret>,
    pub stripe_secret: Option<Secret>,
}

impl WebhookState {
    /// Secrets from `RAZORPAY_WEBHOOK_SECRET` and `STRIPE_WEBHOOK_SECRET`; the clock of
    /// the settings.
    #[must_use]
    pub fn from_settings(settings: &Settings, store: Store) -> Self {
        Self {
            store,
            clock: settings.clock(),
            razorpay_secret: settings.providers.webhooks.razorpay.clone(),
            stripe_secret: settings.providers.webhooks.stripe.clone(),
        }
    }
}

/// `POST /webhooks/razorpay` and `POST /webhooks/stripe`; see the module documentation.
pub fn routes(state: WebhookState) -> Router {
    Router::new()
        .route(RAZORPAY_PATH, post(razorpay))
        .route(STRIPE_PATH, post(stripe))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// A webhook answer: a status and a short JSON body saying what happened.
fn answer(status: StatusCode, outcome: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "outcome": outcome, "message": message })),
    )
        .into_response()
}

fn unsigned(provider: &str, why: &str) -> Response {
    tracing::warn!(provider, why, "payment webhook refused");
    answer(StatusCode::UNAUTHORIZED, "refused", why)
}

fn malformed(provider: &str, why: &str) -> Response {
    tracing::warn!(provider, why, "malformed payment webhook");
    answer(StatusCode::BAD_REQUEST, "malformed", why)
}

fn ignored(why: &str) -> Response {
    tracing::debug!(why, "payment webhook ignored");
    answer(StatusCode::OK, "ignored", why)
}

async fn razorpay(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Response {
    const PROVIDER: &str = "razorpay";
    let Some(secret) = &state.razorpay_secret else {
        tracing::error!("razorpay webhook received but RAZORPAY_WEBHOOK_SECRET is not set");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "razorpay webhooks are not set up (RAZORPAY_WEBHOOK_SECRET)",
        );
    };
    let Some(signature) = header(&headers, "x-razorpay-signature") else {
        return unsigned(PROVIDER, "no X-Razorpay-Signature header");
    };
    if !signature_matches(secret, &[&body], signature) {
        return unsigned(PROVIDER, "the signature does not match");
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return malformed(PROVIDER, "the body is not JSON");
    };
    let Some(kind) = event.get("event").and_then(Value::as_str) else {
        return malformed(PROVIDER, "no event type");
    };
    if kind != "payment_link.paid" {
        return ignored("not a payment_link.paid event");
    }
    let payload = event.get("payload");
    let Some(link) = payload
        .and_then(|p| p.pointer("/payment_link/entity"))
        .filter(|l| l.is_object())
    else {
        return malformed(PROVIDER, "no payload.payment_link.entity");
    };
    let Some(raw_id) = link.pointer("/notes/payment_id").and_then(Value::as_str) else {
        return ignored("a payment link without a frontdesk payment id");
    };
    let Ok(payment_id) = ObjectId::parse_str(raw_id.trim()) else {
        return malformed(PROVIDER, "notes.payment_id is not a payment id");
    };
    let provider_ref = payload
        .and_then(|p| p.pointer("/payment/entity/id"))
        .or_else(|| link.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let paid = Paid::from_fields(link.get("amount_paid"), link.get("currency"));
    record(&state, PROVIDER, payment_id, provider_ref, paid).await
}

async fn stripe(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Response {
    const PROVIDER: &str = "stripe";
    let Some(secret) = &state.stripe_secret else {
        tracing::error!("stripe webhook received but STRIPE_WEBHOOK_SECRET is not set");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "stripe webhooks are not set up (STRIPE_WEBHOOK_SECRET)",
        );
    };
    let Some(signature) = header(&headers, "stripe-signature") else {
        return unsigned(PROVIDER, "no Stripe-Signature header");
    };
    let Some(parsed) = StripeSignature::parse(signature) else {
        return unsigned(PROVIDER, "the Stripe-Signature header has no t= or v1=");
    };
    let age = state
        .clock
        .now()
        .timestamp()
        .saturating_sub(parsed.timestamp);
    if age.unsigned_abs() > STRIPE_TOLERANCE_SECS.unsigned_abs() {
        return unsigned(PROVIDER, "the signature timestamp is outside the tolerance");
    }
    let signed: [&[u8]; 3] = [parsed.raw_timestamp.as_bytes(), b".", &body];
    if !parsed
        .v1
        .iter()
        .any(|candidate| signature_matches(secret, &signed, candidate))
    {
        return unsigned(PROVIDER, "the signature does not match");
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return malformed(PROVIDER, "the body is not JSON");
    };
    let Some(kind) = event.get("type").and_then(Value::as_str) else {
        return malformed(PROVIDER, "no event type");
    };
    if !matches!(
        kind,
        "checkout.session.completed" | "checkout.session.async_payment_succeeded"
    ) {
        return ignored("not a completed checkout session");
    }
    let Some(session) = event.pointer("/data/object").filter(|o| o.is_object()) else {
        return malformed(PROVIDER, "no data.object");
    };
    if session.get("payment_status").and_then(Value::as_str) != Some("paid") {
        return ignored("the checkout session is not paid yet");
    }
    let Some(raw_id) = session
        .pointer("/metadata/payment_id")
        .and_then(Value::as_str)
    else {
        return ignored("a checkout session without a frontdesk payment id");
    };
    let Ok(payment_id) = ObjectId::parse_str(raw_id.trim()) else {
        return malformed(PROVIDER, "metadata.payment_id is not a payment id");
    };
    let provider_ref = session
        .get("payment_intent")
        .and_then(Value::as_str)
        .or_else(|| session.get("id").and_then(Value::as_str))
        .map(str::to_owned);
    let paid = Paid::from_fields(session.get("amount_total"), session.get("currency"));
    record(&state, PROVIDER, payment_id, provider_ref, paid).await
}

/// What the provider says was paid: minor units and the ISO currency code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Paid {
    minor: i64,
    currency: String,
}

impl Paid {
    fn from_fields(amount: Option<&Value>, currency: Option<&Value>) -> Option<Self> {
        Some(Self {
            minor: amount?.as_i64()?,
            currency: currency?.as_str()?.trim().to_ascii_uppercase(),
        })
    }

    fn covers(&self, due: &crate::domain::Money) -> bool {
        self.minor == due.minor() && self.currency == due.currency().code()
    }
}

/// The provider says a payment was made for another amount than is due (or does not say
/// how much): the payment stays pending and the staff get a ticket to look into it.
async fn flag_mismatch(
    store: &Store,
    provider: &str,
    payment: &crate::domain::Payment,
    paid: Option<&Paid>,
    provider_ref: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    let said = paid.map_or_else(
        || "no amount".to_owned(),
        |p| format!("{} {:.2}", p.currency, p.minor as f64 / 100.0),
    );
    let reason = format!(
        "{provider} reported a payment for order #{} of {said}, but {} is due; it was not marked paid. Check the payment{} with {provider} and record or refund it.",
        payment.order_number,
        payment.amount,
        provider_ref.map(|r| format!(" ({r})")).unwrap_or_default(),
    );
    tracing::error!(provider, payment = %payment.id, order = %payment.order_number, paid = %said, due = %payment.amount, "online payment amount does not match; not marked paid");
    // A retried webhook flags it once.
    let ticket = crate::store::Ticket::open(
        reason,
        format!("{provider} (payment webhook)"),
        Some(payment.client_id),
        now,
    )
    .once(Some(format!(
        "webhook:{provider}:{}:amount_mismatch",
        payment.id.to_hex()
    )));
    match store.open_ticket(&ticket).await {
        // A redelivered webhook finds the ticket it opened before: counted once.
        Ok(opened) if opened.id == ticket.id => {
            crate::telemetry::metrics::Metrics::global().ticket("opened");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "the amount mismatch could not be put to the staff; retry later");
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                "the payment could not be checked; retry later",
            );
        }
    }
    answer(
        StatusCode::OK,
        "amount_mismatch",
        "the amount paid is not the amount due; the studio will look into it",
    )
}

/// Records the payment and answers the provider.
async fn record(
    state: &WebhookState,
    provider: &str,
    payment_id: ObjectId,
    provider_ref: Option<String>,
    paid: Option<Paid>,
) -> Response {
    let now = state.clock.now();
    // Audited as the provider's: the signature proved who sent it.
    let store = state.store.acting(crate::store::Actor::new(
        provider.to_lowercase(),
        "provider",
        Some(provider.to_lowercase()),
        crate::store::Via::new(
            "webhook",
            format!("POST /webhooks/{}", provider.to_lowercase()),
        ),
        now,
    ));
    // Only the amount due marks it paid (a payment already paid is answered as such).
    match store.payment_by_id(payment_id).await {
        Ok(Some(payment))
            if payment.status == crate::domain::PaymentStatus::Pending
                && !paid.as_ref().is_some_and(|p| p.covers(&payment.amount)) =>
        {
            return flag_mismatch(
                &store,
                provider,
                &payment,
                paid.as_ref(),
                provider_ref.as_deref(),
                now,
            )
            .await;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(provider, payment = %payment_id, error = %e, "payment webhook: the payment could not be read");
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                "the payment could not be recorded; retry later",
            );
        }
    }
    match store
        .record_payment(payment_id, PaymentMethod::Online, provider_ref, now)
        .await
    {
        Ok((payment, true)) => {
            tracing::info!(
                provider,
                payment = %payment_id,
                order = %payment.order_number,
                "online payment recorded; order confirmed"
            );
            answer(StatusCode::OK, "recorded", "payment recorded")
        }
        Ok((_, false)) => answer(StatusCode::OK, "already_paid", "payment was already paid"),
        Err(StoreError::NotFound { .. }) => {
            tracing::warn!(provider, payment = %payment_id, "payment webhook for an unknown payment");
            answer(StatusCode::OK, "unknown_payment", "no such payment")
        }
        Err(StoreError::Conflict(reason)) => {
            tracing::error!(
                provider,
                payment = %payment_id,
                reason,
                "a client paid online for a payment that cannot be marked paid; staff must check"
            );
            answer(StatusCode::OK, "conflict", "payment cannot be marked paid")
        }
        Err(e) => {
            tracing::error!(provider, payment = %payment_id, error = %crate::protect::mask::text(&e.to_string()), "payment webhook not recorded");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                "the payment could not be recorded; retry later",
            )
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether `hex_signature` is the HMAC-SHA256 of the concatenated `parts` under `secret`,
/// compared in constant time.
fn signature_matches(secret: &Secret, parts: &[&[u8]], hex_signature: &str) -> bool {
    let Some(expected) = decode_hex(hex_signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return false;
    };
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(raw: &str) -> Option<Vec<u8>> {
    if raw.len() % 2 != 0 {
        return None;
    }
    raw.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// A parsed `Stripe-Signature` header.
struct StripeSignature<'a> {
    raw_timestamp: &'a str,
    timestamp: i64,
    v1: Vec<&'a str>,
}

impl<'a> StripeSignature<'a> {
    fn parse(header: &'a str) -> Option<Self> {
        let mut raw_timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            match item.trim().split_once('=') {
                Some(("t", value)) => raw_timestamp = Some(value.trim()),
                Some(("v1", value)) => v1.push(value.trim()),
                _ => {}
            }
        }
        let raw_timestamp = raw_timestamp?;
        let timestamp = raw_timestamp.parse().ok()?;
        if v1.is_empty() {
            return None;
        }
        Some(Self {
            raw_timestamp,
            timestamp,
            v1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decodes_and_rejects_garbage() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }

    #[test]
    fn stripe_header_parses_every_v1() {
        let s = StripeSignature::parse("t=12,v1=aa,v0=bb,v1=cc").unwrap();
        assert_eq!((s.timestamp, s.v1), (12, vec!["aa", "cc"]));
        assert!(StripeSignature::parse("v1=aa").is_none());
        assert!(StripeSignature::parse("t=x,v1=aa").is_none());
        assert!(StripeSignature::parse("t=1").is_none());
    }
}
