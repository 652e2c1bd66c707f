//! Duplication jobs: the table items that let a copy outlive one invocation.
//!
//! A job item (`pk = J#<job>`, `sk = J`) records what to copy, how far the
//! copy got (`resume`, a source key) and who is working on it (a short
//! lease its holder renews, so a dead holder's job is picked up within
//! seconds: `crate::jobs`). Setting `handoff` when a slice runs out of time
//! is what the DynamoDB Streams worker is triggered by (decision 0005).

use crate::album::AlbumKey;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::item::{Item, PageKey, get_n, get_s, n, s};
use super::{Store, StoreError, retry};
use crate::store::keys::{EXPIRES_AT, PK, SK};

/// Sort-key value of job items.
pub const JOB_SK: &str = "J";

/// `J#<job>`.
pub fn job_pk(id: &str) -> String {
    format!("J#{id}")
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// Copying (or waiting for the next slice).
    Running,
    /// Every image copied; the destination's count is exact.
    Done,
    /// Stopped for good (e.g. the source vanished); `error` says why.
    Failed,
}

impl JobStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("unknown job status {other}"))),
        }
    }
}

/// What a job does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobKind {
    /// Copies the source's images into the destination (decision 0005).
    #[default]
    Duplicate,
    /// Moves them, then deletes the source album: a rename or a merge
    /// (decision 0011).
    Move,
}

impl JobKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Move => "move",
        }
    }
}

/// A duplication (or move) job.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Job id.
    pub id: String,
    /// Status.
    pub status: JobStatus,
    /// Album copied from.
    pub source_album_id: String,
    /// Album copied into.
    pub destination_id: String,
    /// Organization of both albums.
    pub organization_id: String,
    /// Who asked: a user id, or `schedule`.
    pub requested_by: String,
    /// Source images when the job started.
    pub images_total: u64,
    /// Source images copied so far (up to `resume`).
    pub images_copied: u64,
    /// Source key to resume after; `None` = from the start.
    pub resume: Option<PageKey>,
    /// Slices run so far.
    pub slices: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// What it does (items written before moves existed have none: duplicates).
    pub kind: JobKind,
    /// Whether a duplicate copies tag associations too (`tags=true`).
    pub tags: bool,
    /// Who holds the job's lease, and until when (`None`: nobody).
    pub holder: Option<Holder>,
    /// Slices in a row that ended without progress (DynamoDB not
    /// answering): the job is given up after a few (see `crate::jobs`).
    pub idle_slices: u64,
}

/// The holder of a job's lease: an invocation's request id, and when its
/// lease ends unless renewed (epoch ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holding invocation (its lease owner id).
    pub owner: String,
    /// When the lease ends unless the holder renews it (epoch ms).
    pub until_ms: u64,
}

impl Job {
    /// Its source album's key (the job's organization's, decision 0014).
    pub fn source_key(&self) -> AlbumKey {
        AlbumKey::new(&self.organization_id, &self.source_album_id)
    }

    /// Its destination album's key (the job's organization's).
    pub fn destination_key(&self) -> AlbumKey {
        AlbumKey::new(&self.organization_id, &self.destination_id)
    }

    /// A job about to start: running, nothing copied, no slice run yet.
    /// Callers set progress (`images_copied`, `resume`, `slices`) and
    /// `tags` with struct update syntax.
    pub fn running(
        id: impl Into<String>,
        kind: JobKind,
        source_album_id: impl Into<String>,
        destination_id: impl Into<String>,
        organization_id: impl Into<String>,
        requested_by: impl Into<String>,
        images_total: u64,
    ) -> Self {
        Self {
            id: id.into(),
            status: JobStatus::Running,
            source_album_id: source_album_id.into(),
            destination_id: destination_id.into(),
            organization_id: organization_id.into(),
            requested_by: requested_by.into(),
            images_total,
            images_copied: 0,
            resume: None,
            slices: 0,
            error: None,
            kind,
            tags: false,
            holder: None,
            idle_slices: 0,
        }
    }
}

/// What a slice hands to the next one.
#[derive(Debug)]
pub struct HandOff<'a> {
    /// Where to resume (`None`: keep the saved key; moves need none).
    pub resume: Option<&'a PageKey>,
    /// Source images copied (or moved) so far.
    pub copied: u64,
    /// Whether the slice ended without progress.
    pub idle: bool,
}

/// What trying to take a job's lease gave.
#[derive(Debug)]
pub enum Lease {
    /// The caller now holds the job until its deadline.
    Acquired(Job),
    /// Someone else holds it.
    Busy(Job),
    /// Done or failed: nothing to do.
    Finished(Job),
    /// No such job.
    Missing,
}

