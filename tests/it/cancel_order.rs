//! Cancelling an order, end to end on the demo data: the `cancel_order` tool (preview,
//! run, run again), the store's refusal of a paid order, the role check, the outbox
//! notice delivered to the client's linked chat, and `POST /api/orders/{number}/cancel`
//! — each checked in the collections, not only in the reply.

use std::sync::Arc;

use bson::{doc, Document};
use frontdesk::dev::seed::DEMO_ORDER_NUMBER;
use frontdesk::domain::{Client, Order, OrderNumber, OrderStatus, Payment, PaymentStatus};
use frontdesk::integrations::worker::OutboxWorker;
use frontdesk::integrations::{ChatRoutes, Providers};
use frontdesk::store::{Job, LinkedIdentity, OutboxStatus, Store};
use frontdesk::tools::{AgentKind, Caller, Registry, Role, ToolCtx, ToolErrorKind};
use frontdesk_chat::Platform;
use futures::TryStreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::gateway::Recorder;
use crate::harness::{demo_now, priya, TestApi, TestDb};
use crate::outbox::TestClock;

fn ctx(store: &Store, caller: Caller, event: Option<&str>) -> ToolCtx {
    let settings = crate::gateway::env(&[]);
    ToolCtx {
        store: store.clone(),
        clock: settings.clock(),
        studio: settings.studio,
        caller,
        idempotency_key: event.map(str::to_owned),
        conversation: None,
    }
}

/// Priya's unpaid order (her Yin Yoga enrolment in the demo data).
async fn unpaid_order_of(store: &Store, client: &Client) -> Order {
    store
        .raw()
        .orders()
        .find_one(doc! { "client_id": client.id, "status": "pending" })
        .await
        .unwrap()
        .expect("the demo data has an unpaid order of Priya's")
}

async fn order(store: &Store, number: OrderNumber) -> Order {
    store.order_by_number(number).await.unwrap().unwrap()
}

async fn payments_of(store: &Store, order: &Order) -> Vec<Payment> {
    store.payments_for_order(order.id).await.unwrap()
}

/// The order's document as stored, with the fields the type does not carry.
async fn raw_order(store: &Store, order: &Order) -> Document {
    store
        .raw()
        .database()
        .collection::<Document>("orders")
        .find_one(doc! { "_id": order.id })
        .await
        .unwrap()
        .unwrap()
}

async fn cancel_audits(store: &Store, order: &Order) -> Vec<frontdesk::store::AuditRecord> {
    store
        .audit_entries(doc! { "action": "order.cancelled", "target": order.id.to_hex() })
        .await
        .unwrap()
}

/// Every pending payment's amount, added up here from the payments collection.
async fn owed(store: &Store) -> (i64, u64) {
    let pending: Vec<Payment> = store
        .raw()
        .payments()
        .find(doc! { "status": "pending" })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    (
        pending.iter().map(|p| p.amount.minor()).sum(),
        pending.len() as u64,
    )
}

