//! An organization API secret: what one is and how a new one is made
//! (decision 0013).

use base64::Engine as _;
use rand::TryRngCore as _;

use crate::error::ApiError;
use crate::secret::Secret;

/// Random bytes in a new secret (256 bits, the size of HS256's hash).
pub const SECRET_BYTES: usize = 32;

/// One API secret of an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSecret {
    /// Its id: the `iss` of the tokens it signs (a UUID).
    pub id: String,
    /// The organization its tokens act for.
    pub organization_id: String,
    /// The HMAC key (never printed: [`Secret`]).
    pub key: Secret,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Revocation time (RFC 3339); `None` while active.
    pub revoked_at: Option<String>,
}

impl ApiSecret {
    /// A new active secret of `organization_id`: a random UUID as id and
    /// [`SECRET_BYTES`] bytes from the operating system's generator,
    /// base64url without padding (43 characters), as key.
    pub fn generate(organization_id: &str, now_rfc3339: &str) -> Result<Self, ApiError> {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|_| ApiError::Internal("the system's random generator failed".into()))?;
        Ok(Self {
            id: uuid::Uuid::new_v4().to_string(),
            organization_id: organization_id.to_string(),
            key: Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)),
            created_at: now_rfc3339.to_string(),
            revoked_at: None,
        })
    }

    /// Whether tokens it signs are accepted.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// Whether `id` can be an API secret's id (what `iss` may hold): 1-128
/// characters of `A-Za-z0-9_-`, like every id that goes into a key.
pub fn is_valid_secret_id(id: &str) -> bool {
    crate::album::is_valid_id(id)
}
