//! Who came (present or late), per UTC day: each day one document holding the
//! `(class, client, at)` entries of its attended records, kept up to date in the
//! transaction of every attendance write (and written by the seed). Retention reads the
//! days of its two periods, one document a day, and intersects their clients here (the
//! top clients by attendance count their entries), instead of reading every record; the
//! partial days at a period's edges are cut by the entries' times.

use std::collections::{BTreeMap, HashMap, HashSet};

use bson::{doc, Document, RawDocumentBuf};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use super::rollups::{day_at_or_after, day_of};
use super::{names, Store, StoreError};
use crate::domain::{Attendance, ObjectId};

/// One attended record: class, client, class start.
pub(crate) type Visit = (ObjectId, ObjectId, DateTime<Utc>);

/// The attended ones of `records`, as visits.
pub(crate) fn visits_of<'a>(records: impl IntoIterator<Item = &'a Attendance>) -> Vec<Visit> {
    records
        .into_iter()
        .filter(|r| r.status.attended())
        .map(|r| (r.class_id, r.client_id, r.class_starts_at))
        .collect()
}

fn entry(&(class, client, at): &Visit) -> Document {
    doc! { "k": class, "id": client, "at": bson::DateTime::from_chrono(at) }
}

fn per_day(visits: &[Visit]) -> BTreeMap<DateTime<Utc>, Vec<Document>> {
    let mut days: BTreeMap<DateTime<Utc>, Vec<Document>> = BTreeMap::new();
    for v in visits {
        days.entry(day_of(v.2)).or_default().push(entry(v));
    }
    days
}

/// The day documents for `visits` (the seed, a recount).
pub(crate) fn visit_day_documents(visits: &[Visit]) -> Vec<Document> {
    per_day(visits)
        .into_iter()
        .map(|(day, entries)| doc! { "_id": bson::DateTime::from_chrono(day), "v": entries })
        .collect()
}

impl Store {
    fn visit_days(&self) -> Collection<Document> {
        self.db.collection(names::VISIT_DAYS)
    }

    /// Adds `visits` to their days, or (`add` false) takes them away, inside the
    /// transaction of the attendance write.
    pub(crate) async fn count_visits_in(
        &self,
        session: &mut ClientSession,
        visits: &[Visit],
        add: bool,
    ) -> Result<(), StoreError> {
        for (day, entries) in per_day(visits) {
            let id = doc! { "_id": bson::DateTime::from_chrono(day) };
            let days = self.visit_days();
            if add {
                days.update_one(id, doc! { "$push": { "v": { "$each": entries } } })
                    .upsert(true)
                    .session(&mut *session)
                    .await?;
            } else {
                for e in entries {
                    let (Ok(class), Ok(client)) = (e.get_object_id("k"), e.get_object_id("id"))
                    else {
                        continue;
                    };
                    days.update_one(
                        id.clone(),
                        doc! { "$pull": { "v": { "k": class, "id": client } } },
                    )
                    .session(&mut *session)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// The clients who came (present or late) to a class starting in `[start, end)`.
    pub(crate) async fn visitors_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<HashSet<ObjectId>, StoreError> {
        if start >= end {
            return Ok(HashSet::new());
        }
        // Whole documents, read raw: projecting the entries' fields costs the server
        // more than sending them, and walking raw bytes allocates nothing per entry.
        let mut days = self
            .db
            .collection::<RawDocumentBuf>(names::VISIT_DAYS)
            .find(doc! { "_id": {
                "$gte": bson::DateTime::from_chrono(day_of(start)),
                "$lt": bson::DateTime::from_chrono(day_at_or_after(end)),
            } })
            .await?;
        let (from, to) = (
            bson::DateTime::from_chrono(start),
            bson::DateTime::from_chrono(end),
        );
        let mut came = HashSet::new();
        while let Some(day) = days.try_next().await? {
            let Ok(entries) = day.get_array("v") else {
                continue;
            };
            for e in entries.into_iter().filter_map(|e| e.ok()?.as_document()) {
                let (Ok(client), Ok(at)) = (e.get_object_id("id"), e.get_datetime("at")) else {
                    continue;
                };
                if from <= at && at < to {
                    came.insert(client);
                }
            }
        }
        Ok(came)
    }

    /// How many classes starting in `[start, end)` each client came to (present or
    /// late), from the same kept days as [`Store::visitors_between`].
    pub(crate) async fn visits_per_client_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<HashMap<ObjectId, u64>, StoreError> {
        let mut visits: HashMap<ObjectId, u64> = HashMap::new();
        if start >= end {
            return Ok(visits);
        }
        let mut days = self
            .db
            .collection::<RawDocumentBuf>(names::VISIT_DAYS)
            .find(doc! { "_id": {
                "$gte": bson::DateTime::from_chrono(day_of(start)),
                "$lt": bson::DateTime::from_chrono(day_at_or_after(end)),
            } })
            .await?;
        let (from, to) = (
            bson::DateTime::from_chrono(start),
            bson::DateTime::from_chrono(end),
        );
        while let Some(day) = days.try_next().await? {
            let Ok(entries) = day.get_array("v") else {
                continue;
            };
            for e in entries.into_iter().filter_map(|e| e.ok()?.as_document()) {
                let (Ok(client), Ok(at)) = (e.get_object_id("id"), e.get_datetime("at")) else {
                    continue;
                };
                if from <= at && at < to {
                    *visits.entry(client).or_default() += 1;
                }
            }
        }
        Ok(visits)
    }

    /// Rebuilds every day from the attendance records (a database from before the days
    /// were kept). Returns whether there were any.
    pub(crate) async fn recount_visit_days(&self) -> Result<bool, StoreError> {
        let mut cursor = self
            .attendance()
            .find(doc! { "status": { "$in": ["present", "late"] } })
            .await?;
        let mut visits: Vec<Visit> = Vec::new();
        while let Some(record) = cursor.try_next().await? {
            visits.extend(visits_of([&record]));
        }
        self.visit_days().delete_many(doc! {}).await?;
        let days = visit_day_documents(&visits);
        if !days.is_empty() {
            self.visit_days().insert_many(&days).await?;
        }
        Ok(!visits.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AttendanceStatus;
    use chrono::Duration;

    #[test]
    fn only_attended_records_are_visits_and_each_goes_to_its_utc_day() {
        let at = Utc::now()
            .date_naive()
            .and_hms_opt(23, 30, 0)
            .unwrap()
            .and_utc();
        let record = |status, starts: DateTime<Utc>| Attendance {
            id: ObjectId::new(),
            class_id: ObjectId::new(),
            client_id: ObjectId::new(),
            course_id: ObjectId::new(),
            course_name: "Pilates".into(),
            class_starts_at: starts,
            status,
            marked_at: starts,
        };
        let records = [
            record(AttendanceStatus::Present, at),
            record(AttendanceStatus::Absent, at),
            record(AttendanceStatus::Late, at + Duration::hours(1)),
        ];
        let visits = visits_of(&records);
        assert_eq!(visits.len(), 2);
        let days = visit_day_documents(&visits);
        assert_eq!(days.len(), 2, "23:30 and 00:30 fall on two UTC days");
        assert_eq!(days[0].get_array("v").unwrap().len(), 1);
    }
}
