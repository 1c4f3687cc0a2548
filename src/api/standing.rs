//! The one check that a client token's client still stands: every request that carries
//! a valid client token is refused (401) once that client is unknown or deleted, before
//! any handler runs — so no client-scoped read (orders, payments, the agents) needs to
//! check it again.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

/// Refuses a valid client token whose client is deleted or unknown. Anything else (no
/// token, a bad token, a staff token) passes through for [`super::AuthUser`] to judge.
pub async fn client_still_stands(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let client_id = token
        .and_then(|t| state.jwt.verify(t, state.clock.now()).ok())
        .and_then(|(_, caller)| caller.client_id);
    if let Some(id) = client_id {
        match state.store.client_is_current(id).await {
            Ok(true) => {}
            Ok(false) => {
                return ApiError::Unauthorized("the client of this token no longer exists".into())
                    .into_response()
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    next.run(request).await
}
