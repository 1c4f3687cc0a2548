//! Data protection: the keys that encrypt clients' personal data at rest
//! ([`Keyring`]: AES-256-GCM sealing and keyed blind indexes), and [`mask`] for the
//! few places that must mention an email or phone in a log line.
//!
//! This module knows nothing of MongoDB collections: the store decides which fields are
//! sealed and where the blind indexes live.

mod keys;
pub mod mask;

pub use keys::{BlindKind, Key, KeyError, Keyring, Sealed};
