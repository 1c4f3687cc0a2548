//! The role matrix: every endpoint of the app × every kind of caller (no token, a
//! client, staff, a manager, an admin), with the status class each must get — 401
//! without a token, 403 below the endpoint's role, and otherwise a success or a non-auth
//! 4xx (404, 409, 422 when the body or ids are deliberately dummy), never a 5xx.
//!
//! `endpoints()` is the list of every route; `api_read` checks it against the OpenAPI
//! document, so a new endpoint cannot be left out of the matrix.

use frontdesk::dev::seed::DEMO_ORDER_NUMBER;
use frontdesk::domain::OrderNumber;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{TestApi, TestDb};

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// No token needed.
    Public,
    /// Any valid token (a client sees only their own records).
    Client,
    Staff,
    Manager,
    Admin,
}

/// The id an endpoint's path takes.
#[derive(Debug, Clone, Copy)]
pub enum PathId {
    None,
    /// Priya's own client record (the client token is Priya's).
    Priya,
    /// Another client's record (deleted by the admin row).
    OtherClient,
    /// Priya's order #12345.
    PriyaOrder,
    /// The Pilates course.
    Course,
    /// A ticket id (none has it).
    Ticket,
}

/// One route of the app.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub method: Method,
    /// The path template, as in the OpenAPI document.
    pub path: &'static str,
    pub id: PathId,
    pub body: Option<Value>,
    pub access: Access,
}

fn ep(
    method: Method,
    path: &'static str,
    id: PathId,
    body: Option<Value>,
    access: Access,
) -> Endpoint {
    Endpoint {
        method,
        path,
        id,
        body,
        access,
    }
}

/// Every endpoint of the app, in the order the matrix calls them (deleting comes last).
pub fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    use PathId as Id;
    let none = || None;
    // Deliberately dummy: an allowed caller gets a 422, never a 5xx, and never learns
    // anything before the role check.
    let dummy = || Some(json!({}));
    vec![
        // Health, the OpenAPI document and the docs page.
        ep(Method::GET, "/healthz", Id::None, none(), Public),
        ep(Method::GET, "/readyz", Id::None, none(), Public),
        ep(Method::GET, "/api/openapi.json", Id::None, none(), Public),
        ep(Method::GET, "/docs", Id::None, none(), Public),
        // Agents.
        ep(
            Method::POST,
            "/api/agents/support/query",
            Id::None,
            Some(json!({ "query": "What classes are available this week?" })),
            Client,
        ),
        ep(
            Method::POST,
            "/api/agents/dashboard/query",
            Id::None,
            Some(json!({ "query": "revenue this month" })),
            Manager,
        ),
        ep(Method::GET, "/api/agents/status", Id::None, none(), Manager),
        // Analytics.
        ep(
            Method::GET,
            "/api/analytics/revenue",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/clients",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/top-clients",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/courses",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/attendance",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/retention",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/outstanding",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/fill-rate",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/revenue/months",
            Id::None,
            none(),
            Manager,
        ),
        ep(
            Method::GET,
            "/api/analytics/new-clients/weekly",
            Id::None,
            none(),
            Manager,
        ),
        // Tickets (an id no ticket has: staff get 404, the others are refused first).
        ep(Method::GET, "/api/tickets", Id::None, none(), Staff),
        ep(
            Method::GET,
            "/api/tickets/{ticket_id}",
            Id::Ticket,
            none(),
            Staff,
        ),
        ep(
            Method::POST,
            "/api/tickets/{ticket_id}/close",
            Id::Ticket,
            none(),
            Staff,
        ),
        // Catalogue.
        ep(Method::GET, "/api/courses", Id::None, none(), Client),
        ep(
            Method::GET,
            "/api/courses/{course_id}",
            Id::Course,
            none(),
            Client,
        ),
        ep(
            Method::PATCH,
            "/api/courses/{course_id}",
            Id::Course,
            dummy(),
            Manager,
        ),
        ep(Method::GET, "/api/classes", Id::None, none(), Client),
        // Clients.
        ep(Method::GET, "/api/clients", Id::None, none(), Staff),
        ep(Method::POST, "/api/clients", Id::None, dummy(), Staff),
        ep(
            Method::GET,
            "/api/clients/{client_id}",
            Id::Priya,
            none(),
            Client,
        ),
        ep(
            Method::PUT,
            "/api/clients/{client_id}",
            Id::Priya,
            dummy(),
            Client,
        ),
        // Orders.
        ep(Method::GET, "/api/orders", Id::None, none(), Client),
        ep(Method::POST, "/api/orders", Id::None, dummy(), Client),
        ep(
            Method::GET,
            "/api/orders/{order_id}",
            Id::PriyaOrder,
            none(),
            Client,
        ),
        ep(
            Method::PUT,
            "/api/orders/{order_id}",
            Id::PriyaOrder,
            dummy(),
            Staff,
        ),
        // An id where the number goes: 404 for those allowed, so nothing is cancelled.
        ep(
            Method::POST,
            "/api/orders/{number}/cancel",
            Id::PriyaOrder,
            dummy(),
            Staff,
        ),
        // Payments.
        ep(Method::GET, "/api/payments", Id::None, none(), Client),
        ep(Method::POST, "/api/payments", Id::None, dummy(), Staff),
        ep(
            Method::GET,
            "/api/payments/pending",
            Id::None,
            none(),
            Client,
        ),
        // Last: the admin row deletes a client.
        ep(
            Method::DELETE,
            "/api/clients/{client_id}",
            Id::OtherClient,
            none(),
            Admin,
        ),
    ]
}

