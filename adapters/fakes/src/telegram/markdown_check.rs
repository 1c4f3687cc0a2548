//! Telegram's MarkdownV2 rules as the fake enforces them, and the reverse of escaping.

/// The characters MarkdownV2 reserves outside code.
const RESERVED: &str = "_*[]()~`>#+-=|{}.!";

/// Checks text frontdesk sends as MarkdownV2: outside code every reserved character is
/// escaped with `\`; `` ``` `` opens a pre block (language up to the line end) and `` ` ``
/// inline code, inside which only `` ` `` and `\` may be escaped and which must be closed.
///
/// Entity markup (`*bold*`, `_italic_`, links) is refused: frontdesk sends none, so an
/// unescaped `*` means a missed escape.
///
/// # Errors
///
/// Telegram's wording for the first problem found.
pub fn check_markdown_v2(text: &str) -> Result<(), String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some(&next) if (1..=126).contains(&u32::from(next)) => i += 2,
                _ => return Err(format!("Character '\\' at {i} escapes nothing escapable")),
            }
            continue;
        }
        if c == '`' {
            let pre = chars.get(i + 1) == Some(&'`') && chars.get(i + 2) == Some(&'`');
            i = if pre {
                close_code(&chars, i + 3, true)?
            } else {
                close_code(&chars, i + 1, false)?
            };
            continue;
        }
        if RESERVED.contains(c) {
            return Err(format!(
                "Character '{c}' is reserved and must be escaped with the preceding '\\'"
            ));
        }
        i += 1;
    }
    Ok(())
}

/// Skips a pre block (after its opening fence) or inline code; returns the index after it.
fn close_code(chars: &[char], mut i: usize, pre: bool) -> Result<usize, String> {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '`' if !pre => return Ok(i + 1),
            '`' if chars.get(i + 1) == Some(&'`') && chars.get(i + 2) == Some(&'`') => {
                return Ok(i + 3)
            }
            '`' => return Err("Character '`' inside pre must be escaped".to_owned()),
            _ => i += 1,
        }
    }
    Err(if pre {
        "Can't find end of Pre entity".to_owned()
    } else {
        "Can't find end of Code entity".to_owned()
    })
}

/// Undoes MarkdownV2 as frontdesk writes it: drops the pre fence lines (with their
/// language) and each escaping `\`, so the text reads as the user sees it.
#[must_use]
pub fn unescape_markdown_v2(text: &str) -> String {
    let kept: Vec<String> = text
        .split('\n')
        .filter(|line| !line.trim_start().starts_with("```"))
        .map(unescape_line)
        .collect();
    kept.join("\n")
}

/// Drops each escaping `\` of one line.
fn unescape_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_escaped_text_and_pre_blocks() {
        assert!(check_markdown_v2("Price\\: 1,500\\.00 \\(50% off\\!\\)").is_ok());
        assert!(check_markdown_v2("Table:\n```\na.b (c) *d*\n\\`x\n```\nend").is_ok());
        assert!(check_markdown_v2("`code.`").is_ok());
    }

    #[test]
    fn refuses_missed_escapes_and_open_blocks() {
        assert!(check_markdown_v2("1.5").unwrap_err().contains("'.'"));
        assert!(check_markdown_v2("*bold*").is_err());
        assert!(check_markdown_v2("```\nopen").unwrap_err().contains("Pre"));
        assert!(check_markdown_v2("trailing \\").is_err());
    }

    #[test]
    fn unescape_reverses_escaping() {
        assert_eq!(unescape_markdown_v2("a\\.b \\\\ \\*"), "a.b \\ *");
        assert_eq!(unescape_markdown_v2("T:\n```\nx\\`y\n```"), "T:\nx`y");
    }
}
