//! One image by its id, as a caller may reach it: where its copies are,
//! its album, its record.
//!
//! An image the caller may not reach is as missing as one that does not
//! exist (404), and another organization's is never looked at (decision
//! 0014), as for deletes ([`crate::deletion`]).

use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::service::{App, album_for};
use crate::store::images::{ItemKey, StoredImage};

/// An image found for a caller.
#[derive(Clone, Debug)]
pub struct FoundImage {
    /// Every copy of it: one, or two mid-move (decision 0011).
    pub copies: Vec<ItemKey>,
    /// The copy read.
    pub at: ItemKey,
    /// Its record there.
    pub image: StoredImage,
}

impl FoundImage {
    /// The id of the album it is in (the copy read).
    pub fn album_id(&self) -> &str {
        &self.at.album.id
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("image not found".into())
}

/// Image `id` of the caller's organization, if the caller may do all of
/// `abilities` on its album: a 404 when there is none or the album is
/// not the caller's to reach, a 401 when the token lacks an ability there.
pub async fn find_for(
    app: &App,
    principal: &Principal,
    id: &str,
    abilities: &[Ability],
) -> Result<FoundImage, ApiError> {
    let org = &principal.organization_id;
    let copies = app.store.find_image_copies(org, id).await?;
    let Some(first) = copies.first() else {
        return Err(not_found());
    };
    album_for(app, principal, &first.album.id, abilities)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => not_found(),
            other => other,
        })?;
    // The index is eventually consistent: a copy it names may be gone
    // (a delete, the end of a move); read the next one then.
    for at in &copies {
        if let Some(image) = app.store.image_at(at).await? {
            return Ok(FoundImage {
                at: at.clone(),
                copies: copies.clone(),
                image,
            });
        }
    }
    Err(not_found())
}
