//! The rules planner: a deterministic intent + slot parser that needs no network.
//!
//! Intents come from weighted keywords and phrases (typos forgiven: "attendence" is
//! "attendance"); slots from patterns: emails, phones, order numbers, amounts of days,
//! periods ("last month", "in October", "2026-10-01 to 2026-10-15"), course names matched
//! against the catalogue, client names. When no intent scores high enough the planner
//! says so ([`Plan::Unsure`]) instead of guessing.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use regex::Regex;
use serde_json::{json, Map, Value};

use crate::domain::{Course, Intent, OrderNumber, Period};
use crate::tools::{AgentKind, Role};

/// What the rules decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Call this tool with these arguments.
    Call { tool: Intent, args: Value },
    /// Answer directly (greetings, help, a refusal).
    Reply { intent: Intent, text: String },
    /// Ask a question back; the answer gives `field` and `intent` goes on with `args`.
    Ask {
        intent: Intent,
        args: Value,
        field: &'static str,
        question: String,
        options: Vec<String>,
    },
    /// Not confident: say what can be answered instead of guessing.
    Unsure,
}

/// The slots found in a message, kept in conversation memory for follow-ups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slots {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub order: Option<String>,
    pub period: Option<Period>,
    pub days: Option<u32>,
    pub course: Option<String>,
    /// The course as the message wrote it ("zumbaa", "yoga"): a write whose course was
    /// not named exactly is proposed, not made.
    pub course_typed: Option<String>,
    pub client: Option<String>,
    pub method: Option<String>,
}

/// What the planner needs to know besides the text.
pub struct Context<'a> {
    pub agent: AgentKind,
    pub role: Role,
    pub courses: &'a [Course],
    pub now: DateTime<Utc>,
    pub offset: FixedOffset,
}

const MIN_SCORE: u32 = 3;
/// A score that one decisive keyword or two cues reach: the sentence model is not asked.
const STRONG_SCORE: u32 = 5;

/// How sure the rules are of a message's intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// A decisive keyword or several cues: the rules' intent stands.
    Sure(Intent),
    /// Enough to plan on, not enough to overrule the sentence model.
    Leaning(Intent),
    /// Not enough to plan on.
    Unsure,
}

struct Cue {
    intent: Intent,
    agent: AgentKind,
    /// Single words (typo-tolerant) and phrases (matched on the cleaned text).
    terms: &'static [(&'static str, u32)],
}

use AgentKind::{Dashboard, Support};

const CUES: &[Cue] = &[
    Cue {
        intent: Intent::FindClient,
        agent: Support,
        terms: &[
            ("find", 2),
            ("lookup", 2),
            ("look up", 3),
            ("pull up", 3),
            ("phone number", 3),
            ("contact details", 3),
            ("contact info", 3),
            ("search", 2),
            ("who is", 2),
            ("details", 1),
            ("profile", 2),
            ("contact", 1),
            ("client", 1),
            ("customer", 1),
            ("member", 1),
            ("info on", 1),
        ],
    },
    Cue {
        intent: Intent::ClientOrders,
        agent: Support,
        terms: &[
            ("orders", 3),
            ("ordered", 2),
            ("my orders", 2),
            ("order history", 3),
            ("purchases", 2),
            // What was bought is a read, whatever verb ("which courses did I buy").
            ("bought", 3),
            ("did i buy", 5),
            ("have i bought", 5),
            ("has ordered", 4),
            ("have ordered", 4),
            ("have i signed up", 5),
            ("i have signed up", 5),
            ("am i signed up", 5),
            ("am i enrolled", 5),
            ("signed up for", 2),
        ],
    },
    Cue {
        intent: Intent::OrderStatus,
        agent: Support,
        terms: &[("status", 2), ("where is", 1), ("order", 1), ("track", 1)],
    },
    Cue {
        intent: Intent::ListClasses,
        agent: Support,
        terms: &[
            ("class", 2),
            ("classes", 2),
            ("session", 2),
            ("sessions", 2),
            ("schedule", 2),
            ("timetable", 2),
            ("available", 1),
            ("next", 1),
            ("when", 1),
            ("whats on", 2),
            ("slots", 1),
            ("what time", 3),
            ("time", 1),
            ("timings", 2),
        ],
    },
    Cue {
        intent: Intent::CourseInfo,
        agent: Support,
        terms: &[
            ("price", 3),
            ("prices", 3),
            ("cost", 3),
            ("costs", 3),
            ("fee", 3),
            ("fees", 3),
            ("how much", 2),
            ("level", 2),
            ("instructor", 2),
            ("teacher", 2),
            ("teaches", 2),
            ("tell me about", 2),
            ("courses", 2),
            ("offer", 2),
            ("catalogue", 2),
            ("course", 1),
            ("describe", 2),
            ("what is", 1),
        ],
    },
    Cue {
        intent: Intent::CreateOrder,
        agent: Support,
        terms: &[
            ("create an order", 5),
            ("create order", 5),
            ("new order", 4),
            ("place an order", 5),
            ("enrol", 4),
            ("enroll", 4),
            ("enrolment", 2),
            ("sign up", 4),
            ("sign me up", 5),
            ("put me down", 5),
            ("put down for", 4),
            ("set that up", 2),
            ("sign", 3),
            ("register", 4),
            ("book", 3),
            ("book myself", 5),
            ("buy", 3),
            ("join", 3),
            ("purchase", 3),
        ],
    },
    Cue {
        intent: Intent::CreateEnquiry,
        agent: Support,
        terms: &[
            ("enquiry", 4),
            ("inquiry", 4),
            ("enquire", 4),
            ("inquire", 4),
            ("interested", 3),
            ("call me", 3),
            ("contact me", 3),
            ("call me back", 4),
            ("call back", 4),
            ("callback", 4),
            ("get in touch", 4),
            ("reach out", 3),
            ("reaches out", 3),
            ("email me", 4),
            ("get back to me", 4),
            ("leave a message", 4),
            ("more info", 2),
            ("information", 1),
            ("trial", 2),
        ],
    },
    Cue {
        intent: Intent::PendingPayments,
        agent: Support,
        terms: &[
            ("pending", 3),
            ("unpaid", 4),
            ("outstanding", 3),
            ("dues", 3),
            ("owe", 3),
            ("overdue", 3),
            ("payments", 1),
            ("payment", 1),
            ("due", 1),
        ],
    },
    Cue {
        intent: Intent::RecordPayment,
        agent: Support,
        terms: &[
            ("record", 2),
            ("record payment", 4),
            ("record a payment", 4),
            ("record the payment", 4),
            ("log the payment", 4),
            ("paid", 1),
            ("mark", 2),
            ("as paid", 3),
            ("mark as paid", 2),
            ("mark paid", 5),
            ("has paid", 4),
            ("paid for", 3),
            ("received", 2),
            ("payment received", 4),
            ("collected", 3),
            ("log payment", 4),
        ],
    },
    Cue {
        intent: Intent::CancelOrder,
        agent: Support,
        terms: &[
            ("cancel", 4),
            ("cancelled", 3),
            ("canceled", 3),
            ("cancellation", 4),
            ("void", 4),
            ("scrap", 4),
            ("withdraw", 2),
            ("undo", 2),
            ("get rid of", 3),
        ],
    },
    Cue {
        intent: Intent::EscalateToStaff,
        agent: Support,
        terms: &[
            // "human" alone is a course ("human anatomy") or a word ("/humans"): a
            // hand-off is asked for a human.
            ("to a human", 4),
            ("me a human", 4),
            ("human please", 4),
            ("human being", 4),
            // "kisi insaan se baat karni hai" (insaan → human).
            ("human se", 4),
            ("real human", 5),
            ("actual human", 5),
            ("real person", 5),
            ("person", 2),
            ("staff", 2),
            ("manager", 2),
            ("complaint", 4),
            ("complain", 4),
            ("speak to", 3),
            ("talk to", 3),
            ("someone", 1),
            ("refund", 3),
            ("open a ticket", 5),
            ("raise a ticket", 5),
            ("ticket", 2),
        ],
    },
    Cue {
        intent: Intent::OpenTickets,
        agent: Support,
        terms: &[
            ("tickets", 5),
            ("open tickets", 6),
            ("ticket queue", 6),
            ("handoffs", 5),
            ("hand-offs", 5),
            ("escalations", 5),
            ("asked for a person", 6),
            ("asked for a human", 6),
            ("asked for someone", 6),
            ("waiting for a reply", 4),
            ("waiting for us", 4),
            ("waiting", 1),
            ("support queue", 6),
            ("inbox", 3),
        ],
    },
    Cue {
        intent: Intent::Revenue,
        agent: Dashboard,
        terms: &[
            ("revenue", 4),
            ("sales", 4),
            ("income", 4),
            ("earn", 3),
            ("earned", 3),
            ("earnings", 4),
            ("generate", 1),
            ("generated", 1),
            ("made", 1),
            ("takings", 4),
            ("turnover", 4),
            ("money", 2),
            // "kitna paisa aaya" (paisa → money, aaya → came).
            ("money came", 5),
            ("money come", 5),
            ("money coming", 5),
            ("how much", 1),
            // "this month vs last month" on the dashboard is about money.
            ("vs", 3),
            ("versus", 3),
            ("compare", 3),
            ("compared", 3),
        ],
    },
    Cue {
        intent: Intent::NewClients,
        agent: Dashboard,
        terms: &[
            ("new clients", 4),
            ("first timers", 4),
            ("first time", 3),
            ("newcomers", 4),
            ("new members", 4),
            ("new customers", 4),
            ("new students", 4),
            ("joined", 3),
            ("signed up", 3),
            ("signups", 3),
            ("sign ups", 3),
            ("became clients", 4),
            ("became members", 4),
            ("became customers", 4),
            ("new", 1),
        ],
    },
    Cue {
        intent: Intent::CourseEnrollment,
        agent: Dashboard,
        terms: &[
            ("enrollment", 3),
            ("enrolment", 3),
            ("enrollments", 3),
            ("enrolments", 3),
            ("enrolled", 2),
            ("popular", 3),
            ("top course", 4),
            ("highest", 2),
            ("most", 1),
            ("best selling", 3),
            ("signing up for", 4),
            ("ranking", 3),
            ("best and worst", 3),
        ],
    },
    Cue {
        intent: Intent::AttendanceRate,
        agent: Dashboard,
        terms: &[
            ("attendance", 4),
            ("attended", 3),
            ("attend", 3),
            ("came", 3),
            ("people came", 4),
            ("turned up", 3),
            ("turning up", 3),
            ("turn up", 3),
            ("showed up", 3),
            ("showing up", 3),
            ("no shows", 4),
            ("noshows", 4),
            ("how many people", 2),
            ("show up", 2),
            ("turnout", 3),
            ("attendance percentage", 2),
            ("attendance rate", 2),
        ],
    },
    Cue {
        intent: Intent::InactiveClients,
        agent: Dashboard,
        terms: &[
            ("inactive", 5),
            ("havent visited", 5),
            ("hasnt visited", 5),
            ("not visited", 5),
            ("havent been", 5),
            ("havent come", 5),
            ("hasnt come", 5),
            ("not come", 4),
            ("not been in", 4),
            ("no visit", 4),
            ("lapsed", 4),
            ("dormant", 4),
            ("stopped coming", 5),
            ("churned", 4),
            ("visited", 1),
        ],
    },
    Cue {
        intent: Intent::OutstandingBalance,
        agent: Dashboard,
        terms: &[
            ("outstanding", 4),
            ("owed", 4),
            ("owe", 4),
            ("owes", 4),
            ("owing", 4),
            ("balance", 3),
            ("receivable", 4),
            ("uncollected", 4),
            ("pending", 3),
            ("receivables", 4),
            ("unpaid", 4),
            ("overdue", 3),
            ("pending payments", 3),
            ("dues", 3),
        ],
    },
    Cue {
        intent: Intent::Retention,
        agent: Dashboard,
        terms: &[
            ("retention", 5),
            ("retained", 4),
            ("retain", 4),
            ("returning", 3),
            ("came back", 5),
            ("come back", 5),
            ("repeat", 2),
        ],
    },
    Cue {
        intent: Intent::TicketSummary,
        agent: Dashboard,
        terms: &[
            ("tickets", 5),
            ("ticket", 3),
            ("hand-offs", 5),
            ("handoffs", 5),
            ("escalations", 5),
            ("asked for a human", 6),
            ("asked for a person", 6),
            ("first reply", 5),
            ("response time", 5),
            ("support requests", 5),
        ],
    },
    Cue {
        intent: Intent::ClientSummary,
        agent: Dashboard,
        terms: &[
            ("how many clients", 4),
            ("how many members", 4),
            ("how many customers", 4),
            ("how many students", 4),
            ("active clients", 4),
            ("active members", 4),
            ("clients are active", 4),
            ("number of clients", 5),
            ("number of members", 5),
            ("client count", 5),
            ("member count", 5),
            ("total clients", 5),
            ("total members", 5),
            ("client base", 4),
            ("leads", 2),
            ("by status", 3),
        ],
    },
    Cue {
        intent: Intent::TopClients,
        agent: Dashboard,
        terms: &[
            ("top clients", 5),
            ("top customers", 5),
            ("top members", 5),
            ("best clients", 5),
            ("best customers", 5),
            ("top spenders", 5),
            ("biggest spenders", 5),
            ("spent the most", 5),
            ("spend the most", 5),
            ("most loyal", 4),
            ("loyal", 3),
            ("which clients", 2),
            ("most classes", 3),
            ("most often", 3),
            ("most visits", 3),
            ("came the most", 5),
            ("come the most", 5),
            ("comes the most", 5),
            ("attended the most", 5),
            ("attends the most", 5),
            ("visited the most", 5),
            ("showed up the most", 5),
            ("most regular", 4),
            ("regulars", 3),
            ("most frequent", 4),
            ("vip", 3),
            ("vips", 3),
        ],
    },
    Cue {
        intent: Intent::ClassFillRate,
        agent: Dashboard,
        terms: &[
            ("fill rate", 5),
            ("fill", 3),
            ("how full", 4),
            ("emptiest", 4),
            ("full", 2),
            ("capacity", 3),
            ("occupancy", 4),
            ("utilisation", 4),
            ("utilization", 4),
            ("fill best", 2),
        ],
    },
];

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .unwrap_or_else(|_| never())
});
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\d[\d\s().-]{8,16}\d").unwrap_or_else(|_| never()));
static ORDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:#\s*|\bord(?:er)?\s*(?:no\.?|number|num|id)?\s*[:#-]?\s*|\bord-)(\d{4,8})\b",
    )
    .unwrap_or_else(|_| never())
});
static BARE_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{5})\b").unwrap_or_else(|_| never()));
static DAYS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,4})\s*(day|days|week|weeks|month|months)\b").unwrap_or_else(|_| never())
});
static ISO_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|to|until|till|-|–|and)\s*(\d{4}-\d{2}-\d{2})")
        .unwrap_or_else(|_| never())
});
static ISO_DAY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{4}-\d{2}-\d{2})\b").unwrap_or_else(|_| never()));
static ISO_MONTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{2})\b").unwrap_or_else(|_| never()));
static MONTH_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b(?:\s+(\d{4}))?")
        .unwrap_or_else(|_| never())
});
static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\b(?:client|customer|member|student|named|called)\s+|\bfor\s+)([A-Z][\p{L}'-]+(?:\s+[A-Z][\p{L}'-]+){0,3})").unwrap_or_else(|_| never())
});
/// "my name is sunita", "Name: Leo Park", "naam Sunita": a name however it is written.
static MY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:my name is|my names|name\s*[:=-]|naam(?:\s+hai)?\s*[:=-]?)\s*([\p{L}'-]+(?:\s+[\p{L}'-]+)?)")
        .unwrap_or_else(|_| never())
});
/// "I'm Anita", "this is Rahul Kumar": a name only when it is capitalised ("I'm
/// interested" is not a name).
static I_AM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?i:i am|i'm|i’m|im|this is)\s+(\p{Lu}[\p{L}'-]+(?:\s+\p{Lu}[\p{L}'-]+)?)")
        .unwrap_or_else(|_| never())
});

