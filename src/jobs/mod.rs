//! Duplications and moves too large for one invocation: jobs run in slices.
//!
//! A slice takes the job's lease ([`lease`]), works from the saved resume
//! key until its deadline (checkpointing every few seconds), then either
//! finishes the job (recount, `done`) or hands it off: progress saved,
//! lease released, `handoff` set. The hand-off write is a DynamoDB Streams
//! record that triggers the worker function, which runs the next slice; a
//! re-delivered schedule or a retried worker finds the saved key and resumes
//! there, and a finished job is not redone (decision 0005).
//!
//! A slice never fails for lack of time: DynamoDB trouble inside it is
//! waited out until its deadline, and then it hands off what is left
//! (decision 0006 gives the worst cases). It fails only when the job's own
//! item cannot be read or written, and the stream's retry then takes over.

mod copy_slice;
mod json;
mod lease;
mod move_slice;

use std::time::{Duration, Instant, SystemTime};

pub use json::JobJson;
pub use lease::{HEARTBEAT_EVERY, LEASE_TTL};

use crate::album::Album;
use crate::deadline::instant_of;
use crate::error::ApiError;
use crate::service::{App, now_rfc3339};
use crate::store::StoreError;
use crate::store::jobs::{HandOff, Job, JobKind, JobStatus, Lease};

/// How often a slice saves its resume key (what a crash can lose at most).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// Slices in a row without progress after which a job is given up: with
/// worker slices of up to ~14 minutes each spent waiting DynamoDB out,
/// about an hour and ten minutes of a table that does not answer.
pub const MAX_IDLE_SLICES: u64 = 5;

/// What one slice did.
#[derive(Debug)]
pub enum SliceOutcome {
    /// The copy finished; the destination's count is exact.
    Done(Album),
    /// Out of time; progress saved and the job handed off.
    Paused(Job),
    /// Another invocation holds the job and renews its lease: nothing done.
    Busy(Job),
    /// The job was already finished (done or failed): nothing redone.
    AlreadyFinished(Job),
    /// The job failed for good (e.g. its source vanished).
    Failed(Job),
}

impl SliceOutcome {
    /// The job's status after the slice, as the API names it.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Done(_) => JobStatus::Done.as_str(),
            Self::Paused(_) | Self::Busy(_) => JobStatus::Running.as_str(),
            Self::AlreadyFinished(job) => job.status.as_str(),
            Self::Failed(_) => JobStatus::Failed.as_str(),
        }
    }
}

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

/// When a slice with `deadline` stops working: `app.deadline_margin`
/// before it, so the batches in flight and the hand-off still fit.
fn stop_at(app: &App, deadline: SystemTime) -> Instant {
    instant_of(deadline)
        .checked_sub(app.deadline_margin)
        .unwrap_or_else(Instant::now)
}

/// Runs one slice of job `job_id` until `deadline` (the invocation's own
/// deadline). A job held by a live invocation is `Busy`; one whose holder
/// died is taken once its lease runs out ([`lease::take`]).
pub async fn run_slice(
    app: &App,
    job_id: &str,
    deadline: SystemTime,
    owner: &str,
) -> Result<SliceOutcome, ApiError> {
    crate::telemetry::annotate_job(job_id);
    let store = &app.store;
    let job = match lease::take(store, job_id, owner, deadline, stop_at(app, deadline)).await? {
        Lease::Acquired(job) => job,
        Lease::Busy(job) => return Ok(SliceOutcome::Busy(job)),
        Lease::Finished(job) => return Ok(SliceOutcome::AlreadyFinished(job)),
        Lease::Missing => return Err(ApiError::NotFound(format!("job {job_id} not found"))),
    };
    crate::metrics::job_slice();
    let held = Held {
        app,
        job: &job,
        owner,
        stop_at: stop_at(app, deadline),
    };
    if job.idle_slices >= MAX_IDLE_SLICES {
        let why = format!(
            "no progress in {} slices in a row: DynamoDB did not answer",
            job.idle_slices
        );
        return held.fail(&why).await;
    }
    let heartbeat = lease::Heartbeat::start(store, job_id, owner, deadline);
    let outcome = match job.kind {
        JobKind::Duplicate => copy_slice::run(&held).await,
        JobKind::Move => move_slice::run(&held).await,
    };
    drop(heartbeat);
    if outcome.is_err() {
        // Let the next delivery take it again at once.
        let _ = store.release_job(&job.id, owner).await;
    }
    outcome
}

/// Whether an error is DynamoDB trouble that waiting may end (throttling,
/// timeouts, 5xx), rather than something no retry fixes.
fn is_transient(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Unavailable(_) | StoreError::RetriesExhausted { .. }
    )
}

