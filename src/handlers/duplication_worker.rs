//! DynamoDB Streams-triggered worker (`DuplicationWorkerFunction`): runs the
//! next slice of every job handed off in the batch (decision 0005).
//!
//! The event source mapping's filter only lets job items with `handoff` set
//! through; records are still checked here, so a wider filter is harmless.
//! The mapping reports partial failures (`ReportBatchItemFailures`): a
//! record whose slice failed is named in `batchItemFailures`, and the
//! stream delivers it (and what follows it on its shard) again, while the
//! other records of the batch count as done.

use futures_util::future::join_all;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::jobs::run_slice;
use crate::service::App;

/// A handed-off job in a DynamoDB Streams event: its id and the record's
/// sequence number (what a partial failure names).
#[derive(Debug, PartialEq, Eq)]
pub struct HandedOff {
    /// The job.
    pub job_id: String,
    /// `dynamodb.SequenceNumber` of its record.
    pub sequence_number: String,
}

/// The ids of the handed-off jobs in a DynamoDB Streams event, each once,
/// in the event's order.
pub fn handed_off_jobs(event: &Value) -> Vec<String> {
    handed_off_records(event)
        .into_iter()
        .map(|j| j.job_id)
        .collect()
}

/// The handed-off jobs in a DynamoDB Streams event, each once (its first
/// record), in the event's order.
pub fn handed_off_records(event: &Value) -> Vec<HandedOff> {
    let mut jobs: Vec<HandedOff> = Vec::new();
    let records = event.get("Records").and_then(Value::as_array);
    for record in records.into_iter().flatten() {
        let inserted_or_modified = matches!(
            record.get("eventName").and_then(Value::as_str),
            Some("INSERT" | "MODIFY")
        );
        let image = &record["dynamodb"]["NewImage"];
        let running = image["status"]["S"].as_str() == Some("running");
        let Some(id) = image["pk"]["S"]
            .as_str()
            .and_then(|pk| pk.strip_prefix("J#"))
        else {
            continue;
        };
        if inserted_or_modified
            && running
            && image.get("handoff").is_some()
            && !jobs.iter().any(|j| j.job_id == id)
        {
            jobs.push(HandedOff {
                job_id: id.to_string(),
                sequence_number: record["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
    }
    jobs
}

/// Runs a slice per handed-off job, all at once, and answers
/// `{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}` naming
/// the records whose slice failed (the stream delivers those again; the
/// job resumes from its last checkpoint). Every DynamoDB call ends before
/// the invocation's deadline, so a slice fails in time instead of timing
/// out, and a slice that merely ran out of time hands off instead.
pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    let (deadline, owner) = crate::jobs::invocation(&ctx);
    let jobs = handed_off_records(&payload);
    let owner = owner.as_str();
    let slices = jobs.iter().map(|job| async move {
        let outcome = run_slice(app, &job.job_id, deadline, owner).await;
        (job, outcome)
    });
    let ended = crate::jobs::within_invocation(app, deadline, join_all(slices)).await;
    let mut failures = Vec::new();
    for (job, outcome) in ended {
        match outcome {
            Ok(outcome) => {
                tracing::info!(job = %job.job_id, status = outcome.status(), "slice ended");
            }
            Err(ApiError::NotFound(_)) => {
                tracing::warn!(job = %job.job_id, "no such job; nothing to do");
            }
            Err(e) => {
                tracing::error!(job = %job.job_id, error = %e, "slice failed; the stream delivers its record again");
                failures.push(json!({"itemIdentifier": job.sequence_number}));
            }
        }
    }
    Ok(json!({ "batchItemFailures": failures }))
}