static LAST_DAYS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:last|past|previous)\s+(\d{1,4})\s+days?\b").unwrap_or_else(|_| never())
});
/// "since September", "since sep 2026", "since 2026-09-01".
static SINCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bsince\s+(?:(\d{4}-\d{2}-\d{2})|(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*(?:\s+(\d{4}))?)\b")
        .unwrap_or_else(|_| never())
});
/// "last 6 months", "past twelve months": how many months a trend covers.
static MONTHS_BACK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:last|past|previous)\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+months?\b")
        .unwrap_or_else(|_| never())
});
static NEXT_DAYS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bnext\s+(\d{1,3})\s+days?\b").unwrap_or_else(|_| never()));
/// "compared to last month", "vs the previous week": the period named is the one
/// compared against.
static COMPARED_TO_LAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:compared?\s+(?:to|with)|vs|versus|than|against)\s+(?:the\s+)?(?:last|previous)\s+(week|month|year)\b")
        .unwrap_or_else(|_| never())
});
/// "top 10", "best 3": how many of a ranking.
static TOP_N: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:top|best|first)\s+(\d{1,2})\b").unwrap_or_else(|_| never()));
static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"#?\d+").unwrap_or_else(|_| never()));

/// The patterns above are fixed and tested; a failure to compile one would be a bug
/// caught by the unit tests, so it degrades to a pattern that matches nothing.
pub(crate) fn never() -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(r"[^\s\S]").expect("invariant: the empty-class pattern compiles")
}

/// The first email address in a text, lower-cased.
#[must_use]
pub fn email_in(text: &str) -> Option<String> {
    EMAIL.find(text).map(|m| m.as_str().to_lowercase())
}

/// The first phone number in a text (ten digits or more).
#[must_use]
pub fn phone_in(text: &str) -> Option<String> {
    PHONE
        .find(text)
        .map(|m| m.as_str().to_owned())
        .filter(|p| p.chars().filter(char::is_ascii_digit).count() >= 10)
}

/// An order number written as one ("#12345", "order 12345", "ORD-12345").
#[must_use]
pub fn order_in(text: &str) -> Option<String> {
    ORDER
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .filter(|n| OrderNumber::parse(n).is_ok())
}

/// The name in "my name is Asha Rao", "I'm Asha".
#[must_use]
pub fn my_name_in(text: &str) -> Option<String> {
    const NOT_NAME: &[&str] = &[
        "and", "from", "here", "i", "im", "my", "please", "pls", "email", "phone", "number", "is",
        "hai", "the", "a",
    ];
    let found = MY_NAME
        .captures(text)
        .or_else(|| I_AM.captures(text))
        .and_then(|c| c.get(1))?;
    let words: Vec<&str> = found
        .as_str()
        .split_whitespace()
        .take_while(|w| !NOT_NAME.contains(&w.to_lowercase().as_str()))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// "call me back - Vikram 9123456780", "Kavita, 98450 12345": the one or two words
/// right before a phone number, when they read as a name (not a word the planner knows,
/// a course or a filler).
fn name_by_phone(text: &str, courses: &[Course]) -> Option<String> {
    const NOT_NAME: &[&str] = &[
        "me", "back", "at", "on", "call", "number", "no", "contact", "is", "my", "mob", "ph",
        "whatsapp", "mobile", "phone", "tel", "or", "and", "please", "pls", "thanks", "hai",
    ];
    let phone = PHONE.find(text)?;
    let before =
        text[..phone.start()].trim_end_matches(|c: char| c.is_whitespace() || ",:;-–(".contains(c));
    let vocab = vocabulary();
    let name_like = |w: &str| {
        let lower = w.to_lowercase();
        w.chars().count() >= 2
            && w.chars().all(char::is_alphabetic)
            && !NOT_NAME.contains(&lower.as_str())
            && vocab.binary_search(&lower.as_str()).is_err()
            && course_in_text(w, courses).is_none()
    };
    let words: Vec<&str> = before.rsplit(|c: char| c.is_whitespace()).take(2).collect();
    let mut name: Vec<&str> = words.into_iter().take_while(|w| name_like(w)).collect();
    name.reverse();
    let name = name.join(" ");
    (!name.is_empty() && !is_filler_name(&name)).then_some(name)
}

fn vocabulary() -> &'static [&'static str] {
    static VOCAB: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut v: Vec<&'static str> = CUES
            .iter()
            .flat_map(|c| c.terms.iter().map(|(t, _)| *t))
            .flat_map(|t| t.split(' '))
            .collect();
        v.extend([
            "percentage",
            "payments",
            "clients",
            "visited",
            "enrollment",
            "available",
            "schedule",
            "yesterday",
            "tomorrow",
            "today",
            "week",
            "month",
            "year",
            "last",
            "this",
            "next",
            "classes",
        ]);
        v.sort_unstable();
        v.dedup();
        v
    });
    &VOCAB
}

