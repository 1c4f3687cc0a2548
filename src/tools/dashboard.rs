//! The Dashboard Agent's tools: read-only figures, each from a MongoDB aggregation
//! pipeline in `store::analytics`, each answer naming the period it covers.

use schemars::JsonSchema;
use serde::Deserialize;

use chrono::NaiveDate;

use super::figures::{best_and_worst, best_and_worst_of, difference};
use super::resolve::{self, local_date};
use super::{erased, Intent, Role, Tool, ToolCtx, ToolDyn, ToolError, ToolOutput};
use crate::charts::{ChartSpec, Point, Unit};
use crate::domain::{format_minor, Period, ResolvedPeriod};
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
        erased::<ClientSummary>(),
        erased::<TopClients>(),
        erased::<TicketSummary>(),
    ]
}

/// Money in minor units as a chart figure (exact below 2^53 minor units).
#[allow(clippy::cast_precision_loss)]
fn minor_f64(minor: i64) -> f64 {
    minor as f64
}

/// A count as a chart figure.
#[allow(clippy::cast_precision_loss)]
fn count_f64(n: u64) -> f64 {
    n as f64
}

/// The summary line, then the best-and-worst sentence, if any.
fn with_sentence(mut text: String, sentence: Option<String>) -> String {
    if let Some(sentence) = sentence {
        text.push(' ');
        text.push_str(&sentence);
    }
    text
}

/// The text's summary followed by one "• label — figure" line per item.
fn with_bullets(mut text: String, lines: &[String]) -> String {
    if !lines.is_empty() {
        text.push('\n');
        text.push_str(&lines.join("\n"));
    }
    text
}

/// Adds what a course argument selected to an answer's data: `"course"`, or `"family"`
/// and its `"courses"`.
fn with_selection(data: &mut serde_json::Value, course: Option<&resolve::CourseSelection>) {
    if let (Some(obj), Some(serde_json::Value::Object(selected))) = (
        data.as_object_mut(),
        course.map(resolve::CourseSelection::data),
    ) {
        obj.extend(selected);
    }
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
    /// Break down by "course" or "method", or "month" for a monthly trend (a line chart).
    #[serde(default)]
    pub by: Option<String>,
    /// Compare with the previous period.
    #[serde(default)]
    pub compare: Option<bool>,
    /// Only this course.
    #[serde(default)]
    pub course: Option<String>,
    /// For by=month without a period: how many months back, this one included (default 6, at most 36).
    #[serde(default)]
    pub months: Option<u32>,
}

pub struct Revenue;

impl Tool for Revenue {
    const INTENT: Intent = Intent::Revenue;
    const DESCRIPTION: &'static str = "Revenue from paid payments in a period, optionally by course or payment method (bar chart), compared with the previous period (absolute and percent), or as a monthly trend (by=month, line chart).";
    const ONLY_READS: bool = true;
    type Args = RevenueArgs;

    const MIN_ROLE: Role = Role::Manager;

    async fn call(ctx: &ToolCtx, args: RevenueArgs) -> Result<ToolOutput, ToolError> {
        if args.by.as_deref().map(str::trim) == Some("month") {
            return revenue_trend(ctx, &args).await;
        }
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
                    "revenue can be broken down by course, method or month, not {other:?}"
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
        let unit = Unit::Money(now.currency);
        let mut text = format!(
            "Revenue{scope} for {}: {} from {payments} payment{}.",
            period.label(),
            format_minor(total, now.currency),
            if payments == 1 { "" } else { "s" }
        );
        let compare = args.compare.unwrap_or(false);
        if compare || course.is_none() {
            text.push_str(&format!(
                " Against {}: {} ({}).",
                previous.label(),
                format_minor(prev_total, now.currency),
                difference(minor_f64(total), minor_f64(prev_total), unit)
            ));
        }
        let mut chart = None;
        if course.is_none() && !now.breakdown.is_empty() {
            let items: Vec<(String, f64)> = now
                .breakdown
                .iter()
                .map(|l| (l.key.replace('_', " "), minor_f64(l.total_minor)))
                .collect();
            text = with_sentence(text, best_and_worst(&items, unit));
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
            text = with_bullets(text, &lines);
            let what = if by == RevenueBreakdown::Method {
                "payment method"
            } else {
                "course"
            };
            chart = Some(ChartSpec::bar(
                format!("Revenue by {what}, {}", period.label()),
                capitalise(what),
                "Revenue",
                unit,
                Point::all(items),
            ));
        } else if compare {
            chart = Some(ChartSpec::bar(
                format!("Revenue{scope}: {} vs {}", period.label(), previous.label()),
                "Period",
                "Revenue",
                unit,
                vec![
                    Point::new(period.label(), minor_f64(total)),
                    Point::new(previous.label(), minor_f64(prev_total)),
                ],
            ));
        }
        let data = serde_json::json!({
            "period": period.label(), "period_token": period.period.token(),
            "total_minor": total, "payments": payments, "currency": now.currency.code(),
            "previous": { "period": previous.label(), "total_minor": prev_total },
            "breakdown": now.breakdown,
        });
        Ok(ToolOutput::new(&data, text)?.with_chart(chart))
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The months a trend covers: the period asked for (to date), or the last `months`
/// local calendar months with this one (to date).
fn trend_period(ctx: &ToolCtx, args: &RevenueArgs) -> Result<ResolvedPeriod, ToolError> {
    if args.period.as_deref().is_some_and(|p| !p.trim().is_empty()) {
        return resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth);
    }
    let period = Period::last_months(
        args.months.unwrap_or(6),
        ctx.clock.now(),
        ctx.studio.utc_offset,
    )
    .map_err(|e| ToolError::BadArgs(e.to_string()))?;
    resolve::period_to_date(ctx, Some(&period.token()), Period::ThisMonth)
}

/// "2026-11" → "Nov 2026" (or the key itself if it is not a month).
fn month_label(key: &str, short: bool) -> String {
    NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d").map_or_else(
        |_| key.to_owned(),
        |d| d.format(if short { "%b %y" } else { "%b %Y" }).to_string(),
    )
}

