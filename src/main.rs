//! The `frontdesk` command line: parse arguments, load settings, wire the parts, run.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write as _;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use frontdesk::agents::eval::{parse_cases, resolve_caller, run_case};
use frontdesk::agents::AgentRequest;
use frontdesk::app::{self, localdb_state_file, running_localdb};
use frontdesk::application::Application;
use frontdesk::config::Settings;
use frontdesk::dev::seed::{seed, SeedOptions};
use frontdesk::tools::AgentKind;

mod cli;
use cli::chat::chat;
use cli::demo::run_demo;
use cli::doctor::run_doctor;

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
        /// How many clients to generate (1 to 1,000,000).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        clients: u32,
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
    /// Zero-setup try-out: local database, demo data, console chat.
    Demo,
    /// One question, one answer (from MONGODB_URL, else the shared local database).
    Ask {
        /// The agent asked: support (clients, orders, classes, payments) or dashboard
        /// (figures).
        #[arg(long, default_value = "support")]
        agent: AgentKind,
        /// Who asks: client:EMAIL, guest, staff, manager or admin.
        #[arg(long = "as")]
        who: Option<String>,
        /// Print intent, tool calls, answer, LLM calls and latency as JSON.
        #[arg(long)]
        json: bool,
        /// Write the answer's chart (a trend or a breakdown) to this PNG file.
        #[arg(long, value_name = "FILE.png")]
        chart_out: Option<std::path::PathBuf>,
        /// The question, as a person would type it.
        #[arg(required = true, value_name = "QUESTION")]
        text: Vec<String>,
    },
    /// How the sentence model reads messages (one a line on stdin, or the text given):
    /// its nearest intents with their scores, and whether it would decide. No database.
    Understand {
        #[arg(long, default_value = "support")]
        agent: AgentKind,
        text: Vec<String>,
    },
    /// An interactive console conversation (keeps memory; `/quit` or Ctrl-D ends it).
    Chat {
        /// The agent asked: support or dashboard.
        #[arg(long, default_value = "support")]
        agent: AgentKind,
        /// Who speaks: client:EMAIL, guest, staff, manager or admin.
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Production: the REST API, webhooks, every chat adapter whose token is set, the
    /// outbox worker and the scheduler (needs JWT_SECRET_KEY and MONGODB_URL).
    Serve {
        /// Address to listen on (default FRONTDESK_BIND or 127.0.0.1:8000).
        #[arg(long)]
        bind: Option<String>,
        /// Start a local database when MONGODB_URL is unset.
        #[arg(long)]
        local_db: bool,
    },
    /// The outbox of side effects: how deep it is, and putting dead items back.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// Mint a JWT for scripts and tests (signed with JWT_SECRET_KEY).
    Token {
        /// client, staff, manager or admin.
        #[arg(long)]
        role: String,
        /// Who the token is for; for a client, their client id.
        #[arg(long, default_value = "script")]
        sub: String,
        /// Lifetime: 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Re-seal clients' personal data under FRONTDESK_ENCRYPTION_KEY (older keys from
    /// FRONTDESK_ENCRYPTION_OLD_KEYS), in batches; run it again to resume.
    RotateKey {
        /// Clients per batch.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Count the dashboard's kept figures again from the records, after the database
    /// was written other than through frontdesk (run it while nothing is serving).
    Recount,
    /// Run an eval file and print each case and `N passed, N failed`.
    Eval {
        /// A JSON-lines file of cases (tests/eval/*.jsonl): a question, or a dialogue,
        /// with the intent and arguments expected.
        file: std::path::PathBuf,
        /// Print each case's result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks: a table of figures and targets, or JSON with --json.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Simulated users through the gateway, rules planner and database.
    Pipeline {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long)]
        json: bool,
    },
    /// Dashboard queries at growing data sizes, checked against a scan.
    Analytics {
        /// Attendance records per size (a database of its own each, seeded once).
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<u64>,
        /// Timed runs of each query per size.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// The eval set through the hybrid and llm planners against a fake LLM server.
    Llm {
        #[arg(long)]
        json: bool,
    },
    /// The realistic traffic over HTTP of a `serve` process, beside the gateway path.
    Api {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long)]
        json: bool,
    },
    /// Every read the service sends (eval cases, chat, every REST operation, the outbox
    /// and scheduler) over fresh demo data, with the index the server's explain names;
    /// exits 1 when one scans a collection.
    Queries {
        /// Clients in the demo data.
        #[arg(long, default_value_t = 500)]
        clients: usize,
        #[arg(long)]
        json: bool,
    },
    /// The sentence model alone (no database): every distinct corpus question read one at
    /// a time, then by many askers at once; its time per read.
    Understanding {
        /// Askers at once in the second round.
        #[arg(long, default_value_t = 16)]
        askers: usize,
        #[arg(long)]
        json: bool,
    },
    /// Peak RSS under the pipeline load, and `serve` start-up time to /readyz.
    Memory {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct LoadArgs {
    /// Simulated users.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Messages in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Messages in all.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Compute every answer afresh: no answers kept for a few seconds.
    #[arg(long)]
    fresh: bool,
    /// Ask the same questions again and again (one thread each) instead of a realistic
    /// day of distinct questions, people and follow-ups.
    #[arg(long)]
    repeat: bool,
}

impl LoadArgs {
    fn options(&self) -> frontdesk::bench::pipeline::PipelineOptions {
        frontdesk::bench::pipeline::PipelineOptions {
            users: self.users,
            concurrency: self.concurrency,
            messages: self.messages,
            fresh: self.fresh,
            repeat: self.repeat,
        }
    }
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

#[derive(Subcommand)]
enum OutboxAction {
    /// Items waiting, being delivered, delivered and dead.
    Status,
    /// Put every dead item back in the queue (after fixing what killed it).
    Requeue,
}

#[tokio::main]
async fn main() {
    // Two rustls crypto backends are linked (ring by mongodb and the chat crates, aws-lc-rs
    // by async-openai); pick one for every TLS client that does not name its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let code = match run(cli).await {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    };
    // Everything the command started has stopped by now (the local database too); the
    // only thing left may be the console's read of stdin, which would keep the runtime
    // from ending: exit without waiting for it.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code);
}

async fn run(cli: Cli) -> Result<()> {
    let settings = Settings::load()?;
    frontdesk::telemetry::init(&settings.log);
    match cli.command {
        Command::Seed {
            clients,
            seed: seed_value,
            reset,
        } => run_seed(&settings, clients as usize, seed_value, reset).await,
        Command::Localdb { action } => run_localdb(&settings, action),
        Command::Doctor => run_doctor(&settings).await,
        Command::Outbox { action } => run_outbox(&settings, action).await,
        Command::Demo => run_demo(&settings).await,
        Command::Ask {
            agent,
            who,
            json,
            chart_out,
            text,
        } => {
            let question = text.join(" ");
            if question.trim().is_empty() {
                eprintln!("error: `ask` needs a question, e.g. frontdesk ask --agent dashboard \"revenue this month\"");
                std::process::exit(2);
            }
            let db = app::open_database(&settings).await?;
            say_if_empty(&db, &settings).await?;
            let agents = app::agents(&settings, &db.store, true);
            let caller = resolve_caller(&db.store, who.as_deref(), agent)
                .await
                .map_err(anyhow::Error::msg)?;
            let reply = agents
                .handle(AgentRequest {
                    agent,
                    caller,
                    text: question,
                    conversation: None,
                    event_id: None,
                })
                .await;
            if json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
            } else {
                println!("{}", reply.answer);
            }
            if let Some(path) = chart_out {
                write_chart(&reply, &path)?;
            }
            Ok(())
        }
        Command::Understand { agent, text } => run_understand(&settings, agent, &text),
        Command::Chat { agent, who } => {
            let db = app::open_database(&settings).await?;
            say_if_empty(&db, &settings).await?;
            let agents = app::agents(&settings, &db.store, true);
            chat(&agents, &db.store, agent, who).await
        }
        Command::Eval { file, json } => run_eval(&settings, &file, json).await,
        Command::RotateKey { batch } => run_rotate_key(&settings, batch).await,
        Command::Recount => {
            let db = app::open_database(&settings).await?;
            let started = std::time::Instant::now();
            let counted = db.store.recount_rollups().await?;
            println!(
                "counted again from the records in {:.1} s: {}",
                started.elapsed().as_secs_f64(),
                counted.join(", ")
            );
            Ok(())
        }
        Command::Bench { which } => run_bench(&settings, which).await,
        Command::Serve { bind, local_db } => run_serve(&settings, bind, local_db).await,
        Command::Token { role, sub, ttl } => {
            let secret = settings
                .jwt_secret
                .as_ref()
                .context("JWT_SECRET_KEY is not set")?;
            let ttl = parse_ttl(&ttl)?;
            let keys = frontdesk::api::JwtKeys::new(secret.expose().as_bytes());
            println!("{}", keys.mint(&role, &sub, settings.clock().now(), ttl)?);
            Ok(())
        }
    }
}

async fn run_seed(settings: &Settings, clients: usize, seed_value: u64, reset: bool) -> Result<()> {
    let db = if reset {
        app::open_database_any_key(settings).await?
    } else {
        app::open_database(settings).await?
    };
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
            let (url, _) = app::shared_localdb(settings.database.local_kind.as_deref())?;
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
            // Returns once the server has exited (its files closed), up to 15 s.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            // SAFETY: signal 0 only checks the process exists.
            while unsafe { libc::kill(pid, 0) } == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = std::fs::remove_file(localdb_state_file());
            // SAFETY: as above.
            if unsafe { libc::kill(pid, 0) } == 0 {
                bail!("the local database (pid {pid}) did not stop within 15 s");
            }
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

async fn run_rotate_key(settings: &Settings, batch: usize) -> Result<()> {
    let db = app::open_database(settings).await?;
    let keys = db.store.keys();
    println!(
        "current key {}; older keys {:?}",
        keys.current_id(),
        keys.old_ids()
    );
    let report = db
        .store
        .rotate_keys(batch, None, |r| {
            println!(
                "  {} of {} rotated ({} failed, {} changed meanwhile)",
                r.rotated, r.to_do, r.failed, r.skipped
            );
        })
        .await?;
    println!(
        "rotated {} client(s) to key {} ({} already current were not touched)",
        report.rotated,
        keys.current_id(),
        db.store.client_count().await?.saturating_sub(report.to_do)
    );
    println!(
        "re-sealed {} remembered turn(s) (forgot {} that could not be opened or were plain) and {} ticket reason(s)",
        report.turns_resealed, report.turns_forgotten, report.tickets_resealed
    );
    if report.tickets_failed > 0 {
        eprintln!(
            "{} ticket reason(s) could not be opened: is their key in FRONTDESK_ENCRYPTION_OLD_KEYS?",
            report.tickets_failed
        );
    }
    let left = db.store.clients_to_rotate().await?;
    if left > 0 {
        bail!("{left} client(s) are not under the current key yet ({} could not be opened: is their key in FRONTDESK_ENCRYPTION_OLD_KEYS?); run `frontdesk rotate-key` again", report.failed);
    }
    Ok(())
}

async fn run_outbox(settings: &Settings, action: OutboxAction) -> Result<()> {
    let db = app::open_database(settings).await?;
    match action {
        OutboxAction::Status => {
            let o = db.store.outbox_stats().await?;
            println!(
                "{} waiting, {} being delivered, {} delivered, {} dead",
                o.pending, o.in_flight, o.done, o.dead
            );
        }
        OutboxAction::Requeue => {
            let n = db.store.requeue_dead(settings.clock().now()).await?;
            println!("{n} dead item(s) queued again");
        }
    }
    Ok(())
}

fn run_understand(settings: &Settings, agent: AgentKind, text: &[String]) -> Result<()> {
    let handle = app::understanding(settings, true);
    let Some(nlu) = handle.ready() else {
        bail!("the sentence model is not loaded: {}", handle.status());
    };
    let lines: Vec<String> = if text.is_empty() {
        std::io::stdin().lines().map_while(Result::ok).collect()
    } else {
        vec![text.join(" ")]
    };
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let ranking = nlu.ranking(line, agent)?;
        let verdict = nlu.classify_blocking(line, agent)?;
        let top: Vec<String> = ranking
            .iter()
            .take(3)
            .map(|(label, score)| format!("{} {score:.3}", label.as_str()))
            .collect();
        let decided = verdict
            .decided()
            .map_or_else(|| "undecided".to_owned(), |i| i.as_str().to_owned());
        println!(
            "{decided:<20} margin {:.3}  [{}]  {line}",
            verdict.margin(),
            top.join(", ")
        );
    }
    Ok(())
}

/// The agents over `db`, with the sentence model (`wait`: loaded before the first
/// answer, for the one-shot commands; else in the background).
/// A question to an empty database gets zeros and "no such client": say why, and how to
/// fill it, before answering.
async fn say_if_empty(db: &app::Database, settings: &Settings) -> Result<()> {
    if db.store.is_empty().await? {
        eprintln!(
            "note: the database `{}` is empty, so answers will be zeros and \"not found\": `frontdesk seed` loads the demo data (or set MONGODB_URL to your studio's database)",
            settings.database.name
        );
    }
    Ok(())
}

async fn run_eval(settings: &Settings, file: &std::path::Path, json: bool) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let cases = parse_cases(&text)?;
    let db = app::open_database(settings).await?;
    // With --json, stdout holds the JSON alone; what is said besides goes to stderr.
    let say = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    if db.store.is_empty().await? {
        say("the database is empty: loading the demo data first");
        seed_demo(settings, &db).await?;
    }
    let agents = app::agents(settings, &db.store, true);
    let (mut passed, mut failed) = (0, 0);
    let (mut turns, mut turns_passed, mut dialogues) = (0, 0, 0);
    let mut results = Vec::new();
    let mut all = Vec::new();
    for case in &cases {
        let result = run_case(&agents, case).await?;
        turns += result.turns;
        turns_passed += result.turns_passed;
        dialogues += usize::from(!case.turns.is_empty());
        if result.passed {
            passed += 1;
        } else {
            failed += 1;
        }
        if json {
            results.push(result);
        } else {
            all.push(result.clone());
            let mark = if result.passed { "PASS" } else { "FAIL" };
            let said = if case.turns.is_empty() {
                case.text.clone()
            } else {
                format!("({} turns) {}", case.turns.len(), case.turns[0].text)
            };
            println!(
                "{mark} {:<10} {:<18} {} ms  {said}",
                result.id, result.reply.intent, result.reply.latency_ms
            );
            for f in &result.failures {
                println!("     - {f}");
            }
        }
    }
    if json {
        let scores = frontdesk::agents::eval::Scores::of(&results);
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "passed": passed,
                "failed": failed,
                "intent_accuracy": scores.intent_accuracy(),
                "args_accuracy": scores.args_accuracy(),
                "scores": scores,
                "cases": results,
            }))?
        );
    } else {
        let scores = frontdesk::agents::eval::Scores::of(&all);
        println!(
            "intents {}/{} right ({:.1}%), arguments {}/{} ({:.1}%)",
            scores.intents_right,
            scores.intents_checked,
            scores.intent_accuracy() * 100.0,
            scores.args_right,
            scores.args_checked,
            scores.args_accuracy() * 100.0
        );
        for (expected, got, n) in scores.confusions.iter().take(12) {
            println!("  {expected} taken as {got}: {n}");
        }
    }
    if dialogues > 0 {
        say(&format!(
            "{dialogues} dialogues; {turns_passed} of {turns} turns as expected"
        ));
    }
    say(&format!("{passed} passed, {failed} failed"));
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn run_bench(settings: &Settings, which: BenchCommand) -> Result<()> {
    use frontdesk::bench::{self, print_table, Server};
    if let BenchCommand::Understanding { askers, json } = which {
        let r = bench::understanding::run(settings, askers).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            print_table("bench understanding", &r.rows);
        }
        return Ok(());
    }
    let db = app::open_database(settings).await?;
    let server = Server::of(settings, &db);
    eprintln!("database: {}", server.describe());
    let mut failed = false;
    let (title, rows, report, as_json) = match which {
        // Needs no database: run above.
        BenchCommand::Understanding { .. } => return Ok(()),
        BenchCommand::Pipeline { load, json } => {
            if bench::pipeline::ensure_demo_data(settings, &db.store).await? {
                eprintln!("the database was empty: loaded the demo data (500 clients)");
            }
            let r = bench::pipeline::run(settings, &db.store, server, load.options()).await?;
            (
                "bench pipeline",
                r.rows.clone(),
                serde_json::to_value(&r)?,
                json,
            )
        }
        BenchCommand::Memory { load, json } => {
            if bench::pipeline::ensure_demo_data(settings, &db.store).await? {
                eprintln!("the database was empty: loaded the demo data (500 clients)");
            }
            let exe = std::env::current_exe()?;
            let serve = bench::memory::ServeTarget {
                exe: &exe,
                url: &db.url,
                database: &settings.database.name,
                encryption_key: db.key_text.expose(),
                env: &[],
            };
            let r = bench::memory::run(settings, &db.store, server, load.options(), Some(serve))
                .await?;
            (
                "bench memory",
                r.rows.clone(),
                serde_json::to_value(&r)?,
                json,
            )
        }
        BenchCommand::Api { load, json } => {
            if bench::pipeline::ensure_demo_data(settings, &db.store).await? {
                eprintln!("the database was empty: loaded the demo data (500 clients)");
            }
            let exe = std::env::current_exe()?;
            let target = bench::memory::ServeTarget {
                exe: &exe,
                url: &db.url,
                database: &settings.database.name,
                encryption_key: db.key_text.expose(),
                env: &[],
            };
            let r = bench::api::run(settings, &db.store, server, load.options(), &target).await?;
            ("bench api", r.rows.clone(), serde_json::to_value(&r)?, json)
        }
        BenchCommand::Queries { clients, json } => {
            let opts = bench::queries::QueriesOptions {
                clients,
                database: format!("{}_bench_queries", settings.database.name),
            };
            let r = bench::queries::run(settings, &db.url, db.store.keys(), server, &opts).await?;
            failed = !r.passed();
            (
                "bench queries",
                r.rows.clone(),
                serde_json::to_value(&r)?,
                json,
            )
        }
        BenchCommand::Llm { json } => {
            if bench::pipeline::ensure_demo_data(settings, &db.store).await? {
                eprintln!("the database was empty: loaded the demo data (500 clients)");
            }
            let r = bench::llm::run(settings, &db.store, server).await?;
            ("bench llm", r.rows.clone(), serde_json::to_value(&r)?, json)
        }
        BenchCommand::Analytics { sizes, runs, json } => {
            let opts = bench::analytics::AnalyticsOptions {
                sizes,
                runs,
                database_prefix: settings.database.name.clone(),
            };
            let r =
                bench::analytics::run(settings, &db.url, db.store.keys(), server, &opts).await?;
            (
                "bench analytics",
                r.rows.clone(),
                serde_json::to_value(&r)?,
                json,
            )
        }
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(title, &rows);
    }
    if failed {
        anyhow::bail!("{title}: a read scans a collection, or an endpoint was not called");
    }
    Ok(())
}

