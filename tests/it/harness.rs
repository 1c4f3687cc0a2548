//! The test harness: a real database per test, a fixed clock, demo data on demand.

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, Utc};
use frontdesk::domain::Currency;
use frontdesk::store::localdb::process_wide_url;
use frontdesk::store::seed::{seed, SeedOptions, SeedReport};
use frontdesk::store::Store;

/// The "now" of the demo data and the eval file.
pub fn demo_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
}

/// The URL of the server every test of this binary shares.
pub fn server_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let env_url = std::env::var("MONGODB_URL").ok();
        let forced = std::env::var("FRONTDESK_LOCALDB").ok();
        process_wide_url(env_url.as_deref(), forced.as_deref())
            .unwrap_or_else(|e| panic!("test database: {e}"))
    })
    .clone()
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub store: Store,
    url: String,
    name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let url = server_url();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let store = Store::open(&url, &name).await.expect("open test database");
        Self { store, url, name }
    }

    /// A database with the demo data (`seed --seed 42` at the demo clock).
    pub async fn with_demo_data(clients: usize) -> (Self, SeedReport) {
        let db = Self::new().await;
        let report = seed(&db.store, &demo_options(clients))
            .await
            .expect("seed demo data");
        (db, report)
    }

    #[allow(dead_code)]
    pub fn name(&self) -> &str {
        &self.name
    }
}

pub fn demo_options(clients: usize) -> SeedOptions {
    SeedOptions {
        clients,
        seed: 42,
        now: demo_now(),
        offset: ist(),
        currency: Currency::INR,
        progress: false,
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // The test's runtime may be gone: drop the database from a runtime of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(client) = mongodb::Client::with_uri_str(&url).await {
                    let _ = client.database(&name).drop().await;
                }
            });
        })
        .join();
    }
}
