//! The integration tests: one binary (one link of the crate), against a real
//! MongoDB-wire server started by the harness (or `MONGODB_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agents;
mod analytics;
mod api_matrix;
mod api_read;
mod api_records;
mod bench;
mod cancel_order;
mod charts;
mod chat_discord;
mod chat_slack;
mod chat_telegram;
mod client_figures;
mod deploy;
mod enrolment;
mod families;
mod first_minutes;
mod gateway;
mod handoff;
mod harness;
mod instances;
mod integrations_messaging;
mod integrations_payments;
mod llm;
mod metrics;
mod outbox;
mod periods;
mod privacy;
mod protect;
mod queries;
mod rollups;
mod seed;
mod serve_instances;
mod shutdown;
mod slow_clients;
mod store;
mod tickets;
mod understanding;
mod write_conflicts;
