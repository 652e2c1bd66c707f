//! `DELETE /api/v1/trashed_images/{image_id}`: restores a deleted image
//! into its album, with its tag images; 200 with the image JSON, as
//! SharinPix's `trashed_images/restore_deleted_images` records it
//! (`crate::trash::restore`).

use lambda_http::{Body, Request, Response};

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
    let id = path_item_id(req, "image_id", "trashed_images", "trashed image")?;
    let (image, album) = crate::trash::restore(app, &caller.principal, &id).await?;
    let cld = app.config.cloudinary()?;
    caller.json(200, &image.record.render(&image.id, &album.id, cld))
}
