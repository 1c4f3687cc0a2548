//! Discord end to end: the real adapter (serenity gateway + REST) against the fake Discord
//! on 127.0.0.1, started by the same wiring `serve` uses, in front of the real gateway,
//! agents and database; and a Discord that cannot be reached at start, waited for in the
//! background.

use std::time::Duration;

use frontdesk::domain::{format_minor, Currency, Payment};
use frontdesk::gateway::platforms::{self, AdapterState};
use frontdesk::gateway::Gateway;
use frontdesk_chat::Platform;
use frontdesk_fakes::discord::{FakeDiscord, IncomingMessage};

use crate::agents::{local, paid_between};
use crate::gateway::{env, gateway_settings};
use crate::harness::{all, demo_now, TestDb};

const WAIT: Duration = Duration::from_secs(20);
const MGMT_CHANNEL: u64 = 900;

fn gateway(db: &TestDb, settings: &frontdesk::config::Settings) -> Gateway {
    crate::gateway::gateway_with(db, settings.gateway.clone(), settings)
}

#[tokio::test]
async fn a_manager_asks_for_revenue_in_discord_and_gets_the_figure() {
    let (db, _) = TestDb::with_demo_data(80).await;
    let fake = FakeDiscord::start("discord-test-token").await;
    let mut settings = env(&[
        ("DISCORD_TOKEN", "discord-test-token"),
        ("DISCORD_API_URL", &fake.api_url()),
    ]);
    settings.gateway = gateway_settings();
    let gw = gateway(&db, &settings);
    let mut adapters = platforms::start(
        &settings,
        &gw,
        &frontdesk::integrations::ChatRoutes::default(),
    )
    .await;
    let discord = adapters
        .status
        .iter()
        .find(|s| s.platform == Platform::Discord)
        .unwrap();
    assert_eq!(discord.state, AdapterState::Running("gateway".into()));
    fake.wait_for_identify(1, WAIT).await;

    // 222 is Asha, a manager; 900 is the management channel.
    fake.push_message(
        &IncomingMessage::in_guild(
            1,
            MGMT_CHANNEL,
            222,
            "How much revenue did we generate this month?",
        )
        .with_id(5001),
    );
    let sent = fake.wait_for_messages(1, WAIT).await;
    let payments: Vec<Payment> = all(db.store.raw().payments()).await;
    let (total, n) = paid_between(&payments, local(2026, 11, 1, 0), demo_now());
    assert!(total > 0);
    let figure = format_minor(total, Currency::INR);
    let reply = sent[0].content();
    assert!(reply.contains(&figure), "{reply} should contain {figure}");
    assert!(reply.contains(&format!("{n} payments")), "{reply}");
    assert_eq!(sent[0].channel_id, MGMT_CHANNEL.to_string());
    assert_eq!(sent[0].payload["message_reference"]["message_id"], "5001");

    // A client-less stranger in the same channel gets a refusal, not the figure.
    fake.push_message(
        &IncomingMessage::in_guild(
            1,
            MGMT_CHANNEL,
            333,
            "How much revenue did we generate this month?",
        )
        .with_id(5002),
    );
    let sent = fake.wait_for_messages(2, WAIT).await;
    assert!(
        !sent[1].content().contains(&figure),
        "{}",
        sent[1].content()
    );
    assert!(
        sent[1].content().contains("managers"),
        "{}",
        sent[1].content()
    );

    // A breakdown arrives as an embed whose rows add up to the total, and its chart as an
    // image embed with the PNG attached.
    fake.push_message(
        &IncomingMessage::in_guild(1, MGMT_CHANNEL, 222, "revenue by course this month")
            .with_id(5003),
    );
    let sent = fake.wait_for_messages(3, WAIT).await;
    let embeds = sent[2].embeds();
    assert_eq!(embeds.len(), 2, "{:?}", sent[2].payload);
    assert!(
        embeds[1]["image"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("attachment://revenue-by-course")),
        "{:?}",
        embeds[1]
    );
    assert_eq!(sent[2].files.len(), 1);
    assert!(sent[2].files[0].bytes.starts_with(b"\x89PNG"));
    let description = embeds[0]["description"].as_str().unwrap_or_default();
    let rows_total: i64 = description
        .lines()
        .filter_map(|l| l.split('₹').nth(1))
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .map(|d| d.parse::<i64>().unwrap())
        .sum();
    assert_eq!(rows_total * 100, total, "{description}");

    // Messages in an unrouted channel get nothing.
    fake.push_message(&IncomingMessage::in_guild(1, 901, 222, "revenue this month").with_id(5004));
    fake.push_message(
        &IncomingMessage::in_guild(1, MGMT_CHANNEL, 222, "new clients this month").with_id(5005),
    );
    let sent = fake.wait_for_messages(4, WAIT).await;
    assert_eq!(
        sent[3].payload["message_reference"]["message_id"], "5005",
        "the unrouted message got no reply"
    );
    adapters.tasks.shutdown().await;
}

