//! Classes summed per UTC day, course, instructor and whether cancelled: how many, their
//! seats, and their attendance counts. Kept up to date in the transaction of every write
//! that adds or changes a class or moves its counts (and written by the seed), so
//! attendance and fill rate over a month read a few hundred small documents instead of
//! every class; the partial days at a period's edges are read from the classes.

use std::collections::BTreeMap;

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use super::analytics::get_u64;
use super::classes::{COUNT_ATTENDED, COUNT_MARKED};
use super::rollups::{day_at_or_after, day_of};
use super::{names, Store, StoreError};
use crate::domain::ObjectId;

/// The fields of a class document a group is read from (a projection).
pub(crate) fn slot_fields() -> Document {
    doc! {
        "starts_at": 1, "course_id": 1, "course_name": 1, "instructor": 1,
        "cancelled": 1, "capacity": 1, COUNT_MARKED: 1, COUNT_ATTENDED: 1,
    }
}

/// Classes of one course and instructor, cancelled or not, summed (one class, or a
/// day's worth of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClassGroup {
    pub course_id: ObjectId,
    pub course_name: String,
    pub instructor: String,
    pub cancelled: bool,
    pub classes: u64,
    pub seats: u64,
    pub marked: u64,
    pub attended: u64,
}

/// Where one class is counted, and what it adds there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClassSlot {
    day: DateTime<Utc>,
    group: ClassGroup,
}

impl ClassSlot {
    /// The slot of a stored class document (with at least [`slot_fields`]).
    pub(crate) fn of_doc(d: &Document) -> Option<Self> {
        let starts = d.get_datetime("starts_at").ok()?.to_chrono();
        Some(Self {
            day: day_of(starts),
            group: ClassGroup {
                course_id: d.get_object_id("course_id").ok()?,
                course_name: d.get_str("course_name").unwrap_or_default().to_owned(),
                instructor: d.get_str("instructor").unwrap_or_default().to_owned(),
                cancelled: d.get_bool("cancelled").unwrap_or(false),
                classes: 1,
                seats: get_u64(d, "capacity"),
                marked: get_u64(d, COUNT_MARKED),
                attended: get_u64(d, COUNT_ATTENDED),
            },
        })
    }

    fn id(&self) -> Document {
        doc! {
            "day": bson::DateTime::from_chrono(self.day),
            "course": self.group.course_id,
            "instructor": &self.group.instructor,
            "cancelled": self.group.cancelled,
        }
    }

    fn sums(&self, sign: i64) -> Document {
        let n = |v: u64| sign * i64::try_from(v).unwrap_or(i64::MAX);
        doc! {
            "classes": n(self.group.classes),
            "seats": n(self.group.seats),
            "marked": n(self.group.marked),
            "attended": n(self.group.attended),
        }
    }
}

/// The day documents for these classes (the seed, a recount).
pub(crate) fn class_day_documents(slots: impl IntoIterator<Item = ClassSlot>) -> Vec<Document> {
    let mut days: BTreeMap<(DateTime<Utc>, ObjectId, String, bool), ClassGroup> = BTreeMap::new();
    for slot in slots {
        let g = &slot.group;
        let key = (slot.day, g.course_id, g.instructor.clone(), g.cancelled);
        days.entry(key)
            .and_modify(|sum| {
                sum.classes += g.classes;
                sum.seats += g.seats;
                sum.marked += g.marked;
                sum.attended += g.attended;
            })
            .or_insert_with(|| g.clone());
    }
    days.into_iter()
        .map(|((day, ..), group)| {
            let slot = ClassSlot { day, group };
            let mut d = slot.id();
            d.insert("_id", slot.id());
            d.insert("course_name", &slot.group.course_name);
            d.extend(slot.sums(1));
            d
        })
        .collect()
}

fn group_of(d: &Document) -> Option<ClassGroup> {
    Some(ClassGroup {
        course_id: d.get_object_id("course").ok()?,
        course_name: d.get_str("course_name").unwrap_or_default().to_owned(),
        instructor: d.get_str("instructor").unwrap_or_default().to_owned(),
        cancelled: d.get_bool("cancelled").unwrap_or(false),
        classes: get_u64(d, "classes"),
        seats: get_u64(d, "seats"),
        marked: get_u64(d, "marked"),
        attended: get_u64(d, "attended"),
    })
}

impl Store {
    fn class_days(&self) -> Collection<Document> {
        self.db.collection(names::CLASS_DAYS)
    }

