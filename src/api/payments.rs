//! Endpoints: payments — list, the pending (and overdue) ones, and recording that an
//! order was paid.
//!
//! A client token lists only its own payments, whatever `client_id` says.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::clients::{body_id, clip, present, query_id};
use super::orders::{OrderView, PaymentView};
use super::paging::{Page, PageItem, PageQuery, Paging};
use super::{ApiError, ApiState, AuthUser, JsonBody, QueryParams};
use crate::domain::{ObjectId, OrderStatus, Payment, PaymentMethod, PaymentStatus};
use crate::store::PaymentFilter;
use crate::tools::Role;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_payments, record_payment))
        .routes(routes!(pending_payments))
}

const MAX_PROVIDER_REF_CHARS: usize = 200;

/// A page of payments.
pub type PaymentPage = Page<PaymentView>;

impl PageItem for PaymentView {
    const PAGE_NAME: &'static str = "PaymentPage";
    const PLURAL: &'static str = "payments";
}

/// A recorded payment and the order it confirmed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRecorded {
    pub payment: PaymentView,
    pub order: OrderView,
    /// False when the payment had already been recorded: nothing changed.
    pub changed: bool,
}

/// Filters and paging for the payment list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PaymentListQuery {
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageQuery,
    /// pending, paid, failed or refunded.
    pub status: Option<String>,
    /// Only this client's payments (ignored for a client token: always their own).
    pub client_id: Option<String>,
    pub order_id: Option<String>,
}

/// Filters and paging for pending payments.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PendingQuery {
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageQuery,
    /// true: only those past their due date; false (default): all pending.
    pub overdue: Option<String>,
    /// Only this client's payments (ignored for a client token: always their own).
    pub client_id: Option<String>,
}

/// A payment received for an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPaymentBody {
    /// The order paid for (24 hex digits).
    pub order_id: String,
    /// card, upi, cash, bank_transfer or online.
    pub method: String,
    /// The payment provider's reference (up to 200 characters).
    #[serde(default)]
    pub provider_ref: Option<String>,
}

fn payment_status(raw: &str) -> Result<PaymentStatus, ApiError> {
    match raw.trim().to_lowercase().as_str() {
        "pending" => Ok(PaymentStatus::Pending),
        "paid" => Ok(PaymentStatus::Paid),
        "failed" => Ok(PaymentStatus::Failed),
        "refunded" => Ok(PaymentStatus::Refunded),
        _ => Err(ApiError::bad(
            "status",
            format!(
                "{} is not a payment status (pending, paid, failed, refunded)",
                clip(raw)
            ),
        )),
    }
}

fn flag(field: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.trim().to_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ApiError::bad(
            field,
            format!("{field} must be true or false (got {})", clip(raw)),
        )),
    }
}

/// The client a list is about: a client token's own, whatever it asked for.
fn scope(user: &AuthUser, requested: Option<ObjectId>) -> Result<Option<ObjectId>, ApiError> {
    if user.caller.role.is_staff() {
        Ok(requested)
    } else {
        user.caller
            .client_id
            .map(Some)
            .ok_or_else(|| ApiError::Unauthorized("a client token must carry its client_id".into()))
    }
}

/// The page of `payments` (of `total`) as seen `now`.
fn payment_page(
    paging: Paging,
    payments: Vec<Payment>,
    total: u64,
    now: DateTime<Utc>,
) -> PaymentPage {
    paging.page(
        payments
            .into_iter()
            .map(|p| PaymentView::new(p, now))
            .collect(),
        total,
    )
}

/// List payments (staff and above; a client token lists only its own), newest first,
/// paged.
#[utoipa::path(get, path = "/api/payments", tag = "payments", params(PageQuery, PaymentListQuery),
    responses(
        (status = 200, body = PaymentPage),
        (status = 400, body = super::Problem, description = "A bad query parameter, named in `field`"),
        (status = 401, body = super::Problem),
        (status = 429, body = super::Problem)))]
async fn list_payments(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<PaymentListQuery>, ApiError>,
) -> Result<Json<PaymentPage>, ApiError> {
    let q = query?.0;
    let paging = q.paging.paging()?;
    let status = present(q.status.as_deref())
        .map(payment_status)
        .transpose()?;
    let client_id = scope(&user, query_id("client_id", q.client_id.as_deref())?)?;
    let order_id = query_id("order_id", q.order_id.as_deref())?;
    let (payments, total) = state
        .store
        .list_payments(&PaymentFilter {
            status,
            client_id,
            order_id,
            due_before: None,
            skip: paging.skip(),
            limit: paging.limit(),
        })
        .await?;
    let now = state.clock.now();
    Ok(Json(payment_page(paging, payments, total, now)))
}

