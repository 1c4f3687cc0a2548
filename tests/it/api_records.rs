//! REST API tests for the record endpoints — clients, orders, payments — over HTTP
//! against the real local database: every happy path checked against the stored
//! documents, and every error (401 in all its forms, 403, 404, 409, 400/422 naming the
//! field) as problem details that leak no internals.

use bson::doc;
use chrono::{Duration, NaiveTime, Weekday};
use frontdesk::domain::{
    Client, ClientStatus, Course, CourseCategory, CourseLevel, Currency, Email, Money, ObjectId,
    OrderStatus, PaymentMethod, PaymentStatus, PersonName, WeeklySlot,
};
use frontdesk::store::{NewOrder, OrderCreated};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{demo_now, TestApi, TestDb};

// --- fixtures ---------------------------------------------------------------------------

struct Fx {
    api: TestApi,
    priya: Client,
    rahul: Client,
    yoga: Course,
    pilates: Course,
    staff: String,
    manager: String,
    admin: String,
    /// Priya's client token.
    priya_tok: String,
    /// Rahul's client token.
    rahul_tok: String,
}

fn client(name: &str, email: &str) -> Client {
    Client::new(
        PersonName::parse(name).unwrap(),
        Email::parse(email).unwrap(),
        ClientStatus::Active,
        demo_now() - Duration::days(30),
    )
}

fn course(name: &str, price_major: i64) -> Course {
    let slot =
        WeeklySlot::new(Weekday::Tue, NaiveTime::from_hms_opt(7, 0, 0).unwrap(), 60).unwrap();
    Course::new(
        name,
        CourseCategory::Yoga,
        CourseLevel::All,
        Money::new(price_major * 100, Currency::INR).unwrap(),
        "Asha Rao",
        12,
        vec![slot],
    )
    .unwrap()
}

async fn fixture() -> Fx {
    let api = TestApi::spawn(TestDb::new().await).await;
    let s = &api.db.store;
    let mut priya = client("Priya Sharma", "priya@example.com");
    priya.notes = Some("prefers the window spot".into());
    let rahul = client("Rahul Verma", "rahul@example.com");
    let yoga = course("Yoga Beginner", 3000);
    let pilates = course("Pilates Mat", 4500);
    for c in [&priya, &rahul] {
        s.insert_client(c).await.unwrap();
    }
    for c in [&yoga, &pilates] {
        s.insert_course(c).await.unwrap();
    }
    let staff = api.token("staff", "alice");
    let manager = api.token("manager", "meera");
    let admin = api.token("admin", "root");
    let priya_tok = api.token("client", &priya.id.to_hex());
    let rahul_tok = api.token("client", &rahul.id.to_hex());
    Fx {
        api,
        priya,
        rahul,
        yoga,
        pilates,
        staff,
        manager,
        admin,
        priya_tok,
        rahul_tok,
    }
}

impl Fx {
    /// An order made directly in the store, `days_ago` days before the demo clock.
    async fn order(&self, who: &Client, what: &Course, days_ago: i64) -> OrderCreated {
        self.api
            .db
            .store
            .create_order(NewOrder {
                client_id: who.id,
                course_id: what.id,
                amount: None,
                method: PaymentMethod::Upi,
                due_in_days: 7,
                idempotency_key: None,
                now: demo_now() - Duration::days(days_ago),
            })
            .await
            .unwrap()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        call(&self.api, method, path, token, body).await
    }

    async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }
}

struct Resp {
    status: StatusCode,
    content_type: String,
    location: Option<String>,
    text: String,
    json: Value,
}

impl Resp {
    /// Asserts a problem-details answer with `status` (and the named `field`), that
    /// leaks nothing about the implementation.
    #[track_caller]
    fn problem(&self, status: u16, field: Option<&str>) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.text
        );
        assert_eq!(self.json["status"], status, "body: {}", self.text);
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
        if let Some(field) = field {
            assert_eq!(self.json["field"], field, "body: {}", self.text);
        }
        let lower = self.text.to_lowercase();
        for leak in [
            "mongodb",
            "bson",
            "panicked",
            "stack",
            "backtrace",
            "src/",
            ".rs:",
        ] {
            assert!(!lower.contains(leak), "{leak:?} leaked: {}", self.text);
        }
        self
    }

    #[track_caller]
    fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.json
    }

    fn detail(&self) -> String {
        self.json["detail"].as_str().unwrap_or_default().to_owned()
    }
}

async fn call(
    api: &TestApi,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut req = api.http.request(method, api.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let location = header("location");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        content_type,
        location,
        text,
        json,
    }
}

fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

// --- authentication and roles -----------------------------------------------------------

