//! Fault-injecting DynamoDB proxy for the integration tests: a layer on
//! `albumctl::proxy`.
//!
//! Local emulators such as dynalite never throttle, never fail and always process every item of
//! a `BatchWriteItem`, so code paths that deal with `UnprocessedItems`, throttling, 5xx answers
//! and broken connections are never exercised against them. [`FaultProxy`] sits on
//! `127.0.0.1:<ephemeral port>` in front of the emulator, forwards DynamoDB JSON-protocol calls
//! and, at configurable rates, injects those faults instead. Point the SDK client's
//! `endpoint_url` at [`FaultProxy::endpoint`] and everything else stays unchanged.
//!
//! The proxy runs on the test's tokio runtime and stops when the [`FaultProxy`] is dropped.
//! It never panics on traffic: anything it cannot understand (no `X-Amz-Target`, non-JSON
//! bodies, unknown shapes) is passed through untouched.

// The module is shared by several suites; each uses only part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use albumctl::proxy::{
    self, Answer, Call, DDB_ERR_NS, Layer, Outcome, Proxy, Reply, Upstream, batch_writes, by_table,
};
use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

/// How long a hung call holds its connection before it is dropped unanswered.
pub const HANG_FOR: Duration = Duration::from_secs(120);
/// Share of `UnprocessedItems` faults (on batches of 2+ items) that defer the whole batch, so
/// callers also see the "nothing was written" case, not only partial progress.
const DEFER_ALL_SHARE: f64 = 0.25;

/// What faults to inject, and how often.
///
/// Rates are probabilities in `0.0..=1.0` (values outside are clamped, `NaN` counts as 0) and
/// are rolled independently per targeted call, in this order: reset, throttle, server error, hang;
/// the first hit decides the answer. Calls that are forwarded may then be delayed and, for
/// `BatchWriteItem`, partially processed.
#[derive(Clone, Debug, Default)]
pub struct FaultConfig {
    /// Share (0.0..=1.0) of BatchWriteItem calls where only some of the items are forwarded
    /// and the rest come back in `UnprocessedItems` (at least one item deferred; sometimes all).
    pub unprocessed_rate: f64,
    /// Share of targeted calls answered 400 `ProvisionedThroughputExceededException` (half of them may be
    /// `ThrottlingException` instead) without forwarding.
    pub throttle_rate: f64,
    /// Share of targeted calls answered 500 `InternalServerError` without forwarding.
    pub server_error_rate: f64,
    /// Share of targeted calls whose connection is closed/reset without any answer (the request is NOT forwarded).
    pub reset_rate: f64,
    /// Share of targeted calls that hang: no answer and nothing forwarded,
    /// the connection held open for [`HANG_FOR`] (a black hole; the client's
    /// timeouts and deadlines are all that end the call).
    pub hang_rate: f64,
    /// Share of targeted calls delayed by `delay` before forwarding.
    pub delay_rate: f64,
    /// Share of targeted calls forwarded (so DynamoDB applies them) whose
    /// answer is then lost: the connection is reset instead, as a network
    /// cut after the write would. The client cannot tell it from a reset
    /// before the write.
    pub lost_answer_rate: f64,
    /// How long a delayed call waits before it is forwarded.
    pub delay: std::time::Duration,
    /// Which operations faults apply to, e.g. ["BatchWriteItem"]; empty = every operation.
    /// Names are matched case-insensitively, with or without the `DynamoDB_20120810.` prefix.
    pub operations: Vec<String>,
    /// RNG seed, so runs are reproducible.
    pub seed: u64,
    /// Fault the first targeted call of each operation whatever the dice say (as if every rate
    /// above 0 were 1.0 for that call, so the first kind in the order of rolls wins), so that a
    /// short run at a low rate cannot miss an operation by chance: each operation's retry path
    /// is then exercised for sure.
    pub first_of_each_op: bool,
    /// Fault only `BatchWriteItem` calls that delete items (a `DeleteRequest` among their
    /// writes); every other call passes through untouched. A move, which writes each batch to
    /// its destination before deleting it from its source, then lands its writes and is stopped
    /// at its first delete: its items are left in both albums, as after a crash.
    pub deletes_only: bool,
    /// Fault nothing until a call of this operation has been seen (e.g.
    /// `"DeleteItem"`): a write sequence then lands its first steps and is
    /// stopped after that one, as DynamoDB failing at that moment would.
    pub armed_after: Option<String>,
}

impl FaultConfig {
    /// A configuration that injects nothing: the proxy is then a transparent pass-through.
    pub fn none() -> Self {
        Self::default()
    }

