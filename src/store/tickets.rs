//! Hand-offs to a person: tickets the staff see, opened by `escalate_to_staff`. The
//! reason (what the person typed) is sealed like a client's notes, and a ticket is
//! forgotten after `[memory] ticket_retention_days` (a TTL index on `forget_at`).

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::outbox::{Job, OutboxItem};
use super::sealed::ClientDoc;
use super::{names, Store, StoreError};
use crate::domain::{Client, ObjectId};
use crate::protect::{Keyring, Sealed};

/// A conversation handed to the staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub reason: String,
    pub status: TicketStatus,
    pub requester: String,
    #[serde(default)]
    pub client_id: Option<ObjectId>,
    /// Where the person asked, so an answer can reach them there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<TicketOrigin>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    /// Who took it (a staff member's account or token subject), once someone has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// When the first staff reply took it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "bson::serde_helpers::chrono_datetime_as_bson_datetime_optional"
    )]
    pub claimed_at: Option<DateTime<Utc>>,
    /// Who closed it, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "bson::serde_helpers::chrono_datetime_as_bson_datetime_optional"
    )]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The ticket's thread in the staff channel, once it is posted there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_thread: Option<StaffThread>,
}

/// A ticket's thread in the staff channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffThread {
    pub platform: String,
    pub channel: String,
    /// The id of the thread's first message (Slack's `ts`).
    pub root: String,
}

/// Where a ticket is in its life: open until a person takes it, then claimed, then
/// closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Claimed,
    Closed,
}

impl TicketStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Closed => "closed",
        }
    }
}

impl std::str::FromStr for TicketStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "open" => Ok(Self::Open),
            "claimed" => Ok(Self::Claimed),
            "closed" => Ok(Self::Closed),
            other => Err(format!(
                "{:?} is not a ticket status (open, claimed, closed)",
                other.chars().take(20).collect::<String>()
            )),
        }
    }
}

/// The chat a ticket's person wrote from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketOrigin {
    pub platform: String,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    pub user: String,
}

impl Ticket {
    /// A new open ticket.
    #[must_use]
    pub fn open(
        reason: impl Into<String>,
        requester: impl Into<String>,
        client_id: Option<ObjectId>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: ObjectId::new(),
            reason: reason.into(),
            status: TicketStatus::Open,
            requester: requester.into(),
            client_id,
            origin: None,
            created_at: now,
            claimed_by: None,
            claimed_at: None,
            closed_by: None,
            closed_at: None,
            idempotency_key: None,
            staff_thread: None,
        }
    }

    /// The same ticket, made once per `key` (a retried message opens one).
    #[must_use]
    pub fn once(mut self, key: Option<String>) -> Self {
        self.idempotency_key = key;
        self
    }

    /// The same ticket, with where the person wrote from.
    #[must_use]
    pub fn from_chat(mut self, origin: Option<TicketOrigin>) -> Self {
        self.origin = origin;
        self
    }
}

/// An enquiry to record (the `create_enquiry` tool).
#[derive(Debug, Clone)]
pub struct NewEnquiry {
    /// The lead to add when no client has this email yet.
    pub lead: Client,
    /// The ticket's reason, when the email is already a client's.
    pub reason: String,
    /// Who asked (the ticket's requester).
    pub requester: String,
    /// The course they asked about, for the acknowledgement.
    pub course: Option<String>,
    /// The message's idempotency key, when it has one.
    pub idempotency_key: Option<String>,
    pub now: DateTime<Utc>,
}

/// What recording an enquiry did.
#[derive(Debug, Clone)]
pub struct EnquiryRecorded {
    /// The lead just added, or the client who had the email already.
    pub client: Client,
    /// Whether the lead was added now.
    pub is_new: bool,
    /// The same enquiry had been recorded before (its acknowledgement was queued): nothing
    /// was written.
    pub replayed: bool,
}

/// The associated data a ticket's reason is sealed with.
fn reason_context(id: ObjectId) -> String {
    format!("ticket:{}:reason", id.to_hex())
}

/// A ticket as stored: its reason (the words someone typed) sealed, and when it is
/// forgotten.
fn seal_ticket(
    keys: &Keyring,
    ticket: &Ticket,
    forget_at: DateTime<Utc>,
) -> Result<Document, StoreError> {
    let mut stored = bson::to_document(ticket)?;
    let sealed = keys.seal(&ticket.reason, &reason_context(ticket.id));
    stored.insert(REASON, bson::to_bson(&sealed)?);
    stored.insert(FORGET_AT, bson::DateTime::from_chrono(forget_at));
    Ok(stored)
}

