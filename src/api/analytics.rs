//! Analytics (manager or admin): revenue, clients, courses and attendance figures.
//!
//! One implementation serves both: every figure here comes from the same `Store`
//! analytics method the Dashboard Agent's tools call (`src/tools/dashboard.rs`), over the
//! same period vocabulary ([`Period`]), resolved the same way — at the service clock's
//! "now" in the studio's UTC offset, and cut at now while the period is still running
//! ("1–25 Nov 2026") — so an endpoint answers with the numbers the agent gives.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiState, AuthUser, Problem, QueryParams};
use crate::domain::{ObjectId, Period, ResolvedPeriod};
use crate::store::{
    AttendanceLine, ClientBrief, EnrollmentLine, FillLine, InactiveBrief, RevenueBreakdown,
    RevenueLine, RevenueReport,
};
use crate::store::{TopClientLine, TopClientsBy, MAX_TOP_CLIENTS};
use crate::tools::Role;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(revenue))
        .routes(routes!(clients))
        .routes(routes!(top_clients))
        .routes(routes!(courses))
        .routes(routes!(attendance));
    super::docs::document_problems(router.get_openapi_mut());
    router
}

// --- shared with the catalogue ----------------------------------------------------------

/// Resolves a period token at the service clock's "now" in the studio's offset, exactly
/// as the tools do (`tools::resolve::period`): an absent or blank token is `default`.
///
/// # Errors
/// 400 naming `period` for anything that is not a period token.
pub(super) fn resolve_period(
    state: &ApiState,
    token: Option<&str>,
    default: Period,
) -> Result<ResolvedPeriod, ApiError> {
    Period::parse_or(token, default)
        .map_err(|e| ApiError::bad("period", e.to_string()))?
        .resolve(state.clock.now(), state.studio.utc_offset)
        .map_err(|e| ApiError::bad("period", e.to_string()))
}

/// A period for figures, cut at now when still running — the tools'
/// `tools::resolve::period_to_date`.
///
/// # Errors
/// As [`resolve_period`].
pub(super) fn figures_period(
    state: &ApiState,
    token: Option<&str>,
    default: Period,
) -> Result<ResolvedPeriod, ApiError> {
    Ok(resolve_period(state, token, default)?.to_date(state.clock.now()))
}

/// An optional id in the query string.
///
/// # Errors
/// 400 naming `field` when the value is not a 24-hex-digit id.
pub(super) fn query_id(field: &str, raw: Option<&str>) -> Result<Option<ObjectId>, ApiError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => ObjectId::parse_str(r).map(Some).map_err(|_| {
            ApiError::bad(
                field,
                format!(
                    "{:?} is not an id (24 hexadecimal digits)",
                    r.chars().take(40).collect::<String>()
                ),
            )
        }),
    }
}

/// An optional course named by id in the query string (`course_id`).
///
/// # Errors
/// 400 for something that is not an id, 404 for no such course.
pub(super) async fn query_course(
    state: &ApiState,
    raw: Option<&str>,
) -> Result<Option<crate::domain::Course>, ApiError> {
    let Some(id) = query_id("course_id", raw)? else {
        return Ok(None);
    };
    state
        .store
        .reader()
        .course_by_id(id)
        .await?
        .map(Some)
        .ok_or_else(|| ApiError::NotFound(format!("no course has the id {id}")))
}

/// An optional whole number in the query string, within `range`.
///
/// # Errors
/// 400 naming `field`.
pub(super) fn query_number(
    field: &str,
    raw: Option<&str>,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Option<u32>, ApiError> {
    let Some(r) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    match r.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::bad(
            field,
            format!(
                "{:?}: use a whole number from {} to {}",
                r.chars().take(20).collect::<String>(),
                range.start(),
                range.end()
            ),
        )),
    }
}

