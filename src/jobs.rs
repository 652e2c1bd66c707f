//! Duplications too large for one invocation: jobs run in slices.
//!
//! A slice holds the job's lease, copies from the saved resume key until its
//! deadline (checkpointing every few seconds), then either finishes the job
//! (recount, `done`) or hands it off: progress saved, lease released,
//! `handoff` set. The handoff write is a DynamoDB Streams record that
//! triggers the worker function, which runs the next slice; a re-delivered
//! schedule or a retried worker finds the saved key and resumes there, and a
//! finished job is not redone (decision 0005).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use crate::album::Album;
use crate::error::ApiError;
use crate::service::{App, now_rfc3339};
use crate::store::PageKey;
use crate::store::copy::{CopyFailure, CopyReport, copy_images};
use crate::store::jobs::{Job, JobKind, JobStatus, Lease};

/// How often a slice saves its resume key (what a crash can lose at most).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// What one slice did.
#[derive(Debug)]
pub enum SliceOutcome {
    /// The copy finished; the destination's count is exact.
    Done(Album),
    /// Out of time; progress saved and the job handed off.
    Paused(Job),
    /// Another invocation holds the job: nothing done.
    Busy(Job),
    /// The job was already finished (done or failed): nothing redone.
    AlreadyFinished(Job),
    /// The job failed for good (e.g. its source vanished).
    Failed(Job),
}

/// Milliseconds since the Unix epoch of `t`.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

use crate::deadline::instant_of;

/// Runs an event function's work inside its invocation's deadline less
/// `app.answer_margin`: every DynamoDB call ends by then, so under DynamoDB
/// trouble the invocation fails (its retries and dead-letter queue take
/// over) instead of timing out (decision 0006).
pub async fn within_invocation<F: std::future::Future>(
    app: &App,
    deadline: SystemTime,
    f: F,
) -> F::Output {
    let until = instant_of(deadline)
        .checked_sub(app.answer_margin)
        .unwrap_or_else(Instant::now);
    crate::deadline::scope(Some(until), Box::pin(f)).await
}

/// The deadline of an event invocation and the lease owner it works as
/// (its request id; outside Lambda, 15 minutes and a fresh id).
pub fn invocation(ctx: &lambda_runtime::Context) -> (SystemTime, String) {
    let deadline = if ctx.deadline > 0 {
        ctx.deadline()
    } else {
        SystemTime::now() + Duration::from_secs(900)
    };
    let owner = if ctx.request_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        ctx.request_id.clone()
    };
    (deadline, owner)
}

/// Runs one slice of job `job_id` until `deadline` (the invocation's own
/// deadline: the lease expires with it, so a crash frees the job).
pub async fn run_slice(
    app: &App,
    job_id: &str,
    deadline: SystemTime,
    owner: &str,
) -> Result<SliceOutcome, ApiError> {
    let store = &app.store;
    let now_ms = epoch_ms(SystemTime::now());
    let job = match store
        .acquire_job(job_id, owner, now_ms, epoch_ms(deadline))
        .await?
    {
        Lease::Acquired(job) => job,
        Lease::Busy(job) => return Ok(SliceOutcome::Busy(job)),
        Lease::Finished(job) => return Ok(SliceOutcome::AlreadyFinished(job)),
        Lease::Missing => return Err(ApiError::NotFound(format!("job {job_id} not found"))),
    };
    crate::metrics::job_slice();
    match slice(app, &job, deadline, owner).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            // Let the invocation's retry (or the next delivery) take it again at once.
            let _ = store.release_job(&job.id, owner).await;
            Err(e)
        }
    }
}

async fn slice(
    app: &App,
    job: &Job,
    deadline: SystemTime,
    owner: &str,
) -> Result<SliceOutcome, ApiError> {
    if job.kind == JobKind::Move {
        return move_slice(app, job, deadline, owner).await;
    }
    let store = &app.store;
    let stop_at = instant_of(deadline)
        .checked_sub(app.deadline_margin)
        .unwrap_or_else(Instant::now);
    let source = store.get_album(&job.source_album_id).await?;
    let destination = store.get_album(&job.destination_id).await?;
    let (Some(source), Some(destination)) = (source, destination) else {
        return fail(
            app,
            job,
            owner,
            "the source or destination album no longer exists",
        )
        .await;
    };
    let mut resume = job.resume.clone();
    let mut copied = job.images_copied;
    loop {
        let until = stop_at.min(Instant::now() + CHECKPOINT_EVERY);
        let report = match copy_step(app, job, &source, &destination, until, resume.clone()).await {
            Ok(report) => report,
            Err(stopped) => {
                // Keep what this step copied before the trouble, if the
                // table takes the write; else the last checkpoint stands.
                if stopped.report.items_completed > 0
                    && let Some(r) = &stopped.report.resume_key
                {
                    let at = copied + stopped.report.images_completed;
                    if let Err(e) = store
                        .checkpoint_job(&job.id, owner, r, at, &now_rfc3339())
                        .await
                    {
                        tracing::warn!(job = %job.id, error = %e, "progress not saved; the last checkpoint stands");
                    }
                }
                return Err(stopped.error.into());
            }
        };
        copied += report.images_completed;
        if report.finished {
            let count = store.recount_images(&destination.id).await?;
            store
                .finish_job(&job.id, owner, copied, &now_rfc3339())
                .await?;
            let mut album = destination.clone();
            album.images_count = count;
            return Ok(SliceOutcome::Done(album));
        }
        if report.resume_key.is_some() {
            resume = report.resume_key;
        }
        if Instant::now() >= stop_at {
            return hand_off(app, job, owner, resume, copied).await;
        }
        if let Some(r) = &resume
            && !store
                .checkpoint_job(&job.id, owner, r, copied, &now_rfc3339())
                .await?
        {
            return Err(ApiError::Unavailable(format!(
                "lost the lease of job {}",
                job.id
            )));
        }
    }
}

