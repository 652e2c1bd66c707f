//! Deleting an image or a tag image: every copy a move in progress left.
//!
//! Mid-move an item has two copies (its old album's and its new one's, the
//! same organization's): both go, or finishing the move would bring it
//! back (decision 0011). An item the caller may not reach is as missing as
//! one that does not exist; another organization's is not even looked at
//! (decision 0014).

use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::service::{App, album_and_move_for, album_for};
use crate::store::StoreError;
use crate::store::images::ItemKey;
use crate::store::keys::image_pk;

/// What a delete route deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletable {
    /// An image (`DELETE /api/v1/images/{id}`).
    Image,
    /// A tag image (`DELETE /api/v1/tag_images/{id}`).
    TagImage,
}

impl Deletable {
    /// The path segment before the id.
    pub fn collection(self) -> &'static str {
        match self {
            Self::Image => "images",
            Self::TagImage => "tag_images",
        }
    }

    /// Its name in a 404.
    pub fn what(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::TagImage => "tag image",
        }
    }

    /// Deletes item `id` of this kind for `principal`.
    pub async fn delete(self, app: &App, principal: &Principal, id: &str) -> Result<(), ApiError> {
        match self {
            Self::Image => delete_image(app, principal, id).await,
            Self::TagImage => delete_tag_image(app, principal, id).await,
        }
    }
}

/// The 404 of a missing `what`.
fn not_found(what: &str) -> ApiError {
    ApiError::NotFound(format!("{what} not found"))
}

/// Maps the album check's 404 to the item's own.
fn as_missing(what: &'static str) -> impl Fn(ApiError) -> ApiError {
    move |e| match e {
        ApiError::NotFound(_) => not_found(what),
        other => other,
    }
}

/// Deletes image `id` (every copy, and its tag images) for `principal`,
/// who needs `image_delete` on its album; 404 when there was none. The
/// image goes to the trash first (`crate::trash`), then the albums it
/// counts down are recorded (`store::delete_intents`), so that a retry of
/// a delete cut off after the image went (a 503) still settles their
/// counts, though it answers 404.
pub async fn delete_image(app: &App, principal: &Principal, id: &str) -> Result<(), ApiError> {
    let org = &principal.organization_id;
    let copies = app.store.find_image_copies(org, id).await?;
    let Some(first) = copies.first() else {
        settle_cut_off_delete(app, org, id).await?;
        return Err(not_found("image"));
    };
    // The album check reads the first copy's move mark too.
    let check = album_and_move_for(app, principal, &first.album.id, &[Ability::ImageDelete]);
    let (_, first_mark) = check.await.map_err(as_missing("image"))?;
    let albums = copies.iter().map(|k| k.album.id.clone()).collect();
    let now = crate::service::now().max(0) as u64;
    crate::trash::keep(app, org, first, now).await?;
    app.store
        .record_delete_intent(org, id, &albums, now)
        .await?;
    let mut deleted = false;
    for (i, key) in copies.iter().enumerate() {
        let mark = match i {
            0 => first_mark.clone(),
            _ => app.store.album_move(&key.album).await?,
        };
        // An album being moved may already have sent this image's tag
        // associations ahead of the image (they sort first): they go too.
        if let Some(m) = mark
            && let Some(destination) = app.store.get_album(&key.album.sibling(&m.to)).await?
        {
            let ahead = ItemKey {
                pk: image_pk(&destination.key(), destination.shards, id),
                album: destination.key(),
                sk: key.sk.clone(),
            };
            app.store.delete_tag_images_of(&ahead).await?;
        }
        deleted |= app.store.remove_image(key).await?;
    }
    app.store.clear_delete_intent(org, id).await?;
    found(deleted, "image")
}

/// The most images one bulk delete names (SharinPix documents none; a
/// request's work must stay inside its deadline: each image is a dozen
/// DynamoDB calls).
pub const MAX_BULK_DELETE: usize = 100;

/// How many images of a bulk delete are deleted at once.
const BULK_PARALLELISM: usize = 8;

