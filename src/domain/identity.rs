//! Who is asking and which agent answers: the identity vocabulary every layer shares
//! (config, gateway, agents, tools, telemetry, the REST API), kept here so that none of
//! them has to import another to name a role.

use serde::Serialize;

use super::ObjectId;

/// What the caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Not linked to a client record yet: catalogue, classes and enquiries only.
    Guest,
    Client,
    Staff,
    Manager,
    Admin,
}

impl Role {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Client => "client",
            Self::Staff => "staff",
            Self::Manager => "manager",
            Self::Admin => "admin",
        }
    }

    /// A role by name (`guest`, `client`, `staff`, `manager`, `admin`), any case.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "guest" => Some(Self::Guest),
            "client" => Some(Self::Client),
            "staff" => Some(Self::Staff),
            "manager" => Some(Self::Manager),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Staff, managers and admins: people who work at the studio.
    #[must_use]
    pub fn is_staff(&self) -> bool {
        *self >= Self::Staff
    }
}

/// What a caller without a name is called in a greeting ("Hi there!").
pub const GUEST_NAME: &str = "there";

/// Who is asking, as established by the gateway or the API (never by the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// Set for clients: the only client record they may see.
    pub client_id: Option<ObjectId>,
    /// How to address them ("Priya", "staff").
    pub name: String,
    /// The account the request came from, for the audit trail; `None` when only the
    /// role is known (a console question, a test).
    pub account: Option<Account>,
}

/// An account on a platform or the REST API: `slack:U0ASHA`, `telegram:1234`,
/// `api:<token subject>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account(String);

impl Account {
    #[must_use]
    pub fn new(platform: &str, id: &str) -> Self {
        Self(format!("{platform}:{id}"))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Caller {
    /// The caller, known to come from `account`.
    #[must_use]
    pub fn with_account(mut self, account: Account) -> Self {
        self.account = Some(account);
        self
    }

    #[must_use]
    pub fn staff() -> Self {
        Self {
            role: Role::Staff,
            client_id: None,
            name: "staff".into(),
            account: None,
        }
    }

    #[must_use]
    pub fn manager() -> Self {
        Self {
            role: Role::Manager,
            client_id: None,
            name: "manager".into(),
            account: None,
        }
    }

    #[must_use]
    pub fn client(id: ObjectId, name: impl Into<String>) -> Self {
        Self {
            role: Role::Client,
            client_id: Some(id),
            name: name.into(),
            account: None,
        }
    }

    /// Whether the caller is known by a name (not the stand-in a greeting uses).
    #[must_use]
    pub fn has_name(&self) -> bool {
        self.name != GUEST_NAME && !self.name.trim().is_empty()
    }

    #[must_use]
    pub fn guest() -> Self {
        Self {
            role: Role::Guest,
            client_id: None,
            name: GUEST_NAME.into(),
            account: None,
        }
    }
}

/// The two agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Support,
    Dashboard,
}

impl AgentKind {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::Dashboard => "dashboard",
        }
    }
}

impl std::str::FromStr for AgentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "support" => Ok(Self::Support),
            "dashboard" => Ok(Self::Dashboard),
            other => Err(format!("{other:?} is not an agent (support or dashboard)")),
        }
    }
}
