//! The albums a caller may see, a page at a time, each with its thumbnails.
//!
//! A token restricted to named albums lists those it may `see` (in id
//! order); an unrestricted one pages through the organization's index.

use tokio::task::JoinSet;

use crate::album::{Album, AlbumKey, THUMBNAILS, is_valid_id};
use crate::auth::{Abilities, Ability, Principal};
use crate::error::ApiError;
use crate::service::App;
use crate::store::{PageKey, StoreError, StoredImage};

/// An album of a listing, with its newest images.
pub type Listed = (Album, Vec<StoredImage>);

/// What `principal`'s listing pages through: its cursors are valid for it
/// alone. The two listings page through different keys (the
/// organization's index, or album ids in order), so a cursor of one is no
/// cursor of the other.
pub fn scope(principal: &Principal) -> String {
    let listing = match &principal.abilities {
        Abilities::All => "all",
        Abilities::Albums(_) => "named",
    };
    format!(
        "org:{}:{}:{listing}",
        principal.organization_id, principal.user_id
    )
}

/// Up to `limit` albums `principal` may see from `start` on, and where the
/// next page starts when there is one.
pub async fn page(
    app: &App,
    principal: &Principal,
    limit: usize,
    start: Option<PageKey>,
) -> Result<(Vec<Listed>, Option<PageKey>), ApiError> {
    let org = &principal.organization_id;
    match &principal.abilities {
        Abilities::All => {
            let (ids, next) = app
                .store
                .organization_albums_page(org, limit, start)
                .await?;
            Ok((read_albums(app, ids, org).await?, next))
        }
        Abilities::Albums(named) => {
            let after = start
                .as_ref()
                .and_then(|k| k.field("after"))
                .map(str::to_string);
            let mut candidates: Vec<String> = named
                .keys()
                // Only ids an album can have: a signed token may still name
                // anything, and an over-long key is a DynamoDB error (500).
                .filter(|id| is_valid_id(id))
                .filter(|id| principal.can(id, Ability::See))
                .filter(|id| after.as_ref().is_none_or(|a| id.as_str() > a.as_str()))
                .cloned()
                .collect();
            candidates.sort();
            named_page(app, &candidates, org, limit).await
        }
    }
}

/// The first `limit` of the albums `candidates` (sorted ids) that exist in
/// `org`. Named albums that `org` does not hold (other organizations'
/// are other albums, decision 0014) are skipped, so it reads ahead until the page is full and one more visible
/// album proves that another page follows: no page is short (or empty)
/// while more albums remain.
async fn named_page(
    app: &App,
    candidates: &[String],
    org: &str,
    limit: usize,
) -> Result<(Vec<Listed>, Option<PageKey>), ApiError> {
    let mut found = Vec::new();
    let mut more = false;
    for chunk in candidates.chunks(limit + 1) {
        for album in read_albums(app, chunk.to_vec(), org).await? {
            if found.len() == limit {
                more = true;
                break;
            }
            found.push(album);
        }
        if more {
            break;
        }
    }
    let next = match found.last() {
        Some((last, _)) if more => Some(PageKey::from_fields([("after", last.id.as_str())])),
        _ => None,
    };
    Ok((found, next))
}

/// The albums `ids` of `org` that exist (its own: decision 0014), each with its thumbnails, read
/// concurrently and answered in the order of `ids`.
async fn read_albums(app: &App, ids: Vec<String>, org: &str) -> Result<Vec<Listed>, ApiError> {
    let mut reads = JoinSet::new();
    for (i, id) in ids.into_iter().enumerate() {
        let store = app.store.clone();
        let org = org.to_string();
        reads.spawn(async move {
            let album = store.get_album(&AlbumKey::new(&org, &id)).await?;
            let thumbs = match &album {
                Some(a) => store.newest_images(a, THUMBNAILS).await?,
                None => Vec::new(),
            };
            Ok::<_, StoreError>((i, album, thumbs))
        });
    }
    let mut found: Vec<(usize, Album, Vec<StoredImage>)> = Vec::new();
    while let Some(done) = reads.join_next().await {
        let (i, album, thumbs) = done.map_err(|e| ApiError::Internal(e.to_string()))??;
        if let Some(album) = album {
            found.push((i, album, thumbs));
        }
    }
    found.sort_by_key(|(i, _, _)| *i);
    Ok(found.into_iter().map(|(_, a, t)| (a, t)).collect())
}
