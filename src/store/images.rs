//! Images: their items, pages of an album's images (merged across its
//! shards), and single-image writes that keep `images_count` exact
//! (decisions 0003, 0012).

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::album::{Album, AlbumKey};
use crate::image::{ImageRecord, sort_millis};

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder as Query;

use super::item::{Item, PageKey, get_s, n, s};
use super::keys::*;
use super::{Store, StoreError, batch, retry};

/// An image as read back: its id and its stored record.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredImage {
    /// Image id.
    pub id: String,
    /// Stored record.
    pub record: ImageRecord,
}

/// Where an item of an album's partitions is: its album, its partition
/// (the album's shard) and its sort key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItemKey {
    /// Its album (organization and id).
    pub album: AlbumKey,
    /// Partition key (`A#<org>/<album>` or `A#<org>/<album>#<shard>`).
    pub pk: String,
    /// Sort key.
    pub sk: String,
}

impl ItemKey {
    /// The key of the item at `pk`/`sk`, if `pk` is an album partition.
    pub fn of(pk: &str, sk: &str) -> Result<Self, StoreError> {
        let (album, _) = album_of_shard_pk(pk).ok_or_else(|| {
            StoreError::Corrupt(format!("expected an album partition, found {pk}"))
        })?;
        Ok(Self {
            album,
            pk: pk.to_string(),
            sk: sk.to_string(),
        })
    }
}

/// Extra items each shard's first Query of a listing reads beyond its
/// share (`limit / shards`), so that a page rarely needs a second Query
/// on any shard: images spread evenly over shards by id, so a shard's
/// share of the newest `limit` images varies by about its square root.
const SHARE_SLACK: f64 = 1.25;

impl Store {
    /// Writes images into an album in batches, as a copy does (seeding and
    /// tests; the webhook has its own idempotent path). Recounts the album
    /// afterwards.
    pub async fn put_images(
        &self,
        key: &AlbumKey,
        images: &[StoredImage],
    ) -> Result<u64, StoreError> {
        let album = self
            .get_album(key)
            .await?
            .ok_or_else(|| StoreError::AlbumMissing(key.id.clone()))?;
        let mut requests = Vec::with_capacity(images.len());
        for img in images {
            requests.push(self.image_item(&album, &img.id, &img.record)?);
        }
        batch::write_all(self, requests).await?;
        self.recount_images(key).await
    }

    /// The item of an image of `album` (in the shard its id falls in).
    pub fn image_item(
        &self,
        album: &Album,
        image_id: &str,
        record: &ImageRecord,
    ) -> Result<Item, StoreError> {
        let millis = sort_millis(&record.created_at).ok_or_else(|| {
            StoreError::Corrupt(format!("image {image_id} has an invalid created_at"))
        })?;
        let data = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(HashMap::from([
            (PK.into(), s(image_pk(&album.key(), album.shards, image_id))),
            (SK.into(), s(image_sk(millis, image_id))),
            (IMAGE_ID.into(), s(image_id)),
            (DATA.into(), s(data)),
        ]))
    }

    /// Decodes an image item (needs `sk` and `d`).
    pub fn decode_image(item: &Item) -> Result<StoredImage, StoreError> {
        let sk = get_s(item, SK)?;
        let id =
            image_id_of_sk(sk).ok_or_else(|| StoreError::Corrupt(format!("bad image key {sk}")))?;
        let record = serde_json::from_str(get_s(item, DATA)?)
            .map_err(|e| StoreError::Corrupt(format!("image {id}: {e}")))?;
        Ok(StoredImage {
            id: id.to_string(),
            record,
        })
    }

    /// The `limit` newest images of an album, newest first.
    pub async fn newest_images(
        &self,
        album: &Album,
        limit: usize,
    ) -> Result<Vec<StoredImage>, StoreError> {
        Ok(self.images_page(album, limit, None).await?.0)
    }

