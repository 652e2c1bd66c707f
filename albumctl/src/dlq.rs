//! `albumctl dlq list|redrive`: the duplications that landed in the
//! dead-letter queue `DuplicationDeadLetterQueue` (decision 0008).
//!
//! Three kinds of message arrive there:
//! - **async invoke**: Lambda's dead-letter queue of
//!   `ScheduledDuplicateFunction`. The body is the event the function took
//!   (the schedule's input or an EventBridge event); the message attributes
//!   are `RequestID`, `ErrorCode` (an HTTP status) and `ErrorMessage`.
//! - **schedule**: EventBridge Scheduler's own dead-letter queue, when it
//!   could not invoke the function at all. The body is the target's input;
//!   the attributes are `ERROR_CODE`, `ERROR_MESSAGE`, `EXECUTION_ID`,
//!   `SCHEDULE_ARN`, `TARGET_ARN` (and others, ignored).
//! - **worker job**: the on-failure record of the worker's stream event
//!   source mapping: JSON with `requestContext`, `responseContext`,
//!   `version`, `timestamp` and `DDBStreamBatchInfo` (shard, first and last
//!   sequence numbers, stream ARN), without the stream record itself. The
//!   job is recovered by reading the record back from the stream
//!   (`GetShardIterator` `AT_SEQUENCE_NUMBER`, `GetRecords`), which keeps it
//!   24 hours; later, the listing says the job is unknown and
//!   `redrive --message ID --job JOB` names it.
//!
//! A redrive re-runs each one in-process through the functions' own
//! library: what `ScheduledDuplicateFunction` runs for that event, or the
//! job's slices until done as the worker runs them. Re-runs are idempotent
//! (deterministic copy ids, jobs found by their delivery's identity,
//! recounts): a message is deleted only when its duplication is done, and
//! an unreadable message is never deleted.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use album_api::App;
use album_api::error::ApiError;
use album_api::handlers::{duplication_worker, scheduled_duplicate};
use album_api::jobs::{SliceOutcome, run_slice, within_invocation};
use album_api::schedule::{self, ScheduledDuplication};
use album_api::store::Store;
use album_api::store::jobs::JobStatus;
use aws_sdk_dynamodbstreams as streams;
use aws_sdk_sqs as sqs;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// How long `list` hides the messages it reads, should it die before it
/// makes them visible again (it does so as soon as it has read the queue).
pub const LIST_VISIBILITY_SECONDS: i32 = 30;
/// How long `redrive` hides the message it re-runs; renewed every
/// [`HEARTBEAT`] while the re-run lasts. Kept messages are made visible
/// again when the redrive ends.
pub const REDRIVE_VISIBILITY_SECONDS: i32 = 1800;
/// How often a long re-run renews its message's invisibility.
pub const HEARTBEAT: Duration = Duration::from_secs(300);
/// The time a re-run gives each invocation (a Lambda's longest).
pub const INVOCATION: Duration = Duration::from_secs(900);
/// At most this many slices per job in one redrive.
pub const MAX_SLICES: u32 = 500;