    /// Restrict faults to the given operations (e.g. `["BatchWriteItem"]`).
    pub fn only<I, S>(mut self, operations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.operations = operations.into_iter().map(Into::into).collect();
        self
    }

    /// Whether faults apply to `op` (the operation name without the `DynamoDB_20120810.` prefix).
    fn targets(&self, op: &str) -> bool {
        self.operations.is_empty()
            || self.operations.iter().any(|wanted| {
                let wanted = wanted.rsplit('.').next().unwrap_or(wanted);
                wanted.eq_ignore_ascii_case(op)
            })
    }
}

/// Snapshot of what the proxy has seen and done, so tests can assert that faults really
/// happened (a test that passes without any injected fault proves nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Every HTTP request received, DynamoDB or not.
    pub total: u64,
    /// Requests carrying an `X-Amz-Target` header.
    pub dynamodb_calls: u64,
    /// DynamoDB calls per operation name (e.g. `"BatchWriteItem"`).
    pub calls_by_op: BTreeMap<String, u64>,
    /// `BatchWriteItem` calls seen (faulted or not).
    pub batch_write: u64,
    /// Write requests in the `BatchWriteItem` calls seen (what the client sent, re-sends included).
    pub batch_write_items: u64,
    /// Calls eligible for faults (matched [`FaultConfig::operations`]).
    pub targeted: u64,
    /// `BatchWriteItem` calls answered with injected `UnprocessedItems`.
    pub unprocessed_calls: u64,
    /// Write requests moved into `UnprocessedItems` by the proxy, over all calls.
    pub items_deferred: u64,
    /// Calls answered with an injected throttling error (both kinds).
    pub throttled: u64,
    /// Of `throttled`, those answered `ThrottlingException` (the rest got
    /// `ProvisionedThroughputExceededException`).
    pub throttling_exceptions: u64,
    /// Calls answered with an injected 500 `InternalServerError`.
    pub server_errors: u64,
    /// Calls whose connection was reset without an answer.
    pub resets: u64,
    /// Calls delayed before forwarding.
    pub delayed: u64,
    /// Calls held unanswered and never forwarded (black hole).
    pub hung: u64,
    /// Calls forwarded whose answer was lost (a reset after the write).
    pub lost_answers: u64,
    /// Requests forwarded to the upstream (whole or with items removed).
    pub forwarded: u64,
    /// Forwarded requests for which the upstream could not be reached (answered 502).
    pub upstream_errors: u64,
    /// Injected faults of any kind (delays and `UnprocessedItems` included) per operation
    /// name, so tests can check that faults reached more than `BatchWriteItem`.
    pub faults_by_op: BTreeMap<String, u64>,
}

impl FaultStats {
    /// Calls seen for one operation (0 if never seen).
    pub fn calls(&self, op: &str) -> u64 {
        self.calls_by_op.get(op).copied().unwrap_or(0)
    }

    /// Faults injected into one operation's calls (0 if none).
    pub fn faults_on(&self, op: &str) -> u64 {
        self.faults_by_op.get(op).copied().unwrap_or(0)
    }

    /// Records one injected fault on `op`.
    fn count_fault(&mut self, op: &str) {
        *self.faults_by_op.entry(op.to_string()).or_insert(0) += 1;
    }

    /// Total number of faults of any kind injected (delays included).
    pub fn faults(&self) -> u64 {
        self.unprocessed_calls
            + self.throttled
            + self.server_errors
            + self.resets
            + self.delayed
            + self.hung
    }
}

/// A running fault-injecting proxy. Dropping it stops the listener and every open connection.
pub struct FaultProxy {
    proxy: Proxy,
    upstream: String,
    faults: Arc<Faults>,
}

impl FaultProxy {
    /// Bind `127.0.0.1:0` and start proxying to `upstream` (e.g. `"http://127.0.0.1:4567"`)
    /// on the current tokio runtime.
    ///
    /// # Panics
    /// If `upstream` is not an absolute `http://` URL or the listener cannot be bound: both
    /// are test-setup mistakes that should fail loudly.
    pub async fn start(upstream: &str, cfg: FaultConfig) -> FaultProxy {
        let faults = Arc::new(Faults {
            rng: Mutex::new(StdRng::seed_from_u64(cfg.seed)),
            cfg: Mutex::new(cfg),
            stats: Mutex::new(FaultStats::default()),
            request_ids: AtomicU64::new(0),
            forced_ops: Mutex::new(BTreeSet::new()),
        });
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let proxy = Proxy::start(upstream, listen, Arc::clone(&faults))
            .await
            .unwrap_or_else(|e| panic!("FaultProxy: {e}"));
        FaultProxy {
            proxy,
            upstream: upstream.to_string(),
            faults,
        }
    }

