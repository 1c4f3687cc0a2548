//! MongoDB access: the typed collections, their indexes, the queries and writes the
//! agents and the API need. The collections stay inside: callers get typed functions.
//!
//! Everything here talks to a real MongoDB-wire server; there is no in-memory stand-in.
//! Writes that touch two collections (an order and its payment) run in one transaction.

mod analytics;
mod audit;
mod batch;
mod bulk;
mod cache;
mod class_days;
mod classes;
mod client_days;
mod clients;
mod conversations;
mod courses;
mod enrolment_counts;
mod error;
mod identities;
mod indexes;
mod listing;
mod orders;
mod outbox;
mod payments;
mod pending_days;
mod plans;
mod quotas;
mod revenue_days;
mod rollups;
mod rotate;
mod scan;
mod schedule;
mod sealed;
mod tickets;
mod txn;
mod visit_days;

use std::time::Duration;

use bson::doc;
use mongodb::options::ClientOptions;
use mongodb::{Collection, Database};

use crate::domain::{Attendance, ClassSession, Course, Order, Payment};
use crate::protect::Keyring;
use sealed::ClientDoc;

pub use analytics::{
    AttendanceLine, AttendanceReport, ClientBrief, EnrollmentLine, FillLine, FillReport,
    InactiveBrief, InactiveReport, InstructorFillLine, NewClientsReport, OutstandingReport,
    RetentionReport, RevenueBreakdown, RevenueLine, RevenueReport, WeekCount,
};
pub use analytics::{
    ClientSummary, TopClientLine, TopClientsBy, TopClientsReport, MAX_TOP_CLIENTS,
};
pub use audit::{Actor, AuditRecord, Via};
pub use batch::BatchedInsert;
pub use client_days::StatusCounts;
pub use clients::ClientQuery;
pub use conversations::{Conversation, Pending, Turn, WaitingFor, KEPT_TURNS};
pub use courses::CourseChanges;
pub use error::StoreError;
pub use identities::{LinkCode, LinkCodeMail, LinkedIdentity};
pub use listing::{ClientChanges, OrderFilter, PaymentFilter};
pub use orders::{NewOrder, OrderCancelled, OrderCreated};
pub use outbox::{Job, OutboxItem, OutboxStats, OutboxStatus};
pub use payments::PaymentQuery;
pub use plans::{Plan, QueryLog, QueryPlan};
pub use rotate::RotationReport;
pub use scan::ScanArgs;
pub(crate) use tickets::relay_context;
pub use tickets::{EnquiryRecorded, NewEnquiry, StaffThread, Ticket, TicketOrigin, TicketStatus};

// For `dev::seed`, which writes the demo data through the typed bulk loads.
pub(crate) use classes::AttendanceCounts;
pub(crate) use visit_days::Visit;

/// How many documents of `collection` match `filter`: with no filter, the collection's
/// own count (no document is read); else counted on the filter's index.
pub(crate) async fn count_of<T: Send + Sync>(
    collection: &Collection<T>,
    filter: bson::Document,
) -> Result<u64, StoreError> {
    Ok(if filter.is_empty() {
        collection.estimated_document_count().await?
    } else {
        collection.count_documents(filter).await?
    })
}