/// A dead-letter message as read from the queue, SDK types aside.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawMessage {
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
    pub fn from_sdk(m: &sqs::types::Message) -> Self {
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
pub struct StreamBatch {
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
pub enum Work {
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
pub struct FailedDuplication {
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
pub enum Parsed {
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

fn rfc3339_of_ms(ms: u64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Parses a dead letter into the duplication that failed. Never fails:
/// whatever is not a duplication is [`Parsed::Unreadable`].
pub fn parse_message(m: &RawMessage) -> Parsed {
    let attr = |name: &str| {
        m.attributes
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let sent = m.sent_ms.and_then(rfc3339_of_ms);
    let unreadable = |reason: String, kind: Option<Kind>, error: ErrorInfo| Parsed::Unreadable {
        message_id: m.message_id.clone(),
        reason,
        kind,
        error,
        when: sent.clone(),
    };
    let body: Result<Value, _> = serde_json::from_str(&m.body);

    // Lambda's asynchronous-invocation dead letter.
    if let Some(request_id) = attr("RequestID") {
        let error = ErrorInfo {
            code: attr("ErrorCode"),
            message: attr("ErrorMessage"),
        };
        let kind = Some(Kind::AsyncInvoke);
        let payload = match body {
            Ok(v) => v,
            Err(e) => return unreadable(format!("the body is not JSON: {e}"), kind, error),
        };
        return match schedule::parse(&payload, &request_id) {
            Ok(run) => Parsed::Failed(FailedDuplication {
                message_id: m.message_id.clone(),
                kind: Kind::AsyncInvoke,
                error,
                when: sent.clone(),
                work: Work::Scheduled {
                    payload,
                    request_id,
                    run,
                },
            }),
            Err(e) => unreadable(
                format!("not an event the scheduled function takes: {e}"),
                kind,
                error,
            ),
        };
    }

    // EventBridge Scheduler's dead letter.
    if ["ERROR_CODE", "SCHEDULE_ARN", "EXECUTION_ID", "TARGET_ARN"]
        .iter()
        .any(|a| attr(a).is_some())
    {
        let error = ErrorInfo {
            code: attr("ERROR_CODE"),
            message: attr("ERROR_MESSAGE"),
        };
        let kind = Some(Kind::Schedule);
        let mut payload = match body {
            Ok(v) => v,
            Err(e) => return unreadable(format!("the body is not JSON: {e}"), kind, error),
        };
        // The run's identity, as the function would have had it: the
        // input's execution id, else Scheduler's, else this message's id
        // (the same for every redrive of this message).
        if let (Some(exec), Some(obj)) = (attr("EXECUTION_ID"), payload.as_object_mut())
            && !obj.contains_key("detail")
            && !obj.contains_key("detail-type")
            && obj
                .get("execution_id")
                .and_then(Value::as_str)
                .is_none_or(|s| s.is_empty() || s.starts_with("<aws."))
        {
            obj.insert("execution_id".into(), Value::from(exec));
        }
        let request_id = m.message_id.clone();
        return match schedule::parse(&payload, &request_id) {
            Ok(run) => Parsed::Failed(FailedDuplication {
                message_id: m.message_id.clone(),
                kind: Kind::Schedule,
                error,
                when: attr("SCHEDULED_TIME").or(sent.clone()),
                work: Work::Scheduled {
                    payload,
                    request_id,
                    run,
                },
            }),
            Err(e) => unreadable(
                format!("not an input the scheduled function takes: {e}"),
                kind,
                error,
            ),
        };
    }

    // The worker's stream on-failure record.
    let body = match body {
        Ok(v) => v,
        Err(e) => {
            return unreadable(
                format!("no dead-letter attributes and the body is not JSON: {e}"),
                None,
                ErrorInfo::default(),
            );
        }
    };
    let Some(info) = body.get("DDBStreamBatchInfo") else {
        return unreadable(
            "neither a Lambda nor a Scheduler dead letter, nor a stream failure record".into(),
            None,
            ErrorInfo::default(),
        );
    };
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let request = &body["requestContext"];
    let response = &body["responseContext"];
    let condition = text(request, "condition");
    let error = ErrorInfo {
        code: text(response, "functionError").or_else(|| condition.clone()),
        message: condition.map(|c| {
            let mut m = c;
            if let Some(n) = request["approximateInvokeCount"].as_u64() {
                m.push_str(&format!(" after {n} invocations"));
            }
            if let Some(s) = response["statusCode"].as_u64() {
                m.push_str(&format!(" (status {s})"));
            }
            m
        }),
    };
    let (Some(stream_arn), Some(shard_id), Some(start), Some(end)) = (
        text(info, "streamArn"),
        text(info, "shardId"),
        text(info, "startSequenceNumber"),
        text(info, "endSequenceNumber"),
    ) else {
        return unreadable(
            "a stream failure record without streamArn, shardId and sequence numbers".into(),
            Some(Kind::WorkerJob),
            error,
        );
    };
    Parsed::Failed(FailedDuplication {
        message_id: m.message_id.clone(),
        kind: Kind::WorkerJob,
        error,
        when: text(&body, "timestamp").or(sent),
        work: Work::Worker(StreamBatch {
            stream_arn,
            shard_id,
            start_sequence_number: start,
            end_sequence_number: end,
            batch_size: info["batchSize"].as_u64(),
        }),
    })
}

/// Orders two stream sequence numbers (decimal strings of up to 40 digits).
pub fn sequence_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn attribute_json(v: &streams::types::AttributeValue) -> Value {
    use streams::types::AttributeValue as A;
    match v {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::Bool(b) => json!({ "BOOL": b }),
        _ => json!({ "NULL": true }),
    }
}

/// A stream record as the Lambda event carries it (what the worker reads).
fn record_json(r: &streams::types::Record) -> Value {
    let image: Map<String, Value> = r
        .dynamodb()
        .and_then(|d| d.new_image())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), attribute_json(v)))
        .collect();
    json!({
        "eventName": r.event_name().map(|e| e.as_str()),
        "dynamodb": {
            "NewImage": image,
            "SequenceNumber": r.dynamodb().and_then(|d| d.sequence_number()),
        },
    })
}

/// The jobs a failed stream batch handed off, read back from the stream
/// (it keeps records 24 hours), with the worker's own filter.
pub async fn jobs_of_batch(
    client: &streams::Client,
    batch: &StreamBatch,
) -> Result<Vec<String>, String> {
    let unreadable =
        |what: &str, e: String| format!("the stream record cannot be read back ({what}: {e})");
    let it = client
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(streams::types::ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start_sequence_number)
        .send()
        .await
        .map_err(|e| unreadable("GetShardIterator", sdk_error(&e)))?;
    let want = batch.batch_size.unwrap_or(1).clamp(1, 1000) as i32;
    let mut iterator = it.shard_iterator().map(str::to_string);
    let mut records = Vec::new();
    let mut reads = 0;
    'read: while let Some(i) = iterator.take() {
        reads += 1;
        let out = client
            .get_records()
            .shard_iterator(i)
            .limit(want)
            .send()
            .await
            .map_err(|e| unreadable("GetRecords", sdk_error(&e)))?;
        for r in out.records() {
            let seq = r.dynamodb().and_then(|d| d.sequence_number()).unwrap_or("");
            if sequence_cmp(seq, &batch.end_sequence_number) == Ordering::Greater {
                break 'read;
            }
            records.push(record_json(r));
            if sequence_cmp(seq, &batch.end_sequence_number) == Ordering::Equal {
                break 'read;
            }
        }
        if reads >= 5 {
            break;
        }
        iterator = out.next_shard_iterator().map(str::to_string);
    }
    if records.is_empty() {
        return Err(unreadable(
            "GetRecords",
            "the stream no longer holds the batch".into(),
        ));
    }
    let jobs = duplication_worker::handed_off_jobs(&json!({ "Records": records }));
    if jobs.is_empty() {
        return Err("the batch's stream records hand off no job".into());
    }
    Ok(jobs)
}

/// The SQS and DynamoDB Streams clients the commands use.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The dead-letter queue's service.
    pub sqs: sqs::Client,
    /// The table's stream (worker failures).
    pub streams: streams::Client,
}

impl Clients {
    /// Clients from a shared configuration (its endpoints included:
    /// `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`,
    /// `AWS_ENDPOINT_URL`).
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            sqs: sqs::Client::new(sdk),
            streams: streams::Client::new(sdk),
        }
    }

    /// Both clients against one endpoint (a local emulator).
    pub fn with_endpoint(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        Self {
            sqs: sqs::Client::from_conf(
                sqs::config::Builder::from(sdk)
                    .endpoint_url(endpoint)
                    .build(),
            ),
            streams: streams::Client::from_conf(
                streams::config::Builder::from(sdk)
                    .endpoint_url(endpoint)
                    .build(),
            ),
        }
    }

    /// Clients from the environment, loaded and tuned as albumctl's
    /// DynamoDB client is.
    pub async fn from_env(budgets: &album_api::deadline::Budgets) -> Self {
        let sdk = album_api::store::tuned(
            aws_config::defaults(aws_config::BehaviorVersion::latest()),
            budgets,
        )
        .load()
        .await;
        Self::new(&sdk)
    }
}