pub(super) fn encode_key(key: &PageKey) -> String {
    serde_json::to_string(key.fields()).unwrap_or_default()
}

fn decode_key(text: &str) -> Result<PageKey, StoreError> {
    let map: HashMap<String, String> = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("job resume key: {e}")))?;
    Ok(PageKey::from_fields(map))
}

pub(super) fn job_from(item: &Item) -> Result<Job, StoreError> {
    let pk = get_s(item, PK)?;
    Ok(Job {
        id: pk.trim_start_matches("J#").to_string(),
        status: JobStatus::parse(get_s(item, "status")?)?,
        source_album_id: get_s(item, "source_album_id")?.to_string(),
        destination_id: get_s(item, "destination_id")?.to_string(),
        organization_id: get_s(item, "organization_id")?.to_string(),
        requested_by: get_s(item, "requested_by")?.to_string(),
        images_total: get_n(item, "images_total")?,
        images_copied: get_n(item, "images_copied")?,
        resume: match item.get("resume") {
            Some(AttributeValue::S(t)) => Some(decode_key(t)?),
            _ => None,
        },
        slices: get_n(item, "slices")?,
        error: item.get("error").and_then(|v| v.as_s().ok()).cloned(),
        kind: match item
            .get("kind")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            None | Some("duplicate") => JobKind::Duplicate,
            Some("move") => JobKind::Move,
            Some(other) => return Err(StoreError::Corrupt(format!("unknown job kind {other}"))),
        },
        tags: matches!(item.get("tags"), Some(AttributeValue::Bool(true))),
        holder: match (item.get("lease_owner"), item.get("lease_until")) {
            (Some(AttributeValue::S(owner)), Some(_)) => Some(Holder {
                owner: owner.clone(),
                until_ms: get_n(item, "lease_until")?,
            }),
            _ => None,
        },
        idle_slices: match item.get("idle_slices") {
            Some(_) => get_n(item, "idle_slices")?,
            None => 0,
        },
    })
}

impl Store {
    /// When a job finishing now expires (epoch seconds): DynamoDB's TTL
    /// deletes the item some time after that (decision 0005). Running jobs
    /// never carry it, so TTL cannot delete work in progress.
    pub(super) fn job_expiry(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (now + self.job_ttl).as_secs()
    }

    /// Creates `job` unless a job with its id exists; returns the stored one.
    pub async fn create_job_if_absent(
        &self,
        job: &Job,
        handoff: bool,
        now: &str,
    ) -> Result<Job, StoreError> {
        let mut item = Item::from([
            (PK.into(), s(job_pk(&job.id))),
            (SK.into(), s(JOB_SK)),
            ("status".into(), s(job.status.as_str())),
            ("source_album_id".into(), s(&job.source_album_id)),
            ("destination_id".into(), s(&job.destination_id)),
            ("organization_id".into(), s(&job.organization_id)),
            ("requested_by".into(), s(&job.requested_by)),
            ("images_total".into(), n(job.images_total)),
            ("images_copied".into(), n(job.images_copied)),
            ("slices".into(), n(job.slices)),
            ("created_at".into(), s(now)),
            ("updated_at".into(), s(now)),
        ]);
        if let Some(r) = &job.resume {
            item.insert("resume".into(), s(encode_key(r)));
        }
        if job.kind != JobKind::Duplicate {
            item.insert("kind".into(), s(job.kind.as_str()));
        }
        if job.tags {
            item.insert("tags".into(), AttributeValue::Bool(true));
        }
        if let Some(e) = &job.error {
            item.insert("error".into(), s(e));
        }
        if handoff {
            item.insert("handoff".into(), n(job.slices));
        }
        if job.status != JobStatus::Running {
            item.insert(EXPIRES_AT.into(), n(self.job_expiry()));
        }
        if self.put_if_absent(&item).await? {
            return Ok(job.clone());
        }
        self.get_job(&job.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("job vanished after a conditional failure".into()))
    }

