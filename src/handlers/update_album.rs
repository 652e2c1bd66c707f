//! `PUT /api/v1/albums/{id}`: renames an album (`album[public_id]`), or
//! with `merge=true` moves its images into an existing album of the same
//! organization (decision 0011).
//!
//! Moves inline for up to the duplicate's inline budget; a larger album
//! answers 202 with a move job the worker finishes, as duplicates do.
//! Re-sending the same request finishes a move that crashed or stopped.
//!
//! Renaming an album the caller's organization does not hold (whatever
//! others hold, decision 0014) answers 200 with an empty body, as SharinPix's recorded example
//! `do_not_create_an_album` does: nothing is created.

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::album_move::{InterruptedMove, MovePlan, MoveProgress, MoveStart, prepare, run_move};
use crate::deadline;
use crate::error::ApiError;
use crate::http::{Caller, Params, Reply, answer, params, path_id};
use crate::service::{App, now_rfc3339};
use crate::store::jobs::{Job, JobKind};
use crate::store::moves::MoveReport;

/// Handles one request inside the duplicate's budget (every outcome,
/// running out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().duplicate(), serve(app, &req)).await)
}

/// The new id: `album[public_id]` (form) or `{"album":{"public_id":…}}`.
fn new_id(params: &Params) -> Result<String, ApiError> {
    let missing = || ApiError::Unprocessable("album[public_id] is required".into());
    if let Some(id) = params.str("album[public_id]")? {
        return Ok(id.to_string());
    }
    match params.value("album") {
        None | Some(Value::Null) => Err(missing()),
        Some(Value::Object(album)) => match album.get("public_id") {
            Some(Value::String(id)) => Ok(id.clone()),
            None | Some(Value::Null) => Err(missing()),
            Some(_) => Err(ApiError::Unprocessable(
                "album.public_id must be a string".into(),
            )),
        },
        Some(_) => Err(ApiError::Unprocessable("album must be an object".into())),
    }
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let id = path_id(req, "id", "albums", "album")?;
    let params = params(req)?;
    let new_id = new_id(&params)?;
    let merge = params.flag("merge")?;
    let plan = match prepare(app, &caller.principal, &id, &new_id, merge).await {
        Ok(MoveStart::Unchanged(album)) => return caller.moved_album_reply(200, &album).await,
        Ok(MoveStart::Ready(plan)) => plan,
        Err(ApiError::NotFound(_)) => return caller.reply(200, String::new()),
        Err(e) => return Err(e),
    };
    let report = match run_move(app, &plan, Some(deadline::inline_copy_until(app.budgets()))).await
    {
        Ok(MoveProgress::Done(album)) => return caller.moved_album_reply(200, &album).await,
        Ok(MoveProgress::NotDone(report)) => report,
        // Trouble part-way: the move continues as a job when that can be
        // saved; else the 503, and re-sending the request finishes it.
        Err(InterruptedMove { report, error }) if report.items_moved > 0 => {
            return match continue_as_job(app, &caller, &plan, &report).await {
                Ok(reply) => Ok(reply),
                Err(e) => {
                    tracing::warn!(error = %e, "could not save the interrupted move as a job");
                    Err(error)
                }
            };
        }
        Err(stopped) => return Err(stopped.error),
    };
    continue_as_job(app, &caller, &plan, &report).await
}

/// Saves the move as a job the worker continues, and answers 202 with it.
async fn continue_as_job(
    app: &App,
    caller: &Caller<'_>,
    plan: &MovePlan,
    report: &MoveReport,
) -> Result<Reply, ApiError> {
    let job = Job {
        images_copied: report.images_moved,
        slices: 1,
        ..Job::running(
            &plan.state.job_id,
            JobKind::Move,
            &plan.source.id,
            &plan.destination.id,
            &plan.source.organization_id,
            &caller.principal.user_id,
            plan.source.images_count,
        )
    };
    let job = app
        .store
        .create_job_if_absent(&job, true, &now_rfc3339())
        .await?;
    tracing::info!(job = %job.id, moved = report.images_moved, "move continues as a job");
    caller.accepted(&job)
}
