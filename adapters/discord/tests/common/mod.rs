//! Helpers shared by the Discord adapter tests: a fake Discord, a connected adapter and a
//! handler that records what it receives.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use frontdesk_chat::{BoxFuture, DynChatAdapter, Inbound, InboundHandler, Outbound, SharedHandler};
use frontdesk_discord::{DiscordAdapter, DiscordConfig};
use frontdesk_fakes::discord::FakeDiscord;
use tokio::sync::mpsc;

pub const TOKEN: &str = "fake-bot-token";
pub const WAIT: Duration = Duration::from_secs(10);

/// A fake Discord and an adapter connected to it.
pub async fn setup() -> (FakeDiscord, Arc<DiscordAdapter>) {
    let fake = FakeDiscord::start(TOKEN).await;
    let adapter = DiscordAdapter::connect(DiscordConfig::new(TOKEN).with_api_url(fake.api_url()))
        .await
        .expect("connect");
    (fake, adapter)
}

/// Records every Inbound; when `echo` is set, also answers each with `echo: TEXT`.
/// [`Recorder::handler`] gives the handler and the receiving end of what it records.
pub struct Recorder {
    tx: mpsc::UnboundedSender<Inbound>,
    echo: bool,
}

impl Recorder {
    pub fn handler(echo: bool) -> (SharedHandler, mpsc::UnboundedReceiver<Inbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Arc::new(Self { tx, echo }), rx)
    }
}

impl InboundHandler for Recorder {
    fn handle(
        &self,
        inbound: Inbound,
        reply_via: Arc<dyn DynChatAdapter>,
    ) -> BoxFuture<'static, ()> {
        let tx = self.tx.clone();
        let echo = self.echo;
        Box::pin(async move {
            if echo {
                let out = Outbound::reply(&inbound, format!("echo: {}", inbound.text));
                reply_via.dyn_send(&out).await.expect("echo reply");
            }
            let _ = tx.send(inbound);
        })
    }
}

/// The next Inbound, or a panic after [`WAIT`].
pub async fn next_inbound(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> Inbound {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting for an inbound message")
        .expect("handler channel closed")
}
