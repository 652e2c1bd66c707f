//! Secrets that never print themselves, and the keys derived from them.
//!
//! One configured secret must not sign several kinds of token: a key that
//! signs user tokens and also cursors or notification tokens lets whoever
//! holds it for one purpose forge the others, and makes one kind's
//! verifier accept another kind if a claim check is ever missed. Each
//! purpose therefore gets its own key, derived with HKDF-SHA256 from the
//! secret it belongs to ([`Secret::derive`], decision 0016).

use std::fmt;

use aws_lc_rs::hkdf;

/// The fewest bytes a configured signing secret may have: HS256's key is
/// 32 bytes, and a shorter secret caps every key derived from it below
/// that strength.
pub const MIN_SECRET_BYTES: usize = 32;

/// A secret string whose `Debug` never prints the value, so secrets cannot
/// reach logs through `{:?}` of a struct that holds them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// What a derived key is for: HKDF's `info`, so keys of two purposes
/// never coincide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Pagination cursors (`crate::cursor`), derived from `JWT_SECRET`.
    Cursor,
    /// Upload forms' notification tokens, derived from
    /// `NOTIFICATION_SECRET`.
    NotificationToken,
}

impl Purpose {
    /// The HKDF `info` of the purpose; versioned so a future change of
    /// derivation can coexist with this one.
    fn info(self) -> &'static [u8] {
        match self {
            Self::Cursor => b"album-api/v1/cursor",
            Self::NotificationToken => b"album-api/v1/notification-token",
        }
    }
}

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call sites are the few places that sign or verify.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key of `purpose` derived from this secret: HKDF-SHA256 with no
    /// salt (the secret is already uniformly random, RFC 5869 §3.1) and
    /// the purpose as `info`, 32 bytes, held as lowercase hex so it is a
    /// [`Secret`] like any other HS256 key (HMAC takes any bytes; the hex
    /// form keeps all 256 bits).
    pub fn derive(&self, purpose: Purpose) -> Secret {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(self.0.as_bytes());
        let mut key = [0u8; 32];
        let info = [purpose.info()];
        prk.expand(&info, hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut key))
            .expect("32 bytes is within HKDF-SHA256's output limit");
        Secret(hex::encode(key))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_rfc_5869_test_case_3() {
        // RFC 5869 A.3: IKM 22 bytes of 0x0b, no salt, no info; the first
        // 32 bytes of OKM.
        let ikm = [0x0bu8; 22];
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(&ikm);
        let mut okm = [0u8; 32];
        let info: [&[u8]; 1] = [b""];
        prk.expand(&info, hkdf::HKDF_SHA256)
            .unwrap()
            .fill(&mut okm)
            .unwrap();
        assert_eq!(
            hex::encode(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
        );
    }

    #[test]
    fn each_purpose_has_its_own_key_none_the_secret_itself() {
        let s = Secret::new("a-secret-of-at-least-32-bytes-0123456789");
        let cursor = s.derive(Purpose::Cursor);
        let note = s.derive(Purpose::NotificationToken);
        assert_ne!(cursor, note);
        assert_ne!(cursor.expose(), s.expose());
        assert_eq!(cursor.expose().len(), 64);
        assert_eq!(cursor, s.derive(Purpose::Cursor), "deterministic");
        assert_ne!(cursor, Secret::new("another").derive(Purpose::Cursor));
    }
}
