//! Staying under a platform's send limits: [`Pacer`] spaces messages to one chat, and
//! [`retry_rate_limited`] waits as long as the platform asked after a 429 and tries again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::AdapterError;

/// How many times a send is retried after the platform answers 429.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 3;

/// The longest wait after a 429 frontdesk accepts; a platform asking for longer gets the
/// error back instead of a stuck task.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Spaces sends to the same chat at least `interval` apart (Telegram: 1 s per chat; Slack:
/// 1 s per channel; Discord: 5 per 5 s per channel). Different chats do not wait for each
/// other.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next_slot: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            next_slot: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until this chat may be sent to again, and books the slot after it.
    pub async fn wait_turn(&self, chat: &str) {
        let now = Instant::now();
        let slot = {
            let mut slots = self
                .next_slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Forget chats that have been quiet, so the map does not grow without bound.
            if slots.len() > 10_000 {
                slots.retain(|_, at| *at > now);
            }
            let slot = slots
                .get(chat)
                .copied()
                .filter(|at| *at > now)
                .unwrap_or(now);
            slots.insert(chat.to_owned(), slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Runs `send`, and after each [`AdapterError::RateLimited`] waits the `retry_after` the
/// platform gave and runs it again, up to [`MAX_RATE_LIMIT_RETRIES`] times. Other errors,
/// and waits longer than [`MAX_RETRY_AFTER`], are returned at once.
///
/// # Errors
/// The last error from `send`.
pub async fn retry_rate_limited<F, Fut, T>(mut send: F) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AdapterError>>,
{
    let mut retries = 0;
    loop {
        match send().await {
            Err(AdapterError::RateLimited { retry_after })
                if retries < MAX_RATE_LIMIT_RETRIES && retry_after <= MAX_RETRY_AFTER =>
            {
                retries += 1;
                tokio::time::sleep(retry_after).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_one_chat_but_not_two() {
        let pacer = Pacer::new(Duration::from_secs(1));
        let start = Instant::now();
        pacer.wait_turn("a").await;
        pacer.wait_turn("b").await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "different chats do not wait"
        );
        pacer.wait_turn("a").await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        pacer.wait_turn("a").await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_after_the_wait_the_platform_asked_for() {
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let result = retry_rate_limited(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(AdapterError::RateLimited {
                        retry_after: Duration::from_millis(1500),
                    })
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_millis(3000));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_retry_budget_and_on_other_errors() {
        let calls = AtomicU32::new(0);
        let limited = retry_rate_limited(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err::<(), _>(AdapterError::RateLimited {
                    retry_after: Duration::from_secs(1),
                })
            }
        })
        .await;
        assert!(matches!(limited, Err(AdapterError::RateLimited { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_RATE_LIMIT_RETRIES + 1);

        let calls = AtomicU32::new(0);
        let rejected = retry_rate_limited(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(AdapterError::Rejected("chat not found".into())) }
        })
        .await;
        assert_eq!(
            rejected,
            Err(AdapterError::Rejected("chat not found".into()))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let too_long = retry_rate_limited(|| async {
            Err::<(), _>(AdapterError::RateLimited {
                retry_after: MAX_RETRY_AFTER + Duration::from_secs(1),
            })
        })
        .await;
        assert!(matches!(too_long, Err(AdapterError::RateLimited { .. })));
    }
}
