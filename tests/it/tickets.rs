//! Hand-off tickets as the staff see them: a client who asks for a person on Telegram
//! opens a ticket that remembers where they asked (its reason sealed at rest), the staff
//! find it with `open_tickets` in chat and over REST, and closing it (once) is audited
//! and takes it off the list. Clients see none of it.

use bson::{doc, Document};
use frontdesk::agents::{AgentRequest, ConversationKey};
use frontdesk::tools::{AgentKind, Caller};
use serde_json::Value;

use crate::agents::agents;
use crate::harness::{all, TestApi, TestDb};

fn from_telegram(caller: Caller, text: &str, event: &str) -> AgentRequest {
    AgentRequest {
        agent: AgentKind::Support,
        caller,
        text: text.to_owned(),
        conversation: Some(ConversationKey {
            platform: frontdesk_chat::Platform::Telegram,
            channel: "4242".into(),
            thread: None,
            user: "4242".into(),
        }),
        event_id: Some(event.to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_off_is_listed_for_the_staff_and_closed_once() {
    let (db, _) = TestDb::with_demo_data(30).await;
    let priya = crate::harness::priya(&db.store).await;
    let agents = agents(&db);
    let as_priya = Caller::client(priya.id, priya.name.as_str());
    let asked = "I want to talk to a human, the shower in studio B is broken again";
    let reply = agents
        .handle(from_telegram(as_priya.clone(), asked, "tg-1"))
        .await;
    assert_eq!(reply.intent, frontdesk::domain::Intent::EscalateToStaff);
    // The same message again (a platform retry) opens no second ticket.
    agents
        .handle(from_telegram(as_priya.clone(), asked, "tg-1"))
        .await;
    let stored: Vec<Document> = all(db.store.raw().database().collection("tickets")).await;
    assert_eq!(stored.len(), 1);
    let raw = &stored[0];
    assert_eq!(raw.get_str("status").unwrap(), "open");
    assert!(raw.get_document("reason").is_ok(), "the reason is sealed");
    let origin = raw.get_document("origin").unwrap();
    assert_eq!(origin.get_str("platform").unwrap(), "telegram");
    assert_eq!(origin.get_str("channel").unwrap(), "4242");

    // Staff ask in chat; a client asking the same learns nothing.
    let staff_view = agents
        .handle(AgentRequest {
            agent: AgentKind::Support,
            caller: Caller::staff(),
            text: "any tickets waiting?".into(),
            conversation: None,
            event_id: None,
        })
        .await;
    assert_eq!(staff_view.intent, frontdesk::domain::Intent::OpenTickets);
    assert!(
        staff_view.answer.contains("1 ticket is waiting"),
        "{}",
        staff_view.answer
    );
    assert!(
        staff_view.answer.contains("shower in studio B"),
        "{}",
        staff_view.answer
    );
    assert!(
        staff_view.answer.contains(priya.name.as_str()),
        "{}",
        staff_view.answer
    );
    let open_before = db.store.open_tickets(100).await.unwrap();
    let client_view = agents
        .handle(AgentRequest {
            agent: AgentKind::Support,
            caller: as_priya,
            text: "show open tickets".into(),
            conversation: None,
            event_id: None,
        })
        .await;
    assert!(
        !client_view.answer.contains("shower"),
        "{}",
        client_view.answer
    );
    assert_ne!(
        client_view.intent,
        frontdesk::domain::Intent::OpenTickets,
        "{}",
        client_view.answer
    );
    assert_eq!(
        db.store.open_tickets(100).await.unwrap(),
        open_before,
        "the client's message changed the open tickets"
    );

    // The dashboard counts it (a minute on: a period cut at now leaves out what was
    // written at that very instant).
    let s = crate::agents::settings();
    let a_minute_on = frontdesk::agents::Agents::new(
        db.store.clone(),
        std::sync::Arc::new(frontdesk::domain::FixedClock(
            crate::harness::demo_now() + chrono::Duration::minutes(1),
        )),
        s.studio.clone(),
        &s.llm,
        24,
    );
    let figures = a_minute_on
        .handle(AgentRequest {
            agent: AgentKind::Dashboard,
            caller: Caller::manager(),
            text: "how many tickets did we get this week?".into(),
            conversation: None,
            event_id: None,
        })
        .await;
    assert_eq!(figures.intent, frontdesk::domain::Intent::TicketSummary);
    assert!(
        figures.answer.starts_with("1 ticket opened this week")
            && figures.answer.contains("1 still unanswered"),
        "{}",
        figures.answer
    );

    // Over REST.
    let api = TestApi::spawn(db).await;
    let staff = api.token("staff", "asha");
    let list = api.get_ok("/api/tickets", &staff).await;
    assert_eq!(list["total"], 1, "{list}");
    let ticket = &list["items"][0];
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["reason"], asked);
    assert_eq!(ticket["origin"]["platform"], "telegram");
    let id = ticket["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get_ok("/api/tickets?status=closed", &staff).await["total"],
        0
    );
    let (status, _, _) = api
        .get("/api/tickets", &api.token("client", &priya.id.to_hex()))
        .await;
    assert_eq!(status, 403);
    let (status, _, problem) = api.get("/api/tickets?status=lost", &staff).await;
    assert_eq!(
        (status.as_u16(), problem["field"].as_str()),
        (400, Some("status"))
    );

    let close = |token: String| {
        let http = api.http.clone();
        let url = api.url(&format!("/api/tickets/{id}/close"));
        async move {
            let res = http.post(url).bearer_auth(token).send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, closed) = close(staff.clone()).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["changed"], true);
    assert_eq!(closed["ticket"]["status"], "closed");
    assert_eq!(closed["ticket"]["closed_by"], "asha");
    let (status, again) = close(staff.clone()).await;
    assert_eq!((status, again["changed"].as_bool()), (200, Some(false)));
    // The wrong method on a real path: a problem detail that says so, and what it takes.
    let (status, headers, problem) = api.get(&format!("/api/tickets/{id}/close"), &staff).await;
    assert_eq!(status.as_u16(), 405, "{problem}");
    assert_eq!(problem["status"], 405, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("GET"),
        "{problem}"
    );
    let allow = headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(allow.contains("POST"), "Allow: {allow:?}");
    let audit = api
        .db
        .store
        .audit_entries(doc! { "collection": "tickets", "action": "ticket.close" })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].subject, "asha");
    // The person who asked is told, once, in the chat they asked from (closed twice).
    let told: Vec<Document> = all(api.db.store.raw().database().collection("outbox"))
        .await
        .into_iter()
        .filter(|item: &Document| {
            item.get_str("key")
                .is_ok_and(|k| k == format!("relay:ticket:{id}:closed"))
        })
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        api.get_ok("/api/tickets?status=closed", &staff).await["total"],
        1
    );
    let (status, _, _) = api
        .get(
            &format!("/api/tickets/{}", bson::oid::ObjectId::new()),
            &staff,
        )
        .await;
    assert_eq!(status, 404);
}

