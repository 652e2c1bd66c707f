//! The album copy: an album's image items (and, with `tags=true`, their
//! tag associations) streamed into another album.
//!
//! Source pages (1 MB Query pages, strongly consistent) are turned into
//! 25-item `BatchWriteItem` calls that run with bounded parallelism
//! ([`super::batch`]) while the next page is read. Memory stays bounded by
//! the in-flight batches plus one page, whatever the album's size. Each
//! copy gets a deterministic id (UUIDv5 of destination id and source image
//! id) and keeps its source's sort time, so re-running a copy rewrites the
//! same items instead of adding new ones: retries, re-deliveries and
//! concurrent runs cannot create doubles (decision 0004).
//!
//! The *resume key* is the source key of the last item of the longest run
//! of completed batches, so every item up to it is known to be written. A
//! copy stopped by its deadline stops queueing batches, lets those in
//! flight finish, and reports a resume key that covers everything it
//! wrote: resuming rewrites nothing. After a crash the caller's last saved
//! key is at most a checkpoint behind.

use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use uuid::Uuid;

use super::batch::{BATCH_SIZE, DEFAULT_CONCURRENCY, Writer, put_request};
use super::keys::*;
use super::retry::bounded;
use super::tags::tag_image_id;
use super::{Item, PageKey, Store, StoreError};
use crate::album::Album;

/// Kept here too: the copy's callers name it with the copy.
pub use crate::deadline::DRAIN_ALLOWANCE;

/// Namespace of copy ids (UUIDv5). Never change it: ids of copies made
/// before the change would no longer match, and re-runs would double them.
pub const COPY_NAMESPACE: Uuid = Uuid::from_u128(0x8c1d_5f0e_2b7a_4e59_9a63_0d4f_b2e1_c7a8);

/// The id of the copy of `source_image_id` in album `destination_id`.
pub fn copy_id(destination_id: &str, source_image_id: &str) -> String {
    let name = format!("{destination_id}/{source_image_id}");
    Uuid::new_v5(&COPY_NAMESPACE, name.as_bytes()).to_string()
}

/// Tuning of one copy.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// `BatchWriteItem` calls in flight at once.
    pub concurrency: usize,
    /// Where to start reading the source (a resume key), `None` for the beginning.
    pub start_key: Option<PageKey>,
    /// Items per source Query page (`None`: DynamoDB's 1 MB pages).
    pub page_limit: Option<i32>,
    /// Stop queueing once this many source items are queued (`None`: no
    /// limit), as if the deadline had come: a job slice's share of the
    /// work when it is bounded by items rather than time.
    pub max_items: Option<u64>,
    /// The destination was created for this copy, which starts from the
    /// beginning. Every other copy first bumps the destination's `seq`, as
    /// single-image writers do, so that the creator can tell afterwards
    /// whether anyone else wrote into the album
    /// ([`super::Store::settle_fresh_count`], decision 0003).
    pub fresh_destination: bool,
    /// Copy the source images' tag associations too (`tags=true`): the
    /// copy reads the range `[G#, I$]` (associations, then images) instead
    /// of the images alone, in one ordered pass with one resume key
    /// (decision 0011).
    pub with_tags: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            start_key: None,
            page_limit: None,
            max_items: None,
            fresh_destination: false,
            with_tags: false,
        }
    }
}

/// What a copy did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CopyReport {
    /// Source items read.
    pub items_read: u64,
    /// Item writes acknowledged (re-sent unprocessed items count again).
    pub items_written: u64,
    /// `BatchWriteItem` calls made.
    pub batch_calls: u64,
    /// Calls that were retries (unprocessed items or retryable errors).
    pub retries: u64,
    /// Items DynamoDB handed back as `UnprocessedItems` and the copy sent
    /// again (each time it did).
    pub items_resent: u64,
    /// Source items whose batches all completed, up to the resume key.
    pub items_completed: u64,
    /// Of those, images (the rest are tag associations): what counts.
    pub images_completed: u64,
    /// Whether every source item is written.
    pub finished: bool,
    /// The source key of the last item up to which every batch completed:
    /// where to resume when not finished (the start key when nothing
    /// completed), the last item copied when finished.
    pub resume_key: Option<PageKey>,
}

/// The copy of an image item (or, with tags, a tag association) of the
/// source, as a put into `destination`.
fn copy_request(destination: &Album, mut item: Item) -> Result<WriteRequest, StoreError> {
    let destination_id = destination.id.as_str();
    let sk = match item.remove(SK) {
        Some(AttributeValue::S(sk)) => sk,
        _ => return Err(StoreError::Corrupt("image item without sk".into())),
    };
    if sk.starts_with(TAG_IMAGE_SK_PREFIX) {
        return tag_copy_request(destination, &sk, item);
    }
    let (Some(prefix), Some(source_id)) = (image_sk_time_prefix(&sk), image_id_of_sk(&sk)) else {
        return Err(StoreError::Corrupt(format!("bad image key {sk}")));
    };
    let data = item
        .remove(DATA)
        .ok_or_else(|| StoreError::Corrupt(format!("image {source_id} has no data")))?;
    let new_id = copy_id(destination_id, source_id);
    let dest_pk = image_pk(&destination.key(), destination.shards, &new_id);
    let new_item = Item::from([
        (PK.to_string(), AttributeValue::S(dest_pk)),
        (
            SK.to_string(),
            AttributeValue::S(format!("{prefix}{new_id}")),
        ),
        (IMAGE_ID.to_string(), AttributeValue::S(new_id)),
        (DATA.to_string(), data),
    ]);
    put_request(new_item)
}

