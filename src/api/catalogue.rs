//! The catalogue: courses and their scheduled classes (any authenticated role), and
//! course changes (managers and admins).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analytics::{query_id, query_number, resolve_period};
use super::{ApiError, ApiState, AuthUser, IdPath, JsonBody, Problem, QueryParams};
use crate::domain::{
    format_minor, ClassSession, Course, CourseCategory, CourseLevel, Money, Period, WeeklySlot,
};
use crate::store::CourseChanges;
use crate::tools::Role;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(list_courses))
        .routes(routes!(get_course, change_course))
        .routes(routes!(list_classes));
    super::docs::document_problems(router.get_openapi_mut());
    router
}

/// The most classes one request lists.
pub const MAX_CLASSES: u32 = 200;

/// One weekly slot of a course's timetable, in the studio's local time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    /// Mon, Tue, Wed, Thu, Fri, Sat or Sun.
    pub weekday: String,
    /// HH:MM, local time.
    pub start: String,
    pub minutes: u32,
}

impl From<&WeeklySlot> for SlotView {
    fn from(s: &WeeklySlot) -> Self {
        Self {
            weekday: s.weekday.to_string(),
            start: s.start.format("%H:%M").to_string(),
            minutes: s.minutes,
        }
    }
}

/// A course the studio sells.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseView {
    pub id: String,
    pub name: String,
    /// yoga, pilates, strength, dance, meditation or other.
    pub category: String,
    /// beginner, intermediate, advanced or all.
    pub level: String,
    /// The price in minor units (paise, cents) of `currency`.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The price as people read it ("₹2,500.00").
    pub price: String,
    pub instructor: String,
    /// Places per class.
    pub capacity: u32,
    pub schedule: Vec<SlotView>,
    pub description: String,
}

fn level(l: CourseLevel) -> &'static str {
    match l {
        CourseLevel::Beginner => "beginner",
        CourseLevel::Intermediate => "intermediate",
        CourseLevel::Advanced => "advanced",
        CourseLevel::All => "all",
    }
}

impl From<&Course> for CourseView {
    fn from(c: &Course) -> Self {
        Self {
            id: c.id.to_hex(),
            name: c.name.clone(),
            category: c.category.as_str().to_owned(),
            level: level(c.level).to_owned(),
            price_minor: c.price.minor(),
            currency: c.price.currency().code().to_owned(),
            price: format_minor(c.price.minor(), c.price.currency()),
            instructor: c.instructor.clone(),
            capacity: c.capacity,
            schedule: c.schedule.iter().map(SlotView::from).collect(),
            description: c.description.clone(),
        }
    }
}

/// What to change of a course; a field left out stays as it is. Orders already made
/// keep the price they were made at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseChangesBody {
    /// 1 to 80 characters, unique (ignoring case).
    pub name: Option<String>,
    pub description: Option<String>,
    /// The new price in minor units of the studio's currency.
    pub price_minor: Option<i64>,
    /// Places per class, at least 1.
    pub capacity: Option<u32>,
    pub instructor: Option<String>,
    /// beginner, intermediate, advanced or all.
    pub level: Option<String>,
    /// yoga, pilates, strength, dance, meditation or other.
    pub category: Option<String>,
}

fn one_of<T: serde::de::DeserializeOwned>(
    field: &'static str,
    value: &str,
    choices: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.trim().to_lowercase()))
        .map_err(|_| ApiError::invalid(field, format!("{value:?} is not one of {choices}")))
}

/// Change a course (managers and admins): its name, description, price, capacity,
/// instructor, level or category. Every instance quotes the change at once; upcoming
/// classes take the new name and instructor (the calendar follows); the change is audited.
#[utoipa::path(patch, path = "/api/courses/{course_id}", tag = "catalogue", request_body = CourseChangesBody,
    params(("course_id" = String, Path, description = "The course's id (24 hexadecimal digits)")),
    responses(
        (status = 200, body = CourseView),
        (status = 400, body = Problem, description = "Not JSON, or an unknown field"),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Below manager"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Another course has that name"),
        (status = 422, body = Problem, description = "An invalid field, named in `field`, or nothing to change"),
        (status = 429, body = Problem)))]
async fn change_course(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    id: Result<IdPath, ApiError>,
    body: Result<JsonBody<CourseChangesBody>, ApiError>,
) -> Result<Json<CourseView>, ApiError> {
    user.require(Role::Manager)?;
    let IdPath(id) = id?;
    let b = body?.0;
    if b.name.is_none()
        && b.description.is_none()
        && b.price_minor.is_none()
        && b.capacity.is_none()
        && b.instructor.is_none()
        && b.level.is_none()
        && b.category.is_none()
    {
        return Err(ApiError::invalid(
            "body",
            "name at least one of name, description, price_minor, capacity, instructor, level, category",
        ));
    }
    let changes = CourseChanges {
        name: b.name,
        description: b.description,
        price: b
            .price_minor
            .map(|minor| {
                if minor < 0 {
                    return Err(ApiError::invalid("price_minor", "a price is not negative"));
                }
                Money::new(minor, state.studio.currency).map_err(ApiError::from)
            })
            .transpose()?,
        capacity: b.capacity,
        instructor: b.instructor,
        level: b
            .level
            .map(|l| one_of::<CourseLevel>("level", &l, "beginner, intermediate, advanced, all"))
            .transpose()?,
        category: b
            .category
            .map(|c| {
                one_of::<CourseCategory>(
                    "category",
                    &c,
                    "yoga, pilates, strength, dance, meditation, other",
                )
            })
            .transpose()?,
    };
    let course = state
        .store_for(&user, "PATCH /api/courses/{course_id}")
        .patch_course(id, &changes, state.clock.now())
        .await?;
    Ok(Json(CourseView::from(&course)))
}

