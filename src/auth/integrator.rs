//! Integrator tokens: HS256 JWTs an organization signs on its own server
//! with one of its API secrets, naming the secret's id in `iss` (SharinPix's
//! `api.md`; decision 0013).
//!
//! Which key verifies a token depends on `iss`, so `iss` is read before
//! the signature is checked ([`issuer_of`]); that read decides nothing
//! else. The header must say `HS256` before anything is looked up, and the
//! token is then verified with the named secret alone: a token signed with
//! any other key, `JWT_SECRET` included, fails. Such a token acts for the
//! secret's organization, never one it names: an `organization_id` claim
//! is refused (401). `user_id` is optional: absent, the token acts for the
//! organization as an integration; present, it names the acting user,
//! who need not be registered.

use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::{Abilities, MAX_TOKEN_BYTES, decode_hs256, unauthorized};
use crate::api_secrets::{ApiSecret, is_valid_secret_id};
use crate::error::ApiError;

/// A verified integrator token.
#[derive(Clone, Debug)]
pub struct IntegratorToken {
    /// The `user_id` claim, when the token names a user.
    pub user_id: Option<String>,
    /// Parsed `abilities`.
    pub abilities: Abilities,
    /// Every claim as sent, so the refreshed token keeps them.
    pub claims: Map<String, Value>,
}

/// The `iss` of an API token, read before its signature is checked (it
/// names the key to check it with): `None` for a token without `iss` (one
/// signed with `JWT_SECRET`). Oversized tokens, headers other than
/// `HS256` (`none`, `RS256`, …), unreadable claims and an `iss` that can be
/// no secret's id are 401 here, before any lookup.
pub fn issuer_of(token: &str) -> Result<Option<String>, ApiError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(unauthorized("token too large"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized("malformed token"))?;
    if header.alg != Algorithm::HS256 {
        return Err(unauthorized("unsupported token algorithm"));
    }
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
        })
        .and_then(|c| serde_json::from_slice::<Map<String, Value>>(&c).ok())
        .ok_or_else(|| unauthorized("invalid token"))?;
    match claims.get("iss") {
        None => Ok(None),
        Some(Value::String(iss)) if is_valid_secret_id(iss) => Ok(Some(iss.clone())),
        Some(_) => Err(unauthorized("invalid token issuer")),
    }
}

/// Verifies a token whose `iss` named `secret` (looked up and active):
/// HS256 with that secret's key, unexpired, `iss` equal to its id, no
/// audience, no `organization_id`, `user_id` absent or a string of 1-128
/// characters.
pub fn verify(token: &str, secret: &ApiSecret, now: i64) -> Result<IntegratorToken, ApiError> {
    let claims = decode_hs256(token, &secret.key, now)?;
    if claims.get("iss").and_then(Value::as_str) != Some(secret.id.as_str()) {
        return Err(unauthorized("invalid token issuer"));
    }
    if claims.contains_key("aud") {
        return Err(unauthorized("this token is not an API token"));
    }
    if claims.contains_key("organization_id") {
        return Err(unauthorized(
            "a token signed with an API secret acts for that secret's organization and may not name one",
        ));
    }
    let user_id = match claims.get("user_id") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => Some(s.clone()),
        Some(_) => return Err(unauthorized("invalid token claims")),
    };
    let abilities = Abilities::from_claim(claims.get("abilities"))
        .map_err(|_| unauthorized("invalid token abilities"))?;
    Ok(IntegratorToken {
        user_id,
        abilities,
        claims,
    })
}
