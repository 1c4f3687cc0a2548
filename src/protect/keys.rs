//! Keys for personal data at rest: AES-256-GCM with a random 96-bit nonce per value and
//! the key id stored beside each value, plus an HMAC-SHA256 blind index per key so an
//! exact lookup by email or phone still uses a database index.
//!
//! A key id is the first 8 hex digits of SHA-256 of the key. The blind-index key is
//! `HMAC-SHA256(key, "frontdesk blind index v1")`, so it rotates with the key.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use bson::spec::BinarySubtype;
use bson::Binary;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
const BLIND_INDEX_LABEL: &[u8] = b"frontdesk blind index v1";

/// Why a key could not be used or a value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{var} is not valid base64 ({reason}); make a key with `openssl rand -base64 32`")]
    NotBase64 { var: &'static str, reason: String },
    #[error("{var} must be 32 bytes of base64, it holds {len} bytes; make a key with `openssl rand -base64 32`")]
    WrongLength { var: &'static str, len: usize },
    #[error("a value is sealed with key {0}, which is not configured (set it in FRONTDESK_ENCRYPTION_OLD_KEYS)")]
    UnknownKey(String),
    #[error("a value sealed with key {0} could not be opened (wrong key or tampered data)")]
    Open(String),
}

/// Which value a blind index is made of: the same text gives different indexes per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlindKind {
    Email,
    Phone,
    /// Who a shared rate-limit count is about (a token, an address, a chat user).
    RateSubject,
}

impl BlindKind {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Email => b"email:",
            Self::Phone => b"phone:",
            Self::RateSubject => b"rate:",
        }
    }
}

/// One 256-bit key with its id, cipher and blind-index key.
#[derive(Clone)]
pub struct Key {
    id: String,
    cipher: Aes256Gcm,
    index_key: [u8; 32],
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Key {
    /// A key from its 32 raw bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = digest
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let cipher = Aes256Gcm::new(bytes.into());
        let index_key = hmac_sha256(bytes, BLIND_INDEX_LABEL);
        Self {
            id,
            cipher,
            index_key,
        }
    }

    /// A key from base64 (standard alphabet, padding optional) of 32 bytes; `var` names
    /// the setting in the error.
    ///
    /// # Errors
    /// [`KeyError::NotBase64`] or [`KeyError::WrongLength`].
    pub fn parse(var: &'static str, text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|e| KeyError::NotBase64 {
                var,
                reason: e.to_string(),
            })?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength {
                var,
                len: bytes.len(),
            })?;
        Ok(Self::from_bytes(&raw))
    }

    /// A new random key (for the local development key file).
    #[must_use]
    pub fn generate() -> (Self, String) {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let text = base64::engine::general_purpose::STANDARD.encode(raw);
        (Self::from_bytes(&raw), text)
    }

    /// The key's id: 8 hex digits of its SHA-256.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    fn blind_index(&self, kind: BlindKind, normalised: &str) -> String {
        let mut mac = mac(&self.index_key);
        mac.update(kind.label());
        mac.update(normalised.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// A new HMAC-SHA256 with `key`.
fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` never fails for it.
    #[allow(clippy::expect_used)]
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("invariant: HMAC takes keys of any length")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = mac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A sealed value as stored: `{k: key id, n: nonce, c: ciphertext with its tag}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub k: String,
    pub n: Binary,
    pub c: Binary,
}

/// The current key and every older key still accepted, by id. Cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Inner>,
}

struct Inner {
    current: Key,
    /// Every key, the current one included, by id.
    by_id: HashMap<String, Key>,
    /// Older keys in the order they were given.
    old: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let old: Vec<&str> = self.inner.old.iter().map(Key::id).collect();
        write!(f, "Keyring(current {}, old {old:?})", self.inner.current.id)
    }
}

impl Keyring {
    /// A keyring that seals with `current` and still opens values sealed with `old`.
    #[must_use]
    pub fn new(current: Key, old: Vec<Key>) -> Self {
        let mut by_id = HashMap::new();
        let old: Vec<Key> = old.into_iter().filter(|k| k.id != current.id).collect();
        for k in old.iter().chain(std::iter::once(&current)) {
            by_id.insert(k.id.clone(), k.clone());
        }
        Self {
            inner: Arc::new(Inner {
                current,
                by_id,
                old,
            }),
        }
    }

    /// `FRONTDESK_ENCRYPTION_KEY` and the comma-separated `FRONTDESK_ENCRYPTION_OLD_KEYS`.
    ///
    /// # Errors
    /// A key that is not base64 of 32 bytes.
    pub fn parse(current: &str, old: Option<&str>) -> Result<Self, KeyError> {
        let current = Key::parse("FRONTDESK_ENCRYPTION_KEY", current)?;
        let old = old
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Key::parse("FRONTDESK_ENCRYPTION_OLD_KEYS", s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(current, old))
    }

    /// The id of the key new values are sealed with.
    #[must_use]
    pub fn current_id(&self) -> &str {
        self.inner.current.id()
    }

    /// The ids of the older keys still accepted.
    #[must_use]
    pub fn old_ids(&self) -> Vec<String> {
        self.inner.old.iter().map(|k| k.id.clone()).collect()
    }

    /// Seals `plain` with the current key; `context` (record id and field) is bound to
    /// the value as associated data, so a value copied to another record or field does
    /// not open.
    #[must_use]
    pub fn seal(&self, plain: &str, context: &str) -> Sealed {
        let key = &self.inner.current;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a 96-bit nonce fails only for inputs of many
        // gigabytes; an empty ciphertext then fails to open, it never panics.
        let c = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        Sealed {
            k: key.id.clone(),
            n: binary(nonce.to_vec()),
            c: binary(c),
        }
    }

