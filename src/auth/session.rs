//! Token lifetimes: how far ahead an API token may expire, and where
//! `X-token` renewals stop.
//!
//! Every successful answer carries `X-token`, the caller's token re-signed
//! with a fresh `exp`. Without a bound, a token used at least every
//! `TOKEN_TTL_SECONDS` renews forever (a 5-minute share token became a
//! permanent one), and an issuer could mint tokens valid for decades. Two
//! rules, one number (`TOKEN_MAX_LIFETIME_SECONDS`, default 24 h):
//!
//! 1. An API token whose `exp` lies more than the maximum ahead of now is
//!    refused (401), whoever signed it. `exp` stays required.
//! 2. A session begins at the token's `auth_time` claim, or else its `iat`,
//!    or else the moment it is first presented (never later than now), and
//!    ends the maximum after that. Renewals carry `auth_time`, so an
//!    `X-token` never expires past the session's end: a session lives at
//!    most as long as the longest token its issuer could have minted.

use serde_json::{Map, Value};

use super::{MAX_IAT_SKEW_SECONDS, unauthorized};
use crate::error::ApiError;

/// The claim that carries a session's start through its renewals.
pub const AUTH_TIME: &str = "auth_time";

/// The lifetime rules API tokens are held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenRules {
    /// Seconds: the furthest ahead `exp` may lie, and a session's length.
    pub max_lifetime: i64,
}

impl Default for TokenRules {
    fn default() -> Self {
        Self::new(crate::config::DEFAULT_TOKEN_MAX_LIFETIME_SECONDS)
    }
}

impl TokenRules {
    /// Rules with a maximum of `max_lifetime_seconds`.
    pub fn new(max_lifetime_seconds: u64) -> Self {
        Self {
            max_lifetime: i64::try_from(max_lifetime_seconds).unwrap_or(i64::MAX / 2),
        }
    }

    /// Applies both rules to verified `claims` (their `exp` already checked
    /// to be a future integer): refuses an `exp` too far ahead, records the
    /// session's start in `auth_time`, and answers the session's end.
    pub fn start_session(
        &self,
        claims: &mut Map<String, Value>,
        now: i64,
    ) -> Result<i64, ApiError> {
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| unauthorized("invalid token"))?;
        if exp.saturating_sub(now) > self.max_lifetime {
            return Err(unauthorized("token expires too far ahead"));
        }
        let start = match claims.get(AUTH_TIME) {
            None => claims.get("iat").and_then(Value::as_i64).unwrap_or(now),
            Some(v) => match v.as_i64() {
                Some(t) if t <= now + MAX_IAT_SKEW_SECONDS => t,
                _ => return Err(unauthorized("invalid token auth_time")),
            },
        }
        .min(now);
        claims.insert(AUTH_TIME.into(), Value::from(start));
        Ok(start.saturating_add(self.max_lifetime))
    }
}

/// The `exp` of a renewal at `now`: `ttl` ahead, but never past the
/// session's end. Once the session has ended, the renewal keeps the
/// presented token's own `exp` (`presented_exp`): it extends nothing.
pub fn renewal_exp(session_ends_at: i64, presented_exp: Option<i64>, now: i64, ttl: u64) -> i64 {
    let ttl = i64::try_from(ttl).unwrap_or(i64::MAX / 2);
    let exp = now.saturating_add(ttl).min(session_ends_at);
    match presented_exp {
        Some(presented) if exp <= now => presented,
        _ => exp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;
    const DAY: i64 = 86_400;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn exp_more_than_the_maximum_ahead_is_refused() {
        let rules = TokenRules::default();
        let mut ok = claims(json!({"exp": NOW + DAY}));
        assert!(rules.start_session(&mut ok, NOW).is_ok());
        let mut far = claims(json!({"exp": NOW + DAY + 1}));
        assert!(matches!(
            rules.start_session(&mut far, NOW),
            Err(ApiError::Unauthorized(_))
        ));
        let mut decades = claims(json!({"exp": 4_102_444_800_i64}));
        assert!(rules.start_session(&mut decades, NOW).is_err());
    }

    #[test]
    fn a_session_starts_at_auth_time_else_iat_else_now() {
        let rules = TokenRules::new(3_600);
        let mut c = claims(json!({"exp": NOW + 60, "iat": NOW - 100, "auth_time": NOW - 500}));
        assert_eq!(rules.start_session(&mut c, NOW).unwrap(), NOW - 500 + 3_600);
        let mut c = claims(json!({"exp": NOW + 60, "iat": NOW - 100}));
        assert_eq!(rules.start_session(&mut c, NOW).unwrap(), NOW - 100 + 3_600);
        assert_eq!(c[AUTH_TIME], json!(NOW - 100));
        let mut c = claims(json!({"exp": NOW + 60}));
        assert_eq!(rules.start_session(&mut c, NOW).unwrap(), NOW + 3_600);
        // An issuer's clock a little ahead: the session starts now, not later.
        let mut c = claims(json!({"exp": NOW + 60, "iat": NOW + 30}));
        assert_eq!(rules.start_session(&mut c, NOW).unwrap(), NOW + 3_600);
        for bad in [json!("yesterday"), json!(NOW + 3_600), json!(1.5)] {
            let mut c = claims(json!({"exp": NOW + 60, "auth_time": bad}));
            assert!(rules.start_session(&mut c, NOW).is_err());
        }
    }

    #[test]
    fn renewals_stop_at_the_end_of_the_session() {
        // A fresh session renews by the full TTL.
        assert_eq!(
            renewal_exp(NOW + DAY, Some(NOW + 300), NOW, 14_400),
            NOW + 14_400
        );
        // Near its end, only up to the end.
        assert_eq!(
            renewal_exp(NOW + 100, Some(NOW + 50), NOW, 14_400),
            NOW + 100
        );
        // Past its end, the presented token's own expiry: nothing extended.
        assert_eq!(renewal_exp(NOW - 1, Some(NOW + 50), NOW, 14_400), NOW + 50);
    }
}