/// Up to `limit` of the documents `found` reads, in its order, that `keep` accepts: the
/// part of a filter that no index bounds on every server (see `plans`), checked here
/// after an indexed read. Reading stops at `limit`.
pub(crate) async fn first_matching<T>(
    found: mongodb::Cursor<T>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<T>, StoreError>
where
    T: serde::de::DeserializeOwned + Send + Sync + Unpin,
{
    use futures::{StreamExt, TryStreamExt};
    let kept = found.try_filter(|d| std::future::ready(keep(d)));
    Ok(kept.take(limit).try_collect().await?)
}

/// A page size as a count of documents (none for a negative one).
pub(crate) fn as_count(limit: i64) -> usize {
    usize::try_from(limit).unwrap_or(0)
}

/// Names of the collections, in one place (inside the store only).
pub(crate) mod names {
    pub const CLIENTS: &str = "clients";
    pub const COURSES: &str = "courses";
    pub const CLASSES: &str = "classes";
    pub const ORDERS: &str = "orders";
    pub const PAYMENTS: &str = "payments";
    pub const ATTENDANCE: &str = "attendance";
    pub const COUNTERS: &str = "counters";
    pub const TICKETS: &str = "tickets";
    pub const CONVERSATIONS: &str = "conversations";
    pub const CONVERSATION_TURNS: &str = "conversation_turns";
    pub const PROCESSED_EVENTS: &str = "processed_events";
    pub const IDENTITIES: &str = "identities";
    pub const LINK_CODES: &str = "link_codes";
    pub const LINK_CODE_REQUESTS: &str = "link_code_requests";
    pub const OUTBOX: &str = "outbox";
    pub const TASK_LEASES: &str = "task_leases";
    pub const RATE_WINDOWS: &str = "rate_windows";
    pub const AUDIT: &str = "audit";
    pub const REVENUE_DAYS: &str = "revenue_days";
    pub const COURSE_CLIENTS: &str = "course_clients";
    pub const COURSE_ENROLMENTS: &str = "course_enrolments";
    pub const JOIN_DAYS: &str = "join_days";
    pub const ABSENCE_DAYS: &str = "absence_days";
    pub const PENDING_DAYS: &str = "pending_days";
    pub const VISIT_DAYS: &str = "visit_days";
    pub const CLASS_DAYS: &str = "class_days";
    pub const CLIENT_STATUSES: &str = "client_statuses";

    /// Collections that do not grow with clients, orders or messages (the catalogue, the
    /// counters split in parts per status or course, one lease per scheduled task):
    /// reading one whole is its plan by design.
    pub const BOUNDED: [&str; 5] = [
        COURSES,
        COUNTERS,
        CLIENT_STATUSES,
        COURSE_ENROLMENTS,
        TASK_LEASES,
    ];
}

/// A connection to frontdesk's database, with a typed handle per collection, the keys
/// that seal clients' personal data, and (optionally) a second, read-only connection
/// for the Dashboard path.
#[derive(Clone, Debug)]
pub struct Store {
    client: mongodb::Client,
    db: Database,
    keys: Keyring,
    reader: Option<std::sync::Arc<Store>>,
    /// Whom writes are audited for (see [`Store::acting`]).
    actor: Option<std::sync::Arc<Actor>>,
    /// The catalogue cache and enrolment locks, shared by every clone.
    shared: std::sync::Arc<cache::Shared>,
    /// The batched inserts through this connection, shared by every clone.
    batches: std::sync::Arc<Batches>,
}

/// The collections whose inserts go in batches ([`batch`]), each started at first use.
#[derive(Debug, Default)]
pub(crate) struct Batches {
    processed_events: std::sync::OnceLock<std::sync::Arc<batch::Batched>>,
    conversation_turns: std::sync::OnceLock<std::sync::Arc<batch::Batched>>,
}

/// What to say when the clients are sealed with a key that is not in use.
#[must_use]
pub fn foreign_key_warning(theirs: &str, ours: &str) -> String {
    format!(
        "the clients in this database are sealed with key {theirs}, but the key in use is {ours}: nobody would be found by email or phone. Set FRONTDESK_ENCRYPTION_KEY to the key the data was written with (left unset, a database on this machine uses the development key file), or put that key in FRONTDESK_ENCRYPTION_OLD_KEYS and run `frontdesk rotate-key` to move the data to the new one"
    )
}

impl Store {
    /// Connects and checks the server answers within five seconds. TLS options and
    /// credentials come from the URL as it is; the URL is printed only redacted.
    ///
    /// # Errors
    /// A malformed URL, or a server that cannot be reached.
    pub async fn connect(url: &str, database: &str, keys: Keyring) -> Result<Self, StoreError> {
        Self::connect_watched(url, database, keys, None).await
    }

    /// [`Store::connect`], recording every query it sends in `log` (see [`QueryLog`]).
    ///
    /// # Errors
    /// As [`Store::connect`].
    pub async fn connect_watched(
        url: &str,
        database: &str,
        keys: Keyring,
        log: Option<&QueryLog>,
    ) -> Result<Self, StoreError> {
        let (client, db) = Self::connect_db(url, Some(database), log).await?;
        Ok(Self {
            client,
            db,
            keys,
            reader: None,
            actor: None,
            shared: std::sync::Arc::default(),
            batches: std::sync::Arc::default(),
        })
    }

    async fn connect_db(
        url: &str,
        database: Option<&str>,
        log: Option<&QueryLog>,
    ) -> Result<(mongodb::Client, Database), StoreError> {
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|e| StoreError::BadUrl {
                url: redact_url(url),
                reason: first_line(&e.to_string()),
            })?;
        options.app_name = Some("frontdesk".into());
        options.server_selection_timeout = Some(Duration::from_secs(5));
        options.connect_timeout = Some(Duration::from_secs(5));
        if let Some(log) = log {
            options.command_event_handler = Some(log.handler());
        }
        let client = mongodb::Client::with_options(options).map_err(|e| StoreError::BadUrl {
            url: redact_url(url),
            reason: first_line(&e.to_string()),
        })?;
        let name = database
            .map(str::to_owned)
            .or_else(|| client.default_database().map(|d| d.name().to_owned()))
            .unwrap_or_else(|| "frontdesk".to_owned());
        let db = client.database(&name);
        db.run_command(doc! { "ping": 1 })
            .await
            .map_err(|e| StoreError::Unreachable {
                url: redact_url(url),
                reason: first_line(&e.to_string()),
            })?;
        Ok((client, db))
    }

    /// Connects, creates every index (idempotent) and, once per database, counts the
    /// figures kept as records are written (see [`Store::ensure_rollups`]).
    ///
    /// # Errors
    /// As [`Store::connect`], or an index that cannot be built.
    pub async fn open(url: &str, database: &str, keys: Keyring) -> Result<Self, StoreError> {
        let store = Self::connect(url, database, keys).await?;
        store.ensure_indexes().await?;
        for counted in store.ensure_rollups().await? {
            tracing::info!(figure = counted, "counted once from the existing records");
        }
        Ok(store)
    }

    /// This store with a second connection, from `url` (a read-only database user), that
    /// the Dashboard path reads through ([`Store::reader`]). The database is the one the
    /// URL names in its path, else the same name as this store's.
    ///
    /// # Errors
    /// As [`Store::connect`].
    pub async fn with_reader(mut self, url: &str) -> Result<Self, StoreError> {
        let named = mongodb::options::ClientOptions::parse(url)
            .await
            .ok()
            .and_then(|o| o.default_database);
        let name = named.unwrap_or_else(|| self.db.name().to_owned());
        let (client, db) = Self::connect_db(url, Some(&name), None).await?;
        self.reader = Some(std::sync::Arc::new(Self {
            client,
            db,
            keys: self.keys.clone(),
            reader: None,
            actor: None,
            // The same database seen through another user: one catalogue.
            shared: std::sync::Arc::clone(&self.shared),
            batches: std::sync::Arc::default(),
        }));
        Ok(self)
    }

    /// The store the Dashboard path reads through: the read-only connection when
    /// `MONGODB_READONLY_URL` is set, else this one.
    #[must_use]
    pub fn reader(&self) -> Self {
        match &self.reader {
            Some(r) => (**r).clone(),
            None => self.clone(),
        }
    }

    /// Whether a separate read-only connection is attached.
    #[must_use]
    pub fn has_reader(&self) -> bool {
        self.reader.is_some()
    }

    /// The keys personal data is sealed with.
    #[must_use]
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    #[must_use]
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// The clients collection as raw documents (counts): email, phone and notes are
    /// sealed there; read clients through the `client_*` methods.
    #[must_use]
    pub(crate) fn clients(&self) -> Collection<bson::Document> {
        self.db.collection(names::CLIENTS)
    }

    /// The clients collection as stored documents.
    pub(crate) fn client_docs(&self) -> Collection<ClientDoc> {
        self.db.collection(names::CLIENTS)
    }

    #[must_use]
    pub(crate) fn courses(&self) -> Collection<Course> {
        self.db.collection(names::COURSES)
    }

    #[must_use]
    pub(crate) fn classes(&self) -> Collection<ClassSession> {
        self.db.collection(names::CLASSES)
    }

    #[must_use]
    pub(crate) fn orders(&self) -> Collection<Order> {
        self.db.collection(names::ORDERS)
    }

    #[must_use]
    pub(crate) fn payments(&self) -> Collection<Payment> {
        self.db.collection(names::PAYMENTS)
    }

    #[must_use]
    pub(crate) fn attendance(&self) -> Collection<Attendance> {
        self.db.collection(names::ATTENDANCE)
    }

    /// Whether the database holds no clients yet (so `demo` should seed it).
    ///
    /// # Errors
    /// The server failed.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.clients().estimated_document_count().await? == 0
            && self.courses().estimated_document_count().await? == 0)
    }

    /// Whether the server answers a ping (readiness).
    ///
    /// # Errors
    /// The server failed or cannot be reached.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    /// How many clients there are (deleted ones too), counted exactly.
    ///
    /// # Errors
    /// The server failed.
    pub async fn client_count(&self) -> Result<u64, StoreError> {
        Ok(self.clients().count_documents(doc! {}).await?)
    }

    /// About how many clients, courses, orders and attendance records there are, from
    /// the collections' metadata (cheap; a banner's figures, not an exact count).
    ///
    /// # Errors
    /// The server failed.
    pub async fn estimated_counts(&self) -> Result<EstimatedCounts, StoreError> {
        Ok(EstimatedCounts {
            clients: self.clients().estimated_document_count().await?,
            courses: self.courses().estimated_document_count().await?,
            orders: self.orders().estimated_document_count().await?,
            attendance: self.attendance().estimated_document_count().await?,
        })
    }

    /// How many orders, paid payments, tickets and clients there are: what the eval's
    /// dialogues compare before and after to see what a conversation wrote.
    ///
    /// # Errors
    /// The server failed.
    pub async fn record_counts(&self) -> Result<RecordCounts, StoreError> {
        let tickets = self
            .db
            .collection::<bson::Document>(names::TICKETS)
            .count_documents(doc! {})
            .await?;
        Ok(RecordCounts {
            orders: self.orders().count_documents(doc! {}).await?,
            paid_payments: self
                .payments()
                .count_documents(doc! { "status": "paid" })
                .await?,
            tickets,
            clients: self.clients().count_documents(doc! {}).await?,
        })
    }

    /// Drops the whole database (tests and `seed --reset`).
    ///
    /// # Errors
    /// The server failed.
    pub async fn drop_database(&self) -> Result<(), StoreError> {
        self.db.drop().await?;
        self.shared.forget_catalogue();
        Ok(())
    }
}

