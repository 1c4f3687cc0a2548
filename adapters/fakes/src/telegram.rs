//! Fake telegram: fill in.
