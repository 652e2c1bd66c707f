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

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::schema::{self, TableDefinition};

/// Content type of DynamoDB's JSON protocol (awsJson1_0).
const AMZ_JSON: &str = "application/x-amz-json-1.0";
/// Namespace of DynamoDB's own error types.
const DDB_ERR_NS: &str = "com.amazonaws.dynamodb.v20120810";
/// What DynamoDB says when a partition key's range is over its throughput.
const THROTTLE_MESSAGE: &str = "Throughput exceeds the current capacity of your table or index. \
     DynamoDB is automatically scaling your table or index so please try again shortly. If \
     exceptions persist, check if you have a hot key: \
     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html";
/// Bytes per write unit and per read unit.
const WRITE_UNIT_BYTES: usize = 1024;
const READ_UNIT_BYTES: usize = 4096;

// --------------------------------------------------------------------------
// the table definition

/// What an index projects, so what its entries weigh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Projection {
    /// The table's keys and the index's.
    KeysOnly,
    /// Those and the listed attributes.
    Include(Vec<String>),
    /// The whole item.
    All,
}

/// One global secondary index.
#[derive(Clone, Debug)]
pub struct IndexSchema {
    /// Its name (`IndexName` in requests).
    pub name: String,
    /// Its partition key attribute.
    pub hash_key: String,
    /// Its sort key attribute, if any.
    pub range_key: Option<String>,
    /// What its entries hold.
    pub projection: Projection,
}

/// The key attributes of the table and of its indexes.
#[derive(Clone, Debug)]
pub struct Schema {
    /// The table's partition key attribute.
    pub hash_key: String,
    /// The table's sort key attribute, if any.
    pub range_key: Option<String>,
    /// Its global secondary indexes.
    pub indexes: Vec<IndexSchema>,
}

fn hash_and_range(
    keys: &[aws_sdk_dynamodb::types::KeySchemaElement],
) -> Result<(String, Option<String>), String> {
    use aws_sdk_dynamodb::types::KeyType;
    let hash = keys
        .iter()
        .find(|k| *k.key_type() == KeyType::Hash)
        .ok_or("a key schema without a HASH key")?;
    let range = keys.iter().find(|k| *k.key_type() == KeyType::Range);
    Ok((
        hash.attribute_name().to_string(),
        range.map(|r| r.attribute_name().to_string()),
    ))
}

impl Schema {
    /// From a table definition read from a template.
    pub fn from_definition(def: &TableDefinition) -> Result<Self, String> {
        use aws_sdk_dynamodb::types::ProjectionType;
        let (hash_key, range_key) = hash_and_range(&def.key_schema)?;
        let mut indexes = Vec::new();
        for ix in &def.indexes {
            let (hash, range) = hash_and_range(ix.key_schema())
                .map_err(|e| format!("index {}: {e}", ix.index_name()))?;
            let projection = match ix.projection().and_then(|p| p.projection_type()) {
                Some(ProjectionType::All) => Projection::All,
                Some(ProjectionType::Include) => Projection::Include(
                    ix.projection()
                        .map(|p| p.non_key_attributes().to_vec())
                        .unwrap_or_default(),
                ),
                _ => Projection::KeysOnly,
            };
            indexes.push(IndexSchema {
                name: ix.index_name().to_string(),
                hash_key: hash,
                range_key: range,
                projection,
            });
        }
        Ok(Self {
            hash_key,
            range_key,
            indexes,
        })
    }

    /// The table resource of a SAM template's text.
    pub fn from_template(template: &str) -> Result<Self, String> {
        let def = schema::table_definition_from(template).map_err(|e| e.to_string())?;
        Self::from_definition(&def)
    }

    /// The shipped `template.yaml`'s table.
    pub fn shipped() -> Result<Self, String> {
        Self::from_template(schema::TEMPLATE)
    }

    fn index(&self, name: &str) -> Option<&IndexSchema> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The table's key attribute names.
    fn table_keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hash_key.as_str()).chain(self.range_key.as_deref())
    }
}

// --------------------------------------------------------------------------
// sizes and units

/// Bytes of an attribute value in DynamoDB's JSON wire form (`{"S": …}`).
pub fn attribute_size(value: &Value) -> usize {
    let Some((kind, v)) = value.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "N" => v.as_str().map_or(0, str::len),
        "B" => v.as_str().map_or(0, base64_decoded_len),
        "BOOL" | "NULL" => 1,
        "SS" | "NS" => v.as_array().map_or(0, |a| {
            a.iter().filter_map(Value::as_str).map(str::len).sum()
        }),
        "BS" => v.as_array().map_or(0, |a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(base64_decoded_len)
                .sum()
        }),
        "L" => v.as_array().map_or(3, |a| {
            3 + a.iter().map(|e| 1 + attribute_size(e)).sum::<usize>()
        }),
        "M" => v.as_object().map_or(3, |m| {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + attribute_size(e))
                .sum::<usize>()
        }),
        _ => 0,
    }
}

fn base64_decoded_len(s: &str) -> usize {
    let s = s.trim_end_matches('=');
    s.len() * 3 / 4
}

/// DynamoDB's size of an item in JSON wire form: attribute names plus values.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(k, v)| k.len() + attribute_size(v)).sum()
}

/// Write units of a write of `bytes`: one per started KB, at least one.
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Read units of a read of `bytes`: one per started 4 KB, at least one;
/// half that for an eventually consistent read.
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// A key attribute's value as text (`S`, `N`, or `B`'s base64).
fn key_text(value: &Value) -> Option<String> {
    let (kind, v) = value.as_object()?.iter().next()?;
    match kind.as_str() {
        "S" | "N" | "B" => v.as_str().map(str::to_string),
        _ => None,
    }
}

// --------------------------------------------------------------------------
// partitions, buckets and the ledger

/// One partition: a table's or an index's partition key value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PartitionId {
    /// The table.
    pub table: String,
    /// The index, when the partition is an index's.
    pub index: Option<String>,
    /// The partition key value.
    pub key: String,
}

impl PartitionId {
    fn new(table: &str, index: Option<&str>, key: String) -> Self {
        Self {
            table: table.to_string(),
            index: index.map(str::to_string),
            key,
        }
    }

    /// `TableWriteKeyRangeThroughputExceeded` and its kin.
    fn throttling_reason(&self, write: bool) -> Value {
        let reason = format!(
            "{}{}KeyRangeThroughputExceeded",
            if self.index.is_some() {
                "Index"
            } else {
                "Table"
            },
            if write { "Write" } else { "Read" }
        );
        let mut resource = format!("arn:aws:dynamodb:local:000000000000:table/{}", self.table);
        if let Some(index) = &self.index {
            resource.push_str("/index/");
            resource.push_str(index);
        }
        json!({"reason": reason, "resource": resource})
    }
}

/// The per-partition limits, in units per second.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Limits {
    /// Write units per second per partition key (DynamoDB: 1,000).
    pub wcu_per_partition: f64,
    /// Read units per second per partition key (DynamoDB: 3,000).
    pub rcu_per_partition: f64,
}

impl Limits {
    /// DynamoDB's documented per-partition limits.
    pub const AWS: Limits = Limits {
        wcu_per_partition: 1000.0,
        rcu_per_partition: 3000.0,
    };
}

/// The simulator's time: real, or moved by hand (tests that must not
/// depend on how fast the machine is).
#[derive(Clone, Debug)]
pub enum Clock {
    /// Time since the simulator started.
    Real(Instant),
    /// Time advanced only by [`Clock::advance`].
    Manual(Arc<Mutex<Duration>>),
}

impl Clock {
    /// The wall clock.
    pub fn real() -> Self {
        Clock::Real(Instant::now())
    }

    /// A clock that stands still until advanced.
    pub fn manual() -> Self {
        Clock::Manual(Arc::new(Mutex::new(Duration::ZERO)))
    }

