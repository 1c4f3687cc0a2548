//! Analytics: the figures of the Dashboard Agent and the REST analytics endpoints —
//! revenue (with breakdowns and a monthly trend), new and inactive clients, clients by
//! status, the top clients by spend or attendance, course enrollment, attendance,
//! retention, class fill rate and outstanding balances.
//!
//! Every figure is computed by the server in an aggregation pipeline; nothing here loads
//! documents to add them up in Rust, except the class fill rate, which joins the period's
//! classes (a few hundred) to the server's per-class attendance counts. Rust only reads the pipeline's output (defensively:
//! a `$sum` may come back as Int32, Int64 or Double) and turns counts into percentages.
//! Money stays in integer minor units with its currency.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bson::{doc, Bson, Document};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use futures::TryStreamExt;
use mongodb::Collection;
use serde::{Deserialize, Serialize};

use super::client_days::{ClientDays, End};
use super::{Store, StoreError};
use crate::domain::{Currency, ObjectId, ResolvedPeriod};

/// How to break revenue down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevenueBreakdown {
    /// The total only.
    #[default]
    None,
    /// One line per course (the course name on the payment).
    Course,
    /// One line per payment method.
    Method,
}

/// One line of a revenue breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueLine {
    /// The course name or the payment method.
    pub key: String,
    pub total_minor: i64,
    pub payments: u64,
}

/// Revenue: payments with status paid whose `paid_at` is in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueReport {
    pub total_minor: i64,
    pub payments: u64,
    /// Largest first, then by key; empty for [`RevenueBreakdown::None`].
    pub breakdown: Vec<RevenueLine>,
    pub currency: Currency,
}

/// A client in a short list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientBrief {
    /// The client's id, as hex.
    pub id: String,
    pub name: String,
    pub email: String,
    pub joined_at: DateTime<Utc>,
}

/// Clients (and leads) who joined in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewClientsReport {
    pub count: u64,
    /// Up to ten, newest first.
    pub sample: Vec<ClientBrief>,
}

/// Orders of one course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrollmentLine {
    pub course: String,
    /// Orders that are not cancelled.
    pub orders: u64,
    /// Distinct clients among those orders.
    pub active_clients: u64,
}

/// Attendance of one course.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttendanceLine {
    pub course: String,
    pub attended: u64,
    pub total: u64,
    pub percent: f64,
}

/// Attendance records of classes that started in a period: attended is present or late.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttendanceReport {
    pub attended: u64,
    pub total: u64,
    /// `attended / total` in percent, one decimal; 0.0 when there are no records.
    pub percent: f64,
    /// Highest rate first, then by course name.
    pub by_course: Vec<AttendanceLine>,
}

/// A client who stopped coming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InactiveBrief {
    pub name: String,
    pub email: String,
    pub last_visit_at: Option<DateTime<Utc>>,
}

/// Clients (not leads) with no visit in the last `days` days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InactiveReport {
    pub count: u64,
    pub days: u32,
    /// Up to ten, longest absent first (a client who never came counts from joining).
    pub sample: Vec<InactiveBrief>,
}

/// Money still owed: pending payments, and those of them past their due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutstandingReport {
    pub pending_minor: i64,
    pub pending_count: u64,
    pub overdue_minor: i64,
    pub overdue_count: u64,
    pub currency: Currency,
}

/// Of the clients who came in the previous period, how many came again in this one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionReport {
    pub previous_active: u64,
    pub retained: u64,
    /// `retained / previous_active` in percent, one decimal; 0.0 when nobody came before.
    pub percent: f64,
}

/// Fill rate of one course's classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillLine {
    pub course: String,
    /// The instructors who taught those classes, in alphabetical order, comma-separated.
    pub instructor: String,
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    pub percent: f64,
}

/// Fill rate of one instructor's classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstructorFillLine {
    pub instructor: String,
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    pub percent: f64,
}

/// How full the (not cancelled) classes of a period were: attended seats over capacity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillReport {
    pub classes: u64,
    pub seats: u64,
    pub attended: u64,
    pub percent: f64,
    /// Fullest first, then by course name.
    pub by_course: Vec<FillLine>,
    /// Fullest first, then by instructor name.
    pub by_instructor: Vec<InstructorFillLine>,
}

/// New clients in one week (Monday to Sunday, local time) of a weekly trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekCount {
    /// The local date the week starts (a Monday, or the period's first day).
    pub week_start: NaiveDate,
    pub count: u64,
}

const SAMPLE: usize = 10;

