//! Money as integer minor units plus an ISO 4217 currency; never a float.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// An ISO 4217 currency code such as `INR` or `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const INR: Self = Self(*b"INR");
    pub const USD: Self = Self(*b"USD");

    /// Parses a three-letter code, case-insensitively.
    ///
    /// # Errors
    /// Anything but three ASCII letters.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let upper = raw.trim().to_ascii_uppercase();
        match <[u8; 3]>::try_from(upper.as_bytes()) {
            Ok(code) if code.iter().all(u8::is_ascii_uppercase) => Ok(Self(code)),
            _ => Err(DomainError::invalid(
                "currency",
                format!("{raw:?} is not a three-letter ISO 4217 code"),
            )),
        }
    }

    #[must_use]
    pub fn code(&self) -> &str {
        // The bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    fn symbol(&self) -> Option<&'static str> {
        match &self.0 {
            b"INR" => Some("₹"),
            b"USD" => Some("$"),
            b"EUR" => Some("€"),
            b"GBP" => Some("£"),
            _ => None,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A non-negative amount of money in minor units (paise, cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyDoc")]
pub struct Money {
    minor: i64,
    currency: Currency,
}

#[derive(Deserialize)]
struct MoneyDoc {
    minor: i64,
    currency: Currency,
}

impl TryFrom<MoneyDoc> for Money {
    type Error = DomainError;
    fn try_from(doc: MoneyDoc) -> Result<Self, Self::Error> {
        Self::new(doc.minor, doc.currency)
    }
}

impl Money {
    /// # Errors
    /// A negative amount.
    pub fn new(minor: i64, currency: Currency) -> Result<Self, DomainError> {
        if minor < 0 {
            return Err(DomainError::invalid(
                "amount",
                format!("{minor} is negative; amounts are zero or more"),
            ));
        }
        Ok(Self { minor, currency })
    }

    /// Parses a human amount such as `1500`, `1,500.50` or `₹2,000` into minor units.
    ///
    /// # Errors
    /// Not a number, negative, or more than two decimals.
    pub fn parse_major(raw: &str, currency: Currency) -> Result<Self, DomainError> {
        let cleaned: String = raw
            .trim()
            .trim_start_matches(['₹', '$', '€', '£'])
            .trim_start_matches("Rs.")
            .trim_start_matches("Rs")
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != '_')
            .collect();
        let bad = || DomainError::invalid("amount", format!("{raw:?} is not an amount of money"));
        let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || frac.len() > 2 {
            return Err(bad());
        }
        if !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac_minor: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        let minor = whole
            .checked_mul(100)
            .and_then(|m| m.checked_add(frac_minor))
            .ok_or_else(bad)?;
        Self::new(minor, currency)
    }

    #[must_use]
    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    #[must_use]
    pub fn minor(&self) -> i64 {
        self.minor
    }

    #[must_use]
    pub fn currency(&self) -> Currency {
        self.currency
    }
}

/// Formats minor units with the currency symbol and thousands separators: `₹12,500`,
/// `₹99.50`.
#[must_use]
pub fn format_minor(minor: i64, currency: Currency) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let (whole, cents) = (abs / 100, abs % 100);
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let amount = if cents == 0 {
        grouped
    } else {
        format!("{grouped}.{cents:02}")
    };
    match currency.symbol() {
        Some(sym) => format!("{sign}{sym}{amount}"),
        None => format!("{sign}{amount} {}", currency.code()),
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_minor(self.minor, self.currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_amounts_are_rejected_with_the_field_named() {
        let err = Money::new(-1, Currency::INR).unwrap_err();
        assert_eq!(err.field(), "amount");
        assert!(err.to_string().contains("negative"));
    }

    #[test]
    fn parses_human_amounts_into_minor_units() {
        for (raw, minor) in [
            ("1500", 150_000),
            ("1,500.5", 150_050),
            ("₹2,000", 200_000),
            ("0.07", 7),
        ] {
            assert_eq!(
                Money::parse_major(raw, Currency::INR).unwrap().minor(),
                minor,
                "{raw}"
            );
        }
        for raw in ["", "abc", "-5", "1.234", "1.2.3", "99999999999999999999"] {
            assert!(Money::parse_major(raw, Currency::INR).is_err(), "{raw}");
        }
    }

    #[test]
    fn formats_with_symbol_and_grouping() {
        assert_eq!(
            Money::new(1_250_000, Currency::INR).unwrap().to_string(),
            "₹12,500"
        );
        assert_eq!(
            Money::new(9_950, Currency::USD).unwrap().to_string(),
            "$99.50"
        );
        assert_eq!(
            format_minor(100_000_000, Currency::parse("chf").unwrap()),
            "1,000,000 CHF"
        );
    }

    #[test]
    fn currency_codes_are_three_letters() {
        assert_eq!(Currency::parse("inr").unwrap(), Currency::INR);
        assert!(Currency::parse("RUPEE").is_err());
        assert!(Currency::parse("I1R").is_err());
    }

    #[test]
    fn deserializing_validates() {
        let bad: Result<Money, _> = serde_json::from_str(r#"{"minor":-5,"currency":"INR"}"#);
        assert!(bad.is_err());
        let good: Money = serde_json::from_str(r#"{"minor":5,"currency":"INR"}"#).unwrap();
        assert_eq!(good.minor(), 5);
    }
}