    /// Records one image unless an image with its id is already in the
    /// album; keeps `images_count` exact. Returns whether it was new.
    ///
    /// The item is put marked [`UNCOUNTED`] and the mark is removed once
    /// its ±1 is settled. A repeat (a re-delivered webhook, a retried
    /// move) that finds the image unmarked answers at once: whoever put it
    /// counted it. One that finds the mark (the first writer failed or
    /// crashed between the put and the count, or is still between them)
    /// settles the count by a recount (the one running, or its own), which
    /// repairs a count left short, then removes it. Before
    /// the mark every repeat recounted the whole album: under throttling,
    /// when re-deliveries are many, those recounts took the partition's
    /// reads and the rate collapsed (decision 0003, BENCHMARKS.md).
    pub async fn add_image(&self, album: &Album, image: &StoredImage) -> Result<bool, StoreError> {
        let mut item = self.image_item(album, &image.id, &image.record)?;
        item.insert(UNCOUNTED.into(), n(1));
        let key = album.key();
        let epoch = self.bump_seq_to_add(&key).await?;
        let added = self.put_if_absent(&item).await?;
        if added {
            self.settle_count(&key, 1, epoch).await?;
        } else if self.is_uncounted(&item).await? {
            self.recount_after_write(&key).await?;
        } else {
            return Ok(false);
        }
        // The count is settled: a mark left behind (its removal refused,
        // say by a throttled partition) costs only a recount if the image
        // is ever delivered again; answering 503 for it made every such
        // upload a repeat that recounted (BENCHMARKS.md, "Past the
        // ceiling").
        if let Err(e) = self.mark_counted(&item).await {
            tracing::warn!(error = %e, image = %image.id, "uncounted mark left on a counted image");
        }
        Ok(added)
    }

    /// Whether the image item at `item`'s key still carries the
    /// [`UNCOUNTED`] mark (a strongly consistent read of it alone).
    async fn is_uncounted(&self, item: &Item) -> Result<bool, StoreError> {
        let (pk, sk) = (get_s(item, PK)?, get_s(item, SK)?);
        let got = retry::bounded("GetItem", self.budgets.read, {
            self.get_at(pk, sk)
                .consistent_read(true)
                .projection_expression("#uc")
                .expression_attribute_names("#uc", UNCOUNTED)
                .send()
        })
        .await?;
        Ok(got.item.is_some_and(|i| i.contains_key(UNCOUNTED)))
    }

