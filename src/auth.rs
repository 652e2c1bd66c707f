//! Tokens and abilities: who the caller is and what it may touch.
//!
//! API callers present an HS256 JWT (`Authorization: Token token="…"` or
//! `Bearer …`) of one of two kinds:
//! - **user tokens**, signed with the operator's `JWT_SECRET`, name a
//!   registered `user_id`; the user's organization comes from the table,
//!   never from the token, so a token cannot claim another organization;
//! - **integrator tokens** ([`integrator`], decision 0013) name one of an
//!   organization's API secrets in `iss` and are signed with it; they act
//!   for that secret's organization, for the user their optional `user_id`
//!   names.
//!
//! The optional `abilities` claim narrows either kind to named albums.
//! Lifetimes are bounded ([`session`]): `exp` at most
//! `TOKEN_MAX_LIFETIME_SECONDS` ahead, and `X-token` renewals stop at the
//! end of the session. Notification tokens (embedded in upload forms for
//! Cloudinary's webhook) are signed with their own key, derived from
//! `NOTIFICATION_SECRET` (decision 0016), and carry an audience: neither
//! kind verifies as the other, and the webhook, which holds only the
//! notification key, cannot mint user tokens.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::secret::Secret;

pub mod integrator;
pub mod session;

use session::TokenRules;

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
    /// With `see`: may tag and untag its images.
    pub image_tag: bool,
    /// May share the album: tag and untag its images, as SharinPix's
    /// share widget does.
    pub share: bool,
    /// May set an image's title and description.
    pub image_caption: bool,
    /// May rotate an image.
    pub image_rotate: bool,
    /// May crop an image (and set its rotation in the same request, as
    /// SharinPix's crop example does).
    pub image_crop: bool,
    /// May list the album's deleted images and restore them.
    pub trash: bool,
    /// May duplicate an image of the album.
    pub image_duplicate: bool,
}

/// Top-level keys of `abilities` that SharinPix's tokens carry and that
/// name no album (`tags`: tag options of the widget, `image_urls`: URLs
/// the token may open); they are not read as albums.
pub const NOT_ALBUM_KEYS: [&str; 3] = ["admin", "tags", "image_urls"];

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
    /// Tagging and untagging: `see` and `image_tag`, or `share`.
    Tag,
    /// `image_caption`.
    ImageCaption,
    /// `image_rotate`, or `image_crop` (a crop sets the rotation too).
    ImageRotate,
    /// `image_crop`.
    ImageCrop,
    /// `trash`: list and restore deleted images (`crate::trash`).
    Trash,
    /// `image_duplicate`.
    ImageDuplicate,
}

/// What a token may reach inside its user's organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Abilities {
    /// Every album of the organization (`{}`, absent, or `{"admin": true}`).
    All,
    /// Only the albums named, each with its `Access` flags. An album's
    /// `Tags` (the tags SharinPix's widget offers there) grant nothing
    /// beyond its flags: tags are the organization's, and listing or
    /// creating them needs no album ability.
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
            if NOT_ALBUM_KEYS.contains(&album_id.as_str()) {
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
                Ability::Tag => (a.see && a.image_tag) || a.share,
                Ability::ImageCaption => a.image_caption,
                Ability::ImageRotate => a.image_rotate || a.image_crop,
                Ability::ImageCrop => a.image_crop,
                Ability::Trash => a.trash,
                Ability::ImageDuplicate => a.image_duplicate,
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
    /// Every claim as sent (and `auth_time`), so the refreshed token keeps them.
    pub claims: Map<String, Value>,
    /// When `X-token` renewals stop ([`session`]).
    pub session_ends_at: i64,
}

/// The organization API secret that signed an integrator token.
#[derive(Clone, Debug)]
pub struct Issuer {
    /// The secret's id (the token's `iss`).
    pub secret_id: String,
    /// Its key: `X-token` is re-signed with it, so a renewal stops working
    /// with the secret it came from.
    pub key: Secret,
    /// Whether the token named its acting user (`user_id`); if not, the
    /// token acts as the integration and `user_id` is the secret's id.
    pub names_user: bool,
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
    /// The API secret that signed an integrator token; `None` for a user
    /// token (signed with `JWT_SECRET`).
    pub issuer: Option<Issuer>,
    /// Unix time after which `X-token` renewals extend nothing ([`session`]).
    pub session_ends_at: i64,
}