/// Romanised Hindi verbs in the past tense: "kal" in such a message is yesterday.
const HINDI_PAST: &[&str] = &[
    "aaye", "aaya", "aayi", "aye", "hua", "hui", "huye", "tha", "thi", "gaye", "kiya", "kamaya",
];

/// An everyday romanised Hindi word read as the English word the planner knows ("is
/// mahine" → "this month", "kal" → "tomorrow", or "yesterday" in the past tense);
/// other words as they are.
fn hindi<'w>(word: &'w str, next: &str, past: bool) -> &'w str {
    let time_word = matches!(
        next,
        "mahine" | "mahina" | "mahinay" | "hafte" | "hafta" | "haftay" | "saal"
    );
    match word {
        "is" | "iss" | "ish" if time_word => "this",
        "pichle" | "pichhle" | "pichla" | "pichhla" | "pichli" => "last",
        "agle" | "agla" | "agli" => "next",
        "mahine" | "mahina" | "mahinay" => "month",
        "hafte" | "hafta" | "haftay" => "week",
        "saal" => "year",
        "din" => "days",
        "aaj" | "aj" => "today",
        "kal" if past => "yesterday",
        "kal" => "tomorrow",
        "kitne" | "kitna" | "kitni" if next == "baje" => "what",
        "baje" => "time",
        "kamai" | "aamdani" => "earnings",
        "paisa" | "paise" => "money",
        "naye" | "naya" | "nayi" => "new",
        "aaye" | "aaya" | "aayi" => "came",
        "baaki" | "baki" | "bakaya" => "pending",
        "insaan" => "human",
        "maine" => "i",
        "liye" | "liya" | "kharida" | "kharide" | "kharidi" => "bought",
        "dikhao" | "batao" => "show",
        _ => word,
    }
}

/// Lower-cases, drops apostrophes and punctuation, and corrects near-misses of the
/// planner's own vocabulary ("attendence" → "attendance").
fn clean(text: &str) -> String {
    let lowered = text.to_lowercase().replace(['\'', '’'], "");
    let mut cleaned = String::with_capacity(lowered.len());
    let raw: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let past = raw.iter().any(|w| HINDI_PAST.contains(w));
    for (i, &word) in raw.iter().enumerate() {
        // "top 10 clients" reads as "top clients" (the count is read from the text).
        let after_rank = i > 0 && matches!(raw[i - 1], "top" | "best");
        if after_rank && word.len() <= 2 && word.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let next = raw.get(i + 1).copied().unwrap_or("");
        let word = hindi(word, next, past);
        if !cleaned.is_empty() {
            cleaned.push(' ');
        }
        // Chat shorthand, read as the words it stands for.
        let word = match word {
            "ppl" | "ppls" => "people",
            "u" => "you",
            "ur" => "your",
            "pls" | "plz" | "plez" => "please",
            "thx" | "ty" => "thanks",
            "wk" => "week",
            "mth" | "mnth" => "month",
            "yr" => "year",
            "tmrw" | "tmr" | "tomoz" => "tomorrow",
            "rev" => "revenue",
            other => other,
        };
        cleaned.push_str(correct(word));
    }
    cleaned
}

fn correct(word: &str) -> &str {
    let vocab = vocabulary();
    if word.len() < 5
        || vocab.binary_search(&word).is_ok()
        || word.chars().any(|c| c.is_ascii_digit())
    {
        return word;
    }
    // The same words come back in message after message (names, courses): each is
    // compared with the vocabulary once per thread, within a bounded memo.
    thread_local! {
        static SEEN: std::cell::RefCell<HashMap<String, Option<&'static str>>> =
            std::cell::RefCell::new(HashMap::new());
    }
    const SEEN_MAX: usize = 4096;
    if let Some(known) = SEEN.with(|seen| seen.borrow().get(word).copied()) {
        return known.unwrap_or(word);
    }
    let max = if word.len() >= 8 { 2 } else { 1 };
    // Words whose lengths differ by more than `max` are further apart than `max` edits.
    let corrected = vocab
        .iter()
        .filter(|v| v.len() >= 4 && v.len().abs_diff(word.len()) <= max)
        .map(|v| (strsim::osa_distance(v, word), *v))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v);
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if seen.len() >= SEEN_MAX {
            seen.clear();
        }
        seen.insert(word.to_owned(), corrected);
    });
    corrected.unwrap_or(word)
}

fn has_term(cleaned: &str, words: &[&str], term: &str) -> bool {
    if term.contains(' ') {
        has_phrase(cleaned, term)
    } else {
        words.contains(&term)
    }
}

/// Whether `phrase` is in `cleaned` as whole words (both are single-spaced words).
fn has_phrase(cleaned: &str, phrase: &str) -> bool {
    let bytes = cleaned.as_bytes();
    cleaned.match_indices(phrase).any(|(at, _)| {
        let end = at + phrase.len();
        (at == 0 || bytes[at - 1] == b' ') && (end == bytes.len() || bytes[end] == b' ')
    })
}

/// Scores every intent of the agent; the best with its score.
/// The best-scoring intent and the score of the runner-up.
fn best_intent(agent: AgentKind, cleaned: &str, slots: &Slots) -> (Option<(Intent, u32)>, u32) {
    let words: Vec<&str> = cleaned.split(' ').collect();
    let mut scored: Vec<(Intent, u32)> = CUES
        .iter()
        .filter(|c| c.agent == agent)
        .map(|cue| {
            let mut score: u32 = cue
                .terms
                .iter()
                .filter(|(t, _)| has_term(cleaned, &words, t))
                .map(|(_, w)| *w)
                .sum();
            // Slots that only make sense for one intent.
            score += match cue.intent {
                Intent::FindClient if slots.email.is_some() || slots.phone.is_some() => 2,
                // Someone named, and one of their contact details asked for.
                Intent::FindClient
                    if slots.client.is_some()
                        && ["email", "phone", "mobile", "number", "contact", "address"]
                            .iter()
                            .any(|w| words.contains(w)) =>
                {
                    3
                }
                Intent::OrderStatus if slots.order.is_some() => 3,
                Intent::RecordPayment if slots.order.is_none() => 0,
                // A write's verb with the order it acts on outweighs a status question.
                Intent::RecordPayment | Intent::CancelOrder if slots.order.is_some() => 2,
                Intent::ListClasses if slots.period.is_some() => 1,
                // "has Priya Sharma paid?", "did Rahul pay yet": a question, not a write.
                Intent::PendingPayments if slots.order.is_none() && asks_whether_paid(&words) => 5,
                Intent::InactiveClients
                    if slots.days.is_some() && has_term(cleaned, &words, "visited") =>
                {
                    2
                }
                _ => 0,
            };
            if cue.intent == Intent::RecordPayment && slots.order.is_none() {
                score = score.min(2);
            }
            if cue.intent == Intent::NewClients
                && ![
                    "new",
                    "joined",
                    "signed",
                    "signups",
                    "first",
                    "newcomers",
                    "became",
                ]
                .iter()
                .any(|w| words.contains(w))
            {
                score = 0;
            }
            (cue.intent, score)
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.1));
    let runner_up = scored.get(1).map_or(0, |s| s.1);
    (scored.into_iter().next().filter(|(_, s)| *s > 0), runner_up)
}

/// Whether the words ask if someone has paid ("has … paid", "did … pay", "… paid
/// yet"), as opposed to saying that they did.
fn asks_whether_paid(words: &[&str]) -> bool {
    let paying = words.iter().any(|w| matches!(*w, "paid" | "pay" | "payed"));
    let asks = words
        .first()
        .is_some_and(|w| matches!(*w, "has" | "have" | "did" | "does" | "is" | "was"))
        || words.contains(&"yet");
    paying && asks
}

/// Finds the slots in a message.
#[must_use]
pub fn slots(text: &str, ctx: &Context<'_>) -> Slots {
    slots_in(text, &clean(text), ctx)
}

/// [`slots`] of a message already [`clean`]ed.
fn slots_in(text: &str, cleaned: &str, ctx: &Context<'_>) -> Slots {
    let mut s = Slots {
        email: email_in(text),
        ..Slots::default()
    };
    let without_email = EMAIL.replace_all(text, " ");
    s.order = order_in(&without_email);
    if s.order.is_none()
        && cleaned.split(' ').any(|w| {
            [
                "order",
                "status",
                "paid",
                "payment",
                "cancel",
                "cancelled",
                "canceled",
                "void",
                "mark",
            ]
            .contains(&w)
        })
    {
        s.order = BARE_NUMBER
            .captures(&without_email)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_owned());
    }
    if s.order.is_none() {
        s.phone = phone_in(&without_email);
    }
    let lowered = text.to_lowercase();
    s.period = period_in(&lowered, cleaned, ctx.now, ctx.offset);
    if let Some(c) = DAYS.captures(&lowered).or_else(|| DAYS.captures(cleaned)) {
        let n: u32 = c.get(1).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        let unit = c.get(2).map_or("days", |m| m.as_str());
        let days = if unit.starts_with("week") {
            n * 7
        } else if unit.starts_with("month") {
            n * 30
        } else {
            n
        };
        if (1..=3660).contains(&days) {
            s.days = Some(days);
        }
    }
    if let Some((name, typed)) = course_match(cleaned, ctx.courses) {
        // Named whole: the catalogue's own spelling.
        let exact = typed == name.to_lowercase();
        s.course_typed = Some(if exact { name.clone() } else { typed });
        s.course = Some(name);
    } else {
        s.course_typed = shared_course_word(cleaned, ctx.courses);
    }
    s.client = NAMED
        .captures_iter(text)
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str().trim().to_owned())
        .find(|name| course_in_text(name, ctx.courses).is_none() && !is_filler_name(name))
        .or_else(|| capitalised_name(text, ctx.courses))
        .or_else(|| possessive_name(text, ctx.courses))
        .or_else(|| name_at_the_end(text, ctx.courses));
    for (word, method) in [
        ("upi", "upi"),
        ("cash", "cash"),
        ("card", "card"),
        ("bank transfer", "bank_transfer"),
        ("online", "online"),
    ] {
        if has_phrase(cleaned, word) {
            s.method = Some(method.to_owned());
        }
    }
    s
}