/// Revenue per local month: the total, the best and worst month, the latest month against
/// the one before (absolute and percent), a line per month and a line chart.
async fn revenue_trend(ctx: &ToolCtx, args: &RevenueArgs) -> Result<ToolOutput, ToolError> {
    let period = trend_period(ctx, args)?;
    let currency = ctx.studio.currency;
    let unit = Unit::Money(currency);
    let months = ctx
        .store
        .revenue_trend(period.start, period.end, ctx.studio.utc_offset)
        .await?;
    let total: i64 = months.iter().map(|(_, v)| *v).sum();
    let mut text = format!(
        "Revenue per month, {}: {} in all.",
        period.label(),
        format_minor(total, currency)
    );
    // The month still running is compared with the same stretch of the month before,
    // not with the whole of it.
    let now = ctx.clock.now();
    let running_key = period.running_month().unwrap_or_default();
    let running = months.last().is_some_and(|(k, _)| *k == running_key);
    match months.as_slice() {
        [.., _, (_, last)] if running => {
            let this_month = Period::ThisMonth
                .resolve(now, ctx.studio.utc_offset)
                .map_err(|e| ToolError::BadArgs(e.to_string()))?
                .to_date(now);
            let (same_stretch, before) =
                ctx.store.same_stretch_before(&this_month, currency).await?;
            text.push_str(&format!(
                " {}: {}, against {} in {} ({}).",
                this_month.label(),
                format_minor(*last, currency),
                format_minor(before, currency),
                same_stretch.label(),
                difference(minor_f64(*last), minor_f64(before), unit)
            ));
        }
        [.., (before_key, before), (last_key, last)] => text.push_str(&format!(
            " {} against {}: {} ({}).",
            month_label(last_key, false),
            month_label(before_key, false),
            format_minor(*last, currency),
            difference(minor_f64(*last), minor_f64(*before), unit)
        )),
        _ => {}
    }
    // The running month is marked as such wherever it is shown.
    let shown = |key: &str, short: bool| {
        let label = month_label(key, short);
        if running && key == running_key {
            format!("{label} (so far)")
        } else {
            label
        }
    };
    // A month still running is not ranked against whole ones.
    let whole: Vec<(String, f64)> = months
        .iter()
        .filter(|(k, _)| !(running && *k == running_key))
        .map(|(k, v)| (month_label(k, false), minor_f64(*v)))
        .collect();
    text = with_sentence(text, best_and_worst(&whole, unit));
    let items: Vec<(String, f64)> = months
        .iter()
        .map(|(k, v)| (shown(k, false), minor_f64(*v)))
        .collect();
    let lines: Vec<String> = items
        .iter()
        .map(|(label, v)| format!("• {label} — {}", unit.format(*v)))
        .collect();
    let text = with_bullets(text, &lines);
    let short = months.len() > 8;
    let chart = (!months.is_empty()).then(|| {
        ChartSpec::line(
            format!("Revenue per month, {}", period.label()),
            "Month",
            "Revenue",
            unit,
            months
                .iter()
                .map(|(k, v)| Point::new(shown(k, short), minor_f64(*v)))
                .collect(),
        )
    });
    let data = serde_json::json!({
        "period": period.label(), "by": "month", "currency": currency.code(),
        "total_minor": total,
        "months": months.iter().map(|(k, v)| serde_json::json!({ "month": k, "total_minor": v, "partial": running && *k == running_key })).collect::<Vec<_>>(),
    });
    Ok(ToolOutput::new(&data, text)?.with_chart(chart))
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

/// Clients who joined in a period, in all or per week.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientsArgs {
    /// A period token (default this_month; last_84_days with by=week).
    #[serde(default)]
    pub period: Option<String>,
    /// "week" for a count per week (a line chart).
    #[serde(default)]
    pub by: Option<String>,
}

