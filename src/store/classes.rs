//! Classes (sessions) and attendance marking. Each class document carries the counts of
//! its attendance records (`marked`, and of them `attended`), moved in the same
//! transaction as every record written, so the dashboard's attendance and fill-rate
//! figures read one document per class instead of every record.

use std::collections::BTreeMap;

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

use super::analytics::get_i64;
use super::class_days::{slot_after, slot_fields, ClassSlot};
use super::client_days::{fact_fields, ClientFacts};
use super::visit_days::visits_of;
use super::{Store, StoreError};
use crate::domain::{Attendance, AttendanceStatus, ClassSession, ObjectId};

impl Store {
    /// # Errors
    /// The server failed.
    pub async fn insert_class(&self, class: &ClassSession) -> Result<(), StoreError> {
        let slot = ClassSlot::of_doc(&bson::to_document(class)?);
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                self.classes()
                    .insert_one(class)
                    .session(&mut session)
                    .await?;
                self.move_class(&mut session, None, slot.as_ref()).await
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }

    /// # Errors
    /// The server failed.
    pub async fn class_by_id(&self, id: ObjectId) -> Result<Option<ClassSession>, StoreError> {
        Ok(self.classes().find_one(doc! { "_id": id }).await?)
    }

    /// Classes starting in `[start, end)`, optionally of one course, earliest first.
    ///
    /// # Errors
    /// The server failed.
    pub async fn classes_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        course_id: Option<ObjectId>,
        limit: i64,
    ) -> Result<Vec<ClassSession>, StoreError> {
        self.classes_between_for(
            start,
            end,
            course_id.as_ref().map(std::slice::from_ref),
            limit,
        )
        .await
    }

    /// Classes starting in `[start, end)` of some courses (a family of courses), or of
    /// all for `None`, earliest first.
    ///
    /// # Errors
    /// The server failed.
    pub async fn classes_between_for(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        courses: Option<&[ObjectId]>,
        limit: i64,
    ) -> Result<Vec<ClassSession>, StoreError> {
        let mut filter = doc! {
            "starts_at": { "$gte": bson::DateTime::from_chrono(start), "$lt": bson::DateTime::from_chrono(end) },
            "cancelled": false,
        };
        let one = courses.and_then(super::class_days::only_one);
        if let Some(id) = one {
            filter.insert("course_id", id);
        }
        let found = self
            .classes()
            .find(filter)
            .sort(doc! { "starts_at": 1 })
            .await?;
        super::first_matching(found, super::as_count(limit), |c| {
            courses.is_none_or(|ids| ids.contains(&c.course_id))
        })
        .await
    }

    /// Replaces a class's details (after a reschedule or a note), keeping what the
    /// domain type does not carry: the attendance counts and the revision, which moves
    /// on with every change so the calendar sync sees A → B → A as two changes.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown class.
    pub async fn update_class(&self, class: &ClassSession) -> Result<(), StoreError> {
        let mut set = bson::to_document(class)?;
        set.remove("_id");
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                let before = self
                    .db_classes()
                    .find_one_and_update(
                        doc! { "_id": class.id },
                        doc! { "$set": set.clone(), "$inc": { "revision": 1 } },
                    )
                    .projection(slot_fields())
                    .session(&mut session)
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "class",
                        key: class.id.to_hex(),
                    })?;
                let after = slot_after(&before, &set, &Document::new());
                self.move_class(
                    &mut session,
                    ClassSlot::of_doc(&before).as_ref(),
                    after.as_ref(),
                )
                .await
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }

    fn db_classes(&self) -> mongodb::Collection<Document> {
        self.database().collection(super::names::CLASSES)
    }

    /// Marks (or re-marks) a client's attendance at a class, moves the class's counts
    /// and the client's last visit, all in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown class or client.
    pub async fn mark_attendance(
        &self,
        class_id: ObjectId,
        client_id: ObjectId,
        status: AttendanceStatus,
        now: DateTime<Utc>,
    ) -> Result<Attendance, StoreError> {
        let class = self
            .class_by_id(class_id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "class",
                key: class_id.to_hex(),
            })?;
        if self.client_by_id(client_id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: "client",
                key: client_id.to_hex(),
            });
        }
        let record = Attendance {
            id: ObjectId::new(),
            class_id,
            client_id,
            course_id: class.course_id,
            course_name: class.course_name.clone(),
            class_starts_at: class.starts_at(),
            status,
            marked_at: now,
        };
        // Marks at one class all move that class's counts: a conflict is retried.
        self.retrying(|| self.write_mark(&record)).await
    }

    async fn write_mark(&self, record: &Attendance) -> Result<Attendance, StoreError> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let written = async {
            let key = doc! { "class_id": record.class_id, "client_id": record.client_id };
            let mut set = bson::to_document(record)?;
            set.remove("_id");
            let before = self
                .attendance()
                .find_one_and_update(key.clone(), doc! { "$set": set })
                .upsert(true)
                .return_document(ReturnDocument::Before)
                .session(&mut session)
                .await?;
            let change = AttendanceCounts::of(std::slice::from_ref(record))
                .less(before.as_slice());
            let (was, is) = (visits_of(before.as_slice()), visits_of([record]));
            if was != is {
                self.count_visits_in(&mut session, &was, false).await?;
                self.count_visits_in(&mut session, &is, true).await?;
            }
            self.add_counts(&mut session, record.class_id, change)
                .await?;
            if record.status.attended() {
                let visit = bson::DateTime::from_chrono(record.class_starts_at);
                let moved = self
                    .clients()
                    .find_one_and_update(
                        doc! { "_id": record.client_id, "$or": [ { "last_visit_at": null }, { "last_visit_at": { "$lt": visit } } ] },
                        doc! { "$set": { "last_visit_at": visit } },
                    )
                    .projection(fact_fields())
                    .session(&mut session)
                    .await?;
                if let Some(before) = moved {
                    let mut after = before.clone();
                    after.insert("last_visit_at", visit);
                    let facts = (
                        ClientFacts::of_doc(Some(&before)),
                        ClientFacts::of_doc(Some(&after)),
                    );
                    self.follow_client(&mut session, record.client_id, facts.0, facts.1)
                        .await?;
                }
            }
            Ok::<_, StoreError>(
                self.attendance()
                    .find_one(key)
                    .session(&mut session)
                    .await?,
            )
        }
        .await;
        Ok(self
            .finish(session, written)
            .await?
            .unwrap_or_else(|| record.clone()))
    }

    /// Writes new attendance records (an import, a batch of marks) and adds them to
    /// their classes' counts, in one transaction. Client last visits are not moved.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when a record's class does not exist; a record for a
    /// client already marked at that class; the server failed. Nothing is written then.
    pub async fn record_attendance(&self, records: &[Attendance]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut per_class: BTreeMap<ObjectId, Vec<Attendance>> = BTreeMap::new();
        for r in records {
            per_class.entry(r.class_id).or_default().push(r.clone());
        }
        self.retrying(|| self.write_records(records, &per_class))
            .await
    }

    async fn write_records(
        &self,
        records: &[Attendance],
        per_class: &BTreeMap<ObjectId, Vec<Attendance>>,
    ) -> Result<(), StoreError> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let written = async {
            self.attendance()
                .insert_many(records)
                .session(&mut session)
                .await?;
            self.count_visits_in(&mut session, &visits_of(records), true)
                .await?;
            for (class_id, of_class) in per_class {
                self.add_counts(&mut session, *class_id, AttendanceCounts::of(of_class))
                    .await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        self.finish(session, written).await
    }

    /// Adds `change` to a class's counts inside a transaction.
    async fn add_counts(
        &self,
        session: &mut ClientSession,
        class_id: ObjectId,
        change: AttendanceCounts,
    ) -> Result<(), StoreError> {
        if change == AttendanceCounts::default() {
            return Ok(());
        }
        let before = self
            .db_classes()
            .find_one_and_update(doc! { "_id": class_id }, doc! { "$inc": change.fields() })
            .projection(slot_fields())
            .session(&mut *session)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "class",
                key: class_id.to_hex(),
            })?;
        let after = slot_after(&before, &Document::new(), &change.fields());
        self.move_class(session, ClassSlot::of_doc(&before).as_ref(), after.as_ref())
            .await
    }

    /// Sets every class's counts from its attendance records (one pass over them).
    /// Returns whether there were records to count.
    pub(crate) async fn recount_attendance(&self) -> Result<bool, StoreError> {
        let pipeline = vec![doc! { "$group": {
            "_id": "$class_id",
            COUNT_MARKED: { "$sum": 1 },
            COUNT_ATTENDED: { "$sum": { "$cond": [ { "$in": [ "$status", ["present", "late"] ] }, 1, 0 ] } },
        } }];
        let groups: Vec<Document> = self
            .attendance()
            .aggregate(pipeline)
            .await?
            .try_collect()
            .await?;
        let counted: Vec<ObjectId> = groups
            .iter()
            .filter_map(|g| g.get_object_id("_id").ok())
            .collect();
        // Classes nobody was marked at count zero.
        self.classes()
            .update_many(
                doc! { "_id": { "$nin": counted } },
                doc! { "$set": { COUNT_MARKED: 0, COUNT_ATTENDED: 0 } },
            )
            .await?;
        futures::stream::iter(groups.iter().filter_map(|g| {
            let id = g.get_object_id("_id").ok()?;
            let counts = AttendanceCounts {
                marked: get_i64(g, COUNT_MARKED),
                attended: get_i64(g, COUNT_ATTENDED),
            };
            Some(async move {
                self.classes()
                    .update_one(doc! { "_id": id }, counts.assignment())
                    .await
            })
        }))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
        Ok(!groups.is_empty())
    }
}

