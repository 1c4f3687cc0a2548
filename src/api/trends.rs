//! The rest of the Dashboard Agent's figures over REST, from the same store functions and
//! with the same period tokens: retention, the outstanding balance, fill rates by course
//! and instructor, revenue per month and new clients per week. A running period says so
//! (`running`, a label "… so far (to 15:30)"), and a month or week the period covers only
//! in part is marked `partial`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analytics::{figures_period, query_course, query_number, PeriodQuery, PeriodView};
use super::{ApiError, ApiState, AuthUser, Problem, QueryParams};
use crate::domain::{Period, ResolvedPeriod};
use crate::store::{FillLine, InstructorFillLine};
use crate::tools::Role;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(retention))
        .routes(routes!(outstanding))
        .routes(routes!(fill_rate))
        .routes(routes!(revenue_months))
        .routes(routes!(new_clients_weekly));
    super::docs::document_problems(router.get_openapi_mut());
    router
}

/// A period and whether it is still running.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanView {
    /// The canonical token ("this_month", "2026-10", "2026-10-01..2026-10-15").
    pub period: String,
    /// As people write it; a running period says so: "1–25 Nov 2026 so far (to 15:30)".
    pub period_label: String,
    pub from: DateTime<Utc>,
    /// The end, exclusive: "now" for a running period.
    pub to: DateTime<Utc>,
    /// Cut at now (its figures are so far).
    pub running: bool,
}

impl From<&ResolvedPeriod> for SpanView {
    fn from(p: &ResolvedPeriod) -> Self {
        let view = PeriodView::from(p);
        Self {
            period: view.period,
            period_label: view.period_label,
            from: view.from,
            to: view.to,
            running: p.is_running(),
        }
    }
}

// --- retention ----------------------------------------------------------------------------

/// Retention: of the clients who came in the previous period, how many came again.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionFigures {
    #[serde(flatten)]
    pub span: SpanView,
    /// The period compared with: the same stretch before (to the same time, when running).
    pub previous: SpanView,
    /// Clients who attended in the previous period.
    pub previous_active: u64,
    /// Of them, those who attended again in this period.
    pub retained: u64,
    /// `retained / previous_active` in percent, one decimal; 0 when nobody came before.
    pub percent: f64,
}

/// Retention in a period against the period before (manager or admin). The numbers of
/// the `retention` tool.
#[utoipa::path(get, path = "/api/analytics/retention", tag = "analytics", params(PeriodQuery),
    responses((status = 200, body = RetentionFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 429, body = Problem)))]
async fn retention(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<PeriodQuery>, ApiError>,
) -> Result<Json<RetentionFigures>, ApiError> {
    user.require(Role::Manager)?;
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::ThisMonth)?;
    let previous = period.previous();
    let r = state.store.reader().retention(&period, &previous).await?;
    Ok(Json(RetentionFigures {
        span: SpanView::from(&period),
        previous: SpanView::from(&previous),
        previous_active: r.previous_active,
        retained: r.retained,
        percent: r.percent,
    }))
}

// --- outstanding ----------------------------------------------------------------------------

/// Money owed now.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutstandingFigures {
    /// When the figures were read.
    pub as_of: DateTime<Utc>,
    pub currency: String,
    /// Every pending payment.
    pub pending_minor: i64,
    pub pending_count: u64,
    /// Of them, those past their due date.
    pub overdue_minor: i64,
    pub overdue_count: u64,
}

/// The outstanding balance: pending payments and, of them, the overdue (manager or
/// admin). The numbers of the `outstanding_balance` tool.
#[utoipa::path(get, path = "/api/analytics/outstanding", tag = "analytics",
    responses((status = 200, body = OutstandingFigures), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
async fn outstanding(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
) -> Result<Json<OutstandingFigures>, ApiError> {
    user.require(Role::Manager)?;
    let now = state.clock.now();
    let r = state
        .store
        .reader()
        .outstanding_balance(now, state.studio.currency)
        .await?;
    Ok(Json(OutstandingFigures {
        as_of: now,
        currency: r.currency.code().to_owned(),
        pending_minor: r.pending_minor,
        pending_count: r.pending_count,
        overdue_minor: r.overdue_minor,
        overdue_count: r.overdue_count,
    }))
}

// --- fill rate ----------------------------------------------------------------------------

/// Fill-rate query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FillQuery {
    /// A period token (default this_month, also when blank; a running period is cut at now).
    #[param(example = "last_month")]
    pub period: Option<String>,
    /// Only this course (its id, 24 hexadecimal digits).
    #[param(example = "6650a1b2c3d4e5f607182930", pattern = "^([0-9a-fA-F]{24})?$")]
    pub course_id: Option<String>,
}

