//! Chat identities: which client record a chat account is linked to, the one-time codes
//! that link by email, and the processed-event marks that stop a retried platform event
//! from being answered twice.

use bson::{doc, oid::ObjectId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::outbox::{Job, OutboxItem};
use super::{names, Store, StoreError};
use crate::protect::Sealed;

/// A chat account linked to a client record. `_id` is `"{platform}:{user id}"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedIdentity {
    #[serde(rename = "_id")]
    pub account: String,
    pub client_id: ObjectId,
    /// How the link was proved: `phone` (shared contact) or `email` (one-time code).
    pub via: String,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub linked_at: DateTime<Utc>,
}

/// A pending email link: the code's hash, never the code. `_id` is the chat account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkCode {
    #[serde(rename = "_id")]
    pub account: String,
    /// `None` when the email matched no client: the code is sent nowhere and can never
    /// succeed, but the chat sees the same reply either way.
    pub client_id: Option<ObjectId>,
    pub code_hash: String,
    pub attempts: u32,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    /// Until when the code can be used (by the service's clock).
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub expires_at: DateTime<Utc>,
    /// When the server deletes it (TTL, by the real time: see `Clock::wall`).
    #[serde(
        with = "bson::serde_helpers::chrono_datetime_as_bson_datetime",
        default = "long_ago"
    )]
    pub forget_at: DateTime<Utc>,
}

/// The `forget_at` of a code written before it had one: the next sweep takes it.
fn long_ago() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The email of a new link code: queued with the code (see
/// [`Store::save_link_code_and_mail`]).
#[derive(Debug, Clone, Copy)]
pub struct LinkCodeMail<'a> {
    /// The outbox key: one per platform event, so a retried event queues one email.
    pub key: &'a str,
    /// The client the code goes to (their email and name are read when it is sent).
    pub client_id: ObjectId,
    /// The code in clear: sealed before it is written.
    pub code: &'a str,
    /// How long the code is valid, for the text of the email.
    pub minutes: u32,
}

/// The associated data a link code is sealed with: it opens only for that account and
/// client.
fn link_code_context(account: &str, client_id: ObjectId) -> String {
    format!("link_code:{account}:{}", client_id.to_hex())
}

#[derive(Debug, Serialize)]
struct ProcessedEvent<'a> {
    #[serde(rename = "_id")]
    key: &'a str,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    expires_at: DateTime<Utc>,
}