fn query_bool(field: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw.map(str::trim) {
        None | Some("" | "false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad(field, "use true or false")),
    }
}

/// The period a figure covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    /// The canonical token ("this_month", "2026-10", "2026-10-01..2026-10-15").
    pub period: String,
    /// As people write it: "1–25 Nov 2026".
    pub period_label: String,
    /// The first instant covered (UTC).
    pub from: DateTime<Utc>,
    /// The end, exclusive (UTC): "now" for a period still running.
    pub to: DateTime<Utc>,
}

impl From<&ResolvedPeriod> for PeriodView {
    fn from(p: &ResolvedPeriod) -> Self {
        Self {
            period: p.period.token(),
            period_label: p.label(),
            from: p.start,
            to: p.end,
        }
    }
}

// --- revenue ------------------------------------------------------------------------------

/// How to break revenue down.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RevenueBy {
    Course,
    Method,
}

/// Revenue query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevenueQuery {
    /// today, yesterday, this_week, last_week, this_month, last_month, this_year,
    /// last_year, last_N_days, YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD
    /// (default this_month, also when blank; a running period is cut at now).
    #[param(
        example = "this_month",
        pattern = "^(|today|tomorrow|yesterday|this_week|last_week|next_week|this_month|last_month|this_year|last_year|(last|next)_([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)_days|20[0-9]{2}-(0[1-9]|1[0-2])|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(\\.\\.20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?)$"
    )]
    pub period: Option<String>,
    /// Break the total down by course or by payment method.
    #[param(inline, value_type = Option<RevenueBy>)]
    pub by: Option<String>,
    /// Also give the previous period (the same stretch of the month, week or year before).
    #[param(value_type = Option<bool>)]
    pub compare: Option<String>,
}

/// One line of a breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueLineView {
    /// The course name or the payment method.
    pub key: String,
    pub total_minor: i64,
    pub payments: u64,
}

impl From<&RevenueLine> for RevenueLineView {
    fn from(l: &RevenueLine) -> Self {
        Self {
            key: l.key.clone(),
            total_minor: l.total_minor,
            payments: l.payments,
        }
    }
}

/// Revenue of the previous period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviousRevenue {
    pub period_label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total_minor: i64,
    pub payments: u64,
    /// Largest first; empty without `by`.
    pub breakdown: Vec<RevenueLineView>,
    /// The change to this period in percent, one decimal; absent when the previous
    /// period had no revenue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_percent: Option<f64>,
}

/// Revenue: payments with status paid whose `paid_at` is in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueFigures {
    pub period: String,
    pub period_label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// In minor units (paise, cents) of `currency`.
    pub total_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    pub payments: u64,
    /// Largest first; empty without `by`.
    pub breakdown: Vec<RevenueLineView>,
    /// With `compare=true` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousRevenue>,
}

fn change_percent(now: i64, before: i64) -> Option<f64> {
    if before == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let pct = (now - before) as f64 * 100.0 / before as f64;
    Some((pct * 10.0).round() / 10.0)
}

