//! `POST /api/v1/tags/{tag_id}/tag_images`: tags images (`image_ids[]`);
//! tagging an image twice writes nothing new (decision 0011).
//!
//! Every image is checked before anything is written: one missing, in
//! another organization (404) or in an album the token may not list (403)
//! refuses the whole request.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use lambda_http::{Body, Request, Response};

use crate::album::is_valid_id;
use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, params, path_param};
use crate::service::{App, album_for, authenticate, now, now_rfc3339, x_token};
use crate::store::Store;
use crate::tags::{MAX_IMAGES_PER_REQUEST, resolve, tag_image_json};

/// Lookups, and taggings, in flight at once (a tagging is a conditional
/// put, and a read when the image was tagged before).
const TAGGING_CONCURRENCY: usize = 16;

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
    // Every image located at once, each album checked once, the images
    // read in one batch, then tagged at once: a few round trips for 100
    // images, not 400 in a row.
    let located = futures_util::stream::iter(ids.iter().cloned().map(|id| locate(app, id)))
        .buffered(TAGGING_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, ApiError>>()?;
    let albums: BTreeSet<&str> = located.iter().map(|k| k.album_id.as_str()).collect();
    for album_id in albums {
        album_for(app, &principal, album_id, &[Ability::ImageList])
            .await
            .map_err(|e| match e {
                ApiError::NotFound(_) => ApiError::NotFound(format!(
                    "image {} not found",
                    ids[located
                        .iter()
                        .position(|k| k.album_id == album_id)
                        .unwrap_or(0)]
                )),
                other => other,
            })?;
    }
    let wanted: Vec<(String, String)> = located
        .iter()
        .map(|k| (k.pk.clone(), k.sk.clone()))
        .collect();
    let found = app.store.get_items(&wanted).await?;
    let mut images = Vec::with_capacity(ids.len());
    for (id, key) in ids.iter().zip(&located) {
        let item = found
            .get(&(key.pk.clone(), key.sk.clone()))
            .ok_or_else(|| ApiError::NotFound(format!("image {id} not found")))?;
        images.push((key, Store::decode_image(item)?));
    }
    let cld = app.config.cloudinary()?;
    let created_at = now_rfc3339();
    let (tag, user, images) = (&tag, &principal.user_id, &images);
    let tagged = futures_util::stream::iter((0..images.len()).map(|i| {
        let (key, image) = &images[i];
        app.store.tag_image(key, image, tag, user, &created_at)
    }))
    .buffered(TAGGING_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let mut out = Vec::with_capacity(images.len());
    for ((_, image), assoc) in images.iter().zip(tagged) {
        out.push(tag_image_json(&assoc?, image, tag, cld)?);
    }
    let body = serde_json::Value::Array(out).to_string();
    Ok(Reply::new(200, body).token(x_token(app, &principal, now)?))
}

/// Where image `id` is; 404 when it is not (or the id cannot be one).
async fn locate(app: &App, id: String) -> Result<crate::store::images::ItemKey, ApiError> {
    let not_found = || ApiError::NotFound(format!("image {id} not found"));
    if !is_valid_id(&id) {
        return Err(not_found());
    }
    app.store.find_image(&id).await?.ok_or_else(not_found)
}