pub struct NewClients;

impl Tool for NewClients {
    const INTENT: Intent = Intent::NewClients;
    const DESCRIPTION: &'static str =
        "How many new clients joined in a period, with the newest names; by=week gives a count per week (line chart).";
    const ONLY_READS: bool = true;
    type Args = NewClientsArgs;

    const MIN_ROLE: Role = Role::Manager;

    async fn call(ctx: &ToolCtx, args: NewClientsArgs) -> Result<ToolOutput, ToolError> {
        match args.by.as_deref().map(str::trim) {
            Some("week") => return new_clients_by_week(ctx, args.period.as_deref()).await,
            Some("") | None => {}
            Some(other) => {
                return Err(ToolError::BadArgs(format!(
                    "new clients can be counted per week, not per {other:?}"
                )))
            }
        }
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let report = ctx.store.new_clients(&period).await?;
        let previous = ctx.store.new_clients(&period.previous()).await?;
        let mut text = format!(
            "{} new client{} joined in {}, against {} in {}.",
            report.count,
            if report.count == 1 { "" } else { "s" },
            period.label(),
            previous.count,
            period.previous().label()
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

/// New clients per local week: the total, the weekly average, the busiest and quietest
/// week, a line per week and a line chart.
async fn new_clients_by_week(ctx: &ToolCtx, token: Option<&str>) -> Result<ToolOutput, ToolError> {
    let period = resolve::period_to_date(ctx, token, Period::LastDays(84))?;
    let weeks = ctx
        .store
        .new_clients_by_week(&period, ctx.studio.utc_offset)
        .await?;
    let total: u64 = weeks.iter().map(|w| w.count).sum();
    // A week the period covers only part of (its first, or the one still running) is
    // marked, and not ranked against whole weeks.
    let part = |start: NaiveDate| period.partial_week(start);
    let label = |d: NaiveDate| d.format("%-d %b").to_string();
    let shown = |d: NaiveDate| match part(d) {
        Some(note) => format!("{} ({note})", label(d)),
        None => label(d),
    };
    let items: Vec<(String, f64)> = weeks
        .iter()
        .filter(|w| part(w.week_start).is_none())
        .map(|w| {
            (
                format!("week of {}", label(w.week_start)),
                count_f64(w.count),
            )
        })
        .collect();
    // Per seven days of the period, partial weeks counted for what they cover.
    #[allow(clippy::cast_precision_loss)]
    let weeks_covered = (period.end - period.start).num_seconds() as f64 / (7.0 * 86_400.0);
    let average = if weeks_covered > 0.0 {
        count_f64(total) / weeks_covered
    } else {
        0.0
    };
    let mut text = format!(
        "New clients per week, {}: {total} in all, {average:.1} a week on average.",
        period.label()
    );
    text = with_sentence(text, best_and_worst(&items, Unit::Count));
    let lines: Vec<String> = weeks
        .iter()
        .map(|w| format!("• {} — {}", shown(w.week_start), w.count))
        .collect();
    let text = with_bullets(text, &lines);
    let chart = (!weeks.is_empty()).then(|| {
        ChartSpec::line(
            format!("New clients per week, {}", period.label()),
            "Week starting",
            "New clients",
            Unit::Count,
            weeks
                .iter()
                .map(|w| Point::new(shown(w.week_start), count_f64(w.count)))
                .collect(),
        )
    });
    Ok(ToolOutput::new(
        &serde_json::json!({ "period": period.label(), "by": "week", "count": total, "weeks": weeks }),
        text,
    )?
    .with_chart(chart))
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
    const INTENT: Intent = Intent::CourseEnrollment;
    const DESCRIPTION: &'static str =
        "Courses ranked by enrollments (orders not cancelled), all time or in a period.";
    const ONLY_READS: bool = true;
    type Args = EnrollmentArgs;

    const MIN_ROLE: Role = Role::Manager;

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
                let items: Vec<(String, f64)> = ranking
                    .iter()
                    .map(|l| (l.course.clone(), count_f64(l.orders)))
                    .collect();
                let summary = with_sentence(
                    format!(
                        "{} has the highest enrollment ({label}): {} enrollments.",
                        top.course, top.orders
                    ),
                    best_and_worst(&items, Unit::Count),
                );
                format!("{summary}\n{}", lines.join("\n"))
            }
        };
        let chart = (ranking.len() > 1).then(|| {
            ChartSpec::bar(
                format!("Enrollments by course, {label}"),
                "Course",
                "Enrollments",
                Unit::Count,
                ranking
                    .iter()
                    .map(|l| Point::new(l.course.clone(), count_f64(l.orders)))
                    .collect(),
            )
        });
        Ok(ToolOutput::new(
            &serde_json::json!({ "period": label, "ranking": ranking }),
            text,
        )?
        .with_chart(chart))
    }
}

