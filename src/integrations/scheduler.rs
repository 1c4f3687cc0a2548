//! Proactive messages, on a timer: class reminders (a configurable lead time before each
//! class, to every client enrolled in its course), payment reminders (once per overdue
//! payment), the daily digest of yesterday's figures to a management channel, and the
//! studio calendar kept in step with the classes. Each task runs under a lease, so with
//! several instances one runs it at a time; everything it sends goes through the outbox
//! with a unique key, so each reminder goes out at most once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::calendar::CalendarClient;
use super::deliver::tell_client;
use super::messages;
use super::worker::DeliveryError;
use super::Providers;
use crate::config::IntegrationSettings;
use crate::domain::{format_minor, ClassSession, Client, Payment, Period, SharedClock};
use crate::store::{Job, OutboxItem, RevenueBreakdown, Store, StoreError};
use sha2::{Digest, Sha256};

/// How often the scheduler looks for work.
pub const TICK: Duration = Duration::from_secs(60);
/// How far ahead the calendar is kept in step.
const CALENDAR_DAYS: i64 = 14;
/// Overdue payments older than this (past the reminder day) get no automatic reminder.
pub const PAYMENT_REMINDER_WINDOW_DAYS: i64 = 30;

/// What one run queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerRun {
    pub class_reminders: usize,
    pub payment_reminders: usize,
    pub digests: usize,
    pub calendar_events: usize,
    /// Tickets nobody took in time, posted again.
    pub ticket_reminders: usize,
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
        let mut first_error = None;
        // Each task on its own: one failing (a bad document, a slow query) does not stop
        // the others.
        let mut note = |task: &str, result: Result<usize, DeliveryError>| match result {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(task, error = %crate::protect::mask::text(&e.to_string()), "scheduled task failed");
                first_error.get_or_insert(e);
                0
            }
        };
        if self.lease("class_reminders", now).await? {
            run.class_reminders = note("class_reminders", self.class_reminders(now).await);
        }
        if self.lease("payment_reminders", now).await? {
            run.payment_reminders = note("payment_reminders", self.payment_reminders(now).await);
        }
        if self.settings.digest.is_some() && self.lease("digest", now).await? {
            run.digests = note("digest", self.digest(now).await);
        }
        if self.providers.handoff.is_some() && self.lease("ticket_reminders", now).await? {
            run.ticket_reminders = note("ticket_reminders", self.ticket_reminders(now).await);
        }
        if self.providers.calendar.is_some() && self.lease("calendar", now).await? {
            run.calendar_events = note("calendar", self.calendar(now).await);
        }
        match first_error {
            Some(e) if run == SchedulerRun::default() => Err(e),
            _ => Ok(run),
        }
    }

    /// Runs the tasks every [`TICK`] until the future is dropped.
    pub async fn run(self) {
        let (_keep, stop) = tokio::sync::watch::channel(false);
        self.run_until(stop).await;
    }

    /// [`Scheduler::run`] until `stop` turns true; then hands back this instance's task
    /// leases, so another instance takes the tasks at its next tick.
    pub async fn run_until(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "scheduler run failed");
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(e) = self.store.release_task_leases(&self.owner).await {
            tracing::warn!(error = %e, "scheduler: task leases not handed back");
        }
    }

    async fn lease(&self, task: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.store
            .claim_task_lease(&format!("task:{task}"), &self.owner, now, TICK * 2)
            .await
    }

    /// Tickets nobody has taken for `[handoff] remind_after_minutes`: posted again to the
    /// staff channel with the configured mention, once each.
    async fn ticket_reminders(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let Some(target) = &self.providers.handoff else {
            return Ok(0);
        };
        let mut queued = 0;
        for ticket in self
            .store
            .tickets_to_remind(now - target.remind_after)
            .await?
        {
            let reminder = OutboxItem::new(
                format!("ticket:{}:remind", ticket.id.to_hex()),
                Job::TicketReminder {
                    ticket_id: ticket.id,
                },
                now,
            );
            if self
                .store
                .remind_of_ticket(ticket.id, reminder, now)
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Classes starting within the lead time that have not been reminded of yet.
    async fn class_reminders(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let until = now + ChronoDuration::minutes(i64::from(self.settings.class_lead_minutes));
        let classes: Vec<ClassSession> = self.store.classes_to_remind(now, until).await?;
        let mut queued = 0;
        for class in classes {
            let clients: Vec<Client> = self.store.clients_to_remind(class.course_id).await?;
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
            self.store.mark_class_reminded(class.id, now).await?;
        }
        Ok(queued)
    }

    /// Pending payments past their due date by the configured days (but not older than
    /// [`PAYMENT_REMINDER_WINDOW_DAYS`], so a first start does not remind of years of old
    /// debts), once each. The reminder itself is composed at delivery, with a payment link
    /// that works that day.
    async fn payment_reminders(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let cutoff = now - ChronoDuration::days(i64::from(self.settings.payment_overdue_days));
        let oldest = cutoff - ChronoDuration::days(PAYMENT_REMINDER_WINDOW_DAYS);
        let overdue: Vec<Payment> = self.store.payments_to_remind(oldest, cutoff).await?;
        let items: Vec<OutboxItem> = overdue
            .iter()
            .map(|p| {
                OutboxItem::new(
                    format!("reminder:payment:{}", p.id.to_hex()),
                    Job::PaymentReminder { payment_id: p.id },
                    now,
                )
            })
            .collect();
        self.store.enqueue(&items).await?;
        let ids: Vec<_> = overdue.iter().map(|p| p.id).collect();
        self.store.mark_payments_reminded(&ids, now).await?;
        Ok(items.len())
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
        let key = format!("digest:{}", local.date_naive());
        if self.store.outbox_item(&key).await?.is_some() {
            return Ok(0); // Sent today; no need to add up yesterday again.
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
            key,
            Job::Chat {
                platform: target.platform,
                channel: target.channel.clone(),
                text,
            },
            now,
        );
        Ok(self.store.enqueue(&[item]).await?)
    }

    /// Calendar events for the coming classes. Each class's key carries its revision
    /// (bumped by every update) and a digest of what the event shows, so every change — even
    /// back to an earlier state — is sent once, and an unchanged class is not sent again.
    async fn calendar(&self, now: DateTime<Utc>) -> Result<usize, DeliveryError> {
        let until = now + ChronoDuration::days(CALENDAR_DAYS);
        let classes = self.store.classes_with_revisions(now, until).await?;
        let mut wanted = Vec::with_capacity(classes.len());
        for (class, revision) in &classes {
            let shown = format!(
                "{}|{}|{}|{}|{}|{}",
                class.starts_at().timestamp(),
                class.ends_at().timestamp(),
                class.cancelled,
                class.course_name,
                class.instructor,
                class.room
            );
            let digest = Sha256::digest(shown.as_bytes());
            let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            let key = format!(
                "calendar:{}:{revision}:{short}",
                CalendarClient::event_id_for(&class.id)
            );
            wanted.push((key, class.id));
        }
        let keys: Vec<String> = wanted.iter().map(|(k, _)| k.clone()).collect();
        let existing = self.store.existing_outbox_keys(&keys).await?;
        let items: Vec<OutboxItem> = wanted
            .into_iter()
            .filter(|(k, _)| !existing.contains(k))
            .map(|(key, class_id)| OutboxItem::new(key, Job::CalendarUpsert { class_id }, now))
            .collect();
        Ok(self.store.enqueue(&items).await?)
    }
}
