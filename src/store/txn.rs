//! Transactions: ending one (commit what was written, abort on an error, and mark the
//! answers kept from earlier reads stale) and running one again when it failed only
//! because another touched the same documents.

use std::future::Future;
use std::time::{Duration, Instant};

use mongodb::ClientSession;

use super::{Store, StoreError};

impl Store {
    /// Commits `session` when `written` succeeded, aborts it otherwise. After a commit
    /// (even one whose outcome is unknown) every kept answer is stale.
    pub(crate) async fn finish<T>(
        &self,
        mut session: ClientSession,
        written: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match written {
            Ok(value) => {
                let committed = session.commit_transaction().await;
                self.shared.data_changed();
                committed?;
                Ok(value)
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        }
    }
}

/// The tries of a write that met a transient conflict (another transaction on the same
/// document, a lock still held by a transaction of a crashed process): a pause between
/// them that grows from 10 ms to 250 ms with random jitter (so writers that collided do
/// not collide again in step), until the store's conflict budget is spent. The caller
/// then returns the conflict, which the API answers 503 with `Retry-After`.
#[derive(Debug)]
pub(crate) struct ConflictRetry {
    tries: u32,
    give_up_at: Instant,
}

impl ConflictRetry {
    pub(crate) fn new(budget: Duration) -> Self {
        Self {
            tries: 0,
            give_up_at: Instant::now() + budget,
        }
    }

    /// After a transient failure: pauses and says to try again, or says to give up when
    /// the pause would end past the budget.
    pub(crate) async fn pause(&mut self) -> bool {
        let wait = Self::wait(self.tries);
        self.tries = self.tries.saturating_add(1);
        if Instant::now() + wait > self.give_up_at {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }

    /// The pause after try `tries + 1`: half to one and a half times 10 ms doubled per
    /// try, at most 250 ms.
    fn wait(tries: u32) -> Duration {
        let base = (10u64 << tries.min(5)).min(250);
        let jittered = base / 2 + rand::random::<u64>() % base.max(1);
        Duration::from_millis(jittered)
    }
}

impl Store {
    /// A fresh [`ConflictRetry`] with this store's budget.
    pub(crate) fn conflict_retry(&self) -> ConflictRetry {
        ConflictRetry::new(self.shared.conflict_budget())
    }

    /// Runs `write` (one whole transaction) until it succeeds, fails for a reason other
    /// than a transient conflict, or the conflict budget is spent.
    pub(crate) async fn retrying<T, F, Fut>(&self, mut write: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut retry = self.conflict_retry();
        loop {
            match write().await {
                Err(e) if e.is_transient() && retry.pause().await => {}
                done => return done,
            }
        }
    }

    /// How long a write keeps retrying through transient conflicts before it gives up
    /// (`[database] conflict_retry_secs`), and how long tickets are kept
    /// (`[memory] ticket_retention_days`).
    pub fn set_policy(&self, conflict_budget: Duration, ticket_retention_days: u32) {
        self.shared.set_conflict_budget(conflict_budget);
        self.shared.set_ticket_retention_days(ticket_retention_days);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_with_jitter_and_stay_bounded() {
        for tries in 0..20 {
            let base = (10u64 << tries.min(5)).min(250);
            for _ in 0..50 {
                let ms = u64::try_from(ConflictRetry::wait(tries).as_millis()).unwrap();
                assert!(
                    ms >= base / 2 && ms < base / 2 + base,
                    "try {tries}: {ms} ms"
                );
            }
        }
    }

    #[tokio::test]
    async fn the_budget_ends_the_tries() {
        let started = Instant::now();
        let mut retry = ConflictRetry::new(Duration::from_millis(300));
        let mut tries = 0;
        while retry.pause().await {
            tries += 1;
        }
        assert!(tries >= 2, "{tries} tries");
        assert!(
            started.elapsed() <= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    }
}
