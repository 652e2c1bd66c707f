//! `GET /api/v1/trashed_images` (optionally `album_id`): the deleted
//! images the token may restore, paginated by image id, as SharinPix's
//! `trashed_images/retrieve_*` examples record them (`crate::trash`).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, PageRequest, Reply, answer, params};
use crate::service::App;
use crate::trash::{TrashScope, page};

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let scope = TrashScope::of(&caller.principal)?;
    let params = params(req)?;
    let album = params.str("album_id")?.map(str::to_string);
    let org = &caller.principal.organization_id;
    let scope_name = format!("trash:{org}:{}", album.as_deref().unwrap_or(""));
    let paging = PageRequest::read(req)?.within(app, scope_name)?;
    let (images, next) = page(
        app,
        &caller.principal,
        &scope,
        album.as_deref(),
        paging.limit,
        paging.start.clone(),
    )
    .await?;
    paging.reply(caller.json(200, &images)?, next.as_ref())
}
