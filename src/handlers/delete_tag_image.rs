//! `DELETE /api/v1/tag_images/{id}`: untags one image; 204.

use lambda_http::{Body, Request, Response};

use crate::deletion::Deletable;
use crate::service::App;

/// Handles one request (see [`super::deleting`]).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    super::deleting::handle(app, req, Deletable::TagImage).await
}
