//! Hidden characters in text people type into records.

use super::DomainError;

/// The first Unicode control (general category Cc) or format (Cf) character in `text`,
/// or `None` when it has none.
///
/// Such characters are invisible or reorder what is shown: a bidi override makes
/// `"Eve \u{202e}niamdA\u{202c}"` read as "Eve Admin", and a zero-width space hides a
/// second name inside the first. The crate has no Unicode general-category table, so the
/// ranges are listed here: all of Cc (U+0000–001F, U+007F–009F) and the Cf characters
/// that matter in names and notes — the soft hyphen U+00AD, the Arabic letter mark
/// U+061C, the Mongolian vowel separator U+180E, the zero-width and direction marks
/// U+200B–200F, the bidi embeddings and overrides U+202A–202E, the invisible operators
/// U+2060–2064, the bidi isolates and deprecated format characters U+2066–206F, the
/// byte-order mark U+FEFF and the interlinear annotation characters U+FFF9–FFFB.
///
/// With `line_breaks`, newline (U+000A) and tab (U+0009) are allowed (notes and enquiry
/// text); names allow none.
#[must_use]
pub fn hidden_char(text: &str, line_breaks: bool) -> Option<char> {
    text.chars().find(|&c| {
        if line_breaks && (c == '\n' || c == '\t') {
            return false;
        }
        matches!(
            c,
            '\u{0000}'..='\u{001F}'
                | '\u{007F}'..='\u{009F}'
                | '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
    })
}

/// Refuses `text` for `field` when it holds a character [`hidden_char`] finds.
///
/// # Errors
/// [`DomainError::Invalid`] naming `field` and the character's code point.
pub fn refuse_hidden_chars(
    field: &'static str,
    text: &str,
    line_breaks: bool,
) -> Result<(), DomainError> {
    match hidden_char(text, line_breaks) {
        None => Ok(()),
        Some(c) => Err(DomainError::invalid(
            field,
            format!(
                "contains an invisible control or formatting character (U+{:04X}); type it again without it",
                u32::from(c)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_format_characters_are_found() {
        for bad in [
            "Eve \u{202e}niamdA\u{202c}",
            "Eve\u{200b}Admin",
            "Eve\u{00ad}",
            "\u{feff}Eve",
            "Eve\u{2066}x\u{2069}",
            "Eve\u{061c}",
            "Eve\u{180e}",
            "Eve\u{2064}",
            "Eve\u{fff9}",
            "Eve\u{0000}",
            "Eve\u{001b}[31m",
            "Eve\u{007f}",
            "Eve\u{0085}",
            "Eve\u{009f}",
        ] {
            assert!(hidden_char(bad, false).is_some(), "{bad:?}");
            assert!(hidden_char(bad, true).is_some(), "{bad:?}");
        }
        assert_eq!(hidden_char("a\u{202e}b\u{200b}", false), Some('\u{202e}'));
        // Line breaks and tabs only where asked for; carriage returns never.
        assert_eq!(hidden_char("line one\nline\ttwo", false), Some('\n'));
        assert_eq!(hidden_char("line one\nline\ttwo", true), None);
        assert_eq!(hidden_char("a\r\nb", true), Some('\r'));
        // Ordinary text in any script, and visible punctuation, passes.
        for good in [
            "Priya Sharma",
            "Zoë O'Brien-Núñez",
            "محمد",
            "李小龙",
            "Anne‐Marie",
            "",
        ] {
            assert_eq!(hidden_char(good, false), None, "{good:?}");
        }
    }

    #[test]
    fn the_refusal_names_the_field_and_the_character() {
        let err = refuse_hidden_chars("notes", "ok\u{202e}", true).unwrap_err();
        assert_eq!(err.field(), "notes");
        assert!(err.to_string().contains("U+202E"), "{err}");
        assert!(refuse_hidden_chars("notes", "two\nlines", true).is_ok());
    }
}
