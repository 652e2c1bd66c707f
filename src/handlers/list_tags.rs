//! `GET /api/v1/tags`: the organization's tags by name, paginated.

use lambda_http::{Body, Request, Response};

use crate::cursor;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, page_params, params};
use crate::service::{App, authenticate, now, x_token};
use crate::tags::tag_json;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let (limit, cursor) = page_params(&params(req)?)?;
    let scope = format!("tags:{}", principal.organization_id);
    let secret = app.config.jwt_secret()?;
    let start = cursor
        .map(|c| cursor::decode(&c, &scope, secret))
        .transpose()?;
    let (tags, next) = app
        .store
        .tags_page(&principal.organization_id, limit, start)
        .await?;
    let body = serde_json::Value::Array(tags.iter().map(tag_json).collect()).to_string();
    let mut reply = Reply::new(200, body).token(x_token(app, &principal, now)?);
    if let Some(next) = next {
        reply = reply.header("x-next-cursor", cursor::encode(&next, &scope, secret)?);
    }
    Ok(reply)
}
