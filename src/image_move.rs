//! Moving images between albums (`POST /api/v1/images/move`): each image
//! to the album its operation names, exactly once.
//!
//! Every album is checked before anything is written (`image_delete` on
//! the albums the images leave, `image_upload` on those they enter; one
//! refused is a 401 and nothing moves), destinations that do not exist are
//! created as a duplicate's are. Each image is then claimed for its
//! destination (`store::move_claims`: two moves of one image to two
//! albums cannot both run), put there with its tag associations (same ids
//! and times; `Store::place_image`), and deleted from where it was, its
//! album recorded first as a delete's is (`store::delete_intents`), so
//! that a move cut off anywhere and sent again finishes with each image in
//! one album and every count exact.

use std::collections::BTreeSet;

use futures_util::StreamExt as _;

use crate::album::{Album, AlbumKey, is_valid_id};
use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::service::{App, album_and_move_for, moving_conflict};
use crate::store::images::ItemKey;
use crate::store::tags::TagStamp;

/// The most images one request moves.
pub const MAX_MOVES: usize = 100;
/// Images moved at once.
const PARALLELISM: usize = 8;

/// One image and the album it goes to.
pub type MoveOperation = (String, String);

/// Moves each image of `operations` to its album for `principal`: the ids
/// moved (or found there already), in the request's order. Ids of no
/// image are skipped.
pub async fn move_images(
    app: &App,
    principal: &Principal,
    operations: &[MoveOperation],
) -> Result<Vec<String>, ApiError> {
    if operations.is_empty() || operations.len() > MAX_MOVES {
        return Err(ApiError::Unprocessable(format!(
            "move_operations must name 1 to {MAX_MOVES} images"
        )));
    }
    for (image, album) in operations {
        if !is_valid_id(album) {
            return Err(ApiError::Unprocessable(format!(
                "move_operations[{image}]: album ids are 1-128 characters of A-Z, a-z, 0-9, '_' or '-'"
            )));
        }
    }
    let org = principal.organization_id.clone();
    let org = org.as_str();
    // Where each image is now (ids of no image are left out).
    let located: Vec<Result<(usize, Vec<ItemKey>), ApiError>> =
        futures_util::stream::iter(operations.iter().cloned().enumerate())
            .map(|(i, (image, _))| async move {
                if !is_valid_id(&image) {
                    return Ok((i, Vec::new()));
                }
                Ok((i, app.store.find_image_copies(org, &image).await?))
            })
            .buffered(PARALLELISM)
            .collect()
            .await;
    let mut wanted: Vec<(usize, Vec<ItemKey>)> = Vec::new();
    for l in located {
        let (i, copies) = l?;
        if !copies.is_empty() {
            wanted.push((i, copies));
        }
    }
    // Every album, before anything is written.
    let sources: BTreeSet<String> = wanted
        .iter()
        .flat_map(|(_, c)| c.iter().map(|k| k.album.id.clone()))
        .collect();
    for album in &sources {
        let (_, moving) =
            album_and_move_for(app, principal, album, &[Ability::ImageDelete]).await?;
        if let Some(m) = moving {
            return Err(moving_conflict(album, &m.to));
        }
    }
    let destinations: BTreeSet<&str> = wanted
        .iter()
        .map(|(i, _)| operations[*i].1.as_str())
        .collect();
    for album in &destinations {
        if !principal.can(album, Ability::ImageUpload) {
            return Err(ApiError::Forbidden(format!(
                "this token may not add images to album {album}"
            )));
        }
    }
    let mut albums: Vec<Album> = Vec::new();
    for id in &destinations {
        let key = AlbumKey::new(org, id);
        let found = match app.store.get_album_and_move(&key).await? {
            Some((_, Some(m))) => return Err(moving_conflict(id, &m.to)),
            Some((album, None)) => Some(album),
            None => None,
        };
        let (album, _) = crate::duplicate::ensure_destination(app, org, id, 0, found).await?;
        let incoming = wanted
            .iter()
            .filter(|(i, c)| operations[*i].1 == *id && c.iter().all(|k| k.album != key))
            .count() as u64;
        crate::quota::check_destination_grows(app, &album, incoming).await?;
        albums.push(album);
    }
    let work: Vec<(usize, String, Album)> = wanted
        .iter()
        .map(|(i, _)| {
            let (image, to) = &operations[*i];
            let album = albums.iter().find(|a| &a.id == to).expect("ensured above");
            (*i, image.clone(), album.clone())
        })
        .collect();
    let outcomes: Vec<(usize, Result<bool, ApiError>)> = futures_util::stream::iter(work)
        .map(|(i, image, album)| async move { (i, move_one(app, org, &image, &album).await) })
        .buffer_unordered(PARALLELISM)
        .collect()
        .await;
    let mut moved = vec![false; operations.len()];
    for (i, outcome) in outcomes {
        moved[i] = outcome?;
    }
    Ok(operations
        .iter()
        .zip(moved)
        .filter(|(_, m)| *m)
        .map(|((image, _), _)| image.clone())
        .collect())
}

/// Moves image `id` of `org` into `album`, under its claim: whether it
/// is there now (`false`: no image of this id any more).
async fn move_one(app: &App, org: &str, id: &str, album: &Album) -> Result<bool, ApiError> {
    let now = crate::service::now().max(0) as u64;
    if !app.store.claim_for_move(org, id, &album.id, now).await? {
        return Err(ApiError::Conflict(format!(
            "image {id} is being moved to another album; try again in a minute"
        )));
    }
    let outcome = move_claimed(app, org, id, album, now).await;
    if outcome.is_ok() {
        app.store.release_move_claim(org, id, &album.id).await?;
    }
    outcome
}

async fn move_claimed(
    app: &App,
    org: &str,
    id: &str,
    album: &Album,
    now: u64,
) -> Result<bool, ApiError> {
    let copies = app.store.find_image_copies(org, id).await?;
    let target = album.key();
    let in_place = copies.iter().any(|k| k.album == target);
    let sources: Vec<&ItemKey> = copies.iter().filter(|k| k.album != target).collect();
    let Some(first) = sources.first() else {
        // Nothing left to delete: a move cut off after its deletes may
        // have left a count to settle.
        crate::deletion::settle_cut_off_delete(app, org, id).await?;
        return Ok(in_place);
    };
    let Some(image) = app.store.image_at(first).await? else {
        return Ok(in_place);
    };
    let stamps: Vec<TagStamp> = app
        .store
        .tag_images_of(first)
        .await?
        .iter()
        .map(Into::into)
        .collect();
    app.store.place_image(album, &image, &stamps).await?;
    let left: BTreeSet<String> = sources.iter().map(|k| k.album.id.clone()).collect();
    app.store.record_delete_intent(org, id, &left, now).await?;
    for key in &sources {
        app.store.remove_image(key).await?;
    }
    app.store.clear_delete_intent(org, id).await?;
    Ok(true)
}
