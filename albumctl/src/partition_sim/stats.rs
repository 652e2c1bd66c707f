//! The simulator's accounting as `GET /__sim/stats` answers it: per
//! partition, per table or index, per operation, in total.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::bucket::Limits;
use super::partition::PartitionId;

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

    /// These stats with `rows` as their partitions, most consumed first,
    /// cut to the `top` ones.
    pub(super) fn with_partitions(
        mut self,
        mut rows: Vec<PartitionRow>,
        top: Option<usize>,
    ) -> Self {
        let weight = |r: &PartitionRow| r.usage.wcu + r.usage.rcu;
        rows.sort_by(|a, b| {
            weight(b)
                .total_cmp(&weight(a))
                .then_with(|| (&a.table, &a.index, &a.key).cmp(&(&b.table, &b.index, &b.key)))
        });
        self.partitions_total = rows.len() as u64;
        if let Some(top) = top {
            rows.truncate(top);
        }
        self.partitions = rows;
        self
    }

    /// One operation's usage.
    pub fn operation(&self, op: &str) -> OperationUsage {
        self.operations.get(op).cloned().unwrap_or_default()
    }
}

/// One row per table and per index, summed over their partitions.
pub(super) fn target_rows(usage: &HashMap<PartitionId, Usage>) -> Vec<TargetRow> {
    let mut targets: BTreeMap<(String, Option<String>), TargetRow> = BTreeMap::new();
    for (p, u) in usage {
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
    targets.into_values().collect()
}

/// One row per partition, unsorted.
pub(super) fn partition_rows(usage: &HashMap<PartitionId, Usage>) -> Vec<PartitionRow> {
    usage
        .iter()
        .map(|(p, u)| PartitionRow {
            table: p.table.clone(),
            index: p.index.clone(),
            key: p.key.clone(),
            usage: u.clone(),
        })
        .collect()
}
