//! `GET /api/v1/albums/{id}/images`: the album's images, newest first, paginated.

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::cursor;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, page_params, params, path_param};
use crate::service::{App, album_for, authenticate, now, x_token};

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
    let (limit, cursor) = page_params(&params(req)?)?;
    let album = album_for(app, &principal, &id, &[Ability::ImageList]).await?;
    let scope = format!("album:{}", album.id);
    let secret = app.config.jwt_secret()?;
    let start = cursor
        .map(|c| cursor::decode(&c, &scope, secret))
        .transpose()?;
    let (images, next) = app.store.images_page(&album, limit, start).await?;
    let cld = app.config.cloudinary()?;
    let rendered: Vec<_> = images
        .iter()
        .map(|i| i.record.render(&i.id, &album.id, cld))
        .collect();
    let body = serde_json::to_string(&rendered).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut reply = Reply::new(200, body).token(x_token(app, &principal, now)?);
    if let Some(next) = next {
        reply = reply.header("x-next-cursor", cursor::encode(&next, &scope, secret)?);
    }
    Ok(reply)
}
