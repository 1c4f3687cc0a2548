//! Linking a chat account to a client record, so a client sees their own orders and
//! payments: by sharing their phone contact (Telegram checks it is their own number), or
//! by email with a one-time code. Until then they are a guest.
//!
//! Commands (direct chats only): `/start`, `/link EMAIL`, the 6-digit code, `/unlink`.
//! The replies never reveal whether an email or phone number belongs to a client.

use chrono::{DateTime, Duration, Utc};
use frontdesk_chat::{Inbound, Outbound};
use rand::Rng;
use sha2::{Digest, Sha256};

use super::identity::account_key;
use crate::domain::{Email, Phone};
use crate::integrations::email::EmailSender;
use crate::store::{LinkCode, LinkedIdentity, Store, StoreError};
use crate::tools::{Caller, Role};

/// Wrong codes allowed before a code is thrown away.
pub const MAX_CODE_ATTEMPTS: u32 = 5;
/// How soon a new code may be asked for.
const RESEND_AFTER: Duration = Duration::seconds(60);

/// What linking needs from the gateway.
pub struct LinkingCtx<'a> {
    pub store: &'a Store,
    pub mailer: Option<&'a EmailSender>,
    pub studio_name: &'a str,
    pub now: DateTime<Utc>,
    pub code_minutes: u32,
}

