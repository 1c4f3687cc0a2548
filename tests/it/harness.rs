//! The test harness: a real database per test, a fixed clock, demo data on demand.

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use frontdesk::config::Settings;
use frontdesk::dev::localdb::process_wide_url;
use frontdesk::dev::seed::{seed, SeedOptions, SeedReport};
use frontdesk::domain::{Client, Currency, Email};
use frontdesk::store::Store;
use futures::TryStreamExt;

/// The "now" of the demo data and the eval file.
pub fn demo_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
}

/// Settings as the service loads them from `pairs`, with the clock frozen at the demo
/// "now" (`FRONTDESK_NOW` and `FRONTDESK_CLOCK` win over `pairs`).
pub fn settings(pairs: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert("FRONTDESK_NOW".into(), "2026-11-25T10:00:00Z".into());
    env.insert("FRONTDESK_CLOCK".into(), "frozen".into());
    Settings::from_env(env).unwrap()
}

/// The demo client Priya Sharma (priya@example.com).
pub async fn priya(store: &Store) -> Client {
    store
        .client_by_email(&Email::parse("priya@example.com").unwrap())
        .await
        .unwrap()
        .expect("the demo data has Priya")
}

/// Every document of a collection.
pub async fn all<T>(c: mongodb::Collection<T>) -> Vec<T>
where
    T: serde::de::DeserializeOwned + Send + Sync,
{
    c.find(bson::doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// Polls `check` every 50 ms until it gives `Some`, and returns that; panics naming
/// `what` if it has not within `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A counter or gauge's value in a Prometheus text exposition, summed over the samples
/// of `name` whose labels contain `labels` (0 when there is none).
pub fn metric(exposition: &str, name: &str, labels: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The key every test database is sealed with (base64 of 32 bytes of 7).
pub const TEST_ENCRYPTION_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// The keyring of [`TEST_ENCRYPTION_KEY`].
pub fn test_keys() -> frontdesk::protect::Keyring {
    frontdesk::protect::Keyring::parse(TEST_ENCRYPTION_KEY, None).unwrap()
}

/// The address of a loopback port nothing listens on (yet): a platform that is down.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
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
        let store = Store::open(&url, &name, test_keys())
            .await
            .expect("open test database");
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

/// The REST API served on a free port over a test database, with a client and tokens.
#[allow(dead_code)]
pub struct TestApi {
    pub base: String,
    pub http: reqwest::Client,
    pub keys: frontdesk::api::JwtKeys,
    pub db: TestDb,
}

pub const TEST_JWT_SECRET: &str = "test-secret-of-at-least-16-chars";

#[allow(dead_code)]
impl TestApi {
    /// Serves the API over `db` with generous rate limits (override with `limits`).
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with_limits(db, 10_000, 10_000).await
    }

    pub async fn spawn_with_limits(db: TestDb, per_token: u32, per_ip: u32) -> Self {
        Self::spawn_with(db, per_token, per_ip, None).await
    }

    /// Serves the API with these connection caps and slow-client deadlines.
    pub async fn spawn_with_http(db: TestDb, http: frontdesk::config::HttpLimits) -> Self {
        Self::spawn_with(db, 10_000, 10_000, Some(http)).await
    }

    async fn spawn_with(
        db: TestDb,
        per_token: u32,
        per_ip: u32,
        http: Option<frontdesk::config::HttpLimits>,
    ) -> Self {
        let mut settings = settings(&[]);
        settings.api_per_token_per_minute = per_token;
        settings.api_per_ip_per_minute = per_ip;
        if let Some(http) = http {
            settings.http = http;
        }
        let state = frontdesk::app::api_state(&settings, &db.store, TEST_JWT_SECRET.as_bytes());
        let app = frontdesk::api::router(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(frontdesk::api::serve(
            listener,
            app,
            settings.http,
            std::future::pending(),
        ));
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            keys: frontdesk::api::JwtKeys::new(TEST_JWT_SECRET.as_bytes()),
            db,
        }
    }

    /// A valid token for a role; for "client", `sub` is the client id.
    pub fn token(&self, role: &str, sub: &str) -> String {
        self.keys
            .mint(role, sub, demo_now(), chrono::Duration::hours(1))
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with `token`: the status, the headers and the JSON body (null when the
    /// body is not JSON).
    pub async fn get(
        &self,
        path: &str,
        token: &str,
    ) -> (
        reqwest::StatusCode,
        reqwest::header::HeaderMap,
        serde_json::Value,
    ) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res
            .json::<serde_json::Value>()
            .await
            .unwrap_or(serde_json::Value::Null);
        (status, headers, body)
    }

    /// `GET path` with `token`: the JSON body, once the answer is checked to be 200 OK.
    pub async fn get_ok(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, _, body) = self.get(path, token).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{path}: {body}");
        body
    }
}
