//! Rate limits per token and per client IP (governor), answered with 429 and
//! `Retry-After`.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{ApiError, ApiState};

/// The two limiters.
pub struct RateLimits {
    per_token: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimits")
    }
}

impl RateLimits {
    /// Requests per minute allowed per token and per IP (zero means one).
    #[must_use]
    pub fn new(per_token_per_minute: u32, per_ip_per_minute: u32) -> Self {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_token: RateLimiter::keyed(quota(per_token_per_minute)),
            per_ip: RateLimiter::keyed(quota(per_ip_per_minute)),
        }
    }

    /// # Errors
    /// 429 once the token's quota is used up.
    pub fn check_token(&self, key: &str) -> Result<(), ApiError> {
        self.per_token
            .check_key(&key.to_owned())
            .map_err(|not_until| ApiError::TooManyRequests {
                retry_after_secs: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs()
                    .max(1),
            })
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.per_ip
            .check_key(&ip)
            .map_err(|not_until| ApiError::TooManyRequests {
                retry_after_secs: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs()
                    .max(1),
            })
    }
}

/// The per-IP limit, for every request.
pub async fn per_ip(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = ip {
        if let Err(e) = state.limits.check_ip(ip) {
            return e.into_response();
        }
    }
    next.run(request).await
}
