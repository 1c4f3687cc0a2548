//! Pending payments per UTC due day and currency, kept up to date in the transaction of
//! every write that makes a payment pending or ends that (an order made, a payment
//! recorded, an order cancelled, an import; the seed writes them), so the outstanding
//! balance adds up a few hundred small documents (each day split by client into
//! [`PARTS`](super::rollups::PARTS), so orders made at once rarely write the same one): what fell due before today's UTC
//! midnight from the days, the part of today before now from the payments.

use std::collections::BTreeMap;

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use super::analytics::{get_i64, get_u64};
use super::rollups::{day_of, part_of};
use super::{names, Store, StoreError};
use crate::domain::{Payment, PaymentStatus};

/// Sum in minor units and number of payments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Owed {
    pub minor: i64,
    pub payments: u64,
}

impl Owed {
    fn add(&mut self, minor: i64, payments: u64) {
        self.minor += minor;
        self.payments += payments;
    }
}

/// Pending and, of it, overdue, per currency code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outstanding {
    pub pending: BTreeMap<String, Owed>,
    pub overdue: BTreeMap<String, Owed>,
}

/// A due day's document: the day, the currency and the part of the clients it counts.
type DayKey = (DateTime<Utc>, String, i32);

/// `payments` summed per due day, currency and part (whatever their status: the caller
/// picks the ones that start or stop being pending).
fn per_day<'a>(payments: impl IntoIterator<Item = &'a Payment>) -> BTreeMap<DayKey, (i64, i64)> {
    let mut days: BTreeMap<DayKey, (i64, i64)> = BTreeMap::new();
    for p in payments {
        let key = (
            day_of(p.due_at),
            p.amount.currency().code().to_owned(),
            part_of(p.id),
        );
        let sum = days.entry(key).or_default();
        sum.0 += p.amount.minor();
        sum.1 += 1;
    }
    days
}

fn day_key(day: DateTime<Utc>, currency: &str, part: i32) -> String {
    super::rollups::key_id(&[
        &bson::DateTime::from_chrono(day).into(),
        &currency.into(),
        &part.into(),
    ])
}

/// The day documents for the pending ones of `payments` (the seed, a recount).
pub(crate) fn pending_day_documents<'a>(
    payments: impl IntoIterator<Item = &'a Payment>,
) -> Vec<Document> {
    per_day(
        payments
            .into_iter()
            .filter(|p| p.status == PaymentStatus::Pending),
    )
    .into_iter()
    .map(|((day, currency, part), (minor, n))| {
        let key = day_key(day, &currency, part);
        doc! {
            "_id": key,
            "day": bson::DateTime::from_chrono(day),
            "currency": currency,
            "minor": minor,
            "n": n,
        }
    })
    .collect()
}

impl Store {
    fn pending_days(&self) -> Collection<Document> {
        self.db.collection(names::PENDING_DAYS)
    }

    /// Adds `payments` to their due days (`step` 1: they became pending) or takes them
    /// away (`step` -1: they stopped being pending), inside the transaction that
    /// writes them.
    pub(crate) async fn count_pending_in(
        &self,
        session: &mut ClientSession,
        payments: &[Payment],
        step: i64,
    ) -> Result<(), StoreError> {
        for ((day, currency, part), (minor, n)) in per_day(payments) {
            self.pending_days()
                .update_one(
                    doc! { "_id": day_key(day, &currency, part) },
                    doc! {
                        "$inc": { "minor": step * minor, "n": step * n },
                        "$setOnInsert": {
                            "day": bson::DateTime::from_chrono(day),
                            "currency": &currency,
                        },
                    },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        Ok(())
    }

    /// What is pending, and of it what fell due before `now`, per currency.
    pub(crate) async fn outstanding_at(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Outstanding, StoreError> {
        let today = day_of(now);
        let days = async {
            let docs: Vec<Document> = self
                .pending_days()
                .find(doc! { "n": { "$gt": 0 } })
                .await?
                .try_collect()
                .await?;
            Ok::<_, StoreError>(docs)
        };
        // Today before now, from the payments themselves (an index range of hours).
        let today_due = async {
            let pipeline = vec![
                doc! { "$match": {
                    "status": "pending",
                    "due_at": {
                        "$gte": bson::DateTime::from_chrono(today),
                        "$lt": bson::DateTime::from_chrono(now),
                    },
                } },
                doc! { "$group": {
                    "_id": "$amount.currency",
                    "minor": { "$sum": "$amount.minor" },
                    "n": { "$sum": 1 },
                } },
            ];
            let docs: Vec<Document> = self
                .payments()
                .aggregate(pipeline)
                .await?
                .try_collect()
                .await?;
            Ok::<_, StoreError>(docs)
        };
        let (days, today_due) = futures::try_join!(days, today_due)?;
        let mut out = Outstanding::default();
        for d in &days {
            let currency = d.get_str("currency").unwrap_or_default().to_owned();
            let (minor, n) = (get_i64(d, "minor"), get_u64(d, "n"));
            out.pending
                .entry(currency.clone())
                .or_default()
                .add(minor, n);
            if d.get_datetime("day").is_ok_and(|t| t.to_chrono() < today) {
                out.overdue.entry(currency).or_default().add(minor, n);
            }
        }
        for d in &today_due {
            let currency = d.get_str("_id").unwrap_or_default().to_owned();
            out.overdue
                .entry(currency)
                .or_default()
                .add(get_i64(d, "minor"), get_u64(d, "n"));
        }
        Ok(out)
    }

    /// Rebuilds every day from the pending payments (a database from before the days
    /// were kept). Returns whether there were any.
    pub(crate) async fn recount_pending_days(&self) -> Result<bool, StoreError> {
        let pending: Vec<Payment> = self
            .payments()
            .find(doc! { "status": "pending" })
            .await?
            .try_collect()
            .await?;
        let days = pending_day_documents(&pending);
        self.pending_days().delete_many(doc! {}).await?;
        for chunk in days.chunks(1000) {
            self.pending_days().insert_many(chunk).await?;
        }
        Ok(!pending.is_empty())
    }
}
