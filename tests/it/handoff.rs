//! A hand-off reaches the staff: a client who asks for a person on Telegram opens a
//! ticket whose post goes through the outbox to the staff channel on Slack (the real
//! adapter against the fake Slack), once, even when Slack fails the first try; the post
//! masks the client's phone and email, and the ticket remembers its thread.

use std::sync::Arc;

use frontdesk::agents::{AgentRequest, Agents, ConversationKey};
use frontdesk::config::Settings;
use frontdesk::domain::SharedClock;
use frontdesk::gateway::platforms::{self, ChatAdapters};
use frontdesk::gateway::Gateway;
use frontdesk::integrations::worker::OutboxWorker;
use frontdesk::integrations::{ChatRoutes, Providers};
use frontdesk::tools::{AgentKind, Caller};
use frontdesk_fakes::slack::{FakeSlack, APP_TOKEN, BOT_TOKEN, SIGNING_SECRET};

use crate::gateway::gateway_with;
use crate::harness::{demo_now, eventually, metric, TestDb};
use crate::outbox::{with_env, TestClock, FAST};

/// The staff side these tests share: the fake Slack, settings with its tokens and the
/// hand-off channel `C_DESK` (and `more` variables, and the `config` file), the gateway
/// with the test people and that channel, and the chat adapters started into `routes`.
struct Desk {
    fake: FakeSlack,
    settings: Settings,
    gw: Gateway,
    routes: ChatRoutes,
    adapters: ChatAdapters,
}

