//! Splitting a long reply into chunks that fit a platform's message length limit.
//!
//! [`split_message`] cuts at the best whitespace it can find: a blank line between
//! paragraphs, then a line break, then a space outside inline formatting, then a space inside
//! it. Only a word longer than the whole chunk is cut, at a character boundary that keeps
//! combining marks with their base. A fenced code block that has to be cut is closed at the end
//! of one chunk and reopened, with its language tag, at the start of the next.

/// The marker that opens and closes a fenced code block.
const FENCE: &str = "```";
/// What is appended to close a code block at a cut: a line break and [`FENCE`].
const FENCE_CLOSE: &str = "\n```";
/// The length of [`FENCE_CLOSE`] in characters.
const FENCE_CLOSE_LEN: usize = 4;

/// Splits `text` into chunks of at most `limit` characters (Unicode scalar values).
///
/// Empty text gives no chunks and text within the limit gives itself. Otherwise each cut
/// falls, in order of preference, on a paragraph break (`"\n\n"`), a line break, a space
/// outside inline `*bold*`, `_italic_` and `` `code` `` spans, or a space inside one; within
/// the same kind the cut leaving the fullest chunk wins. The whitespace at a cut is dropped,
/// except the indentation of the line that starts the next chunk. Only a word longer than a
/// chunk is cut inside. A fenced code block cut in two is closed with ```` ``` ```` at the end
/// of one chunk and reopened with its opening line (e.g. ```` ```rust ````) at the start of
/// the next; both count toward the limit. Below a limit too small to hold that, fences are
/// treated as plain text.
///
/// A `limit` of zero is treated as one.
#[must_use]
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    if text.is_empty() {
        return Vec::new();
    }
    if text.chars().count() <= limit {
        return vec![text.to_owned()];
    }
    Splitter::new(text, limit).run()
}

/// A fenced code block, located by byte offsets into the text.
#[derive(Debug)]
struct Fence {
    /// Where the opening line starts.
    open_start: usize,
    /// Where the opening line's content ends (before its line break).
    open_end: usize,
    /// Where the closing line starts; the text's length when the block is never closed.
    close_start: usize,
    /// Where the closing line's content ends; the text's length when never closed.
    close_end: usize,
    /// The opening line without surrounding whitespace, used to reopen the block.
    opener: String,
}

/// Where a cut position falls relative to the code fences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    /// Outside every code block.
    Outside,
    /// Inside the body of the code block with this index.
    Body(usize),
    /// Inside an opening or closing fence line, where no cut may fall.
    Marker,
}

impl Region {
    /// Returns the index of the code block whose body this is.
    fn body(self) -> Option<usize> {
        match self {
            Region::Body(i) => Some(i),
            Region::Outside | Region::Marker => None,
        }
    }
}

/// One cut: the chunk ends at `end` and the next one starts at `next`.
#[derive(Debug, Clone, Copy)]
struct Cut {
    end: usize,
    next: usize,
    /// The code block left open at the cut, to close and reopen.
    fence: Option<usize>,
}

/// The kinds of whitespace cut, best first; used as indexes.
const PARAGRAPH: usize = 0;
const LINE: usize = 1;
const SPACE: usize = 2;
const SPACE_IN_SPAN: usize = 3;

/// The text, the limit, and where the fences and inline spans are.
struct Splitter<'t> {
    text: &'t str,
    limit: usize,
    fences: Vec<Fence>,
    /// Byte ranges of inline formatting spans, in order.
    spans: Vec<(usize, usize)>,
}

impl<'t> Splitter<'t> {
    /// Locates the fences and spans of `text`, dropping fences that `limit` cannot hold.
    fn new(text: &'t str, limit: usize) -> Self {
        let (mut fences, spans) = scan(text);
        // A reopened chunk needs room for the opener, a line break, one character and the
        // closing fence; below that, treat fences as plain text.
        let widest = fences.iter().map(|f| f.opener.chars().count()).max();
        if widest.is_some_and(|w| limit < w + 2 + FENCE_CLOSE_LEN) {
            fences.clear();
        }
        Self {
            text,
            limit,
            fences,
            spans,
        }
    }

