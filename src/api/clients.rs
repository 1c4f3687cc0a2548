//! Endpoints: clients — list, create, read, update and (soft) delete — and the paging
//! and id helpers the orders and payments endpoints share.
//!
//! A client token sees and edits only its own record; any other client id is answered
//! as if it did not exist (404), so a client cannot probe which ids are taken.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{Page, PageItem, PageQuery};
use super::{ApiError, ApiState, AuthUser, IdPath, JsonBody, QueryParams};
use crate::domain::{Client, ClientStatus, Email, ObjectId, PersonName, Phone};
use crate::store::{ClientChanges, ClientQuery};
use crate::tools::Role;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_clients, create_client))
        .routes(routes!(get_client, update_client, delete_client))
}

// --- shared helpers ---------------------------------------------------------------------

/// A query parameter that was given and is not blank.
pub(super) fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// At most 40 characters of caller input, for messages.
pub(super) fn clip(raw: &str) -> String {
    let short: String = raw.chars().take(40).collect();
    format!("{short:?}")
}

/// An id in a query string; 400 naming `field` when it is not one.
pub(super) fn query_id(field: &str, raw: Option<&str>) -> Result<Option<ObjectId>, ApiError> {
    present(raw)
        .map(|r| {
            ObjectId::parse_str(r).map_err(|_| {
                ApiError::bad(
                    field,
                    format!("{field} must be a 24-hex-digit id (got {})", clip(r)),
                )
            })
        })
        .transpose()
}

/// An id in a JSON body; 422 naming `field` when it is not one.
pub(super) fn body_id(field: &str, raw: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse_str(raw.trim()).map_err(|_| {
        ApiError::invalid(
            field,
            format!("{field} must be a 24-hex-digit id (got {})", clip(raw)),
        )
    })
}

/// The answer for a record a client may not see: the same as for one that does not exist.
pub(super) fn hidden(what: &str, id: ObjectId) -> ApiError {
    ApiError::NotFound(format!("no {what} {}", id.to_hex()))
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// --- views ------------------------------------------------------------------------------

/// A course the client enrolled in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientEnrollmentView {
    pub course_id: String,
    pub course_name: String,
    pub order_number: u32,
    pub enrolled_at: DateTime<Utc>,
}

/// A client of the studio.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// 24 hex digits.
    pub id: String,
    pub name: String,
    pub email: String,
    /// E.164, e.g. "+919876543210".
    pub phone: Option<String>,
    /// lead, active or inactive.
    pub status: String,
    pub joined_at: DateTime<Utc>,
    pub last_visit_at: Option<DateTime<Utc>>,
    pub preferences: Vec<String>,
    pub enrollments: Vec<ClientEnrollmentView>,
    /// The studio's notes about the client (staff only; never shown to the client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl ClientView {
    fn new(c: Client, for_staff: bool) -> Self {
        Self {
            id: c.id.to_hex(),
            name: c.name.as_str().to_owned(),
            email: c.email.as_str().to_owned(),
            phone: c.phone.map(|p| p.as_str().to_owned()),
            status: c.status.as_str().to_owned(),
            joined_at: c.joined_at,
            last_visit_at: c.last_visit_at,
            preferences: c.preferences,
            enrollments: c
                .enrollments
                .into_iter()
                .map(|e| ClientEnrollmentView {
                    course_id: e.course_id.to_hex(),
                    course_name: e.course_name,
                    order_number: e.order_number.get(),
                    enrolled_at: e.enrolled_at,
                })
                .collect(),
            notes: if for_staff { c.notes } else { None },
        }
    }
}

/// A page of clients.
pub type ClientPage = Page<ClientView>;

impl PageItem for ClientView {
    const PAGE_NAME: &'static str = "ClientPage";
    const PLURAL: &'static str = "clients";
}

// --- inputs -----------------------------------------------------------------------------

/// Filters and paging for the client list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientListQuery {
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageQuery,
    /// lead, active or inactive.
    pub status: Option<String>,
    /// Words of the name (any order), or a whole email address (contains "@"; exact match).
    pub search: Option<String>,
}

/// A new client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    /// 1 to 100 characters.
    pub name: String,
    /// Unique among clients (ignoring case).
    pub email: String,
    /// Ten digits are taken as Indian (+91); otherwise give the country code.
    #[serde(default)]
    pub phone: Option<String>,
    /// lead (default), active or inactive.
    #[serde(default)]
    pub status: Option<String>,
    /// Up to 20 short words such as "morning" or "pilates".
    #[serde(default)]
    pub preferences: Option<Vec<String>>,
    /// The studio's notes, up to 2000 characters.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Changes to a client; fields left out stay as they are, `null` clears phone or notes.
/// A client may change only their own name, phone and preferences.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdateBody {
    #[serde(default)]
    pub name: Option<String>,
    /// Staff only.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    /// Staff only: lead, active or inactive.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub preferences: Option<Vec<String>>,
    /// Staff only.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub notes: Option<Option<String>>,
}

