//! Which index serves each read: a [`QueryLog`] records every query a store sends (by
//! shape: the fields and operators, not the values), and [`Store::explain_logged`] asks
//! the server's `explain` for each one's plan. `frontdesk bench queries` and a test run
//! the service's reads through it and fail on a collection scan.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bson::{doc, Bson, Document};
use mongodb::event::command::CommandEvent;
use mongodb::event::EventHandler;
use serde::Serialize;

use super::Store;

/// The queries sent through a store, one entry per shape, with the first one of each
/// kept as the example to explain.
#[derive(Clone, Debug, Default)]
pub struct QueryLog {
    seen: Arc<Mutex<BTreeMap<String, Logged>>>,
    on: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug, Clone)]
struct Logged {
    collection: String,
    operation: &'static str,
    /// The read as a `find` or `aggregate` command the server can explain.
    read: Document,
    times: u64,
}

impl QueryLog {
    /// A log that records from now on.
    #[must_use]
    pub fn new() -> Self {
        let log = Self::default();
        log.record(true);
        log
    }

    /// Starts or pauses recording (index creation and demo data are not the service's
    /// reads).
    pub fn record(&self, on: bool) {
        self.on.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }

    /// Distinct query shapes recorded so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The driver's command monitor that feeds this log.
    pub(crate) fn handler(&self) -> EventHandler<CommandEvent> {
        let log = self.clone();
        EventHandler::callback(move |event| {
            if let CommandEvent::Started(started) = event {
                if log.on.load(std::sync::atomic::Ordering::Relaxed) {
                    log.note(&started.command_name, &started.command);
                }
            }
        })
    }

    fn note(&self, name: &str, command: &Document) {
        for (operation, collection, read) in reads_of(name, command) {
            let key = format!("{operation} {collection} {}", shape_of_read(&read));
            let Ok(mut seen) = self.seen.lock() else {
                return;
            };
            seen.entry(key)
                .or_insert_with(|| Logged {
                    collection: collection.clone(),
                    operation,
                    read,
                    times: 0,
                })
                .times += 1;
        }
    }
}

