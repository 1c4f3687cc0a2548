//! The Discord adapter for frontdesk: a serenity gateway connection that turns user messages
//! into [`Inbound`](frontdesk_chat::Inbound)s, and REST sends that turn
//! [`Outbound`](frontdesk_chat::Outbound)s into Discord messages.
//!
//! # Map
//! * [`config`] — [`DiscordConfig`]: token and optional API base URL.
//! * [`adapter`] — [`DiscordAdapter`]: `connect` (token check), `run_gateway`, and
//!   [`ChatAdapter`](frontdesk_chat::ChatAdapter) (send, typing).
//! * `gateway` — the serenity client, its event handler and the close-code errors.
//! * `inbound` — MESSAGE_CREATE → `Inbound` (bots, self, system messages ignored).
//! * `render` — `Outbound` → message payloads (2000-character parts, reply reference,
//!   table embed, image attachment, no mentions parsed).
//! * `rest` — the REST calls over reqwest, 429 → `RateLimited { retry_after }`.
//!
//! # Pointing it at a fake or proxy
//! `DiscordConfig { api_url: Some("http://127.0.0.1:PORT".into()), .. }` sends REST calls to
//! `http://127.0.0.1:PORT/api/v10/...`; serenity asks the same server for the gateway URL and
//! has its rate limiter off, so the adapter honours 429s itself.

pub mod adapter;
pub mod config;
mod gateway;
mod inbound;
mod render;
mod rest;

pub use adapter::DiscordAdapter;
pub use config::DiscordConfig;
pub use gateway::{INTENTS, MESSAGE_CONTENT_REFUSED};
