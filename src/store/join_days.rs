//! Clients and leads (not deleted) counted per UTC day they joined, kept up to date in
//! the transaction that adds or deletes each client (and written by the seed), so "new
//! clients this month" adds up about thirty small documents. A period's partial days at
//! its edges (a local midnight is not a UTC one) are counted from the clients.

use std::collections::BTreeMap;

use bson::{doc, Document};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use super::analytics::get_u64;
use super::rollups::{day_at_or_after, day_of};
use super::{names, Store, StoreError};
use crate::domain::Client;

/// The day documents for `clients` (those not deleted), as the seed writes them.
pub(crate) fn join_day_documents(clients: &[Client]) -> Vec<Document> {
    let mut days: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    for c in clients.iter().filter(|c| c.deleted_at.is_none()) {
        *days.entry(day_of(c.joined_at)).or_default() += 1;
    }
    days.into_iter()
        .map(|(day, n)| doc! { "_id": bson::DateTime::from_chrono(day), "clients": n })
        .collect()
}

fn between(start: DateTime<Utc>, end: DateTime<Utc>) -> Document {
    doc! {
        "$gte": bson::DateTime::from_chrono(start),
        "$lt": bson::DateTime::from_chrono(end),
    }
}

impl Store {
    fn join_days(&self) -> Collection<Document> {
        self.db.collection(names::JOIN_DAYS)
    }

    /// Counts a client who joined at `joined_at` in (`step` 1, added) or out (`step`
    /// -1, deleted), inside the transaction that writes the client.
    pub(crate) async fn count_join_in(
        &self,
        session: &mut ClientSession,
        joined_at: DateTime<Utc>,
        step: i64,
    ) -> Result<(), StoreError> {
        self.join_days()
            .update_one(
                doc! { "_id": bson::DateTime::from_chrono(day_of(joined_at)) },
                doc! { "$inc": { "clients": step } },
            )
            .upsert(true)
            .session(session)
            .await?;
        Ok(())
    }

    /// Clients and leads (not deleted) who joined in `[start, end)`: whole UTC days
    /// from their documents, the rest from the clients.
    pub(crate) async fn joined_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (first_day, last_day) = (day_at_or_after(start), day_of(end));
        if first_day >= last_day {
            return self.joined_counted(start, end).await;
        }
        let (days, before, after) = futures::try_join!(
            async {
                let docs: Vec<Document> = self
                    .join_days()
                    .find(doc! { "_id": between(first_day, last_day) })
                    .await?
                    .try_collect()
                    .await?;
                Ok::<_, StoreError>(docs.iter().map(|d| get_u64(d, "clients")).sum::<u64>())
            },
            self.joined_counted(start, first_day),
            self.joined_counted(last_day, end),
        )?;
        Ok(days + before + after)
    }

    async fn joined_counted(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if start >= end {
            return Ok(0);
        }
        Ok(self
            .clients()
            .count_documents(doc! { "deleted_at": null, "joined_at": between(start, end) })
            .await?)
    }

    /// Rebuilds every day from the clients (a database from before the days were kept).
    /// Returns whether there were any.
    pub(crate) async fn recount_join_days(&self) -> Result<bool, StoreError> {
        let pipeline = vec![
            doc! { "$match": { "deleted_at": null } },
            doc! { "$group": {
                "_id": { "$dateToString": { "format": "%Y-%m-%d", "date": "$joined_at" } },
                "clients": { "$sum": 1 },
            } },
        ];
        let groups: Vec<Document> = self
            .clients()
            .aggregate(pipeline)
            .await?
            .try_collect()
            .await?;
        let days: Vec<Document> = groups
            .iter()
            .filter_map(|g| {
                let day = NaiveDate::parse_from_str(g.get_str("_id").ok()?, "%Y-%m-%d").ok()?;
                let at = day.and_time(NaiveTime::MIN).and_utc();
                Some(doc! {
                    "_id": bson::DateTime::from_chrono(at),
                    "clients": get_u64(g, "clients") as i64,
                })
            })
            .collect();
        self.join_days().delete_many(doc! {}).await?;
        for chunk in days.chunks(1000) {
            self.join_days().insert_many(chunk).await?;
        }
        Ok(!days.is_empty())
    }
}
