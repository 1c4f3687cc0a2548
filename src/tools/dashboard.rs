//! The Dashboard Agent's tools: read-only figures, each from a MongoDB aggregation
//! pipeline in `store::analytics`, each answer naming the period it covers.

use schemars::JsonSchema;
use serde::Deserialize;

use super::resolve::{self, local_date};
use super::{erased, AgentKind, Role, Tool, ToolCtx, ToolDyn, ToolError, ToolOutput};
use crate::domain::{format_minor, Period};
use crate::store::RevenueBreakdown;

pub(super) fn all() -> Vec<Box<dyn ToolDyn>> {
    vec![
        erased::<Revenue>(),
        erased::<NewClients>(),
        erased::<CourseEnrollment>(),
        erased::<AttendanceRate>(),
        erased::<InactiveClients>(),
        erased::<OutstandingBalance>(),
        erased::<Retention>(),
        erased::<ClassFillRate>(),
    ]
}

fn managers(role: Role) -> bool {
    role >= Role::Manager
}

fn change(now: i64, before: i64) -> String {
    if before == 0 {
        return if now == 0 {
            "no change".into()
        } else {
            "up from nothing".into()
        };
    }
    let pct = (now - before) as f64 * 100.0 / before as f64;
    format!("{}{:.1}%", if pct >= 0.0 { "+" } else { "" }, pct)
}

async fn optional_course(
    ctx: &ToolCtx,
    typed: Option<&str>,
) -> Result<Option<crate::domain::Course>, ToolError> {
    match typed.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Ok(Some(resolve::course(ctx, c).await?)),
        None => Ok(None),
    }
}

// --- revenue ----------------------------------------------------------------------------

/// Revenue (paid payments) in a period.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevenueArgs {
    /// this_month, last_month, this_week, last_7_days, this_year, YYYY-MM, YYYY-MM-DD..YYYY-MM-DD (default this_month).
    #[serde(default)]
    pub period: Option<String>,
    /// Break down by "course" or "method".
    #[serde(default)]
    pub by: Option<String>,
    /// Compare with the previous period.
    #[serde(default)]
    pub compare: Option<bool>,
    /// Only this course.
    #[serde(default)]
    pub course: Option<String>,
}

pub struct Revenue;

impl Tool for Revenue {
    const NAME: &'static str = "revenue";
    const DESCRIPTION: &'static str = "Revenue from paid payments in a period, optionally by course or payment method, optionally compared with the previous period.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = RevenueArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, args: RevenueArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let course = optional_course(ctx, args.course.as_deref()).await?;
        let by = match args.by.as_deref().map(str::trim) {
            Some("course") => RevenueBreakdown::Course,
            Some("method") => RevenueBreakdown::Method,
            Some("") | None => {
                if course.is_some() {
                    RevenueBreakdown::Course
                } else {
                    RevenueBreakdown::None
                }
            }
            Some(other) => {
                return Err(ToolError::BadArgs(format!(
                    "revenue can be broken down by course or method, not {other:?}"
                )))
            }
        };
        let currency = ctx.studio.currency;
        let previous = period.previous();
        let (now, before) = ctx
            .store
            .revenue_compared(&period, &previous, by, currency)
            .await?;
        let pick = |r: &crate::store::RevenueReport| -> (i64, u64) {
            match &course {
                Some(c) => r
                    .breakdown
                    .iter()
                    .find(|l| l.key == c.name)
                    .map_or((0, 0), |l| (l.total_minor, l.payments)),
                None => (r.total_minor, r.payments),
            }
        };
        let (total, payments) = pick(&now);
        let (prev_total, _) = pick(&before);
        let scope = course
            .as_ref()
            .map(|c| format!(" from {}", c.name))
            .unwrap_or_default();
        let mut text = format!(
            "Revenue{scope} for {}: {} from {payments} payment{}.",
            period.label(),
            format_minor(total, now.currency),
            if payments == 1 { "" } else { "s" }
        );
        if args.compare.unwrap_or(false) || course.is_none() {
            text.push_str(&format!(
                " Previous period ({}): {} ({}).",
                previous.label(),
                format_minor(prev_total, now.currency),
                change(total, prev_total)
            ));
        }
        if course.is_none() && !now.breakdown.is_empty() {
            let lines: Vec<String> = now
                .breakdown
                .iter()
                .map(|l| {
                    format!(
                        "• {} — {} ({})",
                        l.key.replace('_', " "),
                        format_minor(l.total_minor, now.currency),
                        l.payments
                    )
                })
                .collect();
            text.push('\n');
            text.push_str(&lines.join("\n"));
        }
        let data = serde_json::json!({
            "period": period.label(), "period_token": period.period.token(),
            "total_minor": total, "payments": payments, "currency": now.currency.code(),
            "previous": { "period": previous.label(), "total_minor": prev_total },
            "breakdown": now.breakdown,
        });
        ToolOutput::new(&data, text)
    }
}

