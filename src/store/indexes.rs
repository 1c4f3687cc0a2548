//! Every index the queries need, created idempotently at start-up.

use bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

use super::{names, Store, StoreError};

struct Spec {
    collection: &'static str,
    name: &'static str,
    keys: Document,
    unique: bool,
    partial: Option<Document>,
    sparse: bool,
    ttl_secs: Option<u64>,
}

fn spec(collection: &'static str, name: &'static str, keys: Document) -> Spec {
    Spec {
        collection,
        name,
        keys,
        unique: false,
        partial: None,
        sparse: false,
        ttl_secs: None,
    }
}

fn unique(mut s: Spec) -> Spec {
    s.unique = true;
    s
}

fn when_present(mut s: Spec, field: &str) -> Spec {
    s.partial = Some(doc! { field: { "$exists": true } });
    s
}

/// Documents without the field are left out of the index. Unlike a partial index, one
/// that every server chooses for an equality or `$in` on the field (the local test
/// server never chooses a partial index on `$exists`).
fn sparse(mut s: Spec) -> Spec {
    s.sparse = true;
    s
}

fn ttl(mut s: Spec, secs: u64) -> Spec {
    s.ttl_secs = Some(secs);
    s
}

fn specs() -> Vec<Spec> {
    use names::*;
    vec![
        // Blind indexes (keyed hashes) of the sealed email and phone; partial so that
        // documents from before encryption (no blind index until `rotate-key`) fit.
        unique(when_present(
            spec(CLIENTS, "email_bi_unique", doc! { "email_bi": 1 }),
            "email_bi",
        )),
        // Every read of clients names `deleted_at: null` beside what it looks for, so
        // each lookup's index leads with it: one index serves the whole filter.
        spec(
            CLIENTS,
            "live_email_bi",
            doc! { "deleted_at": 1, "email_bi": 1 },
        ),
        spec(
            CLIENTS,
            "live_phone_bi",
            doc! { "deleted_at": 1, "phone_bi": 1 },
        ),
        spec(
            CLIENTS,
            "live_name_tokens",
            doc! { "deleted_at": 1, "name_tokens": 1 },
        ),
        spec(
            CLIENTS,
            "live_joined_at",
            doc! { "deleted_at": 1, "joined_at": 1 },
        ),
        spec(CLIENTS, "last_visit_at", doc! { "last_visit_at": 1 }),
        spec(
            CLIENTS,
            "live_status_name",
            doc! { "deleted_at": 1, "status": 1, "name": 1 },
        ),
        spec(CLIENTS, "live_name", doc! { "deleted_at": 1, "name": 1 }),
        // A write to a client who must not be deleted meanwhile (`_id` and `deleted_at`).
        spec(CLIENTS, "id_live", doc! { "_id": 1, "deleted_at": 1 }),
        spec(
            CLIENTS,
            "enrollments_course_id",
            doc! { "enrollments.course_id": 1 },
        ),
        unique(spec(COURSES, "name_key_unique", doc! { "name_key": 1 })),
        spec(CLASSES, "starts_at", doc! { "starts_at": 1 }),
        spec(
            CLASSES,
            "cancelled_starts_at",
            doc! { "cancelled": 1, "starts_at": 1 },
        ),
        spec(
            CLASSES,
            "course_cancelled_starts_at",
            doc! { "course_id": 1, "cancelled": 1, "starts_at": 1 },
        ),
        spec(
            CLASSES,
            "reminder_due",
            doc! { "cancelled": 1, "reminded_at": 1, "starts_at": 1 },
        ),
        spec(
            CLASSES,
            "course_starts_at",
            doc! { "course_id": 1, "starts_at": 1 },
        ),
        unique(spec(ORDERS, "number_unique", doc! { "number": 1 })),
        unique(sparse(spec(
            ORDERS,
            "idempotency_key_sparse",
            doc! { "idempotency_key": 1 },
        ))),
        spec(
            ORDERS,
            "client_created_at",
            doc! { "client_id": 1, "created_at": -1 },
        ),
        spec(
            ORDERS,
            "course_status",
            doc! { "course_id": 1, "status": 1 },
        ),
        // Newest first, the order of every unfiltered page (and a range of days).
        spec(
            ORDERS,
            "created_at_id",
            doc! { "created_at": -1, "_id": -1 },
        ),
        spec(
            ORDERS,
            "course_created_at",
            doc! { "course_id": 1, "created_at": 1 },
        ),
        spec(
            ORDERS,
            "status_created_at",
            doc! { "status": 1, "created_at": -1 },
        ),
        spec(ORDERS, "id_status", doc! { "_id": 1, "status": 1 }),
        spec(
            PAYMENTS,
            "status_paid_at",
            doc! { "status": 1, "paid_at": 1 },
        ),
        spec(PAYMENTS, "status_due_at", doc! { "status": 1, "due_at": 1 }),
        spec(
            PAYMENTS,
            "client_status_due_at",
            doc! { "client_id": 1, "status": 1, "due_at": 1 },
        ),
        spec(
            PAYMENTS,
            "status_course",
            doc! { "status": 1, "course_id": 1 },
        ),
        spec(
            PAYMENTS,
            "reminder_due",
            doc! { "status": 1, "reminded_at": 1, "due_at": 1 },
        ),
        spec(PAYMENTS, "id_status", doc! { "_id": 1, "status": 1 }),
        spec(PAYMENTS, "order_id", doc! { "order_id": 1 }),
        spec(
            PAYMENTS,
            "created_at_id",
            doc! { "created_at": -1, "_id": -1 },
        ),
        spec(REVENUE_DAYS, "day", doc! { "day": 1 }),
        spec(CLASS_DAYS, "day_course", doc! { "day": 1, "course": 1 }),
        spec(CLASS_DAYS, "course_day", doc! { "course": 1, "day": 1 }),
        spec(PENDING_DAYS, "n", doc! { "n": 1 }),
        // The day collections are read by a range of days (`_id`): an index that leads
        // with `_id`, which the local test server needs for a range (MongoDB has `_id_`).
        spec(JOIN_DAYS, "day_n", doc! { "_id": 1, "n": 1 }),
        spec(ABSENCE_DAYS, "day_n", doc! { "_id": 1, "n": 1 }),
        spec(VISIT_DAYS, "day_n", doc! { "_id": 1, "n": 1 }),
        unique(sparse(spec(
            PAYMENTS,
            "idempotency_key_sparse",
            doc! { "idempotency_key": 1 },
        ))),
        spec(
            ATTENDANCE,
            "class_starts_at_course",
            doc! { "class_starts_at": 1, "course_id": 1 },
        ),
        spec(
            ATTENDANCE,
            "course_class_starts_at",
            doc! { "course_id": 1, "class_starts_at": 1 },
        ),
        unique(spec(
            ATTENDANCE,
            "class_client_unique",
            doc! { "class_id": 1, "client_id": 1 },
        )),
        spec(
            ATTENDANCE,
            "client_class_starts_at",
            doc! { "client_id": 1, "class_starts_at": -1 },
        ),
        spec(
            TICKETS,
            "status_created_at",
            doc! { "status": 1, "created_at": -1 },
        ),
        spec(
            TICKETS,
            "origin_live",
            doc! { "origin.platform": 1, "origin.channel": 1, "origin.user": 1, "status": 1 },
        ),
        spec(TICKETS, "staff_thread", doc! { "staff_thread.root": 1 }),
        spec(
            TICKETS,
            "created_at_id",
            doc! { "created_at": -1, "_id": -1 },
        ),
        spec(TICKETS, "id_status", doc! { "_id": 1, "status": 1 }),
        spec(
            TICKETS,
            "reminder_due",
            doc! { "status": 1, "reminded_at": 1, "created_at": 1 },
        ),
        spec(TICKETS, "id_reminded", doc! { "_id": 1, "reminded_at": 1 }),
        sparse(spec(
            TICKETS,
            "idempotency_key",
            doc! { "idempotency_key": 1 },
        )),
        // A ticket is forgotten at its `forget_at` ([memory] ticket_retention_days).
        ttl(spec(TICKETS, "forget_at_ttl", doc! { "forget_at": 1 }), 0),
        // Conversations as one document each (before turns were documents of their own):
        // kept so that what is left there expires.
        ttl(
            spec(CONVERSATIONS, "expires_at_ttl", doc! { "expires_at": 1 }),
            0,
        ),
        spec(
            CONVERSATION_TURNS,
            "conversation_newest",
            doc! { "conversation": 1, "_id": -1 },
        ),
        ttl(
            spec(
                CONVERSATION_TURNS,
                "expires_at_ttl",
                doc! { "expires_at": 1 },
            ),
            0,
        ),
        ttl(
            spec(PROCESSED_EVENTS, "expires_at_ttl", doc! { "expires_at": 1 }),
            0,
        ),
        ttl(
            spec(RATE_WINDOWS, "expires_at_ttl", doc! { "expires_at": 1 }),
            0,
        ),
        spec(IDENTITIES, "client_id", doc! { "client_id": 1 }),
        ttl(
            spec(LINK_CODES, "forget_at_ttl", doc! { "forget_at": 1 }),
            0,
        ),
        ttl(
            spec(
                LINK_CODE_REQUESTS,
                "expires_at_ttl",
                doc! { "expires_at": 1 },
            ),
            0,
        ),
        spec(
            LINK_CODE_REQUESTS,
            "account_at",
            doc! { "account": 1, "at": 1 },
        ),
        spec(
            LINK_CODE_REQUESTS,
            "client_at",
            doc! { "client_id": 1, "at": 1 },
        ),
        unique(spec(OUTBOX, "key_unique", doc! { "key": 1 })),
        spec(AUDIT, "at", doc! { "at": 1 }),
        spec(
            AUDIT,
            "collection_target",
            doc! { "collection": 1, "target": 1 },
        ),
        ttl(spec(OUTBOX, "purge_at_ttl", doc! { "purge_at": 1 }), 0),
        spec(
            OUTBOX,
            "status_next_attempt_at",
            doc! { "status": 1, "next_attempt_at": 1 },
        ),
        spec(
            OUTBOX,
            "status_lease_until",
            doc! { "status": 1, "lease_until": 1 },
        ),
        // Finishing a job this worker holds (`_id`, `status` and `lease_owner`).
        spec(
            OUTBOX,
            "id_status_owner",
            doc! { "_id": 1, "status": 1, "lease_owner": 1 },
        ),
    ]
}