async fn seed_demo(settings: &Settings, db: &app::Database) -> Result<()> {
    let opts = SeedOptions {
        clients: 500,
        seed: 42,
        now: settings.clock().now(),
        offset: settings.studio.utc_offset,
        currency: settings.studio.currency,
        progress: false,
    };
    seed(&db.store, &opts).await?;
    Ok(())
}

fn parse_ttl(raw: &str) -> Result<chrono::Duration> {
    let raw = raw.trim();
    let (n, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: i64 = n
        .parse()
        .with_context(|| format!("{raw:?} is not a lifetime like 30m, 1h or 7d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("{raw:?} is not a lifetime like 30m, 1h or 7d"),
    };
    if !(1..=366 * 86_400).contains(&secs) {
        bail!("a token lives between 1 second and a year");
    }
    Ok(chrono::Duration::seconds(secs))
}

async fn run_serve(settings: &Settings, bind: Option<String>, local_db: bool) -> Result<()> {
    let secret = settings
        .jwt_secret
        .as_ref()
        .context("JWT_SECRET_KEY is not set: `serve` needs it to check API tokens")?;
    if secret.expose().len() < 16 {
        bail!("JWT_SECRET_KEY is too short: use at least 16 characters");
    }
    if settings.database.url.is_none() && !local_db && running_localdb().is_none() {
        bail!("MONGODB_URL is not set (or pass --local-db to start a local database)");
    }
    if settings.encryption.keys.is_none() {
        bail!(
            "FRONTDESK_ENCRYPTION_KEY is not set: `serve` needs it to seal clients' personal data; {}",
            app::MAKE_A_KEY
        );
    }
    let bind = bind.unwrap_or_else(|| settings.bind.clone());
    let app = Application::build(settings, &bind, secret.expose().as_bytes()).await?;
    let addr = app.addr();
    tracing::info!(%addr, "serving the REST API");
    // Written so that a closed stdout (`serve | head -1`) never stops the server.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "frontdesk serving on http://{addr} (docs at /docs)");
    for line in app.status() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = out.flush();
    drop(out);
    app.run_until_stopped(frontdesk::application::shutdown_signal())
        .await;
    Ok(())
}

/// Writes the answer's chart to `path`, or says why there is none.
fn write_chart(
    reply: &frontdesk::agents::AgentReply,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let Some(chart) = &reply.chart else {
        anyhow::bail!(
            "this answer has no chart, so nothing was written to {}; charts come with trends and breakdowns, e.g. \"revenue trend for the last 6 months\" or \"attendance by course this month\"",
            path.display()
        );
    };
    std::fs::write(path, &chart.png)
        .with_context(|| format!("cannot write the chart to {}", path.display()))?;
    eprintln!(
        "chart written to {} ({}×{} PNG, {} bytes): {}",
        path.display(),
        chart.width,
        chart.height,
        chart.png.len(),
        chart.title
    );
    Ok(())
}
