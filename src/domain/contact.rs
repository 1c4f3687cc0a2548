//! Contact values: a person's name, email address and phone number, each parsed once.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// An email address, trimmed and lower-cased so that lookups match however it was typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// # Errors
    /// Not of the form `local@domain.tld`, or longer than 254 characters.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let email = raw.trim().to_lowercase();
        let bad = |why: &str| DomainError::invalid("email", format!("{raw:?} {why}"));
        if email.len() > 254 {
            return Err(bad("is longer than 254 characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(bad("is not an email address (no @)"));
        };
        let local_ok = !local.is_empty()
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._%+-'".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.len() >= 2);
        if !local_ok || !domain_ok {
            return Err(bad("is not an email address"));
        }
        Ok(Self(email))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+919876543210`). Ten-digit numbers without a country
/// code are taken as Indian (`+91`), the studio's home country.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    const HOME_COUNTRY_CODE: &'static str = "91";

    /// # Errors
    /// Letters, or fewer than 10 or more than 15 digits.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let bad = |why: &str| DomainError::invalid("phone", format!("{raw:?} {why}"));
        if trimmed
            .chars()
            .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
        {
            return Err(bad("is not a phone number"));
        }
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let international = trimmed.starts_with('+') || digits.starts_with("00");
        let digits = if trimmed.starts_with('+') {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_owned()
        } else if digits.len() == 11 && digits.starts_with('0') {
            format!("{}{}", Self::HOME_COUNTRY_CODE, &digits[1..])
        } else if digits.len() == 10 && !international {
            format!("{}{digits}", Self::HOME_COUNTRY_CODE)
        } else {
            digits
        };
        if !(10..=15).contains(&digits.len()) {
            return Err(bad("needs 10 to 15 digits"));
        }
        Ok(Self(format!("+{digits}")))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> Self {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: 1 to 100 characters, no control characters, inner
/// whitespace collapsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// # Errors
    /// Empty, too long, or containing control characters or `$`/`{`/`}`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        // Before whitespace is collapsed: a tab or newline in a name is refused too.
        super::refuse_hidden_chars("name", raw.trim(), false)?;
        let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(DomainError::invalid("name", "is empty"));
        }
        if name.chars().count() > 100 {
            return Err(DomainError::invalid(
                "name",
                "is longer than 100 characters",
            ));
        }
        if name.chars().any(|c| c.is_control() || "${}<>".contains(c)) {
            return Err(DomainError::invalid(
                "name",
                format!("{raw:?} contains characters a name cannot have"),
            ));
        }
        Ok(Self(name))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first word of the name, for greetings.
    #[must_use]
    pub fn first(&self) -> &str {
        self.0.split(' ').next().unwrap_or(&self.0)
    }
}

impl TryFrom<String> for PersonName {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<PersonName> for String {
    fn from(n: PersonName) -> Self {
        n.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Priya@Example.COM ").unwrap().as_str(),
            "priya@example.com"
        );
        for bad in [
            "",
            "priya",
            "priya@",
            "@example.com",
            "priya@example",
            "pr iya@example.com",
            "a@b.c",
            "x@-a.com",
            "{\"$ne\":null}",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field(), "email", "{bad}");
        }
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            Phone::parse("98765 43210").unwrap().as_str(),
            "+919876543210"
        );
        assert_eq!(
            Phone::parse("+1 (415) 555-0100").unwrap().as_str(),
            "+14155550100"
        );
        assert_eq!(
            Phone::parse("0044 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(
            Phone::parse("09876543210").unwrap().as_str(),
            "+919876543210"
        );
        for bad in ["12345", "call me", "+1234567890123456", ""] {
            assert_eq!(Phone::parse(bad).unwrap_err().field(), "phone", "{bad}");
        }
    }

    #[test]
    fn names_are_tidied_and_bounded() {
        assert_eq!(
            PersonName::parse("  Priya   Sharma ").unwrap().as_str(),
            "Priya Sharma"
        );
        assert_eq!(PersonName::parse("Priya Sharma").unwrap().first(), "Priya");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"a".repeat(101)).is_err());
        assert!(PersonName::parse("{\"$gt\": \"\"}").is_err());
        for hidden in [
            "Eve \u{202e}niamdA\u{202c}",
            "Eve\u{200b}Admin",
            "Eve\tAdmin",
        ] {
            assert_eq!(PersonName::parse(hidden).unwrap_err().field(), "name");
        }
    }
}