impl Desk {
    async fn open(db: &TestDb, more: &[(&'static str, String)], config: &str) -> Self {
        let fake = FakeSlack::start().await;
        let mut vars = vec![
            ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
            ("SLACK_APP_TOKEN", APP_TOKEN.to_owned()),
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
            ("SLACK_API_URL", fake.api_url()),
            ("FRONTDESK_HANDOFF_CHANNEL", "C_DESK".to_owned()),
        ];
        vars.extend_from_slice(more);
        let settings = with_env(&vars, config);
        let gw = gateway_with(
            db,
            frontdesk::config::GatewaySettings {
                handoff: settings.integrations.handoff.clone(),
                ..crate::gateway::gateway_settings()
            },
            &settings,
        );
        let routes = ChatRoutes::default();
        let adapters = platforms::start(&settings, &gw, &routes).await;
        Self {
            fake,
            settings,
            gw,
            routes,
            adapters,
        }
    }
}

impl Desk {
    /// The person's side on Telegram, recorded, and an outbox worker delivering to both.
    fn telegram_and_worker(&self, db: &TestDb) -> (Arc<crate::gateway::Recorder>, OutboxWorker) {
        let telegram = Arc::new(crate::gateway::Recorder {
            platform: Some(frontdesk_chat::Platform::Telegram),
            ..Default::default()
        });
        self.routes
            .register(frontdesk_chat::Platform::Telegram, telegram.clone());
        let worker = worker(db, &self.settings, &self.routes, self.settings.clock());
        (telegram, worker)
    }
}

/// The process-wide ticket counters: `frontdesk_tickets_total` by kind (opened, claimed,
/// closed) and the count of `frontdesk_ticket_first_reply_seconds`, each with its name.
fn ticket_counts() -> Vec<(String, f64)> {
    let exposition = frontdesk::telemetry::metrics::Metrics::global()
        .render()
        .unwrap();
    let mut counts: Vec<(String, f64)> = ["opened", "claimed", "closed"]
        .into_iter()
        .map(|kind| {
            let labels = format!("kind=\"{kind}\"");
            let value = metric(&exposition, "frontdesk_tickets_total", &labels);
            (format!("frontdesk_tickets_total{{{labels}}}"), value)
        })
        .collect();
    let first_reply = "frontdesk_ticket_first_reply_seconds_count";
    counts.push((first_reply.to_owned(), metric(&exposition, first_reply, "")));
    counts
}

/// The providers over `routes` (the adapters running).
fn providers(settings: &Settings, routes: &ChatRoutes) -> Arc<Providers> {
    Arc::new(Providers::from_settings(settings, routes.clone()).unwrap())
}

/// An outbox worker delivering through `routes` on `clock`.
fn worker(
    db: &TestDb,
    settings: &Settings,
    routes: &ChatRoutes,
    clock: SharedClock,
) -> OutboxWorker {
    OutboxWorker::new(
        db.store.clone(),
        clock,
        providers(settings, routes),
        settings.integrations.clone(),
        "w",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_posted_to_the_staff_channel_once_even_when_slack_fails_first() {
    let (db, _) = TestDb::with_demo_data(30).await;
    let Desk {
        fake,
        settings,
        routes,
        adapters: _adapters,
        ..
    } = Desk::open(&db, &[], FAST).await;
    let clock = TestClock::at(demo_now());
    let worker = worker(&db, &settings, &routes, clock.clone());

    let priya = crate::harness::priya(&db.store).await;
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

/// The whole hand-off through the gateway: a Telegram client asks for a person → the
/// ticket is posted to the staff channel on Slack → a staff reply in its thread reaches
/// the client (who is told a person joined) → the client's answer goes into the thread,
/// not to the bot → a redelivered Slack event relays nothing twice → `/done` closes the
/// ticket and the client is told → the bot answers the client again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_client_talk_through_the_ticket_thread_until_done() {
    use frontdesk::gateway::Outcome;
    use frontdesk_chat::{Inbound, Platform};

    let (db, _) = TestDb::with_demo_data(30).await;
    let desk = Desk::open(&db, &[], FAST).await;
    let (telegram, worker) = desk.telegram_and_worker(&db);
    let Desk {
        fake,
        gw,
        adapters: _adapters,
        ..
    } = desk;
    let deliver = || async { while worker.run_once().await.unwrap().is_some() {} };
    let slack_replies = Arc::new(crate::gateway::Recorder {
        platform: Some(Platform::Slack),
        ..Default::default()
    });
    let client_says = |text: &str, n: u32| crate::gateway::telegram_dm("4242", text, n);
    let staff_says = |text: &str, event: &str, root: &str| {
        let mut inbound = Inbound::new(
            Platform::Slack,
            "C_DESK",
            "U_ASHA",
            text,
            event,
            chrono::Utc::now(),
        )
        .with_user_name("Asha");
        inbound.thread = Some(root.to_owned());
        inbound
    };

    // The process-wide counters before: other tests count into them too, so the checks
    // below are on what this scenario added.
    let counted_before = ticket_counts();

    // The client asks for a person; the ticket goes to the staff channel.
    let asked = crate::gateway::run(
        &gw,
        &telegram,
        client_says("can I talk to a human please", 1),
    )
    .await;
    assert!(matches!(asked, Outcome::Answered { .. }), "{asked:?}");
    deliver().await;
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].param("channel").as_deref(), Some("C_DESK"));
    let ticket = db.store.open_tickets(5).await.unwrap().pop().unwrap();
    let root = ticket.staff_thread.clone().unwrap().root;

    // A staff reply in the thread reaches the client on Telegram.
    let before = telegram.texts().len();
    let reply = staff_says("Hi, Asha here. What happened?", "Ev1", &root);
    assert!(matches!(
        crate::gateway::run(&gw, &slack_replies, reply.clone()).await,
        Outcome::Relayed
    ));
    deliver().await;
    let told: Vec<String> = telegram.texts()[before..].to_vec();
    assert!(
        told.iter()
            .any(|t| t.contains("Asha from the studio has joined")),
        "{told:?}"
    );
    assert!(
        told.iter()
            .any(|t| t == "Asha (studio): Hi, Asha here. What happened?"),
        "{told:?}"
    );
    let claimed = db.store.ticket_by_id(ticket.id).await.unwrap().unwrap();
    assert_eq!(claimed.status, frontdesk::store::TicketStatus::Claimed);
    assert_eq!(claimed.claimed_by.as_deref(), Some("Asha"));

    // Slack sends the same event again: nothing twice.
    assert!(matches!(
        crate::gateway::run(&gw, &slack_replies, reply).await,
        Outcome::Duplicate
    ));
    deliver().await;
    assert_eq!(telegram.texts().len(), before + 2);

    // The client's answer goes into the thread; the bot says nothing.
    let sent_before = telegram.texts().len();
    assert!(matches!(
        crate::gateway::run(
            &gw,
            &telegram,
            client_says("the shower in studio B is broken", 2)
        )
        .await,
        Outcome::Relayed
    ));
    deliver().await;
    assert_eq!(telegram.texts().len(), sent_before, "the bot stayed quiet");
    let posts = fake.delivered("chat.postMessage");
    let in_thread: Vec<_> = posts
        .iter()
        .filter(|p| p.param("thread_ts").as_deref() == Some(root.as_str()))
        .collect();
    assert_eq!(in_thread.len(), 1, "{posts:?}");
    assert!(in_thread[0]
        .param("text")
        .unwrap_or_default()
        .contains("the shower in studio B is broken"));

    // /done closes it and tells the client; the thread hears it is closed.
    assert!(matches!(
        crate::gateway::run(&gw, &slack_replies, staff_says("/done", "Ev2", &root)).await,
        Outcome::Relayed
    ));
    deliver().await;
    let closed = db.store.ticket_by_id(ticket.id).await.unwrap().unwrap();
    assert_eq!(closed.status, frontdesk::store::TicketStatus::Closed);
    assert!(telegram
        .texts()
        .last()
        .unwrap()
        .contains("closed this conversation"));
    assert!(slack_replies
        .texts()
        .last()
        .unwrap()
        .starts_with("Closed by Asha"));

    // Counted: opened, claimed (with the wait to the first reply) and closed.
    let counted = ticket_counts();
    for (name, before, after) in counted_before
        .iter()
        .zip(&counted)
        .map(|((name, before), (_, after))| (name, before, after))
    {
        assert!(
            after - before >= 1.0,
            "{name} went from {before} to {after}"
        );
    }

    // The client writes again: the bot answers, nothing goes to the thread.
    let posts_before = fake.delivered("chat.postMessage").len();
    let again = crate::gateway::run(
        &gw,
        &telegram,
        client_says("what classes are on tomorrow?", 3),
    )
    .await;
    assert!(matches!(again, Outcome::Answered { .. }), "{again:?}");
    deliver().await;
    assert_eq!(fake.delivered("chat.postMessage").len(), posts_before);
}

/// A ticket nobody takes is posted again after `[handoff] remind_after_minutes`, calling
/// the configured group, once; a ticket someone took is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclaimed_ticket_is_posted_again_once_with_the_group_mentioned() {
    use frontdesk::integrations::scheduler::Scheduler;

    let (db, _) = TestDb::with_demo_data(20).await;
    let config = format!(
        "{FAST}[handoff]\nplatform = \"slack\"\nchannel = \"C_DESK\"\nremind_after_minutes = 30\nmention = \"<!subteam^S_STAFF>\"\n"
    );
    let Desk {
        fake,
        settings,
        routes,
        adapters: _adapters,
        ..
    } = Desk::open(&db, &[], &config).await;
    let clock = TestClock::at(demo_now());
    let worker = worker(&db, &settings, &routes, clock.clone());
    let scheduler = Scheduler::new(
        db.store.clone(),
        clock.clone(),
        providers(&settings, &routes),
        settings.integrations.clone(),
        "s",
    );
    let waiting = frontdesk::store::Ticket::open("I need help", "Guest (guest)", None, demo_now());
    let taken = frontdesk::store::Ticket::open("Refund please", "Rahul (client)", None, demo_now());
    db.store.open_ticket(&waiting).await.unwrap();
    db.store.open_ticket(&taken).await.unwrap();
    while worker.run_once().await.unwrap().is_some() {}
    assert_eq!(fake.delivered("chat.postMessage").len(), 2);
    assert!(db
        .store
        .claim_ticket(taken.id, "Asha", demo_now())
        .await
        .unwrap());

    // Not yet at 29 minutes; at 31, the waiting one, once.
    clock.advance(chrono::Duration::minutes(29));
    assert_eq!(scheduler.run_once().await.unwrap().ticket_reminders, 0);
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(scheduler.run_once().await.unwrap().ticket_reminders, 1);
    clock.advance(chrono::Duration::minutes(30));
    assert_eq!(
        scheduler.run_once().await.unwrap().ticket_reminders,
        0,
        "once"
    );
    while worker.run_once().await.unwrap().is_some() {}
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 3);
    let reminder = posts[2].param("text").unwrap_or_default();
    assert!(reminder.contains("<!subteam^S_STAFF>"), "{reminder}");
    assert!(
        reminder.contains("Guest (guest)") && reminder.contains(&waiting.id.to_hex()),
        "{reminder}"
    );
}

