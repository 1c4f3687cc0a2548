//! JWT authentication (HS256 with `JWT_SECRET_KEY`, `exp` required) and the caller each
//! request acts as. `alg: none`, other algorithms, a wrong signature, an expired or a
//! malformed token are all 401.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};
use chrono::{DateTime, Utc};

use crate::domain::ObjectId;
use crate::tools::{Caller, Role};

/// The claims frontdesk puts in (and requires of) a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was minted for (a client id, a staff login, a script name).
    pub sub: String,
    /// client, staff, manager or admin.
    pub role: String,
    /// For clients: the only client record the token may see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    /// Not valid before (optional; frontdesk's own tokens do not set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// How far a token's `iat` or `nbf` may be ahead of the service clock (clock skew).
pub const CLOCK_LEEWAY_SECS: i64 = 60;

/// The HS256 keys.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetimes: crate::config::TokenLifetimes,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0:?} is not a role (client, staff, manager, admin)")]
    Role(String),
    #[error("a client token needs --sub CLIENT_ID (a 24-hex-digit client id)")]
    ClientId,
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

impl JwtKeys {
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            lifetimes: crate::config::TokenLifetimes::default(),
        }
    }

    /// Refuses tokens that live longer than `lifetimes` allows for their role.
    #[must_use]
    pub fn with_lifetimes(mut self, lifetimes: crate::config::TokenLifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// Mints a token for `role`, valid from `now` for `ttl`.
    ///
    /// # Errors
    /// An unknown role, or a client token without a client id.
    pub fn mint(
        &self,
        role: &str,
        sub: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<String, TokenError> {
        let role_parsed = parse_role(role).ok_or_else(|| TokenError::Role(role.to_owned()))?;
        let client_id = if role_parsed == Role::Client {
            Some(
                ObjectId::parse_str(sub)
                    .map_err(|_| TokenError::ClientId)?
                    .to_hex(),
            )
        } else {
            None
        };
        let claims = Claims {
            sub: sub.to_owned(),
            role: role_parsed.as_str().to_owned(),
            client_id,
            exp: (now + ttl).timestamp(),
            iat: now.timestamp(),
            nbf: None,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Verifies a token against `now` (the service clock, so `FRONTDESK_NOW` applies).
    ///
    /// # Errors
    /// Any token that is not a valid, unexpired HS256 token of ours.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<(Claims, Caller), ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // Expiry is checked below against the service clock, not the system clock.
        validation.validate_exp = false;
        let data = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| ApiError::Unauthorized(format!("invalid token: {}", e.kind_text())))?;
        let claims = data.claims;
        let now_s = now.timestamp();
        if claims.exp <= now_s {
            return Err(ApiError::Unauthorized("the token has expired".into()));
        }
        if claims.iat > now_s + CLOCK_LEEWAY_SECS {
            return Err(ApiError::Unauthorized(
                "the token was issued in the future".into(),
            ));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now_s + CLOCK_LEEWAY_SECS)
        {
            return Err(ApiError::Unauthorized("the token is not valid yet".into()));
        }
        // Roles as frontdesk writes them: lower case, nothing around them.
        let role = parse_role(&claims.role)
            .filter(|r| r.as_str() == claims.role)
            .ok_or_else(|| ApiError::Unauthorized("the token's role is unknown".into()))?;
        let days = match role {
            Role::Client | Role::Guest => self.lifetimes.client_days,
            Role::Staff => self.lifetimes.staff_days,
            Role::Manager => self.lifetimes.manager_days,
            Role::Admin => self.lifetimes.admin_days,
        };
        let issued = if claims.iat > 0 { claims.iat } else { now_s };
        if claims.exp - issued > i64::from(days) * 86_400 {
            return Err(ApiError::Unauthorized(format!(
                "the token lives longer than a {} token may ({days} days)",
                role.as_str()
            )));
        }
        let caller = match role {
            Role::Client => {
                let id = claims
                    .client_id
                    .as_deref()
                    .and_then(|c| ObjectId::parse_str(c).ok())
                    .ok_or_else(|| {
                        ApiError::Unauthorized("a client token must carry its client_id".into())
                    })?;
                Caller::client(id, claims.sub.clone())
            }
            Role::Guest => {
                return Err(ApiError::Unauthorized("the token's role is unknown".into()))
            }
            other => Caller {
                role: other,
                client_id: None,
                name: claims.sub.clone(),
                account: None,
            },
        };
        let caller = caller.with_account(crate::domain::Account::new("api", &claims.sub));
        Ok((claims, caller))
    }
}

trait KindText {
    fn kind_text(&self) -> &'static str;
}

impl KindText for jsonwebtoken::errors::Error {
    fn kind_text(&self) -> &'static str {
        use jsonwebtoken::errors::ErrorKind;
        match self.kind() {
            ErrorKind::InvalidSignature => "wrong signature",
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                "only HS256 tokens are accepted"
            }
            ErrorKind::MissingRequiredClaim(_) => "a required claim (exp, sub) is missing",
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => "malformed",
            _ => "rejected",
        }
    }
}

/// A role name as used in tokens and on the command line.
#[must_use]
pub fn parse_role(raw: &str) -> Option<Role> {
    Role::parse(raw).filter(|r| *r != Role::Guest)
}

/// The authenticated caller of a request. Extracting it also applies the per-token
/// rate limit.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub caller: Caller,
    pub subject: String,
}

impl AuthUser {
    /// # Errors
    /// 403 when the caller's role is below `min`.
    pub fn require(&self, min: Role) -> Result<(), ApiError> {
        if self.caller.role >= min {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role or higher",
                min.as_str()
            )))
        }
    }

    /// Staff and above, or the client whose record this is.
    ///
    /// # Errors
    /// 403 for anyone else.
    pub fn require_self_or_staff(&self, client_id: ObjectId) -> Result<(), ApiError> {
        if self.caller.role.is_staff() || self.caller.client_id == Some(client_id) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "a client can only see their own records".into(),
            ))
        }
    }
}

impl FromRequestParts<Arc<ApiState>> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        let (claims, caller) = state.jwt.verify(token.trim(), state.clock.now())?;
        state
            .limits
            .check_token(
                &state.store,
                state.clock.wall(),
                &format!("{}:{}", claims.role, claims.sub),
            )
            .await?;
        // The one check that a client token's client still stands, for every endpoint
        // that takes a caller (so no client-scoped read needs to check it again): after
        // the per-token limit, so a flood costs no database reads.
        if let Some(id) = caller.client_id {
            if !state.store.client_is_current(id).await? {
                return Err(ApiError::Unauthorized(
                    "the client of this token no longer exists".into(),
                ));
            }
        }
        Ok(Self {
            caller,
            subject: claims.sub,
        })
    }
}
