//! The figures kept up to date as records are written, so dashboard queries read a few
//! documents instead of every record: each class's attendance counts (`classes.rs`) and
//! classes summed per day (`class_days.rs`),
//! paid revenue per day (`revenue_days.rs`), live orders and clients per course
//! (`enrolment_counts.rs`), clients per day joined and per day last seen
//! (`client_days.rs`) and per status (`client_statuses`, also `client_days.rs`), pending
//! payments per due day (`pending_days.rs`) and who came per day (`visit_days.rs`). Here: which of them a database carries, and
//! counting them once, from the records, for a database written before they existed.

use bson::{doc, Document};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use futures::TryStreamExt;

use super::{names, Store, StoreError};

/// One kept figure, with the marker (in `counters`) saying a database carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rollup {
    AttendanceCounts,
    ClassDays,
    RevenueDays,
    Enrolments,
    ClientDays,
    ClientStatuses,
    PendingDays,
    VisitDays,
}

impl Rollup {
    const ALL: [Self; 8] = [
        Self::AttendanceCounts,
        // After the counts it sums.
        Self::ClassDays,
        Self::RevenueDays,
        Self::Enrolments,
        Self::ClientDays,
        Self::ClientStatuses,
        Self::PendingDays,
        Self::VisitDays,
    ];
    /// Raised when a rollup's shape changes, so it is counted again.
    /// (2: pending days and course enrolments split by client into parts; 3: the ids
    /// of days and pairs written at every order are strings, see [`key_id`].)
    const VERSION: i32 = 3;

    fn marker(self) -> &'static str {
        match self {
            Self::AttendanceCounts => "attendance_counts",
            Self::ClassDays => "class_days",
            Self::RevenueDays => "revenue_days",
            Self::Enrolments => "enrolments",
            Self::ClientDays => "client_days",
            Self::ClientStatuses => "client_statuses",
            Self::PendingDays => "pending_days",
            Self::VisitDays => "visit_days",
        }
    }
}

/// Kept figures that every write of a kind would touch (a due day's pending payments, a
/// course's live orders, the clients per status) are split into this many documents, so
/// that writes at once rarely meet on one document (a write conflict that would
/// serialise every order); readers add the parts up. Each record always counts in the
/// same part (the part of its own id, or of its client's), so no part goes below zero;
/// a write retried after a conflict makes new ids and so, likely, writes other parts.
pub(crate) const PARTS: u8 = 16;

/// The part of a split figure that the record with `id` counts in.
pub(crate) fn part_of(id: crate::domain::ObjectId) -> i32 {
    // The last bytes of an id are a counter: consecutive ids land in different parts.
    i32::from(id.bytes()[11] % PARTS)
}

/// The `_id` of a kept figure's document, from the values that name it (a day, a
/// currency, a course…): one string, so that each write finds its document by a point
/// lookup on every server (the local test server scans a collection for a document-
/// valued `_id`).
pub(crate) fn key_id(parts: &[&bson::Bson]) -> String {
    let text: Vec<String> = parts
        .iter()
        .map(|b| match b {
            bson::Bson::DateTime(t) => t.timestamp_millis().to_string(),
            bson::Bson::ObjectId(id) => id.to_hex(),
            // `%` and `|` written as `%25` and `%7C`: no two lists make one id.
            bson::Bson::String(s) => s.replace('%', "%25").replace('|', "%7C"),
            other => other.to_string(),
        })
        .collect();
    text.join("|")
}

/// The UTC midnight at or before `t`: day totals are kept per UTC day.
pub(crate) fn day_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// The UTC midnight at or after `t`.
pub(crate) fn day_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = day_of(t);
    if day == t {
        day
    } else {
        day + Duration::days(1)
    }
}

