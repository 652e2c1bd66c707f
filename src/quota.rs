//! Quotas per organization: images per album, images copied per UTC day,
//! duplication jobs running at once; their limits, and admitting and billing copies
//! against them (decision 0015).
//!
//! A duplicate is admitted before it writes anything, by one conditional
//! write of the organization's usage item ([`crate::store::quotas`]): the
//! whole copy's images reserved for the day, only while fewer jobs than
//! the limit run. A copy that finishes inline settles what it really
//! copied; one that continues as a job takes a running slot until the job
//! ends and bills each later step before it writes, so a job can meet a
//! quota mid-way: it then stops cleanly, resumable by repeating the request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::album::Album;
use crate::error::ApiError;
use crate::service::App;
use crate::store::StoreError;

/// Default most images one album may hold (`QUOTA_IMAGES_PER_ALBUM`).
pub const DEFAULT_IMAGES_PER_ALBUM: u64 = 100_000;
/// Default most images an organization may copy per UTC day
/// (`QUOTA_IMAGES_COPIED_PER_DAY`).
pub const DEFAULT_IMAGES_COPIED_PER_DAY: u64 = 1_000_000;
/// Default most duplication jobs an organization runs at once
/// (`QUOTA_JOBS_AT_ONCE`).
pub const DEFAULT_JOBS_AT_ONCE: u64 = 10;
/// How long a process keeps an organization's limits (overrides read from
/// the table): how long an `albumctl quotas set` may take to apply on a
/// warm function, and why a warm duplicate reads nothing to check them.
pub const LIMITS_CACHE: Duration = Duration::from_secs(30);
/// `Retry-After` of a refusal for jobs running at once: about a slice.
pub const JOBS_RETRY_AFTER_SECONDS: u64 = 30;
/// Most images one job step reserves at a time: a step's unused part is
/// refunded after it, so this only bounds what a crash may leave billed.
pub const STEP_IMAGES: u64 = 1_000;

/// The limits that apply to one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Most images one album may hold (a size: 422 past it).
    pub images_per_album: u64,
    /// Most images copied per UTC day (a rate: 429 past it).
    pub images_copied_per_day: u64,
    /// Most duplication jobs running at once (a rate: 429).
    pub jobs_at_once: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            images_per_album: DEFAULT_IMAGES_PER_ALBUM,
            images_copied_per_day: DEFAULT_IMAGES_COPIED_PER_DAY,
            jobs_at_once: DEFAULT_JOBS_AT_ONCE,
        }
    }
}

/// An organization's overrides of the deployment's limits (`albumctl
/// quotas set`); `None` keeps the deployment's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Overrides {
    /// Overrides [`Limits::images_per_album`].
    pub images_per_album: Option<u64>,
    /// Overrides [`Limits::images_copied_per_day`].
    pub images_copied_per_day: Option<u64>,
    /// Overrides [`Limits::jobs_at_once`].
    pub jobs_at_once: Option<u64>,
}

impl Overrides {
    /// `defaults` with these overrides applied.
    pub fn over(&self, defaults: Limits) -> Limits {
        Limits {
            images_per_album: self.images_per_album.unwrap_or(defaults.images_per_album),
            images_copied_per_day: self
                .images_copied_per_day
                .unwrap_or(defaults.images_copied_per_day),
            jobs_at_once: self.jobs_at_once.unwrap_or(defaults.jobs_at_once),
        }
    }
}

/// One of the quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// Images one album may hold.
    ImagesPerAlbum,
    /// Images copied per UTC day.
    ImagesCopiedPerDay,
    /// Duplication jobs running at once.
    JobsAtOnce,
}

impl Quota {
    /// The quota's name in errors, the usage JSON and `albumctl`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ImagesPerAlbum => "images_per_album",
            Self::ImagesCopiedPerDay => "images_copied_per_day",
            Self::JobsAtOnce => "jobs_at_once",
        }
    }
}

/// A request or a job that a quota stops.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Exceeded {
    /// Which quota.
    pub quota: Quota,
    /// Its limit for the organization.
    pub limit: u64,
    /// What happened, for the client.
    pub message: String,
    /// When trying again may pass (seconds; rates only).
    pub retry_after: Option<u64>,
}

impl Exceeded {
    /// The HTTP status: 422 for a size, 429 for a rate.
    pub fn status(&self) -> u16 {
        match self.quota {
            Quota::ImagesPerAlbum => 422,
            _ => 429,
        }
    }
}

