//! Charts for the Dashboard Agent's trends and breakdowns: a [`ChartSpec`] (what to draw:
//! kind, title, axis names, labelled figures and their unit) rendered in-process to a PNG
//! [`Chart`] of a fixed size, with an embedded font; no browser, no network.
//!
//! Tools describe the chart (they know what the figures mean); the agents render it once
//! per answer; the gateway, the console and the REST API only carry the bytes. This
//! module knows nothing of MongoDB, agents or chat platforms.

mod cache;
mod font;
mod render;

use crate::domain::{format_minor, Currency};

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 800;
/// Height of every chart, in pixels.
pub const HEIGHT: u32 = 450;
/// The MIME type of a rendered chart.
pub const MIME: &str = "image/png";

/// How the figures are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// A trend over time: one point per period, joined by a line.
    Line,
    /// A breakdown: one horizontal bar per item, largest first (top).
    Bar,
}

impl ChartKind {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::Bar => "bar",
        }
    }
}

/// What the figures are, for axis ticks, bar labels and alt text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Minor units of a currency (paise, cents).
    Money(Currency),
    /// Percent, 0 to 100.
    Percent,
    /// A plain count.
    Count,
}

impl Unit {
    /// A figure as people read it: `₹12,500`, `86.5%`, `42`.
    #[must_use]
    pub fn format(&self, value: f64) -> String {
        match self {
            // Figures are whole minor units; the cast saturates, never panics.
            #[allow(clippy::cast_possible_truncation)]
            Self::Money(currency) => format_minor(value.round() as i64, *currency),
            Self::Percent => format!("{value:.1}%"),
            Self::Count => format!("{value:.0}"),
        }
    }

    /// A figure on an axis tick: like [`Unit::format`], percentages without decimals.
    #[must_use]
    pub fn format_tick(&self, value: f64) -> String {
        match self {
            Self::Percent => format!("{value:.0}%"),
            _ => self.format(value),
        }
    }
}

/// One labelled figure: a month and its revenue, a course and its attendance.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    /// In the chart's [`Unit`] (money in minor units).
    pub value: f64,
}

impl Point {
    /// One point per (label, value) pair, in order.
    #[must_use]
    pub fn all<L: Into<String>>(pairs: impl IntoIterator<Item = (L, f64)>) -> Vec<Self> {
        pairs.into_iter().map(|(l, v)| Self::new(l, v)).collect()
    }

    #[must_use]
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Self {
            label: label.into(),
            value,
        }
    }
}

/// A chart to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub kind: ChartKind,
    pub title: String,
    /// What the points are (months, courses).
    pub x_label: String,
    /// What the figures are (revenue, attendance).
    pub y_label: String,
    pub unit: Unit,
    pub points: Vec<Point>,
}

impl ChartSpec {
    /// A line chart of a trend.
    #[must_use]
    pub fn line(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        unit: Unit,
        points: Vec<Point>,
    ) -> Self {
        Self {
            kind: ChartKind::Line,
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            unit,
            points,
        }
    }

    /// A bar chart of a breakdown, in the order given (the first bar on top).
    #[must_use]
    pub fn bar(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        unit: Unit,
        points: Vec<Point>,
    ) -> Self {
        Self {
            kind: ChartKind::Bar,
            ..Self::line(title, x_label, y_label, unit, points)
        }
    }

    /// A text description of the chart, for screen readers and platforms without images:
    /// "Bar chart — Attendance by course: Pilates 86.5%, Yoga 80.0%".
    #[must_use]
    pub fn alt_text(&self) -> String {
        const MAX_POINTS: usize = 24;
        let kind = match self.kind {
            ChartKind::Line => "Line chart",
            ChartKind::Bar => "Bar chart",
        };
        let mut figures: Vec<String> = self
            .points
            .iter()
            .take(MAX_POINTS)
            .map(|p| format!("{} {}", p.label, self.unit.format(p.value)))
            .collect();
        if self.points.len() > MAX_POINTS {
            figures.push(format!("and {} more", self.points.len() - MAX_POINTS));
        }
        format!("{kind} — {}: {}", self.title, figures.join(", "))
    }