impl Store {
    /// The opened email of a client in a sample; empty when it cannot be opened (the
    /// figure still stands, and the reason goes to the log without the value).
    fn sample_email(&self, c: &Document) -> String {
        let (Ok(id), Some(stored)) = (c.get_object_id("_id"), c.get("email")) else {
            return String::new();
        };
        super::sealed::open(self.keys(), id, super::sealed::EMAIL, stored).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a client's email could not be opened");
            String::new()
        })
    }

    /// The clients of a sample, by id, with the fields of `projection`.
    async fn clients_in(
        &self,
        sample: &[(ObjectId, DateTime<Utc>)],
        projection: Document,
    ) -> Result<HashMap<ObjectId, Document>, StoreError> {
        let ids: Vec<ObjectId> = sample.iter().map(|(id, _)| *id).collect();
        Ok(self
            .clients()
            .find(doc! { "_id": { "$in": ids } })
            .projection(projection)
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|c| Some((c.get_object_id("_id").ok()?, c)))
            .collect())
    }

    /// Revenue in the period: payments with status paid whose `paid_at` is in
    /// `[start, end)`, optionally broken down by course or method. The currency is the
    /// one of the payments, or `currency` when there are none.
    ///
    /// # Errors
    /// The server failed; [`StoreError::Conflict`] when the payments are in more than
    /// one currency (they cannot be added up).
    pub async fn revenue(
        &self,
        period: &ResolvedPeriod,
        by: RevenueBreakdown,
        currency: Currency,
    ) -> Result<RevenueReport, StoreError> {
        // Whole days from the kept day totals, the edges from the payments.
        let split = self.revenue_split(period.start, period.end).await?;
        let mut breakdown: BTreeMap<String, RevenueLine> = BTreeMap::new();
        let (mut total_minor, mut payments) = (0, 0);
        let mut currencies = BTreeSet::new();
        for (key, sum) in &split {
            total_minor += sum.total;
            payments += sum.payments;
            currencies.insert(key.currency.clone());
            let line_key = match by {
                RevenueBreakdown::None => continue,
                RevenueBreakdown::Course => &key.course,
                RevenueBreakdown::Method => &key.method,
            };
            let line = breakdown
                .entry(line_key.clone())
                .or_insert_with(|| RevenueLine {
                    key: line_key.clone(),
                    total_minor: 0,
                    payments: 0,
                });
            line.total_minor += sum.total;
            line.payments += sum.payments;
        }
        let mut breakdown: Vec<RevenueLine> = breakdown.into_values().collect();
        breakdown.sort_by(|a, b| {
            b.total_minor
                .cmp(&a.total_minor)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(RevenueReport {
            total_minor,
            payments,
            breakdown,
            currency: only_currency(currencies, currency)?,
        })
    }

    /// The same stretch of the month before as `running` (a month so far), and its
    /// revenue: what a running month is set against, in chat and over REST alike.
    ///
    /// # Errors
    /// As [`Store::revenue`].
    pub async fn same_stretch_before(
        &self,
        running: &ResolvedPeriod,
        currency: Currency,
    ) -> Result<(ResolvedPeriod, i64), StoreError> {
        let before = running.previous();
        let total = self
            .revenue(&before, RevenueBreakdown::None, currency)
            .await?
            .total_minor;
        Ok((before, total))
    }

    /// Revenue in `period` and in `previous`, for a comparison (two pipelines, run
    /// together).
    ///
    /// # Errors
    /// As [`Store::revenue`].
    pub async fn revenue_compared(
        &self,
        period: &ResolvedPeriod,
        previous: &ResolvedPeriod,
        by: RevenueBreakdown,
        currency: Currency,
    ) -> Result<(RevenueReport, RevenueReport), StoreError> {
        futures::try_join!(
            self.revenue(period, by, currency),
            self.revenue(previous, by, currency)
        )
    }

    /// Revenue per local calendar month (`"2026-11"`) of payments paid in
    /// `[start, end)`, in month order; months without revenue are listed with 0.
    ///
    /// # Errors
    /// The server failed.
    pub async fn revenue_trend(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        offset: FixedOffset,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let pipeline = vec![
            doc! { "$match": { "status": "paid", "paid_at": between(start, end) } },
            doc! { "$group": {
                "_id": { "$dateToString": {
                    "format": "%Y-%m",
                    "date": "$paid_at",
                    "timezone": offset.to_string(),
                } },
                "total": { "$sum": "$amount.minor" },
            } },
            doc! { "$sort": { "_id": 1 } },
        ];
        let buckets: Vec<(String, i64)> = aggregate(&self.payments(), pipeline)
            .await?
            .iter()
            .map(|d| (get_string(d, "_id"), get_i64(d, "total")))
            .collect();
        Ok(fill_months(start, end, offset, buckets))
    }

    /// Clients and leads (not deleted) who joined in the period, with the ten newest.
    ///
    /// # Errors
    /// The server failed.
    pub async fn new_clients(
        &self,
        period: &ResolvedPeriod,
    ) -> Result<NewClientsReport, StoreError> {
        // From the days kept as clients are added and deleted.
        let joined = self
            .counted_between(
                ClientDays::Joined,
                period.start,
                period.end,
                SAMPLE,
                End::Latest,
            )
            .await?;
        let found = self
            .clients_in(&joined.sample, doc! { "name": 1, "email": 1 })
            .await?;
        let sample = joined
            .sample
            .iter()
            .filter_map(|(id, at)| Some((found.get(id)?, at)))
            .map(|(c, at)| ClientBrief {
                id: c
                    .get_object_id("_id")
                    .map(|id| id.to_hex())
                    .unwrap_or_default(),
                name: get_string(c, "name"),
                email: self.sample_email(c),
                joined_at: *at,
            })
            .collect();
        let count = joined.count;
        Ok(NewClientsReport { count, sample })
    }

    /// Clients and leads (not deleted) who joined in the period, counted per local week
    /// (weeks start on Monday at local midnight; the first week starts at the period's
    /// start), every week listed, with 0 for weeks nobody joined. One `$bucket` stage
    /// over week boundaries computed from the period.
    ///
    /// # Errors
    /// The server failed.
    pub async fn new_clients_by_week(
        &self,
        period: &ResolvedPeriod,
        offset: FixedOffset,
    ) -> Result<Vec<WeekCount>, StoreError> {
        let weeks = week_starts(period.start, period.end, offset);
        if weeks.is_empty() {
            return Ok(Vec::new());
        }
        let mut boundaries: Vec<Bson> = weeks
            .iter()
            .map(|(_, at)| Bson::DateTime(bson::DateTime::from_chrono(*at)))
            .collect();
        boundaries.push(Bson::DateTime(bson::DateTime::from_chrono(period.end)));
        let pipeline = vec![
            doc! { "$match": {
                "deleted_at": Bson::Null,
                "joined_at": between(period.start, period.end),
            } },
            doc! { "$bucket": {
                "groupBy": "$joined_at",
                "boundaries": boundaries,
                "default": "outside",
                "output": { "n": { "$sum": 1 } },
            } },
        ];
        let counts: Vec<(DateTime<Utc>, u64)> = aggregate(&self.clients(), pipeline)
            .await?
            .iter()
            .filter_map(|d| get_date(d, "_id").map(|at| (at, get_u64(d, "n"))))
            .collect();
        Ok(weeks
            .into_iter()
            .map(|(week_start, at)| WeekCount {
                week_start,
                count: counts.iter().find(|(t, _)| *t == at).map_or(0, |(_, n)| *n),
            })
            .collect())
    }

    /// Orders per course (not cancelled; created in the period if one is given, all
    /// time otherwise) and the distinct clients who placed them; most orders first. All
    /// time reads the counts kept per course as orders are written; a period, its orders.
    ///
    /// # Errors
    /// The server failed.
    pub async fn course_enrollment(
        &self,
        period: Option<&ResolvedPeriod>,
    ) -> Result<Vec<EnrollmentLine>, StoreError> {
        let Some(p) = period else {
            // All time: the counts kept per course as orders are written.
            let catalogue = self.all_courses().await?;
            let mut lines: Vec<EnrollmentLine> = self
                .kept_enrolments()
                .await?
                .into_iter()
                .map(|kept| EnrollmentLine {
                    course: catalogue
                        .iter()
                        .find(|c| c.id == kept.course_id)
                        .map_or(kept.course, |c| c.name.clone()),
                    orders: kept.orders,
                    active_clients: kept.clients,
                })
                .collect();
            sort_enrollment(&mut lines);
            return Ok(lines);
        };
        let pipeline = vec![
            // The period by its index first; `$ne` is no index's bound.
            doc! { "$match": { "created_at": between(p.start, p.end) } },
            doc! { "$match": { "status": { "$ne": "cancelled" } } },
            // Distinct clients by grouping twice, not with `$addToSet`: a set per course
            // that grows with every order made this query quadratic on large data. No
            // sort of the orders: the course's current name comes from the catalogue.
            doc! { "$group": {
                "_id": { "course": "$course_id", "client": "$client_id" },
                "course": { "$max": "$course_name" },
                "orders": { "$sum": 1 },
            } },
            doc! { "$group": {
                "_id": "$_id.course",
                "course": { "$max": "$course" },
                "orders": { "$sum": "$orders" },
                "active_clients": { "$sum": 1 },
            } },
        ];
        let grouped = aggregate(&self.orders(), pipeline).await?;
        let catalogue = self.all_courses().await?;
        let mut lines: Vec<EnrollmentLine> = grouped
            .iter()
            .map(|d| {
                let current = d
                    .get_object_id("_id")
                    .ok()
                    .and_then(|id| catalogue.iter().find(|c| c.id == id));
                EnrollmentLine {
                    // A course no longer in the catalogue keeps the name its orders carry.
                    course: current.map_or_else(|| get_string(d, "course"), |c| c.name.clone()),
                    orders: get_u64(d, "orders"),
                    active_clients: get_u64(d, "active_clients"),
                }
            })
            .collect();
        sort_enrollment(&mut lines);
        Ok(lines)
    }

    /// Attendance at classes that started in the period (optionally of one course):
    /// attended (present or late) over all records, overall and per course. Read from
    /// the counts each class carries (one document per class, not per record).
    ///
    /// # Errors
    /// The server failed.
    pub async fn attendance_rate(
        &self,
        period: &ResolvedPeriod,
        course_id: Option<ObjectId>,
    ) -> Result<AttendanceReport, StoreError> {
        self.attendance_rate_for(period, course_id.as_ref().map(std::slice::from_ref))
            .await
    }

    /// [`Store::attendance_rate`] of some courses (a family of courses), or of all
    /// for `None`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn attendance_rate_for(
        &self,
        period: &ResolvedPeriod,
        courses: Option<&[ObjectId]>,
    ) -> Result<AttendanceReport, StoreError> {
        // The classes summed per day, course and instructor, kept as classes and
        // attendance are written (cancelled classes' records count too).
        let groups = self.class_groups(period.start, period.end, courses).await?;
        let mut courses: HashMap<ObjectId, AttendanceLine> = HashMap::new();
        for g in groups.iter().filter(|g| g.marked > 0) {
            let line = courses
                .entry(g.course_id)
                .or_insert_with(|| AttendanceLine {
                    course: g.course_name.clone(),
                    attended: 0,
                    total: 0,
                    percent: 0.0,
                });
            line.attended += g.attended;
            line.total += g.marked;
        }
        let mut by_course: Vec<AttendanceLine> = courses
            .into_values()
            .map(|l| AttendanceLine {
                percent: percent(l.attended, l.total),
                ..l
            })
            .collect();
        by_course.sort_by(|a, b| {
            rate(b.attended, b.total)
                .total_cmp(&rate(a.attended, a.total))
                .then_with(|| a.course.cmp(&b.course))
        });
        let attended = by_course.iter().map(|l| l.attended).sum();
        let total = by_course.iter().map(|l| l.total).sum();
        Ok(AttendanceReport {
            attended,
            total,
            percent: percent(attended, total),
            by_course,
        })
    }

    /// Clients (not leads, not deleted) whose last visit is more than `days` days before
    /// `now`, or who never came and joined more than `days` days before `now`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn inactive_clients(
        &self,
        now: DateTime<Utc>,
        days: u32,
    ) -> Result<InactiveReport, StoreError> {
        // From the days kept as clients change: how many, and the longest absent.
        let cutoff = now - Duration::days(i64::from(days));
        let absent = self
            .counted_between(
                ClientDays::Absent,
                DateTime::UNIX_EPOCH,
                cutoff,
                SAMPLE,
                End::Earliest,
            )
            .await?;
        let found = self
            .clients_in(
                &absent.sample,
                doc! { "name": 1, "email": 1, "last_visit_at": 1 },
            )
            .await?;
        let sample = absent
            .sample
            .iter()
            .filter_map(|(id, _)| found.get(id))
            .map(|c| InactiveBrief {
                name: get_string(c, "name"),
                email: self.sample_email(c),
                last_visit_at: get_date(c, "last_visit_at"),
            })
            .collect();
        let count = absent.count;
        Ok(InactiveReport {
            count,
            days,
            sample,
        })
    }

    /// Pending payments and, of them, those due before `now`. The currency is the one of
    /// the payments, or `currency` when there are none.
    ///
    /// # Errors
    /// The server failed; [`StoreError::Conflict`] when the pending payments are in more
    /// than one currency.
    pub async fn outstanding_balance(
        &self,
        now: DateTime<Utc>,
        currency: Currency,
    ) -> Result<OutstandingReport, StoreError> {
        // From the due days kept as payments start and stop being pending.
        let owed = self.outstanding_at(now).await?;
        let currencies: BTreeSet<String> = owed.pending.keys().cloned().collect();
        let sum = |by: &BTreeMap<String, super::pending_days::Owed>| {
            by.values()
                .fold((0, 0), |(m, n), o| (m + o.minor, n + o.payments))
        };
        let ((pending_minor, pending_count), (overdue_minor, overdue_count)) =
            (sum(&owed.pending), sum(&owed.overdue));
        Ok(OutstandingReport {
            pending_minor,
            pending_count,
            overdue_minor,
            overdue_count,
            currency: only_currency(currencies, currency)?,
        })
    }

    /// Of the clients who attended (present or late) at least one class in `previous`,
    /// how many attended at least one in `period`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn retention(
        &self,
        period: &ResolvedPeriod,
        previous: &ResolvedPeriod,
    ) -> Result<RetentionReport, StoreError> {
        // Who came in each period, from the days kept as attendance is written.
        let (before, now) = futures::try_join!(
            self.visitors_between(previous.start, previous.end),
            self.visitors_between(period.start, period.end),
        )?;
        let previous_active = before.len() as u64;
        let retained = before.intersection(&now).count() as u64;
        Ok(RetentionReport {
            previous_active,
            retained,
            percent: percent(retained, previous_active),
        })
    }

    /// How full the classes (not cancelled) starting in the period were: attended
    /// (present or late) over capacity, overall and per course, optionally for one course.
    ///
    /// # Errors
    /// The server failed.
    pub async fn class_fill_rate(
        &self,
        period: &ResolvedPeriod,
        course_id: Option<ObjectId>,
    ) -> Result<FillReport, StoreError> {
        self.class_fill_rate_for(period, course_id.as_ref().map(std::slice::from_ref))
            .await
    }

    /// [`Store::class_fill_rate`] of some courses (a family of courses), or of all for
    /// `None`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn class_fill_rate_for(
        &self,
        period: &ResolvedPeriod,
        courses: Option<&[ObjectId]>,
    ) -> Result<FillReport, StoreError> {
        // The classes summed per day, course and instructor, kept as classes and
        // attendance are written; cancelled classes left out.
        let groups: Vec<_> = self
            .class_groups(period.start, period.end, courses)
            .await?
            .into_iter()
            .filter(|g| !g.cancelled)
            .collect();
        let catalogue = self.all_courses().await?;
        let mut courses: HashMap<ObjectId, CourseFill> = HashMap::new();
        // Per instructor: (classes, seats, attended).
        let mut instructors: HashMap<String, (u64, u64, u64)> = HashMap::new();
        let (mut classes, mut seats, mut attended) = (0, 0, 0);
        for group in &groups {
            let (course_id, instructor) = (group.course_id, group.instructor.as_str());
            let (n, capacity, came) = (group.classes, group.seats, group.attended);
            classes += n;
            seats += capacity;
            attended += came;
            let line = courses.entry(course_id).or_insert_with(|| CourseFill {
                // The course's current name; one gone from the catalogue keeps its classes'.
                course: catalogue
                    .iter()
                    .find(|c| c.id == course_id)
                    .map_or_else(|| group.course_name.clone(), |c| c.name.clone()),
                ..CourseFill::default()
            });
            line.classes += n;
            line.seats += capacity;
            line.attended += came;
            if !instructor.is_empty() {
                line.instructors.insert(instructor.to_owned());
            }
            let by = instructors.entry(instructor.to_owned()).or_default();
            by.0 += n;
            by.1 += capacity;
            by.2 += came;
        }
        let mut by_course: Vec<FillLine> = courses
            .into_values()
            .map(|c| FillLine {
                percent: percent(c.attended, c.seats),
                course: c.course,
                instructor: c.instructors.into_iter().collect::<Vec<_>>().join(", "),
                classes: c.classes,
                seats: c.seats,
                attended: c.attended,
            })
            .collect();
        by_course.sort_by(|a, b| {
            rate(b.attended, b.seats)
                .total_cmp(&rate(a.attended, a.seats))
                .then_with(|| a.course.cmp(&b.course))
        });
        let mut by_instructor: Vec<InstructorFillLine> = instructors
            .into_iter()
            .map(
                |(instructor, (classes, seats, attended))| InstructorFillLine {
                    instructor,
                    classes,
                    seats,
                    attended,
                    percent: percent(attended, seats),
                },
            )
            .collect();
        by_instructor.sort_by(|a, b| {
            rate(b.attended, b.seats)
                .total_cmp(&rate(a.attended, a.seats))
                .then_with(|| a.instructor.cmp(&b.instructor))
        });
        Ok(FillReport {
            classes,
            seats,
            attended,
            percent: percent(attended, seats),
            by_course,
            by_instructor,
        })
    }
}