/// Answers the message if it is part of linking; `None` lets the agent answer it.
///
/// # Errors
/// The database failed.
pub async fn handle(
    ctx: &LinkingCtx<'_>,
    inbound: &Inbound,
    caller: &Caller,
) -> Result<Option<Outbound>, StoreError> {
    if !inbound.is_direct || caller.role.is_staff() {
        return Ok(greeting_for_staff(ctx, inbound, caller));
    }
    let reply = |text: String| Some(Outbound::reply(inbound, text));
    if let Some(phone) = &inbound.contact_phone {
        return Ok(Some(link_by_phone(ctx, inbound, phone).await?));
    }
    let text = inbound.text.trim();
    let (command, rest) = split_command(text);
    match command.as_deref() {
        Some("/start") | Some("/help") => Ok(Some(welcome(ctx, inbound, caller))),
        Some("/link") => {
            if rest.is_empty() {
                return Ok(Some(how_to_link(inbound)));
            }
            Ok(reply(request_code(ctx, inbound, rest).await?))
        }
        Some("/unlink") => {
            let removed = ctx.store.unlink_identity(&account_key(inbound)).await?;
            Ok(reply(if removed {
                "Done: this chat is no longer linked to your client record. Share your phone number or send /link EMAIL to link it again.".to_owned()
            } else {
                "This chat is not linked to a client record.".to_owned()
            }))
        }
        _ if is_code(text) => match ctx
            .store
            .pending_link_code(&account_key(inbound), ctx.now)
            .await?
        {
            Some(pending) => Ok(reply(check_code(ctx, inbound, &pending, text).await?)),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Staff get a plain greeting for `/start`; every other message goes to their agent.
fn greeting_for_staff(
    ctx: &LinkingCtx<'_>,
    inbound: &Inbound,
    caller: &Caller,
) -> Option<Outbound> {
    let (command, _) = split_command(inbound.text.trim());
    match command.as_deref() {
        Some("/start") | Some("/help") if inbound.is_direct => Some(Outbound::reply(
            inbound,
            format!(
                "Hi {}! I'm the {} assistant. You're signed in as {}: ask me about clients, orders, classes, payments{}.",
                caller.name,
                ctx.studio_name,
                caller.role.as_str(),
                if caller.role >= Role::Manager { " and the studio's figures" } else { "" }
            ),
        )),
        _ => None,
    }
}

/// `("/link", "a@b.c")` from "/link a@b.c"; a bot suffix ("/link@frontdesk_bot") is dropped.
fn split_command(text: &str) -> (Option<String>, &str) {
    if !text.starts_with('/') {
        return (None, text);
    }
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let command = head.split('@').next().unwrap_or(head).to_lowercase();
    (Some(command), rest.trim())
}

fn is_code(text: &str) -> bool {
    text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit())
}

fn welcome(ctx: &LinkingCtx<'_>, inbound: &Inbound, caller: &Caller) -> Outbound {
    if caller.role == Role::Client {
        return Outbound::reply(
            inbound,
            format!(
                "Welcome back, {}! Ask me about your orders, payments, this week's classes, or enrolling in a course.",
                caller.name
            ),
        );
    }
    Outbound::reply(
        inbound,
        format!(
            "Hi! I'm the {} assistant. Ask me about our courses and this week's classes, or leave an enquiry.\n\n\
             Already a client? Tap \"Share my phone number\" below (or send /link followed by your email) to see your own orders and payments.",
            ctx.studio_name
        ),
    )
    .with_contact_request()
}

fn how_to_link(inbound: &Inbound) -> Outbound {
    Outbound::reply(
        inbound,
        "To link this chat to your client record, tap \"Share my phone number\" below, or send /link followed by the email address the studio has for you (for example /link priya@example.com).",
    )
    .with_contact_request()
}

async fn link_by_phone(
    ctx: &LinkingCtx<'_>,
    inbound: &Inbound,
    raw: &str,
) -> Result<Outbound, StoreError> {
    let not_found = |shown: &str| {
        Outbound::reply(
            inbound,
            format!("I couldn't find a client record with the number {shown}. Send /link followed by your email address to link by email instead, or ask at the front desk."),
        )
    };
    let Ok(phone) = Phone::parse(raw) else {
        return Ok(not_found(&mask_phone(raw)));
    };
    let Some(client) = ctx.store.client_by_phone(&phone).await? else {
        return Ok(not_found(&mask_phone(phone.as_str())));
    };
    ctx.store
        .link_identity(&LinkedIdentity {
            account: account_key(inbound),
            client_id: client.id,
            via: "phone".into(),
            linked_at: ctx.now,
        })
        .await?;
    tracing::info!(platform = %inbound.platform, "chat account linked by phone");
    Ok(linked_reply(inbound, client.name.first()))
}

fn linked_reply(inbound: &Inbound, first_name: &str) -> Outbound {
    Outbound::reply(
        inbound,
        format!("Thanks, {first_name}! This chat is now linked to your client record: ask me about your orders, payments or classes. Send /unlink to undo."),
    )
}

async fn request_code(
    ctx: &LinkingCtx<'_>,
    inbound: &Inbound,
    raw_email: &str,
) -> Result<String, StoreError> {
    let Ok(email) = Email::parse(raw_email) else {
        return Ok(format!(
            "\"{}\" doesn't look like an email address. Send /link followed by your email, for example /link priya@example.com.",
            raw_email.chars().take(80).collect::<String>()
        ));
    };
    let Some(mailer) = ctx.mailer else {
        return Ok("Linking by email isn't set up here yet. Please share your phone number instead (send /link to see the button), or ask at the front desk.".into());
    };
    let account = account_key(inbound);
    if let Some(pending) = ctx.store.pending_link_code(&account, ctx.now).await? {
        if ctx.now - pending.created_at < RESEND_AFTER {
            return Ok("I've just sent a code. Please check your inbox (and spam folder), or wait a minute to ask for a new one.".into());
        }
    }
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32));
    let client = ctx.store.client_by_email(&email).await?;
    let link = LinkCode {
        account: account.clone(),
        client_id: client.as_ref().map(|c| c.id),
        code_hash: code_hash(&account, &code),
        attempts: 0,
        created_at: ctx.now,
        expires_at: ctx.now + Duration::minutes(i64::from(ctx.code_minutes)),
    };
    ctx.store.save_link_code(&link).await?;
    if let Some(client) = &client {
        let body = format!(
            "Hi {},\n\nYour code to link your chat with {} is {code}. It is valid for {} minutes.\n\nIf you did not ask for this, ignore this email: nothing changes without the code.",
            client.name.first(),
            ctx.studio_name,
            ctx.code_minutes
        );
        let subject = format!("Your {} link code", ctx.studio_name);
        if let Err(e) = mailer.send(email.as_str(), &subject, &body).await {
            tracing::warn!(error = %e, "could not send a link code");
            ctx.store.drop_link_code(&account).await?;
            return Ok("I couldn't send the email just now. Please try again in a few minutes, or share your phone number instead.".into());
        }
    }
    Ok(format!(
        "If {} is the email the studio has for you, a 6-digit code is on its way. Reply here with the code within {} minutes.",
        mask_email(email.as_str()),
        ctx.code_minutes
    ))
}

