//! Proactive messages, on a timer: class reminders (a configurable lead time before each
//! class, to every client enrolled in its course), payment reminders (once per overdue
//! payment), the daily digest of yesterday's figures to a management channel, and the
//! studio calendar kept in step with the classes. Each task runs under a lease, so with
//! several instances one runs it at a time; everything it sends goes through the outbox
//! with a unique key, so each reminder goes out at most once.

use std::sync::Arc;
use std::time::Duration;

use bson::doc;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::TryStreamExt;

use super::calendar::CalendarClient;
use super::deliver::tell_client;
use super::messages;
use super::worker::DeliveryError;
use super::Providers;
use crate::config::IntegrationSettings;
use crate::domain::{format_minor, ClassSession, Client, Payment, Period, SharedClock};
use crate::store::{Job, OutboxItem, RevenueBreakdown, Store, StoreError};

/// How often the scheduler looks for work.
pub const TICK: Duration = Duration::from_secs(60);
/// How far ahead the calendar is kept in step.
const CALENDAR_DAYS: i64 = 14;

/// What one run queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerRun {
    pub class_reminders: usize,
    pub payment_reminders: usize,
    pub digests: usize,
    pub calendar_events: usize,
}

/// The scheduler of one instance.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    clock: SharedClock,
    providers: Arc<Providers>,
    settings: IntegrationSettings,
    owner: String,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    #[must_use]
    pub fn new(
        store: Store,
        clock: SharedClock,
        providers: Arc<Providers>,
        settings: IntegrationSettings,
        owner: impl Into<String>,
    ) -> Self {
        Self {
            store,
            clock,
            providers,
            settings,
            owner: owner.into(),
        }
    }

    /// Runs every task this instance holds the lease for.
    ///
    /// # Errors
    /// The database failed.
    pub async fn run_once(&self) -> Result<SchedulerRun, DeliveryError> {
        let now = self.clock.now();
        let mut run = SchedulerRun::default();
        if self.lease("class_reminders", now).await? {
            run.class_reminders = self.class_reminders(now).await?;
        }
        if self.lease("payment_reminders", now).await? {
            run.payment_reminders = self.payment_reminders(now).await?;
        }
        if self.settings.digest.is_some() && self.lease("digest", now).await? {
            run.digests = self.digest(now).await?;
        }
        if self.providers.calendar.is_some() && self.lease("calendar", now).await? {
            run.calendar_events = self.calendar(now).await?;
        }
        Ok(run)
    }

    /// Runs the tasks every [`TICK`] until the future is dropped.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "scheduler run failed");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    async fn lease(&self, task: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.store
            .claim_task_lease(&format!("task:{task}"), &self.owner, now, TICK * 2)
            .await
    }

    /// Classes starting within the lead time that have not been reminded of yet.
    async fn class_reminders(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let until = now + ChronoDuration::minutes(i64::from(self.settings.class_lead_minutes));
        let classes: Vec<ClassSession> = self
            .store
            .classes()
            .find(doc! {
                "starts_at": { "$gt": bson::DateTime::from_chrono(now), "$lte": bson::DateTime::from_chrono(until) },
                "cancelled": { "$ne": true },
                "reminded_at": null,
            })
            .limit(200)
            .await
            .map_err(StoreError::from)?
            .try_collect()
            .await
            .map_err(StoreError::from)?;
        let mut queued = 0;
        for class in classes {
            let clients: Vec<Client> = self
                .store
                .clients()
                .find(doc! { "enrollments.course_id": class.course_id, "deleted_at": null, "status": { "$ne": "inactive" } })
                .await
                .map_err(StoreError::from)?
                .try_collect()
                .await
                .map_err(StoreError::from)?;
            for client in &clients {
                let message = messages::class_reminder(
                    &self.providers.studio,
                    client.name.first(),
                    &class.course_name,
                    class.starts_at(),
                    Some(class.instructor.as_str()),
                );
                let key = format!(
                    "reminder:class:{}:{}",
                    class.id.to_hex(),
                    client.id.to_hex()
                );
                tell_client(
                    &self.store,
                    &self.providers,
                    &self.clock,
                    &key,
                    client,
                    &message,
                    true,
                )
                .await?;
                queued += 1;
            }
            self.store
                .classes()
                .update_one(
                    doc! { "_id": class.id },
                    doc! { "$set": { "reminded_at": bson::DateTime::from_chrono(now) } },
                )
                .await
                .map_err(StoreError::from)?;
        }
        Ok(queued)
    }

    /// Pending payments past their due date by the configured days, once each.
    async fn payment_reminders(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let cutoff = now - ChronoDuration::days(i64::from(self.settings.payment_overdue_days));
        let overdue: Vec<Payment> = self
            .store
            .payments()
            .find(doc! {
                "status": "pending",
                "due_at": { "$lt": bson::DateTime::from_chrono(cutoff) },
                "reminded_at": null,
            })
            .limit(500)
            .await
            .map_err(StoreError::from)?
            .try_collect()
            .await
            .map_err(StoreError::from)?;
        let mut queued = 0;
        for payment in overdue {
            if let Some(client) = self.store.client_by_id(payment.client_id).await? {
                let message = messages::payment_reminder(
                    &self.providers.studio,
                    client.name.first(),
                    &payment.course_name,
                    payment.order_number,
                    payment.amount,
                    payment.due_at,
                    payment.link_url.as_deref(),
                );
                let key = format!("reminder:payment:{}", payment.id.to_hex());
                tell_client(
                    &self.store,
                    &self.providers,
                    &self.clock,
                    &key,
                    &client,
                    &message,
                    true,
                )
                .await?;
                queued += 1;
            }
            self.store
                .payments()
                .update_one(
                    doc! { "_id": payment.id },
                    doc! { "$set": { "reminded_at": bson::DateTime::from_chrono(now) } },
                )
                .await
                .map_err(StoreError::from)?;
        }
        Ok(queued)
    }

    /// Yesterday's figures to the management channel, once a day after the set time.
    async fn digest(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let Some(target) = &self.settings.digest else {
            return Ok(0);
        };
        let offset = self.providers.studio.utc_offset;
        let local = now.with_timezone(&offset);
        if local.time() < target.at {
            return Ok(0);
        }
        let yesterday = Period::Yesterday
            .resolve(now, offset)
            .map_err(|e| DeliveryError::permanent(e.to_string()))?;
        let revenue = self
            .store
            .revenue(
                &yesterday,
                RevenueBreakdown::None,
                self.providers.studio.currency,
            )
            .await?;
        let new_clients = self.store.new_clients(&yesterday).await?;
        let attendance = self.store.attendance_rate(&yesterday, None).await?;
        let attendance_line = if attendance.total == 0 {
            "no classes with bookings".to_owned()
        } else {
            format!(
                "{:.1}% ({} of {} bookings attended)",
                attendance.percent, attendance.attended, attendance.total
            )
        };
        let text = format!(
            "Daily digest for {}: revenue {} from {} payments; {} new clients; attendance {}.",
            yesterday.label(),
            format_minor(revenue.total_minor, revenue.currency),
            revenue.payments,
            new_clients.count,
            attendance_line,
        );
        let item = OutboxItem::new(
            format!("digest:{}", local.date_naive()),
            Job::Chat {
                platform: target.platform,
                channel: target.channel.clone(),
                text,
            },
            now,
        );
        Ok(self.store.enqueue(&[item]).await?)
    }

    /// Calendar events for the coming classes; a class that changed gets a new key (its
    /// start and state are part of it), so the event is updated once per change.
    async fn calendar(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let until = now + ChronoDuration::days(CALENDAR_DAYS);
        let classes: Vec<ClassSession> = self
            .store
            .classes()
            .find(doc! { "starts_at": { "$gt": bson::DateTime::from_chrono(now), "$lte": bson::DateTime::from_chrono(until) } })
            .limit(1000)
            .await
            .map_err(StoreError::from)?
            .try_collect()
            .await
            .map_err(StoreError::from)?;
        let items: Vec<OutboxItem> = classes
            .iter()
            .map(|class| {
                OutboxItem::new(
                    format!(
                        "calendar:{}:{}:{}:{}",
                        CalendarClient::event_id_for(&class.id),
                        class.starts_at().timestamp(),
                        class.ends_at().timestamp(),
                        u8::from(class.cancelled)
                    ),
                    Job::CalendarUpsert { class_id: class.id },
                    now,
                )
            })
            .collect();
        Ok(self.store.enqueue(&items).await?)
    }
}
