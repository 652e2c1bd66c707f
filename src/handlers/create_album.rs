//! `POST /api/v1/albums`: a new, empty album with a UUID id, in the caller's organization.
//!
//! With an `Idempotency-Key` header, a retried request (a lost answer, a
//! client's timeout) gets the album the first one created instead of a
//! second album ([`crate::idempotency`]); the same key with another body
//! is a 422 (`idempotency_key_reused`). Both answer 200, as SharinPix's
//! recorded example does.

use lambda_http::{Body, Request, Response};

use crate::album::Album;
use crate::auth::Abilities;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params};
use crate::idempotency;
use crate::service::{App, now_rfc3339};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    // The body carries nothing today, but must be readable.
    params(req)?;
    let key = idempotency::key_of(req)?;
    if !matches!(principal.abilities, Abilities::All) {
        return Err(ApiError::Forbidden(
            "a token restricted to named albums may not create albums".into(),
        ));
    }
    let mut id = uuid::Uuid::new_v4().to_string();
    if let Some(key) = key {
        // The first request's album; created here if that request
        // stopped between claiming the key and creating it.
        id = idempotency::claim(app, &caller, req, &key, "", &id)
            .await?
            .album_id;
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