/// A person's name written with capitals anywhere in the message ("has Rahul Verma
/// paid?", "Book Priya Sharma into Pilates"): two to four capitalised words in a row,
/// after dropping the planner's own words ("Book"), that are not a course, a month or
/// a weekday.
fn capitalised_name(text: &str, courses: &[Course]) -> Option<String> {
    static RUN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\p{Lu}[\p{L}'-]+(?:\s+\p{Lu}[\p{L}'-]+)+").unwrap_or_else(|_| never())
    });
    const NOT_NAMES: &[&str] = &[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "i",
        "please",
        "hi",
        "hello",
        "hey",
        "can",
        "could",
        "would",
        "will",
        "does",
        "do",
        "did",
        "is",
        "has",
        "have",
        "had",
        "was",
        "pull",
        "show",
        "give",
        "get",
        "tell",
        "check",
        "what",
        "when",
        "where",
        "who",
        "how",
        "which",
        "why",
        "any",
        "ok",
        "okay",
        "yes",
        "no",
        "thanks",
        "studio",
        "yoga",
        "pilates",
    ];
    let vocab = vocabulary();
    RUN.find_iter(text).find_map(|run| {
        let words: Vec<&str> = run
            .as_str()
            .split_whitespace()
            .skip_while(|w| {
                let lower = w.to_lowercase();
                NOT_NAMES.contains(&lower.as_str()) || vocab.binary_search(&lower.as_str()).is_ok()
            })
            .collect();
        let mut words: Vec<&str> = words
            .into_iter()
            .take_while(|w| !NOT_NAMES.contains(&w.to_lowercase().as_str()))
            .collect();
        // "Priya Sharma's orders": the name without its possessive.
        if let Some(last) = words.last_mut() {
            *last = last.strip_suffix("'s").unwrap_or(last);
        }
        if !(2..=4).contains(&words.len()) {
            return None;
        }
        let name = words.join(" ");
        (course_in_text(&name, courses).is_none() && !is_filler_name(&name)).then_some(name)
    })
}

/// The course a message names, else the family word several courses share, spelt as
/// the catalogue spells it ("yoga" → "Yoga": every Yoga course).
fn course_or_family(s: &Slots, ctx: &Context<'_>) -> Option<String> {
    if let Some(course) = &s.course {
        return Some(course.clone());
    }
    let typed = s.course_typed.as_deref()?;
    ctx.courses
        .iter()
        .flat_map(|c| c.name.split_whitespace())
        .find(|w| w.eq_ignore_ascii_case(typed))
        .map(str::to_owned)
        .or_else(|| Some(typed.to_owned()))
}

/// "noah malhotra's phone number", "priya's orders": the person whose record it is,
/// however it is written.
fn possessive_name(text: &str, courses: &[Course]) -> Option<String> {
    static OWNER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b((?:[\p{L}-]+\s+)?[\p{L}-]+)(?:['’]s|\s+k[aie])\s+(?:phone|number|mobile|email|contact|details|profile|info|orders?|bookings?|payments?|dues|balance|account|record|status)\b")
            .unwrap_or_else(|_| never())
    });
    const NOT_NAMES: &[&str] = &[
        "what", "whats", "is", "the", "a", "my", "our", "your", "client", "customer", "member",
        "check", "show", "get", "find", "give", "me", "send", "see", "and", "of", "for", "up",
        "pull", "look", "that", "this", "her", "his", "she", "he", "it",
    ];
    let found = OWNER.captures(text)?.get(1)?.as_str();
    let words: Vec<&str> = found
        .split_whitespace()
        .skip_while(|w| NOT_NAMES.contains(&w.to_lowercase().as_str()))
        .collect();
    if words.is_empty()
        || words
            .iter()
            .any(|w| HINDI_NOT_NAMES.contains(&w.to_lowercase().as_str()))
    {
        return None;
    }
    let name = words.join(" ");
    (course_in_text(&name, courses).is_none() && !is_filler_name(&name)).then_some(name)
}

/// "any pending payments for priya sharma?", "orders of noah malhotra": two words after
/// "payments for", "orders of" (a record's word, then "for" or "of") that end the
/// message, written in lower case, when neither is a word the planner knows, a course or
/// a period.
fn name_at_the_end(text: &str, courses: &[Course]) -> Option<String> {
    static AT_END: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:payments?|orders?|dues|balance|outstanding|details|bookings?|profile|email|phone|number|contact)\s+(?:for|of)\s+(\p{L}[\p{L}'-]+\s+\p{L}[\p{L}'-]+)\s*[?.!]*\s*$")
            .unwrap_or_else(|_| never())
    });
    let name = AT_END.captures(text.trim())?.get(1)?.as_str();
    let vocab = vocabulary();
    let known = |w: &str| {
        let w = w.to_lowercase();
        vocab.binary_search(&w.as_str()).is_ok() || HINDI_NOT_NAMES.contains(&w.as_str())
    };
    if name.split_whitespace().any(known)
        || course_in_text(name, courses).is_some()
        || is_filler_name(name)
    {
        return None;
    }
    Some(name.to_owned())
}

/// Romanised Hindi words that come before "ka", "ki", "ke" without being a name
/// ("kitne logon ka payment").
const HINDI_NOT_NAMES: &[&str] = &[
    "kitne", "kitna", "kitni", "kaun", "kis", "kiska", "kiski", "kiske", "kya", "sab", "sabhi",
    "log", "logon", "logo", "mera", "meri", "mere", "humara", "hamara", "aap", "aapka", "is", "us",
    "iss", "uss", "yeh", "woh", "kal", "aaj",
];

fn is_filler_name(name: &str) -> bool {
    let first = name.split_whitespace().next().unwrap_or("").to_lowercase();
    [
        "the", "this", "last", "next", "today", "tomorrow", "me", "my", "our", "all", "each",
        "every", "week", "month", "she", "he", "her", "him", "they", "them", "it", "i", "you",
        "we", "anyone", "anybody", "anything", "someone", "somebody", "everyone", "any",
    ]
    .contains(&first.as_str())
        || first.chars().count() < 2
}

/// The catalogue course a message names, preferring the longest match ("Pilates
/// Intermediate" over "Pilates").
#[must_use]
pub fn course_in_text(text: &str, courses: &[Course]) -> Option<String> {
    course_in_cleaned(&clean(text), courses)
}

/// [`course_in_text`] of a message already [`clean`]ed.
fn course_in_cleaned(cleaned: &str, courses: &[Course]) -> Option<String> {
    course_match(cleaned, courses).map(|(name, _)| name)
}

/// Words a course name shares with the planner's own words or everyday talk: not
/// enough on their own to name a course.
const COMMON_COURSE_WORDS: &[&str] = &["class", "course", "the", "and", "for", "with", "flow"];

/// The catalogue course a message names, with the words it was named by: every word of
/// the name (spelling mistakes forgiven), the longest name winning ("Pilates
/// Intermediate" over "Pilates"); else a word only one course has ("hiit" → "HIIT
/// Bootcamp", "yin" → "Yin Yoga").
fn course_match(cleaned: &str, courses: &[Course]) -> Option<(String, String)> {
    let words: Vec<&str> = cleaned.split(' ').collect();
    let fit = |name_word: &str| {
        words.iter().copied().find(|&w| {
            w == name_word
                || (name_word.len() >= 5
                    && w.len() >= 4
                    && w.len().abs_diff(name_word.len()) <= 1
                    && strsim::osa_distance(w, name_word) <= 1)
        })
    };
    let mut best: Option<(usize, &Course, Vec<&str>)> = None;
    for course in courses {
        let name = course.name.to_lowercase();
        let typed: Option<Vec<&str>> = name.split_whitespace().map(fit).collect();
        if let Some(typed) = typed {
            if best.as_ref().is_none_or(|(n, _, _)| typed.len() > *n) {
                best = Some((typed.len(), course, typed));
            }
        }
    }
    if let Some((_, c, typed)) = best {
        return Some((c.name.clone(), typed.join(" ")));
    }
    let distinctive = words.iter().copied().find_map(|w| {
        if w.len() < 3 || COMMON_COURSE_WORDS.contains(&w) || vocabulary().binary_search(&w).is_ok()
        {
            return None;
        }
        let mut having = courses
            .iter()
            .filter(|c| c.name.to_lowercase().split_whitespace().any(|n| n == w));
        match (having.next(), having.next()) {
            (Some(one), None) => Some((one.name.clone(), w.to_owned())),
            _ => None,
        }
    });
    distinctive
}

/// A word several courses share ("yoga"): passed on as typed so the tool can ask which.
fn shared_course_word(cleaned: &str, courses: &[Course]) -> Option<String> {
    cleaned.split(' ').find_map(|w| {
        let having = courses
            .iter()
            .filter(|c| c.name.to_lowercase().split_whitespace().any(|n| n == w))
            .count();
        (w.len() >= 4 && having >= 2).then(|| w.to_owned())
    })
}

/// "on saturday", "this weekend", "next monday": the coming day (today when it is that
/// day), or the coming Saturday and Sunday; "last friday" the one before today.
fn weekday_period(cleaned: &str, now: DateTime<Utc>, offset: FixedOffset) -> Option<Period> {
    use chrono::{Duration, Weekday};
    const DAYS: [(&str, Weekday); 12] = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
    ];
    let today = now.with_timezone(&offset).date_naive();
    let words: Vec<&str> = cleaned.split(' ').collect();
    let ahead = |day: Weekday| {
        let diff = (7 + day.num_days_from_monday() as i64
            - today.weekday().num_days_from_monday() as i64)
            % 7;
        today + Duration::days(diff)
    };
    if words.contains(&"weekend") {
        let sat = if words.contains(&"last") {
            ahead(Weekday::Sat) - Duration::days(7)
        } else if today.weekday() == Weekday::Sun {
            today - Duration::days(1)
        } else {
            ahead(Weekday::Sat)
        };
        return Period::range(sat, sat + Duration::days(1)).ok();
    }
    let (i, day) = words.iter().enumerate().find_map(|(i, w)| {
        let w = w
            .strip_suffix('s')
            .filter(|w| w.ends_with("day"))
            .unwrap_or(w);
        DAYS.iter()
            .find(|(name, _)| *name == w)
            .map(|(_, d)| (i, *d))
    })?;
    let before = i.checked_sub(1).and_then(|j| words.get(j)).copied();
    let date = match before {
        Some("last" | "previous") => {
            let d = ahead(day) - Duration::days(7);
            if d == today {
                d - Duration::days(7)
            } else {
                d
            }
        }
        Some("next") if ahead(day) == today => today + Duration::days(7),
        _ => ahead(day),
    };
    Period::range(date, date).ok()
}

