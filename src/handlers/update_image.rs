//! `PUT /api/v1/images/{id}`: sets an image's caption (`title`,
//! `description`), rotation or crop (`crop_x/y/w/h`), each with its
//! ability on the image's album (`crate::image_edit`); 200 with the
//! updated image JSON, whose URLs show the rotation and the crop.

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params, path_item_id};
use crate::image_access::find_for;
use crate::image_edit::ImageEdit;
use crate::service::{App, now_rfc3339};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_item_id(req, "id", "images", "image")?;
    let edit = ImageEdit::from_params(&params(req)?)?;
    let found = find_for(app, &caller.principal, &id, &edit.abilities()).await?;
    let record = edit.apply(&found.image.record, &now_rfc3339())?;
    // Every copy (two mid-move) takes the change, or finishing the move
    // would bring the old record back (decision 0011). A copy gone since
    // it was found has nothing to change; none left is a 404.
    let mut written = false;
    for key in &found.copies {
        written |= app.store.replace_image_record(key, &record).await?;
    }
    if !written {
        return Err(ApiError::NotFound("image not found".into()));
    }
    let cld = app.config.cloudinary()?;
    caller.json(200, &record.render(&id, found.album_id(), cld))
}
