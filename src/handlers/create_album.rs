//! `POST /api/v1/albums`: a new, empty album with a UUID id, in the caller's organization.
//!
//! With an `Idempotency-Key` header, a retried request (a lost answer, a
//! client's timeout) gets the album the first one created instead of a
//! second album: the same key from the same user within
//! [`IDEMPOTENCY_TTL`] answers with that album; the same key with
//! another body is a 422 (`idempotency_key_reused`). Both answer 200, as
//! SharinPix's recorded example does.

use std::time::Duration;

use lambda_http::{Body, Request, Response};
use sha1::{Digest, Sha1};

use crate::album::Album;
use crate::auth::Abilities;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, body_bytes, params};
use crate::service::{App, now_rfc3339};
use crate::store::idempotency::Claim;

/// How long an idempotency key names its album.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

/// The `Idempotency-Key` header: absent, or 1 to 255 printable ASCII
/// characters (the form of the IETF draft's keys, UUIDs and the like).
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
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

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    // The body carries nothing today, but must be readable.
    params(req)?;
    let key = idempotency_key(req)?;
    if !matches!(principal.abilities, Abilities::All) {
        return Err(ApiError::Forbidden(
            "a token restricted to named albums may not create albums".into(),
        ));
    }
    let mut id = uuid::Uuid::new_v4().to_string();
    if let Some(key) = key {
        let fingerprint = hex::encode(Sha1::digest(body_bytes(req)?));
        let claim = app
            .store
            .claim_idempotency_key(
                &principal.idempotency_owner(),
                &key,
                &id,
                &fingerprint,
                caller.now.max(0) as u64,
                IDEMPOTENCY_TTL,
            )
            .await?;
        if let Claim::Claimed {
            album_id,
            fingerprint: first,
        } = claim
        {
            if first != fingerprint {
                return Err(ApiError::IdempotencyKeyReused(
                    "this Idempotency-Key was sent before with another body".into(),
                ));
            }
            // The first request's album; created here if that request
            // stopped between claiming the key and creating it.
            id = album_id;
        }
    }
    create(app, &caller, id, 200).await
}

async fn create(
    app: &App,
    caller: &Caller<'_>,
    id: String,
    status: u16,
) -> Result<Reply, ApiError> {
    let org = &caller.principal.organization_id;
    let album = Album::new(&id, org, &now_rfc3339());
    // In the caller's organization (its key names it, decision 0014): an
    // Idempotency-Key's album id is found there or created there.
    let album = app.store.create_album_if_absent(&album).await?;
    Ok(caller
        .album_reply(status, &album)
        .await?
        .header("location", format!("/api/v1/albums/{}", album.id)))
}
