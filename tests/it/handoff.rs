//! A hand-off reaches the staff: a client who asks for a person on Telegram opens a
//! ticket whose post goes through the outbox to the staff channel on Slack (the real
//! adapter against the fake Slack), once, even when Slack fails the first try; the post
//! masks the client's phone and email, and the ticket remembers its thread.

use std::sync::Arc;

use frontdesk::agents::{AgentRequest, Agents, ConversationKey};
use frontdesk::domain::Email;
use frontdesk::gateway::platforms;
use frontdesk::integrations::worker::OutboxWorker;
use frontdesk::integrations::{ChatRoutes, Providers};
use frontdesk::tools::{AgentKind, Caller};
use frontdesk_fakes::slack::{FakeSlack, APP_TOKEN, BOT_TOKEN, SIGNING_SECRET};

use crate::gateway::gateway_with;
use crate::harness::{demo_now, TestDb};
use crate::outbox::{with_env, TestClock, FAST};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_posted_to_the_staff_channel_once_even_when_slack_fails_first() {
    let (db, _) = TestDb::with_demo_data(30).await;
    let fake = FakeSlack::start().await;
    let settings = with_env(
        &[
            ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
            ("SLACK_APP_TOKEN", APP_TOKEN.to_owned()),
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
            ("SLACK_API_URL", fake.api_url()),
            ("FRONTDESK_HANDOFF_CHANNEL", "C_DESK".to_owned()),
        ],
        FAST,
    );
    let gw = gateway_with(&db, crate::gateway::gateway_settings(), &settings);
    let routes = ChatRoutes::default();
    let _adapters = platforms::start(&settings, &gw, &routes).await;
    let providers = Arc::new(Providers::from_settings(&settings, routes).unwrap());
    let clock = TestClock::at(demo_now());
    let worker = OutboxWorker::new(
        db.store.clone(),
        clock.clone(),
        providers,
        settings.integrations.clone(),
        "w",
    );

    let priya = db
        .store
        .client_by_email(&Email::parse("priya@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let agents = Agents::new(
        db.store.clone(),
        clock.clone(),
        settings.studio.clone(),
        &settings.llm,
        24,
    );
    let asked = "I need a real person, call me on +91 98765 43210 or write to priya@example.com";
    agents
        .handle(AgentRequest {
            agent: AgentKind::Support,
            caller: Caller::client(priya.id, priya.name.as_str()),
            text: asked.into(),
            conversation: Some(ConversationKey {
                platform: frontdesk_chat::Platform::Telegram,
                channel: "4242".into(),
                thread: None,
                user: "4242".into(),
            }),
            event_id: Some("tg-77".into()),
        })
        .await;
    let tickets = db.store.open_tickets(5).await.unwrap();
    assert_eq!(tickets.len(), 1);

    // Slack fails the first post; the outbox tries again later and posts once.
    fake.fail_next("chat.postMessage", "internal_error");
    while worker.run_once().await.unwrap().is_some() {}
    assert!(fake.delivered("chat.postMessage").is_empty());
    clock.advance(chrono::Duration::seconds(5));
    while worker.run_once().await.unwrap().is_some() {}
    clock.advance(chrono::Duration::minutes(10));
    while worker.run_once().await.unwrap().is_some() {}
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 1, "posted once: {posts:?}");
    let post = &posts[0];
    assert_eq!(post.param("channel").as_deref(), Some("C_DESK"));
    let text = post.param("text").unwrap_or_default();
    assert!(text.contains(priya.name.as_str()), "{text}");
    assert!(text.contains("telegram"), "{text}");
    assert!(
        !text.contains("98765 43210") && !text.contains("priya@example.com"),
        "{text}"
    );
    let ticket = db.store.ticket_by_id(tickets[0].id).await.unwrap().unwrap();
    let thread = ticket
        .staff_thread
        .expect("the ticket remembers its thread");
    assert_eq!(thread.channel, "C_DESK");
    assert!(!thread.root.is_empty(), "the thread's root ts");
}