// --- attendance_rate --------------------------------------------------------------------

/// Attendance percentage in a period, optionally for one course or a family of courses.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoursePeriodArgs {
    /// A period token (default this_month).
    #[serde(default)]
    pub period: Option<String>,
    /// A course name, e.g. "Yin Yoga"; or a word several course names share, e.g. "yoga",
    /// for all of them together ("all Pilates" when one course is called just that).
    #[serde(default)]
    pub course: Option<String>,
}

pub struct AttendanceRate;

impl Tool for AttendanceRate {
    const INTENT: Intent = Intent::AttendanceRate;
    const DESCRIPTION: &'static str = "Attendance percentage (present or late out of all booked) in a period, by course, for one course, or for a family of courses sharing a word (\"yoga\": every course with Yoga in its name, with a line per course).";
    const ONLY_READS: bool = true;
    type Args = CoursePeriodArgs;

    const MIN_ROLE: Role = Role::Manager;

    async fn call(ctx: &ToolCtx, args: CoursePeriodArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let course = resolve::course_selection(ctx, args.course.as_deref()).await?;
        let report = ctx
            .store
            .attendance_rate_for(&period, course.as_ref().map(|c| c.ids()).as_deref())
            .await?;
        let what = course.as_ref().map_or("all classes".to_owned(), |c| {
            format!("{} classes", c.label())
        });
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
        let mut chart = None;
        // Every course, or a family's: a line per course.
        let whole = course
            .as_ref()
            .is_none_or(resolve::CourseSelection::is_family);
        if whole && report.by_course.len() > 1 {
            let counted: Vec<(String, f64, u64)> = report
                .by_course
                .iter()
                .map(|l| (l.course.clone(), l.percent, l.total))
                .collect();
            text = with_sentence(
                text,
                best_and_worst_of(
                    &counted,
                    Unit::Percent,
                    ctx.studio.min_to_rank,
                    ("booking", "bookings"),
                ),
            );
            let items: Vec<(String, f64)> =
                counted.into_iter().map(|(name, v, _)| (name, v)).collect();
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
            text = with_bullets(text, &lines);
            let family = course
                .as_ref()
                .map(|c| format!(" ({})", c.label()))
                .unwrap_or_default();
            chart = Some(ChartSpec::bar(
                format!("Attendance by course{family}, {}", period.label()),
                "Course",
                "Attendance",
                Unit::Percent,
                Point::all(items),
            ));
        }
        let mut data =
            serde_json::json!({ "period": period.label(), "course": null, "report": report });
        with_selection(&mut data, course.as_ref());
        Ok(ToolOutput::new(&data, text)?.with_chart(chart))
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
    const INTENT: Intent = Intent::InactiveClients;
    const DESCRIPTION: &'static str =
        "Clients who have not visited in N days (default 30), longest absent first.";
    const ONLY_READS: bool = true;
    type Args = InactiveArgs;

    const MIN_ROLE: Role = Role::Manager;

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
    const INTENT: Intent = Intent::OutstandingBalance;
    const DESCRIPTION: &'static str = "Total of pending payments and how much of it is overdue.";
    const ONLY_READS: bool = true;
    type Args = NoArgs;

    const MIN_ROLE: Role = Role::Manager;

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
    const INTENT: Intent = Intent::Retention;
    const DESCRIPTION: &'static str = "Retention: of the clients who attended in the previous period, how many attended again in this one.";
    const ONLY_READS: bool = true;
    type Args = PeriodArgs;

    const MIN_ROLE: Role = Role::Manager;

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

/// Fill rate in a period, by course (default) or by instructor, for one course or for a
/// family of courses, fullest or emptiest first.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FillArgs {
    /// A period token (default this_month).
    #[serde(default)]
    pub period: Option<String>,
    /// A course name, e.g. "Yin Yoga"; or a word several course names share, e.g. "yoga",
    /// for all of them together with a line per course ("all Pilates" when one course is
    /// called just that).
    #[serde(default)]
    pub course: Option<String>,
    /// "course" (default) or "instructor": how to break the fill rate down (bar chart).
    #[serde(default)]
    pub by: Option<String>,
    /// "emptiest" to list the emptiest first ("which classes are the emptiest?"), or
    /// "fullest" (default) for the fullest first.
    #[serde(default)]
    pub order: Option<FillOrder>,
}

/// Which end of a fill-rate breakdown comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FillOrder {
    #[default]
    Fullest,
    Emptiest,
}

