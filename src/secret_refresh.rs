//! A warm function's signing keys, re-read from Secrets Manager after a
//! TTL so a rotation reaches it without a cold start (decision 0018).
//!
//! **Refresh rule.** The first request after `SECRET_CACHE_SECONDS`
//! (default 5 minutes) re-reads the signing secrets (`JWT_SECRET`,
//! `NOTIFICATION_SECRET`) before it verifies anything: one
//! `GetSecretValue` each, two when the current version changed (its
//! `AWSPREVIOUS` too). The read is on the request's path rather than in
//! the background because a Lambda environment is frozen between
//! invocations: a background task would run only while some request runs
//! anyway. When a refresh fails, the request goes on with the keys
//! already held, and the next attempt comes [`RETRY_AFTER_FAILURE`]
//! later, so an outage of Secrets Manager costs one slow request per 10 s,
//! not every request. Keys not refreshed for the TTL plus
//! [`STALE_GRACE`] (an hour) are no longer trusted: requests answer 503
//! until a refresh succeeds. Worst case: a key rotated away (after a
//! leak) keeps verifying on a function that cannot reach Secrets Manager
//! for the TTL plus an hour, and no longer.
//!
//! The Cloudinary URL is read at init only: many handlers hold it by
//! reference, and Cloudinary rotates its own API keys with an overlap
//! (an account holds two keys at once), so a cold start is soon enough.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;

use crate::config::{ConfigError, SecretName};
use crate::error::ApiError;
use crate::secret::{Keys, MIN_SECRET_BYTES, Purpose, Secret};
use crate::secret_source::{self, Fetched};

/// How long keys that can no longer be refreshed are still trusted past
/// their TTL: long enough to ride out an outage of Secrets Manager in the
/// region, short enough to bound how long a rotated-away key verifies.
pub const STALE_GRACE: Duration = Duration::from_secs(3_600);
/// The pause after a failed refresh before the next attempt (at most the
/// TTL): requests in between use the keys held without calling.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// The keys of the function's signing secrets at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningKeys {
    /// User tokens' key (`JWT_SECRET` itself), when the function needs it.
    pub jwt: Option<Keys>,
    /// Cursors' key, derived from `JWT_SECRET` ([`Purpose::Cursor`]).
    pub cursor: Option<Keys>,
    /// Notification tokens' key, derived from `NOTIFICATION_SECRET`.
    pub notification: Option<Keys>,
}

impl SigningKeys {
    /// Keys of one version each (local runs, values in the environment).
    pub fn single(jwt: Option<Secret>, notification: Option<Secret>) -> Self {
        Self::of(jwt.map(Keys::single), notification.map(Keys::single))
    }

    fn of(jwt: Option<Keys>, notification: Option<Keys>) -> Self {
        Self {
            cursor: jwt.as_ref().map(|k| k.derive(Purpose::Cursor)),
            notification: notification.map(|k| k.derive(Purpose::NotificationToken)),
            jwt,
        }
    }

    /// The keys of what was read from Secrets Manager, with the previous
    /// version of each accepted for `rules.overlap` after the current one
    /// was created. A current value under [`MIN_SECRET_BYTES`] is an
    /// error; such a previous one is dropped (it never signed here).
    fn fetched(values: &HashMap<&'static str, Fetched>, rules: Rules) -> Result<Self, ConfigError> {
        let keys = |name: SecretName| -> Result<Option<Keys>, ConfigError> {
            let Some(f) = values.get(name.var()) else {
                return Ok(None);
            };
            if f.value.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::Invalid {
                    name: name.var(),
                    reason: format!("must be at least {MIN_SECRET_BYTES} bytes"),
                });
            }
            let current = Secret::new(f.value.clone());
            Ok(Some(match &f.version {
                None => Keys::single(current),
                Some((_, created)) => Keys::rotating(
                    current,
                    f.previous
                        .as_ref()
                        .filter(|p| p.len() >= MIN_SECRET_BYTES)
                        .map(|p| Secret::new(p.clone())),
                    *created,
                    rules.overlap.as_secs(),
                    rules.ttl.as_secs(),
                ),
            }))
        };
        Ok(Self::of(
            keys(SecretName::JwtSecret)?,
            keys(SecretName::NotificationSecret)?,
        ))
    }
}

/// How signing keys are cached and rotated (`SECRET_CACHE_SECONDS`,
/// `SECRET_OVERLAP_SECONDS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// How long keys are used before they are re-read.
    pub ttl: Duration,
    /// How long after a version becomes current its predecessor verifies.
    pub overlap: Duration,
}

/// The function's signing keys, shared by clones; re-read after the TTL
/// when they came from Secrets Manager (see the module's rule).
#[derive(Clone)]
pub struct LiveKeys {
    keys: Arc<RwLock<Arc<SigningKeys>>>,
    refresh: Option<Arc<Refresh>>,
}

struct Refresh {
    client: Client,
    arns: Vec<(SecretName, String)>,
    rules: Rules,
    state: tokio::sync::Mutex<State>,
}

struct State {
    /// Every secret as last read (those from the environment as at init).
    fetched: HashMap<&'static str, Fetched>,
    read_at: Instant,
    next_try: Instant,
}

impl std::fmt::Debug for LiveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKeys")
            .field("keys", &self.snapshot())
            .field("refreshed", &self.refresh.as_ref().map(|r| r.rules))
            .finish()
    }
}

