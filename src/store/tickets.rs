//! Hand-offs to a person: tickets the staff see, opened by `escalate_to_staff`.

use bson::doc;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{names, Store, StoreError};
use crate::domain::ObjectId;

/// A conversation handed to the staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub reason: String,
    /// "open" until a person picks it up.
    pub status: String,
    pub requester: String,
    #[serde(default)]
    pub client_id: Option<ObjectId>,
    #[serde(default)]
    pub conversation: Option<String>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl Store {
    /// Opens a ticket; the same idempotency key twice opens one.
    ///
    /// # Errors
    /// The server failed.
    pub async fn open_ticket(&self, ticket: &Ticket) -> Result<Ticket, StoreError> {
        let tickets = self.db.collection::<Ticket>(names::TICKETS);
        if let Some(key) = &ticket.idempotency_key {
            if let Some(existing) = tickets.find_one(doc! { "idempotency_key": key }).await? {
                return Ok(existing);
            }
        }
        tickets.insert_one(ticket).await?;
        self.audit("ticket.create", names::TICKETS, &ticket.id.to_hex())
            .await?;
        Ok(ticket.clone())
    }

    /// Open tickets, newest first.
    ///
    /// # Errors
    /// The server failed.
    pub async fn open_tickets(&self, limit: i64) -> Result<Vec<Ticket>, StoreError> {
        Ok(self
            .db
            .collection::<Ticket>(names::TICKETS)
            .find(doc! { "status": "open" })
            .sort(doc! { "created_at": -1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }
}