/// A stored ticket with its reason opened (a plain reason, from before reasons were
/// sealed, reads as it is).
fn open_ticket_doc(keys: &Keyring, mut stored: Document) -> Result<Ticket, StoreError> {
    let id = stored
        .get_object_id("_id")
        .map_err(|e| StoreError::Decode(format!("a ticket without an id: {e}")))?;
    if let Ok(sealed) = stored.get_document(REASON) {
        let sealed: Sealed = bson::from_document(sealed.clone())
            .map_err(|e| StoreError::Decode(format!("ticket {} reason: {e}", id.to_hex())))?;
        let reason = keys
            .open(&sealed, &reason_context(id))
            .map_err(|e| StoreError::Decode(format!("ticket {} reason: {e}", id.to_hex())))?;
        stored.insert(REASON, reason);
    }
    stored.remove(FORGET_AT);
    stored.remove("reminded_at");
    Ok(bson::from_document(stored)?)
}

const REASON: &str = "reason";
/// What the person who asked is told when their ticket is closed.
const CLOSED_FOR_THE_PERSON: &str =
    "The studio team has closed this conversation. Write here any time if you need anything else.";
const FORGET_AT: &str = "forget_at";

impl Store {
    fn ticket_docs(&self) -> mongodb::Collection<Document> {
        self.db.collection(names::TICKETS)
    }

    /// The stored form of a new ticket.
    fn stored_ticket(&self, ticket: &Ticket) -> Result<Document, StoreError> {
        let forget_at = ticket.created_at + self.shared.ticket_retention();
        seal_ticket(self.keys(), ticket, forget_at)
    }

    /// Re-seals ticket reasons under the current key (`rotate-key`); a plain reason from
    /// before they were sealed is sealed too. Returns (re-sealed, could not be opened).
    pub(crate) async fn rotate_tickets(&self) -> Result<(u64, u64), StoreError> {
        let keys = self.keys();
        let stale: Vec<Document> = self
            .ticket_docs()
            .find(doc! { "$or": [
                { "reason": { "$type": "string" } },
                { "reason.k": { "$exists": true, "$ne": keys.current_id() } },
            ] })
            .await?
            .try_collect()
            .await?;
        let (mut resealed, mut failed) = (0, 0);
        for stored in stale {
            match open_ticket_doc(keys, stored) {
                Ok(ticket) => {
                    let sealed = keys.seal(&ticket.reason, &reason_context(ticket.id));
                    self.ticket_docs()
                        .update_one(
                            doc! { "_id": ticket.id },
                            doc! { "$set": { REASON: bson::to_bson(&sealed)? } },
                        )
                        .await?;
                    resealed += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a ticket could not be rotated");
                    failed += 1;
                }
            }
        }
        Ok((resealed, failed))
    }

