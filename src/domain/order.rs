//! An order: a client buying a course, with a human number such as `#12345`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::bson_date;
use super::{DomainError, Money, ObjectId};

/// The number people quote for an order (`#12345`). Accepts `#12345`, `12345`,
/// `ORD-12345` and `order no. 12345`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct OrderNumber(u32);

impl OrderNumber {
    pub const MIN: u32 = 1_000;
    pub const MAX: u32 = 99_999_999;

    /// # Errors
    /// Outside 1000..=99999999.
    pub fn new(n: u32) -> Result<Self, DomainError> {
        if !(Self::MIN..=Self::MAX).contains(&n) {
            return Err(DomainError::invalid(
                "order",
                format!("{n} is not an order number (they have 4 to 8 digits)"),
            ));
        }
        Ok(Self(n))
    }

    /// # Errors
    /// Text that does not name an order number.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let lower = raw.trim().to_lowercase();
        let mut rest = lower.as_str();
        for prefix in [
            "order", "ord", "no.", "no", "number", "num", "#", "-", ":", " ",
        ] {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(prefix) {
                rest = r;
            }
        }
        let rest = rest.trim().trim_start_matches(['#', '-', ':']).trim();
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) || rest.len() > 8 {
            return Err(DomainError::invalid(
                "order",
                format!("{raw:?} is not an order number"),
            ));
        }
        let n = rest.parse::<u32>().map_err(|_| {
            DomainError::invalid("order", format!("{raw:?} is not an order number"))
        })?;
        Self::new(n)
    }

    #[must_use]
    pub fn get(&self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for OrderNumber {
    type Error = DomainError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        u32::try_from(n)
            .map_err(|_| DomainError::invalid("order", format!("{n} is not an order number")))
            .and_then(Self::new)
    }
}

impl From<OrderNumber> for i64 {
    fn from(n: OrderNumber) -> Self {
        i64::from(n.0)
    }
}

impl FromStr for OrderNumber {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Cancelled,
    Completed,
}

impl OrderStatus {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    /// Whether an order may move from `self` to `to`: pending → confirmed or cancelled;
    /// confirmed → completed or cancelled; cancelled and completed are final.
    ///
    /// # Errors
    /// The move makes no sense, with the reason.
    pub fn check_transition(self, to: Self) -> Result<(), DomainError> {
        use OrderStatus::{Cancelled, Completed, Confirmed, Pending};
        match (self, to) {
            (Pending, Confirmed | Cancelled) | (Confirmed, Completed | Cancelled) => Ok(()),
            (from, to) if from == to => Err(DomainError::invalid(
                "status",
                format!("the order is already {}", to.as_str()),
            )),
            (Cancelled | Completed, _) => Err(DomainError::invalid(
                "status",
                format!("a {} order cannot change any more", self.as_str()),
            )),
            (Pending, Completed) => Err(DomainError::invalid(
                "status",
                "a pending order must be confirmed (paid) before it is completed",
            )),
            (_, Pending) => Err(DomainError::invalid(
                "status",
                "an order cannot go back to pending",
            )),
            _ => Err(DomainError::invalid(
                "status",
                format!(
                    "cannot move an order from {} to {}",
                    self.as_str(),
                    to.as_str()
                ),
            )),
        }
    }
}

impl FromStr for OrderStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "pending" => Ok(Self::Pending),
            "confirmed" => Ok(Self::Confirmed),
            "cancelled" | "canceled" => Ok(Self::Cancelled),
            "completed" => Ok(Self::Completed),
            other => Err(DomainError::invalid(
                "status",
                format!("{other:?} is not an order status"),
            )),
        }
    }
}

/// A client's order for a course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub number: OrderNumber,
    pub client_id: ObjectId,
    pub course_id: ObjectId,
    pub course_name: String,
    pub status: OrderStatus,
    pub amount: Money,
    #[serde(with = "bson_date")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "bson_date")]
    pub updated_at: DateTime<Utc>,
    /// Set on orders created from a chat message or API call, so a retry finds the
    /// order it already made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_parse_in_every_form_people_use() {
        for raw in [
            "#12345",
            "12345",
            "ORD-12345",
            "order no. 12345",
            "Order #12345",
            "ord12345",
            "order number 12345",
        ] {
            assert_eq!(OrderNumber::parse(raw).unwrap().get(), 12345, "{raw}");
        }
        for raw in ["", "#", "12a45", "123", "123456789", "order", "12 345x"] {
            assert!(OrderNumber::parse(raw).is_err(), "{raw}");
        }
        assert_eq!(OrderNumber::new(12345).unwrap().to_string(), "#12345");
    }

    #[test]
    fn order_status_moves_only_forward() {
        use OrderStatus::*;
        assert!(Pending.check_transition(Confirmed).is_ok());
        assert!(Confirmed.check_transition(Completed).is_ok());
        assert!(Pending.check_transition(Cancelled).is_ok());
        let err = Pending.check_transition(Completed).unwrap_err();
        assert!(err.to_string().contains("confirmed"));
        assert!(Cancelled.check_transition(Confirmed).is_err());
        assert!(Completed.check_transition(Cancelled).is_err());
        assert!(Confirmed.check_transition(Pending).is_err());
        assert!(Confirmed.check_transition(Confirmed).is_err());
    }
}
