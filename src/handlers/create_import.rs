//! `POST /api/v1/imports` (`album_id`, `url`, `filename`, `metadata`):
//! 200 at once with the import JSON (`image_id` null), as SharinPix's
//! `import/import_a_new_image` records it; Cloudinary uploads the file
//! from its URL and the webhook records it (`crate::imports`). With an
//! `Idempotency-Key`, a retry answers the first sending's import.

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params};
use crate::idempotency;
use crate::imports::{ImportJson, ImportRequest, start};
use crate::service::App;

/// Handles one request inside the write budget, which covers the call to
/// Cloudinary (`cloudinary_api::CALL_TIMEOUT`): every outcome, running
/// out of time included, is an HTTP response.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let request = ImportRequest::from_params(&params(req)?)?;
    let mut id = uuid::Uuid::new_v4().to_string();
    if let Some(key) = idempotency::key_of(req)? {
        id = idempotency::claim(app, &caller, req, &key, "POST /api/v1/imports", &id)
            .await?
            .album_id;
    }
    let import = start(app, &caller.principal, &id, &request).await?;
    caller.json(200, &ImportJson::from(&import))
}
