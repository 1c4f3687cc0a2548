//! Data protection: personal data sealed at rest, lookups through blind indexes, key
//! rotation, the audit trail of every write path, and the read-only Dashboard connection.

use std::sync::Arc;

use bson::{doc, Document};
use frontdesk::agents::{AgentReply, AgentRequest, Agents};
use frontdesk::domain::{Email, Phone};
use frontdesk::gateway::Outcome;
use frontdesk::protect::{Key, Keyring};
use frontdesk::store::{AuditRecord, ClientQuery, Store, StoreError};
use frontdesk::tools::{AgentKind, Caller};
use futures::TryStreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::gateway::{env, gateway_settings, gateway_with, run, slack, telegram_dm, Recorder};
use crate::harness::{server_url, TestApi, TestDb};

async fn raw_clients(store: &Store) -> Vec<Document> {
    store
        .raw()
        .clients()
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// Every string anywhere in a document (nested documents and arrays included), and the
/// document's raw bytes: plaintext must appear in neither.
fn contains_plaintext(raw: &Document, needle: &str) -> bool {
    let bytes = bson::to_vec(raw).unwrap();
    let in_bytes = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    in_bytes || raw.to_string().contains(needle)
}

/// The REST API over a database with the demo data of `clients` clients.
async fn demo_api(clients: usize) -> TestApi {
    let (db, _) = TestDb::with_demo_data(clients).await;
    TestApi::spawn(db).await
}

/// The agents over `store` as the service makes them (rules planner, the demo clock).
fn agents_over(store: &Store) -> Agents {
    let settings = env(&[]);
    Agents::new(
        store.clone(),
        settings.clock(),
        settings.studio.clone(),
        &settings.llm,
        24,
    )
}

/// Asks `agent` as `caller`, outside any conversation.
async fn ask(agents: &Agents, agent: AgentKind, caller: Caller, text: &str) -> AgentReply {
    agents
        .handle(AgentRequest {
            agent,
            caller,
            text: text.to_owned(),
            conversation: None,
            event_id: None,
        })
        .await
}

/// `db` opened again with the keyring of [`keyring`]`(current, old)`.
async fn reopen_with_keys(db: &TestDb, current: u8, old: &[u8]) -> Store {
    Store::open(&server_url(), db.name(), keyring(current, old))
        .await
        .unwrap()
}

#[tokio::test]
async fn protect_raw_client_documents_hold_no_plaintext_email_phone_or_notes() {
    let api = demo_api(40).await;
    let admin = api.token("admin", "admin-1");
    let made: Value = api
        .http
        .post(api.url("/api/clients"))
        .bearer_auth(&admin)
        .json(
            &json!({ "name": "Nadia Khan", "email": "nadia.khan@example.com",
                        "phone": "+447700900089", "notes": "knee injury, prefers mornings" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(made["email"], "nadia.khan@example.com", "{made}");
    let store = &api.db.store;
    let clients = store.find_clients(doc! {}).await.unwrap();
    let raws = raw_clients(store).await;
    assert_eq!(clients.len(), raws.len());
    assert!(clients.len() > 40);
    let mut checked = 0;
    for (client, raw) in clients.iter().zip(&raws) {
        assert_eq!(raw.get_object_id("_id").unwrap(), client.id);
        let mut secrets = vec![client.email.as_str().to_owned()];
        secrets.extend(client.phone.as_ref().map(|p| p.as_str().to_owned()));
        secrets.extend(client.notes.clone());
        for secret in &secrets {
            assert!(
                !contains_plaintext(raw, secret),
                "{secret:?} in the stored document {raw}"
            );
            checked += 1;
        }
        // Sealed values name their key.
        let email = raw.get_document("email").unwrap();
        assert_eq!(email.get_str("k").unwrap(), store.keys().current_id());
        assert!(raw.get_str("email_bi").is_ok());
    }
    assert!(checked >= 2 * clients.len(), "{checked}");
    let nadia = clients
        .iter()
        .find(|c| c.email.as_str() == "nadia.khan@example.com")
        .unwrap();
    assert_eq!(
        nadia.notes.as_deref(),
        Some("knee injury, prefers mornings")
    );
    assert_eq!(nadia.phone.as_ref().unwrap().as_str(), "+447700900089");
}

#[tokio::test]
async fn protect_lookups_by_email_and_phone_still_work_through_the_blind_index() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let store = db.store.clone();
    let priya_email = Email::parse("  Priya@Example.com ").unwrap();
    let priya = store.client_by_email(&priya_email).await.unwrap().unwrap();
    assert_eq!(priya.name.as_str(), "Priya Sharma");
    let phone = priya.phone.clone().unwrap();
    let by_phone = store.client_by_phone(&phone).await.unwrap().unwrap();
    assert_eq!(by_phone.id, priya.id);
    assert_eq!(
        store.clients_by_phone(&phone, 5).await.unwrap().len(),
        1,
        "one client has Priya's number"
    );
    // The lookups use the blind-index indexes.
    let names: Vec<String> = store.raw().clients().list_index_names().await.unwrap();
    for expected in ["email_bi_unique", "live_email_bi", "live_phone_bi"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    assert!(!names.iter().any(|n| n == "email_unique"), "{names:?}");
    // Search by a whole address (exact); a fragment of one finds nothing.
    let (page, total) = store
        .list_clients(&ClientQuery {
            search: Some("PRIYA@example.com".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((total, page[0].id), (1, priya.id));
    let (_, total) = store
        .list_clients(&ClientQuery {
            search: Some("priya@exa".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 0);

    // The Support Agent's find_client by email and by phone.
    let agents = agents_over(&store);
    for text in [
        "Find client by email priya@example.com".to_owned(),
        format!("find client by phone {}", phone.as_str()),
    ] {
        let reply = ask(&agents, AgentKind::Support, Caller::staff(), &text).await;
        assert_eq!(reply.intent, "find_client", "{text}: {reply:#?}");
        assert!(
            reply.answer.contains("Priya Sharma"),
            "{text}: {}",
            reply.answer
        );
    }

    // REST: the list's search by email.
    let api = TestApi::spawn(db).await;
    let staff = api.token("staff", "staff-1");
    let found = api
        .get_ok("/api/clients?search=priya%40example.com", &staff)
        .await;
    assert_eq!(found["total"], 1, "{found}");

    // Telegram: Priya shares her own contact and is linked by the phone's blind index.
    let gw = gateway_with(&api.db, gateway_settings(), &env(&[]));
    let rec = Arc::new(Recorder::default());
    let contact = telegram_dm("4242", "", 1).with_contact_phone(phone.as_str());
    assert_eq!(run(&gw, &rec, contact).await, Outcome::Linking);
    let link = api
        .db
        .store
        .linked_identity("telegram:4242")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.client_id, priya.id);
}

#[tokio::test]
async fn protect_a_taken_email_is_refused_whatever_key_it_is_under() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let store = &db.store;
    let mut twin = frontdesk::domain::Client::new(
        frontdesk::domain::PersonName::parse("Priya Twin").unwrap(),
        Email::parse("priya@example.com").unwrap(),
        frontdesk::domain::ClientStatus::Lead,
        crate::harness::demo_now(),
    );
    assert!(matches!(
        store.insert_client(&twin).await,
        Err(StoreError::Duplicate { .. })
    ));
    // A new key, the old one kept: Priya is still under the old key, and the unique
    // index alone could not see her.
    let rotated = reopen_with_keys(&db, 9, &[7]).await;
    twin.id = bson::oid::ObjectId::new();
    assert!(matches!(
        rotated.insert_client(&twin).await,
        Err(StoreError::Duplicate { .. })
    ));
    // Another address under the new key is fine, and its duplicate is refused.
    twin.email = Email::parse("priya.twin@example.com").unwrap();
    rotated.insert_client(&twin).await.unwrap();
    twin.id = bson::oid::ObjectId::new();
    assert!(matches!(
        rotated.insert_client(&twin).await,
        Err(StoreError::Duplicate { .. })
    ));
    // The REST API answers 409.
    let api = TestApi::spawn(db).await;
    let status = api
        .http
        .post(api.url("/api/clients"))
        .bearer_auth(api.token("admin", "a"))
        .json(&json!({ "name": "Priya Again", "email": "PRIYA@example.com" }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 409);
}

/// A keyring of key `[current; 32]` with older keys `[old; 32]`.
fn keyring(current: u8, old: &[u8]) -> Keyring {
    Keyring::new(
        Key::from_bytes(&[current; 32]),
        old.iter().map(|b| Key::from_bytes(&[*b; 32])).collect(),
    )
}

#[tokio::test]
async fn protect_rotate_key_moves_every_record_and_resumes_after_an_interruption() {
    // Seeded under key A (the harness key, bytes of 7).
    let (db, _) = TestDb::with_demo_data(60).await;
    let total = db
        .store
        .raw()
        .clients()
        .count_documents(doc! {})
        .await
        .unwrap();
    let a_id = db.store.keys().current_id().to_owned();
    let b = reopen_with_keys(&db, 9, &[7]).await;
    let b_id = b.keys().current_id().to_owned();
    assert_ne!(a_id, b_id);
    assert_eq!(b.clients_to_rotate().await.unwrap(), total);
    // Before rotating, key B with A as an old key still reads and finds everything.
    let priya_email = Email::parse("priya@example.com").unwrap();
    let priya = b.client_by_email(&priya_email).await.unwrap().unwrap();
    assert!(b
        .client_by_phone(priya.phone.as_ref().unwrap())
        .await
        .unwrap()
        .is_some());

    // Interrupted after one batch of 25.
    let mut seen = Vec::new();
    let first = b
        .rotate_keys(25, Some(1), |r| seen.push(r.rotated))
        .await
        .unwrap();
    assert_eq!((first.rotated, first.batches, first.to_do), (25, 1, total));
    assert_eq!(seen, vec![25]);
    assert_eq!(b.clients_to_rotate().await.unwrap(), total - 25);
    // Half-way, lookups still find records under either key.
    assert_eq!(
        b.client_by_email(&priya_email).await.unwrap().unwrap().id,
        priya.id
    );
    assert_eq!(b.find_clients(doc! {}).await.unwrap().len() as u64, total);

    // Run again: it continues with the rest and skips what is done.
    let second = b.rotate_keys(25, None, |_| {}).await.unwrap();
    assert_eq!(second.to_do, total - 25);
    assert_eq!(second.rotated, total - 25);
    assert_eq!(second.failed, 0);
    assert_eq!(b.clients_to_rotate().await.unwrap(), 0);
    let third = b.rotate_keys(25, None, |_| {}).await.unwrap();
    assert_eq!((third.to_do, third.rotated), (0, 0));

    // Every value and blind index is under B now.
    for raw in raw_clients(&b).await {
        for field in ["email", "phone", "notes"] {
            if let Ok(sealed) = raw.get_document(field) {
                assert_eq!(sealed.get_str("k").unwrap(), b_id, "{field} of {raw}");
            }
        }
    }
    // B alone (A forgotten) reads every record and finds Priya by email and phone.
    let b_only = reopen_with_keys(&db, 9, &[]).await;
    let all = b_only.find_clients(doc! {}).await.unwrap();
    assert_eq!(all.len() as u64, total);
    let found = b_only.client_by_email(&priya_email).await.unwrap().unwrap();
    assert_eq!(found, priya);
    assert_eq!(
        b_only
            .client_by_phone(priya.phone.as_ref().unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
        priya.id
    );
    // A alone can no longer open them, and says which key is missing.
    let err = db.store.client_by_id(priya.id).await.unwrap_err();
    assert!(err.to_string().contains(&b_id), "{err}");
}

#[tokio::test]
async fn protect_documents_from_before_encryption_read_and_are_sealed_by_rotate_key() {
    let db = TestDb::new().await;
    let id = bson::oid::ObjectId::new();
    db.store
        .raw()
        .clients()
        .insert_one(doc! {
            "_id": id, "name": "Old Timer", "name_tokens": ["old", "timer"],
            "email": "old.timer@example.com", "phone": "+919811122233", "notes": "legacy",
            "status": "active", "joined_at": bson::DateTime::now(),
        })
        .await
        .unwrap();
    let old = db.store.client_by_id(id).await.unwrap().unwrap();
    assert_eq!(old.email.as_str(), "old.timer@example.com");
    assert_eq!(db.store.clients_to_rotate().await.unwrap(), 1);
    let r = db.store.rotate_keys(10, None, |_| {}).await.unwrap();
    assert_eq!(r.rotated, 1);
    let raw = raw_clients(&db.store).await.pop().unwrap();
    for plain in ["old.timer@example.com", "+919811122233", "legacy"] {
        assert!(!contains_plaintext(&raw, plain), "{raw}");
    }
    let found = db
        .store
        .client_by_email(&Email::parse("old.timer@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, old);
    assert!(db
        .store
        .client_by_phone(&Phone::parse("+919811122233").unwrap())
        .await
        .unwrap()
        .is_some());
}

/// An audit entry as the tests compare it: who (subject, role, platform), what (action)
/// and through what (via kind, via).
type Trail = (String, String, Option<String>, String, String, String);

fn who_what_through(e: &AuditRecord) -> Trail {
    (
        e.subject.clone(),
        e.role.clone(),
        e.platform.clone(),
        e.action.clone(),
        e.via_kind.clone(),
        e.via.clone(),
    )
}

/// The expected [`Trail`] of one entry.
fn entry(
    subject: &str,
    role: &str,
    platform: Option<&str>,
    action: &str,
    via_kind: &str,
    via: &str,
) -> Trail {
    (
        subject.to_owned(),
        role.to_owned(),
        platform.map(str::to_owned),
        action.to_owned(),
        via_kind.to_owned(),
        via.to_owned(),
    )
}

/// The trail of one record, oldest first.
async fn trail_of(store: &Store, collection: &str, target: &str) -> Vec<Trail> {
    store
        .audit_entries(doc! { "collection": collection, "target": target })
        .await
        .unwrap()
        .iter()
        .map(who_what_through)
        .collect()
}

/// Every audit entry as stored, to look for personal data in.
async fn raw_audit(store: &Store) -> Vec<Document> {
    store
        .raw()
        .database()
        .collection::<Document>("audit")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn protect_rest_writes_are_audited_with_who_what_and_endpoint() {
    let api = demo_api(30).await;
    let admin = api.token("admin", "admin-7");
    let staff = api.token("staff", "staff-3");
    let send = |method: Method, path: &str, token: &str, body: Value| {
        let req = api
            .http
            .request(method, api.url(path))
            .bearer_auth(token)
            .json(&body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let (status, client) = send(
        Method::POST,
        "/api/clients",
        &admin,
        json!({ "name": "Audit Me", "email": "audit.me@example.com", "phone": "+919800011122" }),
    )
    .await;
    assert_eq!(status, 201, "{client}");
    let client_id = client["id"].as_str().unwrap().to_owned();
    let path = format!("/api/clients/{client_id}");
    let (status, _) = send(Method::PUT, &path, &staff, json!({ "notes": "new notes" })).await;
    assert_eq!(status, 200);
    let course = api
        .db
        .store
        .course_by_name("Pilates")
        .await
        .unwrap()
        .unwrap();
    let (status, order) = send(
        Method::POST,
        "/api/orders",
        &staff,
        json!({ "client_id": client_id, "course_id": course.id.to_hex(), "method": "cash" }),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["order"]["id"].as_str().unwrap().to_owned();
    let (status, paid) = send(
        Method::POST,
        "/api/payments",
        &staff,
        json!({ "order_id": order_id, "method": "cash" }),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {paid}");
    let payment_id = paid["payment"]["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        Method::PUT,
        &format!("/api/orders/{order_id}"),
        &staff,
        json!({ "status": "completed" }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(Method::DELETE, &path, &admin, Value::Null).await;
    assert_eq!(status, 204);

    let store = &api.db.store;
    let rest = Some("rest");
    assert_eq!(
        trail_of(store, "clients", &client_id).await,
        vec![
            entry(
                "admin-7",
                "admin",
                rest,
                "client.create",
                "rest",
                "POST /api/clients"
            ),
            entry(
                "staff-3",
                "staff",
                rest,
                "client.update",
                "rest",
                "PUT /api/clients/{client_id}"
            ),
            entry(
                "admin-7",
                "admin",
                rest,
                "client.delete",
                "rest",
                "DELETE /api/clients/{client_id}"
            ),
        ]
    );
    assert_eq!(
        trail_of(store, "orders", &order_id).await,
        vec![
            entry(
                "staff-3",
                "staff",
                rest,
                "order.create",
                "rest",
                "POST /api/orders"
            ),
            entry(
                "staff-3",
                "staff",
                rest,
                "order.completed",
                "rest",
                "PUT /api/orders/{order_id}"
            ),
        ]
    );
    assert_eq!(
        trail_of(store, "payments", &payment_id).await,
        vec![entry(
            "staff-3",
            "staff",
            rest,
            "payment.record",
            "rest",
            "POST /api/payments"
        )]
    );
    // Nothing personal in the trail: no email, phone or name anywhere in it.
    for entry in &raw_audit(store).await {
        for plain in ["audit.me", "+919800011122", "Audit Me", "new notes"] {
            assert!(!contains_plaintext(entry, plain), "{entry}");
        }
        assert_eq!(
            entry.get_datetime("at").unwrap().to_chrono(),
            crate::harness::demo_now()
        );
    }
}

#[tokio::test]
async fn protect_agent_tools_and_chat_linking_are_audited_with_the_chat_account() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let settings = env(&[]);
    let gw = gateway_with(&db, gateway_settings(), &settings);
    let rec = Arc::new(Recorder::default());
    let store = db.store.clone();
    let entries = || async {
        store
            .audit_entries(doc! {})
            .await
            .unwrap()
            .into_iter()
            .map(|e| who_what_through(&e))
            .collect::<Vec<_>>()
    };

    // Staff in Slack enrol Priya (create_order), then record the payment.
    let msg = slack(
        "C_SUPPORT",
        "U_STAFF",
        &["S_STAFF"],
        "Create an order for Yoga Beginner for Priya Sharma",
        "ev-1",
    );
    let outcome = run(&gw, &rec, msg).await;
    assert!(
        matches!(outcome, Outcome::Answered { .. }),
        "{outcome:?} {:?}",
        rec.texts()
    );
    let order = store
        .raw()
        .orders()
        .find_one(doc! { "course_name": "Yoga Beginner", "idempotency_key": { "$exists": true } })
        .await
        .unwrap()
        .expect("the order the tool made");
    let msg = slack(
        "C_SUPPORT",
        "U_STAFF",
        &["S_STAFF"],
        &format!("mark order #{} as paid by cash", order.number),
        "ev-2",
    );
    let outcome = run(&gw, &rec, msg).await;
    assert!(
        matches!(outcome, Outcome::Answered { .. }),
        "{outcome:?} {:?}",
        rec.texts()
    );
    let got = entries().await;
    let tool = |action: &str, name: &str| {
        entry(
            "slack:U_STAFF",
            "staff",
            Some("slack"),
            action,
            "tool",
            name,
        )
    };
    assert!(
        got.contains(&tool("order.create", "create_order")),
        "{got:#?}"
    );
    assert!(
        got.contains(&tool("payment.record", "record_payment")),
        "{got:#?}"
    );

    // A guest on Telegram enquires (create_enquiry: a lead and a ticket).
    let enquiry = telegram_dm(
        "5150",
        "I'm Meera Iyer, meera.iyer@example.com, enquiry about Pilates",
        1,
    );
    run(&gw, &rec, enquiry).await;
    let got = entries().await;
    let guest = |action: &str| {
        entry(
            "telegram:5150",
            "guest",
            Some("telegram"),
            action,
            "tool",
            "create_enquiry",
        )
    };
    assert!(got.contains(&guest("client.create")), "{got:#?}");
    // From an address already on the books, the enquiry becomes a ticket.
    let again = telegram_dm(
        "5150",
        "I'm Priya Sharma, priya@example.com, enquiry about Pilates",
        2,
    );
    run(&gw, &rec, again).await;
    let got = entries().await;
    assert!(
        got.contains(&guest("ticket.create")),
        "{:?} {got:#?}",
        rec.texts()
    );

    // Priya links her Telegram by her own contact, then unlinks.
    let priya = crate::harness::priya(&store).await;
    let contact =
        telegram_dm("6160", "", 1).with_contact_phone(priya.phone.as_ref().unwrap().as_str());
    assert_eq!(run(&gw, &rec, contact).await, Outcome::Linking);
    let unlink = telegram_dm("6160", "/unlink", 2);
    assert_eq!(run(&gw, &rec, unlink).await, Outcome::Linking);
    assert_eq!(
        trail_of(&store, "identities", "telegram:6160").await,
        vec![
            entry(
                "telegram:6160",
                "guest",
                Some("telegram"),
                "identity.link.phone",
                "gateway",
                "linking: shared contact"
            ),
            entry(
                "telegram:6160",
                "client",
                Some("telegram"),
                "identity.unlink",
                "gateway",
                "linking: /unlink"
            ),
        ]
    );
    // No entry names an email, phone or person.
    for entry in &raw_audit(&store).await {
        for plain in [
            "meera",
            "Meera",
            "priya",
            "Priya",
            priya.phone.as_ref().unwrap().as_str(),
        ] {
            assert!(!contains_plaintext(entry, plain), "{entry}");
        }
    }
}

/// `url` with its database path set to `name`.
fn url_with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (hosts, query) = match rest.split_once('/') {
        Some((hosts, tail)) => (hosts, tail.split_once('?').map(|(_, q)| q)),
        None => (rest, None),
    };
    match query {
        Some(q) => format!("{scheme}://{hosts}/{name}?{q}"),
        None => format!("{scheme}://{hosts}/{name}"),
    }
}

#[tokio::test]
async fn protect_the_dashboard_reads_through_the_read_only_connection() {
    // The main database has the 60-client demo data; the "read-only" URL names another
    // database holding different data (200 clients), so the answers show which is read.
    let (main, _) = TestDb::with_demo_data(60).await;
    let (other, _) = TestDb::with_demo_data(200).await;
    let period = frontdesk::domain::Period::ThisMonth
        .resolve(crate::harness::demo_now(), crate::harness::ist())
        .unwrap();
    let main_new = main.store.new_clients(&period).await.unwrap().count;
    let other_new = other.store.new_clients(&period).await.unwrap().count;
    assert_ne!(main_new, other_new, "the two databases must differ");

    let readonly = url_with_database(&server_url(), other.name());
    let store = main.store.clone().with_reader(&readonly).await.unwrap();
    assert!(store.has_reader());
    let agents = agents_over(&store);
    let reply = ask(
        &agents,
        AgentKind::Dashboard,
        Caller::manager(),
        "how many new clients this month",
    )
    .await;
    assert_eq!(reply.intent, "new_clients", "{reply:#?}");
    let result = &reply.tool_calls[0].result;
    assert_eq!(result["count"], other_new, "{result}");
    // The Support Agent still reads (and writes) through the main connection.
    let reply = ask(
        &agents,
        AgentKind::Support,
        Caller::staff(),
        "Find client by email priya@example.com",
    )
    .await;
    assert!(reply.answer.contains("Priya Sharma"), "{}", reply.answer);

    // The REST analytics too.
    let _keep = other;
    let mut api_db = main;
    api_db.store = store;
    let api = TestApi::spawn(api_db).await;
    let figures = api
        .get_ok(
            "/api/analytics/clients?period=this_month",
            &api.token("manager", "m"),
        )
        .await;
    assert_eq!(figures["new_clients"], other_new, "{figures}");
}

#[test]
fn protect_serve_refuses_a_bad_or_missing_key_with_a_clear_message() {
    let exe = env!("CARGO_BIN_EXE_frontdesk");
    let serve = |key: Option<&str>| {
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("serve")
            .env("JWT_SECRET_KEY", "a-secret-of-at-least-16-chars")
            .env("MONGODB_URL", "mongodb://127.0.0.1:1/")
            .env_remove("FRONTDESK_ENCRYPTION_KEY")
            .env_remove("FRONTDESK_ENCRYPTION_OLD_KEYS");
        if let Some(k) = key {
            cmd.env("FRONTDESK_ENCRYPTION_KEY", k);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = serve(None);
    assert!(!ok);
    assert!(err.contains("FRONTDESK_ENCRYPTION_KEY is not set"), "{err}");
    assert!(err.contains("openssl rand -base64 32"), "{err}");
    let (ok, err) = serve(Some("c2hvcnQ="));
    assert!(!ok);
    assert!(
        err.contains("FRONTDESK_ENCRYPTION_KEY must be 32 bytes"),
        "{err}"
    );
    let (ok, err) = serve(Some("not base64 at all!"));
    assert!(!ok);
    assert!(
        err.contains("FRONTDESK_ENCRYPTION_KEY is not valid base64"),
        "{err}"
    );
}

/// A client may set their phone to a number another client has (families share one):
/// from then on that number links no chat to anyone (the email decides), and staff
/// looking the number up are asked which client they mean, never given one at random.
#[tokio::test]
async fn protect_a_shared_phone_number_links_no_one_and_is_asked_about() {
    let api = demo_api(20).await;
    let clients = api.db.store.find_clients(doc! {}).await.unwrap();
    let owner = clients
        .iter()
        .find(|c| c.phone.is_some() && c.deleted_at.is_none())
        .unwrap();
    let taker = clients
        .iter()
        .find(|c| c.id != owner.id && c.deleted_at.is_none())
        .unwrap();
    let number = owner.phone.clone().unwrap();
    let taker_token = api.token("client", &taker.id.to_hex());
    let res = api
        .http
        .put(api.url(&format!("/api/clients/{}", taker.id.to_hex())))
        .bearer_auth(&taker_token)
        .json(&json!({ "phone": number.as_str() }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // Someone shares that number on Telegram: linked to neither record.
    let gw = gateway_with(&api.db, gateway_settings(), &env(&[]));
    let rec = Arc::new(Recorder::default());
    let contact = telegram_dm("5151", "", 1).with_contact_phone(number.as_str());
    assert_eq!(run(&gw, &rec, contact).await, Outcome::Linking);
    assert!(api
        .db
        .store
        .linked_identity("telegram:5151")
        .await
        .unwrap()
        .is_none());
    let said = rec.sent.lock().unwrap().last().unwrap().text.clone();
    assert!(said.contains("more than one client record"), "{said}");
    assert!(said.contains("/link"), "{said}");

    // Staff looking the number up are asked which of the two.
    let agents = agents_over(&api.db.store);
    let reply = ask(
        &agents,
        AgentKind::Support,
        Caller::staff(),
        &format!("find client {}", number.as_str()),
    )
    .await;
    for who in [owner, taker] {
        assert!(
            reply.answer.contains(who.email.as_str()),
            "{} not offered: {}",
            who.email,
            reply.answer
        );
    }
}

/// Data sealed under a key that is not in use (a new shell without the key, another
/// deployment's key) is named with both key ids, instead of every lookup finding nobody;
/// with that key as an older key, or as the key, nothing is said.
#[tokio::test]
async fn protect_data_under_a_key_not_in_use_is_named() {
    let (db, _) = TestDb::with_demo_data(10).await;
    let theirs = db.store.keys().current_id().to_owned();
    assert_eq!(db.store.foreign_key_id().await.unwrap(), None);
    let other = reopen_with_keys(&db, 9, &[]).await;
    assert_eq!(
        other.foreign_key_id().await.unwrap().as_deref(),
        Some(theirs.as_str())
    );
    let said = frontdesk::store::foreign_key_warning(&theirs, other.keys().current_id());
    for part in [
        theirs.as_str(),
        other.keys().current_id(),
        "FRONTDESK_ENCRYPTION_KEY",
    ] {
        assert!(said.contains(part), "{said}");
    }
    // The lookup it warns about does find nobody.
    let priya = Email::parse("priya@example.com").unwrap();
    assert!(other.client_by_email(&priya).await.unwrap().is_none());
    let rotating = reopen_with_keys(&db, 9, &[7]).await;
    assert_eq!(rotating.foreign_key_id().await.unwrap(), None);
}
