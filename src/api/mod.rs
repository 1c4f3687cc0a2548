//! The REST API of the seed (axum): clients, orders, payments, analytics, courses,
//! classes and the agents, with JWT auth, a role matrix, validation, rate limits, problem
//! details and an OpenAPI 3 document generated from the handlers (utoipa).
//!
//! **Invariant:** every handler takes the caller from [`AuthUser`] (the token), never
//! from the body; a client token sees only its own client's records.
//! A client token whose client is deleted is refused once, in `standing`, for every
//! endpoint.

mod agents;
mod analytics;
pub mod auth;
mod catalogue;
mod clients;
mod docs;
mod error;
mod extract;
mod health;
mod listen;
mod orders;
mod paging;
mod payments;
mod rate;
mod tickets;
mod trends;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::agents::Agents;
use crate::config::StudioSettings;
use crate::domain::SharedClock;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;

pub use auth::{AuthUser, JwtKeys};
pub use error::{ApiError, Problem};
pub use extract::{IdPath, JsonBody, QueryParams};
pub use listen::serve;
pub use rate::RateLimits;

/// What every handler shares.
#[derive(Debug)]
pub struct ApiState {
    pub agents: Agents,
    pub store: Store,
    pub clock: SharedClock,
    pub studio: StudioSettings,
    pub jwt: JwtKeys,
    pub limits: RateLimits,
    /// What `GET /metrics` renders (the agents count into it too).
    pub metrics: Arc<Metrics>,
}

impl ApiState {
    /// The store, auditing writes as `endpoint`'s in the name of the token's subject.
    pub(crate) fn store_for(&self, user: &auth::AuthUser, endpoint: &str) -> Store {
        self.store.acting(crate::store::Actor::new(
            user.subject.clone(),
            user.caller.role.as_str(),
            Some("rest".to_owned()),
            crate::store::Via::new("rest", endpoint),
            self.clock.now(),
        ))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "frontdesk", description = "The studio's REST API: clients, orders, payments, analytics and the agents."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(Problem))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole HTTP application and its OpenAPI document.
pub fn router(state: Arc<ApiState>) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(agents::routes())
        .merge(clients::routes())
        .merge(orders::routes())
        .merge(payments::routes())
        .merge(analytics::routes())
        .merge(trends::routes())
        .merge(tickets::routes())
        .merge(catalogue::routes())
        .split_for_parts();
    let mut openapi = openapi;
    // Errors are sent as application/problem+json; document every one that way.
    docs::document_problems(&mut openapi);
    let openapi = Arc::new(openapi);
    api.route(
        "/api/openapi.json",
        get(move || {
            let doc = openapi.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .merge(docs::routes())
    // Prometheus scrapes without a token; outside /api and the OpenAPI document.
    .route("/metrics", get(metrics))
    .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
    .method_not_allowed_fallback(|method: axum::http::Method| async move {
        ApiError::MethodNotAllowed(format!(
            "this endpoint does not take {method}; the Allow header says what it takes"
        ))
    })
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        rate::per_ip,
    ))
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        count_response,
    ))
    .with_state(state)
}

/// Counts every response by status class (`frontdesk_http_responses_total`), the 429s
/// of the rate limits included.
async fn count_response(
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    state.metrics.http_response(response.status().as_u16());
    response
}

/// `GET /metrics`: the Prometheus text exposition (0.0.4), with the outbox gauges read
/// from the database now.
async fn metrics(
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    state
        .metrics
        .unreadable_records
        .set(i64::try_from(state.store.unreadable_records()).unwrap_or(i64::MAX));
    match state.store.outbox_stats().await {
        Ok(stats) => state.metrics.set_outbox(&stats),
        Err(e) => {
            state.metrics.error("store");
            tracing::warn!(error = %e, "outbox depth not read for /metrics");
        }
    }
    match state.store.tickets_waiting().await {
        Ok(n) => {
            state
                .metrics
                .tickets_waiting
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        Err(e) => {
            state.metrics.error("store");
            tracing::warn!(error = %e, "waiting tickets not counted for /metrics");
        }
    }
    match state.metrics.render() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                crate::telemetry::metrics::CONTENT_TYPE,
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
