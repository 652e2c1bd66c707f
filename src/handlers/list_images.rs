//! `GET /api/v1/albums/{id}/images`: the album's images, newest first, paginated.

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Caller, PageRequest, Reply, answer, path_id};
use crate::service::App;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_id(req, "id", "albums", "album")?;
    let page = PageRequest::read(req)?;
    let album = caller.album(&id, &[Ability::ImageList]).await?;
    let page = page.within(app, format!("album:{}", album.id))?;
    let (images, next) = app
        .store
        .images_page(&album, page.limit, page.start.clone())
        .await?;
    let cld = app.config.cloudinary()?;
    let rendered: Vec<_> = images
        .iter()
        .map(|i| i.record.render(&i.id, &album.id, cld))
        .collect();
    page.reply(caller.json(200, &rendered)?, next.as_ref())
}