    fn now(&self) -> Duration {
        match self {
            Clock::Real(start) => start.elapsed(),
            Clock::Manual(t) => *lock(t),
        }
    }

    /// Moves a manual clock forward (buckets refill by `by`); a real one
    /// ignores it.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(t) = self {
            *lock(t) += by;
        }
    }
}

/// A token bucket: `tokens` units available as of `at`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

impl Bucket {
    fn full(rate: f64, now: Duration) -> Self {
        Self {
            tokens: rate,
            at: now,
        }
    }

    /// Refills at `rate` per second up to one second's worth.
    fn refill(&mut self, rate: f64, now: Duration) {
        let dt = now.saturating_sub(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(rate);
        self.at = now.max(self.at);
    }
}

/// What one partition consumed and suffered.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Write units consumed.
    pub wcu: f64,
    /// Read units consumed.
    pub rcu: f64,
    /// Calls refused with `ProvisionedThroughputExceededException`
    /// (a batch counts on each partition that refused it).
    pub throttled: u64,
    /// Batch items or keys sent back unprocessed.
    pub deferred: u64,
}

/// Per-operation accounting.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OperationUsage {
    /// Calls received.
    pub calls: u64,
    /// Write units consumed.
    pub wcu: f64,
    /// Read units consumed.
    pub rcu: f64,
    /// Calls refused with `ProvisionedThroughputExceededException`.
    pub throttled: u64,
    /// Batch items or keys sent back unprocessed.
    pub deferred: u64,
    /// Items (or index entries) read, for reads.
    pub items_read: u64,
}

/// Totals over every partition and operation.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    /// DynamoDB calls received (with an `X-Amz-Target`).
    pub calls: u64,
    /// Calls it accounted for (the operations it models).
    pub accounted: u64,
    /// Calls forwarded untouched: operations it does not model, and bodies
    /// it could not read.
    pub passed_through: u64,
    /// Write units consumed.
    pub wcu: f64,
    /// Read units consumed.
    pub rcu: f64,
    /// Calls refused with `ProvisionedThroughputExceededException`.
    pub throttled: u64,
    /// Batch items or keys sent back unprocessed.
    pub deferred: u64,
    /// Second reads of narrowed reads, to learn the sizes of what they read.
    pub sizing_reads: u64,
    /// Calls whose upstream could not be reached (answered 502).
    pub upstream_errors: u64,
}

/// One partition's row in [`SimStats`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionRow {
    /// The table.
    pub table: String,
    /// The index, for an index's partition.
    pub index: Option<String>,
    /// The partition key value.
    pub key: String,
    /// What it consumed and suffered.
    #[serde(flatten)]
    pub usage: Usage,
}

/// One table's or index's row in [`SimStats`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetRow {
    /// The table.
    pub table: String,
    /// The index, for an index.
    pub index: Option<String>,
    /// Partitions that consumed or were refused anything.
    pub partitions: u64,
    /// What they consumed and suffered together.
    #[serde(flatten)]
    pub usage: Usage,
    /// The most any one of its partitions consumed (write units).
    pub hottest_partition_wcu: f64,
    /// The most any one of its partitions consumed (read units).
    pub hottest_partition_rcu: f64,
}

/// The simulator's accounting (`GET /__sim/stats`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimStats {
    /// The limits in force.
    pub limits: Limits,
    /// Totals.
    pub totals: Totals,
    /// Per operation (`PutItem`, `Query`, …).
    pub operations: BTreeMap<String, OperationUsage>,
    /// Per table and per index.
    pub targets: Vec<TargetRow>,
    /// Per partition, most consumed first (all, or the top N asked for).
    pub partitions: Vec<PartitionRow>,
    /// How many partitions there are in all.
    pub partitions_total: u64,
}

impl SimStats {
    /// One partition's usage (zero when it never saw a call).
    pub fn partition(&self, table: &str, index: Option<&str>, key: &str) -> Usage {
        self.partitions
            .iter()
            .find(|p| p.table == table && p.index.as_deref() == index && p.key == key)
            .map(|p| p.usage.clone())
            .unwrap_or_default()
    }

    /// One table's (`index: None`) or index's usage, summed over its partitions.
    pub fn target(&self, table: &str, index: Option<&str>) -> Usage {
        self.targets
            .iter()
            .find(|t| t.table == table && t.index.as_deref() == index)
            .map(|t| t.usage.clone())
            .unwrap_or_default()
    }

    /// One operation's usage.
    pub fn operation(&self, op: &str) -> OperationUsage {
        self.operations.get(op).cloned().unwrap_or_default()
    }
}

/// A write's charges: (partition, write units).
type Charges = Vec<(PartitionId, f64)>;

/// The buckets and the accounting.
#[derive(Debug)]
struct Ledger {
    limits: Limits,
    writes: HashMap<PartitionId, Bucket>,
    reads: HashMap<PartitionId, Bucket>,
    usage: HashMap<PartitionId, Usage>,
    ops: BTreeMap<String, OperationUsage>,
    totals: Totals,
}

impl Ledger {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            writes: HashMap::new(),
            reads: HashMap::new(),
            usage: HashMap::new(),
            ops: BTreeMap::new(),
            totals: Totals::default(),
        }
    }

    fn reset(&mut self) {
        *self = Self::new(self.limits);
    }

    fn op(&mut self, op: &str) -> &mut OperationUsage {
        self.ops.entry(op.to_string()).or_default()
    }

    fn write_bucket(&mut self, p: &PartitionId, now: Duration) -> &mut Bucket {
        let rate = self.limits.wcu_per_partition;
        let b = self
            .writes
            .entry(p.clone())
            .or_insert_with(|| Bucket::full(rate, now));
        b.refill(rate, now);
        b
    }

    fn read_bucket(&mut self, p: &PartitionId, now: Duration) -> &mut Bucket {
        let rate = self.limits.rcu_per_partition;
        let b = self
            .reads
            .entry(p.clone())
            .or_insert_with(|| Bucket::full(rate, now));
        b.refill(rate, now);
        b
    }

    /// Admits a write when every bucket it charges holds its units (at
    /// most a whole bucket's), and charges them; otherwise the partitions
    /// that refused it, and nothing is charged.
    fn try_write(
        &mut self,
        op: &str,
        charges: &[(PartitionId, f64)],
        now: Duration,
    ) -> Result<(), Vec<PartitionId>> {
        let cap = self.limits.wcu_per_partition;
        let blocked: Vec<PartitionId> = charges
            .iter()
            .filter(|(p, units)| self.write_bucket(p, now).tokens < units.min(cap))
            .map(|(p, _)| p.clone())
            .collect();
        if !blocked.is_empty() {
            return Err(blocked);
        }
        for (p, units) in charges {
            self.write_bucket(p, now).tokens -= units;
            self.usage.entry(p.clone()).or_default().wcu += units;
            self.totals.wcu += units;
            self.op(op).wcu += units;
        }
        Ok(())
    }

    /// Gives back what a write the emulator refused was charged.
    fn refund_write(&mut self, op: &str, charges: &[(PartitionId, f64)], now: Duration) {
        let cap = self.limits.wcu_per_partition;
        for (p, units) in charges {
            let b = self.write_bucket(p, now);
            b.tokens = (b.tokens + units).min(cap);
            self.usage.entry(p.clone()).or_default().wcu -= units;
            self.totals.wcu -= units;
            self.op(op).wcu -= units;
        }
    }

    /// Whether a read of `p` may start: its bucket is neither empty nor in debt.
    fn read_open(&mut self, p: &PartitionId, now: Duration) -> bool {
        self.read_bucket(p, now).tokens > 0.0
    }

    /// Charges a read that has been answered.
    fn charge_read(&mut self, op: &str, p: &PartitionId, units: f64, now: Duration) {
        self.read_bucket(p, now).tokens -= units;
        self.usage.entry(p.clone()).or_default().rcu += units;
        self.totals.rcu += units;
        self.op(op).rcu += units;
    }

    /// Records a call refused by the partitions `blocked`.
    fn throttled(&mut self, op: &str, blocked: &[PartitionId]) {
        let mut seen: Vec<&PartitionId> = Vec::new();
        for p in blocked {
            if !seen.contains(&p) {
                seen.push(p);
                self.usage.entry(p.clone()).or_default().throttled += 1;
            }
        }
        self.totals.throttled += 1;
        self.op(op).throttled += 1;
    }

    /// Records one batch item or key sent back, refused by `blocked`.
    fn deferred(&mut self, op: &str, blocked: &[PartitionId]) {
        if let Some(p) = blocked.first() {
            self.usage.entry(p.clone()).or_default().deferred += 1;
        }
        self.totals.deferred += 1;
        self.op(op).deferred += 1;
    }

    fn stats(&self, top: Option<usize>) -> SimStats {
        let mut targets: BTreeMap<(String, Option<String>), TargetRow> = BTreeMap::new();
        for (p, u) in &self.usage {
            let t = targets
                .entry((p.table.clone(), p.index.clone()))
                .or_insert_with(|| TargetRow {
                    table: p.table.clone(),
                    index: p.index.clone(),
                    partitions: 0,
                    usage: Usage::default(),
                    hottest_partition_wcu: 0.0,
                    hottest_partition_rcu: 0.0,
                });
            t.partitions += 1;
            t.usage.wcu += u.wcu;
            t.usage.rcu += u.rcu;
            t.usage.throttled += u.throttled;
            t.usage.deferred += u.deferred;
            t.hottest_partition_wcu = t.hottest_partition_wcu.max(u.wcu);
            t.hottest_partition_rcu = t.hottest_partition_rcu.max(u.rcu);
        }
        let mut partitions: Vec<PartitionRow> = self
            .usage
            .iter()
            .map(|(p, u)| PartitionRow {
                table: p.table.clone(),
                index: p.index.clone(),
                key: p.key.clone(),
                usage: u.clone(),
            })
            .collect();
        let weight = |r: &PartitionRow| r.usage.wcu + r.usage.rcu;
        partitions.sort_by(|a, b| {
            weight(b)
                .total_cmp(&weight(a))
                .then_with(|| (&a.table, &a.index, &a.key).cmp(&(&b.table, &b.index, &b.key)))
        });
        let partitions_total = partitions.len() as u64;
        if let Some(top) = top {
            partitions.truncate(top);
        }
        SimStats {
            limits: self.limits,
            totals: self.totals.clone(),
            operations: self.ops.clone(),
            targets: targets.into_values().collect(),
            partitions,
            partitions_total,
        }
    }
}

