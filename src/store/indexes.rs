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
    ttl_secs: Option<u64>,
}

fn spec(collection: &'static str, name: &'static str, keys: Document) -> Spec {
    Spec {
        collection,
        name,
        keys,
        unique: false,
        partial: None,
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
        spec(CLIENTS, "phone_bi", doc! { "phone_bi": 1 }),
        spec(CLIENTS, "name_tokens", doc! { "name_tokens": 1 }),
        spec(CLIENTS, "joined_at", doc! { "joined_at": 1 }),
        spec(CLIENTS, "last_visit_at", doc! { "last_visit_at": 1 }),
        spec(CLIENTS, "status_name", doc! { "status": 1, "name": 1 }),
        spec(
            CLIENTS,
            "enrollments_course_id",
            doc! { "enrollments.course_id": 1 },
        ),
        unique(spec(COURSES, "name_key_unique", doc! { "name_key": 1 })),
        spec(CLASSES, "starts_at", doc! { "starts_at": 1 }),
        spec(
            CLASSES,
            "course_starts_at",
            doc! { "course_id": 1, "starts_at": 1 },
        ),
        unique(spec(ORDERS, "number_unique", doc! { "number": 1 })),
        unique(when_present(
            spec(
                ORDERS,
                "idempotency_key_unique",
                doc! { "idempotency_key": 1 },
            ),
            "idempotency_key",
        )),
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
        spec(ORDERS, "created_at", doc! { "created_at": 1 }),
        spec(
            PAYMENTS,
            "status_paid_at",
            doc! { "status": 1, "paid_at": 1 },
        ),
        spec(PAYMENTS, "status_due_at", doc! { "status": 1, "due_at": 1 }),
        spec(
            PAYMENTS,
            "client_status",
            doc! { "client_id": 1, "status": 1 },
        ),
        spec(PAYMENTS, "order_id", doc! { "order_id": 1 }),
        spec(REVENUE_DAYS, "day", doc! { "day": 1 }),
        spec(CLASS_DAYS, "day_course", doc! { "day": 1, "course": 1 }),
        unique(when_present(
            spec(
                PAYMENTS,
                "idempotency_key_unique",
                doc! { "idempotency_key": 1 },
            ),
            "idempotency_key",
        )),
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
        spec(TICKETS, "created_at", doc! { "created_at": 1 }),
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
        spec(IDENTITIES, "client_id", doc! { "client_id": 1 }),
        ttl(
            spec(LINK_CODES, "expires_at_ttl", doc! { "expires_at": 1 }),
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
    ]
}

impl Store {
    /// Creates every index frontdesk's queries use. Safe to run at every start.
    ///
    /// # Errors
    /// The server refused an index (for example, existing duplicates under a unique key).
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        // Indexes of the plain email and phone, from before they were sealed: nothing
        // uses them now, and the unique one would refuse sealed documents.
        for old in ["email_unique", "phone"] {
            let _ = self
                .db
                .collection::<Document>(names::CLIENTS)
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
