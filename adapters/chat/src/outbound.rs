//! One reply to send ([`Outbound`]) and what it can carry besides text: a [`Table`] and an
//! image [`Attachment`].

use serde::{Deserialize, Serialize};

use crate::Inbound;

/// One message to send to a chat platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    /// The chat, channel or direct-message id to send to.
    pub channel: String,
    /// The thread to post in, if any.
    pub thread: Option<String>,
    /// The message text, in the light markdown all platforms share (`*bold*`, `_italic_`,
    /// `` `code` `` and fenced code blocks).
    pub text: String,
    /// The event this message answers, for platforms that show replies.
    pub reply_to_event: Option<String>,
    /// A table to show after the text.
    pub table: Option<Table>,
    /// An image to send with the message.
    pub image: Option<Attachment>,
    /// Ask the user to share their phone number (Telegram shows a one-tap "share contact"
    /// button; other platforms ignore it). Used to link a chat account to a client record.
    #[serde(default)]
    pub request_contact: bool,
    /// A platform mention put before the text as it is, unescaped (a Slack user group
    /// `<!subteam^S0123>`, `<!here>`). Only ever from configuration, never from what a
    /// person typed: the text itself is always escaped. Platforms without one ignore it.
    #[serde(default)]
    pub mention: Option<String>,
}

impl Outbound {
    /// Creates a plain text message to a channel.
    #[must_use]
    pub fn new(channel: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            thread: None,
            text: text.into(),
            reply_to_event: None,
            table: None,
            image: None,
            request_contact: false,
            mention: None,
        }
    }

    /// Creates a reply to `inbound`: same channel and thread, answering its event.
    #[must_use]
    pub fn reply(inbound: &Inbound, text: impl Into<String>) -> Self {
        Self {
            thread: inbound.thread.clone(),
            reply_to_event: Some(inbound.event_id.clone()),
            ..Self::new(inbound.channel.clone(), text)
        }
    }

    /// Sets the thread.
    #[must_use]
    pub fn with_thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = Some(thread.into());
        self
    }

    /// Sets the event this message answers.
    #[must_use]
    pub fn with_reply_to_event(mut self, event_id: impl Into<String>) -> Self {
        self.reply_to_event = Some(event_id.into());
        self
    }

    /// Attaches a table.
    #[must_use]
    pub fn with_table(mut self, table: Table) -> Self {
        self.table = Some(table);
        self
    }

    /// Asks the user to share their phone number (see [`Outbound::request_contact`]).
    #[must_use]
    pub fn with_contact_request(mut self) -> Self {
        self.request_contact = true;
        self
    }

    /// Attaches an image.
    #[must_use]
    pub fn with_image(mut self, image: Attachment) -> Self {
        self.image = Some(image);
        self
    }

    /// Returns the text followed by the table, if any, as a fenced code block.
    ///
    /// This is the form for platforms without native tables; pass it to
    /// [`split_message`](crate::split_message) before sending.
    #[must_use]
    pub fn text_with_table(&self) -> String {
        match &self.table {
            None => self.text.clone(),
            Some(table) if self.text.is_empty() => format!("```\n{}\n```", table.to_text()),
            Some(table) => format!("{}\n\n```\n{}\n```", self.text, table.to_text()),
        }
    }
}

/// A small table of text, such as a class schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// A line shown above the table.
    pub title: Option<String>,
    /// The column headings; may be empty for a table without a header.
    pub columns: Vec<String>,
    /// The rows of cells; a short row is padded with empty cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Creates a table with these column headings and no rows.
    #[must_use]
    pub fn new<I, S>(columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            title: None,
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Sets the title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Appends a row.
    #[must_use]
    pub fn with_row<I, S>(mut self, cells: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Renders the table as plain text for a monospaced font.
    ///
    /// Columns are left-aligned, padded to their widest cell (counted in characters) and
    /// separated by two spaces; a dashed rule follows the heading. Line breaks inside cells
    /// become spaces and no line has trailing spaces.
    #[must_use]
    pub fn to_text(&self) -> String {
        let clean = |cell: &String| cell.replace("\r\n", " ").replace(['\r', '\n'], " ");
        let header: Vec<String> = self.columns.iter().map(clean).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(clean).collect())
            .collect();
        let ncols = rows.iter().map(Vec::len).fold(header.len(), usize::max);
        let mut widths = vec![0; ncols];
        for row in std::iter::once(&header).chain(&rows) {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
            out.trim_end().to_owned()
        };
        let mut lines = Vec::with_capacity(rows.len() + 3);
        if let Some(title) = &self.title {
            lines.push(clean(title));
        }
        if !header.is_empty() {
            lines.push(line(&header));
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            lines.push(rule.join("  "));
        }
        lines.extend(rows.iter().map(|row| line(row)));
        lines.join("\n")
    }
}

/// A file sent with a message, such as a rendered schedule image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file name shown to the recipient.
    pub file_name: String,
    /// The MIME type, e.g. `image/png`.
    pub mime: String,
    /// The file's content.
    pub bytes: Vec<u8>,
    /// A caption shown with the file.
    pub caption: Option<String>,
}

impl Attachment {
    /// Creates an attachment without a caption.
    #[must_use]
    pub fn new(file_name: impl Into<String>, mime: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            file_name: file_name.into(),
            mime: mime.into(),
            bytes,
            caption: None,
        }
    }

    /// Sets the caption.
    #[must_use]
    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;

    #[test]
    fn table_aligns_columns() {
        let table = Table::new(["Class", "Time", "Spots"])
            .with_title("Monday")
            .with_row(["Yoga", "09:00", "3"])
            .with_row(["Pilates mat", "18:30", "12"])
            .with_row(["HIIT"]);
        let expected = "\
Monday
Class        Time   Spots
-----------  -----  -----
Yoga         09:00  3
Pilates mat  18:30  12
HIIT";
        assert_eq!(table.to_text(), expected);
    }

    #[test]
    fn table_counts_characters_not_bytes_and_flattens_cells() {
        let table = Table::new(["नाम", "x"])
            .with_row(["योग", "1"])
            .with_row(["a\nb", "2", "extra"]);
        let expected = "\
नाम  x
---  -  -----
योग  1
a b  2  extra";
        assert_eq!(table.to_text(), expected);
    }

    #[test]
    fn table_without_header_or_rows() {
        assert_eq!(Table::default().to_text(), "");
        let table = Table::default()
            .with_row(["a", "bb"])
            .with_row(["ccc", "d"]);
        assert_eq!(table.to_text(), "a    bb\nccc  d");
    }

    #[test]
    fn reply_answers_the_inbound_event_in_its_thread() {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap();
        let inbound = Inbound::new(Platform::Slack, "C1", "U1", "hi", "ev9", at).with_thread("t1");
        let out = Outbound::reply(&inbound, "hello");
        assert_eq!(out.channel, "C1");
        assert_eq!(out.thread.as_deref(), Some("t1"));
        assert_eq!(out.reply_to_event.as_deref(), Some("ev9"));
        assert_eq!(out.text, "hello");
    }

    #[test]
    fn text_with_table_fences_the_table() {
        let out = Outbound::new("c", "Schedule:").with_table(Table::new(["a"]).with_row(["1"]));
        assert_eq!(out.text_with_table(), "Schedule:\n\n```\na\n-\n1\n```");
        assert_eq!(Outbound::new("c", "plain").text_with_table(), "plain");
    }
}
