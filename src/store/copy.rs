//! The batch copier: streams an album's image items into another album.
//!
//! Source pages (1 MB Query pages, strongly consistent) are turned into
//! 25-item `BatchWriteItem` calls that run with bounded parallelism while the
//! next page is read. Memory stays bounded by the in-flight batches plus one
//! page, whatever the album's size. Each copy gets a deterministic id
//! (UUIDv5 of destination id and source image id) and keeps its source's sort
//! time, so re-running a copy rewrites the same items instead of adding new
//! ones: retries, re-deliveries and concurrent runs cannot create doubles.
//!
//! Progress is tracked per batch: the *resume key* is the source key of the
//! last item of the longest run of completed batches, so every item up to it
//! is known to be written. A copy stopped by its deadline stops queueing
//! batches, lets those in flight finish, and reports a resume key that
//! covers everything it wrote: resuming rewrites nothing. After a crash the
//! caller's last saved key is at most a checkpoint behind.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::keys::*;
use super::retry::{bounded, bounded_raw, pause_within_deadline};
use super::{Item, PageKey, RetryPolicy, Store, StoreError, describe, is_retryable};
use crate::album::Album;
use crate::deadline;

/// How long batches still in flight when a copy's deadline passes may take
/// to finish (retries included) before they are given up: the copy then
/// reports where to resume and the caller still has time to save it.
pub const DRAIN_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Most requests one `BatchWriteItem` takes.
pub const BATCH_SIZE: usize = 25;

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
    /// Stop reading new pages after this instant (in-flight batches finish).
    pub deadline: Option<Instant>,
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
            concurrency: 8,
            start_key: None,
            deadline: None,
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

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    calls: AtomicU64,
    retries: AtomicU64,
    resent: AtomicU64,
}

/// One queued batch, in source order.
struct BatchProgress {
    done: bool,
    items: u64,
    images: u64,
    /// Source key of the batch's last item (where to resume after it).
    end_key: Option<PageKey>,
}

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
    let dest_pk = image_pk(destination_id, destination.shards, &new_id);
    let new_item = Item::from([
        (PK.to_string(), AttributeValue::S(dest_pk)),
        (
            SK.to_string(),
            AttributeValue::S(format!("{prefix}{new_id}")),
        ),
        (IMAGE_ID.to_string(), AttributeValue::S(new_id)),
        (DATA.to_string(), data),
    ]);
    let put = PutRequest::builder()
        .set_item(Some(new_item))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(WriteRequest::builder().put_request(put).build())
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
        AttributeValue::S(image_pk(destination_id, destination.shards, &copy_image)),
    );
    item.insert(
        SK.to_string(),
        AttributeValue::S(tag_image_sk(ms, &copy_image, tag_id)),
    );
    item.insert(
        IMAGE_ID.to_string(),
        AttributeValue::S(super::tags::tag_image_id(&copy_image, tag_id)),
    );
    put_request(item)
}

fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

fn delete_request(mut item: Item) -> Result<WriteRequest, StoreError> {
    let key = Item::from([
        (
            PK.to_string(),
            item.remove(PK)
                .ok_or_else(|| StoreError::Corrupt("key without pk".into()))?,
        ),
        (
            SK.to_string(),
            item.remove(SK)
                .ok_or_else(|| StoreError::Corrupt("key without sk".into()))?,
        ),
    ]);
    let del = aws_sdk_dynamodb::types::DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(WriteRequest::builder().delete_request(del).build())
}

