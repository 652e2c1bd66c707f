//! `Idempotency-Key` on the routes that create an album: which album (and
//! which job) a retried request continues instead of creating a second.
//!
//! `POST /api/v1/albums` and `POST /api/v1/albums/{id}/duplicate` name the
//! album they create with a fresh UUID, so a retry after a lost answer or a
//! client's timeout would create a second album. With the header, the first
//! request claims the key for its album id (one conditional write,
//! `store::idempotency`); the same key from the same caller within
//! [`IDEMPOTENCY_TTL`] names that album again, and a duplicate's copy, being
//! deterministic (decision 0004), resumes into it instead of starting a
//! second one. The same key with another request (another route, source,
//! or body) is a 422 `idempotency_key_reused`. The other creating routes
//! (`POST /api/v1/tags`, `POST /api/v1/tag_images`) need no key: their
//! ids are derived from what they create, so a retry writes nothing new
//! (decision 0011).

use std::time::Duration;

use lambda_http::Request;
use sha1::{Digest, Sha1};

use crate::error::ApiError;
use crate::http::{Caller, body_bytes};
use crate::service::App;
use crate::store::idempotency::Claim;

/// How long an idempotency key names its album.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The `Idempotency-Key` header: absent, or 1 to 255 printable ASCII
/// characters (the form of the IETF draft's keys, UUIDs and the like).
pub fn key_of(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if (1..=255).contains(&key.len())
                && key.bytes().all(|b| (0x20..=0x7e).contains(&b)) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => Err(ApiError::BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
        )),
    }
}

/// What a key names once claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The album the request creates (or its first sending created).
    pub album_id: String,
    /// The job the first sending answered 202 with, if it did.
    pub job_id: Option<String>,
}

/// Claims `key` of the caller for `album_id`, a request to `route` (the
/// method and path it creates through; empty for `POST /albums`) whose
/// body is `req`'s: the first claim names `album_id`; a later one the album
/// (and job) of the first, or a 422 when the request differs.
pub async fn claim(
    app: &App,
    caller: &Caller<'_>,
    req: &Request,
    key: &str,
    route: &str,
    album_id: &str,
) -> Result<Claimed, ApiError> {
    // The route is part of the fingerprint: one key names one request.
    // (`POST /albums` passes none: its keys' fingerprints, claimed before
    // duplicates took keys, stay those of the body alone.)
    let mut digest = Sha1::new();
    if !route.is_empty() {
        digest.update(route.as_bytes());
        digest.update([0]);
    }
    digest.update(body_bytes(req)?);
    let fingerprint = hex::encode(digest.finalize());
    let claim = app
        .store
        .claim_idempotency_key(
            &caller.principal.idempotency_owner(),
            key,
            album_id,
            &fingerprint,
            caller.now.max(0) as u64,
            IDEMPOTENCY_TTL,
        )
        .await?;
    match claim {
        Claim::New => Ok(Claimed {
            album_id: album_id.to_string(),
            job_id: None,
        }),
        Claim::Claimed {
            fingerprint: first, ..
        } if first != fingerprint => Err(ApiError::IdempotencyKeyReused(
            "this Idempotency-Key was sent before with another request".into(),
        )),
        Claim::Claimed {
            album_id, job_id, ..
        } => Ok(Claimed { album_id, job_id }),
    }
}

/// Records on the caller's `key` the job its request answered 202 with, so
/// a retry answers that job instead of copying beside it. Best effort: a
/// retry that finds no job resumes the copy into the same album, exact all
/// the same (only the work is done twice).
pub async fn record_job(app: &App, caller: &Caller<'_>, key: &str, job_id: &str) {
    let owner = caller.principal.idempotency_owner();
    if let Err(e) = app.store.record_idempotent_job(&owner, key, job_id).await {
        tracing::warn!(error = %e, "could not record the job on its Idempotency-Key");
    }
}
