//! Endpoints: orders — list, create (idempotently, with the pending payment), read with
//! payments, status changes and cancellation by number — plus the order and payment
//! views the payments endpoints share.
//!
//! A client token lists, reads and creates only its own orders; another client's order
//! is answered as if it did not exist (404).

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::clients::{body_id, clip, hidden, present, query_id};
use super::extract::parsed_path;
use super::paging::{Page, PageItem, PageQuery};
use super::{ApiError, ApiState, AuthUser, IdPath, JsonBody, QueryParams};
use crate::domain::{
    Money, Order, OrderNumber, OrderStatus, Payment, PaymentMethod, PaymentStatus,
};
use crate::store::{NewOrder, OrderFilter, StoreError};
use crate::tools::Role;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_orders, create_order))
        .routes(routes!(get_order, update_order))
        .routes(routes!(cancel_order))
}

/// Days from ordering until the payment is due (as for orders made in chat).
const PAYMENT_DUE_DAYS: u32 = 7;
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 100;
/// The longest cancellation reason accepted.
const MAX_CANCEL_REASON_CHARS: usize = 500;

// --- views ------------------------------------------------------------------------------

/// An amount of money: integer minor units (paise, cents), the ISO 4217 currency and
/// the amount as people write it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyView {
    pub minor: i64,
    pub currency: String,
    /// e.g. "₹12,500".
    pub display: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> Self {
        Self {
            minor: m.minor(),
            currency: m.currency().code().to_owned(),
            display: m.to_string(),
        }
    }
}

/// An order: a client buying a course.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// 24 hex digits.
    pub id: String,
    /// The number people quote, e.g. 10001 (written "#10001").
    pub number: u32,
    pub client_id: String,
    pub course_id: String,
    pub course_name: String,
    /// pending, confirmed, cancelled or completed.
    pub status: String,
    pub amount: MoneyView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        Self {
            id: o.id.to_hex(),
            number: o.number.get(),
            client_id: o.client_id.to_hex(),
            course_id: o.course_id.to_hex(),
            course_name: o.course_name,
            status: o.status.as_str().to_owned(),
            amount: o.amount.into(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A payment owed or made for an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// 24 hex digits.
    pub id: String,
    pub order_id: String,
    pub order_number: u32,
    pub client_id: String,
    pub course_id: String,
    pub course_name: String,
    pub amount: MoneyView,
    /// card, upi, cash, bank_transfer or online.
    pub method: String,
    /// pending, paid, failed or refunded.
    pub status: String,
    pub due_at: DateTime<Utc>,
    /// Pending and past its due date (at the service's clock).
    pub overdue: bool,
    pub paid_at: Option<DateTime<Utc>>,
    pub provider_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl PaymentView {
    pub(super) fn new(p: Payment, now: DateTime<Utc>) -> Self {
        Self {
            id: p.id.to_hex(),
            order_id: p.order_id.to_hex(),
            order_number: p.order_number.get(),
            client_id: p.client_id.to_hex(),
            course_id: p.course_id.to_hex(),
            course_name: p.course_name,
            amount: p.amount.into(),
            method: p.method.as_str().to_owned(),
            status: p.status.as_str().to_owned(),
            overdue: p.status == PaymentStatus::Pending && p.due_at < now,
            due_at: p.due_at,
            paid_at: p.paid_at,
            provider_ref: p.provider_ref,
            created_at: p.created_at,
        }
    }
}

/// An order with its payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: OrderView,
    /// Oldest first.
    pub payments: Vec<PaymentView>,
}

/// A new order and its pending payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCreatedView {
    pub order: OrderView,
    pub payment: PaymentView,
    /// True when the idempotency key had been seen: this is the order made then.
    pub replayed: bool,
}

/// A page of orders.
pub type OrderPage = Page<OrderView>;

impl PageItem for OrderView {
    const PAGE_NAME: &'static str = "OrderPage";
    const PLURAL: &'static str = "orders";
}

// --- inputs -----------------------------------------------------------------------------

/// Filters and paging for the order list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageQuery,
    /// pending, confirmed, cancelled or completed.
    pub status: Option<String>,
    /// Only this client's orders (ignored for a client token: always their own).
    pub client_id: Option<String>,
    pub course_id: Option<String>,
    /// Created at or after: an RFC 3339 instant, or a date (YYYY-MM-DD, from the start of
    /// that day in the studio's time zone).
    pub from: Option<String>,
    /// Created before: an RFC 3339 instant (exclusive), or a date (YYYY-MM-DD, up to the
    /// end of that day in the studio's time zone).
    pub to: Option<String>,
}