impl LiveKeys {
    /// Keys that never change (local runs).
    pub fn fixed(keys: SigningKeys) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            refresh: None,
        }
    }

    /// Keys read at init from Secrets Manager (`values`, read from `arns`
    /// by `client`), re-read by `client` under `rules`. Secrets that do
    /// not sign (the Cloudinary URL) are not re-read.
    pub fn refreshing(
        client: Client,
        arns: &[(SecretName, String)],
        values: &HashMap<&'static str, Fetched>,
        rules: Rules,
    ) -> Result<Self, ConfigError> {
        let keys = SigningKeys::fetched(values, rules)?;
        let arns: Vec<_> = arns.iter().filter(|(n, _)| n.signs()).cloned().collect();
        let now = Instant::now();
        let fetched = values.clone();
        Ok(Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            refresh: (!arns.is_empty()).then(|| {
                Arc::new(Refresh {
                    client,
                    arns,
                    rules,
                    state: tokio::sync::Mutex::new(State {
                        fetched,
                        read_at: now,
                        next_try: now + rules.ttl,
                    }),
                })
            }),
        })
    }

    /// The keys held now.
    pub fn snapshot(&self) -> Arc<SigningKeys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the signing secrets when their TTL has passed (one
    /// request at a time; the others wait for its outcome). A failed
    /// read keeps the keys held; an error (503) only once they are older
    /// than the TTL plus [`STALE_GRACE`].
    pub async fn refresh_if_due(&self) -> Result<(), ApiError> {
        let Some(refresh) = &self.refresh else {
            return Ok(());
        };
        let mut state = refresh.state.lock().await;
        let now = Instant::now();
        if now >= state.next_try {
            match refresh.read(&state.fetched).await {
                Ok((fetched, keys)) => {
                    *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                    *state = State {
                        fetched,
                        read_at: now,
                        next_try: now + refresh.rules.ttl,
                    };
                }
                Err(reason) => {
                    tracing::warn!(%reason, "signing secrets not refreshed; the keys held stay in use");
                    state.next_try = now + RETRY_AFTER_FAILURE.min(refresh.rules.ttl);
                }
            }
        }
        if trusted(state.read_at, now, refresh.rules.ttl) {
            Ok(())
        } else {
            Err(ApiError::Unavailable(
                "signing secrets could not be refreshed".into(),
            ))
        }
    }
}

/// Whether keys read at `read_at` may still be used at `now`.
fn trusted(read_at: Instant, now: Instant, ttl: Duration) -> bool {
    now.duration_since(read_at) <= ttl + STALE_GRACE
}

impl Refresh {
    /// Every signing secret from Secrets Manager again (at once) over
    /// `known`, and the keys they make.
    async fn read(
        &self,
        known: &HashMap<&'static str, Fetched>,
    ) -> Result<(HashMap<&'static str, Fetched>, SigningKeys), String> {
        let reads = self.arns.iter().map(|(name, arn)| async move {
            let f = secret_source::fetch(&self.client, arn, *name, known.get(name.var())).await;
            f.map(|f| (name.var(), f))
                .map_err(|e| format!("{}: {e}", name.arn_var()))
        });
        let mut fetched = known.clone();
        for read in futures_util::future::join_all(reads).await {
            let (var, f) = read?;
            fetched.insert(var, f);
        }
        let keys = SigningKeys::fetched(&fetched, self.rules).map_err(|e| e.to_string())?;
        Ok((fetched, keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(value: &str, version: &str, created: i64, previous: Option<&str>) -> Fetched {
        Fetched {
            value: value.into(),
            version: Some((version.into(), created)),
            previous: previous.map(str::to_string),
        }
    }

    #[test]
    fn keys_from_secrets_manager_accept_the_previous_version_for_the_overlap() {
        let (old, new) = ("o".repeat(40), "n".repeat(40));
        let values = HashMap::from([("JWT_SECRET", fetched(&new, "v2", 1_000, Some(&old)))]);
        let rules = Rules {
            ttl: Duration::from_secs(60),
            overlap: Duration::from_secs(600),
        };
        let keys = SigningKeys::fetched(&values, rules).unwrap();
        let jwt = keys.jwt.unwrap();
        assert_eq!(jwt.current().expose(), new);
        assert_eq!(jwt.previous(1_599).map(Secret::expose), Some(old.as_str()));
        assert_eq!(jwt.previous(1_600), None);
        assert_eq!(
            jwt.signing(1_059).expose(),
            old,
            "until every cache read it"
        );
        let cursor = keys.cursor.unwrap();
        assert_eq!(
            cursor.previous(1_000),
            Some(&Secret::new(old).derive(Purpose::Cursor))
        );
        assert!(keys.notification.is_none());
        let short = HashMap::from([("JWT_SECRET", fetched("short", "v", 0, None))]);
        assert!(SigningKeys::fetched(&short, rules).is_err());
        let short_previous = HashMap::from([("JWT_SECRET", fetched(&new, "v", 0, Some("s")))]);
        let keys = SigningKeys::fetched(&short_previous, rules).unwrap();
        assert_eq!(keys.jwt.unwrap().previous(0), None);
    }

    #[test]
    fn keys_are_trusted_for_the_ttl_plus_an_hour_without_a_refresh() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(300);
        assert!(trusted(t0, t0 + ttl + STALE_GRACE, ttl));
        assert!(!trusted(
            t0,
            t0 + ttl + STALE_GRACE + Duration::from_secs(1),
            ttl
        ));
    }
}