// --- new_clients ------------------------------------------------------------------------

/// Clients who joined in a period.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodArgs {
    /// A period token (default this_month).
    #[serde(default)]
    pub period: Option<String>,
}

pub struct NewClients;

impl Tool for NewClients {
    const NAME: &'static str = "new_clients";
    const DESCRIPTION: &'static str =
        "How many new clients joined in a period, with the newest names.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = PeriodArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, args: PeriodArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let report = ctx.store.new_clients(&period).await?;
        let previous = ctx.store.new_clients(&period.previous()).await?;
        let mut text = format!(
            "{} new client{} joined in {} (previous period: {}).",
            report.count,
            if report.count == 1 { "" } else { "s" },
            period.label(),
            previous.count
        );
        if !report.sample.is_empty() {
            let names: Vec<String> = report
                .sample
                .iter()
                .take(5)
                .map(|c| format!("{} ({})", c.name, local_date(ctx, c.joined_at)))
                .collect();
            text.push_str(&format!(" Newest: {}.", names.join(", ")));
        }
        ToolOutput::new(
            &serde_json::json!({ "period": period.label(), "count": report.count, "previous_count": previous.count, "sample": report.sample }),
            text,
        )
    }
}

// --- course_enrollment ------------------------------------------------------------------

/// Courses ranked by orders.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentArgs {
    /// A period token; leave out for all time.
    #[serde(default)]
    pub period: Option<String>,
}

pub struct CourseEnrollment;

impl Tool for CourseEnrollment {
    const NAME: &'static str = "course_enrollment";
    const DESCRIPTION: &'static str =
        "Courses ranked by enrollments (orders not cancelled), all time or in a period.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = EnrollmentArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, args: EnrollmentArgs) -> Result<ToolOutput, ToolError> {
        let period = match args
            .period
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            Some(p) => Some(resolve::period_to_date(ctx, Some(p), Period::ThisMonth)?),
            None => None,
        };
        let ranking = ctx.store.course_enrollment(period.as_ref()).await?;
        let label = period.as_ref().map_or("all time".to_owned(), |p| p.label());
        let text = match ranking.first() {
            None => format!("No enrollments for {label}."),
            Some(top) => {
                let lines: Vec<String> = ranking
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        format!(
                            "{}. {} — {} enrollments ({} clients)",
                            i + 1,
                            l.course,
                            l.orders,
                            l.active_clients
                        )
                    })
                    .collect();
                format!(
                    "{} has the highest enrollment ({label}): {} enrollments.\n{}",
                    top.course,
                    top.orders,
                    lines.join("\n")
                )
            }
        };
        ToolOutput::new(
            &serde_json::json!({ "period": label, "ranking": ranking }),
            text,
        )
    }
}

// --- attendance_rate --------------------------------------------------------------------

/// Attendance percentage in a period, optionally for one course.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoursePeriodArgs {
    /// A period token (default this_month).
    #[serde(default)]
    pub period: Option<String>,
    /// A course name, e.g. "Pilates".
    #[serde(default)]
    pub course: Option<String>,
}

pub struct AttendanceRate;

impl Tool for AttendanceRate {
    const NAME: &'static str = "attendance_rate";
    const DESCRIPTION: &'static str = "Attendance percentage (present or late out of all booked) in a period, by course or for one course.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = CoursePeriodArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, args: CoursePeriodArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let course = optional_course(ctx, args.course.as_deref()).await?;
        let report = ctx
            .store
            .attendance_rate(&period, course.as_ref().map(|c| c.id))
            .await?;
        let what = course
            .as_ref()
            .map_or("all classes".to_owned(), |c| format!("{} classes", c.name));
        let mut text = if report.total == 0 {
            format!(
                "No attendance was recorded for {what} in {}.",
                period.label()
            )
        } else {
            format!(
                "Attendance for {what} in {}: {:.1}% ({} of {} bookings attended).",
                period.label(),
                report.percent,
                report.attended,
                report.total
            )
        };
        if course.is_none() && report.by_course.len() > 1 {
            let lines: Vec<String> = report
                .by_course
                .iter()
                .map(|l| {
                    format!(
                        "• {} — {:.1}% ({}/{})",
                        l.course, l.percent, l.attended, l.total
                    )
                })
                .collect();
            text.push('\n');
            text.push_str(&lines.join("\n"));
        }
        ToolOutput::new(
            &serde_json::json!({ "period": period.label(), "course": course.map(|c| c.name), "report": report }),
            text,
        )
    }
}

// --- inactive_clients -------------------------------------------------------------------

/// Clients with no visit in N days.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InactiveArgs {
    /// Days without a visit (default 30).
    #[serde(default)]
    pub days: Option<u32>,
}

