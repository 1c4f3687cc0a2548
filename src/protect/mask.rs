//! Masks for the few places that must mention an email address or phone number in a
//! log line or a message to staff: enough to recognise, not enough to contact.

/// `priya@example.com` → `p***@example.com`; text without `@` is masked whole.
#[must_use]
pub fn email(raw: &str) -> String {
    match raw.trim().split_once('@') {
        Some((local, domain)) if !domain.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "***".to_owned(),
    }
}

/// `+447700900089` → `+44******89`: the country code (up to two digits after `+`) and
/// the last two digits stay.
#[must_use]
pub fn phone(raw: &str) -> String {
    let raw = raw.trim();
    let plus = raw.starts_with('+');
    let digits: Vec<char> = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return "***".to_owned();
    }
    let head = if plus { 2 } else { 0 };
    let tail = 2;
    let hidden = digits.len() - head - tail;
    let mut out = String::with_capacity(digits.len() + 1);
    if plus {
        out.push('+');
    }
    out.extend(&digits[..head]);
    out.extend(std::iter::repeat_n('*', hidden));
    out.extend(&digits[digits.len() - tail..]);
    out
}

/// Masks every email address and phone-like run of digits in free text (a chat
/// message, an error) before it is logged.
#[must_use]
pub fn text(raw: &str) -> String {
    static PATTERNS: std::sync::OnceLock<Option<(regex::Regex, regex::Regex)>> =
        std::sync::OnceLock::new();
    let Some((emails, phones)) = PATTERNS.get_or_init(|| {
        Some((
            regex::Regex::new(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").ok()?,
            regex::Regex::new(r"\+?\d[\d \-]{6,}\d").ok()?,
        ))
    }) else {
        return "***".to_owned();
    };
    let out = emails.replace_all(raw, |c: &regex::Captures<'_>| email(&c[0]));
    phones
        .replace_all(&out, |c: &regex::Captures<'_>| phone(&c[0]))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_keep_the_first_letter_and_the_domain() {
        assert_eq!(email("priya@example.com"), "p***@example.com");
        assert_eq!(email(" Priya.Sharma@Example.com "), "P***@Example.com");
        assert_eq!(email("not an email"), "***");
        assert_eq!(email("@example.com"), "***@example.com");
    }

    #[test]
    fn phones_keep_the_country_code_and_last_two_digits() {
        assert_eq!(phone("+447700900089"), "+44********89");
        assert_eq!(phone("+919876543210"), "+91********10");
        assert_eq!(phone("9876543210"), "********10");
        assert_eq!(phone("12"), "***");
        assert!(!phone("+919876543210").contains("98765"));
    }

    #[test]
    fn free_text_loses_every_address_and_number() {
        let masked = text("find priya@example.com or +91 98765 43210 please");
        assert!(!masked.contains("priya@"), "{masked}");
        assert!(!masked.contains("98765"), "{masked}");
        assert!(masked.contains("p***@example.com"), "{masked}");
        assert_eq!(text("status of order #12345"), "status of order #12345");
    }
}
