//! Mapping teloxide's [`RequestError`] onto frontdesk's [`AdapterError`].

use frontdesk_chat::{with_causes, AdapterError, Platform};
use teloxide::{ApiError, RequestError};

/// Classifies a failed Bot API request.
///
/// A 429 becomes [`AdapterError::RateLimited`] with Telegram's `retry_after`; an
/// `Unauthorized` answer becomes [`AdapterError::BadToken`]; network failures and answers that
/// are not Bot API JSON become [`AdapterError::Transport`]; everything else Telegram refused is
/// [`AdapterError::Rejected`].
#[must_use]
pub fn adapter_error(err: RequestError) -> AdapterError {
    match err {
        RequestError::RetryAfter(seconds) => AdapterError::RateLimited {
            retry_after: seconds.duration(),
        },
        RequestError::Api(ApiError::InvalidToken) => AdapterError::BadToken {
            platform: Platform::Telegram,
            reason: "Unauthorized: Telegram rejected the bot token".to_owned(),
        },
        RequestError::Api(api) => AdapterError::Rejected(api.to_string()),
        RequestError::MigrateToChatId(chat) => {
            AdapterError::Rejected(format!("the group moved to supergroup chat {chat}"))
        }
        RequestError::Network(e) => AdapterError::Transport(with_causes(&e)),
        RequestError::InvalidJson { source, .. } => {
            AdapterError::Transport(format!("unexpected answer from the Bot API: {source}"))
        }
        RequestError::Io(e) => AdapterError::Transport(e.to_string()),
    }
}
