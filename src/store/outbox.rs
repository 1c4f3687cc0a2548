//! The transactional outbox: side effects (emails, SMS, chat messages, payment links,
//! calendar events) are written here in the same transaction as the change that causes
//! them, and delivered later by a worker. Workers claim items with a lease
//! (`findOneAndUpdate` with an expiry), so several frontdesk instances can share one
//! database: each item is worked on by one instance at a time, and a crashed instance's
//! items are taken over when its lease runs out.
//!
//! Every item has a unique `key` ("order:12345:confirm", "reminder:class:…:…"): enqueueing
//! the same key twice is a no-op, which is how a reminder goes out at most once.

use std::time::Duration;

use bson::{doc, oid::ObjectId};
use chrono::{DateTime, Utc};
use frontdesk_chat::Platform;
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use serde::{Deserialize, Serialize};

use super::{names, Store, StoreError};

/// What an outbox item does when delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// After an enrolment: make the payment link (when a provider is set up), then queue
    /// the confirmation to the client by email and chat.
    ConfirmOrder {
        order_id: ObjectId,
    },
    /// After a payment: queue the receipt to the client.
    PaymentReceipt {
        payment_id: ObjectId,
    },
    /// After an order is cancelled: queue the notice to the client that it is, and that
    /// nothing is owed for it.
    CancellationNotice {
        order_id: ObjectId,
    },
    /// An overdue payment: a reminder with a payment link that works today (a Stripe
    /// Checkout session lasts 24 hours, so it is made afresh).
    PaymentReminder {
        payment_id: ObjectId,
    },
    /// After an enquiry: queue the acknowledgement to the person who asked.
    AcknowledgeEnquiry {
        client_id: ObjectId,
        course: Option<String>,
    },
    Email {
        to: String,
        subject: String,
        text: String,
    },
    Sms {
        to: String,
        body: String,
    },
    Chat {
        platform: Platform,
        channel: String,
        text: String,
    },
    /// A new hand-off ticket: post it to the staff channel (`[handoff]`), which starts
    /// its thread, and remember the thread on the ticket.
    PostTicket {
        ticket_id: ObjectId,
    },
    /// A message of a hand-off: to the person who asked (`to_client`), or into the
    /// ticket's staff thread. The text is sealed (bound to the ticket).
    TicketRelay {
        ticket_id: ObjectId,
        to_client: bool,
        text: crate::protect::Sealed,
    },
    /// A ticket nobody has taken in time: post it again to the staff channel, calling
    /// the configured group.
    TicketReminder {
        ticket_id: ObjectId,
    },
    /// Create or update the class's event in the studio calendar.
    CalendarUpsert {
        class_id: ObjectId,
    },
    /// After `/link EMAIL` for a client's address: email the client the one-time code.
    /// The code is sealed with the keyring (bound to the account and client, see
    /// `Store::open_link_code`); the address and name are read from the client record
    /// when it is delivered.
    LinkCode {
        account: String,
        client_id: ObjectId,
        code: crate::protect::Sealed,
        minutes: u32,
    },
}

impl Job {
    /// A short name for logs and metrics.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConfirmOrder { .. } => "confirm_order",
            Self::PaymentReceipt { .. } => "payment_receipt",
            Self::CancellationNotice { .. } => "cancellation_notice",
            Self::AcknowledgeEnquiry { .. } => "enquiry_ack",
            Self::PaymentReminder { .. } => "payment_reminder",
            Self::Email { .. } => "email",
            Self::Sms { .. } => "sms",
            Self::Chat { .. } => "chat",
            Self::CalendarUpsert { .. } => "calendar",
            Self::PostTicket { .. } => "post_ticket",
            Self::TicketRelay { .. } => "ticket_relay",
            Self::TicketReminder { .. } => "ticket_reminder",
            Self::LinkCode { .. } => "link_code",
        }
    }
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    InFlight,
    Done,
    /// Given up: too many attempts, or a failure retrying cannot fix.
    Dead,
}

/// One side effect waiting to happen (or done, or given up on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub key: String,
    pub job: Job,
    pub status: OutboxStatus,
    pub attempts: u32,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub next_attempt_at: DateTime<Utc>,
    #[serde(default)]
    pub lease_owner: Option<String>,
    #[serde(
        default,
        with = "bson::serde_helpers::chrono_datetime_as_bson_datetime_optional"
    )]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    #[serde(
        default,
        with = "bson::serde_helpers::chrono_datetime_as_bson_datetime_optional"
    )]
    pub done_at: Option<DateTime<Utc>>,
}

