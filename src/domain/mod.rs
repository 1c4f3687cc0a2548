//! The studio's vocabulary: clients, courses, classes (sessions), orders, payments and
//! attendance, plus the values they are made of (money, email, phone, periods, the clock).
//!
//! Types here validate on construction and do no IO. They derive serde so the store can
//! keep them as MongoDB documents; every validated field deserializes through its own
//! parser, so a document that breaks an invariant is an error on read, not a bad value
//! in memory.

mod attendance;
mod class;
mod client;
mod clock;
mod contact;
mod course;
mod error;
mod identity;
mod intent;
mod money;
mod order;
mod payment;
mod period;
mod text;
pub(crate) mod time;

pub use attendance::{Attendance, AttendanceStatus};
pub use class::ClassSession;
pub use client::{name_tokens, Client, ClientStatus, Enrollment};
pub use clock::{Clock, FixedClock, MovingClock, SharedClock, SystemClock};
pub use contact::{Email, PersonName, Phone};
pub use course::{Course, CourseCategory, CourseLevel, WeeklySlot};
pub use error::DomainError;
pub use identity::{Account, AgentKind, Caller, Role, GUEST_NAME};
pub use intent::{Intent, UnknownIntent};
pub use money::{format_minor, Currency, Money};
pub use order::{Order, OrderNumber, OrderStatus};
pub use payment::{Payment, PaymentMethod, PaymentStatus};
pub use period::{Cut, Period, ResolvedPeriod};
pub use text::{hidden_char, refuse_hidden_chars};

/// MongoDB's own id type, used as the id of every entity.
pub use bson::oid::ObjectId;
