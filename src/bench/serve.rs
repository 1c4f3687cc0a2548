//! A `frontdesk serve` child process for the benchmarks that measure it from outside
//! (`bench memory`: start-up to `/readyz`; `bench api`: its CPU per question): on a
//! port of its own, at the demo clock, with API limits it never meets.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Where `serve` should find its database.
#[derive(Debug, Clone)]
pub struct ServeTarget<'a> {
    /// The `frontdesk` executable.
    pub exe: &'a Path,
    /// The unredacted database URL.
    pub url: &'a str,
    pub database: &'a str,
    /// `FRONTDESK_ENCRYPTION_KEY` for `serve` (it refuses to start without one).
    pub encryption_key: &'a str,
    /// More environment, set last (a `FRONTDESK_CONFIG` here replaces the benchmark's
    /// generous limits).
    pub env: &'a [(&'a str, &'a str)],
}

/// A `frontdesk serve` child process answering on a port of its own.
pub struct Served {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The JWT secret it signs and checks tokens with.
    pub secret: String,
    /// From the start of the process to the first 200 from `/readyz`.
    pub ready_after: Duration,
    config: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

impl Served {
    /// Starts `serve` and waits until `/readyz` answers 200.
    ///
    /// # Errors
    /// It cannot be started, exits, or is not ready within a minute.
    pub async fn start(target: &ServeTarget<'_>) -> Result<Self> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let secret = uuid::Uuid::new_v4().simple().to_string();
        // Per-token and per-address limits that the benchmark never meets.
        let started = Instant::now();
        let config = std::env::temp_dir().join(format!("frontdesk-bench-api-{secret}.toml"));
        std::fs::write(
            &config,
            "[api]\nper_token_per_minute = 100000000\nper_ip_per_minute = 100000000\n",
        )?;
        let child = tokio::process::Command::new(target.exe)
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .env("JWT_SECRET_KEY", &secret)
            .env("MONGODB_URL", target.url)
            .env("DATABASE_NAME", target.database)
            .env("FRONTDESK_ENCRYPTION_KEY", target.encryption_key)
            .env("FRONTDESK_CONFIG", &config)
            .env("FRONTDESK_NOW", super::DEMO_NOW)
            .env("FRONTDESK_CLOCK", "frozen")
            .env("RUST_LOG", "warn")
            .envs(target.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", target.exe.display()))?;
        let mut served = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            secret,
            ready_after: Duration::ZERO,
            config,
        };
        served.ready(started).await?;
        Ok(served)
    }

    async fn ready(&mut self, started: Instant) -> Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        loop {
            if let Ok(resp) = client.get(format!("{}/readyz", self.base)).send().await {
                if resp.status().is_success() {
                    self.ready_after = started.elapsed();
                    return Ok(());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("`serve` exited before it was ready ({status})");
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "`serve` was not ready within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