impl FillOrder {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fullest => "fullest",
            Self::Emptiest => "emptiest",
        }
    }

    /// Puts a breakdown's lines in this order: by `attended / seats` (a line without
    /// seats counts as empty), ties by name. Compared exactly, without floats.
    fn sort<T>(self, lines: &mut [T], figures: impl Fn(&T) -> (u64, u64, &str)) {
        lines.sort_by(|a, b| {
            let ((a_came, a_seats, a_name), (b_came, b_seats, b_name)) = (figures(a), figures(b));
            let fill = |came: u64, seats: u64| if seats == 0 { (0, 1) } else { (came, seats) };
            let ((an, ad), (bn, bd)) = (fill(a_came, a_seats), fill(b_came, b_seats));
            let emptier_first =
                (u128::from(an) * u128::from(bd)).cmp(&(u128::from(bn) * u128::from(ad)));
            let by_fill = match self {
                Self::Fullest => emptier_first.reverse(),
                Self::Emptiest => emptier_first,
            };
            by_fill.then_with(|| a_name.cmp(b_name))
        });
    }

    /// How the first of a breakdown filled: "best" or "least".
    fn first_word(self) -> &'static str {
        match self {
            Self::Fullest => "best",
            Self::Emptiest => "least",
        }
    }
}

pub struct ClassFillRate;

/// How the fill rate is broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FillBy {
    Course,
    Instructor,
}

impl FillBy {
    fn parse(by: Option<&str>) -> Result<Self, ToolError> {
        match by.map(str::trim) {
            Some("instructor") => Ok(Self::Instructor),
            Some("course" | "") | None => Ok(Self::Course),
            Some(other) => Err(ToolError::BadArgs(format!(
                "the fill rate can be broken down by course or instructor, not {other:?}"
            ))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Course => "course",
            Self::Instructor => "instructor",
        }
    }

    /// The name of the chart's category axis.
    fn axis(self) -> &'static str {
        match self {
            Self::Course => "Course",
            Self::Instructor => "Instructor",
        }
    }
}

/// How classes without an instructor are named in answers and charts (the report groups
/// them under an empty name).
const NO_INSTRUCTOR: &str = "No instructor";

/// An instructor's name as shown, [`NO_INSTRUCTOR`] for classes without one.
fn instructor_label(instructor: &str) -> &str {
    if instructor.is_empty() {
        NO_INSTRUCTOR
    } else {
        instructor
    }
}

/// A fill-rate breakdown (by course or by instructor): with two lines or more, the lead
/// followed by the best and worst, one bullet per line, and a bar chart of the items;
/// otherwise the lead alone.
fn fill_breakdown(
    by: FillBy,
    order: FillOrder,
    period: &ResolvedPeriod,
    lead: String,
    (items, min_classes): (Vec<(String, f64, u64)>, u64),
    lines: &[String],
) -> (String, Option<ChartSpec>) {
    if items.len() < 2 {
        return (lead, None);
    }
    let ranking = best_and_worst_of(&items, Unit::Percent, min_classes, ("class", "classes"));
    let text = with_bullets(with_sentence(lead, ranking), lines);
    let items: Vec<(String, f64)> = items.into_iter().map(|(name, v, _)| (name, v)).collect();
    let first = match order {
        FillOrder::Fullest => "",
        FillOrder::Emptiest => " (emptiest first)",
    };
    let chart = ChartSpec::bar(
        format!("Fill rate by {}{first}, {}", by.as_str(), period.label()),
        by.axis(),
        "Fill rate",
        Unit::Percent,
        Point::all(items),
    );
    (text, Some(chart))
}

impl Tool for ClassFillRate {
    const INTENT: Intent = Intent::ClassFillRate;
    const DESCRIPTION: &'static str = "How full classes were (attendees out of capacity) in a period, by course with instructors or by instructor (bar chart, best and worst), fullest or emptiest first (order), for one course, or for a family of courses sharing a word (\"yoga\").";
    const ONLY_READS: bool = true;
    type Args = FillArgs;

    const MIN_ROLE: Role = Role::Manager;

