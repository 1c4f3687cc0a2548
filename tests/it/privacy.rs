//! Personal data at rest: after a scripted chat session (staff looking clients up, a
//! client asking for a person with their phone and email in the message, a guest leaving
//! their details) no collection holds a client's email or phone in plain text; turns and
//! ticket reasons are sealed and `rotate-key` re-seals them; a client record that cannot
//! be opened is left out of lists (and counted) while its own read says why.

use bson::{doc, Bson, Document};
use frontdesk::agents::{AgentRequest, ConversationKey};
use frontdesk::domain::Client;
use frontdesk::protect::{Key, Keyring};
use frontdesk::store::{Store, Ticket};
use frontdesk::tools::{AgentKind, Caller};
use futures::TryStreamExt;
use regex::Regex;

use crate::agents::agents;
use crate::harness::{demo_now, eventually, TestApi, TestDb};

fn chat(caller: &Caller, user: &str, text: &str, n: usize) -> AgentRequest {
    AgentRequest {
        agent: AgentKind::Support,
        caller: caller.clone(),
        text: text.to_owned(),
        conversation: Some(ConversationKey {
            platform: frontdesk_chat::Platform::Console,
            channel: format!("dm-{user}"),
            thread: None,
            user: user.to_owned(),
        }),
        event_id: Some(format!("privacy-{user}-{n}")),
    }
}

/// A pattern matching `phone`'s last ten digits with any spacing or punctuation between.
fn phone_pattern(phone: &str) -> Regex {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail = &digits[digits.len().saturating_sub(10)..];
    let body: Vec<String> = tail.iter().map(char::to_string).collect();
    Regex::new(&body.join(r"[\s\-().]*")).unwrap()
}

/// Every document of every collection, as relaxed extended JSON, by collection.
async fn everything(store: &Store) -> Vec<(String, String)> {
    let db = store.raw().database();
    let mut found = Vec::new();
    for name in db.list_collection_names().await.unwrap() {
        let docs: Vec<Document> = db
            .collection::<Document>(&name)
            .find(doc! {})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        for d in docs {
            found.push((
                name.clone(),
                Bson::Document(d).into_relaxed_extjson().to_string(),
            ));
        }
    }
    found
}