/// The UTC day of `t`, `YYYY-MM-DD`: the period of the copies quota.
pub fn utc_day(t: time::OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Seconds from `t` to the next UTC midnight (at least 1).
pub fn seconds_to_next_day(t: time::OffsetDateTime) -> u64 {
    let since_midnight =
        u64::from(t.hour()) * 3600 + u64::from(t.minute()) * 60 + u64::from(t.second());
    (86_400 - since_midnight).max(1)
}

fn today() -> String {
    utc_day(time::OffsetDateTime::now_utc())
}

/// The deployment's limits and the organizations' effective limits read
/// lately: a warm duplicate reads no override (decision 0015).
#[derive(Clone, Debug)]
pub struct LimitBook {
    defaults: Limits,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<String, (Instant, Limits)>>>,
}

impl LimitBook {
    /// A book over the deployment's `defaults`, keeping what it reads for `ttl`.
    pub fn new(defaults: Limits, ttl: Duration) -> Self {
        Self {
            defaults,
            ttl,
            cache: Arc::default(),
        }
    }

    /// The deployment's limits.
    pub fn defaults(&self) -> Limits {
        self.defaults
    }

    /// `org`'s limits: the deployment's with its overrides.
    pub async fn limits(&self, app: &App, org: &str) -> Result<Limits, StoreError> {
        if let Some((at, l)) = self.cache.lock().ok().and_then(|c| c.get(org).copied())
            && at.elapsed() < self.ttl
        {
            return Ok(l);
        }
        let limits = app.store.quota_overrides(org).await?.over(self.defaults);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(org.to_string(), (Instant::now(), limits));
        }
        Ok(limits)
    }
}

/// The 422 of an album that would hold more than its quota.
fn too_large(limit: u64, album: &str, holds: u64, adding: u64) -> Exceeded {
    Exceeded {
        quota: Quota::ImagesPerAlbum,
        limit,
        message: format!(
            "quota images_per_album exceeded: album {album} holds {holds} images and would grow \
             by {adding}, past the limit of {limit} images per album"
        ),
        retry_after: None,
    }
}

/// Refuses (422) a write that would bring album `album`, holding `holds`
/// images, past `limit` by adding `adding`.
pub fn check_album_growth(
    limit: u64,
    album: &str,
    holds: u64,
    adding: u64,
) -> Result<(), ApiError> {
    if holds.saturating_add(adding) > limit {
        return Err(ApiError::Quota(too_large(limit, album, holds, adding)));
    }
    Ok(())
}

/// The 429 of a day's copies used up.
fn day_used_up(limit: u64, used: u64, wanted: u64) -> Exceeded {
    Exceeded {
        quota: Quota::ImagesCopiedPerDay,
        limit,
        message: format!(
            "quota images_copied_per_day exceeded: {used} of {limit} images copied today (UTC), \
             {wanted} more asked"
        ),
        retry_after: Some(seconds_to_next_day(time::OffsetDateTime::now_utc())),
    }
}

/// A duplicate admitted: its reservation for the day.
#[derive(Clone, Debug)]
pub struct Admission {
    /// The organization billed.
    pub organization_id: String,
    /// The job id the copy runs under (a quota-stopped job's when resuming).
    pub job_id: String,
    /// The UTC day billed.
    pub day: String,
    /// Images reserved for the day.
    pub reserved: u64,
    /// The organization's limits at admission.
    pub limits: Limits,
    /// The quota-stopped job this request resumes, if any.
    pub resume: Option<String>,
}

/// Admits a duplicate of `source` into `destination` (`None`: a new album)
/// before anything is written: the album's size (422), then the day's
/// copies and the jobs running (429), both checked in one conditional
/// write. A quota-stopped job of this pair (only an existing destination
/// can have one) is resumed: the admission names it, and the size check
/// counts only what it has left to copy.
pub async fn admit_duplicate(
    app: &App,
    source: &Album,
    destination: Option<&Album>,
) -> Result<Admission, ApiError> {
    let org = source.organization_id.as_str();
    let limits = app.quotas.limits(app, org).await?;
    let mut resume = None;
    let mut already = 0;
    if let Some(d) = destination
        && let Some(job) = app.store.stopped_job(org, &d.id, &source.id).await?
    {
        already = app
            .store
            .get_job(&job)
            .await?
            .map_or(0, |j| j.images_copied);
        resume = Some(job);
    }
    let adding = source.images_count;
    let (id, holds) = destination.map_or(("(new)", 0), |d| (d.id.as_str(), d.images_count));
    check_album_growth(
        limits.images_per_album,
        id,
        holds,
        adding.saturating_sub(already),
    )?;
    let job_id = resume
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let admission = Admission {
        organization_id: org.to_string(),
        job_id,
        day: today(),
        reserved: adding,
        limits,
        resume,
    };
    for round in 0..2 {
        let admitted = app
            .store
            .admit_copy(org, &admission.day, adding, &limits)
            .await?;
        if admitted {
            return Ok(admission);
        }
        let usage = app.store.quota_usage(org).await?;
        let used = usage.copied_on(&admission.day);
        if used.saturating_add(adding) > limits.images_copied_per_day {
            return Err(ApiError::Quota(day_used_up(
                limits.images_copied_per_day,
                used,
                adding,
            )));
        }
        // The running slots are full: free those of jobs that ended
        // without freeing theirs, then try once more.
        if round == 0 && free_stale_slots(app, org, &usage.running).await? == 0 {
            break;
        }
    }
    Err(ApiError::Quota(jobs_full(limits.jobs_at_once)))
}