// --------------------------------------------------------------------------
// what a request charges

/// The partition of an item or key of `table` (its partition key's value).
fn table_partition(schema: &Schema, table: &str, item: &Map<String, Value>) -> Option<PartitionId> {
    let key = key_text(item.get(&schema.hash_key)?)?;
    Some(PartitionId::new(table, None, key))
}

/// A put's charges: the item to its table partition, each index entry to
/// its index partition. `None` when the item lacks the table's keys.
fn put_charges(schema: &Schema, table: &str, item: &Map<String, Value>) -> Option<Charges> {
    let mut charges = vec![(
        table_partition(schema, table, item)?,
        write_units(item_size(item)),
    )];
    for ix in &schema.indexes {
        let Some(hash) = item.get(&ix.hash_key).and_then(key_text) else {
            continue;
        };
        if ix.range_key.as_ref().is_some_and(|r| !item.contains_key(r)) {
            continue; // sparse: no entry without every index key
        }
        let entry = match &ix.projection {
            Projection::All => item_size(item),
            projection => {
                let mut names: Vec<&str> = schema.table_keys().collect();
                names.push(&ix.hash_key);
                names.extend(ix.range_key.as_deref());
                if let Projection::Include(extra) = projection {
                    names.extend(extra.iter().map(String::as_str));
                }
                names.sort_unstable();
                names.dedup();
                names
                    .iter()
                    .filter_map(|n| item.get(*n).map(|v| n.len() + attribute_size(v)))
                    .sum()
            }
        };
        charges.push((
            PartitionId::new(table, Some(&ix.name), hash),
            write_units(entry),
        ));
    }
    Some(charges)
}

/// A delete's charges: 1 unit to the key's table partition.
fn delete_charges(schema: &Schema, table: &str, key: &Map<String, Value>) -> Option<Charges> {
    Some(vec![(table_partition(schema, table, key)?, 1.0)])
}

/// An update's charges: its key and the values it sends, to the key's
/// table partition (a lower bound: see the module's doc).
fn update_charges(schema: &Schema, req: &Map<String, Value>) -> Option<Charges> {
    let table = req.get("TableName")?.as_str()?;
    let key = req.get("Key")?.as_object()?;
    let mut bytes = item_size(key);
    if let Some(values) = req
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object)
    {
        bytes += values.values().map(attribute_size).sum::<usize>();
    }
    if let Some(updates) = req.get("AttributeUpdates").and_then(Value::as_object) {
        bytes += updates
            .iter()
            .map(|(name, u)| name.len() + u.get("Value").map_or(0, attribute_size))
            .sum::<usize>();
    }
    Some(vec![(
        table_partition(schema, table, key)?,
        write_units(bytes),
    )])
}

/// Splits a key condition expression into names, placeholders and operators.
fn tokens(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        let op = match c {
            '=' | '(' | ')' | ',' => Some(c.to_string()),
            '<' | '>' => {
                let mut s = c.to_string();
                if let Some(&n) = chars.peek()
                    && (n == '=' || n == '>')
                {
                    s.push(n);
                    chars.next();
                }
                Some(s)
            }
            c if c.is_whitespace() => Some(String::new()),
            _ => None,
        };
        match op {
            Some(op) => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if !op.is_empty() {
                    out.push(op);
                }
            }
            None => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The partition key value a Query names for attribute `hash`.
fn query_hash_value(req: &Map<String, Value>, hash: &str) -> Option<String> {
    if let Some(expr) = req.get("KeyConditionExpression").and_then(Value::as_str) {
        let names = req
            .get("ExpressionAttributeNames")
            .and_then(Value::as_object);
        let values = req
            .get("ExpressionAttributeValues")
            .and_then(Value::as_object)?;
        let resolve = |t: &str| -> Option<String> {
            if t.starts_with('#') {
                names?.get(t)?.as_str().map(str::to_string)
            } else {
                Some(t.to_string())
            }
        };
        let toks = tokens(expr);
        for i in 1..toks.len().saturating_sub(1) {
            if toks[i] != "=" {
                continue;
            }
            for (name, value) in [(&toks[i - 1], &toks[i + 1]), (&toks[i + 1], &toks[i - 1])] {
                if value.starts_with(':') && resolve(name).as_deref() == Some(hash) {
                    return values.get(value.as_str()).and_then(key_text);
                }
            }
        }
        return None;
    }
    let condition = req.get("KeyConditions")?.get(hash)?;
    if condition.get("ComparisonOperator")?.as_str()? != "EQ" {
        return None;
    }
    key_text(condition.get("AttributeValueList")?.get(0)?)
}

/// Whether a Query, Scan or GetItem answers less than it reads.
fn narrows(req: &Map<String, Value>) -> bool {
    [
        "ProjectionExpression",
        "AttributesToGet",
        "FilterExpression",
        "QueryFilter",
        "ScanFilter",
    ]
    .iter()
    .any(|k| req.contains_key(*k))
        || req
            .get("Select")
            .and_then(Value::as_str)
            .is_some_and(|s| s != "ALL_ATTRIBUTES" && s != "ALL_PROJECTED_ATTRIBUTES")
}

/// The same read, asking for whole items: no projection, `Select`, filter
/// (and none of the names and values only they used).
fn whole_items_request(op: &str, req: &Map<String, Value>) -> Map<String, Value> {
    let mut r = req.clone();
    for k in [
        "ProjectionExpression",
        "AttributesToGet",
        "Select",
        "FilterExpression",
        "QueryFilter",
        "ScanFilter",
        "ConditionalOperator",
        "ReturnConsumedCapacity",
    ] {
        r.remove(k);
    }
    match op {
        "Query" => {
            let used: Vec<String> = r
                .get("KeyConditionExpression")
                .and_then(Value::as_str)
                .map(tokens)
                .unwrap_or_default();
            for field in ["ExpressionAttributeNames", "ExpressionAttributeValues"] {
                if let Some(Value::Object(m)) = r.get_mut(field) {
                    m.retain(|k, _| used.iter().any(|u| u == k));
                    if m.is_empty() {
                        r.remove(field);
                    }
                }
            }
        }
        _ => {
            // GetItem's and Scan's names and values served only what was removed.
            r.remove("ExpressionAttributeNames");
            r.remove("ExpressionAttributeValues");
        }
    }
    r
}

// --------------------------------------------------------------------------
// the proxy

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The per-partition limits.
    pub limits: Limits,
    /// The key attributes of the table and its indexes.
    pub schema: Schema,
    /// Real time, or a hand-moved clock for tests.
    pub clock: Clock,
}

