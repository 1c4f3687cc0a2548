//! Periods people ask about ("this month", "last 7 days", "2026-10") and their resolution
//! into a half-open UTC interval in the studio's local time.
//!
//! The token forms are the contract of INTERFACES.md: `today`, `tomorrow`, `yesterday`,
//! `this_week`, `last_week`, `next_week`, `this_month`, `last_month`, `this_year`,
//! `last_year`, `last_N_days`, `next_N_days`, `YYYY-MM`, `YYYY-MM-DD..YYYY-MM-DD`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, TimeZone, Utc};

use super::DomainError;

/// A period in words, not yet tied to a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Today,
    Tomorrow,
    Yesterday,
    ThisWeek,
    LastWeek,
    NextWeek,
    ThisMonth,
    LastMonth,
    ThisYear,
    LastYear,
    LastDays(u32),
    NextDays(u32),
    Month {
        year: i32,
        month: u32,
    },
    /// Both dates inclusive.
    Range {
        from: NaiveDate,
        to: NaiveDate,
    },
}

/// A period resolved against a clock: `[start, end)` in UTC plus a label in local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPeriod {
    pub period: Period,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    offset: FixedOffset,
    /// Whether the period is whole, or cut at a time of day.
    pub cut: Cut,
}

/// Where a period ends: at its calendar end, or cut at a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// The whole period, to its calendar end.
    Whole,
    /// A running period, up to now ("so far").
    SoFar,
    /// The previous period of a running one, up to the same point ("to the same time").
    SameTime,
}

const MAX_DAYS: u32 = 3660;

impl Period {
    /// The canonical token of this period, as in INTERFACES.md.
    #[must_use]
    pub fn token(&self) -> String {
        match self {
            Self::Today => "today".into(),
            Self::Tomorrow => "tomorrow".into(),
            Self::Yesterday => "yesterday".into(),
            Self::ThisWeek => "this_week".into(),
            Self::LastWeek => "last_week".into(),
            Self::NextWeek => "next_week".into(),
            Self::ThisMonth => "this_month".into(),
            Self::LastMonth => "last_month".into(),
            Self::ThisYear => "this_year".into(),
            Self::LastYear => "last_year".into(),
            Self::LastDays(n) => format!("last_{n}_days"),
            Self::NextDays(n) => format!("next_{n}_days"),
            Self::Month { year, month } => format!("{year:04}-{month:02}"),
            Self::Range { from, to } => format!("{from}..{to}"),
        }
    }

    /// Whether the period ends in the future when "now" is inside it (this week, this
    /// month); analytics cut such periods at now.
    #[must_use]
    pub fn is_current(&self) -> bool {
        matches!(
            self,
            Self::Today | Self::ThisWeek | Self::ThisMonth | Self::ThisYear
        )
    }

    /// Resolves the period against `now`, with days starting at local midnight in
    /// `offset` and weeks on Monday. The end is the calendar end (the whole of this week).
    ///
    /// # Errors
    /// A date that does not exist in the calendar.
    pub fn resolve(
        self,
        now: DateTime<Utc>,
        offset: FixedOffset,
    ) -> Result<ResolvedPeriod, DomainError> {
        let today = now.with_timezone(&offset).date_naive();
        let week_start = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        let month_start = first_of_month(today.year(), today.month())?;
        let year_start = first_of_month(today.year(), 1)?;
        let (from, to_exclusive) = match self {
            Self::Today => (today, today + Duration::days(1)),
            Self::Tomorrow => (today + Duration::days(1), today + Duration::days(2)),
            Self::Yesterday => (today - Duration::days(1), today),
            Self::ThisWeek => (week_start, week_start + Duration::days(7)),
            Self::LastWeek => (week_start - Duration::days(7), week_start),
            Self::NextWeek => (
                week_start + Duration::days(7),
                week_start + Duration::days(14),
            ),
            Self::ThisMonth => (month_start, add_months(month_start, 1)?),
            Self::LastMonth => (sub_months(month_start, 1)?, month_start),
            Self::ThisYear => (year_start, add_months(year_start, 12)?),
            Self::LastYear => (sub_months(year_start, 12)?, year_start),
            Self::LastDays(n) => (
                today - Duration::days(i64::from(n) - 1),
                today + Duration::days(1),
            ),
            Self::NextDays(n) => (today, today + Duration::days(i64::from(n))),
            Self::Month { year, month } => {
                let start = first_of_month(year, month)?;
                (start, add_months(start, 1)?)
            }
            Self::Range { from, to } => (from, to + Duration::days(1)),
        };
        Ok(ResolvedPeriod {
            period: self,
            start: local_midnight(from, offset)?,
            end: local_midnight(to_exclusive, offset)?,
            offset,
            cut: Cut::Whole,
        })
    }
}

