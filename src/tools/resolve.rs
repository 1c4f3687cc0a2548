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
    let containing = having_words(courses, &words);
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

/// A typed word is a word of a (normalised) course name: the same, or for words of five
/// letters or more, one spelling mistake away.
fn word_fits(name_word: &str, typed: &str) -> bool {
    name_word == typed || (typed.len() >= 5 && strsim::damerau_levenshtein(name_word, typed) <= 1)
}

/// The courses whose names have every one of `words` (normalised) as a whole word.
fn having_words<'a>(courses: &'a [Course], words: &[&str]) -> Vec<&'a Course> {
    courses
        .iter()
        .filter(|c| {
            let name = normalise(&c.name);
            words
                .iter()
                .all(|w| name.split(' ').any(|n| word_fits(n, w)))
        })
        .collect()
}

/// What a course argument selects: one course, or a family — every course whose name
/// has the word typed ("yoga" → Yoga Beginner, Yin Yoga, …).
#[derive(Debug, Clone, PartialEq)]
pub enum CourseSelection {
    One(Course),
    Family {
        /// The shared word(s) as the catalogue spells them: "Yoga", "HIIT".
        name: String,
        /// Two or more, in catalogue order.
        courses: Vec<Course>,
    },
}

impl CourseSelection {
    /// The selected courses: one, or the family's members.
    #[must_use]
    pub fn courses(&self) -> &[Course] {
        match self {
            Self::One(c) => std::slice::from_ref(c),
            Self::Family { courses, .. } => courses,
        }
    }

    /// The ids of the selected courses, for a store filter.
    #[must_use]
    pub fn ids(&self) -> Vec<crate::domain::ObjectId> {
        self.courses().iter().map(|c| c.id).collect()
    }

    #[must_use]
    pub fn is_family(&self) -> bool {
        matches!(self, Self::Family { .. })
    }

