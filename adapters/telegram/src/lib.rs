//! Telegram adapter: fill in.
