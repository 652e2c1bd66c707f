//! `albumctl dlq list`: every message of the queue as the duplication that
//! failed, with its job's status now.

use std::collections::HashMap;

use album_api::store::Store;
use serde::Serialize;

use super::clients::Clients;
use super::message::{ErrorInfo, FailedDuplication, Kind, Parsed, Work};
use super::parse::parse_message;
use super::queue::{LIST_VISIBILITY_SECONDS, receive, release};
use super::stream::jobs_of_batch;

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
pub(super) struct Resolved {
    pub(super) failed: FailedDuplication,
    pub(super) jobs: Result<Vec<String>, String>,
}

pub(super) async fn resolve(clients: &Clients, failed: FailedDuplication) -> Resolved {
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
/// `LIST_VISIBILITY_SECONDS` (30 s) while the queue is read, then made visible
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

#[cfg(test)]
mod tests {
    use super::*;

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
