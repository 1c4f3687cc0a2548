//! Prometheus metrics: the real gateway, agents and outbox worker count into a registry
//! of the test's own (exact figures even with tests in parallel), and `GET /metrics`
//! serves the process registry as Prometheus text with the outbox depth read at scrape.

use std::collections::HashMap;
use std::sync::Arc;

use bson::doc;
use frontdesk::agents::Agents;
use frontdesk::gateway::{Gateway, Outcome, RoleQuotas};
use frontdesk::integrations::email::EmailSender;
use frontdesk::integrations::worker::Delivered;
use frontdesk::telemetry::metrics::Metrics;
use frontdesk_chat::{AdapterError, ChatAdapter, DynChatAdapter, Inbound, Outbound, Platform};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::gateway::{env, gateway_settings, slack, telegram_dm, Recorder};
use crate::harness::{demo_now, TestApi, TestDb};
use crate::outbox::{email, sendgrid_env, with_env, worker, TestClock, FAST};

/// Every sample of a Prometheus text exposition, keyed `name{labels}` as written; panics
/// on a line that is not a comment, a blank or `name{labels} value`.
fn samples(text: &str) -> HashMap<String, f64> {
    let line_re = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})?) (\S+)$"#,
    )
    .unwrap();
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "unexpected comment: {line}"
            );
            continue;
        }
        let caps = line_re
            .captures(line)
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = match &caps[2] {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        assert!(
            out.insert(caps[1].to_owned(), value).is_none(),
            "sample twice: {line}"
        );
    }
    out
}

