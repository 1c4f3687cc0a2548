//! Linking a chat account to a client record, so a client sees their own orders and
//! payments: by sharing their phone contact (Telegram checks it is their own number), or
//! by email with a one-time code. Until then they are a guest.
//!
//! Commands (direct chats only): `/start`, `/link EMAIL` (or `link EMAIL`: Slack keeps
//! `/` for its own commands), the 6-digit code, `/unlink`. The replies to `/link` never
//! reveal whether an email belongs to a client: the same words, at once, and the mail is
//! an outbox item written with the code (the worker sends it). A code is bound to the chat account, allows five guesses, and
//! codes are capped per account and per client per day.

use chrono::{DateTime, Duration, Utc};
use frontdesk_chat::{Inbound, Outbound, Platform};
use rand::Rng;
use sha2::{Digest, Sha256};

use super::identity::account_key;
use crate::domain::{Email, Phone};
use crate::integrations::email::EmailSender;
use crate::store::{LinkCode, LinkCodeMail, LinkedIdentity, Store, StoreError};
use crate::tools::{Caller, Role};

/// Guesses allowed at one code.
pub const MAX_CODE_ATTEMPTS: u32 = 5;
/// Codes one chat account may ask for in a day.
pub const MAX_CODES_PER_ACCOUNT_PER_DAY: u64 = 5;
/// Codes mailed to one client in a day, whoever asks: caps the guesses at any one
/// client's record at 5 × 5 a day however many accounts try.
pub const MAX_CODES_PER_CLIENT_PER_DAY: u64 = 5;
/// How soon a new code may be asked for.
const RESEND_AFTER: Duration = Duration::seconds(60);

/// What linking needs from the gateway.
pub struct LinkingCtx<'a> {
    pub store: &'a Store,
    pub mailer: Option<&'a EmailSender>,
    pub studio_name: &'a str,
    pub now: DateTime<Utc>,
    /// The real time, for what the database server expires (see `Clock::wall`).
    pub wall: DateTime<Utc>,
    pub code_minutes: u32,
}

/// The commands of the chats' menus (Telegram's `setMyCommands`), without their slash.
/// `/human` is read by the agent itself, so it works in every chat and through the API.
pub const MENU: &[(&str, &str)] = &[
    ("start", "Say hello and see what I can do"),
    ("help", "What you can ask me"),
    ("link", "Link this chat to your client record"),
    ("unlink", "Unlink this chat from your client record"),
    ("human", "Talk to a person at the studio"),
];

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
    let command = command.or_else(|| bare_command(text));
    let rest = if command.is_some() && !text.starts_with('/') {
        text.split_once(char::is_whitespace)
            .map_or("", |(_, r)| r.trim())
    } else {
        rest
    };
    match command.as_deref() {
        Some("/start") | Some("/help") => Ok(Some(welcome(ctx, inbound, caller))),
        Some("/link") => {
            if rest.is_empty() {
                return Ok(Some(how_to_link(inbound)));
            }
            Ok(reply(request_code(ctx, inbound, rest).await?))
        }
        Some("/unlink") => {
            let removed = audited(ctx, inbound, "client", "/unlink")
                .unlink_identity(&account_key(inbound))
                .await?;
            Ok(reply(if removed {
                "Done: this chat is no longer linked to your client record. Share your phone number or send /link EMAIL to link it again.".to_owned()
            } else {
                "This chat is not linked to a client record.".to_owned()
            }))
        }
        _ if is_code(text) => {
            let account = account_key(inbound);
            if ctx
                .store
                .pending_link_code(&account, ctx.now)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            Ok(reply(check_code(ctx, inbound, text).await?))
        }
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

/// "link priya@example.com" and "unlink" typed without a slash (Slack reserves `/` for
/// its own commands). "link" followed by anything but one email address is a question.
fn bare_command(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    if lower == "unlink" {
        return Some("/unlink".into());
    }
    let rest = lower.strip_prefix("link ")?.trim();
    (!rest.contains(char::is_whitespace) && Email::parse(rest).is_ok()).then(|| "/link".into())
}

fn is_code(text: &str) -> bool {
    text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit())
}

fn welcome(ctx: &LinkingCtx<'_>, inbound: &Inbound, caller: &Caller) -> Outbound {
    if caller.role == Role::Client {
        return Outbound::reply(
            inbound,
            format!(
                "Welcome back, {}! Ask me about your orders, payments, this week's classes, or enrolling in a course. To reach a person at the studio, send /human.",
                caller.name
            ),
        );
    }
    let how = if inbound.platform == Platform::Telegram {
        "Tap \"Share my phone number\" below, or send /link followed by your email,"
    } else {
        "Send \"link\" followed by the email the studio has for you"
    };
    with_contact_button(
        inbound,
        format!(
            "Hi! I'm the {} assistant. Ask me about our courses and this week's classes, leave an enquiry, or send /human to reach a person.\n\n\
             Already a client? {how} to see your own orders and payments.",
            ctx.studio_name
        ),
    )
}

fn how_to_link(inbound: &Inbound) -> Outbound {
    let text = if inbound.platform == Platform::Telegram {
        "To link this chat to your client record, tap \"Share my phone number\" below, or send /link followed by the email address the studio has for you (for example /link priya@example.com)."
    } else {
        "To link this chat to your client record, send \"link\" followed by the email address the studio has for you (for example: link priya@example.com). I'll email you a 6-digit code to reply with."
    };
    with_contact_button(inbound, text.to_owned())
}

