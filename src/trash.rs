//! The trash: what a delete keeps of an image, listing it, restoring it.
//!
//! A delete puts the image (record and tag associations) in the trash
//! before it deletes anything (`store::trash`); the trash keeps it for
//! `TRASH_RETENTION_DAYS` (DynamoDB's TTL). Restoring puts it back into
//! its album with its tag associations, through the same exact-count
//! write as an upload (`Store::add_image`), then takes it out of the
//! trash: a restore cut off half-way and repeated finds the image there
//! (the add recounts) and finishes; a restore racing a new delete of the
//! same image leaves it deleted and trashed (the trash item is only
//! taken out if it is still the deletion this restore read). Taken out
//! means marked restored and kept a day: a restore sent again after its
//! answer was lost answers the image it restored, not a 404.

use serde::Serialize;

use crate::album::Album;
use crate::auth::{Abilities, Ability, Principal};
use crate::error::ApiError;
use crate::service::{App, album_for, moving_conflict, now_rfc3339};
use crate::store::images::{ItemKey, StoredImage};
use crate::store::item::PageKey;
use crate::store::tags::TagStamp;
use crate::store::trash::TrashedImage;

/// Puts the image at `first` (one copy of it; every copy holds the same
/// record) of organization `org` in the trash, with its tag associations,
/// before a delete removes it. An image gone meanwhile has nothing to keep.
///
/// A delete of this image cut off after it kept it (its delete intent is
/// still there: the intent is written after the trash item) may have
/// deleted tag associations since, the image not yet: the associations
/// that delete kept are kept again, beside those found now.
pub async fn keep(app: &App, org: &str, first: &ItemKey, now: u64) -> Result<(), ApiError> {
    let Some(image) = app.store.image_at(first).await? else {
        return Ok(());
    };
    let mut tags: Vec<TagStamp> = app
        .store
        .tag_images_of(first)
        .await?
        .iter()
        .map(Into::into)
        .collect();
    if !app
        .store
        .delete_intent_albums(org, &image.id)
        .await?
        .is_empty()
        && let Some(earlier) = app.store.trashed(org, &image.id, now).await?
        && earlier.restored_at.is_none()
    {
        for stamp in earlier.tags {
            if !tags.iter().any(|t| t.tag_id == stamp.tag_id) {
                tags.push(stamp);
            }
        }
    }
    let trashed = TrashedImage {
        id: image.id,
        album_id: first.album.id.clone(),
        deleted_at: now_rfc3339(),
        record: image.record,
        tags,
        restored_at: None,
    };
    let expires_at = now + app.config.trash_retention.as_secs();
    Ok(app.store.put_trashed(org, &trashed, expires_at).await?)
}

/// Which albums' trash a token may use: those it holds `trash` on, or
/// every album for a token of every album (`abilities` absent, `{}` or
/// `{"admin": true}`, as for every other ability; SharinPix answers 401
/// to an integrator token with `{}`: README, Differences from SharinPix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrashScope {
    /// Every album of the organization.
    All,
    /// These albums only.
    Albums(Vec<String>),
}

impl TrashScope {
    /// The scope of `principal`; a 401 when it may use no album's trash.
    pub fn of(principal: &Principal) -> Result<Self, ApiError> {
        let denied = || ApiError::Forbidden("this token may not use the trash".into());
        match &principal.abilities {
            Abilities::All => Ok(Self::All),
            Abilities::Albums(map) => {
                let mut albums: Vec<String> = map
                    .keys()
                    .filter(|a| principal.can(a, Ability::Trash))
                    .cloned()
                    .collect();
                albums.sort();
                if albums.is_empty() {
                    return Err(denied());
                }
                Ok(Self::Albums(albums))
            }
        }
    }

    /// Whether album `id` is in scope.
    pub fn covers(&self, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::Albums(a) => a.iter().any(|x| x == id),
        }
    }
}

/// One image of a trash listing, as SharinPix's
/// `trashed_images/retrieve_all_deleted_images` records it, and its album.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TrashedJson {
    /// The image's id (a restore's path).
    pub id: String,
    /// When it was deleted.
    pub deleted_at: String,
    /// Its 200×200 thumbnail, signed.
    pub thumbnail_url: String,
    /// The album it returns to when restored.
    pub album_id: String,
}