impl OutboxItem {
    /// A new item, due at once.
    #[must_use]
    pub fn new(key: impl Into<String>, job: Job, now: DateTime<Utc>) -> Self {
        Self {
            id: ObjectId::new(),
            key: key.into(),
            job,
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            created_at: now,
            done_at: None,
        }
    }
}

/// How many items are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    pub pending: u64,
    pub in_flight: u64,
    pub done: u64,
    pub dead: u64,
}

fn at(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_chrono(t)
}

impl Store {
    fn outbox(&self) -> mongodb::Collection<OutboxItem> {
        self.database().collection(names::OUTBOX)
    }

    /// Queues items; a key already queued (in any state) is skipped. Returns how many were
    /// new.
    ///
    /// # Errors
    /// The server failed.
    pub async fn enqueue(&self, items: &[OutboxItem]) -> Result<usize, StoreError> {
        let mut added = 0;
        for item in items {
            match self.outbox().insert_one(item).await {
                Ok(_) => added += 1,
                Err(e) if StoreError::is_duplicate_key(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(added)
    }

    /// Queues items inside a transaction (they commit or vanish with the change that
    /// caused them). The keys must be new: a duplicate aborts the transaction.
    ///
    /// # Errors
    /// The server failed, or a key was already queued.
    pub async fn enqueue_in(
        &self,
        session: &mut ClientSession,
        items: &[OutboxItem],
    ) -> Result<(), StoreError> {
        if !items.is_empty() {
            self.outbox().insert_many(items).session(session).await?;
        }
        Ok(())
    }

    /// Whether an item with this key is queued (in any state), read inside a transaction.
    ///
    /// # Errors
    /// The server failed.
    pub(crate) async fn outbox_key_exists_in(
        &self,
        session: &mut ClientSession,
        key: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .database()
            .collection::<bson::Document>(names::OUTBOX)
            .find_one(doc! { "key": key })
            .projection(doc! { "_id": 1 })
            .session(session)
            .await?
            .is_some())
    }

    /// Claims the next item that is due, or whose holder's lease ran out, for `owner` until
    /// `now + lease`; counts the attempt. An item that cannot be read (a corrupt document,
    /// or a job kind from a newer version) is parked as dead on the spot, so it is never
    /// claimed in a loop.
    ///
    /// # Errors
    /// The server failed.
    pub async fn claim_outbox_item(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<OutboxItem>, StoreError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
        let raw = self.database().collection::<bson::Document>(names::OUTBOX);
        // Due items first, then those whose worker let its lease run out: two reads, each
        // on its own index (an `$or` of both is no index's bound on every server). Each
        // round either returns or parks one unreadable item; bounded all the same.
        let due = doc! { "status": "pending", "next_attempt_at": { "$lte": at(now) } };
        let abandoned = doc! { "status": "in_flight", "lease_until": { "$lt": at(now) } };
        for (filter, sort) in [
            (due, doc! { "next_attempt_at": 1 }),
            (abandoned, doc! { "lease_until": 1 }),
        ] {
            for _ in 0..100 {
                let claimed = raw
                    .find_one_and_update(
                        filter.clone(),
                        doc! {
                            "$set": {
                                "status": "in_flight",
                                "lease_owner": owner,
                                "lease_until": at(now + lease),
                            },
                            "$inc": { "attempts": 1 },
                        },
                    )
                    .sort(sort.clone())
                    .return_document(ReturnDocument::After)
                    .await?;
                let Some(doc) = claimed else {
                    break;
                };
                match bson::from_document::<OutboxItem>(doc.clone()) {
                    Ok(item) => return Ok(Some(item)),
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable outbox item parked as dead");
                        raw.update_one(
                            doc! { "_id": doc.get("_id").cloned().unwrap_or(bson::Bson::Null) },
                            doc! { "$set": { "status": "dead", "last_error": format!("unreadable: {e}") } },
                        )
                        .await?;
                    }
                }
            }
        }
        Ok(None)
    }

    /// Puts every dead item back in the queue, due now with a fresh attempt budget (after
    /// the operator fixed what killed them). Returns how many.
    ///
    /// # Errors
    /// The server failed.
    pub async fn requeue_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = self
            .outbox()
            .update_many(
                doc! { "status": "dead" },
                doc! { "$set": { "status": "pending", "attempts": 0, "next_attempt_at": at(now) } },
            )
            .await?;
        Ok(done.modified_count)
    }

