//! The queries behind the REST API's lists and record endpoints: filtered, counted pages
//! of orders and payments, a client's unpaid orders, and partial client updates that
//! never overwrite fields they do not name.

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;

use super::client_days::{fact_fields, ClientFacts};
use super::{sealed, Store, StoreError};
use crate::domain::{
    name_tokens, Client, ClientStatus, Email, ObjectId, Order, OrderNumber, OrderStatus, Payment,
    PaymentStatus, PersonName, Phone,
};
use crate::protect::{BlindKind, Keyring};

/// The largest page any list returns, whatever the caller asks for.
const MAX_PAGE: i64 = 500;

/// Filters and a page of orders. Every filter set narrows the result (AND).
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// Only this client's orders (always set for a client asking).
    pub client_id: Option<ObjectId>,
    pub course_id: Option<ObjectId>,
    /// Created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Created strictly before this instant.
    pub created_before: Option<DateTime<Utc>>,
    pub skip: u64,
    pub limit: i64,
}

impl OrderFilter {
    /// The MongoDB filter document (built only from typed values, never from raw input).
    #[must_use]
    pub fn to_document(&self) -> Document {
        let mut filter = Document::new();
        if let Some(status) = self.status {
            filter.insert("status", status.as_str());
        }
        if let Some(client) = self.client_id {
            filter.insert("client_id", client);
        }
        if let Some(course) = self.course_id {
            filter.insert("course_id", course);
        }
        let mut created = Document::new();
        if let Some(from) = self.created_from {
            created.insert("$gte", bson::DateTime::from_chrono(from));
        }
        if let Some(before) = self.created_before {
            created.insert("$lt", bson::DateTime::from_chrono(before));
        }
        if !created.is_empty() {
            filter.insert("created_at", created);
        }
        filter
    }
}

/// Filters and a page of payments. Every filter set narrows the result (AND).
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub status: Option<PaymentStatus>,
    /// Only this client's payments (always set for a client asking).
    pub client_id: Option<ObjectId>,
    pub order_id: Option<ObjectId>,
    /// Only payments due strictly before this instant (overdue ones, with `status`
    /// pending).
    pub due_before: Option<DateTime<Utc>>,
    pub skip: u64,
    pub limit: i64,
}

impl PaymentFilter {
    /// The MongoDB filter document (built only from typed values, never from raw input).
    #[must_use]
    pub fn to_document(&self) -> Document {
        let mut filter = Document::new();
        if let Some(status) = self.status {
            filter.insert("status", status.as_str());
        }
        if let Some(client) = self.client_id {
            filter.insert("client_id", client);
        }
        if let Some(order) = self.order_id {
            filter.insert("order_id", order);
        }
        if let Some(before) = self.due_before {
            filter.insert(
                "due_at",
                doc! { "$lt": bson::DateTime::from_chrono(before) },
            );
        }
        filter
    }
}

/// The fields of a client to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    /// `Some(None)` removes the phone number.
    pub phone: Option<Option<Phone>>,
    pub status: Option<ClientStatus>,
    pub preferences: Option<Vec<String>>,
    /// `Some(None)` removes the notes.
    pub notes: Option<Option<String>>,
}

impl ClientChanges {
    /// The `$set` of these changes to client `id`, personal data sealed.
    fn to_set(&self, keys: &Keyring, id: ObjectId) -> Result<Document, StoreError> {
        let mut set = Document::new();
        if let Some(name) = &self.name {
            set.insert("name", name.as_str());
            set.insert("name_tokens", name_tokens(name.as_str()));
        }
        if let Some(email) = &self.email {
            set.insert(
                sealed::EMAIL,
                sealed::seal(keys, id, sealed::EMAIL, email.as_str()),
            );
            set.insert(
                sealed::EMAIL_BI,
                keys.blind_index(BlindKind::Email, email.as_str()),
            );
        }
        if let Some(phone) = &self.phone {
            set.insert(
                sealed::PHONE,
                phone.as_ref().map_or(Bson::Null, |p| {
                    sealed::seal(keys, id, sealed::PHONE, p.as_str())
                }),
            );
            set.insert(
                sealed::PHONE_BI,
                phone.as_ref().map_or(Bson::Null, |p| {
                    keys.blind_index(BlindKind::Phone, p.as_str()).into()
                }),
            );
        }
        if let Some(status) = self.status {
            set.insert("status", status.as_str());
        }
        if let Some(preferences) = &self.preferences {
            set.insert("preferences", bson::to_bson(preferences)?);
        }
        if let Some(notes) = &self.notes {
            set.insert(
                sealed::NOTES,
                notes
                    .as_deref()
                    .map_or(Bson::Null, |n| sealed::seal(keys, id, sealed::NOTES, n)),
            );
        }
        Ok(set)
    }
}