/// The reads inside one command, each as an explainable `find` or `aggregate`: a write's
/// filter is read like a `find` with that filter.
fn reads_of(name: &str, c: &Document) -> Vec<(&'static str, String, Document)> {
    let Some(collection) = c.get_str(name).ok().map(str::to_owned) else {
        return Vec::new();
    };
    let find = |filter: Document, sort: Option<&Document>| {
        let mut d = doc! { "find": collection.as_str(), "filter": filter };
        if let Some(sort) = sort {
            d.insert("sort", sort.clone());
        }
        d
    };
    let filter = |key: &str| c.get_document(key).cloned().unwrap_or_default();
    let each = |list: &str, key: &str, op: &'static str| -> Vec<(&'static str, String, Document)> {
        c.get_array(list)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Bson::as_document)
                    .map(|s| {
                        let q = s.get_document(key).cloned().unwrap_or_default();
                        (op, collection.clone(), find(q, None))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    match name {
        "find" => vec![(
            "find",
            collection.clone(),
            find(filter("filter"), c.get_document("sort").ok()),
        )],
        "aggregate" => {
            let pipeline = c.get_array("pipeline").cloned().unwrap_or_default();
            vec![(
                "aggregate",
                collection.clone(),
                doc! { "aggregate": collection.as_str(), "pipeline": pipeline, "cursor": {} },
            )]
        }
        // A count of the whole collection reads its size, not its documents.
        "count" if filter("query").is_empty() => Vec::new(),
        "count" => vec![("count", collection.clone(), find(filter("query"), None))],
        "distinct" => vec![("distinct", collection.clone(), find(filter("query"), None))],
        "findAndModify" => vec![(
            "findAndModify",
            collection.clone(),
            find(filter("query"), c.get_document("sort").ok()),
        )],
        "update" => each("updates", "q", "update"),
        "delete" => each("deletes", "q", "delete"),
        _ => Vec::new(),
    }
}

/// A filter's shape: its fields and operators, each value replaced by `?`.
fn shape(b: &Bson) -> String {
    match b {
        Bson::Document(d) => {
            let parts: Vec<String> = d
                .iter()
                .map(|(k, v)| match v {
                    // Operators keep their structure; a plain value is only `?`.
                    Bson::Document(_) if k.starts_with('$') || is_operator_doc(v) => {
                        format!("{k}: {}", shape(v))
                    }
                    Bson::Array(items) if k == "$and" || k == "$or" || k == "$nor" => {
                        let inner: Vec<String> = items.iter().map(shape).collect();
                        format!("{k}: [{}]", inner.join(", "))
                    }
                    Bson::Array(_) if k == "pipeline" => format!("{k}: {}", shape(v)),
                    _ => format!("{k}: ?"),
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Bson::Array(items) => {
            let inner: Vec<String> = items.iter().map(shape).collect();
            format!("[{}]", inner.join(", "))
        }
        _ => "?".into(),
    }
}

fn is_operator_doc(b: &Bson) -> bool {
    b.as_document()
        .and_then(|d| d.keys().next())
        .is_some_and(|k| k.starts_with('$'))
}

fn shape_of_read(read: &Document) -> String {
    if let Ok(pipeline) = read.get_array("pipeline") {
        // A pipeline: each stage's name, and the shape of its `$match`es.
        let stages: Vec<String> = pipeline
            .iter()
            .filter_map(Bson::as_document)
            .filter_map(|s| {
                let (name, body) = s.iter().next()?;
                Some(if name == "$match" {
                    format!("$match {}", shape(body))
                } else {
                    name.clone()
                })
            })
            .collect();
        return stages.join(" | ");
    }
    let filter = read.get("filter").map_or_else(|| "{}".to_owned(), shape);
    match read.get_document("sort") {
        Ok(sort) if !sort.is_empty() => {
            let keys: Vec<&str> = sort.keys().map(String::as_str).collect();
            format!("{filter} sort {}", keys.join(","))
        }
        _ => filter,
    }
}

/// How the server reads one query shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Plan {
    /// Through these indexes.
    Index(Vec<String>),
    /// A scan of the whole collection.
    CollectionScan,
    /// A scan of a collection that stays small by design (see `names::BOUNDED`).
    BoundedScan,
    /// The collection does not exist yet, so there is nothing to read.
    Empty,
    /// The server could not explain it (the reason).
    Unknown(String),
}

/// One query shape the service sent, and its plan.
#[derive(Debug, Clone, Serialize)]
pub struct QueryPlan {
    pub collection: String,
    /// `find`, `aggregate`, `count`, `distinct`, `findAndModify`, `update`, `delete`.
    pub operation: String,
    /// The fields and operators of the filter (or the pipeline's stages).
    pub shape: String,
    /// How many times the run sent it.
    pub times: u64,
    pub plan: Plan,
}

impl Store {
    /// Explains every query shape in `log` on this store's server.
    pub async fn explain_logged(&self, log: &QueryLog) -> Vec<QueryPlan> {
        let logged: Vec<(String, Logged)> = log
            .seen
            .lock()
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(logged.len());
        for (key, l) in logged {
            let command = doc! { "explain": l.read.clone(), "verbosity": "queryPlanner" };
            let plan = match self.db.run_command(command).await {
                Ok(explained) => plan_of(&explained),
                Err(e) => Plan::Unknown(super::first_line(&e.to_string())),
            };
            let plan = if plan == Plan::CollectionScan
                && super::names::BOUNDED.contains(&l.collection.as_str())
            {
                Plan::BoundedScan
            } else {
                plan
            };
            let shape = key.splitn(3, ' ').nth(2).unwrap_or_default().to_owned();
            out.push(QueryPlan {
                collection: l.collection,
                operation: l.operation.to_owned(),
                shape,
                times: l.times,
                plan,
            });
        }
        out
    }
}

/// The plan an `explain` output describes.
pub(crate) fn plan_of(explained: &Document) -> Plan {
    let (mut names, mut collscan, mut eof) = (Vec::new(), false, false);
    walk(
        &Bson::Document(explained.clone()),
        &mut names,
        &mut collscan,
        &mut eof,
    );
    if collscan {
        Plan::CollectionScan
    } else if !names.is_empty() {
        Plan::Index(names)
    } else if eof {
        Plan::Empty
    } else {
        Plan::Unknown("no plan in the explain output".into())
    }
}

/// Every `indexName` in an explain output; whether a stage is a collection scan or the
/// end of an empty collection. Rejected plans do not count.
fn walk(b: &Bson, names: &mut Vec<String>, collscan: &mut bool, eof: &mut bool) {
    match b {
        Bson::Document(d) => {
            for (k, v) in d {
                match (k.as_str(), v) {
                    ("rejectedPlans", _) => {}
                    ("indexName", Bson::String(s)) => {
                        if !names.contains(s) {
                            names.push(s.clone());
                        }
                    }
                    ("stage", Bson::String(s)) if s == "COLLSCAN" => *collscan = true,
                    ("stage", Bson::String(s)) if s == "EOF" => *eof = true,
                    _ => walk(v, names, collscan, eof),
                }
            }
        }
        Bson::Array(a) => a.iter().for_each(|v| walk(v, names, collscan, eof)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_keep_fields_and_operators_not_values() {
        let a = doc! { "email_bi": { "$in": ["x", "y"] }, "deleted_at": null };
        let b = doc! { "email_bi": { "$in": ["z"] }, "deleted_at": null };
        assert_eq!(shape(&Bson::Document(a.clone())), shape(&Bson::Document(b)));
        assert_eq!(
            shape(&Bson::Document(a)),
            "{email_bi: {$in: ?}, deleted_at: ?}"
        );
        let or = doc! { "$or": [ { "a": 1 }, { "b": { "$gt": 2 } } ] };
        assert_eq!(shape(&Bson::Document(or)), "{$or: [{a: ?}, {b: {$gt: ?}}]}");
    }

    #[test]
    fn writes_are_read_as_finds_with_their_filters() {
        let update = doc! {
            "update": "orders",
            "updates": [ { "q": { "_id": 1 }, "u": { "$set": { "x": 1 } } } ],
        };
        let reads = reads_of("update", &update);
        assert_eq!(reads.len(), 1);
        assert_eq!(
            reads[0].2,
            doc! { "find": "orders", "filter": { "_id": 1 } }
        );
        assert!(reads_of("insert", &doc! { "insert": "orders" }).is_empty());
    }

    #[test]
    fn plans_are_read_from_the_winning_plan_only() {
        let explained = doc! { "queryPlanner": {
            "winningPlan": { "stage": "FETCH", "inputStage": { "stage": "IXSCAN", "indexName": "a_1" } },
            "rejectedPlans": [ { "stage": "COLLSCAN" } ],
        } };
        assert_eq!(plan_of(&explained), Plan::Index(vec!["a_1".into()]));
        let scan = doc! { "queryPlanner": { "winningPlan": { "stage": "COLLSCAN" } } };
        assert_eq!(plan_of(&scan), Plan::CollectionScan);
    }
}
