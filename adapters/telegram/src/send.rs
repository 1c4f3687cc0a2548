//! Delivering an [`Outbound`]: MarkdownV2 text parts, the optional photo, the reply
//! reference, the thread and the "share my phone number" keyboard, each request paced per
//! chat and retried after a 429.

use frontdesk_chat::{retry_rate_limited, AdapterError, Attachment, Outbound, Pacer, Platform};
use teloxide::payloads::{SendMessageSetters, SendPhotoSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    ButtonRequest, ChatId, InputFile, KeyboardButton, KeyboardMarkup, MessageId, ParseMode,
    Recipient, ReplyMarkup, ReplyParameters, ThreadId,
};
use teloxide::Bot;

use crate::errors::adapter_error;
use crate::markdown::{escape_markdown_v2, render_parts};

/// The longest photo caption Telegram accepts, in characters.
pub const MAX_CAPTION_LEN: usize = 1024;

/// The label of the contact-sharing button.
pub const SHARE_CONTACT_LABEL: &str = "Share my phone number";

/// The text sent with the contact button when the reply has no text of its own.
const SHARE_CONTACT_PROMPT: &str = "Please tap the button below to share your phone number.";

/// Where and how one message goes: shared by every request of an [`Outbound`].
struct Target {
    chat: Recipient,
    thread: Option<ThreadId>,
    reply_to: Option<MessageId>,
}

/// How a photo is captioned.
#[derive(Clone)]
enum Caption<'a> {
    /// The image's own caption, plain text cut to the limit.
    Plain(Option<&'a str>),
    /// The message's text, already MarkdownV2 and within the limit.
    Markdown(String),
}

/// Sends `out` as one or more messages: text parts first, then the photo. When the whole
/// text fits in a caption (1024 characters) and there is an image, one photo carries the
/// text as its caption instead.
///
/// The reply reference goes on the first message only; the contact keyboard on the last.
pub async fn send_outbound(bot: &Bot, pacer: &Pacer, out: &Outbound) -> Result<(), AdapterError> {
    let target = Target {
        chat: recipient(&out.channel)?,
        thread: out.thread.as_deref().map(thread_id).transpose()?,
        reply_to: out
            .reply_to_event
            .as_deref()
            .and_then(|event| reply_message_id(event, &out.channel)),
    };
    let text = out.text_with_table();
    if let (Some(image), Some(caption)) = (&out.image, caption_for(&text)) {
        pacer.wait_turn(&out.channel).await;
        return retry_rate_limited(|| {
            send_photo(
                bot,
                &target,
                image,
                Caption::Markdown(caption.clone()),
                true,
                out.request_contact,
            )
        })
        .await;
    }
    let mut parts = if text.trim().is_empty() {
        Vec::new()
    } else {
        render_parts(&text, Platform::Telegram.max_message_len())
    };
    if parts.is_empty() && out.request_contact && out.image.is_none() {
        parts.push(escape_markdown_v2(SHARE_CONTACT_PROMPT));
    }
    if parts.is_empty() && out.image.is_none() {
        return Err(AdapterError::Rejected("empty message".to_owned()));
    }
    let sends = parts.len() + usize::from(out.image.is_some());
    for (i, part) in parts.iter().enumerate() {
        let first = i == 0;
        let keyboard = out.request_contact && i + 1 == sends;
        pacer.wait_turn(&out.channel).await;
        retry_rate_limited(|| send_text(bot, &target, part, first, keyboard)).await?;
    }
    if let Some(image) = &out.image {
        pacer.wait_turn(&out.channel).await;
        let first = parts.is_empty();
        let caption = Caption::Plain(image.caption.as_deref());
        retry_rate_limited(|| {
            send_photo(
                bot,
                &target,
                image,
                caption.clone(),
                first,
                out.request_contact,
            )
        })
        .await?;
    }
    Ok(())
}

/// Sends one MarkdownV2 text part.
async fn send_text(
    bot: &Bot,
    target: &Target,
    text: &str,
    first: bool,
    keyboard: bool,
) -> Result<(), AdapterError> {
    let mut request = bot
        .send_message(target.chat.clone(), text)
        .parse_mode(ParseMode::MarkdownV2);
    if let Some(thread) = target.thread {
        request = request.message_thread_id(thread);
    }
    if let (true, Some(id)) = (first, target.reply_to) {
        request = request.reply_parameters(reply_parameters(id));
    }
    if keyboard {
        request = request.reply_markup(contact_keyboard());
    }
    request.await.map(drop).map_err(adapter_error)
}

