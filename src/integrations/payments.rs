//! Payment links for an order's payment: Razorpay Payment Links
//! (`RAZORPAY_KEY_ID`, `RAZORPAY_KEY_SECRET`, `RAZORPAY_API_URL`) or Stripe Checkout
//! Sessions (`STRIPE_SECRET_KEY`, `STRIPE_API_URL`), chosen by `payments.provider`.
//!
//! Creating a link is safe to repeat for the same payment: Stripe gets the request's
//! `Idempotency-Key`; Razorpay has no such header, so the link carries a `reference_id`
//! unique to the payment, and a repeat that Razorpay refuses as a duplicate reference
//! returns the link made the first time. The webhooks that report the payment are in
//! [`super::webhooks`].

use std::time::Duration;

use reqwest::RequestBuilder;
use serde_json::{json, Value};

use super::{http, IntegrationError};
use crate::config::{PaymentProviderKind, RazorpaySettings, Secret, Settings, StripeSettings};
use crate::domain::{Money, ObjectId, OrderNumber};

const RAZORPAY: &str = "Razorpay";
const STRIPE: &str = "Stripe";
const RAZORPAY_API_URL: &str = "https://api.razorpay.com";
const STRIPE_API_URL: &str = "https://api.stripe.com";
const TIMEOUT: Duration = Duration::from_secs(15);
/// The longest provider message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// What a payment link is for and who pays it.
#[derive(Debug, Clone, Copy)]
pub struct PaymentLinkRequest<'a> {
    pub payment_id: ObjectId,
    pub order_number: OrderNumber,
    pub amount: Money,
    pub description: &'a str,
    pub customer_name: &'a str,
    pub customer_email: &'a str,
    pub customer_phone: Option<&'a str>,
    /// Stable for the payment (e.g. the outbox item's key): a retry makes no second link.
    pub idempotency_key: &'a str,
}

/// A link the client opens to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLink {
    /// "Razorpay" or "Stripe".
    pub provider: &'static str,
    /// The provider's id of the link (`plink_…`) or session (`cs_…`).
    pub provider_ref: String,
    pub url: String,
}

/// The configured payment provider.
#[derive(Debug, Clone)]
pub enum PaymentProvider {
    Razorpay(RazorpayClient),
    Stripe(StripeClient),
}

impl PaymentProvider {
    /// The provider `payments.provider` (or `PAYMENT_PROVIDER`) names; when that is empty,
    /// the first with credentials of Razorpay (`RAZORPAY_KEY_ID` + `RAZORPAY_KEY_SECRET`)
    /// and Stripe (`STRIPE_SECRET_KEY`). `None` when none is usable: online payment is off.
    /// A provider named in the config but lacking credentials is off too, with a warning.
    #[must_use]
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        // The choice itself is made once, in the config (`StudioSettings::online_payment`),
        // so the agents' "pay at the desk" and the links agree.
        match settings.studio.online_payment {
            Some(PaymentProviderKind::Razorpay) => {
                RazorpayClient::from_settings(settings).map(Self::Razorpay)
            }
            Some(PaymentProviderKind::Stripe) => {
                StripeClient::from_settings(settings).map(Self::Stripe)
            }
            None => {
                if let Some(chosen) = settings.integrations.payment_provider {
                    tracing::warn!(
                        "payments.provider is {} but its credentials are not set: online payment is off",
                        chosen.name()
                    );
                }
                None
            }
        }
    }

    /// "Razorpay" or "Stripe".
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Razorpay(_) => RAZORPAY,
            Self::Stripe(_) => STRIPE,
        }
    }

    /// The same provider with another per-request timeout (15 s by default).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        if let Some(http) = http_client(timeout) {
            match &mut self {
                Self::Razorpay(c) => c.http = http,
                Self::Stripe(c) => c.http = http,
            }
        }
        self
    }

    /// Whether the provider takes the credentials: Razorpay `GET /v1/payment_links?count=1`,
    /// Stripe `GET /v1/balance`.
    ///
    /// # Errors
    /// Refused (the credentials) or unreachable.
    pub async fn check(&self) -> Result<(), IntegrationError> {
        match self {
            Self::Razorpay(c) => {
                let request = c
                    .http
                    .get(format!("{}/v1/payment_links?count=1", c.api_url))
                    .basic_auth(&c.key_id, Some(c.key_secret.expose()));
                super::http::check_credentials("Razorpay", request).await
            }
            Self::Stripe(c) => {
                let request = c
                    .http
                    .get(format!("{}/v1/balance", c.api_url))
                    .bearer_auth(c.secret_key.expose());
                super::http::check_credentials("Stripe", request).await
            }
        }
    }

    /// Creates (or, on a repeat, finds) the payment link for one payment.
    ///
    /// # Errors
    /// [`IntegrationError::Unreachable`] for a timeout, a dropped connection or a 5xx;
    /// [`IntegrationError::Refused`] with the provider's message for a 4xx;
    /// [`IntegrationError::BadResponse`] for an answer without the link.
    /// [`IntegrationError::is_retryable`] tells which are worth retrying.
    pub async fn create_link(
        &self,
        req: &PaymentLinkRequest<'_>,
    ) -> Result<PaymentLink, IntegrationError> {
        match self {
            Self::Razorpay(c) => c.create_link(req).await,
            Self::Stripe(c) => c.create_link(req).await,
        }
    }
}

