//! `POST /api/v1/tags/{tag_id}/tag_images`: tags images (`image_ids[]`);
//! all or none ([`crate::tagging`]). An `Idempotency-Key` sent before with
//! another request is a 422 (`crate::idempotency`).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params, path_id};
use crate::idempotency;
use crate::service::App;
use crate::tagging::tag_images;
use crate::tags::{MAX_IMAGES_PER_REQUEST, resolve, tag_image_json};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let tag_ref = path_id(req, "tag_id", "tags", "tag")?;
    let ids = params(req)?
        .strings("image_ids")?
        .ok_or_else(|| ApiError::Unprocessable("image_ids is required".into()))?;
    if ids.is_empty() || ids.len() > MAX_IMAGES_PER_REQUEST {
        return Err(ApiError::Unprocessable(format!(
            "image_ids must name 1 to {MAX_IMAGES_PER_REQUEST} images"
        )));
    }
    let route = format!("POST /api/v1/tags/{tag_ref}/tag_images");
    idempotency::guard(app, &caller, req, &route).await?;
    let tag = resolve(app, &caller.principal.organization_id, &tag_ref).await?;
    let tagged = tag_images(app, &caller.principal, &tag, &ids).await?;
    let cld = app.config.cloudinary()?;
    let body = tagged
        .iter()
        .map(|(assoc, image)| tag_image_json(assoc, image, &tag, cld))
        .collect::<Vec<_>>();
    caller.json(200, &body)
}
