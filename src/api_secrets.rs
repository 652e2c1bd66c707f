//! The warm function's cache of the organization API secrets it looked up
//! (decision 0013).
//!
//! An integrator signs its own tokens (HS256) with a secret of its
//! organization and names the secret's id in `iss`, as SharinPix's
//! `api.md` describes; `service::authenticate` verifies such a token with
//! that secret. An organization may hold several active secrets at once,
//! so a new one can be rolled out before the old one is revoked.
//!
//! **Cache rule.** A looked-up secret is kept in the process for at most
//! [`Config::api_secret_cache`](crate::config::Config::api_secret_cache)
//! (`API_SECRET_CACHE_SECONDS`, default 30 s, never more than
//! [`MAX_CACHE_TTL`] = 60 s): a warm invocation whose secret is cached
//! makes no DynamoDB call for it, and a revoked secret stops working on
//! every warm function within that time (the lookup is a strongly
//! consistent read). Unknown ids are not cached: they cost a `GetItem`
//! each, as a token of an unknown user does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::store::Store;

pub use crate::api_secret::{ApiSecret, SECRET_BYTES, is_valid_secret_id};
pub use crate::config::{
    DEFAULT_API_SECRET_CACHE as DEFAULT_CACHE_TTL, MAX_API_SECRET_CACHE as MAX_CACHE_TTL,
};
/// Most secrets one process keeps cached; a full cache drops its expired
/// entries, then everything (ids come from tokens: a flood of valid but
/// distinct ids must not grow the process without bound).
const MAX_CACHED: usize = 1024;

/// Looked-up secrets of this process, each kept for the cache's TTL
/// (see the module's cache rule). Cloning shares the cache.
#[derive(Clone)]
pub struct SecretCache {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<String, (Instant, ApiSecret)>>>,
}

impl std::fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretCache {
    /// An empty cache keeping entries for `ttl`, at most [`MAX_CACHE_TTL`]
    /// (zero: every lookup reads the table).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl: ttl.min(MAX_CACHE_TTL),
            entries: Arc::default(),
        }
    }

    /// How long an entry is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Secret `id`, from the cache while its entry is younger than the
    /// TTL, else from the table (then cached). `None`: no such secret.
    pub async fn get(&self, store: &Store, id: &str) -> Result<Option<ApiSecret>, ApiError> {
        let now = Instant::now();
        if let Some(hit) = self.cached(id, now) {
            return Ok(Some(hit));
        }
        let found = store.api_secret(id).await?;
        if let Some(secret) = &found {
            self.insert(secret.clone(), Instant::now());
        }
        Ok(found)
    }

    fn cached(&self, id: &str, now: Instant) -> Option<ApiSecret> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(id)
            .filter(|(at, _)| now.duration_since(*at) < self.ttl)
            .map(|(_, secret)| secret.clone())
    }

    fn insert(&self, secret: ApiSecret, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED {
            entries.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
        }
        entries.insert(secret.id.clone(), (now, secret));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn a_new_secret_is_256_random_bits_and_never_printed() {
        let a = ApiSecret::generate("org", "2026-01-01T00:00:00.000Z").unwrap();
        let b = ApiSecret::generate("org", "2026-01-01T00:00:00.000Z").unwrap();
        assert_ne!(a.key, b.key);
        assert_ne!(a.id, b.id);
        assert!(is_valid_secret_id(&a.id));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(a.key.expose())
            .unwrap();
        assert_eq!(raw.len(), SECRET_BYTES);
        assert!(a.is_active());
        let shown = format!("{a:?}");
        assert!(!shown.contains(a.key.expose()), "{shown}");
    }

    #[test]
    fn entries_expire_after_the_ttl_which_is_at_most_a_minute() {
        assert_eq!(
            SecretCache::new(Duration::from_secs(600)).ttl(),
            MAX_CACHE_TTL
        );
        let cache = SecretCache::new(Duration::from_secs(30));
        let s = ApiSecret::generate("org", "t").unwrap();
        let t0 = Instant::now();
        cache.insert(s.clone(), t0);
        assert_eq!(
            cache.cached(&s.id, t0 + Duration::from_secs(29)),
            Some(s.clone())
        );
        assert_eq!(cache.cached(&s.id, t0 + Duration::from_secs(30)), None);
        let off = SecretCache::new(Duration::ZERO);
        off.insert(s.clone(), t0);
        assert_eq!(off.cached(&s.id, t0), None);
    }

    #[test]
    fn a_full_cache_stays_bounded() {
        let cache = SecretCache::new(Duration::from_secs(30));
        let t0 = Instant::now();
        for _ in 0..MAX_CACHED + 10 {
            cache.insert(ApiSecret::generate("org", "t").unwrap(), t0);
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_CACHED);
    }
}
