//! Re-running a failed duplication in-process, through the functions' own
//! library: what the scheduled function runs, or the job's slices as the
//! worker runs them, until done.

use std::time::{Duration, SystemTime};

use album_api::App;
use album_api::error::ApiError;
use album_api::handlers::scheduled_duplicate;
use album_api::jobs::{SliceOutcome, run_slice, within_invocation};
use album_api::store::jobs::JobStatus;

use super::message::{FailedDuplication, Work};

/// The time a re-run gives each invocation (a Lambda's longest).
pub(crate) const INVOCATION: Duration = Duration::from_secs(900);
/// At most this many slices per job in one redrive.
pub(crate) const MAX_SLICES: u32 = 500;

/// How a job's re-run ended well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDone {
    /// The job.
    pub job_id: String,
    /// Its destination album.
    pub destination_id: String,
    /// Whether it was done before this re-run (nothing redone).
    pub already: bool,
}

impl std::fmt::Display for JobDone {
    /// `job J done [already] into D`, as the command prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let already = if self.already { " already" } else { "" };
        write!(
            f,
            "job {} done{already} into {}",
            self.job_id, self.destination_id
        )
    }
}

/// Runs job `job_id`'s slices until it is done, as the worker does, each
/// inside an invocation-like deadline. `Err` when it cannot finish now:
/// held by another invocation, failed for good, missing, or DynamoDB
/// trouble (its progress is saved).
pub(crate) async fn drive_job(app: &App, job_id: &str, owner: &str) -> Result<JobDone, String> {
    for _ in 0..MAX_SLICES {
        let deadline = SystemTime::now() + INVOCATION;
        let outcome =
            within_invocation(app, deadline, run_slice(app, job_id, deadline, owner)).await;
        match outcome {
            Ok(SliceOutcome::Done(album)) => {
                return Ok(JobDone {
                    job_id: job_id.into(),
                    destination_id: album.id,
                    already: false,
                });
            }
            Ok(SliceOutcome::Paused(_)) => continue,
            Ok(SliceOutcome::Busy(j)) => {
                return Err(format!(
                    "job {} is held by another invocation, which goes on with it; redrive again later",
                    j.id
                ));
            }
            Ok(SliceOutcome::AlreadyFinished(j)) if j.status == JobStatus::Done => {
                return Ok(JobDone {
                    job_id: j.id,
                    destination_id: j.destination_id,
                    already: true,
                });
            }
            Ok(SliceOutcome::AlreadyFinished(j) | SliceOutcome::Failed(j)) => {
                return Err(format!(
                    "job {} {}: {}",
                    j.id,
                    j.status.as_str(),
                    j.error.as_deref().unwrap_or("no reason saved")
                ));
            }
            Err(ApiError::NotFound(_)) => return Err(format!("job {job_id} not found")),
            Err(e) => return Err(format!("job {job_id}: {e}")),
        }
    }
    Err(format!(
        "job {job_id} not done after {MAX_SLICES} slices; its progress is saved"
    ))
}

/// Re-runs one failed duplication through the functions' library.
pub(super) async fn rerun(
    app: &App,
    failed: &FailedDuplication,
    jobs: &Result<Vec<String>, String>,
    owner: &str,
) -> Result<Vec<JobDone>, String> {
    match &failed.work {
        Work::Scheduled {
            payload,
            request_id,
            ..
        } => {
            let deadline = SystemTime::now() + INVOCATION;
            let answer = within_invocation(
                app,
                deadline,
                scheduled_duplicate::run(app, payload.clone(), request_id, deadline, owner),
            )
            .await
            .map_err(|e| e.to_string())?;
            let job_id = answer["job_id"]
                .as_str()
                .ok_or("the scheduled function answered no job")?;
            if answer["status"] == "done" {
                let job = app.store.get_job(job_id).await.map_err(|e| e.to_string())?;
                return Ok(vec![JobDone {
                    job_id: job_id.into(),
                    destination_id: job.map(|j| j.destination_id).unwrap_or_default(),
                    already: false,
                }]);
            }
            // Handed off, held or finished: on with the job as the worker would.
            Ok(vec![drive_job(app, job_id, owner).await?])
        }
        Work::Worker(_) => {
            let jobs = jobs.as_ref().map_err(|e| {
                format!(
                    "job unknown: {e}; name it: --message {} --job <job id>",
                    failed.message_id
                )
            })?;
            let mut done = Vec::new();
            for id in jobs {
                done.push(drive_job(app, id, owner).await?);
            }
            Ok(done)
        }
    }
}
