//! How the Dashboard words comparisons: the difference between two figures in absolute
//! terms (money, counts, percentage points) and in percent, and the best and worst of a
//! breakdown. Pure functions of the figures; no IO.

use crate::charts::Unit;

/// The relative change from `before` to `now`: "+5.0%", "-12.5%", "no change", or "up
/// from nothing" when `before` is 0.
#[must_use]
pub fn percent_change(now: f64, before: f64) -> String {
    if before == 0.0 {
        return if now == 0.0 {
            "no change".into()
        } else {
            "up from nothing".into()
        };
    }
    let pct = (now - before) * 100.0 / before;
    format!("{}{pct:.1}%", if pct >= 0.0 { "+" } else { "" })
}

/// The absolute difference `now - before` with its sign: "+₹12,000", "-3", "+6.5 pts".
#[must_use]
pub fn signed_difference(now: f64, before: f64, unit: Unit) -> String {
    let diff = now - before;
    let sign = if diff >= 0.0 { "+" } else { "-" };
    format!("{sign}{}", magnitude(diff.abs(), unit))
}

/// A difference without sign, in the unit's words ("₹12,000", "3", "6.5 pts").
fn magnitude(abs: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{abs:.1} pts"),
        other => other.format(abs),
    }
}

/// "+₹12,000, +5.0%": the absolute and the relative change from `before` to `now`.
#[must_use]
pub fn difference(now: f64, before: f64, unit: Unit) -> String {
    let relative = percent_change(now, before);
    if before == 0.0 && now == 0.0 {
        return relative;
    }
    format!("{}, {relative}", signed_difference(now, before, unit))
}

/// "Best: Pilates at 86.5%; worst: Zumba at 60.0% — 26.5 pts apart (Pilates is 44.2%
/// higher)." for at least two items; `None` otherwise.
#[must_use]
pub fn best_and_worst(items: &[(String, f64)], unit: Unit) -> Option<String> {
    if items.len() < 2 {
        return None;
    }
    // The first of the highest and the last of the lowest, so ties keep the given order.
    let best = items.iter().reduce(|b, i| if i.1 > b.1 { i } else { b })?;
    let worst = items
        .iter()
        .rev()
        .reduce(|w, i| if i.1 < w.1 { i } else { w })?;
    let gap = magnitude(best.1 - worst.1, unit);
    let relative = if worst.1 > 0.0 {
        format!(
            " ({} is {:.1}% higher)",
            best.0,
            (best.1 - worst.1) * 100.0 / worst.1
        )
    } else {
        String::new()
    };
    Some(format!(
        "Best: {} at {}; worst: {} at {} — {gap} apart{relative}.",
        best.0,
        unit.format(best.1),
        worst.0,
        unit.format(worst.1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn differences_are_absolute_and_relative() {
        let inr = Unit::Money(Currency::parse("INR").unwrap());
        assert_eq!(difference(1_260_000.0, 1_200_000.0, inr), "+₹600, +5.0%");
        assert_eq!(difference(900.0, 1_200.0, Unit::Count), "-300, -25.0%");
        assert_eq!(difference(80.0, 75.0, Unit::Percent), "+5.0 pts, +6.7%");
        assert_eq!(difference(5.0, 0.0, Unit::Count), "+5, up from nothing");
        assert_eq!(difference(0.0, 0.0, Unit::Count), "no change");
    }

    #[test]
    fn best_and_worst_name_both_and_the_gap() {
        let items = vec![
            ("Pilates".to_owned(), 86.5),
            ("Yoga".to_owned(), 70.0),
            ("Zumba".to_owned(), 60.0),
        ];
        assert_eq!(
            best_and_worst(&items, Unit::Percent).unwrap(),
            "Best: Pilates at 86.5%; worst: Zumba at 60.0% — 26.5 pts apart (Pilates is 44.2% higher)."
        );
        assert_eq!(best_and_worst(&items[..1], Unit::Percent), None);
    }
}
