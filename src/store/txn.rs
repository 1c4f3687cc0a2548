//! Transactions: ending one (commit what was written, abort on an error, and mark the
//! answers kept from earlier reads stale) and running one again when it failed only
//! because another touched the same documents.

use std::future::Future;

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

/// Runs `write` (one whole transaction) until it succeeds, fails for a reason other
/// than a transient conflict, or has been tried [`StoreError::CONFLICT_ATTEMPTS`] times.
pub(crate) async fn retrying<T, F, Fut>(mut write: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempts = 0u64;
    loop {
        attempts += 1;
        match write().await {
            Err(e) if e.is_transient() && attempts < StoreError::CONFLICT_ATTEMPTS => {
                tokio::time::sleep(StoreError::conflict_backoff(attempts)).await;
            }
            done => return done,
        }
    }
}
