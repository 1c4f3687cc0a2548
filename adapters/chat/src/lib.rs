//! Platform-neutral chat types shared by every frontdesk chat adapter.
//!
//! Clients write on Telegram, staff on Slack and managers on Discord; each adapter turns its
//! platform's events into these types and back, so the rest of frontdesk never sees a
//! platform SDK.
//!
//! # Map
//! * [`platform`] — [`Platform`], the closed list of places a message can come from, with
//!   each platform's message length limit.
//! * [`inbound`] — [`Inbound`], one message received, and [`ConversationKey`], the stable key
//!   of the conversation it belongs to.
//! * [`outbound`] — [`Outbound`], one reply to send, with its optional [`Table`] and image
//!   [`Attachment`].
//! * [`adapter`] — the [`ChatAdapter`] trait every platform implements, its object-safe twin
//!   [`DynChatAdapter`], [`AdapterError`], and [`with_causes`] for readable transport errors.
//! * [`handler`] — [`InboundHandler`], what an adapter hands each received message to.
//! * [`pacing`] — [`Pacer`] (per-chat send spacing) and [`retry_rate_limited`] (honours a
//!   platform's 429 `retry_after`).
//! * [`split`] — [`split_message`], which cuts a long reply into chunks a platform accepts
//!   without breaking words, code blocks or inline formatting.

pub mod adapter;
pub mod handler;
pub mod inbound;
pub mod outbound;
pub mod pacing;
pub mod platform;
pub mod split;

pub use adapter::{with_causes, AdapterError, BoxFuture, ChatAdapter, DynChatAdapter};
pub use handler::{InboundHandler, SharedHandler};
pub use inbound::{ConversationKey, Inbound};
pub use outbound::{Attachment, Outbound, Table};
pub use pacing::{retry_rate_limited, Pacer};
pub use platform::{ParsePlatformError, Platform};
pub use split::split_message;
