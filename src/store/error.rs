//! Store errors: the ones a caller acts on get their own variant.

use mongodb::error::{ErrorKind, WriteFailure};

use crate::domain::DomainError;

const DUPLICATE_KEY: i32 = 11000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("MONGODB_URL {url} is not a valid MongoDB URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach MongoDB at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{what} {value} already exists")]
    Duplicate { what: &'static str, value: String },
    #[error("no {what} {key}")]
    NotFound { what: &'static str, key: String },
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {}", brief(.0))]
    Mongo(#[from] mongodb::error::Error),
    #[error("a stored document could not be read: {0}")]
    Decode(String),
}

impl StoreError {
    /// Whether a MongoDB error is a unique-index violation.
    #[must_use]
    pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
        match err.kind.as_ref() {
            ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
            ErrorKind::InsertMany(e) => e
                .write_errors
                .as_ref()
                .is_some_and(|errs| errs.iter().any(|w| w.code == DUPLICATE_KEY)),
            ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
            _ => err.to_string().contains("E11000"),
        }
    }

    /// Whether the server refused a write because another transaction touched the same
    /// document (WriteConflict, code 112): worth retrying, whatever labels came with it.
    #[must_use]
    pub fn is_write_conflict(err: &mongodb::error::Error) -> bool {
        const WRITE_CONFLICT: i32 = 112;
        let by_code = match err.kind.as_ref() {
            ErrorKind::Command(e) => e.code == WRITE_CONFLICT,
            ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == WRITE_CONFLICT,
            _ => false,
        };
        by_code || err.to_string().contains("WriteConflict")
    }

    /// Whether a transaction failed only because another one touched the same documents
    /// at the same time: trying again is worth it.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Mongo(e)
            if e.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
                || Self::is_write_conflict(e))
    }

    /// Maps a unique-index violation to [`StoreError::Duplicate`], anything else to
    /// [`StoreError::Mongo`].
    pub(crate) fn from_write(
        err: mongodb::error::Error,
        what: &'static str,
        value: impl Into<String>,
    ) -> Self {
        if Self::is_duplicate_key(&err) {
            Self::Duplicate {
                what,
                value: value.into(),
            }
        } else {
            Self::Mongo(err)
        }
    }
}

impl From<bson::de::Error> for StoreError {
    fn from(e: bson::de::Error) -> Self {
        Self::Decode(e.to_string())
    }
}

impl From<bson::ser::Error> for StoreError {
    fn from(e: bson::ser::Error) -> Self {
        Self::Decode(e.to_string())
    }
}

/// The driver's message, cut to its first line and 300 characters: the full error
/// (with every failed document of a bulk write) goes to the debug log only.
fn brief(err: &mongodb::error::Error) -> String {
    tracing::debug!(error = ?err, "database error");
    let text = match err.kind.as_ref() {
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .and_then(|errs| {
                errs.first()
                    .map(|w| format!("{} (and {} more)", w.message, errs.len().saturating_sub(1)))
            })
            .unwrap_or_else(|| err.to_string()),
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.message.clone(),
        ErrorKind::Command(e) => format!("{} ({})", e.message, e.code_name),
        _ => err.to_string(),
    };
    super::first_line(&text)
}