/// Revenue in a period, optionally by course or payment method and compared with the
/// previous period (manager or admin). The numbers of the Dashboard Agent's `revenue` tool.
#[utoipa::path(get, path = "/api/analytics/revenue", tag = "analytics", params(RevenueQuery),
    responses((status = 200, body = RevenueFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
async fn revenue(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<RevenueQuery>, ApiError>,
) -> Result<Json<RevenueFigures>, ApiError> {
    user.require(Role::Manager)?;
    // The role is checked before the query: a caller who may not ask learns nothing.
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::ThisMonth)?;
    let by = match q.by.as_deref().map(str::trim) {
        None | Some("") => RevenueBreakdown::None,
        Some("course") => RevenueBreakdown::Course,
        Some("method") => RevenueBreakdown::Method,
        Some(_) => {
            return Err(ApiError::bad(
                "by",
                "break revenue down by course or method",
            ))
        }
    };
    let compare = query_bool("compare", q.compare.as_deref())?;
    let currency = state.studio.currency;
    let (now, previous): (RevenueReport, Option<(ResolvedPeriod, RevenueReport)>) = if compare {
        let prev = period.previous();
        let (now, before) = state
            .store
            .reader()
            .revenue_compared(&period, &prev, by, currency)
            .await?;
        (now, Some((prev, before)))
    } else {
        (
            state.store.reader().revenue(&period, by, currency).await?,
            None,
        )
    };
    let view = PeriodView::from(&period);
    Ok(Json(RevenueFigures {
        period: view.period,
        period_label: view.period_label,
        from: view.from,
        to: view.to,
        total_minor: now.total_minor,
        currency: now.currency.code().to_owned(),
        payments: now.payments,
        breakdown: now.breakdown.iter().map(RevenueLineView::from).collect(),
        previous: previous.map(|(p, r)| PreviousRevenue {
            period_label: p.label(),
            from: p.start,
            to: p.end,
            total_minor: r.total_minor,
            payments: r.payments,
            breakdown: r.breakdown.iter().map(RevenueLineView::from).collect(),
            change_percent: change_percent(now.total_minor, r.total_minor),
        }),
    }))
}

// --- clients ------------------------------------------------------------------------------

/// Clients query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientsQuery {
    /// A period token for new clients (default this_month, also when blank; a running
    /// period is cut at now).
    #[param(
        example = "this_month",
        pattern = "^(|today|tomorrow|yesterday|this_week|last_week|next_week|this_month|last_month|this_year|last_year|(last|next)_([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)_days|20[0-9]{2}-(0[1-9]|1[0-2])|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(\\.\\.20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?)$"
    )]
    pub period: Option<String>,
    /// Days without a visit that make a client inactive (1 to 3660, default 30).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660)]
    pub inactive_days: Option<String>,
}

/// A client in a short list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientBriefView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub joined_at: DateTime<Utc>,
}

impl From<&ClientBrief> for ClientBriefView {
    fn from(c: &ClientBrief) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            joined_at: c.joined_at,
        }
    }
}

/// A client who stopped coming.
#[derive(Debug, Serialize, ToSchema)]
pub struct InactiveBriefView {
    pub name: String,
    pub email: String,
    /// Absent when the client never came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_visit_at: Option<DateTime<Utc>>,
}

impl From<&InactiveBrief> for InactiveBriefView {
    fn from(c: &InactiveBrief) -> Self {
        Self {
            name: c.name.clone(),
            email: c.email.clone(),
            last_visit_at: c.last_visit_at,
        }
    }
}

/// Clients and leads (not deleted) by their status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientStatusView {
    /// `active + leads + inactive`.
    pub total: u64,
    pub active: u64,
    /// Enquired, never bought.
    pub leads: u64,
    /// Marked inactive in the studio's records (not the same as `inactive_clients`,
    /// which counts days without a visit).
    pub inactive: u64,
}

/// New clients in a period and clients who have stopped coming.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientFigures {
    pub period: String,
    pub period_label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Every client and lead now, by status.
    pub by_status: ClientStatusView,
    /// Clients and leads (not deleted) who joined in the period.
    pub new_clients: u64,
    /// The same count for the previous period.
    pub new_clients_previous: u64,
    pub previous_period_label: String,
    /// Up to ten, newest first.
    pub newest: Vec<ClientBriefView>,
    pub inactive_days: u32,
    /// Clients (not leads) with no visit in the last `inactive_days` days.
    pub inactive_clients: u64,
    /// Up to ten, longest absent first.
    pub longest_absent: Vec<InactiveBriefView>,
}

/// Clients by status now, new clients in a period (with the previous period's count) and
/// inactive clients (manager or admin). The numbers of the `client_summary`,
/// `new_clients` and `inactive_clients` tools.
#[utoipa::path(get, path = "/api/analytics/clients", tag = "analytics", params(ClientsQuery),
    responses((status = 200, body = ClientFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 429, body = Problem)))]
