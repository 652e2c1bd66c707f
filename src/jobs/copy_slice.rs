//! A slice of a duplicate job: copies from the saved key until the copy
//! is done, the slice's deadline comes, or its share of items is copied.

use std::time::Instant;

use super::{CHECKPOINT_EVERY, Held, SliceOutcome, is_transient, wait_out};
use crate::album::Album;
use crate::error::ApiError;
use crate::service::{App, now_rfc3339};
use crate::store::PageKey;
use crate::store::copy::{CopyFailure, CopyReport, copy_images};
use crate::store::jobs::{HandOff, Job};

/// How far a slice got: the key to resume after and the images copied.
struct Progress {
    resume: Option<PageKey>,
    copied: u64,
    /// Source items this slice copied (its share: `App::slice_items`).
    items: u64,
}

impl Progress {
    /// Takes in what a copy step completed (all of it when the step ended
    /// well, the completed batches when it stopped on an error).
    fn advance(&mut self, report: &CopyReport) {
        if report.items_completed == 0 {
            return;
        }
        self.copied += report.images_completed;
        self.items += report.items_completed;
        if report.resume_key.is_some() {
            self.resume = report.resume_key.clone();
        }
    }
}

/// Runs the slice. DynamoDB trouble is waited out until the slice's stop
/// time, then what is left is handed off; only errors no wait can end fail
/// it (decision 0006).
pub(super) async fn run(held: &Held<'_>) -> Result<SliceOutcome, ApiError> {
    let (app, job, stop_at) = (held.app, held.job, held.stop_at);
    let store = &app.store;
    let source = store.get_album(&job.source_key()).await?;
    let destination = store.get_album(&job.destination_key()).await?;
    let (Some(source), Some(destination)) = (source, destination) else {
        let why = "the source or destination album no longer exists";
        return held.fail(why).await;
    };
    let mut progress = Progress {
        resume: job.resume.clone(),
        copied: job.images_copied,
        items: 0,
    };
    let mut troubles = 0;
    loop {
        let until = stop_at.min(Instant::now() + CHECKPOINT_EVERY);
        let share = app
            .slice_items
            .map(|most| most.saturating_sub(progress.items));
        // The step's images are billed before it writes (decision 0015).
        let left = job.images_total.saturating_sub(progress.copied);
        let bill = match crate::quota::bill_step(app, &job.organization_id, left).await {
            Ok(bill) => bill,
            Err(ApiError::Quota(q)) => {
                let resume = progress.resume.as_ref();
                return held
                    .stop_for_quota(&destination.id, resume, progress.copied, &q)
                    .await;
            }
            // DynamoDB trouble: waited out like a copy step's (decision 0006).
            Err(ApiError::Unavailable(why)) => {
                troubles += 1;
                tracing::warn!(job = %job.id, error = %why, troubles, "billing a step failed; waiting it out within the slice");
                if !wait_out(troubles, stop_at).await {
                    return held.hand_off(handing(job, &progress)).await;
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let share = match (share, bill.cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let stepped = copy_step(app, job, (&source, &destination), until, &progress, share).await;
        let copied = match &stepped {
            Ok(report) => report.images_completed,
            Err(stopped) => stopped.report.images_completed,
        };
        bill.settle(app, copied).await;
        match stepped {
            Ok(report) => {
                troubles = 0;
                progress.advance(&report);
                if report.finished {
                    let count = store.recount_images(&destination.key()).await?;
                    return held.finish(progress.copied, destination, count).await;
                }
                let share_done = app.slice_items.is_some_and(|most| progress.items >= most);
                if share_done || Instant::now() >= stop_at {
                    return held.hand_off(handing(job, &progress)).await;
                }
                checkpoint(held, &progress).await?;
            }
            Err(stopped) => {
                progress.advance(&stopped.report);
                save_progress_if_possible(held, &stopped, &progress).await;
                if !is_transient(&stopped.error) {
                    return Err(stopped.error.into());
                }
                troubles += 1;
                tracing::warn!(job = %job.id, error = %stopped.error, troubles, "copy step failed; waiting it out within the slice");
                if !wait_out(troubles, stop_at).await {
                    return held.hand_off(handing(job, &progress)).await;
                }
            }
        }
    }
}

/// What the slice hands to the next one.
fn handing<'a>(job: &Job, progress: &'a Progress) -> HandOff<'a> {
    HandOff {
        resume: progress.resume.as_ref(),
        copied: progress.copied,
        idle: progress.copied == job.images_copied && progress.items == 0,
    }
}

/// Saves the slice's progress; a lost lease ends the slice (another
/// invocation took the job over).
async fn checkpoint(held: &Held<'_>, progress: &Progress) -> Result<(), ApiError> {
    let (app, job, owner) = (held.app, held.job, held.owner);
    let Some(resume) = &progress.resume else {
        return Ok(());
    };
    let kept = app
        .store
        .checkpoint_job(&job.id, owner, resume, progress.copied, &now_rfc3339())
        .await?;
    if kept {
        Ok(())
    } else {
        Err(ApiError::Unavailable(format!(
            "lost the lease of job {}",
            job.id
        )))
    }
}

/// Keeps what a failed step copied before the trouble, if the table takes
/// the write; else the last checkpoint stands.
async fn save_progress_if_possible(held: &Held<'_>, stopped: &CopyFailure, progress: &Progress) {
    if stopped.report.items_completed == 0 {
        return;
    }
    if let Err(e) = checkpoint(held, progress).await {
        tracing::warn!(job = %held.job.id, error = %e, "progress not saved; the last checkpoint stands");
    }
}

/// One bounded step of a copy, from the saved key until `until` (or
/// `share` more source items): every call it makes ends by `until` and the
/// allowance for the batches in flight, so a call DynamoDB does not answer
/// leaves the slice time to hand off.
async fn copy_step(
    app: &App,
    job: &Job,
    (source, destination): (&Album, &Album),
    until: Instant,
    progress: &Progress,
    share: Option<u64>,
) -> Result<CopyReport, CopyFailure> {
    let mut opts = app.copy.clone();
    opts.start_key = progress.resume.clone();
    opts.with_tags = job.tags;
    opts.max_items = share;
    let copying = Instant::now();
    let copied = crate::deadline::bulk(
        Some(until),
        copy_images(&app.store, source, destination, &opts),
    )
    .await;
    match &copied {
        Ok(report) => crate::metrics::copied(report, copying.elapsed()),
        Err(failure) => crate::metrics::copied(&failure.report, copying.elapsed()),
    }
    copied
}
