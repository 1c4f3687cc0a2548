//! Turning an [`Outbound`] into Discord message payloads: text split to 2000 characters, the
//! first part a reply to the asked-for message, a table as an embed, an image as an uploaded
//! attachment, and mentions never parsed (a reply can never ping `@everyone`).

use frontdesk_chat::{split_message, Outbound, Platform, Table};
use serde_json::{json, Value};

/// Discord's embed title limit, in characters.
pub(crate) const MAX_EMBED_TITLE: usize = 256;
/// Discord's embed description limit, in characters.
pub(crate) const MAX_EMBED_DESCRIPTION: usize = 4096;
/// The most characters of an image caption shown (in the image embed's description), so
/// that a table embed and an image embed together stay under Discord's 6000.
pub(crate) const MAX_CAPTION: usize = 1024;
/// The embed colour: a calm teal.
const EMBED_COLOUR: u32 = 0x2a_9d_8f;
/// A code fence, and the look-alike put in its place inside table cells so that a cell can
/// never close the block it sits in.
const FENCE: &str = "```";
const BROKEN_FENCE: &str = "`\u{200b}`\u{200b}`";

/// One message to create.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlannedMessage {
    pub content: String,
    /// The message id this one replies to (first part only).
    pub reply_to: Option<String>,
    /// Embeds other than the image's (the table).
    pub embeds: Vec<Value>,
    /// Whether the outbound image is uploaded with this message (last part only).
    pub image: Option<ImagePlan>,
}

/// How the image goes with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImagePlan {
    /// The upload's file name, safe for an `attachment://` URL.
    pub file_name: String,
    /// Whether an embed shows it (images only; other files are plain attachments).
    pub embed: bool,
    /// The caption, cut to [`MAX_CAPTION`].
    pub caption: Option<String>,
}

impl PlannedMessage {
    /// The JSON payload; `with_image: false` leaves the image out (and gives `None` when
    /// nothing else would be left to send).
    pub(crate) fn payload(&self, with_image: bool) -> Option<Value> {
        let mut embeds = self.embeds.clone();
        let image = self.image.as_ref().filter(|_| with_image);
        if let Some(image) = image.filter(|i| i.embed) {
            let mut embed =
                json!({ "image": { "url": format!("attachment://{}", image.file_name) } });
            if let Some(caption) = &image.caption {
                embed["description"] = json!(caption);
            }
            embeds.push(embed);
        }
        if self.content.is_empty() && embeds.is_empty() && image.is_none() {
            return None;
        }
        let mut payload = json!({
            "content": self.content,
            "allowed_mentions": { "parse": [] },
        });
        if let Some(id) = &self.reply_to {
            payload["message_reference"] = json!({ "message_id": id, "fail_if_not_exists": false });
        }
        if !embeds.is_empty() {
            payload["embeds"] = Value::Array(embeds);
        }
        if let Some(image) = image {
            payload["attachments"] = json!([{ "id": 0, "filename": image.file_name }]);
        }
        Some(payload)
    }
}

/// The messages that carry `out`, in order; empty when there is nothing to send.
pub(crate) fn plan(out: &Outbound) -> Vec<PlannedMessage> {
    let limit = Platform::Discord.max_message_len();
    let table_embed = out.table.as_ref().map(table_embed);
    let (text, embeds) = match table_embed {
        // The table does not fit an embed: send it as text, in code blocks.
        Some(None) => (out.text_with_table(), Vec::new()),
        Some(Some(embed)) => (out.text.clone(), vec![embed]),
        None => (out.text.clone(), Vec::new()),
    };
    let image = out.image.as_ref().map(|image| ImagePlan {
        file_name: safe_file_name(&image.file_name),
        embed: image.mime.starts_with("image/"),
        caption: image
            .caption
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| truncate(c, MAX_CAPTION)),
    });
    let mut parts: Vec<PlannedMessage> = split_message(&text, limit)
        .into_iter()
        .map(|content| PlannedMessage {
            content,
            reply_to: None,
            embeds: Vec::new(),
            image: None,
        })
        .collect();
    if parts.is_empty() {
        if embeds.is_empty() && image.is_none() {
            return parts;
        }
        parts.push(PlannedMessage {
            content: String::new(),
            reply_to: None,
            embeds: Vec::new(),
            image: None,
        });
    }
    let reply_to = out
        .reply_to_event
        .as_deref()
        .filter(|id| is_snowflake(id))
        .map(str::to_owned);
    if let Some(first) = parts.first_mut() {
        first.reply_to = reply_to;
    }
    if let Some(last) = parts.last_mut() {
        last.embeds = embeds;
        last.image = image;
    }
    parts
}

/// The table as an embed (title, and a code block of [`Table::to_text`]), or `None` when it
/// is too long for one.
fn table_embed(table: &Table) -> Option<Value> {
    let body = Table {
        title: None,
        ..table.clone()
    }
    .to_text()
    .replace(FENCE, BROKEN_FENCE);
    let mut embed = json!({ "color": EMBED_COLOUR });
    if !body.trim().is_empty() {
        let description = format!("{FENCE}\n{body}\n{FENCE}");
        if description.chars().count() > MAX_EMBED_DESCRIPTION {
            return None;
        }
        embed["description"] = json!(description);
    }
    let title = table
        .title
        .as_deref()
        .map(|t| t.replace(['\r', '\n'], " "))
        .filter(|t| !t.trim().is_empty());
    if let Some(title) = title {
        embed["title"] = json!(truncate(&title, MAX_EMBED_TITLE));
    }
    Some(embed)
}

