//! Fake slack: fill in.
