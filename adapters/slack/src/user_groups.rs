//! The user groups (`S…` ids) each member belongs to, from `usergroups.list` with
//! `include_users=true` (scope `usergroups:read`), cached for five minutes. They become
//! `Inbound::platform_roles`, which the gateway maps to frontdesk roles. An API error only
//! means "no groups": it is logged once and cached like an answer, so a missing scope does not
//! cost a request per message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use slack_morphism::prelude::SlackApiToken;
use tokio::sync::Mutex;

use crate::web_api::WebApi;

/// How long one `usergroups.list` answer is used.
pub(crate) const CACHE_FOR: Duration = Duration::from_secs(5 * 60);

/// Group ids by user id, with the time they were fetched.
#[derive(Debug)]
struct Snapshot {
    fetched_at: Instant,
    by_user: HashMap<String, Vec<String>>,
}

/// The cached membership of every user group of the workspace.
#[derive(Debug, Default)]
pub(crate) struct UserGroups {
    snapshot: Mutex<Option<Snapshot>>,
    error_logged: AtomicBool,
}

impl UserGroups {
    /// Returns the ids of the groups `user` belongs to, fetching the list when the cached
    /// one is missing or older than [`CACHE_FOR`].
    pub(crate) async fn of_user(
        &self,
        api: &WebApi,
        token: &SlackApiToken,
        user: &str,
    ) -> Vec<String> {
        let mut snapshot = self.snapshot.lock().await;
        let stale = snapshot
            .as_ref()
            .is_none_or(|s| s.fetched_at.elapsed() >= CACHE_FOR);
        if stale {
            *snapshot = Some(Snapshot {
                fetched_at: Instant::now(),
                by_user: self.fetch(api, token).await,
            });
        }
        snapshot
            .as_ref()
            .and_then(|s| s.by_user.get(user).cloned())
            .unwrap_or_default()
    }

    async fn fetch(&self, api: &WebApi, token: &SlackApiToken) -> HashMap<String, Vec<String>> {
        let params = [("include_users", "true".to_owned())];
        match api.get(token, "usergroups.list", &params).await {
            Ok(answer) => {
                self.error_logged.store(false, Ordering::Relaxed);
                groups_by_user(&answer)
            }
            Err(err) => {
                if !self.error_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %err,
                        "slack usergroups.list failed (is the usergroups:read scope granted?); \
                         users get no platform roles until it works"
                    );
                }
                HashMap::new()
            }
        }
    }
}

/// Inverts a `usergroups.list` answer into group ids by user id, in list order.
fn groups_by_user(answer: &Value) -> HashMap<String, Vec<String>> {
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    let groups = answer.get("usergroups").and_then(Value::as_array);
    for group in groups.into_iter().flatten() {
        let Some(id) = group.get("id").and_then(Value::as_str) else {
            continue;
        };
        let users = group.get("users").and_then(Value::as_array);
        for user in users.into_iter().flatten().filter_map(Value::as_str) {
            let ids = by_user.entry(user.to_owned()).or_default();
            if !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
    }
    by_user
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inverts_the_list_and_skips_junk() {
        let answer = json!({ "ok": true, "usergroups": [
            { "id": "S1", "users": ["U1", "U2"] },
            { "id": "S2", "users": ["U1", 7, null] },
            { "users": ["U3"] },
            { "id": "S3" },
            "junk"
        ]});
        let by_user = groups_by_user(&answer);
        assert_eq!(by_user["U1"], ["S1", "S2"]);
        assert_eq!(by_user["U2"], ["S1"]);
        assert!(!by_user.contains_key("U3"));
        assert!(groups_by_user(&json!({ "ok": true })).is_empty());
    }
}