/// One course's classes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseFillView {
    pub course: String,
    /// Who taught them, alphabetical, comma-separated (empty: nobody named).
    pub instructors: String,
    /// The classes the figure rests on.
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    pub percent: f64,
    /// Over enough classes (`min_to_rank`) to be called best or worst.
    pub ranked: bool,
}

/// One instructor's classes.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstructorFillView {
    /// Empty for classes with no instructor.
    pub instructor: String,
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    pub percent: f64,
    pub ranked: bool,
}

/// How full classes were.
#[derive(Debug, Serialize, ToSchema)]
pub struct FillFigures {
    #[serde(flatten)]
    pub span: SpanView,
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    /// `attended / seats` in percent, one decimal.
    pub percent: f64,
    /// The fewest classes a line needs to be ranked (`[studio] min_to_rank`).
    pub min_to_rank: u64,
    /// Fullest first, then by name.
    pub by_course: Vec<CourseFillView>,
    pub by_instructor: Vec<InstructorFillView>,
}

/// Fill rate (attendees over seats of the classes held) in a period, by course and by
/// instructor, each line with the classes it rests on (manager or admin). The numbers of
/// the `class_fill_rate` tool.
#[utoipa::path(get, path = "/api/analytics/fill-rate", tag = "analytics", params(FillQuery),
    responses((status = 200, body = FillFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
async fn fill_rate(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<FillQuery>, ApiError>,
) -> Result<Json<FillFigures>, ApiError> {
    user.require(Role::Manager)?;
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::ThisMonth)?;
    let course = query_course(&state, q.course_id.as_deref()).await?;
    let ids = course.as_ref().map(|c| vec![c.id]);
    let r = state
        .store
        .reader()
        .class_fill_rate_for(&period, ids.as_deref())
        .await?;
    let min = state.studio.min_to_rank;
    Ok(Json(FillFigures {
        span: SpanView::from(&period),
        classes: r.classes,
        seats: r.seats,
        attended: r.attended,
        percent: r.percent,
        min_to_rank: min,
        by_course: r
            .by_course
            .iter()
            .map(|l: &FillLine| CourseFillView {
                course: l.course.clone(),
                instructors: l.instructor.clone(),
                classes: l.classes,
                seats: l.seats,
                attended: l.attended,
                percent: l.percent,
                ranked: l.classes >= min,
            })
            .collect(),
        by_instructor: r
            .by_instructor
            .iter()
            .map(|l: &InstructorFillLine| InstructorFillView {
                instructor: l.instructor.clone(),
                classes: l.classes,
                seats: l.seats,
                attended: l.attended,
                percent: l.percent,
                ranked: l.classes >= min,
            })
            .collect(),
    }))
}

// --- revenue per month ------------------------------------------------------------------------

/// Monthly revenue query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthsQuery {
    /// The last N local months with this one (1 to 36, default 6); ignored with `period`.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 36)]
    pub months: Option<String>,
    /// A period token instead of `months`.
    #[param(example = "this_year")]
    pub period: Option<String>,
}

/// One month's paid revenue.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthView {
    /// "2026-11".
    pub month: String,
    pub total_minor: i64,
    /// The month is still running: its figure is so far, not whole.
    pub partial: bool,
}

/// The running month against the same stretch of the month before.
#[derive(Debug, Serialize, ToSchema)]
pub struct SameStretchView {
    /// "1–25 Nov 2026 so far (to 15:30)".
    pub period_label: String,
    pub total_minor: i64,
    /// "1–25 Oct 2026 to the same time (15:30)".
    pub previous_label: String,
    pub previous_total_minor: i64,
}