    async fn call(ctx: &ToolCtx, args: FillArgs) -> Result<ToolOutput, ToolError> {
        let by = FillBy::parse(args.by.as_deref())?;
        let order = args.order.unwrap_or_default();
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let course = resolve::course_selection(ctx, args.course.as_deref()).await?;
        let mut r = ctx
            .store
            .class_fill_rate_for(&period, course.as_ref().map(|c| c.ids()).as_deref())
            .await?;
        order.sort(&mut r.by_course, |l| {
            (l.attended, l.seats, l.course.as_str())
        });
        order.sort(&mut r.by_instructor, |l| {
            (l.attended, l.seats, l.instructor.as_str())
        });
        let what = course.as_ref().map_or("all classes".to_owned(), |c| {
            format!("{} classes", c.label())
        });
        if r.classes == 0 {
            let none = course.as_ref().map_or("No classes".to_owned(), |c| {
                format!("No {} classes", c.label())
            });
            let mut data = serde_json::json!({ "period": period.label(), "report": r });
            with_selection(&mut data, course.as_ref());
            return ToolOutput::new(&data, format!("{none} were held in {}.", period.label()));
        }
        let overall = format!(
            "{:.1}% ({} attendees for {} seats over {})",
            r.percent,
            r.attended,
            r.seats,
            classes_count(r.classes)
        );
        // Only lines over enough classes are called best or least (see `best_and_worst_of`).
        let min = ctx.studio.min_to_rank;
        let (text, chart) = match by {
            FillBy::Instructor => {
                let rankable: Vec<_> = r
                    .by_instructor
                    .iter()
                    .filter(|l| l.classes >= min)
                    .collect();
                let top = if rankable.len() >= 2 {
                    rankable.first().copied()
                } else {
                    None
                };
                let lead = match top {
                    Some(top) => format!(
                        "{} fill {} in {}: {:.1}% ({} of {} seats over {}). Overall for {what}: {overall}.",
                        if top.instructor.is_empty() {
                            "Classes with no instructor".to_owned()
                        } else {
                            format!("{}'s classes", top.instructor)
                        },
                        order.first_word(),
                        period.label(),
                        top.percent,
                        top.attended,
                        top.seats,
                        classes_count(top.classes)
                    ),
                    None => format!("Fill rate for {what} in {}: {overall}.", period.label()),
                };
                let items: Vec<(String, f64, u64)> = r
                    .by_instructor
                    .iter()
                    .map(|l| {
                        (
                            instructor_label(&l.instructor).to_owned(),
                            l.percent,
                            l.classes,
                        )
                    })
                    .collect();
                let lines: Vec<String> = r
                    .by_instructor
                    .iter()
                    .map(|l| {
                        format!(
                            "• {} — {:.1}% ({}/{}, {})",
                            instructor_label(&l.instructor),
                            l.percent,
                            l.attended,
                            l.seats,
                            classes_count(l.classes)
                        )
                    })
                    .collect();
                fill_breakdown(by, order, &period, lead, (items, min), &lines)
            }
            FillBy::Course => {
                // One course asked for: its figure alone, no breakdown; every course or a
                // family's: a line per course.
                let shown = if course
                    .as_ref()
                    .is_none_or(resolve::CourseSelection::is_family)
                {
                    r.by_course.as_slice()
                } else {
                    &[]
                };
                let rankable: Vec<_> = shown.iter().filter(|l| l.classes >= min).collect();
                let lead = match (order, rankable.as_slice()) {
                    (FillOrder::Emptiest, [first, _, ..]) => format!(
                        "{} filled least in {}: {:.1}% ({} of {} seats over {}). Overall for {what}: {overall}.",
                        first.course,
                        period.label(),
                        first.percent,
                        first.attended,
                        first.seats,
                        classes_count(first.classes)
                    ),
                    _ => format!("Fill rate for {what} in {}: {overall}.", period.label()),
                };
                let items: Vec<(String, f64, u64)> = shown
                    .iter()
                    .map(|l| (l.course.clone(), l.percent, l.classes))
                    .collect();
                let lines: Vec<String> = shown
                    .iter()
                    .map(|l| {
                        let taught = if l.instructor.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", l.instructor)
                        };
                        format!(
                            "• {}{taught} — {:.1}% ({})",
                            l.course,
                            l.percent,
                            classes_count(l.classes)
                        )
                    })
                    .collect();
                fill_breakdown(by, order, &period, lead, (items, min), &lines)
            }
        };
        let mut data = serde_json::json!({
            "period": period.label(), "by": by.as_str(), "order": order.as_str(), "report": r,
        });
        with_selection(&mut data, course.as_ref());
        Ok(ToolOutput::new(&data, text)?.with_chart(chart))
    }
}

/// "1 class", "12 classes".
fn classes_count(n: u64) -> String {
    if n == 1 {
        "1 class".to_owned()
    } else {
        format!("{n} classes")
    }
}

// --- client_summary ---------------------------------------------------------------------

pub struct ClientSummary;

