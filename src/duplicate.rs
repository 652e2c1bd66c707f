//! Duplicating an album: the use-case shared by the HTTP function and the
//! EventBridge schedule.
//!
//! Order of checks: the destination id is validated first (422), then the
//! source is resolved (404 before 401), then the destination, then the
//! organization's quotas (422, 429; decision 0015), before anything is
//! written. Both ids are the caller's organization's (decision 0014): what
//! other organizations hold changes no answer. The destination is created
//! in the source's organization when missing, merged into when present.
//! The copy itself is idempotent (deterministic ids) and `images_count` is
//! exact afterwards: recounted, or, for a destination this duplication
//! created and nobody else touched, settled from the copy's own tally
//! (decision 0003).

use std::time::Instant;

use crate::album::{Album, AlbumKey, is_valid_id};
use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::quota::{self, Admission};
use crate::service::{App, album_and_move_for, moving_conflict, now_rfc3339};
use crate::store::copy::{CopyReport, copy_images};
use crate::store::keys::shards_for;

/// A duplication's albums, checked and ready to copy.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The album copied from.
    pub source: Album,
    /// The album copied into.
    pub destination: Album,
    /// Whether this duplication created `destination` (so it was empty).
    pub created: bool,
    /// Copy the images' tag associations too (`tags=true`, decision 0011).
    pub tags: bool,
}

/// A duplication that ran.
#[derive(Clone, Debug)]
pub struct Duplication {
    /// The destination album, with its exact count.
    pub album: Album,
    /// What the copy did.
    pub report: CopyReport,
}

/// The destination to use: the given id, validated, or a fresh UUID.
pub fn destination_id(source_id: &str, requested: Option<&str>) -> Result<String, ApiError> {
    match requested {
        None => Ok(uuid::Uuid::new_v4().to_string()),
        Some(id) if !is_valid_id(id) => Err(ApiError::Unprocessable(
            "destination_id must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'".into(),
        )),
        Some(id) if id == source_id => Err(ApiError::Unprocessable(
            "destination_id must differ from the source album".into(),
        )),
        Some(id) => Ok(id.to_string()),
    }
}

/// Checks and prepares a duplication for `principal`: returns the source and
/// the (possibly just created) destination, and the copy's admission
/// against the organization's quotas, taken before anything is written.
pub async fn prepare(
    app: &App,
    principal: &Principal,
    source_id: &str,
    requested_destination: Option<&str>,
) -> Result<(Plan, Admission), ApiError> {
    let dest_id = destination_id(source_id, requested_destination)?;
    let (source, moving) = album_and_move_for(
        app,
        principal,
        source_id,
        &[Ability::See, Ability::ImageList],
    )
    .await?;
    // A copy of a moving album would miss what already moved.
    if let Some(m) = moving {
        return Err(moving_conflict(source_id, &m.to));
    }
    if !principal.can(&dest_id, Ability::ImageUpload) {
        return Err(ApiError::Forbidden(format!(
            "this token may not add images to album {dest_id}"
        )));
    }
    let org = source.organization_id.clone();
    let found = existing_destination(app, &org, &dest_id).await?;
    // The quotas, before anything is written (decision 0015).
    let admission = quota::admit_duplicate(app, &source, found.as_ref()).await?;
    let ensured = ensure_destination(app, &org, &dest_id, source.images_count, found).await;
    let (destination, created) = match ensured {
        Ok(d) => d,
        Err(e) => {
            admission.settle(app, 0).await;
            return Err(e);
        }
    };
    let plan = Plan {
        source,
        destination,
        created,
        tags: false,
    };
    Ok((plan, admission))
}

/// Album `dest_id` of `organization_id`, if it exists (another
/// organization's album of the same id is another album, decision 0014).
async fn existing_destination(
    app: &App,
    organization_id: &str,
    dest_id: &str,
) -> Result<Option<Album>, ApiError> {
    let key = AlbumKey::new(organization_id, dest_id);
    Ok(app.store.get_album(&key).await?)
}

/// The destination album of `organization_id`, and whether this call
/// created it: `found` (read by [`existing_destination`]), else created,
/// with as many image partitions as `expected_images` call for (decision
/// 0012).
pub async fn ensure_destination(
    app: &App,
    organization_id: &str,
    dest_id: &str,
    expected_images: u64,
    found: Option<Album>,
) -> Result<(Album, bool), ApiError> {
    let (existing, created) = match found {
        Some(album) => (album, false),
        None => {
            let fresh = Album {
                // Spread over partitions by what it will hold (decision 0012).
                shards: shards_for(expected_images),
                ..Album::new(dest_id, organization_id, &now_rfc3339())
            };
            app.store.create_or_get_album(&fresh).await?
        }
    };
    Ok((existing, created))
}

