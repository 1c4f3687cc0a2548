//! How a client is stored: email, phone and notes sealed with the [`Keyring`] (each
//! value `{k, n, c}` bound to the record id and field), and blind indexes `email_bi`
//! and `phone_bi` for exact lookups. Everything else is stored as [`Client`] has it.
//!
//! A document written before encryption (plain strings, no blind index) still reads;
//! `frontdesk rotate-key` seals and indexes it.

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::time::{bson_date, bson_date_opt};
use crate::domain::{Client, ClientStatus, Email, Enrollment, ObjectId, PersonName, Phone};
use crate::protect::{BlindKind, Keyring, Sealed};

/// The fields that are sealed.
pub(crate) const EMAIL: &str = "email";
pub(crate) const PHONE: &str = "phone";
pub(crate) const NOTES: &str = "notes";
/// The blind-index fields.
pub(crate) const EMAIL_BI: &str = "email_bi";
pub(crate) const PHONE_BI: &str = "phone_bi";

/// A client document as stored.
///
/// It mirrors the fields of [`Client`] one for one by design (this is the stored shape
/// of that type), with email, phone and notes sealed and the blind indexes added: when
/// you add a field to [`Client`], add it here too, and to [`ClientDoc::seal`] and
/// [`ClientDoc::open`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClientDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub name: PersonName,
    pub name_tokens: Vec<String>,
    /// A sealed value (or, in a document from before encryption, the plain address).
    pub email: Bson,
    #[serde(default)]
    pub email_bi: Option<String>,
    #[serde(default)]
    pub phone: Option<Bson>,
    #[serde(default)]
    pub phone_bi: Option<String>,
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
    pub notes: Option<Bson>,
    #[serde(default, with = "bson_date_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The associated data a field's value is sealed with.
fn context(id: ObjectId, field: &str) -> String {
    format!("client:{}:{field}", id.to_hex())
}

/// Seals one field's value for record `id`.
pub(crate) fn seal(keys: &Keyring, id: ObjectId, field: &str, plain: &str) -> Bson {
    let sealed = keys.seal(plain, &context(id, field));
    Bson::Document(doc! { "k": sealed.k, "n": sealed.n, "c": sealed.c })
}

/// Opens one stored field's value: a sealed document, or a plain string from before
/// encryption. The error names the record and field, never the value.
pub(crate) fn open(
    keys: &Keyring,
    id: ObjectId,
    field: &str,
    stored: &Bson,
) -> Result<String, StoreError> {
    match stored {
        Bson::String(plain) => Ok(plain.clone()),
        Bson::Document(d) => {
            let sealed: Sealed = bson::from_document(d.clone())
                .map_err(|e| StoreError::Decode(format!("client {} {field}: {e}", id.to_hex())))?;
            keys.open(&sealed, &context(id, field))
                .map_err(|e| StoreError::Decode(format!("client {} {field}: {e}", id.to_hex())))
        }
        other => Err(StoreError::Decode(format!(
            "client {} {field}: a {:?} where a sealed value belongs",
            id.to_hex(),
            other.element_type()
        ))),
    }
}

/// Whether a stored value is sealed with the current key (absent or null counts as
/// current: there is nothing to re-seal).
pub(crate) fn is_current(keys: &Keyring, stored: Option<&Bson>) -> bool {
    match stored {
        None | Some(Bson::Null) => true,
        Some(Bson::Document(d)) => d.get_str("k").is_ok_and(|k| k == keys.current_id()),
        Some(_) => false,
    }
}

impl ClientDoc {
    /// The stored form of a client, sealed with the current key.
    pub(crate) fn seal(keys: &Keyring, c: &Client) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            name_tokens: c.name_tokens.clone(),
            email: seal(keys, c.id, EMAIL, c.email.as_str()),
            email_bi: Some(keys.blind_index(BlindKind::Email, c.email.as_str())),
            phone: c
                .phone
                .as_ref()
                .map(|p| seal(keys, c.id, PHONE, p.as_str())),
            phone_bi: c
                .phone
                .as_ref()
                .map(|p| keys.blind_index(BlindKind::Phone, p.as_str())),
            status: c.status,
            joined_at: c.joined_at,
            last_visit_at: c.last_visit_at,
            preferences: c.preferences.clone(),
            enrollments: c.enrollments.clone(),
            notes: c.notes.as_deref().map(|n| seal(keys, c.id, NOTES, n)),
            deleted_at: c.deleted_at,
        }
    }

    /// The client, with its sealed fields opened and validated.
    pub(crate) fn open(self, keys: &Keyring) -> Result<Client, StoreError> {
        let id = self.id;
        let invalid = |field: &str| {
            StoreError::Decode(format!(
                "client {}: the stored {field} is not valid",
                id.to_hex()
            ))
        };
        let email =
            Email::parse(&open(keys, id, EMAIL, &self.email)?).map_err(|_| invalid(EMAIL))?;
        let phone = match self.phone.as_ref().filter(|b| !matches!(b, Bson::Null)) {
            Some(stored) => {
                Some(Phone::parse(&open(keys, id, PHONE, stored)?).map_err(|_| invalid(PHONE))?)
            }
            None => None,
        };
        let notes = match self.notes.as_ref().filter(|b| !matches!(b, Bson::Null)) {
            Some(stored) => Some(open(keys, id, NOTES, stored)?),
            None => None,
        };
        Ok(Client {
            id,
            name: self.name,
            name_tokens: self.name_tokens,
            email,
            phone,
            status: self.status,
            joined_at: self.joined_at,
            last_visit_at: self.last_visit_at,
            preferences: self.preferences,
            enrollments: self.enrollments,
            notes,
            deleted_at: self.deleted_at,
        })
    }

    /// Whether every sealed field and blind index is under the current key.
    pub(crate) fn is_current(&self, keys: &Keyring) -> bool {
        is_current(keys, Some(&self.email))
            && is_current(keys, self.phone.as_ref())
            && is_current(keys, self.notes.as_ref())
            && self.email_bi.is_some()
            && (self.phone.as_ref().is_none_or(|p| matches!(p, Bson::Null))
                || self.phone_bi.is_some())
    }
}

/// The filter of clients that still have a field under another key (or none): what
/// `rotate-key` has left to do.
pub(crate) fn not_current_filter(keys: &Keyring) -> Document {
    let cur = keys.current_id();
    doc! { "$or": [
        { "email.k": { "$ne": cur } },
        { "email_bi": null },
        { "phone": { "$type": "string" } },
        { "phone.k": { "$exists": true, "$ne": cur } },
        { "notes": { "$type": "string" } },
        { "notes.k": { "$exists": true, "$ne": cur } },
    ] }
}