/// Writes one batch, re-sending `UnprocessedItems` and retryable failures
/// with full-jitter backoff until done, the policy's attempts run out, or
/// the deadline comes (no sleep runs past it). The SDK's own retries are
/// off for this call: this loop is the only one (decision 0006).
async fn write_batch(
    client: Client,
    table: Arc<str>,
    mut requests: Vec<WriteRequest>,
    policy: RetryPolicy,
    budget: std::time::Duration,
    no_sdk_retries: aws_sdk_dynamodb::config::Builder,
    counters: Arc<Counters>,
) -> Result<(), StoreError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if attempt > 1 {
            counters.retries.fetch_add(1, Ordering::Relaxed);
        }
        counters.calls.fetch_add(1, Ordering::Relaxed);
        let sent = requests.len();
        let call = client
            .batch_write_item()
            .request_items(table.as_ref(), requests.clone())
            .customize()
            .config_override(no_sdk_retries.clone())
            .send();
        match bounded_raw("BatchWriteItem", budget, call).await? {
            Ok(out) => {
                let unprocessed = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(table.as_ref()))
                    .unwrap_or_default();
                counters.written.fetch_add(
                    (sent - unprocessed.len().min(sent)) as u64,
                    Ordering::Relaxed,
                );
                if unprocessed.is_empty() {
                    return Ok(());
                }
                requests = unprocessed;
                if attempt >= policy.max_attempts {
                    return Err(StoreError::RetriesExhausted {
                        pending: requests.len(),
                        attempts: attempt,
                    });
                }
                counters
                    .resent
                    .fetch_add(requests.len() as u64, Ordering::Relaxed);
            }
            Err(e) if is_retryable(&e) => {
                if attempt >= policy.max_attempts {
                    return Err(StoreError::Unavailable(format!(
                        "BatchWriteItem after {attempt} attempts: {}",
                        describe(&e)
                    )));
                }
                tracing::warn!(attempt, error = %describe(&e), "BatchWriteItem failed; retrying");
            }
            Err(e) => return Err(StoreError::Dynamo(describe(&e))),
        }
        pause_within_deadline("BatchWriteItem", policy.backoff(attempt)).await?;
    }
}

/// Runs batches with bounded parallelism, tracking which have completed.
struct Writer {
    client: Client,
    table: Arc<str>,
    policy: RetryPolicy,
    /// Budget of one batch call (attempt timeouts cut it sooner).
    budget: std::time::Duration,
    /// The deadline batch tasks run under (they do not inherit the caller's).
    task_deadline: Option<Instant>,
    /// The per-call override that switches the SDK's retries off.
    no_sdk_retries: aws_sdk_dynamodb::config::Builder,
    permits: Arc<Semaphore>,
    tasks: JoinSet<Result<u64, StoreError>>,
    counters: Arc<Counters>,
    /// Queued batches not yet covered by the watermark; front = oldest.
    batches: VecDeque<BatchProgress>,
    /// Sequence number of `batches.front()`.
    first_seq: u64,
    /// Resume key covering every completed batch so far (`None` inside: none yet).
    watermark: Option<Option<PageKey>>,
    items_completed: u64,
    images_completed: u64,
}

impl Writer {
    /// A writer whose batches end by `task_deadline` (and the caller's
    /// own deadline, which spawned tasks do not inherit by themselves).
    fn new(store: &Store, concurrency: usize, task_deadline: Option<Instant>) -> Self {
        let inherited = deadline::current();
        let task_deadline = match (inherited, task_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            client: store.client().clone(),
            table: Arc::from(store.table()),
            policy: store.policy().clone(),
            budget: store.budgets().page,
            task_deadline,
            no_sdk_retries: aws_sdk_dynamodb::config::Builder::default()
                .retry_config(aws_config::retry::RetryConfig::disabled()),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            tasks: JoinSet::new(),
            counters: Arc::default(),
            batches: VecDeque::new(),
            first_seq: 0,
            watermark: None,
            items_completed: 0,
            images_completed: 0,
        }
    }

    /// Queues one batch whose last source item has key `end_key`.
    async fn spawn(
        &mut self,
        requests: Vec<WriteRequest>,
        end_key: Option<PageKey>,
    ) -> Result<(), StoreError> {
        let images = requests.len() as u64;
        self.spawn_then(requests, Vec::new(), images, end_key).await
    }

