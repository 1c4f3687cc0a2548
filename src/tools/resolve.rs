//! Turning what people type into records: course names (fuzzy, "did you mean"), clients
//! (by email, phone, order number or name, asking which when two match), periods.

use chrono::{DateTime, Utc};

use super::{ToolCtx, ToolError};
use crate::domain::{Client, Course, Email, OrderNumber, Period, Phone, ResolvedPeriod};

/// How well a typed course name matched the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub enum CourseMatch {
    Found(Course),
    /// Several courses fit equally ("yoga"): ask which.
    Several(Vec<Course>),
    /// Nothing close; the nearest names, best first.
    None(Vec<String>),
}

/// A course name as compared: lower case, without filler words ("the", "class").
pub(super) fn normalise(text: &str) -> String {
    let stop = [
        "the", "class", "classes", "course", "courses", "session", "sessions", "for", "a", "an",
    ];
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !stop.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Matches a typed course name against the catalogue: exact (ignoring case and filler
/// words), then every typed word in one course's name, then spelling mistakes.
#[must_use]
pub fn match_course(courses: &[Course], typed: &str) -> CourseMatch {
    let want = normalise(typed);
    if want.is_empty() {
        return CourseMatch::None(courses.iter().map(|c| c.name.clone()).collect());
    }
    if let Some(c) = courses.iter().find(|c| normalise(&c.name) == want) {
        return CourseMatch::Found(c.clone());
    }
    let words: Vec<&str> = want.split(' ').collect();
    let word_fits = |name: &str, w: &str| {
        name.split(' ')
            .any(|n| n == w || (w.len() >= 5 && strsim::damerau_levenshtein(n, w) <= 1))
    };
    let containing: Vec<&Course> = courses
        .iter()
        .filter(|c| {
            let name = normalise(&c.name);
            words.iter().all(|w| word_fits(&name, w))
        })
        .collect();
    if containing.len() == 1 {
        return CourseMatch::Found(containing[0].clone());
    }
    if containing.len() > 1 {
        // "Pilates" names a course and is part of "Pilates Intermediate": the shorter wins.
        let fewest = containing
            .iter()
            .map(|c| normalise(&c.name).split(' ').count())
            .min()
            .unwrap_or(0);
        let exact_len: Vec<&&Course> = containing
            .iter()
            .filter(|c| normalise(&c.name).split(' ').count() == fewest && fewest == words.len())
            .collect();
        if exact_len.len() == 1 {
            return CourseMatch::Found((*exact_len[0]).clone());
        }
        return CourseMatch::Several(containing.into_iter().cloned().collect());
    }
    let mut scored: Vec<(f64, &Course)> = courses
        .iter()
        .map(|c| {
            (
                strsim::normalized_damerau_levenshtein(&normalise(&c.name), &want),
                c,
            )
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    match scored.first() {
        Some((score, c)) if *score >= 0.8 => CourseMatch::Found((*c).clone()),
        _ => CourseMatch::None(scored.iter().take(3).map(|(_, c)| c.name.clone()).collect()),
    }
}

/// The course a tool argument names.
///
/// # Errors
/// No course close enough ("did you mean …?"), or several equally close.
pub async fn course(ctx: &ToolCtx, typed: &str) -> Result<Course, ToolError> {
    let courses = ctx.store.all_courses().await?;
    match match_course(&courses, typed) {
        CourseMatch::Found(c) => Ok(c),
        CourseMatch::Several(options) => {
            let names: Vec<String> = options.iter().map(|c| c.name.clone()).collect();
            Err(ToolError::Ambiguous {
                field: "course",
                question: format!("Which course do you mean: {}?", or_list(&names)),
                options: names,
            })
        }
        CourseMatch::None(near) => Err(ToolError::NotFound(if near.is_empty() {
            format!("I couldn't find a course called \"{}\".", clip(typed))
        } else {
            format!(
                "I couldn't find a course called \"{}\". Did you mean {}?",
                clip(typed),
                or_list(&near)
            )
        })),
    }
}

/// The client a staff member names: an email, a phone number, an order number or a name.
///
/// # Errors
/// Nobody matches, or several people do (the question lists them).
pub async fn client(ctx: &ToolCtx, typed: &str) -> Result<Client, ToolError> {
    let typed = typed.trim();
    if typed.contains('@') {
        let email = Email::parse(typed).map_err(|e| ToolError::BadArgs(e.to_string()))?;
        return ctx
            .store
            .client_by_email(&email)
            .await?
            .ok_or_else(|| ToolError::NotFound(format!("No client has the email {email}.")));
    }
    if typed.chars().filter(char::is_ascii_digit).count() >= 10 {
        if let Ok(phone) = Phone::parse(typed) {
            return ctx.store.client_by_phone(&phone).await?.ok_or_else(|| {
                ToolError::NotFound(format!("No client has the phone number {phone}."))
            });
        }
    }
    if let Ok(number) = OrderNumber::parse(typed) {
        let order = ctx
            .store
            .order_by_number(number)
            .await?
            .ok_or_else(|| ToolError::NotFound(format!("There is no order {number}.")))?;
        return ctx
            .store
            .client_by_id(order.client_id)
            .await?
            .ok_or_else(|| {
                ToolError::NotFound(format!("The client of order {number} has been deleted."))
            });
    }
    let found = ctx.store.clients_by_name(typed, 6).await?;
    match found.len() {
        0 => Err(ToolError::NotFound(format!(
            "I couldn't find a client called \"{}\".",
            clip(typed)
        ))),
        1 => Ok(found
            .into_iter()
            .next()
            .ok_or_else(|| ToolError::NotFound("no client".into()))?),
        _ => {
            let options: Vec<String> = found
                .iter()
                .map(|c| format!("{} ({})", c.name, c.email))
                .collect();
            Err(ToolError::Ambiguous {
                field: "client",
                question: format!(
                    "I found {} clients called \"{}\": {}. Which one?",
                    found.len(),
                    clip(typed),
                    or_list(&options)
                ),
                options,
            })
        }
    }
}

/// Parses a period token and resolves it at the studio's "now".
///
/// # Errors
/// Not a period token.
pub fn period(
    ctx: &ToolCtx,
    token: Option<&str>,
    default: Period,
) -> Result<ResolvedPeriod, ToolError> {
    Period::parse_or(token, default)
        .map_err(|e| ToolError::BadArgs(e.to_string()))?
        .resolve(ctx.clock.now(), ctx.studio.utc_offset)
        .map_err(|e| ToolError::BadArgs(e.to_string()))
}

/// A period for figures: cut at now when still running ("1–25 Nov 2026").
///
/// # Errors
/// Not a period token.
pub fn period_to_date(
    ctx: &ToolCtx,
    token: Option<&str>,
    default: Period,
) -> Result<ResolvedPeriod, ToolError> {
    Ok(period(ctx, token, default)?.to_date(ctx.clock.now()))
}

/// "a, b or c".
#[must_use]
pub fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Echoed user text, cut short and without characters that could format a chat message.
#[must_use]
pub fn clip(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_control() && !"*_`<>[]{}$".contains(*c))
        .take(60)
        .collect();
    cleaned.trim().to_owned()
}

/// A local date and time such as "Mon 23 Nov, 07:00".
#[must_use]
pub fn local_time(ctx: &ToolCtx, t: DateTime<Utc>) -> String {
    t.with_timezone(&ctx.studio.utc_offset)
        .format("%a %-d %b, %H:%M")
        .to_string()
}

/// A local date such as "23 Nov 2026".
#[must_use]
pub fn local_date(ctx: &ToolCtx, t: DateTime<Utc>) -> String {
    t.with_timezone(&ctx.studio.utc_offset)
        .format("%-d %b %Y")
        .to_string()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, Weekday};

    use super::*;
    use crate::domain::{CourseCategory, CourseLevel, Currency, Money, WeeklySlot};

    fn catalogue() -> Vec<Course> {
        [
            "Yoga Beginner",
            "Vinyasa Flow",
            "Yin Yoga",
            "Pilates",
            "Pilates Intermediate",
            "Zumba",
        ]
        .iter()
        .map(|n| {
            let slot = WeeklySlot::new(Weekday::Mon, NaiveTime::from_hms_opt(7, 0, 0).unwrap(), 60)
                .unwrap();
            Course::new(
                n,
                CourseCategory::Yoga,
                CourseLevel::All,
                Money::new(100, Currency::INR).unwrap(),
                "X",
                10,
                vec![slot],
            )
            .unwrap()
        })
        .collect()
    }

    fn found(typed: &str) -> String {
        match match_course(&catalogue(), typed) {
            CourseMatch::Found(c) => c.name,
            other => panic!("{typed}: {other:?}"),
        }
    }

    #[test]
    fn courses_match_however_they_are_typed() {
        assert_eq!(found("pilates"), "Pilates");
        assert_eq!(found("Pilates classes"), "Pilates");
        assert_eq!(found("intermediate pilates"), "Pilates Intermediate");
        assert_eq!(found("pilates intermadiate"), "Pilates Intermediate");
        assert_eq!(found("yoga beginer"), "Yoga Beginner");
        assert_eq!(found("zumbaa"), "Zumba");
        assert!(
            matches!(match_course(&catalogue(), "yoga"), CourseMatch::Several(v) if v.len() == 2)
        );
        match match_course(&catalogue(), "kickboxing") {
            CourseMatch::None(near) => assert_eq!(near.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists_read_naturally() {
        assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");
        assert_eq!(clip("{\"$ne\": null} *bold*"), "\"ne\": null bold");
    }
}