/// Most orders first, then by course name.
fn sort_enrollment(lines: &mut [EnrollmentLine]) {
    lines.sort_by(|a, b| {
        b.orders
            .cmp(&a.orders)
            .then_with(|| a.course.cmp(&b.course))
    });
}

/// One course's classes while [`Store::class_fill_rate`] adds them up.
#[derive(Default)]
struct CourseFill {
    course: String,
    instructors: BTreeSet<String>,
    classes: u64,
    seats: u64,
    attended: u64,
}

/// `part / whole`, 0 for an empty whole.
fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `{ "$gte": start, "$lt": end }` on BSON dates.
fn between(start: DateTime<Utc>, end: DateTime<Utc>) -> Document {
    doc! {
        "$gte": bson::DateTime::from_chrono(start),
        "$lt": bson::DateTime::from_chrono(end),
    }
}

async fn aggregate<T: Send + Sync>(
    collection: &Collection<T>,
    pipeline: Vec<Document>,
) -> Result<Vec<Document>, StoreError> {
    Ok(collection.aggregate(pipeline).await?.try_collect().await?)
}

/// A number however the server typed it (`$sum` gives Int32, Int64 or Double).
pub(super) fn get_i64(doc: &Document, key: &str) -> i64 {
    match doc.get(key) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        // Whole numbers summed as doubles; the cast saturates, never panics.
        #[allow(clippy::cast_possible_truncation)]
        Some(Bson::Double(n)) => n.round() as i64,
        _ => 0,
    }
}