fn value(s: &HashMap<String, f64>, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

/// The sum of every sample of `name` whose labels include all of `labels`.
fn sum(s: &HashMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    s.iter()
        .filter(|(k, _)| {
            k.split_once('{').map_or(k.as_str(), |(n, _)| n) == name
                && labels.iter().all(|l| k.contains(l))
        })
        .map(|(_, v)| v)
        .sum()
}

fn gateway(db: &TestDb, metrics: &Arc<Metrics>, per_guest: u32) -> Gateway {
    let settings = env(&[]);
    let agents = Agents::new(
        db.store.clone(),
        settings.clock(),
        settings.studio.clone(),
        &settings.llm,
        24,
    )
    .with_metrics(metrics.clone());
    let mut gw = gateway_settings();
    gw.per_user_per_minute = RoleQuotas {
        guest: per_guest,
        client: per_guest,
        staff: 60,
        manager: 60,
        admin: 60,
    };
    Gateway::new(
        agents,
        gw,
        EmailSender::from_settings(&settings),
        settings.studio.name.clone(),
        settings.clock(),
    )
    .with_metrics(metrics.clone())
}

fn recorder(platform: Platform) -> Arc<Recorder> {
    Arc::new(Recorder {
        platform: Some(platform),
        ..Recorder::default()
    })
}

async fn run(gw: &Gateway, rec: &Arc<Recorder>, inbound: Inbound) -> Outcome {
    let adapter: Arc<dyn DynChatAdapter> = rec.clone();
    gw.handle(inbound, adapter).await
}

#[tokio::test]
async fn the_gateway_counts_messages_replies_outcomes_limits_and_duplicates() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let m = Arc::new(Metrics::new());
    let gw = gateway(&db, &m, 3);
    let tg = recorder(Platform::Telegram);
    let sl = recorder(Platform::Slack);
    // A guest on Telegram: three answers, then "please wait" once, then silence.
    for n in 0..5 {
        run(
            &gw,
            &tg,
            telegram_dm("555", "what classes are on this week?", n),
        )
        .await;
    }
    // Staff in the Slack support channel; the event is delivered twice; an unrouted channel.
    let ask = || {
        slack(
            "C_SUPPORT",
            "U_BOB",
            &["S_STAFF"],
            "What is the status of order #12345?",
            "EvMetrics1",
        )
    };
    assert!(matches!(
        run(&gw, &sl, ask()).await,
        Outcome::Answered { .. }
    ));
    assert_eq!(run(&gw, &sl, ask()).await, Outcome::Duplicate);
    let stray = slack("C_RANDOM", "U_BOB", &[], "revenue", "EvMetrics2");
    assert_eq!(run(&gw, &sl, stray).await, Outcome::Ignored);

    let s = samples(&m.render().unwrap());
    let exact = [
        (
            "frontdesk_messages_received_total{platform=\"telegram\"}",
            5.0,
        ),
        ("frontdesk_messages_received_total{platform=\"slack\"}", 3.0),
        ("frontdesk_replies_sent_total{platform=\"telegram\"}", 4.0),
        ("frontdesk_replies_sent_total{platform=\"slack\"}", 1.0),
        (
            "frontdesk_gateway_outcomes_total{platform=\"telegram\",outcome=\"answered\"}",
            3.0,
        ),
        (
            "frontdesk_gateway_outcomes_total{platform=\"telegram\",outcome=\"rate_limited\"}",
            2.0,
        ),
        (
            "frontdesk_gateway_outcomes_total{platform=\"slack\",outcome=\"answered\"}",
            1.0,
        ),
        (
            "frontdesk_gateway_outcomes_total{platform=\"slack\",outcome=\"duplicate\"}",
            1.0,
        ),
        (
            "frontdesk_gateway_outcomes_total{platform=\"slack\",outcome=\"ignored\"}",
            1.0,
        ),
        ("frontdesk_rate_limited_total{platform=\"telegram\"}", 2.0),
        (
            "frontdesk_duplicates_dropped_total{platform=\"slack\"}",
            1.0,
        ),
        (
            "frontdesk_agent_replies_total{agent=\"support\",intent=\"order_status\"}",
            1.0,
        ),
        ("frontdesk_message_seconds_count{agent=\"support\"}", 4.0),
        // The guest's three same questions: planned once, the timetable read once.
        ("frontdesk_reuse_total{kind=\"plan\",outcome=\"made\"}", 2.0),
        (
            "frontdesk_reuse_total{kind=\"plan\",outcome=\"reused\"}",
            2.0,
        ),
        (
            "frontdesk_reuse_total{kind=\"answer\",outcome=\"made\"}",
            2.0,
        ),
        (
            "frontdesk_reuse_total{kind=\"answer\",outcome=\"reused\"}",
            2.0,
        ),
    ];
    for (key, want) in exact {
        assert_eq!(value(&s, key), want, "{key}");
    }
    assert_eq!(
        sum(&s, "frontdesk_agent_replies_total", &["agent=\"support\""]),
        4.0
    );
    assert_eq!(sum(&s, "frontdesk_agent_replies_total", &[]), 4.0);
    assert_eq!(sum(&s, "frontdesk_rate_limited_total", &[]), 2.0);
    assert_eq!(sum(&s, "frontdesk_errors_total", &[]), 0.0, "no errors");
    assert_eq!(sum(&s, "frontdesk_llm_calls_total", &[]), 0.0, "rules only");
    let tool_turns = value(&s, "frontdesk_tool_seconds_count{agent=\"support\"}");
    assert!((1.0..=4.0).contains(&tool_turns), "{tool_turns}");
    // The histogram's +Inf bucket holds every observation.
    assert_eq!(
        value(
            &s,
            "frontdesk_message_seconds_bucket{agent=\"support\",le=\"+Inf\"}"
        ),
        4.0
    );
    // The status report is built on the same registry: chat turns count there too.
    let status = m.status_report(Default::default());
    let support = status.agents.iter().find(|a| a.agent == "support").unwrap();
    assert_eq!(support.queries, 4);
    assert_eq!(support.errors, 0);
    let platform = |name: &str| {
        status
            .platforms
            .iter()
            .find(|p| p.platform == name)
            .map(|p| (p.received, p.replied, p.duplicates, p.rate_limited))
    };
    assert_eq!(platform("telegram"), Some((5, 4, 0, 2)));
    assert_eq!(platform("slack"), Some((3, 1, 1, 0)));
    assert_eq!(platform("discord"), None, "nothing happened on Discord");
}

/// A platform that refuses every message.
struct Refusing;

impl ChatAdapter for Refusing {
    fn platform(&self) -> Platform {
        Platform::Discord
    }
    async fn send(&self, _out: &Outbound) -> Result<(), AdapterError> {
        Err(AdapterError::Rejected("no".into()))
    }
}