const MAX_PREFERENCES: usize = 20;
const MAX_PREFERENCE_CHARS: usize = 50;
const MAX_NOTES_CHARS: usize = 2000;

fn client_status(
    raw: &str,
    bad: fn(&'static str, String) -> ApiError,
) -> Result<ClientStatus, ApiError> {
    match raw.trim().to_lowercase().as_str() {
        "lead" => Ok(ClientStatus::Lead),
        "active" => Ok(ClientStatus::Active),
        "inactive" => Ok(ClientStatus::Inactive),
        _ => Err(bad(
            "status",
            format!(
                "{} is not a client status (lead, active, inactive)",
                clip(raw)
            ),
        )),
    }
}

fn unprocessable(field: &'static str, detail: String) -> ApiError {
    ApiError::invalid(field, detail)
}

fn bad_request(field: &'static str, detail: String) -> ApiError {
    ApiError::bad(field, detail)
}

fn preferences(raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    if raw.len() > MAX_PREFERENCES {
        return Err(ApiError::invalid(
            "preferences",
            format!("at most {MAX_PREFERENCES} preferences (got {})", raw.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for p in raw {
        let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
        if p.is_empty()
            || p.chars().count() > MAX_PREFERENCE_CHARS
            || p.chars().any(char::is_control)
        {
            return Err(ApiError::invalid(
                "preferences",
                format!("each preference is 1 to {MAX_PREFERENCE_CHARS} characters of text"),
            ));
        }
        if !out.iter().any(|q| q.eq_ignore_ascii_case(&p)) {
            out.push(p);
        }
    }
    Ok(out)
}

fn notes(raw: String) -> Result<Option<String>, ApiError> {
    let trimmed = raw.trim();
    crate::domain::refuse_hidden_chars("notes", trimmed, true)?;
    if trimmed.chars().count() > MAX_NOTES_CHARS {
        return Err(ApiError::invalid(
            "notes",
            format!("notes are at most {MAX_NOTES_CHARS} characters"),
        ));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

fn phone(raw: &str) -> Result<Option<Phone>, ApiError> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        Ok(Some(Phone::parse(raw)?))
    }
}

// --- handlers ---------------------------------------------------------------------------

/// List clients (staff and above): filter by status, search by name words or a whole
/// email address (emails are stored encrypted: no prefix search), sorted by name, paged.
#[utoipa::path(get, path = "/api/clients", tag = "clients", params(PageQuery, ClientListQuery),
    responses(
        (status = 200, body = ClientPage),
        (status = 400, body = super::Problem, description = "A bad query parameter, named in `field`"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
        (status = 429, body = super::Problem)))]
async fn list_clients(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<ClientListQuery>, ApiError>,
) -> Result<Json<ClientPage>, ApiError> {
    user.require(Role::Staff)?;
    let q = query?.0;
    let paging = q.paging.paging()?;
    let status = present(q.status.as_deref())
        .map(|s| client_status(s, bad_request))
        .transpose()?;
    let search = present(q.search.as_deref()).map(str::to_owned);
    if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(ApiError::bad("search", "search is at most 100 characters"));
    }
    let (clients, total) = state
        .store
        .list_clients(&ClientQuery {
            status,
            search,
            skip: paging.skip(),
            limit: paging.limit(),
        })
        .await?;
    Ok(Json(
        paging.page(
            clients
                .into_iter()
                .map(|c| ClientView::new(c, true))
                .collect(),
            total,
        ),
    ))
}

/// Create a client (staff and above). The email must not belong to another client.
#[utoipa::path(post, path = "/api/clients", tag = "clients", request_body = NewClientBody,
    responses(
        (status = 201, body = ClientView, headers(("Location" = String, description = "The new client's URL"))),
        (status = 400, body = super::Problem, description = "Not JSON"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
        (status = 409, body = super::Problem, description = "A client with this email exists"),
        (status = 422, body = super::Problem, description = "An invalid field, named in `field`"),
        (status = 429, body = super::Problem)))]
async fn create_client(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    body: Result<JsonBody<NewClientBody>, ApiError>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<ClientView>,
    ),
    ApiError,
> {
    user.require(Role::Staff)?;
    let b = body?.0;
    let name = PersonName::parse(&b.name)?;
    let email = Email::parse(&b.email)?;
    let phone = b.phone.as_deref().map(phone).transpose()?.flatten();
    let status = b
        .status
        .as_deref()
        .map(|s| client_status(s, unprocessable))
        .transpose()?
        .unwrap_or(ClientStatus::Lead);
    let mut client = Client::new(name, email, status, state.clock.now());
    client.phone = phone;
    client.preferences = b
        .preferences
        .map(preferences)
        .transpose()?
        .unwrap_or_default();
    client.notes = b.notes.map(notes).transpose()?.flatten();
    state
        .store_for(&user, "POST /api/clients")
        .insert_client(&client)
        .await?;
    let location = format!("/api/clients/{}", client.id.to_hex());
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ClientView::new(client, true)),
    ))
}

