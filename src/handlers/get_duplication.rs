//! `GET /api/v1/duplications/{job_id}`: progress of a duplication that
//! continues as a job (the 202 of the duplicate endpoint, or a schedule).

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, path_param};
use crate::jobs::JobJson;
use crate::service::{App, authenticate, now, render_album, x_token};
use crate::store::jobs::JobStatus;

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let not_found = || ApiError::NotFound("duplication not found".into());
    let id = path_param(req, "job_id", "duplications")
        .filter(|id| crate::album::is_valid_id(id))
        .ok_or_else(not_found)?;
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
        JobStatus::Done => match app.store.get_album(&job.destination_id).await? {
            Some(a) => Some(
                serde_json::from_str(&render_album(app, &principal, &a, now).await?)
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
            ),
            None => None,
        },
        _ => None,
    };
    let body = serde_json::to_string(&JobJson::of(&job, album))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Reply::new(200, body).token(x_token(app, &principal, now)?))
}
