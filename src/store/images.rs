//! Images: their items, pages of an album's images, and single-image writes
//! that keep `images_count` exact (decision 0003).

use std::collections::HashMap;

use crate::image::{ImageRecord, sort_millis};

use super::item::{Item, PageKey, get_s, s};
use super::keys::*;
use super::{Store, StoreError, copy, retry};

/// An image as read back: its id and its stored record.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredImage {
    /// Image id.
    pub id: String,
    /// Stored record.
    pub record: ImageRecord,
}

impl Store {
    /// Writes images into an album in batches, as a copy does (seeding and
    /// tests; the webhook has its own idempotent path). Recounts the album
    /// afterwards.
    pub async fn put_images(
        &self,
        album_id: &str,
        images: &[StoredImage],
    ) -> Result<u64, StoreError> {
        let mut requests = Vec::with_capacity(images.len());
        for img in images {
            requests.push(self.image_item(album_id, &img.id, &img.record)?);
        }
        copy::write_all(self, requests).await?;
        self.recount_images(album_id).await
    }

    /// The item of an image.
    pub fn image_item(
        &self,
        album_id: &str,
        image_id: &str,
        record: &ImageRecord,
    ) -> Result<Item, StoreError> {
        let millis = sort_millis(&record.created_at).ok_or_else(|| {
            StoreError::Corrupt(format!("image {image_id} has an invalid created_at"))
        })?;
        let data = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(HashMap::from([
            (PK.into(), s(album_pk(album_id))),
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
        album_id: &str,
        limit: usize,
    ) -> Result<Vec<StoredImage>, StoreError> {
        Ok(self.images_page(album_id, limit, None).await?.0)
    }

    /// Records one image unless an image with its id is already in the
    /// album; keeps `images_count` exact. Returns whether it was new. A
    /// repeat (e.g. a re-delivered webhook) recounts, which also repairs a
    /// count left short by a crash between the write and the increment.
    pub async fn add_image(&self, album_id: &str, image: &StoredImage) -> Result<bool, StoreError> {
        let item = self.image_item(album_id, &image.id, &image.record)?;
        let seq = self.bump_seq_to_add(album_id).await?;
        if self.put_if_absent(&item).await? {
            self.settle_count(album_id, 1, seq).await?;
            Ok(true)
        } else {
            self.recount_images(album_id).await?;
            Ok(false)
        }
    }

    /// Deletes the image at `sk` of an album, and its tag associations
    /// first (a crash between leaves the image, which a repeat deletes);
    /// keeps `images_count` exact. Returns whether it existed (a second
    /// delete recounts and says no).
    pub async fn remove_image(&self, album_id: &str, sk: &str) -> Result<bool, StoreError> {
        self.delete_tag_images_of(album_id, sk).await?;
        let seq = self.bump_seq(album_id).await?;
        let res = retry::conditional("DeleteItem", self.budgets.write, {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(album_pk(album_id)))
                .key(SK, s(sk))
                .condition_expression("attribute_exists(pk)")
                .send()
        })
        .await?;
        match res {
            Some(_) => {
                self.settle_count(album_id, -1, seq).await?;
                Ok(true)
            }
            None => {
                self.recount_images(album_id).await?;
                Ok(false)
            }
        }
    }

    /// The album and sort key of image `image_id` (through the `by_image`
    /// index, which is eventually consistent).
    pub async fn find_image(&self, image_id: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .find_by_item_id(image_id)
            .await?
            .filter(|(_, sk)| sk.starts_with(IMAGE_SK_PREFIX)))
    }

    /// The album and sort key of the item whose `iid` is `id` (an image or
    /// a tag association), through the `by_image` index.
    pub(super) async fn find_by_item_id(
        &self,
        id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(BY_IMAGE_INDEX)
                .key_condition_expression("iid = :id")
                .expression_attribute_values(":id", s(id))
                .limit(1)
                .send()
        })
        .await?;
        let Some(item) = out.items().first() else {
            return Ok(None);
        };
        let pk = get_s(item, PK)?;
        let album = pk
            .strip_prefix("A#")
            .ok_or_else(|| StoreError::Corrupt(format!("item {id} indexed under {pk}")))?;
        Ok(Some((album.to_string(), get_s(item, SK)?.to_string())))
    }

    /// A strongly consistent Query of album `album_id`'s image items: what
    /// listing, counting and copying an album all start from.
    pub(super) fn album_images_query(
        &self,
        album_id: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :img)")
            .expression_attribute_values(":pk", s(album_pk(album_id)))
            .expression_attribute_values(":img", s(IMAGE_SK_PREFIX))
            .consistent_read(true)
    }

    /// A strongly consistent Query of everything in album `album_id`'s
    /// partition but the album item: tag associations (`G#…`), then images
    /// (`I#…`). What a copy with tags and a move read (decision 0011).
    pub(super) fn album_content_query(
        &self,
        album_id: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(album_pk(album_id)))
            .expression_attribute_values(":lo", s(TAG_IMAGE_SK_PREFIX))
            .expression_attribute_values(":hi", s(ALBUM_CONTENT_END))
            .consistent_read(true)
    }

    /// Whether anything (images or tag associations) is left in album
    /// `album_id`'s partition besides the album item.
    pub async fn has_content(&self, album_id: &str) -> Result<bool, StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            self.album_content_query(album_id)
                .projection_expression("sk")
                .limit(1)
                .send()
        })
        .await?;
        Ok(!out.items().is_empty())
    }

    /// One page of an album's images, newest first, and the key to continue
    /// after (only when more images follow).
    pub async fn images_page(
        &self,
        album_id: &str,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<(Vec<StoredImage>, Option<PageKey>), StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            self.album_images_query(album_id)
                .projection_expression("sk, d")
                .scan_index_forward(false)
                .limit(limit as i32 + 1)
                .set_exclusive_start_key(start.as_ref().map(PageKey::to_item))
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
                (PK.to_string(), album_pk(album_id)),
                (SK.to_string(), last_sk.to_string()),
            ])
        });
        Ok((images, next))
    }
}
