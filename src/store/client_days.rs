//! What the dashboard counts of clients, kept up to date in the transaction of every
//! write that changes a client: each write hands [`Store::follow_client`] the client's
//! [`ClientFacts`] before and after, and it moves them between days.
//! - `join_days` (`join_days.rs`): clients and leads not deleted, per UTC day joined.
//! - `absence_days` (here): clients (not leads, not deleted) per UTC day they were last
//!   seen (their last visit, or the day they joined if they never came), each day with
//!   its count and its `(client, since)` entries. "Inactive for 30 days" adds up the days
//!   before the cutoff's day, takes that day from its entries, and lists the longest
//!   absent from the first days, never reading the clients collection as a whole.

use std::collections::BTreeMap;

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use super::analytics::get_u64;
use super::rollups::day_of;
use super::{names, Store, StoreError};
use crate::domain::{Client, ClientStatus, ObjectId};

/// The fields of a client document the facts are read from (a projection).
pub(crate) fn fact_fields() -> Document {
    doc! { "status": 1, "deleted_at": 1, "joined_at": 1, "last_visit_at": 1 }
}

/// What the kept client figures follow of one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClientFacts {
    /// When they joined, if they are not deleted (counted in `join_days`).
    pub joined: Option<DateTime<Utc>>,
    /// Since when they are absent, if they are a client (not a lead) not deleted
    /// (counted in `absence_days`).
    pub absent_since: Option<DateTime<Utc>>,
}

impl ClientFacts {
    pub(crate) fn of(c: &Client) -> Self {
        if c.deleted_at.is_some() {
            return Self::default();
        }
        Self {
            joined: Some(c.joined_at),
            absent_since: (c.status != ClientStatus::Lead)
                .then(|| c.last_visit_at.unwrap_or(c.joined_at)),
        }
    }

    /// The facts of a stored client document (or of none).
    pub(crate) fn of_doc(d: Option<&Document>) -> Self {
        let Some(d) = d else { return Self::default() };
        let date = |k: &str| match d.get(k) {
            Some(Bson::DateTime(t)) => Some(t.to_chrono()),
            _ => None,
        };
        if date("deleted_at").is_some() {
            return Self::default();
        }
        let Some(joined) = date("joined_at") else {
            return Self::default();
        };
        let lead = d.get_str("status").is_ok_and(|s| s == "lead");
        Self {
            joined: Some(joined),
            absent_since: (!lead).then(|| date("last_visit_at").unwrap_or(joined)),
        }
    }
}

/// The `absence_days` documents for `clients`, as the seed and a recount write them.
pub(crate) fn absence_day_documents(
    facts: impl IntoIterator<Item = (ObjectId, ClientFacts)>,
) -> Vec<Document> {
    let mut days: BTreeMap<DateTime<Utc>, Vec<(ObjectId, DateTime<Utc>)>> = BTreeMap::new();
    for (id, f) in facts {
        if let Some(since) = f.absent_since {
            days.entry(day_of(since)).or_default().push((id, since));
        }
    }
    days.into_iter()
        .map(|(day, entries)| {
            let n = entries.len() as i64;
            let clients: Vec<Document> = entries.iter().map(|(id, at)| entry(*id, *at)).collect();
            doc! { "_id": bson::DateTime::from_chrono(day), "n": n, "clients": clients }
        })
        .collect()
}

fn entry(id: ObjectId, at: DateTime<Utc>) -> Document {
    doc! { "id": id, "at": bson::DateTime::from_chrono(at) }
}

/// Clients absent since before a cutoff: how many, and the longest absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Absent {
    pub count: u64,
    /// `(client, absent since)`, longest absent first, at most the sample size.
    pub longest: Vec<(ObjectId, DateTime<Utc>)>,
}

impl Store {
    fn absence_days(&self) -> Collection<Document> {
        self.db.collection(names::ABSENCE_DAYS)
    }

    /// Moves client `id` from the days of `before` to those of `after`, inside the
    /// transaction that changes the client.
    pub(crate) async fn follow_client(
        &self,
        session: &mut ClientSession,
        id: ObjectId,
        before: ClientFacts,
        after: ClientFacts,
    ) -> Result<(), StoreError> {
        if before.joined != after.joined {
            if let Some(t) = before.joined {
                self.count_join_in(session, t, -1).await?;
            }
            if let Some(t) = after.joined {
                self.count_join_in(session, t, 1).await?;
            }
        }
        if before.absent_since != after.absent_since {
            if let Some(t) = before.absent_since {
                self.absence_days()
                    .update_one(
                        doc! { "_id": bson::DateTime::from_chrono(day_of(t)) },
                        doc! { "$pull": { "clients": { "id": id } }, "$inc": { "n": -1 } },
                    )
                    .session(&mut *session)
                    .await?;
            }
            if let Some(t) = after.absent_since {
                self.absence_days()
                    .update_one(
                        doc! { "_id": bson::DateTime::from_chrono(day_of(t)) },
                        doc! { "$push": { "clients": entry(id, t) }, "$inc": { "n": 1 } },
                    )
                    .upsert(true)
                    .session(&mut *session)
                    .await?;
            }
        }
        Ok(())
    }

