//! Long polling: `getUpdates` in a loop, moving the offset past every update received, backing
//! off from 1 s to 30 s while the Bot API fails.

use std::sync::Arc;
use std::time::Duration;

use frontdesk_chat::{AdapterError, SharedHandler};
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::AllowedUpdate;
use teloxide::{ApiError, RequestError};
use tokio::time::Instant;

use crate::errors::adapter_error;
use crate::TelegramAdapter;

/// How long Telegram holds a `getUpdates` call open when nothing arrives.
const POLL_TIMEOUT_SECS: u32 = 25;

/// An empty answer quicker than this means the server ignored `timeout`.
const QUICK_EMPTY_ANSWER: Duration = Duration::from_secs(1);

/// The pause after such a quick empty answer, so a server that ignores `timeout` (the npm
/// emulator) is not polled in a tight loop.
const QUICK_EMPTY_PAUSE: Duration = Duration::from_millis(200);

/// The first and the longest wait after a failed `getUpdates`.
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Doubling waits between failed attempts, reset by a success.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: BACKOFF_START,
        }
    }
}

impl Backoff {
    /// Returns the wait before the next attempt and doubles the one after, up to 30 s.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        wait
    }

    /// Starts again from 1 s.
    pub fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

impl TelegramAdapter {
    /// Receives messages by long polling until the returned future is dropped or aborted.
    ///
    /// Deletes any webhook first (Telegram refuses `getUpdates` while one is set). Each update
    /// is acknowledged by the next call's offset and handed to `handler` on its own task. A
    /// failing `getUpdates` is retried after 1 s, 2 s, 4 s … up to 30 s; a 429 waits at least
    /// the `retry_after` Telegram asked for.
    ///
    /// # Errors
    ///
    /// Returns [`AdapterError::BadToken`] only when Telegram stops accepting the token
    /// (revoked); every other failure is retried.
    pub async fn run_polling(self: Arc<Self>, handler: SharedHandler) -> Result<(), AdapterError> {
        if let Err(e) = self.bot.delete_webhook().await {
            if let RequestError::Api(ApiError::InvalidToken) = e {
                return Err(adapter_error(e));
            }
            tracing::warn!(error = %e, "telegram deleteWebhook failed; polling anyway");
        }
        let mut offset: Option<i32> = None;
        let mut backoff = Backoff::default();
        loop {
            let mut request = self
                .bot
                .get_updates()
                .timeout(POLL_TIMEOUT_SECS)
                .allowed_updates([AllowedUpdate::Message]);
            if let Some(offset) = offset {
                request = request.offset(offset);
            }
            let started = Instant::now();
            match request.await {
                Ok(updates) => {
                    backoff.reset();
                    if let Some(last) = updates.iter().map(|u| u.id.0).max() {
                        let next = i32::try_from(last).unwrap_or(i32::MAX).saturating_add(1);
                        offset = Some(offset.map_or(next, |o| o.max(next)));
                    }
                    for update in &updates {
                        self.dispatch(update, &handler);
                    }
                    if updates.is_empty() && started.elapsed() < QUICK_EMPTY_ANSWER {
                        tokio::time::sleep(QUICK_EMPTY_PAUSE).await;
                    }
                }
                Err(e @ RequestError::Api(ApiError::InvalidToken)) => {
                    tracing::error!("telegram rejected the bot token; polling stops");
                    return Err(adapter_error(e));
                }
                Err(RequestError::RetryAfter(seconds)) => {
                    let wait = seconds.duration().max(backoff.next_wait());
                    tracing::warn!(?wait, "telegram getUpdates rate limited");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    let wait = backoff.next_wait();
                    tracing::warn!(error = %e, ?wait, "telegram getUpdates failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_thirty_seconds_and_resets() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..7).map(|_| backoff.next_wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        backoff.reset();
        assert_eq!(backoff.next_wait(), Duration::from_secs(1));
    }
}
