//! What the dashboard counts of clients, kept up to date in the transaction of every
//! write that changes a client: each write hands [`Store::follow_client`] the client's
//! [`ClientFacts`] before and after, and it moves the client between days. Two day
//! collections, each day one document with its count and its `(client, at)` entries:
//! - `join_days`: clients and leads not deleted, by the UTC day they joined;
//! - `absence_days`: clients (not leads, not deleted) by the UTC day they were last seen
//!   (their last visit, or the day they joined if they never came).
//!
//! And `client_statuses`: clients and leads not deleted, counted per `status` (one
//! document per status, `{ _id: "active", n }`), so "how many clients, by status" reads
//! three documents.
//!
//! "New clients this month" and "inactive for 30 days" add up the counts of the whole
//! days inside the period, take the partial days at its edges from their entries, and
//! list the newest or longest absent from the days at the end, never reading the
//! clients collection as a whole.

use std::collections::BTreeMap;

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use super::analytics::get_u64;
use super::rollups::{day_at_or_after, day_of, part_of};
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
    /// Their status, if they are not deleted (counted in `client_statuses`).
    pub status: Option<ClientStatus>,
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
            status: Some(c.status),
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
            status: d.get_str("status").ok().and_then(status_named),
        }
    }
}

/// The status stored as `name` ("active", "lead", "inactive").
fn status_named(name: &str) -> Option<ClientStatus> {
    [
        ClientStatus::Active,
        ClientStatus::Lead,
        ClientStatus::Inactive,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// Clients and leads (not deleted) per status, as kept in `client_statuses`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusCounts {
    pub active: u64,
    pub lead: u64,
    pub inactive: u64,
}

impl StatusCounts {
    /// Every client and lead counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.active + self.lead + self.inactive
    }
}

/// The `client_statuses` documents for these clients, one per status (the seed, a
/// recount).
pub(crate) fn status_documents(
    clients: impl IntoIterator<Item = (ObjectId, ClientFacts)>,
) -> Vec<Document> {
    let mut counts: BTreeMap<(&'static str, i32), i64> = BTreeMap::new();
    for (id, facts) in clients {
        if let Some(status) = facts.status {
            *counts.entry((status.as_str(), part_of(id))).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((status, part), n)| doc! { "_id": status_key(status, part), "status": status, "n": n })
        .collect()
}

/// The document counting the clients of one part with `status`.
fn status_key(status: &str, part: i32) -> Document {
    doc! { "status": status, "part": part }
}

/// One of the two day collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientDays {
    Joined,
    Absent,
}

impl ClientDays {
    pub(crate) fn collection(self) -> &'static str {
        match self {
            Self::Joined => names::JOIN_DAYS,
            Self::Absent => names::ABSENCE_DAYS,
        }
    }

    fn at(self, facts: &ClientFacts) -> Option<DateTime<Utc>> {
        match self {
            Self::Joined => facts.joined,
            Self::Absent => facts.absent_since,
        }
    }

    /// The day documents for these clients, as the seed and a recount write them.
    pub(crate) fn documents(
        self,
        clients: impl IntoIterator<Item = (ObjectId, ClientFacts)>,
    ) -> Vec<Document> {
        let mut days: BTreeMap<DateTime<Utc>, Vec<Document>> = BTreeMap::new();
        for (id, facts) in clients {
            if let Some(at) = self.at(&facts) {
                days.entry(day_of(at)).or_default().push(entry(id, at));
            }
        }
        days.into_iter()
            .map(|(day, entries)| {
                let n = entries.len() as i64;
                doc! { "_id": bson::DateTime::from_chrono(day), "n": n, "clients": entries }
            })
            .collect()
    }
}

fn entry(id: ObjectId, at: DateTime<Utc>) -> Document {
    doc! { "id": id, "at": bson::DateTime::from_chrono(at) }
}

