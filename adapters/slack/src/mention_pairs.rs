//! One user message mentioning the bot arrives twice, as a `message` and as an
//! `app_mention` event with different `event_id`s. [`MentionPairs`] lets the first of the two
//! through and drops its twin by `(channel, ts)`, while a Slack retry of the winner (same
//! `event_id`) still passes, so the gateway's `event_id` dedupe sees and drops it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a message is remembered; Slack's retries and twins come within minutes.
const REMEMBER_FOR: Duration = Duration::from_secs(15 * 60);
/// Above this many remembered messages, expired ones are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// The `event_id` that claimed each recent `(channel, ts)`.
#[derive(Debug, Default)]
pub(crate) struct MentionPairs {
    claimed: Mutex<HashMap<(String, String), (String, Instant)>>,
}

impl MentionPairs {
    /// Returns whether the event `event_id` for message `(channel, ts)` should be handled:
    /// true for the first event of that message and for retries of that same event, false
    /// for its twin.
    pub(crate) fn claim(&self, channel: &str, ts: &str, event_id: &str) -> bool {
        let now = Instant::now();
        let mut claimed = self
            .claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if claimed.len() > PRUNE_ABOVE {
            claimed.retain(|_, (_, at)| now.duration_since(*at) < REMEMBER_FOR);
        }
        let key = (channel.to_owned(), ts.to_owned());
        match claimed.get(&key) {
            Some((winner, at)) if now.duration_since(*at) < REMEMBER_FOR => winner == event_id,
            _ => {
                claimed.insert(key, (event_id.to_owned(), now));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_is_dropped_but_retries_of_the_winner_pass() {
        let pairs = MentionPairs::default();
        assert!(pairs.claim("C1", "1.0", "EvMessage"));
        assert!(!pairs.claim("C1", "1.0", "EvMention"));
        assert!(pairs.claim("C1", "1.0", "EvMessage"));
        assert!(pairs.claim("C2", "1.0", "EvOther"));
        assert!(pairs.claim("C1", "2.0", "EvMention2"));
    }
}