/// The count fields on a class document: records marked, and of them present or late.
pub(crate) const COUNT_MARKED: &str = "marked";
pub(crate) const COUNT_ATTENDED: &str = "attended";

/// How many records a class has and how many of them attended (present or late).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AttendanceCounts {
    pub marked: i64,
    pub attended: i64,
}

impl AttendanceCounts {
    pub(crate) fn of(records: &[Attendance]) -> Self {
        Self {
            marked: records.len() as i64,
            attended: records.iter().filter(|r| r.status.attended()).count() as i64,
        }
    }

    /// `self` without what `records` counted (a re-mark replaces its earlier record).
    fn less(self, records: &[Attendance]) -> Self {
        let gone = Self::of(records);
        Self {
            marked: self.marked - gone.marked,
            attended: self.attended - gone.attended,
        }
    }

    fn assignment(self) -> Document {
        doc! { "$set": { COUNT_MARKED: self.marked, COUNT_ATTENDED: self.attended } }
    }

    /// The counts as fields of a class document (the seed) or of an `$inc`.
    pub(crate) fn fields(self) -> Document {
        doc! { COUNT_MARKED: self.marked, COUNT_ATTENDED: self.attended }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AttendanceStatus::{Absent, Late, Present};

    fn record(status: AttendanceStatus) -> Attendance {
        Attendance {
            id: ObjectId::new(),
            class_id: ObjectId::new(),
            client_id: ObjectId::new(),
            course_id: ObjectId::new(),
            course_name: "Pilates".into(),
            class_starts_at: Utc::now(),
            status,
            marked_at: Utc::now(),
        }
    }

    #[test]
    fn a_re_mark_moves_only_the_attended_count() {
        let counts = |s: &[AttendanceStatus]| {
            AttendanceCounts::of(&s.iter().map(|s| record(*s)).collect::<Vec<_>>())
        };
        assert_eq!(
            counts(&[Present, Late, Absent]),
            AttendanceCounts {
                marked: 3,
                attended: 2
            }
        );
        // Absent → present: one more attended, no new record.
        let change = counts(&[Present]).less(&[record(Absent)]);
        assert_eq!(
            change,
            AttendanceCounts {
                marked: 0,
                attended: 1
            }
        );
        // Late → absent: one fewer attended.
        assert_eq!(counts(&[Absent]).less(&[record(Late)]).attended, -1);
        // A first mark: one record.
        assert_eq!(counts(&[Absent]).less(&[]).marked, 1);
        // The same again changes nothing (and writes nothing).
        assert_eq!(
            counts(&[Late]).less(&[record(Present)]),
            AttendanceCounts::default()
        );
    }
}