#[tokio::test]
async fn a_bad_discord_token_is_a_clear_error_and_other_platforms_carry_on() {
    let db = TestDb::new().await;
    let fake = FakeDiscord::start("the-right-token").await;
    let settings = env(&[
        ("DISCORD_TOKEN", "a-wrong-token"),
        ("DISCORD_API_URL", &fake.api_url()),
    ]);
    let gw = gateway(&db, &settings);
    let adapters = platforms::start(
        &settings,
        &gw,
        &frontdesk::integrations::ChatRoutes::default(),
    )
    .await;
    let states: Vec<(Platform, AdapterState)> = adapters
        .status
        .iter()
        .map(|s| (s.platform, s.state.clone()))
        .collect();
    let AdapterState::Failed(why) = &states[2].1 else {
        panic!("{states:?}");
    };
    assert!(why.contains("discord"), "{why}");
    assert_eq!(
        states[0],
        (
            Platform::Telegram,
            AdapterState::Off("TELEGRAM_BOT_TOKEN is not set")
        )
    );
    assert_eq!(
        states[1],
        (
            Platform::Slack,
            AdapterState::Off("SLACK_BOT_TOKEN is not set")
        )
    );
}

/// Discord unreachable when `serve` starts (a closed port): the adapter says it is waiting,
/// keeps trying, and connects to the gateway and answers once the API comes up.
#[tokio::test]
async fn an_adapter_started_against_a_closed_port_connects_when_discord_comes_up() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let address = crate::harness::closed_port();
    let url = format!("http://{address}");
    let mut adapters = crate::gateway::start_adapters(
        &db,
        &[
            ("DISCORD_TOKEN", "discord-test-token"),
            ("DISCORD_API_URL", &url),
        ],
    )
    .await;
    let discord = &adapters.status[2];
    assert_eq!(discord.platform, Platform::Discord);
    let AdapterState::Running(state) = &discord.state else {
        panic!("{:?}", adapters.status);
    };
    assert!(
        state.contains(&format!("{url}/api/v10"))
            && state.contains("retrying")
            && state.contains("refused"),
        "{state}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fake = FakeDiscord::start_at("discord-test-token", &address).await;
    fake.wait_for_identify(1, WAIT).await;
    fake.push_message(
        &IncomingMessage::in_guild(
            1,
            MGMT_CHANNEL,
            222,
            "How much revenue did we generate this month?",
        )
        .with_id(6001),
    );
    let sent = fake.wait_for_messages(1, WAIT).await;
    assert_eq!(sent[0].channel_id, MGMT_CHANNEL.to_string());
    assert_eq!(sent[0].payload["message_reference"]["message_id"], "6001");
    assert!(sent[0].content().contains('₹'), "{}", sent[0].content());
    adapters.tasks.shutdown().await;
}
