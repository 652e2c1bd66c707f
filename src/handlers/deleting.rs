//! What the two delete routes share: a caller, the id in the path, a 204.

use lambda_http::{Body, Request, Response};

use crate::deletion::Deletable;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_item_id};
use crate::service::App;

/// Serves a delete of `kind` inside the write budget (every outcome,
/// running out of time included, is an HTTP response).
pub(super) async fn handle(
    app: &App,
    req: Request,
    kind: Deletable,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req, kind)).await)
}

async fn serve(app: &App, req: &Request, kind: Deletable) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_item_id(req, "id", kind.collection(), kind.what())?;
    kind.delete(app, &caller.principal, &id).await?;
    caller.no_content()
}