/// A day document's entries with their time in `[start, end)`.
fn entries_between(
    day: &Document,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, ObjectId)> {
    day.get_array("clients")
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let e = e.as_document()?;
                    let at = e.get_datetime("at").ok()?.to_chrono();
                    (start <= at && at < end).then_some((at, e.get_object_id("id").ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn day_id(t: DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_chrono(day_of(t)))
}

/// Clients counted in a stretch of days: how many, and some at one end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counted {
    pub count: u64,
    /// `(client, at)`: the earliest first or the latest first, as asked.
    pub sample: Vec<(ObjectId, DateTime<Utc>)>,
}

/// Which end of the stretch the sample comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Earliest,
    Latest,
}

impl Store {
    fn client_days(&self, days: ClientDays) -> Collection<Document> {
        self.db.collection(days.collection())
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
        for days in [ClientDays::Joined, ClientDays::Absent] {
            let (from, to) = (days.at(&before), days.at(&after));
            if from == to {
                continue;
            }
            let collection = self.client_days(days);
            if let Some(t) = from {
                collection
                    .update_one(
                        doc! { "_id": day_id(t) },
                        doc! { "$pull": { "clients": { "id": id } }, "$inc": { "n": -1 } },
                    )
                    .session(&mut *session)
                    .await?;
            }
            if let Some(t) = to {
                collection
                    .update_one(
                        doc! { "_id": day_id(t) },
                        doc! { "$push": { "clients": entry(id, t) }, "$inc": { "n": 1 } },
                    )
                    .upsert(true)
                    .session(&mut *session)
                    .await?;
            }
        }
        if before.status != after.status {
            let statuses = self.client_statuses();
            for (status, by) in [(before.status, -1_i64), (after.status, 1)] {
                let Some(status) = status else { continue };
                statuses
                    .update_one(
                        doc! { "_id": status_key(status.as_str(), part_of(id)) },
                        doc! {
                            "$inc": { "n": by },
                            "$setOnInsert": { "status": status.as_str() },
                        },
                    )
                    .upsert(true)
                    .session(&mut *session)
                    .await?;
            }
        }
        Ok(())
    }

    fn client_statuses(&self) -> Collection<Document> {
        self.db.collection(names::CLIENT_STATUSES)
    }

