//! Enrolment to payment, end to end: a staff member enrols a client in Slack; the order's
//! confirmation leaves through the outbox — a Stripe Checkout link (wiremock), an email
//! (wiremock SendGrid) and a Telegram message to the client's linked chat — and Stripe's
//! signed webhook marks the payment paid, which queues the receipt.

use std::sync::Arc;

use bson::doc;
use frontdesk::domain::{Order, Payment, PaymentStatus};
use frontdesk::gateway::{Gateway, Outcome};
use frontdesk::integrations::webhooks::{self, WebhookState};
use frontdesk::integrations::worker::OutboxWorker;
use frontdesk::integrations::{ChatRoutes, Providers};
use frontdesk::store::{LinkedIdentity, OutboxStatus};
use frontdesk::tools::AgentKind;
use frontdesk_chat::{DynChatAdapter, Inbound, Platform};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::gateway::{gateway_settings, Recorder};
use crate::harness::{demo_now, TestDb};
use crate::integrations_payments::{stripe_event, stripe_signature};
use crate::outbox::TestClock;

const STRIPE_KEY: &str = "sk_test_frontdesk";
const WEBHOOK_SECRET: &str = "whsec_frontdesk";

#[tokio::test]
async fn an_enrolment_sends_a_payment_link_and_the_payment_sends_a_receipt() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header(
            "authorization",
            format!("Bearer {STRIPE_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_42", "object": "checkout.session",
            "url": "https://checkout.stripe.test/c/pay/cs_test_42",
        })))
        .mount(&stripe)
        .await;
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&sendgrid)
        .await;
    let settings = crate::gateway::env(&[
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_API_URL", &stripe.uri()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("SENDGRID_API_KEY", "SG.k"),
        ("SENDGRID_API_URL", &sendgrid.uri()),
        ("EMAIL_FROM", "desk@studio.example"),
    ]);
    let priya = crate::harness::priya(&db.store).await;
    db.store
        .link_identity(&LinkedIdentity {
            account: "telegram:4242".into(),
            client_id: priya.id,
            via: "phone".into(),
            linked_at: demo_now(),
        })
        .await
        .unwrap();
    let telegram = Arc::new(Recorder::default());
    let routes = ChatRoutes::default();
    routes.register(Platform::Telegram, telegram.clone());
    let providers = Arc::new(Providers::from_settings(&settings, routes).unwrap());
    let clock = TestClock::at(demo_now());
    let gw: Gateway = crate::gateway::gateway_with(&db, gateway_settings(), &settings);
    let slack = Arc::new(Recorder::default());

    // Staff enrol Priya from the support channel.
    let ask = Inbound::new(
        Platform::Slack,
        "C_SUPPORT",
        "U_BOB",
        "Create an order for Yoga Beginner for Priya Sharma",
        "EvEnrol",
        chrono::Utc::now(),
    )
    .with_roles(["S_STAFF"]);
    let adapter: Arc<dyn DynChatAdapter> = slack.clone();
    let outcome = gw.handle(ask.clone(), adapter.clone()).await;
    assert_eq!(
        outcome,
        Outcome::Answered {
            agent: AgentKind::Support,
            intent: "create_order".into()
        }
    );
    let answer = slack.sent.lock().unwrap()[0].text.clone();
    assert!(answer.contains("Stripe payment link follows"), "{answer}");
    let order: Order = db
        .store
        .raw()
        .orders()
        .find_one(doc! { "client_id": priya.id, "course_name": "Yoga Beginner" })
        .sort(doc! { "created_at": -1 })
        .await
        .unwrap()
        .unwrap();
    let confirm_key = format!("order:{}:confirm", order.number.get());
    assert_eq!(
        db.store
            .outbox_item(&confirm_key)
            .await
            .unwrap()
            .unwrap()
            .status,
        OutboxStatus::Pending,
        "queued with the order, in its transaction"
    );

    let worker = OutboxWorker::new(
        db.store.clone(),
        clock.clone(),
        providers.clone(),
        settings.integrations.clone(),
        "w",
    );
    let mut delivered = 0;
    while worker.run_once().await.unwrap().is_some() {
        delivered += 1;
    }
    assert_eq!(
        delivered, 3,
        "confirm, then its email and its Telegram message"
    );
    let payment: Payment = db
        .store
        .raw()
        .payments()
        .find_one(doc! { "order_id": order.id })
        .await
        .unwrap()
        .unwrap();
    let link = "https://checkout.stripe.test/c/pay/cs_test_42";
    assert_eq!(payment.link_url.as_deref(), Some(link));
    assert_eq!(payment.provider_ref.as_deref(), Some("cs_test_42"));
    let sessions = stripe.received_requests().await.unwrap();
    assert_eq!(sessions.len(), 1);
    let key = sessions[0]
        .headers
        .get("idempotency-key")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(key, format!("order:{}:confirm:link", order.number.get()));
    let form = String::from_utf8_lossy(&sessions[0].body).to_string();
    assert!(
        form.contains(&format!("unit_amount%5D={}", payment.amount.minor()))
            || form.contains(&format!("unit_amount]={}", payment.amount.minor())),
        "{form}"
    );
    let mails = sendgrid.received_requests().await.unwrap();
    assert_eq!(mails.len(), 1);
    let mail: Value = serde_json::from_slice(&mails[0].body).unwrap();
    assert_eq!(
        mail["personalizations"][0]["to"][0]["email"],
        "priya@example.com"
    );
    let text = mail["content"][0]["value"].as_str().unwrap();
    assert!(
        text.contains(link) && text.contains(&order.number.to_string()),
        "{text}"
    );
    let chats = telegram.sent.lock().unwrap().clone();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0].channel, "4242");
    assert!(chats[0].text.contains(link), "{}", chats[0].text);

    // Slack retries the enrolment: no second order, nothing new to send.
    assert_eq!(gw.handle(ask, adapter).await, Outcome::Duplicate);
    assert!(worker.run_once().await.unwrap().is_none());

    // Stripe says it is paid (signed webhook): paid, confirmed, receipt queued and sent.
    let hooks = webhooks::routes(WebhookState::from_settings(&settings, db.store.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hooks).await });
    let body = stripe_event(
        &payment.id.to_hex(),
        "checkout.session.completed",
        "paid",
        payment.amount.minor(),
    );
    let signature = stripe_signature(WEBHOOK_SECRET, demo_now().timestamp(), &body);
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let response = http
            .post(format!("{base}/webhooks/stripe"))
            .header("stripe-signature", &signature)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let paid: Payment = db
        .store
        .raw()
        .payments()
        .find_one(doc! { "_id": payment.id })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paid.status, PaymentStatus::Paid);
    let mut delivered = 0;
    while worker.run_once().await.unwrap().is_some() {
        delivered += 1;
    }
    assert_eq!(
        delivered, 3,
        "receipt, then its email and its Telegram message — once"
    );
    let mails = sendgrid.received_requests().await.unwrap();
    assert_eq!(mails.len(), 2);
    let receipt: Value = serde_json::from_slice(&mails[1].body).unwrap();
    assert!(
        receipt["subject"]
            .as_str()
            .unwrap()
            .contains("Payment received"),
        "{receipt}"
    );
    assert_eq!(telegram.sent.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn without_a_payment_provider_the_client_is_told_to_pay_at_the_desk() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let settings = crate::gateway::env(&[]);
    let gw = crate::gateway::gateway_with(&db, gateway_settings(), &settings);
    let slack = Arc::new(Recorder::default());
    let ask = Inbound::new(
        Platform::Slack,
        "C_SUPPORT",
        "U_BOB",
        "Create an order for Pilates for Priya Sharma",
        "EvDesk",
        chrono::Utc::now(),
    )
    .with_roles(["S_STAFF"]);
    let adapter: Arc<dyn DynChatAdapter> = slack.clone();
    gw.handle(ask, adapter).await;
    let answer = slack.sent.lock().unwrap()[0].text.clone();
    assert!(
        answer.contains("Online payment is not set up; please pay at the desk."),
        "{answer}"
    );
}