/// The 429 of every running slot taken.
fn jobs_full(limit: u64) -> Exceeded {
    Exceeded {
        quota: Quota::JobsAtOnce,
        limit,
        message: format!(
            "quota jobs_at_once exceeded: {limit} duplication jobs of this organization are \
             running already"
        ),
        retry_after: Some(JOBS_RETRY_AFTER_SECONDS),
    }
}

/// Takes a running slot for job `job_id` (a copy that continues as a job,
/// or a stopped job resumed): `Ok(Err(_))` with the quota when every slot
/// is taken by a running job.
pub async fn take_job_slot(
    app: &App,
    org: &str,
    job_id: &str,
) -> Result<Result<(), Exceeded>, ApiError> {
    let limits = app.quotas.limits(app, org).await?;
    for round in 0..2 {
        if app
            .store
            .take_slot(org, job_id, limits.jobs_at_once)
            .await?
        {
            return Ok(Ok(()));
        }
        let running = app.store.quota_usage(org).await?.running;
        if round == 0 && free_stale_slots(app, org, &running).await? == 0 {
            break;
        }
    }
    Ok(Err(jobs_full(limits.jobs_at_once)))
}

/// Checks that `source`'s images fit in `destination` (`None`: a new
/// album) before anything is written (422): a scheduled duplicate's check
/// (its job bills each step against the day's copies) and a merge's.
pub async fn check_destination(
    app: &App,
    source: &Album,
    destination: Option<&Album>,
) -> Result<(), ApiError> {
    let limits = app.quotas.limits(app, &source.organization_id).await?;
    let (id, holds) = destination.map_or(("(new)", 0), |d| (d.id.as_str(), d.images_count));
    check_album_growth(limits.images_per_album, id, holds, source.images_count)
}

/// A stopped job's `error`: the quota's message, and how to resume.
pub fn stopped_because(q: &Exceeded) -> String {
    format!(
        "{}; the job stopped there: send the same duplicate request again to resume it once \
         the quota allows",
        q.message
    )
}

/// Refuses (422) `n` more images in `album` past its organization's limit:
/// an upload's check, before it is recorded.
pub async fn check_destination_grows(app: &App, album: &Album, n: u64) -> Result<(), ApiError> {
    let limits = app.quotas.limits(app, &album.organization_id).await?;
    check_album_growth(limits.images_per_album, &album.id, album.images_count, n)
}

/// The webhook's answer to an upload past the album's quota: 200 with the
/// quota's error JSON and nothing recorded. Cloudinary retries an answer
/// that is not 2xx; this one can never pass, so it must not be retried.
pub fn upload_refused(q: Exceeded) -> crate::http::Reply {
    tracing::warn!(
        quota = q.quota.name(),
        limit = q.limit,
        "upload not recorded: {}",
        q.message
    );
    crate::http::Reply::new(200, ApiError::Quota(q).body().to_string())
}

/// Frees the running slots whose job no longer runs (it ended, or its
/// release failed). Returns how many it freed.
async fn free_stale_slots(app: &App, org: &str, running: &[String]) -> Result<usize, ApiError> {
    let mut stale = Vec::new();
    for job in running {
        let runs = app
            .store
            .get_job(job)
            .await?
            .is_some_and(|j| j.status == crate::store::jobs::JobStatus::Running);
        if !runs {
            stale.push(job.clone());
        }
    }
    if !stale.is_empty() {
        tracing::warn!(organization = %org, freed = stale.len(), "freed running slots of jobs that ended without freeing them");
        app.store.settle_copies(org, "", 0, &stale).await?;
    }
    Ok(stale.len())
}

impl Admission {
    /// Bills what the inline copy really copied (`images`), refunding or
    /// adding the difference with the reservation. A failure is logged:
    /// the organization then stays billed for the reservation.
    pub async fn settle(&self, app: &App, images: u64) {
        let delta = images as i64 - self.reserved as i64;
        if delta == 0 {
            return;
        }
        if let Err(e) = app
            .store
            .settle_copies(&self.organization_id, &self.day, delta, &[])
            .await
        {
            tracing::warn!(error = %e, organization = %self.organization_id, delta, "could not settle a copy's quota");
        }
    }
}

