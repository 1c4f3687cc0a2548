//! Conversation memory as stored: each turn a document of its own in
//! `conversation_turns` (sealed with the keyring, saved with a batched insert, forgotten
//! by a TTL index), read back newest first, a few at a time. What a turn means is `agents::memory`'s business.

use bson::doc;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{names, BatchedInsert, Store, StoreError};
use crate::domain::{Intent, ObjectId};
use crate::protect::{Keyring, Sealed};

/// One remembered turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub user: String,
    pub answer: String,
    pub intent: Intent,
    #[serde(default)]
    pub args: serde_json::Value,
    /// What the answer left waiting for the next message: a question back, or a write
    /// proposed for a "yes".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// A request the agent is waiting to finish with the next message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Names the request: a confirmed write's idempotency key is made from it, so two
    /// "yes" for one proposal make one write.
    pub id: String,
    pub intent: Intent,
    /// The arguments so far (for a proposal: as the tool resolved them).
    pub args: serde_json::Value,
    pub waiting_for: WaitingFor,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    pub expires_at: DateTime<Utc>,
}

/// What the next message may settle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WaitingFor {
    /// A "yes" runs the proposed write; a "no" drops it.
    Confirmation,
    /// The answer to a question back: the value of `field`, one of `options` when the
    /// question offered some.
    Answer {
        field: String,
        #[serde(default)]
        options: Vec<String>,
    },
}

/// A conversation's memory document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    #[serde(rename = "_id")]
    pub key: String,
    #[serde(default)]
    pub turns: Vec<Turn>,
    #[serde(
        default,
        with = "bson::serde_helpers::chrono_datetime_as_bson_datetime_optional"
    )]
    pub expires_at: Option<DateTime<Utc>>,
}

/// How many turns are kept (and sent to an LLM).
pub const KEPT_TURNS: usize = 6;

impl Conversation {
    /// The last turn that answered with a tool that only reads, for follow-ups ("and
    /// last month?"). A write is never a follow-up's model.
    #[must_use]
    pub fn last_read_turn(&self) -> Option<&Turn> {
        self.turns
            .iter()
            .rev()
            .find(|t| t.intent.is_tool())
            .filter(|t| !t.intent.is_write())
    }

    /// The last turn that called a tool, read or write: what "her", "it" or "that order"
    /// point back at.
    #[must_use]
    pub fn last_tool_turn(&self) -> Option<&Turn> {
        self.turns.iter().rev().find(|t| t.intent.is_tool())
    }

    /// What the last turn left waiting, while it is still fresh at `now`.
    #[must_use]
    pub fn pending(&self, now: DateTime<Utc>) -> Option<&Pending> {
        self.turns
            .last()?
            .pending
            .as_ref()
            .filter(|p| p.expires_at > now)
    }
}

/// A turn as stored: the conversation it belongs to, the turn itself sealed (what was
/// said and answered holds names, emails and phone numbers), and when it is forgotten.
#[derive(Debug, Serialize, Deserialize)]
struct StoredTurn {
    #[serde(rename = "_id")]
    id: ObjectId,
    conversation: String,
    /// The [`Turn`] as JSON, sealed with the current key and bound to this record.
    sealed: Sealed,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    expires_at: DateTime<Utc>,
}

/// The associated data a turn is sealed with.
fn turn_context(id: ObjectId) -> String {
    format!("conversation_turn:{}", id.to_hex())
}

impl StoredTurn {
    fn seal(
        keys: &Keyring,
        conversation: &str,
        turn: &Turn,
        expires_at: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let id = ObjectId::new();
        let plain = serde_json::to_string(turn)
            .map_err(|e| StoreError::Decode(format!("a turn could not be written: {e}")))?;
        Ok(Self {
            id,
            conversation: conversation.to_owned(),
            sealed: keys.seal(&plain, &turn_context(id)),
            expires_at,
        })
    }