    /// URL to use as the SDK client's endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.proxy.endpoint()
    }

    /// Snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        self.faults.stats().clone()
    }

    /// Reset all counters to zero.
    pub fn reset_stats(&self) {
        *self.faults.stats() = FaultStats::default();
    }

    /// Current configuration.
    pub fn config(&self) -> FaultConfig {
        lock(&self.faults.cfg).clone()
    }

    /// Replace the configuration at run time (e.g. to turn faults off once a test has seen
    /// them). Applies to requests that arrive afterwards. The RNG is re-seeded only when
    /// `cfg.seed` differs from the current seed, so a run stays reproducible either way.
    pub fn set_config(&self, cfg: FaultConfig) {
        self.stats_handle().set_config(cfg);
    }

    /// A handle on this proxy for another task.
    pub fn stats_handle(&self) -> ProxyHandle {
        ProxyHandle(Arc::clone(&self.faults))
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint())
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// A handle on a running proxy's counters and configuration that a task
/// can own (e.g. to switch faults on once a copy is under way).
#[derive(Clone)]
pub struct ProxyHandle(Arc<Faults>);

impl ProxyHandle {
    /// Snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        self.0.stats().clone()
    }

    /// Replaces the configuration (see [`FaultProxy::set_config`]).
    pub fn set_config(&self, cfg: FaultConfig) {
        let mut current = lock(&self.0.cfg);
        if current.seed != cfg.seed {
            *lock(&self.0.rng) = StdRng::seed_from_u64(cfg.seed);
        }
        *current = cfg;
    }
}

/// The layer: its configuration, dice and counters, shared with the handles.
struct Faults {
    cfg: Mutex<FaultConfig>,
    rng: Mutex<StdRng>,
    stats: Mutex<FaultStats>,
    request_ids: AtomicU64,
    /// Operations whose first call was faulted ([`FaultConfig::first_of_each_op`]).
    forced_ops: Mutex<BTreeSet<String>>,
}

/// Lock a mutex, ignoring poisoning: counters and an RNG stay usable after a panic elsewhere.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `true` with probability `rate` (clamped; `NaN` never fires). Unlike `Rng::random_bool` this
/// never panics on out-of-range input.
pub(crate) fn roll(rng: &mut StdRng, rate: f64) -> bool {
    rate > 0.0 && rng.random::<f64>() < rate
}

/// The fault decided for one targeted call.
enum Plan {
    Reset,
    Throttle {
        throttling_exception: bool,
    },
    ServerError,
    Hang,
    LoseAnswer,
    Forward {
        delay: Option<Duration>,
        defer: Option<Deferral>,
    },
}

/// A `BatchWriteItem` split: what is forwarded and what is handed back as unprocessed.
pub(crate) struct Deferral {
    /// The request JSON with `RequestItems` reduced to the kept writes.
    pub(crate) kept_request: Map<String, Value>,
    /// Deferred writes per table, in their original order.
    pub(crate) deferred: Map<String, Value>,
    pub(crate) deferred_count: u64,
    /// Nothing is kept: answer without forwarding.
    pub(crate) all: bool,
}

impl Layer for Faults {
    async fn call(&self, call: Call, upstream: &Upstream) -> Outcome {
        let cfg = lock(&self.cfg).clone();
        self.count_call(&call);
        let armed = cfg
            .armed_after
            .as_deref()
            .is_none_or(|after| self.stats().calls(after) > 0);
        let targeted = call
            .op()
            .filter(|op| armed && cfg.targets(op))
            .filter(|op| {
                !cfg.deletes_only || (*op == "BatchWriteItem" && deletes_items(&call.body))
            });
        let Some(op) = targeted.map(str::to_string) else {
            // Not a DynamoDB call, or not one faults apply to: pass through untouched.
            return Outcome::Respond(self.forward(upstream, &call, call.body.clone(), None).await);
        };
        self.stats().targeted += 1;
        let plan = self.plan(&cfg, &op, &call.body);
        self.carry_out(plan, &op, &call, upstream).await
    }
}

