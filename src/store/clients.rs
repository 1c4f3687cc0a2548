//! Clients: create, read, update, soft delete and the lookups the Support Agent uses.
//! Email and phone are found by their blind indexes under every known key, so an
//! exact lookup uses an index and still finds records not yet rotated.

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::client_days::{fact_fields, ClientFacts};
use super::sealed::{ClientDoc, EMAIL_BI, PHONE_BI};
use super::{names, Store, StoreError};
use crate::domain::{name_tokens, Client, ClientStatus, Email, ObjectId, Phone};
use crate::protect::BlindKind;

/// Filters for listing clients.
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    pub status: Option<ClientStatus>,
    /// Words of the name, or an email (exact match on the whole address: emails are
    /// sealed, so there is no prefix search).
    pub search: Option<String>,
    pub skip: u64,
    pub limit: i64,
}

fn not_deleted() -> Document {
    doc! { "deleted_at": null }
}

/// A search by the words of a name, as every server's index serves it: the database is
/// asked for the clients with the longest word (one equality on `live_name_tokens`);
/// the other words are checked here. (`$all` of several words is served by an index on
/// MongoDB but scans every client on the local test server.)
struct NameSearch {
    lead: String,
    words: Vec<String>,
}

impl NameSearch {
    fn of(name: &str) -> Option<Self> {
        let words = name_tokens(name);
        let lead = words.iter().max_by_key(|w| w.chars().count())?.clone();
        Some(Self { lead, words })
    }

    fn filter(&self) -> Document {
        let mut filter = not_deleted();
        filter.insert("name_tokens", self.lead.as_str());
        filter
    }

    fn matches(&self, d: &ClientDoc) -> bool {
        self.words.iter().all(|w| d.name_tokens.contains(w))
    }
}

/// The filter of clients with this email, under any known key (deleted ones included).
pub(crate) fn email_filter(store: &Store, email: &Email) -> Document {
    doc! { EMAIL_BI: { "$in": store.keys().blind_indexes(BlindKind::Email, email.as_str()) } }
}

fn phone_filter(store: &Store, phone: &Phone) -> Document {
    doc! { PHONE_BI: { "$in": store.keys().blind_indexes(BlindKind::Phone, phone.as_str()) } }
}