/// The collections as they are, for tests that check what is stored (cargo feature
/// `test-support`, which only the integration tests turn on); see [`Store::raw`].
#[cfg(feature = "test-support")]
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a>(&'a Store);

#[cfg(feature = "test-support")]
#[allow(missing_docs)]
impl<'a> Raw<'a> {
    #[must_use]
    pub fn database(self) -> &'a Database {
        &self.0.db
    }

    #[must_use]
    pub fn clients(self) -> Collection<bson::Document> {
        self.0.clients()
    }

    #[must_use]
    pub fn courses(self) -> Collection<Course> {
        self.0.courses()
    }

    #[must_use]
    pub fn classes(self) -> Collection<ClassSession> {
        self.0.classes()
    }

    #[must_use]
    pub fn orders(self) -> Collection<Order> {
        self.0.orders()
    }

    #[must_use]
    pub fn payments(self) -> Collection<Payment> {
        self.0.payments()
    }

    #[must_use]
    pub fn attendance(self) -> Collection<Attendance> {
        self.0.attendance()
    }
}

#[cfg(feature = "test-support")]
impl Store {
    /// The collections as they are (tests only: cargo feature `test-support`).
    #[must_use]
    pub fn raw(&self) -> Raw<'_> {
        Raw(self)
    }
}

/// The URL with any password replaced by `***`, safe to print.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s);
    if line.chars().count() > 300 {
        line.chars().take(300).collect::<String>() + "…"
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact_url("mongodb://app:s3cret@db:27017/x"),
            "mongodb://app:***@db:27017/x"
        );
        assert_eq!(redact_url("mongodb://db:27017"), "mongodb://db:27017");
    }
}

/// Counts of the records a conversation may write; see [`Store::record_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub orders: u64,
    pub paid_payments: u64,
    pub tickets: u64,
    pub clients: u64,
}

/// About how many records there are; see [`Store::estimated_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EstimatedCounts {
    pub clients: u64,
    pub courses: u64,
    pub orders: u64,
    pub attendance: u64,
}