impl Faults {
    fn stats(&self) -> MutexGuard<'_, FaultStats> {
        lock(&self.stats)
    }

    /// Counts a call received, before any fault.
    fn count_call(&self, call: &Call) {
        let mut stats = self.stats();
        stats.total += 1;
        if let Some(op) = call.op() {
            stats.dynamodb_calls += 1;
            *stats.calls_by_op.entry(op.to_string()).or_insert(0) += 1;
            if op == "BatchWriteItem" {
                stats.batch_write += 1;
                stats.batch_write_items += parse_batch(&call.body).map_or(0, |b| b.1.len() as u64);
            }
        }
    }

    /// Rolls the dice for a targeted call, in the order of [`FaultConfig`]'s rates.
    fn plan(&self, cfg: &FaultConfig, op: &str, body: &[u8]) -> Plan {
        let forced = cfg.first_of_each_op && lock(&self.forced_ops).insert(op.to_string());
        let rate = |r: f64| if forced && r > 0.0 { 1.0 } else { r };
        // Parse outside the RNG lock; only BatchWriteItem bodies are ever looked at.
        let batch = if op == "BatchWriteItem" && cfg.unprocessed_rate > 0.0 {
            parse_batch(body)
        } else {
            None
        };
        let mut rng = lock(&self.rng);
        if roll(&mut rng, rate(cfg.reset_rate)) {
            Plan::Reset
        } else if roll(&mut rng, rate(cfg.throttle_rate)) {
            Plan::Throttle {
                throttling_exception: rng.random::<bool>(),
            }
        } else if roll(&mut rng, rate(cfg.server_error_rate)) {
            Plan::ServerError
        } else if roll(&mut rng, rate(cfg.hang_rate)) {
            Plan::Hang
        } else if roll(&mut rng, rate(cfg.lost_answer_rate)) {
            Plan::LoseAnswer
        } else {
            let delay = roll(&mut rng, rate(cfg.delay_rate)).then_some(cfg.delay);
            let defer = match batch {
                Some((request, items)) if roll(&mut rng, rate(cfg.unprocessed_rate)) => {
                    Some(split_batch(&mut rng, request, items))
                }
                _ => None,
            };
            Plan::Forward { delay, defer }
        }
    }

    /// Counts one injected fault on `op`, of the kind `count` records.
    fn fault(&self, op: &str, count: impl FnOnce(&mut FaultStats)) {
        let mut stats = self.stats();
        count(&mut stats);
        stats.count_fault(op);
    }

    async fn carry_out(&self, plan: Plan, op: &str, call: &Call, upstream: &Upstream) -> Outcome {
        match plan {
            Plan::Reset => {
                self.fault(op, |s| s.resets += 1);
                Outcome::Reset
            }
            Plan::Throttle {
                throttling_exception,
            } => Outcome::Respond(self.throttle(op, throttling_exception)),
            Plan::ServerError => {
                self.fault(op, |s| s.server_errors += 1);
                Outcome::Respond(self.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("{DDB_ERR_NS}#InternalServerError"),
                    "Internal server error (injected)",
                ))
            }
            Plan::Hang => {
                self.fault(op, |s| s.hung += 1);
                tokio::time::sleep(HANG_FOR).await;
                Outcome::Reset
            }
            Plan::LoseAnswer => {
                self.fault(op, |s| s.lost_answers += 1);
                let _ = self.forward(upstream, call, call.body.clone(), None).await;
                Outcome::Reset
            }
            Plan::Forward { delay, defer } => {
                if let Some(delay) = delay {
                    self.fault(op, |s| s.delayed += 1);
                    tokio::time::sleep(delay).await;
                }
                Outcome::Respond(self.forward_deferring(upstream, call, defer).await)
            }
        }
    }

    /// A throttling error, of either kind DynamoDB sends.
    fn throttle(&self, op: &str, throttling_exception: bool) -> Reply {
        self.fault(op, |s| {
            s.throttled += 1;
            if throttling_exception {
                s.throttling_exceptions += 1;
            }
        });
        let (type_, message) = if throttling_exception {
            (
                "com.amazon.coral.availability#ThrottlingException".to_string(),
                "Rate of requests exceeds the allowed throughput (injected)",
            )
        } else {
            (
                format!("{DDB_ERR_NS}#ProvisionedThroughputExceededException"),
                "Rate exceeded (injected)",
            )
        };
        self.error(StatusCode::BAD_REQUEST, &type_, message)
    }

    /// Forwards the call, less the writes of `defer` (all of them: answered
    /// here, nothing forwarded), which come back in `UnprocessedItems`.
    async fn forward_deferring(
        &self,
        upstream: &Upstream,
        call: &Call,
        defer: Option<Deferral>,
    ) -> Reply {
        match defer {
            None => self.forward(upstream, call, call.body.clone(), None).await,
            Some(deferral) if deferral.all => {
                self.count_deferred(deferral.deferred_count);
                let mut answer = Map::new();
                answer.insert(
                    "UnprocessedItems".to_string(),
                    Value::Object(deferral.deferred),
                );
                self.with_request_id(proxy::json_response(StatusCode::OK, &Value::Object(answer)))
            }
            Some(deferral) => match serde_json::to_vec(&deferral.kept_request) {
                Ok(body) => {
                    self.forward(upstream, call, Bytes::from(body), Some(deferral))
                        .await
                }
                // Cannot happen for a Value, but never panic: forward untouched.
                Err(_) => self.forward(upstream, call, call.body.clone(), None).await,
            },
        }
    }

    fn count_deferred(&self, items: u64) {
        self.fault("BatchWriteItem", |s| {
            s.unprocessed_calls += 1;
            s.items_deferred += items;
        });
    }

    /// Forwards `body` (possibly rewritten) and answers the client, merging
    /// `deferral` into the upstream's `UnprocessedItems` when given.
    async fn forward(
        &self,
        upstream: &Upstream,
        call: &Call,
        body: Bytes,
        deferral: Option<Deferral>,
    ) -> Reply {
        self.stats().forwarded += 1;
        match upstream.send(call, body).await {
            Ok(answer) => self.with_deferred(answer, deferral),
            Err(e) => {
                self.stats().upstream_errors += 1;
                proxy::bad_gateway("fault proxy", e)
            }
        }
    }

    /// Merges the deferred writes only into a successful answer; an upstream error already
    /// tells the caller that nothing in the batch was written.
    fn with_deferred(&self, answer: Answer, deferral: Option<Deferral>) -> Reply {
        let Some(deferral) = deferral.filter(|_| answer.status == StatusCode::OK) else {
            return answer.respond();
        };
        let count = deferral.deferred_count;
        match proxy::merge_unprocessed(&answer.body, "UnprocessedItems", deferral.deferred) {
            Some(merged) => {
                self.count_deferred(count);
                answer.respond_with(Bytes::from(merged))
            }
            None => answer.respond(),
        }
    }

    /// A DynamoDB-style JSON error: `{"__type": "...#Name", "message": "..."}`.
    fn error(&self, status: StatusCode, type_: &str, message: &str) -> Reply {
        self.with_request_id(proxy::aws_error(status, type_, message, Value::Null))
    }

    /// Adds a DynamoDB-looking (52 upper-case alphanumerics) request id, so a test can tell
    /// an injected answer from the emulator's.
    fn with_request_id(&self, mut resp: Reply) -> Reply {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        if let Ok(id) = HeaderValue::from_str(&format!("FAULTPROXY{n:042}")) {
            resp.headers_mut()
                .insert(HeaderName::from_static("x-amzn-requestid"), id);
        }
        resp
    }
}

