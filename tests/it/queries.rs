//! Every read the service sends is served by an index: `bench queries` run at a small
//! size over the test server, and the check shown to fail when an index is missing.

use frontdesk::bench::queries::{self, QueriesOptions};
use frontdesk::bench::Server;
use frontdesk::domain::Email;
use frontdesk::store::{Plan, QueryLog, Store};

use crate::gateway::env;
use crate::harness::{server_url, test_keys, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_of_a_day_of_service_uses_an_index() {
    let opts = QueriesOptions {
        clients: 80,
        database: format!("test_queries_{}", uuid::Uuid::new_v4().simple()),
    };
    let server = Server {
        kind: "test".into(),
        url: frontdesk::store::redact_url(&server_url()),
        pid: None,
    };
    let r = queries::run(&env(&[]), &server_url(), &test_keys(), server, &opts)
        .await
        .unwrap();
    let scans: Vec<_> = r
        .plans
        .iter()
        .filter(|p| p.plan == Plan::CollectionScan)
        .collect();
    assert!(scans.is_empty(), "reads on a collection scan: {scans:#?}");
    assert_eq!(r.scans, 0);
    assert!(r.passed());
    assert!(
        r.endpoints_missed.is_empty(),
        "REST operations never called: {:?}",
        r.endpoints_missed
    );
    // A day of service reads many collections in many ways; the lookups by email and
    // by order number are among them, each on its index.
    assert!(r.shapes >= 60, "only {} query shapes", r.shapes);
    let served = |collection: &str, field: &str| {
        r.plans.iter().any(|p| {
            p.collection == collection
                && p.shape.contains(field)
                && matches!(p.plan, Plan::Index(_))
        })
    };
    assert!(served("clients", "email_bi"));
    assert!(served("orders", "number"));
    assert!(served("outbox", "next_attempt_at"));
    assert!(served("conversation_turns", "conversation"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_whose_index_is_gone_is_reported_as_a_scan() {
    let (db, _) = TestDb::with_demo_data(30).await;
    let log = QueryLog::new();
    let watched = Store::connect_watched(&server_url(), db.name(), test_keys(), Some(&log))
        .await
        .unwrap();
    let email = Email::parse("priya@example.com").unwrap();
    assert!(watched.client_by_email(&email).await.unwrap().is_some());
    let plans = watched.explain_logged(&log).await;
    let lookup = |plans: &[frontdesk::store::QueryPlan]| {
        plans
            .iter()
            .find(|p| p.collection == "clients" && p.shape.contains("email_bi"))
            .map(|p| p.plan.clone())
    };
    assert!(matches!(lookup(&plans), Some(Plan::Index(_))), "{plans:#?}");

    // Without the index that serves it, the same lookup is a scan of every client.
    let raw = mongodb::Client::with_uri_str(server_url()).await.unwrap();
    raw.database(db.name())
        .collection::<bson::Document>("clients")
        .drop_index("live_email_bi")
        .await
        .unwrap();
    let plans = watched.explain_logged(&log).await;
    assert_eq!(lookup(&plans), Some(Plan::CollectionScan));
}