/// The hand-off end to end with the real adapters: the npm Telegram Bot API emulator for
/// the client and the fake Slack (Socket Mode) for the staff, the outbox worker running.
/// Slack fails the ticket's first post; nothing is lost or sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_with_the_telegram_emulator_and_the_fake_slack() {
    use frontdesk_fakes::slack::EventBuilder;
    use frontdesk_fakes::telegram::emulator::{EmulatorUser, TelegramEmulator};
    use frontdesk_fakes::telegram::unescape_markdown_v2;

    const TOKEN: &str = "123456:telegram-test-token";
    let wait = std::time::Duration::from_secs(30);
    let (db, _) = TestDb::with_demo_data(30).await;
    let emulator = TelegramEmulator::start(TOKEN)
        .await
        .unwrap_or_else(|e| panic!("{e} (needs node and npm)"));
    let Desk {
        fake,
        settings,
        routes,
        mut adapters,
        ..
    } = Desk::open(
        &db,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("TELEGRAM_API_URL", emulator.api_url().to_owned()),
        ],
        FAST,
    )
    .await;
    fake.wait_for_socket_connections(1, wait).await;
    let worker = worker(&db, &settings, &routes, settings.clock());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run_until(stopped));

    // A client asks for a person; Slack fails the first post of the ticket.
    fake.fail_next("chat.postMessage", "internal_error");
    let user = EmulatorUser::private(5151, "Meera");
    emulator
        .send_user_message(&user, "can I talk to a human please?")
        .await
        .unwrap();
    let said = emulator
        .wait_bot_messages(user.chat_id, 1, wait)
        .await
        .unwrap();
    let said = unescape_markdown_v2(said[0]["text"].as_str().unwrap());
    assert!(said.contains("passed this to the studio team"), "{said}");
    let posts = fake.wait_for_delivered("chat.postMessage", 1, wait).await;
    assert_eq!(posts[0].param("channel").as_deref(), Some("C_DESK"));
    let ticket = db.store.open_tickets(5).await.unwrap().pop().unwrap();
    let root = eventually(
        "the ticket remembers its staff thread",
        std::time::Duration::from_secs(10),
        || async {
            let t = db.store.ticket_by_id(ticket.id).await.unwrap().unwrap();
            t.staff_thread.map(|thread| thread.root)
        },
    )
    .await;

    // Asha answers in the thread; Meera reads it on Telegram.
    let reply = EventBuilder::thread_reply(
        "C_DESK",
        "U_ASHA",
        "Hi Meera, Asha here. How can I help?",
        "1764064990.000200",
        &root,
    );
    fake.push_event(reply.callback()).await;
    // (The emulator hands each bot message out once: these are the new ones.)
    let told = emulator
        .wait_bot_messages(user.chat_id, 2, wait)
        .await
        .unwrap();
    let told: Vec<String> = told
        .iter()
        .map(|m| unescape_markdown_v2(m["text"].as_str().unwrap_or_default()))
        .collect();
    assert!(
        told.iter()
            .any(|t| t.contains("has joined the conversation")),
        "{told:?}"
    );
    assert!(
        told.iter()
            .any(|t| t.ends_with("Hi Meera, Asha here. How can I help?")),
        "{told:?}"
    );

    // Meera answers; it appears in the thread.
    emulator
        .send_user_message(&user, "my membership card stopped working")
        .await
        .unwrap();
    let posts = fake.wait_for_delivered("chat.postMessage", 2, wait).await;
    let in_thread = posts.last().unwrap();
    assert_eq!(in_thread.param("thread_ts").as_deref(), Some(root.as_str()));
    assert!(in_thread
        .param("text")
        .unwrap_or_default()
        .contains("my membership card stopped working"));

    // /done closes it; Meera is told.
    let done = EventBuilder::thread_reply("C_DESK", "U_ASHA", "/done", "1764064999.000300", &root);
    fake.push_event(done.callback()).await;
    let all = emulator
        .wait_bot_messages(user.chat_id, 1, wait)
        .await
        .unwrap();
    let last = unescape_markdown_v2(all.last().unwrap()["text"].as_str().unwrap_or_default());
    assert!(last.contains("closed this conversation"), "{last}");
    let closed = db.store.ticket_by_id(ticket.id).await.unwrap().unwrap();
    assert_eq!(closed.status, frontdesk::store::TicketStatus::Closed);

    // Nothing lost or doubled: no fifth message to Meera; on Slack one ticket post, one
    // message in the thread, and the thread's "closed" note.
    assert!(emulator
        .wait_bot_messages(user.chat_id, 1, std::time::Duration::from_secs(2))
        .await
        .is_err());
    let posts = fake.delivered("chat.postMessage");
    assert_eq!(posts.len(), 3, "{posts:?}");
    let _ = stop.send(true);
    let _ = running.await;
    adapters.tasks.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_staff_channel_that_names_no_post_the_person_keeps_talking_to_the_bot() {
    use frontdesk::gateway::Outcome;
    use frontdesk_chat::Platform;
    // Telegram gives the post no thread id as Slack does: the ticket reaches the staff,
    // but it has no thread to relay through.
    let (db, _) = TestDb::with_demo_data(30).await;
    let config = format!("{FAST}[handoff]\nplatform = \"telegram\"\n");
    let settings = with_env(
        &[("FRONTDESK_HANDOFF_CHANNEL", "-100200300".to_owned())],
        &config,
    );
    let gw = gateway_with(
        &db,
        frontdesk::config::GatewaySettings {
            handoff: settings.integrations.handoff.clone(),
            ..crate::gateway::gateway_settings()
        },
        &settings,
    );
    let routes = ChatRoutes::default();
    let telegram = Arc::new(crate::gateway::Recorder {
        platform: Some(Platform::Telegram),
        ..Default::default()
    });
    routes.register(Platform::Telegram, telegram.clone());
    let worker = worker(&db, &settings, &routes, settings.clock());
    let says = |text: &str, n: u32| crate::gateway::telegram_dm("4343", text, n);

    let asked =
        crate::gateway::run(&gw, &telegram, says("I need to talk to a real person", 1)).await;
    assert!(matches!(asked, Outcome::Answered { .. }), "{asked:?}");
    while worker.run_once().await.unwrap().is_some() {}
    let posted: Vec<String> = telegram
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|o| o.channel == "-100200300")
        .map(|o| o.text.clone())
        .collect();
    assert_eq!(posted.len(), 1, "the staff see the ticket once: {posted:?}");
    let (tickets, _) = db.store.tickets_not_closed(10).await.unwrap();
    assert_eq!(tickets.len(), 1);
    assert!(
        tickets[0].staff_thread.is_none(),
        "{:?}",
        tickets[0].staff_thread
    );

    // Their next message is answered, not relayed into a thread nobody can see.
    let next = crate::gateway::run(&gw, &telegram, says("what classes are on this week?", 2)).await;
    assert!(matches!(next, Outcome::Answered { .. }), "{next:?}");
}

