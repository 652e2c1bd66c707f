//! `POST /api/v1/albums/{id}/duplicate`.
//!
//! Copies within the request when it can (200 with the destination album);
//! when the copy is still running as API Gateway's ~29 s draw near, saves
//! its progress as a job and answers 202 with it: the worker function
//! finishes the copy, `GET /api/v1/duplications/{job_id}` shows progress.
//! A copy that DynamoDB trouble stops part-way is saved the same way when
//! it can be, else the answer is a 503 with `Retry-After` (decision 0006).
//! With an `Idempotency-Key`, a retry without `destination_id` copies into
//! the album the first sending created, and a retry of a 202 answers its
//! job (`crate::idempotency`).

use std::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::deadline;
use crate::duplicate::{Plan, prepare, run_copy};
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, params, path_id};
use crate::idempotency;
use crate::quota::{self, Admission};
use crate::service::{App, now_rfc3339};
use crate::store::copy::CopyReport;
use crate::store::jobs::{Job, JobKind, JobStatus};

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
    let key = idempotency::key_of(req)?;
    let claimed = match &key {
        None => None,
        Some(key) => {
            // The album a first sending named (a fresh id, or its
            // `destination_id`): a retry copies into it again, resuming.
            let fresh = uuid::Uuid::new_v4().to_string();
            let album_id = requested.unwrap_or(&fresh);
            let route = format!("POST /api/v1/albums/{source_id}/duplicate");
            Some(idempotency::claim(app, &caller, req, key, &route, album_id).await?)
        }
    };
    // A first sending that answered 202: its job, as it stands now.
    if let Some(job_id) = claimed.as_ref().and_then(|c| c.job_id.as_deref())
        && let Some(job) = app.store.get_job(job_id).await?
    {
        return caller.accepted(&job);
    }
    let requested = claimed
        .as_ref()
        .map_or(requested, |c| Some(c.album_id.as_str()));
    let (mut plan, admission) = prepare(app, &caller.principal, &source_id, requested).await?;
    plan.tags = tags;
    let key = key.as_deref();
    if admission.resume.is_some() {
        return resume_stopped(app, &caller, &plan, &admission).await;
    }
    let report = match run_copy(
        app,
        &plan,
        Some(deadline::inline_copy_until(app.budgets())),
        None,
    )
    .await
    {
        Ok(done) if done.report.finished => {
            admission.settle(app, done.report.images_completed).await;
            return caller.moved_album_reply(200, &done.album).await;
        }
        // Too large for one request: the rest runs as a job.
        Ok(done) => done.report,
        // Trouble part-way: what was copied is kept as a job when it can
        // be saved (the worker finishes it once DynamoDB recovers); else
        // the 503, and the client's retry completes the copy exactly.
        Err(stopped) if stopped.report.items_completed > 0 || stopped.report.finished => {
            match continue_as_job(app, &caller, &plan, &admission, &stopped.report, key).await {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    tracing::warn!(error = %e, "could not save the interrupted copy as a job");
                    return Err(stopped.error);
                }
            }
        }
        Err(stopped) => {
            admission.settle(app, stopped.report.images_completed).await;
            return Err(stopped.error);
        }
    };
    continue_as_job(app, &caller, &plan, &admission, &report, key).await
}

/// Saves the copy's progress as a job the worker continues from `report`'s
/// resume key, and answers 202 with it. The inline part is billed here;
/// the job takes a running slot and bills its own steps. With every slot
/// taken (jobs started since the admission), the job is saved already
/// stopped by the quota, resumable like any (decision 0015). The job is
/// recorded on the request's `Idempotency-Key`, for a retry to answer it.
async fn continue_as_job(
    app: &App,
    caller: &Caller<'_>,
    plan: &Plan,
    admission: &Admission,
    report: &CopyReport,
    key: Option<&str>,
) -> Result<Reply, ApiError> {
    admission.settle(app, report.images_completed).await;
    let (source, destination) = (&plan.source, &plan.destination);
    let org = &source.organization_id;
    let mut job = Job {
        images_copied: report.images_completed,
        resume: report.resume_key.clone(),
        slices: 1,
        tags: plan.tags,
        ..Job::running(
            &admission.job_id,
            JobKind::Duplicate,
            &source.id,
            &destination.id,
            org,
            &caller.principal.user_id,
            source.images_count,
        )
    };
    let slot = quota::take_job_slot(app, org, &job.id).await?;
    if let Err(full) = &slot {
        job.status = JobStatus::Failed;
        job.error = Some(quota::stopped_because(full));
        let expiry = app.store.stopped_job_expiry();
        app.store
            .put_stopped_job(org, &destination.id, &source.id, &job.id, expiry)
            .await?;
    }
    let created = app
        .store
        .create_job_if_absent(&job, slot.is_ok(), &now_rfc3339())
        .await;
    let job = match created {
        Ok(job) => job,
        Err(e) => {
            if slot.is_ok() {
                quota::release_job(app, org, &job.id).await;
            }
            return Err(e.into());
        }
    };
    tracing::info!(job = %job.id, copied = job.images_copied, total = job.images_total, status = job.status.as_str(), "copy continues as a job");
    if let Some(key) = key {
        idempotency::record_job(app, caller, key, &job.id).await;
    }
    caller.accepted(&job)
}

/// Resumes the job a quota stopped for this source and destination
/// (decision 0015): with a running slot, it runs again from its saved
/// key, handed off to the worker, and answers 202 like any job. The job
/// bills its own steps, so the admission's reservation goes back.
async fn resume_stopped(
    app: &App,
    caller: &Caller<'_>,
    plan: &Plan,
    admission: &Admission,
) -> Result<Reply, ApiError> {
    let (org, job_id) = (&admission.organization_id, admission.job_id.as_str());
    admission.settle(app, 0).await;
    if let Err(full) = quota::take_job_slot(app, org, job_id).await? {
        return Err(ApiError::Quota(full));
    }
    let job = match app.store.reopen_job(job_id, &now_rfc3339()).await {
        Ok(Some(job)) => job,
        // Resumed by another request meanwhile: that one's job holds the
        // slot (the same entry, the job's id).
        Ok(None) => match app.store.get_job(job_id).await? {
            Some(job) if job.status == JobStatus::Running => job,
            // Ended since (done, or gone): the pointer is stale, and the
            // next request starts afresh.
            _ => {
                quota::release_job(app, org, job_id).await;
                let (d, s) = (&plan.destination.id, &plan.source.id);
                app.store.delete_stopped_job(org, d, s).await?;
                return Err(ApiError::Conflict(format!(
                    "the stopped job {job_id} ended meanwhile; send the request again"
                )));
            }
        },
        Err(e) => {
            quota::release_job(app, org, job_id).await;
            return Err(e.into());
        }
    };
    if let Err(e) = app
        .store
        .delete_stopped_job(org, &job.destination_id, &job.source_album_id)
        .await
    {
        tracing::warn!(error = %e, job = %job.id, "resumed, but the stopped job's pointer stays");
    }
    tracing::info!(job = %job.id, copied = job.images_copied, "a job a quota stopped resumes");
    caller.accepted(&job)
}