/// The message text as a MarkdownV2 caption when it is not empty and fits in one.
fn caption_for(text: &str) -> Option<String> {
    if text.trim().is_empty() || text.chars().count() > MAX_CAPTION_LEN {
        return None;
    }
    let mut parts = render_parts(text, Platform::Telegram.max_message_len()).into_iter();
    match (parts.next(), parts.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Sends the image as a photo with a caption: the image's own (plain text, cut to 1024
/// characters) or the message text (MarkdownV2).
async fn send_photo(
    bot: &Bot,
    target: &Target,
    image: &Attachment,
    caption: Caption<'_>,
    first: bool,
    keyboard: bool,
) -> Result<(), AdapterError> {
    let file = InputFile::memory(image.bytes.clone()).file_name(image.file_name.clone());
    let mut request = bot.send_photo(target.chat.clone(), file);
    match caption {
        Caption::Plain(Some(caption)) if !caption.trim().is_empty() => {
            request = request.caption(truncate_chars(caption, MAX_CAPTION_LEN));
        }
        Caption::Plain(_) => {}
        Caption::Markdown(text) => {
            request = request.caption(text).parse_mode(ParseMode::MarkdownV2);
        }
    }
    if let Some(thread) = target.thread {
        request = request.message_thread_id(thread);
    }
    if let (true, Some(id)) = (first, target.reply_to) {
        request = request.reply_parameters(reply_parameters(id));
    }
    if keyboard {
        request = request.reply_markup(contact_keyboard());
    }
    request.await.map(drop).map_err(adapter_error)
}

/// Answers a message, still sending if that message was deleted meanwhile.
fn reply_parameters(id: MessageId) -> ReplyParameters {
    ReplyParameters {
        allow_sending_without_reply: Some(true),
        ..ReplyParameters::new(id)
    }
}

/// A one-time keyboard with a single "share my phone number" button.
#[must_use]
pub fn contact_keyboard() -> ReplyMarkup {
    let button = KeyboardButton::new(SHARE_CONTACT_LABEL).request(ButtonRequest::Contact);
    ReplyMarkup::Keyboard(
        KeyboardMarkup::new(vec![vec![button]])
            .one_time_keyboard()
            .resize_keyboard(),
    )
}

/// Parses a chat id (`123`, `-100123`) or a public channel name (`@studio`).
fn recipient(channel: &str) -> Result<Recipient, AdapterError> {
    let channel = channel.trim();
    if let Ok(id) = channel.parse::<i64>() {
        return Ok(Recipient::Id(ChatId(id)));
    }
    if channel.len() > 1 && channel.starts_with('@') {
        return Ok(Recipient::ChannelUsername(channel.to_owned()));
    }
    Err(AdapterError::Rejected(format!(
        "`{channel}` is not a telegram chat id"
    )))
}

/// Parses a forum topic id.
fn thread_id(thread: &str) -> Result<ThreadId, AdapterError> {
    thread
        .trim()
        .parse::<i32>()
        .map(|id| ThreadId(MessageId(id)))
        .map_err(|_| AdapterError::Rejected(format!("`{thread}` is not a telegram topic id")))
}

/// Takes the message id from an event id `"{chat_id}:{message_id}"` of the same chat.
///
/// An event of another chat, or one not in that form, gives `None`: the message is still sent,
/// just not as a reply.
#[must_use]
pub fn reply_message_id(event_id: &str, channel: &str) -> Option<MessageId> {
    let (chat, message) = event_id.rsplit_once(':')?;
    if chat.trim() != channel.trim() {
        return None;
    }
    message.trim().parse::<i32>().ok().map(MessageId)
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_id_comes_from_the_same_chat_only() {
        assert_eq!(reply_message_id("-100:77", "-100"), Some(MessageId(77)));
        assert_eq!(reply_message_id("42:5", "43"), None);
        assert_eq!(reply_message_id("garbage", "42"), None);
        assert_eq!(reply_message_id("42:x", "42"), None);
    }

    #[test]
    fn recipients() {
        assert_eq!(recipient("-1001").unwrap(), Recipient::Id(ChatId(-1001)));
        assert_eq!(
            recipient("@studio").unwrap(),
            Recipient::ChannelUsername("@studio".into())
        );
        assert!(recipient("C123").is_err());
        assert!(thread_id("x").is_err());
    }

    #[test]
    fn captions_are_cut_to_the_limit() {
        let long = "é".repeat(2000);
        let cut = truncate_chars(&long, MAX_CAPTION_LEN);
        assert_eq!(cut.chars().count(), MAX_CAPTION_LEN);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_chars("short", MAX_CAPTION_LEN), "short");
    }
}