/// One client (staff and above, or the client themselves). Another client's id is
/// answered with 404, exactly as an unknown id, so existence is not revealed.
#[utoipa::path(get, path = "/api/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id (24 hex digits)")),
    responses(
        (status = 200, body = ClientView),
        (status = 401, body = super::Problem),
        (status = 404, body = super::Problem, description = "Not an id, unknown, deleted, or another client's"),
        (status = 429, body = super::Problem)))]
async fn get_client(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
) -> Result<Json<ClientView>, ApiError> {
    let IdPath(id) = id?;
    let staff = user.caller.role.is_staff();
    if user.require_self_or_staff(id).is_err() {
        return Err(hidden("client", id));
    }
    let client = state
        .store
        .client_by_id(id)
        .await?
        .ok_or_else(|| hidden("client", id))?;
    Ok(Json(ClientView::new(client, staff)))
}

/// Update a client (staff and above). A client may update their own name, phone and
/// preferences; trying to change their email, status or notes is 403. Another client's
/// id is 404.
#[utoipa::path(put, path = "/api/clients/{client_id}", tag = "clients", request_body = ClientUpdateBody,
    params(("client_id" = String, Path, description = "The client's id (24 hex digits)")),
    responses(
        (status = 200, body = ClientView),
        (status = 400, body = super::Problem, description = "Not JSON"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "A client changing their email, status or notes"),
        (status = 404, body = super::Problem, description = "Not an id, unknown, deleted, or another client's"),
        (status = 409, body = super::Problem, description = "The new email belongs to another client"),
        (status = 422, body = super::Problem, description = "An invalid field, named in `field`"),
        (status = 429, body = super::Problem)))]
async fn update_client(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
    body: Result<JsonBody<ClientUpdateBody>, ApiError>,
) -> Result<Json<ClientView>, ApiError> {
    let IdPath(id) = id?;
    let staff = user.caller.role.is_staff();
    if user.require_self_or_staff(id).is_err() {
        return Err(hidden("client", id));
    }
    let b = body?.0;
    let changes = ClientChanges {
        name: b.name.as_deref().map(PersonName::parse).transpose()?,
        email: b.email.as_deref().map(Email::parse).transpose()?,
        phone: b
            .phone
            .map(|p| p.as_deref().map(phone).transpose().map(Option::flatten))
            .transpose()?,
        status: b
            .status
            .as_deref()
            .map(|s| client_status(s, unprocessable))
            .transpose()?,
        preferences: b.preferences.map(preferences).transpose()?,
        notes: b
            .notes
            .map(|n| n.map(notes).transpose().map(Option::flatten))
            .transpose()?,
    };
    if !staff {
        let current = state
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| hidden("client", id))?;
        let changing = [
            (
                "email",
                changes.email.as_ref().is_some_and(|e| *e != current.email),
            ),
            (
                "status",
                changes.status.is_some_and(|s| s != current.status),
            ),
            (
                "notes",
                changes.notes.as_ref().is_some_and(|n| *n != current.notes),
            ),
        ];
        if let Some((field, _)) = changing.iter().find(|(_, changed)| *changed) {
            return Err(ApiError::Forbidden(format!(
                "a client can change only their name, phone and preferences, not their {field}; ask the studio"
            )));
        }
    }
    let client = state
        .store_for(&user, "PUT /api/clients/{client_id}")
        .patch_client(id, &changes)
        .await?;
    Ok(Json(ClientView::new(client, staff)))
}

/// Delete a client (admin only). The client disappears from lookups and lists; their
/// orders and payments are kept. Refused (409) while an order of theirs that is not
/// cancelled still has a pending payment.
#[utoipa::path(delete, path = "/api/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id (24 hex digits)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
        (status = 404, body = super::Problem, description = "Not an id, unknown or already deleted"),
        (status = 409, body = super::Problem, description = "The client has unpaid orders"),
        (status = 429, body = super::Problem)))]
async fn delete_client(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
) -> Result<StatusCode, ApiError> {
    user.require(Role::Admin)?;
    let IdPath(id) = id?;
    if state.store.client_by_id(id).await?.is_none() {
        return Err(hidden("client", id));
    }
    let unpaid = state.store.unpaid_orders_of_client(id).await?;
    if !unpaid.is_empty() {
        let numbers: Vec<String> = unpaid.iter().take(10).map(ToString::to_string).collect();
        return Err(ApiError::Conflict(format!(
            "the client has {} unpaid order(s) ({}); settle or cancel the unpaid orders first",
            unpaid.len(),
            numbers.join(", ")
        )));
    }
    state
        .store_for(&user, "DELETE /api/clients/{client_id}")
        .delete_client(id, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