impl Store {
    /// Creates every index frontdesk's queries use. Safe to run at every start.
    ///
    /// # Errors
    /// The server refused an index (for example, existing duplicates under a unique key).
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        // Indexes nothing uses any more: of the plain email and phone, from before
        // they were sealed (the unique one would refuse sealed documents); and those
        // replaced by indexes every server chooses for the whole filter.
        for (collection, old) in [
            (names::CLIENTS, "email_unique"),
            (names::CLIENTS, "phone"),
            (names::CLIENTS, "phone_bi"),
            (names::CLIENTS, "name_tokens"),
            (names::CLIENTS, "joined_at"),
            (names::CLIENTS, "status_name"),
            (names::ORDERS, "idempotency_key_unique"),
            (names::PAYMENTS, "idempotency_key_unique"),
            (names::PAYMENTS, "client_status"),
            (names::ORDERS, "created_at"),
            (names::TICKETS, "created_at"),
            // A code's use-by time is the service's; the sweep's is `forget_at`.
            (names::LINK_CODES, "expires_at_ttl"),
        ] {
            let _ = self
                .db
                .collection::<Document>(collection)
                .drop_index(old)
                .await;
        }
        let mut by_collection: std::collections::BTreeMap<&str, Vec<IndexModel>> =
            Default::default();
        for s in specs() {
            let options = IndexOptions::builder()
                .name(s.name.to_owned())
                .unique(s.unique.then_some(true))
                .partial_filter_expression(s.partial)
                .sparse(s.sparse.then_some(true))
                .expire_after(s.ttl_secs.map(std::time::Duration::from_secs))
                .build();
            by_collection
                .entry(s.collection)
                .or_default()
                .push(IndexModel::builder().keys(s.keys).options(options).build());
        }
        for (collection, models) in by_collection {
            self.db
                .collection::<Document>(collection)
                .create_indexes(models)
                .await?;
        }
        Ok(())
    }
}
