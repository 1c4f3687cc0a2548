//! The integration tests: one binary (one link of the crate), against a real
//! MongoDB-wire server started by the harness (or `MONGODB_URL`).

mod harness;
mod seed;
mod store;
