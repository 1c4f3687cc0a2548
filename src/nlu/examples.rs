//! Example sentences per intent — data, not code. The built-in `config/intents.toml` is
//! merged with a studio's own file (the same format; its examples are added to the
//! built-in ones), as Rasa's NLU data is. Each table is an intent's name (or `none`, for
//! what no agent answers) with an `examples` list.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{Label, NluError};

/// The built-in examples, compiled in.
pub const BUILT_IN: &str = include_str!("../../config/intents.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    examples: Vec<String>,
}

/// Every example sentence with its label, in file order (built-in first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Examples {
    pub items: Vec<(Label, String)>,
}

impl Examples {
    /// The built-in examples plus those in `extra`, if given and present.
    ///
    /// # Errors
    /// An unreadable or invalid file, or a table that names no intent.
    pub fn load(extra: Option<&Path>) -> Result<Self, NluError> {
        let mut examples = Self::parse(BUILT_IN, "config/intents.toml (built in)")?;
        if let Some(path) = extra.filter(|p| p.is_file()) {
            let text = std::fs::read_to_string(path).map_err(|e| NluError::Examples {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let more = Self::parse(&text, &path.display().to_string())?;
            examples.items.extend(more.items);
        }
        Ok(examples)
    }

    /// Parses one examples file; `origin` names it in errors.
    ///
    /// # Errors
    /// Invalid TOML, an unknown intent, or an empty example.
    pub fn parse(text: &str, origin: &str) -> Result<Self, NluError> {
        let tables: BTreeMap<String, Table> =
            toml::from_str(text).map_err(|e| NluError::Examples {
                path: origin.to_owned(),
                reason: e.message().to_owned(),
            })?;
        let mut items = Vec::new();
        for (name, table) in tables {
            let label = Label::parse(&name).ok_or_else(|| NluError::Examples {
                path: origin.to_owned(),
                reason: format!("[{name}] is not an intent (use a tool's name, smalltalk or none)"),
            })?;
            for example in table.examples {
                let example = example.trim();
                if example.is_empty() {
                    return Err(NluError::Examples {
                        path: origin.to_owned(),
                        reason: format!("[{name}] has an empty example"),
                    });
                }
                items.push((label, example.to_owned()));
            }
        }
        Ok(Self { items })
    }

    /// A fingerprint of the examples, for the cache of their vectors.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for (label, text) in &self.items {
            hash.update(label.as_str().as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
            hash.update([0]);
        }
        super::model::hex(&hash.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentKind, Intent};

    #[test]
    fn the_built_in_examples_cover_every_intent_of_both_agents() {
        let examples = Examples::parse(BUILT_IN, "built in");
        let Ok(examples) = examples else {
            panic!("the built-in examples do not parse: {examples:?}");
        };
        for intent in Intent::TOOLS {
            let n = examples
                .items
                .iter()
                .filter(|(l, _)| *l == Label::Intent(*intent))
                .count();
            assert!(n >= 12, "{intent} has only {n} examples");
        }
        for agent in [AgentKind::Support, AgentKind::Dashboard] {
            assert!(examples.items.iter().any(|(l, _)| l.belongs_to(agent)));
        }
        assert!(examples.items.iter().any(|(l, _)| *l == Label::None));
    }

    #[test]
    fn a_studio_file_must_name_intents_and_hold_sentences() {
        assert!(Examples::parse("[revenue]\nexamples = [\"takings?\"]", "x").is_ok());
        let unknown = Examples::parse("[drop_tables]\nexamples = [\"x\"]", "mine.toml");
        assert!(
            matches!(&unknown, Err(NluError::Examples { path, reason }) if path == "mine.toml" && reason.contains("drop_tables")),
            "{unknown:?}"
        );
        assert!(Examples::parse("[revenue]\nexamples = [\"  \"]", "x").is_err());
        assert!(Examples::parse("[revenue]\nsamples = [\"x\"]", "x").is_err());
    }
}