impl ResolvedPeriod {
    /// The same period cut at `now` when it is still running (month to date).
    #[must_use]
    pub fn to_date(mut self, now: DateTime<Utc>) -> Self {
        if self.start <= now && now < self.end {
            self.end = now;
            self.cut = Cut::SoFar;
        }
        self
    }

    /// The local time of day a cut period ends at ("15:30"); `None` for a whole one.
    #[must_use]
    pub fn cut_at(&self) -> Option<String> {
        (self.cut != Cut::Whole).then(|| {
            self.end
                .with_timezone(&self.offset)
                .format("%H:%M")
                .to_string()
        })
    }

    /// The local month ("2026-11") a running period ends in: that month's figure covers
    /// only part of it so far.
    #[must_use]
    pub fn running_month(&self) -> Option<String> {
        self.is_running().then(|| {
            self.end
                .with_timezone(&self.offset)
                .format("%Y-%m")
                .to_string()
        })
    }

    /// Whether the week starting on local date `start` is only partly in the period:
    /// `Some("so far")` for the week still running, `Some("part")` for one cut at either
    /// end (a first week that starts mid-week), `None` for a whole week.
    #[must_use]
    pub fn partial_week(&self, start: NaiveDate) -> Option<&'static str> {
        let first_day = self.start.with_timezone(&self.offset).date_naive();
        let week_end = local_midnight(start + Duration::days(7), self.offset).ok();
        if week_end.is_some_and(|end| end > self.end) {
            Some(if self.is_running() { "so far" } else { "part" })
        } else if start < first_day || start.weekday() != chrono::Weekday::Mon {
            Some("part")
        } else {
            None
        }
    }

    /// Whether the period was cut at now (it is still running).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.cut == Cut::SoFar
    }

    /// The period just before this one, for comparisons, like with like: the same
    /// stretch of the previous month or year (1–25 Oct for 1–25 Nov), the same days
    /// before for a day-based period ("last 7 days" against the 7 before, "today"
    /// against yesterday), and a running period to the same time of day.
    #[must_use]
    pub fn previous(&self) -> Self {
        // Months are shifted in local time: 1 Oct 00:00 IST is 30 Sep in UTC.
        let shift_months = |t: DateTime<Utc>, m: u32| {
            t.with_timezone(&self.offset)
                .checked_sub_months(Months::new(m))
                .map(|l| l.with_timezone(&Utc))
        };
        let by_months = match self.period {
            Period::Month { .. } | Period::ThisMonth | Period::LastMonth => Some(1),
            Period::ThisYear | Period::LastYear => Some(12),
            _ => None,
        };
        let shifted =
            by_months.and_then(|m| shift_months(self.start, m).zip(shift_months(self.end, m)));
        let (start, end) = shifted.unwrap_or_else(|| {
            // Whole calendar days, whatever time of day a running period was cut at.
            let days = Duration::days(self.period.days().unwrap_or_else(|| {
                let len = self.end - self.start;
                (len.num_seconds() + 86_399) / 86_400
            }));
            (self.start - days, self.end - days)
        });
        Self {
            period: self.period,
            start,
            end,
            offset: self.offset,
            cut: match self.cut {
                Cut::SoFar | Cut::SameTime => Cut::SameTime,
                Cut::Whole => Cut::Whole,
            },
        }
    }

    /// The dates it covers, such as "1–25 Nov 2026", "27 Oct – 2 Nov 2026" or "25 Nov
    /// 2026", without saying whether it is cut.
    #[must_use]
    pub fn dates(&self) -> String {
        let first = self.start.with_timezone(&self.offset).date_naive();
        let last_instant = if self.end > self.start {
            self.end - Duration::nanoseconds(1)
        } else {
            self.end
        };
        let last = last_instant.with_timezone(&self.offset).date_naive();
        if first == last {
            first.format("%-d %b %Y").to_string()
        } else if first.year() == last.year() && first.month() == last.month() {
            format!("{}–{} {}", first.day(), last.day(), last.format("%b %Y"))
        } else if first.year() == last.year() {
            format!("{} – {}", first.format("%-d %b"), last.format("%-d %b %Y"))
        } else {
            format!(
                "{} – {}",
                first.format("%-d %b %Y"),
                last.format("%-d %b %Y")
            )
        }
    }

    /// A label such as "1–30 Sep 2026", or for a running period "1–25 Nov 2026 so far (to
    /// 15:30)" and for its previous one "1–25 Oct 2026 to the same time (15:30)".
    #[must_use]
    pub fn label(&self) -> String {
        let time = self.end.with_timezone(&self.offset).format("%H:%M");
        match self.cut {
            Cut::Whole => self.dates(),
            Cut::SoFar => format!("{} so far (to {time})", self.dates()),
            Cut::SameTime => format!("{} to the same time ({time})", self.dates()),
        }
    }
}