/// Sleeps before the slice's `attempt`-th try after DynamoDB trouble (full
/// jitter, 200 ms doubling up to 5 s), never past `stop_at`; `false` when
/// `stop_at` has come and the slice must hand off instead.
async fn wait_out(attempt: u32, stop_at: Instant) -> bool {
    let policy = crate::store::RetryPolicy {
        max_attempts: u32::MAX,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(5),
    };
    let wake = (Instant::now() + policy.backoff(attempt)).min(stop_at);
    tokio::time::sleep_until(wake.into()).await;
    Instant::now() < stop_at
}

/// A job this slice holds, and when the slice stops working: what every
/// step of a slice needs.
struct Held<'a> {
    app: &'a App,
    job: &'a Job,
    /// The lease owner (the invocation's request id).
    owner: &'a str,
    /// When the slice stops working and hands off what is left.
    stop_at: Instant,
}

impl Held<'_> {
    /// Saves a held job's progress and hands it to the next slice.
    async fn hand_off(&self, progress: HandOff<'_>) -> Result<SliceOutcome, ApiError> {
        let (app, job, owner) = (self.app, self.job, self.owner);
        if progress.idle {
            tracing::warn!(job = %job.id, idle_slices = job.idle_slices + 1, "slice ended without progress");
            crate::metrics::idle_slice();
        }
        if !app
            .store
            .hand_off_job(&job.id, owner, &progress, &now_rfc3339())
            .await?
        {
            return Err(ApiError::Unavailable(format!(
                "lost the lease of job {}",
                job.id
            )));
        }
        let mut paused = job.clone();
        if let Some(r) = progress.resume {
            paused.resume = Some(r.clone());
        }
        paused.images_copied = progress.copied;
        paused.holder = None;
        Ok(SliceOutcome::Paused(paused))
    }

    /// Marks a held job done with `copied` images copied, `destination`
    /// counted at `count`.
    async fn finish(
        &self,
        copied: u64,
        mut destination: Album,
        count: u64,
    ) -> Result<SliceOutcome, ApiError> {
        let (app, job, owner) = (self.app, self.job, self.owner);
        app.store
            .finish_job(&job.id, owner, copied, &now_rfc3339())
            .await?;
        self.free_slot().await;
        destination.images_count = count;
        Ok(SliceOutcome::Done(destination))
    }

    /// Frees a duplicate job's running slot once it ends (decision 0015).
    async fn free_slot(&self) {
        if self.job.kind == JobKind::Duplicate {
            crate::quota::release_job(self.app, &self.job.organization_id, &self.job.id).await;
        }
    }

    /// Stops a held duplicate job that `quota` stopped before its next
    /// step wrote anything: the destination recounted (exact), the job
    /// `failed` with the quota named and its resume key kept, a pointer
    /// by which repeating the request resumes it, its slot freed
    /// (decision 0015).
    async fn stop_for_quota(
        &self,
        destination: &str,
        resume: Option<&crate::store::PageKey>,
        copied: u64,
        quota: &crate::quota::Exceeded,
    ) -> Result<SliceOutcome, ApiError> {
        let (app, job, owner) = (self.app, self.job, self.owner);
        app.store
            .recount_images(&crate::album::AlbumKey::new(
                &job.organization_id,
                destination,
            ))
            .await?;
        let why = crate::quota::stopped_because(quota);
        let (org, source) = (&job.organization_id, &job.source_album_id);
        let expiry = app.store.stopped_job_expiry();
        app.store
            .put_stopped_job(org, destination, source, &job.id, expiry)
            .await?;
        if !app
            .store
            .stop_job(&job.id, owner, resume, copied, &why, &now_rfc3339())
            .await?
        {
            return Err(ApiError::Unavailable(format!(
                "lost the lease of job {}",
                job.id
            )));
        }
        self.free_slot().await;
        tracing::warn!(job = %job.id, quota = quota.quota.name(), copied, "a quota stopped the job");
        let mut stopped = job.clone();
        stopped.status = JobStatus::Failed;
        stopped.error = Some(why);
        stopped.images_copied = copied;
        stopped.holder = None;
        Ok(SliceOutcome::Failed(stopped))
    }

    /// Ends a held job as failed, for `why`.
    async fn fail(&self, why: &str) -> Result<SliceOutcome, ApiError> {
        let (app, job, owner) = (self.app, self.job, self.owner);
        app.store
            .fail_job(&job.id, owner, why, &now_rfc3339())
            .await?;
        self.free_slot().await;
        let mut failed = job.clone();
        failed.status = JobStatus::Failed;
        failed.error = Some(why.into());
        Ok(SliceOutcome::Failed(failed))
    }
}