/// A slice of a move job (decision 0011): moves until done or the
/// deadline, then finishes the job or hands it off. A move needs no
/// resume key: what it moved is no longer in the source.
async fn move_slice(
    app: &App,
    job: &Job,
    deadline: SystemTime,
    owner: &str,
) -> Result<SliceOutcome, ApiError> {
    let store = &app.store;
    let stop_at = instant_of(deadline)
        .checked_sub(app.deadline_margin)
        .unwrap_or_else(Instant::now);
    // The source and its move mark in one read.
    let (source, moving_here) = match store.get_album_and_move(&job.source_album_id).await? {
        Some((album, mark)) => (
            Some(album),
            mark.is_some_and(|m| m.to == job.destination_id),
        ),
        None => (None, false),
    };
    let destination = store.get_album(&job.destination_id).await?;
    let (source, destination) = match (source, destination) {
        // Finished by a request re-sent meanwhile.
        (None, Some(destination)) => {
            let count = store.recount_images(&destination.id).await?;
            store
                .finish_job(&job.id, owner, job.images_copied, &now_rfc3339())
                .await?;
            let mut album = destination;
            album.images_count = count;
            return Ok(SliceOutcome::Done(album));
        }
        (Some(source), Some(destination)) if moving_here => (source, destination),
        _ => {
            let why = "the album or its destination no longer exists, or the album is no longer being moved there";
            return fail(app, job, owner, why).await;
        }
    };
    let plan = crate::album_move::MovePlan {
        source,
        destination,
        state: crate::store::moves::MoveState {
            to: job.destination_id.clone(),
            job_id: job.id.clone(),
            merge: false,
        },
    };
    use crate::album_move::{MoveProgress, run_move};
    let moved = match run_move(app, &plan, Some(stop_at)).await {
        Ok(MoveProgress::Done(album)) => {
            store
                .finish_job(
                    &job.id,
                    owner,
                    job.images_total.max(job.images_copied),
                    &now_rfc3339(),
                )
                .await?;
            return Ok(SliceOutcome::Done(album));
        }
        Ok(MoveProgress::NotDone(report)) => job.images_copied + report.images_moved,
        // Given up (its destination started moving away): ends the job.
        Err(stopped) if matches!(stopped.error, ApiError::Conflict(_)) => {
            return fail(app, job, owner, &stopped.error.to_string()).await;
        }
        Err(stopped) => return Err(stopped.error),
    };
    hand_off(app, job, owner, None, moved).await
}

/// Saves a held job's progress and hands it to the next slice.
async fn hand_off(
    app: &App,
    job: &Job,
    owner: &str,
    resume: Option<PageKey>,
    copied: u64,
) -> Result<SliceOutcome, ApiError> {
    if !app
        .store
        .hand_off_job(&job.id, owner, resume.as_ref(), copied, &now_rfc3339())
        .await?
    {
        return Err(ApiError::Unavailable(format!(
            "lost the lease of job {}",
            job.id
        )));
    }
    let mut paused = job.clone();
    paused.resume = resume;
    paused.images_copied = copied;
    Ok(SliceOutcome::Paused(paused))
}

/// Ends a held job as failed, for `why`.
async fn fail(app: &App, job: &Job, owner: &str, why: &str) -> Result<SliceOutcome, ApiError> {
    app.store
        .fail_job(&job.id, owner, why, &now_rfc3339())
        .await?;
    let mut failed = job.clone();
    failed.status = JobStatus::Failed;
    failed.error = Some(why.into());
    Ok(SliceOutcome::Failed(failed))
}

/// One bounded step of a copy, from `start` until `until`.
pub async fn copy_step(
    app: &App,
    job: &Job,
    source: &Album,
    destination: &Album,
    until: Instant,
    start: Option<PageKey>,
) -> Result<CopyReport, CopyFailure> {
    let mut opts = app.copy.clone();
    opts.deadline = Some(until);
    opts.start_key = start;
    opts.with_tags = job.tags;
    let copying = Instant::now();
    let copied = copy_images(&app.store, source, destination, &opts).await;
    match &copied {
        Ok(report) => crate::metrics::copied(report, copying.elapsed()),
        Err(failure) => crate::metrics::copied(&failure.report, copying.elapsed()),
    }
    copied
}

/// A job as the API shows it (`GET /api/v1/duplications/{id}` and the 202).
#[derive(Debug, Serialize)]
pub struct JobJson<'a> {
    pub job_id: &'a str,
    /// `duplicate` or `move`.
    pub kind: &'static str,
    pub status: &'static str,
    pub source_album_id: &'a str,
    pub destination_id: &'a str,
    pub images_total: u64,
    pub images_copied: u64,
    /// The destination album JSON once done.
    pub album: Option<Value>,
    pub error: Option<Value>,
    /// Whether tag associations are copied too.
    pub tags: bool,
}

impl<'a> JobJson<'a> {
    /// The JSON of `job`, with the album JSON when there is one.
    pub fn of(job: &'a Job, album: Option<Value>) -> Self {
        Self {
            job_id: &job.id,
            kind: job.kind.as_str(),
            status: job.status.as_str(),
            source_album_id: &job.source_album_id,
            destination_id: &job.destination_id,
            images_total: job.images_total,
            images_copied: job
                .images_copied
                .min(job.images_total.max(job.images_copied)),
            album,
            error: job
                .error
                .as_ref()
                .map(|m| serde_json::json!({"code": "duplication_failed", "message": m})),
            tags: job.tags,
        }
    }
}
