//! Attendance: whether a client came to a class.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::bson_date;
use super::ObjectId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttendanceStatus {
    Present,
    Absent,
    Late,
}

impl AttendanceStatus {
    /// Present and late both count as attended.
    #[must_use]
    pub fn attended(&self) -> bool {
        matches!(self, Self::Present | Self::Late)
    }
}

/// One client's attendance at one class. The course and start time are copied from
/// the class so analytics never needs a join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attendance {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub class_id: ObjectId,
    pub client_id: ObjectId,
    pub course_id: ObjectId,
    pub course_name: String,
    #[serde(with = "bson_date")]
    pub class_starts_at: DateTime<Utc>,
    pub status: AttendanceStatus,
    #[serde(with = "bson_date")]
    pub marked_at: DateTime<Utc>,
}