impl Store {
    /// Counts, from the records, every kept figure this database does not carry yet,
    /// and marks each done so later starts skip it. Run at start-up, before serving
    /// (a write made by another instance during the count could be missed). Returns
    /// the figures counted from existing records.
    ///
    /// # Errors
    /// The server failed.
    pub async fn ensure_rollups(&self) -> Result<Vec<&'static str>, StoreError> {
        let carried = self.carried().await?;
        let mut counted = Vec::new();
        for rollup in Rollup::ALL {
            // Classes' day sums add up their attendance counts: counted again with them.
            let counts_again =
                rollup == Rollup::ClassDays && counted.contains(&Rollup::AttendanceCounts.marker());
            if !counts_again && carried.contains(&rollup.marker()) {
                continue;
            }
            if self.count(rollup).await? {
                counted.push(rollup.marker());
            }
        }
        Ok(counted)
    }

    /// Counts every kept figure again from the records: after the database was written
    /// other than through frontdesk (a script, one collection restored from a backup).
    /// Returns the figures counted. Run it while no instance is serving.
    ///
    /// # Errors
    /// The server failed.
    pub async fn recount_rollups(&self) -> Result<Vec<&'static str>, StoreError> {
        for rollup in Rollup::ALL {
            self.count(rollup).await?;
        }
        Ok(Rollup::ALL.iter().map(|r| r.marker()).collect())
    }

    /// Counts `rollup` from the records and marks it done; whether there were records.
    async fn count(&self, rollup: Rollup) -> Result<bool, StoreError> {
        let counted = self.count_from_records(rollup).await;
        self.data_changed();
        counted
    }

    async fn count_from_records(&self, rollup: Rollup) -> Result<bool, StoreError> {
        let had_records = match rollup {
            Rollup::AttendanceCounts => self.recount_attendance().await?,
            Rollup::ClassDays => self.recount_class_days().await?,
            Rollup::RevenueDays => self.recount_revenue_days().await?,
            Rollup::Enrolments => self.recount_enrolments().await?,
            Rollup::ClientDays => self.recount_client_days().await?,
            Rollup::ClientStatuses => self.recount_client_statuses().await?,
            Rollup::PendingDays => self.recount_pending_days().await?,
            Rollup::VisitDays => self.recount_visit_days().await?,
        };
        self.rollup_done(rollup).await?;
        Ok(had_records)
    }

    /// The markers of the figures this database carries at the current version (one
    /// read at start-up).
    async fn carried(&self) -> Result<Vec<&'static str>, StoreError> {
        let markers: Vec<&str> = Rollup::ALL.iter().map(|r| r.marker()).collect();
        let found: Vec<Document> = self
            .markers()
            .find(doc! { "_id": { "$in": &markers }, "version": { "$gte": Rollup::VERSION } })
            .await?
            .try_collect()
            .await?;
        Ok(markers
            .into_iter()
            .filter(|m| {
                found
                    .iter()
                    .any(|d| d.get_str("_id").is_ok_and(|id| id == *m))
            })
            .collect())
    }

    /// Records that this database carries `rollup` (after a count, or a seed that
    /// wrote it).
    pub(crate) async fn rollup_done(&self, rollup: Rollup) -> Result<(), StoreError> {
        self.markers()
            .update_one(
                doc! { "_id": rollup.marker() },
                doc! { "$set": { "version": Rollup::VERSION } },
            )
            .upsert(true)
            .await?;
        Ok(())
    }

    fn markers(&self) -> mongodb::Collection<Document> {
        self.db.collection(names::COUNTERS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn key_ids_of_different_values_differ() {
        let id = |parts: &[&str]| {
            let parts: Vec<bson::Bson> = parts.iter().map(|p| (*p).into()).collect();
            key_id(&parts.iter().collect::<Vec<_>>())
        };
        // A separator inside a value cannot make two lists one id.
        assert_ne!(id(&["a|", "b"]), id(&["a", "|b"]));
        assert_ne!(id(&["a%7C", "b"]), id(&["a|", "b"]));
        assert_eq!(id(&["Yoga", "upi"]), "Yoga|upi");
        let day = bson::DateTime::from_millis(1_764_028_800_000);
        assert_eq!(key_id(&[&day.into(), &3.into()]), "1764028800000|3");
    }

    #[test]
    fn a_period_is_cut_at_utc_midnights_inside_it() {
        let t = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        // 1 November 00:00 in India is 31 October 18:30 UTC.
        let start = Utc.with_ymd_and_hms(2026, 10, 31, 18, 30, 0).unwrap();
        assert_eq!(day_at_or_after(start), t(1, 0, 0));
        assert_eq!(day_of(t(25, 18, 30)), t(25, 0, 0));
        // A midnight is its own day either way.
        assert_eq!(day_at_or_after(t(3, 0, 0)), t(3, 0, 0));
        assert_eq!(day_of(t(3, 0, 0)), t(3, 0, 0));
    }
}