    /// Cuts the text into chunks, closing and reopening code blocks across cuts.
    fn run(&self) -> Vec<String> {
        let mut chunks = Vec::new();
        let mut pos = 0;
        let mut reopen: Option<&str> = None;
        while pos < self.text.len() {
            let rest = &self.text[pos..];
            if rest.trim().is_empty() {
                break;
            }
            let mut chunk = reopen.map_or_else(String::new, |opener| format!("{opener}\n"));
            let prefix_len = chunk.chars().count();
            if prefix_len + rest.chars().count() <= self.limit {
                chunk.push_str(rest);
                chunks.push(chunk);
                break;
            }
            let cut = if let Some(cut) = self.best_cut(pos, prefix_len) {
                cut
            } else {
                let cut = self.hard_cut(pos, prefix_len);
                if self.text[pos..cut.end].trim().is_empty() {
                    // Indentation as wide as a chunk is dropped rather than sent alone.
                    pos += rest.len() - rest.trim_start_matches(is_break_space).len();
                    continue;
                }
                cut
            };
            chunk.push_str(&self.text[pos..cut.end]);
            reopen = cut.fence.map(|i| {
                chunk.push_str(FENCE_CLOSE);
                self.fences[i].opener.as_str()
            });
            chunks.push(chunk);
            pos = cut.next;
        }
        chunks
    }

    /// Finds the best whitespace cut for a chunk starting at `pos` after `prefix_len`
    /// characters of reopened fence, or `None` when there is none.
    fn best_cut(&self, pos: usize, prefix_len: usize) -> Option<Cut> {
        let budget = self.limit - prefix_len;
        let mut best: [Option<Cut>; 4] = [None; 4];
        let mut count = 0;
        let mut seen_content = false;
        let mut chars = self.text[pos..].char_indices().peekable();
        while let Some((offset, c)) = chars.next() {
            // `count` is the number of characters before `c`, which a cut here would keep.
            if count > budget {
                break;
            }
            let used = count;
            count += 1;
            if !is_break_space(c) {
                seen_content = true;
                continue;
            }
            let end = pos + offset;
            let mut newlines = usize::from(c == '\n');
            let mut next = if c == '\n' { Some(end + 1) } else { None };
            let mut run_end = end + c.len_utf8();
            while let Some(&(o, c)) = chars.peek() {
                if !is_break_space(c) {
                    break;
                }
                chars.next();
                count += 1;
                run_end = pos + o + c.len_utf8();
                if c == '\n' {
                    newlines += 1;
                    next = Some(run_end);
                }
            }
            if !seen_content {
                continue;
            }
            let next = next.unwrap_or(run_end);
            let Some(region) = self.cut_region(pos, end, next) else {
                continue;
            };
            let fence = region.body();
            let close = if fence.is_some() { FENCE_CLOSE_LEN } else { 0 };
            if used + close > budget {
                continue;
            }
            let kind = match newlines {
                0 if fence.is_none() && self.in_span(end) => SPACE_IN_SPAN,
                0 => SPACE,
                1 => LINE,
                _ => PARAGRAPH,
            };
            best[kind] = Some(Cut { end, next, fence });
        }
        best.into_iter().flatten().next()
    }

    /// Returns where a cut ending the chunk at `end` and resuming at `next` falls, or `None`
    /// when it may not fall there: across or on a fence line, or right after an opening one.
    fn cut_region(&self, pos: usize, end: usize, next: usize) -> Option<Region> {
        match (self.region(end), self.region(next)) {
            (Region::Outside, Region::Outside) => Some(Region::Outside),
            (Region::Body(i), Region::Body(j)) if i == j => {
                // Leave no empty code block behind the cut.
                let body_start = self.fences[i].open_end + 1;
                let before = self.text.get(body_start.max(pos)..end).unwrap_or("");
                (!before.trim().is_empty()).then_some(Region::Body(i))
            }
            _ => None,
        }
    }