#[tokio::test]
async fn an_enquiry_is_acknowledged_by_email_once() {
    let db = TestDb::new().await;
    frontdesk::dev::seed::seed(&db.store, &crate::harness::demo_options(5))
        .await
        .unwrap();
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&sendgrid)
        .await;
    let settings = crate::gateway::env(&[
        ("SENDGRID_API_KEY", "SG.k"),
        ("SENDGRID_API_URL", &sendgrid.uri()),
        ("EMAIL_FROM", "desk@studio.example"),
    ]);
    let gw = crate::gateway::gateway_with(&db, gateway_settings(), &settings);
    let rec = Arc::new(Recorder::default());
    let text =
        "I'd like to enquire about Pilates. My name is Meera Nair, email meera.nair@example.org";
    let dm = Inbound::new(
        Platform::Telegram,
        "5150",
        "5150",
        text,
        "5150:1",
        chrono::Utc::now(),
    )
    .with_direct(true);
    let adapter: Arc<dyn DynChatAdapter> = rec.clone();
    let outcome = gw.handle(dm.clone(), adapter.clone()).await;
    assert_eq!(
        outcome,
        Outcome::Answered {
            agent: AgentKind::Support,
            intent: "create_enquiry".into()
        },
        "{:?}",
        rec.sent.lock().unwrap()
    );
    assert_eq!(gw.handle(dm, adapter).await, Outcome::Duplicate);
    let providers = Arc::new(Providers::from_settings(&settings, ChatRoutes::default()).unwrap());
    let worker = OutboxWorker::new(
        db.store.clone(),
        TestClock::at(demo_now()),
        providers,
        settings.integrations.clone(),
        "w",
    );
    while worker.run_once().await.unwrap().is_some() {}
    let mails = sendgrid.received_requests().await.unwrap();
    assert_eq!(mails.len(), 1);
    let mail: Value = serde_json::from_slice(&mails[0].body).unwrap();
    assert_eq!(
        mail["personalizations"][0]["to"][0]["email"],
        "meera.nair@example.org"
    );
    let body = mail["content"][0]["value"].as_str().unwrap();
    assert!(body.contains("Meera") && body.contains("Pilates"), "{body}");
}