/// Razorpay's Payment Links API (`/v1/payment_links`, HTTP basic auth).
#[derive(Debug, Clone)]
pub struct RazorpayClient {
    http: reqwest::Client,
    api_url: String,
    key_id: String,
    key_secret: Secret,
    return_url: String,
}

impl RazorpayClient {
    /// The client, when `RAZORPAY_KEY_ID` and `RAZORPAY_KEY_SECRET` are both set.
    #[must_use]
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        Self::new(
            settings.providers.razorpay.as_ref()?,
            &settings.integrations.payment_return_url,
        )
    }

    /// The client for these Razorpay settings; a paid client lands on `return_url`.
    #[must_use]
    pub fn new(razorpay: &RazorpaySettings, return_url: &str) -> Option<Self> {
        Some(Self {
            http: http_client(TIMEOUT)?,
            api_url: http::base_url(razorpay.api_url.as_deref(), RAZORPAY_API_URL),
            key_id: razorpay.key_id.clone(),
            key_secret: razorpay.key_secret.clone(),
            return_url: return_url.to_owned(),
        })
    }

    /// The link's `reference_id`: the order number and the payment id, e.g.
    /// `12345-65f1c0ffee0123456789abcd` (at most 33 of Razorpay's 40 characters). It is
    /// unique per payment, which is what makes a repeated create find the first link.
    #[must_use]
    pub fn reference_id(req: &PaymentLinkRequest<'_>) -> String {
        format!("{}-{}", req.order_number.get(), req.payment_id.to_hex())
    }

    /// `POST /v1/payment_links`; a duplicate `reference_id` returns the existing link.
    ///
    /// # Errors
    /// See [`PaymentProvider::create_link`].
    pub async fn create_link(
        &self,
        req: &PaymentLinkRequest<'_>,
    ) -> Result<PaymentLink, IntegrationError> {
        let reference_id = Self::reference_id(req);
        let mut customer = json!({ "name": req.customer_name, "email": req.customer_email });
        if let Some(phone) = req.customer_phone {
            customer["contact"] = json!(phone);
        }
        let body = json!({
            "amount": req.amount.minor(),
            "currency": req.amount.currency().code(),
            "accept_partial": false,
            "reference_id": reference_id,
            "description": req.description,
            "customer": customer,
            "notify": { "sms": false, "email": false },
            "reminder_enable": false,
            "notes": {
                "payment_id": req.payment_id.to_hex(),
                "order_number": req.order_number.get().to_string(),
            },
            "callback_url": self.return_url,
            "callback_method": "get",
        });
        let request = self
            .http
            .post(format!("{}/v1/payment_links", self.api_url))
            .basic_auth(&self.key_id, Some(self.key_secret.expose()))
            .json(&body);
        match call(RAZORPAY, request, razorpay_message).await {
            Ok(answer) => razorpay_link(&answer),
            Err(IntegrationError::Refused { status, body, .. })
                if status == 400 && is_duplicate_reference(&body) =>
            {
                tracing::info!(
                    reference_id,
                    "razorpay already has a link for this payment; fetching it"
                );
                match self.find_by_reference(&reference_id).await? {
                    Some(link) => Ok(link),
                    None => Err(IntegrationError::Refused {
                        provider: RAZORPAY,
                        status,
                        body,
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/payment_links?reference_id=…`: the link made earlier for this reference.
    async fn find_by_reference(
        &self,
        reference_id: &str,
    ) -> Result<Option<PaymentLink>, IntegrationError> {
        let request = self
            .http
            .get(format!(
                "{}/v1/payment_links?reference_id={}",
                self.api_url,
                super::percent_encode(reference_id)
            ))
            .basic_auth(&self.key_id, Some(self.key_secret.expose()));
        let answer = call(RAZORPAY, request, razorpay_message).await?;
        let Some(links) = answer.get("payment_links").and_then(Value::as_array) else {
            return Err(bad_response(
                RAZORPAY,
                "no payment_links in the lookup answer",
            ));
        };
        links
            .iter()
            .find(|l| l.get("reference_id").and_then(Value::as_str) == Some(reference_id))
            .map(razorpay_link)
            .transpose()
    }
}

/// Stripe's Checkout Sessions API (`/v1/checkout/sessions`, bearer secret key).
#[derive(Debug, Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_url: String,
    secret_key: Secret,
    return_url: String,
}

impl StripeClient {
    /// The client, when `STRIPE_SECRET_KEY` is set.
    #[must_use]
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        Self::new(
            settings.providers.stripe.as_ref()?,
            &settings.integrations.payment_return_url,
        )
    }

    /// The client for these Stripe settings; a paid client lands on `return_url`.
    #[must_use]
    pub fn new(stripe: &StripeSettings, return_url: &str) -> Option<Self> {
        Some(Self {
            http: http_client(TIMEOUT)?,
            api_url: http::base_url(stripe.api_url.as_deref(), STRIPE_API_URL),
            secret_key: stripe.secret_key.clone(),
            return_url: return_url.to_owned(),
        })
    }

    /// `POST /v1/checkout/sessions` (form-encoded) with the request's `Idempotency-Key`.
    ///
    /// # Errors
    /// See [`PaymentProvider::create_link`].
    pub async fn create_link(
        &self,
        req: &PaymentLinkRequest<'_>,
    ) -> Result<PaymentLink, IntegrationError> {
        let payment_id = req.payment_id.to_hex();
        let currency = req.amount.currency().code().to_lowercase();
        let unit_amount = req.amount.minor().to_string();
        let order_number = req.order_number.get().to_string();
        let fields: [(&str, &str); 11] = [
            ("mode", "payment"),
            ("success_url", &self.return_url),
            ("cancel_url", &self.return_url),
            ("client_reference_id", &payment_id),
            ("customer_email", req.customer_email),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", &currency),
            ("line_items[0][price_data][unit_amount]", &unit_amount),
            (
                "line_items[0][price_data][product_data][name]",
                req.description,
            ),
            ("metadata[payment_id]", &payment_id),
            ("metadata[order_number]", &order_number),
        ];
        let request = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.api_url))
            .bearer_auth(self.secret_key.expose())
            .header("Idempotency-Key", req.idempotency_key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(super::form_body(&fields));
        let answer = call(STRIPE, request, stripe_message).await?;
        let id = answer.get("id").and_then(Value::as_str);
        let url = answer.get("url").and_then(Value::as_str);
        match (id, url) {
            (Some(id), Some(url)) if !id.is_empty() && !url.is_empty() => Ok(PaymentLink {
                provider: STRIPE,
                provider_ref: id.to_owned(),
                url: url.to_owned(),
            }),
            _ => Err(bad_response(STRIPE, "the session has no id or url")),
        }
    }
}

fn http_client(timeout: Duration) -> Option<reqwest::Client> {
    http::client(timeout)
        .map_err(|e| tracing::warn!(error = %e, "cannot build the payments http client"))
        .ok()
}

/// Sends a request and returns the JSON of a 2xx answer; anything else becomes the
/// matching [`IntegrationError`] with the provider's own message.
async fn call(
    provider: &'static str,
    request: RequestBuilder,
    message_of: fn(&Value) -> Option<String>,
) -> Result<Value, IntegrationError> {
    let unreachable = |e: reqwest::Error| IntegrationError::Unreachable {
        provider,
        reason: if e.is_timeout() {
            "timed out".to_owned()
        } else {
            e.to_string()
        },
    };
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let text = response.text().await.map_err(unreachable)?;
    if status.is_success() {
        return serde_json::from_str(&text).map_err(|e| {
            bad_response(
                provider,
                &format!("HTTP {status} with a body that is not JSON ({e})"),
            )
        });
    }
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| message_of(&v))
        .unwrap_or_else(|| shorten(&text));
    if status.is_server_error() {
        return Err(IntegrationError::Unreachable {
            provider,
            reason: format!("HTTP {}: {message}", status.as_u16()),
        });
    }
    Err(IntegrationError::Refused {
        provider,
        status: status.as_u16(),
        body: message,
    })
}

/// Razorpay's `{"error":{"code","description"}}`.
fn razorpay_message(v: &Value) -> Option<String> {
    let error = v.get("error")?;
    let description = error.get("description").and_then(Value::as_str)?;
    Some(match error.get("code").and_then(Value::as_str) {
        Some(code) => shorten(&format!("{description} ({code})")),
        None => shorten(description),
    })
}

/// Stripe's `{"error":{"message","type"}}`.
fn stripe_message(v: &Value) -> Option<String> {
    let error = v.get("error")?;
    let message = error.get("message").and_then(Value::as_str)?;
    Some(match error.get("type").and_then(Value::as_str) {
        Some(kind) => shorten(&format!("{message} ({kind})")),
        None => shorten(message),
    })
}

/// Whether a Razorpay 400 says the `reference_id` was used before.
fn is_duplicate_reference(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("reference")
        && (lower.contains("already") || lower.contains("exist") || lower.contains("taken"))
}

fn razorpay_link(v: &Value) -> Result<PaymentLink, IntegrationError> {
    let id = v.get("id").and_then(Value::as_str);
    let url = v.get("short_url").and_then(Value::as_str);
    match (id, url) {
        (Some(id), Some(url)) if !id.is_empty() && !url.is_empty() => Ok(PaymentLink {
            provider: RAZORPAY,
            provider_ref: id.to_owned(),
            url: url.to_owned(),
        }),
        _ => Err(bad_response(
            RAZORPAY,
            "the payment link has no id or short_url",
        )),
    }
}

fn bad_response(provider: &'static str, reason: &str) -> IntegrationError {
    IntegrationError::BadResponse {
        provider,
        reason: reason.to_owned(),
    }
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty answer)".to_owned();
    }
    text.chars().take(MAX_MESSAGE_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_reference_messages_are_recognised() {
        assert!(is_duplicate_reference(
            "reference_id already exists (BAD_REQUEST_ERROR)"
        ));
        assert!(is_duplicate_reference(
            "Payment Link with given reference id already exists"
        ));
        assert!(!is_duplicate_reference(
            "The amount must be at least INR 1.00"
        ));
    }
}
