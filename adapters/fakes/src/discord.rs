//! Fake discord: fill in.
