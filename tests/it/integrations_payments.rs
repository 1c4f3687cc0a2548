//! Payments: Razorpay payment links and Stripe Checkout sessions against wiremock fakes
//! (exact path, auth, body, idempotency), their error mapping, provider choice from the
//! settings, and the signed webhooks against a real test database.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::doc;
use chrono::{DateTime, Utc};
use frontdesk::config::{Secret, Settings};
use frontdesk::domain::{
    Clock, Currency, Money, ObjectId, OrderNumber, OrderStatus, Payment, PaymentMethod,
    PaymentStatus,
};
use frontdesk::integrations::payments::{
    PaymentLink, PaymentLinkRequest, PaymentProvider, RazorpayClient,
};
use frontdesk::integrations::webhooks::{routes, WebhookState};
use frontdesk::integrations::IntegrationError;
use frontdesk::store::{PaymentQuery, Store};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wiremock::matchers::{basic_auth, bearer_token, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{demo_now, TestDb};

const RETURN_URL: &str = "https://studio.example/thanks";
const RAZORPAY_WEBHOOK_SECRET: &str = "rzp-webhook-secret";
const STRIPE_WEBHOOK_SECRET: &str = "whsec_test_secret";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let mut settings = crate::harness::settings(pairs);
    settings.integrations.payment_return_url = RETURN_URL.into();
    settings
}

fn razorpay(server: &MockServer) -> PaymentProvider {
    let s = settings(&[
        ("PAYMENT_PROVIDER", "razorpay"),
        ("RAZORPAY_KEY_ID", "rzp_test_key"),
        ("RAZORPAY_KEY_SECRET", "rzp_test_secret"),
        ("RAZORPAY_API_URL", &server.uri()),
    ]);
    PaymentProvider::from_settings(&s).unwrap()
}

fn stripe(server: &MockServer) -> PaymentProvider {
    let s = settings(&[
        ("PAYMENT_PROVIDER", "stripe"),
        ("STRIPE_SECRET_KEY", "sk_test_123"),
        ("STRIPE_API_URL", &format!("{}/", server.uri())),
    ]);
    PaymentProvider::from_settings(&s).unwrap()
}

fn payment_id() -> ObjectId {
    ObjectId::parse_str("65f1c0ffee0123456789abcd").unwrap()
}

fn link_request() -> PaymentLinkRequest<'static> {
    PaymentLinkRequest {
        payment_id: payment_id(),
        order_number: OrderNumber::new(12345).unwrap(),
        amount: Money::new(250_000, Currency::INR).unwrap(),
        description: "Order #12345: Yoga Beginner & more",
        customer_name: "Priya Sharma",
        customer_email: "priya@example.com",
        customer_phone: Some("+919876543210"),
        idempotency_key: "outbox:payment-link:65f1c0ffee0123456789abcd",
    }
}

async fn only_request(server: &MockServer) -> wiremock::Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one call to the provider");
    requests.remove(0)
}

// ---------------------------------------------------------------- Razorpay links

#[tokio::test]
async fn razorpay_link_sends_the_documented_request_and_parses_the_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .and(basic_auth("rzp_test_key", "rzp_test_secret"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "plink_ExjpAUN3gVHrPJ",
            "short_url": "https://rzp.io/i/nxrHnLJ",
            "status": "created",
            "reference_id": "12345-65f1c0ffee0123456789abcd",
        })))
        .expect(1)
        .mount(&server)
        .await;

    let provider = razorpay(&server);
    assert_eq!(provider.name(), "Razorpay");
    let link = provider.create_link(&link_request()).await.unwrap();
    assert_eq!(
        link,
        PaymentLink {
            provider: "Razorpay",
            provider_ref: "plink_ExjpAUN3gVHrPJ".into(),
            url: "https://rzp.io/i/nxrHnLJ".into(),
        }
    );

    let sent: Value = only_request(&server).await.body_json().unwrap();
    let reference = RazorpayClient::reference_id(&link_request());
    assert_eq!(reference, "12345-65f1c0ffee0123456789abcd");
    assert!(reference.len() <= 40);
    assert_eq!(
        sent,
        json!({
            "amount": 250_000,
            "currency": "INR",
            "accept_partial": false,
            "reference_id": reference,
            "description": "Order #12345: Yoga Beginner & more",
            "customer": {
                "name": "Priya Sharma",
                "email": "priya@example.com",
                "contact": "+919876543210",
            },
            "notify": { "sms": false, "email": false },
            "reminder_enable": false,
            "notes": { "payment_id": "65f1c0ffee0123456789abcd", "order_number": "12345" },
            "callback_url": RETURN_URL,
            "callback_method": "get",
        })
    );
}

