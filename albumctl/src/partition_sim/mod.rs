//! Production physics in front of a local DynamoDB: the per-partition
//! limits that the emulators (dynalite, moto) do not have.
//!
//! [`PartitionSim`] is an HTTP/1.1 proxy (`albumctl partition-sim`, or
//! in-process for the integration tests) that forwards DynamoDB
//! JSON-protocol calls to an emulator and enforces DynamoDB's documented
//! per-partition throughput: one partition key takes at most 1,000 write
//! units and 3,000 read units per second, in the table and in each global
//! secondary index. The limits are parameters ([`Limits`]), so a bench can
//! scale them down until the partition, not the emulator, is what binds.
//!
//! # The model
//!
//! - **Partitions.** One token bucket per (table or index, partition key
//!   value) and direction (writes, reads), refilled at the limit per second,
//!   holding at most one second's worth (the burst), full when first used.
//!   The table's key attributes and every index's come from the table
//!   definition (`template.yaml`'s `AlbumsTable`, [`Schema::shipped`]); every
//!   table behind the proxy is taken to have that definition.
//! - **Item size**: DynamoDB's rule, UTF-8 attribute names plus values, as
//!   `album_api::store::item_size` counts them: strings by their UTF-8
//!   length, numbers by the length of their decimal text (DynamoDB stores
//!   about one byte per two significant digits: numbers are over-counted,
//!   by a few bytes), binaries by their decoded length; booleans and nulls
//!   1 byte, lists and maps 3 bytes plus 1 per element plus their elements
//!   (DynamoDB's rule; `item_size` never sees those types in the items it
//!   sizes).
//! - **Writes** (`PutItem`, `BatchWriteItem`'s puts): 1 write unit per
//!   started KB of the item, charged to the item's table partition, plus,
//!   for each index whose key attributes the item has, 1 unit per started
//!   KB of the index entry (`KEYS_ONLY`: the table's keys and the index's;
//!   `INCLUDE`: those and the listed attributes; `ALL`: the item), charged
//!   to the index's partition. A write is admitted when every bucket it
//!   charges holds its units (an item larger than a whole bucket goes when
//!   the bucket is full); then all are charged at once. A put that replaces
//!   an item is charged as a new item: the old item's index entries, whose
//!   removal DynamoDB also charges, are unknown to a proxy.
//! - **Deletes** (`DeleteItem`, `BatchWriteItem`'s deletes): 1 write unit
//!   to the table partition: the old item's size (DynamoDB charges by it)
//!   and its index entries are unknown to a proxy, so a delete of an item
//!   over 1 KB, or with index entries, is under-charged.
//! - **Updates** (`UpdateItem`): 1 write unit per started KB of the key plus
//!   every value the request sends (`ExpressionAttributeValues`,
//!   `AttributeUpdates`), at least 1, to the table partition: a lower bound,
//!   because DynamoDB charges by the larger of the item before and after,
//!   which a proxy does not see; an update that sets an index key is not
//!   charged to the index either. (The API's updates are album counters
//!   and job progress: small items, 1 unit either way.)
//! - **Reads**: 1 read unit per started 4 KB read, strongly consistent
//!   reads at full price, eventually consistent ones (and every index read)
//!   at half; `GetItem` and `BatchGetItem` per item (a missing item costs
//!   the minimum, as in DynamoDB), `Query` and `Scan` on the sum of the
//!   items read, rounded up once per call (at least one unit). What is read
//!   is what DynamoDB reads, not what it returns: when a request narrows its
//!   answer (a projection, `Select` such as `COUNT`, a filter), the proxy
//!   asks the emulator once more for the same items whole (a *sizing read*,
//!   not charged, counted in the totals) and charges their sizes. A read is
//!   admitted while its partition's bucket is not empty or in debt, and
//!   charged when the answer is back (its size is only known then), so
//!   reads can drive a bucket into debt that later reads wait out. A `Scan`
//!   has no partition to admit it by: it is always admitted and each
//!   partition whose items it read is charged for them.
//! - **Over the limit**, what DynamoDB sends: single-item writes and reads
//!   get 400 `ProvisionedThroughputExceededException` (the awsJson error
//!   body, with `ThrottlingReasons` such as
//!   `TableWriteKeyRangeThroughputExceeded`); a `BatchWriteItem`'s items
//!   whose partition is over its limit come back in `UnprocessedItems` and
//!   only the admitted ones are forwarded, and when none is admitted the
//!   whole call fails with `ProvisionedThroughputExceededException`;
//!   `BatchGetItem` likewise with `UnprocessedKeys`.
//! - **Not modelled**: table-level and account limits, adaptive capacity
//!   and partition splits, the 300 s of burst credit DynamoDB may keep for
//!   a table, transactions (`TransactWriteItems`, `TransactGetItems`: passed
//!   through uncharged, like every call the proxy does not model and every
//!   body it cannot parse), and upstream `UnprocessedItems` (the emulators
//!   never send any). Writes the emulator refuses (a validation error) are
//!   refunded; a refused condition is charged, as DynamoDB charges it.
//!
//! # Its accounting
//!
//! `GET /__sim/stats` answers [`SimStats`] as JSON: per partition (table,
//! index, key) the write and read units consumed, the calls throttled and
//! the batch items deferred; the same per table or index, per operation,
//! and in total (`?top=N` keeps the N partitions that consumed most).
//! `POST /__sim/reset` clears the accounting and refills every bucket.
//! Every other path is forwarded.
//!
//! [`self_test_load`] (`albumctl partition-sim-load`) is the load of its
//! self-test in `make bench`: 1 KB items into one key or two, counted once
//! a partition's burst is spent. BENCHMARKS.md ("Past one partition") has
//! its figures and what the copies do under the limits.

mod batch_get;
mod bucket;
mod charges;
mod clock;
mod control;
mod exchange;
mod layer;
mod ledger;
mod load;
mod partition;
mod read_request;
mod reads;
mod schema;
mod sim;
mod size;
mod stats;
mod throttle;
mod writes;

use std::sync::{Mutex, MutexGuard};

pub use bucket::Limits;
pub use clock::Clock;
pub use load::{LoadOptions, LoadReport, self_test_load};
pub use schema::Schema;
pub use sim::{PartitionSim, SimConfig};
pub use stats::{OperationUsage, PartitionRow, SimStats, TargetRow, Totals, Usage};

/// Locks a mutex whatever a panic elsewhere left in it: buckets, counters
/// and clocks stay usable, which a simulator under test needs more than
/// poisoning.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A JSON object literal as the map a request or an item is, for tests.
#[cfg(test)]
fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().expect("a JSON object")
}