    /// Opens a sealed value with the key it names.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`] for a key not configured, [`KeyError::Open`] for a wrong
    /// key, context or tampered data.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<String, KeyError> {
        let key = self
            .inner
            .by_id
            .get(&sealed.k)
            .ok_or_else(|| KeyError::UnknownKey(sealed.k.clone()))?;
        if sealed.n.bytes.len() != NONCE_LEN {
            return Err(KeyError::Open(sealed.k.clone()));
        }
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(&sealed.n.bytes),
                Payload {
                    msg: &sealed.c.bytes,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Open(sealed.k.clone()))?;
        String::from_utf8(plain).map_err(|_| KeyError::Open(sealed.k.clone()))
    }

    /// Whether a value is sealed with the current key.
    #[must_use]
    pub fn is_current(&self, sealed: &Sealed) -> bool {
        sealed.k == self.inner.current.id
    }

    /// The blind index of a normalised value under the current key (what is stored).
    #[must_use]
    pub fn blind_index(&self, kind: BlindKind, normalised: &str) -> String {
        self.inner.current.blind_index(kind, normalised)
    }

    /// The blind index of a normalised value under every known key, current first (what
    /// a lookup asks for, so records not yet rotated are still found).
    #[must_use]
    pub fn blind_indexes(&self, kind: BlindKind, normalised: &str) -> Vec<String> {
        std::iter::once(&self.inner.current)
            .chain(self.inner.old.iter())
            .map(|k| k.blind_index(kind, normalised))
            .collect()
    }
}

fn binary(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key::from_bytes(&[byte; 32])
    }

    #[test]
    fn seals_and_opens_with_the_named_key() {
        let ring = Keyring::new(key(1), vec![]);
        let sealed = ring.seal("priya@example.com", "id:email");
        assert_eq!(sealed.k, ring.current_id());
        assert_eq!(sealed.n.bytes.len(), 12);
        assert!(!String::from_utf8_lossy(&sealed.c.bytes).contains("priya"));
        assert_eq!(ring.open(&sealed, "id:email").unwrap(), "priya@example.com");
        // Another record or field: the associated data differs.
        assert!(matches!(
            ring.open(&sealed, "other:email"),
            Err(KeyError::Open(_))
        ));
    }

    #[test]
    fn every_value_gets_its_own_nonce() {
        let ring = Keyring::new(key(1), vec![]);
        let a = ring.seal("same", "c");
        let b = ring.seal("same", "c");
        assert_ne!(a.n, b.n);
        assert_ne!(a.c, b.c);
    }

    #[test]
    fn older_keys_still_open_and_unknown_keys_are_named() {
        let old = Keyring::new(key(1), vec![]);
        let sealed = old.seal("x", "c");
        let rotated = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(rotated.open(&sealed, "c").unwrap(), "x");
        assert!(!rotated.is_current(&sealed));
        let forgotten = Keyring::new(key(2), vec![]);
        assert_eq!(
            forgotten.open(&sealed, "c"),
            Err(KeyError::UnknownKey(old.current_id().to_owned()))
        );
    }

    #[test]
    fn tampered_ciphertext_does_not_open() {
        let ring = Keyring::new(key(1), vec![]);
        let mut sealed = ring.seal("x", "c");
        sealed.c.bytes[0] ^= 1;
        assert!(matches!(ring.open(&sealed, "c"), Err(KeyError::Open(_))));
    }

    #[test]
    fn blind_indexes_are_keyed_and_cover_every_key() {
        let a = Keyring::new(key(1), vec![]);
        let b = Keyring::new(key(2), vec![key(1)]);
        let ia = a.blind_index(BlindKind::Email, "priya@example.com");
        assert_eq!(ia, a.blind_index(BlindKind::Email, "priya@example.com"));
        assert_ne!(ia, b.blind_index(BlindKind::Email, "priya@example.com"));
        assert_ne!(ia, a.blind_index(BlindKind::Phone, "priya@example.com"));
        assert!(!ia.contains("priya"));
        let all = b.blind_indexes(BlindKind::Email, "priya@example.com");
        assert_eq!(all.len(), 2);
        assert!(all.contains(&ia));
    }

    #[test]
    fn key_ids_are_short_fingerprints() {
        let k = key(7);
        assert_eq!(k.id().len(), 8);
        assert!(k.id().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(k.id(), key(8).id());
    }

    #[test]
    fn bad_keys_are_clear_errors() {
        let err = Keyring::parse("not base64!!", None).unwrap_err();
        assert!(matches!(err, KeyError::NotBase64 { .. }), "{err}");
        assert!(err.to_string().contains("FRONTDESK_ENCRYPTION_KEY"));
        assert!(err.to_string().contains("openssl rand -base64 32"));
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        let err = Keyring::parse(&short, None).unwrap_err();
        assert_eq!(
            err,
            KeyError::WrongLength {
                var: "FRONTDESK_ENCRYPTION_KEY",
                len: 16
            }
        );
        let good = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        let err = Keyring::parse(&good, Some(&format!("{good}, short"))).unwrap_err();
        assert!(err.to_string().contains("FRONTDESK_ENCRYPTION_OLD_KEYS"));
        let ring = Keyring::parse(
            &good,
            Some(&format!(
                " {} ,",
                base64::engine::general_purpose::STANDARD.encode([2u8; 32])
            )),
        )
        .unwrap();
        assert_eq!(ring.old_ids().len(), 1);
    }
}