    /// Moves a class from `before` to `after` (either may be none: a new class),
    /// inside the transaction that writes the class.
    pub(crate) async fn move_class(
        &self,
        session: &mut ClientSession,
        before: Option<&ClassSlot>,
        after: Option<&ClassSlot>,
    ) -> Result<(), StoreError> {
        if before == after {
            return Ok(());
        }
        if let Some(b) = before {
            self.class_days()
                .update_one(doc! { "_id": b.id() }, doc! { "$inc": b.sums(-1) })
                .session(&mut *session)
                .await?;
        }
        if let Some(a) = after {
            let mut on_insert = a.id();
            on_insert.remove("_id");
            self.class_days()
                .update_one(
                    doc! { "_id": a.id() },
                    doc! {
                        "$inc": a.sums(1),
                        "$set": { "course_name": &a.group.course_name },
                        "$setOnInsert": on_insert,
                    },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        Ok(())
    }

    /// The classes starting in `[start, end)` (optionally of some courses only), summed
    /// per course, instructor and whether cancelled: whole UTC days from their
    /// documents, the edges from the classes themselves.
    pub(crate) async fn class_groups(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        course_id: Option<&[ObjectId]>,
    ) -> Result<Vec<ClassGroup>, StoreError> {
        let (first_whole, after_whole) = (day_at_or_after(start), day_of(end));
        if first_whole >= after_whole {
            return self.classes_as_groups(start, end, course_id).await;
        }
        let days = async {
            let mut filter = doc! { "day": {
                "$gte": bson::DateTime::from_chrono(first_whole),
                "$lt": bson::DateTime::from_chrono(after_whole),
            } };
            if let Some(id) = course_id.and_then(only_one) {
                filter.insert("course", id);
            }
            let docs: Vec<Document> = self.class_days().find(filter).await?.try_collect().await?;
            Ok::<_, StoreError>(
                docs.iter()
                    .filter_map(group_of)
                    .filter(|g| course_id.is_none_or(|ids| ids.contains(&g.course_id)))
                    .collect::<Vec<_>>(),
            )
        };
        let (mut groups, before, after) = futures::try_join!(
            days,
            self.classes_as_groups(start, first_whole, course_id),
            self.classes_as_groups(after_whole, end, course_id),
        )?;
        groups.extend(before);
        groups.extend(after);
        Ok(groups)
    }

    async fn classes_as_groups(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        course_id: Option<&[ObjectId]>,
    ) -> Result<Vec<ClassGroup>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "starts_at": {
            "$gte": bson::DateTime::from_chrono(start),
            "$lt": bson::DateTime::from_chrono(end),
        } };
        if let Some(id) = course_id.and_then(only_one) {
            filter.insert("course_id", id);
        }
        let docs: Vec<Document> = self
            .db
            .collection::<Document>(names::CLASSES)
            .find(filter)
            .projection(slot_fields())
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .iter()
            .filter_map(ClassSlot::of_doc)
            .map(|s| s.group)
            .filter(|g| course_id.is_none_or(|ids| ids.contains(&g.course_id)))
            .collect())
    }

    /// Rebuilds every day from the classes (after their attendance counts). Returns
    /// whether there were any.
    pub(crate) async fn recount_class_days(&self) -> Result<bool, StoreError> {
        let classes: Vec<Document> = self
            .db
            .collection::<Document>(names::CLASSES)
            .find(doc! {})
            .projection(slot_fields())
            .await?
            .try_collect()
            .await?;
        let days = class_day_documents(classes.iter().filter_map(ClassSlot::of_doc));
        self.class_days().delete_many(doc! {}).await?;
        for chunk in days.chunks(1000) {
            self.class_days().insert_many(chunk).await?;
        }
        Ok(!classes.is_empty())
    }
}

/// A filter on a course id field: the one course, or any of several.
pub(crate) fn one_of(ids: &[ObjectId]) -> Bson {
    match ids {
        [one] => Bson::ObjectId(*one),
        _ => Bson::Document(doc! { "$in": ids.to_vec() }),
    }
}

/// The course to name in a filter beside a range on another field: one course is an
/// equality an index serves with the range; several (an `$in` beside a range) are no
/// index's bound on the local test server, so the caller keeps only theirs itself.
pub(crate) fn only_one(ids: &[ObjectId]) -> Option<ObjectId> {
    match ids {
        [one] => Some(*one),
        _ => None,
    }
}

/// A class document's slot after `set` (its new details) and `inc` (count changes).
pub(crate) fn slot_after(before: &Document, set: &Document, inc: &Document) -> Option<ClassSlot> {
    let mut after = before.clone();
    for (k, v) in set {
        after.insert(k.clone(), v.clone());
    }
    for (k, v) in inc {
        let now = super::analytics::get_i64(&after, k)
            + match v {
                Bson::Int32(n) => i64::from(*n),
                Bson::Int64(n) => *n,
                _ => 0,
            };
        after.insert(k.clone(), now);
    }
    ClassSlot::of_doc(&after)
}
