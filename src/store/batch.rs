//! The `BatchWriteItem` engine: batches of 25 written with bounded
//! parallelism, retried, and their completion tracked in the order they
//! were queued.
//!
//! Copies, moves and bulk writes feed it batches; it tells them how far
//! every batch is written (the *watermark*: the end key of the longest run
//! of completed batches from the first), so a stopped copy knows where to
//! resume without rewriting anything (decision 0004). The SDK's own
//! retries are off for these calls: [`write_batch`]'s loop is the only
//! one (decision 0006).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::keys::{PK, SK};
use super::retry::{bounded_raw, pause_within_deadline};
use super::{Item, PageKey, RetryPolicy, Store, StoreError, describe, is_retryable};
use crate::deadline;

/// Most requests one `BatchWriteItem` takes.
pub const BATCH_SIZE: usize = 25;

/// Batches in flight when nobody says otherwise (`COPY_CONCURRENCY`).
pub const DEFAULT_CONCURRENCY: usize = 8;

/// A put of `item`.
pub(super) fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// A delete of the item with `item`'s key (its other attributes are ignored).
pub(super) fn delete_request(mut item: Item) -> Result<WriteRequest, StoreError> {
    let mut key_part = |name: &str| {
        item.remove(name)
            .ok_or_else(|| StoreError::Corrupt(format!("key without {name}")))
    };
    let key = Item::from([
        (PK.to_string(), key_part(PK)?),
        (SK.to_string(), key_part(SK)?),
    ]);
    let del = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(WriteRequest::builder().delete_request(del).build())
}

/// What the writer's batch tasks count, across tasks.
#[derive(Default)]
struct Counters {
    written: AtomicU64,
    calls: AtomicU64,
    retries: AtomicU64,
    resent: AtomicU64,
}

/// One queued batch, in queue order.
struct BatchProgress {
    done: bool,
    items: u64,
    images: u64,
    /// Source key of the batch's last item (where to resume after it).
    end_key: Option<PageKey>,
}

/// What one `BatchWriteItem` call needs, shared by every batch task.
#[derive(Clone)]
struct Call {
    client: Client,
    table: Arc<str>,
    policy: RetryPolicy,
    /// Budget of one batch call (attempt timeouts cut it sooner).
    budget: std::time::Duration,
    /// The per-call override that switches the SDK's retries off.
    no_sdk_retries: aws_sdk_dynamodb::config::Builder,
    counters: Arc<Counters>,
}

/// Writes one batch, re-sending `UnprocessedItems` and retryable failures
/// with full-jitter backoff until done, the policy's attempts run out, or
/// the deadline comes (no sleep runs past it).
async fn write_batch(call: &Call, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
    let counters = &call.counters;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if attempt > 1 {
            counters.retries.fetch_add(1, Ordering::Relaxed);
        }
        counters.calls.fetch_add(1, Ordering::Relaxed);
        let sent = requests.len();
        let out = call
            .client
            .batch_write_item()
            .request_items(call.table.as_ref(), requests.clone())
            .customize()
            .config_override(call.no_sdk_retries.clone())
            .send();
        match bounded_raw("BatchWriteItem", call.budget, out).await? {
            Ok(out) => {
                let unprocessed = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(call.table.as_ref()))
                    .unwrap_or_default();
                counters.written.fetch_add(
                    (sent - unprocessed.len().min(sent)) as u64,
                    Ordering::Relaxed,
                );
                if unprocessed.is_empty() {
                    return Ok(());
                }
                requests = unprocessed;
                if attempt >= call.policy.max_attempts {
                    return Err(StoreError::RetriesExhausted {
                        pending: requests.len(),
                        attempts: attempt,
                    });
                }
                counters
                    .resent
                    .fetch_add(requests.len() as u64, Ordering::Relaxed);
            }
            Err(e) if is_retryable(&e) && attempt < call.policy.max_attempts => {
                tracing::warn!(attempt, error = %describe(&e), "BatchWriteItem failed; retrying");
            }
            Err(e) if is_retryable(&e) => {
                return Err(StoreError::Unavailable(format!(
                    "BatchWriteItem after {attempt} attempts: {}",
                    describe(&e)
                )));
            }
            Err(e) => return Err(StoreError::Dynamo(describe(&e))),
        }
        pause_within_deadline("BatchWriteItem", call.policy.backoff(attempt)).await?;
    }
}

