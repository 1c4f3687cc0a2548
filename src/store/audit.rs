//! The audit trail: one `audit` document per write made on someone's behalf — who
//! (subject, role, platform), what (action, collection, target id), when, and through
//! what (an agent tool, a REST endpoint, a webhook, the chat gateway). The service only
//! ever inserts here; where the write runs in a transaction the entry is written in it.
//! Entries hold ids, never an email, phone or name.

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::ClientSession;
use serde::Deserialize;

use super::{names, Store, StoreError};
use crate::domain::time::bson_date;
use crate::domain::Clock as _;

/// Who is writing, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A client id, a platform account (`slack:U0ASHA`), a token's `sub`, or `system`.
    pub subject: String,
    /// client, guest, staff, manager, admin, or `system`.
    pub role: String,
    /// telegram, slack, discord, console, rest, a payment provider; `None` when unknown.
    pub platform: Option<String>,
    pub via: Via,
    /// When the request came in (from the injected clock).
    pub at: DateTime<Utc>,
}

/// The path a write came by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `tool`, `rest`, `webhook`, `gateway` or `internal`.
    pub kind: &'static str,
    /// The tool, `METHOD /path`, provider or gateway step.
    pub name: String,
}

impl Via {
    #[must_use]
    pub fn new(kind: &'static str, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl Actor {
    #[must_use]
    pub fn new(
        subject: impl Into<String>,
        role: impl Into<String>,
        platform: Option<String>,
        via: Via,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            subject: subject.into(),
            role: role.into(),
            platform,
            via,
            at,
        }
    }

    /// A write nobody asked for through a recorded path (background work, tests).
    fn system() -> Self {
        Self::new(
            "system",
            "system",
            None,
            Via::new("internal", "store"),
            crate::domain::SystemClock.now(),
        )
    }

    /// The same person through another path.
    #[must_use]
    pub fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }
}

/// One stored entry, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuditRecord {
    #[serde(with = "bson_date")]
    pub at: DateTime<Utc>,
    pub subject: String,
    pub role: String,
    #[serde(default)]
    pub platform: Option<String>,
    pub action: String,
    pub collection: String,
    pub target: String,
    pub via_kind: String,
    pub via: String,
}

impl Store {
    /// This store, writing audit entries in the name of `actor`.
    #[must_use]
    pub fn acting(&self, actor: Actor) -> Self {
        let mut store = self.clone();
        store.actor = Some(std::sync::Arc::new(actor));
        store
    }

    /// Who this store writes for, if anyone was named.
    #[must_use]
    pub fn actor(&self) -> Option<&Actor> {
        self.actor.as_deref()
    }

    fn audit_doc(&self, action: &str, collection: &str, target: &str) -> Document {
        let system;
        let actor = match self.actor.as_deref() {
            Some(a) => a,
            None => {
                system = Actor::system();
                &system
            }
        };
        doc! {
            "at": bson::DateTime::from_chrono(actor.at),
            "subject": &actor.subject,
            "role": &actor.role,
            "platform": actor.platform.as_deref(),
            "action": action,
            "collection": collection,
            "target": target,
            "via_kind": actor.via.kind,
            "via": &actor.via.name,
        }
    }

    /// The append-only collection the entries go to.
    fn audit_log(&self) -> mongodb::Collection<Document> {
        self.database().collection::<Document>(names::AUDIT)
    }

    /// Appends an entry for a write made outside a transaction.
    pub(crate) async fn audit(
        &self,
        action: &str,
        collection: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        self.audit_log()
            .insert_one(self.audit_doc(action, collection, target))
            .await?;
        Ok(())
    }

    /// Appends an entry inside the write's transaction: both commit or neither.
    pub(crate) async fn audit_in(
        &self,
        session: &mut ClientSession,
        action: &str,
        collection: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        self.audit_log()
            .insert_one(self.audit_doc(action, collection, target))
            .session(session)
            .await?;
        Ok(())
    }

    /// Audit entries matching `filter`, oldest first (tests, investigations).
    ///
    /// # Errors
    /// The server failed, or an entry could not be read.
    pub async fn audit_entries(&self, filter: Document) -> Result<Vec<AuditRecord>, StoreError> {
        let docs: Vec<Document> = self
            .audit_log()
            .find(filter)
            .sort(doc! { "at": 1, "_id": 1 })
            .await?
            .try_collect()
            .await?;
        docs.into_iter()
            .map(|d| bson::from_document(d).map_err(StoreError::from))
            .collect()
    }
}