/// Checks and prepares a duplication that a schedule runs for
/// `organization_id`: the source must be the organization's, the
/// destination the organization's or new. No abilities: a schedule acts for
/// the whole organization its operator configured.
pub async fn prepare_for_organization(
    app: &App,
    organization_id: &str,
    source_id: &str,
    destination_id: &str,
) -> Result<Plan, ApiError> {
    if !is_valid_id(source_id) {
        return Err(ApiError::Unprocessable("source_album_id is invalid".into()));
    }
    if !is_valid_id(organization_id) {
        return Err(ApiError::Unprocessable("organization_id is invalid".into()));
    }
    let dest_id = self::destination_id(source_id, Some(destination_id))?;
    let (source, moving) = app
        .store
        .get_album_and_move(&AlbumKey::new(organization_id, source_id))
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "album {source_id} not found in organization {organization_id}"
            ))
        })?;
    if let Some(m) = moving {
        return Err(moving_conflict(source_id, &m.to));
    }
    let found = existing_destination(app, organization_id, &dest_id).await?;
    // Its jobs bill each step against the day's copies (decision 0015).
    quota::check_destination(app, &source, found.as_ref()).await?;
    let (destination, created) =
        ensure_destination(app, organization_id, &dest_id, source.images_count, found).await?;
    Ok(Plan {
        source,
        destination,
        created,
        tags: false,
    })
}

/// A duplication that stopped on an error: what it had done by then, and
/// the error. `report.items_completed > 0` (or `finished`) means progress
/// worth saving as a job (its `resume_key` says where to go on).
#[derive(Debug)]
pub struct Interrupted {
    /// Progress made before the error.
    pub report: CopyReport,
    /// Why it stopped.
    pub error: ApiError,
}

impl From<Interrupted> for ApiError {
    fn from(i: Interrupted) -> Self {
        i.error
    }
}

/// Copies the images of `plan.source` into `plan.destination`, from
/// `start_key`, until done or until it stops queueing at `stop_at` (`None`:
/// as the current deadline says; [`crate::deadline::bulk`]). When done, the returned album's
/// count is exact: settled from the copy's tally when this duplication
/// created the destination, copied it whole in this run and nobody else
/// wrote into it; recounted otherwise. When not done, the report says where
/// to resume and the count is settled by whoever finishes. On an error
/// (DynamoDB trouble, the request's deadline), the progress made comes back
/// with it.
pub async fn run_copy(
    app: &App,
    plan: &Plan,
    stop_at: Option<Instant>,
    start_key: Option<crate::store::PageKey>,
) -> Result<Duplication, Interrupted> {
    let (source, destination) = (&plan.source, &plan.destination);
    let mut opts = app.copy.clone();
    opts.fresh_destination = plan.created && start_key.is_none();
    opts.start_key = start_key;
    opts.with_tags = plan.tags;
    let copying = Instant::now();
    let copy = copy_images(&app.store, source, destination, &opts);
    let copied = crate::deadline::bulk(stop_at, copy).await;
    match &copied {
        Ok(report) => crate::metrics::copied(report, copying.elapsed()),
        Err(failure) => crate::metrics::copied(&failure.report, copying.elapsed()),
    }
    let report = copied.map_err(|f| Interrupted {
        report: f.report,
        error: f.error.into(),
    })?;
    let mut album = destination.clone();
    if report.finished {
        let count = settle_count(app, &destination.key(), opts.fresh_destination, &report).await;
        album.images_count = count.map_err(|error| Interrupted {
            report: report.clone(),
            error,
        })?;
    }
    tracing::info!(
        source = %source.id,
        destination = %destination.id,
        read = report.items_read,
        written = report.items_written,
        batch_calls = report.batch_calls,
        retries = report.retries,
        finished = report.finished,
        images_count = album.images_count,
        "copy step ended"
    );
    Ok(Duplication { album, report })
}

/// The exact count of a destination a copy just finished: settled from the
/// copy's tally when it created the album and nobody else wrote into it,
/// recounted otherwise (decision 0003).
async fn settle_count(
    app: &App,
    destination: &AlbumKey,
    fresh: bool,
    report: &CopyReport,
) -> Result<u64, ApiError> {
    if fresh
        && app
            .store
            .settle_fresh_count(destination, report.images_completed)
            .await?
    {
        return Ok(report.images_completed);
    }
    Ok(app.store.recount_images(destination).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_rules() {
        assert_eq!(destination_id("src", Some("new_id")).unwrap(), "new_id");
        assert!(matches!(
            destination_id("src", Some("src")),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            destination_id("src", Some("a/b")),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            destination_id("src", Some("")),
            Err(ApiError::Unprocessable(_))
        ));
        let fresh = destination_id("src", None).unwrap();
        assert!(uuid::Uuid::parse_str(&fresh).is_ok());
    }
}
