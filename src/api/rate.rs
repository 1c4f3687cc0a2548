//! Rate limits per token and per client address (governor in each instance; with
//! `[server] shared_limits`, also counted in the database so they hold across instances),
//! answered with 429 and `Retry-After`. The client's address is the peer's, or behind a
//! trusted proxy the last untrusted address of `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{ApiError, ApiState};
use crate::config::AddressRange;
use crate::store::Store;
use chrono::{DateTime, Utc};

/// The counting window of the limits shared across instances.
const SHARED_WINDOW: Duration = Duration::from_secs(60);

/// The two limiters, and how the shared counts and client addresses are taken.
pub struct RateLimits {
    per_token: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_token_per_minute: u32,
    per_ip_per_minute: u32,
    shared: bool,
    trusted_proxies: Vec<AddressRange>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    /// Requests per minute allowed per token and per IP (zero means one), counted in this
    /// instance only, with the peer as the client.
    #[must_use]
    pub fn new(per_token_per_minute: u32, per_ip_per_minute: u32) -> Self {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_token: RateLimiter::keyed(quota(per_token_per_minute)),
            per_ip: RateLimiter::keyed(quota(per_ip_per_minute)),
            per_token_per_minute: per_token_per_minute.max(1),
            per_ip_per_minute: per_ip_per_minute.max(1),
            shared: false,
            trusted_proxies: Vec::new(),
        }
    }

    /// Also counted in the database (every instance sees the counts) when `shared`.
    #[must_use]
    pub fn shared(mut self, shared: bool) -> Self {
        self.shared = shared;
        self
    }

    /// Believes `X-Forwarded-For` from these peers.
    #[must_use]
    pub fn behind(mut self, trusted_proxies: Vec<AddressRange>) -> Self {
        self.trusted_proxies = trusted_proxies;
        self
    }

    /// Counts a request of the token `key`.
    ///
    /// # Errors
    /// 429 once the token's quota is used up (here or, shared, across instances); the
    /// database failing for the shared count.
    pub async fn check_token(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        key: &str,
    ) -> Result<(), ApiError> {
        self.per_token
            .check_key(&key.to_owned())
            .map_err(|not_until| {
                too_many(not_until.wait_time_from(DefaultClock::default().now()))
            })?;
        self.check_shared(
            store,
            now,
            &format!("api-token:{key}"),
            self.per_token_per_minute,
        )
        .await
    }

    async fn check_ip(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        ip: IpAddr,
    ) -> Result<(), ApiError> {
        self.per_ip.check_key(&ip).map_err(|not_until| {
            too_many(not_until.wait_time_from(DefaultClock::default().now()))
        })?;
        self.check_shared(store, now, &format!("api-ip:{ip}"), self.per_ip_per_minute)
            .await
    }

    async fn check_shared(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        subject: &str,
        quota: u32,
    ) -> Result<(), ApiError> {
        if !self.shared {
            return Ok(());
        }
        let counted = store.count_in_window(subject, SHARED_WINDOW, now).await?;
        if counted.count > u64::from(quota) {
            return Err(too_many(counted.resets_in));
        }
        Ok(())
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// last address in `X-Forwarded-For` that is not a trusted proxy (what the proxies
    /// nearest to us saw), or the peer when the header names none.
    #[must_use]
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: IpAddr| self.trusted_proxies.iter().any(|r| r.contains(ip));
        if !trusted(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(*ip))
            .unwrap_or(peer)
    }
}

fn too_many(wait: Duration) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_secs: wait.as_secs().max(1),
    }
}

/// The per-IP limit, for every request.
pub async fn per_ip(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let ip = state.limits.client_address(peer, request.headers());
        if let Err(e) = state
            .limits
            .check_ip(&state.store, state.clock.wall(), ip)
            .await
        {
            return e.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", forwarded.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let limits = RateLimits::new(1, 1).behind(vec!["10.0.0.0/8".parse().unwrap()]);
        let lb: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        // Behind the balancer: the client it saw, past any proxy of ours in between.
        assert_eq!(
            limits.client_address(lb, &headers("198.51.100.7, 10.0.0.9")),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // What the client wrote itself (left of what the balancer added) is not believed.
        assert_eq!(
            limits.client_address(lb, &headers("1.2.3.4, 198.51.100.7")),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // From anyone else the header is ignored.
        assert_eq!(
            limits.client_address(stranger, &headers("1.2.3.4")),
            stranger
        );
        // A trusted peer with nothing usable forwarded is the client.
        assert_eq!(limits.client_address(lb, &headers("garbage")), lb);
        assert_eq!(limits.client_address(lb, &HeaderMap::new()), lb);
        // With no trusted proxies the peer is always the client.
        assert_eq!(
            RateLimits::new(1, 1).client_address(lb, &headers("198.51.100.7")),
            lb
        );
    }
}
