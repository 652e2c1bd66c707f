//! `DELETE /api/v1/images` with `image_ids[]` (up to 100): deletes them
//! all or, when the token may not delete one of them, none (401); 200
//! with the ids deleted, as SharinPix's `image_api/it_deletes_images_and_returns_200`
//! records it. Each image goes to the trash and its album's count drops
//! exactly (`crate::deletion::delete_images`).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params};
use crate::service::App;

/// Handles one request inside the duplicate's budget: a hundred deletes
/// are a thousand DynamoDB calls (every outcome, running out of time
/// included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().duplicate(), serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let ids = params(req)?
        .strings("image_ids")?
        .ok_or_else(|| ApiError::Unprocessable("image_ids is required".into()))?;
    let deleted = crate::deletion::delete_images(app, &caller.principal, &ids).await?;
    caller.json(200, &deleted)
}