/// Finds a period in lower-cased text.
#[must_use]
pub fn period(lowered: &str, now: DateTime<Utc>, offset: FixedOffset) -> Option<Period> {
    period_in(lowered, &clean(lowered), now, offset)
}

/// [`period`] with the text also [`clean`]ed.
fn period_in(
    lowered: &str,
    cleaned: &str,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Option<Period> {
    if let Some(p) = since(lowered, now, offset) {
        return Some(p);
    }
    if let Some(c) = ISO_RANGE.captures(lowered) {
        let from = NaiveDate::parse_from_str(c.get(1)?.as_str(), "%Y-%m-%d").ok()?;
        let to = NaiveDate::parse_from_str(c.get(2)?.as_str(), "%Y-%m-%d").ok()?;
        return Period::range(from, to).ok();
    }
    if let Some(c) = ISO_DAY.captures(lowered) {
        let day = NaiveDate::parse_from_str(c.get(1)?.as_str(), "%Y-%m-%d").ok()?;
        return Period::range(day, day).ok();
    }
    let has = |p: &str| has_phrase(cleaned, p);
    if let Some(c) = LAST_DAYS.captures(cleaned) {
        let n: u32 = c.get(1)?.as_str().parse().ok()?;
        return (1..=3660).contains(&n).then_some(Period::LastDays(n));
    }
    if let Some(c) = NEXT_DAYS.captures(cleaned) {
        let n: u32 = c.get(1)?.as_str().parse().ok()?;
        return (1..=366).contains(&n).then_some(Period::NextDays(n));
    }
    let fixed = [
        ("today", Period::Today),
        ("tonight", Period::Today),
        ("tomorrow", Period::Tomorrow),
        ("yesterday", Period::Yesterday),
        ("this week", Period::ThisWeek),
        ("last week", Period::LastWeek),
        ("previous week", Period::LastWeek),
        ("next week", Period::NextWeek),
        ("this month", Period::ThisMonth),
        ("last month", Period::LastMonth),
        ("previous month", Period::LastMonth),
        ("this year", Period::ThisYear),
        ("last year", Period::LastYear),
        ("month to date", Period::ThisMonth),
        ("year to date", Period::ThisYear),
        ("ytd", Period::ThisYear),
        ("mtd", Period::ThisMonth),
    ];
    if let Some((_, p)) = fixed.iter().find(|(phrase, _)| has(phrase)) {
        return Some(*p);
    }
    if let Some(p) = weekday_period(cleaned, now, offset) {
        return Some(p);
    }
    if let Some(c) = ISO_MONTH.captures(lowered) {
        let year: i32 = c.get(1)?.as_str().parse().ok()?;
        let month: u32 = c.get(2)?.as_str().parse().ok()?;
        return Period::month(year, month).ok();
    }
    let today = now.with_timezone(&offset).date_naive();
    for c in MONTH_NAME.captures_iter(lowered) {
        let word = c.get(0)?.as_str().split_whitespace().next()?;
        // "may" and "mar…" are ordinary words too: only whole month names count, or an
        // abbreviation followed by a year.
        let full = [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ];
        let abbrev = c.get(1)?.as_str();
        let is_month = full.contains(&word)
            || (c.get(2).is_some() && word.len() <= 4)
            || ["jan", "feb", "aug", "sept", "oct", "nov", "dec"].contains(&word);
        if !is_month || (word == "may" && c.get(2).is_none() && !has_phrase(cleaned, "in may")) {
            continue;
        }
        let month = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .iter()
        .position(|m| abbrev.starts_with(m))
        .map(|i| i as u32 + 1)?;
        let year = match c.get(2) {
            Some(y) => y.as_str().parse().ok()?,
            None if month > today.month() => today.year() - 1,
            None => today.year(),
        };
        return Period::month(year, month).ok();
    }
    None
}

/// "since September" → from 1 September (this year, or last year when September is still
/// to come) to today; "since 2026-09-01" → from that day to today.
fn since(lowered: &str, now: DateTime<Utc>, offset: FixedOffset) -> Option<Period> {
    let c = SINCE.captures(lowered)?;
    let today = now.with_timezone(&offset).date_naive();
    let from = if let Some(day) = c.get(1) {
        NaiveDate::parse_from_str(day.as_str(), "%Y-%m-%d").ok()?
    } else {
        let abbrev = c.get(2)?.as_str();
        let month = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .iter()
        .position(|m| abbrev.starts_with(m))
        .and_then(|i| u32::try_from(i + 1).ok())?;
        let year = match c.get(3) {
            Some(y) => y.as_str().parse().ok()?,
            None if month > today.month() => today.year() - 1,
            None => today.year(),
        };
        NaiveDate::from_ymd_opt(year, month, 1)?
    };
    Period::range(from, today.max(from)).ok()
}

/// The number of months in "last 6 months" / "past twelve months", 1 to 36.
fn months_back(lowered: &str) -> Option<u32> {
    let raw = MONTHS_BACK.captures(lowered)?.get(1)?.as_str();
    let words = [
        "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    ];
    let n = match words.iter().position(|w| *w == raw) {
        Some(i) => u32::try_from(i + 2).ok()?,
        None => raw.parse().ok()?,
    };
    (1..=36).contains(&n).then_some(n)
}

/// One message read once: its cleaned words, its slots and the best-scoring intent,
/// shared by [`Reading::understood`] and [`Reading::plan`].
#[derive(Debug, Clone)]
pub struct Reading<'t> {
    text: &'t str,
    cleaned: String,
    slots: Slots,
    best: Option<(Intent, u32)>,
    runner_up: u32,
}

impl<'t> Reading<'t> {
    #[must_use]
    pub fn of(text: &'t str, ctx: &Context<'_>) -> Self {
        let cleaned = clean(text);
        let slots = slots_in(text, &cleaned, ctx);
        let (best, runner_up) = best_intent(ctx.agent, &cleaned, &slots);
        Self {
            text,
            cleaned,
            slots,
            best,
            runner_up,
        }
    }

    /// Whether the message names a question on its own, so that planning it needs no
    /// earlier turn ("and last month?" does; "revenue this month" does not).
    #[must_use]
    pub fn understood(&self) -> bool {
        self.best.is_some_and(|(_, score)| score >= MIN_SCORE)
    }

    /// Whether the message points back at something said before: "her orders", "its
    /// status", "how much is it", "enrol him too".
    #[must_use]
    pub fn refers_back(&self) -> bool {
        const POINTING: &[&str] = &[
            "she", "her", "hers", "he", "him", "his", "they", "them", "their", "it", "its",
        ];
        self.cleaned.split(' ').any(|w| POINTING.contains(&w))
    }

    /// The intent the message leans to even when it does not name it clearly enough to
    /// be planned on its own ("how much is it" → course_info), with its arguments.
    #[must_use]
    pub fn guess(&self, ctx: &Context<'_>) -> Option<(Intent, Value)> {
        let (intent, _) = self.best?;
        Some((
            intent,
            args_for(intent, &self.slots, ctx, self.text, &self.cleaned),
        ))
    }

    /// Plans the message. `follow_up` is the previous intent and arguments in this
    /// conversation, so "and last month?" repeats the last question for another period.
    #[must_use]
    pub fn plan(&self, ctx: &Context<'_>, follow_up: Option<(Intent, &Value)>) -> Plan {
        match plan_reading(self, ctx, follow_up) {
            Plan::Unsure => slot_fallback(self, ctx),
            plan => plan,
        }
    }

    /// [`Reading::plan`] without reading a bare slot as a question: `Unsure` is left for
    /// the sentence model, and [`Reading::fallback`] after it.
    #[must_use]
    pub fn plan_before_model(
        &self,
        ctx: &Context<'_>,
        follow_up: Option<(Intent, &Value)>,
    ) -> Plan {
        plan_reading(self, ctx, follow_up)
    }

    /// What the slots alone say when nothing else understood the message (an order
    /// number is its status, an email a lookup, a course its details); else `Unsure`.
    #[must_use]
    pub fn fallback(&self, ctx: &Context<'_>) -> Plan {
        slot_fallback(self, ctx)
    }

    /// Plans the message as `intent` (chosen by the sentence model): the slots are still
    /// the rules' own.
    #[must_use]
    pub fn plan_as(&self, ctx: &Context<'_>, intent: Intent) -> Plan {
        plan_intent(self, ctx, intent)
    }

    /// Whether the message is only a slot with connecting words ("and last month?"):
    /// a follow-up, with no intent of its own to guess at.
    #[must_use]
    pub fn only_slots(&self, ctx: &Context<'_>) -> bool {
        let words: Vec<&str> = self.cleaned.split(' ').collect();
        follow_up_shaped(&words, &self.slots, ctx)
    }

    /// The message as it was written.
    #[must_use]
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// The rules' best intent and how sure they are of it.
    #[must_use]
    pub fn confidence(&self) -> Confidence {
        match self.best {
            Some((intent, score)) if score >= STRONG_SCORE && score >= self.runner_up + 2 => {
                Confidence::Sure(intent)
            }
            Some((intent, score)) if score >= MIN_SCORE => Confidence::Leaning(intent),
            _ => Confidence::Unsure,
        }
    }
}

/// Whether the message names a question on its own (see [`Reading::understood`]).
#[must_use]
pub fn understood(text: &str, ctx: &Context<'_>) -> bool {
    Reading::of(text, ctx).understood()
}

/// Plans one message (see [`Reading::plan`]).
#[must_use]
pub fn plan(text: &str, ctx: &Context<'_>, follow_up: Option<(Intent, &Value)>) -> Plan {
    Reading::of(text, ctx).plan(ctx, follow_up)
}

fn plan_reading(
    read: &Reading<'_>,
    ctx: &Context<'_>,
    follow_up: Option<(Intent, &Value)>,
) -> Plan {
    let (text, cleaned, s) = (read.text, &read.cleaned, &read.slots);
    let words: Vec<&str> = cleaned.split(' ').collect();
    let intent = match read.best {
        Some((intent, score)) if score >= MIN_SCORE => intent,
        _ => {
            // A bare slot after an answered question is a follow-up: "and last month?".
            // Only a question that read something is asked again; a write never is.
            if let Some((last, last_args)) = follow_up {
                if !last.is_write()
                    && last.agent() == Some(ctx.agent)
                    && follow_up_shaped(&words, s, ctx)
                {
                    let mut args = merge(last_args, args_for(last, s, ctx, text, cleaned));
                    // "what about 90?" after "inactive for 30 days": the number is days.
                    if last_args.get("days").is_some() && s.days.is_none() {
                        if let Some(n) = words
                            .iter()
                            .find_map(|w| w.parse::<u32>().ok())
                            .filter(|n| (1..=3660).contains(n))
                        {
                            args["days"] = json!(n);
                        }
                    }
                    return Plan::Call { tool: last, args };
                }
            }
            if let Some(reply) = smalltalk(&words, ctx) {
                return reply;
            }
            return Plan::Unsure;
        }
    };
    plan_intent(read, ctx, intent)
}

/// What a message with no clear intent still says by its slots alone (Support): an
/// email or phone is a lookup, an order number a status, a course name its details.
fn slot_fallback(read: &Reading<'_>, ctx: &Context<'_>) -> Plan {
    let (text, cleaned, s) = (read.text, &read.cleaned, &read.slots);
    if ctx.agent != Support {
        return Plan::Unsure;
    }
    let intent = if s.order.is_some() {
        Intent::OrderStatus
    } else if (s.email.is_some() || s.phone.is_some()) && ctx.role.is_staff() {
        Intent::FindClient
    } else if s.course.is_some() {
        Intent::CourseInfo
    } else {
        return Plan::Unsure;
    };
    Plan::Call {
        tool: intent,
        args: args_for(intent, s, ctx, text, cleaned),
    }
}

/// Plans the message as `intent`: its arguments from the slots, or a question back
/// when one the intent needs is missing.
fn plan_intent(read: &Reading<'_>, ctx: &Context<'_>, intent: Intent) -> Plan {
    let (text, cleaned, s) = (read.text, &read.cleaned, &read.slots);
    let words: Vec<&str> = cleaned.split(' ').collect();
    if intent == Intent::CreateEnquiry && ctx.role < Role::Client {
        let args = args_for(intent, s, ctx, text, cleaned);
        let ask = |field: &'static str, question: &str| Plan::Ask {
            intent,
            args: args.clone(),
            field,
            question: question.to_owned(),
            options: Vec::new(),
        };
        if s.email.is_none() && s.phone.is_none() {
            return ask("email", "Happy to help! What email address should the studio reply to? (Your name and the course you're interested in help too.)");
        }
        if args.get("name").is_none() {
            return ask(
                "name",
                "Happy to help! What name should I put on the enquiry?",
            );
        }
    }
    if intent == Intent::OrderStatus && s.order.is_none() {
        if ctx.role == Role::Client && (words.contains(&"my") || words.contains(&"i")) {
            return Plan::Call {
                tool: Intent::ClientOrders,
                args: json!({}),
            };
        }
        let typed = NUMBER.find(text).map(|m| m.as_str().to_owned());
        let question = match typed {
            Some(t) => {
                format!("\"{t}\" is not an order number; they have 4 to 8 digits, like #12345. Which order do you mean?")
            }
            None => "Which order? Send its number, like #12345.".to_owned(),
        };
        return Plan::Ask {
            intent,
            args: json!({}),
            field: "order",
            question,
            options: Vec::new(),
        };
    }
    if intent == Intent::CancelOrder && s.order.is_none() {
        return Plan::Ask {
            intent,
            args: args_for(intent, s, ctx, text, cleaned),
            field: "order",
            question: "Which order should I cancel? Send its number, like #12345.".into(),
            options: Vec::new(),
        };
    }
    if intent == Intent::CreateOrder && s.course.is_none() && s.course_typed.is_none() {
        return Plan::Ask {
            intent,
            args: args_for(intent, s, ctx, text, cleaned),
            field: "course",
            question: format!("Which course? We offer {}.", course_names(ctx.courses)),
            options: ctx.courses.iter().map(|c| c.name.clone()).collect(),
        };
    }
    Plan::Call {
        tool: intent,
        args: args_for(intent, s, ctx, text, cleaned),
    }
}

