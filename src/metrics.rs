//! The functions' CloudWatch metrics, written to the log in Embedded Metric Format.
//!
//! Every function counts what it did through the `metrics` facade; the
//! `metrics_cloudwatch_embedded` recorder keeps the values and [`flush`]
//! writes them, after each invocation, as EMF JSON lines on stdout, which
//! CloudWatch Logs turns into metrics of the namespace [`NAMESPACE`]. No
//! `PutMetricData` call sits on the request path, and nothing is sent when
//! nothing happened. Every metric carries the dimension [`FUNCTION`] (the
//! Lambda function's name): the alarms and the dashboard of `template.yaml`
//! and `docs/operations.md` name the metrics below, so renaming one is a
//! change of the template too.
//!
//! Outside a function (tests, the dev server) no recorder is installed and
//! every call here costs a branch.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_cloudwatch_embedded::Collector;

use crate::store::copy::CopyReport;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "AlbumApi";
/// The dimension every metric carries: the Lambda function's name.
pub const FUNCTION: &str = "function";
/// The per-document property holding the Lambda request id (not a
/// dimension: it only ties a metric line to the invocation's other lines).
pub const REQUEST_ID: &str = "RequestId";

/// Time from a duplicate request (or scheduled duplication) to its answer.
pub const DUPLICATE_DURATION: &str = "DuplicateDuration";
/// Images a copy wrote (completed batches only).
pub const IMAGES_COPIED: &str = "ImagesCopied";
/// Images a copy wrote per second of copying.
pub const IMAGES_PER_SECOND: &str = "ImagesPerSecond";
/// `BatchWriteItem` calls that were retries.
pub const BATCH_RETRIES: &str = "BatchRetries";
/// Items DynamoDB handed back unprocessed and the copy sent again.
pub const UNPROCESSED_ITEMS_RESENT: &str = "UnprocessedItemsResent";
/// Duplicates answered 202: the rest of the copy continues as a job.
pub const DUPLICATE_HANDOFFS: &str = "DuplicateHandoffs";
/// Job slices run (worker, scheduled duplications).
pub const JOB_SLICES: &str = "JobSlices";
/// Job slices that ended without progress (DynamoDB did not answer): a
/// stuck job, where a long one makes progress at every slice.
pub const IDLE_SLICES: &str = "IdleSlices";
/// Upload notifications recorded.
pub const WEBHOOK_ACCEPTED: &str = "WebhookAccepted";
/// Upload notifications refused, by the dimension `reason`.
pub const WEBHOOK_REJECTED: &str = "WebhookRejected";
/// Single-image writes (an upload, a delete) whose guarded ±1 on
/// `images_count` was refused because a recount came between (or is not
/// known to have applied), settled by a recount instead (decision 0003).
pub const COUNT_FALLBACKS: &str = "CountFallbacks";
/// Recounts of an album's `images_count`, whatever asked for them.
pub const RECOUNTS: &str = "Recounts";
/// Single-image writes that needed a recount and were settled by the one
/// already running instead of a recount of their own (decision 0003).
pub const RECOUNTS_JOINED: &str = "RecountsJoined";
/// Counting passes of those recounts: each reads every image item of the
/// album (strongly consistent), and a pass refused by a racing writer
/// is taken again.
pub const RECOUNT_PASSES: &str = "RecountPasses";
/// HTTP answers, by the dimension `status_class` (`2xx` … `5xx`).
pub const ANSWERS: &str = "Answers";
/// Cold starts: 1 at the first invocation of a process (not one that
/// provisioned concurrency started ahead), by the dimension [`SERVICE`]
/// as Powertools' `ColdStart` is, so the count reads per function and
/// per service.
pub const COLD_START: &str = "ColdStart";
/// The dimension of [`COLD_START`] besides [`FUNCTION`]: the service
/// (`SERVICE_NAME`, see [`crate::telemetry`]).
pub const SERVICE: &str = "service";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the EMF recorder for this process, with the function's name as
/// the [`FUNCTION`] dimension (`AWS_LAMBDA_FUNCTION_NAME`; `local` outside
/// Lambda). Called once by `run_http` / `run_event` at init; later calls
/// change nothing.
pub fn install() {
    if COLLECTOR.get().is_some() {
        return;
    }
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    match metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension(FUNCTION, function)
        .init()
    {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
            describe();
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics are off: the recorder could not be installed")
        }
    }
}

