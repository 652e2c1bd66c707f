//! A job as the API shows it (`GET /api/v1/duplications/{id}` and the 202).

use serde::Serialize;
use serde_json::Value;

use crate::store::jobs::Job;

/// A job as the API shows it.
#[derive(Debug, Serialize)]
pub struct JobJson<'a> {
    /// The job's id.
    pub job_id: &'a str,
    /// `duplicate` or `move`.
    pub kind: &'static str,
    /// `running`, `done` or `failed`.
    pub status: &'static str,
    /// The album copied (or moved) from.
    pub source_album_id: &'a str,
    /// The album copied (or moved) into.
    pub destination_id: &'a str,
    /// Source images when the job started.
    pub images_total: u64,
    /// Source images copied so far.
    pub images_copied: u64,
    /// The destination album JSON once done.
    pub album: Option<Value>,
    /// Why it failed (`{"code", "message"}`).
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
