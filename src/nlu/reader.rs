//! One thread reads sentences with the model for everyone. Messages that arrive while it
//! is busy wait and are read together in one pass: eight short sentences cost about as
//! much as two read one by one, because a pass's time goes on streaming the weights,
//! not on the few tokens of a chat message. The model's scratch memory then exists once,
//! not once per caller thread.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::{Encoder, NluError};

/// At most this many sentences are read in one pass (more waiting stay for the next).
const MAX_BATCH: usize = 16;

/// Where a sentence's vector goes back to.
enum Reply {
    Waiting(tokio::sync::oneshot::Sender<Result<Vec<f32>, String>>),
    Blocking(mpsc::SyncSender<Result<Vec<f32>, String>>),
}

impl Reply {
    fn send(self, result: Result<Vec<f32>, String>) {
        // A caller that stopped waiting has nothing to be told.
        let _ = match self {
            Self::Waiting(tx) => tx.send(result).map_err(drop),
            Self::Blocking(tx) => tx.send(result).map_err(drop),
        };
    }
}

struct Request {
    text: String,
    reply: Reply,
}

/// What the reading thread has done, for `bench`.
#[derive(Debug, Default)]
pub struct ReadCounts {
    /// Sentences read.
    pub sentences: AtomicU64,
    /// Passes of the model (a pass reads one or more waiting sentences).
    pub passes: AtomicU64,
    /// Time in the model's passes.
    pub nanos: AtomicU64,
}

/// The queue to the reading thread; the thread ends when the last `Reader` is dropped.
#[derive(Debug)]
pub struct Reader {
    queue: mpsc::Sender<Request>,
    pub counts: Arc<ReadCounts>,
}

impl Reader {
    /// Starts the thread that owns `encoder`.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start(encoder: Encoder) -> Result<Self, NluError> {
        let (queue, waiting) = mpsc::channel::<Request>();
        let counts = Arc::new(ReadCounts::default());
        let kept = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("sentence-model".into())
            .spawn(move || read_until_closed(&encoder, &waiting, &kept))
            .map_err(|e| NluError::Model {
                reason: format!("starting the model's thread: {e}"),
            })?;
        Ok(Self { queue, counts })
    }

    /// The unit vector of `text`, read with whatever else is waiting.
    ///
    /// # Errors
    /// The model failed, or its thread has stopped.
    pub async fn read(&self, text: &str) -> Result<Vec<f32>, NluError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(text, Reply::Waiting(tx))?;
        rx.await.map_err(|_| stopped())?.map_err(failed)
    }

    /// [`Reader::read`] for a caller outside the async runtime (the console tools).
    ///
    /// # Errors
    /// The model failed, or its thread has stopped.
    pub fn read_blocking(&self, text: &str) -> Result<Vec<f32>, NluError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(text, Reply::Blocking(tx))?;
        rx.recv().map_err(|_| stopped())?.map_err(failed)
    }

    fn enqueue(&self, text: &str, reply: Reply) -> Result<(), NluError> {
        self.queue
            .send(Request {
                text: text.to_owned(),
                reply,
            })
            .map_err(|_| stopped())
    }
}

fn read_until_closed(encoder: &Encoder, waiting: &mpsc::Receiver<Request>, counts: &ReadCounts) {
    while let Ok(first) = waiting.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let texts: Vec<&str> = batch.iter().map(|r| r.text.as_str()).collect();
        // A panic inside the model answers this batch with an error; the thread stays.
        let vectors = std::panic::catch_unwind(AssertUnwindSafe(|| encoder.embed(&texts)))
            .unwrap_or_else(|_| {
                Err(NluError::Model {
                    reason: "the model panicked".into(),
                })
            });
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counts.passes.fetch_add(1, Relaxed);
        counts.sentences.fetch_add(batch.len() as u64, Relaxed);
        counts.nanos.fetch_add(took, Relaxed);
        match vectors {
            Ok(vectors) if vectors.len() == batch.len() => {
                for (request, vector) in batch.into_iter().zip(vectors) {
                    request.reply.send(Ok(vector));
                }
            }
            other => {
                let reason = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "the model returned the wrong number of vectors".into(),
                };
                for request in batch {
                    request.reply.send(Err(reason.clone()));
                }
            }
        }
    }
}

impl ReadCounts {
    /// Sentences read, passes, and the time spent in passes.
    #[must_use]
    pub fn snapshot(&self) -> (u64, u64, Duration) {
        (
            self.sentences.load(Relaxed),
            self.passes.load(Relaxed),
            Duration::from_nanos(self.nanos.load(Relaxed)),
        )
    }
}

fn stopped() -> NluError {
    NluError::Model {
        reason: "the model's thread has stopped".into(),
    }
}

fn failed(reason: String) -> NluError {
    NluError::Model { reason }
}
