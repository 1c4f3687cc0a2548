//! Hand-offs in the chats: a staff member's message in a ticket's thread of the staff
//! channel goes to the person who asked (the first one claims the ticket and tells them
//! a person has joined; `/done` closes it and tells them so), and while a ticket is live,
//! that person's messages go into its thread instead of to the bot (a `/command` still
//! reaches the bot). Everything goes through the outbox, sealed, keyed by the platform
//! event, so a retried event relays nothing twice.

use frontdesk_chat::{Inbound, Outbound};

use super::identity;
use crate::config::GatewaySettings;
use crate::domain::SharedClock;
use crate::store::{Actor, Store, StoreError, Ticket, TicketStatus, Via};
use crate::telemetry::metrics::Metrics;
use crate::tools::{Caller, Role};

/// What the hand-off made of a message.
#[derive(Debug)]
pub(crate) enum Handled {
    /// Not a hand-off message: the bot answers it as usual.
    NotHandoff,
    /// Relayed (or closed the ticket); `reply` goes back where it was written.
    Relayed { reply: Option<Box<Outbound>> },
    /// In a ticket's thread, but from someone who may not answer through it.
    Ignored,
    /// Handled before (the same platform event).
    Duplicate,
}

/// Whether `text` closes the ticket.
fn closes(text: &str) -> bool {
    matches!(
        text.trim().to_lowercase().as_str(),
        "/done" | "done" | "✅" | "/close" | ":white_check_mark:"
    )
}

/// The store, auditing as `who` through the hand-off.
fn acting(store: &Store, inbound: &Inbound, role: Role, step: &str, clock: &SharedClock) -> Store {
    store.acting(Actor::new(
        identity::account_key(inbound),
        role.as_str(),
        Some(inbound.platform.to_string()),
        Via::new("gateway", format!("handoff: {step}")),
        clock.now(),
    ))
}

/// A staff member's message in the staff channel: when it is in a ticket's thread, it
/// goes to the person who asked.
///
/// # Errors
/// The database failed.
pub(crate) async fn from_staff(
    settings: &GatewaySettings,
    store: &Store,
    clock: &SharedClock,
    inbound: &Inbound,
) -> Result<Handled, StoreError> {
    let Some(target) = &settings.handoff else {
        return Ok(Handled::NotHandoff);
    };
    let Some(root) = inbound.thread.as_deref() else {
        return Ok(Handled::NotHandoff);
    };
    if inbound.platform != target.platform || inbound.channel != target.channel {
        return Ok(Handled::NotHandoff);
    }
    let Some(ticket) = store
        .ticket_by_staff_thread(inbound.platform.as_str(), &inbound.channel, root)
        .await?
    else {
        return Ok(Handled::NotHandoff);
    };
    let caller = identity::resolve_caller(settings, store, inbound).await?;
    if caller.role < Role::Staff {
        return Ok(Handled::Ignored);
    }
    let now = clock.now();
    let event = format!("{}:{}", inbound.platform, inbound.event_id);
    if !store
        .claim_event(
            &event,
            clock.wall(),
            chrono::Duration::hours(i64::from(settings.dedupe_hours)),
        )
        .await?
    {
        return Ok(Handled::Duplicate);
    }
    let who = inbound
        .user_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| caller.name.clone());
    let store = acting(store, inbound, caller.role, "staff reply", clock);
    let in_thread = |text: String| {
        let mut out = Outbound::new(inbound.channel.clone(), text);
        out.thread = Some(root.to_owned());
        Some(Box::new(out))
    };
    if ticket.status == TicketStatus::Closed {
        return Ok(Handled::Relayed {
            reply: in_thread(
                "This ticket is closed; nothing was sent. They can write again to open a new one."
                    .into(),
            ),
        });
    }
    if closes(&inbound.text) {
        // Closing tells the person, in the same write.
        let (_, changed) = store.close_ticket(ticket.id, &who, now).await?;
        if changed {
            Metrics::global().ticket("closed");
        }
        return Ok(Handled::Relayed {
            reply: in_thread(format!("Closed by {who}; {} was told.", ticket.requester)),
        });
    }
    // Taking the ticket, telling the person so and the message itself: one write.
    let said = format!("{who} (studio): {}", inbound.text.trim());
    if store
        .relay_staff_reply(ticket.id, &who, &said, &event, now)
        .await?
    {
        let metrics = Metrics::global();
        metrics.ticket("claimed");
        #[allow(clippy::cast_precision_loss)]
        let waited = (now - ticket.created_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics.ticket_first_reply_seconds.observe(waited);
    }
    Ok(Handled::Relayed { reply: None })
}

/// A message from the person of a live ticket (its event already claimed): it goes into
/// the ticket's thread and the bot stays quiet. A `/command` still reaches the bot.
///
/// # Errors
/// The database failed.
pub(crate) async fn from_client(
    settings: &GatewaySettings,
    store: &Store,
    clock: &SharedClock,
    inbound: &Inbound,
    caller: &Caller,
    event: &str,
) -> Result<Handled, StoreError> {
    // No staff channel, no thread to follow: no query on the way of every message.
    if settings.handoff.is_none()
        || !inbound.is_direct
        || inbound.text.trim_start().starts_with('/')
    {
        return Ok(Handled::NotHandoff);
    }
    let Some(ticket): Option<Ticket> = store
        .live_ticket_from(inbound.platform.as_str(), &inbound.channel, &inbound.user)
        .await?
    else {
        return Ok(Handled::NotHandoff);
    };
    let store = acting(store, inbound, caller.role, "client message", clock);
    store
        .relay(
            ticket.id,
            false,
            &format!("{}: {}", caller.name, inbound.text.trim()),
            event,
            clock.now(),
        )
        .await?;
    Ok(Handled::Relayed { reply: None })
}
