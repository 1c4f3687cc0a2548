//! The benchmarks at a tiny size: the shape of their reports and their own correctness
//! checks (no figure is asserted against a target: benchmarks are commands, not tests).

use frontdesk::bench::analytics::{self, AnalyticsOptions};
use frontdesk::bench::memory::{self, ServeTarget};
use frontdesk::bench::pipeline::{self, PipelineOptions};
use frontdesk::bench::{llm, Server};

use crate::gateway::env;
use crate::harness::{server_url, TestDb};

fn server() -> Server {
    Server {
        kind: "test".into(),
        url: frontdesk::store::redact_url(&server_url()),
        pid: None,
    }
}

fn tiny() -> PipelineOptions {
    PipelineOptions {
        users: 5,
        concurrency: 4,
        messages: 30,
        fresh: false,
        repeat: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_answers_every_question_and_reports_latency_and_cpu() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let settings = env(&[]);
    assert!(!pipeline::ensure_demo_data(&settings, &db.store)
        .await
        .unwrap());
    let r = pipeline::run(&settings, &db.store, server(), tiny())
        .await
        .unwrap();
    assert_eq!(r.messages, 30);
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert_eq!(r.answered, 30);
    assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p95_ms && r.p95_ms <= r.p99_ms);
    assert!(r.p99_ms <= r.max_ms);
    assert!(r.messages_per_s > 0.0);
    assert!(r.frontdesk_cpu_ms_per_message > 0.0);
    assert!(r.db_cpu_ms_per_message.is_none(), "no pid, no figure");
    for intent in ["find_client", "order_status", "revenue", "inactive_clients"] {
        assert!(r.intents.contains_key(intent), "{:?}", r.intents);
    }
    let json = serde_json::to_value(&r).unwrap();
    for key in [
        "messages_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "frontdesk_cpu_ms_per_message",
    ] {
        assert!(json[key].is_number(), "{key} in {json}");
    }
    assert!(r.rows.iter().any(|row| row.what == "p99 latency"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realistic_day_asks_about_many_people_with_follow_ups() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let settings = env(&[]);
    let opts = PipelineOptions {
        messages: 60,
        repeat: false,
        ..tiny()
    };
    let r = pipeline::run(&settings, &db.store, server(), opts)
        .await
        .unwrap();
    assert!(r.messages >= 60, "{}", r.messages);
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert!(!r.repeat);
    // Threads of several messages (follow-ups), fewer threads than messages.
    assert!(r.follow_up_threads > 0);
    assert!(r.threads < r.messages);
    // Distinct questions: many more than the repeated run's cycle would give here.
    assert!(r.distinct_questions >= 30, "{}", r.distinct_questions);
    assert!(r.intents.len() >= 5, "{:?}", r.intents);
    assert!((0.0..=1.0).contains(&r.kept_answer_share));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_reads_the_peak_rss_and_times_serve_to_readyz() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let settings = env(&[]);
    let url = server_url();
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_frontdesk"));
    let target = ServeTarget {
        exe: &exe,
        url: &url,
        database: db.name(),
        encryption_key: crate::harness::TEST_ENCRYPTION_KEY,
        env: &[],
    };
    let r = memory::run(&settings, &db.store, server(), tiny(), Some(target))
        .await
        .unwrap();
    assert_eq!(r.messages, 30);
    assert!(r.peak_rss_mb.unwrap() > 1.0);
    assert!(r.startup_ms.unwrap() > 0.0);
    assert_eq!(r.rows.iter().filter(|row| row.target.is_some()).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_counts_calls_and_tokens_per_question_for_both_planners() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let r = llm::run(&env(&[]), &db.store, server()).await.unwrap();
    let cases = frontdesk::bench::eval_cases().unwrap().len();
    assert_eq!(r.cases.len(), 2 * cases);
    assert_eq!(r.hybrid_llm_calls, 0, "{:?}", r.cases);
    let llm_cases: Vec<_> = r.cases.iter().filter(|c| c.planner == "llm").collect();
    assert!(
        llm_cases
            .iter()
            .all(|c| c.answered_by == "llm" || c.intent == "refused"),
        "{llm_cases:?}"
    );
    // Every question the fake knows gets its tool, then an answer — except a long list
    // (every pending payment, the week's classes), which is the answer as it stands.
    let lists = ["pending_payments", "list_classes"];
    assert!(
        llm_cases.iter().filter(|c| c.single_tool).all(|c| {
            let calls_ok =
                c.llm_calls == 2 || (c.llm_calls == 1 && lists.contains(&c.intent.as_str()));
            calls_ok && c.first_prompt_tokens <= c.max_prompt_tokens
        }),
        "{llm_cases:?}"
    );
    assert!(llm_cases.iter().any(|c| c.llm_calls == 2 && c.single_tool));
    assert!(
        llm_cases.iter().any(|c| c.llm_calls == 1 && c.single_tool),
        "the staff's list of every pending payment is shown without a second call"
    );
    assert!(
        r.llm_max_prompt_tokens < frontdesk::bench::llm::TARGET_PROMPT_TOKENS,
        "{}",
        r.llm_max_prompt_tokens
    );
    assert!(llm_cases
        .iter()
        .all(|c| c.llm_calls == 0 || c.prompt_tokens >= c.max_prompt_tokens));
    assert!(r.llm_max_prompt_tokens > 100);
    assert!(r.llm_max_calls_single_tool >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_matches_the_reference_scan_at_two_small_sizes() {
    let prefix = format!("test_{}", uuid::Uuid::new_v4().simple());
    let opts = AnalyticsOptions {
        sizes: vec![300, 1000],
        runs: 2,
        database_prefix: prefix.clone(),
    };
    let url = server_url();
    let r = analytics::run(
        &env(&[]),
        &url,
        &crate::harness::test_keys(),
        server(),
        &opts,
    )
    .await;
    for size in &opts.sizes {
        let store = frontdesk::store::Store::open(
            &url,
            &format!("{prefix}_bench_{size}"),
            crate::harness::test_keys(),
        )
        .await
        .unwrap();
        store.drop_database().await.unwrap();
    }
    let r = r.unwrap();
    assert_eq!(r.sizes.len(), 2);
    assert!(r.sizes[1].attendance > r.sizes[0].attendance);
    for s in &r.sizes {
        assert!(s.seeded_now);
        assert_eq!(s.queries.len(), 8);
        for q in &s.queries {
            assert!(
                q.correct,
                "{} at {}: {:?}",
                q.query, s.target_attendance, q.mismatch
            );
            assert!(q.p50_ms > 0.0 && q.p50_ms <= q.p95_ms);
            assert!(!q.index.is_empty());
        }
    }
    assert_eq!(r.growth.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_computing_every_answer_afresh_answers_the_same_questions() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let settings = env(&[]);
    let kept = pipeline::run(&settings, &db.store, server(), tiny())
        .await
        .unwrap();
    let fresh = pipeline::run(
        &settings,
        &db.store,
        server(),
        PipelineOptions {
            fresh: true,
            ..tiny()
        },
    )
    .await
    .unwrap();
    assert!(fresh.fresh && !kept.fresh);
    assert_eq!(fresh.errors, 0, "{:?}", fresh.error_samples);
    assert_eq!(fresh.intents, kept.intents);
    assert!(fresh.rows.iter().any(|row| row.figure.contains("afresh")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_answers_and_plans_reply_word_for_word_as_computing_afresh() {
    let (db, _) = TestDb::with_demo_data(200).await;
    let settings = env(&[]);
    let kept = pipeline::bench_gateway(&settings, &db.store, false);
    let fresh = pipeline::bench_gateway(&settings, &db.store, true);
    let questions = pipeline::questions().unwrap();
    // Once each, so that an enrolment is made before the comparison: from then on
    // nothing is written and every reply must be the same whichever way it is made.
    for (i, q) in questions.iter().enumerate() {
        assert!(pipeline::ask(&kept, q, &format!("first-{i}"), i)
            .await
            .is_some());
    }
    for (i, q) in questions.iter().enumerate() {
        let again = pipeline::ask(&kept, q, &format!("kept-{i}"), i).await;
        let afresh = pipeline::ask(&fresh, q, &format!("fresh-{i}"), i).await;
        assert!(again.is_some(), "no reply to {q:?}");
        assert_eq!(again, afresh, "{q:?}");
    }
}
