//! Renaming an album and merging it into another: moving its images and
//! their tag associations under another album id (decision 0011).
//!
//! A move marks its source first (`moving_to`, with the move's job id), so
//! that re-sending the request resumes it and a move elsewhere is refused;
//! then moves the items batch by batch, each written to the destination
//! before it is deleted from the source (never in neither album); then
//! recounts the destination and deletes the source album item, last. Any
//! crash, retry or concurrent run leaves a state the same request finishes.

use std::time::Instant;

use crate::album::{Album, is_valid_id};
use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::service::{App, album_and_move_for};
use crate::store::StoreError;
use crate::store::keys::shards_for;
use crate::store::moves::{Mark, MoveState};
use crate::store::moves::{MoveReport, move_items};

/// A move, checked, with its source marked and its destination existing.
#[derive(Clone, Debug)]
pub struct MovePlan {
    /// The album whose images move.
    pub source: Album,
    /// The album they move into (created for a rename).
    pub destination: Album,
    /// The mark on the source (the move's job id).
    pub state: MoveState,
}

/// What a `PUT /albums/{id}` asks for, once checked.
#[derive(Clone, Debug)]
pub enum MoveStart {
    /// The new id is the album's own: nothing to do.
    Unchanged(Album),
    /// A move to run (or to resume).
    Ready(MovePlan),
}

/// Where a move stands after a run.
#[derive(Clone, Debug)]
pub enum MoveProgress {
    /// Everything moved; the destination's count is exact and the source
    /// album is gone.
    Done(Album),
    /// Out of time; what this run moved.
    NotDone(MoveReport),
}

/// A move that stopped on an error, with what it moved before.
#[derive(Debug)]
pub struct InterruptedMove {
    /// Progress before the error.
    pub report: MoveReport,
    /// Why it stopped.
    pub error: ApiError,
}

/// Checks a rename (`new_id` free) or merge (`new_id` taken, `merge`) of
/// `source_id` for `principal` (both ids of its organization, decision
/// 0014), marks the source and makes sure the
/// destination exists. A source already moving to `new_id` resumes that
/// move (whatever `merge` says now); moving to another id is a 409.
pub async fn prepare(
    app: &App,
    principal: &Principal,
    source_id: &str,
    new_id: &str,
    merge: bool,
) -> Result<MoveStart, ApiError> {
    if !is_valid_id(new_id) {
        return Err(ApiError::Unprocessable(
            "album[public_id] must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'".into(),
        ));
    }
    let (source, moving) =
        album_and_move_for(app, principal, source_id, &[Ability::Rename]).await?;
    if new_id == source.id {
        return Ok(MoveStart::Unchanged(source));
    }
    let state = match moving {
        Some(m) if m.to != new_id => return Err(moving_elsewhere(source_id, &m.to)),
        Some(m) => m,
        None => {
            check_destination(app, &source, new_id, merge).await?;
            let job_id = uuid::Uuid::new_v4().to_string();
            match app
                .store
                .mark_moving(&source.key(), new_id, &job_id, merge)
                .await?
            {
                Mark::Marked(m) => m,
                Mark::MovingElsewhere(m) => return Err(moving_elsewhere(source_id, &m.to)),
                Mark::Missing => {
                    return Err(ApiError::NotFound(format!("album {source_id} not found")));
                }
            }
        }
    };
    with_destination(app, source, new_id, state)
        .await
        .map(MoveStart::Ready)
}

/// The 409 of a source already moving to another id than the one asked.
fn moving_elsewhere(source_id: &str, to: &str) -> ApiError {
    ApiError::Conflict(format!(
        "album {source_id} is being moved to {to}; send that request again to finish it"
    ))
}

/// Checks that `source` may move to `new_id` before it is marked: free,
/// or (with `merge`) an album that is not itself moving. As in SharinPix's
/// examples, `rename` on the source is all a merge needs: the destination
/// is an album of the same organization (the only one `new_id` can name).
async fn check_destination(
    app: &App,
    source: &Album,
    new_id: &str,
    merge: bool,
) -> Result<(), ApiError> {
    // Only the source's organization is looked in: another's album of
    // this id is no obstacle, nor a thing to learn of (decision 0014).
    let destination = source.key().sibling(new_id);
    let Some((dest, dest_moving)) = app.store.get_album_and_move(&destination).await? else {
        return Ok(());
    };
    if !merge {
        return Err(ApiError::Conflict(format!(
            "album {new_id} already exists; send merge=true to move the images into it"
        )));
    }
    if dest_moving.is_some() {
        return Err(ApiError::Conflict(format!(
            "album {new_id} is itself being moved"
        )));
    }
    // Before the mark, the first write (decision 0015).
    crate::quota::check_destination(app, source, Some(&dest)).await
}