/// The catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseList {
    /// By name.
    pub items: Vec<CourseView>,
}

/// Every course, by name (any authenticated role).
#[utoipa::path(get, path = "/api/courses", tag = "catalogue",
    responses((status = 200, body = CourseList), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn list_courses(
    State(state): State<Arc<ApiState>>,
    _user: AuthUser,
) -> Result<Json<CourseList>, ApiError> {
    let courses = state.store.all_courses().await?;
    Ok(Json(CourseList {
        items: courses.iter().map(CourseView::from).collect(),
    }))
}

/// One course (any authenticated role).
#[utoipa::path(get, path = "/api/courses/{course_id}", tag = "catalogue",
    params(("course_id" = String, Path, description = "The course's id (24 hexadecimal digits)")),
    responses((status = 200, body = CourseView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
async fn get_course(
    State(state): State<Arc<ApiState>>,
    _user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<CourseView>, ApiError> {
    let course = state
        .store
        .course_by_id(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no course has the id {id}")))?;
    Ok(Json(CourseView::from(&course)))
}

/// Classes query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClassesQuery {
    /// today, tomorrow, this_week, next_week, next_N_days, YYYY-MM-DD,
    /// YYYY-MM-DD..YYYY-MM-DD, … (default this_week, the whole week, also when blank).
    #[param(
        example = "this_week",
        pattern = "^(|today|tomorrow|yesterday|this_week|last_week|next_week|this_month|last_month|this_year|last_year|(last|next)_([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)_days|20[0-9]{2}-(0[1-9]|1[0-2])|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(\\.\\.20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?)$"
    )]
    pub period: Option<String>,
    /// Only this course (its id, 24 hexadecimal digits).
    #[param(example = "6650a1b2c3d4e5f607182930", pattern = "^([0-9a-fA-F]{24})?$")]
    pub course_id: Option<String>,
    /// At most this many classes (1 to 200, default 200).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

/// One class: a session of a course.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassView {
    pub id: String,
    pub course_id: String,
    pub course_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub instructor: String,
    pub room: String,
    pub capacity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl From<&ClassSession> for ClassView {
    fn from(c: &ClassSession) -> Self {
        Self {
            id: c.id.to_hex(),
            course_id: c.course_id.to_hex(),
            course_name: c.course_name.clone(),
            starts_at: c.starts_at(),
            ends_at: c.ends_at(),
            instructor: c.instructor.clone(),
            room: c.room.clone(),
            capacity: c.capacity,
            notes: c.notes.clone(),
        }
    }
}

/// The classes of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassList {
    /// The canonical period token.
    pub period: String,
    /// "23–29 Nov 2026".
    pub period_label: String,
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
    /// Earliest first; cancelled classes are left out.
    pub items: Vec<ClassView>,
    /// More classes matched than `limit`.
    pub truncated: bool,
}

/// The (not cancelled) classes of a period, earliest first, optionally of one course
/// (any authenticated role). At most 200 per request.
#[utoipa::path(get, path = "/api/classes", tag = "catalogue", params(ClassesQuery),
    responses((status = 200, body = ClassList), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 429, body = Problem)))]
async fn list_classes(
    State(state): State<Arc<ApiState>>,
    _user: AuthUser,
    query: Result<QueryParams<ClassesQuery>, ApiError>,
) -> Result<Json<ClassList>, ApiError> {
    let q = query?.0;
    let period = resolve_period(&state, q.period.as_deref(), Period::ThisWeek)?;
    let limit = query_number("limit", q.limit.as_deref(), 1..=MAX_CLASSES)?.unwrap_or(MAX_CLASSES);
    let course_id = query_id("course_id", q.course_id.as_deref())?;
    if let Some(id) = course_id {
        if state.store.course_by_id(id).await?.is_none() {
            return Err(ApiError::NotFound(format!("no course has the id {id}")));
        }
    }
    let mut classes = state
        .store
        .classes_between(period.start, period.end, course_id, i64::from(limit) + 1)
        .await?;
    let truncated = classes.len() > limit as usize;
    classes.truncate(limit as usize);
    Ok(Json(ClassList {
        period: period.period.token(),
        period_label: period.label(),
        from: period.start,
        to: period.end,
        items: classes.iter().map(ClassView::from).collect(),
        truncated,
    }))
}