impl Period {
    /// How many calendar days a day-based period covers (`None` for months and years).
    #[must_use]
    pub fn days(&self) -> Option<i64> {
        match self {
            Self::Today | Self::Tomorrow | Self::Yesterday => Some(1),
            Self::ThisWeek | Self::LastWeek | Self::NextWeek => Some(7),
            Self::LastDays(n) | Self::NextDays(n) => Some(i64::from(*n)),
            Self::Range { from, to } => Some((*to - *from).num_days() + 1),
            Self::ThisMonth
            | Self::LastMonth
            | Self::ThisYear
            | Self::LastYear
            | Self::Month { .. } => None,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.token())
    }
}

impl FromStr for Period {
    type Err = DomainError;

    /// Parses the tokens of INTERFACES.md.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim().to_lowercase().replace([' ', '-'], "_");
        let bad = || {
            DomainError::invalid(
                "period",
                format!(
                    "{raw:?} is not a period (try today, this_week, last_month, last_30_days, 2026-10 or 2026-10-01..2026-10-15)"
                ),
            )
        };
        let fixed = match s.as_str() {
            "today" => Some(Self::Today),
            "tomorrow" => Some(Self::Tomorrow),
            "yesterday" => Some(Self::Yesterday),
            "this_week" | "week" => Some(Self::ThisWeek),
            "last_week" => Some(Self::LastWeek),
            "next_week" => Some(Self::NextWeek),
            "this_month" | "month" => Some(Self::ThisMonth),
            "last_month" => Some(Self::LastMonth),
            "this_year" | "year" => Some(Self::ThisYear),
            "last_year" => Some(Self::LastYear),
            _ => None,
        };
        if let Some(p) = fixed {
            return Ok(p);
        }
        for (prefix, make) in [
            ("last_", Self::LastDays as fn(u32) -> Self),
            ("next_", Self::NextDays),
        ] {
            if let Some(n) = s.strip_prefix(prefix).and_then(|r| r.strip_suffix("_days")) {
                let n: u32 = n.parse().map_err(|_| bad())?;
                if n == 0 || n > MAX_DAYS {
                    return Err(DomainError::invalid(
                        "period",
                        format!("{n} days: choose 1 to {MAX_DAYS}"),
                    ));
                }
                return Ok(make(n));
            }
        }
        let raw_t = raw.trim();
        if let Some((a, b)) = raw_t.split_once("..") {
            let from = NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").map_err(|_| bad())?;
            let to = NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").map_err(|_| bad())?;
            return Self::range(from, to);
        }
        if let Some((y, m)) = raw_t.split_once('-') {
            if y.len() == 4 && m.len() <= 2 {
                let year: i32 = y.parse().map_err(|_| bad())?;
                let month: u32 = m.parse().map_err(|_| bad())?;
                return Self::month(year, month);
            }
        }
        if let Ok(day) = NaiveDate::parse_from_str(raw_t, "%Y-%m-%d") {
            return Ok(Self::Range { from: day, to: day });
        }
        Err(bad())
    }
}

