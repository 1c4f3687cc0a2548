//! The traffic `bench pipeline` sends. By default a realistic day: questions drawn from
//! the eval corpus (the seed's, the everyday and the held-out ones) with a skewed (Zipf)
//! mix of intents and of the people they are about (the names, emails and order numbers
//! in each question replaced by those of the studio's own clients and orders), dialogues
//! followed up in their threads, and a few bookings confirmed with "yes". With
//! `--repeat`: the same questions again and again, one thread each, for comparison.

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::agents::eval::{parse_cases, EvalCase};
use crate::domain::Intent;
use crate::store::{ClientQuery, OrderFilter, Store};
use crate::tools::AgentKind;

/// Held-out questions: other ways of asking.
const HELDOUT_CASES: &str = include_str!("../../tests/eval/heldout.jsonl");
/// Dialogues: follow-ups in one thread, corrections, bookings and their confirmation.
const DIALOGUE_CASES: &str = include_str!("../../tests/eval/dialogues.jsonl");

/// Of every thread: a booking confirmed, a dialogue of follow-ups, else one question.
const WRITE_SHARE: f64 = 0.02;
const DIALOGUE_SHARE: f64 = 0.15;

/// Messages said one after another in one thread, by one user, of one agent.
#[derive(Debug, Clone)]
pub struct Thread {
    pub agent: AgentKind,
    /// Which of the simulated users says it.
    pub user: usize,
    pub messages: Vec<String>,
}

/// The traffic of one run.
#[derive(Debug, Clone, Default)]
pub struct Workload {
    pub threads: Vec<Thread>,
}

impl Workload {
    /// Messages in all.
    #[must_use]
    pub fn messages(&self) -> usize {
        self.threads.iter().map(|t| t.messages.len()).sum()
    }

    /// Distinct texts (per agent) in all.
    #[must_use]
    pub fn distinct(&self) -> usize {
        self.threads
            .iter()
            .flat_map(|t| t.messages.iter().map(move |m| (t.agent, m.to_lowercase())))
            .collect::<HashSet<_>>()
            .len()
    }

    /// Threads of more than one message.
    #[must_use]
    pub fn follow_up_threads(&self) -> usize {
        self.threads.iter().filter(|t| t.messages.len() > 1).count()
    }

    /// The same `questions` again and again, one thread each, from `users` in turn.
    #[must_use]
    pub fn repeated(questions: &[(AgentKind, String)], messages: usize, users: usize) -> Self {
        let threads = (0..messages)
            .filter_map(|i| {
                let (agent, text) = questions.get(i % questions.len().max(1))?;
                Some(Thread {
                    agent: *agent,
                    user: i % users.max(1),
                    messages: vec![text.clone()],
                })
            })
            .collect();
        Self { threads }
    }
}

/// Samples ranks 0..n with probability ∝ 1 / (rank + 1): a few very often, most rarely.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    #[must_use]
    pub fn new(n: usize) -> Self {
        let mut sum = 0.0;
        let cumulative = (0..n.max(1))
            .map(|rank| {
                sum += 1.0 / (rank as f64 + 1.0);
                sum
            })
            .collect();
        Self { cumulative }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.gen::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c < x)
            .min(self.cumulative.len() - 1)
    }
}

/// Whom and what a question can be about: the studio's clients and order numbers.
struct People {
    /// (name, email) of clients, in a shuffled order (rank 0 is asked about most).
    clients: Vec<(String, String)>,
    /// Their names in lower case, to find them in a question.
    lower_names: Vec<String>,
    clients_zipf: Zipf,
    orders: Vec<u32>,
    orders_zipf: Zipf,
}

impl People {
    async fn of(store: &Store, rng: &mut impl Rng) -> Result<Self> {
        let (found, _) = store
            .list_clients(&ClientQuery {
                limit: 500,
                ..ClientQuery::default()
            })
            .await?;
        let mut clients: Vec<(String, String)> = found
            .into_iter()
            .map(|c| (c.name.as_str().to_owned(), c.email.as_str().to_owned()))
            .collect();
        shuffle(&mut clients, rng);
        let (orders, _) = store
            .list_orders(&OrderFilter {
                limit: 500,
                ..OrderFilter::default()
            })
            .await?;
        let mut orders: Vec<u32> = orders.iter().map(|o| o.number.get()).collect();
        shuffle(&mut orders, rng);
        Ok(Self {
            clients_zipf: Zipf::new(clients.len()),
            lower_names: clients.iter().map(|(n, _)| n.to_lowercase()).collect(),
            clients,
            orders_zipf: Zipf::new(orders.len()),
            orders,
        })
    }

    /// `text` about another client and order: a known client's full name or an email
    /// replaced by a client drawn by popularity, a known order number by an order's.
    fn rewrite(&self, text: &str, rng: &mut impl Rng) -> String {
        let mut out = text.to_owned();
        let lower = text.to_lowercase();
        if let Some(at) = self
            .lower_names
            .iter()
            .position(|name| !name.is_empty() && lower.contains(name.as_str()))
        {
            let (other, _) = &self.clients[self.clients_zipf.sample(rng)];
            out = replace_ignoring_case(&out, &self.clients[at].0, other);
        }
        if let Some(email) = out
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '.'))
            .find(|w| w.contains('@'))
            .map(str::to_owned)
        {
            let (_, other) = &self.clients[self.clients_zipf.sample(rng)];
            out = out.replace(&email, other);
        }
        if let Some(number) = self.orders.iter().find(|n| out.contains(&n.to_string())) {
            let other = self.orders[self.orders_zipf.sample(rng)];
            out = out.replace(&number.to_string(), &other.to_string());
        }
        out
    }
}

