//! "Her orders", "its status", "how much is it": the client, order or course a message
//! points back at, taken from the last turn that named one. A read goes on at once; a
//! write whose target came this way is proposed for a "yes", never made directly.

use serde_json::Value;

use super::memory::Turn;
use super::rules::Plan;
use super::Origin;
use crate::domain::Intent;

/// What a tool's argument stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Thing {
    Client,
    Order,
    Course,
}

/// The arguments of `intent` that a pointing word may fill, with what they stand for.
fn slots_of(intent: Intent) -> &'static [(&'static str, Thing)] {
    match intent {
        Intent::ClientOrders | Intent::PendingPayments => &[("client", Thing::Client)],
        Intent::FindClient => &[("name", Thing::Client)],
        Intent::CreateOrder => &[("client", Thing::Client), ("course", Thing::Course)],
        Intent::OrderStatus | Intent::RecordPayment | Intent::CancelOrder => {
            &[("order", Thing::Order)]
        }
        Intent::CourseInfo | Intent::ListClasses => &[("course", Thing::Course)],
        _ => &[],
    }
}

impl Thing {
    /// The thing a question back asked about (`ToolError`'s or `Plan::Ask`'s field).
    fn asked(field: &str) -> Option<Self> {
        match field {
            "client" => Some(Self::Client),
            "order" => Some(Self::Order),
            "course" => Some(Self::Course),
            _ => None,
        }
    }
}

/// The argument of `intent` that holds what a question back called `field`: find_client
/// takes a client as `name`, every other tool under the field's own name.
pub(super) fn argument_for(intent: Intent, field: &str) -> &str {
    Thing::asked(field)
        .and_then(|thing| slots_of(intent).iter().find(|(_, t)| *t == thing))
        .map_or(field, |(key, _)| key)
}

/// The value an earlier turn's arguments give for a thing.
fn earlier(thing: Thing, args: &Value) -> Option<Value> {
    let keys: &[&str] = match thing {
        Thing::Client => &["client", "email", "phone", "name"],
        Thing::Order => &["order"],
        Thing::Course => &["course"],
    };
    keys.iter()
        .find_map(|k| args.get(*k))
        .filter(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()))
        .cloned()
}

/// Fills the arguments a plan lacks from the last turn with a tool; a question back
/// whose answer that turn gives is answered by it. A write filled this way is marked as
/// coming from the conversation.
pub(super) fn fill(plan: Plan, last: Option<&Turn>, origin: &mut Origin) -> Plan {
    let Some(last) = last else {
        return plan;
    };
    let (intent, mut args, asked) = match plan {
        Plan::Call { tool, args } => (tool, args, None),
        Plan::Ask {
            intent,
            args,
            field,
            question,
            options,
        } => (intent, args, Some((field, question, options))),
        other => return other,
    };
    if !args.is_object() {
        args = Value::Object(serde_json::Map::new());
    }
    let identified = |args: &Value| {
        intent == Intent::FindClient
            && ["email", "phone", "order", "name"]
                .iter()
                .any(|k| args.get(*k).is_some())
    };
    let mut filled = false;
    for (key, thing) in slots_of(intent) {
        if args.get(*key).is_some() || identified(&args) {
            continue;
        }
        if let Some(value) = earlier(*thing, &last.args) {
            args[*key] = value;
            filled = true;
        }
    }
    if filled && intent.is_write() && *origin != Origin::Model {
        *origin = Origin::Conversation;
    }
    match asked {
        Some((field, _, _)) if filled && args.get(field).is_some() => {
            Plan::Call { tool: intent, args }
        }
        Some((field, question, options)) => Plan::Ask {
            intent,
            args,
            field,
            question,
            options,
        },
        None => Plan::Call { tool: intent, args },
    }
}