    /// Records an enquiry in one transaction: the lead (when the email is no client's) or
    /// a ticket for the staff (when it is), and the acknowledgement's outbox item (key
    /// `enquiry:{idempotency key}:{client id}`, or `enquiry:{client id}:{unix seconds}`
    /// without a key). All are written or none; when the acknowledgement's key is already
    /// queued (a retried message) nothing is written again.
    ///
    /// # Errors
    /// The server failed.
    pub async fn record_enquiry(&self, e: &NewEnquiry) -> Result<EnquiryRecorded, StoreError> {
        // Twice at most: when the same enquiry made the lead at the same moment, the
        // second round finds it on the books.
        for _ in 0..2 {
            let (client, is_new) = match self.client_by_email(&e.lead.email).await? {
                Some(c) => (c, false),
                None => (e.lead.clone(), true),
            };
            let key = match &e.idempotency_key {
                Some(k) => format!("enquiry:{k}:{}", client.id.to_hex()),
                None => format!("enquiry:{}:{}", client.id.to_hex(), e.now.timestamp()),
            };
            let ack = OutboxItem::new(
                key,
                Job::AcknowledgeEnquiry {
                    client_id: client.id,
                    course: e.course.clone(),
                },
                e.now,
            );
            let ticket = (!is_new).then(|| {
                Ticket::open(
                    e.reason.clone(),
                    e.requester.clone(),
                    Some(client.id),
                    e.now,
                )
                .once(e.idempotency_key.as_ref().map(|k| format!("{k}:enquiry")))
            });
            let sealed = if is_new {
                if let Err(StoreError::Duplicate { .. }) =
                    self.refuse_taken_email(&client.email, None).await
                {
                    continue;
                }
                Some(ClientDoc::seal(self.keys(), &client))
            } else {
                None
            };
            let written = self
                .retrying(|| async {
                    let mut session = self.client.start_session().await?;
                    session.start_transaction().await?;
                    let written = async {
                        if self.outbox_key_exists_in(&mut session, &ack.key).await? {
                            return Ok(true);
                        }
                        if let Some(sealed) = &sealed {
                            self.insert_client_in(&mut session, &client, sealed).await?;
                        }
                        if let Some(ticket) = &ticket {
                            self.open_ticket_in(&mut session, ticket).await?;
                        }
                        self.enqueue_in(&mut session, std::slice::from_ref(&ack))
                            .await?;
                        Ok(false)
                    }
                    .await;
                    self.finish(session, written).await
                })
                .await;
            match written {
                Ok(replayed) => {
                    return Ok(EnquiryRecorded {
                        client,
                        is_new: is_new && !replayed,
                        replayed,
                    })
                }
                Err(StoreError::Duplicate { .. }) if is_new => {}
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict(
            "the enquiry could not be saved".into(),
        ))
    }

    /// Opens a ticket inside the caller's transaction; the same idempotency key twice
    /// opens one.
    pub(crate) async fn open_ticket_in(
        &self,
        session: &mut mongodb::ClientSession,
        ticket: &Ticket,
    ) -> Result<Ticket, StoreError> {
        let tickets = self.ticket_docs();
        if let Some(key) = &ticket.idempotency_key {
            if let Some(existing) = tickets
                .find_one(doc! { "idempotency_key": key })
                .session(&mut *session)
                .await?
            {
                return open_ticket_doc(self.keys(), existing);
            }
        }
        tickets
            .insert_one(self.stored_ticket(ticket)?)
            .session(&mut *session)
            .await?;
        self.audit_in(
            session,
            "ticket.create",
            names::TICKETS,
            &ticket.id.to_hex(),
        )
        .await?;
        // The staff hear of it with the ticket or not at all.
        let post = OutboxItem::new(
            format!("ticket:{}:post", ticket.id.to_hex()),
            Job::PostTicket {
                ticket_id: ticket.id,
            },
            ticket.created_at,
        );
        self.enqueue_in(session, &[post]).await?;
        Ok(ticket.clone())
    }

    /// Opens a ticket and queues its post to the staff channel, in one transaction; the
    /// same idempotency key twice opens one.
    ///
    /// # Errors
    /// The server failed.
    pub async fn open_ticket(&self, ticket: &Ticket) -> Result<Ticket, StoreError> {
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = self.open_ticket_in(&mut session, ticket).await;
            self.finish(session, written).await
        })
        .await
    }

    /// Remembers where a ticket was posted for the staff.
    ///
    /// # Errors
    /// The server failed.
    pub async fn set_staff_thread(
        &self,
        id: ObjectId,
        thread: &StaffThread,
    ) -> Result<(), StoreError> {
        self.ticket_docs()
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "staff_thread": bson::to_bson(thread)? } },
            )
            .await?;
        Ok(())
    }

    /// How many tickets wait for a person (opened, nobody has claimed them).
    ///
    /// # Errors
    /// The server failed.
    pub async fn tickets_waiting(&self) -> Result<u64, StoreError> {
        // Status, then a range on created_at: the `status_created_at` index's fields.
        Ok(self
            .ticket_docs()
            .count_documents(doc! {
                "status": TicketStatus::Open.as_str(),
                "created_at": { "$gte": bson::DateTime::MIN },
            })
            .await?)
    }

    /// Tickets not closed yet (open or claimed), newest first.
    ///
    /// # Errors
    /// The server failed.
    pub async fn open_tickets(&self, limit: i64) -> Result<Vec<Ticket>, StoreError> {
        self.find_tickets(doc! { "status": not_closed() }, 0, limit)
            .await
    }

    /// Tickets matching `filter`, newest first, opened; one that cannot be opened is left
    /// out, said in the log.
    async fn find_tickets(
        &self,
        filter: Document,
        skip: u64,
        limit: i64,
    ) -> Result<Vec<Ticket>, StoreError> {
        let stored: Vec<Document> = self
            .ticket_docs()
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .skip(skip)
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(stored
            .into_iter()
            .filter_map(|d| {
                open_ticket_doc(self.keys(), d)
                    .inspect_err(|e| tracing::error!(error = %e, "a ticket was left out"))
                    .ok()
            })
            .collect())
    }

    /// [`Store::find_tickets`], with how many match in all.
    async fn ticket_page(
        &self,
        filter: Document,
        skip: u64,
        limit: i64,
    ) -> Result<(Vec<Ticket>, u64), StoreError> {
        futures::try_join!(self.find_tickets(filter.clone(), skip, limit), async {
            super::count_of(&self.ticket_docs(), filter).await
        })
    }
}