/// Deletes images `ids` for `principal` (`DELETE /api/v1/images`): every
/// album they are in is checked first, and if the token may not delete
/// from one of them (401) nothing is deleted. Ids of no image (or of
/// another organization's) are skipped. The ids deleted, in the request's
/// order, each once. A bulk delete cut off (a 503) and sent again deletes
/// the rest; what the first sending deleted answers as missing, and its
/// counts are settled by the delete intents ([`delete_image`]).
pub async fn delete_images(
    app: &App,
    principal: &Principal,
    ids: &[String],
) -> Result<Vec<String>, ApiError> {
    use futures_util::StreamExt as _;
    if ids.is_empty() || ids.len() > MAX_BULK_DELETE {
        return Err(ApiError::Unprocessable(format!(
            "image_ids must name 1 to {MAX_BULK_DELETE} images"
        )));
    }
    let mut unique: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(id.clone());
        }
    }
    // First every album, before anything is deleted.
    let org = &principal.organization_id;
    let valid: Vec<String> = unique
        .iter()
        .filter(|id| crate::album::is_valid_id(id))
        .cloned()
        .collect();
    let found: Vec<Result<Vec<ItemKey>, crate::store::StoreError>> =
        futures_util::stream::iter(valid)
            .map(|id| async move { app.store.find_image_copies(org, &id).await })
            .buffer_unordered(BULK_PARALLELISM)
            .collect()
            .await;
    let mut albums: Vec<String> = Vec::new();
    for copies in found {
        for key in copies? {
            if !albums.contains(&key.album.id) {
                albums.push(key.album.id);
            }
        }
    }
    for album in &albums {
        match album_for(app, principal, album, &[Ability::ImageDelete]).await {
            Ok(_) | Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let outcomes: Vec<(usize, Result<(), ApiError>)> =
        futures_util::stream::iter(unique.clone().into_iter().enumerate())
            .map(|(i, id)| async move { (i, delete_image(app, principal, &id).await) })
            .buffer_unordered(BULK_PARALLELISM)
            .collect()
            .await;
    let mut deleted = vec![false; unique.len()];
    for (i, outcome) in outcomes {
        match outcome {
            Ok(()) => deleted[i] = true,
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(unique
        .into_iter()
        .zip(deleted)
        .filter(|(_, d)| *d)
        .map(|(id, _)| id)
        .collect())
}

/// Recounts the albums a delete of image `id` left unsettled, if one did
/// (its intent is still there), then forgets the intent. An album deleted
/// since has nothing to settle.
pub(crate) async fn settle_cut_off_delete(app: &App, org: &str, id: &str) -> Result<(), ApiError> {
    let albums = app.store.delete_intent_albums(org, id).await?;
    if albums.is_empty() {
        return Ok(());
    }
    for album in &albums {
        match app.store.recount_images(album).await {
            Ok(_) | Err(StoreError::AlbumMissing(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(
        image = id,
        albums = albums.len(),
        "recounted after a delete cut off"
    );
    app.store.clear_delete_intent(org, id).await?;
    Ok(())
}

/// Deletes tag image `id` (every copy) for `principal`, who needs to be
/// able to tag on its image's album ([`Ability::Tag`]); 404 when there was none.
pub async fn delete_tag_image(app: &App, principal: &Principal, id: &str) -> Result<(), ApiError> {
    let copies = app
        .store
        .find_tag_image(&principal.organization_id, id)
        .await?;
    let first = copies.first().ok_or_else(|| not_found("tag image"))?;
    let album = &first.album.id;
    album_for(app, principal, album, &[Ability::Tag])
        .await
        .map_err(as_missing("tag image"))?;
    let mut deleted = false;
    for key in &copies {
        deleted |= app.store.delete_tag_image(key).await?;
    }
    found(deleted, "tag image")
}

/// `Ok` when something was deleted, else the 404 of a missing `what`.
fn found(deleted: bool, what: &str) -> Result<(), ApiError> {
    deleted.then_some(()).ok_or_else(|| not_found(what))
}
