//! Orders and the payment created with each, in one transaction, idempotently.

use bson::doc;
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

use super::client_days::{fact_fields, ClientFacts};
use super::{names, Job, OutboxItem, Store, StoreError};
use crate::domain::{
    Client, Course, Enrollment, Money, ObjectId, Order, OrderNumber, OrderStatus, Payment,
    PaymentMethod, PaymentStatus,
};

/// What it takes to enrol a client in a course.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub client_id: ObjectId,
    pub course_id: ObjectId,
    /// `None`: the course price.
    pub amount: Option<Money>,
    pub method: PaymentMethod,
    /// Days until the payment is due.
    pub due_in_days: u32,
    /// The same key twice returns the first order instead of making a second.
    pub idempotency_key: Option<String>,
    pub now: DateTime<Utc>,
}

/// The order and its pending payment; `replayed` when it was there before this call
/// (its idempotency key had been seen, or `already_enrolled`: see [`Store::enrol`]).
#[derive(Debug, Clone)]
pub struct OrderCreated {
    pub order: Order,
    pub payment: Payment,
    pub replayed: bool,
    pub already_enrolled: bool,
}

/// An order after [`Store::cancel_order`]: cancelled, by this call (`changed`) or
/// before it.
#[derive(Debug, Clone)]
pub struct OrderCancelled {
    pub order: Order,
    pub changed: bool,
}

/// The most characters of a cancellation reason kept on the order.
const MAX_CANCEL_REASON_CHARS: usize = 500;

/// A cancellation reason as kept: trimmed, without control characters (a line break
/// stays), at most [`MAX_CANCEL_REASON_CHARS`] characters.
fn cancel_reason(typed: &str) -> String {
    typed
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_CANCEL_REASON_CHARS)
        .collect()
}

const ORDER_COUNTER: &str = "order_number";
/// Where order numbers start on an empty database.
const FIRST_ORDER_NUMBER: i64 = 10_001;
/// How many order numbers a process reserves at a time.
const ORDER_NUMBER_BLOCK: i64 = 10;

impl Store {
    /// The next free order number. Numbers are reserved from the database's counter
    /// (which never hands one out twice) in blocks of [`ORDER_NUMBER_BLOCK`], so orders
    /// made at once do not all wait on that one document; a process that stops leaves
    /// the rest of its block unused (a gap in the numbers, never a repeat).
    ///
    /// # Errors
    /// The server failed.
    pub async fn next_order_number(&self) -> Result<OrderNumber, StoreError> {
        let mut reserved = self.shared.order_numbers.lock().await;
        if reserved.is_empty() {
            let last = self.reserve_order_numbers(ORDER_NUMBER_BLOCK).await?;
            *reserved = (last - ORDER_NUMBER_BLOCK + 1)..(last + 1);
        }
        let seq = reserved.start;
        reserved.start += 1;
        Ok(OrderNumber::try_from(FIRST_ORDER_NUMBER - 1 + seq)?)
    }