    /// Extends `owner`'s lease on an item being delivered to `until` (the worker's
    /// heartbeat, so a short lease is safe for a slow delivery). `false` when the lease
    /// had already been taken over.
    ///
    /// # Errors
    /// The server failed.
    pub async fn renew_outbox_lease(
        &self,
        id: ObjectId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let renewed = self
            .outbox()
            .update_one(
                doc! { "_id": id, "status": "in_flight", "lease_owner": owner },
                doc! { "$set": { "lease_until": at(until) } },
            )
            .await?;
        Ok(renewed.matched_count == 1)
    }

    /// Marks an item delivered, if `owner` still holds it. `false` when the lease had been
    /// taken over (the other holder finishes it).
    ///
    /// # Errors
    /// The server failed.
    pub async fn complete_outbox_item(
        &self,
        id: ObjectId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = self
            .outbox()
            .update_one(
                doc! { "_id": id, "status": "in_flight", "lease_owner": owner },
                doc! {
                    // Delivered items are kept 30 days (TTL on purge_at), then dropped.
                    "$set": {
                        "status": "done",
                        "done_at": at(now),
                        "purge_at": at(now + chrono::Duration::days(30)),
                        "last_error": null,
                    },
                    "$unset": { "lease_until": "" },
                },
            )
            .await?;
        Ok(done.modified_count == 1)
    }

    /// Records a failed attempt: back to pending until `retry_at`, or dead (`retry_at`
    /// `None`) with the error kept for the operator.
    ///
    /// # Errors
    /// The server failed.
    pub async fn fail_outbox_item(
        &self,
        id: ObjectId,
        owner: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(500).collect();
        let set = match retry_at {
            Some(when) => {
                doc! { "status": "pending", "next_attempt_at": at(when), "last_error": error }
            }
            None => doc! { "status": "dead", "last_error": error },
        };
        self.outbox()
            .update_one(
                doc! { "_id": id, "status": "in_flight", "lease_owner": owner },
                doc! { "$set": set, "$unset": { "lease_until": "" } },
            )
            .await?;
        Ok(())
    }

    /// Which of `keys` are already queued (in any state).
    ///
    /// # Errors
    /// The server failed.
    pub async fn existing_outbox_keys(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut found = std::collections::HashSet::new();
        let mut cursor = self
            .database()
            .collection::<bson::Document>(names::OUTBOX)
            .find(doc! { "key": { "$in": keys } })
            .projection(doc! { "key": 1 })
            .await?;
        while cursor.advance().await? {
            if let Ok(key) = cursor.deserialize_current()?.get_str("key") {
                found.insert(key.to_owned());
            }
        }
        Ok(found)
    }

    /// The item with this key.
    ///
    /// # Errors
    /// The server failed.
    pub async fn outbox_item(&self, key: &str) -> Result<Option<OutboxItem>, StoreError> {
        Ok(self.outbox().find_one(doc! { "key": key }).await?)
    }

    /// Counts per state: the outbox depth and its dead letters.
    ///
    /// # Errors
    /// The server failed.
    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        // One count per state, each on the index that leads with `status` (a `$group`
        // over the whole outbox would read every item kept until its purge).
        let outbox = &self.outbox();
        let count = |status: &'static str| async move {
            outbox.count_documents(doc! { "status": status }).await
        };
        let (pending, in_flight, done, dead) = futures::try_join!(
            count("pending"),
            count("in_flight"),
            count("done"),
            count("dead"),
        )?;
        Ok(OutboxStats {
            pending,
            in_flight,
            done,
            dead,
        })
    }

    /// Hands back every scheduled-task lease `owner` holds (at shutdown), so another
    /// instance takes the tasks at once instead of after the lease runs out.
    ///
    /// # Errors
    /// The server failed.
    pub async fn release_task_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let leases = self
            .database()
            .collection::<bson::Document>(names::TASK_LEASES);
        let released = leases
            .update_many(
                doc! { "owner": owner },
                doc! { "$set": { "lease_until": at(DateTime::<Utc>::UNIX_EPOCH) } },
            )
            .await?;
        Ok(released.modified_count)
    }

    /// Takes (or renews) the lease on a scheduled task for `owner`; `false` when another
    /// instance holds it.
    ///
    /// # Errors
    /// The server failed.
    pub async fn claim_task_lease(
        &self,
        task: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
        let leases = self
            .database()
            .collection::<bson::Document>(names::TASK_LEASES);
        let taken = leases
            .update_one(
                doc! { "_id": task, "$or": [
                    { "lease_until": { "$lt": at(now) } },
                    { "owner": owner },
                ] },
                doc! { "$set": { "owner": owner, "lease_until": at(now + lease) } },
            )
            .upsert(true)
            .await;
        match taken {
            Ok(_) => Ok(true),
            // The upsert met the existing document of another holder.
            Err(e) if StoreError::is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