    /// The one course's name, or "Yoga (Yoga Beginner, Yin Yoga)" for a family.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::One(c) => c.name.clone(),
            Self::Family { name, courses } => format!(
                "{name} ({})",
                courses
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The selection as answer data: `{"course": "Yin Yoga"}` or
    /// `{"family": "Yoga", "courses": ["Yin Yoga", "Yoga Beginner"]}`.
    #[must_use]
    pub fn data(&self) -> serde_json::Value {
        match self {
            Self::One(c) => serde_json::json!({ "course": c.name }),
            Self::Family { name, courses } => serde_json::json!({
                "family": name,
                "courses": courses.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            }),
        }
    }
}

/// Words that ask for a whole family even when one course has the family's name:
/// "all Pilates" → Pilates and Pilates Intermediate.
const FAMILY_WORDS: &[&str] = &["all", "every", "any"];

/// The family's name as the catalogue spells it: each typed word as it is written in
/// the first member's name ("hiit" → "HIIT").
fn family_name(words: &[&str], first: &Course) -> String {
    let spelled: Vec<&str> = first
        .name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .iter()
        .map(|w| {
            spelled
                .iter()
                .find(|n| word_fits(&n.to_lowercase(), w))
                .map_or_else(|| (*w).to_owned(), |n| (*n).to_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a course argument selects. The name of one course (exact, every typed word in
/// its name, or misspelt) selects it, as [`match_course`] finds it; a word that is part
/// of several course names ("yoga") selects all of them, a family. "all Pilates" asks for
/// the family even though one course is called just "Pilates".
///
/// # Errors
/// Nothing close enough ("did you mean …?").
pub fn course_filter(typed: &str, courses: &[Course]) -> Result<CourseSelection, ToolError> {
    let want = normalise(typed);
    let mut words: Vec<&str> = want.split(' ').filter(|w| !w.is_empty()).collect();
    let whole_family = words.len() > 1 && FAMILY_WORDS.contains(&words[0]);
    if whole_family {
        words.remove(0);
    }
    let family = |members: Vec<&Course>| CourseSelection::Family {
        name: family_name(&words, members[0]),
        courses: members.into_iter().cloned().collect(),
    };
    if whole_family {
        let members = having_words(courses, &words);
        if members.len() > 1 {
            return Ok(family(members));
        }
    }
    let typed_rest = if whole_family {
        words.join(" ")
    } else {
        want.clone()
    };
    match match_course(courses, &typed_rest) {
        CourseMatch::Found(c) => Ok(CourseSelection::One(c)),
        // Every typed word is in each of their names: the family of that word.
        CourseMatch::Several(members) => Ok(family(members.iter().collect())),
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

/// What an optional course argument selects (nothing typed: every course).
///
/// # Errors
/// As [`course_filter`]; the catalogue could not be read.
pub async fn course_selection(
    ctx: &ToolCtx,
    typed: Option<&str>,
) -> Result<Option<CourseSelection>, ToolError> {
    match typed.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            let courses = ctx.store.all_courses().await?;
            Ok(Some(course_filter(c, &courses)?))
        }
        None => Ok(None),
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
            // A number can be shared (a family): several records are asked about, never
            // one picked.
            let found = ctx.store.clients_by_phone(&phone, 6).await?;
            return one_client(
                found,
                || format!("No client has the phone number {phone}."),
                |n| format!("{n} clients have the phone number {phone}"),
            );
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
    one_client(
        found,
        || format!("I couldn't find a client called \"{}\".", clip(typed)),
        |n| format!("I found {n} clients called \"{}\"", clip(typed)),
    )
}

/// The one client `found`, or: none (`none` says so), or several (`several` says how
/// many match, and the question lists them by name and email).
fn one_client(
    mut found: Vec<Client>,
    none: impl FnOnce() -> String,
    several: impl FnOnce(usize) -> String,
) -> Result<Client, ToolError> {
    match found.len() {
        0 => Err(ToolError::NotFound(none())),
        1 => found
            .pop()
            .ok_or_else(|| ToolError::NotFound("no client".into())),
        n => {
            let options: Vec<String> = found
                .iter()
                .map(|c| format!("{} ({})", c.name, c.email))
                .collect();
            Err(ToolError::Ambiguous {
                field: "client",
                question: format!("{}: {}. Which one?", several(n), or_list(&options)),
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
        catalogue_of(&[
            "Yoga Beginner",
            "Vinyasa Flow",
            "Yin Yoga",
            "Pilates",
            "Pilates Intermediate",
            "Zumba",
        ])
    }

    fn catalogue_of(names: &[&str]) -> Vec<Course> {
        names
            .iter()
            .map(|n| {
                let slot =
                    WeeklySlot::new(Weekday::Mon, NaiveTime::from_hms_opt(7, 0, 0).unwrap(), 60)
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

    fn selected(courses: &[Course], typed: &str) -> CourseSelection {
        course_filter(typed, courses).unwrap_or_else(|e| panic!("{typed}: {e}"))
    }

    fn names(s: &CourseSelection) -> Vec<&str> {
        s.courses().iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_word_several_courses_share_selects_the_family() {
        let courses = catalogue_of(&[
            "Yoga Beginner",
            "Yin Yoga",
            "Power Yoga",
            "Vinyasa Flow",
            "Pilates",
            "Pilates Intermediate",
            "HIIT Bootcamp",
            "HIIT Express",
        ]);
        for typed in ["yoga", "Yoga", "YOGA classes", "the yoga sessions"] {
            let s = selected(&courses, typed);
            assert!(s.is_family(), "{typed}: {s:?}");
            assert_eq!(
                names(&s),
                ["Yoga Beginner", "Yin Yoga", "Power Yoga"],
                "{typed}"
            );
            assert_eq!(s.label(), "Yoga (Yoga Beginner, Yin Yoga, Power Yoga)");
            assert_eq!(s.ids().len(), 3);
        }
        // Vinyasa Flow is yoga too, but its name does not say so: whole words of names only.
        assert!(!names(&selected(&courses, "yoga")).contains(&"Vinyasa Flow"));
        // The family's name as the catalogue spells it.
        let hiit = selected(&courses, "hiit");
        assert_eq!(hiit.label(), "HIIT (HIIT Bootcamp, HIIT Express)");
        assert_eq!(
            hiit.data(),
            serde_json::json!({ "family": "HIIT", "courses": ["HIIT Bootcamp", "HIIT Express"] })
        );
        // "Pilates" is a course's own name: that course; "all pilates" is the family.
        assert_eq!(
            selected(&courses, "pilates"),
            CourseSelection::One(courses[4].clone())
        );
        for typed in [
            "all pilates",
            "all the Pilates classes",
            "any pilates",
            "every pilates",
        ] {
            let all = selected(&courses, typed);
            assert_eq!(
                all.label(),
                "Pilates (Pilates, Pilates Intermediate)",
                "{typed}"
            );
        }
        // "all" before one course's name is just that course.
        assert_eq!(names(&selected(&courses, "all yin yoga")), ["Yin Yoga"]);
    }

    #[test]
    fn one_course_is_found_however_it_is_typed() {
        let courses = catalogue();
        for (typed, want) in [
            ("Yin Yoga", "Yin Yoga"),
            ("yin yoga", "Yin Yoga"),
            ("yoga beginer", "Yoga Beginner"),
            ("beginner yoga", "Yoga Beginner"),
            ("pilates intermadiate", "Pilates Intermediate"),
            ("intermediate", "Pilates Intermediate"),
            ("zumbaa", "Zumba"),
            ("Vinyasa", "Vinyasa Flow"),
        ] {
            let s = selected(&courses, typed);
            assert!(!s.is_family(), "{typed}: {s:?}");
            assert_eq!(names(&s), [want], "{typed}");
            assert_eq!(s.label(), want);
            assert_eq!(s.data(), serde_json::json!({ "course": want }));
        }
    }

    #[test]
    fn an_unknown_course_is_not_found_with_suggestions() {
        let courses = catalogue();
        match course_filter("kickboxing", &courses) {
            Err(ToolError::NotFound(m)) => assert!(m.contains("Did you mean"), "{m}"),
            other => panic!("{other:?}"),
        }
        match course_filter("all kickboxing", &courses) {
            Err(ToolError::NotFound(m)) => assert!(m.contains("all kickboxing"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            course_filter("the", &courses),
            Err(ToolError::NotFound(_))
        ));
    }

    #[test]
    fn lists_read_naturally() {
        assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");
        assert_eq!(clip("{\"$ne\": null} *bold*"), "\"ne\": null bold");
    }
}