async fn clients(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<ClientsQuery>, ApiError>,
) -> Result<Json<ClientFigures>, ApiError> {
    user.require(Role::Manager)?;
    // The role is checked before the query: a caller who may not ask learns nothing.
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::ThisMonth)?;
    let days = query_number("inactive_days", q.inactive_days.as_deref(), 1..=3660)?.unwrap_or(30);
    let previous = period.previous();
    let reader = state.store.reader();
    let (joined, joined_before, inactive, summary) = futures::try_join!(
        reader.new_clients(&period),
        reader.new_clients(&previous),
        reader.inactive_clients(state.clock.now(), days),
        reader.client_summary(&period),
    )?;
    let view = PeriodView::from(&period);
    Ok(Json(ClientFigures {
        period: view.period,
        period_label: view.period_label,
        from: view.from,
        to: view.to,
        by_status: ClientStatusView {
            total: summary.total,
            active: summary.active,
            leads: summary.leads,
            inactive: summary.inactive,
        },
        new_clients: joined.count,
        new_clients_previous: joined_before.count,
        previous_period_label: previous.label(),
        newest: joined.sample.iter().map(ClientBriefView::from).collect(),
        inactive_days: days,
        inactive_clients: inactive.count,
        longest_absent: inactive
            .sample
            .iter()
            .map(InactiveBriefView::from)
            .collect(),
    }))
}

// --- top clients --------------------------------------------------------------------------

/// What clients are ranked by.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RankBy {
    /// Paid payments in the period.
    Spend,
    /// Classes attended (present or late) in the period.
    Attendance,
}

/// Top clients query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopClientsQuery {
    /// A period token (default this_month, also when blank; a running period is cut at now).
    #[param(
        example = "this_month",
        pattern = "^(|today|tomorrow|yesterday|this_week|last_week|next_week|this_month|last_month|this_year|last_year|(last|next)_([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)_days|20[0-9]{2}-(0[1-9]|1[0-2])|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(\\.\\.20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?)$"
    )]
    pub period: Option<String>,
    /// spend (default: paid payments in the period) or attendance (classes attended).
    #[param(inline, value_type = Option<RankBy>)]
    pub by: Option<String>,
    /// How many clients: 1 to 20 (default 5).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 20)]
    pub limit: Option<String>,
}

/// One client of the ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopClientView {
    /// 1 + how many clients rank above: tied clients share a rank (1, 2, 2, 4).
    pub rank: u64,
    pub client_id: String,
    pub name: String,
    /// Spend: paid in minor units of `currency`; attendance: classes attended.
    pub value: i64,
    /// Spend: payments; attendance: classes.
    pub count: u64,
    /// Another client, shown or not, has the same value.
    pub tied: bool,
}

impl From<&TopClientLine> for TopClientView {
    fn from(l: &TopClientLine) -> Self {
        Self {
            rank: l.rank,
            client_id: l.id.clone(),
            name: l.name.clone(),
            value: l.value,
            count: l.count,
            tied: l.tied,
        }
    }
}

/// The clients who spent most, or came to most classes, in a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopClientsFigures {
    pub period: String,
    pub period_label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[schema(inline)]
    pub by: RankBy,
    /// ISO 4217 code of the spend values.
    pub currency: String,
    /// Clients with any spend (attendance) in the period.
    pub clients: u64,
    /// Highest first.
    pub top: Vec<TopClientView>,
    /// Clients tied with the last one shown who did not fit in `limit`.
    pub tied_beyond: u64,
}

