//! Classes (sessions) and attendance marking.

use bson::doc;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::{Store, StoreError};
use crate::domain::{Attendance, AttendanceStatus, ClassSession, ObjectId};

impl Store {
    /// # Errors
    /// The server failed.
    pub async fn insert_class(&self, class: &ClassSession) -> Result<(), StoreError> {
        self.classes().insert_one(class).await?;
        Ok(())
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
        let mut filter = doc! {
            "starts_at": { "$gte": bson::DateTime::from_chrono(start), "$lt": bson::DateTime::from_chrono(end) },
            "cancelled": false,
        };
        if let Some(id) = course_id {
            filter.insert("course_id", id);
        }
        Ok(self
            .classes()
            .find(filter)
            .sort(doc! { "starts_at": 1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }

    /// Replaces a class (after a reschedule or a note).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown class.
    pub async fn update_class(&self, class: &ClassSession) -> Result<(), StoreError> {
        let result = self
            .classes()
            .replace_one(doc! { "_id": class.id }, class)
            .await?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound {
                what: "class",
                key: class.id.to_hex(),
            });
        }
        // Every change gets a new revision, so the calendar sync sees A → B → A as two
        // changes (the revision is not part of the domain type).
        self.database()
            .collection::<bson::Document>(super::names::CLASSES)
            .update_one(doc! { "_id": class.id }, doc! { "$inc": { "revision": 1 } })
            .await?;
        Ok(())
    }

    /// Marks (or re-marks) a client's attendance at a class and moves their last visit.
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
        let mut set = bson::to_document(&record)?;
        set.remove("_id");
        self.attendance()
            .update_one(
                doc! { "class_id": class_id, "client_id": client_id },
                doc! { "$set": set },
            )
            .upsert(true)
            .await?;
        if status.attended() {
            let visit = bson::DateTime::from_chrono(class.starts_at());
            self.clients()
                .update_one(
                    doc! { "_id": client_id, "$or": [ { "last_visit_at": null }, { "last_visit_at": { "$lt": visit } } ] },
                    doc! { "$set": { "last_visit_at": visit } },
                )
                .await?;
        }
        Ok(self
            .attendance()
            .find_one(doc! { "class_id": class_id, "client_id": client_id })
            .await?
            .unwrap_or(record))
    }
}