fn shuffle<T>(items: &mut [T], rng: &mut impl Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.gen_range(0..=i));
    }
}

fn replace_ignoring_case(text: &str, from: &str, to: &str) -> String {
    let lower = text.to_lowercase();
    match lower.find(&from.to_lowercase()) {
        // Lower-casing kept the byte positions only for ASCII; else leave it as it is.
        Some(at) if text.is_ascii() => format!("{}{to}{}", &text[..at], &text[at + from.len()..]),
        _ => text.to_owned(),
    }
}

/// Who a case is asked by, when the benchmark's staff and manager channels can ask it.
fn agent_of(case: &EvalCase) -> Option<AgentKind> {
    let agent: AgentKind = case.agent.parse().ok()?;
    match case.who.as_deref().map(str::trim) {
        None | Some("" | "staff" | "manager" | "admin") => Some(agent),
        _ => None,
    }
}

fn intent_of(expect: &crate::agents::eval::Expect) -> Option<Intent> {
    expect.intent.as_deref()?.parse().ok()
}

/// A realistic run of about `messages` messages from `users` people (see the module).
///
/// # Errors
/// The built-in cases do not parse, or the database cannot be read.
pub async fn realistic(
    store: &Store,
    messages: usize,
    users: usize,
    seed: u64,
) -> Result<Workload> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let people = People::of(store, &mut rng).await?;
    let mut by_intent: BTreeMap<&'static str, Vec<(AgentKind, String)>> = BTreeMap::new();
    for text in [super::EVAL_CASES, super::EVERYDAY_CASES, HELDOUT_CASES] {
        for case in parse_cases(text)? {
            let (Some(agent), Some(intent)) = (agent_of(&case), intent_of(&case.expect)) else {
                continue;
            };
            if case.turns.is_empty() && !intent.is_write() {
                by_intent
                    .entry(intent.as_str())
                    .or_default()
                    .push((agent, case.text));
            }
        }
    }
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    for case in parse_cases(DIALOGUE_CASES)? {
        let Some(agent) = agent_of(&case) else {
            continue;
        };
        let turns: Vec<String> = case.turns.iter().map(|t| t.text.clone()).collect();
        let writes_something = case
            .turns
            .iter()
            .any(|t| intent_of(&t.expect).is_some_and(Intent::is_write));
        if writes_something {
            writes.push((agent, turns));
        } else {
            reads.push((agent, turns));
        }
    }
    anyhow::ensure!(!by_intent.is_empty(), "no questions in the eval corpus");
    // The most asked intents are those with the most ways of asking in the corpus.
    let mut intents: Vec<(&str, Vec<(AgentKind, String)>)> = by_intent.into_iter().collect();
    intents.sort_by_key(|(intent, asked)| (std::cmp::Reverse(asked.len()), *intent));
    let intent_zipf = Zipf::new(intents.len());
    let user_zipf = Zipf::new(users.max(1));

    let mut workload = Workload::default();
    while workload.messages() < messages {
        let user = user_zipf.sample(&mut rng);
        let roll = rng.gen::<f64>();
        let (agent, texts) = if roll < WRITE_SHARE && !writes.is_empty() {
            writes[rng.gen_range(0..writes.len())].clone()
        } else if roll < WRITE_SHARE + DIALOGUE_SHARE && !reads.is_empty() {
            reads[rng.gen_range(0..reads.len())].clone()
        } else {
            let (_, asked) = &intents[intent_zipf.sample(&mut rng)];
            let (agent, text) = asked[rng.gen_range(0..asked.len())].clone();
            (agent, vec![text])
        };
        let messages = texts.iter().map(|t| people.rewrite(t, &mut rng)).collect();
        workload.threads.push(Thread {
            agent,
            user,
            messages,
        });
    }
    Ok(workload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_favours_the_first_ranks_and_reaches_the_last() {
        let zipf = Zipf::new(100);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0usize; 100];
        for _ in 0..20_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        // P(rank 0) = 1 / H(100) ≈ 0.193; P(rank 9) ≈ 0.019.
        assert!((3_400..4_400).contains(&counts[0]), "{}", counts[0]);
        assert!(counts[0] > 5 * counts[9], "{} vs {}", counts[0], counts[9]);
        assert!(counts[50..].iter().sum::<usize>() > 0);
    }

    #[test]
    fn names_are_replaced_whatever_their_case() {
        assert_eq!(
            replace_ignoring_case("find priya sharma please", "Priya Sharma", "Meera Iyer"),
            "find Meera Iyer please"
        );
        assert_eq!(
            replace_ignoring_case("nobody here", "Priya", "Meera"),
            "nobody here"
        );
    }
}
