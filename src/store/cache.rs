//! What one frontdesk process keeps between requests so that a chat message costs fewer
//! database round trips: the course catalogue (checked against its version in the
//! database at most once a second), the generation of the
//! data (bumped by every write through this process, so answers kept by the tools know
//! when they went stale), and one lock per stripe of clients so that this process's
//! enrolments of one client queue instead of meeting in a write conflict.
//!
//! Both are shared by every clone of a [`super::Store`] (and its read-only connection).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::{Course, ObjectId};

/// How long the catalogue is reused without a look at its version in the database. A
/// write through any frontdesk instance moves the version on: it shows here within this.
pub const CATALOGUE_CHECK: Duration = Duration::from_secs(1);

/// How long the catalogue is reused at all: a course changed in the database other than
/// through frontdesk (no version moved) shows here within this.
pub const CATALOGUE_TTL: Duration = Duration::from_secs(30);

/// How many locks the clients are spread over.
const ENROL_STRIPES: usize = 64;

/// The catalogue as read, with the version it was read at.
#[derive(Debug)]
struct KeptCatalogue {
    read_at: Instant,
    checked_at: Instant,
    version: i64,
    courses: Arc<Vec<Course>>,
}

/// The in-process state behind every clone of one store.
#[derive(Debug)]
pub(crate) struct Shared {
    catalogue: RwLock<Option<KeptCatalogue>>,
    /// Bumped by every catalogue write: a read that began before a write does not put
    /// what it read in the cache.
    catalogue_generation: AtomicU64,
    /// Bumped after every write through this process that an answer could show.
    data_generation: AtomicU64,
    enrol_locks: Vec<tokio::sync::Mutex<()>>,
    /// How long a write keeps trying through transient conflicts, in milliseconds.
    conflict_budget_ms: AtomicU64,
    /// How long a ticket is kept, in days.
    ticket_retention_days: AtomicU64,
    /// Records left out of lists because they could not be opened.
    unreadable_records: AtomicU64,
    /// The order numbers this process has reserved and not used yet: `next..end`.
    pub(crate) order_numbers: tokio::sync::Mutex<std::ops::Range<i64>>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            catalogue: RwLock::new(None),
            catalogue_generation: AtomicU64::new(0),
            data_generation: AtomicU64::new(0),
            enrol_locks: (0..ENROL_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            conflict_budget_ms: AtomicU64::new(DEFAULT_CONFLICT_BUDGET_MS),
            ticket_retention_days: AtomicU64::new(DEFAULT_TICKET_RETENTION_DAYS),
            unreadable_records: AtomicU64::new(0),
            order_numbers: tokio::sync::Mutex::new(0..0),
        }
    }
}

/// The conflict budget unless configured: 5 s.
const DEFAULT_CONFLICT_BUDGET_MS: u64 = 5_000;
/// How long tickets are kept unless configured: a year.
const DEFAULT_TICKET_RETENTION_DAYS: u64 = 365;

