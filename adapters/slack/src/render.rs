//! Turning an [`Outbound`] into the `chat.postMessage` payloads Slack accepts: `&`, `<` and
//! `>` escaped, text split so every escaped part stays within 4,000 characters, and a
//! [`Table`] rendered as Block Kit blocks (a two-column `fields` section for small tables, a
//! preformatted `rich_text` block otherwise).

use frontdesk_chat::{split_message, Outbound, Platform, Table};
use serde_json::{json, Value};

/// The longest `text` sent in one message.
pub(crate) const TEXT_LIMIT: usize = Platform::Slack.max_message_len();
/// The longest text of a section block.
pub(crate) const SECTION_LIMIT: usize = 3000;
/// The most blocks one message may carry.
pub(crate) const MAX_BLOCKS: usize = 50;
/// The longest text of a header block.
const HEADER_LIMIT: usize = 150;
/// The longest text of one section field.
const FIELD_LIMIT: usize = 2000;
/// The most fields one section may carry.
const MAX_FIELDS: usize = 10;
/// The notification text of a message that holds only a table without a title.
const TABLE_FALLBACK: &str = "Table";

/// One `chat.postMessage` call: the text (the notification fallback when blocks are present)
/// and optional blocks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlackMessage {
    pub(crate) text: String,
    pub(crate) blocks: Option<Vec<Value>>,
}

impl SlackMessage {
    /// The JSON body of `chat.postMessage` for this message.
    pub(crate) fn to_body(&self, channel: &str, thread: Option<&str>) -> Value {
        let mut body = json!({ "channel": channel, "text": self.text });
        if let Some(thread) = thread {
            body["thread_ts"] = json!(thread);
        }
        if let Some(blocks) = &self.blocks {
            body["blocks"] = json!(blocks);
        }
        body
    }
}

/// Escapes the three characters Slack's mrkdwn reserves.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes Slack's escaping of received message text.
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Splits `text` and escapes each part so that every escaped part has at most `limit`
/// characters. A part that grows past the limit when escaped is split again, smaller.
pub(crate) fn escaped_chunks(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    push_escaped_chunks(text, limit, limit, &mut out);
    out
}

fn push_escaped_chunks(text: &str, split_at: usize, limit: usize, out: &mut Vec<String>) {
    for chunk in split_message(text, split_at) {
        let escaped = escape(&chunk);
        let len = escaped.chars().count();
        if len <= limit || split_at <= 1 {
            out.push(escaped);
        } else {
            let smaller = (split_at.saturating_mul(limit) / len).clamp(1, split_at - 1);
            push_escaped_chunks(&chunk, smaller, limit, out);
        }
    }
}

/// Plans the messages for `out`: the text in parts of at most [`TEXT_LIMIT`] characters, or,
/// with a table, in parts of at most [`SECTION_LIMIT`] with the last one sent as a section
/// block followed by the table's blocks.
pub(crate) fn plan(out: &Outbound) -> Vec<SlackMessage> {
    let mut messages = plan_text(out);
    // A configured mention goes before the first part, as it is.
    if let (Some(mention), Some(first)) = (out.mention.as_deref(), messages.first_mut()) {
        first.text = format!("{mention} {}", first.text);
    }
    messages
}

fn plan_text(out: &Outbound) -> Vec<SlackMessage> {
    let Some(table) = out.table.as_ref() else {
        return escaped_chunks(&out.text, TEXT_LIMIT)
            .into_iter()
            .map(|text| SlackMessage { text, blocks: None })
            .collect();
    };
    let mut chunks = escaped_chunks(&out.text, SECTION_LIMIT);
    let last = chunks.pop();
    let mut messages: Vec<SlackMessage> = chunks
        .into_iter()
        .map(|text| SlackMessage { text, blocks: None })
        .collect();
    let mut blocks = Vec::new();
    if let Some(last) = &last {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": last } }));
    }
    blocks.extend(table_blocks(table, MAX_BLOCKS - blocks.len()));
    let text = match (last, &table.title) {
        (Some(last), _) => last,
        (None, Some(title)) if !title.trim().is_empty() => {
            escape_within(title.trim(), HEADER_LIMIT)
        }
        (None, _) => TABLE_FALLBACK.to_owned(),
    };
    if !blocks.is_empty() {
        messages.push(SlackMessage {
            text,
            blocks: Some(blocks),
        });
    }
    messages
}

