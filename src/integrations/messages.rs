//! The words of the messages frontdesk sends on its own: order confirmations, payment
//! receipts, cancellation notices, enquiry acknowledgements, class and payment reminders. Each function takes
//! plain data (names, [`Money`], times and the studio's settings for its name and UTC
//! offset) and returns a subject and a plain text that suits an email, an SMS or a chat.

use chrono::{DateTime, Utc};

use crate::config::StudioSettings;
use crate::domain::{format_minor, Money, OrderNumber};

/// What to say when a payment link cannot be made.
pub const NO_ONLINE_PAYMENT: &str = "Online payment is not set up; please pay at the desk.";

/// One message: the subject (for email) and the text (for every channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
}

/// Sent when a client enrols: what they ordered, what it costs, by when, and how to pay.
#[must_use]
pub fn order_confirmation(
    studio: &StudioSettings,
    client_name: &str,
    course: &str,
    order: OrderNumber,
    amount: Money,
    due: DateTime<Utc>,
    payment_link: Option<&str>,
) -> Message {
    Message {
        subject: format!("Your enrolment in {course} (order {order})"),
        text: format!(
            "Hi {client_name},\n\n\
             Thank you for enrolling in {course} at {studio_name}.\n\n\
             Order: {order}\n\
             Amount: {amount}\n\
             Payment due: {due}\n\n\
             {how_to_pay}\n\n\
             See you soon,\n{studio_name}",
            studio_name = studio.name,
            amount = money(amount),
            due = local_date(studio, due),
            how_to_pay = how_to_pay(payment_link),
        ),
    }
}

/// Sent when a payment is recorded.
#[must_use]
pub fn payment_receipt(
    studio: &StudioSettings,
    client_name: &str,
    course: &str,
    order: OrderNumber,
    amount: Money,
    paid_at: DateTime<Utc>,
    reference: Option<&str>,
) -> Message {
    let reference = reference
        .map(|r| format!("\nPayment reference: {r}"))
        .unwrap_or_default();
    Message {
        subject: format!("Payment received for order {order}"),
        text: format!(
            "Hi {client_name},\n\n\
             We received your payment of {amount} for {course} (order {order}) on {paid}. \
             Your enrolment is confirmed.{reference}\n\n\
             Thank you,\n{studio_name}",
            studio_name = studio.name,
            amount = money(amount),
            paid = local_date(studio, paid_at),
        ),
    }
}

/// Sent when the studio cancels an order: which one, and that nothing is owed for it.
/// The staff's reason for cancelling stays with the studio.
#[must_use]
pub fn order_cancellation(
    studio: &StudioSettings,
    client_name: &str,
    course: &str,
    order: OrderNumber,
    amount: Money,
) -> Message {
    Message {
        subject: format!("Your order {order} is cancelled"),
        text: format!(
            "Hi {client_name},\n\n\
             Your order {order} for {course} ({amount}) at {studio_name} has been \
             cancelled, and nothing is owed for it. If this is a surprise, just reply or \
             get in touch with us.\n\n\
             {studio_name}",
            studio_name = studio.name,
            amount = money(amount),
        ),
    }
}

/// Sent when someone leaves an enquiry, so they know it arrived.
#[must_use]
pub fn enquiry_acknowledgement(
    studio: &StudioSettings,
    name: &str,
    course: Option<&str>,
) -> Message {
    let about = course.map(|c| format!(" about {c}")).unwrap_or_default();
    Message {
        subject: format!("Your enquiry at {}", studio.name),
        text: format!(
            "Hi {name},\n\n\
             Thank you for your enquiry{about}. Someone from {studio_name} will get back to \
             you soon.\n\n{studio_name}",
            studio_name = studio.name,
        ),
    }
}

/// Sent after `/link EMAIL` in a chat: the one-time code that links the chat account to
/// the client's record.
#[must_use]
pub fn link_code(studio_name: &str, name: &str, code: &str, minutes: u32) -> Message {
    Message {
        subject: format!("Your {studio_name} link code"),
        text: format!(
            "Hi {name},\n\nYour code to link your chat with {studio_name} is {code}. It is valid for {minutes} minutes.\n\nIf you did not ask for this, ignore this email: nothing changes without the code."
        ),
    }
}

