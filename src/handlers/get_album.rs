//! `GET /api/v1/albums/{id}`: the album JSON (same shape as the duplicate's answer).

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_id};
use crate::service::App;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_id(req, "id", "albums", "album")?;
    let album = caller.album(&id, &[Ability::See]).await?;
    caller.album_reply(200, &album).await
}