    /// Cuts inside a word: as many characters as fit, backing off so as not to separate a
    /// combining mark from its base.
    fn hard_cut(&self, pos: usize, prefix_len: usize) -> Cut {
        let budget = self.limit - prefix_len;
        let mut end = self.cut_after_chars(pos, budget);
        let mut fence = self.region(end).body();
        if fence.is_some() {
            end = self.cut_after_chars(pos, budget.saturating_sub(FENCE_CLOSE_LEN).max(1));
            fence = self.region(end).body();
        }
        Cut {
            end,
            next: end,
            fence,
        }
    }

    /// Returns the byte offset `n` characters after `pos` (at least one), moved back while it
    /// would split a grapheme, but never back to `pos`.
    fn cut_after_chars(&self, pos: usize, n: usize) -> usize {
        let rest = &self.text[pos..];
        let at = rest
            .char_indices()
            .nth(n.max(1))
            .map_or(self.text.len(), |(o, _)| pos + o);
        let mut cut = at;
        while cut > pos && !self.can_break_at(cut) {
            cut = self.text[..cut]
                .char_indices()
                .next_back()
                .map_or(pos, |(o, _)| o);
        }
        if cut > pos {
            cut
        } else {
            at
        }
    }

    /// Whether a break between the characters around `at` keeps graphemes whole.
    fn can_break_at(&self, at: usize) -> bool {
        let before = self.text[..at].chars().next_back();
        let after = self.text[at..].chars().next();
        !(after.is_some_and(is_extending) || before.is_some_and(is_joining))
    }

    /// Classifies a byte offset against the code fences.
    fn region(&self, at: usize) -> Region {
        for (i, f) in self.fences.iter().enumerate() {
            if at <= f.open_start {
                break;
            }
            if at <= f.open_end {
                return Region::Marker;
            }
            if at < f.close_start {
                return Region::Body(i);
            }
            if at < f.close_end {
                return Region::Marker;
            }
        }
        Region::Outside
    }

    /// Whether `at` lies strictly inside an inline formatting span.
    fn in_span(&self, at: usize) -> bool {
        let i = self.spans.partition_point(|&(start, _)| start < at);
        i > 0 && self.spans[i - 1].1 > at
    }
}

/// Finds the fenced code blocks and, outside them, the inline formatting spans.
fn scan(text: &str) -> (Vec<Fence>, Vec<(usize, usize)>) {
    let mut fences = Vec::new();
    let mut spans = Vec::new();
    let mut open: Option<(usize, usize, String)> = None;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let end = start + content.len();
        let trimmed = content.trim();
        match open.take() {
            None => match trimmed.strip_prefix(FENCE) {
                Some(tag) if !tag.contains(FENCE) => open = Some((start, end, trimmed.to_owned())),
                _ => inline_spans(content, start, &mut spans),
            },
            Some((open_start, open_end, opener)) => {
                if trimmed.len() >= FENCE.len() && trimmed.bytes().all(|b| b == b'`') {
                    fences.push(Fence {
                        open_start,
                        open_end,
                        close_start: start,
                        close_end: end,
                        opener,
                    });
                } else {
                    open = Some((open_start, open_end, opener));
                }
            }
        }
        start += line.len();
    }
    if let Some((open_start, open_end, opener)) = open {
        fences.push(Fence {
            open_start,
            open_end,
            close_start: text.len(),
            close_end: text.len(),
            opener,
        });
    }
    (fences, spans)
}

