//! A course the studio sells (e.g. "Pilates Intermediate") and its weekly timetable.

use std::fmt;

use chrono::{NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use super::{DomainError, Money, ObjectId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CourseCategory {
    Yoga,
    Pilates,
    Strength,
    Dance,
    Meditation,
    Other,
}

impl CourseCategory {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Yoga => "yoga",
            Self::Pilates => "pilates",
            Self::Strength => "strength",
            Self::Dance => "dance",
            Self::Meditation => "meditation",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CourseLevel {
    Beginner,
    Intermediate,
    Advanced,
    All,
}

impl fmt::Display for CourseLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Beginner => "beginner",
            Self::Intermediate => "intermediate",
            Self::Advanced => "advanced",
            Self::All => "all levels",
        })
    }
}

/// One weekly slot of a course's timetable, in the studio's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WeeklySlotDoc", into = "WeeklySlotDoc")]
pub struct WeeklySlot {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub minutes: u32,
}

#[derive(Serialize, Deserialize)]
struct WeeklySlotDoc {
    weekday: String,
    start: String,
    minutes: u32,
}

impl WeeklySlot {
    /// # Errors
    /// A length of zero or over four hours.
    pub fn new(weekday: Weekday, start: NaiveTime, minutes: u32) -> Result<Self, DomainError> {
        if minutes == 0 || minutes > 240 {
            return Err(DomainError::invalid(
                "schedule",
                format!("a class of {minutes} minutes; a class lasts 1 to 240 minutes"),
            ));
        }
        Ok(Self {
            weekday,
            start,
            minutes,
        })
    }
}

impl TryFrom<WeeklySlotDoc> for WeeklySlot {
    type Error = DomainError;
    fn try_from(doc: WeeklySlotDoc) -> Result<Self, Self::Error> {
        let weekday = doc.weekday.parse::<Weekday>().map_err(|_| {
            DomainError::invalid("schedule", format!("{:?} is not a weekday", doc.weekday))
        })?;
        let start = NaiveTime::parse_from_str(&doc.start, "%H:%M").map_err(|_| {
            DomainError::invalid("schedule", format!("{:?} is not a time (HH:MM)", doc.start))
        })?;
        Self::new(weekday, start, doc.minutes)
    }
}

impl From<WeeklySlot> for WeeklySlotDoc {
    fn from(s: WeeklySlot) -> Self {
        Self {
            weekday: s.weekday.to_string(),
            start: s.start.format("%H:%M").to_string(),
            minutes: s.minutes,
        }
    }
}

/// A course the studio sells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CourseDoc")]
pub struct Course {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub name: String,
    /// `name` in lower case, unique: "Pilates" and "pilates" are one course.
    pub name_key: String,
    pub category: CourseCategory,
    pub level: CourseLevel,
    pub price: Money,
    pub instructor: String,
    pub capacity: u32,
    pub schedule: Vec<WeeklySlot>,
    #[serde(default)]
    pub description: String,
}

#[derive(Deserialize)]
struct CourseDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: String,
    category: CourseCategory,
    level: CourseLevel,
    price: Money,
    instructor: String,
    capacity: u32,
    schedule: Vec<WeeklySlot>,
    #[serde(default)]
    description: String,
}

impl TryFrom<CourseDoc> for Course {
    type Error = DomainError;
    fn try_from(d: CourseDoc) -> Result<Self, Self::Error> {
        let mut course = Self::new(
            &d.name,
            d.category,
            d.level,
            d.price,
            &d.instructor,
            d.capacity,
            d.schedule,
        )?;
        course.id = d.id;
        course.description = d.description;
        Ok(course)
    }
}

impl Course {
    /// # Errors
    /// An empty name or instructor, or a capacity of zero.
    pub fn new(
        name: &str,
        category: CourseCategory,
        level: CourseLevel,
        price: Money,
        instructor: &str,
        capacity: u32,
        schedule: Vec<WeeklySlot>,
    ) -> Result<Self, DomainError> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > 80 {
            return Err(DomainError::invalid(
                "course",
                "a course name has 1 to 80 characters",
            ));
        }
        let instructor = instructor.trim();
        if instructor.is_empty() {
            return Err(DomainError::invalid("instructor", "is empty"));
        }
        if capacity == 0 {
            return Err(DomainError::invalid(
                "capacity",
                "a course holds at least one person",
            ));
        }
        Ok(Self {
            id: ObjectId::new(),
            name_key: name.to_lowercase(),
            name,
            category,
            level,
            price,
            instructor: instructor.to_owned(),
            capacity,
            schedule,
            description: String::new(),
        })
    }
}
