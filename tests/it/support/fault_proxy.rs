//! Fault-injecting HTTP/1.1 reverse proxy for DynamoDB integration tests.
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

// The module is shared by several test binaries; each uses only part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Content type of every DynamoDB JSON-protocol (awsJson1_0) body.
const AMZ_JSON: &str = "application/x-amz-json-1.0";
/// Error type namespace used by DynamoDB for its own exceptions.
const DDB_ERR_NS: &str = "com.amazonaws.dynamodb.v20120810";
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
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Bind `127.0.0.1:0` and start proxying to `upstream` (e.g. `"http://127.0.0.1:4567"`)
    /// on the current tokio runtime.
    ///
    /// # Panics
    /// If `upstream` is not an absolute `http://` URL or the listener cannot be bound: both
    /// are test-setup mistakes that should fail loudly.
    pub async fn start(upstream: &str, cfg: FaultConfig) -> FaultProxy {
        let upstream_uri: Uri = upstream
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("FaultProxy: invalid upstream URL {upstream:?}: {e}"));
        let scheme = upstream_uri.scheme_str().unwrap_or("");
        assert!(
            scheme.eq_ignore_ascii_case("http"),
            "FaultProxy: upstream must be an http:// URL, got {upstream:?}"
        );
        let authority = upstream_uri
            .authority()
            .unwrap_or_else(|| panic!("FaultProxy: upstream URL {upstream:?} has no host"))
            .to_string();
        let base_path = upstream_uri.path().trim_end_matches('/').to_string();

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("FaultProxy: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("FaultProxy: listener has no local address");

        let shared = Arc::new(Shared {
            upstream_authority: authority,
            upstream_base_path: base_path,
            client: Client::builder(TokioExecutor::new()).build_http(),
            rng: Mutex::new(StdRng::seed_from_u64(cfg.seed)),
            cfg: Mutex::new(cfg),
            stats: Mutex::new(FaultStats::default()),
            request_ids: AtomicU64::new(0),
            forced_ops: Mutex::new(BTreeSet::new()),
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        FaultProxy {
            addr,
            shared,
            accept_task,
        }
    }

    /// URL to use as the SDK client's endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        lock(&self.shared.stats).clone()
    }

    /// Reset all counters to zero.
    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = FaultStats::default();
    }

    /// Current configuration.
    pub fn config(&self) -> FaultConfig {
        lock(&self.shared.cfg).clone()
    }

    /// Replace the configuration at run time (e.g. to turn faults off once a test has seen
    /// them). Applies to requests that arrive afterwards. The RNG is re-seeded only when
    /// `cfg.seed` differs from the current seed, so a run stays reproducible either way.
    pub fn set_config(&self, cfg: FaultConfig) {
        self.stats_handle().set_config(cfg);
    }
}

/// A handle on a running proxy's counters and configuration that a task
/// can own (e.g. to switch faults on once a copy is under way).
#[derive(Clone)]
pub struct ProxyHandle(Arc<Shared>);

impl ProxyHandle {
    /// Snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        lock(&self.0.stats).clone()
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

impl FaultProxy {
    /// A handle on this proxy for another task.
    pub fn stats_handle(&self) -> ProxyHandle {
        ProxyHandle(Arc::clone(&self.shared))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection task.
        self.accept_task.abort();
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint())
            .field("upstream", &self.shared.upstream_authority)
            .finish_non_exhaustive()
    }
}

/// State shared by the proxy handle and all connection tasks.
struct Shared {
    upstream_authority: String,
    upstream_base_path: String,
    client: Client<HttpConnector, Full<Bytes>>,
    cfg: Mutex<FaultConfig>,
    rng: Mutex<StdRng>,
    stats: Mutex<FaultStats>,
    request_ids: AtomicU64,
    /// Operations whose first call was faulted ([`FaultConfig::first_of_each_op`]).
    forced_ops: Mutex<BTreeSet<String>>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, FaultStats> {
        lock(&self.stats)
    }