    /// Queues one batch, and `then` (another batch, e.g. the deletes of a
    /// move) once the first is completely written; `images` of its items
    /// are images.
    async fn spawn_then(
        &mut self,
        requests: Vec<WriteRequest>,
        then: Vec<WriteRequest>,
        images: u64,
        end_key: Option<PageKey>,
    ) -> Result<(), StoreError> {
        // Fail fast: surface finished batches' errors before queueing more.
        while let Some(done) = self.tasks.try_join_next() {
            self.finish(done)?;
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Dynamo("copy cancelled".into()))?;
        let seq = self.first_seq + self.batches.len() as u64;
        self.batches.push_back(BatchProgress {
            done: false,
            items: requests.len() as u64,
            images,
            end_key,
        });
        let (client, table, policy, budget, no_retries, counters) = (
            self.client.clone(),
            self.table.clone(),
            self.policy.clone(),
            self.budget,
            self.no_sdk_retries.clone(),
            self.counters.clone(),
        );
        self.tasks
            .spawn(deadline::scope(self.task_deadline, async move {
                let _permit = permit;
                write_batch(
                    client.clone(),
                    table.clone(),
                    requests,
                    policy.clone(),
                    budget,
                    no_retries.clone(),
                    counters.clone(),
                )
                .await?;
                if !then.is_empty() {
                    write_batch(client, table, then, policy, budget, no_retries, counters).await?;
                }
                Ok(seq)
            }));
        Ok(())
    }

    fn finish(
        &mut self,
        done: Result<Result<u64, StoreError>, tokio::task::JoinError>,
    ) -> Result<(), StoreError> {
        let seq = match done {
            Ok(Ok(seq)) => seq,
            Ok(Err(e)) => {
                self.tasks.abort_all();
                return Err(e);
            }
            Err(e) => {
                self.tasks.abort_all();
                return Err(StoreError::Dynamo(format!("copy task failed: {e}")));
            }
        };
        if let Some(b) = seq
            .checked_sub(self.first_seq)
            .and_then(|i| self.batches.get_mut(i as usize))
        {
            b.done = true;
        }
        while self.batches.front().is_some_and(|b| b.done) {
            let b = self.batches.pop_front().expect("front exists");
            self.first_seq += 1;
            self.items_completed += b.items;
            self.images_completed += b.images;
            self.watermark = Some(b.end_key);
        }
        Ok(())
    }