/// Renders a table in at most `budget` blocks: a header with the title, then either a
/// `fields` section (exactly two columns and at most ten cells including the headings) or
/// preformatted `rich_text` blocks holding [`Table::to_text`].
pub(crate) fn table_blocks(table: &Table, budget: usize) -> Vec<Value> {
    let mut blocks = Vec::new();
    if let Some(title) = table.title.as_deref().map(str::trim) {
        if !title.is_empty() && budget > 0 {
            blocks.push(json!({
                "type": "header",
                "text": { "type": "plain_text", "text": truncate(title, HEADER_LIMIT), "emoji": true }
            }));
        }
    }
    let budget = budget - blocks.len();
    if budget == 0 || (table.columns.is_empty() && table.rows.is_empty()) {
        return blocks;
    }
    if let Some(fields) = two_column_fields(table) {
        blocks.push(json!({ "type": "section", "fields": fields }));
        return blocks;
    }
    let body = Table {
        title: None,
        ..table.clone()
    }
    .to_text();
    let pieces = split_message(&body, SECTION_LIMIT);
    if pieces.len() > budget {
        tracing::warn!(
            pieces = pieces.len(),
            budget,
            "table too long for one slack message; cut"
        );
    }
    blocks.extend(pieces.into_iter().take(budget).map(|piece| {
        json!({
            "type": "rich_text",
            "elements": [{
                "type": "rich_text_preformatted",
                "elements": [{ "type": "text", "text": piece }]
            }]
        })
    }));
    blocks
}

/// The cells of a two-column table as section fields, headings in bold; `None` when the
/// table is not two columns wide or has more cells than a section holds.
fn two_column_fields(table: &Table) -> Option<Vec<Value>> {
    let ncols = table
        .rows
        .iter()
        .map(Vec::len)
        .fold(table.columns.len(), usize::max);
    let header_rows = usize::from(!table.columns.is_empty());
    if ncols != 2 || table.rows.is_empty() || (header_rows + table.rows.len()) * 2 > MAX_FIELDS {
        return None;
    }
    let field = |text: String| json!({ "type": "mrkdwn", "text": text });
    let cell = |row: &[String], i: usize| {
        let text = row.get(i).map_or("", |c| c.trim());
        if text.is_empty() {
            "-".to_owned()
        } else {
            escape_within(text, FIELD_LIMIT - 2)
        }
    };
    let mut fields = Vec::with_capacity(MAX_FIELDS);
    if header_rows == 1 {
        for i in 0..2 {
            fields.push(field(format!("*{}*", cell(&table.columns, i))));
        }
    }
    for row in &table.rows {
        for i in 0..2 {
            fields.push(field(cell(row, i)));
        }
    }
    Some(fields)
}