/// An SDK error in one line: the service's code and message, else the
/// HTTP status, else the error chain (never the raw response).
pub fn sdk_error<E>(e: &sqs::error::SdkError<E, sqs::config::http::HttpResponse>) -> String
where
    E: sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use sqs::error::{ProvideErrorMetadata, SdkError};
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => match e {
            SdkError::ServiceError(s) => format!("HTTP {}", s.raw().status().as_u16()),
            other => sqs::error::DisplayErrorContext(other).to_string(),
        },
    }
}

fn sqs_error<E>(what: &str, e: sqs::error::SdkError<E, sqs::config::http::HttpResponse>) -> String
where
    E: sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    format!("SQS {what}: {}", sdk_error(&e))
}

/// Receives up to `max` messages, hiding them for `visibility` seconds.
async fn receive(
    sqs: &sqs::Client,
    url: &str,
    max: i32,
    visibility: i32,
) -> Result<Vec<(RawMessage, String)>, String> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .visibility_timeout(visibility)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .message_system_attribute_names(sqs::types::MessageSystemAttributeName::SentTimestamp)
        .send()
        .await
        .map_err(|e| sqs_error("ReceiveMessage", e))?;
    Ok(out
        .messages()
        .iter()
        .map(|m| {
            (
                RawMessage::from_sdk(m),
                m.receipt_handle().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

async fn set_visibility(
    sqs: &sqs::Client,
    url: &str,
    receipt: &str,
    seconds: i32,
) -> Result<(), String> {
    sqs.change_message_visibility()
        .queue_url(url)
        .receipt_handle(receipt)
        .visibility_timeout(seconds)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sqs_error("ChangeMessageVisibility", e))
}

/// Makes the held messages visible again; the warnings of those it could not.
async fn release(sqs: &sqs::Client, url: &str, held: &HashMap<String, String>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (id, receipt) in held {
        if let Err(e) = set_visibility(sqs, url, receipt, 0).await {
            warnings.push(format!(
                "message {id} stays hidden until its visibility timeout: {e}"
            ));
        }
    }
    warnings
}

/// One line of the listing.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    /// SQS message id.
    pub message_id: String,
    /// Whether the message is a duplication this command can re-run.
    pub readable: bool,
    /// The failure path.
    pub kind: Option<Kind>,
    /// Album copied from.
    pub source_album_id: Option<String>,
    /// Album copied into.
    pub destination_id: Option<String>,
    /// The organization.
    pub organization_id: Option<String>,
    /// The job(s) the re-run continues.
    pub job_ids: Vec<String>,
    /// The job's status in the table now, when known.
    pub job_status: Option<String>,
    /// The error the message reports.
    pub error: ErrorInfo,
    /// When it failed.
    pub when: Option<String>,
    /// What stands in the way (unreadable, job unknown).
    pub note: Option<String>,
}

/// A failed duplication with its jobs looked up.
struct Resolved {
    failed: FailedDuplication,
    jobs: Result<Vec<String>, String>,
}

async fn resolve(clients: &Clients, failed: FailedDuplication) -> Resolved {
    let jobs = match &failed.work {
        Work::Scheduled { run, .. } => Ok(vec![run.job_id()]),
        Work::Worker(batch) => jobs_of_batch(&clients.streams, batch).await,
    };
    Resolved { failed, jobs }
}

async fn listed(store: Option<&Store>, r: &Resolved) -> Listed {
    let f = &r.failed;
    let mut item = Listed {
        message_id: f.message_id.clone(),
        readable: true,
        kind: Some(f.kind),
        source_album_id: None,
        destination_id: None,
        organization_id: None,
        job_ids: r.jobs.clone().unwrap_or_default(),
        job_status: None,
        error: f.error.clone(),
        when: f.when.clone(),
        note: r.jobs.as_ref().err().map(|e| {
            format!(
                "job unknown: {e}; once the job is found (the table, GET /api/v1/duplications/{{job_id}}): \
                 albumctl dlq redrive --message {} --job <job id>",
                f.message_id
            )
        }),
    };
    if let Work::Scheduled { run, .. } = &f.work {
        item.source_album_id = Some(run.source_album_id.clone());
        item.destination_id = Some(run.destination_id.clone());
        item.organization_id = Some(run.organization_id.clone());
    }
    if let (Some(store), Some(id)) = (store, item.job_ids.first()) {
        match store.get_job(id).await {
            Ok(Some(job)) => {
                item.source_album_id = Some(job.source_album_id);
                item.destination_id = Some(job.destination_id);
                item.organization_id = Some(job.organization_id);
                item.job_status = Some(format!(
                    "{} ({} of {} copied)",
                    job.status.as_str(),
                    job.images_copied,
                    job.images_total
                ));
            }
            Ok(None) => item.job_status = Some("not started".into()),
            Err(e) => item.job_status = Some(format!("unknown ({e})")),
        }
    }
    item
}

fn listed_unreadable(p: Parsed) -> Listed {
    let Parsed::Unreadable {
        message_id,
        reason,
        kind,
        error,
        when,
    } = p
    else {
        unreachable!("only unreadable messages come here")
    };
    Listed {
        message_id,
        readable: false,
        kind,
        source_album_id: None,
        destination_id: None,
        organization_id: None,
        job_ids: Vec::new(),
        job_status: None,
        error,
        when,
        note: Some(format!("unreadable: {reason}")),
    }
}

/// Lists every message of the queue as a failed duplication (or an
/// unreadable message). Harmless: each message is hidden for at most
/// [`LIST_VISIBILITY_SECONDS`] while the queue is read, then made visible
/// again at once; nothing is deleted. With `store`, each job's status.
pub async fn list(
    clients: &Clients,
    store: Option<&Store>,
    url: &str,
) -> Result<(Vec<Listed>, Vec<String>), String> {
    let mut order = Vec::new();
    let mut held: HashMap<String, String> = HashMap::new();
    let mut messages = HashMap::new();
    let outcome = async {
        loop {
            let batch = receive(&clients.sqs, url, 10, LIST_VISIBILITY_SECONDS).await?;
            let mut new = 0;
            for (raw, receipt) in batch {
                if held.insert(raw.message_id.clone(), receipt).is_none() {
                    new += 1;
                    order.push(raw.message_id.clone());
                    messages.insert(raw.message_id.clone(), raw);
                }
            }
            if new == 0 {
                return Ok::<(), String>(());
            }
        }
    }
    .await;
    let warnings = release(&clients.sqs, url, &held).await;
    outcome?;
    let mut items = Vec::new();
    for id in order {
        match parse_message(&messages[&id]) {
            Parsed::Failed(f) => items.push(listed(store, &resolve(clients, f).await).await),
            p => items.push(listed_unreadable(p)),
        }
    }
    Ok((items, warnings))
}

/// The listing as text, one block per message.
pub fn render(items: &[Listed]) -> String {
    let mut out = String::new();
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    for i in items {
        out.push_str(&format!(
            "{}  {}  {}\n",
            i.message_id,
            i.kind.map_or("unknown", Kind::as_str),
            dash(&i.when)
        ));
        if i.source_album_id.is_some() || i.destination_id.is_some() {
            out.push_str(&format!(
                "  source {} -> destination {}, organization {}\n",
                dash(&i.source_album_id),
                dash(&i.destination_id),
                dash(&i.organization_id)
            ));
        }
        if !i.job_ids.is_empty() {
            out.push_str(&format!(
                "  job {}{}\n",
                i.job_ids.join(", "),
                i.job_status
                    .as_ref()
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default()
            ));
        }
        if i.error.code.is_some() || i.error.message.is_some() {
            out.push_str(&format!(
                "  error {}: {}\n",
                dash(&i.error.code),
                dash(&i.error.message)
            ));
        }
        if let Some(n) = &i.note {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out
}

/// How a job's re-run ended well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDone {
    /// The job.
    pub job_id: String,
    /// Its destination album.
    pub destination_id: String,
    /// Whether it was done before this re-run (nothing redone).
    pub already: bool,
}

/// Runs job `job_id`'s slices until it is done, as the worker does, each
/// inside an invocation-like deadline. `Err` when it cannot finish now:
/// held by another invocation, failed for good, missing, or DynamoDB
/// trouble (its progress is saved).
pub async fn drive_job(app: &App, job_id: &str, owner: &str) -> Result<JobDone, String> {
    for _ in 0..MAX_SLICES {
        let deadline = SystemTime::now() + INVOCATION;
        let outcome =
            within_invocation(app, deadline, run_slice(app, job_id, deadline, owner)).await;
        match outcome {
            Ok(SliceOutcome::Done(album)) => {
                return Ok(JobDone {
                    job_id: job_id.into(),
                    destination_id: album.id,
                    already: false,
                });
            }
            Ok(SliceOutcome::Paused(_)) => continue,
            Ok(SliceOutcome::Busy(j)) => {
                return Err(format!(
                    "job {} is held by another invocation, which goes on with it; redrive again later",
                    j.id
                ));
            }
            Ok(SliceOutcome::AlreadyFinished(j)) if j.status == JobStatus::Done => {
                return Ok(JobDone {
                    job_id: j.id,
                    destination_id: j.destination_id,
                    already: true,
                });
            }
            Ok(SliceOutcome::AlreadyFinished(j) | SliceOutcome::Failed(j)) => {
                return Err(format!(
                    "job {} {}: {}",
                    j.id,
                    j.status.as_str(),
                    j.error.as_deref().unwrap_or("no reason saved")
                ));
            }
            Err(ApiError::NotFound(_)) => return Err(format!("job {job_id} not found")),
            Err(e) => return Err(format!("job {job_id}: {e}")),
        }
    }
    Err(format!(
        "job {job_id} not done after {MAX_SLICES} slices; its progress is saved"
    ))
}

/// Re-runs one failed duplication through the functions' library.
async fn rerun(
    app: &App,
    failed: &FailedDuplication,
    jobs: &Result<Vec<String>, String>,
    owner: &str,
) -> Result<Vec<JobDone>, String> {
    match &failed.work {
        Work::Scheduled {
            payload,
            request_id,
            ..
        } => {
            let deadline = SystemTime::now() + INVOCATION;
            let answer = within_invocation(
                app,
                deadline,
                scheduled_duplicate::run(app, payload.clone(), request_id, deadline, owner),
            )
            .await
            .map_err(|e| e.to_string())?;
            let job_id = answer["job_id"]
                .as_str()
                .ok_or("the scheduled function answered no job")?;
            if answer["status"] == "done" {
                let job = app.store.get_job(job_id).await.map_err(|e| e.to_string())?;
                return Ok(vec![JobDone {
                    job_id: job_id.into(),
                    destination_id: job.map(|j| j.destination_id).unwrap_or_default(),
                    already: false,
                }]);
            }
            // Handed off, held or finished: on with the job as the worker would.
            Ok(vec![drive_job(app, job_id, owner).await?])
        }
        Work::Worker(_) => {
            let jobs = jobs.as_ref().map_err(|e| {
                format!(
                    "job unknown: {e}; name it: --message {} --job <job id>",
                    failed.message_id
                )
            })?;
            let mut done = Vec::new();
            for id in jobs {
                done.push(drive_job(app, id, owner).await?);
            }
            Ok(done)
        }
    }
}

/// What `redrive` may do.
#[derive(Clone, Debug, Default)]
pub struct RedriveOptions {
    /// Re-run at most this many failed duplications.
    pub max: Option<usize>,
    /// Say what would be re-run; run and delete nothing.
    pub dry_run: bool,
    /// Only this message.
    pub message: Option<String>,
    /// The job of `message`, when it is a worker failure whose stream
    /// record can no longer be read.
    pub job: Option<String>,
}

/// What happened to one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Re-run to done; the message was deleted (`deleted` false: the
    /// delete failed, the message will come back and find the job done).
    Redriven {
        message_id: String,
        kind: Kind,
        done: Vec<JobDone>,
        deleted: Result<(), String>,
    },
    /// Failed again: kept in the queue.
    FailedAgain {
        message_id: String,
        kind: Kind,
        error: String,
    },
    /// Would be re-run (dry run): kept.
    WouldRedrive {
        message_id: String,
        kind: Kind,
        jobs: Result<Vec<String>, String>,
    },
    /// Unreadable: kept, never deleted.
    Unreadable { message_id: String, reason: String },
}

/// What a redrive did, message by message.
#[derive(Clone, Debug, Default)]
pub struct RedriveReport {
    /// Each message handled, in order.
    pub outcomes: Vec<Outcome>,
    /// Messages that could not be made visible again.
    pub warnings: Vec<String>,
}

impl RedriveReport {
    /// Messages re-run to done and deleted.
    pub fn redriven(&self) -> usize {
        self.count(|o| {
            matches!(
                o,
                Outcome::Redriven {
                    deleted: Ok(()),
                    ..
                }
            )
        })
    }
    /// Messages whose re-run failed (kept).
    pub fn failed_again(&self) -> usize {
        self.count(|o| matches!(o, Outcome::FailedAgain { .. }))
    }
    /// Unreadable messages (kept).
    pub fn unreadable(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Unreadable { .. }))
    }
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(o)).count()
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            let line = match o {
                Outcome::Redriven {
                    message_id,
                    kind,
                    done,
                    deleted,
                } => {
                    let jobs: Vec<String> = done
                        .iter()
                        .map(|d| {
                            format!(
                                "job {} done{} into {}",
                                d.job_id,
                                if d.already { " already" } else { "" },
                                d.destination_id
                            )
                        })
                        .collect();
                    match deleted {
                        Ok(()) => format!(
                            "redriven {message_id} ({}): {}; deleted",
                            kind.as_str(),
                            jobs.join(", ")
                        ),
                        Err(e) => format!(
                            "redriven {message_id} ({}): {}; NOT deleted ({e})",
                            kind.as_str(),
                            jobs.join(", ")
                        ),
                    }
                }
                Outcome::FailedAgain {
                    message_id,
                    kind,
                    error,
                } => format!(
                    "failed again {message_id} ({}): {error}; kept",
                    kind.as_str()
                ),
                Outcome::WouldRedrive {
                    message_id,
                    kind,
                    jobs,
                } => format!(
                    "would redrive {message_id} ({}): {}",
                    kind.as_str(),
                    match jobs {
                        Ok(j) => format!("job {}", j.join(", ")),
                        Err(e) => format!("job unknown: {e}"),
                    }
                ),
                Outcome::Unreadable { message_id, reason } => {
                    format!("unreadable {message_id}: {reason}; kept")
                }
            };
            out.push_str(&line);
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out.push_str(&format!(
            "{} redriven and deleted, {} failed again, {} unreadable\n",
            self.redriven(),
            self.failed_again(),
            self.unreadable()
        ));
        out
    }
}

