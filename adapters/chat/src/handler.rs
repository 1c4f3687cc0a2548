//! [`InboundHandler`]: what an adapter hands each incoming message to (the gateway in
//! frontdesk, an echo in an adapter's own tests).

use std::sync::Arc;

use crate::{BoxFuture, DynChatAdapter, Inbound};

/// Receives every message an adapter takes from its platform.
///
/// The adapter acknowledges the platform first (Slack within 3 s, Telegram by moving its
/// update offset) and then calls `handle` on its own task, passing itself as `reply_via` so
/// the handler can show typing and send replies. The handler owns deduplication, identity,
/// routing and rate limits; an adapter only translates.
pub trait InboundHandler: Send + Sync + 'static {
    fn handle(
        &self,
        inbound: Inbound,
        reply_via: Arc<dyn DynChatAdapter>,
    ) -> BoxFuture<'static, ()>;
}

impl<F> InboundHandler for F
where
    F: Fn(Inbound, Arc<dyn DynChatAdapter>) -> BoxFuture<'static, ()> + Send + Sync + 'static,
{
    fn handle(
        &self,
        inbound: Inbound,
        reply_via: Arc<dyn DynChatAdapter>,
    ) -> BoxFuture<'static, ()> {
        self(inbound, reply_via)
    }
}

/// A shared handler, as adapters hold it.
pub type SharedHandler = Arc<dyn InboundHandler>;