/// Escapes `text`, cutting it so the escaped form has at most `max` characters (ending with
/// `…` when cut) without breaking an entity.
fn escape_within(text: &str, max: usize) -> String {
    let escaped = escape(text);
    if escaped.chars().count() <= max {
        return escaped;
    }
    let mut out = String::new();
    let mut len = 0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let piece = escape(c.encode_utf8(&mut buf));
        let piece_len = piece.chars().count();
        if len + piece_len >= max {
            break;
        }
        out.push_str(&piece);
        len += piece_len;
    }
    out.push('…');
    out
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
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

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn a_configured_mention_goes_first_as_it_is_and_typed_text_stays_escaped() {
        let mut out = Outbound::new("C_DESK", "a client wrote <!channel> & more");
        out.mention = Some("<!subteam^S0123>".into());
        let planned = plan(&out);
        assert_eq!(
            planned[0].text,
            "<!subteam^S0123> a client wrote &lt;!channel&gt; &amp; more"
        );
    }

    #[test]
    fn escapes_and_unescapes_the_reserved_characters() {
        assert_eq!(escape("a < b & c > d"), "a &lt; b &amp; c &gt; d");
        assert_eq!(unescape("a &lt; b &amp;lt; c &gt;"), "a < b &lt; c >");
        assert_eq!(unescape(&escape("<@U1> & <#C1>")), "<@U1> & <#C1>");
    }

    #[test]
    fn escaped_parts_stay_within_the_limit() {
        let text = "<&>".repeat(3000);
        let parts = escaped_chunks(&text, TEXT_LIMIT);
        assert!(parts.len() >= 9, "{}", parts.len());
        assert!(parts.iter().all(|p| chars(p) <= TEXT_LIMIT));
        let joined: String = parts.iter().map(|p| unescape(p)).collect();
        assert_eq!(joined, text);
        // Words with entities are never cut inside an entity.
        for part in &parts {
            assert!(!part.ends_with('&') && !part.ends_with("&l") && !part.ends_with("&am"));
        }
        let words = "a&b ".repeat(3000);
        let parts = escaped_chunks(&words, 100);
        assert!(parts.iter().all(|p| chars(p) <= 100));
        assert!(parts
            .iter()
            .all(|p| p.split_whitespace().all(|w| w == "a&amp;b")));
    }

    #[test]
    fn escape_within_never_cuts_an_entity() {
        assert_eq!(escape_within("a<b", 10), "a&lt;b");
        assert_eq!(escape_within("a<b", 5), "a…");
        assert_eq!(chars(&escape_within(&"<".repeat(3000), 1998)), 1997);
    }

    #[test]
    fn tiny_limit_terminates() {
        let parts = escaped_chunks("<<<<", 2);
        assert_eq!(parts, ["&lt;", "&lt;", "&lt;", "&lt;"]);
    }

    #[test]
    fn small_two_column_table_becomes_fields() {
        let table = Table::new(["Class", "Time"])
            .with_title("Monday")
            .with_row(["Yoga <beginners>", "09:00"])
            .with_row(["Pilates"]);
        let blocks = table_blocks(&table, MAX_BLOCKS);
        assert_eq!(
            json!(blocks),
            json!([
                { "type": "header", "text": { "type": "plain_text", "text": "Monday", "emoji": true } },
                { "type": "section", "fields": [
                    { "type": "mrkdwn", "text": "*Class*" },
                    { "type": "mrkdwn", "text": "*Time*" },
                    { "type": "mrkdwn", "text": "Yoga &lt;beginners&gt;" },
                    { "type": "mrkdwn", "text": "09:00" },
                    { "type": "mrkdwn", "text": "Pilates" },
                    { "type": "mrkdwn", "text": "-" }
                ]}
            ])
        );
    }

    #[test]
    fn wide_or_long_table_becomes_preformatted_rich_text() {
        let table = Table::new(["Class", "Time", "Spots"]).with_row(["Yoga", "09:00", "3"]);
        let blocks = table_blocks(&table, MAX_BLOCKS);
        assert_eq!(
            json!(blocks),
            json!([{ "type": "rich_text", "elements": [{
                "type": "rich_text_preformatted",
                "elements": [{ "type": "text", "text": table.to_text() }]
            }]}])
        );
        let mut long = Table::new(["a", "b"]);
        for i in 0..5 {
            long = long.with_row([i.to_string(), "x".to_owned()]);
        }
        assert_eq!(table_blocks(&long, MAX_BLOCKS)[0]["type"], "rich_text");
    }

    #[test]
    fn huge_table_respects_block_and_text_limits() {
        let mut table = Table::new(["Name", "Email", "Phone"]).with_title("x".repeat(500));
        for i in 0..20_000 {
            table = table.with_row([
                format!("client {i}"),
                format!("c{i}@example.com"),
                "1".into(),
            ]);
        }
        let out = Outbound::new("C1", "Here").with_table(table);
        let messages = plan(&out);
        assert_eq!(messages.len(), 1);
        let blocks = messages[0].blocks.as_ref().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert_eq!(
            chars(blocks[1]["text"]["text"].as_str().unwrap()),
            HEADER_LIMIT
        );
        for block in &blocks[2..] {
            let text = block["elements"][0]["elements"][0]["text"]
                .as_str()
                .unwrap();
            assert!(chars(text) <= SECTION_LIMIT);
        }
    }

    #[test]
    fn plan_puts_long_text_before_the_table() {
        let text = "word ".repeat(1000); // 5000 characters
        let out = Outbound::new("C1", text).with_table(Table::new(["a", "b"]).with_row(["1", "2"]));
        let messages = plan(&out);
        assert_eq!(messages.len(), 2);
        assert!(messages[0].blocks.is_none());
        assert!(chars(&messages[0].text) <= SECTION_LIMIT);
        let blocks = messages[1].blocks.as_ref().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        assert_eq!(blocks[0]["text"]["text"], messages[1].text.as_str());
        assert_eq!(blocks[1]["type"], "section");
        assert!(blocks[1]["fields"].is_array());
    }

    #[test]
    fn plan_without_text_uses_the_title_as_fallback() {
        let out = Outbound::new("C1", "").with_table(Table::new(["a"]).with_title("Mon & Tue"));
        let messages = plan(&out);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].text, "Mon &amp; Tue");
        assert!(plan(&Outbound::new("C1", "")).is_empty());
    }

    #[test]
    fn body_carries_thread_and_blocks_only_when_set() {
        let message = SlackMessage {
            text: "hi".into(),
            blocks: None,
        };
        assert_eq!(
            message.to_body("C1", None),
            json!({ "channel": "C1", "text": "hi" })
        );
        assert_eq!(
            message.to_body("C1", Some("1.2")),
            json!({ "channel": "C1", "text": "hi", "thread_ts": "1.2" })
        );
    }
}