    /// A DynamoDB-looking (52 upper-case alphanumerics) request id for injected answers.
    fn next_request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        format!("FAULTPROXY{n:042}")
    }
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

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // E.g. EMFILE: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Serve one client connection until it closes, or until a handler asks for a reset.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let reset_flag = Arc::new(AtomicBool::new(false));
    let reset_now = Arc::new(Notify::new());
    let io = TokioIo::new(ResettableStream {
        stream,
        reset: Arc::clone(&reset_flag),
    });
    let service = {
        let reset_flag = Arc::clone(&reset_flag);
        let reset_now = Arc::clone(&reset_now);
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let shared = Arc::clone(&shared);
            let reset_flag = Arc::clone(&reset_flag);
            let reset_now = Arc::clone(&reset_now);
            async move {
                match handle(&shared, req).await {
                    Outcome::Respond(resp) => Ok::<_, Infallible>(resp),
                    Outcome::Reset => {
                        reset_flag.store(true, Ordering::SeqCst);
                        reset_now.notify_one();
                        // Never answer; the connection task drops the connection.
                        std::future::pending().await
                    }
                }
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::select! {
        // Client went away or protocol error: nothing to do either way.
        _ = conn => {}
        // Dropping `conn` drops the socket, which `ResettableStream` turns into an RST.
        _ = reset_now.notified() => {}
    }
}

/// A TCP stream that, when dropped after `reset` was set, closes with RST (`SO_LINGER` 0)
/// instead of an orderly FIN, like a load balancer killing a connection.
struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// How to answer one request.
enum Outcome {
    Respond(Response<Full<Bytes>>),
    Reset,
}

/// The fault decided for one targeted call.
enum Plan {
    Reset,
    Throttle {
        throttling_exception: bool,
    },
    ServerError,
    Hang,
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

/// Whether a `BatchWriteItem` body holds a `DeleteRequest`.
fn deletes_items(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("RequestItems").and_then(Value::as_object).cloned())
        .is_some_and(|tables| {
            tables.values().any(|writes| {
                writes
                    .as_array()
                    .is_some_and(|w| w.iter().any(|r| r.get("DeleteRequest").is_some()))
            })
        })
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Outcome {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            shared.stats().total += 1;
            return Outcome::Respond(plain_response(
                StatusCode::BAD_REQUEST,
                format!("fault proxy: cannot read request body: {e}"),
            ));
        }
    };

    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.rsplit('.').next().unwrap_or(t).trim().to_string());

    let cfg = lock(&shared.cfg).clone();
    {
        let mut stats = shared.stats();
        stats.total += 1;
        if let Some(op) = &op {
            stats.dynamodb_calls += 1;
            *stats.calls_by_op.entry(op.clone()).or_insert(0) += 1;
            if op == "BatchWriteItem" {
                stats.batch_write += 1;
                stats.batch_write_items += parse_batch(&body).map_or(0, |b| b.1.len() as u64);
            }
        }
    }

    let Some(op) = op
        .filter(|op| cfg.targets(op))
        .filter(|op| !cfg.deletes_only || (op == "BatchWriteItem" && deletes_items(&body)))
    else {
        // Not a DynamoDB call, or not one faults apply to: pass through untouched.
        return Outcome::Respond(forward_and_respond(shared, &parts, body, None).await);
    };
    shared.stats().targeted += 1;
    let forced = cfg.first_of_each_op && lock(&shared.forced_ops).insert(op.clone());
    let rate = |r: f64| if forced && r > 0.0 { 1.0 } else { r };

    // Parse outside the RNG lock; only BatchWriteItem bodies are ever looked at.
    let batch = if op == "BatchWriteItem" && cfg.unprocessed_rate > 0.0 {
        parse_batch(&body)
    } else {
        None
    };

    let plan = {
        let mut rng = lock(&shared.rng);
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
    };

    match plan {
        Plan::Reset => {
            {
                let mut stats = shared.stats();
                stats.resets += 1;
                stats.count_fault(&op);
            }
            Outcome::Reset
        }
        Plan::Throttle {
            throttling_exception,
        } => {
            {
                let mut stats = shared.stats();
                stats.throttled += 1;
                stats.count_fault(&op);
                if throttling_exception {
                    stats.throttling_exceptions += 1;
                }
            }
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
            Outcome::Respond(error_response(
                shared,
                StatusCode::BAD_REQUEST,
                &type_,
                message,
            ))
        }
        Plan::ServerError => {
            {
                let mut stats = shared.stats();
                stats.server_errors += 1;
                stats.count_fault(&op);
            }
            Outcome::Respond(error_response(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("{DDB_ERR_NS}#InternalServerError"),
                "Internal server error (injected)",
            ))
        }
        Plan::Hang => {
            {
                let mut stats = shared.stats();
                stats.hung += 1;
                stats.count_fault(&op);
            }
            tokio::time::sleep(HANG_FOR).await;
            Outcome::Reset
        }
        Plan::Forward { delay, defer } => {
            if let Some(delay) = delay {
                {
                    let mut stats = shared.stats();
                    stats.delayed += 1;
                    stats.count_fault(&op);
                }
                tokio::time::sleep(delay).await;
            }
            match defer {
                None => Outcome::Respond(forward_and_respond(shared, &parts, body, None).await),
                Some(deferral) if deferral.all => {
                    {
                        let mut stats = shared.stats();
                        stats.unprocessed_calls += 1;
                        stats.count_fault("BatchWriteItem");
                        stats.items_deferred += deferral.deferred_count;
                    }
                    let mut answer = Map::new();
                    answer.insert(
                        "UnprocessedItems".to_string(),
                        Value::Object(deferral.deferred),
                    );
                    Outcome::Respond(json_response(
                        shared,
                        StatusCode::OK,
                        &Value::Object(answer),
                    ))
                }
                Some(deferral) => {
                    let new_body = match serde_json::to_vec(&deferral.kept_request) {
                        Ok(b) => Bytes::from(b),
                        // Cannot happen for a Value, but never panic: forward untouched.
                        Err(_) => {
                            return Outcome::Respond(
                                forward_and_respond(shared, &parts, body, None).await,
                            );
                        }
                    };
                    Outcome::Respond(
                        forward_and_respond(shared, &parts, new_body, Some(deferral)).await,
                    )
                }
            }
        }
    }
}

