//! Secrets that never print themselves, and the keys derived from them.
//!
//! One configured secret must not sign several kinds of token: a key that
//! signs user tokens and also cursors or notification tokens lets whoever
//! holds it for one purpose forge the others, and makes one kind's
//! verifier accept another kind if a claim check is ever missed. Each
//! purpose therefore gets its own key, derived with HKDF-SHA256 from the
//! secret it belongs to ([`Secret::derive`], decision 0016).
//!
//! A rotating secret has two versions during a rotation: [`Keys`] holds
//! the current one and, until the overlap ends, the previous one, so
//! tokens signed before a rotation keep verifying (decision 0018).

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

/// The versions of one signing key a function holds: the current one and,
/// during a rotation's overlap, the previous one (decision 0018).
///
/// Verification tries the current version, then the previous one while
/// `now` is before the overlap's end (the current version's creation plus
/// `SECRET_OVERLAP_SECONDS`), so a token signed before a rotation keeps
/// working until then and is refused after. Signing uses the current
/// version once it has been current for the secret cache's TTL, and the
/// previous one before that: by then every warm function has re-read the
/// secret, so no function refuses a token another one just signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    current: Secret,
    previous: Option<Secret>,
    /// Unix seconds from which the current version signs.
    signs_from: i64,
    /// Unix seconds from which the previous version no longer verifies.
    previous_until: i64,
}

impl Keys {
    /// A key with one version (a local run, or a secret never rotated).
    pub fn single(current: Secret) -> Self {
        Self {
            current,
            previous: None,
            signs_from: i64::MIN,
            previous_until: i64::MIN,
        }
    }

    /// A key whose current version was created at `created` (Unix
    /// seconds), with its `previous` version accepted for `overlap`
    /// seconds after that and used for signing during the first
    /// `sign_delay` of them.
    pub fn rotating(
        current: Secret,
        previous: Option<Secret>,
        created: i64,
        overlap: u64,
        sign_delay: u64,
    ) -> Self {
        let after = |secs: u64| created.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
        Self {
            signs_from: if previous.is_some() {
                after(sign_delay)
            } else {
                i64::MIN
            },
            previous_until: after(overlap),
            current,
            previous,
        }
    }

    /// The current version.
    pub fn current(&self) -> &Secret {
        &self.current
    }

    /// The previous version while it still verifies at `now`.
    pub fn previous(&self, now: i64) -> Option<&Secret> {
        self.previous.as_ref().filter(|_| now < self.previous_until)
    }

    /// The version that signs at `now` (see the type's rule).
    pub fn signing(&self, now: i64) -> &Secret {
        match self.previous(now) {
            Some(previous) if now < self.signs_from => previous,
            _ => &self.current,
        }
    }

    /// `check` with the current version, then with the previous one while
    /// it verifies; the current version's error when neither passes (a
    /// bad token costs at most two HMACs).
    pub fn verify<T, E>(&self, now: i64, check: impl Fn(&Secret) -> Result<T, E>) -> Result<T, E> {
        match (check(&self.current), self.previous(now)) {
            (Err(e), Some(previous)) => check(previous).map_err(|_| e),
            (outcome, _) => outcome,
        }
    }

    /// The same versions, each replaced by its key of `purpose`.
    pub fn derive(&self, purpose: Purpose) -> Keys {
        Keys {
            current: self.current.derive(purpose),
            previous: self.previous.as_ref().map(|p| p.derive(purpose)),
            ..*self
        }
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
    fn the_previous_version_verifies_until_the_overlap_ends_and_signs_first() {
        let (old, new) = (Secret::new("old"), Secret::new("new"));
        let keys = Keys::rotating(new.clone(), Some(old.clone()), 1_000, 100, 10);
        let accepts = |key: &Secret, now| keys.verify(now, |k| (k == key).then_some(()).ok_or(()));
        assert!(accepts(&new, 1_000).is_ok() && accepts(&old, 1_099).is_ok());
        assert!(accepts(&old, 1_100).is_err(), "the overlap has ended");
        assert!(accepts(&Secret::new("other"), 1_000).is_err());
        assert_eq!(keys.signing(1_009), &old, "before every cache has read it");
        assert_eq!(keys.signing(1_010), &new);
        assert_eq!(
            Keys::rotating(new.clone(), None, 1_000, 100, 10).signing(0),
            &new
        );
        let derived = keys.derive(Purpose::Cursor);
        assert_eq!(derived.previous(1_099), Some(&old.derive(Purpose::Cursor)));
        assert_eq!(derived.previous(1_100), None);
        assert_eq!(Keys::single(new.clone()).previous(i64::MIN), None);
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