/// Sent some hours before a class the client is enrolled in.
#[must_use]
pub fn class_reminder(
    studio: &StudioSettings,
    client_name: &str,
    course: &str,
    starts_at: DateTime<Utc>,
    instructor: Option<&str>,
) -> Message {
    let when = local_day_and_time(studio, starts_at);
    let with = instructor
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|i| format!(" with {i}"))
        .unwrap_or_default();
    Message {
        subject: format!("Reminder: {course} on {when}"),
        text: format!(
            "Hi {client_name}, a reminder from {studio_name}: {course} starts on {when}{with}. \
             See you there!",
            studio_name = studio.name,
        ),
    }
}

/// Sent when a payment is overdue.
#[must_use]
pub fn payment_reminder(
    studio: &StudioSettings,
    client_name: &str,
    course: &str,
    order: OrderNumber,
    amount: Money,
    due: DateTime<Utc>,
    payment_link: Option<&str>,
) -> Message {
    Message {
        subject: format!("Payment reminder: order {order}"),
        text: format!(
            "Hi {client_name}, a reminder from {studio_name}: the payment of {amount} for \
             {course} (order {order}), due {due}, is still open. {how_to_pay}",
            studio_name = studio.name,
            amount = money(amount),
            due = local_date(studio, due),
            how_to_pay = how_to_pay(payment_link),
        ),
    }
}

fn how_to_pay(payment_link: Option<&str>) -> String {
    match payment_link.map(str::trim).filter(|l| !l.is_empty()) {
        Some(link) => format!("Pay online: {link}"),
        None => NO_ONLINE_PAYMENT.to_owned(),
    }
}

fn money(amount: Money) -> String {
    format_minor(amount.minor(), amount.currency())
}

/// `Mon 2 Mar 2026`, in the studio's time.
fn local_date(studio: &StudioSettings, at: DateTime<Utc>) -> String {
    at.with_timezone(&studio.utc_offset)
        .format("%a %-d %b %Y")
        .to_string()
}

