//! Extractors whose rejections are problem details naming the field: JSON bodies (unknown
//! fields rejected), query strings, and ids in the path (an id that is not an id is a
//! 404, never a 500).

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::ObjectId;

/// A JSON body; a bad one is 400 (not JSON) or 422 (wrong shape), naming the field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(json_problem(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(e) => return Err(json_problem(JsonRejection::BytesRejection(e))),
        };
        // serde reads a struct from an array of its fields too; a body is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::BadRequest {
                field: None,
                detail: "send the body as a JSON object ({ ... })".into(),
            });
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(json_problem(e)),
        }
    }
}

/// Whether the request says its body is JSON (`application/json` or `…+json`).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(mime) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.split_once('/').is_some_and(|(kind, sub)| {
        kind == "application" && (sub == "json" || sub.ends_with("+json"))
    })
}

/// An optional JSON body: none when the request has no Content-Type (no body at all);
/// otherwise as the required one.
impl<S, T> OptionalFromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_none()
        {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Whether `e` or one of its causes is an `E`.
fn caused_by<E: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<E>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A body that is not the JSON asked for: 400 (not JSON) or 422 (wrong shape).
fn json_problem(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            let detail = e.body_text();
            ApiError::Unprocessable {
                field: field_of(&detail),
                detail: tidy(&detail),
            }
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest {
            field: None,
            detail: tidy(&e.body_text()),
        },
        JsonRejection::BytesRejection(e) if caused_by::<super::listen::BodyTimedOut>(&e) => {
            ApiError::BodyTimedOut
        }
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::TooLarge {
                limit_bytes: super::MAX_BODY_BYTES,
            }
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest {
            field: None,
            detail: "send the body as JSON with Content-Type: application/json".into(),
        },
        e => ApiError::BadRequest {
            field: None,
            detail: tidy(&e.body_text()),
        },
    }
}

/// Query-string parameters; a bad one is a 400 naming it.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Self(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let detail = e.body_text();
                Err(ApiError::BadRequest {
                    field: field_of(&detail),
                    detail: tidy(&detail),
                })
            }
            Err(e) => Err(ApiError::BadRequest {
                field: None,
                detail: tidy(&e.body_text()),
            }),
        }
    }
}

/// An id in the path: 404 when it is not an id.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub ObjectId);

impl<S> FromRequestParts<S> for IdPath
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        parsed_path(
            parts,
            state,
            |raw| ObjectId::parse_str(raw),
            |raw| format!("no record has the id {:?}", clip(raw)),
        )
        .await
        .map(Self)
    }
}

/// The one parameter in the path, read by `parse`: 404 when there is none, or (saying
/// `not_found` of it) when it does not parse.
pub(super) async fn parsed_path<S, T, E>(
    parts: &mut Parts,
    state: &S,
    parse: impl FnOnce(&str) -> Result<T, E>,
    not_found: impl FnOnce(&str) -> String,
) -> Result<T, ApiError>
where
    S: Send + Sync,
{
    let Path(raw) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::NotFound("not found".into()))?;
    parse(&raw).map_err(|_| ApiError::NotFound(not_found(&raw)))
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// serde's message names the field in backquotes: "unknown field `x`", "missing field `y`",
/// or "name: invalid value" (axum prefixes the path).
fn field_of(detail: &str) -> Option<String> {
    let body = tidy(detail);
    // "name: invalid type: integer `5`, expected a string": the path comes first.
    if let Some((path, rest)) = body.split_once(": ") {
        let is_path = !path.is_empty() && !path.contains(' ') && !path.contains('`');
        if is_path && !rest.is_empty() {
            return Some(path.to_owned());
        }
    }
    // "unknown field `nickname`, expected …" / "missing field `email`".
    if let Some(start) = body.find('`') {
        let rest = &body[start + 1..];
        if let Some(end) = rest.find('`') {
            return Some(rest[..end].to_owned());
        }
    }
    None
}

fn tidy(detail: &str) -> String {
    let d = detail
        .trim_start_matches("Failed to deserialize the JSON body into the target type: ")
        .trim_start_matches("Failed to deserialize query string: ");
    d.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn the_field_is_named() {
        assert_eq!(
            field_of("unknown field `nickname`, expected one of `name`").as_deref(),
            Some("nickname")
        );
        assert_eq!(
            field_of("Failed to deserialize the JSON body into the target type: name: invalid type: integer `5`, expected a string at line 1 column 9").as_deref(),
            Some("name")
        );
        assert_eq!(
            field_of("Failed to deserialize the JSON body into the target type: missing field `email` at line 1 column 2").as_deref(),
            Some("email")
        );
    }
}