/// The copy of a tag association: it tags the copy of its image (whose id
/// is known without reading it), with an id derived the same way, and
/// keeps when and by whom the source was tagged, so a re-run rewrites the
/// same item.
fn tag_copy_request(
    destination: &Album,
    sk: &str,
    mut item: Item,
) -> Result<WriteRequest, StoreError> {
    let destination_id = destination.id.as_str();
    let (ms, image_id, tag_id) = tag_image_sk_parts(sk)
        .ok_or_else(|| StoreError::Corrupt(format!("bad tag association key {sk}")))?;
    let copy_image = copy_id(destination_id, image_id);
    let ms: i64 = ms
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("bad tag association key {sk}")))?;
    // With its image's copy, in the same shard.
    item.insert(
        PK.to_string(),
        AttributeValue::S(image_pk(
            &destination.key(),
            destination.shards,
            &copy_image,
        )),
    );
    item.insert(
        SK.to_string(),
        AttributeValue::S(tag_image_sk(ms, &copy_image, tag_id)),
    );
    item.insert(
        IMAGE_ID.to_string(),
        AttributeValue::S(tag_image_id(&copy_image, tag_id)),
    );
    put_request(item)
}

/// A copy that stopped on an error: what it had completed by then (its
/// report says where to resume), and the error.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct CopyFailure {
    /// Progress made before the error (`items_completed`, `resume_key`).
    pub report: CopyReport,
    /// Why the copy stopped.
    #[source]
    pub error: StoreError,
}

/// Copies every image of album `source` into album `destination` (both must
/// exist; counts are the caller's business). Stops queueing, cleanly,
/// [`DRAIN_ALLOWANCE`] before the deadline it runs under (the one deadline,
/// [`crate::deadline`]; a caller sets a sooner one for a step with
/// [`crate::deadline::bulk`]), reporting where to resume; batches in flight
/// then finish by the deadline. On an error the failure still carries the
/// progress made, so the caller can save it (decision 0006). When finished,
/// the report's resume key is the source key of the last item copied.
pub async fn copy_images(
    store: &Store,
    source: &Album,
    destination: &Album,
    opts: &CopyOptions,
) -> Result<CopyReport, CopyFailure> {
    let mut report = CopyReport {
        resume_key: opts.start_key.clone(),
        ..CopyReport::default()
    };
    if !opts.fresh_destination {
        // Announce the writes before making them (decision 0003); refused
        // while the destination is being moved away (decision 0011).
        if let Err(error) = store.bump_seq_to_add(&destination.key()).await {
            return Err(CopyFailure { report, error });
        }
    }
    let mut writer = Writer::new(store, opts.concurrency_into(destination));
    let read = queue_pages(store, &mut writer, &mut report, source, destination, opts).await;
    // Batches already queued finish (or fail) either way: progress to keep.
    let drained = writer.drain().await;
    let done = writer.progress();
    report.items_written = done.written;
    report.batch_calls = done.calls;
    report.retries = done.retries;
    report.items_resent = done.resent;
    report.items_completed = done.items_completed;
    report.images_completed = done.images_completed;
    if let Some(mark) = done.watermark {
        report.resume_key = mark;
    }
    match read.and_then(|everything| drained.map(|_| everything)) {
        Ok(read_everything) => {
            report.finished = read_everything && done.all_completed;
            Ok(report)
        }
        Err(error) => Err(CopyFailure { report, error }),
    }
}