    /// Removes the [`UNCOUNTED`] mark of the image item at `item`'s key,
    /// if the image is still there (a racing delete may have taken it; an
    /// update must not bring it back).
    async fn mark_counted(&self, item: &Item) -> Result<(), StoreError> {
        let (pk, sk) = (get_s(item, PK)?, get_s(item, SK)?);
        retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(pk, sk)
                .update_expression("REMOVE #uc")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#uc", UNCOUNTED)
                .send()
        })
        .await?;
        Ok(())
    }

    /// Where image `image` goes in `album`: the shard its id falls in, the
    /// sort key of its creation time.
    pub fn image_key(album: &Album, image: &StoredImage) -> Result<ItemKey, StoreError> {
        let millis = sort_millis(&image.record.created_at).ok_or_else(|| {
            StoreError::Corrupt(format!("image {} has an invalid created_at", image.id))
        })?;
        Ok(ItemKey {
            pk: image_pk(&album.key(), album.shards, &image.id),
            album: album.key(),
            sk: image_sk(millis, &image.id),
        })
    }

    /// Puts `image` into `album` with the tag associations `tags` (written
    /// first: they sort before their image, and a crash between leaves
    /// them for the repeat to find, not an image without its tags), the
    /// count exact ([`Store::add_image`]). Returns its key and whether the
    /// image was new there.
    pub async fn place_image(
        &self,
        album: &Album,
        image: &StoredImage,
        tags: &[super::tags::TagStamp],
    ) -> Result<(ItemKey, bool), StoreError> {
        let key = Self::image_key(album, image)?;
        self.put_tag_stamps(&key, image, tags).await?;
        let added = self.add_image(album, image).await?;
        Ok((key, added))
    }

    /// Deletes the image at `key`, and its tag associations first (a crash
    /// between leaves the image, which a repeat deletes); keeps
    /// `images_count` exact. Returns whether it existed (a second delete
    /// recounts and says no).
    pub async fn remove_image(&self, key: &ItemKey) -> Result<bool, StoreError> {
        self.delete_tag_images_of(key).await?;
        let album = &key.album;
        let epoch = self.bump_seq(album).await?;
        if self.delete_existing(key).await? {
            self.settle_count(album, -1, epoch).await?;
            Ok(true)
        } else {
            self.recount_after_write(album).await?;
            Ok(false)
        }
    }

    /// The image at `key` (a strongly consistent read), if it is there.
    pub async fn image_at(&self, key: &ItemKey) -> Result<Option<StoredImage>, StoreError> {
        match self.get_item(key.pk.clone(), &key.sk).await? {
            Some(item) => Self::decode_image(&item).map(Some),
            None => Ok(None),
        }
    }

    /// Replaces the record of the image at `key` if it is still there:
    /// `false` when it was not (deleted or moved away meanwhile), and
    /// nothing is written. The count does not change.
    pub async fn replace_image_record(
        &self,
        key: &ItemKey,
        record: &ImageRecord,
    ) -> Result<bool, StoreError> {
        let data = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(&key.pk, &key.sk)
                .condition_expression("attribute_exists(pk)")
                .update_expression("SET #d = :d")
                .expression_attribute_names("#d", DATA)
                .expression_attribute_values(":d", s(&data))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Deletes the item at `key` if it exists: `true` when this call
    /// deleted it, `false` when it was not there.
    pub(super) async fn delete_existing(&self, key: &ItemKey) -> Result<bool, StoreError> {
        let res = retry::conditional("DeleteItem", self.budgets.write, {
            self.delete_at(&key.pk, &key.sk)
                .condition_expression("attribute_exists(pk)")
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Where image `image_id` of organization `org` is (through the
    /// `by_image` index, which is eventually consistent). Another
    /// organization's image of that id is not found (decision 0014).
    pub async fn find_image(
        &self,
        org: &str,
        image_id: &str,
    ) -> Result<Option<ItemKey>, StoreError> {
        Ok(self
            .find_image_copies(org, image_id)
            .await?
            .into_iter()
            .next())
    }

    /// Every copy of image `image_id`: one, or two while a move or a
    /// re-shard has written it to its new partition and not yet deleted it
    /// from the old one (decisions 0011, 0012). A delete takes them all, so
    /// that finishing the move cannot bring the image back. Only
    /// organization `org`'s (decision 0014).
    pub async fn find_image_copies(
        &self,
        org: &str,
        image_id: &str,
    ) -> Result<Vec<ItemKey>, StoreError> {
        let mut keys = self.find_all_by_item_id(org, image_id).await?;
        keys.retain(|k| k.sk.starts_with(IMAGE_SK_PREFIX));
        Ok(keys)
    }

    /// Every item of organization `org` whose `iid` is `id` (more than
    /// one only mid-move). Ids are derived, not drawn, so another
    /// organization may hold an item of the same id: it is left out, as
    /// if it did not exist (decision 0014), and so are items of the layout
    /// before it (not yet migrated).
    pub(super) async fn find_all_by_item_id(
        &self,
        org: &str,
        id: &str,
    ) -> Result<Vec<ItemKey>, StoreError> {
        // The organization's partitions only, filtered by the index (every
        // page read, so that other organizations' items of this id cannot
        // crowd the caller's out of a page).
        let prefix = format!("A#{org}/");
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = retry::bounded("Query", self.budgets.read, {
                self.index_query(BY_IMAGE_INDEX, "iid = :id")
                    .filter_expression("begins_with(pk, :org)")
                    .expression_attribute_values(":id", s(id))
                    .expression_attribute_values(":org", s(&prefix))
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            for item in out.items() {
                let pk = get_s(item, PK)?;
                if album_of_shard_pk(pk).is_some_and(|(album, _)| album.org == org) {
                    keys.push(ItemKey::of(pk, get_s(item, SK)?)?);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(keys),
            }
        }
    }

    /// A strongly consistent Query of the image items of partition `pk`
    /// (one shard of an album): what listing, counting and copying an
    /// album start from.
    pub(super) fn images_query(&self, pk: &str) -> Query {
        self.partition_query(pk, "begins_with(sk, :img)")
            .expression_attribute_values(":img", s(IMAGE_SK_PREFIX))
    }

    /// A strongly consistent Query of everything in partition `pk` (one
    /// shard of an album) but the album item: tag associations (`G#…`),
    /// then images (`I#…`). What a copy with tags and a move read
    /// (decision 0011).
    pub(super) fn content_query(&self, pk: &str) -> Query {
        self.partition_query(pk, "sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":lo", s(TAG_IMAGE_SK_PREFIX))
            .expression_attribute_values(":hi", s(ALBUM_CONTENT_END))
    }

    /// Whether anything (images or tag associations) is left in album
    /// `album`'s partitions besides the album item.
    pub async fn has_content(&self, album: &Album) -> Result<bool, StoreError> {
        for shard in 0..album.shards {
            let out = retry::bounded("Query", self.budgets.read, {
                self.content_query(&shard_pk(&album.key(), shard))
                    .projection_expression("sk")
                    .limit(1)
                    .send()
            })
            .await?;
            if !out.items().is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// One page of an album's images, newest first, and the key to
    /// continue after (only when more images follow).
    ///
    /// A sharded album's page is a k-way merge of its shards' newest-first
    /// Queries: each shard is first asked for its share of the page (plus
    /// slack), and asked again only when its buffered images run out
    /// before the page is full, so a page reads about `limit × 1.25`
    /// images whatever the shard count. The continuation key holds each
    /// shard's position (decision 0012).
    pub async fn images_page(
        &self,
        album: &Album,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<(Vec<StoredImage>, Option<PageKey>), StoreError> {
        let shards = album.shards.max(1);
        if shards == 1 {
            return self.shard_page(album, limit, start).await;
        }
        let share = ((limit as f64 / f64::from(shards)) * SHARE_SLACK).ceil() as i32 + 1;
        let positions = start.map(|k| k.fields().clone()).unwrap_or_default();
        let key = album.key();
        let mut streams: Vec<ShardStream> = (0..shards)
            .map(|shard| ShardStream {
                pk: shard_pk(&key, shard),
                after: positions.get(&shard_field(shard)).cloned(),
                buffered: VecDeque::new(),
                exhausted: false,
                emitted: None,
            })
            .collect();
        let mut page = Vec::with_capacity(limit);
        let mut last_sk: Option<String> = None;
        while page.len() < limit {
            let refills = streams
                .iter_mut()
                .filter(|s| s.buffered.is_empty() && !s.exhausted)
                .map(|s| self.refill(s, share));
            futures_util::future::try_join_all(refills).await?;
            let Some(newest) = streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.buffered.front().map(|(sk, _)| (sk, i)))
                .max()
                .map(|(_, i)| i)
            else {
                break;
            };
            let stream = &mut streams[newest];
            let (sk, item) = stream.buffered.pop_front().expect("a buffered image");
            stream.emitted = Some(sk.clone());
            // An image seen twice (a re-shard moving it) is listed once.
            if last_sk.as_deref() != Some(sk.as_str()) {
                page.push(Self::decode_image(&item)?);
            }
            last_sk = Some(sk);
        }
        let next = if page.is_empty() {
            None
        } else {
            continuation(positions, &streams)
        };
        Ok((page, next))
    }

    /// Reads the next images of one shard into its buffer.
    async fn refill(&self, stream: &mut ShardStream, share: i32) -> Result<(), StoreError> {
        let start = stream
            .after
            .as_ref()
            .map(|sk| Item::from([(PK.to_string(), s(&stream.pk)), (SK.to_string(), s(sk))]));
        let out = retry::bounded("Query", self.budgets.read, {
            self.images_query(&stream.pk)
                .projection_expression("sk, d")
                .scan_index_forward(false)
                .limit(share)
                .set_exclusive_start_key(start.clone())
                .send()
        })
        .await?;
        for item in out.items() {
            let sk = get_s(item, SK)?.to_string();
            stream.after = Some(sk.clone());
            stream.buffered.push_back((sk, item.clone()));
        }
        stream.exhausted = out.last_evaluated_key.as_ref().is_none_or(|k| k.is_empty());
        Ok(())
    }

    /// One page of a one-shard album (its partition is the album's own).
    async fn shard_page(
        &self,
        album: &Album,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<(Vec<StoredImage>, Option<PageKey>), StoreError> {
        let pk = shard_pk(&album.key(), 0);
        // Continue at the cursor's sort key in this album's partition: a
        // cursor names no partition the caller could pick (nor one of the
        // layout before decision 0014).
        let start = start
            .as_ref()
            .and_then(|k| k.fields().get(SK).cloned())
            .map(|sk| Item::from([(PK.to_string(), s(&pk)), (SK.to_string(), s(sk))]));
        let out = retry::bounded("Query", self.budgets.read, {
            self.images_query(&pk)
                .projection_expression("sk, d")
                .scan_index_forward(false)
                .limit(limit as i32 + 1)
                .set_exclusive_start_key(start.clone())
                .send()
        })
        .await?;
        let mut images = out
            .items()
            .iter()
            .map(Self::decode_image)
            .collect::<Result<Vec<_>, _>>()?;
        // More follow when the Query found one beyond `limit`, or when its
        // 1 MB page ended first (large items): continue after the last kept.
        let page_cut_short = out
            .last_evaluated_key
            .as_ref()
            .is_some_and(|k| !k.is_empty());
        let more = images.len() > limit || page_cut_short;
        images.truncate(limit);
        let next = (more && !images.is_empty()).then(|| {
            let last_sk = get_s(&out.items()[images.len() - 1], SK).unwrap_or_default();
            PageKey::from_fields([
                (PK.to_string(), pk.clone()),
                (SK.to_string(), last_sk.to_string()),
            ])
        });
        Ok((images, next))
    }
}

/// Where a merged page that ended with `streams` in that state goes on:
/// each shard's last emitted key over the page's own start `positions`;
/// `None` when every shard is read to its end.
fn continuation(
    mut positions: BTreeMap<String, String>,
    streams: &[ShardStream],
) -> Option<PageKey> {
    let more = streams
        .iter()
        .any(|s| !s.buffered.is_empty() || !s.exhausted);
    if !more {
        return None;
    }
    for (shard, s) in streams.iter().enumerate() {
        if let Some(sk) = &s.emitted {
            positions.insert(shard_field(shard as u32), sk.clone());
        }
    }
    Some(PageKey::from_fields(positions))
}

/// The cursor field of a shard's position in a sharded listing.
fn shard_field(shard: u32) -> String {
    format!("s{shard}")
}

/// One shard's side of a merged listing.
struct ShardStream {
    pk: String,
    /// Where its next Query starts (after this sort key).
    after: Option<String>,
    /// Read, not yet merged: (sort key, item), newest first.
    buffered: VecDeque<(String, Item)>,
    /// Nothing more to read.
    exhausted: bool,
    /// The last sort key the page took from it.
    emitted: Option<String>,
}
