//! `GET /api/v1/tag_images`: the tag images of `image_ids[]` (up to 100),
//! or of tag `tag_name` in album `album_id` (and image `image_id`), as
//! SharinPix's `tag_image/retrieve_tag_images*` examples record them
//! (`crate::image_tags`).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, PageRequest, Reply, answer, params};
use crate::image_tags::{of_images, of_tag_in_album};
use crate::service::App;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    let params = params(req)?;
    if let Some(ids) = params.strings("image_ids")? {
        let found = of_images(app, principal, &ids).await?;
        return caller.json(200, &found);
    }
    let (Some(tag), Some(album)) = (params.str("tag_name")?, params.str("album_id")?) else {
        return Err(ApiError::Unprocessable(
            "send image_ids[], or tag_name and album_id".into(),
        ));
    };
    let image = params.str("image_id")?;
    let scope = format!(
        "tag_images:{}:{album}:{tag}:{}",
        principal.organization_id,
        image.unwrap_or("")
    );
    let page = PageRequest::read(req)?.within(app, scope)?;
    let (found, next) = of_tag_in_album(
        app,
        principal,
        tag,
        album,
        image,
        page.limit,
        page.start.clone(),
    )
    .await?;
    page.reply(caller.json(200, &found)?, next.as_ref())
}
