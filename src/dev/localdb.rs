//! The managed local database used by `demo`, the tests and the benchmarks.
//!
//! When `MONGODB_URL` is set it is used as is. Otherwise a server is started on a free
//! loopback port with its own data directory and stopped when the [`LocalDb`] is dropped,
//! trying in order: `mongod` on PATH, `secantusd-rs` (SecantusDB's Rust build), then
//! `secantusd-py` (SecantusDB's Python build, installed on first use from PyPI into a
//! cache folder). `FRONTDESK_LOCALDB=mongod|secantus-rs|secantus-py` forces one.
//!
//! The child is started with a parent-death signal, so it never outlives the process
//! that started it, even when that process is killed.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The SecantusDB release the Python build is pinned to.
pub const SECANTUS_PY_VERSION: &str = "0.7.0b3";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a local database could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalDbError {
    #[error("no local database server: install mongod, or `cargo install secantus-mdb`, or python3 (for SecantusDB from PyPI)")]
    NoServer,
    #[error("FRONTDESK_LOCALDB={0:?} is not one of mongod, secantus-rs, secantus-py")]
    UnknownKind(String),
    #[error("{kind} was asked for but {what} is not available")]
    Missing { kind: &'static str, what: String },
    #[error("installing SecantusDB {version} with pip failed: {reason}")]
    Install {
        version: &'static str,
        reason: String,
    },
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(std::io::Error),
    #[error("cannot prepare {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {kind}: {source}")]
    Spawn {
        kind: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} exited before it was ready: {log_tail}")]
    Died {
        kind: &'static str,
        log_tail: String,
    },
    #[error("{kind} did not accept connections on port {port} within {secs} s")]
    NotReady {
        kind: &'static str,
        port: u16,
        secs: u64,
    },
}

/// Which server binary runs the local database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    Mongod,
    SecantusRs,
    SecantusPy,
}

impl LocalKind {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Mongod => "mongod",
            Self::SecantusRs => "secantus-rs",
            Self::SecantusPy => "secantus-py",
        }
    }

    /// # Errors
    /// An unknown name.
    pub fn parse(raw: &str) -> Result<Self, LocalDbError> {
        match raw.trim() {
            "mongod" => Ok(Self::Mongod),
            "secantus-rs" => Ok(Self::SecantusRs),
            "secantus-py" => Ok(Self::SecantusPy),
            other => Err(LocalDbError::UnknownKind(other.to_owned())),
        }
    }
}

/// A running local database server; stopped (and its data removed) on drop.
#[derive(Debug)]
pub struct LocalDb {
    kind: LocalKind,
    port: u16,
    child: Option<Child>,
    data_dir: PathBuf,
    keep_data: bool,
}

impl LocalDb {
    /// Starts a server of the forced kind, or the first one available.
    ///
    /// # Errors
    /// No server available, it failed to install or start, or it never became ready.
    pub fn start(forced: Option<&str>) -> Result<Self, LocalDbError> {
        let (kind, program) = match forced {
            Some(raw) => {
                let kind = LocalKind::parse(raw)?;
                (kind, locate(kind)?)
            }
            None => first_available()?,
        };
        let port = free_port()?;
        remove_stale_dirs();
        let data_dir =
            std::env::temp_dir().join(format!("frontdesk-localdb-{}-{port}", std::process::id()));
        Self::spawn(kind, &program, port, data_dir, false, true)
    }

    /// Starts a server that keeps its data in `data_dir` across restarts and outlives
    /// this process once [`LocalDb::detach`]ed (`frontdesk localdb start`).
    ///
    /// # Errors
    /// As [`LocalDb::start`].
    pub fn start_persistent(forced: Option<&str>, data_dir: PathBuf) -> Result<Self, LocalDbError> {
        let (kind, program) = match forced {
            Some(raw) => {
                let kind = LocalKind::parse(raw)?;
                (kind, locate(kind)?)
            }
            None => first_available()?,
        };
        Self::spawn(kind, &program, free_port()?, data_dir, true, false)
    }