/// "this month (1–25 Nov 2026)", "in the last 30 days (…)", "in Oct 2026": when, for a
/// sentence about a period.
fn period_phrase(period: &ResolvedPeriod) -> String {
    let label = period.label();
    let (dates, so_far) = match period.cut_at() {
        Some(time) if period.is_running() => (format!("{}, to {time}", period.dates()), " so far"),
        _ => (label.clone(), ""),
    };
    let words = match period.period {
        Period::Today => "today".to_owned(),
        Period::Yesterday => "yesterday".to_owned(),
        Period::ThisWeek => "this week".to_owned(),
        Period::LastWeek => "last week".to_owned(),
        Period::ThisMonth => "this month".to_owned(),
        Period::LastMonth => "last month".to_owned(),
        Period::ThisYear => "this year".to_owned(),
        Period::LastYear => "last year".to_owned(),
        Period::LastDays(n) => format!("in the last {n} days"),
        _ => return format!("in {label}"),
    };
    format!("{words}{so_far} ({dates})")
}

/// "1 client", "142 clients".
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Tool for ClientSummary {
    const INTENT: Intent = Intent::ClientSummary;
    const DESCRIPTION: &'static str =
        "Clients in all and by status (active, lead, inactive), and how many joined in a period.";
    const ONLY_READS: bool = true;
    type Args = PeriodArgs;

    const MIN_ROLE: Role = Role::Manager;

    async fn call(ctx: &ToolCtx, args: PeriodArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let s = ctx.store.client_summary(&period).await?;
        let text = format!(
            "{}: {} active, {}, {} inactive; {} joined {}.",
            counted(s.total, "client", "clients"),
            s.active,
            counted(s.leads, "lead", "leads"),
            s.inactive,
            s.joined,
            period_phrase(&period)
        );
        ToolOutput::new(
            &serde_json::json!({
                "period": period.label(), "period_token": period.period.token(),
                "total": s.total, "active": s.active, "leads": s.leads,
                "inactive": s.inactive, "joined": s.joined,
            }),
            text,
        )
    }
}

// --- top_clients ------------------------------------------------------------------------

/// Top clients of a period.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopClientsArgs {
    /// A period token (default this_month).
    #[serde(default)]
    pub period: Option<String>,
    /// "spend" (default) or "attendance".
    #[serde(default)]
    pub by: Option<String>,
    /// 1 to 20 (default 5).
    #[serde(default)]
    pub limit: Option<u32>,
}

pub struct TopClients;

/// How many top clients are shown when no limit is asked for.
const TOP_CLIENTS: u32 = 5;

/// "1st", "2nd", "3rd", "11th", "22nd".
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "Asha", "Asha and Ravi", "Asha, Meera and Ravi".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn top_by(typed: Option<&str>) -> Result<crate::store::TopClientsBy, ToolError> {
    use crate::store::TopClientsBy;
    match typed.map(|b| b.trim().to_lowercase()).as_deref() {
        None | Some("" | "spend" | "spending" | "revenue" | "paid") => Ok(TopClientsBy::Spend),
        Some("attendance" | "attended" | "classes" | "visits") => Ok(TopClientsBy::Attendance),
        Some(other) => Err(ToolError::BadArgs(format!(
            "clients can be ranked by spend or attendance, not {:?}",
            resolve::clip(other)
        ))),
    }
}

impl Tool for TopClients {
    const INTENT: Intent = Intent::TopClients;
    const DESCRIPTION: &'static str =
        "Top clients of a period by spend (paid) or attendance (classes), ties named (bar chart).";
    const ONLY_READS: bool = true;
    type Args = TopClientsArgs;

    /// The ranking names clients and what they paid: managers and up only.
    const MIN_ROLE: Role = Role::Manager;