    /// Clients and leads (not deleted) per status, now: three kept documents.
    pub(crate) async fn status_counts(&self) -> Result<StatusCounts, StoreError> {
        let docs: Vec<Document> = self
            .client_statuses()
            .find(doc! {})
            .await?
            .try_collect()
            .await?;
        let mut counts = StatusCounts::default();
        // The parts of each status added up.
        for d in &docs {
            let n = get_u64(d, "n");
            match d.get_str("status").ok().and_then(status_named) {
                Some(ClientStatus::Active) => counts.active += n,
                Some(ClientStatus::Lead) => counts.lead += n,
                Some(ClientStatus::Inactive) => counts.inactive += n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Counts the clients per status again from the clients (a database from before the
    /// counts were kept). Returns whether there were any clients.
    pub(crate) async fn recount_client_statuses(&self) -> Result<bool, StoreError> {
        let facts = self.client_facts().await?;
        let docs = status_documents(facts.iter().copied());
        let statuses = self.client_statuses();
        statuses.delete_many(doc! {}).await?;
        if !docs.is_empty() {
            statuses.insert_many(&docs).await?;
        }
        Ok(!facts.is_empty())
    }

    /// The facts of every client not deleted (a recount).
    async fn client_facts(&self) -> Result<Vec<(ObjectId, ClientFacts)>, StoreError> {
        Ok(self
            .clients()
            .find(doc! { "deleted_at": null })
            .projection(fact_fields())
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .iter()
            .filter_map(|d| Some((d.get_object_id("_id").ok()?, ClientFacts::of_doc(Some(d)))))
            .collect())
    }

    /// The clients of `days` with their time in `[start, end)`, with `sample` of them
    /// from the given end.
    pub(crate) async fn counted_between(
        &self,
        days: ClientDays,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        sample: usize,
        from: End,
    ) -> Result<Counted, StoreError> {
        if start >= end {
            return Ok(Counted::default());
        }
        let collection = self.client_days(days);
        let (first_whole, after_whole) = (day_at_or_after(start), day_of(end));
        let range = |from: DateTime<Utc>, to: DateTime<Utc>| {
            doc! { "_id": {
                "$gte": bson::DateTime::from_chrono(from),
                "$lt": bson::DateTime::from_chrono(to),
            } }
        };
        // Whole days: their counts only. Edge days (at most two): their entries.
        let whole = async {
            if first_whole >= after_whole {
                return Ok(0);
            }
            let counts: Vec<Document> = collection
                .find(range(first_whole, after_whole))
                .projection(doc! { "n": 1 })
                .await?
                .try_collect()
                .await?;
            Ok::<_, StoreError>(counts.iter().map(|d| get_u64(d, "n")).sum::<u64>())
        };
        let edges = async {
            let mut ids: Vec<Bson> = vec![day_id(start)];
            if day_of(end) != day_of(start) && end != day_of(end) {
                ids.push(day_id(end));
            }
            let docs: Vec<Document> = collection
                .find(doc! { "_id": { "$in": ids } })
                .await?
                .try_collect()
                .await?;
            Ok::<_, StoreError>(docs)
        };
        // Every day kept with a count holds at least one entry: `sample` days from the
        // asked end hold enough (the edge days may hold fewer inside the stretch).
        // (The days without a count are skipped here: a range and `n > 0` together are
        // no index's bound on the local test server.)
        let ends = async {
            let days = collection
                .find(range(day_of(start), day_at_or_after(end)))
                .sort(doc! { "_id": if from == End::Earliest { 1 } else { -1 } })
                .await?;
            super::first_matching(days, sample + 2, |d| get_u64(d, "n") > 0).await
        };
        let (whole, edges, ends) = futures::try_join!(whole, edges, ends)?;
        let whole_days = first_whole..after_whole;
        let edge_count: usize = edges
            .iter()
            .filter(|d| {
                d.get_datetime("_id")
                    .is_ok_and(|t| !whole_days.contains(&t.to_chrono()))
            })
            .map(|d| entries_between(d, start, end).len())
            .sum();
        let mut picked: Vec<(DateTime<Utc>, ObjectId)> = ends
            .iter()
            .flat_map(|d| entries_between(d, start, end))
            .collect();
        picked.sort();
        if from == End::Latest {
            picked.reverse();
        }
        picked.truncate(sample);
        Ok(Counted {
            count: whole + edge_count as u64,
            sample: picked.into_iter().map(|(at, id)| (id, at)).collect(),
        })
    }

    /// Rebuilds both day collections from the clients (a database from before they
    /// were kept). Returns whether there were any clients.
    pub(crate) async fn recount_client_days(&self) -> Result<bool, StoreError> {
        let facts = self.client_facts().await?;
        for days in [ClientDays::Joined, ClientDays::Absent] {
            let docs = days.documents(facts.iter().copied());
            let collection = self.client_days(days);
            collection.delete_many(doc! {}).await?;
            for chunk in docs.chunks(200) {
                collection.insert_many(chunk).await?;
            }
        }
        Ok(!facts.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn leads_and_deleted_clients_are_not_absent_and_a_visit_moves_the_day() {
        // Whole milliseconds, as BSON dates keep them.
        let now = bson::DateTime::now().to_chrono();
        let (joined, visit) = (now - Duration::days(90), now - Duration::days(40));
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
        assert_eq!(lead.status, Some(ClientStatus::Lead));
        assert_eq!(never_came.status, Some(ClientStatus::Active));
        assert_eq!(stored("vip", None, false).status, None);
        assert_eq!(stored("active", Some(visit), true), ClientFacts::default());
        assert_eq!(ClientFacts::of_doc(None), ClientFacts::default());
    }

    #[test]
    fn entries_are_taken_inside_the_stretch_only() {
        let day = Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let (a, b) = (ObjectId::new(), ObjectId::new());
        let doc = doc! { "clients": [
            entry(a, day + Duration::hours(2)),
            entry(b, day + Duration::hours(20)),
        ] };
        let inside = entries_between(&doc, day + Duration::hours(2), day + Duration::hours(20));
        assert_eq!(inside, vec![(day + Duration::hours(2), a)]);
    }
}
