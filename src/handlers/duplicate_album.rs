//! `POST /api/v1/albums/{id}/duplicate`.

use lambda_http::{Body, Request, Response};

use crate::auth;
use crate::duplicate::{prepare, run_copy};
use crate::error::ApiError;
use crate::http::{RequestCtx, header, params, path_param, respond, respond_error};
use crate::service::{App, authenticate, now, render_album};

/// Handles one request; never fails at the Lambda level: every outcome,
/// errors included, is an HTTP response.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestCtx::of(&req);
    Ok(match serve(app, &req).await {
        Ok((body, token)) => respond(&ctx, 200, body, Some(&token)),
        Err(e) => respond_error(&ctx, &e),
    })
}

async fn serve(app: &App, req: &Request) -> Result<(String, String), ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let source_id = path_param(req, "id", "albums")
        .ok_or_else(|| ApiError::NotFound("album not found".into()))?;
    let params = params(req)?;
    let requested = params.str("destination_id")?;
    let (source, destination) = prepare(app, &principal, &source_id, requested).await?;
    let done = run_copy(app, &source, &destination, None, None).await?;
    let body = render_album(app, &principal, &done.album, now).await?;
    let token = auth::refreshed_token(
        &principal,
        &app.config.jwt_secret,
        now,
        app.config.token_ttl_seconds,
    )?;
    Ok((body, token))
}
