//! Who is writing: a chat account becomes a [`Caller`] with a role, from the config
//! (people and platform roles) and from the database (client accounts linked by phone or
//! email). Nothing in the message text can change the answer.

use frontdesk_chat::Inbound;

use super::settings::GatewaySettings;
use crate::store::{Store, StoreError};
use crate::tools::{Caller, Role};

/// The account key used for identities, limits and link codes: `"{platform}:{user id}"`.
#[must_use]
pub fn account_key(inbound: &Inbound) -> String {
    format!("{}:{}", inbound.platform, inbound.user)
}

/// Resolves the caller behind a message.
///
/// In order: a person listed in the config; a platform role or user group mapped to a
/// studio role; a client record linked to this account; the platform's default role;
/// a guest.
///
/// # Errors
/// The database failed while looking up a linked client.
pub async fn resolve_caller(
    settings: &GatewaySettings,
    store: &Store,
    inbound: &Inbound,
) -> Result<Caller, StoreError> {
    let display_name = || {
        inbound
            .user_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| crate::domain::GUEST_NAME.to_owned())
    };
    if let Some(person) = settings.person(inbound.platform, &inbound.user) {
        return Ok(Caller {
            role: person.role,
            client_id: None,
            name: person.name.clone(),
            account: None,
        });
    }
    if let Some(role) = settings.role_from_platform_roles(inbound.platform, &inbound.platform_roles)
    {
        return Ok(Caller {
            role,
            client_id: None,
            name: display_name(),
            account: None,
        });
    }
    if let Some(link) = store.linked_identity(&account_key(inbound)).await? {
        if let Some(client) = store.client_by_id(link.client_id).await? {
            return Ok(Caller::client(client.id, client.name.first()));
        }
    }
    let role = settings
        .default_role
        .get(&inbound.platform)
        .copied()
        .unwrap_or(Role::Guest);
    Ok(Caller {
        role,
        client_id: None,
        name: display_name(),
        account: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::Utc;
    use frontdesk_chat::Platform;

    use super::*;
    use crate::gateway::settings::Person;

    fn settings() -> GatewaySettings {
        GatewaySettings {
            people: vec![Person {
                name: "Asha Rao".into(),
                role: Role::Manager,
                accounts: vec![
                    (Platform::Telegram, "111".into()),
                    (Platform::Slack, "U0ASHA".into()),
                    (Platform::Discord, "222".into()),
                ],
            }],
            platform_roles: HashMap::from([
                ((Platform::Slack, "S0STAFF".into()), Role::Staff),
                ((Platform::Slack, "S0OWNERS".into()), Role::Admin),
                ((Platform::Discord, "777".into()), Role::Manager),
            ]),
            ..GatewaySettings::default()
        }
    }

    #[test]
    fn one_person_is_recognised_on_every_linked_platform() {
        let s = settings();
        for (platform, id) in [
            (Platform::Telegram, "111"),
            (Platform::Slack, "U0ASHA"),
            (Platform::Discord, "222"),
        ] {
            let person = s.person(platform, id).map(|p| (p.name.as_str(), p.role));
            assert_eq!(person, Some(("Asha Rao", Role::Manager)), "{platform}");
        }
        // The same id on another platform is someone else.
        assert!(s.person(Platform::Discord, "111").is_none());
        assert!(s.person(Platform::Slack, "222").is_none());
    }

    #[test]
    fn platform_roles_grant_the_highest_mapped_role_of_that_platform_only() {
        let s = settings();
        let roles = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            s.role_from_platform_roles(Platform::Slack, &roles(&["S0STAFF", "S0OWNERS"])),
            Some(Role::Admin)
        );
        assert_eq!(
            s.role_from_platform_roles(Platform::Slack, &roles(&["S0STAFF", "S0OTHER"])),
            Some(Role::Staff)
        );
        assert_eq!(
            s.role_from_platform_roles(Platform::Slack, &roles(&["777"])),
            None
        );
        assert_eq!(
            s.role_from_platform_roles(Platform::Discord, &roles(&["777"])),
            Some(Role::Manager)
        );
        assert_eq!(s.role_from_platform_roles(Platform::Discord, &[]), None);
    }

    #[test]
    fn account_keys_name_the_platform() {
        let m = Inbound::new(Platform::Telegram, "5", "42", "hi", "5:1", Utc::now());
        assert_eq!(account_key(&m), "telegram:42");
    }
}
