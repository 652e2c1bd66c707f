//! What a dead letter says: the message as read, the failed duplication
//! it reports, how that is re-run.

use std::collections::BTreeMap;

use album_api::schedule::ScheduledDuplication;
use aws_sdk_sqs as sqs;
use serde::Serialize;
use serde_json::Value;

/// A dead-letter message as read from the queue, SDK types aside.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RawMessage {
    /// SQS message id.
    pub message_id: String,
    /// The body (empty when there is none).
    pub body: String,
    /// String and number message attributes, by name.
    pub attributes: BTreeMap<String, String>,
    /// `SentTimestamp` (Unix epoch, milliseconds).
    pub sent_ms: Option<u64>,
}

impl RawMessage {
    /// The parts of an SQS message that say what failed.
    pub(crate) fn from_sdk(m: &sqs::types::Message) -> Self {
        let attributes = m
            .message_attributes()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.string_value().map(|s| (k.clone(), s.to_string())))
            .collect();
        let sent_ms = m
            .attributes()
            .and_then(|a| a.get(&sqs::types::MessageSystemAttributeName::SentTimestamp))
            .and_then(|t| t.parse().ok());
        Self {
            message_id: m.message_id().unwrap_or_default().to_string(),
            body: m.body().unwrap_or_default().to_string(),
            attributes,
            sent_ms,
        }
    }
}

/// Which failure path a message came by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// EventBridge Scheduler could not invoke the scheduled function.
    Schedule,
    /// The scheduled function failed its asynchronous invocation and retries.
    AsyncInvoke,
    /// The worker failed a stream batch (a job's hand-off) and its retries.
    WorkerJob,
}

impl Kind {
    /// The kind as the listing shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule",
            Kind::AsyncInvoke => "async-invoke",
            Kind::WorkerJob => "worker-job",
        }
    }
}

/// The error a message reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    /// `ErrorCode`, `ERROR_CODE`, or the worker's function error.
    pub code: Option<String>,
    /// `ErrorMessage`, `ERROR_MESSAGE`, or the worker's failure condition.
    pub message: Option<String>,
}

/// Where a failed stream batch sits in the table's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamBatch {
    /// The stream's ARN.
    pub stream_arn: String,
    /// The shard.
    pub shard_id: String,
    /// Sequence number of the batch's first record.
    pub start_sequence_number: String,
    /// Sequence number of its last record.
    pub end_sequence_number: String,
    /// Records in the batch.
    pub batch_size: Option<u64>,
}

/// What re-running a failed duplication means.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Work {
    /// Run what `ScheduledDuplicateFunction` runs for `payload`, as the
    /// delivery `request_id`.
    Scheduled {
        /// The event, as the function takes it.
        payload: Value,
        /// The delivery's identity when the payload carries none.
        request_id: String,
        /// The duplication it asks for.
        run: ScheduledDuplication,
    },
    /// Run the jobs the batch handed off until they are done.
    Worker(StreamBatch),
}

/// A readable dead letter: one failed duplication.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FailedDuplication {
    /// SQS message id.
    pub message_id: String,
    /// The failure path.
    pub kind: Kind,
    /// The error reported.
    pub error: ErrorInfo,
    /// When it failed (RFC 3339), as the message says.
    pub when: Option<String>,
    /// How to re-run it.
    pub work: Work,
}

/// What a message is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Parsed {
    /// A failed duplication.
    Failed(FailedDuplication),
    /// Not a duplication this command can re-run: listed, never deleted.
    Unreadable {
        /// SQS message id.
        message_id: String,
        /// Why it cannot be read.
        reason: String,
        /// The failure path, when its attributes tell.
        kind: Option<Kind>,
        /// The error its attributes report, if any.
        error: ErrorInfo,
        /// When it was sent (RFC 3339).
        when: Option<String>,
    },
}