/// Reads the source page by page and queues its batches until every page
/// is read (`true`) or the deadline passes (`false`).
async fn queue_pages(
    store: &Store,
    writer: &mut Writer,
    report: &mut CopyReport,
    source: &Album,
    destination: &Album,
    opts: &CopyOptions,
) -> Result<bool, StoreError> {
    // The source's shards are read one after the other, each in key order:
    // one ordered pass, so the resume key (a shard's partition and a sort
    // key) says where to go on, as for an album of one partition.
    // The start key's partition names the shard; the source's own key is
    // put back around its sort key, so a resume key saved before album
    // keys named the organization (decision 0014) resumes in place.
    let first_shard = opts
        .start_key
        .as_ref()
        .and_then(|k| k.field(PK))
        .map_or(0, shard_number);
    let source_key = source.key();
    let mut start = opts.start_key.as_ref().and_then(|k| {
        let sk = k.field(SK)?;
        Some(Item::from([
            (
                PK.to_string(),
                AttributeValue::S(shard_pk(&source_key, first_shard)),
            ),
            (SK.to_string(), AttributeValue::S(sk.to_string())),
        ]))
    });
    for shard in first_shard..source.shards.max(1) {
        let source_pk = shard_pk(&source_key, shard);
        loop {
            if opts.enough(report.items_read) {
                return Ok(false);
            }
            let out = bounded("Query", store.budgets().page, {
                let query = if opts.with_tags {
                    store.content_query(&source_pk)
                } else {
                    store
                        .images_query(&source_pk)
                        .projection_expression("sk, d")
                };
                query
                    .set_limit(opts.page_limit)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            let page = out.items.unwrap_or_default();
            if !queue_page(writer, report, page, &source_pk, destination, opts).await? {
                return Ok(false);
            }
            match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        start = None;
    }
    Ok(true)
}

/// Queues the copies of one source page (read from partition `source_pk`)
/// in batches, each ending at the source key of its last item; `false`
/// when the copy had enough before the page's end.
async fn queue_page(
    writer: &mut Writer,
    report: &mut CopyReport,
    page: Vec<Item>,
    source_pk: &str,
    destination: &Album,
    opts: &CopyOptions,
) -> Result<bool, StoreError> {
    let mut items = page.into_iter().peekable();
    while items.peek().is_some() {
        if opts.enough(report.items_read) {
            return Ok(false);
        }
        let mut chunk = Vec::with_capacity(BATCH_SIZE);
        let mut last_sk = None;
        let mut images = 0;
        // Never past `max_items`: a job step's share is what its quota
        // reservation allows (decision 0015), not a batch more.
        let room = opts.max_items.map_or(BATCH_SIZE, |most| {
            (most.saturating_sub(report.items_read) as usize).min(BATCH_SIZE)
        });
        for item in items.by_ref().take(room) {
            last_sk = item.get(SK).cloned();
            if is_image(&item) {
                images += 1;
            }
            chunk.push(copy_request(destination, item)?);
        }
        report.items_read += chunk.len() as u64;
        let end_key = last_sk.and_then(|sk| match sk {
            AttributeValue::S(sk) => Some(PageKey::from_fields([
                (PK.to_string(), source_pk.to_string()),
                (SK.to_string(), sk),
            ])),
            _ => None,
        });
        writer
            .spawn_then(chunk, Vec::new(), images, end_key)
            .await?;
    }
    Ok(true)
}

impl CopyOptions {
    /// Batches in flight for a copy (or move) into `destination`: the
    /// configured number, or two per destination shard when that is more
    /// (at most 64), so a sharded destination's partitions are all kept
    /// busy (decision 0012).
    pub(super) fn concurrency_into(&self, destination: &Album) -> usize {
        self.concurrency
            .max(2 * destination.shards as usize)
            .min(64)
    }

    /// Whether a pass that has read `read` source items should stop
    /// queueing: its deadline is near ([`crate::deadline::stop_queueing_at`]),
    /// or it has its share of items.
    fn enough(&self, read: u64) -> bool {
        crate::deadline::stop_queueing_at().is_some_and(|d| Instant::now() >= d)
            || self.max_items.is_some_and(|most| read >= most)
    }
}

/// Whether `item` is an image (not a tag association).
pub(super) fn is_image(item: &Item) -> bool {
    matches!(item.get(SK), Some(AttributeValue::S(sk)) if sk.starts_with(IMAGE_SK_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ids_are_deterministic_and_destination_specific() {
        assert_eq!(copy_id("new_id", "img-1"), copy_id("new_id", "img-1"));
        assert_ne!(copy_id("new_id", "img-1"), copy_id("other", "img-1"));
        assert_ne!(copy_id("new_id", "img-1"), copy_id("new_id", "img-2"));
        assert_eq!(
            Uuid::parse_str(&copy_id("a", "b"))
                .unwrap()
                .get_version_num(),
            5
        );
    }

    #[test]
    fn copy_request_rewrites_keys_and_keeps_data() {
        let item = Item::from([
            (PK.to_string(), AttributeValue::S("A#org/src".into())),
            (
                SK.to_string(),
                AttributeValue::S("I#0001554745126797#img-1".into()),
            ),
            (DATA.to_string(), AttributeValue::S("{\"a\":1}".into())),
        ]);
        let req = copy_request(&Album::new("dst", "org", "2019-04-08T17:38:46Z"), item).unwrap();
        let put = req.put_request().unwrap().item();
        let id = copy_id("dst", "img-1");
        assert_eq!(put[PK], AttributeValue::S("A#org/dst".into()));
        assert_eq!(
            put[SK],
            AttributeValue::S(format!("I#0001554745126797#{id}"))
        );
        assert_eq!(put[IMAGE_ID], AttributeValue::S(id));
        assert_eq!(put[DATA], AttributeValue::S("{\"a\":1}".into()));
    }
}