async fn check_code(
    ctx: &LinkingCtx<'_>,
    inbound: &Inbound,
    pending: &LinkCode,
    code: &str,
) -> Result<String, StoreError> {
    let account = account_key(inbound);
    let matches = constant_time_eq(
        code_hash(&account, code).as_bytes(),
        pending.code_hash.as_bytes(),
    );
    if let (true, Some(client_id)) = (matches, pending.client_id) {
        ctx.store.drop_link_code(&account).await?;
        if let Some(client) = ctx.store.client_by_id(client_id).await? {
            ctx.store
                .link_identity(&LinkedIdentity {
                    account,
                    client_id,
                    via: "email".into(),
                    linked_at: ctx.now,
                })
                .await?;
            tracing::info!(platform = %inbound.platform, "chat account linked by email");
            return Ok(linked_reply(inbound, client.name.first()).text);
        }
    }
    let attempts = ctx.store.count_link_attempt(&account).await?;
    if attempts >= MAX_CODE_ATTEMPTS {
        ctx.store.drop_link_code(&account).await?;
        return Ok("That code didn't match, and that was the last try. Send /link followed by your email for a new code.".into());
    }
    let left = MAX_CODE_ATTEMPTS - attempts;
    Ok(format!(
        "That code didn't match. {left} {} left.",
        if left == 1 { "try" } else { "tries" }
    ))
}

/// The stored form of a code: bound to the account, so a code is worthless elsewhere.
fn code_hash(account: &str, code: &str) -> String {
    let digest = Sha256::digest(format!("{account}\u{0}{code}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// "p***@example.com".
#[must_use]
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// "•••• 3210": only the last four digits.
#[must_use]
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("ending {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_bot_suffix_and_case() {
        assert_eq!(
            split_command("/link a@b.co"),
            (Some("/link".into()), "a@b.co")
        );
        assert_eq!(
            split_command("/LINK@frontdesk_bot   a@b.co "),
            (Some("/link".into()), "a@b.co")
        );
        assert_eq!(split_command("/start"), (Some("/start".into()), ""));
        assert_eq!(split_command("link me"), (None, "link me"));
    }

    #[test]
    fn codes_are_six_ascii_digits() {
        assert!(is_code("012345"));
        assert!(!is_code("12345"));
        assert!(!is_code("1234567"));
        assert!(!is_code("12345a"));
        assert!(!is_code("１２３４５６"));
    }

    #[test]
    fn code_hashes_are_bound_to_the_account() {
        assert_eq!(
            code_hash("telegram:1", "123456"),
            code_hash("telegram:1", "123456")
        );
        assert_ne!(
            code_hash("telegram:1", "123456"),
            code_hash("telegram:2", "123456")
        );
        assert_ne!(
            code_hash("telegram:1", "123456"),
            code_hash("telegram:1", "123457")
        );
        assert_eq!(code_hash("a", "b").len(), 64);
    }

    #[test]
    fn masks_hide_all_but_a_hint() {
        assert_eq!(mask_email("priya@example.com"), "p***@example.com");
        assert_eq!(mask_phone("+919876543210"), "ending 3210");
        assert_eq!(mask_phone("12"), "ending 12");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
