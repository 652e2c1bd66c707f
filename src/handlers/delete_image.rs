//! `DELETE /api/v1/images/{id}`: 204; the album's `images_count` drops by one.

use lambda_http::{Body, Request, Response};

use crate::deletion::Deletable;
use crate::service::App;

/// Handles one request (see [`super::deleting`]).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    super::deleting::handle(app, req, Deletable::Image).await
}
