//! A studio client (or a lead who has only enquired so far).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::{bson_date, bson_date_opt};
use super::{Email, ObjectId, OrderNumber, PersonName, Phone};

/// Where a client is in their relationship with the studio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    /// Has enquired, never bought.
    Lead,
    Active,
    Inactive,
}

impl ClientStatus {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }
}

/// One course a client enrolled in, kept on the client for their history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    pub course_id: ObjectId,
    pub course_name: String,
    pub order_number: OrderNumber,
    #[serde(with = "bson_date")]
    pub enrolled_at: DateTime<Utc>,
}

/// A client of the studio.
///
/// `store::sealed::ClientDoc` is how a client is stored and mirrors these fields one for
/// one (email, phone and notes sealed, plus their blind indexes): when you add a field
/// here, add it there too, and to `ClientDoc::seal` and `ClientDoc::open`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub name: PersonName,
    /// Lower-case words of `name`, kept in step by [`Client::new`] and
    /// [`Client::rename`]; indexed so a name lookup never scans.
    pub name_tokens: Vec<String>,
    pub email: Email,
    #[serde(default)]
    pub phone: Option<Phone>,
    pub status: ClientStatus,
    #[serde(with = "bson_date")]
    pub joined_at: DateTime<Utc>,
    #[serde(default, with = "bson_date_opt")]
    pub last_visit_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub preferences: Vec<String>,
    #[serde(default)]
    pub enrollments: Vec<Enrollment>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Set when the client was deleted; their orders and payments stay.
    #[serde(default, with = "bson_date_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Client {
    #[must_use]
    pub fn new(
        name: PersonName,
        email: Email,
        status: ClientStatus,
        joined_at: DateTime<Utc>,
    ) -> Self {
        let name_tokens = name_tokens(name.as_str());
        Self {
            id: ObjectId::new(),
            name,
            name_tokens,
            email,
            phone: None,
            status,
            joined_at,
            last_visit_at: None,
            preferences: Vec::new(),
            enrollments: Vec::new(),
            notes: None,
            deleted_at: None,
        }
    }

    #[must_use]
    pub fn with_phone(mut self, phone: Phone) -> Self {
        self.phone = Some(phone);
        self
    }

    pub fn rename(&mut self, name: PersonName) {
        self.name_tokens = name_tokens(name.as_str());
        self.name = name;
    }
}

/// The lower-case words of a name, as stored in `name_tokens` and used for lookups.
#[must_use]
pub fn name_tokens(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
