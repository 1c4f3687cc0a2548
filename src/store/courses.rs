//! Courses: the catalogue. Every write bumps the catalogue's version (a document in
//! `counters`), which every instance checks before it trusts its kept copy, so a price
//! changed through one instance is quoted by all of them at once.

use std::sync::Arc;

use bson::doc;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::{names, Store, StoreError};
use crate::domain::{Course, CourseCategory, CourseLevel, Money, ObjectId};

/// The `counters` document whose `version` moves on with every catalogue write.
const CATALOGUE_VERSION: &str = "catalogue_version";

/// What a course edit changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CourseChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub capacity: Option<u32>,
    pub instructor: Option<String>,
    pub level: Option<CourseLevel>,
    pub category: Option<CourseCategory>,
}

impl Store {
    /// # Errors
    /// [`StoreError::Duplicate`] when a course of that name exists.
    pub async fn insert_course(&self, course: &Course) -> Result<(), StoreError> {
        self.courses()
            .insert_one(course)
            .await
            .map_err(|e| StoreError::from_write(e, "course", course.name.clone()))?;
        self.bump_catalogue_version(None).await?;
        self.shared.forget_catalogue();
        Ok(())
    }

    /// The catalogue's version: moved on by every catalogue write of any instance.
    ///
    /// # Errors
    /// The server failed.
    pub async fn catalogue_version(&self) -> Result<i64, StoreError> {
        let doc = self
            .db
            .collection::<bson::Document>(names::COUNTERS)
            .find_one(doc! { "_id": CATALOGUE_VERSION })
            .await?;
        Ok(doc.and_then(|d| d.get_i64("version").ok()).unwrap_or(0))
    }

    async fn bump_catalogue_version(
        &self,
        session: Option<&mut mongodb::ClientSession>,
    ) -> Result<(), StoreError> {
        let counters = self.db.collection::<bson::Document>(names::COUNTERS);
        let bump = counters
            .update_one(
                doc! { "_id": CATALOGUE_VERSION },
                doc! { "$inc": { "version": 1_i64 } },
            )
            .upsert(true);
        match session {
            Some(session) => bump.session(session).await?,
            None => bump.await?,
        };
        Ok(())
    }

    /// Changes a course: the course, the name and instructor its upcoming classes show
    /// (a class with a substitute instructor keeps them; the calendar follows through
    /// the outbox), the catalogue's version and the audit, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Duplicate`] (the new name is taken);
    /// [`StoreError::Invalid`] for an empty name or instructor or a capacity of zero.
    pub async fn patch_course(
        &self,
        id: ObjectId,
        changes: &CourseChanges,
        now: DateTime<Utc>,
    ) -> Result<Course, StoreError> {
        // Read inside the transaction: two changes at once conflict and the later one is
        // made again on what the earlier one wrote, instead of undoing its fields.
        let written = self
            .retrying(|| async {
                let mut session = self.client.start_session().await?;
                session.start_transaction().await?;
                let written = self.patch_course_in(&mut session, id, changes, now).await;
                self.finish(session, written).await
            })
            .await;
        self.shared.forget_catalogue();
        written
    }

    async fn patch_course_in(
        &self,
        session: &mut mongodb::ClientSession,
        id: ObjectId,
        changes: &CourseChanges,
        now: DateTime<Utc>,
    ) -> Result<Course, StoreError> {
        let before = self
            .courses()
            .find_one(doc! { "_id": id })
            .session(&mut *session)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "course",
                key: id.to_hex(),
            })?;
        let mut after = Course::new(
            changes.name.as_deref().unwrap_or(&before.name),
            changes.category.unwrap_or(before.category),
            changes.level.unwrap_or(before.level),
            changes.price.unwrap_or(before.price),
            changes.instructor.as_deref().unwrap_or(&before.instructor),
            changes.capacity.unwrap_or(before.capacity),
            before.schedule.clone(),
        )?;
        after.id = before.id;
        after.description = changes
            .description
            .clone()
            .unwrap_or_else(|| before.description.clone());
        self.courses()
            .replace_one(doc! { "_id": id }, &after)
            .session(&mut *session)
            .await
            .map_err(|e| StoreError::from_write(e, "course", after.name.clone()))?;
        let upcoming =
            doc! { "course_id": id, "starts_at": { "$gte": bson::DateTime::from_chrono(now) } };
        if after.name != before.name {
            self.classes()
                .update_many(
                    upcoming.clone(),
                    doc! { "$set": { "course_name": &after.name } },
                )
                .session(&mut *session)
                .await?;
        }
        if after.instructor != before.instructor {
            let taught: Vec<ObjectId> = self
                .classes()
                .find(upcoming)
                .session(&mut *session)
                .await?
                .stream(&mut *session)
                .try_collect::<Vec<_>>()
                .await?
                .into_iter()
                .filter(|c| c.instructor == before.instructor)
                .map(|c| c.id)
                .collect();
            for class in taught {
                self.classes()
                    .update_one(
                        doc! { "_id": class },
                        doc! { "$set": { "instructor": &after.instructor } },
                    )
                    .session(&mut *session)
                    .await?;
            }
        }
        self.bump_catalogue_version(Some(&mut *session)).await?;
        self.audit_in(session, "course.update", names::COURSES, &id.to_hex())
            .await?;
        Ok(after)
    }

    /// The whole catalogue, by name. Every message plans against it, so it is kept in
    /// memory for [`CATALOGUE_TTL`](super::cache::CATALOGUE_TTL); writes through this
    /// store clear it at once.
    ///
    /// # Errors
    /// The server failed.
    pub async fn all_courses(&self) -> Result<Arc<Vec<Course>>, StoreError> {
        if let Some(cached) = self.shared.catalogue() {
            return Ok(cached);
        }
        // Kept but not checked for a second: the same copy when no instance has written
        // the catalogue since it was read.
        let version = self.catalogue_version().await?;
        if let Some(cached) = self.shared.catalogue_at(version) {
            return Ok(cached);
        }
        let generation = self.shared.catalogue_generation();
        let courses: Vec<Course> = self
            .courses()
            .find(doc! {})
            .sort(doc! { "name": 1 })
            .await?
            .try_collect()
            .await?;
        let courses = Arc::new(courses);
        self.shared
            .keep_catalogue(generation, version, Arc::clone(&courses));
        Ok(courses)
    }

    /// # Errors
    /// The server failed.
    pub async fn course_by_id(&self, id: ObjectId) -> Result<Option<Course>, StoreError> {
        Ok(self.courses().find_one(doc! { "_id": id }).await?)
    }

    /// A course by its exact name, ignoring case.
    ///
    /// # Errors
    /// The server failed.
    pub async fn course_by_name(&self, name: &str) -> Result<Option<Course>, StoreError> {
        let key = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        Ok(self.courses().find_one(doc! { "name_key": key }).await?)
    }

    /// Replaces a course.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or [`StoreError::Duplicate`] (the new name is taken).
    pub async fn update_course(&self, course: &Course) -> Result<(), StoreError> {
        let result = self
            .courses()
            .replace_one(doc! { "_id": course.id }, course)
            .await
            .map_err(|e| StoreError::from_write(e, "course", course.name.clone()))?;
        self.bump_catalogue_version(None).await?;
        self.shared.forget_catalogue();
        if result.matched_count == 0 {
            return Err(StoreError::NotFound {
                what: "course",
                key: course.id.to_hex(),
            });
        }
        Ok(())
    }
}
