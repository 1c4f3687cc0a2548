//! Transactions: ending one (commit what was written, abort on an error) and running
//! one again when it failed only because another touched the same documents.

use std::future::Future;

use mongodb::ClientSession;

use super::StoreError;

/// Commits `session` when `written` succeeded, aborts it otherwise.
pub(crate) async fn finish<T>(
    mut session: ClientSession,
    written: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match written {
        Ok(value) => {
            session.commit_transaction().await?;
            Ok(value)
        }
        Err(e) => {
            let _ = session.abort_transaction().await;
            Err(e)
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
