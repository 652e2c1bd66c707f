//! The trash: deleted images, restorable until DynamoDB's TTL removes them.
//!
//! One item per (organization, image): `pk = O#<org>`, `sk = X#<image id>`,
//! holding the image's album (`al`), when it was deleted (`da`), its record
//! (`d`, as an image item holds it) and its tag associations (`tags`), and
//! `expires_at` (the retention, `TRASH_RETENTION_DAYS`). It is written
//! before the image is deleted, so a delete cut off half-way has already
//! kept what it deletes. Keyed by image id, a restore reads it with one
//! `GetItem`; listed by image id (a Query of the organization's `X#`
//! range). It carries none of the indexes' key attributes (`iid`, `tg`,
//! `organization_id`): a trashed image is found by nothing that finds
//! images or tag images. A restore does not delete it: it marks it
//! restored (`ra`) and keeps it a day, so that a restore sent again after
//! its answer was lost still finds what it restored (decision 0020).

use super::item::{Item, PageKey, get_s, n, s};
use super::keys::{DATA, EXPIRES_AT, PK, SK, org_pk};
use super::tags::TagStamp;
use super::{Store, StoreError, retry};
use crate::image::ImageRecord;

/// Sort-key prefix of trashed images in the organization's partition.
pub const TRASH_SK_PREFIX: &str = "X#";
const ALBUM: &str = "al";
const DELETED_AT: &str = "da";
const TAGS: &str = "tags";
const RESTORED_AT: &str = "ra";
/// How long a restored trash item stays, marked: the time a client takes
/// to retry a restore whose answer it did not get.
const RESTORED_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn trash_sk(image_id: &str) -> String {
    format!("{TRASH_SK_PREFIX}{image_id}")
}

/// A deleted image in the trash.
#[derive(Clone, Debug, PartialEq)]
pub struct TrashedImage {
    /// The image's id.
    pub id: String,
    /// The album it was deleted from.
    pub album_id: String,
    /// When it was deleted (RFC 3339, milliseconds).
    pub deleted_at: String,
    /// Its record, as it was.
    pub record: ImageRecord,
    /// Its tag associations, as they were.
    pub tags: Vec<TagStamp>,
    /// When a restore put it back (the item is then kept a day only, and
    /// is no longer in the trash).
    pub restored_at: Option<String>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("trashed image: {e}"))
}

fn decode(item: &Item) -> Result<TrashedImage, StoreError> {
    let sk = get_s(item, SK)?;
    let id = sk
        .strip_prefix(TRASH_SK_PREFIX)
        .ok_or_else(|| corrupt(sk))?;
    let tags = match item.get(TAGS).and_then(|v| v.as_s().ok()) {
        Some(json) => serde_json::from_str(json).map_err(corrupt)?,
        None => Vec::new(),
    };
    Ok(TrashedImage {
        id: id.to_string(),
        album_id: get_s(item, ALBUM)?.to_string(),
        deleted_at: get_s(item, DELETED_AT)?.to_string(),
        record: serde_json::from_str(get_s(item, DATA)?).map_err(corrupt)?,
        tags,
        restored_at: item.get(RESTORED_AT).and_then(|v| v.as_s().ok()).cloned(),
    })
}

impl Store {
    /// Puts `image` of `org` in the trash until `expires_at` (epoch
    /// seconds), replacing what an earlier delete of the same id left.
    pub async fn put_trashed(
        &self,
        org: &str,
        image: &TrashedImage,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(&image.record).map_err(corrupt)?;
        let tags = serde_json::to_string(&image.tags).map_err(corrupt)?;
        let item = Item::from([
            (PK.to_string(), s(org_pk(org))),
            (SK.to_string(), s(trash_sk(&image.id))),
            (ALBUM.to_string(), s(&image.album_id)),
            (DELETED_AT.to_string(), s(&image.deleted_at)),
            (DATA.to_string(), s(data)),
            (TAGS.to_string(), s(tags)),
            (EXPIRES_AT.to_string(), n(expires_at)),
        ]);
        self.put(item).await
    }

    /// Image `image_id` of `org` in the trash, if it is there (a strongly
    /// consistent read; an item past its TTL that DynamoDB has not yet
    /// removed counts as gone), or restored from it within the last day
    /// (`restored_at` says so).
    pub async fn trashed(
        &self,
        org: &str,
        image_id: &str,
        now: u64,
    ) -> Result<Option<TrashedImage>, StoreError> {
        let Some(item) = self.get_item(org_pk(org), &trash_sk(image_id)).await? else {
            return Ok(None);
        };
        if expired(&item, now) {
            return Ok(None);
        }
        decode(&item).map(Some)
    }

    /// Takes image `image_id` out of the trash if it is still the deletion
    /// of `deleted_at` (a later delete of the same image, which trashed it
    /// anew, is kept): marks it restored at `restored_at` and lets it
    /// expire a day after `now`, so that a restore sent again finds it
    /// restored instead of missing. Whether it is marked (by this call or
    /// an earlier sending of the same restore).
    pub async fn mark_restored(
        &self,
        org: &str,
        image_id: &str,
        deleted_at: &str,
        restored_at: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(org_pk(org), trash_sk(image_id))
                .update_expression("SET #ra = if_not_exists(#ra, :ra), #ex = :ex")
                .condition_expression("#da = :da")
                .expression_attribute_names("#da", DELETED_AT)
                .expression_attribute_names("#ra", RESTORED_AT)
                .expression_attribute_names("#ex", EXPIRES_AT)
                .expression_attribute_values(":da", s(deleted_at))
                .expression_attribute_values(":ra", s(restored_at))
                .expression_attribute_values(":ex", n(now + RESTORED_KEPT.as_secs()))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// One page of `org`'s trash by image id (at most `limit` read), those
    /// of album `album` only when given: a page may hold fewer than
    /// `limit`, even none, and still be followed by another (the filter
    /// applies after the read, so that one page's cost stays `limit`
    /// items whatever the trash holds).
    pub async fn trash_page(
        &self,
        org: &str,
        album: Option<&str>,
        limit: usize,
        start: Option<PageKey>,
        now: u64,
    ) -> Result<(Vec<TrashedImage>, Option<PageKey>), StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            let q = self
                .partition_query(&org_pk(org), "begins_with(sk, :x)")
                .expression_attribute_values(":x", s(TRASH_SK_PREFIX))
                .limit(limit as i32)
                .set_exclusive_start_key(start.as_ref().map(PageKey::to_item));
            match album {
                Some(a) => q
                    .filter_expression("#al = :al")
                    .expression_attribute_names("#al", ALBUM)
                    .expression_attribute_values(":al", s(a)),
                None => q,
            }
            .send()
        })
        .await?;
        let images = out
            .items()
            .iter()
            .filter(|i| !expired(i, now) && !i.contains_key(RESTORED_AT))
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty()).map(|k| {
            PageKey::from_fields(
                k.iter()
                    .filter_map(|(name, v)| Some((name.clone(), v.as_s().ok()?.clone()))),
            )
        });
        Ok((images, next))
    }
}

/// Whether `item`'s TTL has passed (DynamoDB deletes expired items within
/// days, not at once).
fn expired(item: &Item, now: u64) -> bool {
    item.get(EXPIRES_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|at| at <= now)
}