#[tokio::test]
async fn razorpay_without_a_phone_sends_no_contact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "plink_1", "short_url": "https://rzp.io/i/1" })),
        )
        .mount(&server)
        .await;
    let req = PaymentLinkRequest {
        customer_phone: None,
        ..link_request()
    };
    razorpay(&server).create_link(&req).await.unwrap();
    let sent: Value = only_request(&server).await.body_json().unwrap();
    assert_eq!(
        sent["customer"],
        json!({ "name": "Priya Sharma", "email": "priya@example.com" })
    );
}

#[tokio::test]
async fn razorpay_duplicate_reference_returns_the_existing_link() {
    let server = MockServer::start().await;
    let reference = RazorpayClient::reference_id(&link_request());
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {
                "code": "BAD_REQUEST_ERROR",
                "description": "reference_id already exists",
                "source": "business",
                "reason": "input_validation_failed",
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_links"))
        .and(query_param("reference_id", reference.as_str()))
        .and(basic_auth("rzp_test_key", "rzp_test_secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "payment_links": [{
                "id": "plink_first",
                "short_url": "https://rzp.io/i/first",
                "reference_id": reference,
                "status": "created",
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let link = razorpay(&server)
        .create_link(&link_request())
        .await
        .unwrap();
    assert_eq!(link.provider_ref, "plink_first");
    assert_eq!(link.url, "https://rzp.io/i/first");
}

#[tokio::test]
async fn razorpay_refusal_is_permanent_and_outage_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": { "code": "BAD_REQUEST_ERROR", "description": "The amount must be atleast INR 1.00" }
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream exploded"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "error": { "code": "BAD_REQUEST_ERROR", "description": "Too many requests" }
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json</html>"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let provider = razorpay(&server);

    let err = provider.create_link(&link_request()).await.unwrap_err();
    match &err {
        IntegrationError::Refused {
            provider,
            status,
            body,
        } => {
            assert_eq!((*provider, *status), ("Razorpay", 400));
            assert!(
                body.contains("The amount must be atleast INR 1.00"),
                "{body}"
            );
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(!err.is_retryable());

    let err = provider.create_link(&link_request()).await.unwrap_err();
    assert!(
        matches!(&err, IntegrationError::Unreachable { reason, .. } if reason.contains("500")),
        "{err:?}"
    );
    assert!(err.is_retryable());

    let err = provider.create_link(&link_request()).await.unwrap_err();
    assert!(
        matches!(&err, IntegrationError::Refused { status: 429, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());

    let err = provider.create_link(&link_request()).await.unwrap_err();
    assert!(
        matches!(&err, IntegrationError::BadResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_as_unreachable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "plink_1", "short_url": "https://rzp.io/i/1" }))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let provider = razorpay(&server).with_timeout(Duration::from_millis(200));
    let err = provider.create_link(&link_request()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            IntegrationError::Unreachable {
                provider: "Razorpay",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

// ---------------------------------------------------------------- Stripe sessions

fn form_fields(body: &[u8]) -> BTreeMap<String, String> {
    let text = std::str::from_utf8(body).unwrap();
    let url = reqwest::Url::parse(&format!("http://form.test/?{text}")).unwrap();
    let fields: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(
        fields.len(),
        text.split('&').count(),
        "no field sent twice: {text}"
    );
    fields
}

#[tokio::test]
async fn stripe_session_sends_the_documented_form_and_parses_the_session() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(bearer_token("sk_test_123"))
        .and(header(
            "idempotency-key",
            "outbox:payment-link:65f1c0ffee0123456789abcd",
        ))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_a1b2c3",
            "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
            "payment_status": "unpaid",
        })))
        .expect(1)
        .mount(&server)
        .await;

    let provider = stripe(&server);
    assert_eq!(provider.name(), "Stripe");
    let link = provider.create_link(&link_request()).await.unwrap();
    assert_eq!(
        link,
        PaymentLink {
            provider: "Stripe",
            provider_ref: "cs_test_a1b2c3".into(),
            url: "https://checkout.stripe.com/c/pay/cs_test_a1b2c3".into(),
        }
    );

    let sent = form_fields(&only_request(&server).await.body);
    let expected: BTreeMap<String, String> = [
        ("mode", "payment"),
        ("success_url", RETURN_URL),
        ("cancel_url", RETURN_URL),
        ("client_reference_id", "65f1c0ffee0123456789abcd"),
        ("customer_email", "priya@example.com"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", "inr"),
        ("line_items[0][price_data][unit_amount]", "250000"),
        (
            "line_items[0][price_data][product_data][name]",
            "Order #12345: Yoga Beginner & more",
        ),
        ("metadata[payment_id]", "65f1c0ffee0123456789abcd"),
        ("metadata[order_number]", "12345"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn stripe_refusal_is_permanent_and_outage_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {
                "message": "Invalid currency: xyz",
                "type": "invalid_request_error",
                "param": "line_items[0][price_data][currency]",
            }
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "error": { "message": "Stripe is temporarily unavailable", "type": "api_error" }
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": { "message": "Invalid API Key provided: sk_test_***123", "type": "invalid_request_error" }
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "cs_1" })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let provider = stripe(&server);

    let err = provider.create_link(&link_request()).await.unwrap_err();
    match &err {
        IntegrationError::Refused {
            provider,
            status,
            body,
        } => {
            assert_eq!((*provider, *status), ("Stripe", 400));
            assert!(body.contains("Invalid currency: xyz"), "{body}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(!err.is_retryable());

    let err = provider.create_link(&link_request()).await.unwrap_err();
    assert!(
        matches!(&err, IntegrationError::Unreachable { reason, .. }
            if reason.contains("503") && reason.contains("temporarily unavailable")),
        "{err:?}"
    );
    assert!(err.is_retryable());

    let err = provider.create_link(&link_request()).await.unwrap_err();
    assert!(
        matches!(&err, IntegrationError::Refused { status: 401, body, .. } if body.contains("Invalid API Key")),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    // A session without a url is an answer frontdesk cannot use.
    let err = provider.create_link(&link_request()).await.unwrap_err();
    assert!(
        matches!(&err, IntegrationError::BadResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_retryable() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let s = settings(&[
        ("STRIPE_SECRET_KEY", "sk_test_123"),
        ("STRIPE_API_URL", &url),
    ]);
    let err = PaymentProvider::from_settings(&s)
        .unwrap()
        .create_link(&link_request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            IntegrationError::Unreachable {
                provider: "Stripe",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

// ---------------------------------------------------------------- choosing a provider

#[test]
fn provider_choice_follows_the_settings_and_credentials() {
    let rzp = [
        ("RAZORPAY_KEY_ID", "rzp_test_key"),
        ("RAZORPAY_KEY_SECRET", "rzp_test_secret"),
    ];
    let stp = [("STRIPE_SECRET_KEY", "sk_test_123")];
    let name =
        |pairs: &[(&str, &str)]| PaymentProvider::from_settings(&settings(pairs)).map(|p| p.name());

    assert_eq!(name(&[]), None, "nothing configured: online payment off");
    assert_eq!(
        name(&[rzp[0]]),
        None,
        "a key id without its secret is not enough"
    );
    assert_eq!(
        name(&[rzp[0], rzp[1], stp[0]]),
        Some("Razorpay"),
        "Razorpay first"
    );
    assert_eq!(name(&[stp[0]]), Some("Stripe"));
    assert_eq!(
        name(&[rzp[0], rzp[1], stp[0], ("PAYMENT_PROVIDER", "stripe")]),
        Some("Stripe")
    );
    assert_eq!(
        name(&[rzp[0], rzp[1], stp[0], ("PAYMENT_PROVIDER", "razorpay")]),
        Some("Razorpay")
    );
    assert_eq!(
        name(&[rzp[0], rzp[1], ("PAYMENT_PROVIDER", "stripe")]),
        None,
        "chosen but without credentials: off, not the other provider"
    );
    assert_eq!(name(&[stp[0], ("PAYMENT_PROVIDER", "razorpay")]), None);
}

// ---------------------------------------------------------------- webhooks

/// A clock the test moves.
#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

struct Hooks {
    db: TestDb,
    base: String,
    http: reqwest::Client,
    clock: Arc<TestClock>,
    /// A pending payment of the demo data whose order is pending.
    payment: Payment,
}

impl Hooks {
    async fn start(razorpay: Option<&str>, stripe: Option<&str>) -> Self {
        let (db, _) = TestDb::with_demo_data(20).await;
        let payment = pending_payment(&db.store).await;
        let clock = Arc::new(TestClock(Mutex::new(demo_now())));
        let state = WebhookState {
            store: db.store.clone(),
            clock: clock.clone(),
            razorpay_secret: razorpay.map(Secret::new),
            stripe_secret: stripe.map(Secret::new),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes(state)).await });
        Self {
            db,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            clock,
            payment,
        }
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn payment_now(&self, id: ObjectId) -> Option<Payment> {
        self.db
            .store
            .raw()
            .payments()
            .find_one(doc! { "_id": id })
            .await
            .unwrap()
    }

    async fn order_status(&self) -> OrderStatus {
        self.db
            .store
            .order_by_id(self.payment.order_id)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    /// The test's payment is untouched and its order still pending.
    async fn assert_unchanged(&self) {
        assert_eq!(
            self.payment_now(self.payment.id).await.unwrap(),
            self.payment
        );
        assert_eq!(self.order_status().await, OrderStatus::Pending);
    }

    async fn paid_count(&self) -> u64 {
        self.db
            .store
            .raw()
            .payments()
            .count_documents(doc! { "status": "paid" })
            .await
            .unwrap()
    }
}

async fn pending_payment(store: &Store) -> Payment {
    let (pending, _) = store
        .pending_payments(&PaymentQuery {
            limit: 100,
            ..PaymentQuery::default()
        })
        .await
        .unwrap();
    for payment in pending {
        let order = store.order_by_id(payment.order_id).await.unwrap().unwrap();
        if order.status == OrderStatus::Pending {
            return payment;
        }
    }
    panic!("the demo data has a pending payment with a pending order");
}

fn hex_hmac(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `payment_link.paid` event for `payment_id`, paid `amount` paise.
fn razorpay_event(payment_id: &str, razorpay_payment: &str, amount: i64) -> String {
    json!({
        "entity": "event",
        "account_id": "acc_BFQ7uQEaa7j2z7",
        "event": "payment_link.paid",
        "contains": ["payment_link", "order", "payment"],
        "payload": {
            "payment_link": { "entity": {
                "id": "plink_ExjpAUN3gVHrPJ",
                "status": "paid",
                "amount": amount,
                "amount_paid": amount,
                "currency": "INR",
                "reference_id": format!("12345-{payment_id}"),
                "notes": { "payment_id": payment_id, "order_number": "12345" },
            }},
            "payment": { "entity": {
                "id": razorpay_payment,
                "entity": "payment",
                "status": "captured",
                "amount": amount,
            }},
        },
        "created_at": 1_700_000_000,
    })
    .to_string()
}

#[tokio::test]
async fn razorpay_webhook_records_the_payment_once() {
    let hooks = Hooks::start(Some(RAZORPAY_WEBHOOK_SECRET), None).await;
    let (id, due) = (hooks.payment.id, hooks.payment.amount.minor());
    let body = razorpay_event(&id.to_hex(), "pay_29QQoUBi66xm2f", due);
    let signature = hex_hmac(RAZORPAY_WEBHOOK_SECRET, body.as_bytes());
    let paid_before = hooks.paid_count().await;

    // Forged: a wrong signature, a missing one, a signature of another body.
    for headers in [
        vec![("x-razorpay-signature", "00ff")],
        vec![],
        vec![("x-razorpay-signature", "not hex at all")],
    ] {
        let (status, _) = hooks.post("/webhooks/razorpay", &headers, &body).await;
        assert_eq!(status, 401);
    }
    let other_body = razorpay_event(&id.to_hex(), "pay_forged", due);
    let (status, _) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &signature)],
            &other_body,
        )
        .await;
    assert_eq!(status, 401, "a signature of another body");
    hooks.assert_unchanged().await;

    let (status, answer) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &signature)],
            &body,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("recorded"))
    );
    let paid = hooks.payment_now(id).await.unwrap();
    assert_eq!(paid.status, PaymentStatus::Paid);
    assert_eq!(paid.method, PaymentMethod::Online);
    assert_eq!(paid.provider_ref.as_deref(), Some("pay_29QQoUBi66xm2f"));
    assert_eq!(paid.paid_at, Some(demo_now()));
    assert_eq!(hooks.order_status().await, OrderStatus::Confirmed);
    assert_eq!(hooks.paid_count().await, paid_before + 1);

    // Redelivered an hour later, and a second event for the same payment: nothing changes.
    hooks.clock.advance(chrono::Duration::hours(1));
    let (status, answer) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &signature)],
            &body,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("already_paid"))
    );
    let again = razorpay_event(&id.to_hex(), "pay_second", due);
    let (status, _) = hooks
        .post(
            "/webhooks/razorpay",
            &[(
                "x-razorpay-signature",
                &hex_hmac(RAZORPAY_WEBHOOK_SECRET, again.as_bytes()),
            )],
            &again,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(hooks.payment_now(id).await.unwrap(), paid);
    assert_eq!(hooks.paid_count().await, paid_before + 1);

    // One audit entry, the provider's, through its webhook: redeliveries wrote nothing.
    let audit = hooks
        .db
        .store
        .audit_entries(doc! { "collection": "payments", "target": id.to_hex() })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].subject.as_str(),
            audit[0].via_kind.as_str(),
            audit[0].via.as_str()
        ),
        (
            "payment.record",
            "razorpay",
            "webhook",
            "POST /webhooks/razorpay"
        )
    );
}

#[tokio::test]
async fn razorpay_webhook_acknowledges_unknown_payments_and_rejects_malformed_bodies() {
    let hooks = Hooks::start(Some(RAZORPAY_WEBHOOK_SECRET), None).await;
    let paid_before = hooks.paid_count().await;
    let signed = |body: &str| hex_hmac(RAZORPAY_WEBHOOK_SECRET, body.as_bytes());

    let unknown = razorpay_event(&ObjectId::new().to_hex(), "pay_x", 250_000);
    let (status, answer) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &signed(&unknown))],
            &unknown,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("unknown_payment"))
    );

    let other_event = json!({ "event": "payment.captured", "payload": {} }).to_string();
    let (status, answer) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &signed(&other_event))],
            &other_event,
        )
        .await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));

    for malformed in [
        "{not json".to_owned(),
        json!({ "payload": {} }).to_string(),
        json!({ "event": "payment_link.paid", "payload": {} }).to_string(),
        razorpay_event("not-an-object-id", "pay_x", 250_000),
    ] {
        let (status, _) = hooks
            .post(
                "/webhooks/razorpay",
                &[("x-razorpay-signature", &signed(&malformed))],
                &malformed,
            )
            .await;
        assert_eq!(status, 400, "{malformed}");
    }

    let huge = format!("{{\"event\":\"{}\"}}", "x".repeat(300 * 1024));
    let (status, _) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &signed(&huge))],
            &huge,
        )
        .await;
    assert_eq!(status, 413);

    hooks.assert_unchanged().await;
    assert_eq!(hooks.paid_count().await, paid_before);
}