    async fn call(ctx: &ToolCtx, args: TopClientsArgs) -> Result<ToolOutput, ToolError> {
        use crate::store::TopClientsBy;
        let by = top_by(args.by.as_deref())?;
        let limit = args.limit.unwrap_or(TOP_CLIENTS);
        let most = crate::store::MAX_TOP_CLIENTS;
        let shown = usize::try_from(limit)
            .ok()
            .filter(|n| (1..=most).contains(n))
            .ok_or_else(|| ToolError::BadArgs(format!("{limit} clients: choose 1 to {most}")))?;
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisMonth)?;
        let r = ctx
            .store
            .top_clients(&period, by, shown, ctx.studio.currency)
            .await?;
        let unit = match by {
            TopClientsBy::Spend => Unit::Money(r.currency),
            TopClientsBy::Attendance => Unit::Count,
        };
        let figure = |value: i64| match by {
            TopClientsBy::Spend => format_minor(value, r.currency),
            TopClientsBy::Attendance => counted(value.unsigned_abs(), "class", "classes"),
        };
        let data = serde_json::json!({
            "period": period.label(), "period_token": period.period.token(),
            "by": by.as_str(), "limit": shown, "clients": r.clients,
            "tied_beyond": r.tied_beyond, "currency": r.currency.code(), "top": r.lines,
        });
        let Some(first) = r.lines.first() else {
            let none = match by {
                TopClientsBy::Spend => "No client paid anything",
                TopClientsBy::Attendance => "Nobody came to a class",
            };
            return ToolOutput::new(&data, format!("{none} in {}.", period.label()));
        };
        let who = match by {
            TopClientsBy::Spend => counted(r.clients, "client paid", "clients paid"),
            TopClientsBy::Attendance => counted(r.clients, "client came", "clients came"),
        };
        let mut text = format!(
            "Top {} by {} in {} ({who}):",
            counted(r.lines.len() as u64, "client", "clients"),
            by.as_str(),
            period.label()
        );
        if !first.tied {
            text.push_str(&format!(
                " {} leads with {}.",
                first.name,
                figure(first.value)
            ));
        }
        // One sentence per shared rank, naming those not shown that share the last one.
        let last_value = r.lines.last().map(|l| l.value);
        let mut ranks: Vec<u64> = r.lines.iter().filter(|l| l.tied).map(|l| l.rank).collect();
        ranks.dedup();
        for rank in ranks {
            let mut names: Vec<String> = r
                .lines
                .iter()
                .filter(|l| l.rank == rank)
                .map(|l| l.name.clone())
                .collect();
            let value = r
                .lines
                .iter()
                .find(|l| l.rank == rank)
                .map_or(0, |l| l.value);
            if r.tied_beyond > 0 && Some(value) == last_value {
                names.push(format!("{} more not shown", r.tied_beyond));
            }
            text.push_str(&format!(
                " {} tie for {} with {} each.",
                and_list(&names),
                ordinal(rank),
                figure(value)
            ));
        }
        let lines: Vec<String> = r
            .lines
            .iter()
            .map(|l| {
                let detail = match by {
                    TopClientsBy::Spend => {
                        format!(" ({})", counted(l.count, "payment", "payments"))
                    }
                    TopClientsBy::Attendance => String::new(),
                };
                let tie = if l.tied { ", tie" } else { "" };
                format!("{}. {} — {}{detail}{tie}", l.rank, l.name, figure(l.value))
            })
            .collect();
        let text = with_bullets(text, &lines);
        let chart = (r.lines.len() > 1).then(|| {
            ChartSpec::bar(
                format!("Top clients by {}, {}", by.as_str(), period.label()),
                "Client",
                match by {
                    TopClientsBy::Spend => "Spend",
                    TopClientsBy::Attendance => "Classes attended",
                },
                unit,
                r.lines
                    .iter()
                    .map(|l| match by {
                        TopClientsBy::Spend => Point::new(l.name.clone(), minor_f64(l.value)),
                        TopClientsBy::Attendance => Point::new(l.name.clone(), count_f64(l.count)),
                    })
                    .collect(),
            )
        });
        Ok(ToolOutput::new(&data, text)?.with_chart(chart))
    }
}

// --- ticket_summary ---------------------------------------------------------------------

/// Hand-offs to a person in a period.
pub struct TicketSummary;

impl Tool for TicketSummary {
    const INTENT: Intent = Intent::TicketSummary;
    const DESCRIPTION: &'static str =
        "Hand-off tickets opened in a period (default this week): taken, closed, unanswered, and the average wait for a first staff reply.";
    const ONLY_READS: bool = true;
    type Args = PeriodArgs;

    const MIN_ROLE: Role = Role::Manager;

    async fn call(ctx: &ToolCtx, args: PeriodArgs) -> Result<ToolOutput, ToolError> {
        let period = resolve::period_to_date(ctx, args.period.as_deref(), Period::ThisWeek)?;
        let f = ctx.store.ticket_figures(period.start, period.end).await?;
        let when = period_phrase(&period);
        let text = if f.opened == 0 {
            format!("Nobody asked for a person {when}.")
        } else {
            let wait = f.average_first_reply_minutes.map_or_else(String::new, |m| {
                format!(
                    " A first staff reply came after {} on average.",
                    minutes_phrase(m)
                )
            });
            format!(
                "{} opened {when}: {} taken by the staff, {} closed, {} still unanswered.{wait}",
                counted(f.opened, "ticket", "tickets"),
                f.claimed,
                f.closed,
                f.unanswered
            )
        };
        ToolOutput::new(
            &serde_json::json!({ "period": period.label(), "period_token": period.period.token(), "figures": f }),
            text,
        )
    }
}

/// "12 minutes", "1.5 hours", "2.0 days".
fn minutes_phrase(minutes: f64) -> String {
    if minutes < 90.0 {
        format!("{} minutes", minutes.round())
    } else if minutes < 48.0 * 60.0 {
        format!("{:.1} hours", minutes / 60.0)
    } else {
        format!("{:.1} days", minutes / 1440.0)
    }
}