    /// Clients (not leads, not deleted) absent since before `cutoff`, with the
    /// `sample` longest absent.
    pub(crate) async fn absent_before(
        &self,
        cutoff: DateTime<Utc>,
        sample: usize,
    ) -> Result<Absent, StoreError> {
        let cut_day = bson::DateTime::from_chrono(day_of(cutoff));
        let (whole, cut, first) = futures::try_join!(
            async {
                let counts: Vec<Document> = self
                    .absence_days()
                    .find(doc! { "_id": { "$lt": cut_day } })
                    .projection(doc! { "n": 1 })
                    .await?
                    .try_collect()
                    .await?;
                Ok::<_, StoreError>(counts.iter().map(|d| get_u64(d, "n")).sum::<u64>())
            },
            async {
                Ok::<_, StoreError>(
                    self.absence_days()
                        .find_one(doc! { "_id": cut_day })
                        .await?,
                )
            },
            async {
                // Every day kept has at least one entry: `sample` days hold enough.
                let days: Vec<Document> = self
                    .absence_days()
                    .find(doc! { "_id": { "$lte": cut_day }, "n": { "$gt": 0 } })
                    .sort(doc! { "_id": 1 })
                    .limit(i64::try_from(sample).unwrap_or(i64::MAX))
                    .await?
                    .try_collect()
                    .await?;
                Ok::<_, StoreError>(days)
            },
        )?;
        let before_cutoff = |d: &Document| -> Vec<(ObjectId, DateTime<Utc>)> {
            d.get_array("clients")
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            let e = e.as_document()?;
                            let at = e.get_datetime("at").ok()?.to_chrono();
                            (at < cutoff).then_some((e.get_object_id("id").ok()?, at))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let on_cut_day = cut.as_ref().map_or(0, |d| before_cutoff(d).len() as u64);
        let mut longest: Vec<(ObjectId, DateTime<Utc>)> =
            first.iter().flat_map(before_cutoff).collect();
        longest.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        longest.truncate(sample);
        Ok(Absent {
            count: whole + on_cut_day,
            longest,
        })
    }

    /// Rebuilds every day from the clients (a database from before the days were kept).
    /// Returns whether there were any.
    pub(crate) async fn recount_absence_days(&self) -> Result<bool, StoreError> {
        let facts: Vec<(ObjectId, ClientFacts)> = self
            .clients()
            .find(doc! { "deleted_at": null, "status": { "$ne": "lead" } })
            .projection(fact_fields())
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .iter()
            .filter_map(|d| Some((d.get_object_id("_id").ok()?, ClientFacts::of_doc(Some(d)))))
            .collect();
        let days = absence_day_documents(facts);
        self.absence_days().delete_many(doc! {}).await?;
        for chunk in days.chunks(200) {
            self.absence_days().insert_many(chunk).await?;
        }
        Ok(!days.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn leads_and_deleted_clients_are_not_absent_and_a_visit_moves_the_day() {
        let joined = Utc::now() - Duration::days(90);
        let visit = Utc::now() - Duration::days(40);
        let stored = |status: &str, last: Option<DateTime<Utc>>, deleted: bool| {
            let mut d = doc! {
                "status": status,
                "joined_at": bson::DateTime::from_chrono(joined),
                "last_visit_at": last.map(bson::DateTime::from_chrono),
            };
            if deleted {
                d.insert("deleted_at", bson::DateTime::from_chrono(Utc::now()));
            }
            ClientFacts::of_doc(Some(&d))
        };
        let never_came = stored("active", None, false);
        assert_eq!(never_came.absent_since, Some(joined));
        assert_eq!(never_came.joined, Some(joined));
        assert_eq!(
            stored("inactive", Some(visit), false).absent_since,
            Some(visit)
        );
        let lead = stored("lead", Some(visit), false);
        assert_eq!((lead.joined, lead.absent_since), (Some(joined), None));
        assert_eq!(stored("active", Some(visit), true), ClientFacts::default());
        assert_eq!(ClientFacts::of_doc(None), ClientFacts::default());
    }
}
