//! Rendering a reply as Telegram MarkdownV2, cut into parts that fit the message limit.
//!
//! Text is shown literally: every character MarkdownV2 reserves is escaped, so `*`, `_` or a
//! price like `1,500.00 (50% off!)` arrive exactly as written. Fenced code blocks (which is
//! how [`Outbound::text_with_table`](frontdesk_chat::Outbound::text_with_table) carries a
//! table) become `pre` blocks, inside which only `` ` `` and `\` are escaped. Fences are
//! recognised exactly as [`split_message`] recognises them, so a block it closes and reopens
//! across parts stays a block.

use frontdesk_chat::split_message;

/// The characters MarkdownV2 reserves outside code, plus the escape character itself.
const RESERVED: &[char] = &[
    '_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!', '\\',
];

/// The code fence marker.
const FENCE: &str = "```";

/// Escapes text for MarkdownV2 outside code: every reserved character gets a `\`.
#[must_use]
pub fn escape_markdown_v2(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes text for a MarkdownV2 `pre` or `code` entity: only `` ` `` and `\`.
#[must_use]
pub fn escape_pre(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '`' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Renders light-markdown text as MarkdownV2: literal text, fenced blocks as `pre` blocks.
///
/// A block left open at the end is closed.
#[must_use]
pub fn render_markdown_v2(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut in_block = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let ending = &line[content.len()..];
        let trimmed = content.trim();
        if in_block {
            if trimmed.len() >= FENCE.len() && trimmed.bytes().all(|b| b == b'`') {
                out.push_str(FENCE);
                in_block = false;
            } else {
                out.push_str(&escape_pre(content));
            }
        } else {
            match trimmed.strip_prefix(FENCE) {
                Some(tag) if !tag.contains(FENCE) => {
                    out.push_str(FENCE);
                    out.extend(tag.chars().filter(char::is_ascii_alphanumeric));
                    in_block = true;
                }
                _ => out.push_str(&escape_markdown_v2(content)),
            }
        }
        out.push_str(ending);
    }
    if in_block {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(FENCE);
    }
    out
}

/// The length Telegram may count: UTF-16 code units, never fewer than characters.
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Cuts `text` with [`split_message`] and renders each part as MarkdownV2 so that every
/// rendered part is at most `limit` UTF-16 units (so also at most `limit` characters).
///
/// The first cut is made at `limit` shrunk by how much escaping grows the whole text; a part
/// that still renders too long (it held more reserved characters than average) is cut again
/// more finely.
#[must_use]
pub fn render_parts(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(2);
    let plain = units(text);
    if plain == 0 {
        return Vec::new();
    }
    let rendered = units(&render_markdown_v2(text)).max(1);
    let first = scaled(limit, plain, rendered);
    let mut parts = Vec::new();
    for chunk in split_message(text, first) {
        push_fitting(&chunk, limit, &mut parts);
    }
    parts
}

/// `limit * plain / rendered`, at least 1 and at most `limit`.
fn scaled(limit: usize, plain: usize, rendered: usize) -> usize {
    let wide = (limit as u128 * plain as u128) / rendered.max(1) as u128;
    usize::try_from(wide).unwrap_or(limit).clamp(1, limit)
}

/// Renders `chunk`, cutting it smaller until every piece fits `limit`.
fn push_fitting(chunk: &str, limit: usize, parts: &mut Vec<String>) {
    let rendered = render_markdown_v2(chunk);
    let size = units(&rendered);
    let plain = chunk.chars().count();
    if size <= limit || plain <= 1 {
        parts.push(rendered);
        return;
    }
    // Strictly smaller than the chunk, so the recursion ends.
    let smaller = scaled(limit, units(chunk), size).min(plain - 1);
    for piece in split_message(chunk, smaller) {
        push_fitting(&piece, limit, parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_reserved_character() {
        assert_eq!(
            escape_markdown_v2("_*[]()~`>#+-=|{}.!\\ a,b:c%"),
            "\\_\\*\\[\\]\\(\\)\\~\\`\\>\\#\\+\\-\\=\\|\\{\\}\\.\\!\\\\ a,b:c%"
        );
        assert_eq!(escape_pre("a `b` \\ *c*."), "a \\`b\\` \\\\ *c*.");
    }

    #[test]
    fn fenced_block_becomes_pre() {
        let text = "Schedule:\n\n```\nClass  Time\nYoga-1 9.00\n```\nBye.";
        assert_eq!(
            render_markdown_v2(text),
            "Schedule:\n\n```\nClass  Time\nYoga-1 9.00\n```\nBye\\."
        );
        assert_eq!(render_markdown_v2("```rust\nx`y"), "```rust\nx\\`y\n```");
        assert_eq!(render_markdown_v2("``` c+ +\na"), "```c\na\n```");
        // A line with a fence inside is text, as split_message sees it.
        assert_eq!(render_markdown_v2("```a```"), "\\`\\`\\`a\\`\\`\\`");
    }

    #[test]
    fn parts_fit_after_escaping() {
        let text = "a.b!".repeat(3000);
        let parts = render_parts(&text, 4096);
        assert!(parts.iter().all(|p| p.chars().count() <= 4096));
        let back: String = parts.concat().replace('\\', "");
        assert_eq!(back, text);
        assert!(render_parts("", 4096).is_empty());
    }

    #[test]
    fn worst_case_text_and_tiny_limits_terminate() {
        let text = format!("{}\n```\n{}\n```", ".".repeat(50), "`".repeat(50));
        for limit in [2, 3, 5, 8, 13, 40] {
            let parts = render_parts(&text, limit);
            assert!(!parts.is_empty());
            for part in &parts {
                assert!(units(part) <= limit.max(8), "{limit}: {part:?}");
            }
        }
    }

    #[test]
    fn astral_characters_count_twice() {
        let text = "🧘".repeat(3000);
        let parts = render_parts(&text, 4096);
        assert!(parts.len() >= 2);
        assert!(parts.iter().all(|p| units(p) <= 4096));
        assert_eq!(parts.concat(), text);
    }
}
