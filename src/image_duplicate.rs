//! Duplicating one image (`POST /api/v1/images/{id}/duplicate`): a copy
//! in its album or in another, with its tag associations.
//!
//! The copy's id is derived from the destination and the image
//! (`store::copy::copy_id`, as an album copy's images are), so a retry, a
//! repeat or two requests at once make one copy, exactly once, with the
//! count exact; to make a second copy in one album, duplicate the copy.
//! Needs `image_duplicate` on the image's album and `image_upload` on
//! another destination (created if absent, as a duplicate's is).

use crate::album::{Album, AlbumKey, is_valid_id};
use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::image_access::find_for;
use crate::service::{App, moving_conflict, now_rfc3339};
use crate::store::copy::copy_id;
use crate::store::images::StoredImage;
use crate::store::tags::TagStamp;

/// Duplicates image `id` into album `to` (its own when `None`) for
/// `principal`: the copy and its album.
pub async fn duplicate_image(
    app: &App,
    principal: &Principal,
    id: &str,
    to: Option<&str>,
) -> Result<(StoredImage, Album), ApiError> {
    let found = find_for(app, principal, id, &[Ability::ImageDuplicate]).await?;
    let dest_id = to.unwrap_or(found.album_id()).to_string();
    if !is_valid_id(&dest_id) {
        return Err(ApiError::Unprocessable(
            "album_id must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'".into(),
        ));
    }
    if dest_id != found.album_id() && !principal.can(&dest_id, Ability::ImageUpload) {
        return Err(ApiError::Forbidden(format!(
            "this token may not add images to album {dest_id}"
        )));
    }
    let org = &principal.organization_id;
    let existing = match app
        .store
        .get_album_and_move(&AlbumKey::new(org, &dest_id))
        .await?
    {
        Some((_, Some(m))) => return Err(moving_conflict(&dest_id, &m.to)),
        Some((album, None)) => Some(album),
        None => None,
    };
    let (album, _) = crate::duplicate::ensure_destination(app, org, &dest_id, 1, existing).await?;
    crate::quota::check_destination_grows(app, &album, 1).await?;
    let mut record = found.image.record.clone();
    record.updated_at = now_rfc3339();
    let copy = StoredImage {
        id: copy_id(&dest_id, id),
        record,
    };
    let stamps: Vec<TagStamp> = app
        .store
        .tag_images_of(&found.at)
        .await?
        .iter()
        .map(Into::into)
        .collect();
    app.store.place_image(&album, &copy, &stamps).await?;
    Ok((copy, album))
}
