//! Hand-off tickets for the staff: the list (open, claimed or closed, newest first), one
//! ticket, and closing it. Staff and up; a ticket's reason is what someone typed, so
//! clients never see this list.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{Page, PageItem, PageQuery};
use super::{ApiError, ApiState, AuthUser, IdPath, Problem, QueryParams};
use crate::store::{Ticket, TicketStatus};
use crate::tools::Role;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(list_tickets))
        .routes(routes!(get_ticket))
        .routes(routes!(close_ticket));
    super::docs::document_problems(router.get_openapi_mut());
    router
}

/// Where the person asked from.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketOriginView {
    /// telegram, slack, discord or console.
    pub platform: String,
    pub channel: String,
}

/// A hand-off ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// 24 hex digits.
    pub id: String,
    /// open, claimed or closed.
    pub status: String,
    /// Who asked: their name and role ("Priya Sharma (client)").
    pub requester: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What they asked for, as they typed it.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<TicketOriginView>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<Ticket> for TicketView {
    fn from(t: Ticket) -> Self {
        Self {
            id: t.id.to_hex(),
            status: t.status.as_str().to_owned(),
            requester: t.requester,
            client_id: t.client_id.map(|c| c.to_hex()),
            reason: t.reason,
            origin: t.origin.map(|o| TicketOriginView {
                platform: o.platform,
                channel: o.channel,
            }),
            created_at: t.created_at,
            claimed_by: t.claimed_by,
            closed_by: t.closed_by,
            closed_at: t.closed_at,
        }
    }
}

/// A page of tickets.
pub type TicketPage = Page<TicketView>;

impl PageItem for TicketView {
    const PAGE_NAME: &'static str = "TicketPage";
    const PLURAL: &'static str = "tickets";
}

/// Filters and paging for the ticket list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TicketListQuery {
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageQuery,
    /// open, claimed or closed; all when left out.
    pub status: Option<String>,
}

/// A ticket closed (or found closed already).
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketClosed {
    pub ticket: TicketView,
    /// False when it was closed already: nothing changed.
    pub changed: bool,
}

/// List tickets, newest first, paged (staff and above).
#[utoipa::path(get, path = "/api/tickets", tag = "tickets", params(PageQuery, TicketListQuery),
    responses(
        (status = 200, body = TicketPage),
        (status = 400, body = Problem, description = "A bad query parameter, named in `field`"),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 429, body = Problem)))]
async fn list_tickets(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<TicketListQuery>, ApiError>,
) -> Result<Json<TicketPage>, ApiError> {
    user.require(Role::Staff)?;
    let q = query?.0;
    let paging = q.paging.paging()?;
    let status = q
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<TicketStatus>()
                .map_err(|e| ApiError::bad("status", e))
        })
        .transpose()?;
    let (tickets, total) = state
        .store
        .tickets(status, paging.skip(), paging.limit())
        .await?;
    Ok(Json(paging.page(
        tickets.into_iter().map(TicketView::from).collect(),
        total,
    )))
}

/// One ticket (staff and above).
#[utoipa::path(get, path = "/api/tickets/{ticket_id}", tag = "tickets",
    params(("ticket_id" = String, Path, description = "The ticket's id (24 hex digits)")),
    responses(
        (status = 200, body = TicketView),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 429, body = Problem)))]
async fn get_ticket(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
) -> Result<Json<TicketView>, ApiError> {
    user.require(Role::Staff)?;
    let IdPath(id) = id?;
    let ticket = state
        .store
        .ticket_by_id(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no ticket {id}")))?;
    Ok(Json(ticket.into()))
}

/// Close a ticket (staff and above): the hand-off is done, and the person who asked is
/// told so in the chat they asked from. Closing a closed ticket changes nothing
/// (`changed: false`).
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/close", tag = "tickets",
    params(("ticket_id" = String, Path, description = "The ticket's id (24 hex digits)")),
    responses(
        (status = 200, body = TicketClosed),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 429, body = Problem)))]
async fn close_ticket(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
) -> Result<Json<TicketClosed>, ApiError> {
    user.require(Role::Staff)?;
    let IdPath(id) = id?;
    let (ticket, changed) = state
        .store_for(&user, "POST /api/tickets/{ticket_id}/close")
        .close_ticket(id, &user.subject, state.clock.now())
        .await?;
    if changed {
        state.metrics.ticket("closed");
    }
    Ok(Json(TicketClosed {
        ticket: ticket.into(),
        changed,
    }))
}
