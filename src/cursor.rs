//! Opaque pagination cursors.
//!
//! A cursor is DynamoDB's `LastEvaluatedKey` signed (HS256 with the cursor
//! key, derived from `JWT_SECRET` for this purpose alone, decision 0016;
//! a `cursor` audience) and bound to what it pages through (an album or an
//! organization). A client cannot forge or edit one to read another album's
//! keys, and a tampered cursor is a 400, not a DynamoDB error. Its own key
//! and the `cursor` audience keep cursors from ever passing as API tokens.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::secret::Secret;
use crate::store::PageKey;

const AUDIENCE: &str = "cursor";
/// Longest cursor accepted.
pub const MAX_CURSOR_BYTES: usize = 2048;

#[derive(Serialize, Deserialize)]
struct Claims {
    aud: String,
    /// What the cursor pages through.
    scope: String,
    /// String attributes of the last evaluated key.
    key: HashMap<String, String>,
}

/// Encodes `key` for `scope`.
pub fn encode(key: &PageKey, scope: &str, secret: &Secret) -> Result<String, ApiError> {
    let key = key
        .fields()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Claims {
            aud: AUDIENCE.into(),
            scope: scope.into(),
            key,
        },
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| ApiError::Internal(format!("cursor signing failed: {e}")))
}

/// Decodes a cursor issued for `scope`; anything else is a 400.
pub fn decode(cursor: &str, scope: &str, secret: &Secret) -> Result<PageKey, ApiError> {
    let bad = || ApiError::BadRequest("invalid cursor".into());
    if cursor.len() > MAX_CURSOR_BYTES {
        return Err(bad());
    }
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.set_required_spec_claims::<&str>(&[]);
    v.set_audience(&[AUDIENCE]);
    let data = jsonwebtoken::decode::<Claims>(
        cursor,
        &DecodingKey::from_secret(secret.expose().as_bytes()),
        &v,
    )
    .map_err(|_| bad())?;
    if data.claims.scope != scope || data.claims.key.is_empty() {
        return Err(bad());
    }
    Ok(PageKey::from_fields(data.claims.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PageKey {
        PageKey::from_fields([("pk", "A#x"), ("sk", "I#1#y")])
    }

    #[test]
    fn round_trips_within_its_scope_only() {
        let s = Secret::new("cursor-secret-0123456789");
        let c = encode(&key(), "album:x", &s).unwrap();
        assert_eq!(decode(&c, "album:x", &s).unwrap(), key());
        assert!(decode(&c, "album:z", &s).is_err());
        assert!(decode(&c, "album:x", &Secret::new("other-secret-0123456789")).is_err());
    }

    #[test]
    fn tampered_cursors_are_400() {
        let s = Secret::new("cursor-secret-0123456789");
        let c = encode(&key(), "album:x", &s).unwrap();
        let mut t = c.clone().into_bytes();
        let mid = t.len() / 2;
        t[mid] = if t[mid] == b'A' { b'B' } else { b'A' };
        for bad in [
            String::from_utf8(t).unwrap(),
            "garbage".into(),
            String::new(),
            "a".repeat(5000),
        ] {
            assert!(matches!(
                decode(&bad, "album:x", &s),
                Err(ApiError::BadRequest(_))
            ));
        }
    }

    #[test]
    fn a_cursor_is_not_an_api_token() {
        let s = Secret::new("cursor-secret-0123456789");
        let c = encode(&key(), "album:x", &s).unwrap();
        assert!(crate::auth::verify_api_token(&c, &s, 0).is_err());
    }

    #[test]
    fn the_cursor_key_is_neither_the_user_nor_the_notification_key() {
        use crate::secret::Purpose;
        let root = Secret::new("jwt-secret-of-at-least-32-bytes-0123456789");
        let cursor_key = root.derive(Purpose::Cursor);
        let c = encode(&key(), "album:x", &cursor_key).unwrap();
        assert_eq!(decode(&c, "album:x", &cursor_key).unwrap(), key());
        for other in [root.clone(), root.derive(Purpose::NotificationToken)] {
            assert!(decode(&c, "album:x", &other).is_err());
        }
    }
}
