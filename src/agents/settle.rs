//! Reading a message as the answer to what the last turn left waiting: "yes" or "no" to
//! a proposed write, or the answer to a question back ("which client?" → "Priya
//! Sharma", "priya@example.com", "the second one"; "which course?" → "Pilates").
//!
//! Nothing here writes or decides a write: it only says what the message settles.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::rules;

/// Everyday ways to say yes to a proposal.
const YES: &[&str] = &[
    "yes",
    "y",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "sure",
    "ok",
    "okay",
    "k",
    "confirm",
    "confirmed",
    "correct",
    "right",
    "go",
    "proceed",
    "do",
    "please",
    "absolutely",
    "definitely",
    "affirmative",
    "ja",
    "haan",
    "han",
    "ha",
    "👍",
    "✅",
];

/// Everyday ways to say no.
const NO: &[&str] = &[
    "no", "n", "nope", "nah", "cancel", "stop", "dont", "don't", "never", "not", "abort", "wrong",
    "nahi", "❌", "👎",
];

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['’', '\''], "")
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '👍' | '✅' | '❌' | '👎')))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Words that may go with a yes without making it something else: "yes please, go
/// ahead and book her".
const WITH_YES: &[&str] = &[
    "go", "ahead", "do", "it", "that", "thats", "this", "thanks", "thank", "you", "sounds", "good",
    "great", "perfect", "lovely", "fine", "right", "correct", "book", "enrol", "enroll", "create",
    "make", "record", "mark", "paid", "one", "the", "order", "her", "him", "them", "me", "in",
    "is", "of", "course", "just", "and", "thx", "pls", "please", "cool", "alright", "all", "very",
    "much", "send", "now",
];

/// Words that may go with a no without making it something else: "no thanks, leave it".
const WITH_NO: &[&str] = &[
    "thanks", "thank", "you", "it", "that", "this", "leave", "please", "pls", "mind", "forget",
    "one", "ok", "okay", "skip", "sorry", "wait", "now", "need", "do", "go", "ahead", "worries",
    "way", "changed", "my", "actually", "then",
];

/// Phrases that say yes, or drop the matter, without a yes or no word first.
const YES_PHRASES: &[&str] = &[
    "go ahead",
    "do it",
    "sounds good",
    "thats right",
    "of course",
    "all good",
];
const NO_PHRASES: &[&str] = &[
    "never mind",
    "nevermind",
    "forget it",
    "leave it",
    "skip it",
];

/// A message as its reply words.
struct Reply {
    words: Vec<String>,
    phrase: String,
}

impl Reply {
    fn of(text: &str) -> Self {
        let words = words(text);
        let phrase = words.join(" ");
        Self { words, phrase }
    }

    /// Every word is one of `first` or `with`, and the message is short.
    fn only(&self, first: &[&str], with: &[&str], longest: usize) -> bool {
        self.words.len() <= longest
            && self
                .words
                .iter()
                .all(|w| first.contains(&w.as_str()) || with.contains(&w.as_str()))
    }

    fn starts_with(&self, words: &[&str], phrases: &[&str]) -> bool {
        self.words
            .first()
            .is_some_and(|first| words.contains(&first.as_str()))
            || phrases.iter().any(|p| self.phrase.starts_with(p))
    }

    /// A yes word or phrase first, and every other word only goes with a yes: "ok and
    /// how much do people owe us" is a question, "yes... no wait" is not a yes.
    fn is_yes(&self) -> bool {
        self.starts_with(YES, YES_PHRASES)
            && self.only(YES, WITH_YES, 8)
            && !self.words.iter().any(|w| NO.contains(&w.as_str()))
    }

    /// A no word first in a short message of no-words ("nope, leave it"), or a phrase
    /// that drops the matter ("never mind"). "no, I meant October" is a correction.
    fn is_no(&self) -> bool {
        self.starts_with(NO, &[]) && self.only(NO, WITH_NO, 6)
            || NO_PHRASES.iter().any(|p| self.phrase.starts_with(p))
    }
}

/// Whether the message says yes to a proposal ("yes", "yep, go ahead", "sure, do it").
#[must_use]
pub fn is_yes(text: &str) -> bool {
    Reply::of(text).is_yes()
}