/// Without a staff channel (nothing posted), asking for a person again from the same chat
/// opens no second ticket while the first is not closed; once it is closed, a new request
/// opens a new one.
#[tokio::test]
async fn asking_again_from_the_same_chat_opens_no_second_ticket_until_it_is_closed() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let priya = crate::harness::priya(&db.store).await;
    let agents = agents(&db);
    // Known by her id alone, as a REST client token makes her.
    let as_priya = Caller::client(priya.id, priya.id.to_hex());
    let first = agents
        .handle(from_telegram(
            as_priya.clone(),
            "/human my locker is jammed",
            "tg-a",
        ))
        .await;
    assert_eq!(first.intent, frontdesk::domain::Intent::EscalateToStaff);
    let again = agents
        .handle(from_telegram(
            as_priya.clone(),
            "can I talk to a human please",
            "tg-b",
        ))
        .await;
    assert!(again.answer.contains("already asked"), "{}", again.answer);
    let open = db.store.open_tickets(10).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].reason, "my locker is jammed");
    assert_eq!(
        open[0].requester,
        format!("{} (client)", priya.name.as_str())
    );

    db.store
        .close_ticket(open[0].id, "asha", crate::harness::demo_now())
        .await
        .unwrap();
    agents
        .handle(from_telegram(as_priya, "/human the locker again", "tg-c"))
        .await;
    let open = db.store.open_tickets(10).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].reason, "the locker again");
}