/// A count however the server typed it; negative counts read as 0.
pub(super) fn get_u64(doc: &Document, key: &str) -> u64 {
    u64::try_from(get_i64(doc, key)).unwrap_or(0)
}

fn get_string(doc: &Document, key: &str) -> String {
    match doc.get(key) {
        Some(Bson::String(s)) => s.clone(),
        Some(Bson::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn get_date(doc: &Document, key: &str) -> Option<DateTime<Utc>> {
    match doc.get(key) {
        Some(Bson::DateTime(d)) => Some(d.to_chrono()),
        _ => None,
    }
}

/// The one currency of `codes`, `fallback` when there are none; an error for several.
fn only_currency(codes: BTreeSet<String>, fallback: Currency) -> Result<Currency, StoreError> {
    let mut codes = codes.into_iter();
    match (codes.next(), codes.next()) {
        (None, _) => Ok(fallback),
        (Some(code), None) => Ok(Currency::parse(&code)?),
        (Some(a), Some(b)) => Err(StoreError::Conflict(format!(
            "the payments are in more than one currency ({a}, {b}, …) and cannot be added up"
        ))),
    }
}

/// `part / whole` in percent, rounded half up to one decimal; 0.0 when `whole` is 0.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let (part, whole) = (u128::from(part), u128::from(whole));
    let tenths = (part * 2000 + whole) / (2 * whole);
    #[allow(clippy::cast_precision_loss)]
    let tenths = tenths as f64;
    tenths / 10.0
}

/// Every local month from `start` to just before `end`, with the buckets' totals and 0
/// for months without one. Buckets outside that range (there should be none) are kept.
fn fill_months(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    offset: FixedOffset,
    buckets: Vec<(String, i64)>,
) -> Vec<(String, i64)> {
    if end <= start {
        return buckets;
    }
    let month_of = |t: DateTime<Utc>| {
        let local = t.with_timezone(&offset).date_naive();
        NaiveDate::from_ymd_opt(local.year(), local.month(), 1)
    };
    let (Some(mut month), Some(last)) =
        (month_of(start), month_of(end - Duration::milliseconds(1)))
    else {
        return buckets;
    };
    let mut all: std::collections::BTreeMap<String, i64> = buckets.into_iter().collect();
    while month <= last {
        all.entry(month.format("%Y-%m").to_string()).or_insert(0);
        let Some(next) = month.checked_add_months(chrono::Months::new(1)) else {
            break;
        };
        month = next;
    }
    all.into_iter().collect()
}

/// The local weeks from `start` to just before `end`: each week's first local date and
/// the instant it starts (the first at `start`, the others on Monday at local midnight).
fn week_starts(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    offset: FixedOffset,
) -> Vec<(NaiveDate, DateTime<Utc>)> {
    let mut weeks = Vec::new();
    if end <= start {
        return weeks;
    }
    let first = start.with_timezone(&offset).date_naive();
    weeks.push((first, start));
    let to_monday = (7 - i64::from(first.weekday().num_days_from_monday())) % 7;
    let mut monday = first + Duration::days(if to_monday == 0 { 7 } else { to_monday });
    while let Some(at) = monday
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single())
        .map(|t| t.with_timezone(&Utc))
    {
        if at >= end || weeks.len() > 600 {
            break;
        }
        weeks.push((monday, at));
        monday += Duration::days(7);
    }
    weeks
}

// --- clients by status, and the top clients ----------------------------------------------

/// How many clients there are, by their `status` now, and how many joined in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSummary {
    /// Clients and leads, not deleted: `active + leads + inactive`.
    pub total: u64,
    /// Status active: bought a course and still coming (set on every enrolment).
    pub active: u64,
    /// Status lead: enquired, never bought.
    pub leads: u64,
    /// Status inactive: a client the studio's records mark as no longer coming.
    pub inactive: u64,
    /// Clients and leads (not deleted) who joined in the period, as [`Store::new_clients`]
    /// counts them.
    pub joined: u64,
}