/// Records the `*bold*`, `_italic_` and `` `code` `` spans of one line starting at `base`.
///
/// An asterisk or underscore opens a span when it does not follow a letter or digit and is
/// followed by a non-space; it closes one when it follows a non-space and is not followed by a
/// letter or digit. So `snake_case` and `2 * 3` hold no span.
fn inline_spans(line: &str, base: usize, spans: &mut Vec<(usize, usize)>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (offset, mark) = chars[i];
        if matches!(mark, '`' | '*' | '_') {
            let prev = i.checked_sub(1).map(|j| chars[j].1);
            let next = chars.get(i + 1).map(|&(_, c)| c);
            let opens = mark == '`'
                || (prev.is_none_or(|c| !c.is_alphanumeric())
                    && next.is_some_and(|c| !c.is_whitespace()));
            let closer = (i + 1..chars.len()).find(|&j| {
                chars[j].1 == mark
                    && (mark == '`'
                        || (!chars[j - 1].1.is_whitespace()
                            && chars.get(j + 1).is_none_or(|&(_, c)| !c.is_alphanumeric())))
            });
            if let (true, Some(j)) = (opens, closer) {
                spans.push((base + offset, base + chars[j].0 + mark.len_utf8()));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
}

/// Whitespace a message may be cut at; no-break spaces are excluded.
fn is_break_space(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}')
}

/// Characters that attach to the one before them: combining marks, Indic vowel signs,
/// variation selectors and emoji skin tones.
fn is_extending(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}'
        | '\u{0900}'..='\u{0903}'
        | '\u{093a}'..='\u{094f}'
        | '\u{0951}'..='\u{0957}'
        | '\u{0962}'..='\u{0963}'
        | '\u{0981}'..='\u{0983}'
        | '\u{09bc}'..='\u{09d7}'
        | '\u{200c}'..='\u{200d}'
        | '\u{20d0}'..='\u{20ff}'
        | '\u{fe00}'..='\u{fe0f}'
        | '\u{1f3fb}'..='\u{1f3ff}'
        | '\u{e0020}'..='\u{e007f}')
}