/// The `status` of a ticket not closed yet: open or claimed.
fn not_closed() -> Document {
    doc! { "$in": [TicketStatus::Open.as_str(), TicketStatus::Claimed.as_str()] }
}

impl Store {
    /// Up to `limit` tickets not closed (open or claimed), newest first, with how many
    /// there are in all.
    ///
    /// # Errors
    /// The server failed.
    pub async fn tickets_not_closed(&self, limit: i64) -> Result<(Vec<Ticket>, u64), StoreError> {
        self.ticket_page(doc! { "status": not_closed() }, 0, limit)
            .await
    }

    /// Tickets, newest first, optionally only those in `status`; with the total.
    ///
    /// # Errors
    /// The server failed.
    pub async fn tickets(
        &self,
        status: Option<TicketStatus>,
        skip: u64,
        limit: i64,
    ) -> Result<(Vec<Ticket>, u64), StoreError> {
        let filter = match status {
            Some(s) => doc! { "status": s.as_str() },
            None => doc! {},
        };
        self.ticket_page(filter, skip, limit).await
    }

    /// # Errors
    /// The server failed, or the ticket's reason could not be opened.
    pub async fn ticket_by_id(&self, id: ObjectId) -> Result<Option<Ticket>, StoreError> {
        self.ticket_docs()
            .find_one(doc! { "_id": id })
            .await?
            .map(|d| open_ticket_doc(self.keys(), d))
            .transpose()
    }

    /// Closes a ticket in the name of `by`; closing a closed one changes nothing. Returns
    /// the ticket as it is now and whether this call closed it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; the server failed.
    pub async fn close_ticket(
        &self,
        id: ObjectId,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(Ticket, bool), StoreError> {
        let changed = self
            .retrying(|| async {
                let mut session = self.client.start_session().await?;
                session.start_transaction().await?;
                let written = self.close_ticket_in(&mut session, id, by, now).await;
                self.finish(session, written).await
            })
            .await?;
        let ticket = self
            .ticket_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "ticket",
                key: id.to_hex(),
            })?;
        Ok((ticket, changed))
    }

    async fn close_ticket_in(
        &self,
        session: &mut mongodb::ClientSession,
        id: ObjectId,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let ticket = self
            .ticket_docs()
            .find_one_and_update(
                doc! { "_id": id, "status": { "$in": [TicketStatus::Open.as_str(), TicketStatus::Claimed.as_str()] } },
                doc! { "$set": {
                    "status": "closed",
                    "closed_by": by,
                    "closed_at": bson::DateTime::from_chrono(now),
                } },
            )
            .projection(doc! { "origin": 1 })
            .session(&mut *session)
            .await?;
        let Some(ticket) = ticket else {
            return Ok(false);
        };
        self.audit_in(session, "ticket.close", names::TICKETS, &id.to_hex())
            .await?;
        // The person who asked is told, once, whoever closed it and wherever.
        if ticket.get_document("origin").is_ok() {
            let key = format!("ticket:{id}:closed");
            let told = self.relay_item(id, true, CLOSED_FOR_THE_PERSON, &key, now);
            self.enqueue_in(session, std::slice::from_ref(&told))
                .await?;
        }
        Ok(true)
    }
}

/// The associated data a relayed message is sealed with.
pub(crate) fn relay_context(ticket: ObjectId) -> String {
    format!("ticket:{}:relay", ticket.to_hex())
}

impl Store {
    /// The ticket whose staff thread is `root` in `channel` of `platform`.
    ///
    /// # Errors
    /// The server failed, or the ticket could not be opened.
    pub async fn ticket_by_staff_thread(
        &self,
        platform: &str,
        channel: &str,
        root: &str,
    ) -> Result<Option<Ticket>, StoreError> {
        self.ticket_docs()
            .find_one(doc! {
                "staff_thread.root": root,
                "staff_thread.channel": channel,
                "staff_thread.platform": platform,
            })
            .await?
            .map(|d| open_ticket_doc(self.keys(), d))
            .transpose()
    }

