//! `GET /api/v1/usage`: the caller's organization's quotas and how much
//! of them it uses today (decision 0015), so a client can pace its copies
//! instead of meeting a 429.

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer};
use crate::service::App;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let usage = crate::quota::usage_of(app, &caller.principal.organization_id).await?;
    caller.json(200, &usage)
}
