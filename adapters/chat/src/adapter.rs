//! The [`ChatAdapter`] trait each platform implements, its object-safe twin
//! [`DynChatAdapter`], and the [`AdapterError`] they report.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::{Outbound, Platform};

/// Why a platform did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The platform refused the bot's credentials.
    #[error("bad token for {platform}: {reason}")]
    BadToken {
        /// The platform that refused the token.
        platform: Platform,
        /// What the platform said.
        reason: String,
    },
    /// The platform asked the bot to slow down.
    #[error("rate limited: retry after {} ms", retry_after.as_millis())]
    RateLimited {
        /// How long to wait before trying again.
        retry_after: Duration,
    },
    /// The request did not reach the platform or its answer did not come back.
    #[error("transport error: {0}")]
    Transport(String),
    /// The platform received the request and refused it.
    #[error("rejected by platform: {0}")]
    Rejected(String),
}

/// A boxed, sendable future, as returned by [`DynChatAdapter`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends messages to one chat platform.
///
/// Adapters receive messages by their own means (webhooks, sockets, polling) and turn them
/// into [`Inbound`](crate::Inbound)s; this trait covers what the rest of frontdesk asks of
/// them. Use [`DynChatAdapter`] to hold adapters of different platforms together.
pub trait ChatAdapter: Send + Sync {
    /// Returns the platform this adapter talks to.
    fn platform(&self) -> Platform;

    /// Sends one message, which must already fit the platform's length limit.
    ///
    /// # Errors
    ///
    /// Returns an [`AdapterError`] when the platform could not be reached or refused the
    /// message.
    fn send(&self, out: &Outbound) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Shows a typing indicator in `channel`; the default does nothing.
    ///
    /// # Errors
    ///
    /// Returns an [`AdapterError`] when the platform could not be reached or refused the
    /// request.
    fn typing(&self, channel: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        let _ = channel;
        std::future::ready(Ok(()))
    }

    /// Sends `out` and returns the platform's id of the first message posted (Slack's
    /// `ts`), when the platform gives one a thread can start under. The default sends and
    /// returns `None`.
    ///
    /// # Errors
    ///
    /// As [`ChatAdapter::send`].
    fn post(
        &self,
        out: &Outbound,
    ) -> impl Future<Output = Result<Option<String>, AdapterError>> + Send {
        async move {
            self.send(out).await?;
            Ok(None)
        }
    }
}

/// The object-safe form of [`ChatAdapter`], implemented for every adapter.
///
/// Its methods carry a `dyn_` prefix so that they never clash with [`ChatAdapter`]'s when both
/// traits are in scope.
pub trait DynChatAdapter: Send + Sync {
    /// Returns the platform this adapter talks to.
    fn dyn_platform(&self) -> Platform;

    /// Sends one message; see [`ChatAdapter::send`].
    ///
    /// # Errors
    ///
    /// As [`ChatAdapter::send`].
    fn dyn_send<'a>(&'a self, out: &'a Outbound) -> BoxFuture<'a, Result<(), AdapterError>>;

    /// Shows a typing indicator; see [`ChatAdapter::typing`].
    ///
    /// # Errors
    ///
    /// As [`ChatAdapter::typing`].
    fn dyn_typing<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<(), AdapterError>>;

    /// Sends one message and returns its id; see [`ChatAdapter::post`].
    ///
    /// # Errors
    ///
    /// As [`ChatAdapter::send`].
    fn dyn_post<'a>(
        &'a self,
        out: &'a Outbound,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>>;
}

impl<T: ChatAdapter> DynChatAdapter for T {
    fn dyn_platform(&self) -> Platform {
        self.platform()
    }

    fn dyn_send<'a>(&'a self, out: &'a Outbound) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(self.send(out))
    }

    fn dyn_typing<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(self.typing(channel))
    }

    fn dyn_post<'a>(
        &'a self,
        out: &'a Outbound,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        Box::pin(self.post(out))
    }
}

/// An error with every cause under it ("error sending request for url (…): client error
/// (Connect): tcp connect error: Connection refused (os error 111)"), so a log line says
/// why. A cause already in the text above it is not repeated.
#[must_use]
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let line = c.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Remembers what it was asked to send.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl ChatAdapter for Recorder {
        fn platform(&self) -> Platform {
            Platform::Console
        }

        async fn send(&self, out: &Outbound) -> Result<(), AdapterError> {
            if out.text.is_empty() {
                return Err(AdapterError::Rejected("empty message".into()));
            }
            self.0.lock().unwrap().push(out.text.clone());
            Ok(())
        }
    }

    /// Polls a future that never waits.
    fn ready<F: Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("future was not ready"),
        }
    }

    #[test]
    fn adapters_work_through_dyn() {
        let recorder = Recorder::default();
        let adapters: Vec<&dyn DynChatAdapter> = vec![&recorder];
        for adapter in &adapters {
            assert_eq!(adapter.dyn_platform(), Platform::Console);
            ready(adapter.dyn_typing("c")).unwrap();
            ready(adapter.dyn_send(&Outbound::new("c", "hello"))).unwrap();
            let err = ready(adapter.dyn_send(&Outbound::new("c", ""))).unwrap_err();
            assert_eq!(err, AdapterError::Rejected("empty message".into()));
        }
        assert_eq!(*recorder.0.lock().unwrap(), ["hello"]);
    }

    #[test]
    fn error_messages_are_lowercase_without_trailing_period() {
        let errors = [
            AdapterError::BadToken {
                platform: Platform::Slack,
                reason: "invalid_auth".into(),
            },
            AdapterError::RateLimited {
                retry_after: Duration::from_millis(1500),
            },
            AdapterError::Transport("connection reset".into()),
            AdapterError::Rejected("chat not found".into()),
        ];
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "bad token for slack: invalid_auth",
                "rate limited: retry after 1500 ms",
                "transport error: connection reset",
                "rejected by platform: chat not found",
            ]
        );
    }
}