fn merge(base: &Value, over: Value) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(o) = over {
        for (k, v) in o {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

fn course_names(courses: &[Course]) -> String {
    let names: Vec<String> = courses.iter().map(|c| c.name.clone()).collect();
    crate::tools::or_list(&names)
}

fn smalltalk(words: &[&str], ctx: &Context<'_>) -> Option<Plan> {
    let greet = [
        "hi", "hello", "hey", "hiya", "namaste", "morning", "evening", "yo",
    ];
    let thanks = [
        "thanks", "thank", "thx", "cheers", "great", "ok", "okay", "bye",
    ];
    let help = ["help", "what can you do", "menu", "start"];
    let first = *words.first()?;
    let short = words.len() <= 4;
    if short && greet.contains(&first) {
        return Some(Plan::Reply {
            intent: Intent::Smalltalk,
            text: format!("Hello! {}", help_text(ctx.agent, ctx.role)),
        });
    }
    if short && thanks.contains(&first) {
        return Some(Plan::Reply {
            intent: Intent::Smalltalk,
            text: "You're welcome! Anything else?".into(),
        });
    }
    if words.iter().any(|w| help.contains(w)) && words.len() <= 6 {
        return Some(Plan::Reply {
            intent: Intent::Smalltalk,
            text: help_text(ctx.agent, ctx.role),
        });
    }
    None
}

/// The amount a message says was paid ("a payment of 500 for order 12396", "paid
/// ₹1,500", "got 3000 on card"): a sum of money that is not the order's number.
fn amount_paid(text: &str, order: Option<&str>) -> Option<String> {
    static MONEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)(?:₹|\brs\.?\s*|\binr\s*)?(?:#\s*)?\b(\d{1,3}(?:,\d{2,3})+|\d+)(?:\.\d{1,2})?\b",
        )
        .unwrap_or_else(|_| never())
    });
    MONEY.captures_iter(text).find_map(|c| {
        let whole = c.get(0)?.as_str();
        let digits = c.get(1)?.as_str().replace(',', "");
        let is_order = whole.contains('#') || order.is_some_and(|o| o == digits);
        // A phone number is no amount either.
        (!is_order && digits.len() <= 7).then(|| whole.trim_start_matches(['#', ' ']).to_owned())
    })
}

/// Whether a message asks about something rather than asks for it: a question ("can I
/// book a trial before enrolling?", "how do I enrol online", "she paid for #12346, why
/// is it still pending") as opposed to a request, polite ones included ("can you enrol
/// me in Pilates?", "please record the payment for #12345").
#[must_use]
pub fn asks_rather_than_tells(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let wondering = [
        "how", "why", "whether", "if", "policy", "possible", "allowed",
    ];
    if words.iter().any(|w| wondering.contains(w)) {
        return true;
    }
    let polite = [
        ["can", "you"],
        ["could", "you"],
        ["would", "you"],
        ["will", "you"],
        ["can", "u"],
        ["could", "u"],
    ];
    if polite.iter().any(|p| words.starts_with(p))
        || words
            .first()
            .is_some_and(|w| matches!(*w, "please" | "pls" | "plz" | "kindly"))
    {
        return false;
    }
    let asking_first = [
        "what", "when", "where", "which", "who", "whose", "is", "are", "was", "were", "do", "does",
        "did", "has", "have", "had", "should", "shall", "can", "could", "may", "might", "am",
        "any",
    ];
    lower.contains('?') || words.first().is_some_and(|w| asking_first.contains(w))
}

/// The reason given with `/human` (or `/person`), the hand-off command of the chats'
/// menus: the words after it, or a note that the command was used. A bot suffix
/// ("/human@frontdesk_bot") is allowed.
#[must_use]
pub fn person_command(text: &str) -> Option<String> {
    let text = text.trim();
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let command = head.split('@').next().unwrap_or(head).to_lowercase();
    if !matches!(command.as_str(), "/human" | "/person") {
        return None;
    }
    let rest = rest.trim();
    Some(if rest.is_empty() {
        "Asked for a person (/human).".to_owned()
    } else {
        rest.chars().take(500).collect()
    })
}

/// Whether a message reads as English or romanised Hindi, the languages the rules and
/// the sentence model read. Another script, or more words of another Latin-script
/// language than of English ("¿cuándo es la clase de yoga?", "wie viel Umsatz diesen
/// Monat?"), is not, and a message not understood then gets a reply saying which
/// languages are.
#[must_use]
pub fn reads_as_english(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic());
    let (latin, other) = letters.fold((0usize, 0usize), |(l, o), c| {
        if c.is_ascii_alphabetic() || ('\u{c0}'..='\u{24f}').contains(&c) {
            (l + 1, o)
        } else {
            (l, o + 1)
        }
    });
    if other > 0 && latin <= other * 2 {
        return false;
    }
    if text.contains(['¿', '¡']) {
        return false;
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphabetic() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let (mut english, mut foreign) = (0usize, 0usize);
    for (i, word) in words.iter().enumerate() {
        // A capital inside the sentence is a name ("has Mi Una paid?"), in any language.
        if i > 0 && word.starts_with(char::is_uppercase) {
            continue;
        }
        let word = word.to_lowercase();
        if ENGLISH_WORDS.contains(&word.as_str()) {
            english += 1;
        } else if OTHER_LANGUAGE_WORDS.contains(&word.as_str()) {
            foreign += 1;
        }
    }
    // Two words of another language and fewer of English, or a greeting alone ("Hola").
    !(foreign > english && (foreign >= 2 || words.len() <= 2))
}

/// Everyday English words that also tell a sentence is English.
const ENGLISH_WORDS: &[&str] = &[
    "the", "is", "are", "was", "what", "when", "how", "many", "much", "who", "which", "do", "does",
    "did", "my", "our", "we", "i", "you", "this", "next", "last", "for", "in", "on", "at", "to",
    "of", "a", "an", "any", "there", "have", "has", "me", "please", "can", "with", "and", "week",
    "month", "today", "tomorrow", "class", "classes",
];