/// Whether the message says no ("no", "nope, leave it", "cancel", "never mind").
#[must_use]
pub fn is_no(text: &str) -> bool {
    Reply::of(text).is_no()
}

/// Whether the message is a yes or a no rather than a question of its own, so the
/// pending request must be looked at first.
#[must_use]
pub fn starts_like_a_reply(text: &str) -> bool {
    let reply = Reply::of(text);
    reply.is_yes() || reply.is_no()
}

static ORDINAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:the\s+|number\s+|no\.?\s*|#)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|last|[1-6])(?:\s+(?:one|option|choice|client|course|of them|on the list))?\s*[.!?]*\s*$")
        .unwrap_or_else(|_| rules::never())
});

/// The option a list position names ("the second one", "2", "last"), if any.
fn by_position<'o>(text: &str, options: &'o [String]) -> Option<&'o String> {
    let word = ORDINAL.captures(text)?.get(1)?.as_str().to_lowercase();
    let index = match word.as_str() {
        "first" | "1st" | "1" => 0,
        "second" | "2nd" | "2" => 1,
        "third" | "3rd" | "3" => 2,
        "fourth" | "4th" | "4" => 3,
        "fifth" | "5th" | "5" => 4,
        "sixth" | "6th" | "6" => 5,
        "last" => options.len().checked_sub(1)?,
        _ => return None,
    };
    options.get(index)
}

/// An option as a tool argument: the email in "Priya Sharma (priya@example.com)", else
/// the option itself.
fn option_value(option: &str) -> String {
    rules::email_in(option).unwrap_or_else(|| option.to_owned())
}

/// The one option the message names: by email, phone, whole name or a part of a name
/// that no other option shares.
fn by_words<'o>(text: &str, options: &'o [String]) -> Option<&'o String> {
    let said = words(text);
    if said.is_empty() {
        return None;
    }
    if let Some(email) = rules::email_in(text) {
        return options
            .iter()
            .find(|o| o.to_lowercase().contains(&email.to_lowercase()));
    }
    let filler = [
        "the", "one", "i", "mean", "meant", "please", "her", "him", "with", "called", "named",
        "client", "course", "class", "its", "it", "is", "that", "a", "oh", "sorry", "yes",
    ];
    let said: Vec<&String> = said
        .iter()
        .filter(|w| !filler.contains(&w.as_str()))
        .collect();
    if said.is_empty() {
        return None;
    }
    let fitting: Vec<&String> = options
        .iter()
        .filter(|o| {
            let option_words = words(o);
            said.iter().all(|w| {
                option_words
                    .iter()
                    .any(|o| o == *w || (w.len() >= 5 && strsim::osa_distance(o, w) <= 1))
            })
        })
        .collect();
    match fitting.as_slice() {
        [one] => Some(one),
        // "Pilates" fits "Pilates" and "Pilates Intermediate": the one said whole wins.
        several => several
            .iter()
            .find(|o| words(o).len() == said.len())
            .copied(),
    }
}

