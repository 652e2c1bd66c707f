//! Moving an album's items (tag associations and images) into another
//! album, or into other partitions of the same album (a re-shard):
//! written to the destination, then deleted from the source (decision 0011).

use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::album::Album;
use crate::store::batch::{BATCH_SIZE, Writer, delete_request, put_request};
use crate::store::copy::{CopyOptions, is_image};
use crate::store::keys::*;
use crate::store::retry::bounded;
use crate::store::{Item, Store, StoreError};

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
/// delete the same keys. Stops queueing [`crate::deadline::DRAIN_ALLOWANCE`]
/// before the deadline it runs under, for the batches in flight. Counts and the album items are the
/// caller's business (decision 0011).
pub async fn move_items(
    store: &Store,
    source: &Album,
    destination: &Album,
    opts: &CopyOptions,
) -> Result<MoveReport, MoveFailure> {
    let mut report = MoveReport::default();
    if source.id != destination.id
        && let Err(error) = store.bump_seq_to_add(&destination.key()).await
    {
        return Err(MoveFailure { report, error });
    }
    let mut writer = Writer::new(store, opts.concurrency_into(destination));
    let read = queue_moves(store, &mut writer, source, destination, opts).await;
    let drained = writer.drain().await;
    let done = writer.progress();
    report.items_moved = done.items_completed;
    report.images_moved = done.images_completed;
    report.batch_calls = done.calls;
    report.retries = done.retries;
    match read.and_then(|everything| drained.map(|_| everything)) {
        Ok(read_everything) => {
            report.finished = read_everything && done.all_completed;
            Ok(report)
        }
        Err(error) => Err(MoveFailure { report, error }),
    }
}

/// Reads each of the source's partitions page by page and queues each
/// batch's puts, then its deletes, until everything is read (`true`) or the
/// deadline passes (`false`).
async fn queue_moves(
    store: &Store,
    writer: &mut Writer,
    source: &Album,
    destination: &Album,
    opts: &CopyOptions,
) -> Result<bool, StoreError> {
    let stop_at = crate::deadline::stop_queueing_at();
    let past_deadline = || stop_at.is_some_and(|d| Instant::now() >= d);
    for shard in 0..source.shards.max(1) {
        let source_pk = shard_pk(&source.key(), shard);
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
    Ok(image_pk(&album.key(), album.shards, image_id))
}
