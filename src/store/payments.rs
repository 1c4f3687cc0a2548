//! Payments: what is pending or overdue, and recording a payment.

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;

use super::{Job, OutboxItem, Store, StoreError};
use crate::domain::{ObjectId, OrderStatus, Payment, PaymentMethod, PaymentStatus};

/// Filters for pending payments.
#[derive(Debug, Clone, Default)]
pub struct PaymentQuery {
    /// Only this client's payments (always set for a client asking).
    pub client_id: Option<ObjectId>,
    /// Only payments whose due date has passed at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only payments for these courses (one, or a family of courses).
    pub course_ids: Option<Vec<ObjectId>>,
    pub limit: i64,
}

impl Store {
    /// Pending payments, the longest overdue first, and their count.
    ///
    /// # Errors
    /// The server failed.
    pub async fn pending_payments(
        &self,
        q: &PaymentQuery,
    ) -> Result<(Vec<Payment>, u64), StoreError> {
        let mut filter: Document = doc! { "status": "pending" };
        if let Some(client) = q.client_id {
            filter.insert("client_id", client);
        }
        if let Some(at) = q.overdue_at {
            filter.insert("due_at", doc! { "$lt": bson::DateTime::from_chrono(at) });
        }
        if let Some(ids) = &q.course_ids {
            filter.insert("course_id", super::class_days::one_of(ids));
        }
        let total = self.payments().count_documents(filter.clone()).await?;
        let page = self
            .payments()
            .find(filter)
            .sort(doc! { "due_at": 1 })
            .limit(q.limit.clamp(1, 500))
            .await?
            .try_collect()
            .await?;
        Ok((page, total))
    }

    /// # Errors
    /// The server failed.
    pub async fn payments_for_order(&self, order_id: ObjectId) -> Result<Vec<Payment>, StoreError> {
        Ok(self
            .payments()
            .find(doc! { "order_id": order_id })
            .sort(doc! { "created_at": 1 })
            .await?
            .try_collect()
            .await?)
    }

    /// # Errors
    /// The server failed.
    pub async fn payment_by_id(&self, id: ObjectId) -> Result<Option<Payment>, StoreError> {
        Ok(self.payments().find_one(doc! { "_id": id }).await?)
    }

    /// Keeps the online payment link made for a pending payment.
    ///
    /// # Errors
    /// The server failed.
    pub async fn set_payment_link(
        &self,
        payment_id: ObjectId,
        provider_ref: &str,
        url: &str,
    ) -> Result<(), StoreError> {
        self.payments()
            .update_one(
                doc! { "_id": payment_id, "status": "pending" },
                doc! { "$set": { "provider_ref": provider_ref, "link_url": url } },
            )
            .await?;
        self.data_changed();
        Ok(())
    }

    /// Writes payments as they are (an import from an earlier system, test data) and
    /// adds the paid ones to their days' revenue, in one transaction.
    ///
    /// # Errors
    /// A payment already stored; the server failed. Nothing is written then.
    pub async fn import_payments(&self, payments: &[Payment]) -> Result<(), StoreError> {
        if payments.is_empty() {
            return Ok(());
        }
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                self.payments()
                    .insert_many(payments)
                    .session(&mut session)
                    .await?;
                self.add_paid_in(&mut session, payments).await?;
                let pending: Vec<Payment> = payments
                    .iter()
                    .filter(|p| p.status == PaymentStatus::Pending)
                    .cloned()
                    .collect();
                self.count_pending_in(&mut session, &pending, 1).await
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }

    /// Marks a pending payment paid, adds it to its day's revenue and confirms its order,
    /// in one transaction.
    /// Recording the same payment again changes nothing and returns it as it is.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Conflict`] for a failed or refunded payment.
    pub async fn record_payment(
        &self,
        payment_id: ObjectId,
        method: PaymentMethod,
        provider_ref: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(Payment, bool), StoreError> {
        // Two deliveries of one payment (a webhook and a staff member, say) can meet in a
        // write conflict: retry, and the second then finds the payment already paid.
        let mut retry = self.conflict_retry();
        loop {
            match self
                .record_payment_once(payment_id, method, provider_ref.clone(), now)
                .await
            {
                // Two first payments of one day and course can race to create its
                // revenue document: a duplicate key, and the retry adds to it.
                Err(e)
                    if (e.is_transient()
                        || matches!(&e, StoreError::Mongo(m) if StoreError::is_duplicate_key(m)))
                        && retry.pause().await => {}
                other => return other,
            }
        }
    }

    async fn record_payment_once(
        &self,
        payment_id: ObjectId,
        method: PaymentMethod,
        provider_ref: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(Payment, bool), StoreError> {
        let current = self
            .payments()
            .find_one(doc! { "_id": payment_id })
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "payment",
                key: payment_id.to_hex(),
            })?;
        match current.status {
            PaymentStatus::Paid => return Ok((current, false)),
            PaymentStatus::Failed | PaymentStatus::Refunded => {
                return Err(StoreError::Conflict(format!(
                    "the payment for order {} is {} and cannot be marked paid",
                    current.order_number,
                    current.status.as_str()
                )))
            }
            PaymentStatus::Pending => {}
        }
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let written = async {
            let paid = self
                .payments()
                .find_one_and_update(
                    doc! { "_id": payment_id, "status": "pending" },
                    doc! { "$set": {
                        "status": "paid",
                        "method": method.as_str(),
                        "paid_at": bson::DateTime::from_chrono(now),
                        "provider_ref": provider_ref.clone(),
                    } },
                )
                .return_document(ReturnDocument::After)
                .session(&mut session)
                .await?;
            let Some(paid) = paid else { return Ok(None) };
            self.add_paid_in(&mut session, std::slice::from_ref(&paid)).await?;
            // Its amount and due date are those it had while pending.
            self.count_pending_in(&mut session, std::slice::from_ref(&paid), -1)
                .await?;
            // The receipt commits with the payment or not at all.
            let receipt = OutboxItem::new(
                format!("payment:{}:receipt", paid.id.to_hex()),
                Job::PaymentReceipt { payment_id: paid.id },
                now,
            );
            self.enqueue_in(&mut session, &[receipt]).await?;
            self.orders()
                .update_one(
                    doc! { "_id": paid.order_id, "status": OrderStatus::Pending.as_str() },
                    doc! { "$set": { "status": OrderStatus::Confirmed.as_str(), "updated_at": bson::DateTime::from_chrono(now) } },
                )
                .session(&mut session)
                .await?;
            self.audit_in(&mut session, "payment.record", super::names::PAYMENTS, &paid.id.to_hex())
                .await?;
            Ok::<_, StoreError>(Some(paid))
        }
        .await;
        match written {
            Ok(Some(paid)) => {
                let committed = session.commit_transaction().await;
                self.data_changed();
                committed?;
                Ok((paid, true))
            }
            Ok(None) => {
                let _ = session.abort_transaction().await;
                // Someone else recorded it first.
                let now_current = self
                    .payments()
                    .find_one(doc! { "_id": payment_id })
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "payment",
                        key: payment_id.to_hex(),
                    })?;
                Ok((now_current, false))
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        }
    }
}
