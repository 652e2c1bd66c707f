//! `POST /api/v1/albums/{id}/duplicate`.

use lambda_http::{Body, Request, Response};

use crate::duplicate::{prepare, run_copy};
use crate::error::ApiError;
use crate::http::{Reply, RequestCtx, finish, header, params, path_param};
use crate::service::{App, authenticate, now, render_album, x_token};

/// Handles one request; never fails at the Lambda level: every outcome,
/// errors included, is an HTTP response.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestCtx::of(&req);
    Ok(finish(&ctx, serve(app, &req).await))
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let source_id = path_param(req, "id", "albums")
        .ok_or_else(|| ApiError::NotFound("album not found".into()))?;
    let params = params(req)?;
    let requested = params.str("destination_id")?;
    let (source, destination) = prepare(app, &principal, &source_id, requested).await?;
    let done = run_copy(app, &source, &destination, None, None).await?;
    let body = render_album(app, &principal, &done.album, now).await?;
    Ok(Reply::new(200, body).token(x_token(app, &principal, now)?))
}