    /// Draws the chart as a [`WIDTH`]×[`HEIGHT`] PNG.
    ///
    /// # Errors
    /// No points, a figure that is not a finite number, or a drawing or encoding failure.
    pub fn render(&self) -> Result<Chart, ChartError> {
        if self.points.is_empty() {
            return Err(ChartError::Empty);
        }
        if self.points.iter().any(|p| !p.value.is_finite()) {
            return Err(ChartError::NotANumber);
        }
        let png = render::png(self)?;
        Ok(Chart {
            kind: self.kind,
            title: self.title.clone(),
            alt: self.alt_text(),
            png,
            width: WIDTH,
            height: HEIGHT,
        })
    }

    /// Like [`ChartSpec::render`], reusing the chart of the same figures when it was
    /// drawn recently.
    ///
    /// # Errors
    /// As [`ChartSpec::render`].
    pub fn render_cached(&self) -> Result<Chart, ChartError> {
        cache::render(self)
    }
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Chart {
    #[serde(serialize_with = "kind_name")]
    pub kind: ChartKind,
    pub title: String,
    /// A text description of the figures.
    pub alt: String,
    /// The PNG file (not serialized: `ask --chart-out` writes it, the REST API sends it
    /// as base64).
    #[serde(skip)]
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl Chart {
    /// The file name to send it under, from the title: `revenue-per-month.png`.
    #[must_use]
    pub fn file_name(&self) -> String {
        let mut name = String::new();
        for c in self.title.chars() {
            if c.is_ascii_alphanumeric() {
                name.push(c.to_ascii_lowercase());
            } else if !name.ends_with('-') && !name.is_empty() {
                name.push('-');
            }
            if name.len() >= 48 {
                break;
            }
        }
        let name = name.trim_end_matches('-');
        if name.is_empty() {
            "chart.png".to_owned()
        } else {
            format!("{name}.png")
        }
    }
}

fn kind_name<S: serde::Serializer>(kind: &ChartKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("a chart needs at least one figure")]
    Empty,
    #[error("a chart figure is not a finite number")]
    NotANumber,
    #[error("the chart font could not be loaded")]
    Font,
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_formatted_by_unit() {
        let inr = Currency::parse("INR").unwrap();
        assert_eq!(Unit::Money(inr).format(1_250_000.0), "₹12,500");
        assert_eq!(Unit::Percent.format(86.54), "86.5%");
        assert_eq!(Unit::Percent.format_tick(40.0), "40%");
        assert_eq!(Unit::Count.format(7.0), "7");
    }

    #[test]
    fn alt_text_lists_the_figures() {
        let spec = ChartSpec::bar(
            "Attendance by course",
            "Course",
            "Attendance",
            Unit::Percent,
            vec![Point::new("Pilates", 86.5), Point::new("Yoga", 80.0)],
        );
        assert_eq!(
            spec.alt_text(),
            "Bar chart — Attendance by course: Pilates 86.5%, Yoga 80.0%"
        );
    }

    #[test]
    fn file_names_come_from_titles() {
        let chart = Chart {
            kind: ChartKind::Line,
            title: "Revenue per month, Jun – Nov 2026".into(),
            alt: String::new(),
            png: Vec::new(),
            width: WIDTH,
            height: HEIGHT,
        };
        assert_eq!(chart.file_name(), "revenue-per-month-jun-nov-2026.png");
    }

    #[test]
    fn nothing_to_draw_is_an_error() {
        let spec = ChartSpec::line("t", "x", "y", Unit::Count, Vec::new());
        assert!(matches!(spec.render(), Err(ChartError::Empty)));
        let spec = ChartSpec::line("t", "x", "y", Unit::Count, vec![Point::new("a", f64::NAN)]);
        assert!(matches!(spec.render(), Err(ChartError::NotANumber)));
    }
}