/// A checkout-session event for `payment_id`, for `amount` paise.
pub(crate) fn stripe_event(
    payment_id: &str,
    kind: &str,
    payment_status: &str,
    amount: i64,
) -> String {
    json!({
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "type": kind,
        "created": demo_now().timestamp(),
        "livemode": false,
        "data": { "object": {
            "id": "cs_test_a1b2c3",
            "object": "checkout.session",
            "mode": "payment",
            "status": "complete",
            "payment_status": payment_status,
            "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "client_reference_id": payment_id,
            "amount_total": amount,
            "currency": "inr",
            "metadata": { "payment_id": payment_id, "order_number": "12345" },
        }},
    })
    .to_string()
}

pub(crate) fn stripe_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let signature = hex_hmac(secret, format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={signature}")
}

#[tokio::test]
async fn stripe_webhook_records_the_payment_once() {
    let hooks = Hooks::start(None, Some(STRIPE_WEBHOOK_SECRET)).await;
    let (id, due) = (hooks.payment.id, hooks.payment.amount.minor());
    let body = stripe_event(&id.to_hex(), "checkout.session.completed", "paid", due);
    let now = demo_now().timestamp();
    let paid_before = hooks.paid_count().await;

    let wrong_secret = stripe_signature("whsec_other", now, &body);
    let stale = stripe_signature(STRIPE_WEBHOOK_SECRET, now - 301, &body);
    let future = stripe_signature(STRIPE_WEBHOOK_SECRET, now + 301, &body);
    let no_v1 = format!("t={now}");
    for header in [wrong_secret.as_str(), &stale, &future, &no_v1, "garbage"] {
        let (status, _) = hooks
            .post("/webhooks/stripe", &[("stripe-signature", header)], &body)
            .await;
        assert_eq!(status, 401, "{header}");
    }
    let (status, _) = hooks.post("/webhooks/stripe", &[], &body).await;
    assert_eq!(status, 401);
    hooks.assert_unchanged().await;

    // Not paid yet (an async method): acknowledged, nothing recorded.
    let unpaid = stripe_event(&id.to_hex(), "checkout.session.completed", "unpaid", due);
    let (status, answer) = hooks
        .post(
            "/webhooks/stripe",
            &[(
                "stripe-signature",
                &stripe_signature(STRIPE_WEBHOOK_SECRET, now, &unpaid),
            )],
            &unpaid,
        )
        .await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
    hooks.assert_unchanged().await;

    // Signed 4 minutes ago (inside the tolerance), with an old v1 before the good one.
    let good = stripe_signature(STRIPE_WEBHOOK_SECRET, now - 240, &body);
    let header = good.replacen(",v1=", &format!(",v1={},v1=", "ab".repeat(32)), 1);
    let (status, answer) = hooks
        .post("/webhooks/stripe", &[("stripe-signature", &header)], &body)
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("recorded"))
    );
    let paid = hooks.payment_now(id).await.unwrap();
    assert_eq!(paid.status, PaymentStatus::Paid);
    assert_eq!(paid.method, PaymentMethod::Online);
    assert_eq!(
        paid.provider_ref.as_deref(),
        Some("pi_3MtwBwLkdIwHu7ix28a3tqPa")
    );
    assert_eq!(paid.paid_at, Some(demo_now()));
    assert_eq!(hooks.order_status().await, OrderStatus::Confirmed);

    // Redelivered a minute later (freshly signed): 200, nothing changes.
    hooks.clock.advance(chrono::Duration::minutes(1));
    let later = now + 60;
    let (status, answer) = hooks
        .post(
            "/webhooks/stripe",
            &[(
                "stripe-signature",
                &stripe_signature(STRIPE_WEBHOOK_SECRET, later, &body),
            )],
            &body,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("already_paid"))
    );
    assert_eq!(hooks.payment_now(id).await.unwrap(), paid);
    assert_eq!(hooks.paid_count().await, paid_before + 1);
}

