//! `POST /api/v1/tags`: a tag in the caller's organization, 200 (as
//! SharinPix answers), with the existing tag when the name is taken (names
//! are unique per organization, so a retried request creates nothing
//! twice). Any token of the organization may create one: tags are the
//! organization's, not an album's (SharinPix's examples create them with
//! album-restricted tokens). The name is slugged (`Super Tag` →
//! `super-tag`, its `label` stays `Super Tag`); `public`, `listed`,
//! `visible` and `allow_download` set its flags. An `Idempotency-Key`
//! sent before with another request is a 422 (`crate::idempotency`).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params};
use crate::idempotency;
use crate::service::{App, now_rfc3339};
use crate::tags::{flags_of, slug, tag_json, valid_name};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    let params = params(req)?;
    let label = valid_name(params.str("name")?)?;
    let name = slug(&label)?;
    let flags = flags_of(&params)?;
    idempotency::guard(app, &caller, req, "POST /api/v1/tags").await?;
    let org = &principal.organization_id;
    let (tag, _created) = app
        .store
        .create_tag_as(org, &name, &label, flags, &now_rfc3339())
        .await?;
    caller.json(200, &tag_json(&tag))
}
