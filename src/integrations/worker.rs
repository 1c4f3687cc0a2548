//! The outbox worker: claims due items with a lease, delivers each through its provider,
//! and records the outcome — done; back to pending with exponential backoff after a failure
//! retrying may fix; dead (with the last error) after too many attempts or a failure
//! retrying cannot fix. Any number of workers, in any number of instances, may run against
//! one database.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Providers;
use crate::config::IntegrationSettings;
use crate::domain::SharedClock;
use crate::store::{OutboxItem, Store, StoreError};
use crate::telemetry::metrics::Metrics;

/// Why one delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// Whether trying again later may succeed (an outage, a 5xx, a 429).
    pub retryable: bool,
    pub message: String,
}

impl DeliveryError {
    #[must_use]
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            message: message.into(),
        }
    }

    #[must_use]
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            message: message.into(),
        }
    }
}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        Self::retry(e.to_string())
    }
}

/// What happened to one claimed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Done,
    Retry { at: DateTime<Utc>, error: String },
    Dead { error: String },
}

/// One outbox worker.
#[derive(Clone)]
pub struct OutboxWorker {
    store: Store,
    clock: SharedClock,
    providers: Arc<Providers>,
    settings: IntegrationSettings,
    owner: String,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// A worker named `owner` (unique per instance and worker: it is the lease holder).
    #[must_use]
    pub fn new(
        store: Store,
        clock: SharedClock,
        providers: Arc<Providers>,
        settings: IntegrationSettings,
        owner: impl Into<String>,
    ) -> Self {
        Self {
            store,
            clock,
            providers,
            settings,
            owner: owner.into(),
            metrics: Metrics::global(),
        }
    }

    /// Counts into `metrics` instead of the process's registry.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Claims and delivers one due item; `None` when nothing is due.
    ///
    /// # Errors
    /// The database failed (the item, if claimed, is retried after its lease).
    pub async fn run_once(&self) -> Result<Option<(OutboxItem, Delivered)>, StoreError> {
        let result = self.claim_and_deliver().await;
        match &result {
            Ok(Some((item, outcome))) => {
                let outcome = match outcome {
                    Delivered::Done => "done",
                    Delivered::Retry { .. } => "retry",
                    Delivered::Dead { .. } => "dead",
                };
                self.metrics.outbox_delivery(item.job.kind(), outcome);
            }
            Ok(None) => {}
            Err(_) => self.metrics.error("outbox_store"),
        }
        result
    }

    async fn claim_and_deliver(&self) -> Result<Option<(OutboxItem, Delivered)>, StoreError> {
        let now = self.clock.now();
        let Some(item) = self
            .store
            .claim_outbox_item(&self.owner, now, self.settings.outbox_lease)
            .await?
        else {
            return Ok(None);
        };
        let result = self.deliver_holding_lease(&item).await;
        let outcome = match result {
            Ok(()) => {
                let kept = self
                    .store
                    .complete_outbox_item(item.id, &self.owner, self.clock.now())
                    .await?;
                if !kept {
                    // The heartbeat could not reach the database for a whole lease and another
                    // worker took the item over: it may be delivered twice.
                    tracing::warn!(key = %item.key, kind = item.job.kind(), "outbox lease lost during delivery");
                }
                Delivered::Done
            }
            Err(e) => {
                let out_of_tries = item.attempts >= self.settings.outbox_max_attempts;
                if e.retryable && !out_of_tries {
                    let at = self.clock.now() + self.backoff(item.attempts);
                    self.store
                        .fail_outbox_item(item.id, &self.owner, &e.message, Some(at))
                        .await?;
                    Delivered::Retry {
                        at,
                        error: e.message,
                    }
                } else {
                    self.store
                        .fail_outbox_item(item.id, &self.owner, &e.message, None)
                        .await?;
                    tracing::error!(key = %item.key, kind = item.job.kind(), attempts = item.attempts, error = %crate::protect::mask::text(&e.message), "outbox item parked as dead");
                    Delivered::Dead { error: e.message }
                }
            }
        };
        tracing::debug!(key = %item.key, kind = item.job.kind(), ?outcome, "outbox item handled");
        Ok(Some((item, outcome)))
    }

    /// Delivers `item`, renewing the lease every third of it meanwhile: a crashed
    /// instance's item is taken over within one lease, and a slow provider does not make
    /// a live worker lose its item.
    async fn deliver_holding_lease(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let lease = self.settings.outbox_lease;
        let delivery = super::deliver::deliver(&self.store, &self.providers, &self.clock, item);
        tokio::pin!(delivery);
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + lease / 3, lease / 3);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                result = &mut delivery => return result,
                _ = beat.tick() => {
                    let until = self.clock.now()
                        + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
                    match self.store.renew_outbox_lease(item.id, &self.owner, until).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(key = %item.key, "outbox lease taken over during delivery"),
                        Err(e) => tracing::warn!(key = %item.key, error = %e, "outbox lease not renewed"),
                    }
                }
            }
        }
    }

    /// The wait before attempt `attempts + 1`: the first retry delay, doubling, capped.
    fn backoff(&self, attempts: u32) -> chrono::Duration {
        let first = self.settings.outbox_first_retry;
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        let wait = first
            .saturating_mul(factor)
            .min(self.settings.outbox_max_retry);
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(15))
    }

    /// Delivers due items until the future is dropped: everything due, then a nap of the
    /// poll interval.
    pub async fn run(self) {
        let (_keep, stop) = tokio::sync::watch::channel(false);
        self.run_until(stop).await;
    }

    /// [`OutboxWorker::run`] until `stop` turns true: the item being delivered is
    /// finished (and marked) first, so this worker holds no lease when it returns.
    pub async fn run_until(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.run_once().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "outbox worker: database error"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.outbox_poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// The lease holder name of this process's worker number `n` on `host`
/// ([`Settings::hostname`](crate::config::Settings::hostname)).
#[must_use]
pub fn worker_name(host: &str, n: usize) -> String {
    format!(
        "{host}:{}:{n}:{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}
