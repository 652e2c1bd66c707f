//! `POST /api/v1/tags/{tag_id}/tag_images`: tags images (`image_ids[]`);
//! tagging an image twice writes nothing new (decision 0011).
//!
//! Every image is checked before anything is written: one missing, in
//! another organization (404) or in an album the token may not list (403)
//! refuses the whole request.

use lambda_http::{Body, Request, Response};

use crate::album::is_valid_id;
use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, params, path_param};
use crate::service::{App, album_for, authenticate, now, now_rfc3339, x_token};
use crate::tags::{MAX_IMAGES_PER_REQUEST, resolve, tag_image_json};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let tag_ref = path_param(req, "tag_id", "tags")
        .ok_or_else(|| ApiError::NotFound("tag not found".into()))?;
    let ids = params(req)?
        .strings("image_ids")?
        .ok_or_else(|| ApiError::Unprocessable("image_ids is required".into()))?;
    if ids.is_empty() || ids.len() > MAX_IMAGES_PER_REQUEST {
        return Err(ApiError::Unprocessable(format!(
            "image_ids must name 1 to {MAX_IMAGES_PER_REQUEST} images"
        )));
    }
    let tag = resolve(app, &principal.organization_id, &tag_ref).await?;
    let mut images = Vec::with_capacity(ids.len());
    for id in &ids {
        let not_found = || ApiError::NotFound(format!("image {id} not found"));
        if !is_valid_id(id) {
            return Err(not_found());
        }
        let (album_id, sk) = app.store.find_image(id).await?.ok_or_else(not_found)?;
        album_for(app, &principal, &album_id, &[Ability::ImageList])
            .await
            .map_err(|e| match e {
                ApiError::NotFound(_) => not_found(),
                other => other,
            })?;
        let image = app
            .store
            .get_image(&album_id, &sk)
            .await?
            .ok_or_else(not_found)?;
        images.push((album_id, image));
    }
    let cld = app.config.cloudinary()?;
    let created_at = now_rfc3339();
    let mut out = Vec::with_capacity(images.len());
    for (album_id, image) in &images {
        let assoc = app
            .store
            .tag_image(album_id, image, &tag, &principal.user_id, &created_at)
            .await?;
        out.push(tag_image_json(&assoc, image, &tag, cld)?);
    }
    let body = serde_json::Value::Array(out).to_string();
    Ok(Reply::new(200, body).token(x_token(app, &principal, now)?))
}