/// A new order. Staff name the client; a client orders for themselves.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    /// The client (required for staff; a client may leave it out or give their own).
    #[serde(default)]
    pub client_id: Option<String>,
    pub course_id: String,
    /// card, upi, cash, bank_transfer or online (default).
    #[serde(default)]
    pub method: Option<String>,
    /// The same key again returns the first order instead of making a second. The
    /// `Idempotency-Key` header does the same.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Why an order is cancelled. The body may be left out altogether.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrderBody {
    /// Kept on the order for the studio (up to 500 characters); not sent to the client.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An order after a cancellation, with its payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCancelledView {
    pub order: OrderView,
    /// Oldest first: the one that was pending is now failed (nothing is owed).
    pub payments: Vec<PaymentView>,
    /// False when the order was already cancelled: nothing changed.
    pub changed: bool,
}

/// An order number in the path ("12346"): 404 when it is not one.
#[derive(Debug, Clone, Copy)]
pub struct NumberPath(pub OrderNumber);

impl<S> FromRequestParts<S> for NumberPath
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        parsed_path(parts, state, OrderNumber::parse, |raw| {
            format!("no order has the number {}", clip(raw))
        })
        .await
        .map(Self)
    }
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderUpdateBody {
    /// confirmed, cancelled or completed: pending → confirmed or cancelled; confirmed →
    /// completed or cancelled; cancelled and completed are final.
    pub status: String,
}

/// An instant or a date (in the studio's time zone) from a query string; a date as an
/// upper bound means the end of that day.
pub(super) fn parse_bound(
    field: &str,
    raw: &str,
    offset: FixedOffset,
    upper: bool,
) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || {
        ApiError::bad(
            field,
            format!(
                "{field} must be an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01), not {}",
                clip(raw)
            ),
        )
    };
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())?;
    let date = if upper {
        date.succ_opt().ok_or_else(bad)?
    } else {
        date
    };
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(bad)
}

fn idempotency_key(headers: &HeaderMap, body: Option<&str>) -> Result<Option<String>, ApiError> {
    let header = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str().map(|s| s.trim().to_owned()).map_err(|_| {
                ApiError::bad(
                    "Idempotency-Key",
                    "the Idempotency-Key header must be plain text",
                )
            })
        })
        .transpose()?;
    let body = body.map(|s| s.trim().to_owned());
    let key = match (header, body) {
        (Some(h), Some(b)) if h != b => {
            return Err(ApiError::invalid(
                "idempotency_key",
                "the Idempotency-Key header and idempotency_key differ; send one",
            ))
        }
        (h, b) => h.or(b),
    };
    if let Some(k) = &key {
        if k.is_empty()
            || k.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
        {
            return Err(ApiError::invalid(
                "idempotency_key",
                format!(
                    "an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY_CHARS} letters, digits, '-', '_', ':' or '.'"
                ),
            ));
        }
    }
    Ok(key)
}

// --- handlers ---------------------------------------------------------------------------

/// List orders (staff and above; a client token lists only its own orders, whatever
/// `client_id` says), newest first, paged.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(PageQuery, OrderListQuery),
    responses(
        (status = 200, body = OrderPage),
        (status = 400, body = super::Problem, description = "A bad query parameter, named in `field`"),
        (status = 401, body = super::Problem),
        (status = 429, body = super::Problem)))]
async fn list_orders(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<OrderListQuery>, ApiError>,
) -> Result<Json<OrderPage>, ApiError> {
    let q = query?.0;
    let paging = q.paging.paging()?;
    let status = present(q.status.as_deref())
        .map(|s| {
            s.parse::<OrderStatus>()
                .map_err(|e| ApiError::bad("status", e.to_string()))
        })
        .transpose()?;
    let requested_client = query_id("client_id", q.client_id.as_deref())?;
    let client_id = if user.caller.role.is_staff() {
        requested_client
    } else {
        Some(user.caller.client_id.ok_or_else(|| {
            ApiError::Unauthorized("a client token must carry its client_id".into())
        })?)
    };
    let course_id = query_id("course_id", q.course_id.as_deref())?;
    let offset = state.studio.utc_offset;
    let from = present(q.from.as_deref())
        .map(|r| parse_bound("from", r, offset, false))
        .transpose()?;
    let to = present(q.to.as_deref())
        .map(|r| parse_bound("to", r, offset, true))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            return Err(ApiError::bad("to", "to must be after from"));
        }
    }
    let (orders, total) = state
        .store
        .list_orders(&OrderFilter {
            status,
            client_id,
            course_id,
            created_from: from,
            created_before: to,
            skip: paging.skip(),
            limit: paging.limit(),
        })
        .await?;
    Ok(Json(paging.page(
        orders.into_iter().map(OrderView::from).collect(),
        total,
    )))
}