/// Common words of the Latin-script languages people may write in (Spanish, Portuguese,
/// French, German, Italian, Dutch, Indonesian) that are neither English nor romanised
/// Hindi ("se", "de", "le", "die" are left out for that reason).
const OTHER_LANGUAGE_WORDS: &[&str] = &[
    // Spanish
    "el",
    "los",
    "las",
    "es",
    "que",
    "cuándo",
    "cuando",
    "cuánto",
    "cuanto",
    "cuántos",
    "cuántas",
    "cuál",
    "dónde",
    "hoy",
    "mañana",
    "clase",
    "clases",
    "este",
    "esta",
    "mes",
    "semana",
    "hay",
    "para",
    "por",
    "una",
    "del",
    "quiero",
    "tengo",
    "pagar",
    "hola",
    "gracias",
    "ganamos",
    "mi",
    "mis",
    "ayer",
    "cómo",
    // Portuguese
    "quando",
    "quanto",
    "quantos",
    "hoje",
    "amanhã",
    "aula",
    "aulas",
    "mês",
    "você",
    "meu",
    "minha",
    "não",
    "está",
    "olá",
    "obrigado",
    "obrigada",
    // French
    "est",
    "quand",
    "combien",
    "ce",
    "cette",
    "mois",
    "semaine",
    "aujourd'hui",
    "demain",
    "je",
    "nous",
    "avec",
    "pour",
    "les",
    "des",
    "du",
    "cours",
    "bonjour",
    "merci",
    "quel",
    "quelle",
    "où",
    "mon",
    "mes",
    "j'ai",
    "c'est",
    "y",
    // German
    "ist",
    "wann",
    "wie",
    "viel",
    "viele",
    "heute",
    "morgen",
    "diese",
    "diesen",
    "dieser",
    "woche",
    "monat",
    "kurs",
    "ich",
    "nicht",
    "bitte",
    "danke",
    "und",
    "haben",
    "wir",
    "meine",
    "welche",
    "gibt",
    "umsatz",
    "der",
    "das",
    "den",
    "dem",
    "ein",
    "eine",
    "möchte",
    "mit",
    "einem",
    "einen",
    "sprechen",
    "hallo",
    "guten",
    // Italian
    "oggi",
    "domani",
    "lezione",
    "lezioni",
    "questa",
    "questo",
    "mese",
    "settimana",
    "ciao",
    "grazie",
    "sono",
    "della",
    "quanti",
    "il",
    "gli",
    // Dutch
    "hoeveel",
    "wanneer",
    "vandaag",
    "deze",
    "maand",
    "het",
    "een",
    "ik",
    "niet",
    "bedankt",
    "hoe",
    "laat",
    "volgende",
    "hoi",
    "er",
    "graag",
    "wil",
    // Indonesian
    "berapa",
    "kapan",
    "ini",
    "kelas",
    "bulan",
    "minggu",
    "saya",
    "yang",
    "ada",
    "halo",
    "apakah",
    "bisa",
];

/// What this agent can answer, for greetings and for when the rules are not sure.
#[must_use]
pub fn help_text(agent: AgentKind, role: Role) -> String {
    match (agent, role) {
        (Dashboard, _) => "I can tell you: revenue for a period (by course or payment method, compared with the previous one, or as a monthly trend), new clients (also per week), the most popular courses, attendance rates, inactive clients, outstanding balances, retention, class fill rates (by course or instructor, emptiest or fullest first), how many clients we have by status, and the top clients by spend or attendance; trends and breakdowns come with a chart. Try \"revenue trend for the last 6 months\" or \"attendance by course this month\".".into(),
        (Support, Role::Guest) => "I can show our courses and prices, the classes this week, and take an enquiry. To see your orders and payments, send /link to link this chat to your client record.".into(),
        (Support, Role::Client) => "I can show classes (\"classes this week\", \"next Pilates class\"), course details and prices, your orders and their status, your pending payments, enrol you in a course, or pass you to a person at the studio.".into(),
        (Support, _) => "I can find a client (by email, phone, name or order), show an order's status or a client's orders, list classes, describe courses, enrol a client, cancel an order, record a payment, list pending payments (who owes what), or take an enquiry.".into(),
    }
}

fn args_for(intent: Intent, s: &Slots, ctx: &Context<'_>, text: &str, cleaned: &str) -> Value {
    let mut a = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            a.insert(k.to_owned(), v);
        }
    };
    let period = s.period.map(|p| json!(p.token()));
    let words: Vec<&str> = cleaned.split(' ').collect();
    match intent {
        Intent::FindClient => {
            if let Some(e) = &s.email {
                put("email", Some(json!(e)));
            } else if let Some(p) = &s.phone {
                put("phone", Some(json!(p)));
            } else if let Some(o) = &s.order {
                put("order", Some(json!(o)));
            } else {
                put(
                    "name",
                    name_after(
                        text,
                        &[
                            "client",
                            "customer",
                            "member",
                            "find",
                            "lookup",
                            "look up",
                            "pull up",
                            "details for",
                            "details of",
                            "profile for",
                            "profile of",
                            "number for",
                            "number of",
                            "search for",
                            "search",
                            "who is",
                        ],
                    )
                    .or_else(|| s.client.clone())
                    // A client asking for "my details" means themselves.
                    .filter(|n| {
                        let first = n.split_whitespace().next().unwrap_or("").to_lowercase();
                        !(ctx.role == Role::Client
                            && ["my", "me", "mine", "myself", "profile", "details"]
                                .contains(&first.as_str()))
                    })
                    .map(|n| json!(n)),
                );
            }
        }
        Intent::ClientOrders => put(
            "client",
            s.email
                .clone()
                .or_else(|| s.phone.clone())
                .or_else(|| s.client.clone())
                .or_else(|| {
                    name_after(
                        text,
                        &[
                            "orders for",
                            "orders of",
                            "order history for",
                            "purchases of",
                            "what has",
                            "what did",
                            "has",
                        ],
                    )
                    .filter(|n| !is_filler_name(n))
                })
                .map(|c| json!(c)),
        ),
        Intent::OrderStatus => put("order", s.order.clone().map(|o| json!(o))),
        Intent::ListClasses => {
            put("period", period);
            put("course", course_or_family(s, ctx).map(|c| json!(c)));
            if s.period.is_none() && (words.contains(&"next") || words.contains(&"upcoming")) {
                put("next_only", Some(json!(true)));
            }
        }
        Intent::CourseInfo => put(
            "course",
            s.course
                .clone()
                .or_else(|| course_hint(text))
                .map(|c| json!(c)),
        ),
        Intent::CreateOrder => {
            put(
                "course",
                s.course_typed
                    .clone()
                    .or_else(|| s.course.clone())
                    .map(|c| json!(c)),
            );
            put(
                "client",
                s.email
                    .clone()
                    .or_else(|| s.phone.clone())
                    .or_else(|| s.client.clone())
                    .or_else(|| enrolment_target(text, ctx))
                    .map(|c| json!(c)),
            );
            put("method", s.method.clone().map(|m| json!(m)));
        }
        Intent::CreateEnquiry => {
            let name = my_name_in(text)
                .or_else(|| s.client.clone())
                .or_else(|| name_by_phone(text, ctx.courses));
            put("name", name.map(|n| json!(n)));
            put("email", s.email.clone().map(|e| json!(e)));
            put("phone", s.phone.clone().map(|p| json!(p)));
            put("course", s.course.clone().map(|c| json!(c)));
            put(
                "message",
                Some(json!(text.chars().take(300).collect::<String>())),
            );
        }
        Intent::PendingPayments => {
            let own = ctx.role == Role::Client || words.contains(&"my") || words.contains(&"i");
            put("scope", Some(json!(if own { "self" } else { "all" })));
            if ctx.role.is_staff() {
                put(
                    "client",
                    s.email
                        .clone()
                        .or_else(|| s.client.clone())
                        .or_else(|| {
                            name_after(text, &["does", "has", "did", "dues of", "dues for"])
                                .filter(|n| !is_filler_name(n))
                        })
                        .map(|c| json!(c)),
                );
            } else if ctx.role == Role::Client {
                // Someone named: the tool says a client sees only their own.
                put("client", s.client.clone().map(|c| json!(c)));
            }
            if words.contains(&"overdue") || words.contains(&"late") {
                put("overdue_only", Some(json!(true)));
            }
            put("course", course_or_family(s, ctx).map(|c| json!(c)));
        }
        Intent::RecordPayment => {
            put("order", s.order.clone().map(|o| json!(o)));
            put("method", s.method.clone().map(|m| json!(m)));
            put(
                "amount",
                amount_paid(text, s.order.as_deref()).map(|a| json!(a)),
            );
        }
        Intent::CancelOrder => put("order", s.order.clone().map(|o| json!(o))),
        Intent::ClientSummary | Intent::TicketSummary => put("period", period),
        Intent::TopClients => {
            put("period", period);
            let by_attendance = [
                "attendance",
                "attended",
                "attend",
                "came",
                "visits",
                "visited",
                "classes",
                "frequent",
                "often",
                "loyal",
                "regular",
                "regulars",
                "showed",
            ]
            .iter()
            .any(|w| words.contains(w));
            put(
                "by",
                Some(json!(if by_attendance { "attendance" } else { "spend" })),
            );
            if let Some(n) = TOP_N.captures(&text.to_lowercase()).and_then(|c| c.get(1)) {
                put(
                    "limit",
                    n.as_str()
                        .parse::<u32>()
                        .ok()
                        .map(|n| json!(n.clamp(1, 20))),
                );
            }
        }
        Intent::EscalateToStaff => put(
            "reason",
            Some(json!(text.chars().take(500).collect::<String>())),
        ),
        Intent::Revenue => {
            put("period", period);
            let by = if ["course", "courses", "per course", "each course"]
                .iter()
                .any(|w| has_term(cleaned, &words, w))
                && !words.contains(&"method")
            {
                Some("course")
            } else if ["method", "methods", "upi", "card", "cash"]
                .iter()
                .any(|w| words.contains(w))
            {
                Some("method")
            } else {
                None
            };
            let months = months_back(&text.to_lowercase());
            let trend = months.is_some()
                || ["trend", "trends", "monthly", "over time"]
                    .iter()
                    .any(|w| has_term(cleaned, &words, w))
                || ["per month", "by month", "each month", "month by month"]
                    .iter()
                    .any(|w| has_term(cleaned, &words, w));
            let by = if trend && by.is_none() {
                Some("month")
            } else {
                by
            };
            put("by", by.map(|b| json!(b)));
            if by == Some("month") && s.period.is_none() {
                put("months", Some(json!(months.unwrap_or(6))));
            }
            if [
                "compare", "compared", "vs", "versus", "previous", "growth", "change",
            ]
            .iter()
            .any(|w| words.contains(w))
            {
                put("compare", Some(json!(true)));
                // "up compared to last month": this month, against the last.
                if let Some(unit) = COMPARED_TO_LAST
                    .captures(cleaned)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str())
                {
                    let (last, this) = match unit {
                        "week" => (Period::LastWeek, Period::ThisWeek),
                        "year" => (Period::LastYear, Period::ThisYear),
                        _ => (Period::LastMonth, Period::ThisMonth),
                    };
                    if s.period == Some(last) {
                        put("period", Some(json!(this.token())));
                    }
                }
            }
            put("course", s.course.clone().map(|c| json!(c)));
        }
        Intent::NewClients => {
            put("period", period);
            if [
                "per week",
                "by week",
                "each week",
                "a week",
                "weekly",
                "week by week",
            ]
            .iter()
            .any(|w| has_term(cleaned, &words, w))
            {
                put("by", Some(json!("week")));
            }
        }
        Intent::Retention | Intent::CourseEnrollment => put("period", period),
        Intent::AttendanceRate => {
            put("period", period);
            put("course", course_or_family(s, ctx).map(|c| json!(c)));
        }
        Intent::ClassFillRate => {
            put("period", period);
            put("course", course_or_family(s, ctx).map(|c| json!(c)));
            if ["emptiest", "empty", "least", "lowest", "worst", "quietest"]
                .iter()
                .any(|w| words.contains(w))
            {
                put("order", Some(json!("emptiest")));
            } else if ["fullest", "busiest", "packed"]
                .iter()
                .any(|w| words.contains(w))
            {
                put("order", Some(json!("fullest")));
            }
            if [
                "instructor",
                "instructors",
                "teacher",
                "teachers",
                "trainer",
                "trainers",
            ]
            .iter()
            .any(|w| words.contains(w))
            {
                put("by", Some(json!("instructor")));
            }
        }
        Intent::InactiveClients => put("days", s.days.map(|d| json!(d))),
        _ => {}
    }
    Value::Object(a)
}

