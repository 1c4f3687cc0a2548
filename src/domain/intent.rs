//! What a message asks for: one [`Intent`] per agent tool (its name is the tool's
//! `NAME`), plus the answers that need no tool. Planners, tools, conversation memory,
//! metrics and the eval all speak this one vocabulary.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::AgentKind;

macro_rules! intents {
    ($($variant:ident = $name:literal, $agent:expr, $write:literal;)*) => {
        /// What a message asks for: a tool of one of the agents, or an answer without one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Intent {
            $($variant,)*
            /// Greetings, help, a question back, "not sure": no tool.
            Smalltalk,
            /// The caller may not have this answered.
            Refused,
        }

        impl Intent {
            /// Every intent that is a tool.
            pub const TOOLS: &'static [Intent] = &[$(Intent::$variant,)*];

            /// The name used everywhere: the tool's `NAME`, the `intent` of an answer.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Smalltalk => "smalltalk",
                    Self::Refused => "refused",
                }
            }

            /// The agent whose tool this is; `None` for the answers without a tool.
            #[must_use]
            pub const fn agent(self) -> Option<AgentKind> {
                match self {
                    $(Self::$variant => Some($agent),)*
                    Self::Smalltalk | Self::Refused => None,
                }
            }

            /// Whether the tool writes: makes, changes or sends something. A write runs
            /// only when the message itself asks for it (never as a follow-up), and is
            /// proposed for a "yes" when its target came from anywhere else.
            #[must_use]
            pub const fn is_write(self) -> bool {
                match self {
                    $(Self::$variant => $write,)*
                    Self::Smalltalk | Self::Refused => false,
                }
            }
        }

        impl FromStr for Intent {
            type Err = UnknownIntent;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)*
                    "smalltalk" => Ok(Self::Smalltalk),
                    "refused" => Ok(Self::Refused),
                    other => Err(UnknownIntent(other.chars().take(60).collect())),
                }
            }
        }
    };
}

use AgentKind::{Dashboard, Support};

intents! {
    FindClient = "find_client", Support, false;
    ClientOrders = "client_orders", Support, false;
    OrderStatus = "order_status", Support, false;
    ListClasses = "list_classes", Support, false;
    CourseInfo = "course_info", Support, false;
    CreateOrder = "create_order", Support, true;
    CreateEnquiry = "create_enquiry", Support, true;
    PendingPayments = "pending_payments", Support, false;
    RecordPayment = "record_payment", Support, true;
    CancelOrder = "cancel_order", Support, true;
    EscalateToStaff = "escalate_to_staff", Support, true;
    OpenTickets = "open_tickets", Support, false;
    Revenue = "revenue", Dashboard, false;
    NewClients = "new_clients", Dashboard, false;
    CourseEnrollment = "course_enrollment", Dashboard, false;
    AttendanceRate = "attendance_rate", Dashboard, false;
    InactiveClients = "inactive_clients", Dashboard, false;
    OutstandingBalance = "outstanding_balance", Dashboard, false;
    Retention = "retention", Dashboard, false;
    ClassFillRate = "class_fill_rate", Dashboard, false;
    ClientSummary = "client_summary", Dashboard, false;
    TopClients = "top_clients", Dashboard, false;
    TicketSummary = "ticket_summary", Dashboard, false;
}

impl Intent {
    /// Whether this is a tool's intent (not smalltalk or a refusal).
    #[must_use]
    pub const fn is_tool(self) -> bool {
        self.agent().is_some()
    }
}

/// A name that is no intent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an intent")]
pub struct UnknownIntent(pub String);

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Intent {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Intent {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_intent_reads_back_from_its_name() {
        for intent in Intent::TOOLS
            .iter()
            .chain(&[Intent::Smalltalk, Intent::Refused])
        {
            assert_eq!(intent.as_str().parse::<Intent>(), Ok(*intent));
            assert_eq!(
                serde_json::to_value(intent).ok(),
                Some(serde_json::Value::from(intent.as_str()))
            );
        }
        assert!("drop_database".parse::<Intent>().is_err());
    }

    #[test]
    fn the_writes_are_exactly_the_tools_that_make_or_send_something() {
        let writes: Vec<&str> = Intent::TOOLS
            .iter()
            .filter(|i| i.is_write())
            .map(|i| i.as_str())
            .collect();
        assert_eq!(
            writes,
            [
                "create_order",
                "create_enquiry",
                "record_payment",
                "cancel_order",
                "escalate_to_staff"
            ]
        );
        assert!(Intent::TOOLS
            .iter()
            .filter(|i| i.agent() == Some(AgentKind::Dashboard))
            .all(|i| !i.is_write()));
    }
}