#[tokio::test]
async fn staff_cancel_an_unpaid_order_once_and_the_client_is_told() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let store = db.store.clone();
    let priya = priya(&store).await;
    let unpaid = unpaid_order_of(&store, &priya).await;
    let number = unpaid.number;
    assert!(priya.enrollments.iter().any(|e| e.order_number == number));
    let registry = Registry::new();
    let staff = ctx(&store, Caller::staff(), Some("EvCancel1"));
    let (owed_before, pending_before) = owed(&store).await;
    let kept = store
        .outstanding_balance(demo_now(), frontdesk::domain::Currency::INR)
        .await
        .unwrap();
    assert_eq!(
        (kept.pending_minor, kept.pending_count),
        (owed_before, pending_before)
    );

    // The preview names the order, the client, the course and the amount, and writes nothing.
    let args = json!({ "order": format!("#{}", number.get()), "reason": "moving to Pune" });
    let preview = registry
        .preview(AgentKind::Support, &staff, "cancel_order", args.clone())
        .await
        .unwrap()
        .expect("a cancellation is shown for a yes");
    for part in [
        number.to_string(),
        "Priya Sharma".to_owned(),
        unpaid.course_name.clone(),
        unpaid.amount.to_string(),
    ] {
        assert!(
            preview.summary.contains(&part),
            "{part}: {}",
            preview.summary
        );
    }
    // Never run without a "yes", however exactly the order was named.
    assert!(!preview.exact);
    assert_eq!(preview.args["order"], number.get().to_string());
    assert_eq!(order(&store, number).await.status, OrderStatus::Pending);
    assert!(store
        .outbox_item(&format!("order:{}:cancel", number.get()))
        .await
        .unwrap()
        .is_none());

    // Run: the order, its payment, the enrolment, the outbox and the audit all move.
    let out = registry
        .call(AgentKind::Support, &staff, "cancel_order", args.clone())
        .await
        .unwrap();
    assert!(
        out.text
            .starts_with(&format!("Cancelled order {number} for Priya Sharma")),
        "{}",
        out.text
    );
    assert!(
        out.text.contains("Reason noted: moving to Pune."),
        "{}",
        out.text
    );
    assert_eq!(out.data["changed"], true);
    let cancelled = order(&store, number).await;
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.updated_at, demo_now());
    assert_eq!(
        raw_order(&store, &cancelled)
            .await
            .get_str("cancel_reason")
            .unwrap(),
        "moving to Pune"
    );
    let payments = payments_of(&store, &cancelled).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0].status,
        PaymentStatus::Failed,
        "the pending payment is closed: nothing is owed"
    );
    let (owed_after, pending_after) = owed(&store).await;
    assert_eq!(owed_after, owed_before - unpaid.amount.minor());
    assert_eq!(pending_after, pending_before - 1);
    let kept = store
        .outstanding_balance(demo_now(), frontdesk::domain::Currency::INR)
        .await
        .unwrap();
    assert_eq!(
        (kept.pending_minor, kept.pending_count),
        (owed_after, pending_after),
        "the kept due days follow"
    );
    let after = store.client_by_id(priya.id).await.unwrap().unwrap();
    assert!(!after.enrollments.iter().any(|e| e.order_number == number));
    assert_eq!(after.enrollments.len(), priya.enrollments.len() - 1);
    let key = format!("order:{}:cancel", number.get());
    let notice = store
        .outbox_item(&key)
        .await
        .unwrap()
        .expect("a notice queued");
    assert_eq!(notice.status, OutboxStatus::Pending);
    assert_eq!(
        notice.job,
        Job::CancellationNotice {
            order_id: unpaid.id
        }
    );
    let audits = cancel_audits(&store, &unpaid).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(
        (audits[0].via_kind.as_str(), audits[0].via.as_str()),
        ("tool", "cancel_order")
    );
    assert_eq!(audits[0].role, "staff");
    assert_eq!(audits[0].collection, "orders");

    // Again (a repeated message, a second "yes"): nothing changes, and it says so.
    let again = registry
        .call(
            AgentKind::Support,
            &ctx(&store, Caller::staff(), Some("EvCancel2")),
            "cancel_order",
            args.clone(),
        )
        .await
        .unwrap();
    assert!(again.text.contains("already cancelled"), "{}", again.text);
    assert!(again.text.contains("nothing changed"), "{}", again.text);
    assert_eq!(again.data["changed"], false);
    assert_eq!(cancel_audits(&store, &unpaid).await.len(), 1);
    let notices = store
        .raw()
        .database()
        .collection::<Document>("outbox")
        .count_documents(doc! { "key": &key })
        .await
        .unwrap();
    assert_eq!(notices, 1);
    assert_eq!(owed(&store).await, (owed_after, pending_after));
    // ... and a new proposal is refused, not offered for a yes.
    let err = registry
        .preview(AgentKind::Support, &staff, "cancel_order", args)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ToolErrorKind::Conflict);
    assert!(err.to_string().contains("already cancelled"), "{err}");

    // The worker tells Priya on her linked Telegram chat.
    store
        .link_identity(&LinkedIdentity {
            account: "telegram:4242".into(),
            client_id: priya.id,
            via: "phone".into(),
            linked_at: demo_now(),
        })
        .await
        .unwrap();
    let settings = crate::gateway::env(&[]);
    let telegram = Arc::new(Recorder::default());
    let routes = ChatRoutes::default();
    routes.register(Platform::Telegram, telegram.clone());
    let providers = Arc::new(Providers::from_settings(&settings, routes).unwrap());
    let worker = OutboxWorker::new(
        store.clone(),
        TestClock::at(demo_now()),
        providers,
        settings.integrations.clone(),
        "w",
    );
    while worker.run_once().await.unwrap().is_some() {}
    assert_eq!(
        store.outbox_item(&key).await.unwrap().unwrap().status,
        OutboxStatus::Done
    );
    let chats = telegram.sent.lock().unwrap().clone();
    let told: Vec<_> = chats
        .iter()
        .filter(|m| m.text.contains(&number.to_string()))
        .collect();
    assert_eq!(told.len(), 1, "{chats:?}");
    assert_eq!(told[0].channel, "4242");
    assert!(
        told[0].text.contains("has been cancelled"),
        "{}",
        told[0].text
    );
    assert!(told[0].text.contains(&unpaid.course_name));
    assert!(
        !told[0].text.contains("Pune"),
        "the staff's reason stays with the studio"
    );
}