pub struct InactiveClients;

impl Tool for InactiveClients {
    const NAME: &'static str = "inactive_clients";
    const DESCRIPTION: &'static str =
        "Clients who have not visited in N days (default 30), longest absent first.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = InactiveArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, args: InactiveArgs) -> Result<ToolOutput, ToolError> {
        let days = args.days.unwrap_or(30);
        if !(1..=3660).contains(&days) {
            return Err(ToolError::BadArgs(format!("{days} days: choose 1 to 3660")));
        }
        let now = ctx.clock.now();
        let report = ctx.store.inactive_clients(now, days).await?;
        let mut text = format!(
            "{} client{} have not visited in the last {days} days (since {}).",
            report.count,
            if report.count == 1 { "" } else { "s" },
            local_date(ctx, now - chrono::Duration::days(i64::from(days)))
        );
        if !report.sample.is_empty() {
            let names: Vec<String> = report
                .sample
                .iter()
                .take(5)
                .map(|c| {
                    format!(
                        "{} (last visit {})",
                        c.name,
                        c.last_visit_at
                            .map_or("never".to_owned(), |t| local_date(ctx, t))
                    )
                })
                .collect();
            text.push_str(&format!(" Longest absent: {}.", names.join(", ")));
        }
        ToolOutput::new(&report, text)
    }
}

// --- outstanding_balance ----------------------------------------------------------------

/// Money owed: pending and overdue payments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

pub struct OutstandingBalance;

impl Tool for OutstandingBalance {
    const NAME: &'static str = "outstanding_balance";
    const DESCRIPTION: &'static str = "Total of pending payments and how much of it is overdue.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = NoArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, _: NoArgs) -> Result<ToolOutput, ToolError> {
        let now = ctx.clock.now();
        let r = ctx
            .store
            .outstanding_balance(now, ctx.studio.currency)
            .await?;
        let text = format!(
            "Outstanding as of {}: {} in {} pending payment{}, of which {} ({} payment{}) is overdue.",
            local_date(ctx, now),
            format_minor(r.pending_minor, r.currency),
            r.pending_count,
            if r.pending_count == 1 { "" } else { "s" },
            format_minor(r.overdue_minor, r.currency),
            r.overdue_count,
            if r.overdue_count == 1 { "" } else { "s" },
        );
        ToolOutput::new(&r, text)
    }
}

// --- retention --------------------------------------------------------------------------

pub struct Retention;

impl Tool for Retention {
    const NAME: &'static str = "retention";
    const DESCRIPTION: &'static str = "Retention: of the clients who attended in the previous period, how many attended again in this one.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = PeriodArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, args: PeriodArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let previous = period.previous();
        let r = ctx.store.retention(&period, &previous).await?;
        let text = format!(
            "Retention for {}: {:.1}% — {} of the {} clients who came in {} came back.",
            period.label(),
            r.percent,
            r.retained,
            r.previous_active,
            previous.label()
        );
        ToolOutput::new(
            &serde_json::json!({ "period": period.label(), "previous_period": previous.label(), "report": r }),
            text,
        )
    }
}

// --- class_fill_rate --------------------------------------------------------------------

pub struct ClassFillRate;

impl Tool for ClassFillRate {
    const NAME: &'static str = "class_fill_rate";
    const DESCRIPTION: &'static str = "How full classes were (attendees out of capacity) in a period, by course with instructors, or for one course.";
    const AGENT: AgentKind = AgentKind::Dashboard;
    type Args = CoursePeriodArgs;

    fn allowed(role: Role) -> bool {
        managers(role)
    }

    async fn call(ctx: &ToolCtx, args: CoursePeriodArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let course = optional_course(ctx, args.course.as_deref()).await?;
        let r = ctx
            .store
            .class_fill_rate(&period, course.as_ref().map(|c| c.id))
            .await?;
        let what = course
            .as_ref()
            .map_or("all classes".to_owned(), |c| format!("{} classes", c.name));
        let mut text = if r.classes == 0 {
            let none = course.as_ref().map_or("No classes".to_owned(), |c| {
                format!("No {} classes", c.name)
            });
            format!("{none} were held in {}.", period.label())
        } else {
            format!(
                "Fill rate for {what} in {}: {:.1}% ({} attendees for {} seats over {} classes).",
                period.label(),
                r.percent,
                r.attended,
                r.seats,
                r.classes
            )
        };
        if course.is_none() && r.by_course.len() > 1 {
            let lines: Vec<String> = r
                .by_course
                .iter()
                .map(|l| format!("• {} ({}) — {:.1}%", l.course, l.instructor, l.percent))
                .collect();
            text.push('\n');
            text.push_str(&lines.join("\n"));
        }
        ToolOutput::new(
            &serde_json::json!({ "period": period.label(), "report": r }),
            text,
        )
    }
}
