//! `GET /api/v1/tags/{tag_id}/tag_images`: the images a tag tags, newest
//! first, paginated. A token restricted to named albums sees those of its
//! albums it may list.

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Caller, PageRequest, Reply, answer, path_id};
use crate::service::App;
use crate::tags::{resolve, tag_image_json};

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    let tag_ref = path_id(req, "tag_id", "tags", "tag")?;
    let page = PageRequest::read(req)?;
    let tag = resolve(app, &principal.organization_id, &tag_ref).await?;
    let page = page.within(app, format!("tag:{}", tag.id))?;
    let (keys, next) = app
        .store
        .tag_images_page(&tag.id, page.limit, page.start.clone())
        .await?;
    // The tag is the organization's, so its associations are too; a
    // restricted token sees the albums it may list or tag in.
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| {
            principal.can(&k.album.id, Ability::ImageList)
                || principal.can(&k.album.id, Ability::Tag)
        })
        .collect();
    let found = app.store.tag_images_with_images(&keys).await?;
    let cld = app.config.cloudinary()?;
    let rendered = found
        .iter()
        .map(|(assoc, image)| tag_image_json(assoc, image, &tag, cld))
        .collect::<Vec<_>>();
    page.reply(caller.json(200, &rendered)?, next.as_ref())
}