/// Keeps a message hidden while its re-run lasts.
fn heartbeat(sqs: &sqs::Client, url: &str, receipt: &str) -> tokio::task::JoinHandle<()> {
    let (sqs, url, receipt) = (sqs.clone(), url.to_string(), receipt.to_string());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            if let Err(e) = set_visibility(&sqs, &url, &receipt, REDRIVE_VISIBILITY_SECONDS).await {
                tracing::warn!(error = %e, "could not keep the message hidden");
            }
        }
    })
}

/// Re-runs each failed duplication of the queue through the functions'
/// library and deletes its message only when the re-run finished the
/// duplication. Failed re-runs and unreadable messages stay in the queue
/// (visible again when the redrive ends); each message is handled at most
/// once per redrive.
pub async fn redrive(
    app: &App,
    clients: &Clients,
    url: &str,
    opts: &RedriveOptions,
) -> Result<RedriveReport, String> {
    let owner = format!("albumctl-redrive-{}", uuid::Uuid::new_v4());
    let mut report = RedriveReport::default();
    let mut held: HashMap<String, String> = HashMap::new();
    let mut seen = HashSet::new();
    let mut handled = 0;
    let result = async {
        while opts.max.is_none_or(|m| handled < m) {
            let Some((raw, receipt)) = receive(&clients.sqs, url, 1, REDRIVE_VISIBILITY_SECONDS)
                .await?
                .into_iter()
                .next()
            else {
                break;
            };
            if !seen.insert(raw.message_id.clone()) {
                // Back after its hold lapsed: the queue has gone round.
                held.insert(raw.message_id, receipt);
                break;
            }
            if opts.message.as_ref().is_some_and(|m| *m != raw.message_id) {
                held.insert(raw.message_id, receipt);
                continue;
            }
            handled += 1;
            let failed = match parse_message(&raw) {
                Parsed::Failed(f) => f,
                Parsed::Unreadable {
                    message_id, reason, ..
                } => {
                    report
                        .outcomes
                        .push(Outcome::Unreadable { message_id, reason });
                    held.insert(raw.message_id, receipt);
                    continue;
                }
            };
            let resolved = match (&failed.work, &opts.job) {
                (Work::Worker(_), Some(job)) => Resolved {
                    failed,
                    jobs: Ok(vec![job.clone()]),
                },
                _ => resolve(clients, failed).await,
            };
            let (f, jobs) = (resolved.failed, resolved.jobs);
            if opts.dry_run {
                report.outcomes.push(Outcome::WouldRedrive {
                    message_id: f.message_id,
                    kind: f.kind,
                    jobs,
                });
                held.insert(raw.message_id, receipt);
                continue;
            }
            let beat = heartbeat(&clients.sqs, url, &receipt);
            let rerun = rerun(app, &f, &jobs, &owner).await;
            beat.abort();
            match rerun {
                Ok(done) => {
                    let deleted = clients
                        .sqs
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(&receipt)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| sqs_error("DeleteMessage", e));
                    report.outcomes.push(Outcome::Redriven {
                        message_id: f.message_id,
                        kind: f.kind,
                        done,
                        deleted,
                    });
                }
                Err(error) => {
                    report.outcomes.push(Outcome::FailedAgain {
                        message_id: f.message_id,
                        kind: f.kind,
                        error,
                    });
                    held.insert(raw.message_id, receipt);
                }
            }
        }
        Ok::<(), String>(())
    }
    .await;
    report.warnings = release(&clients.sqs, url, &held).await;
    result.map(|()| report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/dlq/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// A message as ReceiveMessage answers it (the fixtures are the JSON of
    /// `aws sqs receive-message --message-attribute-names All`).
    fn message(name: &str) -> RawMessage {
        let m = fixture(name);
        RawMessage {
            message_id: m["MessageId"].as_str().unwrap().into(),
            body: m["Body"].as_str().unwrap().into(),
            attributes: m["MessageAttributes"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v["StringValue"].as_str().unwrap().into()))
                .collect(),
            sent_ms: m["Attributes"]["SentTimestamp"]
                .as_str()
                .and_then(|t| t.parse().ok()),
        }
    }

    fn failed(p: Parsed) -> FailedDuplication {
        match p {
            Parsed::Failed(f) => f,
            other => panic!("expected a failed duplication, got {other:?}"),
        }
    }

    #[test]
    fn an_async_invoke_dead_letter_is_the_scheduled_run_of_its_request() {
        let m = message("async-invoke.json");
        let f = failed(parse_message(&m));
        assert_eq!(f.kind, Kind::AsyncInvoke);
        assert_eq!(f.error.code.as_deref(), Some("200"));
        assert!(
            f.error
                .message
                .as_deref()
                .unwrap()
                .contains("Task timed out")
        );
        assert_eq!(f.when.as_deref(), Some("2026-11-30T06:15:02.123Z"));
        let Work::Scheduled {
            request_id, run, ..
        } = &f.work
        else {
            panic!("scheduled work")
        };
        assert_eq!(request_id, "3f6b2c1e-8f7a-4b9d-a2c3-5e6f7a8b9c0d");
        assert_eq!(run.source_album_id, "00100000123BB44");
        assert_eq!(run.destination_id, "weekly_copy");
        // The input has no identity of its own: the failed invocation's
        // request id is the run's, so the redrive finds the job it left.
        let same = schedule::parse(
            &serde_json::from_str(&m.body).unwrap(),
            "3f6b2c1e-8f7a-4b9d-a2c3-5e6f7a8b9c0d",
        )
        .unwrap();
        assert_eq!(run.job_id(), same.job_id());
    }

    #[test]
    fn an_async_invoke_dead_letter_of_an_eventbridge_event_uses_the_event_id() {
        let mut m = message("async-invoke.json");
        m.body = serde_json::to_string(&json!({"version":"0","id":"ev-42","detail-type":"Duplicate album",
            "source":"ops","account":"123456789012","time":"2026-11-30T06:00:00Z","region":"eu-west-1",
            "resources":[],"detail":{"source_album_id":"a","destination_id":"b","organization_id":"o"}}))
        .unwrap();
        let f = failed(parse_message(&m));
        let Work::Scheduled { run, .. } = f.work else {
            panic!("scheduled work")
        };
        assert_eq!(run.delivery_key, "ev-42");
    }

    #[test]
    fn a_scheduler_dead_letter_takes_its_execution_id() {
        let f = failed(parse_message(&message("scheduler.json")));
        assert_eq!(f.kind, Kind::Schedule);
        assert_eq!(
            f.error.code.as_deref(),
            Some("AWS.Lambda.TooManyRequestsException")
        );
        assert!(
            f.error
                .message
                .as_deref()
                .unwrap()
                .contains("Rate Exceeded")
        );
        let Work::Scheduled { payload, run, .. } = &f.work else {
            panic!("scheduled work")
        };
        // The body's placeholder stands for Scheduler's execution id.
        assert_eq!(run.delivery_key, "f2b5a0c4-3a8e-4d1f-9c6b-7e8d9f0a1b2c");
        assert_eq!(
            payload["execution_id"],
            "f2b5a0c4-3a8e-4d1f-9c6b-7e8d9f0a1b2c"
        );
        assert_eq!(run.organization_id, "a89b5b70-d820-4911-8c6d-25ab6181e9be");
    }

    #[test]
    fn a_scheduler_dead_letter_keeps_an_execution_id_the_input_has() {
        let mut m = message("scheduler.json");
        m.body = r#"{"source_album_id":"a","destination_id":"b","organization_id":"o","execution_id":"given"}"#.into();
        let Work::Scheduled { run, .. } = failed(parse_message(&m)).work else {
            panic!("scheduled work")
        };
        assert_eq!(run.delivery_key, "given");
    }

    #[test]
    fn a_stream_failure_record_points_at_its_batch() {
        let f = failed(parse_message(&message("worker.json")));
        assert_eq!(f.kind, Kind::WorkerJob);
        assert_eq!(f.error.code.as_deref(), Some("Unhandled"));
        assert_eq!(
            f.error.message.as_deref(),
            Some("RetryAttemptsExhausted after 6 invocations (status 200)")
        );
        assert_eq!(f.when.as_deref(), Some("2026-11-30T06:31:12.842Z"));
        assert_eq!(
            f.work,
            Work::Worker(StreamBatch {
                stream_arn: "arn:aws:dynamodb:eu-west-1:123456789012:table/album-api-AlbumsTable-1A2B3C4D5E6F/stream/2026-11-02T09:14:07.311".into(),
                shard_id: "shardId-00000001764400000000-4f1e2d3c".into(),
                start_sequence_number: "4421584500000000017450439091".into(),
                end_sequence_number: "4421584500000000017450439091".into(),
                batch_size: Some(1),
            })
        );
    }

    #[test]
    fn unreadable_messages_say_why_and_keep_what_they_report() {
        let cases = [
            ("not json at all", BTreeMap::new(), None),
            ("{\"hello\": 1}", BTreeMap::new(), None),
            (
                "{\"source_album_id\": \"a\"}",
                BTreeMap::from([
                    ("RequestID".to_string(), "r-1".to_string()),
                    ("ErrorCode".to_string(), "200".to_string()),
                    (
                        "ErrorMessage".to_string(),
                        "invalid duplication input".to_string(),
                    ),
                ]),
                Some(Kind::AsyncInvoke),
            ),
            (
                "{oops",
                BTreeMap::from([("ERROR_CODE".to_string(), "AWS.Scheduler.X".to_string())]),
                Some(Kind::Schedule),
            ),
            (
                "{\"DDBStreamBatchInfo\": {\"shardId\": \"s\"}}",
                BTreeMap::new(),
                Some(Kind::WorkerJob),
            ),
        ];
        for (body, attributes, kind) in cases {
            let m = RawMessage {
                message_id: "m-1".into(),
                body: body.into(),
                attributes,
                sent_ms: Some(1_796_000_000_000),
            };
            match parse_message(&m) {
                Parsed::Unreadable {
                    message_id,
                    reason,
                    kind: k,
                    when,
                    ..
                } => {
                    assert_eq!(message_id, "m-1");
                    assert!(!reason.is_empty());
                    assert_eq!(k, kind, "{body}");
                    assert!(when.is_some());
                }
                other => panic!("{body}: expected unreadable, got {other:?}"),
            }
        }
        let empty = RawMessage::default();
        assert!(matches!(parse_message(&empty), Parsed::Unreadable { .. }));
    }

    #[test]
    fn sequence_numbers_order_as_numbers() {
        assert_eq!(sequence_cmp("9", "10"), Ordering::Less);
        assert_eq!(
            sequence_cmp(
                "4421584500000000017450439091",
                "4421584500000000017450439091"
            ),
            Ordering::Equal
        );
        assert_eq!(sequence_cmp("000100", "99"), Ordering::Greater);
    }

    #[test]
    fn the_listing_names_every_field() {
        let item = Listed {
            message_id: "m-1".into(),
            readable: true,
            kind: Some(Kind::WorkerJob),
            source_album_id: Some("src".into()),
            destination_id: Some("dst".into()),
            organization_id: Some("org".into()),
            job_ids: vec!["j-1".into()],
            job_status: Some("running (25 of 100 copied)".into()),
            error: ErrorInfo {
                code: Some("Unhandled".into()),
                message: Some("RetryAttemptsExhausted".into()),
            },
            when: Some("2026-11-30T06:31:12.842Z".into()),
            note: None,
        };
        let text = render(std::slice::from_ref(&item));
        for part in [
            "m-1",
            "worker-job",
            "source src -> destination dst, organization org",
            "job j-1: running (25 of 100 copied)",
            "error Unhandled: RetryAttemptsExhausted",
            "2026-11-30T06:31:12.842Z",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(json["kind"], "worker-job");
        assert_eq!(json["error"]["code"], "Unhandled");
    }
}
