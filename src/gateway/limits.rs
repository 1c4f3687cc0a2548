//! Rate limits on incoming messages (governor): per user by role and per platform. A user
//! over the limit is told once how long to wait; further messages in that wait are dropped
//! without a reply, so a flood never turns into a flood of "please wait" messages.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use frontdesk_chat::Platform;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::settings::GatewaySettings;
use crate::tools::Role;

/// What to do with a message after the rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Over the limit: reply once with the wait.
    Notify {
        wait: Duration,
    },
    /// Over the limit and already told.
    Silent,
}

/// The gateway's rate limiters.
#[derive(Debug)]
pub struct Limits {
    per_role: HashMap<Role, DefaultKeyedRateLimiter<String>>,
    per_platform: HashMap<Platform, DefaultKeyedRateLimiter<Platform>>,
    per_user: crate::gateway::RoleQuotas,
    per_platform_quota: HashMap<Platform, u32>,
    /// Users already told to wait, and until when.
    told: Mutex<HashMap<String, Instant>>,
    clock: DefaultClock,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    #[must_use]
    pub fn new(settings: &GatewaySettings) -> Self {
        let roles = [
            Role::Guest,
            Role::Client,
            Role::Staff,
            Role::Manager,
            Role::Admin,
        ];
        Self {
            per_role: roles
                .into_iter()
                .map(|role| {
                    let quota = per_minute(settings.per_user_per_minute.for_role(role));
                    (role, RateLimiter::keyed(quota))
                })
                .collect(),
            per_platform: settings
                .per_platform_per_minute
                .iter()
                .map(|(platform, n)| (*platform, RateLimiter::keyed(per_minute(*n))))
                .collect(),
            per_user: settings.per_user_per_minute,
            per_platform_quota: settings.per_platform_per_minute.clone(),
            told: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one message from `user` (a `platform:id` key) with `role`.
    pub fn admit(&self, platform: Platform, user: &str, role: Role) -> Admission {
        let now = self.clock.now();
        let mut wait = None;
        if let Some(limiter) = self.per_role.get(&role) {
            if let Err(not_until) = limiter.check_key(&user.to_owned()) {
                wait = Some(not_until.wait_time_from(now));
            }
        }
        if wait.is_none() {
            if let Some(limiter) = self.per_platform.get(&platform) {
                if let Err(not_until) = limiter.check_key(&platform) {
                    wait = Some(not_until.wait_time_from(now));
                }
            }
        }
        match wait {
            None => Admission::Allowed,
            Some(wait) => self.tell_once(user, wait),
        }
    }

    /// The quota of `role` per user per minute, and of `platform` (if it has one).
    #[must_use]
    pub fn quotas(&self, platform: Platform, role: Role) -> (u32, Option<u32>) {
        (
            self.per_user.for_role(role),
            self.per_platform_quota.get(&platform).copied(),
        )
    }

    /// `user` is over a quota for `wait`: told once, then silent until the wait is over.
    pub fn tell_once(&self, user: &str, wait: Duration) -> Admission {
        let mut told = self
            .told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let instant = Instant::now();
        if told.len() > 10_000 {
            told.retain(|_, until| *until > instant);
        }
        match told.get(user) {
            Some(until) if *until > instant => Admission::Silent,
            _ => {
                told.insert(user.to_owned(), instant + wait);
                Admission::Notify { wait }
            }
        }
    }

    /// Drops limiter state for users who have been quiet; call now and then.
    pub fn forget_quiet_users(&self) {
        for limiter in self.per_role.values() {
            limiter.retain_recent();
        }
    }
}

/// The reply to a user over the limit: whole seconds, at least one.
#[must_use]
pub fn wait_message(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let unit = if secs == 1 { "second" } else { "seconds" };
    format!("You're sending messages faster than I can answer. Please wait {secs} {unit} and try again.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::settings::RoleQuotas;

    fn settings(client: u32, telegram: Option<u32>) -> GatewaySettings {
        GatewaySettings {
            per_user_per_minute: RoleQuotas {
                guest: 2,
                client,
                staff: 60,
                manager: 60,
                admin: 120,
            },
            per_platform_per_minute: telegram
                .map(|n| HashMap::from([(Platform::Telegram, n)]))
                .unwrap_or_default(),
            ..GatewaySettings::default()
        }
    }

    #[test]
    fn a_user_over_the_limit_is_told_once_then_dropped_silently() {
        let limits = Limits::new(&settings(3, None));
        for _ in 0..3 {
            assert_eq!(
                limits.admit(Platform::Telegram, "telegram:1", Role::Client),
                Admission::Allowed
            );
        }
        let Admission::Notify { wait } =
            limits.admit(Platform::Telegram, "telegram:1", Role::Client)
        else {
            panic!("the fourth message in a minute must be refused with a wait");
        };
        // 3 per minute: one token back every 20 s.
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        for _ in 0..5 {
            assert_eq!(
                limits.admit(Platform::Telegram, "telegram:1", Role::Client),
                Admission::Silent
            );
        }
        // Another user is not affected.
        assert_eq!(
            limits.admit(Platform::Telegram, "telegram:2", Role::Client),
            Admission::Allowed
        );
    }

    #[test]
    fn quotas_follow_the_role() {
        let limits = Limits::new(&settings(3, None));
        for _ in 0..2 {
            assert_eq!(
                limits.admit(Platform::Slack, "slack:g", Role::Guest),
                Admission::Allowed
            );
        }
        assert!(matches!(
            limits.admit(Platform::Slack, "slack:g", Role::Guest),
            Admission::Notify { .. }
        ));
        for _ in 0..60 {
            assert_eq!(
                limits.admit(Platform::Slack, "slack:s", Role::Staff),
                Admission::Allowed
            );
        }
        assert!(matches!(
            limits.admit(Platform::Slack, "slack:s", Role::Staff),
            Admission::Notify { .. }
        ));
    }

    #[test]
    fn the_platform_limit_caps_everyone_together() {
        let limits = Limits::new(&settings(100, Some(4)));
        for user in 0..4 {
            assert_eq!(
                limits.admit(
                    Platform::Telegram,
                    &format!("telegram:{user}"),
                    Role::Client
                ),
                Admission::Allowed
            );
        }
        assert!(matches!(
            limits.admit(Platform::Telegram, "telegram:9", Role::Client),
            Admission::Notify { .. }
        ));
        // Other platforms have no platform cap here.
        assert_eq!(
            limits.admit(Platform::Slack, "slack:9", Role::Client),
            Admission::Allowed
        );
    }

    #[test]
    fn wait_messages_round_up_to_whole_seconds() {
        assert!(wait_message(Duration::from_millis(19_200)).contains("wait 20 seconds"));
        assert!(wait_message(Duration::from_millis(300)).contains("wait 1 second "));
        assert!(wait_message(Duration::ZERO).contains("wait 1 second "));
    }
}
