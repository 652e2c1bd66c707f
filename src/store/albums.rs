//! Albums: reading and creating them, and an organization's album pages.

use std::collections::HashMap;

use crate::album::{Album, AlbumKey};

use super::item::{PageKey, get_n, get_s, n, s};
use super::keys::*;
use super::moves::{MoveState, move_state_of};
use super::{Store, StoreError, retry};

/// An album item's shard count (absent: 1, as for every album made
/// before shards).
pub(super) fn shards_of(item: &super::Item) -> Result<u32, StoreError> {
    Ok(get_n(item, SHARDS)?.clamp(1, u64::from(MAX_SHARDS)) as u32)
}

impl Store {
    /// Reads an album (strongly consistent).
    pub async fn get_album(&self, key: &AlbumKey) -> Result<Option<Album>, StoreError> {
        Ok(self.get_album_and_move(key).await?.map(|(album, _)| album))
    }

    /// Reads an album and the move it is in, if any (decision 0011), in
    /// one read.
    pub async fn get_album_and_move(
        &self,
        key: &AlbumKey,
    ) -> Result<Option<(Album, Option<MoveState>)>, StoreError> {
        match self.get_item(album_pk(key), ALBUM_SK).await? {
            None => Ok(None),
            Some(item) => Ok(Some((
                Album {
                    id: key.id.clone(),
                    // The key names it (decision 0014); the attribute is
                    // what `by_organization` lists by.
                    organization_id: key.org.clone(),
                    images_count: get_n(&item, "images_count")?,
                    views_count: get_n(&item, "views_count")?,
                    created_at: get_s(&item, "created_at").unwrap_or_default().to_string(),
                    shards: shards_of(&item)?,
                },
                move_state_of(&item),
            ))),
        }
    }

    /// Creates `album` unless its organization holds an album with its id;
    /// either way returns the album now stored. Conditional,
    /// so two concurrent creators cannot overwrite each other.
    pub async fn create_album_if_absent(&self, album: &Album) -> Result<Album, StoreError> {
        Ok(self.create_or_get_album(album).await?.0)
    }

    /// Like [`Store::create_album_if_absent`], and says whether this call
    /// created the album (`true`) or found one (`false`).
    pub async fn create_or_get_album(&self, album: &Album) -> Result<(Album, bool), StoreError> {
        if self.create_album(album).await? {
            return Ok((album.clone(), true));
        }
        let found = self.get_album(&album.key()).await?.ok_or_else(|| {
            StoreError::Corrupt("album vanished after a conditional failure".into())
        })?;
        Ok((found, false))
    }

    /// Creates `album` (with `seq` 0) unless an album with its id exists;
    /// `true` when this call created it. A creator knows that nothing was in
    /// the album before it, which lets a copy into it settle the count
    /// without reading the copy back ([`Store::settle_fresh_count`]).
    pub(super) async fn create_album(&self, album: &Album) -> Result<bool, StoreError> {
        let item = HashMap::from([
            (PK.into(), s(album_pk(&album.key()))),
            (SK.into(), s(ALBUM_SK)),
            (ORGANIZATION_ID.into(), s(&album.organization_id)),
            ("images_count".into(), n(album.images_count)),
            ("views_count".into(), n(album.views_count)),
            ("created_at".into(), s(&album.created_at)),
            ("seq".into(), n(0)),
            (SHARDS.into(), n(album.shards.clamp(1, MAX_SHARDS))),
        ]);
        self.put_if_absent(&item).await
    }

    /// One page of an organization's album ids (through `by_organization`)
    /// and the key to continue after (only when more follow).
    pub async fn organization_albums_page(
        &self,
        organization_id: &str,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<(Vec<String>, Option<PageKey>), StoreError> {
        let mut ids = Vec::new();
        let mut start = start.as_ref().map(PageKey::to_item);
        let mut next = None;
        // A GSI page may end short of `limit`; keep reading until it is full.
        loop {
            let out = retry::bounded("Query", self.budgets.read, {
                self.organization_query(organization_id, ALBUM_SK)
                    .limit((limit - ids.len()) as i32 + 1)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            for item in out.items() {
                if ids.len() == limit {
                    // One more exists: continue after the last one kept.
                    return Ok((ids, next));
                }
                let pk = get_s(item, PK)?;
                // A partition of the layout before decision 0014 (not yet
                // migrated) is skipped: it cannot be read by its key.
                if let Some((key, 0)) = album_of_shard_pk(pk) {
                    ids.push(key.id);
                }
                // Continue after it: the table's key and the index's.
                next = Some(PageKey::from_fields([
                    (PK, pk),
                    (SK, get_s(item, SK)?),
                    (ORGANIZATION_ID, get_s(item, ORGANIZATION_ID)?),
                ]));
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((ids, None)),
            }
        }
    }
}
