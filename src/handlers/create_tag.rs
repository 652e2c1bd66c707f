//! `POST /api/v1/tags`: a tag in the caller's organization; 201 when new,
//! 200 with the existing tag when the name is taken (names are unique per
//! organization, so a retried request creates nothing twice).

use lambda_http::{Body, Request, Response};

use crate::auth::Abilities;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params};
use crate::service::{App, now_rfc3339};
use crate::tags::{tag_json, valid_name};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    let name = valid_name(params(req)?.str("name")?)?;
    if !matches!(principal.abilities, Abilities::All) {
        return Err(ApiError::Forbidden(
            "a token restricted to named albums may not create tags".into(),
        ));
    }
    let (tag, created) = app
        .store
        .create_tag(&principal.organization_id, &name, &now_rfc3339())
        .await?;
    caller.json(if created { 201 } else { 200 }, &tag_json(&tag))
}