/// Characters that join to the one after them: the zero-width joiner and the Devanagari and
/// Bengali viramas.
fn is_joining(c: char) -> bool {
    matches!(c, '\u{200d}' | '\u{094d}' | '\u{09cd}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic pseudo-random generator (64-bit LCG).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) as usize) % n
        }
    }

    const WORDS: &[&str] = &[
        "yoga",
        "class",
        "at",
        "9:00",
        "Pilates",
        "*bold text*",
        "_gentle flow_",
        "`code span`",
        "नमस्ते",
        "स्वागत",
        "👋🏽",
        "🧘‍♀️",
        "café",
        "a",
        "instructor",
        "snake_case_name",
        "—",
        "booking#42",
    ];

    /// Builds a message of paragraphs, lines and the occasional code block.
    fn generate(rng: &mut Lcg) -> String {
        let mut text = String::new();
        for p in 0..=rng.next(6) {
            if p > 0 {
                text.push_str("\n\n");
            }
            if rng.next(5) == 0 {
                let tag = ["", "rust", "json"][rng.next(3)];
                text.push_str(FENCE);
                text.push_str(tag);
                text.push('\n');
                for l in 0..=rng.next(8) {
                    if l > 0 {
                        text.push('\n');
                    }
                    text.push_str(&"  ".repeat(rng.next(3)));
                    for w in 0..=rng.next(6) {
                        if w > 0 {
                            text.push(' ');
                        }
                        text.push_str(WORDS[rng.next(WORDS.len())]);
                    }
                }
                text.push_str("\n```");
                continue;
            }
            for l in 0..=rng.next(4) {
                if l > 0 {
                    text.push('\n');
                }
                for w in 0..=rng.next(15) {
                    if w > 0 {
                        text.push(' ');
                    }
                    text.push_str(WORDS[rng.next(WORDS.len())]);
                }
            }
        }
        text
    }

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    /// The words of the text, ignoring fence lines.
    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace()
            .filter(|w| !w.starts_with(FENCE))
            .collect()
    }

    fn fence_lines(chunk: &str) -> usize {
        chunk
            .lines()
            .filter(|l| l.trim_start().starts_with(FENCE))
            .count()
    }

    fn assert_chunks_fit(chunks: &[String], limit: usize, context: &str) {
        for chunk in chunks {
            let n = chars(chunk);
            assert!(n <= limit, "{context}: chunk of {n} > {limit}: {chunk:?}");
            assert!(!chunk.trim().is_empty(), "{context}: empty chunk");
        }
    }

    #[test]
    fn generated_messages_fit_and_keep_every_word_in_order() {
        let mut rng = Lcg(7);
        for round in 0..3000 {
            let text = generate(&mut rng);
            // Room for the longest word (15) inside a reopened block ("```json\n" + "\n```")
            // and its indentation, so no word needs a hard split.
            let limit = 32 + rng.next(120);
            let chunks = split_message(&text, limit);
            let context = format!("round {round}, limit {limit}, text {text:?}");
            assert_chunks_fit(&chunks, limit, &context);
            for chunk in &chunks {
                assert_eq!(fence_lines(chunk) % 2, 0, "{context}: {chunk:?}");
            }
            let joined: Vec<&str> = chunks.iter().flat_map(|c| words(c)).collect();
            assert_eq!(joined, words(&text), "{context}");
        }
    }

    #[test]
    fn generated_messages_fit_even_tiny_limits() {
        let mut rng = Lcg(11);
        for round in 0..3000 {
            let text = generate(&mut rng);
            let limit = 1 + rng.next(32);
            let chunks = split_message(&text, limit);
            let context = format!("round {round}, limit {limit}, text {text:?}");
            assert_chunks_fit(&chunks, limit, &context);
            // Chunks only add fences: the text's characters appear among theirs, in order.
            let joined: String = chunks.concat();
            let mut have = joined.chars().filter(|c| !c.is_whitespace());
            for want in text.chars().filter(|c| !c.is_whitespace()) {
                assert!(have.any(|c| c == want), "{context}: lost {want:?}");
            }
        }
    }

    #[test]
    fn empty_and_short_text() {
        assert!(split_message("", 10).is_empty());
        assert_eq!(split_message("hello  world\n", 13), ["hello  world\n"]);
        assert_eq!(split_message("  ", 2), ["  "]);
    }

    #[test]
    fn paragraph_break_is_preferred_over_line_break() {
        let text = "first paragraph\n\nsecond one, line a\nline b and more words";
        let chunks = split_message(text, 40);
        assert_eq!(
            chunks,
            [
                "first paragraph",
                "second one, line a\nline b and more words"
            ]
        );
    }

    #[test]
    fn line_break_is_preferred_over_space() {
        let text = "one two three\nfour five six seven";
        assert_eq!(
            split_message(text, 24),
            ["one two three", "four five six seven"]
        );
    }

    #[test]
    fn fills_chunks_at_spaces() {
        let text = "aa bb cc dd ee ff gg";
        assert_eq!(split_message(text, 8), ["aa bb cc", "dd ee ff", "gg"]);
    }

    #[test]
    fn long_word_is_hard_split_and_kept_whole() {
        let text = "go abcdefghijklmnopqrstuvwxyz now";
        let chunks = split_message(text, 10);
        assert_eq!(chunks, ["go", "abcdefghij", "klmnopqrst", "uvwxyz now"]);
    }

    #[test]
    fn inline_span_is_not_cut_when_another_space_fits() {
        let text = "book now *very important note* please";
        let chunks = split_message(text, 25);
        assert_eq!(chunks, ["book now", "*very important note*", "please"]);
        // Without another space on the line, the span is cut as a last resort.
        let chunks = split_message("*very important note*", 12);
        assert_eq!(chunks, ["*very", "important", "note*"]);
        // Underscores inside words and arithmetic asterisks open no span.
        let chunks = split_message("use snake_case here and 2 * 3 * 4 there", 20);
        assert_eq!(chunks, ["use snake_case here", "and 2 * 3 * 4 there"]);
    }

    #[test]
    fn code_fence_is_closed_and_reopened_with_its_tag() {
        let text = "Here:\n```rust\nlet a = 1;\nlet b = 2;\nlet c = 3;\n```\nDone.";
        let chunks = split_message(text, 30);
        assert_eq!(
            chunks,
            [
                "Here:\n```rust\nlet a = 1;\n```",
                "```rust\nlet b = 2;\n```",
                "```rust\nlet c = 3;\n```\nDone."
            ]
        );
        assert_chunks_fit(&chunks, 30, text);
    }

    #[test]
    fn code_fence_keeps_indentation_and_never_leaves_empty_blocks() {
        let text = "```\nfn main() {\n    loop {}\n}\n```";
        let chunks = split_message(text, 21);
        assert_eq!(
            chunks,
            ["```\nfn main() {\n```", "```\n    loop {}\n}\n```"]
        );
    }

    #[test]
    fn unclosed_fence_is_still_reopened() {
        let text = "```py\nprint(1)\nprint(2)\nprint(3)";
        let chunks = split_message(text, 23);
        assert_eq!(
            chunks,
            ["```py\nprint(1)\n```", "```py\nprint(2)\nprint(3)"]
        );
    }

    #[test]
    fn tiny_limits_still_fit() {
        let text = "```rust\nlet x = 1;\n```\nend";
        for limit in 0..12 {
            let chunks = split_message(text, limit);
            assert!(chunks.iter().all(|c| chars(c) <= limit.max(1)), "{limit}");
            let joined: String = chunks.concat();
            let squashed = |s: &str| s.split_whitespace().collect::<String>();
            assert_eq!(squashed(&joined), squashed(text), "{limit}");
        }
    }

    #[test]
    fn multibyte_text_is_never_split_inside_a_character_or_grapheme() {
        let text = "नमस्ते".repeat(20) + &"👋🏽".repeat(20);
        // "स्ते" is four scalar values that belong together; from that limit on, no chunk
        // may start with a mark or end with a joiner.
        for limit in 4..15 {
            let chunks = split_message(&text, limit);
            assert_eq!(chunks.concat(), text, "{limit}");
            for chunk in &chunks {
                assert!(chars(chunk) <= limit);
                let first = chunk.chars().next().unwrap();
                let last = chunk.chars().next_back().unwrap();
                assert!(
                    !is_extending(first),
                    "{limit}: {chunk:?} starts with a mark"
                );
                assert!(!is_joining(last), "{limit}: {chunk:?} ends with a joiner");
            }
        }
    }

    #[test]
    fn hindi_and_emoji_words_split_at_spaces() {
        let text = "नमस्ते दोस्तों 👋🏽 योग कक्षा सुबह 🧘‍♀️ नौ बजे";
        let chunks = split_message(text, 12);
        for chunk in &chunks {
            assert!(chars(chunk) <= 12);
        }
        let joined: Vec<&str> = chunks.iter().flat_map(|c| c.split(' ')).collect();
        assert_eq!(joined, text.split(' ').collect::<Vec<_>>());
    }

    #[test]
    fn fits_real_platform_limits() {
        let mut rng = Lcg(99);
        let mut text = String::new();
        while chars(&text) < 10_000 {
            text.push_str(&generate(&mut rng));
            text.push_str("\n\n");
        }
        for limit in [2000, 4000, 4096] {
            let chunks = split_message(&text, limit);
            assert!(chunks.len() >= 10_000 / limit);
            assert!(chunks.iter().all(|c| chars(c) <= limit));
            let joined: Vec<&str> = chunks.iter().flat_map(|c| words(c)).collect();
            assert_eq!(joined, words(&text));
        }
    }
}