impl Shared {
    pub(crate) fn count_unreadable(&self) {
        self.unreadable_records.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unreadable(&self) -> u64 {
        self.unreadable_records.load(Ordering::Relaxed)
    }

    pub(crate) fn ticket_retention(&self) -> chrono::Duration {
        let days = self.ticket_retention_days.load(Ordering::Relaxed);
        chrono::Duration::days(i64::try_from(days).unwrap_or(36_500))
    }

    pub(crate) fn set_ticket_retention_days(&self, days: u32) {
        self.ticket_retention_days
            .store(u64::from(days.max(1)), Ordering::Relaxed);
    }

    pub(crate) fn conflict_budget(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.conflict_budget_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn set_conflict_budget(&self, budget: std::time::Duration) {
        let ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
        self.conflict_budget_ms.store(ms, Ordering::Relaxed);
    }

    /// The kept catalogue when its version was looked at within [`CATALOGUE_CHECK`].
    pub(crate) fn catalogue(&self) -> Option<Arc<Vec<Course>>> {
        let slot = self.catalogue.read().ok()?;
        slot.as_ref()
            .filter(|k| k.checked_at.elapsed() < CATALOGUE_CHECK)
            .filter(|k| k.read_at.elapsed() < CATALOGUE_TTL)
            .map(|k| Arc::clone(&k.courses))
    }

    /// The kept catalogue when it was read at `version` (the database's now), within
    /// [`CATALOGUE_TTL`]; it then counts as checked.
    pub(crate) fn catalogue_at(&self, version: i64) -> Option<Arc<Vec<Course>>> {
        let mut slot = self.catalogue.write().ok()?;
        let kept = slot
            .as_mut()
            .filter(|k| k.version == version && k.read_at.elapsed() < CATALOGUE_TTL)?;
        kept.checked_at = Instant::now();
        Some(Arc::clone(&kept.courses))
    }

    /// Where a catalogue read starts: pass it back to [`Shared::keep_catalogue`].
    pub(crate) fn catalogue_generation(&self) -> u64 {
        self.catalogue_generation.load(Ordering::Acquire)
    }

    /// Keeps a catalogue read at `generation` (and the database's `version`) unless a
    /// write through this process came in between.
    pub(crate) fn keep_catalogue(&self, generation: u64, version: i64, courses: Arc<Vec<Course>>) {
        if let Ok(mut slot) = self.catalogue.write() {
            if self.catalogue_generation.load(Ordering::Acquire) == generation {
                let now = Instant::now();
                *slot = Some(KeptCatalogue {
                    read_at: now,
                    checked_at: now,
                    version,
                    courses,
                });
            }
        }
    }

    /// Forgets the catalogue (a course was written or the database replaced).
    pub(crate) fn forget_catalogue(&self) {
        if let Ok(mut slot) = self.catalogue.write() {
            self.catalogue_generation.fetch_add(1, Ordering::AcqRel);
            *slot = None;
        }
        self.data_changed();
    }

    /// Where a read that may be kept starts: an answer computed from it is current while
    /// this has not moved.
    pub(crate) fn data_generation(&self) -> u64 {
        self.data_generation.load(Ordering::Acquire)
    }

    /// Marks every kept answer stale: called once a write is done (committed).
    pub(crate) fn data_changed(&self) {
        self.data_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The lock this process's enrolments of `client` take turns on.
    pub(crate) fn enrol_lock(&self, client: ObjectId) -> &tokio::sync::Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        client.hash(&mut hasher);
        // The remainder is below ENROL_STRIPES, so it fits in usize.
        #[allow(clippy::cast_possible_truncation)]
        let stripe = (hasher.finish() % ENROL_STRIPES as u64) as usize;
        &self.enrol_locks[stripe]
    }
}

impl super::Store {
    /// Marks every answer kept from earlier reads stale, after a write outside a
    /// transaction that an answer could show.
    pub(crate) fn data_changed(&self) {
        self.shared.data_changed();
    }

    /// Where a read whose answer may be kept starts (see [`Store::data_changed`]).
    #[must_use]
    pub fn data_generation(&self) -> u64 {
        self.shared.data_generation()
    }

    /// Which in-process state this store shares with its clones: kept answers of one
    /// store are never served for another.
    #[must_use]
    pub fn shared_id(&self) -> usize {
        std::sync::Arc::as_ptr(&self.shared) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_during_a_read_keeps_the_stale_read_out() {
        let shared = Shared::default();
        let before = shared.catalogue_generation();
        shared.forget_catalogue();
        shared.keep_catalogue(before, 0, Arc::new(Vec::new()));
        assert!(shared.catalogue().is_none());
        let now = shared.catalogue_generation();
        shared.keep_catalogue(now, 0, Arc::new(Vec::new()));
        assert!(shared.catalogue().is_some());
        shared.forget_catalogue();
        assert!(shared.catalogue().is_none());
    }

    #[test]
    fn one_client_always_takes_the_same_lock() {
        let shared = Shared::default();
        let id = ObjectId::new();
        assert!(std::ptr::eq(shared.enrol_lock(id), shared.enrol_lock(id)));
    }
}