/// Units: CloudWatch takes a metric's unit from its first datapoint.
fn describe() {
    describe_histogram!(
        DUPLICATE_DURATION,
        Unit::Milliseconds,
        "duplicate to answer"
    );
    describe_counter!(IMAGES_COPIED, Unit::Count, "images written by copies");
    describe_histogram!(IMAGES_PER_SECOND, Unit::CountPerSecond, "copy throughput");
    describe_counter!(BATCH_RETRIES, Unit::Count, "BatchWriteItem retries");
    describe_counter!(
        UNPROCESSED_ITEMS_RESENT,
        Unit::Count,
        "unprocessed items re-sent"
    );
    describe_counter!(
        DUPLICATE_HANDOFFS,
        Unit::Count,
        "duplicates continued as jobs"
    );
    describe_counter!(JOB_SLICES, Unit::Count, "job slices run");
    describe_counter!(
        IDLE_SLICES,
        Unit::Count,
        "job slices that ended without progress"
    );
    describe_counter!(
        WEBHOOK_ACCEPTED,
        Unit::Count,
        "upload notifications recorded"
    );
    describe_counter!(
        WEBHOOK_REJECTED,
        Unit::Count,
        "upload notifications refused"
    );
    describe_counter!(
        COUNT_FALLBACKS,
        Unit::Count,
        "guarded count updates that fell back to a recount"
    );
    describe_counter!(RECOUNTS, Unit::Count, "recounts of images_count");
    describe_counter!(
        RECOUNTS_JOINED,
        Unit::Count,
        "writes settled by a recount already running"
    );
    describe_counter!(
        RECOUNT_PASSES,
        Unit::Count,
        "counting passes over an album's images"
    );
    describe_counter!(ANSWERS, Unit::Count, "HTTP answers by status class");
    describe_counter!(COLD_START, Unit::Count, "cold starts");
}

/// Writes what this invocation counted as EMF lines on stdout, tagged with
/// its request id, in one write (so no other log line can split a
/// document). A failed write loses the metrics, never the answer.
pub fn flush(request_id: &str) {
    let Some(collector) = COLLECTOR.get() else {
        return;
    };
    collector.set_property(REQUEST_ID, request_id.to_string());
    let mut lines = Vec::new();
    if collector.flush(&mut lines).is_ok() && !lines.is_empty() {
        let _ = std::io::stdout().lock().write_all(&lines);
    }
}

/// Counts the process's cold start (called once, by the first
/// invocation: see [`crate::telemetry::Invocation::start`]).
pub fn cold_start(service: &str) {
    counter!(COLD_START, SERVICE => service.to_string()).increment(1);
}

/// Counts one HTTP answer by its status class.
pub fn answered(status: u16) {
    let class = match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    counter!(ANSWERS, "status_class" => class).increment(1);
}

/// Counts what a copy (inline or a job slice) did in `copying`.
pub fn copied(report: &CopyReport, copying: Duration) {
    counter!(IMAGES_COPIED).increment(report.images_completed);
    counter!(BATCH_RETRIES).increment(report.retries);
    counter!(UNPROCESSED_ITEMS_RESENT).increment(report.items_resent);
    let seconds = copying.as_secs_f64();
    if report.images_completed > 0 && seconds > 0.0 {
        histogram!(IMAGES_PER_SECOND).record(report.images_completed as f64 / seconds);
    }
}

/// Records how long a duplicate took to answer.
pub fn duplicate_answered(took: Duration) {
    histogram!(DUPLICATE_DURATION).record(took.as_secs_f64() * 1000.0);
}

/// Counts a duplicate that continues as a job (the 202).
pub fn handed_off() {
    counter!(DUPLICATE_HANDOFFS).increment(1);
}

/// Counts one job slice.
pub fn job_slice() {
    counter!(JOB_SLICES).increment(1);
}

/// Counts a job slice that ended without progress.
pub fn idle_slice() {
    counter!(IDLE_SLICES).increment(1);
}

/// Counts an upload notification recorded (or knowingly ignored).
pub fn webhook_accepted() {
    counter!(WEBHOOK_ACCEPTED).increment(1);
}

/// Counts a guarded single-image count update that fell back to a recount.
pub fn count_fallback() {
    counter!(COUNT_FALLBACKS).increment(1);
}

/// Counts a recount of `images_count` (its passes: [`recount_pass`]).
pub fn recount() {
    counter!(RECOUNTS).increment(1);
}

/// Counts a write settled by a recount already running.
pub fn recount_joined() {
    counter!(RECOUNTS_JOINED).increment(1);
}

/// Counts one counting pass of a recount.
pub fn recount_pass() {
    counter!(RECOUNT_PASSES).increment(1);
}

/// Why an upload notification was refused: the `reason` dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookRejection {
    /// The notification token is missing, forged or expired.
    BadToken,
    /// Cloudinary's signature (or its timestamp header) is missing or wrong.
    BadSignature,
    /// The signed timestamp is too old: a replay, or a very late delivery.
    Stale,
    /// The body is no upload notification.
    BadRequest,
    /// The album no longer exists.
    NotFound,
}

impl WebhookRejection {
    /// The dimension value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadToken => "bad_token",
            Self::BadSignature => "bad_signature",
            Self::Stale => "stale",
            Self::BadRequest => "bad_request",
            Self::NotFound => "not_found",
        }
    }
}

/// Counts an upload notification refused for `reason`.
pub fn webhook_rejected(reason: WebhookRejection) {
    counter!(WEBHOOK_REJECTED, "reason" => reason.as_str()).increment(1);
}
