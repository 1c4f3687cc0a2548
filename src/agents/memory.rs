//! Conversation memory per (platform, channel, thread, user), kept in MongoDB with a TTL
//! so follow-ups ("and last month?") work across restarts and instances.

use bson::doc;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{names, Store, StoreError};

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

/// # Errors
/// The server failed.
pub async fn load(store: &Store, key: &str) -> Result<Conversation, StoreError> {
    let found = store
        .database()
        .collection::<Conversation>(names::CONVERSATIONS)
        .find_one(doc! { "_id": key })
        .await?;
    Ok(found.unwrap_or_else(|| Conversation {
        key: key.to_owned(),
        ..Default::default()
    }))
}

/// Appends a turn, keeping the last few, and pushes the expiry forward.
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
    let expires = bson::DateTime::from_chrono(now + Duration::hours(i64::from(ttl_hours)));
    store
        .database()
        .collection::<Conversation>(names::CONVERSATIONS)
        .update_one(
            doc! { "_id": key },
            doc! {
                "$push": { "turns": { "$each": [bson::to_bson(&turn)?], "$slice": -(KEPT_TURNS as i32) } },
                "$set": { "expires_at": expires },
            },
        )
        .upsert(true)
        .await?;
    Ok(())
}
