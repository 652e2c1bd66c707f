//! `GET /api/v1/duplications/{job_id}`: progress of a duplication that
//! continues as a job (the 202 of the duplicate endpoint, or a schedule).

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_item_id};
use crate::jobs::JobJson;
use crate::service::{App, album_value};
use crate::store::jobs::JobStatus;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let principal = &caller.principal;
    let not_found = || ApiError::NotFound("duplication not found".into());
    let id = path_item_id(req, "job_id", "duplications", "duplication")?;
    crate::telemetry::annotate_job(&id);
    let job = app
        .store
        .get_job(&id)
        .await?
        .filter(|j| j.organization_id == principal.organization_id)
        .ok_or_else(not_found)?;
    if !principal.can(&job.destination_id, Ability::See) {
        return Err(ApiError::Forbidden(
            "this token may not see the destination album".into(),
        ));
    }
    let album = match job.status {
        JobStatus::Done => match app.store.get_album(&job.destination_key()).await? {
            Some(a) => Some(album_value(app, principal, &a, caller.now).await?),
            None => None,
        },
        _ => None,
    };
    caller.json(200, &JobJson::of(&job, album))
}
