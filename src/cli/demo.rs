//! `frontdesk demo`: the shared local database with the demo data (loaded once, kept
//! for the next commands), the whole application, and a console chat; Ctrl-C or SIGTERM
//! stops it all but the database, which `frontdesk localdb stop` stops.

use super::prelude::*;

pub async fn run_demo(settings: &Settings) -> Result<()> {
    let db = app::open_database(settings).await?;
    let shared = app::running_localdb().is_some_and(|(url, _)| url == db.url);
    let where_ = match &db.local {
        Some(local) => format!("a local {} server (stopped on exit)", local.kind().as_str()),
        None if shared => format!(
            "the shared local database at {} (kept between runs: `ask`, `chat` and `eval` use it too; `frontdesk localdb stop` stops it)",
            db.url
        ),
        None => frontdesk::store::redact_url(&db.url),
    };
    println!("frontdesk demo — {} on {where_}", settings.studio.name);
    if db.store.is_empty().await? {
        println!("loading the demo data (500 clients, a year of classes)…");
        seed_demo(settings, &db).await?;
    }
    let counts = db.store.estimated_counts().await?;
    println!(
        "{} clients, {} courses, {} orders; planner: {:?}",
        counts.clients, counts.courses, counts.orders, settings.llm.planner
    );
    let secret = match &settings.jwt_secret {
        Some(s) => s.expose().to_owned(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    // The demo's port may be taken (another demo): then any free one.
    let bind = if std::net::TcpListener::bind(&settings.bind).is_ok() {
        settings.bind.clone()
    } else {
        println!("{} is taken: the REST API takes a free port", settings.bind);
        "127.0.0.1:0".to_owned()
    };
    let app = Application::build_on(settings, db, &bind, secret.as_bytes()).await?;
    let addr = app.addr();
    let keys = frontdesk::api::JwtKeys::new(secret.as_bytes());
    let token = keys.mint(
        "manager",
        "demo",
        settings.clock().now(),
        chrono::Duration::hours(12),
    )?;
    println!("REST API on http://{addr} (docs at http://{addr}/docs); a manager token for it:\n  {token}");
    for line in app.status() {
        println!("  {line}");
    }
    println!("try: \"What classes are available this week?\", \"status of order #12345\", \"/agent dashboard\" then \"revenue this month\"");
    let agents = app.agents().clone();
    let store = app.database().store.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    // The console until /quit, end of input, SIGTERM or Ctrl-C; then everything stops,
    // the local database last.
    let result = tokio::select! {
        r = chat(&agents, &store, AgentKind::Support, None) => r,
        () = frontdesk::application::shutdown_signal() => {
            println!();
            Ok(())
        }
    };
    drop((agents, store));
    let _ = stop.send(());
    let _ = running.await;
    result
}
