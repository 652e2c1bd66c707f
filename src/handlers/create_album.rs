//! `POST /api/v1/albums`: a new, empty album with a UUID id, in the caller's organization.

use lambda_http::{Body, Request, Response};

use crate::album::Album;
use crate::auth::Abilities;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, params};
use crate::service::{App, authenticate, now, now_rfc3339, render_album, x_token};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    // The body carries nothing today, but must be readable.
    params(req)?;
    if !matches!(principal.abilities, Abilities::All) {
        return Err(ApiError::Forbidden(
            "a token restricted to named albums may not create albums".into(),
        ));
    }
    let album = Album {
        id: uuid::Uuid::new_v4().to_string(),
        organization_id: principal.organization_id.clone(),
        images_count: 0,
        views_count: 0,
        created_at: now_rfc3339(),
    };
    let album = app.store.create_album_if_absent(&album).await?;
    let body = render_album(app, &principal, &album, now).await?;
    Ok(Reply::new(201, body)
        .token(x_token(app, &principal, now)?)
        .header("location", format!("/api/v1/albums/{}", album.id)))
}
