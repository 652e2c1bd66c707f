//! `POST /api/v1/albums/{id}/duplicate`.
//!
//! Copies within the request when it can (200 with the destination album);
//! when the copy is still running as API Gateway's ~29 s draw near, saves
//! its progress as a job and answers 202 with it: the worker function
//! finishes the copy, `GET /api/v1/duplications/{job_id}` shows progress.

use std::time::{Duration, Instant};

use lambda_http::{Body, Request, RequestExt, Response};

use crate::duplicate::{prepare, run_copy};
use crate::error::ApiError;
use crate::http::{Reply, RequestCtx, finish, header, params, path_param};
use crate::jobs::JobJson;
use crate::service::{App, authenticate, now, now_rfc3339, render_album, x_token};
use crate::store::jobs::{Job, JobStatus};

/// Handles one request; never fails at the Lambda level: every outcome,
/// errors included, is an HTTP response.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestCtx::of(&req);
    Ok(finish(&ctx, serve(app, &req).await))
}

/// When this request must stop copying: its budget, or the Lambda deadline
/// less a margin, whichever comes first.
fn copy_deadline(app: &App, req: &Request) -> Instant {
    let budget = Instant::now() + app.sync_copy_budget;
    let lambda = req
        .lambda_context_ref()
        .filter(|c| c.deadline > 0)
        .map(|c| crate::jobs::instant_of(c.deadline()))
        .map(|d| {
            d.checked_sub(app.deadline_margin)
                .unwrap_or_else(Instant::now)
        });
    lambda.map_or(budget, |l| l.min(budget))
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let source_id = path_param(req, "id", "albums")
        .ok_or_else(|| ApiError::NotFound("album not found".into()))?;
    let params = params(req)?;
    let requested = params.str("destination_id")?;
    let plan = prepare(app, &principal, &source_id, requested).await?;
    let done = run_copy(app, &plan, Some(copy_deadline(app, req)), None).await?;
    let (source, destination) = (&plan.source, &plan.destination);
    let token = x_token(app, &principal, now)?;
    if done.report.finished {
        let body = render_album(app, &principal, &done.album, now).await?;
        return Ok(Reply::new(200, body).token(token));
    }
    // Too large for one request: the rest runs as a job.
    let job = Job {
        id: uuid::Uuid::new_v4().to_string(),
        status: JobStatus::Running,
        source_album_id: source.id.clone(),
        destination_id: destination.id.clone(),
        organization_id: source.organization_id.clone(),
        requested_by: principal.user_id.clone(),
        images_total: source.images_count,
        images_copied: done.report.items_completed,
        resume: done.report.resume_key.clone(),
        slices: 1,
        error: None,
    };
    let job = app
        .store
        .create_job_if_absent(&job, true, &now_rfc3339())
        .await?;
    tracing::info!(job = %job.id, copied = job.images_copied, total = job.images_total, "copy continues as a job");
    let body = serde_json::to_string(&JobJson::of(&job, None))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Reply::new(202, body)
        .token(token)
        .header("location", format!("/api/v1/duplications/{}", job.id))
        .header("retry-after", Duration::from_secs(5).as_secs().to_string()))
}
