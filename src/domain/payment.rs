//! A payment owed or made for an order.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::{bson_date, bson_date_opt};
use super::{DomainError, Money, ObjectId, OrderNumber};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Card,
    Upi,
    Cash,
    BankTransfer,
    /// A payment link or checkout page (Stripe, Razorpay).
    Online,
}

impl PaymentMethod {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Upi => "upi",
            Self::Cash => "cash",
            Self::BankTransfer => "bank_transfer",
            Self::Online => "online",
        }
    }
}

impl FromStr for PaymentMethod {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
            "card" | "credit_card" | "debit_card" => Ok(Self::Card),
            "upi" | "gpay" | "phonepe" | "paytm" => Ok(Self::Upi),
            "cash" => Ok(Self::Cash),
            "bank_transfer" | "bank" | "transfer" | "neft" | "imps" => Ok(Self::BankTransfer),
            "online" | "link" | "payment_link" | "stripe" | "razorpay" => Ok(Self::Online),
            other => Err(DomainError::invalid(
                "method",
                format!(
                    "{other:?} is not a payment method (card, upi, cash, bank_transfer, online)"
                ),
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Pending,
    Paid,
    Failed,
    Refunded,
}

impl PaymentStatus {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
        }
    }
}

/// A payment for an order. `paid_at` is set exactly when the status is paid or refunded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub order_id: ObjectId,
    pub order_number: OrderNumber,
    pub client_id: ObjectId,
    pub course_id: ObjectId,
    pub course_name: String,
    pub amount: Money,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    #[serde(with = "bson_date")]
    pub due_at: DateTime<Utc>,
    #[serde(default, with = "bson_date_opt")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub provider_ref: Option<String>,
    /// The online payment link (Razorpay payment link, Stripe Checkout), once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_url: Option<String>,
    #[serde(with = "bson_date")]
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}