/// The reply, with the share-contact button where the platform has one (Telegram).
fn with_contact_button(inbound: &Inbound, text: String) -> Outbound {
    let out = Outbound::reply(inbound, text);
    if inbound.platform == Platform::Telegram {
        out.with_contact_request()
    } else {
        out
    }
}

/// The store, auditing link changes in the name of the chat account.
fn audited(ctx: &LinkingCtx<'_>, inbound: &Inbound, role: &str, step: &str) -> Store {
    ctx.store.acting(crate::store::Actor::new(
        account_key(inbound),
        role,
        Some(inbound.platform.to_string()),
        crate::store::Via::new("gateway", format!("linking: {step}")),
        ctx.now,
    ))
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
    let mut found = ctx.store.clients_by_phone(&phone, 2).await?;
    if found.len() > 1 {
        // A number shared by several records (a family): linking by it would pick one
        // person at random. The email of the right record decides instead.
        return Ok(Outbound::reply(
            inbound,
            "That number belongs to more than one client record, so I can't tell which is yours. Please send /link followed by your own email address instead.",
        ));
    }
    let Some(client) = found.pop() else {
        return Ok(not_found(&mask_phone(phone.as_str())));
    };
    audited(ctx, inbound, "guest", "shared contact")
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
    if ctx.mailer.is_none() {
        return Ok("Linking by email isn't set up here yet. Please share your phone number instead (send /link to see the button), or ask at the front desk.".into());
    }
    let account = account_key(inbound);
    if let Some(pending) = ctx.store.pending_link_code(&account, ctx.now).await? {
        if ctx.now - pending.created_at < RESEND_AFTER {
            return Ok("I've just sent a code. Please check your inbox (and spam folder), or wait a minute to ask for a new one.".into());
        }
    }
    let client = ctx.store.client_by_email(&email).await?;
    let (by_account, by_client) = ctx
        .store
        .note_link_code_request(&account, client.as_ref().map(|c| c.id), ctx.now, ctx.wall)
        .await?;
    if by_account > MAX_CODES_PER_ACCOUNT_PER_DAY {
        return Ok("You've asked for several codes today. Please try again tomorrow, or ask at the front desk to link your account.".into());
    }
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32));
    // Over the per-client cap the code is stored but never mailed: it cannot be guessed
    // into a link, and the reply below stays the same.
    let mail_to = client.filter(|_| by_client <= MAX_CODES_PER_CLIENT_PER_DAY);
    let link = LinkCode {
        account: account.clone(),
        client_id: mail_to.as_ref().map(|c| c.id),
        code_hash: code_hash(&account, &code),
        attempts: 0,
        created_at: ctx.now,
        expires_at: ctx.now + Duration::minutes(i64::from(ctx.code_minutes)),
        forget_at: ctx.wall + Duration::minutes(i64::from(ctx.code_minutes)),
    };
    // The email leaves through the outbox, written with the code: the reply takes as long
    // whether or not the address is a client's. One item per platform event, so a retried
    // event queues one email.
    let key = format!("link_code:{account}:{}", inbound.event_id);
    let mail = mail_to.as_ref().map(|client| LinkCodeMail {
        key: &key,
        client_id: client.id,
        code: &code,
        minutes: ctx.code_minutes,
    });
    ctx.store.save_link_code_and_mail(&link, mail).await?;
    Ok(format!(
        "If {} is the email the studio has for you, a 6-digit code is on its way. Reply here with the code within {} minutes.",
        mask_email(email.as_str()),
        ctx.code_minutes
    ))
}

async fn check_code(
    ctx: &LinkingCtx<'_>,
    inbound: &Inbound,
    code: &str,
) -> Result<String, StoreError> {
    let account = account_key(inbound);
    let Some(pending) = ctx
        .store
        .take_link_attempt(&account, MAX_CODE_ATTEMPTS, ctx.now)
        .await?
    else {
        ctx.store.drop_link_code(&account).await?;
        return Ok(
            "That code has run out of tries. Send /link followed by your email for a new code."
                .into(),
        );
    };
    let matches = constant_time_eq(
        code_hash(&account, code).as_bytes(),
        pending.code_hash.as_bytes(),
    );
    if let (true, Some(client_id)) = (matches, pending.client_id) {
        ctx.store.drop_link_code(&account).await?;
        if let Some(client) = ctx.store.client_by_id(client_id).await? {
            audited(ctx, inbound, "guest", "email code")
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
    if pending.attempts >= MAX_CODE_ATTEMPTS {
        ctx.store.drop_link_code(&account).await?;
        return Ok("That code didn't match, and that was the last try. Send /link followed by your email for a new code.".into());
    }
    let left = MAX_CODE_ATTEMPTS - pending.attempts;
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
    crate::protect::mask::email(email)
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
    fn bare_link_commands_need_an_email() {
        assert_eq!(bare_command("link priya@example.com"), Some("/link".into()));
        assert_eq!(bare_command("Link Priya@Example.com"), Some("/link".into()));
        assert_eq!(bare_command("unlink"), Some("/unlink".into()));
        assert_eq!(bare_command("link me to the pilates page"), None);
        assert_eq!(bare_command("link a@b.co and c@d.co"), None);
        assert_eq!(bare_command("linked a@b.co"), None);
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