/// Whether a `BatchWriteItem` body holds a `DeleteRequest`.
fn deletes_items(body: &[u8]) -> bool {
    parse_batch(body)
        .is_some_and(|(_, writes)| writes.iter().any(|(_, w)| w.get("DeleteRequest").is_some()))
}

/// A `BatchWriteItem` request object and its writes flattened to `(table, write request)`.
pub(crate) type ParsedBatch = (Map<String, Value>, Vec<(String, Value)>);

/// Parse a `BatchWriteItem` request into its JSON object and the flat list of
/// `(table, write request)` pairs. `None` for anything unexpected (then it is passed through).
pub(crate) fn parse_batch(body: &[u8]) -> Option<ParsedBatch> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let items = batch_writes(&request)?;
    Some((request, items))
}

/// Choose which writes to defer: at least one; all of them for single-item batches and for a
/// share ([`DEFER_ALL_SHARE`]) of the others; otherwise a random strict subset.
pub(crate) fn split_batch(
    rng: &mut StdRng,
    mut request: Map<String, Value>,
    items: Vec<(String, Value)>,
) -> Deferral {
    let n = items.len();
    let k = if n <= 1 || roll(rng, DEFER_ALL_SHARE) {
        n
    } else {
        rng.random_range(1..n)
    };
    let mut is_deferred = vec![false; n];
    for i in rand::seq::index::sample(rng, n, k) {
        is_deferred[i] = true;
    }
    let (deferred, kept): (Vec<_>, Vec<_>) = items
        .into_iter()
        .zip(is_deferred)
        .partition(|(_, defer)| *defer);
    request.insert(
        "RequestItems".to_string(),
        Value::Object(by_table(kept.into_iter().map(|(w, _)| w))),
    );
    Deferral {
        kept_request: request,
        deferred: by_table(deferred.into_iter().map(|(w, _)| w)),
        deferred_count: k as u64,
        all: k == n,
    }
}
