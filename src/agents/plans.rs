//! Plans of questions complete in themselves, kept for the minute: the same words asked
//! again ("revenue this month", "pending payments") are planned once, not read again.
//!
//! **Invariant:** a plan is reused only for the same agent, role and exact text, within
//! the same minute of the studio clock, against the same catalogue (the very copy the
//! store hands out: a course written or the catalogue re-read is another copy). Those
//! are everything the rules planner reads besides the text; a question that needs an
//! earlier turn ("and last month?") is never kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::rules::Plan;
use crate::domain::Course;
use crate::tools::{AgentKind, Role};

/// How many texts are kept at most; when full, all of them go.
const CAPACITY: usize = 1024;

/// Longer questions are rarely asked twice word for word: not kept.
const MAX_TEXT_CHARS: usize = 200;

/// What a plan was made for besides its text.
#[derive(Debug, Clone)]
pub(crate) struct PlanFor<'a> {
    pub agent: AgentKind,
    pub role: Role,
    /// The studio clock's minute.
    pub minute: i64,
    pub courses: &'a Arc<Vec<Course>>,
}

#[derive(Debug)]
struct Kept {
    agent: AgentKind,
    role: Role,
    minute: i64,
    courses: Arc<Vec<Course>>,
    plan: Plan,
}

impl Kept {
    fn made_for(&self, at: &PlanFor<'_>) -> bool {
        self.agent == at.agent
            && self.role == at.role
            && self.minute == at.minute
            && Arc::ptr_eq(&self.courses, at.courses)
    }
}

/// The kept plans of one set of agents.
#[derive(Debug, Default)]
pub(crate) struct Plans {
    by_text: Mutex<HashMap<String, Vec<Kept>>>,
}

impl Plans {
    /// The plan kept for `text` made for `at`.
    pub(crate) fn get(&self, text: &str, at: &PlanFor<'_>) -> Option<Plan> {
        let by_text = self.by_text.lock().ok()?;
        by_text
            .get(text)?
            .iter()
            .find(|k| k.made_for(at))
            .map(|k| k.plan.clone())
    }

    /// Keeps `plan`, made for `text` at `at`.
    pub(crate) fn keep(&self, text: &str, at: &PlanFor<'_>, plan: &Plan) {
        if text.chars().count() > MAX_TEXT_CHARS {
            return;
        }
        let Ok(mut by_text) = self.by_text.lock() else {
            return;
        };
        if by_text.len() >= CAPACITY && !by_text.contains_key(text) {
            by_text.clear();
        }
        let kept = by_text.entry(text.to_owned()).or_default();
        // Plans made for another minute or catalogue are never given again, and this one
        // replaces the one made for the same agent and role.
        kept.retain(|k| {
            k.minute == at.minute
                && Arc::ptr_eq(&k.courses, at.courses)
                && (k.agent != at.agent || k.role != at.role)
        });
        kept.push(Kept {
            agent: at.agent,
            role: at.role,
            minute: at.minute,
            courses: Arc::clone(at.courses),
            plan: plan.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn plan(tool: &'static str) -> Plan {
        Plan::Call {
            tool: tool.parse().unwrap_or(crate::domain::Intent::Smalltalk),
            args: json!({ "period": "this_month" }),
        }
    }

    #[test]
    fn a_plan_is_given_again_only_for_the_same_agent_role_minute_and_catalogue() {
        let plans = Plans::default();
        let courses = Arc::new(Vec::new());
        let at = PlanFor {
            agent: AgentKind::Dashboard,
            role: Role::Manager,
            minute: 100,
            courses: &courses,
        };
        plans.keep("revenue this month", &at, &plan("revenue"));
        assert_eq!(plans.get("revenue this month", &at), Some(plan("revenue")));
        assert_eq!(plans.get("revenue last month", &at), None);
        let other_role = PlanFor {
            role: Role::Admin,
            ..at.clone()
        };
        assert_eq!(plans.get("revenue this month", &other_role), None);
        let other_agent = PlanFor {
            agent: AgentKind::Support,
            ..at.clone()
        };
        assert_eq!(plans.get("revenue this month", &other_agent), None);
        let next_minute = PlanFor {
            minute: 101,
            ..at.clone()
        };
        assert_eq!(plans.get("revenue this month", &next_minute), None);
        // An equal catalogue read again is another copy: planned afresh.
        let reread = Arc::new(Vec::new());
        let other_catalogue = PlanFor {
            courses: &reread,
            ..at.clone()
        };
        assert_eq!(plans.get("revenue this month", &other_catalogue), None);
        // A plan for another role is kept beside the first; a newer one replaces it.
        plans.keep("revenue this month", &other_role, &plan("revenue_admin"));
        plans.keep("revenue this month", &at, &plan("revenue_again"));
        assert_eq!(
            plans.get("revenue this month", &at),
            Some(plan("revenue_again"))
        );
        assert_eq!(
            plans.get("revenue this month", &other_role),
            Some(plan("revenue_admin"))
        );
    }

    #[test]
    fn long_texts_are_not_kept_and_a_full_memo_starts_over() {
        let plans = Plans::default();
        let courses = Arc::new(Vec::new());
        let at = PlanFor {
            agent: AgentKind::Support,
            role: Role::Staff,
            minute: 7,
            courses: &courses,
        };
        let long = "pending payments ".repeat(20);
        plans.keep(&long, &at, &plan("pending_payments"));
        assert_eq!(plans.get(&long, &at), None);
        for i in 0..CAPACITY {
            plans.keep(&format!("question {i}"), &at, &plan("find_client"));
        }
        assert!(plans.get("question 0", &at).is_some());
        plans.keep("one more", &at, &plan("find_client"));
        assert!(plans.get("question 0", &at).is_none());
        assert!(plans.get("one more", &at).is_some());
    }
}