/// What a writer did, once drained.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Progress {
    /// Item writes acknowledged (re-sent unprocessed items count again).
    pub written: u64,
    /// `BatchWriteItem` calls made.
    pub calls: u64,
    /// Calls that were retries.
    pub retries: u64,
    /// Items handed back as `UnprocessedItems` and sent again.
    pub resent: u64,
    /// Items of the batches up to the watermark.
    pub items_completed: u64,
    /// Of those, images.
    pub images_completed: u64,
    /// The end key of the last batch up to which every batch completed
    /// (`None` outside: no batch completed).
    pub watermark: Option<Option<PageKey>>,
    /// Whether every queued batch completed.
    pub all_completed: bool,
}

/// Runs batches with bounded parallelism, tracking which have completed.
pub(super) struct Writer {
    call: Call,
    /// The deadline batch tasks run under (they do not inherit the caller's).
    task_deadline: Option<Instant>,
    permits: Arc<Semaphore>,
    tasks: JoinSet<Result<u64, StoreError>>,
    /// Queued batches not yet covered by the watermark; front = oldest.
    batches: VecDeque<BatchProgress>,
    /// Sequence number of `batches.front()`.
    first_seq: u64,
    watermark: Option<Option<PageKey>>,
    items_completed: u64,
    images_completed: u64,
}

impl Writer {
    /// A writer whose batches end by the caller's deadline, which spawned
    /// tasks do not inherit by themselves.
    pub(super) fn new(store: &Store, concurrency: usize) -> Self {
        let task_deadline = deadline::current();
        Self {
            call: Call {
                client: store.client().clone(),
                table: Arc::from(store.table()),
                policy: store.policy().clone(),
                budget: store.budgets().page,
                no_sdk_retries: aws_sdk_dynamodb::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
                counters: Arc::default(),
            },
            task_deadline,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            tasks: JoinSet::new(),
            batches: VecDeque::new(),
            first_seq: 0,
            watermark: None,
            items_completed: 0,
            images_completed: 0,
        }
    }

    /// Queues one batch, and `then` (another batch, e.g. the deletes of a
    /// move) once the first is completely written; `images` of its items
    /// are images, and `end_key` is the source key of its last item.
    pub(super) async fn spawn_then(
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
        let call = self.call.clone();
        self.tasks
            .spawn(deadline::scope(self.task_deadline, async move {
                let _permit = permit;
                write_batch(&call, requests).await?;
                if !then.is_empty() {
                    write_batch(&call, then).await?;
                }
                Ok(seq)
            }));
        Ok(())
    }

    /// Records a finished batch task; the first error aborts the others.
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

    /// Waits for every queued batch (the first error stops the rest).
    pub(super) async fn drain(&mut self) -> Result<(), StoreError> {
        while let Some(done) = self.tasks.join_next().await {
            self.finish(done)?;
        }
        Ok(())
    }

    /// What the writer did so far.
    pub(super) fn progress(&self) -> Progress {
        let counters = &self.call.counters;
        Progress {
            written: counters.written.load(Ordering::Relaxed),
            calls: counters.calls.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
            resent: counters.resent.load(Ordering::Relaxed),
            items_completed: self.items_completed,
            images_completed: self.images_completed,
            watermark: self.watermark.clone(),
            all_completed: self.batches.is_empty(),
        }
    }
}

/// Applies `to_request` to each of `items` and writes them all with the
/// same batching, parallelism and retries as a copy; the item writes made.
async fn write_each(
    store: &Store,
    items: Vec<Item>,
    to_request: fn(Item) -> Result<WriteRequest, StoreError>,
) -> Result<u64, StoreError> {
    let mut writer = Writer::new(store, DEFAULT_CONCURRENCY);
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk = items
            .by_ref()
            .take(BATCH_SIZE)
            .map(to_request)
            .collect::<Result<Vec<_>, _>>()?;
        let images = chunk.len() as u64;
        writer.spawn_then(chunk, Vec::new(), images, None).await?;
    }
    writer.drain().await?;
    Ok(writer.progress().written)
}

/// Deletes the items with keys `keys` (items holding at least `pk` and
/// `sk`) with the same batching, parallelism and retries as a copy.
pub async fn delete_all(store: &Store, keys: Vec<Item>) -> Result<u64, StoreError> {
    write_each(store, keys, delete_request).await
}

/// Writes `items` with the same batching, parallelism and retries as a copy.
pub async fn write_all(store: &Store, items: Vec<Item>) -> Result<u64, StoreError> {
    write_each(store, items, put_request).await
}
