//! Group commit for the small inserts every chat message makes (its dedupe mark, its
//! conversation turn): inserts asked for while one batch is at the server go together
//! in the next `insert` command. Under load one command carries many messages' writes;
//! alone, a message's insert goes at once, as before.
//!
//! The batches are sent by a task of their own, so a caller that stops waiting (a
//! dropped request) never strands the others' writes.

use std::sync::{Arc, Mutex};

use bson::Document;
use mongodb::error::ErrorKind;
use mongodb::Collection;
use tokio::sync::oneshot;

use super::{names, Store, StoreError};

/// What became of one insert: `Ok(true)` written, `Ok(false)` a document with its
/// unique key was there already.
type Written = Result<bool, StoreError>;

struct Waiting {
    doc: Document,
    done: oneshot::Sender<Written>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// A task is sending batches; it takes whatever waits when its batch is back.
    sending: bool,
}

/// The inserts into one collection, sent in batches.
pub(crate) struct Batched {
    collection: Collection<Document>,
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for Batched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batched")
            .field("collection", &self.collection.name())
            .finish_non_exhaustive()
    }
}

impl Batched {
    pub(crate) fn new(collection: Collection<Document>) -> Arc<Self> {
        Arc::new(Self {
            collection,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Inserts `doc` with the next batch; `false` when its unique key was taken.
    ///
    /// # Errors
    /// The server failed (every insert of that batch gets the error).
    pub(crate) async fn insert(self: &Arc<Self>, doc: Document) -> Written {
        let (done, result) = oneshot::channel();
        let start_sending = {
            let mut queue = self
                .queue
                .lock()
                .map_err(|_| StoreError::Decode("the insert queue was poisoned".into()))?;
            queue.waiting.push(Waiting { doc, done });
            !std::mem::replace(&mut queue.sending, true)
        };
        if start_sending {
            tokio::spawn(Arc::clone(self).send_while_waiting());
        }
        result
            .await
            .map_err(|_| StoreError::Decode("the insert batch was lost".into()))?
    }

    /// Sends batches until nothing waits.
    async fn send_while_waiting(self: Arc<Self>) {
        loop {
            let batch = match self.queue.lock() {
                Ok(mut queue) if queue.waiting.is_empty() => {
                    queue.sending = false;
                    return;
                }
                Ok(mut queue) => std::mem::take(&mut queue.waiting),
                // A poisoned queue: its waiters get "lost" when their senders drop.
                Err(_) => return,
            };
            self.send(batch).await;
        }
    }

    async fn send(&self, batch: Vec<Waiting>) {
        let (docs, dones): (Vec<Document>, Vec<_>) =
            batch.into_iter().map(|w| (w.doc, w.done)).unzip();
        let outcome = self.collection.insert_many(&docs).ordered(false).await;
        let mut results: Vec<Written> = (0..dones.len()).map(|_| Ok(true)).collect();
        match outcome {
            Ok(_) => {}
            Err(e) => match e.kind.as_ref() {
                ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
                    for write in failure.write_errors.iter().flatten() {
                        if let Some(slot) = results.get_mut(write.index) {
                            *slot = if write.code == DUPLICATE_KEY {
                                Ok(false)
                            } else {
                                Err(StoreError::Mongo(e.clone()))
                            };
                        }
                    }
                }
                _ => {
                    for slot in &mut results {
                        *slot = Err(StoreError::Mongo(e.clone()));
                    }
                }
            },
        }
        for (done, result) in dones.into_iter().zip(results) {
            // A caller that stopped waiting does not need its answer.
            let _ = done.send(result);
        }
    }
}

/// The server's code for a unique index violation.
const DUPLICATE_KEY: i32 = 11_000;

/// The collections whose inserts go in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchedInsert {
    /// Dedupe marks of chat events.
    ProcessedEvent,
    /// Turns of conversation memory.
    ConversationTurn,
}

impl Store {
    /// Inserts `doc` together with the inserts other requests make meanwhile; `false`
    /// when a document with its unique key was there already.
    ///
    /// # Errors
    /// The server failed.
    pub(crate) async fn insert_batched(
        &self,
        into: BatchedInsert,
        doc: Document,
    ) -> Result<bool, StoreError> {
        let (cell, name) = match into {
            BatchedInsert::ProcessedEvent => {
                (&self.batches.processed_events, names::PROCESSED_EVENTS)
            }
            BatchedInsert::ConversationTurn => {
                (&self.batches.conversation_turns, names::CONVERSATION_TURNS)
            }
        };
        cell.get_or_init(|| Batched::new(self.db.collection(name)))
            .insert(doc)
            .await
    }
}