/// At most `max` characters of `text`, ending in `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Whether `s` is a Discord id (a snowflake: decimal digits that fit a u64).
pub(crate) fn is_snowflake(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u64>().is_ok()
}

/// A file name made of `[A-Za-z0-9._-]` (others become `_`), at most 100 characters, never
/// empty, so that `attachment://NAME` points at the upload.
pub(crate) fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        return "image.png".to_owned();
    }
    let keep = cleaned.len().saturating_sub(100);
    cleaned[keep..].to_owned()
}

#[cfg(test)]
mod tests {
    use frontdesk_chat::Attachment;

    use super::*;

    fn embed_chars(embed: &Value) -> usize {
        ["title", "description"]
            .iter()
            .filter_map(|k| embed.get(*k).and_then(Value::as_str))
            .map(|s| s.chars().count())
            .sum()
    }

    #[test]
    fn plain_reply_references_the_message_and_parses_no_mentions() {
        let out = Outbound::new("42", "hi @everyone").with_reply_to_event("777");
        let parts = plan(&out);
        assert_eq!(parts.len(), 1);
        assert_eq!(
            parts[0].payload(true),
            Some(json!({
                "content": "hi @everyone",
                "allowed_mentions": { "parse": [] },
                "message_reference": { "message_id": "777", "fail_if_not_exists": false },
            }))
        );
    }

    #[test]
    fn a_reference_that_is_not_an_id_is_dropped() {
        let out = Outbound::new("42", "hi").with_reply_to_event("../../x");
        assert_eq!(plan(&out)[0].reply_to, None);
    }

    #[test]
    fn long_text_is_split_with_the_reference_first_and_the_table_last() {
        let text = "line of text\n".repeat(400);
        let out = Outbound::new("42", text.trim_end())
            .with_reply_to_event("9")
            .with_table(Table::new(["a"]).with_row(["1"]));
        let parts = plan(&out);
        assert!(parts.len() >= 3);
        for part in &parts {
            assert!(part.content.chars().count() <= 2000);
        }
        assert_eq!(parts[0].reply_to.as_deref(), Some("9"));
        assert!(parts[1..].iter().all(|p| p.reply_to.is_none()));
        assert!(parts[..parts.len() - 1].iter().all(|p| p.embeds.is_empty()));
        assert_eq!(parts.last().map(|p| p.embeds.len()), Some(1));
    }

    #[test]
    fn table_becomes_an_embed_with_a_code_block() {
        let table = Table::new(["Class", "Time"])
            .with_title("Monday")
            .with_row(["Yoga", "09:00"])
            .with_row(["Sneaky ``` fence", "10:00"]);
        let embed = table_embed(&table).unwrap();
        assert_eq!(embed["title"], "Monday");
        let description = embed["description"].as_str().unwrap();
        assert!(description.starts_with("```\nClass"), "{description}");
        assert!(description.ends_with("\n```"));
        assert_eq!(description.matches(FENCE).count(), 2, "{description}");
        assert!(!description.contains("Monday"));
    }

    #[test]
    fn table_embed_respects_every_limit() {
        let mut table = Table::new(["k", "v"]).with_title("T".repeat(1000));
        for i in 0..150 {
            table = table.with_row([format!("row {i}"), "x".repeat(10)]);
        }
        let embed = table_embed(&table).unwrap();
        assert_eq!(
            embed["title"].as_str().unwrap().chars().count(),
            MAX_EMBED_TITLE
        );
        assert!(embed["description"].as_str().unwrap().chars().count() <= MAX_EMBED_DESCRIPTION);
        assert!(embed_chars(&embed) <= 6000);
    }

    #[test]
    fn a_table_too_long_for_an_embed_is_sent_as_text() {
        let mut table = Table::new(["k", "v"]);
        for i in 0..400 {
            table = table.with_row([format!("row {i}"), "x".repeat(20)]);
        }
        let out = Outbound::new("1", "Schedule:").with_table(table);
        let parts = plan(&out);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.embeds.is_empty()));
        assert!(parts.iter().all(|p| p.content.chars().count() <= 2000));
        assert_eq!(parts[0].content, "Schedule:");
        assert!(
            parts[1].content.starts_with("```\nk"),
            "{}",
            parts[1].content
        );
        assert!(parts
            .iter()
            .skip(1)
            .all(|p| p.content.matches(FENCE).count() == 2));
    }

    #[test]
    fn image_is_attached_to_the_last_part_and_shown_in_an_embed() {
        let image =
            Attachment::new("week plan.png", "image/png", vec![1, 2, 3]).with_caption("Week");
        let out = Outbound::new("1", "").with_image(image);
        let parts = plan(&out);
        assert_eq!(parts.len(), 1);
        let payload = parts[0].payload(true).unwrap();
        assert_eq!(
            payload["attachments"],
            json!([{ "id": 0, "filename": "week_plan.png" }])
        );
        assert_eq!(
            payload["embeds"],
            json!([{ "image": { "url": "attachment://week_plan.png" }, "description": "Week" }])
        );
        // Without the image there is nothing left to send.
        assert_eq!(parts[0].payload(false), None);
    }

    #[test]
    fn nothing_to_send_gives_no_messages() {
        assert!(plan(&Outbound::new("1", "")).is_empty());
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name(""), "image.png");
        assert_eq!(safe_file_name("योग.png"), "___.png");
        assert_eq!(safe_file_name(&"a".repeat(300)).len(), 100);
    }

    #[test]
    fn snowflakes_are_decimal_u64() {
        assert!(is_snowflake("1100000000000000001"));
        assert!(!is_snowflake(""));
        assert!(!is_snowflake("12a"));
        assert!(!is_snowflake("99999999999999999999999"));
    }
}