/// Paid revenue per local month.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueMonthsFigures {
    #[serde(flatten)]
    pub span: SpanView,
    pub currency: String,
    pub total_minor: i64,
    pub months: Vec<MonthView>,
    /// When the last month is still running: it against the same stretch before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_month: Option<SameStretchView>,
}

/// Revenue per month over the last N months or a period (manager or admin). The numbers
/// of the `revenue` tool with `by=month`.
#[utoipa::path(get, path = "/api/analytics/revenue/months", tag = "analytics", params(MonthsQuery),
    responses((status = 200, body = RevenueMonthsFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
async fn revenue_months(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<MonthsQuery>, ApiError>,
) -> Result<Json<RevenueMonthsFigures>, ApiError> {
    user.require(Role::Manager)?;
    let q = query?.0;
    let now = state.clock.now();
    let offset = state.studio.utc_offset;
    let token = match q.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => p.to_owned(),
        None => {
            let months = query_number("months", q.months.as_deref(), 1..=36)?.unwrap_or(6);
            Period::last_months(months, now, offset)
                .map_err(|e| ApiError::bad("months", e.to_string()))?
                .token()
        }
    };
    let period = figures_period(&state, Some(&token), Period::ThisMonth)?;
    let reader = state.store.reader();
    let months = reader
        .revenue_trend(period.start, period.end, offset)
        .await?;
    let running_key = period.running_month();
    let running = running_key
        .as_ref()
        .filter(|k| months.last().is_some_and(|(last, _)| last == *k));
    let running_month = match running.and(months.last()) {
        Some((_, so_far)) => {
            let this_month = Period::ThisMonth
                .resolve(now, offset)
                .map_err(|e| ApiError::bad("period", e.to_string()))?
                .to_date(now);
            let (before, then) = reader
                .same_stretch_before(&this_month, state.studio.currency)
                .await?;
            Some(SameStretchView {
                period_label: this_month.label(),
                total_minor: *so_far,
                previous_label: before.label(),
                previous_total_minor: then,
            })
        }
        None => None,
    };
    Ok(Json(RevenueMonthsFigures {
        span: SpanView::from(&period),
        currency: state.studio.currency.code().to_owned(),
        total_minor: months.iter().map(|(_, v)| v).sum(),
        months: months
            .iter()
            .map(|(month, total)| MonthView {
                partial: running.is_some_and(|k| k == month),
                month: month.clone(),
                total_minor: *total,
            })
            .collect(),
        running_month,
    }))
}

// --- new clients per week -------------------------------------------------------------------

/// New clients in one week.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekView {
    /// The local date the week starts (a Monday, or the period's first day).
    pub week_start: NaiveDate,
    pub count: u64,
    /// The period covers only part of the week (its first, or the one running).
    pub partial: bool,
}

/// Clients and leads who joined, per week.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeeklyClientsFigures {
    #[serde(flatten)]
    pub span: SpanView,
    pub total: u64,
    pub weeks: Vec<WeekView>,
}

/// New clients per local week (Monday to Sunday) in a period, default the last 84 days
/// (manager or admin). The numbers of the `new_clients` tool with `by=week`.
#[utoipa::path(get, path = "/api/analytics/new-clients/weekly", tag = "analytics", params(PeriodQuery),
    responses((status = 200, body = WeeklyClientsFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 429, body = Problem)))]
async fn new_clients_weekly(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    query: Result<QueryParams<PeriodQuery>, ApiError>,
) -> Result<Json<WeeklyClientsFigures>, ApiError> {
    user.require(Role::Manager)?;
    let q = query?.0;
    let period = figures_period(&state, q.period.as_deref(), Period::LastDays(84))?;
    let weeks = state
        .store
        .reader()
        .new_clients_by_week(&period, state.studio.utc_offset)
        .await?;
    Ok(Json(WeeklyClientsFigures {
        span: SpanView::from(&period),
        total: weeks.iter().map(|w| w.count).sum(),
        weeks: weeks
            .iter()
            .map(|w| WeekView {
                week_start: w.week_start,
                count: w.count,
                partial: period.partial_week(w.week_start).is_some(),
            })
            .collect(),
    }))
}
