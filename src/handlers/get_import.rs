//! `GET /api/v1/imports/{id}`: the import JSON, its `image_id` once the
//! webhook recorded the image, or `status: failed` and why, as SharinPix's
//! `import/get_import_*` examples record it (`crate::imports`).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_id};
use crate::imports::{ImportJson, find};
use crate::service::App;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_id(req, "id", "imports", "import")?;
    let import = find(app, &caller.principal, &id).await?;
    caller.json(200, &ImportJson::from(&import))
}
