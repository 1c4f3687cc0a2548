//! What delivering each kind of outbox [`Job`] means: a provider call for emails, SMS,
//! chat messages and calendar events; for an order confirmation, a payment receipt or a
//! cancellation notice, composing the message (with the payment link, made here when a
//! provider is set up) and queueing it on each channel that reaches the client — as new
//! outbox items with their own keys, so each channel is delivered, retried and counted
//! on its own.

use frontdesk_chat::{Outbound, Platform};

use super::calendar::{CalendarClient, CalendarEvent};
use super::messages::{self, Message};
use super::payments::{PaymentLinkRequest, PaymentProvider};
use super::worker::DeliveryError;
use super::{IntegrationError, Providers};
use crate::domain::{Client, ObjectId, OrderStatus, Payment, PaymentStatus, SharedClock};
use crate::store::{Job, OutboxItem, Store};

impl From<IntegrationError> for DeliveryError {
    fn from(e: IntegrationError) -> Self {
        Self {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

/// Delivers one item.
///
/// # Errors
/// Why it failed, and whether a retry may help.
pub async fn deliver(
    store: &Store,
    providers: &Providers,
    clock: &SharedClock,
    item: &OutboxItem,
) -> Result<(), DeliveryError> {
    match &item.job {
        Job::Email { to, subject, text } => {
            let email = providers
                .email
                .as_ref()
                .ok_or_else(|| DeliveryError::permanent("email (SendGrid) is not set up"))?;
            email.send_with_key(to, subject, text, &item.key).await?;
            Ok(())
        }
        Job::Sms { to, body } => {
            let sms = providers
                .sms
                .as_ref()
                .ok_or_else(|| DeliveryError::permanent("SMS (Twilio) is not set up"))?;
            sms.send(to, body).await?;
            Ok(())
        }
        Job::Chat {
            platform,
            channel,
            text,
        } => {
            let adapter = chat_adapter(providers, *platform)?;
            adapter
                .dyn_send(&Outbound::new(channel.clone(), text.clone()))
                .await
                .map_err(chat_failure)
        }
        Job::PostTicket { ticket_id } => post_ticket(store, providers, *ticket_id).await,
        Job::TicketReminder { ticket_id } => {
            remind_of_ticket(store, providers, clock, *ticket_id).await
        }
        Job::TicketRelay {
            ticket_id,
            to_client,
            text,
        } => relay(store, providers, *ticket_id, *to_client, text).await,
        Job::CalendarUpsert { class_id } => {
            let calendar = providers
                .calendar
                .as_ref()
                .ok_or_else(|| DeliveryError::permanent("Google Calendar is not set up"))?;
            let Some(class) = store.class_by_id(*class_id).await? else {
                return Err(DeliveryError::permanent(format!(
                    "class {class_id} no longer exists"
                )));
            };
            if class.cancelled {
                calendar
                    .delete_event(&CalendarClient::event_id_for(&class.id))
                    .await?;
                return Ok(());
            }
            let event = CalendarEvent {
                id: CalendarClient::event_id_for(&class.id),
                summary: class.course_name.clone(),
                description: format!("{} with {}", class.course_name, class.instructor),
                location: Some(class.room.clone()).filter(|r| !r.is_empty()),
                start: class.starts_at(),
                end: class.ends_at(),
                time_zone: providers.studio.utc_offset.to_string(),
            };
            calendar.upsert_event(&event).await?;
            Ok(())
        }
        Job::LinkCode {
            account,
            client_id,
            code,
            minutes,
        } => {
            let email = providers
                .email
                .as_ref()
                .ok_or_else(|| DeliveryError::permanent("email (SendGrid) is not set up"))?;
            let Some(client) = store.client_by_id(*client_id).await? else {
                return Ok(()); // Deleted since: nobody to tell.
            };
            let code = store
                .open_link_code(account, *client_id, code)
                .map_err(|e| DeliveryError::permanent(e.to_string()))?;
            let message =
                messages::link_code(&providers.studio.name, client.name.first(), &code, *minutes);
            email
                .send_with_key(
                    client.email.as_str(),
                    &message.subject,
                    &message.text,
                    &item.key,
                )
                .await?;
            Ok(())
        }
        Job::ConfirmOrder { order_id } => {
            confirm_order(store, providers, clock, item, *order_id).await
        }
        Job::AcknowledgeEnquiry { client_id, course } => {
            let Some(client) = store.client_by_id(*client_id).await? else {
                return Ok(());
            };
            let message = messages::enquiry_acknowledgement(
                &providers.studio,
                client.name.first(),
                course.as_deref(),
            );
            tell_client(store, providers, clock, &item.key, &client, &message, false).await
        }
        Job::PaymentReminder { payment_id } => {
            payment_reminder(store, providers, clock, item, *payment_id).await
        }
        Job::PaymentReceipt { payment_id } => {
            payment_receipt(store, providers, clock, item, *payment_id).await
        }
        Job::CancellationNotice { order_id } => {
            cancellation_notice(store, providers, clock, item, *order_id).await
        }
    }
}

async fn cancellation_notice(
    store: &Store,
    providers: &Providers,
    clock: &SharedClock,
    item: &OutboxItem,
    order_id: ObjectId,
) -> Result<(), DeliveryError> {
    let Some(order) = store.order_by_id(order_id).await? else {
        return Err(DeliveryError::permanent(format!(
            "order {order_id} no longer exists"
        )));
    };
    if order.status != OrderStatus::Cancelled {
        return Ok(()); // Not cancelled after all: nothing to tell.
    }
    let Some(client) = store.client_by_id(order.client_id).await? else {
        return Ok(()); // Deleted since: nobody to tell.
    };
    let message = messages::order_cancellation(
        &providers.studio,
        client.name.first(),
        &order.course_name,
        order.number,
        order.amount,
    );
    tell_client(store, providers, clock, &item.key, &client, &message, false).await
}

async fn confirm_order(
    store: &Store,
    providers: &Providers,
    clock: &SharedClock,
    item: &OutboxItem,
    order_id: ObjectId,
) -> Result<(), DeliveryError> {
    let Some(order) = store.order_by_id(order_id).await? else {
        return Err(DeliveryError::permanent(format!(
            "order {order_id} no longer exists"
        )));
    };
    if order.status == OrderStatus::Cancelled {
        return Ok(()); // Cancelled before the confirmation left: nothing to confirm.
    }
    let Some(payment) = store.payments_for_order(order.id).await?.into_iter().next() else {
        return Err(DeliveryError::permanent(format!(
            "order {} has no payment",
            order.number
        )));
    };
    if payment.status != PaymentStatus::Pending {
        return Ok(()); // Already paid: the receipt says it all.
    }
    let Some(client) = store.client_by_id(order.client_id).await? else {
        return Ok(()); // Deleted since: nobody to tell.
    };
    let link = payment_link(store, providers, &payment, &client, &item.key, false).await?;
    let message = messages::order_confirmation(
        &providers.studio,
        client.name.first(),
        &order.course_name,
        order.number,
        payment.amount,
        payment.due_at,
        link.as_deref(),
    );
    tell_client(store, providers, clock, &item.key, &client, &message, false).await
}

/// A payment link for a pending payment, made when a provider is set up. The stored link
/// is reused unless `fresh` (Stripe sessions expire after 24 hours; reminders need one
/// that works today). A link the provider refuses for good (a zero amount, a contact it
/// will not take) is logged and the message goes without it ("pay at the desk"); a
/// passing failure is retried.
async fn payment_link(
    store: &Store,
    providers: &Providers,
    payment: &Payment,
    client: &Client,
    key: &str,
    fresh: bool,
) -> Result<Option<String>, DeliveryError> {
    let Some(provider) = &providers.payments else {
        return Ok(None);
    };
    let expires = matches!(provider, PaymentProvider::Stripe(_));
    if let Some(url) = &payment.link_url {
        if !(fresh && expires) {
            return Ok(Some(url.clone()));
        }
    }
    let description = format!("{} — order {}", payment.course_name, payment.order_number);
    let made = provider
        .create_link(&PaymentLinkRequest {
            payment_id: payment.id,
            order_number: payment.order_number,
            amount: payment.amount,
            description: &description,
            customer_name: client.name.as_str(),
            customer_email: client.email.as_str(),
            customer_phone: client.phone.as_ref().map(|p| p.as_str()),
            idempotency_key: &format!("{key}:link"),
        })
        .await;
    match made {
        Ok(link) => {
            store
                .set_payment_link(payment.id, &link.provider_ref, &link.url)
                .await?;
            Ok(Some(link.url))
        }
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(e) => {
            tracing::error!(error = %e, order = %payment.order_number, "payment link refused; the client is asked to pay at the desk");
            Ok(None)
        }
    }
}

async fn payment_reminder(
    store: &Store,
    providers: &Providers,
    clock: &SharedClock,
    item: &OutboxItem,
    payment_id: ObjectId,
) -> Result<(), DeliveryError> {
    let Some(payment) = store.payment_by_id(payment_id).await? else {
        return Ok(());
    };
    if payment.status != PaymentStatus::Pending {
        return Ok(()); // Paid (or cancelled) since it was queued.
    }
    let Some(client) = store.client_by_id(payment.client_id).await? else {
        return Ok(());
    };
    let link = payment_link(store, providers, &payment, &client, &item.key, true).await?;
    let message = messages::payment_reminder(
        &providers.studio,
        client.name.first(),
        &payment.course_name,
        payment.order_number,
        payment.amount,
        payment.due_at,
        link.as_deref(),
    );
    tell_client(store, providers, clock, &item.key, &client, &message, true).await
}

async fn payment_receipt(
    store: &Store,
    providers: &Providers,
    clock: &SharedClock,
    item: &OutboxItem,
    payment_id: ObjectId,
) -> Result<(), DeliveryError> {
    let Some(payment) = store.payment_by_id(payment_id).await? else {
        return Err(DeliveryError::permanent(format!(
            "payment {payment_id} no longer exists"
        )));
    };
    let Some(client) = store.client_by_id(payment.client_id).await? else {
        return Ok(());
    };
    let message = messages::payment_receipt(
        &providers.studio,
        client.name.first(),
        &payment.course_name,
        payment.order_number,
        payment.amount,
        payment.paid_at.unwrap_or_else(|| clock.now()),
        payment.provider_ref.as_deref(),
    );
    tell_client(store, providers, clock, &item.key, &client, &message, false).await
}

/// Queues `message` to the client: on their linked Telegram chat, and by email when email
/// is set up; with `sms_if_no_chat` (reminders), by SMS when there is no linked chat. Each channel is
/// its own outbox item keyed `{key}:{channel}`, so a repeat queues nothing new.
///
/// # Errors
/// The database failed.
pub async fn tell_client(
    store: &Store,
    providers: &Providers,
    clock: &SharedClock,
    key: &str,
    client: &Client,
    message: &Message,
    sms_if_no_chat: bool,
) -> Result<(), DeliveryError> {
    let now = clock.now();
    let mut items = Vec::new();
    let chat = store
        .linked_accounts(client.id)
        .await?
        .into_iter()
        .find_map(|link| link.account.strip_prefix("telegram:").map(str::to_owned));
    if let Some(chat) = &chat {
        items.push(OutboxItem::new(
            format!("{key}:telegram"),
            Job::Chat {
                platform: Platform::Telegram,
                channel: chat.clone(),
                text: message.text.clone(),
            },
            now,
        ));
    }
    if providers.email.is_some() {
        items.push(OutboxItem::new(
            format!("{key}:email"),
            Job::Email {
                to: client.email.as_str().to_owned(),
                subject: message.subject.clone(),
                text: message.text.clone(),
            },
            now,
        ));
    }
    if sms_if_no_chat && chat.is_none() && providers.sms.is_some() {
        if let Some(phone) = &client.phone {
            items.push(OutboxItem::new(
                format!("{key}:sms"),
                Job::Sms {
                    to: phone.as_str().to_owned(),
                    body: message.text.clone(),
                },
                now,
            ));
        }
    }
    store.enqueue(&items).await?;
    Ok(())
}

/// Posts a new ticket to the staff channel and remembers its thread; a ticket already
/// posted (a retry after the post went out) or closed meanwhile is left alone.
async fn post_ticket(
    store: &Store,
    providers: &Providers,
    ticket_id: ObjectId,
) -> Result<(), DeliveryError> {
    let Some(target) = &providers.handoff else {
        tracing::debug!("no hand-off channel: the ticket is only listed");
        return Ok(());
    };
    let Some(ticket) = store.ticket_by_id(ticket_id).await? else {
        return Err(DeliveryError::permanent(format!(
            "ticket {ticket_id} no longer exists"
        )));
    };
    if ticket.staff_thread.is_some() || ticket.status == crate::store::TicketStatus::Closed {
        return Ok(());
    }
    let adapter = chat_adapter(providers, target.platform)?;
    let root = adapter
        .dyn_post(&Outbound::new(target.channel.clone(), staff_post(&ticket)))
        .await
        .map_err(chat_failure)?;
    // Only a platform that names the post (Slack's `ts`) gives the ticket a thread; a
    // ticket without one stays out of the relay, so the person keeps talking to the bot.
    let Some(root) = root.filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    store
        .set_staff_thread(
            ticket.id,
            &crate::store::StaffThread {
                platform: target.platform.as_str().to_owned(),
                channel: target.channel.clone(),
                root,
            },
        )
        .await?;
    Ok(())
}

/// A ticket as the staff channel shows it: who asked, where, and what they said (emails
/// and phone numbers masked: a channel is wider than one person), and how to settle it.
fn staff_post(ticket: &crate::store::Ticket) -> String {
    let place = ticket.origin.as_ref().map_or_else(
        || "over the API".to_owned(),
        |o| format!("on {} (chat {})", o.platform, o.channel),
    );
    let said = crate::protect::mask::text(ticket.reason.trim());
    format!(
        "*{} asked for a person* {place}:\n> {}\nReply in this thread to answer them there (the first reply takes the ticket); send /done here when it is settled. Ticket {}.",
        ticket.requester,
        said.replace('\n', "\n> "),
        ticket.id.to_hex(),
    )
}

/// The running adapter of `platform`; not running (yet) is worth a retry.
fn chat_adapter(
    providers: &Providers,
    platform: Platform,
) -> Result<std::sync::Arc<dyn frontdesk_chat::DynChatAdapter>, DeliveryError> {
    providers
        .chat
        .get(platform)
        .ok_or_else(|| DeliveryError::retry(format!("the {platform} adapter is not running")))
}

/// A chat platform's refusal or outage as a delivery outcome.
fn chat_failure(e: frontdesk_chat::AdapterError) -> DeliveryError {
    match e {
        frontdesk_chat::AdapterError::Transport(_)
        | frontdesk_chat::AdapterError::RateLimited { .. } => DeliveryError::retry(e.to_string()),
        other => DeliveryError::permanent(other.to_string()),
    }
}

/// Delivers a message of a hand-off: to the chat the person asked from, or into the
/// ticket's staff thread.
async fn relay(
    store: &Store,
    providers: &Providers,
    ticket_id: ObjectId,
    to_client: bool,
    sealed: &crate::protect::Sealed,
) -> Result<(), DeliveryError> {
    let Some(ticket) = store.ticket_by_id(ticket_id).await? else {
        return Err(DeliveryError::permanent(format!(
            "ticket {ticket_id} no longer exists"
        )));
    };
    let text = store
        .keys()
        .open(sealed, &crate::store::relay_context(ticket_id))
        .map_err(|e| {
            DeliveryError::permanent(format!("a relayed message could not be opened: {e}"))
        })?;
    let (platform, channel, thread) = if to_client {
        let origin = ticket
            .origin
            .ok_or_else(|| DeliveryError::permanent("the ticket has no chat to answer in"))?;
        (origin.platform, origin.channel, origin.thread)
    } else {
        let thread = ticket
            .staff_thread
            .ok_or_else(|| DeliveryError::retry("the ticket is not posted to the staff yet"))?;
        (thread.platform, thread.channel, Some(thread.root))
    };
    let platform: Platform = platform
        .parse()
        .map_err(|_| DeliveryError::permanent(format!("{platform:?} is not a chat platform")))?;
    let adapter = chat_adapter(providers, platform)?;
    let mut out = Outbound::new(channel, text);
    out.thread = thread.filter(|t| !t.is_empty());
    adapter.dyn_send(&out).await.map_err(chat_failure)
}

/// Posts a ticket nobody has taken again, calling the configured group; a ticket taken
/// or closed meanwhile is left alone.
async fn remind_of_ticket(
    store: &Store,
    providers: &Providers,
    clock: &SharedClock,
    ticket_id: ObjectId,
) -> Result<(), DeliveryError> {
    let Some(target) = &providers.handoff else {
        return Ok(());
    };
    let Some(ticket) = store.ticket_by_id(ticket_id).await? else {
        return Ok(());
    };
    if ticket.status != crate::store::TicketStatus::Open {
        return Ok(());
    }
    let minutes = (clock.now() - ticket.created_at).num_minutes().max(1);
    let mut out = Outbound::new(
        target.channel.clone(),
        format!(
            "{} has been waiting {minutes} minutes for a person: answer in the ticket's thread (ticket {}).",
            ticket.requester,
            ticket.id.to_hex()
        ),
    );
    out.mention = Some(target.mention.clone()).filter(|m| !m.is_empty());
    let adapter = chat_adapter(providers, target.platform)?;
    adapter.dyn_send(&out).await.map_err(chat_failure)
}
