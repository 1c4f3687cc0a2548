//! Bulk loads of generated records into an empty database (the demo data, `dev::seed`):
//! unordered batch inserts of typed records, each kind written with the figures kept
//! as records are written (`rollups`), and each figure then marked as counted, as
//! `Store::open` would mark it after counting.

use bson::Document;
use serde::Serialize;

use super::classes::AttendanceCounts;
use super::client_days::{ClientDays, ClientFacts};
use super::rollups::Rollup;
use super::sealed::ClientDoc;
use super::visit_days::Visit;
use super::{names, Store, StoreError};
use crate::domain::{Attendance, ClassSession, Client, Course, Order, Payment};

/// Documents per `insert_many`.
const BATCH: usize = 5_000;

/// Told how many documents each batch wrote (a progress bar).
pub(crate) type Progress<'a> = &'a (dyn Fn(usize) + Sync);

/// No progress to tell.
fn quietly(_: usize) {}

impl Store {
    /// Inserts `courses` (and forgets the catalogue copy). Returns how many.
    pub(crate) async fn load_courses(
        &self,
        courses: &[Course],
        progress: Progress<'_>,
    ) -> Result<usize, StoreError> {
        let n = insert_all(self.courses(), courses, progress).await?;
        self.shared.forget_catalogue();
        Ok(n)
    }

    /// Inserts attendance `records` whose classes are loaded afterwards with their counts
    /// ([`Store::load_classes`]). Returns how many.
    pub(crate) async fn load_attendance(
        &self,
        records: &[Attendance],
        progress: Progress<'_>,
    ) -> Result<usize, StoreError> {
        insert_all(self.attendance(), records, progress).await
    }

    /// Inserts `classes`, each with the counts of its attendance records, the classes
    /// per day and who came per day (`visits`). Returns how many classes.
    pub(crate) async fn load_classes<'a>(
        &self,
        classes: impl IntoIterator<Item = (&'a ClassSession, AttendanceCounts)>,
        visits: &[Visit],
        progress: Progress<'_>,
    ) -> Result<usize, StoreError> {
        let class_docs = classes
            .into_iter()
            .map(|(class, counts)| {
                let mut doc = bson::to_document(class)?;
                doc.extend(counts.fields());
                Ok(doc)
            })
            .collect::<Result<Vec<Document>, StoreError>>()?;
        let n = insert_all(self.documents(names::CLASSES), &class_docs, progress).await?;
        self.rollup_done(Rollup::AttendanceCounts).await?;
        let days = super::class_days::class_day_documents(
            class_docs
                .iter()
                .filter_map(super::class_days::ClassSlot::of_doc),
        );
        insert_all(self.documents(names::CLASS_DAYS), &days, &quietly).await?;
        self.rollup_done(Rollup::ClassDays).await?;
        insert_all(
            self.documents(names::VISIT_DAYS),
            &super::visit_days::visit_day_documents(visits),
            &quietly,
        )
        .await?;
        self.rollup_done(Rollup::VisitDays).await?;
        Ok(n)
    }

    /// Inserts `clients` sealed, with the clients per day joined and last seen and per
    /// status. Returns how many.
    pub(crate) async fn load_clients(
        &self,
        clients: &[Client],
        progress: Progress<'_>,
    ) -> Result<usize, StoreError> {
        let sealed: Vec<ClientDoc> = clients
            .iter()
            .map(|c| ClientDoc::seal(self.keys(), c))
            .collect();
        let n = insert_all(self.client_docs(), &sealed, progress).await?;
        let facts: Vec<_> = clients.iter().map(|c| (c.id, ClientFacts::of(c))).collect();
        for days in [ClientDays::Joined, ClientDays::Absent] {
            let docs = days.documents(facts.iter().copied());
            insert_all(self.documents(days.collection()), &docs, &quietly).await?;
        }
        self.rollup_done(Rollup::ClientDays).await?;
        insert_all(
            self.documents(names::CLIENT_STATUSES),
            &super::client_days::status_documents(facts.iter().copied()),
            &quietly,
        )
        .await?;
        self.rollup_done(Rollup::ClientStatuses).await?;
        Ok(n)
    }

    /// Inserts `orders`, with the live orders and clients per course, and moves the
    /// order-number counter past them. Returns how many.
    pub(crate) async fn load_orders(
        &self,
        orders: &[Order],
        progress: Progress<'_>,
    ) -> Result<usize, StoreError> {
        let n = insert_all(self.orders(), orders, progress).await?;
        let (pairs, courses) = super::enrolment_counts::enrolment_documents(orders);
        for (name, docs) in [
            (names::COURSE_CLIENTS, pairs),
            (names::COURSE_ENROLMENTS, courses),
        ] {
            insert_all(self.documents(name), &docs, &quietly).await?;
        }
        self.rollup_done(Rollup::Enrolments).await?;
        self.sync_order_counter().await?;
        Ok(n)
    }

    /// Inserts `payments`, with the paid revenue per day and the pending payments per
    /// due day. Returns how many.
    pub(crate) async fn load_payments(
        &self,
        payments: &[Payment],
        progress: Progress<'_>,
    ) -> Result<usize, StoreError> {
        let n = insert_all(self.payments(), payments, progress).await?;
        let days = super::revenue_days::day_documents(payments);
        insert_all(self.documents(names::REVENUE_DAYS), &days, &quietly).await?;
        self.rollup_done(Rollup::RevenueDays).await?;
        let days = super::pending_days::pending_day_documents(payments);
        insert_all(self.documents(names::PENDING_DAYS), &days, &quietly).await?;
        self.rollup_done(Rollup::PendingDays).await?;
        Ok(n)
    }

    fn documents(&self, name: &str) -> mongodb::Collection<Document> {
        self.db.collection(name)
    }
}

async fn insert_all<T, D>(
    collection: mongodb::Collection<T>,
    docs: &[D],
    progress: Progress<'_>,
) -> Result<usize, StoreError>
where
    T: Send + Sync,
    D: std::borrow::Borrow<T> + Serialize + Send + Sync,
{
    let raw = collection.clone_with_type::<D>();
    for chunk in docs.chunks(BATCH) {
        if chunk.is_empty() {
            continue;
        }
        raw.insert_many(chunk).ordered(false).await?;
        progress(chunk.len());
    }
    Ok(docs.len())
}
