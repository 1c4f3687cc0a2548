//! The interactive docs page at `/docs`: one self-contained HTML page (inline CSS and
//! script, nothing from the internet) that reads `/api/openapi.json`, lists every
//! operation by tag with its parameters, body and responses, and has a "try it" form
//! per operation. Public: the page itself holds no data; calls need a token.

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi, RefOr};

use super::ApiState;

/// The page, compiled into the binary.
pub const DOCS_HTML: &str = include_str!("docs.html");

/// Only the page's own inline code, and requests to this server.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/docs", get(page))
        .route("/docs/", get(page))
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        DOCS_HTML,
    )
}

/// Documents problem responses as they are sent: with the media type
/// `application/problem+json` (utoipa writes `application/json` for every body), and
/// 429s with their `Retry-After` header (whole seconds). Apply it to a whole document or
/// to the routes of one module (`OpenApiRouter::get_openapi_mut`).
pub(crate) fn document_problems(openapi: &mut OpenApi) {
    let is_problem = |c: &Content| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            for (status, response) in &mut op.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                let content = std::mem::take(&mut response.content);
                response.content = content
                    .into_iter()
                    .map(|(media, c)| {
                        if media == "application/json" && is_problem(&c) {
                            ("application/problem+json".to_owned(), c)
                        } else {
                            (media, c)
                        }
                    })
                    .collect();
                if status == "429" {
                    let mut header = Header::new(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    );
                    header.description = Some("Seconds to wait before trying again".into());
                    response.headers.insert("Retry-After".into(), header);
                }
            }
        }
    }
}