#[tokio::test]
async fn stripe_webhook_acknowledges_unknown_payments_and_rejects_malformed_bodies() {
    let hooks = Hooks::start(None, Some(STRIPE_WEBHOOK_SECRET)).await;
    let now = demo_now().timestamp();
    let paid_before = hooks.paid_count().await;
    let signed = |body: &str| stripe_signature(STRIPE_WEBHOOK_SECRET, now, body);

    let unknown = stripe_event(
        &ObjectId::new().to_hex(),
        "checkout.session.completed",
        "paid",
        250_000,
    );
    let (status, answer) = hooks
        .post(
            "/webhooks/stripe",
            &[("stripe-signature", &signed(&unknown))],
            &unknown,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("unknown_payment"))
    );

    let other = stripe_event(
        &hooks.payment.id.to_hex(),
        "payment_intent.created",
        "paid",
        250_000,
    );
    let (status, answer) = hooks
        .post(
            "/webhooks/stripe",
            &[("stripe-signature", &signed(&other))],
            &other,
        )
        .await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));

    for malformed in [
        "[1, 2".to_owned(),
        json!({ "data": {} }).to_string(),
        json!({ "type": "checkout.session.completed", "data": {} }).to_string(),
        stripe_event("12345", "checkout.session.completed", "paid", 250_000),
    ] {
        let (status, _) = hooks
            .post(
                "/webhooks/stripe",
                &[("stripe-signature", &signed(&malformed))],
                &malformed,
            )
            .await;
        assert_eq!(status, 400, "{malformed}");
    }

    hooks.assert_unchanged().await;
    assert_eq!(hooks.paid_count().await, paid_before);
}