    /// Reads a job (strongly consistent).
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.get_item(job_pk(id), JOB_SK)
            .await?
            .as_ref()
            .map(job_from)
            .transpose()
    }

    /// Takes the job's lease for `owner` until `until_ms` (epoch ms), if it
    /// is running and nobody holds an unexpired lease.
    pub async fn acquire_job(
        &self,
        id: &str,
        owner: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Lease, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
                self.update_at(job_pk(id), JOB_SK)
                    .update_expression("SET lease_owner = :me, lease_until = :until ADD slices :one REMOVE handoff")
                    .condition_expression(
                        "#st = :running AND (attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :me)",
                    )
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":me", s(owner))
                    .expression_attribute_values(":until", n(until_ms))
                    .expression_attribute_values(":now", n(now_ms))
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
                    .return_values(ReturnValue::AllNew)
                    .send()
        })
        .await?;
        match res {
            Some(out) => Ok(Lease::Acquired(job_from(
                &out.attributes.unwrap_or_default(),
            )?)),
            None => match self.get_job(id).await? {
                None => Ok(Lease::Missing),
                Some(job) if job.status == JobStatus::Running => Ok(Lease::Busy(job)),
                Some(job) => Ok(Lease::Finished(job)),
            },
        }
    }

    pub(super) async fn update_held_job(
        &self,
        id: &str,
        owner: &str,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            let mut req = self
                .update_at(job_pk(id), JOB_SK)
                .update_expression(expression)
                .condition_expression("lease_owner = :me")
                .expression_attribute_values(":me", s(owner));
            for (k, v) in &values {
                req = req.expression_attribute_values(*k, v.clone());
            }
            if expression.contains("#st") {
                req = req.expression_attribute_names("#st", "status");
            }
            if expression.contains("#err") {
                req = req.expression_attribute_names("#err", "error");
            }
            req.send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Saves progress of a held job; `false` when the lease was lost.
    pub async fn checkpoint_job(
        &self,
        id: &str,
        owner: &str,
        resume: &PageKey,
        copied: u64,
        now: &str,
    ) -> Result<bool, StoreError> {
        self.update_held_job(
            id,
            owner,
            "SET resume = :r, images_copied = :c, updated_at = :t",
            vec![
                (":r", s(encode_key(resume))),
                (":c", n(copied)),
                (":t", s(now)),
            ],
        )
        .await
    }

    /// Extends a held job's lease to `until_ms` (the holder's heartbeat);
    /// `false` when the lease was lost.
    pub async fn renew_job_lease(
        &self,
        id: &str,
        owner: &str,
        until_ms: u64,
    ) -> Result<bool, StoreError> {
        self.update_held_job(
            id,
            owner,
            "SET lease_until = :until",
            vec![(":until", n(until_ms))],
        )
        .await
    }

    /// Gives a held job back for the next slice: saves progress, releases
    /// the lease and sets `handoff` (what the stream worker reacts to).
    pub async fn hand_off_job(
        &self,
        id: &str,
        owner: &str,
        progress: &HandOff<'_>,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut values = vec![(":c", n(progress.copied)), (":t", s(now))];
        let mut set = vec![
            "images_copied = :c",
            "updated_at = :t",
            // A new value at every hand-off (acquiring adds a slice), so the
            // write always changes the item and always emits a stream record.
            "handoff = slices",
        ];
        let mut remove = vec!["lease_owner", "lease_until"];
        if let Some(r) = progress.resume {
            values.push((":r", s(encode_key(r))));
            set.push("resume = :r");
        }
        if progress.idle {
            values.push((":zero", n(0)));
            values.push((":one", n(1)));
            set.push("idle_slices = if_not_exists(idle_slices, :zero) + :one");
        } else {
            remove.push("idle_slices");
        }
        let expr = format!("SET {} REMOVE {}", set.join(", "), remove.join(", "));
        self.update_held_job(id, owner, &expr, values).await
    }

    /// Releases a held job without handing it off (after an error: the
    /// invocation's own retry picks it up again).
    pub async fn release_job(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        self.update_held_job(id, owner, "REMOVE lease_owner, lease_until", vec![])
            .await
    }

    /// Marks a held job done.
    pub async fn finish_job(
        &self,
        id: &str,
        owner: &str,
        copied: u64,
        now: &str,
    ) -> Result<bool, StoreError> {
        let set = "images_copied = :c";
        self.end_held_job(id, owner, JobStatus::Done, set, (":c", n(copied)), now)
            .await
    }

    /// Marks a held job failed with `error`.
    pub async fn fail_job(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let set = "#err = :e";
        self.end_held_job(id, owner, JobStatus::Failed, set, (":e", s(error)), now)
            .await
    }

    /// Ends a held job with `status` and one more attribute (`set`, with its
    /// value): lease and resume key gone, expiry set (decision 0005).
    async fn end_held_job(
        &self,
        id: &str,
        owner: &str,
        status: JobStatus,
        set: &str,
        value: (&str, AttributeValue),
        now: &str,
    ) -> Result<bool, StoreError> {
        let expression = format!(
            "SET #st = :status, {set}, updated_at = :t, expires_at = :x REMOVE lease_owner, lease_until, resume"
        );
        let values = vec![
            (":status", s(status.as_str())),
            value,
            (":t", s(now)),
            (":x", n(self.job_expiry())),
        ];
        self.update_held_job(id, owner, &expression, values).await
    }
}
