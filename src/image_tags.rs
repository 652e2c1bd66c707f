//! The tag images of given images, or of one tag in one album (and one
//! image of it): what `GET /api/v1/tag_images` answers.
//!
//! A token sees the tag images of albums it may list or tag in, as the
//! tag's own listing shows them (`handlers::list_tag_images`); images of
//! other albums are left out, not refused, as SharinPix's
//! `tag_image/return_subset_of_tag_images` leaves out what its token may
//! not see.

use std::collections::HashMap;

use serde_json::Value;

use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::image_access::find_for;
use crate::service::App;
use crate::store::images::StoredImage;
use crate::store::item::PageKey;
use crate::store::tags::{Tag, TagImage};
use crate::tags::{resolve, tag_image_json};

/// The most images one request names.
pub const MAX_IMAGES: usize = 100;

/// Whether `principal` may see the tag images of album `album`.
fn may_see(principal: &Principal, album: &str) -> bool {
    principal.can(album, Ability::ImageList) || principal.can(album, Ability::Tag)
}

/// The tag images of images `ids` the token may see, in the order of
/// `ids`, each image's by tag.
pub async fn of_images(
    app: &App,
    principal: &Principal,
    ids: &[String],
) -> Result<Vec<Value>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_IMAGES {
        return Err(ApiError::Unprocessable(format!(
            "image_ids must name 1 to {MAX_IMAGES} images"
        )));
    }
    let mut found: Vec<(TagImage, StoredImage)> = Vec::new();
    let mut seen: Vec<&String> = Vec::new();
    for id in ids {
        if seen.contains(&id) || !crate::album::is_valid_id(id) {
            continue;
        }
        seen.push(id);
        let image = match find_for(app, principal, id, &[]).await {
            Ok(image) if may_see(principal, image.album_id()) => image,
            Ok(_) | Err(ApiError::NotFound(_) | ApiError::Forbidden(_)) => continue,
            Err(e) => return Err(e),
        };
        for assoc in app.store.tag_images_of(&image.at).await? {
            found.push((assoc, image.image.clone()));
        }
    }
    render(app, principal, &found, None).await
}

/// One page of tag `tag_name`'s tag images in album `album_id` (of image
/// `image_id` only when given), and where the next page starts. A page
/// of the album's may be short, even empty, with a next one (the tag's
/// pages are read, then kept to the album).
pub async fn of_tag_in_album(
    app: &App,
    principal: &Principal,
    tag_name: &str,
    album_id: &str,
    image_id: Option<&str>,
    limit: usize,
    start: Option<PageKey>,
) -> Result<(Vec<Value>, Option<PageKey>), ApiError> {
    let album = crate::service::album_for(app, principal, album_id, &[]).await?;
    if !may_see(principal, &album.id) {
        return Err(ApiError::Forbidden(format!(
            "this token may not do that on album {album_id}"
        )));
    }
    let tag = resolve(app, &principal.organization_id, tag_name).await?;
    if let Some(id) = image_id {
        let image = find_for(app, principal, id, &[]).await?;
        if image.album_id() != album.id {
            return Err(ApiError::NotFound("image not found".into()));
        }
        let found: Vec<(TagImage, StoredImage)> = app
            .store
            .tag_images_of(&image.at)
            .await?
            .into_iter()
            .filter(|a| a.tag_id == tag.id)
            .map(|a| (a, image.image.clone()))
            .collect();
        return Ok((render(app, principal, &found, Some(&tag)).await?, None));
    }
    let (keys, next) = app.store.tag_images_page(&tag.id, limit, start).await?;
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| k.album == album.key())
        .collect();
    let found = app.store.tag_images_with_images(&keys).await?;
    Ok((render(app, principal, &found, Some(&tag)).await?, next))
}

/// The JSON of each `(association, image)`, its tag read once per tag
/// (`tag` when all are of one).
async fn render(
    app: &App,
    principal: &Principal,
    found: &[(TagImage, StoredImage)],
    tag: Option<&Tag>,
) -> Result<Vec<Value>, ApiError> {
    let cld = app.config.cloudinary()?;
    let mut tags: HashMap<String, Tag> = HashMap::new();
    if let Some(t) = tag {
        tags.insert(t.id.clone(), t.clone());
    }
    let mut out = Vec::with_capacity(found.len());
    for (assoc, image) in found {
        if !tags.contains_key(&assoc.tag_id) {
            let Some(t) = app
                .store
                .tag_by_id(&principal.organization_id, &assoc.tag_id)
                .await?
            else {
                continue;
            };
            tags.insert(t.id.clone(), t);
        }
        let t = &tags[&assoc.tag_id];
        let json = tag_image_json(assoc, image, t, cld);
        out.push(serde_json::to_value(json).map_err(|e| ApiError::Internal(e.to_string()))?);
    }
    Ok(out)
}