#[tokio::test]
async fn failed_sends_are_errors_not_replies() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let m = Arc::new(Metrics::new());
    let gw = gateway(&db, &m, 60);
    let adapter: Arc<dyn DynChatAdapter> = Arc::new(Refusing);
    let msg = Inbound::new(
        Platform::Discord,
        "900",
        "222",
        "How much revenue did we generate this month?",
        "EvRefused",
        chrono::Utc::now(),
    );
    let outcome = gw.handle(msg, adapter).await;
    assert!(matches!(outcome, Outcome::Answered { .. }), "{outcome:?}");
    let s = samples(&m.render().unwrap());
    assert_eq!(value(&s, "frontdesk_errors_total{kind=\"send\"}"), 1.0);
    assert_eq!(sum(&s, "frontdesk_replies_sent_total", &[]), 0.0);
    assert_eq!(
        value(
            &s,
            "frontdesk_agent_replies_total{agent=\"dashboard\",intent=\"revenue\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn the_outbox_worker_counts_deliveries_by_kind_and_outcome() {
    let db = TestDb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let settings = with_env(&sendgrid_env(&server), FAST);
    let clock = TestClock::at(demo_now());
    let m = Arc::new(Metrics::new());
    let w = worker(&db, &settings, &clock, "w-metrics").with_metrics(m.clone());
    db.store
        .enqueue(&[email("mail:metrics", demo_now())])
        .await
        .unwrap();
    let (_, first) = w.run_once().await.unwrap().unwrap();
    let Delivered::Retry { at, .. } = first else {
        panic!("{first:?}")
    };
    clock.set(at);
    let (_, second) = w.run_once().await.unwrap().unwrap();
    assert_eq!(second, Delivered::Done);
    assert!(w.run_once().await.unwrap().is_none());
    let s = samples(&m.render().unwrap());
    assert_eq!(
        value(
            &s,
            "frontdesk_outbox_deliveries_total{kind=\"email\",outcome=\"retry\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "frontdesk_outbox_deliveries_total{kind=\"email\",outcome=\"done\"}"
        ),
        1.0
    );
    assert_eq!(sum(&s, "frontdesk_outbox_deliveries_total", &[]), 2.0);
}

#[tokio::test]
async fn get_metrics_serves_prometheus_text_without_personal_data() {
    let (db, _) = TestDb::with_demo_data(20).await;
    let api = TestApi::spawn(db).await;
    // Something to count: a manager asks the Dashboard over the API (global registry).
    let answer = api
        .http
        .post(api.url("/api/agents/dashboard/query"))
        .bearer_auth(api.token("manager", "m1"))
        .json(&serde_json::json!({ "query": "How much revenue did we generate this month?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let before = samples(&Metrics::global().render().unwrap());

    // No token needed.
    let res = api.http.get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();
    let s = samples(&text);
    assert!(!text.contains("# EOF"));
    assert!(
        value(
            &s,
            "frontdesk_agent_replies_total{agent=\"dashboard\",intent=\"revenue\"}"
        ) >= 1.0
    );
    assert!(
        value(
            &s,
            "frontdesk_agent_replies_total{agent=\"dashboard\",intent=\"revenue\"}"
        ) >= value(
            &before,
            "frontdesk_agent_replies_total{agent=\"dashboard\",intent=\"revenue\"}"
        )
    );

    // The outbox gauges are this database's counts, read at the scrape.
    let stats = api.db.store.outbox_stats().await.unwrap();
    for (status, n) in [
        ("pending", stats.pending),
        ("in_flight", stats.in_flight),
        ("done", stats.done),
        ("dead", stats.dead),
    ] {
        let key = format!("frontdesk_outbox_items{{status=\"{status}\"}}");
        assert_eq!(value(&s, &key), n as f64, "{key}");
    }

    // No email or phone of any client in any label.
    let mut checked = 0;
    for client in api.db.store.find_clients(doc! {}).await.unwrap() {
        let phone = client.phone.as_ref().map(|p| p.as_str().to_owned());
        for v in std::iter::once(client.email.as_str().to_owned()).chain(phone) {
            assert!(!text.contains(&v), "{v} in /metrics");
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
    assert!(!text.contains('@'), "no email-like label");

    // Not part of the API's document.
    let doc: serde_json::Value = api
        .http
        .get(api.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"].get("/metrics").is_none());
    assert!(doc["paths"].get("/api/agents/status").is_some());
}
