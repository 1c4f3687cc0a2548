//! Wiring shared by the commands: open the database the settings name (or the managed
//! local one), with its indexes.

use std::path::PathBuf;

use crate::config::{Secret, Settings};
use crate::dev::localdb::{LocalDb, LocalDbError};
use crate::protect::{Key, KeyError, Keyring};
use crate::store::{Store, StoreError};

/// How to make a key, in every message that asks for one.
pub const MAKE_A_KEY: &str = "make one with `openssl rand -base64 32` and set FRONTDESK_ENCRYPTION_KEY to it (keep it safe: clients' emails, phones and notes cannot be read without it)";

/// Why frontdesk could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    LocalDb(#[from] LocalDbError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("FRONTDESK_ENCRYPTION_KEY is not set ({why}); {MAKE_A_KEY}")]
    NoKey { why: &'static str },
    #[error("the local encryption key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The clients are sealed with a key this keyring does not hold.
    #[error("{0}; for demo data, `frontdesk seed --reset` starts afresh under the key in use")]
    ForeignKey(String),
}

/// Where the key of personal data came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `FRONTDESK_ENCRYPTION_KEY`.
    Environment,
    /// The local development key file (a database on this machine, no key set).
    LocalFile(PathBuf),
}

/// An open database, and the local server behind it when frontdesk started one.
#[derive(Debug)]
pub struct Database {
    pub store: Store,
    pub url: String,
    /// Stops the local server when dropped.
    pub local: Option<LocalDb>,
    /// Where the encryption key came from, and the key itself (base64) for a `serve`
    /// the benchmark starts.
    pub key_source: KeySource,
    pub key_text: Secret,
}

/// The local development key file: made on first use, readable by its owner only.
#[must_use]
pub fn local_key_file() -> PathBuf {
    state_dir().join("encryption.key")
}

/// Whether every host of a MongoDB URL is this machine.
#[must_use]
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("mongodb://") else {
        return false;
    };
    let rest = rest.rsplit_once('@').map_or(rest, |(_, hosts)| hosts);
    let hosts = rest.split(['/', '?']).next().unwrap_or("");
    !hosts.is_empty()
        && hosts.split(',').all(|h| {
            let host = if h.starts_with('[') {
                h.split(']')
                    .next()
                    .map(|x| format!("{x}]"))
                    .unwrap_or_default()
            } else {
                h.split(':').next().unwrap_or("").to_owned()
            };
            matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
        })
}

/// The keys for personal data: `FRONTDESK_ENCRYPTION_KEY` (and its older keys) when set;
/// otherwise, for a database on this machine only, the local development key file
/// (created on first use). A remote database without a key is refused.
///
/// # Errors
/// [`StartupError::NoKey`] for a remote database without a key; an unreadable or
/// malformed key file.
pub fn keyring(
    settings: &Settings,
    database_is_local: bool,
) -> Result<(Keyring, Secret, KeySource), StartupError> {
    let path = local_key_file();
    keyring_at(settings, database_is_local, &path, KeyFile::MakeIfMissing)?.ok_or_else(|| {
        StartupError::KeyFile {
            path,
            reason: "it was neither found nor made".to_owned(),
        }
    })
}

/// The keys [`keyring`] would use, for a diagnostic that must not write files: the local
/// development key file is read when it exists and never made. `None` when no key is set
/// and the file does not exist yet.
///
/// # Errors
/// As [`keyring`].
pub fn existing_keyring(
    settings: &Settings,
    database_is_local: bool,
) -> Result<Option<(Keyring, Secret, KeySource)>, StartupError> {
    keyring_at(
        settings,
        database_is_local,
        &local_key_file(),
        KeyFile::ReadOnly,
    )
}

/// What to do about a local development key file that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFile {
    /// Make it (every command that opens a database on this machine).
    MakeIfMissing,
    /// Leave it missing (`doctor`).
    ReadOnly,
}

/// [`keyring`] with the key file at `path`; `None` only for [`KeyFile::ReadOnly`] and a
/// file that does not exist.
fn keyring_at(
    settings: &Settings,
    database_is_local: bool,
    path: &std::path::Path,
    missing: KeyFile,
) -> Result<Option<(Keyring, Secret, KeySource)>, StartupError> {
    if let (Some(keys), Some(text)) = (&settings.encryption.keys, &settings.encryption.key_text) {
        return Ok(Some((keys.clone(), text.clone(), KeySource::Environment)));
    }
    if !database_is_local {
        return Err(StartupError::NoKey {
            why: "the database is not on this machine, so the local development key is not used",
        });
    }
    let text = match missing {
        KeyFile::MakeIfMissing => read_or_make_key_file(path)?,
        KeyFile::ReadOnly => match read_key_file(path)? {
            Some(text) => text,
            None => return Ok(None),
        },
    };
    let key = Key::parse("FRONTDESK_ENCRYPTION_KEY", &text).map_err(|e| StartupError::KeyFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Some((
        Keyring::new(key, Vec::new()),
        Secret::new(text),
        KeySource::LocalFile(path.to_owned()),
    )))
}

