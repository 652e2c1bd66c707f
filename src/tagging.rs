//! Tagging images: every image located and checked before anything is
//! written, then all tagged at once (decision 0011).
//!
//! One image missing, or another organization's (404, as missing:
//! decision 0014), or in an album the
//! token may not tag in (401) refuses the whole request. Tagging an image
//! twice writes nothing new.

use std::collections::BTreeSet;

use futures_util::StreamExt;

use crate::album::is_valid_id;
use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::service::{App, album_for, now_rfc3339};
use crate::store::images::ItemKey;
use crate::store::tags::{Tag, TagImage};
use crate::store::{Store, StoredImage};

/// Lookups, and taggings, in flight at once (a tagging is a conditional
/// put, and a read when the image was tagged before).
const TAGGING_CONCURRENCY: usize = 16;

/// Tags the images `ids` with `tag` for `principal`: each image with its
/// tag association, in the order of `ids`. Every image is located at once,
/// each album checked once, the images read in one batch, then tagged at
/// once: a few round trips for 100 images, not 400 in a row.
pub async fn tag_images(
    app: &App,
    principal: &Principal,
    tag: &Tag,
    ids: &[String],
) -> Result<Vec<(TagImage, StoredImage)>, ApiError> {
    let org = principal.organization_id.as_str();
    let located = futures_util::stream::iter(ids.iter().cloned().map(|id| locate(app, org, id)))
        .buffered(TAGGING_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, ApiError>>()?;
    check_albums(app, principal, ids, &located).await?;
    let images = read_images(app, ids, &located).await?;
    let created_at = now_rfc3339();
    let (user, read) = (&principal.user_id, &images);
    // By index: a closure over the items' references is not general
    // enough for the future the handler's `Send` bound asks for.
    let tagged = futures_util::stream::iter((0..read.len()).map(|i| {
        let (key, image) = &read[i];
        app.store.tag_image(key, image, tag, user, &created_at)
    }))
    .buffered(TAGGING_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    images
        .into_iter()
        .zip(tagged)
        .map(|((_, image), assoc)| Ok((assoc?, image)))
        .collect()
}

/// Where image `id` of organization `org` is; 404 when it is not (or the
/// id cannot be one), whatever other organizations hold (decision 0014).
async fn locate(app: &App, org: &str, id: String) -> Result<ItemKey, ApiError> {
    let not_found = || ApiError::NotFound(format!("image {id} not found"));
    if !is_valid_id(&id) {
        return Err(not_found());
    }
    app.store.find_image(org, &id).await?.ok_or_else(not_found)
}

/// Checks once per album that `principal` may tag the images `ids`
/// (`see` and `image_tag`, or `share`)
/// (found at `located`); an album it cannot reach is a 404 naming the
/// first of its images.
async fn check_albums(
    app: &App,
    principal: &Principal,
    ids: &[String],
    located: &[ItemKey],
) -> Result<(), ApiError> {
    let albums: BTreeSet<&str> = located.iter().map(|k| k.album.id.as_str()).collect();
    for album_id in albums {
        album_for(app, principal, album_id, &[Ability::Tag])
            .await
            .map_err(|e| match e {
                ApiError::NotFound(_) => ApiError::NotFound(format!(
                    "image {} not found",
                    ids[located
                        .iter()
                        .position(|k| k.album.id == album_id)
                        .unwrap_or(0)]
                )),
                other => other,
            })?;
    }
    Ok(())
}

/// The images `ids` at `located`, read in one batch; 404 for one gone since.
async fn read_images<'k>(
    app: &App,
    ids: &[String],
    located: &'k [ItemKey],
) -> Result<Vec<(&'k ItemKey, StoredImage)>, ApiError> {
    let wanted: Vec<(String, String)> = located
        .iter()
        .map(|k| (k.pk.clone(), k.sk.clone()))
        .collect();
    let found = app.store.get_items(&wanted).await?;
    let mut images = Vec::with_capacity(ids.len());
    for (id, key) in ids.iter().zip(located) {
        let item = found
            .get(&(key.pk.clone(), key.sk.clone()))
            .ok_or_else(|| ApiError::NotFound(format!("image {id} not found")))?;
        images.push((key, Store::decode_image(item)?));
    }
    Ok(images)
}
