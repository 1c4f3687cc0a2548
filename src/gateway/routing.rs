//! Which agent answers a message: an explicit channel route from the config, else a direct
//! message routed by the caller's role, else the platform's default; otherwise nobody (the
//! bot stays silent in channels it was not asked to serve).

use frontdesk_chat::Inbound;

use super::settings::GatewaySettings;
use crate::tools::{AgentKind, Role};

/// The agent for a message, or `None` to ignore it silently.
#[must_use]
pub fn agent_for(settings: &GatewaySettings, inbound: &Inbound, role: Role) -> Option<AgentKind> {
    if let Some(agent) = settings.route_for(
        inbound.platform,
        inbound.workspace.as_deref(),
        &inbound.channel,
    ) {
        return Some(agent);
    }
    if inbound.is_direct {
        return Some(match role {
            Role::Manager | Role::Admin => AgentKind::Dashboard,
            Role::Guest | Role::Client | Role::Staff => AgentKind::Support,
        });
    }
    settings.default_agent.get(&inbound.platform).copied()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use frontdesk_chat::Platform;

    use super::*;
    use crate::gateway::settings::Route;

    fn settings() -> GatewaySettings {
        GatewaySettings {
            routes: vec![
                Route {
                    platform: Platform::Slack,
                    workspace: Some("T1".into()),
                    channel: "C_SUPPORT".into(),
                    agent: AgentKind::Support,
                },
                Route {
                    platform: Platform::Slack,
                    workspace: None,
                    channel: "C_MGMT".into(),
                    agent: AgentKind::Dashboard,
                },
                Route {
                    platform: Platform::Discord,
                    workspace: None,
                    channel: "900".into(),
                    agent: AgentKind::Dashboard,
                },
                Route {
                    platform: Platform::Telegram,
                    workspace: None,
                    channel: "-100200".into(),
                    agent: AgentKind::Dashboard,
                },
            ],
            ..GatewaySettings::default()
        }
    }

    fn msg(platform: Platform, workspace: Option<&str>, channel: &str, direct: bool) -> Inbound {
        let m = Inbound::new(platform, channel, "u", "hi", "e", Utc::now()).with_direct(direct);
        match workspace {
            Some(w) => m.with_workspace(w),
            None => m,
        }
    }

    #[test]
    fn routing_table() {
        let s = settings();
        let cases = [
            // (platform, workspace, channel, direct, role, expected)
            (
                Platform::Slack,
                Some("T1"),
                "C_SUPPORT",
                false,
                Role::Staff,
                Some(AgentKind::Support),
            ),
            // A route pinned to a workspace does not match another workspace's channel.
            (
                Platform::Slack,
                Some("T2"),
                "C_SUPPORT",
                false,
                Role::Staff,
                None,
            ),
            (
                Platform::Slack,
                Some("T2"),
                "C_MGMT",
                false,
                Role::Manager,
                Some(AgentKind::Dashboard),
            ),
            // The route decides, not the role: a client in a management channel reaches
            // the Dashboard Agent, which refuses them.
            (
                Platform::Slack,
                Some("T1"),
                "C_MGMT",
                false,
                Role::Client,
                Some(AgentKind::Dashboard),
            ),
            // Unrouted Slack and Discord channels are ignored.
            (
                Platform::Slack,
                Some("T1"),
                "C_RANDOM",
                false,
                Role::Admin,
                None,
            ),
            (
                Platform::Discord,
                Some("G1"),
                "901",
                false,
                Role::Manager,
                None,
            ),
            (
                Platform::Discord,
                Some("G1"),
                "900",
                false,
                Role::Manager,
                Some(AgentKind::Dashboard),
            ),
            // The same channel id on another platform is another channel.
            (
                Platform::Discord,
                None,
                "C_MGMT",
                false,
                Role::Manager,
                None,
            ),
            // Direct messages by role.
            (
                Platform::Slack,
                Some("T1"),
                "D1",
                true,
                Role::Staff,
                Some(AgentKind::Support),
            ),
            (
                Platform::Slack,
                Some("T1"),
                "D2",
                true,
                Role::Manager,
                Some(AgentKind::Dashboard),
            ),
            (
                Platform::Discord,
                None,
                "D3",
                true,
                Role::Admin,
                Some(AgentKind::Dashboard),
            ),
            (
                Platform::Discord,
                None,
                "D4",
                true,
                Role::Guest,
                Some(AgentKind::Support),
            ),
            (
                Platform::Telegram,
                None,
                "55",
                true,
                Role::Client,
                Some(AgentKind::Support),
            ),
            // Telegram groups: the default (support) unless routed.
            (
                Platform::Telegram,
                None,
                "-100999",
                false,
                Role::Client,
                Some(AgentKind::Support),
            ),
            (
                Platform::Telegram,
                None,
                "-100200",
                false,
                Role::Manager,
                Some(AgentKind::Dashboard),
            ),
        ];
        for (platform, ws, channel, direct, role, expected) in cases {
            let got = agent_for(&s, &msg(platform, ws, channel, direct), role);
            assert_eq!(
                got, expected,
                "{platform} {ws:?} {channel} direct={direct} {role:?}"
            );
        }
    }
}