/// What a message gives for the field a question back asked about: one of the options
/// it offered, or a value of the field's kind. `None`: the message is not an answer.
#[must_use]
pub fn answer_for(field: &str, options: &[String], text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() || is_no(text) {
        return None;
    }
    if !options.is_empty() {
        if let Some(option) = by_position(text, options).or_else(|| by_words(text, options)) {
            return Some(Value::from(option_value(option)));
        }
    }
    let plain_name = || {
        let said = words(text);
        let name_like = (1..=4).contains(&said.len())
            && text
                .split_whitespace()
                .all(|w| w.chars().all(|c| c.is_alphabetic() || "'-.,".contains(c)));
        name_like.then(|| {
            Value::from(
                text.trim_end_matches(['.', '!', '?', ','])
                    .trim()
                    .to_owned(),
            )
        })
    };
    match field {
        "client" => rules::email_in(text)
            .or_else(|| rules::phone_in(text))
            .or_else(|| rules::order_in(text))
            .map(Value::from)
            .or_else(|| options.is_empty().then(plain_name).flatten()),
        "email" => rules::email_in(text).map(Value::from),
        "order" => rules::order_in(text)
            .or_else(|| {
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                (text.chars().count() <= 12 && (4..=8).contains(&digits.len())).then_some(digits)
            })
            .map(Value::from),
        "name" => rules::my_name_in(text).map(Value::from).or_else(plain_name),
        "course" if options.is_empty() => plain_name(),
        "reason" => Some(Value::from(text.chars().take(500).collect::<String>())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priyas() -> Vec<String> {
        vec![
            "Priya Sharma (priya@example.com)".to_owned(),
            "Priya Nair (priya.nair@example.com)".to_owned(),
        ]
    }

    #[test]
    fn yes_and_no_in_everyday_words() {
        for yes in [
            "yes",
            "Yes!",
            "yep",
            "yeah go ahead",
            "sure, do it",
            "ok",
            "Confirm",
            "go ahead please",
            "👍",
            "y",
        ] {
            assert!(is_yes(yes), "{yes}");
            assert!(!is_no(yes), "{yes}");
        }
        for no in [
            "no",
            "No thanks",
            "nope",
            "cancel",
            "don't",
            "never mind",
            "forget it",
            "nah leave it",
        ] {
            assert!(is_no(no), "{no}");
            assert!(!is_yes(no), "{no}");
        }
        for neither in [
            "what time is yoga tomorrow?",
            "revenue last month",
            "",
            "yes no wait",
            "Priya Sharma",
            "ok and how much do ppl owe us overall",
            "sure, what about last month?",
            "ok, show me revenue by course",
        ] {
            assert!(!is_yes(neither), "{neither}");
        }
        for correction in [
            "no, I meant October",
            "no, Pilates Intermediate",
            "not that one, the other Priya",
        ] {
            assert!(!is_no(correction), "{correction}");
        }
    }

    #[test]
    fn a_question_back_is_answered_by_name_email_or_position() {
        let options = priyas();
        let email = |t: &str| answer_for("client", &options, t);
        assert_eq!(
            email("Priya Sharma"),
            Some(Value::from("priya@example.com"))
        );
        assert_eq!(
            email("priya sharma please"),
            Some(Value::from("priya@example.com"))
        );
        assert_eq!(
            email("the one with priya.nair@example.com"),
            Some(Value::from("priya.nair@example.com"))
        );
        assert_eq!(
            email("the second one"),
            Some(Value::from("priya.nair@example.com"))
        );
        assert_eq!(email("1"), Some(Value::from("priya@example.com")));
        assert_eq!(email("Nair"), Some(Value::from("priya.nair@example.com")));
        // "Priya" fits both; an unknown name and a new question fit neither.
        assert_eq!(email("Priya"), None);
        assert_eq!(email("Meera Iyer"), None);
        assert_eq!(email("how much is pilates?"), None);
        assert_eq!(email("no"), None);
    }

    #[test]
    fn a_course_question_takes_the_course_said_whole() {
        let options = vec![
            "Pilates".to_owned(),
            "Pilates Intermediate".to_owned(),
            "Yoga Beginner".to_owned(),
        ];
        assert_eq!(
            answer_for("course", &options, "pilates"),
            Some(Value::from("Pilates"))
        );
        assert_eq!(
            answer_for("course", &options, "Pilates intermediate"),
            Some(Value::from("Pilates Intermediate"))
        );
        assert_eq!(
            answer_for("course", &options, "yoga beginer"),
            Some(Value::from("Yoga Beginner"))
        );
        assert_eq!(
            answer_for("course", &options, "the third one"),
            Some(Value::from("Yoga Beginner"))
        );
    }

    #[test]
    fn fields_without_options_take_a_value_of_their_kind() {
        assert_eq!(
            answer_for("order", &[], "#12345"),
            Some(Value::from("12345"))
        );
        assert_eq!(
            answer_for("order", &[], "it's 12346"),
            Some(Value::from("12346"))
        );
        assert_eq!(
            answer_for("email", &[], "asha@example.com"),
            Some(Value::from("asha@example.com"))
        );
        assert_eq!(answer_for("email", &[], "I don't have one"), None);
        assert_eq!(
            answer_for("name", &[], "Asha Rao"),
            Some(Value::from("Asha Rao"))
        );
        assert_eq!(
            answer_for("name", &[], "my name is Asha Rao"),
            Some(Value::from("Asha Rao"))
        );
        assert_eq!(
            answer_for("name", &[], "what classes are on tomorrow at the studio?"),
            None
        );
        assert_eq!(
            answer_for("client", &[], "meera@example.com"),
            Some(Value::from("meera@example.com"))
        );
    }
}