/// Who an enrolment names, when it is not the sender: "book Priya Sharma into Pilates"
/// → "Priya Sharma", "sign my daughter up for yoga" → "my daughter"; `None` for "enrol
/// me", "sign up for Pilates" or a course alone.
fn enrolment_target(text: &str, ctx: &Context<'_>) -> Option<String> {
    static TARGET: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:enrol+|enroll|book|sign|register|add|put|get)\s+(.{1,60}?)\s+(?:up\s+)?(?:in|into|for|on|onto|to)\b")
            .unwrap_or_else(|_| never())
    });
    // Someone close, as whom the enrolment is for: "sign my daughter up", "book it for
    // my son" (not "my daughter says it would do me good").
    static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)(?:^|\bfor\s+)(?:my|our)\s+(daughter|son|wife|husband|partner|friend|mum|mom|mother|dad|father|kid|kids|child|children|brother|sister|colleague|boyfriend|girlfriend|niece|nephew)\b")
            .unwrap_or_else(|_| never())
    });
    let target = TARGET.captures(text).and_then(|c| c.get(1));
    let relative = target
        .and_then(|t| RELATIVE.captures(t.as_str().trim()))
        .or_else(|| {
            RELATIVE.captures(text).filter(|c| {
                c.get(0)
                    .is_some_and(|m| m.as_str().to_lowercase().starts_with("for"))
            })
        });
    if let Some(c) = relative {
        return Some(format!("your {}", c.get(1)?.as_str().to_lowercase()));
    }
    let raw = target?.as_str();
    // Words that name the sender, or nobody in particular.
    let not_a_name = [
        "me", "myself", "us", "i", "up", "down", "a", "an", "the", "please", "pls", "now", "also",
        "in", "her", "him", "them", "this", "that", "client", "customer", "member",
    ];
    let words: Vec<&str> = raw
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let named: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !not_a_name.contains(&w.to_lowercase().as_str()))
        .collect();
    if named.is_empty() || named.len() > 4 {
        return None;
    }
    // "book a Pilates class for …", "sign up for yoga": a course, not a person.
    let course_word = |w: &str| {
        let w = w.to_lowercase();
        [
            "class", "classes", "course", "session", "spot", "place", "trial",
        ]
        .contains(&w.as_str())
            || ctx
                .courses
                .iter()
                .any(|c| c.name.to_lowercase().split_whitespace().any(|n| n == w))
    };
    if named.iter().any(|w| course_word(w))
        || !named
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_alphabetic))
    {
        return None;
    }
    Some(named.join(" "))
}

/// Whether a message that names no question of its own is shaped like a follow-up: a
/// slot (a period, a course, a number of days, a client) with only connecting words
/// around it ("and last month?", "what about Pilates?", "no, I meant October"). A
/// message with words of its own ("how many people came to yoga last week") is not.
fn follow_up_shaped(words: &[&str], s: &Slots, ctx: &Context<'_>) -> bool {
    const CONNECTING: &[&str] = &[
        "and",
        "what",
        "whats",
        "about",
        "how",
        "for",
        "the",
        "same",
        "then",
        "in",
        "of",
        "on",
        "please",
        "vs",
        "versus",
        "compared",
        "instead",
        "i",
        "meant",
        "mean",
        "no",
        "nope",
        "sorry",
        "actually",
        "only",
        "just",
        "with",
        "by",
        "it",
        "show",
        "me",
        "again",
        "also",
        "too",
        "ok",
        "okay",
        "so",
        "but",
        "a",
        "an",
        "is",
        "was",
        "were",
        "did",
        "do",
        "does",
        "that",
        "those",
        "them",
        "one",
        "ones",
        "at",
        "from",
        "oh",
        "wait",
        "rather",
        "not",
        "per",
        "each",
        "breakdown",
        "split",
        "us",
        "we",
        "our",
        "there",
        "be",
        "can",
        "you",
        "tell",
        "give",
        "now",
        "to",
        "till",
        "until",
        "through",
        "last",
        "this",
        "next",
        "previous",
        "past",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "day",
        "days",
        "today",
        "tomorrow",
        "yesterday",
        "since",
        "class",
        "classes",
        "or",
        "far",
        "done",
        "hmm",
        "well",
        "look",
        "her",
        "his",
        "their",
        "she",
        "he",
        "they",
        "number",
        "figure",
        "figures",
        "numbers",
        "people",
        "could",
        "would",
        "pull",
        "up",
        "get",
        "see",
    ];
    /// Words that change how the last question's answer is broken down.
    const BREAKDOWN: &[&str] = &[
        "course",
        "courses",
        "method",
        "methods",
        "payment",
        "payments",
        "instructor",
        "instructors",
        "teacher",
        "teachers",
        "monthly",
        "weekly",
        "trend",
        "week",
        "upi",
        "card",
        "cash",
        "online",
        "bank",
        "transfer",
    ];
    const MONTHS: &[&str] = &[
        "jan",
        "january",
        "feb",
        "february",
        "mar",
        "march",
        "apr",
        "april",
        "may",
        "jun",
        "june",
        "jul",
        "july",
        "aug",
        "august",
        "sep",
        "sept",
        "september",
        "oct",
        "october",
        "nov",
        "november",
        "dec",
        "december",
    ];
    let number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
    let has_slot = s.period.is_some()
        || s.course.is_some()
        || s.course_typed.is_some()
        || s.days.is_some()
        || s.client.is_some()
        || s.email.is_some()
        || words.iter().any(|w| BREAKDOWN.contains(w) || number(w));
    if !has_slot || words.len() > 10 {
        return false;
    }
    let named: Vec<String> = s
        .client
        .iter()
        .flat_map(|n| n.split_whitespace())
        .map(str::to_lowercase)
        .collect();
    let course_word = |w: &str| {
        ctx.courses.iter().any(|c| {
            c.name.to_lowercase().split_whitespace().any(|n| {
                n == w || (n.len() >= 5 && w.len() >= 4 && strsim::osa_distance(n, w) <= 1)
            })
        })
    };
    let email_words: Vec<String> = s
        .email
        .iter()
        .flat_map(|e| e.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_owned)
        .collect();
    words.iter().all(|w| {
        w.is_empty()
            || CONNECTING.contains(w)
            || BREAKDOWN.contains(w)
            || MONTHS.contains(w)
            || number(w)
            || named.iter().any(|n| n == w)
            || email_words.iter().any(|e| e == w)
            || course_word(w)
    })
}

/// A course name that is not in the catalogue ("price of kickboxing" → "kickboxing"),
/// passed on so the tool can answer "did you mean …?".
fn course_hint(text: &str) -> Option<String> {
    static HINT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:price of|prices of|cost of|fee for|fees for|about|teaches|teach)\s+(?:the\s+)?([\p{L}][\p{L} -]{2,40}?)(?:\s+(?:class|classes|course|courses|sessions?))?\s*[?.!]*$")
            .unwrap_or_else(|_| never())
    });
    HINT.captures(text.trim())
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim().to_owned())
        .filter(|h| {
            ![
                "you", "your", "it", "this", "that", "them", "courses", "classes",
            ]
            .contains(&h.to_lowercase().as_str())
        })
}

/// The words after a keyword, up to a filler word: "find client priya sharma please".
fn name_after(text: &str, keys: &[&str]) -> Option<String> {
    let lowered = text.to_lowercase();
    for key in keys {
        if let Some(pos) = lowered.find(&format!("{key} ")) {
            let rest = &text[pos + key.len()..];
            let stop = [
                "please", "pls", "plz", "and", "with", "from", "in", "on", "by", "email", "phone",
                "details", "profile", "info", "record", "orders", "order", "has", "have", "had",
                "bought", "paid", "pay", "owe", "owes", "is", "was", "ka", "ki", "ke", "she", "he",
                "they", "who", "?", ".",
            ];
            let mut possessive = false;
            let name: Vec<&str> = rest
                .split_whitespace()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-'))
                .filter(|w| !w.is_empty())
                .skip_while(|w| {
                    [
                        "client", "customer", "member", "the", "named", "called", "for", "a", "up",
                        "profile", "details", "info", "record", "of",
                    ]
                    .contains(&w.to_lowercase().as_str())
                })
                .take_while(|w| {
                    let go = !possessive && !stop.contains(&w.to_lowercase().as_str());
                    possessive = possessive || w.ends_with("'s") || w.ends_with("’s");
                    go
                })
                .map(|w| {
                    w.strip_suffix("'s")
                        .or_else(|| w.strip_suffix("’s"))
                        .unwrap_or(w)
                })
                .take(4)
                .collect();
            if !name.is_empty() {
                return Some(name.join(" "));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
