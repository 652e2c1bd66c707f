//! `GET /api/v1/tags`: the organization's tags by name, paginated;
//! `visible=true` keeps the visible ones (a page may then hold fewer than
//! `limit`: follow `X-Next-Cursor` until it is absent).

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::http::{Caller, PageRequest, Reply, answer, params};
use crate::service::App;
use crate::tags::tag_json;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let org = &caller.principal.organization_id;
    let visible_only = params(req)?.flag("visible")?;
    let page = PageRequest::read(req)?.within(app, format!("tags:{org}"))?;
    let (tags, next) = app
        .store
        .tags_page(org, page.limit, page.start.clone())
        .await?;
    let body: Vec<_> = tags
        .iter()
        .filter(|t| !visible_only || t.flags.visible)
        .map(tag_json)
        .collect();
    page.reply(caller.json(200, &body)?, next.as_ref())
}
