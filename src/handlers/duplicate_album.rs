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

use crate::deadline;
use crate::duplicate::{Plan, prepare, run_copy};
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params, path_id};
use crate::service::{App, now_rfc3339};
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

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let source_id = path_id(req, "id", "albums", "album")?;
    let params = params(req)?;
    let requested = params.str("destination_id")?;
    let tags = params.flag("tags")?;
    let mut plan = prepare(app, &caller.principal, &source_id, requested).await?;
    plan.tags = tags;
    let report = match run_copy(
        app,
        &plan,
        Some(deadline::inline_copy_until(app.budgets())),
        None,
    )
    .await
    {
        Ok(done) if done.report.finished => {
            return caller.moved_album_reply(200, &done.album).await;
        }
        // Too large for one request: the rest runs as a job.
        Ok(done) => done.report,
        // Trouble part-way: what was copied is kept as a job when it can
        // be saved (the worker finishes it once DynamoDB recovers); else
        // the 503, and the client's retry completes the copy exactly.
        Err(stopped) if stopped.report.items_completed > 0 || stopped.report.finished => {
            match continue_as_job(app, &caller, &plan, &stopped.report).await {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    tracing::warn!(error = %e, "could not save the interrupted copy as a job");
                    return Err(stopped.error);
                }
            }
        }
        Err(stopped) => return Err(stopped.error),
    };
    continue_as_job(app, &caller, &plan, &report).await
}

/// Saves the copy's progress as a job the worker continues from `report`'s
/// resume key, and answers 202 with it.
async fn continue_as_job(
    app: &App,
    caller: &Caller<'_>,
    plan: &Plan,
    report: &CopyReport,
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
            &caller.principal.user_id,
            source.images_count,
        )
    };
    let job = app
        .store
        .create_job_if_absent(&job, true, &now_rfc3339())
        .await?;
    tracing::info!(job = %job.id, copied = job.images_copied, total = job.images_total, "copy continues as a job");
    caller.accepted(&job)
}