/// The top clients of a period by spend (paid payments) or attendance (classes attended),
/// with ties marked (manager or admin: it names clients). The numbers of the
/// `top_clients` tool.
#[utoipa::path(get, path = "/api/analytics/top-clients", tag = "analytics", params(TopClientsQuery),
    responses((status = 200, body = TopClientsFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
async fn top_clients(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<TopClientsQuery>, ApiError>,
) -> Result<Json<TopClientsFigures>, ApiError> {
    user.require(Role::Manager)?;
    // The role is checked before the query: a caller who may not ask learns nothing.
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::ThisMonth)?;
    let (by, rank_by) = match q.by.as_deref().map(str::trim) {
        None | Some("" | "spend") => (TopClientsBy::Spend, RankBy::Spend),
        Some("attendance") => (TopClientsBy::Attendance, RankBy::Attendance),
        Some(_) => return Err(ApiError::bad("by", "rank clients by spend or attendance")),
    };
    let most = u32::try_from(MAX_TOP_CLIENTS).unwrap_or(u32::MAX);
    let limit = query_number("limit", q.limit.as_deref(), 1..=most)?.unwrap_or(5);
    let report = state
        .store
        .reader()
        .top_clients(
            &period,
            by,
            usize::try_from(limit).unwrap_or(MAX_TOP_CLIENTS),
            state.studio.currency,
        )
        .await?;
    let view = PeriodView::from(&period);
    Ok(Json(TopClientsFigures {
        period: view.period,
        period_label: view.period_label,
        from: view.from,
        to: view.to,
        by: rank_by,
        currency: report.currency.code().to_owned(),
        clients: report.clients,
        top: report.lines.iter().map(TopClientView::from).collect(),
        tied_beyond: report.tied_beyond,
    }))
}

// --- courses ------------------------------------------------------------------------------

/// A period-only query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// A period token (default this_month, also when blank; a running period is cut at now).
    #[param(
        example = "this_month",
        pattern = "^(|today|tomorrow|yesterday|this_week|last_week|next_week|this_month|last_month|this_year|last_year|(last|next)_([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)_days|20[0-9]{2}-(0[1-9]|1[0-2])|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(\\.\\.20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?)$"
    )]
    pub period: Option<String>,
}

/// Enrollments of one course.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentView {
    pub course: String,
    /// Orders (not cancelled) created in the period.
    pub orders: u64,
    /// Distinct clients among those orders.
    pub active_clients: u64,
}

impl From<&EnrollmentLine> for EnrollmentView {
    fn from(l: &EnrollmentLine) -> Self {
        Self {
            course: l.course.clone(),
            orders: l.orders,
            active_clients: l.active_clients,
        }
    }
}

/// Fill rate of one course's classes.
#[derive(Debug, Serialize, ToSchema)]
pub struct FillLineView {
    pub course: String,
    /// The instructors who taught, alphabetical, comma-separated.
    pub instructor: String,
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    /// Attended seats over capacity, in percent, one decimal.
    pub percent: f64,
}

impl From<&FillLine> for FillLineView {
    fn from(l: &FillLine) -> Self {
        Self {
            course: l.course.clone(),
            instructor: l.instructor.clone(),
            classes: l.classes,
            seats: l.seats,
            attended: l.attended,
            percent: l.percent,
        }
    }
}

/// How full the (not cancelled) classes of the period were.
#[derive(Debug, Serialize, ToSchema)]
pub struct FillRateView {
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    pub percent: f64,
    /// Fullest first.
    pub by_course: Vec<FillLineView>,
}

/// Course enrollment and class fill rate in a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseFigures {
    pub period: String,
    pub period_label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Most orders first.
    pub enrollment: Vec<EnrollmentView>,
    pub fill_rate: FillRateView,
}

/// Courses ranked by enrollments (orders not cancelled, created in the period) and the
/// fill rate of their classes (manager or admin). The numbers of the `course_enrollment`
/// (with a period) and `class_fill_rate` tools.
#[utoipa::path(get, path = "/api/analytics/courses", tag = "analytics", params(PeriodQuery),
    responses((status = 200, body = CourseFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 429, body = Problem)))]
async fn courses(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<PeriodQuery>, ApiError>,
) -> Result<Json<CourseFigures>, ApiError> {
    user.require(Role::Manager)?;
    // The role is checked before the query: a caller who may not ask learns nothing.
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::ThisMonth)?;
    let reader = state.store.reader();
    let (ranking, fill) = futures::try_join!(
        reader.course_enrollment(Some(&period)),
        reader.class_fill_rate(&period, None),
    )?;
    let view = PeriodView::from(&period);
    Ok(Json(CourseFigures {
        period: view.period,
        period_label: view.period_label,
        from: view.from,
        to: view.to,
        enrollment: ranking.iter().map(EnrollmentView::from).collect(),
        fill_rate: FillRateView {
            classes: fill.classes,
            seats: fill.seats,
            attended: fill.attended,
            percent: fill.percent,
            by_course: fill.by_course.iter().map(FillLineView::from).collect(),
        },
    }))
}

