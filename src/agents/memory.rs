//! Conversation memory per (platform, channel, thread, user), kept in MongoDB with a TTL
//! so follow-ups ("and last month?") work across restarts and instances. Each turn is a
//! document of its own (`store::conversations`): saving one is an insert (batched with
//! other messages' inserts under load), and the last few are read back, newest first,
//! only when a message needs them.

use chrono::{DateTime, Duration, Utc};

use crate::store::{Store, StoreError};

pub use crate::store::{Conversation, Pending, Turn, WaitingFor, KEPT_TURNS};

/// The conversation's last [`KEPT_TURNS`] turns, oldest first.
///
/// # Errors
/// The server failed.
pub async fn load(store: &Store, key: &str) -> Result<Conversation, StoreError> {
    store.conversation(key).await
}

/// Saves a turn; the server forgets it `ttl_hours` after `now` (the real time: see
/// `Clock::wall`).
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
    store
        .remember_turn(key, turn, now + Duration::hours(i64::from(ttl_hours)))
        .await
}
