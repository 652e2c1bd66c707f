//! A slice of a move job (decision 0011): moves until done or the
//! deadline, then finishes the job or hands it off. A move needs no resume
//! key: what it moved is no longer in the source.

use super::{Held, SliceOutcome, wait_out};
use crate::album_move::{InterruptedMove, MovePlan, MoveProgress, run_move};
use crate::error::ApiError;
use crate::store::jobs::{HandOff, Job};
use crate::store::moves::MoveState;

/// Runs the slice: DynamoDB trouble is waited out until the slice's stop
/// time, then the move is handed off; a move given up (its destination
/// started moving away) ends the job.
pub(super) async fn run(held: &Held<'_>) -> Result<SliceOutcome, ApiError> {
    let (app, job, stop_at) = (held.app, held.job, held.stop_at);
    let Some(plan) = plan(held).await? else {
        let why = "the album or its destination no longer exists, or the album is no longer being moved there";
        return held.fail(why).await;
    };
    let plan = match plan {
        Planned::Move(plan) => plan,
        Planned::Finished(outcome) => return Ok(outcome),
    };
    let mut moved = job.images_copied;
    let mut troubles = 0;
    loop {
        // Every call of a pass ends by `stop_at` and the allowance of the
        // batches in flight, leaving the slice time to hand off.
        match run_move(app, &plan, Some(stop_at)).await {
            Ok(MoveProgress::Done(album)) => {
                let copied = job.images_total.max(moved);
                let count = album.images_count;
                return held.finish(copied, album, count).await;
            }
            Ok(MoveProgress::NotDone(report)) => {
                moved += report.images_moved;
                return held.hand_off(handing(job, moved)).await;
            }
            // Given up (its destination started moving away): ends the job.
            Err(stopped) if matches!(stopped.error, ApiError::Conflict(_)) => {
                return held.fail(&stopped.error.to_string()).await;
            }
            Err(InterruptedMove { report, error }) => {
                moved += report.images_moved;
                if !matches!(error, ApiError::Unavailable(_)) {
                    return Err(error);
                }
                troubles += 1;
                tracing::warn!(job = %job.id, %error, troubles, "move step failed; waiting it out within the slice");
                if !wait_out(troubles, stop_at).await {
                    return held.hand_off(handing(job, moved)).await;
                }
            }
        }
    }
}

fn handing(job: &Job, moved: u64) -> HandOff<'static> {
    HandOff {
        resume: None,
        copied: moved,
        idle: moved == job.images_copied,
    }
}

/// Where a move job stands before its slice.
enum Planned {
    /// Still to move.
    Move(MovePlan),
    /// Finished by a request re-sent meanwhile.
    Finished(SliceOutcome),
}

/// The move to continue, from the source, its move mark and the
/// destination; `None` when the job can no longer go on.
async fn plan(held: &Held<'_>) -> Result<Option<Planned>, ApiError> {
    let (app, job) = (held.app, held.job);
    let store = &app.store;
    // The source and its move mark in one read.
    let (source, moving_here) = match store.get_album_and_move(&job.source_key()).await? {
        Some((album, mark)) => (
            Some(album),
            mark.is_some_and(|m| m.to == job.destination_id),
        ),
        None => (None, false),
    };
    let destination = store.get_album(&job.destination_key()).await?;
    match (source, destination) {
        (None, Some(destination)) => {
            let count = store.recount_images(&destination.key()).await?;
            let done = held.finish(job.images_copied, destination, count).await?;
            Ok(Some(Planned::Finished(done)))
        }
        (Some(source), Some(destination)) if moving_here => Ok(Some(Planned::Move(MovePlan {
            source,
            destination,
            state: MoveState {
                to: job.destination_id.clone(),
                job_id: job.id.clone(),
                merge: false,
            },
        }))),
        _ => Ok(None),
    }
}
