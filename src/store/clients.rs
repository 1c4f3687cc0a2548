//! Clients: create, read, update, soft delete and the lookups the Support Agent uses.

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::{Store, StoreError};
use crate::domain::{name_tokens, Client, ClientStatus, Email, ObjectId, Phone};

/// Filters for listing clients.
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    pub status: Option<ClientStatus>,
    /// Words of the name, or an email (prefix match on the whole address).
    pub search: Option<String>,
    pub skip: u64,
    pub limit: i64,
}

fn not_deleted() -> Document {
    doc! { "deleted_at": null }
}

impl Store {
    /// # Errors
    /// [`StoreError::Duplicate`] when the email is taken.
    pub async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        self.clients()
            .insert_one(client)
            .await
            .map_err(|e| StoreError::from_write(e, "a client with email", client.email.as_str()))?;
        Ok(())
    }

    /// A client who has not been deleted.
    ///
    /// # Errors
    /// The server failed.
    pub async fn client_by_id(&self, id: ObjectId) -> Result<Option<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.insert("_id", id);
        Ok(self.clients().find_one(filter).await?)
    }

    /// # Errors
    /// The server failed.
    pub async fn client_by_email(&self, email: &Email) -> Result<Option<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.insert("email", email.as_str());
        Ok(self.clients().find_one(filter).await?)
    }

    /// # Errors
    /// The server failed.
    pub async fn client_by_phone(&self, phone: &Phone) -> Result<Option<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.insert("phone", phone.as_str());
        Ok(self.clients().find_one(filter).await?)
    }

    /// Up to `limit` clients with this phone number (family members may share one).
    ///
    /// # Errors
    /// The server failed.
    pub async fn clients_by_phone(
        &self,
        phone: &Phone,
        limit: i64,
    ) -> Result<Vec<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.insert("phone", phone.as_str());
        let found = self.clients().find(filter).limit(limit).await?;
        Ok(futures::TryStreamExt::try_collect(found).await?)
    }

    /// Clients whose name has every word of `name` (in any order), at most `limit`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn clients_by_name(&self, name: &str, limit: i64) -> Result<Vec<Client>, StoreError> {
        let tokens = name_tokens(name);
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let mut filter = not_deleted();
        filter.insert("name_tokens", doc! { "$all": tokens });
        Ok(self
            .clients()
            .find(filter)
            .sort(doc! { "name": 1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }

    /// A page of clients, sorted by name, and the total matching.
    ///
    /// # Errors
    /// The server failed.
    pub async fn list_clients(&self, q: &ClientQuery) -> Result<(Vec<Client>, u64), StoreError> {
        let mut filter = not_deleted();
        if let Some(status) = q.status {
            filter.insert("status", status.as_str());
        }
        if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if search.contains('@') {
                let prefix = regex::escape(&search.to_lowercase());
                filter.insert("email", doc! { "$regex": format!("^{prefix}") });
            } else {
                filter.insert("name_tokens", doc! { "$all": name_tokens(search) });
            }
        }
        let total = self.clients().count_documents(filter.clone()).await?;
        let page = self
            .clients()
            .find(filter)
            .sort(doc! { "name": 1, "_id": 1 })
            .skip(q.skip)
            .limit(q.limit.clamp(1, 500))
            .await?
            .try_collect()
            .await?;
        Ok((page, total))
    }

    /// Replaces a client's stored document with `client`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or deleted client;
    /// [`StoreError::Duplicate`] when the new email is taken.
    pub async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut filter = not_deleted();
        filter.insert("_id", client.id);
        let result = self
            .clients()
            .replace_one(filter, client)
            .await
            .map_err(|e| StoreError::from_write(e, "a client with email", client.email.as_str()))?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound {
                what: "client",
                key: client.id.to_hex(),
            });
        }
        Ok(())
    }

    /// Soft-deletes a client: they disappear from lookups, their orders and payments stay.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or already deleted client.
    pub async fn delete_client(&self, id: ObjectId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut filter = not_deleted();
        filter.insert("_id", id);
        let result = self
            .clients()
            .update_one(
                filter,
                doc! { "$set": { "deleted_at": bson::DateTime::from_chrono(now) } },
            )
            .await?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound {
                what: "client",
                key: id.to_hex(),
            });
        }
        Ok(())
    }
}
