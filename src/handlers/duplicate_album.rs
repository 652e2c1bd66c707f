//! `POST /api/v1/albums/{id}/duplicate`.
//!
//! Copies within the request when it can (200 with the destination album);
//! when the copy is still running as API Gateway's ~29 s draw near, saves
//! its progress as a job and answers 202 with it: the worker function
//! finishes the copy, `GET /api/v1/duplications/{job_id}` shows progress.
//! A copy that DynamoDB trouble stops part-way is saved the same way when
//! it can be, else the answer is a 503 with `Retry-After` (decision 0006).

use std::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::auth::Principal;
use crate::deadline;
use crate::duplicate::{Plan, prepare, run_copy};
use crate::error::ApiError;
use crate::http::{RETRY_AFTER_SECONDS, Reply, answer, header, params, path_param};
use crate::jobs::JobJson;
use crate::service::{App, authenticate, now, now_rfc3339, render_album, x_token};
use crate::store::copy::CopyReport;
use crate::store::jobs::{Job, JobKind};

/// Handles one request inside the duplicate's budget (inline copy and
/// what follows it); never fails at the Lambda level: every outcome, errors
/// and running out of time included, is an HTTP response.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let response = answer(&req, app.budgets().duplicate(), serve(app, &req)).await;
    crate::metrics::duplicate_answered(started.elapsed());
    Ok(response)
}

/// When this request stops copying: its inline budget, and in any case
/// early enough to leave `after_copy` before the request's deadline for
/// the batches in flight, the count, the job and the answer.
pub(crate) fn copy_deadline(app: &App) -> Instant {
    let own = Instant::now() + app.budgets().sync_copy;
    match deadline::current() {
        Some(d) => own.min(
            d.checked_sub(app.budgets().after_copy)
                .unwrap_or_else(Instant::now),
        ),
        None => own,
    }
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let source_id = path_param(req, "id", "albums")
        .ok_or_else(|| ApiError::NotFound("album not found".into()))?;
    let params = params(req)?;
    let requested = params.str("destination_id")?;
    let tags = params.flag("tags")?;
    let mut plan = prepare(app, &principal, &source_id, requested).await?;
    plan.tags = tags;
    let token = x_token(app, &principal, now)?;
    let report = match run_copy(app, &plan, Some(copy_deadline(app)), None).await {
        Ok(done) if done.report.finished => {
            let body = render_album(app, &principal, &done.album, now).await?;
            return Ok(Reply::new(200, body).token(token));
        }
        // Too large for one request: the rest runs as a job.
        Ok(done) => done.report,
        // Trouble part-way: what was copied is kept as a job when it can
        // be saved (the worker finishes it once DynamoDB recovers); else
        // the 503, and the client's retry completes the copy exactly.
        Err(stopped) if stopped.report.items_completed > 0 || stopped.report.finished => {
            match continue_as_job(app, &principal, &plan, &stopped.report, token).await {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    tracing::warn!(error = %e, "could not save the interrupted copy as a job");
                    return Err(stopped.error);
                }
            }
        }
        Err(stopped) => return Err(stopped.error),
    };
    continue_as_job(app, &principal, &plan, &report, token).await
}

/// Saves the copy's progress as a job the worker continues from `report`'s
/// resume key, and answers 202 with it.
async fn continue_as_job(
    app: &App,
    principal: &Principal,
    plan: &Plan,
    report: &CopyReport,
    token: String,
) -> Result<Reply, ApiError> {
    let (source, destination) = (&plan.source, &plan.destination);
    let job = Job {
        images_copied: report.images_completed,
        resume: report.resume_key.clone(),
        slices: 1,
        tags: plan.tags,
        ..Job::running(
            uuid::Uuid::new_v4().to_string(),
            JobKind::Duplicate,
            &source.id,
            &destination.id,
            &source.organization_id,
            &principal.user_id,
            source.images_count,
        )
    };
    let job = app
        .store
        .create_job_if_absent(&job, true, &now_rfc3339())
        .await?;
    tracing::info!(job = %job.id, copied = job.images_copied, total = job.images_total, "copy continues as a job");
    accepted(&job, token)
}

/// The 202 of a request that continues as `job`: the job JSON, where to
/// follow it and when to look. Counted as a hand-off.
pub(crate) fn accepted(job: &Job, token: String) -> Result<Reply, ApiError> {
    crate::metrics::handed_off();
    let body = serde_json::to_string(&JobJson::of(job, None))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Reply::new(202, body)
        .token(token)
        .header("location", format!("/api/v1/duplications/{}", job.id))
        .header("retry-after", RETRY_AFTER_SECONDS.to_string()))
}
