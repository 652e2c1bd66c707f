//! `GET /api/v1/albums`: the caller's organization's albums, paginated.
//!
//! A token restricted to named albums lists those it may `see` (in id
//! order); an unrestricted one pages through the organization's index.

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::album::{Album, THUMBNAILS};
use crate::auth::{Abilities, Ability};
use crate::cursor;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, page_params, params};
use crate::image::ImageJson;
use crate::service::{App, authenticate, now, x_token};
use crate::store::{PageKey, StoredImage};

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().read, serve(app, &req)).await)
}

#[derive(Serialize)]
struct AlbumSummary<'a> {
    id: &'a str,
    public_id: &'a str,
    images_count: u64,
    thumbnails: Vec<ImageJson<'a>>,
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    let principal = authenticate(app, header(req, "authorization"), now).await?;
    let (limit, cursor) = page_params(&params(req)?)?;
    let org = &principal.organization_id;
    // The two listings page through different keys (the organization's
    // index, or album ids in order): a cursor of one is no cursor of the other.
    let listing = match &principal.abilities {
        Abilities::All => "all",
        Abilities::Albums(_) => "named",
    };
    let scope = format!("org:{org}:{}:{listing}", principal.user_id);
    let secret = app.config.jwt_secret()?;
    let start = cursor
        .map(|c| cursor::decode(&c, &scope, secret))
        .transpose()?;

    let (found, next): (Vec<(Album, Vec<StoredImage>)>, Option<PageKey>) =
        match &principal.abilities {
            Abilities::All => {
                let (ids, next) = app
                    .store
                    .organization_albums_page(org, limit, start)
                    .await?;
                (read_albums(app, ids, org).await?, next)
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
                    .filter(|id| crate::album::is_valid_id(id))
                    .filter(|id| principal.can(id, Ability::See))
                    .filter(|id| after.as_ref().is_none_or(|a| id.as_str() > a.as_str()))
                    .cloned()
                    .collect();
                candidates.sort();
                // Named albums that are absent or in another organization are
                // skipped, so read ahead until the page is full and one more
                // visible album proves that another page follows: no page is
                // short (or empty) while more albums remain.
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
                    Some((last, _)) if more => {
                        Some(PageKey::from_fields([("after", last.id.as_str())]))
                    }
                    _ => None,
                };
                (found, next)
            }
        };

    let cld = app.config.cloudinary()?;
    let summaries: Vec<AlbumSummary> = found
        .iter()
        .map(|(a, thumbs)| AlbumSummary {
            id: &a.id,
            public_id: &a.id,
            images_count: a.images_count,
            thumbnails: thumbs
                .iter()
                .map(|t| t.record.render(&t.id, &a.id, cld))
                .collect(),
        })
        .collect();
    let body = serde_json::to_string(&summaries).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut reply = Reply::new(200, body).token(x_token(app, &principal, now)?);
    if let Some(next) = next {
        reply = reply.header("x-next-cursor", cursor::encode(&next, &scope, secret)?);
    }
    Ok(reply)
}

/// The albums `ids` that exist in `org`, each with its thumbnails, read
/// concurrently and answered in the order of `ids`.
async fn read_albums(
    app: &App,
    ids: Vec<String>,
    org: &str,
) -> Result<Vec<(Album, Vec<StoredImage>)>, ApiError> {
    let mut reads = JoinSet::new();
    for (i, id) in ids.into_iter().enumerate() {
        let store = app.store.clone();
        reads.spawn(async move {
            let album = store.get_album(&id).await?;
            let thumbs = match &album {
                Some(a) => store.newest_images(a, THUMBNAILS).await?,
                None => Vec::new(),
            };
            Ok::<_, crate::store::StoreError>((i, album, thumbs))
        });
    }
    let mut found: Vec<(usize, Album, Vec<StoredImage>)> = Vec::new();
    while let Some(done) = reads.join_next().await {
        let (i, album, thumbs) = done.map_err(|e| ApiError::Internal(e.to_string()))??;
        if let Some(album) = album.filter(|a| a.organization_id == org) {
            found.push((i, album, thumbs));
        }
    }
    found.sort_by_key(|(i, _, _)| *i);
    Ok(found.into_iter().map(|(_, a, t)| (a, t)).collect())
}
