//! Tokens and abilities: who the caller is and what it may touch.
//!
//! API callers present an HS256 JWT (`Authorization: Token token="…"` or
//! `Bearer …`) naming a `user_id`; the user's organization comes from the
//! table, never from the token, so a token cannot claim another organization.
//! The optional `abilities` claim narrows the token to named albums.
//! Notification tokens (embedded in upload forms for Cloudinary's webhook)
//! carry an audience and are refused here, and API tokens are refused by the
//! webhook: one secret, two non-interchangeable token kinds.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::secret::Secret;

/// The audience that marks a token as usable by the upload webhook only.
pub const NOTIFICATION_AUDIENCE: &str = "cloudinary-notification";
/// Tokens longer than this are refused before any parsing (cheap DoS guard).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// How far in the future `iat` may be (clock skew between issuers).
const MAX_IAT_SKEW_SECONDS: i64 = 60;

/// One album's flags, in SharinPix's `{"Access": {...}}` format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Access {
    /// May read the album.
    pub see: bool,
    /// May list its images.
    pub image_list: bool,
    /// May add images (upload, or be a duplicate's destination).
    pub image_upload: bool,
    /// May delete images.
    pub image_delete: bool,
    /// May rename the album or merge it into another (`PUT /albums/{id}`).
    pub rename: bool,
}

/// A single permission checked by an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ability {
    /// `see`.
    See,
    /// `image_list`.
    ImageList,
    /// `image_upload`.
    ImageUpload,
    /// `image_delete`.
    ImageDelete,
    /// `rename`.
    Rename,
}

/// What a token may reach inside its user's organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Abilities {
    /// Every album of the organization (`{}`, absent, or `{"admin": true}`).
    All,
    /// Only the albums named, each with its flags.
    Albums(HashMap<String, Access>),
}

impl Abilities {
    /// Parses the `abilities` claim; anything but an object (or null) is malformed.
    pub fn from_claim(value: Option<&Value>) -> Result<Self, String> {
        let map = match value {
            None | Some(Value::Null) => return Ok(Self::All),
            Some(Value::Object(m)) => m,
            Some(_) => return Err("abilities must be an object".into()),
        };
        if map.is_empty() || map.get("admin") == Some(&Value::Bool(true)) {
            return Ok(Self::All);
        }
        let mut albums = HashMap::new();
        for (album_id, entry) in map {
            if album_id == "admin" {
                continue;
            }
            let access = match entry.get("Access") {
                Some(a @ Value::Object(_)) => serde_json::from_value::<Access>(a.clone())
                    .map_err(|_| format!("abilities of album {album_id} are malformed"))?,
                _ => Access::default(),
            };
            albums.insert(album_id.clone(), access);
        }
        Ok(Self::Albums(albums))
    }

    /// Whether `ability` is granted on `album_id`.
    pub fn allows(&self, album_id: &str, ability: Ability) -> bool {
        match self {
            Self::All => true,
            Self::Albums(albums) => albums.get(album_id).is_some_and(|a| match ability {
                Ability::See => a.see,
                Ability::ImageList => a.image_list,
                Ability::ImageUpload => a.image_upload,
                Ability::ImageDelete => a.image_delete,
                Ability::Rename => a.rename,
            }),
        }
    }
}

/// A verified API token, before its user has been looked up.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// The `user_id` claim.
    pub user_id: String,
    /// Parsed `abilities`.
    pub abilities: Abilities,
    /// Every claim as sent, so the refreshed token keeps them.
    pub claims: Map<String, Value>,
}

/// The authenticated caller of an API request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The user.
    pub user_id: String,
    /// The user's organization (from the table).
    pub organization_id: String,
    /// What the token may reach.
    pub abilities: Abilities,
    /// The token's claims, re-signed into `X-token`.
    pub claims: Map<String, Value>,
}

impl Principal {
    /// Whether the caller may exercise `ability` on `album_id` (an album of its organization).
    pub fn can(&self, album_id: &str, ability: Ability) -> bool {
        self.abilities.allows(album_id, ability)
    }
}

