//! `DELETE /api/v1/images/{id}`: 204; the album's `images_count` drops by one.

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_item_id};
use crate::service::App;

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_item_id(req, "id", "images", "image")?;
    crate::deletion::delete_image(app, &caller.principal, &id).await?;
    caller.no_content()
}