/// Pending payments, the longest overdue first (staff and above; a client token sees
/// only its own). `overdue=true` keeps only those past their due date.
#[utoipa::path(get, path = "/api/payments/pending", tag = "payments", params(PageQuery, PendingQuery),
    responses(
        (status = 200, body = PaymentPage),
        (status = 400, body = super::Problem, description = "A bad query parameter, named in `field`"),
        (status = 401, body = super::Problem),
        (status = 429, body = super::Problem)))]
async fn pending_payments(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<PendingQuery>, ApiError>,
) -> Result<Json<PaymentPage>, ApiError> {
    let q = query?.0;
    let paging = q.paging.paging()?;
    let overdue = present(q.overdue.as_deref())
        .map(|r| flag("overdue", r))
        .transpose()?
        .unwrap_or(false);
    let client_id = scope(&user, query_id("client_id", q.client_id.as_deref())?)?;
    let now = state.clock.now();
    let (payments, total) = state
        .store
        .list_pending_payments(&PaymentFilter {
            status: Some(PaymentStatus::Pending),
            client_id,
            order_id: None,
            due_before: overdue.then_some(now),
            skip: paging.skip(),
            limit: paging.limit(),
        })
        .await?;
    Ok(Json(payment_page(paging, payments, total, now)))
}

/// Record that an order was paid (staff and above): its pending payment becomes paid and
/// the order confirmed, in one transaction. Recording it again changes nothing and
/// answers 200 with `changed: false`; a failed or refunded payment, or a cancelled
/// order, is 409.
#[utoipa::path(post, path = "/api/payments", tag = "payments", request_body = RecordPaymentBody,
    responses(
        (status = 201, body = PaymentRecorded, description = "Recorded; the order is confirmed"),
        (status = 200, body = PaymentRecorded, description = "Already recorded: nothing changed"),
        (status = 400, body = super::Problem, description = "Not JSON"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
        (status = 404, body = super::Problem, description = "Unknown order"),
        (status = 409, body = super::Problem, description = "The payment failed or was refunded, the order is cancelled, or it has no payment"),
        (status = 422, body = super::Problem, description = "An invalid field, named in `field`"),
        (status = 429, body = super::Problem)))]
async fn record_payment(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    body: Result<JsonBody<RecordPaymentBody>, ApiError>,
) -> Result<(StatusCode, Json<PaymentRecorded>), ApiError> {
    user.require(Role::Staff)?;
    let b = body?.0;
    let order_id = body_id("order_id", &b.order_id)?;
    let method = b.method.parse::<PaymentMethod>()?;
    let provider_ref = match b.provider_ref.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r)
            if r.chars().count() > MAX_PROVIDER_REF_CHARS || r.chars().any(char::is_control) =>
        {
            return Err(ApiError::invalid(
                "provider_ref",
                format!("provider_ref is 1 to {MAX_PROVIDER_REF_CHARS} characters of text"),
            ))
        }
        Some(r) => Some(r.to_owned()),
    };
    let order = state
        .store
        .order_by_id(order_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no order {}", order_id.to_hex())))?;
    let payments = state.store.payments_for_order(order.id).await?;
    let payment = payments
        .iter()
        .find(|p| p.status == PaymentStatus::Pending)
        .or_else(|| payments.iter().find(|p| p.status == PaymentStatus::Paid))
        .or_else(|| payments.first())
        .ok_or_else(|| {
            ApiError::Conflict(format!("order {} has no payment to record", order.number))
        })?;
    if payment.status == PaymentStatus::Pending && order.status == OrderStatus::Cancelled {
        return Err(ApiError::Conflict(format!(
            "order {} is cancelled; its payment cannot be recorded",
            order.number
        )));
    }
    let now = state.clock.now();
    let (paid, changed) = state
        .store_for(&user, "POST /api/payments")
        .record_payment(payment.id, method, provider_ref, now)
        .await?;
    let order = state
        .store
        .order_by_id(order.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no order {}", order_id.to_hex())))?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PaymentRecorded {
            payment: PaymentView::new(paid, now),
            order: order.into(),
            changed,
        }),
    ))
}
