//! frontdesk runs a studio business (yoga, pilates, fitness courses) from chat.
//!
//! # Layout (lower layers first; see ARCHITECTURE.md)
//! * `domain` — the studio's types and their invariants; no IO.
//! * `protect` — keys for personal data at rest (AES-256-GCM, blind indexes), log masking.
//! * `config` — the one typed `Settings`, layered from files and the environment.
//! * `store` — MongoDB: typed reads and writes, transactions, kept figures (collections
//!   stay inside).
//! * `dev` — the managed local database and the demo data (development, demos, tests).
//! * `charts` — PNG line and bar charts for the Dashboard's trends and breakdowns.
//! * `tools` — the agents' tools and their registry (role checks, kept answers).
//! * `nlu` — the sentence model that reads what the rules are unsure of.
//! * `agents` — the Support and Dashboard agents: rules, model, LLM, memory, eval.
//! * `integrations` — payment, email, SMS and calendar providers; the outbox worker and
//!   scheduler.
//! * `gateway` — chat messages in: identity, routing, limits, linking, replies out.
//! * `api` — the REST API.
//! * `app`, `application` — opening the database; the whole service built, run and
//!   shut down.
//! * `telemetry`, `bench` — tracing and metrics; `frontdesk bench`.

pub mod agents;
pub mod api;
pub mod app;
pub mod application;
pub mod bench;
pub mod charts;
pub mod config;
pub mod dev;
pub mod domain;
pub mod gateway;
pub mod integrations;
pub mod nlu;
pub mod protect;
pub mod store;
pub mod telemetry;
pub mod tools;
