//! Conversation memory per (platform, channel, thread, user), kept in MongoDB with a TTL
//! so follow-ups ("and last month?") work across restarts and instances. Each turn is a
//! document of its own: saving one is an insert (batched with other messages' inserts
//! under load), and the last few are read back, newest first, only when a message needs
//! them.

use bson::doc;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use futures::TryStreamExt;

use crate::store::{names, BatchedInsert, Store, StoreError};

/// One remembered turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub user: String,
    pub answer: String,
    pub intent: String,
    #[serde(default)]
    pub args: serde_json::Value,
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
    /// The last turn that called a tool, for follow-ups.
    #[must_use]
    pub fn last_tool_turn(&self) -> Option<&Turn> {
        self.turns
            .iter()
            .rev()
            .find(|t| !matches!(t.intent.as_str(), "smalltalk" | "refused" | "unsure"))
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

/// The conversation's last [`KEPT_TURNS`] turns, oldest first.
///
/// # Errors
/// The server failed.
pub async fn load(store: &Store, key: &str) -> Result<Conversation, StoreError> {
    let mut newest_first: Vec<StoredTurn> = store
        .database()
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

/// Saves a turn; it is forgotten `ttl_hours` after `now`.
///
/// # Errors
/// The server failed.
pub async fn remember(
    store: &Store,
    key: &str,
    turn: Turn,
    now: DateTime<Utc>,
    ttl_hours: u32,
) -> Result<(), StoreError> {
    let stored = StoredTurn {
        conversation: key.to_owned(),
        turn,
        expires_at: now + Duration::hours(i64::from(ttl_hours)),
    };
    let mut doc = bson::to_document(&stored)?;
    // Newest first is `_id` order: set here, so turns of one conversation sort in the
    // order they were said even when they reach the server in one batch.
    doc.insert("_id", bson::oid::ObjectId::new());
    store
        .insert_batched(BatchedInsert::ConversationTurn, doc)
        .await?;
    Ok(())
}
