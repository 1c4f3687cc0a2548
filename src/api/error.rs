//! API errors as RFC 9457 problem details (`application/problem+json`): a status, a
//! title, a detail a person can act on and, for bad input, the field. Never internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;
use crate::tools::ToolError;

/// A problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always "about:blank": the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field that was rejected, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest {
        field: Option<String>,
        detail: String,
    },
    #[error("{detail}")]
    Unprocessable {
        field: Option<String>,
        detail: String,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The path exists, but not for this method (the `Allow` header says which do).
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the body is larger than the {limit_bytes} bytes a request may send")]
    TooLarge { limit_bytes: usize },
    #[error("the request body did not arrive in time; send it again")]
    BodyTimedOut,
    #[error("too many requests; retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the database is not answering")]
    Unavailable,
    #[error("the records this request writes are busy; it is safe to send it again (with the same Idempotency-Key, if it had one)")]
    Busy { retry_after_secs: u64 },
    #[error("this record is stored but could not be read (sealed under a key that is not configured, or damaged); the server log says which")]
    Unreadable,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn bad(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Unprocessable {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal | Self::Unreadable => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let field = match &self {
            Self::BadRequest { field, .. } | Self::Unprocessable { field, .. } => field.clone(),
            _ => None,
        };
        let body = Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            field,
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::TooManyRequests { retry_after_secs } | Self::Busy { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, key } => Self::NotFound(format!("no {what} {key}")),
            StoreError::Duplicate { what, value } => {
                Self::Conflict(format!("{what} {value} already exists"))
            }
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid(d) => Self::Unprocessable {
                field: Some(d.field().to_owned()),
                detail: d.to_string(),
            },
            StoreError::Unreachable { .. } => Self::Unavailable,
            StoreError::Decode(reason) => {
                tracing::error!(error = %reason, "a stored record could not be read");
                Self::Unreadable
            }
            // A write conflict that outlived its retries (a burst on the same records, or
            // the locks of a crashed instance's transaction): nothing was written.
            e if e.is_transient() => {
                tracing::warn!(error = %e, "a write gave up after its conflict retries");
                Self::Busy {
                    retry_after_secs: 1,
                }
            }
            other => {
                tracing::error!(error = %other, "store error in a request");
                Self::Internal
            }
        }
    }
}

impl From<ToolError> for ApiError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Forbidden(m) => Self::Forbidden(m),
            ToolError::BadArgs(m) => Self::Unprocessable {
                field: None,
                detail: m,
            },
            ToolError::Missing { field, question } => Self::Unprocessable {
                field: Some(field.to_owned()),
                detail: question,
            },
            ToolError::NotFound(m) => Self::NotFound(m),
            ToolError::Ambiguous { question, .. } => Self::Conflict(question),
            ToolError::Conflict(m) => Self::Conflict(m),
            ToolError::Unavailable(_) => Self::Unavailable,
            ToolError::Store(s) => s.into(),
        }
    }
}

impl From<crate::domain::DomainError> for ApiError {
    fn from(e: crate::domain::DomainError) -> Self {
        Self::Unprocessable {
            field: Some(e.field().to_owned()),
            detail: e.to_string(),
        }
    }
}