impl Store {
    /// The client a chat account is linked to, if any.
    ///
    /// # Errors
    /// The server failed.
    pub async fn linked_identity(
        &self,
        account: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError> {
        Ok(self
            .database()
            .collection::<LinkedIdentity>(names::IDENTITIES)
            .find_one(doc! { "_id": account })
            .await?)
    }

    /// Every chat account linked to a client, oldest link first.
    ///
    /// # Errors
    /// The server failed.
    pub async fn linked_accounts(
        &self,
        client_id: ObjectId,
    ) -> Result<Vec<LinkedIdentity>, StoreError> {
        let found = self
            .database()
            .collection::<LinkedIdentity>(names::IDENTITIES)
            .find(doc! { "client_id": client_id })
            .sort(doc! { "linked_at": 1 })
            .await?;
        Ok(futures::TryStreamExt::try_collect(found).await?)
    }

    /// Links (or re-links) a chat account to a client.
    ///
    /// # Errors
    /// The server failed.
    pub async fn link_identity(&self, link: &LinkedIdentity) -> Result<(), StoreError> {
        self.database()
            .collection::<LinkedIdentity>(names::IDENTITIES)
            .replace_one(doc! { "_id": &link.account }, link)
            .upsert(true)
            .await?;
        self.audit(
            &format!("identity.link.{}", link.via),
            names::IDENTITIES,
            &link.account,
        )
        .await
    }

    /// Removes a chat account's link; `true` when there was one.
    ///
    /// # Errors
    /// The server failed.
    pub async fn unlink_identity(&self, account: &str) -> Result<bool, StoreError> {
        let done = self
            .database()
            .collection::<LinkedIdentity>(names::IDENTITIES)
            .delete_one(doc! { "_id": account })
            .await?;
        if done.deleted_count > 0 {
            self.audit("identity.unlink", names::IDENTITIES, account)
                .await?;
        }
        Ok(done.deleted_count > 0)
    }

    /// Stores a new pending email link for an account, replacing any older one.
    ///
    /// # Errors
    /// The server failed.
    pub async fn save_link_code(&self, code: &LinkCode) -> Result<(), StoreError> {
        self.database()
            .collection::<LinkCode>(names::LINK_CODES)
            .replace_one(doc! { "_id": &code.account }, code)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Stores a new pending email link for an account (replacing any older one) and, with
    /// `mail`, queues the email of the code in the same transaction: both are written or
    /// neither. The code goes into the outbox sealed with the keyring, never in clear.
    /// Returns `false`, having written nothing, when `mail`'s key was already queued (the
    /// same event handled again).
    ///
    /// # Errors
    /// The server failed.
    pub async fn save_link_code_and_mail(
        &self,
        code: &LinkCode,
        mail: Option<LinkCodeMail<'_>>,
    ) -> Result<bool, StoreError> {
        let item = mail.map(|m| {
            let sealed = self
                .keys()
                .seal(m.code, &link_code_context(&code.account, m.client_id));
            OutboxItem::new(
                m.key,
                Job::LinkCode {
                    account: code.account.clone(),
                    client_id: m.client_id,
                    code: sealed,
                    minutes: m.minutes,
                },
                code.created_at,
            )
        });
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                if let Some(item) = &item {
                    if self.outbox_key_exists_in(&mut session, &item.key).await? {
                        return Ok(false);
                    }
                }
                self.database()
                    .collection::<LinkCode>(names::LINK_CODES)
                    .replace_one(doc! { "_id": &code.account }, code)
                    .upsert(true)
                    .session(&mut session)
                    .await?;
                if let Some(item) = &item {
                    self.enqueue_in(&mut session, std::slice::from_ref(item))
                        .await?;
                }
                Ok(true)
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }

    /// The code of a queued link-code email, opened.
    ///
    /// # Errors
    /// [`StoreError::Decode`] when it cannot be opened (its key is no longer configured).
    pub fn open_link_code(
        &self,
        account: &str,
        client_id: ObjectId,
        sealed: &Sealed,
    ) -> Result<String, StoreError> {
        self.keys()
            .open(sealed, &link_code_context(account, client_id))
            .map_err(|e| StoreError::Decode(format!("the link code for {account}: {e}")))
    }

    /// The account's pending, unexpired email link.
    ///
    /// # Errors
    /// The server failed.
    pub async fn pending_link_code(
        &self,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkCode>, StoreError> {
        // Read by `_id` alone (a point read on every server), its expiry checked here.
        Ok(self
            .database()
            .collection::<LinkCode>(names::LINK_CODES)
            .find_one(doc! { "_id": account })
            .await?
            .filter(|code| code.expires_at > now))
    }

    /// Uses up one of the `max_attempts` guesses at the account's pending code, before the
    /// guess is compared, so guesses sent at the same moment cannot exceed the budget.
    /// Returns the code with the attempt counted, or `None` when there is no live code or
    /// its guesses are used up.
    ///
    /// # Errors
    /// The server failed.
    pub async fn take_link_attempt(
        &self,
        account: &str,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkCode>, StoreError> {
        // Every guess is counted, by `_id` alone (a point write on every server); a code
        // past its budget or its time is no code. Counting guesses at a dead code harms
        // nothing: it can never link.
        Ok(self
            .database()
            .collection::<LinkCode>(names::LINK_CODES)
            .find_one_and_update(doc! { "_id": account }, doc! { "$inc": { "attempts": 1 } })
            .return_document(mongodb::options::ReturnDocument::After)
            .await?
            .filter(|code| code.attempts <= max_attempts && code.expires_at > now))
    }

    /// Notes that a link code was asked for (by `account`, for `client`), kept a day, and
    /// returns how many codes that account and that client have been sent in the last day
    /// including this one.
    ///
    /// # Errors
    /// The server failed.
    pub async fn note_link_code_request(
        &self,
        account: &str,
        client_id: Option<ObjectId>,
        now: DateTime<Utc>,
        wall: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let log = self
            .database()
            .collection::<bson::Document>(names::LINK_CODE_REQUESTS);
        log.insert_one(doc! {
            "account": account,
            "client_id": client_id,
            "at": bson::DateTime::from_chrono(now),
            // Swept a day later by the server's clock (see `Clock::wall`).
            "expires_at": bson::DateTime::from_chrono(wall + Duration::days(1)),
        })
        .await?;
        let since = bson::DateTime::from_chrono(now - Duration::days(1));
        let by_account = log
            .count_documents(doc! { "account": account, "at": { "$gt": since } })
            .await?;
        let by_client = match client_id {
            Some(id) => {
                log.count_documents(doc! { "client_id": id, "at": { "$gt": since } })
                    .await?
            }
            None => 0,
        };
        Ok((by_account, by_client))
    }

    /// Deletes the account's pending email link.
    ///
    /// # Errors
    /// The server failed.
    pub async fn drop_link_code(&self, account: &str) -> Result<(), StoreError> {
        self.database()
            .collection::<LinkCode>(names::LINK_CODES)
            .delete_one(doc! { "_id": account })
            .await?;
        Ok(())
    }

    /// Marks a platform event as handled. `true` the first time, `false` for a repeat (a
    /// platform retry or a redelivery after a restart). The mark expires after `keep`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn claim_event(
        &self,
        key: &str,
        now: DateTime<Utc>,
        keep: Duration,
    ) -> Result<bool, StoreError> {
        let mark = ProcessedEvent {
            key,
            expires_at: now + keep,
        };
        // Every message makes one: they go to the server together under load.
        let mark = bson::to_document(&mark)?;
        self.insert_batched(super::BatchedInsert::ProcessedEvent, mark)
            .await
    }
}
