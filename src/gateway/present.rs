//! Turns an agent's answer into an [`Outbound`]: the reply goes to the thread the question
//! came from, and a list of figures in a Dashboard answer ("• Yoga Beginner — ₹39,000 (13)")
//! becomes a [`Table`] so Slack can show it as blocks and Discord as an embed. The text
//! keeps the summary; nothing is lost for platforms that print the table as text.
//!
//! A chart on the answer becomes the message's image (`image/png`, captioned with the
//! chart's title): Discord shows it in an embed, Slack uploads it into the thread, and
//! Telegram sends it as a photo (with the text as its caption when that fits).

use frontdesk_chat::{Attachment, Inbound, Outbound, Table};

use crate::agents::AgentReply;
use crate::charts::{Chart, MIME};
use crate::tools::AgentKind;

/// The reply to `inbound` carrying `reply`'s answer and chart.
#[must_use]
pub fn reply_to(inbound: &Inbound, reply: &AgentReply) -> Outbound {
    let out = match figures_table(&reply.answer, reply.intent.as_str()) {
        Some((summary, table)) if reply.agent == AgentKind::Dashboard => {
            Outbound::reply(inbound, summary).with_table(table)
        }
        _ => Outbound::reply(inbound, reply.answer.clone()),
    };
    match &reply.chart {
        Some(chart) => out.with_image(chart_attachment(chart)),
        None => out,
    }
}

/// A chart as a PNG attachment captioned with its title.
#[must_use]
pub fn chart_attachment(chart: &Chart) -> Attachment {
    Attachment::new(chart.file_name(), MIME, chart.png.clone()).with_caption(chart.title.clone())
}

/// Splits an answer into its summary and a two-column table when it ends in a list of at
/// least two "label — figure" lines.
#[must_use]
pub fn figures_table(answer: &str, intent: &str) -> Option<(String, Table)> {
    let lines: Vec<&str> = answer.lines().collect();
    let first_item = lines.iter().position(|l| list_item(l).is_some())?;
    let items: Vec<(String, String)> = lines[first_item..]
        .iter()
        .map(|l| list_item(l))
        .collect::<Option<Vec<_>>>()?;
    if items.len() < 2 || first_item == 0 {
        return None;
    }
    let summary = lines[..first_item].join("\n").trim().to_owned();
    let (label, figure) = column_names(intent);
    let table = items
        .into_iter()
        .fold(Table::new([label, figure]), |t, (l, f)| t.with_row([l, f]));
    Some((summary, table))
}

/// "• Pilates — 86.5% (45/52)" or "3. Zumba — 86 enrollments" → ("Pilates", "86.5% (45/52)").
fn list_item(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    let body = if let Some(rest) = line.strip_prefix("• ") {
        rest
    } else {
        let (number, rest) = line.split_once(". ")?;
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest
    };
    let (label, figure) = body.rsplit_once(" — ")?;
    Some((label.trim().to_owned(), figure.trim().to_owned()))
}

fn column_names(intent: &str) -> (&'static str, &'static str) {
    match intent {
        "revenue" => ("Course", "Revenue (payments)"),
        "course_enrollment" => ("Course", "Enrollments"),
        "attendance_rate" => ("Course", "Attendance"),
        "class_fill_rate" => ("Course (instructor)", "Fill rate"),
        "outstanding_balance" | "inactive_clients" => ("Client", "Detail"),
        "top_clients" => ("Client", "Spend or classes"),
        _ => ("Item", "Figure"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulleted_breakdown_becomes_a_table() {
        let answer = "Revenue for 1–25 Nov 2026: ₹226,800 from 72 payments.\n\
                      • Yoga Beginner — ₹39,000 (13)\n\
                      • Vinyasa Flow — ₹38,500 (11)\n\
                      • Pilates — ₹24,000 (6)";
        let (summary, table) = figures_table(answer, "revenue").expect("a table");
        assert_eq!(
            summary,
            "Revenue for 1–25 Nov 2026: ₹226,800 from 72 payments."
        );
        assert_eq!(table.columns, ["Course", "Revenue (payments)"]);
        assert_eq!(
            table.rows,
            [
                ["Yoga Beginner", "₹39,000 (13)"],
                ["Vinyasa Flow", "₹38,500 (11)"],
                ["Pilates", "₹24,000 (6)"],
            ]
        );
    }

    #[test]
    fn a_numbered_ranking_becomes_a_table_and_dashes_in_names_survive() {
        let answer = "Yoga Beginner has the highest enrollment (all time): 96 enrollments.\n\
                      1. Yoga Beginner — 96 enrollments (88 clients)\n\
                      2. Mind — Body — 95 enrollments (90 clients)\n\
                      10. HIIT Bootcamp — 73 enrollments (72 clients)";
        let (_, table) = figures_table(answer, "course_enrollment").expect("a table");
        assert_eq!(
            table.rows[1],
            ["Mind — Body", "95 enrollments (90 clients)"]
        );
        assert_eq!(
            table.rows[2],
            ["HIIT Bootcamp", "73 enrollments (72 clients)"]
        );
    }

    #[test]
    fn answers_without_a_whole_list_stay_text() {
        for answer in [
            "Revenue for 1–25 Nov 2026: ₹0 from 0 payments.",
            // One item is not a table.
            "Summary.\n• Pilates — 53.6%",
            // A list followed by prose is not a clean table.
            "Summary.\n• A — 1\n• B — 2\nAsk me about another month.",
            // No summary line: nothing to keep as text.
            "• A — 1\n• B — 2",
        ] {
            assert_eq!(figures_table(answer, "revenue"), None, "{answer}");
        }
    }
}
