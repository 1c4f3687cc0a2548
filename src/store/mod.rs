//! MongoDB access: the typed collections, their indexes, the queries and writes the
//! agents and the API need, the demo data, and the managed local database.
//!
//! Everything here talks to a real MongoDB-wire server; there is no in-memory stand-in.
//! Writes that touch two collections (an order and its payment) run in one transaction.

mod analytics;
mod classes;
mod clients;
mod courses;
mod error;
mod identities;
mod indexes;
mod listing;
pub mod localdb;
mod orders;
mod outbox;
mod payments;
pub mod seed;
mod tickets;

use std::time::Duration;

use bson::doc;
use mongodb::options::ClientOptions;
use mongodb::{Collection, Database};

use crate::domain::{Attendance, ClassSession, Client, Course, Order, Payment};

pub use analytics::{
    AttendanceLine, AttendanceReport, ClientBrief, EnrollmentLine, FillLine, FillReport,
    InactiveBrief, InactiveReport, InstructorFillLine, NewClientsReport, OutstandingReport,
    RetentionReport, RevenueBreakdown, RevenueLine, RevenueReport, WeekCount,
};
pub use clients::ClientQuery;
pub use error::StoreError;
pub use identities::{LinkCode, LinkedIdentity};
pub use listing::{ClientChanges, OrderFilter, PaymentFilter};
pub use orders::{NewOrder, OrderCreated};
pub use outbox::{Job, OutboxItem, OutboxStats, OutboxStatus};
pub use payments::PaymentQuery;
pub use tickets::Ticket;

/// Names of the collections, in one place.
pub mod names {
    pub const CLIENTS: &str = "clients";
    pub const COURSES: &str = "courses";
    pub const CLASSES: &str = "classes";
    pub const ORDERS: &str = "orders";
    pub const PAYMENTS: &str = "payments";
    pub const ATTENDANCE: &str = "attendance";
    pub const COUNTERS: &str = "counters";
    pub const TICKETS: &str = "tickets";
    pub const CONVERSATIONS: &str = "conversations";
    pub const PROCESSED_EVENTS: &str = "processed_events";
    pub const IDENTITIES: &str = "identities";
    pub const LINK_CODES: &str = "link_codes";
    pub const LINK_CODE_REQUESTS: &str = "link_code_requests";
    pub const OUTBOX: &str = "outbox";
    pub const TASK_LEASES: &str = "task_leases";
}

/// A connection to frontdesk's database, with a typed handle per collection.
#[derive(Clone, Debug)]
pub struct Store {
    client: mongodb::Client,
    db: Database,
}

impl Store {
    /// Connects and checks the server answers within five seconds.
    ///
    /// # Errors
    /// A malformed URL, or a server that cannot be reached.
    pub async fn connect(url: &str, database: &str) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|e| StoreError::BadUrl {
                url: redact_url(url),
                reason: first_line(&e.to_string()),
            })?;
        options.app_name = Some("frontdesk".into());
        options.server_selection_timeout = Some(Duration::from_secs(5));
        options.connect_timeout = Some(Duration::from_secs(5));
        let client = mongodb::Client::with_options(options).map_err(|e| StoreError::BadUrl {
            url: redact_url(url),
            reason: first_line(&e.to_string()),
        })?;
        let db = client.database(database);
        db.run_command(doc! { "ping": 1 })
            .await
            .map_err(|e| StoreError::Unreachable {
                url: redact_url(url),
                reason: first_line(&e.to_string()),
            })?;
        Ok(Self { client, db })
    }

    /// Connects and creates every index (idempotent).
    ///
    /// # Errors
    /// As [`Store::connect`], or an index that cannot be built.
    pub async fn open(url: &str, database: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url, database).await?;
        store.ensure_indexes().await?;
        Ok(store)
    }

    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    #[must_use]
    pub fn mongo(&self) -> &mongodb::Client {
        &self.client
    }

    #[must_use]
    pub fn clients(&self) -> Collection<Client> {
        self.db.collection(names::CLIENTS)
    }

    #[must_use]
    pub fn courses(&self) -> Collection<Course> {
        self.db.collection(names::COURSES)
    }

    #[must_use]
    pub fn classes(&self) -> Collection<ClassSession> {
        self.db.collection(names::CLASSES)
    }

    #[must_use]
    pub fn orders(&self) -> Collection<Order> {
        self.db.collection(names::ORDERS)
    }

    #[must_use]
    pub fn payments(&self) -> Collection<Payment> {
        self.db.collection(names::PAYMENTS)
    }

    #[must_use]
    pub fn attendance(&self) -> Collection<Attendance> {
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

    /// Drops the whole database (tests and `seed --reset`).
    ///
    /// # Errors
    /// The server failed.
    pub async fn drop_database(&self) -> Result<(), StoreError> {
        self.db.drop().await?;
        Ok(())
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
