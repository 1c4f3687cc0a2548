//! Answers of the tools that only read, kept for a few seconds: the same question asked
//! again (a second manager, the dashboard refreshed, a busy support channel) is answered
//! from memory with no database work.
//!
//! **Invariant:** a kept answer is given again only for the same store, tool, arguments,
//! role and client, within the same minute of the studio clock, while nothing has been
//! written through this process since its reads began ([`Store::data_generation`]), and
//! for at most [`ANSWER_TTL`]. A client's answer is never given to anyone else, and a
//! write through this process shows in the very next answer. The TTL bounds how late a
//! write made by another instance, or behind frontdesk's back, shows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Role, ToolCtx, ToolOutput};
use crate::domain::ObjectId;
use crate::store::Store;

/// How long an answer is given again at most.
pub const ANSWER_TTL: Duration = Duration::from_secs(5);

/// How many answers are kept at most; when full, expired ones go, and if none has
/// expired, all of them.
const CAPACITY: usize = 4096;

/// What an answer depends on besides the data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AnswerKey {
    store: usize,
    tool: &'static str,
    args: String,
    role: Role,
    client: Option<ObjectId>,
    minute: i64,
}

impl AnswerKey {
    pub(crate) fn new(ctx: &ToolCtx, tool: &'static str, args: &serde_json::Value) -> Self {
        Self {
            store: ctx.store.shared_id(),
            tool,
            args: args.to_string(),
            role: ctx.caller.role,
            client: ctx.caller.client_id,
            minute: ctx.clock.now().timestamp().div_euclid(60),
        }
    }
}

#[derive(Debug)]
struct Kept {
    generation: u64,
    at: Instant,
    output: ToolOutput,
}

/// The kept answers of one registry.
#[derive(Debug, Default)]
pub struct Answers {
    kept: Mutex<HashMap<AnswerKey, Kept>>,
    /// One lock per answer being computed: the same question asked many times at once
    /// (a cold start under load) is computed once, and the others wait for it.
    computing: Mutex<HashMap<AnswerKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// The right to compute one answer; see [`Answers::turn`].
pub(crate) struct Turn<'a> {
    answers: &'a Answers,
    key: AnswerKey,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Turn<'_> {
    /// Waits until no one else computes this answer.
    pub(crate) async fn wait(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Ok(mut computing) = self.answers.computing.lock() {
            // The map's and this turn's: nobody else waits, so the lock can go.
            if Arc::strong_count(&self.lock) <= 2 {
                computing.remove(&self.key);
            }
        }
    }
}

impl Answers {
    /// The answer kept for `key` if it is still current for `store`.
    pub(crate) fn get(&self, key: &AnswerKey, store: &Store) -> Option<ToolOutput> {
        let generation = store.data_generation();
        let kept = self.kept.lock().ok()?;
        kept.get(key)
            .filter(|k| k.generation == generation && k.at.elapsed() < ANSWER_TTL)
            .map(|k| k.output.clone())
    }

    /// Keeps `output`, computed from reads that began at `generation`. An answer whose
    /// reads may have missed a write that finished meanwhile is not kept.
    pub(crate) fn keep(&self, key: AnswerKey, generation: u64, store: &Store, output: &ToolOutput) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if store.data_generation() != generation {
            return;
        }
        if kept.len() >= CAPACITY {
            kept.retain(|_, k| k.at.elapsed() < ANSWER_TTL && k.generation == generation);
            if kept.len() >= CAPACITY {
                kept.clear();
            }
        }
        kept.insert(
            key,
            Kept {
                generation,
                at: Instant::now(),
                output: output.clone(),
            },
        );
    }

    /// The turn to compute the answer for `key`: take it with [`Turn::wait`], then look
    /// for the answer again (the one before may have kept it).
    pub(crate) fn turn(&self, key: &AnswerKey) -> Turn<'_> {
        let lock = self
            .computing
            .lock()
            .map(|mut computing| Arc::clone(computing.entry(key.clone()).or_default()))
            .unwrap_or_default();
        Turn {
            answers: self,
            key: key.clone(),
            lock,
        }
    }

    /// How many answers are kept now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.kept.lock().map_or(0, |k| k.len())
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tool: &'static str) -> AnswerKey {
        AnswerKey {
            store: 1,
            tool,
            args: "{}".into(),
            role: Role::Manager,
            client: None,
            minute: 0,
        }
    }

    #[tokio::test]
    async fn one_answer_is_computed_by_one_caller_at_a_time_and_its_lock_then_goes() {
        let answers = Answers::default();
        let first = answers.turn(&key("revenue"));
        let second = answers.turn(&key("revenue"));
        let other = answers.turn(&key("new_clients"));
        let held = first.wait().await;
        assert!(second.lock.try_lock().is_err(), "the same answer waits");
        assert!(other.lock.try_lock().is_ok(), "another answer does not");
        drop(held);
        assert!(second.lock.try_lock().is_ok());
        drop((first, second, other));
        assert!(answers.computing.lock().unwrap().is_empty());
    }
}
