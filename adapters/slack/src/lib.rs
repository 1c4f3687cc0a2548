//! Slack adapter: fill in.