/// Extracts the JWT from an `Authorization` header value:
/// `Token token="<jwt>"`, `Token token=<jwt>` or `Bearer <jwt>`.
pub fn token_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace)?;
    let rest = rest.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest
    } else if scheme.eq_ignore_ascii_case("token") {
        let v = rest.strip_prefix("token=")?;
        v.strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v)
    } else {
        return None;
    };
    (!token.is_empty()).then_some(token)
}

fn unauthorized(msg: &str) -> ApiError {
    ApiError::Unauthorized(msg.to_string())
}

fn decode_hs256(token: &str, secret: &Secret, now: i64) -> Result<Map<String, Value>, ApiError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(unauthorized("token too large"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized("malformed token"))?;
    if header.alg != Algorithm::HS256 {
        return Err(unauthorized("unsupported token algorithm"));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    // Expiry is checked below against the caller's clock (`now`), which
    // makes it testable; presence of `exp` is still required here.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(secret.expose().as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => unauthorized("token expired"),
        jsonwebtoken::errors::ErrorKind::InvalidSignature => {
            unauthorized("invalid token signature")
        }
        _ => unauthorized("invalid token"),
    })?;
    let claims = data.claims;
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        Some(_) => return Err(unauthorized("token expired")),
        None => return Err(unauthorized("invalid token")),
    }
    if let Some(iat) = claims.get("iat") {
        match iat.as_i64() {
            Some(iat) if iat <= now + MAX_IAT_SKEW_SECONDS => {}
            _ => return Err(unauthorized("invalid token issue time")),
        }
    }
    // jsonwebtoken leaves `nbf` unchecked by default: a token must not be
    // usable before the time its issuer set.
    if let Some(nbf) = claims.get("nbf") {
        match nbf.as_i64() {
            Some(nbf) if nbf <= now + MAX_IAT_SKEW_SECONDS => {}
            _ => return Err(unauthorized("token not valid yet")),
        }
    }
    Ok(claims)
}

fn required_string<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => Ok(s),
        _ => Err(unauthorized("invalid token claims")),
    }
}

/// Verifies an API (user) token: HS256 with `JWT_SECRET`, unexpired, with a
/// `user_id`, and not a notification token.
pub fn verify_api_token(token: &str, secret: &Secret, now: i64) -> Result<VerifiedToken, ApiError> {
    let claims = decode_hs256(token, secret, now)?;
    if claims.contains_key("aud") {
        return Err(unauthorized("this token is not an API token"));
    }
    let user_id = required_string(&claims, "user_id")?.to_string();
    let abilities = Abilities::from_claim(claims.get("abilities"))
        .map_err(|_| unauthorized("invalid token abilities"))?;
    Ok(VerifiedToken {
        user_id,
        abilities,
        claims,
    })
}

fn sign(claims: &impl Serialize, secret: &Secret) -> Result<String, ApiError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| ApiError::Internal(format!("token signing failed: {e}")))
}

/// The caller's token re-signed with `exp = now + ttl` (and `iat = now`):
/// the `X-token` header of every successful API response.
pub fn refreshed_token(
    principal: &Principal,
    secret: &Secret,
    now: i64,
    ttl: u64,
) -> Result<String, ApiError> {
    let mut claims = principal.claims.clone();
    claims.insert("exp".into(), Value::from(now + ttl as i64));
    claims.insert("iat".into(), Value::from(now));
    sign(&claims, secret)
}

/// Issues a token for an API caller (used by `albumctl token` and tests).
pub fn issue_user_token(
    user_id: &str,
    abilities: Option<Value>,
    secret: &Secret,
    now: i64,
    ttl: u64,
) -> Result<String, ApiError> {
    let mut claims = Map::new();
    claims.insert("exp".into(), Value::from(now + ttl as i64));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("user_id".into(), Value::from(user_id));
    claims.insert(
        "abilities".into(),
        abilities.unwrap_or_else(|| Value::Object(Map::new())),
    );
    sign(&claims, secret)
}

/// Claims of a webhook-only token, embedded in an upload form's `notification_url`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationClaims {
    /// Who asked for the upload form.
    pub user_id: String,
    /// Where uploads through that form land.
    pub album_id: String,
    /// The album's organization.
    pub organization_id: String,
    /// Expiry.
    pub exp: i64,
    /// Issue time.
    pub iat: i64,
    /// Always [`NOTIFICATION_AUDIENCE`].
    pub aud: String,
}

