//! `GET /api/v1/tags/{tag_id}/tag_images`: the images a tag tags, newest
//! first, paginated. A token restricted to named albums sees those of its
//! albums it may list.

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::cursor;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, page_params, params, path_param};
use crate::service::{App, authenticate, now, x_token};
use crate::tags::{resolve, tag_image_json};

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let tag_ref = path_param(req, "tag_id", "tags")
        .ok_or_else(|| ApiError::NotFound("tag not found".into()))?;
    let (limit, cursor) = page_params(&params(req)?)?;
    let tag = resolve(app, &principal.organization_id, &tag_ref).await?;
    let scope = format!("tag:{}", tag.id);
    let secret = app.config.jwt_secret()?;
    let start = cursor
        .map(|c| cursor::decode(&c, &scope, secret))
        .transpose()?;
    let (keys, next) = app.store.tag_images_page(&tag.id, limit, start).await?;
    // The tag is the organization's, so its associations are too; a
    // restricted token sees the albums it may list.
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| principal.can(&k.album_id, Ability::ImageList))
        .collect();
    let found = app.store.tag_images_with_images(&keys).await?;
    let cld = app.config.cloudinary()?;
    let rendered = found
        .iter()
        .map(|(assoc, image)| tag_image_json(assoc, image, &tag, cld))
        .collect::<Result<Vec<_>, _>>()?;
    let body = serde_json::Value::Array(rendered).to_string();
    let mut reply = Reply::new(200, body).token(x_token(app, &principal, now)?);
    if let Some(next) = next {
        reply = reply.header("x-next-cursor", cursor::encode(&next, &scope, secret)?);
    }
    Ok(reply)
}