async fn a_client_with_a_phone(store: &Store) -> Client {
    store
        .find_clients(doc! { "phone": { "$ne": null }, "deleted_at": null })
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.phone.is_some())
        .expect("the demo data has clients with phones")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_session_leaves_no_email_or_phone_in_plain_text() {
    let (db, _) = TestDb::with_demo_data(40).await;
    let agents = agents(&db);
    let client = a_client_with_a_phone(&db.store).await;
    let (email, phone) = (
        client.email.as_str().to_owned(),
        client.phone.as_ref().unwrap().as_str().to_owned(),
    );
    let name = client.name.as_str().to_owned();
    let staff = Caller::staff();
    let as_client = Caller::client(client.id, name.clone());
    let script = [
        (&staff, "desk", format!("find client {email}")),
        (&staff, "desk", format!("pull up client details for {name}")),
        (&staff, "desk", format!("what is {name}'s phone number?")),
        (
            &as_client,
            "client",
            format!("I was charged twice!! call me on {phone} or write to {email}, I want to talk to a manager"),
        ),
        (
            &Caller::guest(),
            "guest",
            "hi, I'd like to try pilates, my email is new.person@example.org and my number is +91 98111 22334".to_owned(),
        ),
    ];
    let mut shown = String::new();
    for (n, (caller, user, text)) in script.iter().enumerate() {
        let reply = agents.handle(chat(caller, user, text, n)).await;
        shown.push_str(&reply.answer);
    }
    assert!(
        shown.contains(&email),
        "the staff were shown the email they asked for: {shown}"
    );
    // The session was remembered and the hand-off stored (the turns go in batches).
    let turns = db
        .store
        .raw()
        .database()
        .collection::<Document>("conversation_turns");
    for _ in 0..50 {
        if turns.count_documents(doc! {}).await.unwrap() >= script.len() as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(turns.count_documents(doc! {}).await.unwrap() >= script.len() as u64);
    let tickets = db.store.open_tickets(10).await.unwrap();
    assert!(
        tickets.iter().any(|t| t.reason.contains(&email)),
        "the ticket reads back with what the client wrote: {tickets:?}"
    );

    let secrets = [
        (email.to_lowercase(), None),
        ("new.person@example.org".to_owned(), None),
        (phone.clone(), Some(phone_pattern(&phone))),
        (
            "+91 98111 22334".to_owned(),
            Some(phone_pattern("9811122334")),
        ),
    ];
    for (collection, text) in everything(&db.store).await {
        let lower = text.to_lowercase();
        for (secret, pattern) in &secrets {
            let leaked = match pattern {
                Some(p) => p.is_match(&text),
                None => lower.contains(secret.as_str()),
            };
            assert!(!leaked, "{secret} in plain text in {collection}: {text}");
        }
    }
}

/// A keyring of key `current` (32 bytes of that value), accepting `old` too.
fn ring(current: u8, old: Option<u8>) -> Keyring {
    Keyring::new(
        Key::from_bytes(&[current; 32]),
        old.map(|o| Key::from_bytes(&[o; 32])).into_iter().collect(),
    )
}

#[tokio::test]
async fn rotate_key_reseals_remembered_turns_and_ticket_reasons() {
    let db = TestDb::new().await;
    let old = ring(7, None);
    let before = Store::connect(&crate::harness::server_url(), db.name(), old.clone())
        .await
        .unwrap();
    let turn = frontdesk::store::Turn {
        user: "my email is pat@example.com".into(),
        answer: "Thanks, noted pat@example.com.".into(),
        intent: frontdesk::domain::Intent::Smalltalk,
        args: serde_json::Value::Null,
        pending: None,
    };
    before
        .remember_turn(
            "console:rotate",
            turn.clone(),
            demo_now() + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    let ticket = Ticket::open(
        "call me on +91 90000 11111",
        "Pat (client)",
        None,
        demo_now(),
    );
    before.open_ticket(&ticket).await.unwrap();
    let turns = db
        .store
        .raw()
        .database()
        .collection::<Document>("conversation_turns");
    eventually(
        "the remembered turn is stored",
        std::time::Duration::from_secs(5),
        || async { (turns.count_documents(doc! {}).await.unwrap() == 1).then_some(()) },
    )
    .await;

    // A new key, the old one still accepted: rotation moves both under the new key.
    let new = ring(9, Some(7));
    assert_ne!(new.current_id(), old.current_id());
    let after = Store::connect(&crate::harness::server_url(), db.name(), new.clone())
        .await
        .unwrap();
    let report = after.rotate_keys(100, None, |_| {}).await.unwrap();
    assert_eq!((report.turns_resealed, report.tickets_resealed), (1, 1));
    let stored_turn = turns.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(
        stored_turn
            .get_document("sealed")
            .unwrap()
            .get_str("k")
            .unwrap(),
        new.current_id()
    );
    let stored_ticket = db
        .store
        .raw()
        .database()
        .collection::<Document>("tickets")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored_ticket
            .get_document("reason")
            .unwrap()
            .get_str("k")
            .unwrap(),
        new.current_id()
    );
    // The ticket is forgotten a retention period after it was made.
    assert_eq!(
        stored_ticket.get_datetime("forget_at").unwrap().to_chrono(),
        demo_now() + chrono::Duration::days(365)
    );
    // Both read back under the new key alone.
    let only_new = Store::connect(&crate::harness::server_url(), db.name(), ring(9, None))
        .await
        .unwrap();
    assert_eq!(
        only_new.conversation("console:rotate").await.unwrap().turns,
        vec![turn]
    );
    assert_eq!(only_new.open_tickets(5).await.unwrap(), vec![ticket]);
}

#[tokio::test]
async fn a_client_that_cannot_be_opened_is_left_out_of_lists_and_its_own_read_says_why() {
    let (db, _) = TestDb::with_demo_data(12).await;
    let clients = db.store.find_clients(doc! {}).await.unwrap();
    let broken = clients[3].id;
    // Its email sealed under a key nobody has.
    db.store
        .raw()
        .clients()
        .update_one(
            doc! { "_id": broken },
            doc! { "$set": { "email.k": "lost-key" } },
        )
        .await
        .unwrap();
    let api = TestApi::spawn(db).await;
    let staff = api.token("staff", "privacy-test");
    let list = api.get_ok("/api/clients?per_page=100", &staff).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), clients.len() - 1, "{list}");
    assert!(!ids.contains(&broken.to_hex().as_str()));
    let (status, headers, problem) = api
        .get(&format!("/api/clients/{}", broken.to_hex()), &staff)
        .await;
    assert_eq!(status, 500);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{problem}"
    );
    let metrics = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The gauge is process-wide (another test's scrape sets it from its own store): here
    // only that it is served; the count is this store's own.
    assert!(
        metrics.lines().any(|l| l
            .strip_prefix("frontdesk_unreadable_records ")
            .is_some_and(|v| v.parse::<f64>().is_ok())),
        "{metrics}"
    );
    assert_eq!(api.db.store.unreadable_records(), 1);
}