impl Period {
    /// The period a token names, or `default` when the token is absent or blank (the
    /// rule shared by the tools and the REST API).
    ///
    /// # Errors
    /// A token that is not a period.
    pub fn parse_or(token: Option<&str>, default: Self) -> Result<Self, DomainError> {
        match token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => t.parse(),
            None => Ok(default),
        }
    }

    /// The last `months` local calendar months, this one included (to today): the span
    /// of a monthly trend.
    ///
    /// # Errors
    /// `months` outside 1..=36.
    pub fn last_months(
        months: u32,
        now: DateTime<Utc>,
        offset: FixedOffset,
    ) -> Result<Self, DomainError> {
        if !(1..=36).contains(&months) {
            return Err(DomainError::invalid(
                "months",
                format!("{months} months: choose 1 to 36"),
            ));
        }
        let today = now.with_timezone(&offset).date_naive();
        let first = sub_months(first_of_month(today.year(), today.month())?, months - 1)?;
        Self::range(first, today)
    }

    /// # Errors
    /// A month outside 1..=12 or a year outside 2000..=2100.
    pub fn month(year: i32, month: u32) -> Result<Self, DomainError> {
        if !(1..=12).contains(&month) || !(2000..=2100).contains(&year) {
            return Err(DomainError::invalid(
                "period",
                format!("{year}-{month:02} is not a month"),
            ));
        }
        Ok(Self::Month { year, month })
    }

    /// # Errors
    /// `to` before `from`, or a range over ten years.
    pub fn range(from: NaiveDate, to: NaiveDate) -> Result<Self, DomainError> {
        if to < from {
            return Err(DomainError::invalid(
                "period",
                format!("{to} is before {from}"),
            ));
        }
        if (to - from).num_days() > i64::from(MAX_DAYS) {
            return Err(DomainError::invalid(
                "period",
                "a period covers at most ten years",
            ));
        }
        Ok(Self::Range { from, to })
    }
}

fn first_of_month(year: i32, month: u32) -> Result<NaiveDate, DomainError> {
    NaiveDate::from_ymd_opt(year, month, 1)
        .ok_or_else(|| DomainError::invalid("period", format!("{year}-{month:02} is not a month")))
}

fn add_months(d: NaiveDate, m: u32) -> Result<NaiveDate, DomainError> {
    d.checked_add_months(Months::new(m))
        .ok_or_else(|| DomainError::invalid("period", "the date is out of range"))
}

fn sub_months(d: NaiveDate, m: u32) -> Result<NaiveDate, DomainError> {
    d.checked_sub_months(Months::new(m))
        .ok_or_else(|| DomainError::invalid("period", "the date is out of range"))
}

