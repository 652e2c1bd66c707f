//! Token buckets: one per partition per direction, refilled at the limit
//! per second, holding one second's worth.

use std::time::Duration;

use serde::Serialize;

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

/// A token bucket: `tokens` units available as of `at`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bucket {
    pub(super) tokens: f64,
    at: Duration,
}

impl Bucket {
    pub(super) fn full(rate: f64, now: Duration) -> Self {
        Self {
            tokens: rate,
            at: now,
        }
    }

    /// Refills at `rate` per second up to one second's worth.
    pub(super) fn refill(&mut self, rate: f64, now: Duration) {
        let dt = now.saturating_sub(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(rate);
        self.at = now.max(self.at);
    }
}
