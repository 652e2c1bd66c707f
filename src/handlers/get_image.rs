//! `GET /api/v1/images/{id}`: the image JSON of one image (`image_list`
//! on its album), as SharinPix's `image_api/retrieve_an_image` records it.

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_item_id};
use crate::image_access::find_for;
use crate::service::App;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_item_id(req, "id", "images", "image")?;
    let found = find_for(app, &caller.principal, &id, &[Ability::ImageList]).await?;
    let cld = app.config.cloudinary()?;
    let image = &found.image;
    caller.json(200, &image.record.render(&image.id, found.album_id(), cld))
}
