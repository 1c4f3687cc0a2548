//! Discord adapter: fill in.
