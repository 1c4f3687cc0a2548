//! The gateway's configuration, resolved and checked: where each agent answers, who is
//! staff, a manager or an admin on each platform, and how fast each kind of user may
//! write. Parsed from the `[gateway]` section by [`super`] and handed to the gateway.

use std::collections::HashMap;

use frontdesk_chat::Platform;

use crate::domain::{AgentKind, Role};

/// One explicit route: messages in this channel go to this agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub platform: Platform,
    /// Slack team id or Discord guild id; `None` matches any.
    pub workspace: Option<String>,
    pub channel: String,
    pub agent: AgentKind,
}

/// A person who works at the studio, with their accounts on each platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub role: Role,
    /// (platform, platform user id) pairs.
    pub accounts: Vec<(Platform, String)>,
}

/// Messages per minute allowed for one user, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleQuotas {
    pub guest: u32,
    pub client: u32,
    pub staff: u32,
    pub manager: u32,
    pub admin: u32,
}

impl RoleQuotas {
    #[must_use]
    pub fn for_role(&self, role: Role) -> u32 {
        match role {
            Role::Guest => self.guest,
            Role::Client => self.client,
            Role::Staff => self.staff,
            Role::Manager => self.manager,
            Role::Admin => self.admin,
        }
    }
}

/// The resolved `[gateway]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    pub per_user_per_minute: RoleQuotas,
    /// Messages per minute the whole platform may bring in (a flood guard).
    pub per_platform_per_minute: HashMap<Platform, u32>,
    pub routes: Vec<Route>,
    /// The agent for chats with no explicit route (Telegram: support).
    pub default_agent: HashMap<Platform, AgentKind>,
    /// The role of people on a platform who are not listed anywhere (default: guest).
    pub default_role: HashMap<Platform, Role>,
    pub people: Vec<Person>,
    /// Platform role or user-group ids that grant a studio role.
    pub platform_roles: HashMap<(Platform, String), Role>,
    /// How long an emailed link code stays valid.
    pub link_code_minutes: u32,
    /// How long a processed event id is remembered (platform retries come within
    /// minutes; redelivery after a restart within hours).
    pub dedupe_hours: u32,
    /// The staff channel of hand-off tickets: replies in a ticket's thread there go to
    /// the person who asked.
    pub handoff: Option<super::HandoffTarget>,
    /// Quotas counted in the database too, across every instance (`[server]
    /// shared_limits`).
    pub shared_limits: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            per_user_per_minute: RoleQuotas {
                guest: 10,
                client: 20,
                staff: 60,
                manager: 60,
                admin: 120,
            },
            per_platform_per_minute: HashMap::new(),
            routes: Vec::new(),
            default_agent: HashMap::from([(Platform::Telegram, AgentKind::Support)]),
            default_role: HashMap::new(),
            people: Vec::new(),
            platform_roles: HashMap::new(),
            link_code_minutes: 15,
            dedupe_hours: 48,
            handoff: None,
            shared_limits: false,
        }
    }
}

impl GatewaySettings {
    /// The explicit route for a channel, if one is configured.
    #[must_use]
    pub fn route_for(
        &self,
        platform: Platform,
        workspace: Option<&str>,
        channel: &str,
    ) -> Option<AgentKind> {
        self.routes
            .iter()
            .find(|r| {
                r.platform == platform
                    && r.channel == channel
                    && r.workspace.as_deref().is_none_or(|w| Some(w) == workspace)
            })
            .map(|r| r.agent)
    }

    /// The configured person behind a platform account.
    #[must_use]
    pub fn person(&self, platform: Platform, user: &str) -> Option<&Person> {
        self.people.iter().find(|p| {
            p.accounts
                .iter()
                .any(|(pl, id)| *pl == platform && id == user)
        })
    }

    /// The highest studio role granted by any of the user's platform roles or groups.
    #[must_use]
    pub fn role_from_platform_roles(&self, platform: Platform, roles: &[String]) -> Option<Role> {
        roles
            .iter()
            .filter_map(|r| self.platform_roles.get(&(platform, r.clone())).copied())
            .max()
    }
}