/// What the top clients are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TopClientsBy {
    /// Paid payments whose `paid_at` is in the period, summed.
    #[default]
    Spend,
    /// Classes starting in the period that the client came to (present or late).
    Attendance,
}

impl TopClientsBy {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spend => "spend",
            Self::Attendance => "attendance",
        }
    }
}

/// One client of a ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopClientLine {
    /// 1 + how many clients are ranked above: tied clients share a rank (1, 2, 2, 4).
    pub rank: u64,
    /// The client's id, as hex.
    pub id: String,
    pub name: String,
    /// Spend: paid, in minor units of the report's currency; attendance: classes attended.
    pub value: i64,
    /// Spend: how many payments; attendance: how many classes (the value again).
    pub count: u64,
    /// Another client, shown or not, has the same value.
    pub tied: bool,
}

/// The clients who spent most, or came most, in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopClientsReport {
    pub by: TopClientsBy,
    /// Highest first; tied clients by name.
    pub lines: Vec<TopClientLine>,
    /// Clients with the same value as the last one shown who did not fit in the limit.
    pub tied_beyond: u64,
    /// Clients with any spend (or attendance) in the period.
    pub clients: u64,
    /// The payments' currency (spend), or the studio's when there are none.
    pub currency: Currency,
}

/// `(client, value, count)`, highest value first (then by id).
type Ranked = (ObjectId, i64, u64);