    /// Moves the counter on by `block`; the last sequence number reserved.
    async fn reserve_order_numbers(&self, block: i64) -> Result<i64, StoreError> {
        let counters = self.db.collection::<bson::Document>(names::COUNTERS);
        // Concurrent first calls can race to create the counter (an upsert conflict or an
        // empty answer); the retry then finds it. Concurrent increments (other
        // instances) can meet a write conflict; they are retried too.
        let mut attempts = 0u64;
        let mut retry = self.conflict_retry();
        let updated = loop {
            attempts += 1;
            let result = counters
                .find_one_and_update(
                    doc! { "_id": ORDER_COUNTER },
                    doc! { "$inc": { "seq": block } },
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await;
            match result {
                Ok(Some(doc)) => break doc,
                Ok(None) if attempts < 5 => continue,
                Err(e) if StoreError::is_duplicate_key(&e) && attempts < 5 => continue,
                Err(e) if StoreError::is_write_conflict(&e) && retry.pause().await => continue,
                Ok(None) => {
                    return Err(StoreError::Decode(
                        "the order counter could not be created".into(),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(updated
            .get_i64("seq")
            .or_else(|_| updated.get_i32("seq").map(i64::from))
            .unwrap_or(0))
    }

    /// Moves the order counter so the next number is above every existing order.
    ///
    /// # Errors
    /// The server failed.
    pub async fn sync_order_counter(&self) -> Result<(), StoreError> {
        let highest = self
            .orders()
            .find_one(doc! {})
            .sort(doc! { "number": -1 })
            .await?;
        let seq = highest
            .map_or(0, |o| i64::from(o.number.get()) - FIRST_ORDER_NUMBER + 1)
            .max(0);
        self.db
            .collection::<bson::Document>(names::COUNTERS)
            .update_one(
                doc! { "_id": ORDER_COUNTER },
                doc! { "$max": { "seq": seq } },
            )
            .upsert(true)
            .await?;
        // Numbers reserved before may now be taken: reserve afresh.
        *self.shared.order_numbers.lock().await = 0..0;
        Ok(())
    }

    /// Creates an order for a course with its pending payment, and records the
    /// enrollment on the client, all in one transaction. A repeated idempotency key
    /// returns the order made the first time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown client or course; the server failed
    /// (nothing is written then).
    pub async fn create_order(&self, new: NewOrder) -> Result<OrderCreated, StoreError> {
        let (replayed, course) = tokio::try_join!(
            self.replay(new.idempotency_key.as_deref()),
            self.course_by_id(new.course_id),
        )?;
        match replayed {
            Some(existing) => Ok(existing),
            None => self.make_order(new, course, false).await,
        }
    }

    /// [`Store::create_order`] for someone asking to enrol: when the client already has
    /// an unpaid order for the course, that order comes back (`already_enrolled`) and
    /// nothing is written. The check is made again inside the order's transaction, on the
    /// client's record the transaction writes, so two requests at once make one order
    /// however many instances they reach (see `write_order`).
    ///
    /// `as_read` is the client as the caller read it moments ago: an unpaid order on it
    /// is answered at once, with no further read of the client and no turn to wait for.
    /// Before anything is written, the client is read again in turn and asked again.
    ///
    /// # Errors
    /// As [`Store::create_order`].
    pub async fn enrol(&self, new: NewOrder, as_read: &Client) -> Result<OrderCreated, StoreError> {
        let open = async {
            if as_read.id == new.client_id {
                self.pending_order_for(as_read.id, &as_read.enrollments, new.course_id)
                    .await
            } else {
                Ok(None)
            }
        };
        let (replayed, open) = tokio::try_join!(self.replay(new.idempotency_key.as_deref()), open)?;
        if let Some(existing) = replayed.or(open) {
            return Ok(existing);
        }
        let course = self.course_by_id(new.course_id).await?;
        self.make_order(new, course, true).await
    }

    /// Writes the order for `course` (as read by the caller, which has already looked
    /// for a replay of the idempotency key); `once_while_unpaid`: not while the client
    /// has an unpaid order for the course.
    async fn make_order(
        &self,
        new: NewOrder,
        course: Option<Course>,
        once_while_unpaid: bool,
    ) -> Result<OrderCreated, StoreError> {
        let course = course.ok_or_else(|| StoreError::NotFound {
            what: "course",
            key: new.course_id.to_hex(),
        })?;
        // Enrolments of one client all write that client's record: in this process they
        // take turns (no conflict to retry); across instances the transaction decides
        // (see `write_order`). Asking here first spares a transaction in the usual case.
        let _turn = self.shared.enrol_lock(new.client_id).lock().await;
        let client =
            self.client_by_id(new.client_id)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "client",
                    key: new.client_id.to_hex(),
                })?;
        if once_while_unpaid {
            if let Some(open) = self
                .pending_order_for(client.id, &client.enrollments, course.id)
                .await?
            {
                return Ok(open);
            }
        }
        let number = self.next_order_number().await?;
        let amount = new.amount.unwrap_or(course.price);
        let mut order = Order {
            id: ObjectId::new(),
            number,
            client_id: client.id,
            course_id: course.id,
            course_name: course.name.clone(),
            status: OrderStatus::Pending,
            amount,
            created_at: new.now,
            updated_at: new.now,
            idempotency_key: new.idempotency_key.clone(),
        };
        let mut payment = Payment {
            id: ObjectId::new(),
            order_id: order.id,
            order_number: number,
            client_id: client.id,
            course_id: course.id,
            course_name: course.name.clone(),
            amount,
            method: new.method,
            status: PaymentStatus::Pending,
            due_at: new.now + Duration::days(i64::from(new.due_in_days)),
            paid_at: None,
            provider_ref: None,
            link_url: None,
            created_at: new.now,
            idempotency_key: new.idempotency_key.clone(),
        };
        let enrollment = Enrollment {
            course_id: course.id,
            course_name: course.name.clone(),
            order_number: number,
            enrolled_at: new.now,
        };
        let mut retry = self.conflict_retry();
        loop {
            let once_for = once_while_unpaid.then_some(course.id);
            match self
                .write_order(&order, &payment, &enrollment, client.status, once_for)
                .await
            {
                Ok(Some(unpaid)) => {
                    if let Some(open) = self
                        .pending_order_for(client.id, &unpaid, course.id)
                        .await?
                    {
                        return Ok(open);
                    }
                    // Paid or cancelled since the transaction looked: try again.
                    if !retry.pause().await {
                        return Err(StoreError::Conflict(format!(
                            "the enrolment of client {} kept changing",
                            client.id.to_hex()
                        )));
                    }
                }
                Ok(None) => {
                    return Ok(OrderCreated {
                        order,
                        payment,
                        replayed: false,
                        already_enrolled: false,
                    })
                }
                Err(err) => {
                    let duplicate =
                        matches!(&err, StoreError::Mongo(e) if StoreError::is_duplicate_key(e));
                    let transient = err.is_transient();
                    if duplicate || transient {
                        if let Some(existing) = self.replay(new.idempotency_key.as_deref()).await? {
                            return Ok(existing);
                        }
                    }
                    // Many enrolments of one client at once all touch that client's record.
                    if !transient || !retry.pause().await {
                        return Err(err);
                    }
                    // New ids: the kept figures are split by them, so the next try
                    // likely writes other parts than the ones that met a conflict.
                    order.id = ObjectId::new();
                    payment.id = ObjectId::new();
                    payment.order_id = order.id;
                }
            }
        }
    }

    /// Writes the order, its payment, counts, confirmation and the client's enrolment in
    /// one transaction. With `once_for` (a course), the client's record is written
    /// first and its enrolments as they stand at that write are looked at: when one of
    /// that course has an unpaid order, the transaction is abandoned and the client as it
    /// stood (its enrolments) comes back. Two transactions that both write one client's record cannot both
    /// commit unless one saw the other's enrolment (the server refuses the later write as
    /// a conflict, and the retry sees it), so this holds across any number of instances.
    async fn write_order(
        &self,
        order: &Order,
        payment: &Payment,
        enrollment: &Enrollment,
        client_status: crate::domain::ClientStatus,
        once_for: Option<ObjectId>,
    ) -> Result<Option<Vec<Enrollment>>, StoreError> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let written = async {
            let mut set = doc! { "$push": { "enrollments": bson::to_bson(enrollment)? } };
            if client_status != crate::domain::ClientStatus::Active {
                set.insert("$set", doc! { "status": "active" });
            }
            let mut projection = fact_fields();
            if once_for.is_some() {
                projection.insert("enrollments", 1);
            }
            let before = self
                .clients()
                .find_one_and_update(doc! { "_id": order.client_id }, set)
                .projection(projection)
                .session(&mut session)
                .await?;
            if let (Some(course_id), Some(before)) = (once_for, before.as_ref()) {
                let as_written = client_enrolments(before, order.client_id)?;
                for enrolment in as_written.iter().rev() {
                    if enrolment.course_id != course_id {
                        continue;
                    }
                    let unpaid = self
                        .orders()
                        .find_one(doc! { "number": i64::from(enrolment.order_number) })
                        .session(&mut session)
                        .await?
                        .is_some_and(|o| {
                            o.client_id == order.client_id && o.status == OrderStatus::Pending
                        });
                    if unpaid {
                        return Ok(Some(as_written));
                    }
                }
            }
            self.orders()
                .insert_one(order)
                .session(&mut session)
                .await?;
            self.payments()
                .insert_one(payment)
                .session(&mut session)
                .await?;
            self.count_order_in(&mut session, order, 1).await?;
            self.count_pending_in(&mut session, std::slice::from_ref(payment), 1)
                .await?;
            // The confirmation (payment link, email, chat) commits with the order or not at all.
            let confirm = OutboxItem::new(
                format!("order:{}:confirm", order.number.get()),
                Job::ConfirmOrder { order_id: order.id },
                order.created_at,
            );
            self.enqueue_in(&mut session, &[confirm]).await?;
            if let Some(before) = before {
                let mut after = before.clone();
                after.insert("status", "active");
                let facts = (
                    ClientFacts::of_doc(Some(&before)),
                    ClientFacts::of_doc(Some(&after)),
                );
                self.follow_client(&mut session, order.client_id, facts.0, facts.1)
                    .await?;
            }
            self.audit_in(
                &mut session,
                "order.create",
                super::names::ORDERS,
                &order.id.to_hex(),
            )
            .await?;
            Ok::<_, StoreError>(None)
        }
        .await;
        if let Ok(Some(unpaid)) = written {
            let _ = session.abort_transaction().await;
            return Ok(Some(unpaid));
        }
        self.finish(session, written).await
    }

    async fn replay(&self, key: Option<&str>) -> Result<Option<OrderCreated>, StoreError> {
        let Some(key) = key else { return Ok(None) };
        let order = self
            .orders()
            .find_one(doc! { "idempotency_key": key })
            .await?;
        self.with_first_payment(order).await
    }

    /// The client's newest unpaid (pending) order for a course, with its payment, as
    /// `already_enrolled`.
    async fn pending_order_for(
        &self,
        client_id: ObjectId,
        enrollments: &[Enrollment],
        course_id: ObjectId,
    ) -> Result<Option<OrderCreated>, StoreError> {
        // The client's record lists their live enrolments, newest last: a client never
        // enrolled in the course costs no read, and one usually costs one.
        for enrolment in enrollments.iter().rev() {
            if enrolment.course_id != course_id {
                continue;
            }
            let order = self
                .order_by_number(enrolment.order_number)
                .await?
                .filter(|o| o.client_id == client_id && o.status == OrderStatus::Pending);
            if order.is_some() {
                let open = self.with_first_payment(order).await?;
                return Ok(open.map(|open| OrderCreated {
                    already_enrolled: true,
                    ..open
                }));
            }
        }
        Ok(None)
    }

    /// An order found earlier, with the payment made with it (`replayed`: it existed).
    async fn with_first_payment(
        &self,
        order: Option<Order>,
    ) -> Result<Option<OrderCreated>, StoreError> {
        let Some(order) = order else { return Ok(None) };
        let payment = self
            .payments()
            .find_one(doc! { "order_id": order.id })
            .sort(doc! { "created_at": 1 })
            .await?
            .ok_or_else(|| StoreError::Decode(format!("order {} has no payment", order.number)))?;
        Ok(Some(OrderCreated {
            order,
            payment,
            replayed: true,
            already_enrolled: false,
        }))
    }

    /// # Errors
    /// The server failed.
    pub async fn order_by_number(&self, number: OrderNumber) -> Result<Option<Order>, StoreError> {
        Ok(self
            .orders()
            .find_one(doc! { "number": i64::from(number) })
            .await?)
    }

    /// # Errors
    /// The server failed.
    pub async fn order_by_id(&self, id: ObjectId) -> Result<Option<Order>, StoreError> {
        Ok(self.orders().find_one(doc! { "_id": id }).await?)
    }

    /// A client's orders, newest first.
    ///
    /// # Errors
    /// The server failed.
    pub async fn orders_for_client(
        &self,
        client_id: ObjectId,
        limit: i64,
    ) -> Result<Vec<Order>, StoreError> {
        Ok(self
            .orders()
            .find(doc! { "client_id": client_id })
            .sort(doc! { "created_at": -1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }

    /// Moves an order to a new status if the move makes sense and nobody changed the
    /// order in between. A cancellation also fails the order's open payment, ends the
    /// client's enrollment and counts the order out of its course, all in the same
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Invalid`] for a move that makes no sense;
    /// [`StoreError::Conflict`] when the order changed concurrently.
    pub async fn set_order_status(
        &self,
        id: ObjectId,
        to: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let order = self
            .order_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "order",
                key: id.to_hex(),
            })?;
        order.status.check_transition(to)?;
        self.retrying(|| self.write_status(&order, to, now)).await
    }

    async fn write_status(
        &self,
        order: &Order,
        to: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let written = async {
            let updated = self
                .orders()
                .find_one_and_update(
                    doc! { "_id": order.id, "status": order.status.as_str() },
                    doc! { "$set": { "status": to.as_str(), "updated_at": bson::DateTime::from_chrono(now) } },
                )
                .return_document(ReturnDocument::After)
                .session(&mut session)
                .await?
                .ok_or_else(|| {
                    StoreError::Conflict(format!(
                        "order {} changed while it was being updated",
                        order.number
                    ))
                })?;
            self.audit_in(
                &mut session,
                &format!("order.{}", to.as_str()),
                super::names::ORDERS,
                &order.id.to_hex(),
            )
            .await?;
            if to == OrderStatus::Cancelled {
                self.cancelled_in(&mut session, &updated).await?;
            }
            Ok::<_, StoreError>(updated)
        }
        .await;
        self.finish(session, written).await
    }

    /// What cancelling `order` (already written as cancelled) changes besides the order,
    /// inside its transaction: its open payment fails (nothing is owed), the client's
    /// enrollment for it ends (no class reminders for it) and the course counts it out.
    async fn cancelled_in(
        &self,
        session: &mut ClientSession,
        order: &Order,
    ) -> Result<(), StoreError> {
        let open: Vec<Payment> = self
            .payments()
            .find(doc! { "order_id": order.id, "status": "pending" })
            .session(&mut *session)
            .await?
            .stream(&mut *session)
            .try_collect()
            .await?;
        self.count_pending_in(session, &open, -1).await?;
        self.payments()
            .update_many(
                doc! { "order_id": order.id, "status": "pending" },
                doc! { "$set": { "status": "failed" } },
            )
            .session(&mut *session)
            .await?;
        self.clients()
            .update_one(
                doc! { "_id": order.client_id },
                doc! { "$pull": { "enrollments": { "order_number": i64::from(order.number.get()) } } },
            )
            .session(&mut *session)
            .await?;
        self.count_order_in(session, order, -1).await
    }

    /// Cancels an order nobody has paid for, in one transaction: the order becomes
    /// cancelled (with `reason`, if one is given, as its `cancel_reason`), its pending
    /// payment fails (nothing is owed), the client's enrollment for it ends, the course
    /// counts it out, the client is told through the outbox (`order:{number}:cancel`,
    /// [`Job::CancellationNotice`]) and the audit entry is written. An order cancelled
    /// already comes back with `changed: false` and nothing is written.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown order; [`StoreError::Conflict`] for an
    /// order with a paid payment (refund it first), a completed order, or one that
    /// changed while it was being cancelled. Nothing is written then.
    pub async fn cancel_order(
        &self,
        number: OrderNumber,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<OrderCancelled, StoreError> {
        let reason = reason.map(cancel_reason).filter(|r| !r.is_empty());
        self.retrying(|| async {
            let order =
                self.order_by_number(number)
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "order",
                        key: number.to_string(),
                    })?;
            if order.status == OrderStatus::Cancelled {
                return Ok(OrderCancelled {
                    order,
                    changed: false,
                });
            }
            if order.status == OrderStatus::Completed {
                return Err(StoreError::Conflict(format!(
                    "order {number} is completed; it cannot be cancelled"
                )));
            }
            let order = self.write_cancel(&order, reason.as_deref(), now).await?;
            Ok(OrderCancelled {
                order,
                changed: true,
            })
        })
        .await
    }

    async fn write_cancel(
        &self,
        order: &Order,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let written = async {
            // Asked inside the transaction: a payment recorded meanwhile conflicts with
            // this write (both change the order), and the retry sees it paid.
            let paid = self
                .payments()
                .count_documents(doc! { "order_id": order.id, "status": "paid" })
                .session(&mut session)
                .await?;
            if paid > 0 {
                return Err(StoreError::Conflict(format!(
                    "order {} is paid; refund it first",
                    order.number
                )));
            }
            let mut set = doc! {
                "status": OrderStatus::Cancelled.as_str(),
                "updated_at": bson::DateTime::from_chrono(now),
            };
            if let Some(reason) = reason {
                set.insert("cancel_reason", reason);
            }
            let updated = self
                .orders()
                .find_one_and_update(
                    doc! { "_id": order.id, "status": order.status.as_str() },
                    doc! { "$set": set },
                )
                .return_document(ReturnDocument::After)
                .session(&mut session)
                .await?
                .ok_or_else(|| {
                    StoreError::Conflict(format!(
                        "order {} changed while it was being cancelled",
                        order.number
                    ))
                })?;
            self.cancelled_in(&mut session, &updated).await?;
            let notice = OutboxItem::new(
                format!("order:{}:cancel", updated.number.get()),
                Job::CancellationNotice {
                    order_id: updated.id,
                },
                now,
            );
            self.enqueue_in(&mut session, &[notice]).await?;
            self.audit_in(
                &mut session,
                "order.cancelled",
                names::ORDERS,
                &updated.id.to_hex(),
            )
            .await?;
            Ok::<_, StoreError>(updated)
        }
        .await;
        self.finish(session, written).await
    }

    /// Writes orders as they are (an import from an earlier system, test data) and
    /// counts the live ones into their courses, in one transaction. Their payments and
    /// the clients' enrollments are not written.
    ///
    /// # Errors
    /// An order number already used; the server failed. Nothing is written then.
    pub async fn import_orders(&self, orders: &[Order]) -> Result<(), StoreError> {
        if orders.is_empty() {
            return Ok(());
        }
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                self.orders()
                    .insert_many(orders)
                    .session(&mut session)
                    .await?;
                for order in orders.iter().filter(|o| o.status != OrderStatus::Cancelled) {
                    self.count_order_in(&mut session, order, 1).await?;
                }
                Ok::<_, StoreError>(())
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }
}

/// The enrolments in a projection of a client's record.
fn client_enrolments(doc: &bson::Document, id: ObjectId) -> Result<Vec<Enrollment>, StoreError> {
    match doc.get_array("enrollments") {
        Ok(list) => list
            .iter()
            .map(|e| bson::from_bson::<Enrollment>(e.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Decode(format!("client {}: {e}", id.to_hex()))),
        Err(_) => Ok(Vec::new()),
    }
}