/// The key file's text, or `None` when it does not exist.
fn read_key_file(path: &std::path::Path) -> Result<Option<String>, StartupError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StartupError::KeyFile {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn read_or_make_key_file(path: &std::path::Path) -> Result<String, StartupError> {
    use std::io::Write as _;
    let failed = |e: std::io::Error| StartupError::KeyFile {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let (_, text) = Key::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{text}\n").as_bytes())
                .map_err(failed)?;
            tracing::info!(path = %path.display(), "made a local encryption key for development");
            Ok(text)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(failed),
        Err(e) => Err(failed(e)),
    }
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

/// `$XDG_STATE_HOME/frontdesk`, else `~/.local/state/frontdesk` (an empty variable counts
/// as unset, so the state never lands in a relative `./frontdesk/`).
fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("state"))
        })
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

/// The local server every local command shares: the one left running (by `localdb
/// start` or an earlier command), else one started now that keeps running after this
/// command, its data in the state folder. So the demo's data is there for `ask`, `chat`
/// and `eval` in the next process, and the demo does not load it again. Returns its URL
/// and whether it was started now.
///
/// # Errors
/// No local server can be started, or the state folder cannot be written.
pub fn shared_localdb(forced: Option<&str>) -> Result<(String, bool), LocalDbError> {
    let dir = state_dir();
    let prepare = |path: &std::path::Path, source: std::io::Error| LocalDbError::Dir {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(|e| prepare(&dir, e))?;
    // Two commands started at once start one server.
    let lock_path = dir.join("localdb.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| prepare(&lock_path, e))?;
    let _turn = crate::dev::localdb::FileLock::exclusive(&lock);
    if let Some((url, _)) = running_localdb() {
        return Ok((url, false));
    }
    let db = LocalDb::start_persistent(forced, localdb_data_dir())?;
    let kind = db.kind().as_str();
    let (url, pid, data) = db.detach();
    let state = localdb_state_file();
    std::fs::write(&state, format!("{url}\n{}\n", pid.unwrap_or_default()))
        .map_err(|e| prepare(&state, e))?;
    eprintln!(
        "started a local database ({kind}, data in {}); it keeps running for the next command: `frontdesk localdb stop` stops it",
        data.display()
    );
    Ok((url, true))
}

/// Opens `MONGODB_URL`, else the shared local server ([`shared_localdb`]: left by
/// `frontdesk localdb start` or an earlier command, else started now); then creates the
/// indexes. The keys come from
/// [`keyring`]; with `MONGODB_READONLY_URL` set, the Dashboard path reads through a
/// second connection from it. Call it from the main
/// thread: a local server stops when the thread that started it ends.
///
/// # Errors
/// The database cannot be reached or started.
pub async fn open_database(settings: &Settings) -> Result<Database, StartupError> {
    let db = open_database_any_key(settings).await?;
    // Data sealed with another key: every lookup would find nobody, and what is written
    // now would be sealed with a key the rest is not: refused, with what to set.
    if let Some(theirs) = db.store.foreign_key_id().await? {
        let ours = db.store.keys().current_id();
        return Err(StartupError::ForeignKey(crate::store::foreign_key_warning(
            &theirs, ours,
        )));
    }
    Ok(db)
}

/// [`open_database`] whatever key the clients are sealed with: for `seed --reset`, which
/// starts afresh.
///
/// # Errors
/// As [`open_database`], but for the key of the data.
pub async fn open_database_any_key(settings: &Settings) -> Result<Database, StartupError> {
    let (url, local) = match (&settings.database.url, running_localdb()) {
        (Some(url), _) => (url.expose().to_owned(), None),
        (None, Some((url, _pid))) => (url, None),
        (None, None) => {
            let (url, _) = shared_localdb(settings.database.local_kind.as_deref())?;
            (url, None)
        }
    };
    let database_is_local = local.is_some() || is_loopback_url(&url);
    let (keys, key_text, key_source) = keyring(settings, database_is_local)?;
    let mut store = Store::open(&url, &settings.database.name, keys).await?;
    store.set_policy(
        settings.database.conflict_retry,
        settings.ticket_retention_days,
    );
    if let Some(readonly) = &settings.database.readonly_url {
        store = store.with_reader(readonly.expose()).await?;
    }
    Ok(Database {
        store,
        url,
        local,
        key_source,
        key_text,
    })
}

/// The sentence model of this process, loaded once (in the background: the rules answer
/// until it is ready). `wait`: block until it is loaded or failed, for the one-shot
/// commands whose answer should not depend on how fast the model loads.
#[must_use]
pub fn understanding(settings: &Settings, wait: bool) -> crate::nlu::NluHandle {
    static HANDLE: std::sync::OnceLock<crate::nlu::NluHandle> = std::sync::OnceLock::new();
    let handle = HANDLE
        .get_or_init(|| crate::nlu::NluHandle::load_in_background(&settings.nlu))
        .clone();
    if wait {
        handle.wait(std::time::Duration::from_secs(300));
    }
    handle
}

/// Builds the REST API's shared state over an open database, with agents of its own
/// (tests); the service shares one `Agents` through [`api_state_with`].
#[must_use]
pub fn api_state(
    settings: &Settings,
    store: &Store,
    jwt_secret: &[u8],
) -> std::sync::Arc<crate::api::ApiState> {
    api_state_with(settings, store, agents(settings, store, false), jwt_secret)
}

/// The agents over `store` as the settings configure them: clock, studio, planner,
/// memory and the sentence model (`wait`: until it is loaded, else it loads behind).
#[must_use]
pub fn agents(settings: &Settings, store: &Store, wait: bool) -> crate::agents::Agents {
    crate::agents::Agents::new(
        store.clone(),
        settings.clock(),
        settings.studio.clone(),
        &settings.llm,
        settings.memory_ttl_hours,
    )
    .with_understanding(understanding(settings, wait))
}

/// The REST API's shared state over `agents`.
#[must_use]
pub fn api_state_with(
    settings: &Settings,
    store: &Store,
    agents: crate::agents::Agents,
    jwt_secret: &[u8],
) -> std::sync::Arc<crate::api::ApiState> {
    let clock = settings.clock();
    let metrics = crate::telemetry::metrics::Metrics::global();
    std::sync::Arc::new(crate::api::ApiState {
        agents,
        store: store.clone(),
        clock: clock.clone(),
        studio: settings.studio.clone(),
        jwt: crate::api::JwtKeys::new(jwt_secret).with_lifetimes(settings.token_lifetimes),
        limits: crate::api::RateLimits::new(
            settings.api_per_token_per_minute,
            settings.api_per_ip_per_minute,
        )
        .shared(settings.shared_limits)
        .behind(settings.trusted_proxies.clone()),
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_of_this_machine_are_loopback() {
        assert!(is_loopback_url(
            "mongodb://127.0.0.1:27017/?directConnection=true"
        ));
        assert!(is_loopback_url("mongodb://u:p@localhost:1,127.0.0.1:2/db"));
        assert!(is_loopback_url("mongodb://[::1]:27017"));
        assert!(!is_loopback_url("mongodb://db.example.com:27017"));
        assert!(!is_loopback_url("mongodb://127.0.0.1:1,db:2"));
        assert!(!is_loopback_url("mongodb+srv://cluster.example.net"));
        assert!(!is_loopback_url("mongodb://localhost@evil.example.com"));
    }

    #[test]
    fn a_remote_database_without_a_key_is_refused_with_how_to_make_one() {
        let settings = Settings::from_env(std::collections::HashMap::new()).unwrap();
        let err = keyring(&settings, false).unwrap_err().to_string();
        assert!(err.contains("FRONTDESK_ENCRYPTION_KEY is not set"), "{err}");
        assert!(err.contains("openssl rand -base64 32"), "{err}");
    }

    #[test]
    fn only_the_read_only_lookup_leaves_a_missing_key_file_missing() {
        let settings = Settings::from_env(std::collections::HashMap::new()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("encryption.key");

        // What doctor does: nothing found, nothing written.
        let found = keyring_at(&settings, true, &path, KeyFile::ReadOnly).unwrap();
        assert!(found.is_none());
        assert!(
            !path.exists(),
            "the read-only lookup made {}",
            path.display()
        );
        assert!(!path.parent().unwrap().exists(), "nor its folder");

        // What the other local commands do: make it.
        let (made, _, source) = keyring_at(&settings, true, &path, KeyFile::MakeIfMissing)
            .unwrap()
            .unwrap();
        assert!(path.exists());
        assert_eq!(source, KeySource::LocalFile(path.clone()));

        // Then the read-only lookup reads that same key.
        let (read, _, source) = keyring_at(&settings, true, &path, KeyFile::ReadOnly)
            .unwrap()
            .unwrap();
        assert_eq!(read.current_id(), made.current_id());
        assert_eq!(source, KeySource::LocalFile(path.clone()));
        // A remote database is still refused, file or not.
        assert!(matches!(
            keyring_at(&settings, false, &path, KeyFile::ReadOnly),
            Err(StartupError::NoKey { .. })
        ));
    }
}
