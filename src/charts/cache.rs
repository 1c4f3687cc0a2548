//! The last few charts drawn, by what they show: a dashboard question asked again while
//! its figures have not changed gets the same PNG without drawing it again.

use std::collections::VecDeque;
use std::sync::{LazyLock, Mutex};

use super::{Chart, ChartError, ChartSpec};

/// How many charts are kept (each is a PNG of a few tens of kilobytes).
const KEPT: usize = 16;

static RECENT: LazyLock<Mutex<VecDeque<(ChartSpec, Chart)>>> =
    LazyLock::new(|| Mutex::new(VecDeque::with_capacity(KEPT)));

/// The chart of `spec`: drawn before, or drawn now and kept.
///
/// # Errors
/// As [`ChartSpec::render`].
pub fn render(spec: &ChartSpec) -> Result<Chart, ChartError> {
    if let Ok(mut recent) = RECENT.lock() {
        if let Some(at) = recent.iter().position(|(s, _)| s == spec) {
            // Most recently used first, so the least used falls off the end.
            if let Some(hit) = recent.remove(at) {
                let chart = hit.1.clone();
                recent.push_front(hit);
                return Ok(chart);
            }
        }
    }
    // Drawn without the lock held: other charts are not kept waiting.
    let chart = spec.render()?;
    if let Ok(mut recent) = RECENT.lock() {
        if !recent.iter().any(|(s, _)| s == spec) {
            recent.push_front((spec.clone(), chart.clone()));
            recent.truncate(KEPT);
        }
    }
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::{Point, Unit};

    #[test]
    fn the_same_figures_give_the_same_chart_and_new_figures_a_new_one() {
        let spec = |v: f64| {
            ChartSpec::bar(
                "Cache test",
                "Course",
                "Clients",
                Unit::Count,
                vec![Point::new("Pilates", v), Point::new("Yoga", 3.0)],
            )
        };
        let first = render(&spec(7.0)).unwrap();
        assert_eq!(render(&spec(7.0)).unwrap(), first);
        let other = render(&spec(8.0)).unwrap();
        assert_ne!(other.png, first.png);
        assert_eq!(other.png, spec(8.0).render().unwrap().png);
    }
}
