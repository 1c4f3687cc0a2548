//! The whole service as one value: [`Application::build`] opens the database and wires
//! one `Agents`, one `Gateway`, the chat adapters, the outbox worker, the scheduler and
//! the HTTP router; [`Application::run_until_stopped`] serves until told to stop, then
//! shuts down in order: stop taking messages and requests, answer those in flight
//! (within the grace period), stop the worker and scheduler (handing back their leases),
//! and last the local database, if frontdesk started one. `serve`, the demo and the
//! tests all start it the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::agents::Agents;
use crate::app::{self, Database, StartupError};
use crate::config::Settings;
use crate::gateway::Gateway;
use crate::integrations::scheduler::Scheduler;
use crate::integrations::webhooks::{self, WebhookState};
use crate::integrations::worker::{worker_name, OutboxWorker};
use crate::integrations::{ChatRoutes, Providers};

/// How long shutdown waits for messages and requests in flight, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// What could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("cannot listen on {bind}: {source}")]
    Listen {
        bind: String,
        source: std::io::Error,
    },
    #[error("providers: {0}")]
    Providers(String),
}

/// The running service's parts.
pub struct Application {
    db: Database,
    agents: Agents,
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    addr: SocketAddr,
    /// The chat adapters' tasks.
    adapters: JoinSet<()>,
    /// The outbox worker and the scheduler.
    background: JoinSet<()>,
    stop_background: watch::Sender<bool>,
    status: Vec<String>,
    grace: Duration,
    http_limits: crate::config::HttpLimits,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the database the settings name (or the local one) and wires everything,
    /// listening on `bind` (port 0: any free port) with `jwt_secret` for API tokens.
    ///
    /// # Errors
    /// The database, a provider's settings, or the address.
    pub async fn build(
        settings: &Settings,
        bind: &str,
        jwt_secret: &[u8],
    ) -> Result<Self, ApplicationError> {
        let db = app::open_database(settings).await?;
        Self::build_on(settings, db, bind, jwt_secret).await
    }

    /// [`Application::build`] over a database already open.
    ///
    /// # Errors
    /// A provider's settings, or the address.
    pub async fn build_on(
        settings: &Settings,
        db: Database,
        bind: &str,
        jwt_secret: &[u8],
    ) -> Result<Self, ApplicationError> {
        let agents = app::agents(settings, &db.store, false);
        let routes = ChatRoutes::default();
        let providers = Providers::from_settings(settings, routes.clone())
            .map_err(|e| ApplicationError::Providers(e.to_string()))?;
        let gateway = Gateway::new(
            agents.clone(),
            settings.gateway.clone(),
            providers.email.clone(),
            settings.studio.name.clone(),
            settings.clock(),
        );
        let chat = crate::gateway::platforms::start(settings, &gateway, &routes).await;
        let mut status: Vec<String> = chat.status.iter().map(ToString::to_string).collect();
        status.extend(chat.status_lines.iter().cloned());
        for (what, state) in providers.summary() {
            tracing::info!("{what}: {state}");
            status.push(format!("{what:<9} {state}"));
        }
        for why in &settings.providers.half_set {
            tracing::warn!("{why}");
            status.push(format!("warning   {why}"));
        }
        let providers = Arc::new(providers);
        let owner = worker_name(&settings.hostname, 0);
        let (stop_background, stopped) = watch::channel(false);
        let mut background = JoinSet::new();
        let worker = OutboxWorker::new(
            db.store.clone(),
            settings.clock(),
            providers.clone(),
            settings.integrations.clone(),
            owner.clone(),
        );
        background.spawn(worker.run_until(stopped.clone()));
        let scheduler = Scheduler::new(
            db.store.clone(),
            settings.clock(),
            providers,
            settings.integrations.clone(),
            owner,
        );
        background.spawn(scheduler.run_until(stopped));
        let payments = webhooks::routes(WebhookState::from_settings(settings, db.store.clone()));
        let state = app::api_state_with(settings, &db.store, agents.clone(), jwt_secret);
        let router = crate::api::router(state)
            .merge(chat.webhooks)
            .merge(payments);
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| ApplicationError::Listen {
                bind: bind.to_owned(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ApplicationError::Listen {
                bind: bind.to_owned(),
                source,
            })?;
        Ok(Self {
            db,
            agents,
            gateway,
            listener,
            router,
            addr,
            adapters: chat.tasks,
            background,
            stop_background,
            status,
            grace: settings.shutdown_grace,
            http_limits: settings.http,
        })
    }

    /// Where the HTTP server listens.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The one `Agents` every entry point uses (the console chat too).
    #[must_use]
    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    /// The database.
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// One line per chat platform and provider, for the operator.
    #[must_use]
    pub fn status(&self) -> &[String] {
        &self.status
    }

    /// Serves until `stop` completes, then shuts down in order (see the module doc).
    /// Messages and requests still running after the grace period are cut off, and
    /// said so in the log.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) {
        let Self {
            db,
            gateway,
            listener,
            router,
            mut adapters,
            mut background,
            stop_background,
            grace,
            http_limits,
            ..
        } = self;
        let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
        let http = tokio::spawn(async move {
            let stopped = async {
                let _ = http_stopped.await;
            };
            if let Err(e) = crate::api::serve(listener, router, http_limits, stopped).await {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
        stop.await;
        tracing::info!(grace_secs = grace.as_secs_f64(), "shutting down");
        // No new messages or requests: the adapters stop receiving first (a message they
        // have not taken stays with the platform for the next instance); those in flight
        // are answered.
        adapters.shutdown().await;
        let _ = stop_http.send(());
        let (answered, http_done) = tokio::join!(
            gateway.close_and_wait(grace),
            tokio::time::timeout(grace, http)
        );
        if !answered {
            tracing::warn!(
                in_flight = gateway.in_flight(),
                "messages still in flight after the grace period"
            );
        }
        if http_done.is_err() {
            tracing::warn!("requests still in flight after the grace period");
        }
        // The worker finishes its delivery, the scheduler hands back its leases.
        let _ = stop_background.send(true);
        let drained = tokio::time::timeout(grace, async {
            while background.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("the outbox worker or scheduler did not stop in time");
            background.shutdown().await;
        }
        // Last: the local database, if this process started it.
        drop(db);
        tracing::info!("stopped");
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT). A second Ctrl-C while shutting down exits
/// at once.
pub async fn shutdown_signal() {
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM not handled");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping at once");
            std::process::exit(130);
        }
    });
}
