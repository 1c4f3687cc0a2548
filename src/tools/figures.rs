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
/// higher)." for at least two items; `None` otherwise. Items level at the top or the
/// bottom are named together as a tie ("Best: Pilates and Yoga (tied) at 80.0%"), and when
/// all are level it says so instead.
#[must_use]
pub fn best_and_worst(items: &[(String, f64)], unit: Unit) -> Option<String> {
    let items: Vec<(&str, f64, Option<String>)> =
        items.iter().map(|i| (i.0.as_str(), i.1, None)).collect();
    rank(&items, unit)
}

/// The best and worst of `items` (name, figure, what the figure rests on).
fn rank(items: &[(&str, f64, Option<String>)], unit: Unit) -> Option<String> {
    if items.len() < 2 {
        return None;
    }
    let top = items.iter().map(|i| i.1).fold(f64::NEG_INFINITY, f64::max);
    let bottom = items.iter().map(|i| i.1).fold(f64::INFINITY, f64::min);
    if level(top, bottom) {
        return Some(format!(
            "All {} are level at {}: a tie.",
            items.len(),
            unit.format(top)
        ));
    }
    // "Pilates at 86.5% (12 classes)", or "Pilates and Yoga (tied) at 80.0%".
    let at = |value: f64| -> (String, usize) {
        let level_with: Vec<&(&str, f64, Option<String>)> =
            items.iter().filter(|i| level(i.1, value)).collect();
        let names: Vec<&str> = level_with.iter().map(|i| i.0).collect();
        let rests_on = match level_with.as_slice() {
            [only] => only
                .2
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        (
            format!("{} at {}{rests_on}", tied(&names), unit.format(value)),
            names.len(),
        )
    };
    let ((best, n_best), (worst, _)) = (at(top), at(bottom));
    let gap = magnitude(top - bottom, unit);
    let relative = match items.iter().find(|i| level(i.1, top)) {
        Some(first) if bottom > 0.0 && n_best == 1 => format!(
            " ({} is {:.1}% higher)",
            first.0,
            (top - bottom) * 100.0 / bottom
        ),
        _ => String::new(),
    };
    Some(format!(
        "Best: {best}; worst: {worst} — {gap} apart{relative}."
    ))
}

/// [`best_and_worst`] of a breakdown whose figures rest on `count` records each (classes,
/// say): only items resting on at least `min` are ranked, each shown with its count
/// ("Pilates (12 classes)"); when fewer than two are left, it says the breakdown is too
/// thin to rank.
#[must_use]
pub fn best_and_worst_of(
    items: &[(String, f64, u64)],
    unit: Unit,
    min: u64,
    (one, many): (&str, &str),
) -> Option<String> {
    if items.len() < 2 {
        return None;
    }
    let counted = |n: u64| format!("{n} {}", if n == 1 { one } else { many });
    let ranked: Vec<(&str, f64, Option<String>)> = items
        .iter()
        .filter(|i| i.2 >= min)
        .map(|i| (i.0.as_str(), i.1, Some(counted(i.2))))
        .collect();
    if ranked.len() < 2 {
        return Some(format!(
            "Too few {many} to rank them: a fair ranking needs at least {} each.",
            counted(min)
        ));
    }
    let left_out = items.len() - ranked.len();
    let mut sentence = rank(&ranked, unit)?;
    if left_out > 0 {
        sentence.push_str(&format!(
            " ({left_out} with fewer than {} not ranked.)",
            counted(min)
        ));
    }
    Some(sentence)
}

/// Two figures equal as people read them (to a thousandth).
fn level(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-3
}

/// "Pilates", "Pilates and Yoga (tied)", "Pilates, Yoga and Zumba (tied)", or for more
/// than three "5 of them (tied)".
fn tied(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [first @ .., last] if names.len() <= 3 => {
            format!("{} and {last} (tied)", first.join(", "))
        }
        many => format!("{} of them (tied)", many.len()),
    }
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

    #[test]
    fn ties_are_called_ties() {
        let items = vec![
            ("Asha".to_owned(), 13.0),
            ("Ravi".to_owned(), 13.0),
            ("Meera".to_owned(), 9.0),
        ];
        assert_eq!(
            best_and_worst(&items, Unit::Count).unwrap(),
            "Best: Asha and Ravi (tied) at 13; worst: Meera at 9 — 4 apart."
        );
        let level = vec![("Asha".to_owned(), 13.0), ("Ravi".to_owned(), 13.0)];
        assert_eq!(
            best_and_worst(&level, Unit::Count).unwrap(),
            "All 2 are level at 13: a tie."
        );
    }

    #[test]
    fn thin_figures_are_not_ranked() {
        let items = vec![
            ("Pilates".to_owned(), 100.0, 1),
            ("Yoga".to_owned(), 80.0, 12),
            ("Zumba".to_owned(), 60.0, 5),
        ];
        assert_eq!(
            best_and_worst_of(&items, Unit::Percent, 3, ("class", "classes")).unwrap(),
            "Best: Yoga at 80.0% (12 classes); worst: Zumba at 60.0% (5 classes) — 20.0 pts apart (Yoga is 33.3% higher). (1 with fewer than 3 classes not ranked.)"
        );
        assert_eq!(
            best_and_worst_of(&items[..1], Unit::Percent, 3, ("class", "classes")),
            None
        );
        assert_eq!(
            best_and_worst_of(&items[..2], Unit::Percent, 13, ("class", "classes")).unwrap(),
            "Too few classes to rank them: a fair ranking needs at least 13 classes each."
        );
    }
}