    fn spawn(
        kind: LocalKind,
        program: &Path,
        port: u16,
        data_dir: PathBuf,
        keep_data: bool,
        tie_to_parent: bool,
    ) -> Result<Self, LocalDbError> {
        fs::create_dir_all(&data_dir).map_err(|source| LocalDbError::Dir {
            path: data_dir.clone(),
            source,
        })?;
        let log_path = data_dir.join("server.log");
        let log = fs::File::create(&log_path).map_err(|source| LocalDbError::Dir {
            path: log_path.clone(),
            source,
        })?;
        let log_err = log.try_clone().map_err(|source| LocalDbError::Dir {
            path: log_path.clone(),
            source,
        })?;
        let port_s = port.to_string();
        let storage = data_dir.join("db");
        fs::create_dir_all(&storage).map_err(|source| LocalDbError::Dir {
            path: storage.clone(),
            source,
        })?;
        let storage_s = storage.display().to_string();
        let mut cmd = Command::new(program);
        match kind {
            LocalKind::Mongod => {
                cmd.args([
                    "--bind_ip",
                    "127.0.0.1",
                    "--port",
                    &port_s,
                    "--dbpath",
                    &storage_s,
                    "--replSet",
                    "rs0",
                    "--quiet",
                ]);
            }
            LocalKind::SecantusRs => {
                cmd.args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port_s,
                    "--storage-path",
                    &storage_s,
                    "--cache-size",
                    "256M",
                    "--log-file-max",
                    "16MB",
                ]);
            }
            LocalKind::SecantusPy => {
                cmd.args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port_s,
                    "--storage-path",
                    &storage_s,
                    "--cache-size",
                    "256M",
                    "--log-level",
                    "WARNING",
                ]);
            }
        }
        cmd.stdin(Stdio::null()).stdout(log).stderr(log_err);
        if tie_to_parent {
            die_with_parent(&mut cmd);
        } else {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let child = cmd.spawn().map_err(|source| LocalDbError::Spawn {
            kind: kind.as_str(),
            source,
        })?;
        let mut db = Self {
            kind,
            port,
            child: Some(child),
            data_dir,
            keep_data,
        };
        db.wait_ready(&log_path)?;
        if kind == LocalKind::Mongod {
            db.initiate_replica_set();
        }
        tracing::info!(kind = kind.as_str(), port, "local database started");
        Ok(db)
    }

    fn wait_ready(&mut self, log_path: &Path) -> Result<(), LocalDbError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_status)) = child.try_wait() {
                    self.child = None;
                    return Err(LocalDbError::Died {
                        kind: self.kind.as_str(),
                        log_tail: tail(log_path),
                    });
                }
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalDbError::NotReady {
                    kind: self.kind.as_str(),
                    port: self.port,
                    secs: READY_TIMEOUT.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// mongod needs a replica set for transactions; a one-member set is enough.
    fn initiate_replica_set(&self) {
        let script = format!(
            "rs.initiate({{_id:'rs0',members:[{{_id:0,host:'127.0.0.1:{}'}}]}})",
            self.port
        );
        for shell in ["mongosh", "mongo"] {
            let ok = Command::new(shell)
                .args([
                    "--quiet",
                    "--port",
                    &self.port.to_string(),
                    "--eval",
                    &script,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                std::thread::sleep(Duration::from_secs(2));
                return;
            }
        }
        tracing::warn!("mongod started without a replica set (no mongosh): transactions will fail");
    }

    /// The connection URL of the running server.
    #[must_use]
    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    #[must_use]
    pub fn kind(&self) -> LocalKind {
        self.kind
    }

    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Leaves the server running after this value is dropped (`localdb start`).
    #[must_use]
    pub fn detach(mut self) -> (String, Option<u32>, PathBuf) {
        let out = (self.url(), self.pid(), self.data_dir.clone());
        self.child = None;
        self.keep_data = true;
        out
    }
}

impl Drop for LocalDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
        if !self.keep_data {
            let _ = fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn terminate(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: sending a signal to our own child process by pid.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The server stops when frontdesk dies (the parent-death signal), and runs in its own
/// process group: a terminal's Ctrl-C reaches frontdesk alone, which stops the server
/// last, after answering what was in flight.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe and only affects the child being started.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Removes the data folders of earlier processes that are gone (a test binary's shared
/// server is stopped by the parent-death signal, but its folder stays behind).
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("frontdesk-localdb-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> Result<u16, LocalDbError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(LocalDbError::NoPort)?;
    let port = listener.local_addr().map_err(LocalDbError::NoPort)?.port();
    Ok(port)
}

fn tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    let joined = lines[start..].join(" | ");
    if joined.is_empty() {
        "no output".into()
    } else {
        joined
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn cargo_bin(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let p = home.join("bin").join(name);
    p.is_file().then_some(p)
}

fn first_available() -> Result<(LocalKind, PathBuf), LocalDbError> {
    if let Some(p) = on_path("mongod") {
        return Ok((LocalKind::Mongod, p));
    }
    if let Some(p) = on_path("secantusd-rs").or_else(|| cargo_bin("secantusd-rs")) {
        return Ok((LocalKind::SecantusRs, p));
    }
    if on_path("python3").is_some() || on_path("secantusd-py").is_some() {
        return Ok((LocalKind::SecantusPy, secantus_py()?));
    }
    Err(LocalDbError::NoServer)
}

fn locate(kind: LocalKind) -> Result<PathBuf, LocalDbError> {
    match kind {
        LocalKind::Mongod => on_path("mongod").ok_or(LocalDbError::Missing { kind: "mongod", what: "mongod on PATH".into() }),
        LocalKind::SecantusRs => on_path("secantusd-rs").or_else(|| cargo_bin("secantusd-rs")).ok_or(LocalDbError::Missing {
            kind: "secantus-rs",
            what: "secantusd-rs (cargo install secantus-mdb --version 0.5.3-beta.196 --locked --ignore-rust-version)".into(),
        }),
        LocalKind::SecantusPy => secantus_py(),
    }
}

/// The folder holding the Python build of SecantusDB.
#[must_use]
pub fn secantus_py_venv() -> PathBuf {
    cache_root().join(format!("secantus-py-{SECANTUS_PY_VERSION}"))
}

/// frontdesk's cache folder: `$XDG_CACHE_HOME/frontdesk`, else `~/.cache/frontdesk` (an
/// empty variable counts as unset).
#[must_use]
pub fn cache_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir)
        .join("frontdesk")
}

/// `secantusd-py` on PATH, or from the cache folder, installing it there on first use.
/// Concurrent callers (parallel test processes) wait on a file lock for one install.
fn secantus_py() -> Result<PathBuf, LocalDbError> {
    if let Some(p) = on_path("secantusd-py") {
        return Ok(p);
    }
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| install_secantus_py().map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| LocalDbError::Install {
            version: SECANTUS_PY_VERSION,
            reason,
        })
}

fn install_secantus_py() -> Result<PathBuf, LocalDbError> {
    let venv = secantus_py_venv();
    let program = venv.join("bin").join("secantusd-py");
    let parent = venv
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    fs::create_dir_all(&parent).map_err(|source| LocalDbError::Dir {
        path: parent.clone(),
        source,
    })?;
    let lock_path = parent.join(".install.lock");
    let lock = fs::File::create(&lock_path).map_err(|source| LocalDbError::Dir {
        path: lock_path.clone(),
        source,
    })?;
    let _guard = FileLock::exclusive(&lock);
    let marker = venv.join(".installed");
    if program.is_file() && marker.is_file() {
        return Ok(program);
    }
    tracing::info!(
        version = SECANTUS_PY_VERSION,
        "installing SecantusDB (Python build) into {}",
        venv.display()
    );
    let _ = fs::remove_dir_all(&venv);
    run_install(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run_install(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("SecantusDB=={SECANTUS_PY_VERSION}")),
    )?;
    fs::write(&marker, SECANTUS_PY_VERSION).map_err(|source| LocalDbError::Dir {
        path: marker.clone(),
        source,
    })?;
    Ok(program)
}

fn run_install(cmd: &mut Command) -> Result<(), LocalDbError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LocalDbError::Install {
            version: SECANTUS_PY_VERSION,
            reason: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(LocalDbError::Install {
        version: SECANTUS_PY_VERSION,
        reason: stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("unknown error")
            .to_owned(),
    })
}

/// An exclusive `flock` on a file, held until dropped.
pub(crate) struct FileLock<'a>(&'a fs::File);