/// The most clients a ranking shows.
pub const MAX_TOP_CLIENTS: usize = 20;

impl Store {
    /// Clients and leads (not deleted) by status now, from the counts kept as clients
    /// are written (three documents), and how many joined in `period`, from the kept
    /// join days.
    ///
    /// # Errors
    /// The server failed.
    pub async fn client_summary(
        &self,
        period: &ResolvedPeriod,
    ) -> Result<ClientSummary, StoreError> {
        let (counts, joined) = futures::try_join!(
            self.status_counts(),
            self.counted_between(ClientDays::Joined, period.start, period.end, 0, End::Latest),
        )?;
        Ok(ClientSummary {
            total: counts.total(),
            active: counts.active,
            leads: counts.lead,
            inactive: counts.inactive,
            joined: joined.count,
        })
    }

    /// The `limit` (1 to [`MAX_TOP_CLIENTS`]) clients who spent most (paid payments whose
    /// `paid_at` is in the period; one pipeline over the period's paid payments, as
    /// [`Store::revenue_trend`]) or came to most classes starting in the period (the
    /// kept visit days), with ties named. The currency is that of the payments shown, or
    /// `currency` when there are none.
    ///
    /// # Errors
    /// The server failed; [`StoreError::Conflict`] when the payments shown are in more
    /// than one currency.
    pub async fn top_clients(
        &self,
        period: &ResolvedPeriod,
        by: TopClientsBy,
        limit: usize,
        currency: Currency,
    ) -> Result<TopClientsReport, StoreError> {
        let limit = limit.clamp(1, MAX_TOP_CLIENTS);
        let (rows, tied_beyond, clients, currency) = match by {
            TopClientsBy::Spend => self.top_spenders(period, limit, currency).await?,
            TopClientsBy::Attendance => {
                let mut all: Vec<Ranked> = self
                    .visits_per_client_between(period.start, period.end)
                    .await?
                    .into_iter()
                    .map(|(id, n)| (id, i64::try_from(n).unwrap_or(i64::MAX), n))
                    .collect();
                all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let clients = all.len() as u64;
                let last = limit.min(all.len());
                let tied_beyond = match last.checked_sub(1).and_then(|i| all.get(i)) {
                    Some(&(_, value, _)) => {
                        all[last..].iter().filter(|r| r.1 == value).count() as u64
                    }
                    None => 0,
                };
                all.truncate(limit);
                (all, tied_beyond, clients, currency)
            }
        };
        let sample: Vec<(ObjectId, DateTime<Utc>)> =
            rows.iter().map(|r| (r.0, DateTime::UNIX_EPOCH)).collect();
        let found = self.clients_in(&sample, doc! { "name": 1 }).await?;
        let mut lines: Vec<TopClientLine> = rows
            .iter()
            .map(|&(id, value, count)| TopClientLine {
                rank: 1 + rows.iter().filter(|r| r.1 > value).count() as u64,
                id: id.to_hex(),
                name: found
                    .get(&id)
                    .map(|c| get_string(c, "name"))
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "(a client no longer on record)".to_owned()),
                value,
                count,
                tied: rows.iter().filter(|r| r.1 == value).count() > 1
                    || (tied_beyond > 0 && rows.last().is_some_and(|r| r.1 == value)),
            })
            .collect();
        lines.sort_by(|a, b| {
            a.rank
                .cmp(&b.rank)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(TopClientsReport {
            by,
            lines,
            tied_beyond,
            clients,
            currency,
        })
    }

    /// The top `limit` spenders of the period (and the first one after them, to see a
    /// tie at the cut), how many more tie with the last shown, how many clients paid
    /// anything, and the currency.
    async fn top_spenders(
        &self,
        period: &ResolvedPeriod,
        limit: usize,
        currency: Currency,
    ) -> Result<(Vec<Ranked>, u64, u64, Currency), StoreError> {
        let paid =
            doc! { "$match": { "status": "paid", "paid_at": between(period.start, period.end) } };
        let per_client = doc! { "$group": {
            "_id": "$client_id",
            "total": { "$sum": "$amount.minor" },
            "payments": { "$sum": 1 },
            "currencies": { "$addToSet": "$amount.currency" },
        } };
        let first = vec![
            paid.clone(),
            per_client.clone(),
            doc! { "$sort": { "total": -1, "_id": 1 } },
            doc! { "$limit": i64::try_from(limit + 1).unwrap_or(i64::MAX) },
        ];
        let counted = vec![
            paid.clone(),
            doc! { "$group": { "_id": "$client_id" } },
            doc! { "$count": "n" },
        ];
        let payments = self.payments();
        let (top, counted) =
            futures::try_join!(aggregate(&payments, first), aggregate(&payments, counted),)?;
        let clients = counted.first().map_or(0, |d| get_u64(d, "n"));
        let mut currencies = BTreeSet::new();
        let mut rows: Vec<Ranked> = Vec::with_capacity(top.len());
        for d in &top {
            let Ok(id) = d.get_object_id("_id") else {
                continue;
            };
            rows.push((id, get_i64(d, "total"), get_u64(d, "payments")));
            if rows.len() <= limit {
                if let Ok(codes) = d.get_array("currencies") {
                    currencies.extend(codes.iter().filter_map(|c| c.as_str().map(str::to_owned)));
                }
            }
        }
        let last = limit.checked_sub(1).and_then(|i| rows.get(i));
        let cut = match (last, rows.get(limit)) {
            (Some(last), Some(next)) if last.1 == next.1 => Some(last.1),
            _ => None,
        };
        rows.truncate(limit);
        let tied_beyond = match cut {
            None => 0,
            Some(value) => {
                let same = vec![
                    paid,
                    per_client,
                    doc! { "$match": { "total": value } },
                    doc! { "$count": "n" },
                ];
                let all_same = aggregate(&payments, same)
                    .await?
                    .first()
                    .map_or(0, |d| get_u64(d, "n"));
                let shown_same = rows.iter().filter(|r| r.1 == value).count() as u64;
                all_same.saturating_sub(shown_same)
            }
        };
        Ok((
            rows,
            tied_beyond,
            clients,
            only_currency(currencies, currency)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_at_the_period_start_then_on_mondays() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let ist = FixedOffset::east_opt(19_800).unwrap();
        // 1 Sep 2026 (a Tuesday) 00:00 IST to 16 Sep 2026 00:00 IST.
        let weeks = week_starts(at("2026-08-31T18:30:00Z"), at("2026-09-15T18:30:00Z"), ist);
        let dates: Vec<String> = weeks.iter().map(|(d, _)| d.to_string()).collect();
        assert_eq!(dates, ["2026-09-01", "2026-09-07", "2026-09-14"]);
        assert_eq!(weeks[1].1, at("2026-09-06T18:30:00Z"));
    }

    #[test]
    fn percentages_round_half_up_to_one_decimal() {
        assert!((percent(0, 0) - 0.0).abs() < f64::EPSILON);
        assert!((percent(1, 3) - 33.3).abs() < 1e-9);
        assert!((percent(2, 3) - 66.7).abs() < 1e-9);
        assert!((percent(1, 16) - 6.3).abs() < 1e-9);
        assert!((percent(5, 5) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn numbers_are_read_whatever_their_bson_type() {
        let d = doc! { "a": 3_i32, "b": 4_i64, "c": 5.0_f64, "d": "x", "e": -2_i32 };
        assert_eq!(
            (get_i64(&d, "a"), get_i64(&d, "b"), get_i64(&d, "c")),
            (3, 4, 5)
        );
        assert_eq!(
            (get_u64(&d, "d"), get_u64(&d, "e"), get_u64(&d, "z")),
            (0, 0, 0)
        );
    }

    #[test]
    fn months_without_revenue_are_filled_with_zero() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let (start, end) = (at("2026-08-31T18:30:00Z"), at("2026-11-30T18:30:00Z"));
        let ist = FixedOffset::east_opt(19_800).unwrap();
        let filled = fill_months(start, end, ist, vec![("2026-10".into(), 500)]);
        assert_eq!(
            filled,
            vec![
                ("2026-09".to_owned(), 0),
                ("2026-10".to_owned(), 500),
                ("2026-11".to_owned(), 0)
            ]
        );
    }
}