    /// The ticket not closed that the person `user` opened from `channel` of `platform`
    /// and that the staff have a thread for: their messages go there while it lasts.
    ///
    /// # Errors
    /// The server failed, or the ticket could not be opened.
    pub async fn live_ticket_from(
        &self,
        platform: &str,
        channel: &str,
        user: &str,
    ) -> Result<Option<Ticket>, StoreError> {
        self.newest_not_closed_from(platform, channel, user, true)
            .await
    }

    /// The newest ticket not closed that the person `user` opened from `channel` of
    /// `platform`, posted to the staff or not: asking again while it lasts opens none.
    ///
    /// # Errors
    /// The server failed, or the ticket could not be opened.
    pub async fn ticket_not_closed_from(
        &self,
        platform: &str,
        channel: &str,
        user: &str,
    ) -> Result<Option<Ticket>, StoreError> {
        self.newest_not_closed_from(platform, channel, user, false)
            .await
    }

    async fn newest_not_closed_from(
        &self,
        platform: &str,
        channel: &str,
        user: &str,
        posted: bool,
    ) -> Result<Option<Ticket>, StoreError> {
        // The whole filter on `origin_live`; whether it was posted, and which is newest,
        // is read here from the person's few tickets not closed (`$ne` and a sort on
        // another field are no index's bounds on the local test server).
        let found: Vec<Document> = self
            .ticket_docs()
            .find(doc! {
                "origin.platform": platform,
                "origin.channel": channel,
                "origin.user": user,
                "status": not_closed(),
            })
            .await?
            .try_collect()
            .await?;
        found
            .into_iter()
            .filter(|d| !posted || d.get_document("staff_thread").is_ok())
            .max_by_key(|d| {
                d.get_datetime("created_at")
                    .map_or(0, |t| t.timestamp_millis())
            })
            .map(|d| open_ticket_doc(self.keys(), d))
            .transpose()
    }

    /// Marks an open ticket taken by `by` at `now`; whether this call took it (the first
    /// reply).
    ///
    /// # Errors
    /// The server failed.
    pub async fn claim_ticket(
        &self,
        id: ObjectId,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let claimed = self
            .ticket_docs()
            .update_one(
                doc! { "_id": id, "status": "open" },
                doc! { "$set": {
                    "status": "claimed",
                    "claimed_by": by,
                    "claimed_at": bson::DateTime::from_chrono(now),
                } },
            )
            .await?
            .modified_count
            == 1;
        if claimed {
            self.audit("ticket.claim", names::TICKETS, &id.to_hex())
                .await?;
        }
        Ok(claimed)
    }

    /// A staff member's message in a ticket's thread, for the person who asked, in one
    /// transaction: the first one takes the ticket (audited) and queues "`by` from the
    /// studio has joined", then the message is queued (sealed, audited). The same
    /// platform `event` twice queues nothing more. Returns whether this message took the
    /// ticket.
    ///
    /// # Errors
    /// The server failed.
    pub async fn relay_staff_reply(
        &self,
        id: ObjectId,
        by: &str,
        text: &str,
        event: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let said = self.relay_item(id, true, text, event, now);
        let joined = format!("{by} from the studio has joined the conversation.");
        let joined = self.relay_item(id, true, &joined, &format!("{event}:joined"), now);
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                if self.outbox_key_exists_in(&mut session, &said.key).await? {
                    return Ok(false);
                }
                let claimed = self
                    .ticket_docs()
                    .update_one(
                        doc! { "_id": id, "status": TicketStatus::Open.as_str() },
                        doc! { "$set": {
                            "status": TicketStatus::Claimed.as_str(),
                            "claimed_by": by,
                            "claimed_at": bson::DateTime::from_chrono(now),
                        } },
                    )
                    .session(&mut session)
                    .await?
                    .modified_count
                    == 1;
                if claimed {
                    self.audit_in(&mut session, "ticket.claim", names::TICKETS, &id.to_hex())
                        .await?;
                    self.enqueue_in(&mut session, std::slice::from_ref(&joined))
                        .await?;
                }
                self.enqueue_in(&mut session, std::slice::from_ref(&said))
                    .await?;
                self.audit_in(
                    &mut session,
                    "ticket.relay_to_client",
                    names::TICKETS,
                    &id.to_hex(),
                )
                .await?;
                Ok(claimed)
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }

