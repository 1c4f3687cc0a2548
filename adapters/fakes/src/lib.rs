//! Local stand-ins for the chat platforms, for tests only: each speaks the platform's real
//! HTTP/websocket API on 127.0.0.1 and records what frontdesk sent, so the production code
//! path is exercised with only the base URL changed.
//!
//! * [`telegram`] — a Bot API fake, and a launcher for the npm `telegram-test-api`
//!   emulator.
//! * [`slack`] — a Web API fake, a Socket Mode websocket, and Events API request signing.
//! * [`discord`] — a REST fake and a gateway websocket (HELLO, IDENTIFY, READY, events).

pub mod discord;
pub mod slack;
pub mod telegram;