#[tokio::test]
async fn webhooks_without_a_secret_answer_503_and_change_nothing() {
    let hooks = Hooks::start(None, None).await;
    let id = hooks.payment.id.to_hex();
    let body = razorpay_event(&id, "pay_1", 250_000);
    let (status, answer) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &hex_hmac("", body.as_bytes()))],
            &body,
        )
        .await;
    assert_eq!(status, 503);
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("RAZORPAY_WEBHOOK_SECRET"));
    let body = stripe_event(&id, "checkout.session.completed", "paid", 250_000);
    let header = stripe_signature("", demo_now().timestamp(), &body);
    let (status, answer) = hooks
        .post("/webhooks/stripe", &[("stripe-signature", &header)], &body)
        .await;
    assert_eq!(status, 503);
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("STRIPE_WEBHOOK_SECRET"));
    hooks.assert_unchanged().await;
}

#[tokio::test]
async fn webhook_secrets_come_from_the_environment() {
    let db = TestDb::new().await;
    let s = settings(&[
        ("RAZORPAY_WEBHOOK_SECRET", "rzp"),
        ("STRIPE_WEBHOOK_SECRET", "whsec"),
    ]);
    let state = WebhookState::from_settings(&s, db.store.clone());
    assert_eq!(state.razorpay_secret, Some(Secret::new("rzp")));
    assert_eq!(state.stripe_secret, Some(Secret::new("whsec")));
    assert_eq!(state.clock.now(), demo_now());
    let none = WebhookState::from_settings(&settings(&[]), db.store.clone());
    assert!(none.razorpay_secret.is_none() && none.stripe_secret.is_none());
}

