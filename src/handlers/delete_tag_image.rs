//! `DELETE /api/v1/tag_images/{id}`: untags one image; 204.

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_item_id};
use crate::service::App;

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let not_found = || ApiError::NotFound("tag image not found".into());
    let id = path_item_id(req, "id", "tag_images", "tag image")?;
    // Both copies mid-move, as for images (decision 0011).
    let copies = app.store.find_tag_image(&id).await?;
    let first = copies.first().ok_or_else(not_found)?;
    caller
        .album(&first.album_id, &[Ability::ImageList])
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
    caller.no_content()
}
