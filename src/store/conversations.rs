//! Conversation memory as stored: each turn a document of its own in
//! `conversation_turns` (saved with a batched insert, forgotten by a TTL index), read
//! back newest first, a few at a time. What a turn means is `agents::memory`'s business.

use bson::doc;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{names, BatchedInsert, Store, StoreError};
use crate::domain::Intent;

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

/// A turn as stored: the conversation it belongs to and when it is forgotten.
#[derive(Debug, Serialize, Deserialize)]
struct StoredTurn {
    conversation: String,
    #[serde(flatten)]
    turn: Turn,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    expires_at: DateTime<Utc>,
}

impl Store {
    /// The conversation `key`'s last [`KEPT_TURNS`] turns, oldest first.
    ///
    /// # Errors
    /// The server failed.
    pub async fn conversation(&self, key: &str) -> Result<Conversation, StoreError> {
        let mut newest_first: Vec<StoredTurn> = self
            .db
            .collection::<StoredTurn>(names::CONVERSATION_TURNS)
            .find(doc! { "conversation": key })
            .sort(doc! { "_id": -1 })
            .limit(KEPT_TURNS as i64)
            .await?
            .try_collect()
            .await?;
        let expires_at = newest_first.first().map(|t| t.expires_at);
        newest_first.reverse();
        Ok(Conversation {
            key: key.to_owned(),
            turns: newest_first.into_iter().map(|t| t.turn).collect(),
            expires_at,
        })
    }

    /// Saves a turn of the conversation `key`, forgotten at `expires_at`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn remember_turn(
        &self,
        key: &str,
        turn: Turn,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let stored = StoredTurn {
            conversation: key.to_owned(),
            turn,
            expires_at,
        };
        let mut doc = bson::to_document(&stored)?;
        // Newest first is `_id` order: set here, so turns of one conversation sort in the
        // order they were said even when they reach the server in one batch.
        doc.insert("_id", bson::oid::ObjectId::new());
        self.insert_batched(BatchedInsert::ConversationTurn, doc)
            .await?;
        Ok(())
    }
}
