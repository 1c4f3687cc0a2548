//! Paid revenue per UTC day, course, method and currency, kept up to date in the
//! transaction that records each payment (and written by the seed), so revenue over a
//! month reads a few hundred small documents instead of every payment. A period's
//! partial days at its edges (a local midnight is not a UTC one) are read from the
//! payments themselves, so the figures are exact for any period.

use std::collections::BTreeMap;

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use super::analytics::{get_i64, get_u64};
use super::rollups::{day_at_or_after, day_of};
use super::{names, Store, StoreError};
use crate::domain::{Payment, PaymentStatus};

/// What one day's revenue is split by: course (by the name the payment carries),
/// method and currency code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RevenueKey {
    pub course: String,
    pub method: String,
    pub currency: String,
}

/// Sum in minor units and number of payments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RevenueSum {
    pub total: i64,
    pub payments: u64,
}

/// Revenue split by [`RevenueKey`]: what a period's days and edges add up to.
pub(crate) type RevenueSplit = BTreeMap<RevenueKey, RevenueSum>;

fn key_of(p: &Payment) -> RevenueKey {
    RevenueKey {
        course: p.course_name.clone(),
        method: p.method.as_str().to_owned(),
        currency: p.amount.currency().code().to_owned(),
    }
}

fn day_id(day: DateTime<Utc>, key: &RevenueKey) -> Document {
    doc! {
        "day": bson::DateTime::from_chrono(day),
        "course": &key.course,
        "method": &key.method,
        "currency": &key.currency,
    }
}

/// The string `_id` of a day's document with these fields.
fn id_of(fields: &Document) -> String {
    super::rollups::key_id(&fields.values().collect::<Vec<_>>())
}

/// The paid ones of `payments` summed per day and key.
fn day_totals<'a>(
    payments: impl IntoIterator<Item = &'a Payment>,
) -> BTreeMap<(DateTime<Utc>, RevenueKey), RevenueSum> {
    let mut days: BTreeMap<(DateTime<Utc>, RevenueKey), RevenueSum> = BTreeMap::new();
    for p in payments {
        let (PaymentStatus::Paid, Some(paid_at)) = (p.status, p.paid_at) else {
            continue;
        };
        let sum = days.entry((day_of(paid_at), key_of(p))).or_default();
        sum.total += p.amount.minor();
        sum.payments += 1;
    }
    days
}

/// The day documents for `payments` (those paid), as the seed and a recount write them.
pub(crate) fn day_documents<'a>(payments: impl IntoIterator<Item = &'a Payment>) -> Vec<Document> {
    day_totals(payments)
        .into_iter()
        .map(|((day, key), sum)| {
            let mut d = day_id(day, &key);
            d.insert("_id", id_of(&d));
            d.insert("total", sum.total);
            d.insert("payments", sum.payments as i64);
            d
        })
        .collect()
}

/// The filter and update adding `sum` to one day's document (made if it is new).
fn increment(day: DateTime<Utc>, key: &RevenueKey, sum: RevenueSum) -> (Document, Document) {
    let fields = day_id(day, key);
    let update = doc! {
        "$inc": { "total": sum.total, "payments": sum.payments as i64 },
        "$setOnInsert": fields.clone(),
    };
    (doc! { "_id": id_of(&fields) }, update)
}

impl Store {
    fn revenue_days(&self) -> Collection<Document> {
        self.db.collection(names::REVENUE_DAYS)
    }

    /// Adds the paid ones of `payments` (one just marked paid, an import) to their days,
    /// inside the transaction that writes them.
    pub(crate) async fn add_paid_in(
        &self,
        session: &mut ClientSession,
        payments: &[Payment],
    ) -> Result<(), StoreError> {
        for ((day, key), sum) in day_totals(payments) {
            let (filter, update) = increment(day, &key, sum);
            self.revenue_days()
                .update_one(filter, update)
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        Ok(())
    }

    /// Paid revenue in `[start, end)` split by course, method and currency: whole UTC
    /// days from their documents, the rest from the payments.
    pub(crate) async fn revenue_split(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<RevenueSplit, StoreError> {
        let (first_day, last_day) = (day_at_or_after(start), day_of(end));
        if first_day >= last_day {
            return self.scanned_revenue(start, end).await;
        }
        let (days, before, after) = futures::try_join!(
            self.tallied_revenue(first_day, last_day),
            self.scanned_revenue(start, first_day),
            self.scanned_revenue(last_day, end),
        )?;
        let mut split = days;
        for (key, sum) in before.into_iter().chain(after) {
            let into = split.entry(key).or_default();
            into.total += sum.total;
            into.payments += sum.payments;
        }
        Ok(split)
    }

    async fn tallied_revenue(
        &self,
        first_day: DateTime<Utc>,
        last_day: DateTime<Utc>,
    ) -> Result<RevenueSplit, StoreError> {
        let days: Vec<Document> = self
            .revenue_days()
            .find(doc! { "day": {
                "$gte": bson::DateTime::from_chrono(first_day),
                "$lt": bson::DateTime::from_chrono(last_day),
            } })
            .await?
            .try_collect()
            .await?;
        let mut split = RevenueSplit::new();
        for d in &days {
            let sum = split.entry(key_in(d)).or_default();
            sum.total += get_i64(d, "total");
            sum.payments += get_u64(d, "payments");
        }
        Ok(split)
    }

    async fn scanned_revenue(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<RevenueSplit, StoreError> {
        if start >= end {
            return Ok(RevenueSplit::new());
        }
        let pipeline = vec![
            doc! { "$match": {
                "status": "paid",
                "paid_at": {
                    "$gte": bson::DateTime::from_chrono(start),
                    "$lt": bson::DateTime::from_chrono(end),
                },
            } },
            doc! { "$group": {
                "_id": {
                    "course": "$course_name",
                    "method": "$method",
                    "currency": "$amount.currency",
                },
                "total": { "$sum": "$amount.minor" },
                "payments": { "$sum": 1 },
            } },
        ];
        let groups: Vec<Document> = self
            .payments()
            .aggregate(pipeline)
            .await?
            .try_collect()
            .await?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let key = key_in(g.get_document("_id").ok()?);
                let sum = RevenueSum {
                    total: get_i64(g, "total"),
                    payments: get_u64(g, "payments"),
                };
                Some((key, sum))
            })
            .collect())
    }

    /// Rebuilds every day from the paid payments (a database from before the days were
    /// kept). Returns whether there were any.
    pub(crate) async fn recount_revenue_days(&self) -> Result<bool, StoreError> {
        let paid: Vec<Payment> = self
            .payments()
            .find(doc! { "status": "paid" })
            .await?
            .try_collect()
            .await?;
        self.revenue_days().delete_many(doc! {}).await?;
        let days = day_documents(&paid);
        for chunk in days.chunks(1000) {
            self.revenue_days().insert_many(chunk).await?;
        }
        Ok(!paid.is_empty())
    }
}

fn key_in(d: &Document) -> RevenueKey {
    let text = |k: &str| d.get_str(k).unwrap_or_default().to_owned();
    RevenueKey {
        course: text("course"),
        method: text("method"),
        currency: text("currency"),
    }
}