/// Enrol a client in a course: an order at the course price with a pending payment due
/// in 7 days. Staff give `client_id`; a client orders only for themselves (another
/// client's id is 403). With an idempotency key (body or `Idempotency-Key` header), the
/// same key again answers 200 with the first order instead of making a second.
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = NewOrderBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key returns the first order")),
    responses(
        (status = 201, body = OrderCreatedView, description = "Created"),
        (status = 200, body = OrderCreatedView, description = "The key had been used: the order made then"),
        (status = 400, body = super::Problem, description = "Not JSON, or a bad Idempotency-Key header"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "A client ordering for someone else"),
        (status = 404, body = super::Problem, description = "Unknown client or course"),
        (status = 409, body = super::Problem, description = "The key was used for a different order"),
        (status = 422, body = super::Problem, description = "An invalid field, named in `field`"),
        (status = 429, body = super::Problem)))]
async fn create_order(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    headers: HeaderMap,
    body: Result<JsonBody<NewOrderBody>, ApiError>,
) -> Result<(StatusCode, Json<OrderCreatedView>), ApiError> {
    let b = body?.0;
    let requested = b
        .client_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|raw| body_id("client_id", raw))
        .transpose()?;
    let client_id = if user.caller.role.is_staff() {
        requested.ok_or_else(|| {
            ApiError::invalid("client_id", "staff must name the client (client_id)")
        })?
    } else {
        let own = user.caller.client_id.ok_or_else(|| {
            ApiError::Unauthorized("a client token must carry its client_id".into())
        })?;
        if requested.is_some_and(|r| r != own) {
            return Err(ApiError::Forbidden(
                "a client can only order for themselves".into(),
            ));
        }
        own
    };
    let course_id = body_id("course_id", &b.course_id)?;
    let method = match b.method.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => m.parse::<PaymentMethod>()?,
        None => PaymentMethod::Online,
    };
    let key = idempotency_key(&headers, b.idempotency_key.as_deref())?;
    let now = state.clock.now();
    let created = state
        .store_for(&user, "POST /api/orders")
        .create_order(NewOrder {
            client_id,
            course_id,
            amount: None,
            method,
            due_in_days: PAYMENT_DUE_DAYS,
            // Scoped to the client, so one client's key can never replay another's order.
            idempotency_key: key.map(|k| format!("api:{}:{k}", client_id.to_hex())),
            now,
        })
        .await?;
    if created.replayed && created.order.course_id != course_id {
        return Err(ApiError::Conflict(format!(
            "this idempotency key was already used for order {} ({}); use a new key for a new order",
            created.order.number, created.order.course_name
        )));
    }
    let status = if created.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(OrderCreatedView {
            order: created.order.into(),
            payment: PaymentView::new(created.payment, now),
            replayed: created.replayed,
        }),
    ))
}

/// One order with its payments (staff and above, or the client who placed it; another
/// client's order is 404, as if it did not exist).
#[utoipa::path(get, path = "/api/orders/{order_id}", tag = "orders",
    params(("order_id" = String, Path, description = "The order's id (24 hex digits)")),
    responses(
        (status = 200, body = OrderDetail),
        (status = 401, body = super::Problem),
        (status = 404, body = super::Problem, description = "Not an id, unknown, or another client's"),
        (status = 429, body = super::Problem)))]
async fn get_order(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
) -> Result<Json<OrderDetail>, ApiError> {
    let IdPath(id) = id?;
    let order = state
        .store
        .order_by_id(id)
        .await?
        .filter(|o| user.require_self_or_staff(o.client_id).is_ok())
        .ok_or_else(|| hidden("order", id))?;
    let now = state.clock.now();
    let payments = state.store.payments_for_order(order.id).await?;
    Ok(Json(OrderDetail {
        order: order.into(),
        payments: payments
            .into_iter()
            .map(|p| PaymentView::new(p, now))
            .collect(),
    }))
}

