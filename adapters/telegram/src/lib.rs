//! Telegram adapter for frontdesk, on teloxide: receives client messages by long polling
//! ([`TelegramAdapter::run_polling`]) or webhook ([`TelegramAdapter::webhook_router`]) and
//! sends replies as MarkdownV2 ([`frontdesk_chat::ChatAdapter`]).
//!
//! # Map
//! * [`config`] — [`TelegramConfig`] and the webhook secret rules.
//! * [`adapter`] — [`TelegramAdapter`]: token check, send, typing, handing updates over.
//! * [`inbound`] — update → [`frontdesk_chat::Inbound`] (text, caption, own shared contact).
//! * [`send`] — [`frontdesk_chat::Outbound`] → `sendMessage` / `sendPhoto` requests.
//! * [`markdown`] — MarkdownV2 escaping and splitting to the 4096-character limit.
//! * [`polling`] — the `getUpdates` loop with its backoff.
//! * [`webhook`] — the webhook route and `setWebhook`.
//! * [`errors`] — teloxide errors → [`frontdesk_chat::AdapterError`].

pub mod adapter;
pub mod config;
pub mod errors;
pub mod inbound;
pub mod markdown;
pub mod polling;
pub mod send;
pub mod webhook;

pub use adapter::TelegramAdapter;
pub use config::{validate_webhook_secret, TelegramConfig};
pub use webhook::{SECRET_HEADER, WEBHOOK_PATH};