impl Store {
    /// Adds a client, counted into their join day (unless already deleted), in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the email is taken.
    pub async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        self.refuse_taken_email(&client.email, None).await?;
        let sealed = ClientDoc::seal(self.keys(), client);
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = self.insert_client_in(&mut session, client, &sealed).await;
            self.finish(session, written).await
        })
        .await
    }

    /// Adds a client (`sealed` is its stored form) inside the caller's transaction,
    /// counted into their join day and audited. The caller checked
    /// [`Store::refuse_taken_email`].
    pub(crate) async fn insert_client_in(
        &self,
        session: &mut mongodb::ClientSession,
        client: &Client,
        sealed: &ClientDoc,
    ) -> Result<(), StoreError> {
        self.client_docs()
            .insert_one(sealed)
            .session(&mut *session)
            .await
            .map_err(|e| StoreError::from_write(e, "a client with email", client.email.as_str()))?;
        let facts = ClientFacts::of(client);
        self.follow_client(session, client.id, ClientFacts::default(), facts)
            .await?;
        self.audit_in(
            session,
            "client.create",
            names::CLIENTS,
            &client.id.to_hex(),
        )
        .await
    }

    /// While older keys are configured, the unique index (on the blind index under the
    /// current key) cannot see a record not yet rotated: look under every key first.
    pub(crate) async fn refuse_taken_email(
        &self,
        email: &Email,
        except: Option<ObjectId>,
    ) -> Result<(), StoreError> {
        if self.keys().old_ids().is_empty() {
            return Ok(());
        }
        let mut filter = email_filter(self, email);
        if let Some(id) = except {
            filter.insert("_id", doc! { "$ne": id });
        }
        if self.clients().find_one(filter).await?.is_some() {
            return Err(StoreError::Duplicate {
                what: "a client with email",
                value: email.as_str().to_owned(),
            });
        }
        Ok(())
    }

    /// Clients matching a raw filter, opened (the scheduler, tests).
    ///
    /// # Errors
    /// The server failed, or a stored client could not be opened.
    pub async fn find_clients(&self, filter: Document) -> Result<Vec<Client>, StoreError> {
        let docs: Vec<ClientDoc> = self
            .client_docs()
            .find(filter)
            .sort(doc! { "_id": 1 })
            .await?
            .try_collect()
            .await?;
        self.open_clients(docs)
    }

    /// The clients of a list or search, opened. One whose sealed fields cannot be opened
    /// (a key not configured, a damaged value) is left out, logged and counted
    /// ([`Store::unreadable_records`]), so that one bad record does not fail the list; its
    /// own read still fails with the reason.
    pub(crate) fn open_clients(&self, docs: Vec<ClientDoc>) -> Result<Vec<Client>, StoreError> {
        Ok(docs
            .into_iter()
            .filter_map(|d| {
                let id = d.id;
                d.open(self.keys())
                    .inspect_err(|e| {
                        self.shared.count_unreadable();
                        tracing::error!(client = %id.to_hex(), error = %e, "a client record could not be opened and was left out");
                    })
                    .ok()
            })
            .collect())
    }

    /// Records left out of lists since start because they could not be opened.
    #[must_use]
    pub fn unreadable_records(&self) -> u64 {
        self.shared.unreadable()
    }

    async fn find_one_client(&self, filter: Document) -> Result<Option<Client>, StoreError> {
        self.client_docs()
            .find_one(filter)
            .await?
            .map(|d| d.open(self.keys()))
            .transpose()
    }

    /// A client who has not been deleted.
    ///
    /// # Errors
    /// The server failed.
    pub async fn client_by_id(&self, id: ObjectId) -> Result<Option<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.insert("_id", id);
        self.find_one_client(filter).await
    }

    /// Whether this client exists and has not been deleted; reads the id only, nothing
    /// sealed is opened.
    ///
    /// # Errors
    /// The server failed.
    pub async fn client_is_current(&self, id: ObjectId) -> Result<bool, StoreError> {
        let mut filter = not_deleted();
        filter.insert("_id", id);
        Ok(self.clients().count_documents(filter).limit(1).await? > 0)
    }

    /// The names of these clients (deleted ones too: their payments stay), by id. Names
    /// are stored as they are, so nothing sealed is read or opened.
    ///
    /// # Errors
    /// The server failed.
    pub async fn client_names(
        &self,
        ids: &[ObjectId],
    ) -> Result<std::collections::HashMap<ObjectId, String>, StoreError> {
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let docs: Vec<Document> = self
            .clients()
            .find(doc! { "_id": { "$in": ids.to_vec() } })
            .projection(doc! { "name": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some((
                    d.get_object_id("_id").ok()?,
                    d.get_str("name").ok()?.to_owned(),
                ))
            })
            .collect())
    }

    /// # Errors
    /// The server failed.
    pub async fn client_by_email(&self, email: &Email) -> Result<Option<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.extend(email_filter(self, email));
        self.find_one_client(filter).await
    }

    /// # Errors
    /// The server failed.
    pub async fn client_by_phone(&self, phone: &Phone) -> Result<Option<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.extend(phone_filter(self, phone));
        self.find_one_client(filter).await
    }

    /// Up to `limit` clients with this phone number (family members may share one).
    ///
    /// # Errors
    /// The server failed.
    pub async fn clients_by_phone(
        &self,
        phone: &Phone,
        limit: i64,
    ) -> Result<Vec<Client>, StoreError> {
        let mut filter = not_deleted();
        filter.extend(phone_filter(self, phone));
        let found = self.client_docs().find(filter).limit(limit).await?;
        self.open_clients(found.try_collect().await?)
    }

    /// Clients whose name has every word of `name` (in any order), at most `limit`.
    ///
    /// # Errors
    /// The server failed.
    pub async fn clients_by_name(&self, name: &str, limit: i64) -> Result<Vec<Client>, StoreError> {
        let Some(search) = NameSearch::of(name) else {
            return Ok(Vec::new());
        };
        let found = self
            .client_docs()
            .find(search.filter())
            .sort(doc! { "name": 1 })
            .await?;
        let found =
            super::first_matching(found, super::as_count(limit), |d| search.matches(d)).await?;
        self.open_clients(found)
    }

    /// A page of clients, sorted by name, and the total matching.
    ///
    /// # Errors
    /// The server failed.
    pub async fn list_clients(&self, q: &ClientQuery) -> Result<(Vec<Client>, u64), StoreError> {
        let limit = usize::try_from(q.limit.clamp(1, 500)).unwrap_or(1);
        let skip = usize::try_from(q.skip).unwrap_or(usize::MAX);
        if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            // A search finds a few clients: the database reads them by the index of
            // the email or of one word of the name; the status, the other words and the
            // page are taken here.
            let (filter, name) = if search.contains('@') {
                match Email::parse(search) {
                    Ok(email) => {
                        let mut filter = not_deleted();
                        filter.extend(email_filter(self, &email));
                        (filter, None)
                    }
                    // Not a whole address: nothing can match it exactly.
                    Err(_) => return Ok((Vec::new(), 0)),
                }
            } else {
                match NameSearch::of(search) {
                    Some(name) => (name.filter(), Some(name)),
                    None => return Ok((Vec::new(), 0)),
                }
            };
            let found = self
                .client_docs()
                .find(filter)
                .sort(doc! { "name": 1, "_id": 1 })
                .await?;
            let found = super::first_matching(found, usize::MAX, |d| {
                q.status.is_none_or(|s| d.status == s) && name.as_ref().is_none_or(|n| n.matches(d))
            })
            .await?;
            let total = found.len() as u64;
            let page = found.into_iter().skip(skip).take(limit).collect();
            return Ok((self.open_clients(page)?, total));
        }
        let mut filter = not_deleted();
        if let Some(status) = q.status {
            filter.insert("status", status.as_str());
        }
        let total = self.clients().count_documents(filter.clone()).await?;
        let page = self
            .client_docs()
            .find(filter)
            .sort(doc! { "name": 1, "_id": 1 })
            .skip(q.skip)
            .limit(q.limit.clamp(1, 500))
            .await?
            .try_collect()
            .await?;
        Ok((self.open_clients(page)?, total))
    }

    /// Replaces a client's stored document with `client`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or deleted client;
    /// [`StoreError::Duplicate`] when the new email is taken.
    pub async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        self.refuse_taken_email(&client.email, Some(client.id))
            .await?;
        let sealed = bson::to_document(&ClientDoc::seal(self.keys(), client))?;
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                let mut filter = not_deleted();
                filter.insert("_id", client.id);
                let before = self
                    .clients()
                    .find_one_and_replace(filter, sealed.clone())
                    .projection(fact_fields())
                    .session(&mut session)
                    .await
                    .map_err(|e| {
                        StoreError::from_write(e, "a client with email", client.email.as_str())
                    })?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "client",
                        key: client.id.to_hex(),
                    })?;
                let facts = (ClientFacts::of_doc(Some(&before)), ClientFacts::of(client));
                self.follow_client(&mut session, client.id, facts.0, facts.1)
                    .await?;
                self.audit_in(
                    &mut session,
                    "client.update",
                    names::CLIENTS,
                    &client.id.to_hex(),
                )
                .await
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }

    /// Soft-deletes a client: they disappear from lookups, their orders and payments stay.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or already deleted client.
    pub async fn delete_client(&self, id: ObjectId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.retrying(|| async {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let written = async {
                let mut filter = not_deleted();
                filter.insert("_id", id);
                let deleted = self
                    .clients()
                    .find_one_and_update(
                        filter,
                        doc! { "$set": { "deleted_at": bson::DateTime::from_chrono(now) } },
                    )
                    .projection(fact_fields())
                    .session(&mut session)
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "client",
                        key: id.to_hex(),
                    })?;
                let before = ClientFacts::of_doc(Some(&deleted));
                self.follow_client(&mut session, id, before, ClientFacts::default())
                    .await?;
                self.audit_in(&mut session, "client.delete", names::CLIENTS, &id.to_hex())
                    .await
            }
            .await;
            self.finish(session, written).await
        })
        .await
    }
}
