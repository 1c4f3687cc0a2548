//! Rate-limit counts every instance sees: one document per subject and fixed window
//! (`{_id, n, expires_at}`), counted up with one upsert and forgotten by a TTL index.
//! Subjects are stored as keyed hashes (a token, an address or a chat user is never
//! written down). Used when `[server] shared_limits` is on, after the instance's own
//! limiter let the request through, so a flood at one instance costs it no writes.

use std::time::Duration;

use bson::doc;
use chrono::{DateTime, Utc};
use mongodb::options::ReturnDocument;

use super::{names, Store, StoreError};
use crate::protect::BlindKind;

/// A subject's count in the current window, and when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    pub resets_in: Duration,
}

impl Store {
    /// Counts one more event of `subject` in the fixed window of `window` that `now` falls
    /// in, across every instance, and returns the count with it.
    ///
    /// # Errors
    /// The server failed.
    pub async fn count_in_window(
        &self,
        subject: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<WindowCount, StoreError> {
        let width = i64::try_from(window.as_secs().max(1)).unwrap_or(60);
        let start = now.timestamp().div_euclid(width) * width;
        let ends = DateTime::<Utc>::from_timestamp(start + width, 0).unwrap_or(now);
        let id = format!(
            "{}@{start}",
            self.keys().blind_index(BlindKind::RateSubject, subject)
        );
        // Two first counts at once may both try to insert: the loser counts again.
        let mut tries = 0;
        let counted = loop {
            let counting = self
                .database()
                .collection::<bson::Document>(names::RATE_WINDOWS)
                .find_one_and_update(
                    doc! { "_id": &id },
                    doc! {
                        "$inc": { "n": 1_i64 },
                        // Kept one window past its end, for clocks a little apart.
                        "$setOnInsert": {
                            "expires_at": bson::DateTime::from_chrono(ends + chrono::Duration::seconds(width)),
                        },
                    },
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .projection(doc! { "n": 1 })
                .await;
            match counting {
                Err(e) if StoreError::is_duplicate_key(&e) && tries == 0 => tries += 1,
                other => break other?,
            }
        };
        let count = counted
            .and_then(|d| d.get_i64("n").ok())
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(1);
        Ok(WindowCount {
            count,
            resets_in: (ends - now).to_std().unwrap_or(Duration::from_secs(1)),
        })
    }
}
