//! The ledger: every partition's buckets, with what each call consumed.
//!
//! A write is admitted when every bucket it charges holds its units and
//! charged at once; a read is admitted while its bucket is not in debt and
//! charged when its answer is back, since only then is its size known.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::bucket::{Bucket, Limits};
use super::partition::PartitionId;
use super::stats::{OperationUsage, SimStats, Totals, Usage, partition_rows, target_rows};

/// Every partition's buckets and what each call consumed.
#[derive(Debug)]
pub(super) struct Ledger {
    limits: Limits,
    writes: HashMap<PartitionId, Bucket>,
    reads: HashMap<PartitionId, Bucket>,
    usage: HashMap<PartitionId, Usage>,
    ops: BTreeMap<String, OperationUsage>,
    pub(super) totals: Totals,
}

impl Ledger {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            limits,
            writes: HashMap::new(),
            reads: HashMap::new(),
            usage: HashMap::new(),
            ops: BTreeMap::new(),
            totals: Totals::default(),
        }
    }

    pub(super) fn reset(&mut self) {
        *self = Self::new(self.limits);
    }

    pub(super) fn op(&mut self, op: &str) -> &mut OperationUsage {
        self.ops.entry(op.to_string()).or_default()
    }

    fn write_bucket(&mut self, p: &PartitionId, now: Duration) -> &mut Bucket {
        bucket(&mut self.writes, self.limits.wcu_per_partition, p, now)
    }

    fn read_bucket(&mut self, p: &PartitionId, now: Duration) -> &mut Bucket {
        bucket(&mut self.reads, self.limits.rcu_per_partition, p, now)
    }

    /// Admits a write when every bucket it charges holds its units (at
    /// most a whole bucket's), and charges them; otherwise the partitions
    /// that refused it, and nothing is charged.
    pub(super) fn try_write(
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
    pub(super) fn refund_write(&mut self, op: &str, charges: &[(PartitionId, f64)], now: Duration) {
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
    pub(super) fn read_open(&mut self, p: &PartitionId, now: Duration) -> bool {
        self.read_bucket(p, now).tokens > 0.0
    }

    /// Charges a read that has been answered.
    pub(super) fn charge_read(&mut self, op: &str, p: &PartitionId, units: f64, now: Duration) {
        self.read_bucket(p, now).tokens -= units;
        self.usage.entry(p.clone()).or_default().rcu += units;
        self.totals.rcu += units;
        self.op(op).rcu += units;
    }

    /// Records a call refused by the partitions `blocked`.
    pub(super) fn throttled(&mut self, op: &str, blocked: &[PartitionId]) {
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
    pub(super) fn deferred(&mut self, op: &str, blocked: &[PartitionId]) {
        if let Some(p) = blocked.first() {
            self.usage.entry(p.clone()).or_default().deferred += 1;
        }
        self.totals.deferred += 1;
        self.op(op).deferred += 1;
    }

    /// Its accounting, with the `top` partitions that consumed most (all
    /// without `top`).
    pub(super) fn stats(&self, top: Option<usize>) -> SimStats {
        SimStats {
            limits: self.limits,
            totals: self.totals.clone(),
            operations: self.ops.clone(),
            targets: target_rows(&self.usage),
            partitions: Vec::new(),
            partitions_total: 0,
        }
        .with_partitions(partition_rows(&self.usage), top)
    }
}

/// `p`'s bucket in `buckets`, refilled to `now` (full when first used).
fn bucket<'a>(
    buckets: &'a mut HashMap<PartitionId, Bucket>,
    rate: f64,
    p: &PartitionId,
    now: Duration,
) -> &'a mut Bucket {
    let b = buckets
        .entry(p.clone())
        .or_insert_with(|| Bucket::full(rate, now));
    b.refill(rate, now);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

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
