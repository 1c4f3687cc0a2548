//! Live orders (not cancelled) and the distinct clients who placed them, per course and
//! all time, kept up to date in the transaction that creates or cancels each order (and
//! written by the seed), so "top course" reads one document per course instead of every
//! order. `course_clients` holds each client's number of live orders of a course; the
//! course's `clients` moves when that number goes from 0 to 1 or back.

use std::collections::BTreeMap;

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Collection};

use super::analytics::get_i64;
use super::rollups::part_of;
use super::{names, Store, StoreError};
use crate::domain::{ObjectId, Order, OrderStatus};

/// A course's live orders and the distinct clients who placed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CourseEnrolment {
    pub course_id: ObjectId,
    /// The name its newest order carries.
    pub course: String,
    pub orders: u64,
    pub clients: u64,
}

/// Per course and part: (the newest order's time and course name, live orders, clients).
type CourseTotals = BTreeMap<(ObjectId, i32), ((DateTime<Utc>, String), i64, i64)>;

/// The `_id` of a course and client's count of live orders.
fn pair_id(course: ObjectId, client: ObjectId) -> String {
    super::rollups::key_id(&[&course.into(), &client.into()])
}

/// The document of `course`'s counts for the clients of one part.
fn course_key(course: ObjectId, part: i32) -> Document {
    doc! { "course": course, "part": part }
}

/// The documents of both collections for `orders`, as the seed and a recount write
/// them: (`course_clients`, `course_enrolments`).
pub(crate) fn enrolment_documents<'a>(
    orders: impl IntoIterator<Item = &'a Order>,
) -> (Vec<Document>, Vec<Document>) {
    let mut pairs: BTreeMap<(ObjectId, ObjectId), i64> = BTreeMap::new();
    let mut courses = CourseTotals::new();
    for o in orders {
        if o.status == OrderStatus::Cancelled {
            continue;
        }
        let live = pairs.entry((o.course_id, o.client_id)).or_default();
        *live += 1;
        let course = courses
            .entry((o.course_id, part_of(o.id)))
            .or_insert_with(|| ((o.created_at, o.course_name.clone()), 0, 0));
        if o.created_at > course.0 .0 {
            course.0 = (o.created_at, o.course_name.clone());
        }
        course.1 += 1;
        course.2 += i64::from(*live == 1);
    }
    let pairs = pairs
        .into_iter()
        .map(|((course, client), orders)| {
            doc! { "_id": pair_id(course, client), "orders": orders }
        })
        .collect();
    let courses = courses
        .into_iter()
        .map(|((id, part), ((_, name), orders, clients))| {
            doc! {
                "_id": course_key(id, part),
                "course_id": id,
                "course": name,
                "orders": orders,
                "clients": clients,
            }
        })
        .collect();
    (pairs, courses)
}

impl Store {
    fn course_clients(&self) -> Collection<Document> {
        self.db.collection(names::COURSE_CLIENTS)
    }

    fn course_enrolments(&self) -> Collection<Document> {
        self.db.collection(names::COURSE_ENROLMENTS)
    }

    /// Counts `order` in (`step` 1, a new order) or out (`step` -1, a cancellation),
    /// inside the transaction that writes it.
    pub(crate) async fn count_order_in(
        &self,
        session: &mut ClientSession,
        order: &Order,
        step: i64,
    ) -> Result<(), StoreError> {
        let pair = self
            .course_clients()
            .find_one_and_update(
                doc! { "_id": pair_id(order.course_id, order.client_id) },
                doc! { "$inc": { "orders": step } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let live = pair.as_ref().map_or(0, |p| get_i64(p, "orders"));
        // The client's first live order of the course, or their last one gone.
        let clients = match (step, live) {
            (1, 1) => 1,
            (-1, 0) => -1,
            _ => 0,
        };
        let mut update = doc! {
            "$inc": { "orders": step, "clients": clients },
            "$setOnInsert": { "course_id": order.course_id },
        };
        if step > 0 {
            update.insert("$set", doc! { "course": &order.course_name });
        }
        let key = course_key(order.course_id, part_of(order.id));
        self.course_enrolments()
            .update_one(doc! { "_id": key }, update)
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok(())
    }

    /// Every course with live orders, all time, in no order.
    pub(crate) async fn kept_enrolments(&self) -> Result<Vec<CourseEnrolment>, StoreError> {
        // Every part (a few per course): a part's clients can be below zero when a
        // client's last live order is cancelled in another part than their first.
        let docs: Vec<Document> = self
            .course_enrolments()
            .find(doc! {})
            .await?
            .try_collect()
            .await?;
        // A course's parts added up.
        struct Summed {
            course_id: ObjectId,
            course: String,
            orders: i64,
            clients: i64,
        }
        let mut courses: BTreeMap<ObjectId, Summed> = BTreeMap::new();
        for d in &docs {
            let Ok(course_id) = d.get_object_id("course_id") else {
                continue;
            };
            let course = courses.entry(course_id).or_insert_with(|| Summed {
                course_id,
                course: d.get_str("course").unwrap_or_default().to_owned(),
                orders: 0,
                clients: 0,
            });
            course.orders += get_i64(d, "orders");
            course.clients += get_i64(d, "clients");
        }
        Ok(courses
            .into_values()
            .filter(|c| c.orders > 0)
            .map(|c| CourseEnrolment {
                course_id: c.course_id,
                course: c.course,
                orders: u64::try_from(c.orders).unwrap_or(0),
                clients: u64::try_from(c.clients).unwrap_or(0),
            })
            .collect())
    }

    /// Rebuilds both collections from the orders (a database from before them).
    /// Returns whether there were any.
    pub(crate) async fn recount_enrolments(&self) -> Result<bool, StoreError> {
        let live: Vec<Order> = self
            .orders()
            .find(doc! { "status": { "$ne": OrderStatus::Cancelled.as_str() } })
            .await?
            .try_collect()
            .await?;
        let (pairs, courses) = enrolment_documents(&live);
        for (collection, docs) in [
            (self.course_clients(), pairs),
            (self.course_enrolments(), courses),
        ] {
            collection.delete_many(doc! {}).await?;
            for chunk in docs.chunks(1000) {
                collection.insert_many(chunk).await?;
            }
        }
        Ok(!live.is_empty())
    }
}
