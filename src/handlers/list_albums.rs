//! `GET /api/v1/albums`: the caller's organization's albums, paginated
//! (which of them a token sees: [`crate::album_list`]).

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::album_list;
use crate::error::ApiError;
use crate::http::{Caller, PageRequest, Reply, answer};
use crate::image::ImageJson;
use crate::service::App;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

#[derive(Serialize)]
struct AlbumSummary<'a> {
    id: &'a str,
    public_id: &'a str,
    images_count: u64,
    thumbnails: Vec<ImageJson<'a>>,
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    let page = PageRequest::read(req)?.within(app, album_list::scope(principal))?;
    let (found, next) = album_list::page(app, principal, page.limit, page.start.clone()).await?;
    let cld = app.config.cloudinary()?;
    let summaries: Vec<AlbumSummary> = found
        .iter()
        .map(|(a, thumbs)| AlbumSummary {
            id: &a.id,
            public_id: &a.id,
            images_count: a.images_count,
            thumbnails: thumbs
                .iter()
                .map(|t| t.record.render(&t.id, &a.id, cld))
                .collect(),
        })
        .collect();
    page.reply(caller.json(200, &summaries)?, next.as_ref())
}