impl Principal {
    /// The key of album `id` of the caller's organization: every album id
    /// a request names is within it (decision 0014).
    pub fn album_key(&self, id: &str) -> crate::album::AlbumKey {
        crate::album::AlbumKey::new(&self.organization_id, id)
    }

    /// Whether the caller may exercise `ability` on `album_id` (an album of its organization).
    pub fn can(&self, album_id: &str, ability: Ability) -> bool {
        self.abilities.allows(album_id, ability)
    }

    /// Whose `Idempotency-Key`s a request's key is among: the registered
    /// user's, or for an integrator token `<organization>/<user>`. Users an
    /// integrator names are its organization's own and unregistered, so
    /// they must not share keys with a registered user, or with another
    /// organization's user, of the same name. No registered user id holds
    /// a `/`, so the two never meet.
    pub fn idempotency_owner(&self) -> String {
        match self.issuer {
            None => self.user_id.clone(),
            Some(_) => format!("{}/{}", self.organization_id, self.user_id),
        }
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

/// Verifies an API (user) token under the default lifetime rules: see
/// [`verify_api_token_with`].
pub fn verify_api_token(token: &str, secret: &Secret, now: i64) -> Result<VerifiedToken, ApiError> {
    verify_api_token_with(token, secret, now, &TokenRules::default())
}

/// Verifies an API (user) token: HS256 with `JWT_SECRET`, unexpired, `exp`
/// within `rules`, with a `user_id`, and not a notification token.
pub fn verify_api_token_with(
    token: &str,
    secret: &Secret,
    now: i64,
    rules: &TokenRules,
) -> Result<VerifiedToken, ApiError> {
    let mut claims = decode_hs256(token, secret, now)?;
    if claims.contains_key("aud") {
        return Err(unauthorized("this token is not an API token"));
    }
    let user_id = required_string(&claims, "user_id")?.to_string();
    let abilities = Abilities::from_claim(claims.get("abilities"))
        .map_err(|_| unauthorized("invalid token abilities"))?;
    let session_ends_at = rules.start_session(&mut claims, now)?;
    Ok(VerifiedToken {
        user_id,
        abilities,
        claims,
        session_ends_at,
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

/// The caller's token re-signed with `secret`, `exp = now + ttl` (but never
/// past the end of its session, [`session::renewal_exp`]) and `iat = now`:
/// the `X-token` header of every successful API response.
pub fn refreshed_token(
    principal: &Principal,
    secret: &Secret,
    now: i64,
    ttl: u64,
) -> Result<String, ApiError> {
    let mut claims = principal.claims.clone();
    let presented = claims.get("exp").and_then(Value::as_i64);
    let exp = session::renewal_exp(principal.session_ends_at, presented, now, ttl);
    claims.insert("exp".into(), Value::from(exp));
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
    /// Who asked for the upload form: a registered user, or for an
    /// integrator token the user it named (or its secret's id).
    pub user_id: String,
    /// For a form asked for with an integrator token, the API secret that
    /// signed it: the webhook refuses the form's uploads once that secret
    /// is revoked, as it refuses a deleted user's (decision 0016).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
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

/// Issues the notification token of an upload form made for a registered
/// user, signed with the notification key (`Config::notification_key`).
pub fn issue_notification_token(
    user_id: &str,
    album_id: &str,
    organization_id: &str,
    secret: &Secret,
    now: i64,
    ttl: u64,
) -> Result<String, ApiError> {
    issue_notification_token_for(user_id, None, album_id, organization_id, secret, now, ttl)
}

/// [`issue_notification_token`] for a form asked for by a registered user
/// (`iss` `None`) or through API secret `iss`.
pub fn issue_notification_token_for(
    user_id: &str,
    iss: Option<&str>,
    album_id: &str,
    organization_id: &str,
    secret: &Secret,
    now: i64,
    ttl: u64,
) -> Result<String, ApiError> {
    sign(
        &NotificationClaims {
            user_id: user_id.into(),
            iss: iss.map(str::to_string),
            album_id: album_id.into(),
            organization_id: organization_id.into(),
            exp: now + ttl as i64,
            iat: now,
            aud: NOTIFICATION_AUDIENCE.into(),
        },
        secret,
    )
}

/// Verifies a notification token (the webhook accepts nothing else)
/// against the notification key.
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
mod tests;