#[tokio::test]
async fn a_paid_order_is_refused_and_nothing_changes() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let store = db.store.clone();
    let number = OrderNumber::new(DEMO_ORDER_NUMBER).unwrap();
    let paid = order(&store, number).await;
    let payments_before = payments_of(&store, &paid).await;
    assert!(payments_before
        .iter()
        .any(|p| p.status == PaymentStatus::Paid));
    let raw_before = raw_order(&store, &paid).await;
    let client_before = store.client_by_id(paid.client_id).await.unwrap().unwrap();
    let registry = Registry::new();
    let staff = ctx(&store, Caller::staff(), Some("EvPaid"));
    let args = json!({ "order": "12345" });

    let err = registry
        .preview(AgentKind::Support, &staff, "cancel_order", args.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ToolErrorKind::Conflict);
    assert!(err.to_string().contains("#12345 is paid"), "{err}");
    assert!(err.to_string().contains("refund it first"), "{err}");
    let err = registry
        .call(AgentKind::Support, &staff, "cancel_order", args)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ToolErrorKind::Conflict);
    assert!(err.to_string().contains("Nothing was changed"), "{err}");
    // The store asks again inside its transaction (a payment recorded meanwhile).
    let err = store
        .cancel_order(number, Some("whatever"), demo_now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refund it first"), "{err}");

    assert_eq!(raw_order(&store, &paid).await, raw_before);
    assert_eq!(payments_of(&store, &paid).await, payments_before);
    assert_eq!(
        store.client_by_id(paid.client_id).await.unwrap().unwrap(),
        client_before
    );
    assert!(store
        .outbox_item("order:12345:cancel")
        .await
        .unwrap()
        .is_none());
    assert!(cancel_audits(&store, &paid).await.is_empty());

    // Not an order, or none with that number.
    for (typed, kind) in [
        ("99999999", ToolErrorKind::NotFound),
        ("twelve", ToolErrorKind::BadArgs),
    ] {
        let err = registry
            .call(
                AgentKind::Support,
                &staff,
                "cancel_order",
                json!({ "order": typed }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{typed}: {err}");
    }
    let err = registry
        .call(AgentKind::Support, &staff, "cancel_order", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ToolErrorKind::Missing);
    assert!(err.to_string().contains("Which order"), "{err}");
}

#[tokio::test]
async fn a_client_or_guest_cannot_cancel_even_their_own_order() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let store = db.store.clone();
    let priya = priya(&store).await;
    let unpaid = unpaid_order_of(&store, &priya).await;
    let registry = Registry::new();
    let args = json!({ "order": unpaid.number.get().to_string() });
    for caller in [Caller::client(priya.id, "Priya"), Caller::guest()] {
        let as_caller = ctx(&store, caller.clone(), Some("EvMine"));
        let err = registry
            .call(AgentKind::Support, &as_caller, "cancel_order", args.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ToolErrorKind::Forbidden, "{caller:?}");
        assert!(
            err.to_string()
                .contains("Only studio staff can cancel orders"),
            "{err}"
        );
        let err = registry
            .preview(AgentKind::Support, &as_caller, "cancel_order", args.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ToolErrorKind::Forbidden);
    }
    assert_eq!(order(&store, unpaid.number).await, unpaid);
    assert_eq!(
        payments_of(&store, &unpaid).await[0].status,
        PaymentStatus::Pending
    );
    assert!(store
        .outbox_item(&format!("order:{}:cancel", unpaid.number.get()))
        .await
        .unwrap()
        .is_none());
    assert!(cancel_audits(&store, &unpaid).await.is_empty());

    // Who is offered the tool at all (the LLM's tool list is this).
    let names =
        |agent, role| -> Vec<&str> { registry.available(agent, role).map(|t| t.name()).collect() };
    assert!(!names(AgentKind::Support, Role::Client).contains(&"cancel_order"));
    assert!(!names(AgentKind::Support, Role::Guest).contains(&"cancel_order"));
    for role in [Role::Staff, Role::Manager, Role::Admin] {
        assert!(names(AgentKind::Support, role).contains(&"cancel_order"));
    }
    let tool = registry.get("cancel_order").unwrap();
    assert!(!tool.only_reads());
    assert!(tool.parameters()["properties"]["reason"].is_object());
    assert_eq!(tool.parameters()["required"], json!(["order"]));
}

#[tokio::test]
async fn the_api_cancels_by_number_for_staff_only() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let store = db.store.clone();
    let priya = priya(&store).await;
    let unpaid = unpaid_order_of(&store, &priya).await;
    let api = TestApi::spawn(db).await;
    let staff = api.token("staff", "desk-anna");
    let client = api.token("client", &priya.id.to_hex());
    let path = format!("/api/orders/{}/cancel", unpaid.number.get());
    let post = |token: &str, body: Option<Value>| {
        let mut req = api.http.post(api.url(&path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };

    // A client, even for their own order: 403, nothing changed.
    let res = post(&client, None).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        order(&store, unpaid.number).await.status,
        OrderStatus::Pending
    );

    // Bad bodies are named; nothing changed.
    let res = post(&staff, Some(json!({ "why": "x" }))).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = post(&staff, Some(json!({ "reason": "x".repeat(501) })))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["field"], "reason");
    assert_eq!(
        order(&store, unpaid.number).await.status,
        OrderStatus::Pending
    );

    // Staff, without a body: cancelled, in the collections.
    let res = post(&staff, None).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["changed"], true);
    assert_eq!(body["order"]["status"], "cancelled");
    assert_eq!(body["payments"][0]["status"], "failed");
    assert_eq!(
        order(&store, unpaid.number).await.status,
        OrderStatus::Cancelled
    );
    assert_eq!(
        payments_of(&store, &unpaid).await[0].status,
        PaymentStatus::Failed
    );
    assert!(store
        .outbox_item(&format!("order:{}:cancel", unpaid.number.get()))
        .await
        .unwrap()
        .is_some());
    let audits = cancel_audits(&store, &unpaid).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].via, "POST /api/orders/{number}/cancel");
    assert_eq!(audits[0].subject, "desk-anna");
    assert_eq!(audits[0].platform.as_deref(), Some("rest"));

    // Again, with a reason: 200, nothing changed (the reason is not written either).
    let res = post(&staff, Some(json!({ "reason": "again" })))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["changed"], false);
    assert!(raw_order(&store, &unpaid)
        .await
        .get("cancel_reason")
        .is_none());
    assert_eq!(cancel_audits(&store, &unpaid).await.len(), 1);

    // A paid order: 409 with the reason, nothing changed.
    let paid = order(&store, OrderNumber::new(DEMO_ORDER_NUMBER).unwrap()).await;
    let res = api
        .http
        .post(api.url("/api/orders/12345/cancel"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: Value = res.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("refund it first"),
        "{problem}"
    );
    assert_eq!(order(&store, paid.number).await, paid);
    assert!(cancel_audits(&store, &paid).await.is_empty());

    // Not an order number, or no such order: 404.
    for path in ["/api/orders/99999999/cancel", "/api/orders/abc/cancel"] {
        let res = api
            .http
            .post(api.url(path))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}