/// One page of the trash `scope` may see (of album `album` only when
/// given), and where the next page starts: a page may be short, even
/// empty, and still be followed by another (see `Store::trash_page`).
pub async fn page(
    app: &App,
    principal: &Principal,
    scope: &TrashScope,
    album: Option<&str>,
    limit: usize,
    start: Option<PageKey>,
) -> Result<(Vec<TrashedJson>, Option<PageKey>), ApiError> {
    if let Some(a) = album
        && !scope.covers(a)
    {
        return Err(ApiError::Forbidden(format!(
            "this token may not use the trash of album {a}"
        )));
    }
    // One album named (or the only one the token has): DynamoDB filters.
    let filter = match (album, scope) {
        (Some(a), _) => Some(a),
        (None, TrashScope::Albums(a)) if a.len() == 1 => Some(a[0].as_str()),
        _ => None,
    };
    let now = crate::service::now().max(0) as u64;
    let org = &principal.organization_id;
    let (images, next) = app.store.trash_page(org, filter, limit, start, now).await?;
    let cld = app.config.cloudinary()?;
    let shown = images
        .into_iter()
        .filter(|t| scope.covers(&t.album_id))
        .map(|t| TrashedJson {
            thumbnail_url: t.record.thumbnail_url(cld),
            id: t.id,
            deleted_at: t.deleted_at,
            album_id: t.album_id,
        })
        .collect();
    Ok((shown, next))
}

/// Restores image `id` of the caller's organization from the trash into
/// its album (`trash` on it; the album must still exist and not be
/// moving, and have room under its quota): the image as restored, and
/// its album. 404 when the trash holds no such image.
pub async fn restore(
    app: &App,
    principal: &Principal,
    id: &str,
) -> Result<(StoredImage, Album), ApiError> {
    let scope = TrashScope::of(principal)?;
    let org = &principal.organization_id;
    let now = crate::service::now().max(0) as u64;
    let not_found = || ApiError::NotFound("trashed image not found".into());
    let trashed = app
        .store
        .trashed(org, id, now)
        .await?
        .ok_or_else(not_found)?;
    if !scope.covers(&trashed.album_id) {
        return Err(ApiError::Forbidden(format!(
            "this token may not use the trash of album {}",
            trashed.album_id
        )));
    }
    if trashed.restored_at.is_some() {
        return restored_already(app, principal, &trashed).await;
    }
    let album = album_for(app, principal, &trashed.album_id, &[])
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::Conflict(format!(
                "album {} of this image no longer exists: it cannot be restored",
                trashed.album_id
            )),
            other => other,
        })?;
    if let Some(m) = app.store.album_move(&album.key()).await? {
        return Err(moving_conflict(&album.id, &m.to));
    }
    // An image of this id in an album (restored already, or deleted from
    // one album while a move put it in another) is not brought back a
    // second time: one image is in one album.
    if let Some(at) = app.store.find_image(org, id).await?
        && at.album != album.key()
    {
        return Err(ApiError::Conflict(format!(
            "image {id} is in album {} now: it cannot be restored",
            at.album.id
        )));
    }
    let image = StoredImage {
        id: trashed.id.clone(),
        record: trashed.record.clone(),
    };
    crate::quota::check_destination_grows(app, &album, 1).await?;
    app.store.place_image(&album, &image, &trashed.tags).await?;
    app.store
        .mark_restored(org, id, &trashed.deleted_at, &now_rfc3339(), now)
        .await?;
    Ok((image, album))
}

/// The answer to a restore of an image a restore already put back (this
/// one sent again after its answer was lost, or another): the image as
/// it is in its album, as the first restore answered; 404 when it is no
/// longer there (moved away since: a new delete would have trashed it
/// anew).
async fn restored_already(
    app: &App,
    principal: &Principal,
    trashed: &TrashedImage,
) -> Result<(StoredImage, Album), ApiError> {
    let not_found = || ApiError::NotFound("trashed image not found".into());
    let album = match album_for(app, principal, &trashed.album_id, &[]).await {
        Ok(album) => album,
        Err(ApiError::NotFound(_)) => return Err(not_found()),
        Err(other) => return Err(other),
    };
    let key = crate::store::Store::image_key(
        &album,
        &StoredImage {
            id: trashed.id.clone(),
            record: trashed.record.clone(),
        },
    )?;
    let image = app.store.image_at(&key).await?.ok_or_else(not_found)?;
    Ok((image, album))
}