impl<'a> FileLock<'a> {
    pub(crate) fn exclusive(file: &'a fs::File) -> Self {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own; released in Drop or when the file closes.
        unsafe {
            libc::flock(file.as_raw_fd(), libc::LOCK_EX);
        }
        Self(file)
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// The URL of a database for this whole process: `MONGODB_URL` when set, else one
/// local server started on first use and kept until the process exits (the test
/// harness shares one server across all tests of a binary; each test uses its own
/// database name).
///
/// # Errors
/// As [`LocalDb::start`].
pub fn process_wide_url(mongodb_url: Option<&str>, forced: Option<&str>) -> Result<String, String> {
    if let Some(url) = mongodb_url.filter(|u| !u.is_empty()) {
        return Ok(url.to_owned());
    }
    static SHARED: OnceLock<Result<String, String>> = OnceLock::new();
    let forced = forced.map(str::to_owned);
    SHARED
        .get_or_init(move || {
            let (tx, rx) = std::sync::mpsc::channel();
            // The server dies with the thread that started it (parent-death signal), so
            // it is started from a thread that lives as long as the process.
            let spawned = std::thread::Builder::new()
                .name("localdb".into())
                .spawn(move || match LocalDb::start(forced.as_deref()) {
                    Ok(db) => {
                        let _ = tx.send(Ok(db.url()));
                        let _keep = db;
                        loop {
                            std::thread::park();
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                });
            match spawned {
                Ok(_) => rx
                    .recv()
                    .unwrap_or_else(|_| Err("the local database thread stopped".into())),
                Err(e) => Err(format!("cannot start the local database thread: {e}")),
            }
        })
        .clone()
}
