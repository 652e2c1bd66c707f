//! `POST /api/v1/images/{id}/duplicate` (optionally `album_id`): a copy
//! of the image, with its tag images, in its album or in `album_id`; 200
//! with the copy's image JSON, as SharinPix's `image_api/duplicate_an_image`
//! records it (`crate::image_duplicate`).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params, path_item_id};
use crate::image_duplicate::duplicate_image;
use crate::service::App;

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_item_id(req, "id", "images", "image")?;
    let params = params(req)?;
    let to = params.str("album_id")?;
    let (copy, album) = duplicate_image(app, &caller.principal, &id, to).await?;
    let cld = app.config.cloudinary()?;
    caller.json(200, &copy.record.render(&copy.id, &album.id, cld))
}