/// A signed event that says less was paid than is due, or in another currency: the
/// payment stays pending, the order unconfirmed, and the staff get one ticket however
/// often the provider sends it; the right amount afterwards is recorded.
#[tokio::test]
async fn a_webhook_for_another_amount_is_flagged_and_not_marked_paid() {
    let hooks = Hooks::start(Some(RAZORPAY_WEBHOOK_SECRET), Some(STRIPE_WEBHOOK_SECRET)).await;
    let (id, due) = (hooks.payment.id, hooks.payment.amount.minor());
    let opened = || {
        let exposition = frontdesk::telemetry::metrics::Metrics::global()
            .render()
            .unwrap();
        crate::harness::metric(&exposition, "frontdesk_tickets_total", "kind=\"opened\"")
    };
    let opened_before = opened();
    let short = razorpay_event(&id.to_hex(), "pay_short", due - 100);
    let signature = hex_hmac(RAZORPAY_WEBHOOK_SECRET, short.as_bytes());
    for _ in 0..2 {
        let (status, answer) = hooks
            .post(
                "/webhooks/razorpay",
                &[("x-razorpay-signature", &signature)],
                &short,
            )
            .await;
        assert_eq!(
            (status, answer["outcome"].as_str()),
            (200, Some("amount_mismatch"))
        );
    }
    let foreign = stripe_event(&id.to_hex(), "checkout.session.completed", "paid", due)
        .replace("\"inr\"", "\"usd\"");
    let stripe_signed = stripe_signature(STRIPE_WEBHOOK_SECRET, demo_now().timestamp(), &foreign);
    let (status, answer) = hooks
        .post(
            "/webhooks/stripe",
            &[("stripe-signature", &stripe_signed)],
            &foreign,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("amount_mismatch"))
    );
    hooks.assert_unchanged().await;

    let tickets = hooks.db.store.open_tickets(10).await.unwrap();
    let flagged: Vec<_> = tickets
        .iter()
        .filter(|t| t.client_id == Some(hooks.payment.client_id))
        .collect();
    assert_eq!(
        flagged.len(),
        2,
        "one per provider, however often sent: {tickets:?}"
    );
    // Counted as opened tickets (other tests may count at the same time: at least two).
    assert!(opened() - opened_before >= 2.0, "not counted");
    let number = hooks.payment.order_number.to_string();
    assert!(
        flagged
            .iter()
            .all(|t| t.reason.contains(&number) && t.reason.contains("not marked paid")),
        "{flagged:?}"
    );

    // The amount due, at last: recorded.
    let right = razorpay_event(&id.to_hex(), "pay_right", due);
    let signature = hex_hmac(RAZORPAY_WEBHOOK_SECRET, right.as_bytes());
    let (status, answer) = hooks
        .post(
            "/webhooks/razorpay",
            &[("x-razorpay-signature", &signature)],
            &right,
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("recorded"))
    );
    assert_eq!(
        hooks.payment_now(id).await.unwrap().status,
        PaymentStatus::Paid
    );
}
