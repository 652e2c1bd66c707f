//! `DELETE /api/v1/images/{id}`: 204; the album's `images_count` drops by one.

use lambda_http::{Body, Request, Response};

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, path_item_id};
use crate::service::{App, album_and_move_for};
use crate::store::images::ItemKey;
use crate::store::keys::image_pk;

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let not_found = || ApiError::NotFound("image not found".into());
    let id = path_item_id(req, "id", "images", "image")?;
    // Mid-move an image has two copies (its old album's and its new
    // one's, the same organization's): both go, or finishing the move
    // would bring it back (decision 0011).
    let copies = app.store.find_image_copies(&id).await?;
    let first = copies.first().ok_or_else(not_found)?;
    // The album check reads the first copy's move mark too.
    let (_, first_mark) = album_and_move_for(
        app,
        &caller.principal,
        &first.album_id,
        &[Ability::ImageDelete],
    )
    .await
    .map_err(|e| match e {
        ApiError::NotFound(_) => not_found(),
        other => other,
    })?;
    let mut deleted = false;
    for (i, key) in copies.iter().enumerate() {
        // An album being moved may already have sent this image's tag
        // associations ahead of the image (they sort first): they go too.
        let mark = if i == 0 {
            first_mark.clone()
        } else {
            app.store.album_move(&key.album_id).await?
        };
        if let Some(m) = mark
            && let Some(destination) = app.store.get_album(&m.to).await?
        {
            let ahead = ItemKey {
                pk: image_pk(&destination.id, destination.shards, &id),
                album_id: destination.id,
                sk: key.sk.clone(),
            };
            app.store.delete_tag_images_of(&ahead).await?;
        }
        deleted |= app.store.remove_image(key).await?;
    }
    if !deleted {
        return Err(not_found());
    }
    caller.no_content()
}
