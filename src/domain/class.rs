//! One class: a single session of a course at a time and place.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::bson_date;
use super::{DomainError, ObjectId};

/// A scheduled session of a course. `ends_at` is always after `starts_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClassDoc")]
pub struct ClassSession {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub course_id: ObjectId,
    pub course_name: String,
    #[serde(with = "bson_date")]
    starts_at: DateTime<Utc>,
    #[serde(with = "bson_date")]
    ends_at: DateTime<Utc>,
    pub instructor: String,
    pub room: String,
    pub capacity: u32,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub cancelled: bool,
}

#[derive(Deserialize)]
struct ClassDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    course_id: ObjectId,
    course_name: String,
    #[serde(with = "bson_date")]
    starts_at: DateTime<Utc>,
    #[serde(with = "bson_date")]
    ends_at: DateTime<Utc>,
    instructor: String,
    room: String,
    capacity: u32,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    cancelled: bool,
}

impl TryFrom<ClassDoc> for ClassSession {
    type Error = DomainError;
    fn try_from(d: ClassDoc) -> Result<Self, Self::Error> {
        let mut class = Self::new(
            d.course_id,
            &d.course_name,
            d.starts_at,
            d.ends_at,
            &d.instructor,
            &d.room,
            d.capacity,
        )?;
        class.id = d.id;
        class.notes = d.notes;
        class.cancelled = d.cancelled;
        Ok(class)
    }
}

impl ClassSession {
    /// # Errors
    /// An end at or before the start, or a capacity of zero.
    pub fn new(
        course_id: ObjectId,
        course_name: &str,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        instructor: &str,
        room: &str,
        capacity: u32,
    ) -> Result<Self, DomainError> {
        check_times(starts_at, ends_at)?;
        if capacity == 0 {
            return Err(DomainError::invalid(
                "capacity",
                "a class holds at least one person",
            ));
        }
        Ok(Self {
            id: ObjectId::new(),
            course_id,
            course_name: course_name.to_owned(),
            starts_at,
            ends_at,
            instructor: instructor.to_owned(),
            room: room.to_owned(),
            capacity,
            notes: None,
            cancelled: false,
        })
    }

    #[must_use]
    pub fn starts_at(&self) -> DateTime<Utc> {
        self.starts_at
    }

    #[must_use]
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }

    /// Moves the class.
    ///
    /// # Errors
    /// An end at or before the start; the class is then unchanged.
    pub fn reschedule(
        &mut self,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        check_times(starts_at, ends_at)?;
        self.starts_at = starts_at;
        self.ends_at = ends_at;
        Ok(())
    }
}

fn check_times(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), DomainError> {
    if ends_at <= starts_at {
        return Err(DomainError::invalid(
            "ends_at",
            format!("the class ends ({ends_at}) before it starts ({starts_at})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn a_class_cannot_end_before_it_starts() {
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap();
        let err = ClassSession::new(
            ObjectId::new(),
            "Pilates",
            start,
            start - Duration::minutes(1),
            "Ana",
            "Studio A",
            12,
        )
        .unwrap_err();
        assert_eq!(err.field(), "ends_at");
        let mut ok = ClassSession::new(
            ObjectId::new(),
            "Pilates",
            start,
            start + Duration::hours(1),
            "Ana",
            "Studio A",
            12,
        )
        .unwrap();
        assert!(ok.reschedule(start, start).is_err());
        assert_eq!(ok.ends_at(), start + Duration::hours(1));
    }

    #[test]
    fn deserializing_checks_the_times_too() {
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap();
        let class = ClassSession::new(
            ObjectId::new(),
            "Pilates",
            start,
            start + Duration::hours(1),
            "Ana",
            "Studio A",
            12,
        )
        .unwrap();
        let mut doc = bson::to_document(&class).unwrap();
        assert!(bson::from_document::<ClassSession>(doc.clone()).is_ok());
        doc.insert(
            "ends_at",
            bson::DateTime::from_chrono(start - Duration::hours(1)),
        );
        assert!(bson::from_document::<ClassSession>(doc).is_err());
    }
}
