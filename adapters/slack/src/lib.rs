//! Slack adapter for frontdesk: staff write in Slack channels, threads and DMs, and the
//! replies go back to the thread they came from.
//!
//! [`SlackAdapter::connect`] checks the bot token with `auth.test` and remembers who the bot
//! is. Messages then arrive either over Socket Mode ([`SlackAdapter::run_socket_mode`], needs
//! an `xapp-` app token) or as signed Events API requests
//! ([`SlackAdapter::events_router`], needs the signing secret). Each becomes an
//! [`Inbound`](frontdesk_chat::Inbound) handed to the gateway on its own task after Slack has
//! been acknowledged. Replies go out through [`ChatAdapter::send`](frontdesk_chat::ChatAdapter)
//! as `chat.postMessage` calls: escaped, split to 4,000 characters, paced 1 s per channel,
//! retried after a 429, with tables as Block Kit blocks.
//!
//! # Map
//! * [`config`] — [`SlackConfig`]: tokens, signing secret, API base URL.
//! * [`adapter`] — [`SlackAdapter`]: connecting, who the bot is, sending.
//! * `web_api` — the slack-morphism client over plain HTTP (local fakes) or HTTPS (Slack).
//! * `tls` — the rustls client configuration for HTTPS and `wss://`.
//! * `events` — turning an `event_callback` payload into an `Inbound`, or ignoring it.
//! * `user_groups` — the user-group ids of a user, cached for 5 minutes.
//! * `render` — escaping, splitting and Block Kit tables for outgoing messages.
//! * `files` — image upload (`files.getUploadURLExternal` + `files.completeUploadExternal`).
//! * [`events_api`] — the `POST /webhooks/slack/events` route with signature checks.
//! * [`socket_mode`] — the Socket Mode websocket client: acks, reconnects.
//!
//! # Slack app setup
//! Bot scopes: `chat:write`, `channels:history`, `groups:history`, `im:history`,
//! `mpim:history`, `app_mentions:read`, `usergroups:read`, `files:write`. Bot events:
//! `message.channels`, `message.groups`, `message.im`, `message.mpim` and optionally
//! `app_mention`.

pub mod adapter;
pub mod config;
pub mod events_api;
pub mod socket_mode;

mod events;
mod files;
mod render;
mod tls;
mod user_groups;
mod web_api;

pub use adapter::{BotIdentity, SlackAdapter};
pub use config::SlackConfig;
pub use events_api::EVENTS_PATH;