// --- attendance ---------------------------------------------------------------------------

/// Attendance query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttendanceQuery {
    /// A period token (default this_month, also when blank; a running period is cut at now).
    #[param(
        example = "last_30_days",
        pattern = "^(|today|tomorrow|yesterday|this_week|last_week|next_week|this_month|last_month|this_year|last_year|(last|next)_([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)_days|20[0-9]{2}-(0[1-9]|1[0-2])|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(\\.\\.20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?)$"
    )]
    pub period: Option<String>,
    /// Only this course (its id, 24 hexadecimal digits).
    #[param(example = "6650a1b2c3d4e5f607182930", pattern = "^([0-9a-fA-F]{24})?$")]
    pub course_id: Option<String>,
}

/// Attendance of one course.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceLineView {
    pub course: String,
    pub attended: u64,
    pub total: u64,
    pub percent: f64,
}

impl From<&AttendanceLine> for AttendanceLineView {
    fn from(l: &AttendanceLine) -> Self {
        Self {
            course: l.course.clone(),
            attended: l.attended,
            total: l.total,
            percent: l.percent,
        }
    }
}

/// Attendance records of classes that started in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceFigures {
    pub period: String,
    pub period_label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// With `course_id` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course_id: Option<String>,
    /// With `course_id` only: the course's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course: Option<String>,
    /// Present or late.
    pub attended: u64,
    /// All records (present, late, absent, …).
    pub total: u64,
    /// `attended / total` in percent, one decimal; 0 without records.
    pub percent: f64,
    /// Highest rate first.
    pub by_course: Vec<AttendanceLineView>,
}

/// Attendance (present or late out of all records) in a period, overall and by course,
/// or for one course (manager or admin). The numbers of the `attendance_rate` tool.
#[utoipa::path(get, path = "/api/analytics/attendance", tag = "analytics", params(AttendanceQuery),
    responses((status = 200, body = AttendanceFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
async fn attendance(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<AttendanceQuery>, ApiError>,
) -> Result<Json<AttendanceFigures>, ApiError> {
    user.require(Role::Manager)?;
    // The role is checked before the query: a caller who may not ask learns nothing.
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::ThisMonth)?;
    let course = query_course(&state, q.course_id.as_deref()).await?;
    let report = state
        .store
        .reader()
        .attendance_rate(&period, course.as_ref().map(|c| c.id))
        .await?;
    let view = PeriodView::from(&period);
    Ok(Json(AttendanceFigures {
        period: view.period,
        period_label: view.period_label,
        from: view.from,
        to: view.to,
        course_id: course.as_ref().map(|c| c.id.to_hex()),
        course: course.map(|c| c.name),
        attended: report.attended,
        total: report.total,
        percent: report.percent,
        by_course: report
            .by_course
            .iter()
            .map(AttendanceLineView::from)
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_checked_and_named() {
        assert_eq!(
            query_number("inactive_days", Some(" 45 "), 1..=3660).unwrap(),
            Some(45)
        );
        assert_eq!(query_number("inactive_days", None, 1..=3660).unwrap(), None);
        for bad in ["0", "3661", "-1", "x", "1.5"] {
            assert!(query_number("inactive_days", Some(bad), 1..=3660).is_err());
        }
        assert!(query_bool("compare", Some("true")).unwrap());
        assert!(query_bool("compare", Some("1")).is_err());
        assert!(!query_bool("compare", None).unwrap());
        assert!(query_bool("compare", Some("yes")).is_err());
        assert!(query_id("course_id", Some("zz")).is_err());
        assert_eq!(query_id("course_id", Some(" ")).unwrap(), None);
        assert_eq!(change_percent(150, 100), Some(50.0));
        assert_eq!(change_percent(1, 3), Some(-66.7));
        assert_eq!(change_percent(5, 0), None);
    }
}