    /// The outbox item of one message of a ticket's conversation, sealed, keyed
    /// `relay:{key}`.
    fn relay_item(
        &self,
        ticket: ObjectId,
        to_client: bool,
        text: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> OutboxItem {
        OutboxItem::new(
            format!("relay:{key}"),
            Job::TicketRelay {
                ticket_id: ticket,
                to_client,
                text: self.keys().seal(text, &relay_context(ticket)),
            },
            now,
        )
    }

    /// Queues a message of the ticket's conversation: to the person who asked
    /// (`to_client`) or into the staff thread, sealed, under `key` (a platform event id:
    /// the same message twice is relayed once). Audited as a relay, ids only.
    ///
    /// # Errors
    /// The server failed.
    pub async fn relay(
        &self,
        ticket: ObjectId,
        to_client: bool,
        text: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = self.relay_item(ticket, to_client, text, key, now);
        self.enqueue(std::slice::from_ref(&item)).await?;
        self.audit(
            if to_client {
                "ticket.relay_to_client"
            } else {
                "ticket.relay_to_staff"
            },
            names::TICKETS,
            &ticket.to_hex(),
        )
        .await?;
        Ok(())
    }
}

impl Store {
    /// Open tickets (nobody has taken them) posted to the staff, made before `cutoff`, not
    /// reminded of yet.
    ///
    /// # Errors
    /// The server failed.
    pub async fn tickets_to_remind(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, StoreError> {
        // The whole filter on `reminder_due`; whether it was posted is checked here (`$ne`
        // is no index's bound on the local test server).
        let due = doc! {
            "status": TicketStatus::Open.as_str(),
            "reminded_at": null,
            "created_at": { "$lte": bson::DateTime::from_chrono(cutoff) },
        };
        let mut due = self.find_tickets(due, 0, 500).await?;
        due.retain(|t| t.staff_thread.is_some());
        due.truncate(100);
        Ok(due)
    }

    /// Marks a ticket reminded of and queues the reminder, once (`reminder` carries the
    /// key `ticket:{id}:remind`).
    ///
    /// # Errors
    /// The server failed.
    pub async fn remind_of_ticket(
        &self,
        id: ObjectId,
        reminder: OutboxItem,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Queued first (its key makes a second one nothing), then marked: a failure in
        // between leaves a reminder queued, never a ticket marked and not reminded of.
        self.enqueue(std::slice::from_ref(&reminder)).await?;
        let marked = self
            .ticket_docs()
            .update_one(
                doc! { "_id": id, "reminded_at": null },
                doc! { "$set": { "reminded_at": bson::DateTime::from_chrono(now) } },
            )
            .await?
            .modified_count
            == 1;
        Ok(marked)
    }
}

/// Hand-offs in a period, for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketFigures {
    /// Opened in the period.
    pub opened: u64,
    /// Of them, taken by a person, and closed.
    pub claimed: u64,
    pub closed: u64,
    /// Of them, still waiting for anyone.
    pub unanswered: u64,
    /// From opening to the first staff reply, on average, for those taken (minutes).
    pub average_first_reply_minutes: Option<f64>,
}

impl Store {
    /// The tickets opened in `[start, end)`: how many, taken, closed, unanswered, and the
    /// average wait for a first reply.
    ///
    /// # Errors
    /// The server failed.
    pub async fn ticket_figures(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<TicketFigures, StoreError> {
        let docs: Vec<Document> = self
            .ticket_docs()
            .find(doc! { "created_at": {
                "$gte": bson::DateTime::from_chrono(start),
                "$lt": bson::DateTime::from_chrono(end),
            } })
            .projection(doc! { "status": 1, "created_at": 1, "claimed_at": 1, "claimed_by": 1 })
            .await?
            .try_collect()
            .await?;
        let mut f = TicketFigures {
            opened: docs.len() as u64,
            claimed: 0,
            closed: 0,
            unanswered: 0,
            average_first_reply_minutes: None,
        };
        let mut waits = Vec::new();
        for d in &docs {
            match d.get_str("status").unwrap_or_default() {
                "closed" => f.closed += 1,
                "open" => f.unanswered += 1,
                _ => {}
            }
            if d.get_str("claimed_by").is_ok() {
                f.claimed += 1;
            }
            if let (Ok(opened), Ok(taken)) =
                (d.get_datetime("created_at"), d.get_datetime("claimed_at"))
            {
                let minutes =
                    (taken.timestamp_millis() - opened.timestamp_millis()) as f64 / 60_000.0;
                waits.push(minutes.max(0.0));
            }
        }
        if !waits.is_empty() {
            f.average_first_reply_minutes = Some(waits.iter().sum::<f64>() / waits.len() as f64);
        }
        Ok(f)
    }
}
