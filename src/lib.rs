//! frontdesk runs a studio business (yoga, pilates, fitness courses) from chat.
//!
//! # Layout
//! * `domain` — the studio's types and their invariants; no IO.
//! * `store` — MongoDB: typed collections (kept inside), indexes, queries and writes.
//! * `dev` — the managed local database and the demo data (development, demos, tests).
//! * `protect` — keys for personal data at rest (AES-256-GCM, blind indexes) and
//!   masking of emails and phones in logs.
//! * `config` — the one typed `Settings`, layered from files and the environment.
//! * `telemetry` — tracing setup.
//! * `charts` — PNG line and bar charts for the Dashboard's trends and breakdowns.

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
