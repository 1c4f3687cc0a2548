//! Messages in flight and their order: every message holds a [`Ticket`] while it is
//! handled, so shutdown can stop taking new ones and wait for those in flight
//! ([`Drain::close_and_wait`]); and the messages of one conversation take turns, in the
//! order they arrived, so a quick "and last month?" never races the turn before it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use frontdesk_chat::Inbound;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

/// How many conversations can be handled side by side before two share a turn lock.
const STRIPES: usize = 4096;

/// The gateway's messages in flight.
#[derive(Debug)]
pub struct Drain {
    closed: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
    turns: Vec<Arc<Mutex<()>>>,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            closed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            turns: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }
}

/// A message being handled: counted until dropped, holding its conversation's turn.
#[derive(Debug)]
pub struct Ticket {
    drain: Arc<Drain>,
    _turn: OwnedMutexGuard<()>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.drain.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drain.idle.notify_waiters();
        }
    }
}

impl Drain {
    /// Takes a message in: `None` once closing. Waits for the turn of the message's
    /// conversation (platform, channel, thread, user), first come first served.
    pub async fn admit(self: &Arc<Self>, inbound: &Inbound) -> Option<Ticket> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let mut hasher = DefaultHasher::new();
        (
            inbound.platform.as_str(),
            &inbound.channel,
            &inbound.thread,
            &inbound.user,
        )
            .hash(&mut hasher);
        let stripe = usize::try_from(hasher.finish() % STRIPES as u64).unwrap_or(0);
        let turn = self.turns[stripe].clone().lock_owned().await;
        Some(Ticket {
            drain: self.clone(),
            _turn: turn,
        })
    }

    /// Stops taking messages and waits up to `grace` for those in flight; whether all
    /// were finished.
    pub async fn close_and_wait(&self, grace: Duration) -> bool {
        self.closed.store(true, Ordering::Release);
        let finished = async {
            loop {
                let idle = self.idle.notified();
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(grace, finished).await.is_ok()
    }

    /// Messages being handled now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_chat::Platform;

    fn message(user: &str) -> Inbound {
        Inbound::new(Platform::Slack, "C1", user, "hi", "e1", chrono::Utc::now())
    }

    #[tokio::test]
    async fn one_conversation_takes_turns_and_closing_waits_for_those_in_flight() {
        let drain = Arc::new(Drain::default());
        let first = drain.admit(&message("U1")).await.unwrap();
        // Another conversation goes on at once.
        let other = drain.admit(&message("U2")).await.unwrap();
        drop(other);
        // The same conversation waits for the first message's turn to end.
        let second = {
            let drain = drain.clone();
            tokio::spawn(async move { drain.admit(&message("U1")).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "the second message did not wait its turn"
        );
        assert_eq!(drain.in_flight(), 2);
        drop(first);
        assert_eq!(second.await.unwrap(), Some(()));
        assert!(drain.close_and_wait(Duration::from_millis(100)).await);
        assert!(
            drain.admit(&message("U3")).await.is_none(),
            "taken after closing"
        );
    }

    #[tokio::test]
    async fn closing_gives_up_after_the_grace_period() {
        let drain = Arc::new(Drain::default());
        let held = drain.admit(&message("U1")).await.unwrap();
        assert!(!drain.close_and_wait(Duration::from_millis(50)).await);
        drop(held);
        assert_eq!(drain.in_flight(), 0);
        assert!(drain.close_and_wait(Duration::from_millis(50)).await);
    }
}
