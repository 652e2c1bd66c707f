//! The simulator's self-test load (`albumctl partition-sim-load`, in `make
//! bench`): 1 KB items into one key or two, counted once a partition's
//! burst is spent, so that a run shows what one partition takes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::Serialize;
use tokio::task::JoinSet;

use super::lock;
use super::size::write_units;

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
fn load_item(pk: &str, sk: &str, bytes: usize) -> HashMap<String, AttributeValue> {
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
    burst_spent_ms: AtomicU64,
    /// (completion, key, items written) of every call that wrote any.
    written: Mutex<Vec<(Duration, usize, u64)>>,
    calls: AtomicU64,
    throttled: AtomicU64,
    deferred: AtomicU64,
}

impl LoadProgress {
    fn burst_spent_at(&self) -> Option<Duration> {
        match self.burst_spent_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    fn mark_burst_spent(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        let _ = self.burst_spent_ms.compare_exchange(
            u64::MAX,
            ms,
            Ordering::Relaxed,
            Ordering::Relaxed,
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
        let w = Writer {
            client: client.clone(),
            opts: opts.clone(),
            progress: Arc::clone(&progress),
            pks: (0..keys).map(|k| format!("{}-{k}", opts.prefix)).collect(),
            id: writer,
            seq: 0,
        };
        tasks.spawn(w.run());
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    Ok(progress.report(opts, keys))
}

/// One writer of the load: one 25-item batch in flight at a time.
struct Writer {
    client: aws_sdk_dynamodb::Client,
    opts: LoadOptions,
    progress: Arc<LoadProgress>,
    /// The partition keys, written round-robin.
    pks: Vec<String>,
    id: usize,
    seq: u64,
}

impl Writer {
    async fn run(mut self) -> Result<(), String> {
        while !self.progress.done(&self.opts) {
            let (requests, sent) = self.batch()?;
            self.progress.calls.fetch_add(1, Ordering::Relaxed);
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.opts.table, requests)
                .send()
                .await;
            let done_at = self.progress.start.elapsed();
            match out {
                Ok(out) => self.written(out, sent, done_at).await,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_provisioned_throughput_exceeded_exception()) =>
                {
                    self.progress.mark_burst_spent();
                    self.progress.throttled.fetch_add(1, Ordering::Relaxed);
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
        Ok(())
    }

    /// The next 25 puts, and how many go to each key.
    fn batch(&mut self) -> Result<(Vec<WriteRequest>, Vec<u64>), String> {
        let keys = self.pks.len();
        let mut requests = Vec::with_capacity(25);
        let mut sent = vec![0u64; keys];
        for j in 0..25 {
            let sk = format!("{:03}-{:012}", self.id, self.seq);
            self.seq += 1;
            let put = PutRequest::builder()
                .set_item(Some(load_item(
                    &self.pks[j % keys],
                    &sk,
                    self.opts.item_bytes,
                )))
                .build()
                .map_err(|e| e.to_string())?;
            requests.push(WriteRequest::builder().put_request(put).build());
            sent[j % keys] += 1;
        }
        Ok((requests, sent))
    }

    /// Records what a batch wrote: what it sent less what came back.
    async fn written(&self, out: BatchWriteItemOutput, mut sent: Vec<u64>, done_at: Duration) {
        let back = out
            .unprocessed_items
            .and_then(|mut m| m.remove(&self.opts.table))
            .unwrap_or_default();
        for w in &back {
            let pk = w
                .put_request()
                .and_then(|p| p.item().get("pk"))
                .and_then(|v| v.as_s().ok());
            if let Some(k) = pk.and_then(|pk| self.pks.iter().position(|p| p == pk)) {
                sent[k] = sent[k].saturating_sub(1);
            }
        }
        {
            let mut written = lock(&self.progress.written);
            for (k, n) in sent.iter().enumerate() {
                if *n > 0 {
                    written.push((done_at, k, *n));
                }
            }
        }
        if !back.is_empty() {
            self.progress.mark_burst_spent();
            self.progress
                .deferred
                .fetch_add(back.len() as u64, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl LoadProgress {
    /// What was written in the window, per key, and in all.
    fn report(&self, opts: &LoadOptions, keys: usize) -> LoadReport {
        let end = self.start.elapsed();
        let from = self.window_start(opts);
        let to = (from + opts.window).min(end);
        let written = lock(&self.written);
        let mut per_key = vec![0u64; keys];
        for (at, k, n) in written.iter() {
            if *at >= from && *at < to {
                per_key[*k] += n;
            }
        }
        let in_window: u64 = per_key.iter().sum();
        let window_s = to.saturating_sub(from).as_secs_f64();
        LoadReport {
            keys,
            item_bytes: opts.item_bytes,
            wcu_per_item: write_units(opts.item_bytes),
            burst_spent_at_s: self.burst_spent_at().map(|d| d.as_secs_f64()),
            window_start_s: from.as_secs_f64(),
            window_s,
            items_in_window: in_window,
            per_key_in_window: per_key,
            items_per_s: in_window as f64 / window_s.max(f64::EPSILON),
            items_total: written.iter().map(|(_, _, n)| n).sum(),
            calls: self.calls.load(Ordering::Relaxed),
            throttled_calls: self.throttled.load(Ordering::Relaxed),
            deferred_items: self.deferred.load(Ordering::Relaxed),
        }
    }
}