/// The callers, weakest first.
const ROLES: [Option<&str>; 5] = [
    None,
    Some("client"),
    Some("staff"),
    Some("manager"),
    Some("admin"),
];

fn rank(role: Option<&str>) -> Option<Access> {
    match role {
        None => None,
        Some("client") => Some(Access::Client),
        Some("staff") => Some(Access::Staff),
        Some("manager") => Some(Access::Manager),
        Some(_) => Some(Access::Admin),
    }
}

/// What a caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unauthorized,
    Forbidden,
    /// 2xx, or a 4xx that is not about who is asking (404, 409, 422, 400).
    Allowed,
}

fn expected(access: Access, role: Option<&str>) -> Class {
    match (access, rank(role)) {
        (Access::Public, _) => Class::Allowed,
        (_, None) => Class::Unauthorized,
        (needed, Some(have)) if have >= needed => Class::Allowed,
        _ => Class::Forbidden,
    }
}

fn class_of(status: StatusCode) -> Option<Class> {
    match status.as_u16() {
        401 => Some(Class::Unauthorized),
        403 => Some(Class::Forbidden),
        200..=299 | 400 | 404 | 409 | 422 => Some(Class::Allowed),
        _ => None,
    }
}

#[tokio::test]
async fn every_endpoint_answers_every_role_as_the_matrix_says() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let store = db.store.clone();
    let priya = crate::harness::priya(&store).await;
    let other = store
        .find_clients(bson::doc! { "_id": { "$ne": priya.id }, "deleted_at": null })
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("the demo data has other clients");
    let order = store
        .order_by_number(OrderNumber::new(DEMO_ORDER_NUMBER).unwrap())
        .await
        .unwrap()
        .expect("the demo data has order #12345");
    assert_eq!(order.client_id, priya.id, "order #12345 is Priya's");
    let course = store.course_by_name("Pilates").await.unwrap().unwrap();
    let api = TestApi::spawn(db).await;

    let tokens: Vec<Option<String>> = ROLES
        .iter()
        .map(|r| match r {
            None => None,
            Some("client") => Some(api.token("client", &priya.id.to_hex())),
            Some(role) => Some(api.token(role, &format!("matrix-{role}"))),
        })
        .collect();

    let mut failures = Vec::new();
    let mut calls = 0;
    for e in endpoints() {
        let id = match e.id {
            PathId::None => None,
            PathId::Priya => Some(priya.id),
            PathId::OtherClient => Some(other.id),
            PathId::PriyaOrder => Some(order.id),
            PathId::Course => Some(course.id),
            PathId::Ticket => Some(bson::oid::ObjectId::new()),
        };
        let path = match id {
            Some(id) => fill(e.path, &id.to_hex()),
            None => e.path.to_owned(),
        };
        for (role, token) in ROLES.iter().zip(&tokens) {
            let mut req = api.http.request(e.method.clone(), api.url(&path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(body) = &e.body {
                req = req.json(body);
            }
            let res = req.send().await.unwrap();
            calls += 1;
            let status = res.status();
            let headers = res.headers().clone();
            let text = res.text().await.unwrap_or_default();
            let want = expected(e.access, *role);
            let who = role.unwrap_or("no token");
            let got = class_of(status);
            let row = format!("{} {path} as {who}: {status} {}", e.method, clip(&text));
            if got != Some(want) {
                failures.push(format!("{row} (expected {want:?})"));
                continue;
            }
            // A 404 or 405 from the router itself means the route does not exist.
            if status == StatusCode::NOT_FOUND && text.contains("no such endpoint") {
                failures.push(format!("{row} (the route is missing)"));
                continue;
            }
            if matches!(want, Class::Unauthorized | Class::Forbidden) {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if ct != "application/problem+json" {
                    failures.push(format!("{row} (content-type {ct:?})"));
                }
            }
            if want == Class::Unauthorized && headers.get("www-authenticate").is_none() {
                failures.push(format!("{row} (no WWW-Authenticate)"));
            }
        }
    }
    assert_eq!(calls, endpoints().len() * ROLES.len());
    assert!(
        failures.is_empty(),
        "{} of {calls} calls broke the role matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The path with its one `{...}` parameter replaced by `id`.
pub fn fill(template: &str, id: &str) -> String {
    match (template.find('{'), template.find('}')) {
        (Some(a), Some(b)) if a < b => format!("{}{id}{}", &template[..a], &template[b + 1..]),
        _ => template.to_owned(),
    }
}

fn clip(text: &str) -> String {
    text.chars().take(160).collect()
}

#[test]
fn the_matrix_expectations_follow_the_role_order() {
    assert_eq!(expected(Access::Public, None), Class::Allowed);
    assert_eq!(expected(Access::Client, None), Class::Unauthorized);
    assert_eq!(expected(Access::Client, Some("client")), Class::Allowed);
    assert_eq!(expected(Access::Staff, Some("client")), Class::Forbidden);
    assert_eq!(expected(Access::Manager, Some("staff")), Class::Forbidden);
    assert_eq!(expected(Access::Manager, Some("admin")), Class::Allowed);
    assert_eq!(expected(Access::Admin, Some("manager")), Class::Forbidden);
    assert_eq!(
        fill("/api/courses/{course_id}", "abc"),
        "/api/courses/abc".to_owned()
    );
}