/// `/human` (the menu's hand-off command) opens a ticket with the words after it as its
/// reason, whatever they say; sent again while that ticket is live, it opens no second one
/// and tells the person they are already with the team.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_human_command_opens_one_ticket_and_not_a_second_while_it_is_live() {
    use frontdesk::gateway::Outcome;

    let (db, _) = TestDb::with_demo_data(30).await;
    let desk = Desk::open(&db, &[], FAST).await;
    let (telegram, worker) = desk.telegram_and_worker(&db);
    let Desk {
        fake,
        gw,
        adapters: _adapters,
        ..
    } = desk;
    let deliver = || async { while worker.run_once().await.unwrap().is_some() {} };
    let client_says = |text: &str, n: u32| crate::gateway::telegram_dm("5353", text, n);

    // Words that alone would read as another request ("payment") are the reason.
    let asked = crate::gateway::run(
        &gw,
        &telegram,
        client_says("/human@frontdesk_bot my payment failed twice", 1),
    )
    .await;
    assert!(matches!(asked, Outcome::Answered { .. }), "{asked:?}");
    deliver().await;
    let tickets = db.store.open_tickets(10).await.unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0].reason, "my payment failed twice");
    assert_eq!(fake.delivered("chat.postMessage").len(), 1);
    assert!(telegram
        .texts()
        .last()
        .unwrap()
        .contains("passed this to the studio team"));

    // Again, while the ticket is live: no second ticket, no second post.
    let again = crate::gateway::run(&gw, &telegram, client_says("/human", 2)).await;
    assert!(matches!(again, Outcome::Answered { .. }), "{again:?}");
    deliver().await;
    assert_eq!(db.store.open_tickets(10).await.unwrap().len(), 1);
    assert_eq!(fake.delivered("chat.postMessage").len(), 1);
    assert!(
        telegram
            .texts()
            .last()
            .unwrap()
            .contains("already asked for the studio team"),
        "{:?}",
        telegram.texts()
    );
}