impl Store {
    /// A page of orders matching `filter`, newest first, and the total matching.
    ///
    /// # Errors
    /// The server failed.
    pub async fn list_orders(&self, filter: &OrderFilter) -> Result<(Vec<Order>, u64), StoreError> {
        let query = filter.to_document();
        let total = super::count_of(&self.orders(), query.clone()).await?;
        let page = self
            .orders()
            .find(query)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .skip(filter.skip)
            .limit(filter.limit.clamp(1, MAX_PAGE))
            .await?
            .try_collect()
            .await?;
        Ok((page, total))
    }

    /// A page of payments matching `filter`, newest first, and the total matching.
    ///
    /// # Errors
    /// The server failed.
    pub async fn list_payments(
        &self,
        filter: &PaymentFilter,
    ) -> Result<(Vec<Payment>, u64), StoreError> {
        self.payment_page(filter, doc! { "created_at": -1, "_id": -1 })
            .await
    }

    /// A page of pending payments matching `filter` (its `status` is ignored), the
    /// longest overdue first, and the total matching.
    ///
    /// # Errors
    /// The server failed.
    pub async fn list_pending_payments(
        &self,
        filter: &PaymentFilter,
    ) -> Result<(Vec<Payment>, u64), StoreError> {
        let pending = PaymentFilter {
            status: Some(PaymentStatus::Pending),
            ..filter.clone()
        };
        self.payment_page(&pending, doc! { "due_at": 1, "_id": 1 })
            .await
    }

    async fn payment_page(
        &self,
        filter: &PaymentFilter,
        sort: Document,
    ) -> Result<(Vec<Payment>, u64), StoreError> {
        let query = filter.to_document();
        let total = super::count_of(&self.payments(), query.clone()).await?;
        let page = self
            .payments()
            .find(query)
            .sort(sort)
            .skip(filter.skip)
            .limit(filter.limit.clamp(1, MAX_PAGE))
            .await?
            .try_collect()
            .await?;
        Ok((page, total))
    }

    /// The orders of a client that still have a pending payment and were not cancelled,
    /// by number: what must be settled or cancelled before the client can be deleted.
    ///
    /// # Errors
    /// The server failed.
    pub async fn unpaid_orders_of_client(
        &self,
        client_id: ObjectId,
    ) -> Result<Vec<OrderNumber>, StoreError> {
        let pending: Vec<Payment> = self
            .payments()
            .find(doc! { "client_id": client_id, "status": PaymentStatus::Pending.as_str() })
            .await?
            .try_collect()
            .await?;
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let order_ids: Vec<ObjectId> = pending.iter().map(|p| p.order_id).collect();
        let open: Vec<Order> = self
            .orders()
            .find(doc! {
                "_id": { "$in": order_ids },
                "status": { "$ne": OrderStatus::Cancelled.as_str() },
            })
            .sort(doc! { "number": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(open.into_iter().map(|o| o.number).collect())
    }

    /// Changes only the named fields of a client who has not been deleted, and returns
    /// the client as stored afterwards. Fields not named are never overwritten, so a
    /// concurrent enrollment is not lost.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or deleted client;
    /// [`StoreError::Duplicate`] when the new email is taken.
    pub async fn patch_client(
        &self,
        id: ObjectId,
        changes: &ClientChanges,
    ) -> Result<Client, StoreError> {
        let not_found = || StoreError::NotFound {
            what: "client",
            key: id.to_hex(),
        };
        let set = changes.to_set(self.keys(), id)?;
        if set.is_empty() {
            return self.client_by_id(id).await?.ok_or_else(not_found);
        }
        if let Some(email) = &changes.email {
            self.refuse_taken_email(email, Some(id)).await?;
        }
        let email = changes
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                let filter = doc! { "_id": id, "deleted_at": null };
                let before = self
                    .clients()
                    .find_one(filter.clone())
                    .projection(fact_fields())
                    .session(&mut session)
                    .await?;
                let client = self
                    .client_docs()
                    .find_one_and_update(filter, doc! { "$set": set.clone() })
                    .return_document(ReturnDocument::After)
                    .session(&mut session)
                    .await
                    .map_err(|e| StoreError::from_write(e, "a client with email", email.clone()))?
                    .ok_or_else(not_found)?
                    .open(self.keys())?;
                let before = ClientFacts::of_doc(before.as_ref());
                self.follow_client(&mut session, id, before, ClientFacts::of(&client))
                    .await?;
                self.audit_in(
                    &mut session,
                    "client.update",
                    super::names::CLIENTS,
                    &id.to_hex(),
                )
                .await?;
                Ok(client)
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }
}