    fn open(&self, keys: &Keyring) -> Result<Turn, StoreError> {
        let plain = keys
            .open(&self.sealed, &turn_context(self.id))
            .map_err(|e| StoreError::Decode(format!("turn {}: {e}", self.id.to_hex())))?;
        serde_json::from_str(&plain)
            .map_err(|e| StoreError::Decode(format!("turn {}: {e}", self.id.to_hex())))
    }
}

impl Store {
    /// The conversation `key`'s last [`KEPT_TURNS`] turns, oldest first. A turn that
    /// cannot be opened (sealed under a key no longer configured, or from before turns
    /// were sealed) is left out, as if forgotten.
    ///
    /// # Errors
    /// The server failed.
    pub async fn conversation(&self, key: &str) -> Result<Conversation, StoreError> {
        let newest_first: Vec<bson::Document> = self
            .db
            .collection::<bson::Document>(names::CONVERSATION_TURNS)
            .find(doc! { "conversation": key })
            .sort(doc! { "_id": -1 })
            .limit(KEPT_TURNS as i64)
            .await?
            .try_collect()
            .await?;
        let newest_first: Vec<StoredTurn> = newest_first
            .into_iter()
            .filter_map(|d| bson::from_document(d).ok())
            .collect();
        let expires_at = newest_first.first().map(|t| t.expires_at);
        let mut turns: Vec<Turn> = newest_first
            .iter()
            .filter_map(|stored| {
                stored
                    .open(self.keys())
                    .inspect_err(|e| tracing::warn!(error = %e, "a remembered turn was left out"))
                    .ok()
            })
            .collect();
        turns.reverse();
        Ok(Conversation {
            key: key.to_owned(),
            turns,
            expires_at,
        })
    }

    /// Saves a turn of the conversation `key`, sealed, forgotten at `expires_at`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn remember_turn(
        &self,
        key: &str,
        turn: Turn,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Newest first is `_id` order: made here, so turns of one conversation sort in
        // the order they were said even when they reach the server in one batch.
        let stored = StoredTurn::seal(self.keys(), key, &turn, expires_at)?;
        self.insert_batched(BatchedInsert::ConversationTurn, bson::to_document(&stored)?)
            .await?;
        Ok(())
    }

    fn turns(&self) -> mongodb::Collection<StoredTurn> {
        self.db.collection(names::CONVERSATION_TURNS)
    }

    /// Re-seals remembered turns under the current key (`rotate-key`); a turn that cannot
    /// be opened is deleted (it would be left out when read anyway). Returns (re-sealed,
    /// deleted).
    pub(crate) async fn rotate_turns(&self) -> Result<(u64, u64), StoreError> {
        let keys = self.keys();
        // Turns from before they were sealed hold plain text: forgotten now.
        let unsealed = self
            .db
            .collection::<bson::Document>(names::CONVERSATION_TURNS)
            .delete_many(doc! { "sealed": { "$exists": false } })
            .await?
            .deleted_count;
        let stale: Vec<StoredTurn> = self
            .turns()
            .find(doc! { "sealed": { "$exists": true }, "sealed.k": { "$ne": keys.current_id() } })
            .await?
            .try_collect()
            .await?;
        let (mut resealed, mut deleted) = (0, unsealed);
        for stored in stale {
            match stored.open(keys) {
                Ok(turn) => {
                    let plain = serde_json::to_string(&turn).map_err(|e| {
                        StoreError::Decode(format!("a turn could not be written: {e}"))
                    })?;
                    let sealed = bson::to_bson(&keys.seal(&plain, &turn_context(stored.id)))?;
                    self.turns()
                        .update_one(
                            doc! { "_id": stored.id },
                            doc! { "$set": { "sealed": sealed } },
                        )
                        .await?;
                    resealed += 1;
                }
                Err(_) => {
                    self.turns().delete_one(doc! { "_id": stored.id }).await?;
                    deleted += 1;
                }
            }
        }
        Ok((resealed, deleted))
    }
}
