//! Courses: the catalogue.

use std::sync::Arc;

use bson::doc;
use futures::TryStreamExt;

use super::{Store, StoreError};
use crate::domain::{Course, ObjectId};

impl Store {
    /// # Errors
    /// [`StoreError::Duplicate`] when a course of that name exists.
    pub async fn insert_course(&self, course: &Course) -> Result<(), StoreError> {
        self.courses()
            .insert_one(course)
            .await
            .map_err(|e| StoreError::from_write(e, "course", course.name.clone()))?;
        self.shared.forget_catalogue();
        Ok(())
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
        let generation = self.shared.catalogue_generation();
        let courses: Vec<Course> = self
            .courses()
            .find(doc! {})
            .sort(doc! { "name": 1 })
            .await?
            .try_collect()
            .await?;
        let courses = Arc::new(courses);
        self.shared.keep_catalogue(generation, Arc::clone(&courses));
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