/// Change an order's status (staff and above). Moves that make no sense (a cancelled
/// order confirmed, a pending one completed, the same status again) are 409 with the
/// reason; a word that is not a status is 422.
#[utoipa::path(put, path = "/api/orders/{order_id}", tag = "orders", request_body = OrderUpdateBody,
    params(("order_id" = String, Path, description = "The order's id (24 hex digits)")),
    responses(
        (status = 200, body = OrderView),
        (status = 400, body = super::Problem, description = "Not JSON"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
        (status = 404, body = super::Problem, description = "Not an id, or unknown"),
        (status = 409, body = super::Problem, description = "Not a valid move from the current status, or the order changed meanwhile"),
        (status = 422, body = super::Problem, description = "Not an order status"),
        (status = 429, body = super::Problem)))]
async fn update_order(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
    body: Result<JsonBody<OrderUpdateBody>, ApiError>,
) -> Result<Json<OrderView>, ApiError> {
    user.require(Role::Staff)?;
    let IdPath(id) = id?;
    let to = body?.0.status.parse::<OrderStatus>()?;
    let order = state
        .store_for(&user, "PUT /api/orders/{order_id}")
        .set_order_status(id, to, state.clock.now())
        .await
        .map_err(|e| match e {
            // The status parsed, so an invalid move is a conflict with the order's state.
            StoreError::Invalid(reason) => ApiError::Conflict(reason.to_string()),
            other => other.into(),
        })?;
    Ok(Json(order.into()))
}

/// Cancel an order by its number (staff and above), in one transaction: the order is
/// cancelled (the `reason`, if given, kept on it), its pending payment fails so nothing
/// is owed, the client's enrolment for it ends, the client is sent a notice through the
/// outbox and the audit entry is written. Cancelling is idempotent: an order already
/// cancelled answers 200 with `changed: false` and nothing changes. A paid order is 409
/// ("refund it first"), and so is a completed one; nothing changes then.
#[utoipa::path(post, path = "/api/orders/{number}/cancel", tag = "orders", request_body(content = Option<CancelOrderBody>, description = "Optional: the reason"),
    params(("number" = u32, Path, description = "The order number, e.g. 12346")),
    responses(
        (status = 200, body = OrderCancelledView, description = "Cancelled now (`changed: true`) or before (`changed: false`)"),
        (status = 400, body = super::Problem, description = "Not JSON"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
        (status = 404, body = super::Problem, description = "Not an order number, or no such order"),
        (status = 409, body = super::Problem, description = "The order is paid (refund it first) or completed, or changed meanwhile"),
        (status = 422, body = super::Problem, description = "An invalid field, named in `field`"),
        (status = 429, body = super::Problem)))]
async fn cancel_order(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    number: Result<NumberPath, ApiError>,
    body: Result<Option<JsonBody<CancelOrderBody>>, ApiError>,
) -> Result<Json<OrderCancelledView>, ApiError> {
    user.require(Role::Staff)?;
    let NumberPath(number) = number?;
    let reason = body?.map(|b| b.0).unwrap_or_default().reason;
    if reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > MAX_CANCEL_REASON_CHARS)
    {
        return Err(ApiError::invalid(
            "reason",
            format!("a reason is at most {MAX_CANCEL_REASON_CHARS} characters"),
        ));
    }
    let now = state.clock.now();
    let cancelled = state
        .store_for(&user, "POST /api/orders/{number}/cancel")
        .cancel_order(number, reason.as_deref(), now)
        .await?;
    let payments = state.store.payments_for_order(cancelled.order.id).await?;
    Ok(Json(OrderCancelledView {
        order: cancelled.order.into(),
        payments: payments
            .into_iter()
            .map(|p| PaymentView::new(p, now))
            .collect(),
        changed: cancelled.changed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn dates_are_local_days_and_instants_are_exact() {
        let ist = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        let from = parse_bound("from", "2026-11-01", ist, false).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-10-31T18:30:00+00:00");
        let to = parse_bound("to", "2026-11-01", ist, true).unwrap();
        assert_eq!(to - from, Duration::days(1));
        let t = parse_bound("to", "2026-11-01T10:00:00Z", ist, true).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-01T10:00:00+00:00");
        assert!(parse_bound("from", "yesterday", ist, false).is_err());
        assert!(parse_bound("from", "2026-13-01", ist, false).is_err());
    }
}
