//! `DELETE /api/v1/tag_images/{id}`: untags one image; 204.

use lambda_http::{Body, Request, Response};

use crate::album::is_valid_id;
use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, path_param};
use crate::service::{App, album_for, authenticate, now, x_token};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let not_found = || ApiError::NotFound("tag image not found".into());
    let id = path_param(req, "id", "tag_images")
        .filter(|id| is_valid_id(id))
        .ok_or_else(not_found)?;
    // Both copies mid-move, as for images (decision 0011).
    let copies = app.store.find_tag_image(&id).await?;
    let first = copies.first().ok_or_else(not_found)?;
    album_for(app, &principal, &first.album_id, &[Ability::ImageList])
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => not_found(),
            other => other,
        })?;
    let mut deleted = false;
    for key in &copies {
        deleted |= app.store.delete_tag_image(key).await?;
    }
    if !deleted {
        return Err(not_found());
    }
    Ok(Reply::new(204, String::new()).token(x_token(app, &principal, now)?))
}