#[tokio::test]
async fn every_endpoint_rejects_missing_and_bad_tokens_with_401() {
    let fx = fixture().await;
    let some = ObjectId::new().to_hex();
    let endpoints = [
        (Method::GET, "/api/clients".to_owned()),
        (Method::POST, "/api/clients".to_owned()),
        (Method::GET, format!("/api/clients/{some}")),
        (Method::PUT, format!("/api/clients/{some}")),
        (Method::DELETE, format!("/api/clients/{some}")),
        (Method::GET, "/api/orders".to_owned()),
        (Method::POST, "/api/orders".to_owned()),
        (Method::GET, format!("/api/orders/{some}")),
        (Method::PUT, format!("/api/orders/{some}")),
        (Method::GET, "/api/payments".to_owned()),
        (Method::POST, "/api/payments".to_owned()),
        (Method::GET, "/api/payments/pending".to_owned()),
    ];
    let expired = fx
        .api
        .keys
        .mint(
            "admin",
            "root",
            demo_now() - Duration::hours(2),
            Duration::hours(1),
        )
        .unwrap();
    let foreign = frontdesk::api::JwtKeys::new(b"another-secret-entirely-0123456789")
        .mint("admin", "root", demo_now(), Duration::hours(1))
        .unwrap();
    let exp = (demo_now() + Duration::hours(1)).timestamp();
    let alg_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(format!(r#"{{"sub":"root","role":"admin","exp":{exp}}}"#).as_bytes())
    );
    assert!(fx.api.keys.verify(&alg_none, demo_now()).is_err());
    let tampered = {
        let good = fx.api.token("staff", "alice");
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = b64url(format!(r#"{{"sub":"alice","role":"admin","exp":{exp}}}"#).as_bytes());
        parts.join(".")
    };
    let tokens: [(&str, Option<&str>); 6] = [
        ("none", None),
        ("garbage", Some("not.a.token")),
        ("expired", Some(&expired)),
        ("other secret", Some(&foreign)),
        ("alg none", Some(&alg_none)),
        ("tampered claims", Some(&tampered)),
    ];
    let body = json!({ "name": "X", "email": "x@example.com" });
    for (method, path) in &endpoints {
        for (what, token) in &tokens {
            let r = fx
                .call(method.clone(), path, *token, Some(body.clone()))
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{what}: {method} {path}"
            );
            r.problem(401, None);
        }
    }
    // Not a bearer token at all.
    let r = fx
        .api
        .http
        .get(fx.api.url("/api/clients"))
        .header("authorization", format!("Basic {}", b64url(b"alice:pw")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let expired_detail = fx
        .call(Method::GET, "/api/orders", Some(&expired), None)
        .await
        .detail();
    assert!(expired_detail.contains("expired"), "{expired_detail}");
    // Nothing was written by any of the rejected requests.
    assert!(fx
        .api
        .db
        .store
        .client_by_email(&Email::parse("x@example.com").unwrap())
        .await
        .unwrap()
        .is_none());
}

/// Tokens signed with the right key but with claims frontdesk never mints: issued or
/// valid only in the future, living longer than their role may, or a role spelt
/// otherwise. Each is 401; the same token with honest claims is 200.
#[tokio::test]
async fn tokens_from_the_future_living_too_long_or_with_odd_roles_are_refused() {
    let fx = fixture().await;
    let now = demo_now().timestamp();
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::harness::TEST_JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let honest = sign(json!({"sub": "alice", "role": "staff", "iat": now, "exp": now + 3600}));
    let r = fx
        .call(Method::GET, "/api/orders", Some(&honest), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let day = 86_400;
    let refused = [
        (
            "issued in an hour",
            json!({"sub": "alice", "role": "staff", "iat": now + 3600, "exp": now + 7200}),
        ),
        (
            "valid from tomorrow",
            json!({"sub": "alice", "role": "staff", "iat": now, "nbf": now + day, "exp": now + 2 * day}),
        ),
        (
            "lives until 2100",
            json!({"sub": "alice", "role": "staff", "iat": now, "exp": 4_102_444_800_i64}),
        ),
        (
            "an admin token for 8 days",
            json!({"sub": "root", "role": "admin", "iat": now, "exp": now + 8 * day}),
        ),
        (
            "no iat, lives a year",
            json!({"sub": "alice", "role": "staff", "exp": now + 365 * day}),
        ),
        (
            "role Admin",
            json!({"sub": "root", "role": "Admin", "iat": now, "exp": now + 3600}),
        ),
        (
            "role with spaces",
            json!({"sub": "root", "role": " admin ", "iat": now, "exp": now + 3600}),
        ),
    ];
    for (what, claims) in refused {
        let token = sign(claims);
        let r = fx
            .call(Method::GET, "/api/orders", Some(&token), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        r.problem(401, None);
    }
    // A minute of clock skew is forgiven.
    let skewed = sign(
        json!({"sub": "alice", "role": "staff", "iat": now + 30, "nbf": now + 30, "exp": now + 3600}),
    );
    let r = fx
        .call(Method::GET, "/api/orders", Some(&skewed), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// A body over the limit is 413 with a problem detail, and nothing is stored.
#[tokio::test]
async fn an_oversized_body_is_413_and_changes_nothing() {
    let fx = fixture().await;
    let token = fx.api.token("staff", "alice");
    let before = fx.api.db.store.record_counts().await.unwrap();
    let body =
        json!({ "name": "Big Notes", "email": "big@example.com", "notes": "x".repeat(100 * 1024) });
    let r = fx
        .call(Method::POST, "/api/clients", Some(&token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    r.problem(413, None);
    let after = fx.api.db.store.record_counts().await.unwrap();
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
}

#[tokio::test]
async fn roles_below_the_endpoint_get_403() {
    let fx = fixture().await;
    let made = fx.order(&fx.priya, &fx.yoga, 1).await;
    let pid = fx.priya.id.to_hex();
    let oid = made.order.id.to_hex();
    let new_client = json!({ "name": "New Person", "email": "new@example.com" });
    let cases = [
        (Method::GET, "/api/clients".to_owned(), None),
        (Method::POST, "/api/clients".to_owned(), Some(new_client)),
        (Method::DELETE, format!("/api/clients/{pid}"), None),
        (
            Method::PUT,
            format!("/api/orders/{oid}"),
            Some(json!({ "status": "cancelled" })),
        ),
        (
            Method::POST,
            "/api/payments".to_owned(),
            Some(json!({ "order_id": oid, "method": "cash" })),
        ),
    ];
    for (method, path, body) in &cases {
        fx.call(method.clone(), path, Some(&fx.priya_tok), body.clone())
            .await
            .problem(403, None);
    }
    // Deleting needs admin: staff and manager are refused too.
    for tok in [&fx.staff, &fx.manager] {
        fx.call(
            Method::DELETE,
            &format!("/api/clients/{pid}"),
            Some(tok),
            None,
        )
        .await
        .problem(403, None);
    }
    // The role check comes before the body is looked at.
    fx.call(
        Method::PUT,
        &format!("/api/orders/{oid}"),
        Some(&fx.priya_tok),
        Some(json!({ "bogus": 1 })),
    )
    .await
    .problem(403, None);
    // Nothing changed.
    let s = &fx.api.db.store;
    assert!(s.client_by_id(fx.priya.id).await.unwrap().is_some());
    assert_eq!(
        s.order_by_id(made.order.id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );
    assert!(s
        .client_by_email(&Email::parse("new@example.com").unwrap())
        .await
        .unwrap()
        .is_none());
}

// --- clients ----------------------------------------------------------------------------

#[tokio::test]
async fn clients_are_created_read_updated_and_listed() {
    let fx = fixture().await;
    let s = &fx.api.db.store;

    let r = fx
        .call(
            Method::POST,
            "/api/clients",
            Some(&fx.staff),
            Some(json!({
                "name": "  Kabir   Das ",
                "email": "Kabir@Example.COM",
                "phone": "98765 43210",
                "preferences": ["morning", "pilates", "Morning"],
                "notes": "referred by Priya",
            })),
        )
        .await;
    let created = r.ok(201).clone();
    assert_eq!(created["name"], "Kabir Das");
    assert_eq!(created["email"], "kabir@example.com");
    assert_eq!(created["phone"], "+919876543210");
    assert_eq!(created["status"], "lead");
    assert_eq!(created["preferences"], json!(["morning", "pilates"]));
    assert_eq!(created["joined_at"], "2026-11-25T10:00:00Z");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/api/clients/{id}").as_str())
    );
    let stored = s
        .client_by_email(&Email::parse("kabir@example.com").unwrap())
        .await
        .unwrap()
        .expect("the new client is in the database");
    assert_eq!(stored.id.to_hex(), id);
    assert_eq!(stored.phone.as_ref().unwrap().as_str(), "+919876543210");
    assert_eq!(stored.name_tokens, vec!["kabir", "das"]);
    assert_eq!(stored.notes.as_deref(), Some("referred by Priya"));

    let got = fx.get(&format!("/api/clients/{id}"), &fx.staff).await;
    assert_eq!(got.ok(200), &created);

    // Staff change several fields; the ones left out stay.
    let updated = fx
        .call(
            Method::PUT,
            &format!("/api/clients/{id}"),
            Some(&fx.manager),
            Some(json!({ "email": "kabir.das@example.com", "status": "active", "phone": null })),
        )
        .await;
    let updated = updated.ok(200);
    assert_eq!(updated["email"], "kabir.das@example.com");
    assert_eq!(updated["status"], "active");
    assert_eq!(updated["phone"], Value::Null);
    assert_eq!(updated["name"], "Kabir Das");
    let stored = s.client_by_id(stored.id).await.unwrap().unwrap();
    assert_eq!(stored.email.as_str(), "kabir.das@example.com");
    assert_eq!(stored.status, ClientStatus::Active);
    assert!(stored.phone.is_none());
    assert_eq!(stored.preferences, vec!["morning", "pilates"]);
    assert!(s
        .client_by_email(&Email::parse("kabir@example.com").unwrap())
        .await
        .unwrap()
        .is_none());

    // An update never drops an enrollment made meanwhile (a partial $set, not a replace).
    fx.order(&stored, &fx.yoga, 0).await;
    fx.call(
        Method::PUT,
        &format!("/api/clients/{id}"),
        Some(&fx.staff),
        Some(json!({ "name": "Kabir D." })),
    )
    .await
    .ok(200);
    let stored = s.client_by_id(stored.id).await.unwrap().unwrap();
    assert_eq!(stored.enrollments.len(), 1);
    assert_eq!(stored.name.as_str(), "Kabir D.");
    assert_eq!(stored.name_tokens, vec!["kabir", "d"]);

    // Lists: all, by status, by name words, by email prefix, paged.
    let all = fx.get("/api/clients", &fx.staff).await;
    let all = all.ok(200);
    assert_eq!(all["total"], 3);
    assert_eq!(
        (all["page"].as_u64(), all["per_page"].as_u64()),
        (Some(1), Some(20))
    );
    let names: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Kabir D.", "Priya Sharma", "Rahul Verma"]);
    let by_word = fx.get("/api/clients?search=verma", &fx.staff).await;
    assert_eq!(ids(by_word.ok(200)), [fx.rahul.id.to_hex()]);
    // Emails are sealed: a search by email matches the whole address only.
    let by_email = fx
        .get("/api/clients?search=PRIYA%40example.com", &fx.staff)
        .await;
    assert_eq!(ids(by_email.ok(200)), [fx.priya.id.to_hex()]);
    let lead = fx.get("/api/clients?status=lead", &fx.staff).await;
    assert_eq!(lead.ok(200)["total"], 0);
    let page2 = fx.get("/api/clients?page=2&per_page=2", &fx.staff).await;
    let page2 = page2.ok(200);
    assert_eq!(page2["total"], 3);
    assert_eq!(ids(page2), [fx.rahul.id.to_hex()]);
    assert_eq!(page2["page"], 2);
    let beyond = fx.get("/api/clients?page=9", &fx.staff).await;
    assert_eq!(beyond.ok(200)["items"], json!([]));
}

#[tokio::test]
async fn client_input_errors_name_the_field() {
    let fx = fixture().await;
    let s = &fx.api.db.store;
    let post = |body: Value| fx.call(Method::POST, "/api/clients", Some(&fx.staff), Some(body));

    let cases = [
        (json!({ "name": "", "email": "a@example.com" }), "name"),
        (
            json!({ "name": "A {$gt}", "email": "a@example.com" }),
            "name",
        ),
        (json!({ "name": "Anu", "email": "not-an-email" }), "email"),
        (json!({ "name": "Anu", "email": { "$ne": null } }), "email"),
        (
            json!({ "name": "Anu", "email": "a@example.com", "phone": "call me" }),
            "phone",
        ),
        (
            json!({ "name": "Anu", "email": "a@example.com", "status": "vip" }),
            "status",
        ),
        (
            json!({ "name": "Anu", "email": "a@example.com", "preferences": [""] }),
            "preferences",
        ),
        (
            json!({ "name": "Anu", "email": "a@example.com", "notes": "x".repeat(2001) }),
            "notes",
        ),
        (
            json!({ "name": "Anu", "email": "a@example.com", "nickname": "A" }),
            "nickname",
        ),
        (json!({ "name": "Anu" }), "email"),
    ];
    for (body, field) in cases {
        let r = post(body.clone()).await;
        r.problem(422, Some(field));
    }
    assert_eq!(
        s.raw().clients().count_documents(doc! {}).await.unwrap(),
        2,
        "no invalid client was stored"
    );

    // Not JSON at all.
    let r = fx
        .api
        .http
        .post(fx.api.url("/api/clients"))
        .bearer_auth(&fx.staff)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );

    // A taken email, in any case, is a conflict; on create and on update.
    post(json!({ "name": "Priya Two", "email": "PRIYA@example.com" }))
        .await
        .problem(409, None);
    let r = fx
        .call(
            Method::PUT,
            &format!("/api/clients/{}", fx.rahul.id.to_hex()),
            Some(&fx.staff),
            Some(json!({ "email": "priya@example.com" })),
        )
        .await;
    r.problem(409, None);
    assert!(r.detail().contains("priya@example.com"));
    assert_eq!(
        s.client_by_id(fx.rahul.id)
            .await
            .unwrap()
            .unwrap()
            .email
            .as_str(),
        "rahul@example.com"
    );
    // Update validation names the field too.
    fx.call(
        Method::PUT,
        &format!("/api/clients/{}", fx.rahul.id.to_hex()),
        Some(&fx.staff),
        Some(json!({ "phone": "12" })),
    )
    .await
    .problem(422, Some("phone"));
    fx.call(
        Method::PUT,
        &format!("/api/clients/{}", fx.rahul.id.to_hex()),
        Some(&fx.staff),
        Some(json!({ "deleted_at": null })),
    )
    .await
    .problem(422, Some("deleted_at"));

    // Bad list parameters are 400 naming the parameter.
    let long_search = format!("search={}", "a".repeat(101));
    for (query, field) in [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=-1", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("status=vip", "status"),
        ("pgae=2", "pgae"),
        (long_search.as_str(), "search"),
    ] {
        fx.get(&format!("/api/clients?{query}"), &fx.staff)
            .await
            .problem(400, Some(field));
    }
    // The edges are fine.
    fx.get("/api/clients?per_page=100&page=1", &fx.staff)
        .await
        .ok(200);
}

#[tokio::test]
async fn a_client_sees_and_edits_only_their_own_record() {
    let fx = fixture().await;
    let s = &fx.api.db.store;
    let own = format!("/api/clients/{}", fx.priya.id.to_hex());
    let other = format!("/api/clients/{}", fx.rahul.id.to_hex());

    let me = fx.get(&own, &fx.priya_tok).await;
    let me = me.ok(200);
    assert_eq!(me["email"], "priya@example.com");
    assert!(
        me.get("notes").is_none(),
        "staff notes are not shown to the client"
    );
    let staff_view = fx.get(&own, &fx.staff).await;
    assert_eq!(staff_view.ok(200)["notes"], "prefers the window spot");

    // Another client's record, an unknown id and a non-id all look the same: 404.
    let hidden = fx.get(&other, &fx.priya_tok).await;
    hidden.problem(404, None);
    let unknown = fx
        .get(
            &format!("/api/clients/{}", ObjectId::new().to_hex()),
            &fx.priya_tok,
        )
        .await;
    unknown.problem(404, None);
    fx.get("/api/clients/not-an-id", &fx.priya_tok)
        .await
        .problem(404, None);
    fx.get("/api/clients/not-an-id", &fx.staff)
        .await
        .problem(404, None);
    fx.get(
        &format!("/api/clients/{}", ObjectId::new().to_hex()),
        &fx.staff,
    )
    .await
    .problem(404, None);

    // Own name, phone and preferences may change.
    let r = fx
        .call(
            Method::PUT,
            &own,
            Some(&fx.priya_tok),
            Some(json!({
                "name": "Priya S. Sharma",
                "phone": "+44 20 7946 0958",
                "preferences": ["evening"],
                "email": "PRIYA@example.com",
            })),
        )
        .await;
    let r = r.ok(200);
    assert_eq!(r["name"], "Priya S. Sharma");
    let stored = s.client_by_id(fx.priya.id).await.unwrap().unwrap();
    assert_eq!(stored.name.as_str(), "Priya S. Sharma");
    assert_eq!(stored.phone.unwrap().as_str(), "+442079460958");
    assert_eq!(stored.preferences, vec!["evening"]);
    assert_eq!(stored.notes.as_deref(), Some("prefers the window spot"));

    // Email, status and notes may not.
    for body in [
        json!({ "email": "me@example.com" }),
        json!({ "status": "inactive" }),
        json!({ "notes": "VIP" }),
        json!({ "name": "P", "status": "lead" }),
    ] {
        fx.call(Method::PUT, &own, Some(&fx.priya_tok), Some(body))
            .await
            .problem(403, None);
    }
    let stored = s.client_by_id(fx.priya.id).await.unwrap().unwrap();
    assert_eq!(stored.email.as_str(), "priya@example.com");
    assert_eq!(stored.status, ClientStatus::Active);
    assert_eq!(stored.name.as_str(), "Priya S. Sharma");

    // Another client's record cannot be changed (and is not revealed).
    fx.call(
        Method::PUT,
        &other,
        Some(&fx.priya_tok),
        Some(json!({ "name": "Hacked" })),
    )
    .await
    .problem(404, None);
    assert_eq!(
        s.client_by_id(fx.rahul.id)
            .await
            .unwrap()
            .unwrap()
            .name
            .as_str(),
        "Rahul Verma"
    );
    fx.call(
        Method::PUT,
        &format!("/api/clients/{}", ObjectId::new().to_hex()),
        Some(&fx.staff),
        Some(json!({ "name": "Nobody" })),
    )
    .await
    .problem(404, None);
}

#[tokio::test]
async fn deleting_a_client_is_refused_while_orders_are_unpaid() {
    let fx = fixture().await;
    let s = &fx.api.db.store;
    let made = fx.order(&fx.priya, &fx.yoga, 2).await;
    let path = format!("/api/clients/{}", fx.priya.id.to_hex());

    let r = fx.call(Method::DELETE, &path, Some(&fx.admin), None).await;
    r.problem(409, None);
    assert!(
        r.detail()
            .contains("settle or cancel the unpaid orders first"),
        "{}",
        r.detail()
    );
    assert!(r.detail().contains(&made.order.number.to_string()));
    assert!(s.client_by_id(fx.priya.id).await.unwrap().is_some());

    // Once paid, the client can be deleted; orders and payments stay.
    fx.call(
        Method::POST,
        "/api/payments",
        Some(&fx.staff),
        Some(json!({ "order_id": made.order.id.to_hex(), "method": "cash" })),
    )
    .await
    .ok(201);
    let r = fx.call(Method::DELETE, &path, Some(&fx.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    assert!(s.client_by_id(fx.priya.id).await.unwrap().is_none());
    let raw = s
        .raw()
        .database()
        .collection::<bson::Document>("clients")
        .find_one(doc! { "_id": fx.priya.id })
        .await
        .unwrap()
        .expect("a soft delete keeps the document");
    assert!(raw.get_datetime("deleted_at").is_ok());
    assert!(s.order_by_id(made.order.id).await.unwrap().is_some());
    assert_eq!(s.payments_for_order(made.order.id).await.unwrap().len(), 1);

    // Deleted: gone for every endpoint, and deleting again is 404.
    fx.get(&path, &fx.staff).await.problem(404, None);
    fx.call(Method::DELETE, &path, Some(&fx.admin), None)
        .await
        .problem(404, None);
    fx.call(
        Method::DELETE,
        "/api/clients/not-an-id",
        Some(&fx.admin),
        None,
    )
    .await
    .problem(404, None);
    let list = fx.get("/api/clients", &fx.staff).await;
    assert_eq!(ids(list.ok(200)), [fx.rahul.id.to_hex()]);

    // A cancelled order's pending payment does not block the delete.
    let rahuls = fx.order(&fx.rahul, &fx.pilates, 1).await;
    fx.call(
        Method::PUT,
        &format!("/api/orders/{}", rahuls.order.id.to_hex()),
        Some(&fx.staff),
        Some(json!({ "status": "cancelled" })),
    )
    .await
    .ok(200);
    let r = fx
        .call(
            Method::DELETE,
            &format!("/api/clients/{}", fx.rahul.id.to_hex()),
            Some(&fx.admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

// --- orders -----------------------------------------------------------------------------

#[tokio::test]
async fn orders_are_created_once_per_idempotency_key() {
    let fx = fixture().await;
    let s = &fx.api.db.store;
    let body = json!({
        "client_id": fx.priya.id.to_hex(),
        "course_id": fx.yoga.id.to_hex(),
        "method": "card",
    });
    let send = |key: &'static str, body: Value| {
        let req = fx
            .api
            .http
            .post(fx.api.url("/api/orders"))
            .bearer_auth(&fx.staff)
            .header("idempotency-key", key)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = send("enrol-priya-1", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["replayed"], false);
    assert_eq!(first["order"]["status"], "pending");
    assert_eq!(first["order"]["course_name"], "Yoga Beginner");
    assert_eq!(
        first["order"]["amount"],
        json!({ "minor": 300_000, "currency": "INR", "display": "₹3,000" })
    );
    assert_eq!(first["payment"]["status"], "pending");
    assert_eq!(first["payment"]["method"], "card");
    assert_eq!(first["payment"]["due_at"], "2026-12-02T10:00:00Z");
    let order_id = ObjectId::parse_str(first["order"]["id"].as_str().unwrap()).unwrap();
    let stored = s.order_by_id(order_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.client_id, stored.course_id),
        (fx.priya.id, fx.yoga.id)
    );
    assert_eq!(
        stored.number.get(),
        first["order"]["number"].as_u64().unwrap() as u32
    );
    let payments = s.payments_for_order(order_id).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::Pending);
    assert_eq!(payments[0].id.to_hex(), first["payment"]["id"]);
    let enrolled = s.client_by_id(fx.priya.id).await.unwrap().unwrap();
    assert_eq!(enrolled.enrollments.len(), 1);

    // The same key again: the same order, not a second one.
    let (status, again) = send("enrol-priya-1", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["replayed"], true);
    assert_eq!(again["order"]["id"], first["order"]["id"]);
    assert_eq!(again["payment"]["id"], first["payment"]["id"]);
    // The key in the body works the same way.
    let mut with_body_key = body.clone();
    with_body_key["idempotency_key"] = json!("enrol-priya-1");
    let r = fx
        .call(
            Method::POST,
            "/api/orders",
            Some(&fx.staff),
            Some(with_body_key),
        )
        .await;
    assert_eq!(r.ok(200)["order"]["id"], first["order"]["id"]);
    assert_eq!(
        s.raw()
            .orders()
            .count_documents(doc! { "client_id": fx.priya.id })
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.raw()
            .payments()
            .count_documents(doc! { "client_id": fx.priya.id })
            .await
            .unwrap(),
        1
    );

    // The key reused for another course is a conflict, not a silent wrong answer.
    let other_course = json!({
        "client_id": fx.priya.id.to_hex(),
        "course_id": fx.pilates.id.to_hex(),
    });
    let (status, conflict) = send("enrol-priya-1", other_course).await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    // A client using the same key for themselves gets their own, new order.
    let r = fx
        .api
        .http
        .post(fx.api.url("/api/orders"))
        .bearer_auth(&fx.rahul_tok)
        .header("idempotency-key", "enrol-priya-1")
        .json(&json!({ "course_id": fx.yoga.id.to_hex() }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let rahuls: Value = r.json().await.unwrap();
    assert_eq!(rahuls["order"]["client_id"], fx.rahul.id.to_hex());
    assert_ne!(rahuls["order"]["id"], first["order"]["id"]);
    // Without a key, every POST is a new order.
    let r1 = fx
        .call(
            Method::POST,
            "/api/orders",
            Some(&fx.staff),
            Some(body.clone()),
        )
        .await;
    let r2 = fx
        .call(
            Method::POST,
            "/api/orders",
            Some(&fx.staff),
            Some(body.clone()),
        )
        .await;
    assert_ne!(r1.ok(201)["order"]["id"], r2.ok(201)["order"]["id"]);
    assert_eq!(
        s.raw()
            .orders()
            .count_documents(doc! { "client_id": fx.priya.id })
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn order_creation_errors() {
    let fx = fixture().await;
    let api = &fx.api;
    let s = &fx.api.db.store;
    let priya = fx.priya.id.to_hex();
    let yoga = fx.yoga.id.to_hex();
    let post = |tok: &str, body: Value| {
        let tok = tok.to_owned();
        async move { call(api, Method::POST, "/api/orders", Some(&tok), Some(body)).await }
    };
    let unknown = ObjectId::new().to_hex();
    post(
        &fx.staff,
        json!({ "client_id": unknown, "course_id": yoga }),
    )
    .await
    .problem(404, None);
    post(
        &fx.staff,
        json!({ "client_id": priya, "course_id": unknown }),
    )
    .await
    .problem(404, None);
    for (body, field) in [
        (
            json!({ "client_id": priya, "course_id": "yoga" }),
            "course_id",
        ),
        (
            json!({ "client_id": "priya", "course_id": yoga }),
            "client_id",
        ),
        (json!({ "course_id": yoga }), "client_id"),
        (json!({ "client_id": priya }), "course_id"),
        (
            json!({ "client_id": priya, "course_id": yoga, "method": "barter" }),
            "method",
        ),
        (
            json!({ "client_id": priya, "course_id": yoga, "amount": 1 }),
            "amount",
        ),
        (
            json!({ "client_id": priya, "course_id": yoga, "idempotency_key": "has spaces" }),
            "idempotency_key",
        ),
    ] {
        post(&fx.staff, body).await.problem(422, Some(field));
    }
    // A client orders only for themselves.
    post(
        &fx.priya_tok,
        json!({ "client_id": fx.rahul.id.to_hex(), "course_id": yoga }),
    )
    .await
    .problem(403, None);
    assert_eq!(s.raw().orders().count_documents(doc! {}).await.unwrap(), 0);
    let own = post(&fx.priya_tok, json!({ "course_id": yoga })).await;
    assert_eq!(own.ok(201)["order"]["client_id"], priya);
    let own_explicit = post(
        &fx.priya_tok,
        json!({ "client_id": priya, "course_id": yoga }),
    )
    .await;
    assert_eq!(own_explicit.ok(201)["payment"]["method"], "online");
    assert_eq!(
        s.raw()
            .orders()
            .count_documents(doc! { "client_id": fx.priya.id })
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn orders_are_listed_with_filters_and_a_client_sees_only_theirs() {
    let fx = fixture().await;
    let api = &fx.api;
    // Priya: yoga 40 days ago, pilates 10 days ago; Rahul: yoga 5 days ago, pilates today.
    let p_yoga = fx.order(&fx.priya, &fx.yoga, 40).await;
    let p_pil = fx.order(&fx.priya, &fx.pilates, 10).await;
    let r_yoga = fx.order(&fx.rahul, &fx.yoga, 5).await;
    let r_pil = fx.order(&fx.rahul, &fx.pilates, 0).await;
    fx.api
        .db
        .store
        .set_order_status(p_yoga.order.id, OrderStatus::Cancelled, demo_now())
        .await
        .unwrap();
    let hex = |o: &OrderCreated| o.order.id.to_hex();

    let all = fx.get("/api/orders", &fx.staff).await;
    let all = all.ok(200);
    assert_eq!(all["total"], 4);
    assert_eq!(
        ids(all),
        [hex(&r_pil), hex(&r_yoga), hex(&p_pil), hex(&p_yoga)],
        "newest first"
    );

    let q = |query: String| {
        let staff = fx.staff.clone();
        async move {
            call(
                api,
                Method::GET,
                &format!("/api/orders?{query}"),
                Some(&staff),
                None,
            )
            .await
        }
    };
    let r = q(format!("client_id={}", fx.priya.id.to_hex())).await;
    assert_eq!(ids(r.ok(200)), [hex(&p_pil), hex(&p_yoga)]);
    let r = q(format!("course_id={}", fx.yoga.id.to_hex())).await;
    assert_eq!(ids(r.ok(200)), [hex(&r_yoga), hex(&p_yoga)]);
    let r = q("status=cancelled".into()).await;
    assert_eq!(ids(r.ok(200)), [hex(&p_yoga)]);
    let r = q("status=pending&course_id=".to_owned() + &fx.pilates.id.to_hex()).await;
    assert_eq!(ids(r.ok(200)), [hex(&r_pil), hex(&p_pil)]);
    // Dates are whole local days; instants are exact.
    let r = q("from=2026-11-15&to=2026-11-20".into()).await;
    assert_eq!(ids(r.ok(200)), [hex(&r_yoga), hex(&p_pil)]);
    let r = q("from=2026-11-20T10:00:00Z".into()).await;
    assert_eq!(ids(r.ok(200)), [hex(&r_pil), hex(&r_yoga)]);
    let r = q("to=2026-11-20T10:00:00Z".into()).await;
    assert_eq!(ids(r.ok(200)), [hex(&p_pil), hex(&p_yoga)]);
    let r = q("from=2026-11-20T10:00:00%2B05:30".into()).await;
    assert_eq!(ids(r.ok(200)), [hex(&r_pil), hex(&r_yoga)]);
    let r = q("page=2&per_page=3".into()).await;
    let r = r.ok(200);
    assert_eq!((r["total"].as_u64(), ids(r)), (Some(4), vec![hex(&p_yoga)]));

    for (query, field) in [
        ("status=shipped", "status"),
        ("client_id=priya", "client_id"),
        ("course_id=123", "course_id"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-11-20&to=2026-11-10", "to"),
        ("per_page=1000", "per_page"),
        ("sort=name", "sort"),
    ] {
        q(query.to_owned()).await.problem(400, Some(field));
    }

    // A client sees only their own orders, whatever client_id they ask for.
    for path in [
        "/api/orders".to_owned(),
        format!("/api/orders?client_id={}", fx.rahul.id.to_hex()),
    ] {
        let mine = fx.get(&path, &fx.priya_tok).await;
        let mine = mine.ok(200);
        assert_eq!(mine["total"], 2, "{path}");
        assert_eq!(ids(mine), [hex(&p_pil), hex(&p_yoga)], "{path}");
    }
    let r = fx
        .get(
            &format!("/api/orders?course_id={}", fx.pilates.id.to_hex()),
            &fx.rahul_tok,
        )
        .await;
    assert_eq!(ids(r.ok(200)), [hex(&r_pil)]);
}

#[tokio::test]
async fn an_order_is_read_with_its_payments_by_staff_or_its_owner() {
    let fx = fixture().await;
    let made = fx.order(&fx.priya, &fx.yoga, 10).await;
    let path = format!("/api/orders/{}", made.order.id.to_hex());

    for tok in [&fx.staff, &fx.priya_tok] {
        let r = fx.get(&path, tok).await;
        let r = r.ok(200);
        assert_eq!(r["order"]["id"], made.order.id.to_hex());
        assert_eq!(r["order"]["number"], made.order.number.get());
        assert_eq!(r["order"]["client_id"], fx.priya.id.to_hex());
        assert_eq!(r["payments"].as_array().unwrap().len(), 1);
        assert_eq!(r["payments"][0]["id"], made.payment.id.to_hex());
        assert_eq!(r["payments"][0]["status"], "pending");
        // Due 3 days ago at the service clock.
        assert_eq!(r["payments"][0]["overdue"], true);
        assert_eq!(r["order"]["created_at"], "2026-11-15T10:00:00Z");
    }
    // Another client's order is not revealed.
    fx.get(&path, &fx.rahul_tok).await.problem(404, None);
    fx.get("/api/orders/not-an-id", &fx.staff)
        .await
        .problem(404, None);
    fx.get(
        &format!("/api/orders/{}", ObjectId::new().to_hex()),
        &fx.staff,
    )
    .await
    .problem(404, None);
}

#[tokio::test]
async fn order_status_moves_are_checked() {
    let fx = fixture().await;
    let api = &fx.api;
    let s = &fx.api.db.store;
    let made = fx.order(&fx.priya, &fx.yoga, 1).await;
    let path = format!("/api/orders/{}", made.order.id.to_hex());
    let put = |status: &str| {
        let body = json!({ "status": status });
        let staff = fx.staff.clone();
        let path = path.clone();
        async move { call(api, Method::PUT, &path, Some(&staff), Some(body)).await }
    };

    // pending → completed skips a step: 409 with the reason; the DB is unchanged.
    let r = put("completed").await;
    r.problem(409, None);
    assert!(r.detail().contains("confirmed"), "{}", r.detail());
    // Not a status at all: 422 naming the field.
    put("shipped").await.problem(422, Some("status"));
    fx.call(Method::PUT, &path, Some(&fx.staff), Some(json!({})))
        .await
        .problem(422, Some("status"));
    fx.call(
        Method::PUT,
        &path,
        Some(&fx.staff),
        Some(json!({ "status": "confirmed", "note": "x" })),
    )
    .await
    .problem(422, Some("note"));
    assert_eq!(
        s.order_by_id(made.order.id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );

    let r = put("confirmed").await;
    let r = r.ok(200);
    assert_eq!(r["status"], "confirmed");
    assert_eq!(r["updated_at"], "2026-11-25T10:00:00Z");
    let stored = s.order_by_id(made.order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Confirmed);
    assert_eq!(stored.updated_at, demo_now());

    let r = put("confirmed").await;
    r.problem(409, None);
    assert!(r.detail().contains("already confirmed"));
    put("pending").await.problem(409, None);
    put("completed").await.ok(200);
    let r = put("cancelled").await;
    r.problem(409, None);
    assert!(r.detail().contains("cannot change"), "{}", r.detail());
    assert_eq!(
        s.order_by_id(made.order.id).await.unwrap().unwrap().status,
        OrderStatus::Completed
    );

    fx.call(
        Method::PUT,
        &format!("/api/orders/{}", ObjectId::new().to_hex()),
        Some(&fx.staff),
        Some(json!({ "status": "cancelled" })),
    )
    .await
    .problem(404, None);
    fx.call(
        Method::PUT,
        "/api/orders/not-an-id",
        Some(&fx.staff),
        Some(json!({ "status": "cancelled" })),
    )
    .await
    .problem(404, None);
}

// --- payments ---------------------------------------------------------------------------

#[tokio::test]
async fn recording_a_payment_confirms_the_order_once() {
    let fx = fixture().await;
    let s = &fx.api.db.store;
    let made = fx.order(&fx.priya, &fx.pilates, 3).await;
    let body = json!({
        "order_id": made.order.id.to_hex(),
        "method": "upi",
        "provider_ref": "UPI-123",
    });

    let r = fx
        .call(
            Method::POST,
            "/api/payments",
            Some(&fx.staff),
            Some(body.clone()),
        )
        .await;
    let r = r.ok(201);
    assert_eq!(r["changed"], true);
    assert_eq!(r["payment"]["status"], "paid");
    assert_eq!(r["payment"]["paid_at"], "2026-11-25T10:00:00Z");
    assert_eq!(r["payment"]["provider_ref"], "UPI-123");
    assert_eq!(r["order"]["status"], "confirmed");
    let paid = s.payments_for_order(made.order.id).await.unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].status, PaymentStatus::Paid);
    assert_eq!(paid[0].method, PaymentMethod::Upi);
    assert_eq!(paid[0].paid_at, Some(demo_now()));
    assert_eq!(paid[0].provider_ref.as_deref(), Some("UPI-123"));
    assert_eq!(
        s.order_by_id(made.order.id).await.unwrap().unwrap().status,
        OrderStatus::Confirmed
    );

    // Again: nothing changes.
    let again = fx
        .call(
            Method::POST,
            "/api/payments",
            Some(&fx.manager),
            Some(json!({ "order_id": made.order.id.to_hex(), "method": "cash" })),
        )
        .await;
    let again = again.ok(200);
    assert_eq!(again["changed"], false);
    assert_eq!(again["payment"]["method"], "upi");
    assert_eq!(
        s.payments_for_order(made.order.id).await.unwrap()[0].method,
        PaymentMethod::Upi
    );

    // Failed and refunded payments cannot be marked paid.
    for status in ["failed", "refunded"] {
        let other = fx.order(&fx.rahul, &fx.yoga, 1).await;
        s.raw()
            .payments()
            .update_one(
                doc! { "_id": other.payment.id },
                doc! { "$set": { "status": status } },
            )
            .await
            .unwrap();
        let r = fx
            .call(
                Method::POST,
                "/api/payments",
                Some(&fx.staff),
                Some(json!({ "order_id": other.order.id.to_hex(), "method": "cash" })),
            )
            .await;
        r.problem(409, None);
        assert!(r.detail().contains(status), "{}", r.detail());
        assert_eq!(
            s.order_by_id(other.order.id).await.unwrap().unwrap().status,
            OrderStatus::Pending
        );
    }

    // A cancelled order's payment cannot be recorded either.
    let cancelled = fx.order(&fx.rahul, &fx.pilates, 1).await;
    s.set_order_status(cancelled.order.id, OrderStatus::Cancelled, demo_now())
        .await
        .unwrap();
    fx.call(
        Method::POST,
        "/api/payments",
        Some(&fx.staff),
        Some(json!({ "order_id": cancelled.order.id.to_hex(), "method": "cash" })),
    )
    .await
    .problem(409, None);
    // Cancelling failed the open payment, and the refused call left it so.
    assert_eq!(
        s.payments_for_order(cancelled.order.id).await.unwrap()[0].status,
        PaymentStatus::Failed
    );

    // Input errors.
    let order = made.order.id.to_hex();
    fx.call(
        Method::POST,
        "/api/payments",
        Some(&fx.staff),
        Some(json!({ "order_id": ObjectId::new().to_hex(), "method": "cash" })),
    )
    .await
    .problem(404, None);
    for (body, field) in [
        (json!({ "order_id": "10001", "method": "cash" }), "order_id"),
        (json!({ "order_id": order, "method": "cheque" }), "method"),
        (json!({ "order_id": order }), "method"),
        (json!({ "method": "cash" }), "order_id"),
        (
            json!({ "order_id": order, "method": "cash", "amount": 5 }),
            "amount",
        ),
        (
            json!({ "order_id": order, "method": "cash", "provider_ref": "x".repeat(201) }),
            "provider_ref",
        ),
    ] {
        fx.call(Method::POST, "/api/payments", Some(&fx.staff), Some(body))
            .await
            .problem(422, Some(field));
    }
}

#[tokio::test]
async fn payments_are_listed_and_pending_ones_filtered_by_overdue() {
    let fx = fixture().await;
    let s = &fx.api.db.store;
    // Due 7 days after ordering: 20 days ago → overdue; 2 days ago → not yet.
    let p_old = fx.order(&fx.priya, &fx.yoga, 20).await;
    let p_new = fx.order(&fx.priya, &fx.pilates, 2).await;
    let r_old = fx.order(&fx.rahul, &fx.yoga, 30).await;
    let r_paid = fx.order(&fx.rahul, &fx.pilates, 1).await;
    s.record_payment(r_paid.payment.id, PaymentMethod::Cash, None, demo_now())
        .await
        .unwrap();
    let hex = |o: &OrderCreated| o.payment.id.to_hex();

    let all = fx.get("/api/payments", &fx.staff).await;
    let all = all.ok(200);
    assert_eq!(all["total"], 4);
    assert_eq!(
        ids(all),
        [hex(&r_paid), hex(&p_new), hex(&p_old), hex(&r_old)]
    );
    let r = fx.get("/api/payments?status=paid", &fx.staff).await;
    assert_eq!(ids(r.ok(200)), [hex(&r_paid)]);
    let r = fx
        .get(
            &format!("/api/payments?client_id={}", fx.priya.id.to_hex()),
            &fx.staff,
        )
        .await;
    assert_eq!(ids(r.ok(200)), [hex(&p_new), hex(&p_old)]);
    let r = fx
        .get(
            &format!("/api/payments?order_id={}", p_old.order.id.to_hex()),
            &fx.staff,
        )
        .await;
    assert_eq!(ids(r.ok(200)), [hex(&p_old)]);
    let r = fx.get("/api/payments?per_page=1&page=2", &fx.staff).await;
    let r = r.ok(200);
    assert_eq!((r["total"].as_u64(), ids(r)), (Some(4), vec![hex(&p_new)]));

    // Pending: the longest overdue first.
    let r = fx.get("/api/payments/pending", &fx.staff).await;
    let r = r.ok(200);
    assert_eq!(ids(r), [hex(&r_old), hex(&p_old), hex(&p_new)]);
    assert_eq!(
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["overdue"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [true, true, false]
    );
    let r = fx
        .get("/api/payments/pending?overdue=true", &fx.staff)
        .await;
    let r = r.ok(200);
    assert_eq!(
        (r["total"].as_u64(), ids(r)),
        (Some(2), vec![hex(&r_old), hex(&p_old)])
    );
    let r = fx
        .get("/api/payments/pending?overdue=false", &fx.staff)
        .await;
    assert_eq!(r.ok(200)["total"], 3);
    let (_, store_total) = s
        .pending_payments(&frontdesk::store::PaymentQuery {
            overdue_at: Some(demo_now()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store_total, 2, "the API agrees with the store");

    // A client sees only their own, whatever they ask for.
    for path in [
        "/api/payments".to_owned(),
        format!("/api/payments?client_id={}", fx.rahul.id.to_hex()),
    ] {
        let r = fx.get(&path, &fx.priya_tok).await;
        assert_eq!(ids(r.ok(200)), [hex(&p_new), hex(&p_old)], "{path}");
    }
    let r = fx
        .get(
            &format!("/api/payments/pending?client_id={}", fx.priya.id.to_hex()),
            &fx.rahul_tok,
        )
        .await;
    assert_eq!(ids(r.ok(200)), [hex(&r_old)]);
    let r = fx
        .get("/api/payments/pending?overdue=true", &fx.priya_tok)
        .await;
    assert_eq!(ids(r.ok(200)), [hex(&p_old)]);

    for (path, field) in [
        ("/api/payments?status=owed", "status"),
        ("/api/payments?order_id=10001", "order_id"),
        ("/api/payments?client_id=me", "client_id"),
        ("/api/payments?page=0", "page"),
        ("/api/payments?overdue=true", "overdue"),
        ("/api/payments/pending?overdue=maybe", "overdue"),
        ("/api/payments/pending?per_page=x", "per_page"),
        ("/api/payments/pending?status=paid", "status"),
    ] {
        fx.get(path, &fx.staff).await.problem(400, Some(field));
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_record_endpoints() {
    let fx = fixture().await;
    let doc: Value = fx
        .api
        .http
        .get(fx.api.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expect = [
        (
            "/api/clients",
            "get",
            "clients",
            &["200", "400", "401", "403", "429"][..],
        ),
        (
            "/api/clients",
            "post",
            "clients",
            &["201", "400", "401", "403", "409", "422"][..],
        ),
        (
            "/api/clients/{client_id}",
            "get",
            "clients",
            &["200", "401", "404"][..],
        ),
        (
            "/api/clients/{client_id}",
            "put",
            "clients",
            &["200", "403", "404", "409", "422"][..],
        ),
        (
            "/api/clients/{client_id}",
            "delete",
            "clients",
            &["204", "403", "404", "409"][..],
        ),
        ("/api/orders", "get", "orders", &["200", "400", "401"][..]),
        (
            "/api/orders",
            "post",
            "orders",
            &["200", "201", "403", "404", "409", "422"][..],
        ),
        (
            "/api/orders/{order_id}",
            "get",
            "orders",
            &["200", "404"][..],
        ),
        (
            "/api/orders/{order_id}",
            "put",
            "orders",
            &["200", "403", "404", "409", "422"][..],
        ),
        (
            "/api/payments",
            "get",
            "payments",
            &["200", "400", "401"][..],
        ),
        (
            "/api/payments",
            "post",
            "payments",
            &["200", "201", "403", "404", "409", "422"][..],
        ),
        (
            "/api/payments/pending",
            "get",
            "payments",
            &["200", "400", "401"][..],
        ),
    ];
    // Record schemas keep their own names (no clash with another module's views).
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas["ClientEnrollmentView"]["properties"]["order_number"].is_object());
    for name in [
        "ClientView",
        "ClientPage",
        "OrderView",
        "OrderPage",
        "PaymentView",
        "PaymentPage",
        "MoneyView",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    for (path, method, tag, statuses) in expect {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert_eq!(op["tags"][0], tag, "{method} {path}");
        for status in statuses {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} documents {status}"
            );
        }
        // Every error answer is a problem details body, whatever media type it is filed under.
        let content = op["responses"]["401"]["content"].as_object().unwrap();
        assert!(
            content
                .values()
                .any(|c| c["schema"]["$ref"] == "#/components/schemas/Problem"),
            "{method} {path}: {content:?}"
        );
    }
}

// --- hardening --------------------------------------------------------------------------

#[tokio::test]
async fn a_deleted_clients_token_reads_nothing() {
    let fx = fixture().await;
    let made = fx.order(&fx.priya, &fx.yoga, 2).await;
    fx.call(
        Method::POST,
        "/api/payments",
        Some(&fx.staff),
        Some(json!({ "order_id": made.order.id.to_hex(), "method": "cash" })),
    )
    .await
    .ok(201);
    let order_path = format!("/api/orders/{}", made.order.id.to_hex());
    let reads = ["/api/orders", order_path.as_str(), "/api/payments"];
    for path in reads {
        fx.get(path, &fx.priya_tok).await.ok(200);
    }

    let r = fx
        .call(
            Method::DELETE,
            &format!("/api/clients/{}", fx.priya.id.to_hex()),
            Some(&fx.admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    // Her still-unexpired token is refused everywhere, as the auth errors are.
    for path in reads {
        let r = fx.get(path, &fx.priya_tok).await;
        r.problem(401, None);
        assert!(
            r.detail().contains("no longer exists"),
            "{path}: {}",
            r.text
        );
    }
    // Staff still read her orders and payments; another client is unaffected.
    let orders = fx.get("/api/orders", &fx.staff).await;
    assert!(ids(orders.ok(200)).contains(&made.order.id.to_hex()));
    fx.get(&order_path, &fx.staff).await.ok(200);
    fx.get("/api/payments", &fx.staff).await.ok(200);
    fx.get("/api/orders", &fx.rahul_tok).await.ok(200);
    // A token for a client who never existed is refused the same way.
    let ghost = fx.api.token("client", &ObjectId::new().to_hex());
    fx.get("/api/orders", &ghost).await.problem(401, None);
}

#[tokio::test]
async fn names_and_notes_with_hidden_characters_are_refused_and_nothing_is_stored() {
    let fx = fixture().await;
    let s = &fx.api.db.store;
    let before = s.client_count().await.unwrap();

    for (body, field) in [
        (
            json!({ "name": "Eve \u{202e}niamdA\u{202c}", "email": "eve@example.com" }),
            "name",
        ),
        (
            json!({ "name": "Eve\u{200b}Admin", "email": "eve@example.com" }),
            "name",
        ),
        (
            json!({ "name": "Eve", "email": "eve@example.com", "notes": "ok\u{2066}hidden" }),
            "notes",
        ),
    ] {
        let r = fx
            .call(Method::POST, "/api/clients", Some(&fx.staff), Some(body))
            .await;
        r.problem(422, Some(field));
        assert!(r.detail().contains("U+"), "{}", r.text);
    }
    assert_eq!(s.client_count().await.unwrap(), before);
    assert!(s
        .client_by_email(&Email::parse("eve@example.com").unwrap())
        .await
        .unwrap()
        .is_none());

    // Updating: refused, and the stored record is unchanged.
    let path = format!("/api/clients/{}", fx.priya.id.to_hex());
    fx.call(
        Method::PUT,
        &path,
        Some(&fx.staff),
        Some(json!({ "name": "Priya \u{202e}amrahS" })),
    )
    .await
    .problem(422, Some("name"));
    fx.call(
        Method::PUT,
        &path,
        Some(&fx.staff),
        Some(json!({ "notes": "fine\u{feff}" })),
    )
    .await
    .problem(422, Some("notes"));
    // Her own token may rename her, and is refused the same way.
    fx.call(
        Method::PUT,
        &path,
        Some(&fx.priya_tok),
        Some(json!({ "name": "Priya\u{00ad}Sharma" })),
    )
    .await
    .problem(422, Some("name"));
    let stored = s.client_by_id(fx.priya.id).await.unwrap().unwrap();
    assert_eq!(stored.name.as_str(), "Priya Sharma");
    assert_eq!(stored.notes.as_deref(), Some("prefers the window spot"));

    // Line breaks and tabs are fine in notes.
    fx.call(
        Method::PUT,
        &path,
        Some(&fx.staff),
        Some(json!({ "notes": "line one\n\tline two" })),
    )
    .await
    .ok(200);
}