impl SimConfig {
    /// The shipped table's definition under `limits`, in real time.
    pub fn new(limits: Limits) -> Result<Self, String> {
        Ok(Self {
            limits,
            schema: Schema::shipped()?,
            clock: Clock::real(),
        })
    }
}

struct Shared {
    upstream_authority: String,
    upstream_base_path: String,
    client: Client<HttpConnector, Full<Bytes>>,
    schema: Schema,
    clock: Clock,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    fn now(&self) -> Duration {
        self.clock.now()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running simulator. Dropping it stops it.
pub struct PartitionSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl PartitionSim {
    /// Binds `listen` and forwards to `upstream` (an `http://` URL) on the
    /// current tokio runtime.
    pub async fn start(upstream: &str, listen: SocketAddr, cfg: SimConfig) -> Result<Self, String> {
        let uri: Uri = upstream
            .trim()
            .parse()
            .map_err(|e| format!("upstream {upstream:?}: {e}"))?;
        if !uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
        {
            return Err(format!("upstream {upstream:?} is not an http:// URL"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("upstream {upstream:?} has no host"))?
            .to_string();
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            upstream_authority: authority,
            upstream_base_path: uri.path().trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            schema: cfg.schema,
            clock: cfg.clock,
            ledger: Mutex::new(Ledger::new(cfg.limits)),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the endpoint for clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its accounting, every partition.
    pub fn stats(&self) -> SimStats {
        self.shared.ledger().stats(None)
    }

    /// Clears the accounting and refills every bucket.
    pub fn reset(&self) {
        self.shared.ledger().reset();
    }

    /// Its clock (to advance a manual one).
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Runs until the listener fails (the command line's `partition-sim`).
    pub async fn wait(mut self) {
        let _ = (&mut self.accept).await;
    }
}

impl Drop for PartitionSim {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    conns.spawn(async move {
                        let svc = hyper::service::service_fn(move |req| {
                            let shared = Arc::clone(&shared);
                            async move { Ok::<_, Infallible>(handle(&shared, req).await) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// One client request, as received.
struct Call {
    parts: hyper::http::request::Parts,
    body: Bytes,
}

/// An upstream answer, collected.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    if let Some(path) = parts.uri.path().strip_prefix("/__sim/") {
        return control(shared, &parts.method, path, parts.uri.query());
    }
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
    };
    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.rsplit('.').next().unwrap_or(t).trim().to_string());
    let call = Call { parts, body };
    let Some(op) = op else {
        return pass_through(shared, &call).await;
    };
    {
        let mut ledger = shared.ledger();
        ledger.totals.calls += 1;
        ledger.op(&op).calls += 1;
    }
    let req = match serde_json::from_slice::<Value>(&call.body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let outcome = match (op.as_str(), req) {
        ("PutItem" | "DeleteItem" | "UpdateItem", Some(req)) => {
            single_write(shared, &call, &op, &req).await
        }
        ("BatchWriteItem", Some(req)) => batch_write(shared, &call, &req).await,
        ("GetItem", Some(req)) => get_item(shared, &call, &req).await,
        ("BatchGetItem", Some(req)) => batch_get(shared, &call, &req).await,
        ("Query" | "Scan", Some(req)) => query_or_scan(shared, &call, &op, &req).await,
        _ => None,
    };
    match outcome {
        Some(resp) => {
            shared.ledger().totals.accounted += 1;
            resp
        }
        None => {
            shared.ledger().totals.passed_through += 1;
            pass_through(shared, &call).await
        }
    }
}

/// `/__sim/stats` and `/__sim/reset`.
fn control(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Response<Full<Bytes>> {
    match (method, path) {
        (&Method::GET, "stats") => {
            let top = query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|kv| kv.strip_prefix("top="))
                .and_then(|n| n.parse().ok());
            let stats = shared.ledger().stats(top);
            let body = serde_json::to_vec(&stats).unwrap_or_default();
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        (&Method::POST, "reset") => {
            shared.ledger().reset();
            plain(StatusCode::OK, "reset\n".into())
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            "GET /__sim/stats[?top=N] or POST /__sim/reset\n".into(),
        ),
    }
}

fn plain(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(message)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The awsJson error DynamoDB sends for a throttled call.
fn throttled_response(blocked: &[PartitionId], write: bool) -> Response<Full<Bytes>> {
    let mut reasons: Vec<Value> = Vec::new();
    for p in blocked {
        let r = p.throttling_reason(write);
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "__type": format!("{DDB_ERR_NS}#ProvisionedThroughputExceededException"),
            "message": THROTTLE_MESSAGE,
            "ThrottlingReasons": reasons,
        }),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()));
    let mut resp = Response::new(Full::new(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    resp
}

/// Headers that describe a single hop.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-authenticate"
            | "proxy-authorization"
    )
}

/// Headers that vouch for exact body bytes (wrong once a body changes).
fn is_body_digest(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "x-amz-crc32"
        || n == "content-md5"
        || n == "x-amz-content-sha256"
        || n.starts_with("x-amz-checksum-")
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, drop_digests: bool) {
    for (name, value) in from {
        if is_hop_by_hop(name) || (drop_digests && is_body_digest(name)) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

/// Sends `body` (the client's, or a rewritten one) upstream with the
/// client's method, path and headers.
async fn send_upstream(shared: &Shared, call: &Call, body: Bytes) -> Result<Answer, String> {
    let rewritten = body != call.body;
    let path = call
        .parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let uri = format!(
        "http://{}{}{}",
        shared.upstream_authority, shared.upstream_base_path, path
    );
    let mut builder = Request::builder()
        .method(call.parts.method.clone())
        .uri(uri.as_str());
    if let Some(headers) = builder.headers_mut() {
        copy_headers(&call.parts.headers, headers, rewritten);
        headers.remove(header::HOST);
        headers.remove(header::CONTENT_LENGTH);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let req = builder
        .body(Full::new(body))
        .map_err(|e| format!("cannot build the upstream request: {e}"))?;
    let resp = shared
        .client
        .request(req)
        .await
        .map_err(|e| format!("upstream {uri}: {e}"))?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("reading the upstream answer: {e}"))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// The client's answer from an upstream one, with `body` when rewritten.
fn respond(answer: Answer, body: Option<Bytes>) -> Response<Full<Bytes>> {
    let rewritten = body.is_some();
    let body = body.unwrap_or(answer.body);
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = answer.status;
    copy_headers(&answer.headers, resp.headers_mut(), rewritten);
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    *resp.body_mut() = Full::new(body);
    resp
}

fn upstream_failure(shared: &Shared, message: String) -> Response<Full<Bytes>> {
    shared.ledger().totals.upstream_errors += 1;
    plain(StatusCode::BAD_GATEWAY, format!("partition-sim: {message}"))
}

async fn forward(
    shared: &Shared,
    call: &Call,
    body: Bytes,
) -> Result<Answer, Response<Full<Bytes>>> {
    send_upstream(shared, call, body)
        .await
        .map_err(|e| upstream_failure(shared, e))
}

async fn pass_through(shared: &Shared, call: &Call) -> Response<Full<Bytes>> {
    match forward(shared, call, call.body.clone()).await {
        Ok(answer) => respond(answer, None),
        Err(resp) => resp,
    }
}

/// The error type of an upstream answer (`ConditionalCheckFailedException`…).
fn error_type(answer: &Answer) -> String {
    serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("__type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// Whether a write the emulator refused consumed capacity: DynamoDB
/// charges a write whose condition failed, not one it rejected.
fn consumed_despite(answer: &Answer) -> bool {
    answer.status.is_success() || error_type(answer).ends_with("ConditionalCheckFailedException")
}

async fn single_write(
    shared: &Shared,
    call: &Call,
    op: &str,
    req: &Map<String, Value>,
) -> Option<Response<Full<Bytes>>> {
    let table = req.get("TableName")?.as_str()?;
    let charges = match op {
        "PutItem" => put_charges(&shared.schema, table, req.get("Item")?.as_object()?)?,
        "DeleteItem" => delete_charges(&shared.schema, table, req.get("Key")?.as_object()?)?,
        _ => update_charges(&shared.schema, req)?,
    };
    {
        let now = shared.now();
        let mut ledger = shared.ledger();
        if let Err(blocked) = ledger.try_write(op, &charges, now) {
            ledger.throttled(op, &blocked);
            return Some(throttled_response(&blocked, true));
        }
    }
    Some(match forward(shared, call, call.body.clone()).await {
        Ok(answer) => {
            if !consumed_despite(&answer) {
                let now = shared.now();
                shared.ledger().refund_write(op, &charges, now);
            }
            respond(answer, None)
        }
        Err(resp) => {
            let now = shared.now();
            shared.ledger().refund_write(op, &charges, now);
            resp
        }
    })
}

async fn batch_write(
    shared: &Shared,
    call: &Call,
    req: &Map<String, Value>,
) -> Option<Response<Full<Bytes>>> {
    const OP: &str = "BatchWriteItem";
    let mut writes: Vec<(&str, &Value, Charges)> = Vec::new();
    for (table, list) in req.get("RequestItems")?.as_object()? {
        for w in list.as_array()? {
            let charges = if let Some(put) = w.get("PutRequest") {
                put_charges(&shared.schema, table, put.get("Item")?.as_object()?)?
            } else {
                let key = w.get("DeleteRequest")?.get("Key")?.as_object()?;
                delete_charges(&shared.schema, table, key)?
            };
            writes.push((table, w, charges));
        }
    }
    if writes.is_empty() {
        return None;
    }
    let mut kept: Map<String, Value> = Map::new();
    let mut deferred: Map<String, Value> = Map::new();
    let mut admitted: Charges = Vec::new();
    // The partitions that refused each deferred item.
    let mut refusals: Vec<Vec<PartitionId>> = Vec::new();
    {
        let now = shared.now();
        let mut ledger = shared.ledger();
        for (table, w, charges) in &writes {
            let target = match ledger.try_write(OP, charges, now) {
                Ok(()) => {
                    admitted.extend(charges.iter().cloned());
                    &mut kept
                }
                Err(blocked) => {
                    refusals.push(blocked);
                    &mut deferred
                }
            };
            if let Value::Array(list) = target
                .entry(table.to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                list.push((*w).clone());
            }
        }
        if kept.is_empty() {
            let blocked: Vec<PartitionId> = refusals.into_iter().flatten().collect();
            ledger.throttled(OP, &blocked);
            return Some(throttled_response(&blocked, true));
        }
        for blocked in &refusals {
            ledger.deferred(OP, blocked);
        }
    }
    let deferred_n = refusals.len();
    let body = if deferred_n == 0 {
        call.body.clone()
    } else {
        let mut r = req.clone();
        r.insert("RequestItems".into(), Value::Object(kept));
        Bytes::from(serde_json::to_vec(&Value::Object(r)).ok()?)
    };
    let answer = match forward(shared, call, body).await {
        Ok(a) => a,
        Err(resp) => {
            let now = shared.now();
            shared.ledger().refund_write(OP, &admitted, now);
            return Some(resp);
        }
    };
    if !answer.status.is_success() {
        let now = shared.now();
        shared.ledger().refund_write(OP, &admitted, now);
        return Some(respond(answer, None));
    }
    if deferred_n == 0 {
        return Some(respond(answer, None));
    }
    let merged = merge_into(
        &answer.body,
        "UnprocessedItems",
        deferred,
        |existing, more| {
            if let (Value::Array(a), Value::Array(b)) = (existing, more) {
                a.extend(b);
            }
        },
    );
    Some(match merged {
        Some(body) => respond(answer, Some(Bytes::from(body))),
        None => respond(answer, None),
    })
}

/// Adds `extra` (table → value) under `field` of a JSON answer, merging
/// with what the upstream put there.
fn merge_into(
    body: &[u8],
    field: &str,
    extra: Map<String, Value>,
    merge: impl Fn(&mut Value, Value),
) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let slot = answer
        .entry(field.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let slot = slot.as_object_mut()?;
    for (table, more) in extra {
        match slot.get_mut(&table) {
            Some(existing) => merge(existing, more),
            None => {
                slot.insert(table, more);
            }
        }
    }
    serde_json::to_vec(&Value::Object(answer)).ok()
}

/// Asks the upstream for whole items (see [`whole_items_request`]).
async fn sizing_read(shared: &Shared, call: &Call, req: Map<String, Value>) -> Option<Value> {
    shared.ledger().totals.sizing_reads += 1;
    let body = Bytes::from(serde_json::to_vec(&Value::Object(req)).ok()?);
    let answer = send_upstream(shared, call, body).await.ok()?;
    if !answer.status.is_success() {
        return None;
    }
    serde_json::from_slice(&answer.body).ok()
}

fn parse_answer(answer: &Answer) -> Option<Value> {
    if !answer.status.is_success() {
        return None;
    }
    serde_json::from_slice(&answer.body).ok()
}

fn is_consistent(req: &Map<String, Value>) -> bool {
    req.get("ConsistentRead").and_then(Value::as_bool) == Some(true)
}

/// Admits a read of `p` (`None`), or answers it throttled.
fn refuse_read(shared: &Shared, op: &str, p: &PartitionId) -> Option<Response<Full<Bytes>>> {
    let now = shared.now();
    let mut ledger = shared.ledger();
    if ledger.read_open(p, now) {
        None
    } else {
        ledger.throttled(op, std::slice::from_ref(p));
        Some(throttled_response(std::slice::from_ref(p), false))
    }
}

async fn get_item(
    shared: &Shared,
    call: &Call,
    req: &Map<String, Value>,
) -> Option<Response<Full<Bytes>>> {
    const OP: &str = "GetItem";
    let table = req.get("TableName")?.as_str()?;
    let p = table_partition(&shared.schema, table, req.get("Key")?.as_object()?)?;
    if let Some(resp) = refuse_read(shared, OP, &p) {
        return Some(resp);
    }
    let answer = match forward(shared, call, call.body.clone()).await {
        Ok(a) => a,
        Err(resp) => return Some(resp),
    };
    if let Some(parsed) = parse_answer(&answer) {
        let whole = if narrows(req) {
            sizing_read(shared, call, whole_items_request(OP, req)).await
        } else {
            None
        };
        let item = whole.as_ref().unwrap_or(&parsed).get("Item");
        let size = item.and_then(Value::as_object).map_or(0, item_size);
        let units = read_units(size, is_consistent(req));
        let now = shared.now();
        let mut ledger = shared.ledger();
        ledger.charge_read(OP, &p, units, now);
        ledger.op(OP).items_read += u64::from(item.is_some());
    }
    Some(respond(answer, None))
}

/// An item's key values (partition, sort).
type KeyValues = (String, Option<String>);

/// A key a `BatchGetItem` admitted: its table, key, partition, consistency.
type AdmittedKey = (String, KeyValues, PartitionId, bool);

/// The key of an item or key map, for matching answers to requested keys.
fn key_of(schema: &Schema, item: &Map<String, Value>) -> Option<KeyValues> {
    let hash = key_text(item.get(&schema.hash_key)?)?;
    let range = match &schema.range_key {
        Some(r) => Some(key_text(item.get(r)?)?),
        None => None,
    };
    Some((hash, range))
}

async fn batch_get(
    shared: &Shared,
    call: &Call,
    req: &Map<String, Value>,
) -> Option<Response<Full<Bytes>>> {
    const OP: &str = "BatchGetItem";
    let schema = &shared.schema;
    let request_items = req.get("RequestItems")?.as_object()?;
    // (table, key, partition) of every key, and the specs split into those
    // admitted and those sent back.
    let mut admitted: Vec<AdmittedKey> = Vec::new();
    let mut kept = Map::new();
    let mut deferred = Map::new();
    let mut refused: Vec<PartitionId> = Vec::new();
    {
        let now = shared.now();
        let mut ledger = shared.ledger();
        for (table, spec) in request_items {
            let spec = spec.as_object()?;
            let consistent = is_consistent(spec);
            let (mut keep, mut defer) = (Vec::new(), Vec::new());
            for key in spec.get("Keys")?.as_array()? {
                let key_map = key.as_object()?;
                let p = table_partition(schema, table, key_map)?;
                if ledger.read_open(&p, now) {
                    admitted.push((table.clone(), key_of(schema, key_map)?, p, consistent));
                    keep.push(key.clone());
                } else {
                    refused.push(p);
                    defer.push(key.clone());
                }
            }
            for (list, target) in [(keep, &mut kept), (defer, &mut deferred)] {
                if !list.is_empty() {
                    let mut s = spec.clone();
                    s.insert("Keys".into(), Value::Array(list));
                    target.insert(table.clone(), Value::Object(s));
                }
            }
        }
        if admitted.is_empty() {
            if refused.is_empty() {
                return None;
            }
            ledger.throttled(OP, &refused);
            return Some(throttled_response(&refused, false));
        }
        for p in &refused {
            ledger.deferred(OP, std::slice::from_ref(p));
        }
    }
    let rewritten = !deferred.is_empty();
    let mut forwarded = req.clone();
    forwarded.insert("RequestItems".into(), Value::Object(kept.clone()));
    let body = if rewritten {
        Bytes::from(serde_json::to_vec(&Value::Object(forwarded.clone())).ok()?)
    } else {
        call.body.clone()
    };
    let answer = match forward(shared, call, body).await {
        Ok(a) => a,
        Err(resp) => return Some(resp),
    };
    if let Some(parsed) = parse_answer(&answer) {
        let narrowed = kept.values().any(|s| {
            s.as_object().is_some_and(|s| {
                s.contains_key("ProjectionExpression") || s.contains_key("AttributesToGet")
            })
        });
        let whole = if narrowed {
            let mut whole_req = forwarded.clone();
            if let Some(Value::Object(items)) = whole_req.get_mut("RequestItems") {
                for spec in items.values_mut() {
                    if let Value::Object(s) = spec {
                        s.remove("ProjectionExpression");
                        s.remove("AttributesToGet");
                        s.remove("ExpressionAttributeNames");
                    }
                }
            }
            sizing_read(shared, call, whole_req).await
        } else {
            None
        };
        let source = whole.as_ref().unwrap_or(&parsed);
        let mut sizes: HashMap<(String, KeyValues), usize> = HashMap::new();
        if let Some(responses) = source.get("Responses").and_then(Value::as_object) {
            for (table, items) in responses {
                for item in items.as_array().into_iter().flatten() {
                    if let Some(item) = item.as_object()
                        && let Some(k) = key_of(schema, item)
                    {
                        sizes.insert((table.clone(), k), item_size(item));
                    }
                }
            }
        }
        let now = shared.now();
        let mut ledger = shared.ledger();
        for (table, key, p, consistent) in admitted {
            let size = sizes.get(&(table, key));
            ledger.charge_read(
                OP,
                &p,
                read_units(size.copied().unwrap_or(0), consistent),
                now,
            );
            ledger.op(OP).items_read += u64::from(size.is_some());
        }
    }
    if !rewritten || !answer.status.is_success() {
        return Some(respond(answer, None));
    }
    let merged = merge_into(
        &answer.body,
        "UnprocessedKeys",
        deferred,
        |existing, more| {
            if let (Some(a), Some(b)) = (
                existing.get_mut("Keys").and_then(Value::as_array_mut),
                more.get("Keys").and_then(Value::as_array),
            ) {
                a.extend(b.iter().cloned());
            }
        },
    );
    Some(match merged {
        Some(body) => respond(answer, Some(Bytes::from(body))),
        None => respond(answer, None),
    })
}

async fn query_or_scan(
    shared: &Shared,
    call: &Call,
    op: &str,
    req: &Map<String, Value>,
) -> Option<Response<Full<Bytes>>> {
    let schema = &shared.schema;
    let table = req.get("TableName")?.as_str()?;
    let index = match req.get("IndexName") {
        Some(v) => Some(schema.index(v.as_str()?)?),
        None => None,
    };
    let hash = index.map_or(schema.hash_key.as_str(), |i| i.hash_key.as_str());
    let index_name = index.map(|i| i.name.as_str());
    // Index reads are eventually consistent whatever the request says.
    let consistent = index.is_none() && is_consistent(req);
    let partition = if op == "Query" {
        let p = PartitionId::new(table, index_name, query_hash_value(req, hash)?);
        if let Some(resp) = refuse_read(shared, op, &p) {
            return Some(resp);
        }
        Some(p)
    } else {
        None
    };
    let answer = match forward(shared, call, call.body.clone()).await {
        Ok(a) => a,
        Err(resp) => return Some(resp),
    };
    if let Some(parsed) = parse_answer(&answer) {
        let whole = if narrows(req) {
            sizing_read(shared, call, whole_items_request(op, req)).await
        } else {
            None
        };
        let items: Vec<&Map<String, Value>> = whole
            .as_ref()
            .unwrap_or(&parsed)
            .get("Items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .collect();
        let now = shared.now();
        let mut ledger = shared.ledger();
        ledger.op(op).items_read += items.len() as u64;
        match partition {
            Some(p) => {
                let size = items.iter().map(|i| item_size(i)).sum();
                ledger.charge_read(op, &p, read_units(size, consistent), now);
            }
            None => {
                // A Scan: each partition it read from pays for its items.
                let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
                for item in &items {
                    let key = item.get(hash).and_then(key_text).unwrap_or_default();
                    *by_key.entry(key).or_default() += item_size(item);
                }
                if by_key.is_empty() {
                    by_key.insert("*".into(), 0);
                }
                for (key, size) in by_key {
                    let p = PartitionId::new(table, index_name, key);
                    ledger.charge_read(op, &p, read_units(size, consistent), now);
                }
            }
        }
    }
    Some(respond(answer, None))
}

// --------------------------------------------------------------------------
// the self-test load

/// What [`self_test_load`] does.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Table to write into (any table with the template's definition).
    pub table: String,
    /// Partition keys written, round-robin within each batch.
    pub keys: usize,
    /// Size of every item by DynamoDB's rule.
    pub item_bytes: usize,
    /// Writing before the measured window, at least.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    /// Writers at once, each with one 25-item `BatchWriteItem` in flight.
    pub concurrency: usize,
    /// Prefix of the partition keys (`<prefix>-<n>`).
    pub prefix: String,
}

/// The longest [`self_test_load`] waits for the buckets' burst to be spent
/// before it measures anyway.
const LOAD_MAX_DRAIN: Duration = Duration::from_secs(20);

/// What [`self_test_load`] measured, from the client's side.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Partition keys written.
    pub keys: usize,
    /// Size of each item.
    pub item_bytes: usize,
    /// Write units per item by DynamoDB's rule.
    pub wcu_per_item: f64,
    /// When the first items came back (the burst spent), in seconds from
    /// the start; `None` when none ever did (no limit bound the load).
    pub burst_spent_at_s: Option<f64>,
    /// Start of the measured window, in seconds from the start.
    pub window_start_s: f64,
    /// Length of the measured window, in seconds.
    pub window_s: f64,
    /// Items written (acknowledged, not sent back) in the window.
    pub items_in_window: u64,
    /// Of those, per key.
    pub per_key_in_window: Vec<u64>,
    /// `items_in_window / window_s`.
    pub items_per_s: f64,
    /// Items written in all (the burst and the warm-up included).
    pub items_total: u64,
    /// Calls sent.
    pub calls: u64,
    /// Calls refused whole (`ProvisionedThroughputExceededException`).
    pub throttled_calls: u64,
    /// Items sent back in `UnprocessedItems`.
    pub deferred_items: u64,
}

/// An item of exactly `bytes` bytes (DynamoDB's rule), no index keys.
fn load_item(
    pk: &str,
    sk: &str,
    bytes: usize,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let fixed = "pk".len() + pk.len() + "sk".len() + sk.len() + "p".len();
    let pad = "x".repeat(bytes.saturating_sub(fixed));
    [
        ("pk".to_string(), AttributeValue::S(pk.to_string())),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
        ("p".to_string(), AttributeValue::S(pad)),
    ]
    .into_iter()
    .collect()
}

/// The load's shared progress.
struct LoadProgress {
    start: Instant,
    /// Milliseconds from the start to the first items sent back; `u64::MAX`
    /// until then.
    burst_spent_ms: std::sync::atomic::AtomicU64,
    /// (completion, key, items written) of every call that wrote any.
    written: Mutex<Vec<(Duration, usize, u64)>>,
    calls: std::sync::atomic::AtomicU64,
    throttled: std::sync::atomic::AtomicU64,
    deferred: std::sync::atomic::AtomicU64,
}

impl LoadProgress {
    fn burst_spent_at(&self) -> Option<Duration> {
        match self
            .burst_spent_ms
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            u64::MAX => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    fn mark_burst_spent(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        let _ = self.burst_spent_ms.compare_exchange(
            u64::MAX,
            ms,
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The window: from the warm-up's end or the burst's, whichever is
    /// later (a partition's first second's worth would otherwise count as
    /// if it were its rate), for `window`.
    fn window_start(&self, opts: &LoadOptions) -> Duration {
        match self.burst_spent_at() {
            Some(spent) => opts.warmup.max(spent),
            None => opts.warmup,
        }
    }

    fn done(&self, opts: &LoadOptions) -> bool {
        let now = self.start.elapsed();
        let waited_too_long = now >= opts.warmup + LOAD_MAX_DRAIN + opts.window;
        let no_limit_seen = self.burst_spent_at().is_none() && now >= opts.warmup + opts.window;
        waited_too_long
            || (self.burst_spent_at().is_some() && now >= self.window_start(opts) + opts.window)
            || no_limit_seen
    }
}

/// Writes items of `item_bytes` to `keys` partition keys as fast as
/// `concurrency` writers can and counts what was written in one window
/// after the buckets' burst is spent: how much one key (or two) takes.
/// Items sent back are dropped, not re-sent (a writer pauses 10 ms after a
/// call that was throttled or deferred, so the load does not spin).
/// `client` should have the SDK's retries off.
pub async fn self_test_load(
    client: &aws_sdk_dynamodb::Client,
    opts: &LoadOptions,
) -> Result<LoadReport, String> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use std::sync::atomic::{AtomicU64, Ordering};

    let keys = opts.keys.max(1);
    let progress = Arc::new(LoadProgress {
        start: Instant::now(),
        burst_spent_ms: AtomicU64::new(u64::MAX),
        written: Mutex::new(Vec::new()),
        calls: AtomicU64::new(0),
        throttled: AtomicU64::new(0),
        deferred: AtomicU64::new(0),
    });
    let mut tasks = JoinSet::new();
    for writer in 0..opts.concurrency.max(1) {
        let (client, opts, progress) = (client.clone(), opts.clone(), Arc::clone(&progress));
        tasks.spawn(async move {
            let mut seq = 0u64;
            let pks: Vec<String> = (0..keys).map(|k| format!("{}-{k}", opts.prefix)).collect();
            while !progress.done(&opts) {
                let mut requests = Vec::with_capacity(25);
                let mut sent = vec![0u64; keys];
                for j in 0..25 {
                    let sk = format!("{writer:03}-{seq:012}");
                    seq += 1;
                    let put = PutRequest::builder()
                        .set_item(Some(load_item(&pks[j % keys], &sk, opts.item_bytes)))
                        .build()
                        .map_err(|e| e.to_string())?;
                    requests.push(WriteRequest::builder().put_request(put).build());
                    sent[j % keys] += 1;
                }
                progress.calls.fetch_add(1, Ordering::Relaxed);
                let out = client
                    .batch_write_item()
                    .request_items(&opts.table, requests)
                    .send()
                    .await;
                let done_at = progress.start.elapsed();
                match out {
                    Ok(out) => {
                        let back = out
                            .unprocessed_items
                            .and_then(|mut m| m.remove(&opts.table))
                            .unwrap_or_default();
                        for w in &back {
                            let pk = w
                                .put_request()
                                .and_then(|p| p.item().get("pk"))
                                .and_then(|v| v.as_s().ok());
                            if let Some(k) = pk.and_then(|pk| pks.iter().position(|p| p == pk)) {
                                sent[k] = sent[k].saturating_sub(1);
                            }
                        }
                        {
                            let mut written = lock(&progress.written);
                            for (k, n) in sent.iter().enumerate() {
                                if *n > 0 {
                                    written.push((done_at, k, *n));
                                }
                            }
                        }
                        if !back.is_empty() {
                            progress.mark_burst_spent();
                            progress
                                .deferred
                                .fetch_add(back.len() as u64, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    Err(e)
                        if e.as_service_error().is_some_and(|se| {
                            se.is_provisioned_throughput_exceeded_exception()
                        }) =>
                    {
                        progress.mark_burst_spent();
                        progress.throttled.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(e) => {
                        return Err(format!(
                            "BatchWriteItem: {}",
                            album_api::store::describe(&e)
                        ));
                    }
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    let end = progress.start.elapsed();
    let from = progress.window_start(opts);
    let to = (from + opts.window).min(end);
    let written = lock(&progress.written);
    let mut per_key = vec![0u64; keys];
    for (at, k, n) in written.iter() {
        if *at >= from && *at < to {
            per_key[*k] += n;
        }
    }
    let in_window: u64 = per_key.iter().sum();
    let window_s = to.saturating_sub(from).as_secs_f64();
    Ok(LoadReport {
        keys,
        item_bytes: opts.item_bytes,
        wcu_per_item: write_units(opts.item_bytes),
        burst_spent_at_s: progress.burst_spent_at().map(|d| d.as_secs_f64()),
        window_start_s: from.as_secs_f64(),
        window_s,
        items_in_window: in_window,
        per_key_in_window: per_key,
        items_per_s: in_window as f64 / window_s.max(f64::EPSILON),
        items_total: written.iter().map(|(_, _, n)| n).sum(),
        calls: progress.calls.load(Ordering::Relaxed),
        throttled_calls: progress.throttled.load(Ordering::Relaxed),
        deferred_items: progress.deferred.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::shipped().unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_shipped_table_has_its_indexes_and_their_keys() {
        let s = schema();
        assert_eq!(
            (s.hash_key.as_str(), s.range_key.as_deref()),
            ("pk", Some("sk"))
        );
        let by_image = s.index("by_image").unwrap();
        assert_eq!(
            (by_image.hash_key.as_str(), by_image.range_key.as_deref()),
            ("iid", None)
        );
        assert_eq!(by_image.projection, Projection::KeysOnly);
        let by_org = s.index("by_organization").unwrap();
        assert_eq!(
            (by_org.hash_key.as_str(), by_org.range_key.as_deref()),
            ("organization_id", Some("sk"))
        );
        let by_tag = s.index("by_tag").unwrap();
        assert_eq!(
            (by_tag.hash_key.as_str(), by_tag.range_key.as_deref()),
            ("tg", Some("sk"))
        );
    }

    #[test]
    fn sizes_follow_dynamodbs_rule_and_match_the_stores() {
        use album_api::store::{Store, item_size as store_size};
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(conf), "t");
        let img = crate::seed::sample_image("00100000123BB44", 1);
        let item = store
            .image_item(
                &album_api::album::Album::new("org", "o", "2019-04-08T17:38:46Z"),
                &img.id,
                &img.record,
            )
            .unwrap();
        let wire: Map<String, Value> = item
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    aws_sdk_dynamodb::types::AttributeValue::S(s) => json!({"S": s}),
                    aws_sdk_dynamodb::types::AttributeValue::N(n) => json!({"N": n}),
                    other => panic!("unexpected {other:?}"),
                };
                (k.clone(), v)
            })
            .collect();
        assert_eq!(item_size(&wire), store_size(&item));
        // Names + values; UTF-8 bytes; binary decoded; nested per DynamoDB.
        let item = obj(json!({
            "a": {"S": "héllo"}, "n": {"N": "12345"}, "b": {"B": "AAEC"},
            "t": {"BOOL": true}, "z": {"NULL": true},
            "l": {"L": [{"S": "ab"}, {"N": "1"}]}, "m": {"M": {"k": {"S": "v"}}},
        }));
        let expect = (1 + 6)
            + (1 + 5)
            + (1 + 3)
            + (1 + 1)
            + (1 + 1)
            + (1 + 3 + 1 + 2 + 1 + 1)
            + (1 + 3 + 1 + 1 + 1);
        assert_eq!(item_size(&item), expect);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(0, false), 0.5);
    }

    #[test]
    fn a_put_charges_its_table_partition_and_each_index_it_has_keys_for() {
        let s = schema();
        let pad = "x".repeat(1500);
        let tag_image = obj(json!({
            "pk": {"S": "A#alb"}, "sk": {"S": "G#1#img#tag"}, "iid": {"S": "ti"},
            "tg": {"S": "tag"}, "d": {"S": pad},
        }));
        let charges = put_charges(&s, "t", &tag_image).unwrap();
        let names: Vec<(Option<&str>, &str, f64)> = charges
            .iter()
            .map(|(p, u)| (p.index.as_deref(), p.key.as_str(), *u))
            .collect();
        assert_eq!(
            names,
            [
                (None, "A#alb", 2.0),
                (Some("by_image"), "ti", 1.0),
                (Some("by_tag"), "tag", 1.0)
            ]
        );
        // No organization_id: no by_organization entry; no sk: no entry in an index keyed on it.
        let album = obj(json!({"pk": {"S": "A#alb"}, "organization_id": {"S": "org"}}));
        let charges = put_charges(&s, "t", &album).unwrap();
        assert_eq!(charges.len(), 1, "by_organization needs its range key sk");
        assert!(put_charges(&s, "t", &obj(json!({"sk": {"S": "x"}}))).is_none());
    }

    #[test]
    fn key_conditions_name_their_partition() {
        let req = obj(json!({
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :img)",
            "ExpressionAttributeValues": {":pk": {"S": "A#x"}, ":img": {"S": "I#"}},
        }));
        assert_eq!(query_hash_value(&req, "pk").as_deref(), Some("A#x"));
        let req = obj(json!({
            "KeyConditionExpression": "(#h=:v) and #r <= :r",
            "ExpressionAttributeNames": {"#h": "iid", "#r": "sk"},
            "ExpressionAttributeValues": {":v": {"S": "img"}, ":r": {"S": "z"}},
        }));
        assert_eq!(query_hash_value(&req, "iid").as_deref(), Some("img"));
        assert_eq!(query_hash_value(&req, "sk"), None, "<= is not =");
        let legacy = obj(json!({"KeyConditions": {"pk": {
            "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "A#y"}]}}}));
        assert_eq!(query_hash_value(&legacy, "pk").as_deref(), Some("A#y"));
    }

    #[test]
    fn a_narrowed_query_is_sized_by_the_same_query_for_whole_items() {
        let req = obj(json!({
            "TableName": "t", "KeyConditionExpression": "pk = :pk",
            "ProjectionExpression": "#s, d", "ExpressionAttributeNames": {"#s": "sk"},
            "FilterExpression": "d <> :no",
            "ExpressionAttributeValues": {":pk": {"S": "A#x"}, ":no": {"S": ""}},
            "Select": "SPECIFIC_ATTRIBUTES", "Limit": 51, "ConsistentRead": true,
        }));
        assert!(narrows(&req));
        let whole = whole_items_request("Query", &req);
        assert_eq!(
            Value::Object(whole),
            json!({
                "TableName": "t", "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": "A#x"}},
                "Limit": 51, "ConsistentRead": true,
            })
        );
        assert!(!narrows(&obj(json!({"Select": "ALL_ATTRIBUTES"}))));
    }

    #[test]
    fn buckets_hold_one_seconds_worth_and_refill_at_the_limit() {
        let mut l = Ledger::new(Limits {
            wcu_per_partition: 10.0,
            rcu_per_partition: 4.0,
        });
        let p = PartitionId::new("t", None, "k".into());
        let now = Duration::ZERO;
        for _ in 0..10 {
            l.try_write("PutItem", &[(p.clone(), 1.0)], now).unwrap();
        }
        assert!(l.try_write("PutItem", &[(p.clone(), 1.0)], now).is_err());
        let later = Duration::from_millis(100);
        l.try_write("PutItem", &[(p.clone(), 1.0)], later).unwrap();
        assert!(l.try_write("PutItem", &[(p.clone(), 1.0)], later).is_err());
        // Idle for a minute: still one second's worth, no more.
        let much_later = Duration::from_secs(60);
        for _ in 0..10 {
            l.try_write("PutItem", &[(p.clone(), 1.0)], much_later)
                .unwrap();
        }
        assert!(
            l.try_write("PutItem", &[(p.clone(), 1.0)], much_later)
                .is_err()
        );
        // A write larger than the bucket goes when it is full.
        let q = PartitionId::new("t", None, "big".into());
        l.try_write("PutItem", &[(q.clone(), 25.0)], much_later)
            .unwrap();
        // Reads: admitted until the bucket is spent, then in debt until refilled.
        assert!(l.read_open(&p, now));
        l.charge_read("Query", &p, 6.0, now);
        assert!(!l.read_open(&p, now));
        assert!(!l.read_open(&p, Duration::from_millis(500)));
        assert!(l.read_open(&p, Duration::from_millis(501)));
        let stats = l.stats(None);
        assert_eq!(stats.partition("t", None, "k").wcu, 21.0);
        assert_eq!(stats.partition("t", None, "k").rcu, 6.0);
        assert_eq!(stats.totals.wcu, 46.0);
    }
}