/// Issues the notification token of an upload form.
pub fn issue_notification_token(
    user_id: &str,
    album_id: &str,
    organization_id: &str,
    secret: &Secret,
    now: i64,
    ttl: u64,
) -> Result<String, ApiError> {
    sign(
        &NotificationClaims {
            user_id: user_id.into(),
            album_id: album_id.into(),
            organization_id: organization_id.into(),
            exp: now + ttl as i64,
            iat: now,
            aud: NOTIFICATION_AUDIENCE.into(),
        },
        secret,
    )
}

/// Verifies a notification token (the webhook accepts nothing else).
pub fn verify_notification_token(
    token: &str,
    secret: &Secret,
    now: i64,
) -> Result<NotificationClaims, ApiError> {
    let claims = decode_hs256(token, secret, now)?;
    if claims.get("aud").and_then(Value::as_str) != Some(NOTIFICATION_AUDIENCE) {
        return Err(unauthorized("not a notification token"));
    }
    required_string(&claims, "user_id")?;
    required_string(&claims, "album_id")?;
    required_string(&claims, "organization_id")?;
    serde_json::from_value(Value::Object(claims)).map_err(|_| unauthorized("invalid token claims"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn secret() -> Secret {
        Secret::new("test-secret-0123456789")
    }

    fn raw_token(header: Value, claims: Value, key: &[u8]) -> String {
        use hmac_free::hs256;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = b64.encode(header.to_string());
        let c = b64.encode(claims.to_string());
        let sig = b64.encode(hs256(key, format!("{h}.{c}").as_bytes()));
        format!("{h}.{c}.{sig}")
    }

    /// A tiny HMAC-SHA256 over jsonwebtoken's own signer, to forge headers.
    mod hmac_free {
        pub fn hs256(key: &[u8], msg: &[u8]) -> Vec<u8> {
            let s = jsonwebtoken::crypto::sign(
                msg,
                &jsonwebtoken::EncodingKey::from_secret(key),
                jsonwebtoken::Algorithm::HS256,
            )
            .unwrap();
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        }
    }

    #[test]
    fn accepts_a_valid_token_and_reads_abilities() {
        let t = issue_user_token("u1", None, &secret(), NOW, 60).unwrap();
        let v = verify_api_token(&t, &secret(), NOW).unwrap();
        assert_eq!(v.user_id, "u1");
        assert_eq!(v.abilities, Abilities::All);
    }

    #[test]
    fn rejects_an_expired_token() {
        let t = issue_user_token("u1", None, &secret(), NOW - 100, 50).unwrap();
        assert!(matches!(
            verify_api_token(&t, &secret(), NOW),
            Err(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn rejects_alg_none() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let t = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(json!({"user_id":"u1","exp":NOW+60}).to_string())
        );
        assert!(matches!(
            verify_api_token(&t, &secret(), NOW),
            Err(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn rejects_an_rs256_header_even_when_hmac_signed_with_the_secret() {
        let t = raw_token(
            json!({"alg":"RS256","typ":"JWT"}),
            json!({"user_id":"u1","exp":NOW+60}),
            secret().expose().as_bytes(),
        );
        assert!(matches!(
            verify_api_token(&t, &secret(), NOW),
            Err(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn rejects_a_token_signed_with_another_key() {
        let t =
            issue_user_token("u1", None, &Secret::new("another-secret-0123456"), NOW, 60).unwrap();
        assert!(matches!(
            verify_api_token(&t, &secret(), NOW),
            Err(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn rejects_a_token_without_exp() {
        let t = raw_token(
            json!({"alg":"HS256","typ":"JWT"}),
            json!({"user_id":"u1"}),
            secret().expose().as_bytes(),
        );
        assert!(matches!(
            verify_api_token(&t, &secret(), NOW),
            Err(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn rejects_a_notification_token_used_as_api_token() {
        let t = issue_notification_token("u1", "a1", "o1", &secret(), NOW, 60).unwrap();
        assert!(matches!(
            verify_api_token(&t, &secret(), NOW),
            Err(ApiError::Unauthorized(_))
        ));
        let claims = verify_notification_token(&t, &secret(), NOW).unwrap();
        assert_eq!(claims.album_id, "a1");
    }

    #[test]
    fn rejects_an_api_token_on_the_webhook() {
        let t = issue_user_token("u1", None, &secret(), NOW, 60).unwrap();
        assert!(verify_notification_token(&t, &secret(), NOW).is_err());
    }

    #[test]
    fn rejects_future_iat_wrong_types_and_oversized_tokens() {
        let key = secret();
        let future = raw_token(
            json!({"alg":"HS256"}),
            json!({"user_id":"u1","exp":NOW+600,"iat":NOW+300}),
            key.expose().as_bytes(),
        );
        let numeric_user = raw_token(
            json!({"alg":"HS256"}),
            json!({"user_id":42,"exp":NOW+600}),
            key.expose().as_bytes(),
        );
        let bad_abilities = raw_token(
            json!({"alg":"HS256"}),
            json!({"user_id":"u1","exp":NOW+600,"abilities":"all"}),
            key.expose().as_bytes(),
        );
        let not_before = raw_token(
            json!({"alg":"HS256"}),
            json!({"user_id":"u1","exp":NOW+600,"nbf":NOW+300}),
            key.expose().as_bytes(),
        );
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        for t in [future, numeric_user, bad_abilities, not_before, huge] {
            assert!(matches!(
                verify_api_token(&t, &key, NOW),
                Err(ApiError::Unauthorized(_))
            ));
        }
    }

    #[test]
    fn the_seed_token_shape_is_accepted_when_signed_with_our_key() {
        let t = raw_token(
            json!({"typ":"JWT","alg":"HS256"}),
            json!({"exp":NOW+10,"iat":NOW-10,"user_id":"9ed26283-3299-4a05-b9d6-e34278fbd416","abilities":{}}),
            secret().expose().as_bytes(),
        );
        assert_eq!(
            verify_api_token(&t, &secret(), NOW).unwrap().user_id,
            "9ed26283-3299-4a05-b9d6-e34278fbd416"
        );
    }

    #[test]
    fn refreshed_token_keeps_claims_with_a_fresh_expiry() {
        let t = issue_user_token(
            "u1",
            Some(json!({"a1":{"Access":{"see":true}}})),
            &secret(),
            NOW - 50,
            60,
        )
        .unwrap();
        let v = verify_api_token(&t, &secret(), NOW).unwrap();
        let p = Principal {
            user_id: v.user_id,
            organization_id: "o".into(),
            abilities: v.abilities,
            claims: v.claims,
        };
        let fresh = refreshed_token(&p, &secret(), NOW, 14_400).unwrap();
        let v2 = verify_api_token(&fresh, &secret(), NOW).unwrap();
        assert_eq!(v2.claims["exp"], json!(NOW + 14_400));
        assert_eq!(
            v2.claims["abilities"],
            json!({"a1":{"Access":{"see":true}}})
        );
    }

    #[test]
    fn abilities_follow_the_sharinpix_format() {
        assert_eq!(
            Abilities::from_claim(Some(&json!({}))).unwrap(),
            Abilities::All
        );
        assert_eq!(
            Abilities::from_claim(Some(&json!({"admin": true}))).unwrap(),
            Abilities::All
        );
        let a = Abilities::from_claim(Some(&json!({
            "a1": {"Access": {"see": true, "image_list": true}},
            "a2": {"Access": {"image_upload": true}}
        })))
        .unwrap();
        assert!(a.allows("a1", Ability::See) && a.allows("a1", Ability::ImageList));
        assert!(!a.allows("a1", Ability::ImageUpload));
        assert!(a.allows("a2", Ability::ImageUpload));
        assert!(!a.allows("a3", Ability::See));
    }

    #[test]
    fn token_header_forms() {
        assert_eq!(
            token_from_header(r#"Token token="abc.def.ghi""#),
            Some("abc.def.ghi")
        );
        assert_eq!(token_from_header("Token token=abc"), Some("abc"));
        assert_eq!(token_from_header("Bearer xyz"), Some("xyz"));
        assert_eq!(token_from_header("bearer   xyz "), Some("xyz"));
        assert_eq!(token_from_header("Basic dXNlcjpwYXNz"), None);
        assert_eq!(token_from_header("Token"), None);
        assert_eq!(token_from_header(r#"Token token="""#), None);
    }
}
