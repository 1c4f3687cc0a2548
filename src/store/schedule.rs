//! What the scheduler (`integrations::scheduler`) reads and marks: classes and overdue
//! payments not reminded of yet, the clients a class reminder goes to, and the coming
//! classes with their revisions for the calendar.

use bson::doc;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::{Store, StoreError};
use crate::domain::{ClassSession, Client, ObjectId, Payment};

/// Classes a reminder run reads at most.
const CLASS_REMINDERS_AT_ONCE: i64 = 200;
/// Overdue payments a reminder run reads at most.
const PAYMENT_REMINDERS_AT_ONCE: i64 = 500;
/// Classes a calendar run reads at most.
const CALENDAR_CLASSES_AT_ONCE: i64 = 1000;

impl Store {
    /// Classes starting after `after` and by `until`, not cancelled, that no reminder
    /// went out for yet (at most 200).
    ///
    /// # Errors
    /// The server failed.
    pub async fn classes_to_remind(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<ClassSession>, StoreError> {
        Ok(self
            .classes()
            .find(doc! {
                // Equalities first, then the range: the whole filter on `reminder_due`.
                "cancelled": false,
                "reminded_at": null,
                "starts_at": { "$gt": bson::DateTime::from_chrono(after), "$lte": bson::DateTime::from_chrono(until) },
            })
            .limit(CLASS_REMINDERS_AT_ONCE)
            .await?
            .try_collect()
            .await?)
    }

    /// Records that the reminder of class `id` went out `at`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn mark_class_reminded(
        &self,
        id: ObjectId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.classes()
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "reminded_at": bson::DateTime::from_chrono(at) } },
            )
            .await?;
        Ok(())
    }

    /// The clients a reminder of a class of `course_id` goes to: enrolled in the course,
    /// not deleted, not inactive.
    ///
    /// # Errors
    /// The server failed, or a stored client cannot be read.
    pub async fn clients_to_remind(&self, course_id: ObjectId) -> Result<Vec<Client>, StoreError> {
        self.find_clients(doc! {
            "enrollments.course_id": course_id,
            "deleted_at": null,
            "status": { "$ne": "inactive" },
        })
        .await
    }

    /// Pending payments due from `due_from` and before `due_before` that no reminder
    /// went out for yet (at most 500).
    ///
    /// # Errors
    /// The server failed.
    pub async fn payments_to_remind(
        &self,
        due_from: DateTime<Utc>,
        due_before: DateTime<Utc>,
    ) -> Result<Vec<Payment>, StoreError> {
        Ok(self
            .payments()
            .find(doc! {
                "status": "pending",
                "due_at": {
                    "$lt": bson::DateTime::from_chrono(due_before),
                    "$gte": bson::DateTime::from_chrono(due_from),
                },
                "reminded_at": null,
            })
            .limit(PAYMENT_REMINDERS_AT_ONCE)
            .await?
            .try_collect()
            .await?)
    }

    /// Records that the reminders of payments `ids` went out `at`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn mark_payments_reminded(
        &self,
        ids: &[ObjectId],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.payments()
            .update_many(
                doc! { "_id": { "$in": ids } },
                doc! { "$set": { "reminded_at": bson::DateTime::from_chrono(at) } },
            )
            .await?;
        Ok(())
    }

    /// Classes starting after `after` and by `until` (cancelled ones too), each with its
    /// revision (bumped by every update; 0 for a class never updated), at most 1000. A
    /// class that cannot be read is left out.
    ///
    /// # Errors
    /// The server failed.
    pub async fn classes_with_revisions(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(ClassSession, i64)>, StoreError> {
        let raw: Vec<bson::Document> = self
            .classes()
            .clone_with_type::<bson::Document>()
            .find(doc! { "starts_at": { "$gt": bson::DateTime::from_chrono(after), "$lte": bson::DateTime::from_chrono(until) } })
            .limit(CALENDAR_CLASSES_AT_ONCE)
            .await?
            .try_collect()
            .await?;
        Ok(raw
            .into_iter()
            .filter_map(|doc| {
                let revision = doc
                    .get_i64("revision")
                    .or_else(|_| doc.get_i32("revision").map(i64::from))
                    .unwrap_or(0);
                // An unreadable class is logged by the store elsewhere; skip it.
                let class = bson::from_document::<ClassSession>(doc).ok()?;
                Some((class, revision))
            })
            .collect())
    }
}
