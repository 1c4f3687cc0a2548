//! The `frontdesk` command line: parse arguments, load settings, wire the parts, run.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use frontdesk::app::{self, localdb_data_dir, localdb_state_file, running_localdb};
use frontdesk::config::Settings;
use frontdesk::store::localdb::LocalDb;
use frontdesk::store::seed::{seed, SeedOptions};

#[derive(Parser)]
#[command(
    name = "frontdesk",
    version,
    about = "Runs a yoga/pilates/fitness studio from Telegram, Slack and Discord"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load deterministic demo data.
    Seed {
        /// How many clients to generate.
        #[arg(long, default_value_t = 500)]
        clients: usize,
        /// Random seed: the same seed and clock give the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Drop the database first.
        #[arg(long)]
        reset: bool,
    },
    /// The managed local database used by demo, tests and benchmarks.
    Localdb {
        #[command(subcommand)]
        action: LocaldbAction,
    },
    /// Check configuration and the database, and say what is missing.
    Doctor,
}

#[derive(Subcommand)]
enum LocaldbAction {
    /// Start a local server that keeps running (and keeps its data) until `stop`.
    Start,
    /// Stop the server `start` left running.
    Stop,
    /// Print the URL of the running server.
    Url,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(err) = run(cli).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let settings = Settings::load()?;
    frontdesk::telemetry::init(&settings.log);
    match cli.command {
        Command::Seed {
            clients,
            seed: seed_value,
            reset,
        } => run_seed(&settings, clients, seed_value, reset).await,
        Command::Localdb { action } => run_localdb(&settings, action),
        Command::Doctor => run_doctor(&settings).await,
    }
}

async fn run_seed(settings: &Settings, clients: usize, seed_value: u64, reset: bool) -> Result<()> {
    let db = app::open_database(settings).await?;
    if reset {
        db.store.drop_database().await?;
        db.store.ensure_indexes().await?;
    }
    let started = Instant::now();
    let opts = SeedOptions {
        clients,
        seed: seed_value,
        now: settings.clock().now(),
        offset: settings.studio.utc_offset,
        currency: settings.studio.currency,
        progress: true,
    };
    let report = seed(&db.store, &opts).await?;
    println!(
        "seeded {} clients, {} courses, {} classes, {} orders, {} payments, {} attendance records in {:.1} s",
        report.clients,
        report.courses,
        report.classes,
        report.orders,
        report.payments,
        report.attendance,
        started.elapsed().as_secs_f64()
    );
    if db.local.is_some() {
        println!("note: the local database this command started is gone when it exits; use `frontdesk localdb start` or MONGODB_URL to keep data");
    }
    Ok(())
}

fn run_localdb(settings: &Settings, action: LocaldbAction) -> Result<()> {
    match action {
        LocaldbAction::Start => {
            if let Some((url, _)) = running_localdb() {
                println!("{url}");
                return Ok(());
            }
            let db = LocalDb::start_persistent(
                settings.database.local_kind.as_deref(),
                localdb_data_dir(),
            )?;
            let kind = db.kind().as_str();
            let (url, pid, dir) = db.detach();
            let pid = pid.context("the local database has no process id")?;
            let state = localdb_state_file();
            if let Some(parent) = state.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&state, format!("{url}\n{pid}\n"))
                .with_context(|| format!("cannot write {}", state.display()))?;
            eprintln!("started {kind} (pid {pid}, data in {})", dir.display());
            println!("{url}");
            Ok(())
        }
        LocaldbAction::Stop => {
            let Some((url, pid)) = running_localdb() else {
                bail!("no local database is running");
            };
            // SAFETY: signalling the server process recorded by `localdb start`.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let _ = std::fs::remove_file(localdb_state_file());
            eprintln!("stopped the local database at {url}");
            Ok(())
        }
        LocaldbAction::Url => match running_localdb() {
            Some((url, _)) => {
                println!("{url}");
                Ok(())
            }
            None => {
                bail!("no local database is running (start one with `frontdesk localdb start`)")
            }
        },
    }
}

async fn run_doctor(settings: &Settings) -> Result<()> {
    let mut problems = 0;
    println!(
        "config      ok (database {:?}, planner {:?})",
        settings.database.name, settings.llm.planner
    );
    match (&settings.database.url, running_localdb()) {
        (Some(url), _) => {
            match frontdesk::store::Store::connect(url.expose(), &settings.database.name).await {
                Ok(_) => println!(
                    "database    ok ({})",
                    frontdesk::store::redact_url(url.expose())
                ),
                Err(e) => {
                    problems += 1;
                    println!("database    FAILED: {e}");
                }
            }
        }
        (None, Some((url, _))) => {
            println!("database    ok (local server from `frontdesk localdb start` at {url})")
        }
        (None, None) => {
            println!("database    MONGODB_URL unset: demo and tests start a local server")
        }
    }
    match &settings.llm.api_key {
        Some(_) => println!(
            "llm         OPENAI_API_KEY set (model {})",
            settings.llm.model
        ),
        None => println!("llm         OPENAI_API_KEY unset: the rules planner answers alone"),
    }
    if settings.jwt_secret.is_none() {
        println!("rest api    JWT_SECRET_KEY unset: `serve` needs it (`demo` makes one)");
    }
    for (platform, var) in [
        ("telegram", "TELEGRAM_BOT_TOKEN"),
        ("slack", "SLACK_BOT_TOKEN"),
        ("discord", "DISCORD_TOKEN"),
    ] {
        let state = if settings.env(var).is_some() {
            "token set"
        } else {
            "off (no token)"
        };
        println!("{platform:<11} {state} ({var})");
    }
    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}