/// `Mon 2 Mar at 07:00`, in the studio's time.
fn local_day_and_time(studio: &StudioSettings, at: DateTime<Utc>) -> String {
    at.with_timezone(&studio.utc_offset)
        .format("%a %-d %b at %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;
    use crate::domain::Currency;

    fn studio() -> StudioSettings {
        StudioSettings {
            online_payment: None,
            name: "Lotus Studio".into(),
            currency: Currency::INR,
            utc_offset: FixedOffset::east_opt(5 * 3600 + 1800).unwrap(),
            min_to_rank: 3,
        }
    }

    fn order() -> OrderNumber {
        OrderNumber::new(1042).unwrap()
    }

    fn rupees(minor: i64) -> Money {
        Money::new(minor, Currency::INR).unwrap()
    }

    /// 2 March 2026, 07:00 in the studio (UTC+05:30).
    fn morning() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 30, 0).unwrap()
    }

    #[test]
    fn an_order_confirmation_lists_the_order_and_the_payment_link() {
        let m = order_confirmation(
            &studio(),
            "Priya",
            "Hatha Flow",
            order(),
            rupees(450_000),
            morning(),
            Some("https://rzp.io/l/abc123"),
        );
        assert_eq!(m.subject, "Your enrolment in Hatha Flow (order #1042)");
        assert_eq!(
            m.text,
            "Hi Priya,\n\nThank you for enrolling in Hatha Flow at Lotus Studio.\n\n\
             Order: #1042\nAmount: ₹4,500\nPayment due: Mon 2 Mar 2026\n\n\
             Pay online: https://rzp.io/l/abc123\n\nSee you soon,\nLotus Studio"
        );
    }

    #[test]
    fn without_a_payment_link_the_confirmation_says_to_pay_at_the_desk() {
        let m = order_confirmation(
            &studio(),
            "Priya",
            "Hatha Flow",
            order(),
            rupees(450_050),
            morning(),
            None,
        );
        assert!(m.text.contains("Amount: ₹4,500.50\n"), "{}", m.text);
        assert!(
            m.text
                .contains("\n\nOnline payment is not set up; please pay at the desk.\n\n"),
            "{}",
            m.text
        );
    }

    #[test]
    fn a_receipt_names_the_amount_order_day_and_reference() {
        let m = payment_receipt(
            &studio(),
            "Priya",
            "Hatha Flow",
            order(),
            rupees(450_000),
            // 23:00 UTC on 1 March is already 2 March in the studio.
            Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).unwrap(),
            Some("pay_Q1w2e3"),
        );
        assert_eq!(m.subject, "Payment received for order #1042");
        assert_eq!(
            m.text,
            "Hi Priya,\n\nWe received your payment of ₹4,500 for Hatha Flow (order #1042) \
             on Mon 2 Mar 2026. Your enrolment is confirmed.\nPayment reference: pay_Q1w2e3\n\n\
             Thank you,\nLotus Studio"
        );
    }

    #[test]
    fn a_cancellation_notice_names_the_order_and_says_nothing_is_owed() {
        let m = order_cancellation(&studio(), "Priya", "Hatha Flow", order(), rupees(450_000));
        assert_eq!(m.subject, "Your order #1042 is cancelled");
        assert_eq!(
            m.text,
            "Hi Priya,\n\nYour order #1042 for Hatha Flow (₹4,500) at Lotus Studio has been \
             cancelled, and nothing is owed for it. If this is a surprise, just reply or get \
             in touch with us.\n\nLotus Studio"
        );
    }

    #[test]
    fn an_enquiry_acknowledgement_names_the_course_when_there_is_one() {
        let m = enquiry_acknowledgement(&studio(), "Ravi", Some("Pilates Basics"));
        assert_eq!(m.subject, "Your enquiry at Lotus Studio");
        assert_eq!(
            m.text,
            "Hi Ravi,\n\nThank you for your enquiry about Pilates Basics. Someone from \
             Lotus Studio will get back to you soon.\n\nLotus Studio"
        );
        let m = enquiry_acknowledgement(&studio(), "Ravi", None);
        assert!(m.text.contains("Thank you for your enquiry. Someone"));
    }

    #[test]
    fn a_class_reminder_gives_the_local_start_and_the_instructor() {
        let m = class_reminder(&studio(), "Priya", "Hatha Flow", morning(), Some("Asha"));
        assert_eq!(m.subject, "Reminder: Hatha Flow on Mon 2 Mar at 07:00");
        assert_eq!(
            m.text,
            "Hi Priya, a reminder from Lotus Studio: Hatha Flow starts on Mon 2 Mar at 07:00 \
             with Asha. See you there!"
        );
        let m = class_reminder(&studio(), "Priya", "Hatha Flow", morning(), Some(" "));
        assert!(m.text.contains("at 07:00. See you there!"), "{}", m.text);
    }

    #[test]
    fn a_payment_reminder_gives_amount_order_due_day_and_how_to_pay() {
        let m = payment_reminder(
            &studio(),
            "Priya",
            "Hatha Flow",
            order(),
            rupees(450_000),
            morning(),
            None,
        );
        assert_eq!(m.subject, "Payment reminder: order #1042");
        assert_eq!(
            m.text,
            "Hi Priya, a reminder from Lotus Studio: the payment of ₹4,500 for Hatha Flow \
             (order #1042), due Mon 2 Mar 2026, is still open. Online payment is not set up; \
             please pay at the desk."
        );
        let m = payment_reminder(
            &studio(),
            "Priya",
            "Hatha Flow",
            order(),
            rupees(450_000),
            morning(),
            Some("https://buy.stripe.com/x"),
        );
        assert!(m
            .text
            .ends_with("is still open. Pay online: https://buy.stripe.com/x"));
    }
}