/// A `BatchWriteItem` request object and its writes flattened to `(table, write request)`.
pub(crate) type ParsedBatch = (Map<String, Value>, Vec<(String, Value)>);

/// Parse a `BatchWriteItem` request into its JSON object and the flat list of
/// `(table, write request)` pairs. `None` for anything unexpected (then it is passed through).
pub(crate) fn parse_batch(body: &[u8]) -> Option<ParsedBatch> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let request_items = request.get("RequestItems")?.as_object()?;
    let mut items = Vec::new();
    for (table, writes) in request_items {
        for write in writes.as_array()? {
            items.push((table.clone(), write.clone()));
        }
    }
    if items.is_empty() {
        return None;
    }
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

    let mut kept = Map::new();
    let mut deferred = Map::new();
    for ((table, write), defer) in items.into_iter().zip(is_deferred) {
        let target = if defer { &mut deferred } else { &mut kept };
        if let Value::Array(list) = target
            .entry(table)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(write);
        }
    }
    // Tables with nothing left are omitted: DynamoDB rejects empty write lists.
    request.insert("RequestItems".to_string(), Value::Object(kept));
    Deferral {
        kept_request: request,
        deferred,
        deferred_count: k as u64,
        all: k == n,
    }
}

/// Add the deferred writes to a successful upstream `BatchWriteItem` answer.
/// `None` if the answer is not the JSON object expected.
pub(crate) fn merge_unprocessed(
    upstream_body: &[u8],
    deferred: Map<String, Value>,
) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(upstream_body) else {
        return None;
    };
    let unprocessed = answer
        .entry("UnprocessedItems")
        .or_insert_with(|| Value::Object(Map::new()));
    if unprocessed.is_null() {
        *unprocessed = Value::Object(Map::new());
    }
    let unprocessed = unprocessed.as_object_mut()?;
    for (table, writes) in deferred {
        let Value::Array(writes) = writes else {
            continue;
        };
        match unprocessed
            .entry(table)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(existing) => existing.extend(writes),
            _ => return None,
        }
    }
    serde_json::to_vec(&Value::Object(answer)).ok()
}