    async fn drain(&mut self) -> Result<(), StoreError> {
        while let Some(done) = self.tasks.join_next().await {
            self.finish(done)?;
        }
        Ok(())
    }
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
/// exist; counts are the caller's business). Stops early, cleanly, when
/// `opts.deadline` passes, reporting where to resume; batches in flight then
/// get [`DRAIN_ALLOWANCE`] more. On an error the failure still carries the
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
        if let Err(error) = store.bump_seq_to_add(&destination.id).await {
            return Err(CopyFailure { report, error });
        }
    }
    let mut writer = Writer::new(
        store,
        concurrency_for(opts, destination),
        opts.deadline.map(|d| d + DRAIN_ALLOWANCE),
    );
    let read = queue_pages(store, &mut writer, &mut report, source, destination, opts).await;
    // Batches already queued finish (or fail) either way: progress to keep.
    let drained = writer.drain().await;
    report.items_written = writer.counters.written.load(Ordering::Relaxed);
    report.batch_calls = writer.counters.calls.load(Ordering::Relaxed);
    report.retries = writer.counters.retries.load(Ordering::Relaxed);
    report.items_resent = writer.counters.resent.load(Ordering::Relaxed);
    report.items_completed = writer.items_completed;
    report.images_completed = writer.images_completed;
    if let Some(mark) = writer.watermark.take() {
        report.resume_key = mark;
    }
    match read.and_then(|everything| drained.map(|_| everything)) {
        Ok(read_everything) => {
            report.finished = read_everything && writer.batches.is_empty();
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
    let enough = |read: u64| {
        opts.deadline.is_some_and(|d| Instant::now() >= d)
            || opts.max_items.is_some_and(|most| read >= most)
    };
    // The source's shards are read one after the other, each in key order:
    // one ordered pass, so the resume key (a shard's partition and a sort
    // key) says where to go on, as for an album of one partition.
    let first_shard = opts
        .start_key
        .as_ref()
        .and_then(|k| k.field(PK))
        .and_then(album_of_shard_pk)
        .map_or(0, |(_, shard)| shard);
    let mut start = opts.start_key.as_ref().map(PageKey::to_item);
    for shard in first_shard..source.shards.max(1) {
        let source_pk = shard_pk(&source.id, shard);
        loop {
            if enough(report.items_read) {
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
            let next = out.last_evaluated_key.filter(|k| !k.is_empty());
            let mut items = out.items.unwrap_or_default().into_iter().peekable();
            while items.peek().is_some() {
                if enough(report.items_read) {
                    return Ok(false);
                }
                let mut chunk = Vec::with_capacity(BATCH_SIZE);
                let mut last_sk = None;
                let mut images = 0;
                for item in items.by_ref().take(BATCH_SIZE) {
                    last_sk = item.get(SK).cloned();
                    if is_image(&item) {
                        images += 1;
                    }
                    chunk.push(copy_request(destination, item)?);
                }
                report.items_read += chunk.len() as u64;
                let end_key = last_sk.and_then(|sk| match sk {
                    AttributeValue::S(sk) => Some(PageKey::from_fields([
                        (PK.to_string(), source_pk.clone()),
                        (SK.to_string(), sk),
                    ])),
                    _ => None,
                });
                writer
                    .spawn_then(chunk, Vec::new(), images, end_key)
                    .await?;
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        start = None;
    }
    Ok(true)
}

/// Batches in flight for a copy into `destination`: the configured
/// number, or two per destination shard when that is more (at most 64),
/// so a sharded destination's partitions are all kept busy (decision 0012).
fn concurrency_for(opts: &CopyOptions, destination: &Album) -> usize {
    opts.concurrency
        .max(2 * destination.shards as usize)
        .min(64)
}

fn is_image(item: &Item) -> bool {
    matches!(item.get(SK), Some(AttributeValue::S(sk)) if sk.starts_with(IMAGE_SK_PREFIX))
}

/// What a move did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MoveReport {
    /// Items (images and tag associations) now in the destination and no
    /// longer in the source.
    pub items_moved: u64,
    /// Of those, images.
    pub images_moved: u64,
    /// `BatchWriteItem` calls made.
    pub batch_calls: u64,
    /// Calls that were retries.
    pub retries: u64,
    /// Whether the source held nothing more when the pass ended.
    pub finished: bool,
}

/// A move that stopped on an error, with what it had moved by then.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct MoveFailure {
    /// Progress made before the error.
    pub report: MoveReport,
    /// Why the move stopped.
    #[source]
    pub error: StoreError,
}

/// Moves every item of album `source`'s partition but the album item
/// (tag associations and images) into album `destination`, keeping ids and
/// sort keys: each batch is written to the destination, then, once wholly
/// written, deleted from the source. An item is therefore never in
/// neither album; a crash leaves some in both, and a re-run (which simply
/// starts over: what was moved is no longer in the source) rewrites them
/// identically and deletes them. Concurrent runs write the same items and
/// delete the same keys. Stops queueing at `opts.deadline` (in-flight
/// batches get [`DRAIN_ALLOWANCE`]). Counts and the album items are the
/// caller's business (decision 0011).
pub async fn move_items(
    store: &Store,
    source: &Album,
    destination: &Album,
    opts: &CopyOptions,
) -> Result<MoveReport, MoveFailure> {
    let mut report = MoveReport::default();
    if source.id != destination.id
        && let Err(error) = store.bump_seq_to_add(&destination.id).await
    {
        return Err(MoveFailure { report, error });
    }
    let mut writer = Writer::new(
        store,
        concurrency_for(opts, destination),
        opts.deadline.map(|d| d + DRAIN_ALLOWANCE),
    );
    let read = queue_moves(store, &mut writer, source, destination, opts).await;
    let drained = writer.drain().await;
    report.items_moved = writer.items_completed;
    report.images_moved = writer.images_completed;
    report.batch_calls = writer.counters.calls.load(Ordering::Relaxed);
    report.retries = writer.counters.retries.load(Ordering::Relaxed);
    match read.and_then(|everything| drained.map(|_| everything)) {
        Ok(read_everything) => {
            report.finished = read_everything && writer.batches.is_empty();
            Ok(report)
        }
        Err(error) => Err(MoveFailure { report, error }),
    }
}

async fn queue_moves(
    store: &Store,
    writer: &mut Writer,
    source: &Album,
    destination: &Album,
    opts: &CopyOptions,
) -> Result<bool, StoreError> {
    let past_deadline = || opts.deadline.is_some_and(|d| Instant::now() >= d);
    for shard in 0..source.shards.max(1) {
        let source_pk = shard_pk(&source.id, shard);
        let mut start: Option<Item> = None;
        loop {
            if past_deadline() {
                return Ok(false);
            }
            let out = bounded("Query", store.budgets().page, {
                store
                    .content_query(&source_pk)
                    .set_limit(opts.page_limit)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            let next = out.last_evaluated_key.filter(|k| !k.is_empty());
            let mut items = out.items.unwrap_or_default().into_iter().peekable();
            while items.peek().is_some() {
                if past_deadline() {
                    return Ok(false);
                }
                let mut puts = Vec::with_capacity(BATCH_SIZE);
                let mut deletes = Vec::with_capacity(BATCH_SIZE);
                let mut images = 0;
                for mut item in items.by_ref().take(BATCH_SIZE) {
                    let target = target_pk(destination, &item)?;
                    if target == source_pk {
                        continue; // already where it belongs (a re-shard)
                    }
                    if is_image(&item) {
                        images += 1;
                    }
                    deletes.push(delete_request(item.clone())?);
                    item.insert(PK.to_string(), AttributeValue::S(target));
                    puts.push(put_request(item)?);
                }
                if !puts.is_empty() {
                    writer.spawn_then(puts, deletes, images, None).await?;
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    Ok(true)
}

/// The partition an image or tag association belongs in, in `album`:
/// its image's shard.
fn target_pk(album: &Album, item: &Item) -> Result<String, StoreError> {
    let sk = match item.get(SK) {
        Some(AttributeValue::S(sk)) => sk,
        _ => return Err(StoreError::Corrupt("item without sk".into())),
    };
    let image_id = image_id_of_sk(sk)
        .or_else(|| tag_image_sk_parts(sk).map(|(_, image, _)| image))
        .ok_or_else(|| StoreError::Corrupt(format!("bad key {sk}")))?;
    Ok(image_pk(&album.id, album.shards, image_id))
}

/// Deletes the items with keys `keys` (items holding at least `pk` and
/// `sk`) with the same batching, parallelism and retries as a copy.
pub async fn delete_all(store: &Store, keys: Vec<Item>) -> Result<u64, StoreError> {
    let mut writer = Writer::new(store, CopyOptions::default().concurrency, None);
    let mut keys = keys.into_iter().peekable();
    while keys.peek().is_some() {
        let chunk = keys
            .by_ref()
            .take(BATCH_SIZE)
            .map(delete_request)
            .collect::<Result<Vec<_>, _>>()?;
        writer.spawn(chunk, None).await?;
    }
    writer.drain().await?;
    Ok(writer.counters.written.load(Ordering::Relaxed))
}

/// Writes `items` with the same batching, parallelism and retries as a copy.
pub async fn write_all(store: &Store, items: Vec<Item>) -> Result<u64, StoreError> {
    let mut writer = Writer::new(store, CopyOptions::default().concurrency, None);
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk = items
            .by_ref()
            .take(BATCH_SIZE)
            .map(put_request)
            .collect::<Result<Vec<_>, _>>()?;
        writer.spawn(chunk, None).await?;
    }
    writer.drain().await?;
    Ok(writer.counters.written.load(Ordering::Relaxed))
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
            (PK.to_string(), AttributeValue::S("A#src".into())),
            (
                SK.to_string(),
                AttributeValue::S("I#0001554745126797#img-1".into()),
            ),
            (DATA.to_string(), AttributeValue::S("{\"a\":1}".into())),
        ]);
        let req = copy_request(&Album::new("dst", "org", "2019-04-08T17:38:46Z"), item).unwrap();
        let put = req.put_request().unwrap().item();
        let id = copy_id("dst", "img-1");
        assert_eq!(put[PK], AttributeValue::S("A#dst".into()));
        assert_eq!(
            put[SK],
            AttributeValue::S(format!("I#0001554745126797#{id}"))
        );
        assert_eq!(put[IMAGE_ID], AttributeValue::S(id));
        assert_eq!(put[DATA], AttributeValue::S("{\"a\":1}".into()));
    }
}
