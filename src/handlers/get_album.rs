//! `GET /api/v1/albums/{id}`: the album JSON (same shape as the duplicate's answer).

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, path_param};
use crate::service::{App, album_for, authenticate, now, render_album, x_token};

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let id = path_param(req, "id", "albums")
        .ok_or_else(|| ApiError::NotFound("album not found".into()))?;
    let album = album_for(app, &principal, &id, &[Ability::See]).await?;
    let body = render_album(app, &principal, &album, now).await?;
    Ok(Reply::new(200, body).token(x_token(app, &principal, now)?))
}