/// Headers that describe a single hop and must not be copied by a proxy.
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

/// Headers that vouch for the exact body bytes, so they become wrong when the body changes.
fn is_body_digest(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "x-amz-crc32"
        || n == "content-md5"
        || n == "x-amz-content-sha256"
        || n.starts_with("x-amz-checksum-")
}

/// Forward a request (with `body`, possibly rewritten) and build the answer for the client,
/// merging `deferral` into the upstream's `UnprocessedItems` when given.
async fn forward_and_respond(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    body: Bytes,
    deferral: Option<Deferral>,
) -> Response<Full<Bytes>> {
    let rewritten_request = deferral.is_some();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let uri = format!(
        "http://{}{}{}",
        shared.upstream_authority, shared.upstream_base_path, path_and_query
    );
    let had_length = parts.headers.contains_key(header::CONTENT_LENGTH)
        || parts.headers.contains_key(header::TRANSFER_ENCODING);

    let mut builder = Request::builder()
        .method(parts.method.clone())
        .uri(uri.as_str());
    if let Some(headers) = builder.headers_mut() {
        copy_headers(&parts.headers, headers, rewritten_request);
        headers.remove(header::HOST);
        headers.remove(header::CONTENT_LENGTH);
        if had_length || !body.is_empty() || rewritten_request {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
    }
    let upstream_req = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return upstream_failure(shared, format!("cannot build upstream request: {e}")),
    };

    shared.stats().forwarded += 1;
    let upstream_resp = match shared.client.request(upstream_req).await {
        Ok(r) => r,
        Err(e) => return upstream_failure(shared, format!("upstream {uri} failed: {e}")),
    };
    let (resp_parts, resp_body) = upstream_resp.into_parts();
    let resp_body = match resp_body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => return upstream_failure(shared, format!("reading upstream answer failed: {e}")),
    };

    // Merge the deferred writes only into a successful answer; an upstream error already tells
    // the caller that nothing in the batch was written.
    let (out_body, rewritten_response) = match deferral {
        Some(deferral) if resp_parts.status == StatusCode::OK => {
            let count = deferral.deferred_count;
            match merge_unprocessed(&resp_body, deferral.deferred) {
                Some(merged) => {
                    let mut stats = shared.stats();
                    stats.unprocessed_calls += 1;
                    stats.count_fault("BatchWriteItem");
                    stats.items_deferred += count;
                    (Bytes::from(merged), true)
                }
                None => (resp_body, false),
            }
        }
        _ => (resp_body, false),
    };

    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = resp_parts.status;
    let is_head = parts.method == hyper::Method::HEAD;
    copy_headers(&resp_parts.headers, resp.headers_mut(), rewritten_response);
    if !is_head {
        resp.headers_mut().remove(header::CONTENT_LENGTH);
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(out_body.len()));
    }
    *resp.body_mut() = Full::new(out_body);
    resp
}

/// Copy end-to-end headers; with `drop_digests`, also drop those a new body would contradict.
fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, drop_digests: bool) {
    for (name, value) in from {
        if is_hop_by_hop(name) || (drop_digests && is_body_digest(name)) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

fn upstream_failure(shared: &Shared, message: String) -> Response<Full<Bytes>> {
    shared.stats().upstream_errors += 1;
    plain_response(StatusCode::BAD_GATEWAY, format!("fault proxy: {message}"))
}

fn plain_response(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(message)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A DynamoDB-style JSON error: `{"__type": "...#Name", "message": "..."}`.
fn error_response(
    shared: &Shared,
    status: StatusCode,
    type_: &str,
    message: &str,
) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "__type": type_, "message": message });
    json_response(shared, status, &body)
}

fn json_response(shared: &Shared, status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()));
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    if let Ok(id) = HeaderValue::from_str(&shared.next_request_id()) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    *resp.body_mut() = Full::new(bytes);
    resp
}