fn local_midnight(day: NaiveDate, offset: FixedOffset) -> Result<DateTime<Utc>, DomainError> {
    let naive = day
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| DomainError::invalid("period", "the date is out of range"))?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| DomainError::invalid("period", "the date is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ist() -> FixedOffset {
        FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
    }

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn tokens_round_trip() {
        for t in [
            "today",
            "tomorrow",
            "this_week",
            "last_week",
            "this_month",
            "last_month",
            "this_year",
            "last_7_days",
            "2026-10",
            "2026-10-01..2026-10-15",
        ] {
            assert_eq!(t.parse::<Period>().unwrap().token(), t);
        }
        for bad in [
            "",
            "fortnight",
            "last_0_days",
            "2026-13",
            "2026-10-15..2026-10-01",
            "last_x_days",
        ] {
            assert_eq!(
                bad.parse::<Period>().unwrap_err().field(),
                "period",
                "{bad}"
            );
        }
    }

    #[test]
    fn this_month_to_date_is_labelled_like_people_write_it() {
        let now = at("2026-11-25T10:00:00Z");
        let p = Period::ThisMonth.resolve(now, ist()).unwrap().to_date(now);
        assert_eq!(p.start, at("2026-10-31T18:30:00Z"));
        assert_eq!(p.end, now);
        assert_eq!(p.label(), "1–25 Nov 2026 so far (to 15:30)");
        let prev = p.previous();
        assert_eq!(prev.start, at("2026-09-30T18:30:00Z"));
        assert_eq!(prev.end, at("2026-10-25T10:00:00Z"));
        assert_eq!(prev.label(), "1–25 Oct 2026 to the same time (15:30)");
        // An explicit range of the same dates is whole, and says so by saying nothing.
        let explicit = "2026-10-01..2026-10-25"
            .parse::<Period>()
            .unwrap()
            .resolve(now, ist())
            .unwrap()
            .to_date(now);
        assert_eq!(explicit.label(), "1–25 Oct 2026");
    }

    #[test]
    fn today_and_the_last_days_compare_with_the_same_stretch_before() {
        let now = at("2026-11-25T10:00:00Z"); // 15:30 in the studio
        let today = Period::Today.resolve(now, ist()).unwrap().to_date(now);
        let yesterday = today.previous();
        assert_eq!(yesterday.start, at("2026-11-23T18:30:00Z"));
        assert_eq!(yesterday.end, at("2026-11-24T10:00:00Z"));
        assert_eq!(yesterday.label(), "24 Nov 2026 to the same time (15:30)");
        let week = Period::LastDays(7)
            .resolve(now, ist())
            .unwrap()
            .to_date(now);
        assert_eq!(week.label(), "19–25 Nov 2026 so far (to 15:30)");
        let before = week.previous();
        assert_eq!(before.start, at("2026-11-11T18:30:00Z"));
        assert_eq!(before.end, at("2026-11-18T10:00:00Z"));
        assert_eq!(before.label(), "12–18 Nov 2026 to the same time (15:30)");
        // Whole days against whole days.
        let last_week = Period::LastWeek.resolve(now, ist()).unwrap().to_date(now);
        assert_eq!(last_week.previous().label(), "9–15 Nov 2026");
        let range = "2026-11-01..2026-11-10"
            .parse::<Period>()
            .unwrap()
            .resolve(now, ist())
            .unwrap();
        assert_eq!(range.previous().label(), "22–31 Oct 2026");
    }

    #[test]
    fn the_month_before_last_month_is_whole_in_local_time() {
        let now = at("2026-11-25T10:00:00Z");
        let prev = Period::LastMonth.resolve(now, ist()).unwrap().previous();
        assert_eq!(prev.label(), "1–30 Sep 2026");
        assert_eq!(prev.start, at("2026-08-31T18:30:00Z"));
        assert_eq!(prev.end, at("2026-09-30T18:30:00Z"));
    }

    #[test]
    fn weeks_start_on_monday_and_cross_month_boundaries() {
        // Tuesday 2026-12-01.
        let now = at("2026-12-01T12:00:00Z");
        let w = Period::ThisWeek.resolve(now, utc()).unwrap();
        assert_eq!(w.start, at("2026-11-30T00:00:00Z"));
        assert_eq!(w.end, at("2026-12-07T00:00:00Z"));
        assert_eq!(w.label(), "30 Nov – 6 Dec 2026");
        let lw = Period::LastWeek.resolve(now, utc()).unwrap();
        assert_eq!(lw.start, at("2026-11-23T00:00:00Z"));
        assert_eq!(lw.label(), "23–29 Nov 2026");
    }

    #[test]
    fn last_month_in_january_is_december_of_last_year() {
        let now = at("2027-01-10T09:00:00Z");
        let p = Period::LastMonth.resolve(now, utc()).unwrap();
        assert_eq!(p.start, at("2026-12-01T00:00:00Z"));
        assert_eq!(p.end, at("2027-01-01T00:00:00Z"));
        assert_eq!(p.label(), "1–31 Dec 2026");
        let y = Period::LastYear.resolve(now, utc()).unwrap();
        assert_eq!(y.label(), "1 Jan – 31 Dec 2026");
    }

    #[test]
    fn local_midnight_decides_the_day() {
        // 20:00 UTC on the 25th is already the 26th in India.
        let now = at("2026-11-25T20:00:00Z");
        let today = Period::Today.resolve(now, ist()).unwrap();
        assert_eq!(today.label(), "26 Nov 2026");
        let days = Period::LastDays(7).resolve(now, ist()).unwrap();
        assert_eq!(days.label(), "20–26 Nov 2026");
        assert_eq!(days.end - days.start, Duration::days(7));
    }

    #[test]
    fn february_of_a_leap_year() {
        let p = Period::month(2028, 2)
            .unwrap()
            .resolve(at("2028-05-01T00:00:00Z"), utc())
            .unwrap();
        assert_eq!(p.label(), "1–29 Feb 2028");
        let across_years = Period::range(
            NaiveDate::from_ymd_opt(2025, 12, 28).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 3).unwrap(),
        )
        .unwrap();
        assert_eq!(
            across_years
                .resolve(at("2026-05-01T00:00:00Z"), utc())
                .unwrap()
                .label(),
            "28 Dec 2025 – 3 Jan 2026"
        );
    }
}