/// The plan of the move `state` of the marked `source`: its destination
/// created if absent (a rename's is the source's album under the new id),
/// or the move given up when the destination turned out to be on its way
/// elsewhere.
async fn with_destination(
    app: &App,
    source: Album,
    new_id: &str,
    state: MoveState,
) -> Result<MovePlan, ApiError> {
    let store = &app.store;
    // A rename's destination: the source's album under the new id.
    let wanted = Album {
        views_count: source.views_count,
        // Spread over partitions by what it will hold (decision 0012).
        shards: shards_for(source.images_count),
        ..Album::new(new_id, &source.organization_id, &source.created_at)
    };
    let destination = store.create_album_if_absent(&wanted).await?;
    let plan = MovePlan {
        source,
        destination,
        state,
    };
    // The destination may have been marked since it was read (two albums
    // merged into each other, or a chain): a move into an album on its way
    // elsewhere is given up, so that no mark is left behind.
    if let Some(m) = store.album_move(&plan.destination.key()).await? {
        return Err(abandon(
            app,
            &plan,
            format!("album {new_id} is itself being moved to {}", m.to),
        )
        .await);
    }
    Ok(plan)
}

/// Gives a move up: takes its mark off the source (if still its own), so
/// the album is an ordinary one again, and recounts both albums (what the
/// move had moved stays moved: every image is in exactly one of them).
/// Answers the 409 to return (a 503 when the table refused the clean-up:
/// re-sending the request retries it).
async fn abandon(app: &App, plan: &MovePlan, why: String) -> ApiError {
    let store = &app.store;
    let cleaned = async {
        store
            .unmark_moving(&plan.source.key(), &plan.destination.id, &plan.state.job_id)
            .await?;
        store.recount_images(&plan.source.key()).await?;
        let destination = plan.destination.key();
        if store.get_album(&destination).await?.is_some() {
            store.recount_images(&destination).await?;
        }
        Ok::<_, crate::store::StoreError>(())
    }
    .await;
    match cleaned {
        Ok(()) => {
            tracing::info!(source = %plan.source.id, destination = %plan.destination.id, why = %why, "move given up");
            ApiError::Conflict(why)
        }
        Err(e) => e.into(),
    }
}

/// Moves until done or until it stops queueing at `stop_at` (`None`: as the
/// current deadline says; [`crate::deadline::bulk`]): passes over the
/// source, then [`finish`] once a pass found nothing left behind.
pub async fn run_move(
    app: &App,
    plan: &MovePlan,
    stop_at: Option<Instant>,
) -> Result<MoveProgress, InterruptedMove> {
    let opts = app.copy.clone();
    let mut total = MoveReport::default();
    loop {
        let pass = move_items(&app.store, &plan.source, &plan.destination, &opts);
        let report = match crate::deadline::bulk(stop_at, pass).await {
            Ok(report) => report,
            // The destination started moving away after this move began:
            // give this one up (decision 0011).
            Err(f)
                if matches!(&f.error, StoreError::Moving { album, .. } | StoreError::AlbumMissing(album)
                    if *album == plan.destination.id) =>
            {
                let why = f.error.to_string();
                return Err(InterruptedMove {
                    report: add(&total, &f.report),
                    error: abandon(app, plan, why).await,
                });
            }
            Err(f) => {
                return Err(InterruptedMove {
                    report: add(&total, &f.report),
                    error: f.error.into(),
                });
            }
        };
        total = add(&total, &report);
        if !report.finished {
            return Ok(MoveProgress::NotDone(total));
        }
        match finish(app, &plan.source, &plan.destination).await {
            Ok(Some(album)) => {
                tracing::info!(source = %plan.source.id, destination = %album.id, moved = total.images_moved, images_count = album.images_count, "move done");
                return Ok(MoveProgress::Done(album));
            }
            Ok(None) => {}
            Err(error) => {
                return Err(InterruptedMove {
                    report: total,
                    error,
                });
            }
        }
        let past = stop_at.or_else(crate::deadline::stop_queueing_at);
        if past.is_some_and(|d| Instant::now() >= d) {
            return Ok(MoveProgress::NotDone(total));
        }
    }
}

fn add(a: &MoveReport, b: &MoveReport) -> MoveReport {
    MoveReport {
        items_moved: a.items_moved + b.items_moved,
        images_moved: a.images_moved + b.images_moved,
        batch_calls: a.batch_calls + b.batch_calls,
        retries: a.retries + b.retries,
        finished: b.finished,
    }
}

/// The last steps of a move whose pass is over: `None` when something is
/// still in the source (written before the mark; the next pass takes it),
/// else the destination with its exact count, after the source album item
/// is deleted (by this call or a concurrent one).
pub async fn finish(
    app: &App,
    source: &Album,
    destination: &Album,
) -> Result<Option<Album>, ApiError> {
    let store = &app.store;
    if store.has_content(source).await? {
        return Ok(None);
    }
    let count = store.recount_images(&destination.key()).await?;
    store
        .delete_moved_album(&source.key(), &destination.id)
        .await?;
    let mut album = destination.clone();
    album.images_count = count;
    Ok(Some(album))
}
