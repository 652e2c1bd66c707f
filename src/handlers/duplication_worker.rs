//! DynamoDB Streams-triggered worker (`DuplicationWorkerFunction`): runs the
//! next slice of every job handed off in the batch (decision 0005).
//!
//! The event source mapping's filter only lets job items with `handoff` set
//! through; records are still checked here, so a wider filter is harmless.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use crate::jobs::{SliceOutcome, run_slice};
use crate::service::App;

/// The ids of handed-off jobs in a DynamoDB Streams event.
pub fn handed_off_jobs(event: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for record in event
        .get("Records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !matches!(
            record.get("eventName").and_then(Value::as_str),
            Some("INSERT" | "MODIFY")
        ) {
            continue;
        }
        let image = &record["dynamodb"]["NewImage"];
        let pk = image["pk"]["S"].as_str().unwrap_or("");
        let running = image["status"]["S"].as_str() == Some("running");
        if let Some(id) = pk.strip_prefix("J#")
            && running
            && image.get("handoff").is_some()
            && !ids.iter().any(|x| x == id)
        {
            ids.push(id.to_string());
        }
    }
    ids
}

/// Runs a slice per handed-off job. An error fails the batch, so the
/// stream retries it (the job resumes from its last checkpoint). Every
/// DynamoDB call ends before the invocation's deadline, so DynamoDB trouble
/// fails the batch in time instead of timing out.
pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    let (deadline, owner) = crate::jobs::invocation(&ctx);
    crate::jobs::within_invocation(app, deadline, run(app, &payload, deadline, &owner)).await
}

async fn run(
    app: &App,
    payload: &Value,
    deadline: std::time::SystemTime,
    owner: &str,
) -> Result<Value, Error> {
    let mut results = Vec::new();
    for id in handed_off_jobs(payload) {
        let outcome = match run_slice(app, &id, deadline, owner).await {
            Ok(outcome) => outcome,
            Err(crate::error::ApiError::NotFound(_)) => {
                tracing::warn!(job = %id, "no such job; nothing to do");
                results.push(json!({"job_id": id, "status": "missing"}));
                continue;
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "slice failed");
                return Err(Error::from(e.to_string()));
            }
        };
        let status = match outcome {
            SliceOutcome::Done(_) => "done",
            SliceOutcome::Paused(_) | SliceOutcome::Busy(_) => "running",
            SliceOutcome::AlreadyFinished(j) => j.status.as_str(),
            SliceOutcome::Failed(_) => "failed",
        };
        tracing::info!(job = %id, status, "slice ended");
        results.push(json!({"job_id": id, "status": status}));
    }
    Ok(Value::Array(results))
}
