//! Wiring shared by the commands: open the database the settings name (or the managed
//! local one), with its indexes.

use std::path::PathBuf;

use crate::config::Settings;
use crate::store::localdb::{LocalDb, LocalDbError};
use crate::store::{Store, StoreError};

/// Why frontdesk could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    LocalDb(#[from] LocalDbError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An open database, and the local server behind it when frontdesk started one.
#[derive(Debug)]
pub struct Database {
    pub store: Store,
    pub url: String,
    /// Stops the local server when dropped.
    pub local: Option<LocalDb>,
}

/// Where `frontdesk localdb start` records the server it left running.
#[must_use]
pub fn localdb_state_file() -> PathBuf {
    state_dir().join("localdb.url")
}

/// Where `frontdesk localdb start` keeps its data.
#[must_use]
pub fn localdb_data_dir() -> PathBuf {
    state_dir().join("localdb")
}

fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("frontdesk")
}

/// The URL of a server left running by `frontdesk localdb start`, if it still answers.
#[must_use]
pub fn running_localdb() -> Option<(String, i32)> {
    let text = std::fs::read_to_string(localdb_state_file()).ok()?;
    let mut lines = text.lines();
    let url = lines.next()?.trim().to_owned();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    // SAFETY: signal 0 only checks the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive.then_some((url, pid))
}

/// Opens `MONGODB_URL`, else a server left by `frontdesk localdb start`, else starts a
/// local server for this process; then creates the indexes. Call it from the main
/// thread: a local server stops when the thread that started it ends.
///
/// # Errors
/// The database cannot be reached or started.
pub async fn open_database(settings: &Settings) -> Result<Database, StartupError> {
    let (url, local) = match (&settings.database.url, running_localdb()) {
        (Some(url), _) => (url.expose().to_owned(), None),
        (None, Some((url, _pid))) => (url, None),
        (None, None) => {
            // Started on this thread, not a blocking-pool thread: the server stops when
            // the thread that started it ends, and this one lives as long as the command.
            let db = LocalDb::start(settings.database.local_kind.as_deref())?;
            (db.url(), Some(db))
        }
    };
    let store = Store::open(&url, &settings.database.name).await?;
    Ok(Database { store, url, local })
}

/// Builds the REST API's shared state over an open database.
#[must_use]
pub fn api_state(
    settings: &Settings,
    store: &Store,
    jwt_secret: &[u8],
) -> std::sync::Arc<crate::api::ApiState> {
    let clock = settings.clock();
    let agents = crate::agents::Agents::new(
        store.clone(),
        clock.clone(),
        settings.studio.clone(),
        &settings.llm,
        settings.memory_ttl_hours,
    );
    let metrics = crate::telemetry::metrics::Metrics::global();
    std::sync::Arc::new(crate::api::ApiState {
        agents,
        store: store.clone(),
        clock: clock.clone(),
        studio: settings.studio.clone(),
        jwt: crate::api::JwtKeys::new(jwt_secret),
        limits: crate::api::RateLimits::new(
            settings.api_per_token_per_minute,
            settings.api_per_ip_per_minute,
        ),
        metrics,
    })
}