/// A job step's reservation on the day's copies.
#[derive(Clone, Debug)]
pub struct StepBill {
    organization_id: String,
    day: String,
    granted: u64,
    /// Most source items the step may copy (`None`: the estimate says none
    /// are left, and the step runs to confirm the end).
    pub cap: Option<u64>,
}

/// Reserves a job step's images before it writes: up to `left` (the
/// images the job has still to copy, at most [`STEP_IMAGES`]) or what is
/// left of the day. A quota error when nothing is left of the day.
pub async fn bill_step(app: &App, org: &str, left: u64) -> Result<StepBill, ApiError> {
    let day = today();
    let unbilled = |day| StepBill {
        organization_id: org.to_string(),
        day,
        granted: 0,
        cap: None,
    };
    if left == 0 {
        return Ok(unbilled(day));
    }
    let limits = app.quotas.limits(app, org).await?;
    let mut want = left.min(STEP_IMAGES);
    for _ in 0..5 {
        if app
            .store
            .reserve_copies(org, &day, want, limits.images_copied_per_day)
            .await?
        {
            return Ok(StepBill {
                granted: want,
                cap: Some(want),
                ..unbilled(day)
            });
        }
        let used = app.store.quota_usage(org).await?.copied_on(&day);
        let room = limits.images_copied_per_day.saturating_sub(used);
        if room == 0 {
            return Err(ApiError::Quota(day_used_up(
                limits.images_copied_per_day,
                used,
                want,
            )));
        }
        want = want.min(room);
    }
    Err(ApiError::Unavailable(
        "the day's copies kept changing under a job step's reservation".into(),
    ))
}

impl StepBill {
    /// Bills what the step copied: the reservation's unused part back (or,
    /// for a step run past the estimate, what it copied all the same).
    pub async fn settle(&self, app: &App, images: u64) {
        let delta = images as i64 - self.granted as i64;
        if delta == 0 {
            return;
        }
        let org = &self.organization_id;
        if let Err(e) = app.store.settle_copies(org, &self.day, delta, &[]).await {
            tracing::warn!(error = %e, organization = %org, delta, "could not settle a job step's quota");
        }
    }
}

/// Frees job `job_id`'s running slot (it ended: done, failed or stopped
/// by a quota). Logged on failure: the slot is then freed when a refusal
/// looks at it (its job no longer runs).
pub async fn release_job(app: &App, org: &str, job_id: &str) {
    let slots = [job_id.to_string()];
    if let Err(e) = app.store.settle_copies(org, "", 0, &slots).await {
        tracing::warn!(error = %e, job = %job_id, "could not free the job's running slot");
    }
}

/// `GET /api/v1/usage`'s JSON: an organization's limits and what it uses.
#[derive(Clone, Debug, Serialize)]
pub struct UsageJson {
    /// The organization.
    pub organization_id: String,
    /// The UTC day the copies are counted for.
    pub day: String,
    /// Its limits (the deployment's, with its overrides).
    pub limits: Limits,
    /// Images copied today.
    pub images_copied_today: u64,
    /// Images it may still copy today.
    pub images_copied_left_today: u64,
    /// Duplication jobs running now.
    pub jobs_running: u64,
}

/// `org`'s usage and limits.
pub async fn usage_of(app: &App, org: &str) -> Result<UsageJson, ApiError> {
    let limits = app.quotas.limits(app, org).await?;
    let usage = app.store.quota_usage(org).await?;
    let day = today();
    let copied = usage.copied_on(&day);
    Ok(UsageJson {
        organization_id: org.to_string(),
        limits,
        images_copied_today: copied,
        images_copied_left_today: limits.images_copied_per_day.saturating_sub(copied),
        jobs_running: usage.running.len() as u64,
        day,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let o = Overrides {
            jobs_at_once: Some(2),
            ..Overrides::default()
        };
        let l = o.over(Limits::default());
        assert_eq!(l.jobs_at_once, 2);
        assert_eq!(l.images_per_album, DEFAULT_IMAGES_PER_ALBUM);
    }

    #[test]
    fn an_album_may_reach_its_limit_but_not_pass_it() {
        assert!(check_album_growth(20, "a", 10, 10).is_ok());
        let e = check_album_growth(20, "a", 10, 11).unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(e.to_string().contains("images_per_album"), "{e}");
    }

    #[test]
    fn the_day_is_utc_and_ends_at_midnight() {
        let t = time::macros::datetime!(2026-12-03 23:59:30 UTC);
        assert_eq!(utc_day(t), "2026-12-03");
        assert_eq!(seconds_to_next_day(t), 30);
    }
}
