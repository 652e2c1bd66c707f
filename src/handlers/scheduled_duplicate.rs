//! EventBridge-triggered duplication (`ScheduledDuplicateFunction`).
//!
//! At-least-once delivery: the run's job id derives from the delivery's
//! identity, so a re-delivery resumes the job (or finds it done) instead of
//! starting over; and the copy is idempotent anyway.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use crate::duplicate::prepare_for_organization;
use crate::jobs::{SliceOutcome, run_slice};
use crate::schedule;
use crate::service::{App, now_rfc3339};
use crate::store::jobs::{Job, JobKind};

/// Handles one delivery. Bad input is an error (logged, no writes), which
/// sends the event to the function's dead-letter queue after its retries.
/// Every DynamoDB call ends before the invocation's deadline: under
/// DynamoDB trouble the invocation fails in time, with progress saved, and
/// Lambda's retries and dead-letter queue take over.
pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let started = std::time::Instant::now();
    let (payload, ctx) = event.into_parts();
    let (deadline, owner) = crate::jobs::invocation(&ctx);
    let outcome = crate::jobs::within_invocation(
        app,
        deadline,
        run(app, payload, &ctx.request_id, deadline, &owner),
    )
    .await;
    crate::metrics::duplicate_answered(started.elapsed());
    outcome
}

/// What one delivery runs, its identity and its lease owner apart:
/// [`handle`] passes the invocation's request id as both; `albumctl dlq
/// redrive` passes the failed invocation's request id (so the run finds the
/// job it left) and an owner of its own. Answers `{"job_id", "status"}`;
/// the caller bounds it with [`crate::jobs::within_invocation`].
pub async fn run(
    app: &App,
    payload: Value,
    request_id: &str,
    deadline: std::time::SystemTime,
    owner: &str,
) -> Result<Value, Error> {
    let run = schedule::parse(&payload, request_id).map_err(|e| {
        tracing::error!(error = %e, "refusing scheduled duplication input");
        Error::from(e)
    })?;
    crate::telemetry::annotate_album(&run.source_album_id);
    let plan =
        prepare_for_organization(app, &run.organization_id, &run.source_album_id, &run.destination_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, source = %run.source_album_id, destination = %run.destination_id, "scheduled duplication refused");
                Error::from(e.to_string())
            })?;
    let (source, destination) = (&plan.source, &plan.destination);
    let job = Job {
        tags: run.tags,
        ..Job::running(
            run.job_id(),
            JobKind::Duplicate,
            &source.id,
            &destination.id,
            &run.organization_id,
            "schedule",
            source.images_count,
        )
    };
    let job = app
        .store
        .create_job_if_absent(&job, false, &now_rfc3339())
        .await?;
    let outcome = run_slice(app, &job.id, deadline, owner)
        .await
        .map_err(|e| Error::from(e.to_string()))?;
    Ok(json!({"job_id": job.id, "status": status_of(&outcome)}))
}

/// The status a run answers after `outcome`, logged.
fn status_of(outcome: &SliceOutcome) -> &str {
    match outcome {
        SliceOutcome::Done(album) => {
            tracing::info!(
                images_count = album.images_count,
                "scheduled duplication done"
            );
            "done"
        }
        SliceOutcome::Paused(j) => {
            tracing::info!(job = %j.id, copied = j.images_copied, "out of time; handed off to the worker");
            "running"
        }
        SliceOutcome::Busy(j) => {
            tracing::info!(job = %j.id, "another invocation is running this job");
            "running"
        }
        SliceOutcome::AlreadyFinished(j) => {
            tracing::info!(job = %j.id, status = j.status.as_str(), "already finished; nothing redone");
            j.status.as_str()
        }
        SliceOutcome::Failed(j) => {
            tracing::error!(job = %j.id, error = ?j.error, "scheduled duplication failed");
            "failed"
        }
    }
}
