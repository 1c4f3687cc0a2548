//! `frontdesk rotate-key`: re-seals clients' personal data and re-computes their blind
//! indexes under the current key, in batches; then the remembered conversation turns
//! and the tickets' reasons. Only records with something under another
//! key (or not sealed at all, from before encryption) are read, so a second run after an
//! interruption continues where the first stopped and skips what is already done.

use bson::{doc, Bson};
use futures::TryStreamExt;

use super::sealed::{self, ClientDoc};
use super::{Store, StoreError};

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Records that needed rotating when the run started.
    pub to_do: u64,
    /// Records re-sealed under the current key by this run.
    pub rotated: u64,
    /// Records that could not be opened (a key not configured) and were left as they are.
    pub failed: u64,
    /// Records changed by someone else between read and write, left for the next run.
    pub skipped: u64,
    /// Batches written.
    pub batches: u64,
    /// Remembered conversation turns re-sealed under the current key.
    pub turns_resealed: u64,
    /// Turns forgotten: unsealed (from before turns were sealed) or under a lost key.
    pub turns_forgotten: u64,
    /// Ticket reasons re-sealed (or sealed, from before reasons were).
    pub tickets_resealed: u64,
    /// Tickets whose reason could not be opened, left as they are.
    pub tickets_failed: u64,
}

impl Store {
    /// How many clients still have personal data under another key (or unsealed).
    ///
    /// # Errors
    /// The server failed.
    pub async fn clients_to_rotate(&self) -> Result<u64, StoreError> {
        Ok(self
            .clients()
            .count_documents(sealed::not_current_filter(self.keys()))
            .await?)
    }

    /// The key id the newest client is sealed with when this keyring does not hold that
    /// key: the data was written with another key (a new shell without the key, another
    /// deployment's key), and no client will be found by email or phone.
    ///
    /// # Errors
    /// The server failed.
    pub async fn foreign_key_id(&self) -> Result<Option<String>, StoreError> {
        let newest = self
            .clients()
            .find_one(doc! {})
            .sort(doc! { "_id": -1 })
            .projection(doc! { "_id": 0, "email.k": 1 })
            .await?;
        let id = newest
            .as_ref()
            .and_then(|d| d.get_document(sealed::EMAIL).ok())
            .and_then(|email| email.get_str("k").ok());
        Ok(id
            .filter(|id| {
                self.keys().current_id() != *id && !self.keys().old_ids().iter().any(|o| o == id)
            })
            .map(str::to_owned))
    }

    /// Re-seals every client not yet under the current key, `batch` at a time, calling
    /// `progress` after each batch. `max_batches` stops early (as an interruption would).
    /// Each record is written with `$set` of its sealed fields only, and only if those
    /// have not changed since it was read.
    ///
    /// # Errors
    /// The server failed.
    pub async fn rotate_keys(
        &self,
        batch: usize,
        max_batches: Option<u64>,
        mut progress: impl FnMut(&RotationReport),
    ) -> Result<RotationReport, StoreError> {
        let keys = self.keys().clone();
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut report = RotationReport {
            to_do: self.clients_to_rotate().await?,
            ..RotationReport::default()
        };
        let mut after: Option<bson::oid::ObjectId> = None;
        loop {
            if max_batches.is_some_and(|m| report.batches >= m) {
                break;
            }
            let mut filter = sealed::not_current_filter(&keys);
            if let Some(id) = after {
                filter.insert("_id", doc! { "$gt": id });
            }
            let docs: Vec<ClientDoc> = self
                .client_docs()
                .find(filter)
                .sort(doc! { "_id": 1 })
                .limit(batch)
                .await?
                .try_collect()
                .await?;
            let Some(last) = docs.last() else {
                break;
            };
            after = Some(last.id);
            for stored in docs {
                if stored.is_current(&keys) {
                    continue;
                }
                let guard = doc! {
                    "_id": stored.id,
                    sealed::EMAIL: stored.email.clone(),
                    sealed::PHONE: stored.phone.clone().unwrap_or(Bson::Null),
                    sealed::NOTES: stored.notes.clone().unwrap_or(Bson::Null),
                };
                let client = match stored.open(&keys) {
                    Ok(client) => client,
                    Err(e) => {
                        tracing::warn!(error = %e, "a client could not be rotated");
                        report.failed += 1;
                        continue;
                    }
                };
                let fresh = ClientDoc::seal(&keys, &client);
                let set = doc! {
                    sealed::EMAIL: fresh.email,
                    sealed::EMAIL_BI: fresh.email_bi,
                    sealed::PHONE: fresh.phone.unwrap_or(Bson::Null),
                    sealed::PHONE_BI: fresh.phone_bi,
                    sealed::NOTES: fresh.notes.unwrap_or(Bson::Null),
                };
                let written = self
                    .clients()
                    .update_one(guard, doc! { "$set": set })
                    .await?;
                if written.modified_count == 1 {
                    report.rotated += 1;
                } else {
                    report.skipped += 1;
                }
            }
            report.batches += 1;
            progress(&report);
        }
        // What the conversations and the hand-offs hold, after the clients.
        if max_batches.is_none_or(|m| report.batches < m) {
            (report.turns_resealed, report.turns_forgotten) = self.rotate_turns().await?;
            (report.tickets_resealed, report.tickets_failed) = self.rotate_tickets().await?;
        }
        Ok(report)
    }
}