#[tokio::test]
async fn a_refused_payment_link_still_confirms_the_order_with_pay_at_the_desk() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": { "type": "invalid_request_error", "message": "Amount must be at least ₹0.50 inr" }
        })))
        .mount(&stripe)
        .await;
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&sendgrid)
        .await;
    let settings = crate::gateway::env(&[
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_API_URL", &stripe.uri()),
        ("SENDGRID_API_KEY", "SG.k"),
        ("SENDGRID_API_URL", &sendgrid.uri()),
        ("EMAIL_FROM", "desk@studio.example"),
    ]);
    let gw = crate::gateway::gateway_with(&db, gateway_settings(), &settings);
    let slack = Arc::new(Recorder::default());
    let ask = Inbound::new(
        Platform::Slack,
        "C_SUPPORT",
        "U_BOB",
        "Create an order for Zumba for Priya Sharma",
        "EvRefused",
        chrono::Utc::now(),
    )
    .with_roles(["S_STAFF"]);
    let adapter: Arc<dyn DynChatAdapter> = slack.clone();
    gw.handle(ask, adapter).await;
    let providers = Arc::new(Providers::from_settings(&settings, ChatRoutes::default()).unwrap());
    let worker = OutboxWorker::new(
        db.store.clone(),
        TestClock::at(demo_now()),
        providers,
        settings.integrations.clone(),
        "w",
    );
    while worker.run_once().await.unwrap().is_some() {}
    let mails = sendgrid.received_requests().await.unwrap();
    assert_eq!(mails.len(), 1, "the confirmation went out without the link");
    let mail: Value = serde_json::from_slice(&mails[0].body).unwrap();
    let text = mail["content"][0]["value"].as_str().unwrap();
    assert!(text.contains("please pay at the desk"), "{text}");
    let stats = db.store.outbox_stats().await.unwrap();
    assert_eq!(stats.dead, 0);
}

#[tokio::test]
async fn an_enquiry_reads_the_same_for_clients_and_strangers() {
    let (db, _) = TestDb::with_demo_data(10).await;
    let gw = crate::gateway::gateway_with(&db, gateway_settings(), &crate::gateway::env(&[]));
    let rec = Arc::new(Recorder::default());
    let adapter: Arc<dyn DynChatAdapter> = rec.clone();
    for (n, (name, email)) in [
        ("Priya Sharma", "priya@example.com"),
        ("Ravi Kumar", "ravi.kumar@example.org"),
    ]
    .iter()
    .enumerate()
    {
        let text = format!("I'd like to enquire about Pilates. My name is {name}, email {email}");
        let dm = Inbound::new(
            Platform::Telegram,
            "6000",
            "6000",
            text,
            format!("6000:{n}"),
            chrono::Utc::now(),
        )
        .with_direct(true);
        gw.handle(dm, adapter.clone()).await;
    }
    let texts: Vec<String> = rec
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|o| o.text.clone())
        .collect();
    let shape = |t: &str, name: &str, email: &str| t.replace(name, "N").replace(email, "E");
    assert_eq!(
        shape(&texts[0], "Priya", "priya@example.com"),
        shape(&texts[1], "Ravi", "ravi.kumar@example.org"),
        "{texts:?}"
    );
    // Priya's enquiry is kept for the staff.
    let tickets = db.store.open_tickets(10).await.unwrap();
    assert!(
        tickets.iter().any(|t| t.reason.contains("Pilates")),
        "{tickets:?}"
    );
}
