//! Re-sharding: an album's images spread over more partitions, in place
//! (decision 0012).

use super::items::move_items;
use crate::album::{Album, AlbumKey};
use crate::store::item::n;
use crate::store::keys::MAX_SHARDS;
use crate::store::{Store, StoreError};

impl Store {
    /// Spreads album `id`'s images over `shards` partitions (decision
    /// 0012): stores the new count first (from then on readers read every
    /// new partition, which include the old ones, and writers place new
    /// images by it), then moves each image and tag association whose
    /// partition the new count changes (written before deleted, as a move
    /// does), then recounts. Only growing is allowed. Re-running finishes
    /// an interrupted re-shard. Returns the items moved.
    pub async fn reshard(&self, id: &AlbumKey, shards: u32) -> Result<u64, StoreError> {
        let (album, moving) = self
            .get_album_and_move(id)
            .await?
            .ok_or_else(|| StoreError::AlbumMissing(id.id.clone()))?;
        if let Some(m) = moving {
            return Err(StoreError::Moving {
                album: id.id.clone(),
                to: m.to,
            });
        }
        if !(album.shards..=MAX_SHARDS).contains(&shards) {
            return Err(StoreError::Dynamo(format!(
                "album {} has {} shards; it can grow to {shards} only if that is from {} to {MAX_SHARDS}",
                id.id, album.shards, album.shards
            )));
        }
        if shards > album.shards
            && !self
                .update_album_if(
                    id,
                    "SET shards = :new",
                    "attribute_not_exists(shards) OR shards <= :new",
                    &[(":new", n(shards))],
                )
                .await?
        {
            return Err(StoreError::Unavailable(format!(
                "album {} changed while being re-sharded",
                id.id
            )));
        }
        let spread = Album { shards, ..album };
        let moved = move_items(self, &spread, &spread, &Default::default())
            .await
            .map_err(|f| f.error)?;
        self.recount_images(id).await?;
        Ok(moved.items_moved)
    }
}
