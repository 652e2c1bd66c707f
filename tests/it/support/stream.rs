//! The table's stream and the worker's event source mapping, as AWS runs
//! them, for one job: records only for writes that change the job item,
//! the template's filter, partial batch failures and the mapping's retries.
//!
//! dynalite has no streams; this reads the job item after every delivery
//! and makes the record DynamoDB Streams would have written, so a worker
//! that leaves a job `running` without a new hand-off (a write that changes
//! nothing writes no record) stalls here as it would in AWS.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use album_api::App;
use album_api::handlers::duplication_worker;
use album_api::store::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value, json};

use super::*;
use album_api::handlers::duplicate_album;

/// Deliveries of one record before the mapping gives it up (the
/// template's `MaximumRetryAttempts` of `JobHandoffs`, plus the first).
pub const DELIVERIES_PER_RECORD: u32 = 1 + 5;

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB Streams event (one `MODIFY` record, sequence number
/// `seq`) of a job item, as Lambda delivers it.
pub fn stream_event(item: &Item, seq: u64) -> Value {
    fn av(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => json!({"S": s}),
            AttributeValue::N(n) => json!({"N": n}),
            AttributeValue::Bool(b) => json!({"BOOL": b}),
            other => panic!("unexpected attribute {other:?}"),
        }
    }
    let image: Map<String, Value> = item.iter().map(|(k, v)| (k.clone(), av(v))).collect();
    let mut e = event("duplication-worker.json");
    let record = &mut e["Records"][0];
    record["dynamodb"]["NewImage"] = Value::Object(image.clone());
    record["dynamodb"]["Keys"] = json!({"pk": image["pk"], "sk": image["sk"]});
    record["dynamodb"]["SequenceNumber"] = json!(format!("{seq:024}"));
    e
}

/// Whether the template's filter lets a record of `item` through: a
/// running job item with `handoff` set.
fn passes_filter(item: &Item) -> bool {
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str);
    s("sk") == Some("J") && s("status") == Some("running") && item.contains_key("handoff")
}

/// How the deliveries of a job went.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Worker invocations.
    pub total: u32,
    /// Of those, the ones that failed their record (an error, or the record
    /// named in `batchItemFailures`).
    pub failed: u32,
}

/// One job's stream.
pub struct JobStream {
    store: Store,
    job_id: String,
    last: Option<Item>,
    seq: u64,
    pending: VecDeque<Value>,
}

impl JobStream {
    /// The stream of job `job_id`, from now on: the job item as it is now
    /// counts as written (its record is [`JobStream::take_new_record`]'s first
    /// answer when it passes the filter).
    pub fn new(store: &Store, job_id: &str) -> Self {
        Self {
            store: store.clone(),
            job_id: job_id.to_string(),
            last: None,
            seq: 0,
            pending: VecDeque::new(),
        }
    }

    /// The job item (strongly consistent).
    pub async fn job_item(&self) -> Item {
        self.store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key("pk", AttributeValue::S(format!("J#{}", self.job_id)))
            .key("sk", AttributeValue::S("J".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem of the job")
            .item
            .expect("the job item")
    }

    /// Queues the record of the job item's latest change, if it changed
    /// since the last look and the filter lets it through.
    pub async fn take_new_record(&mut self) {
        let item = self.job_item().await;
        if self.last.as_ref() == Some(&item) {
            return;
        }
        self.seq += 1;
        if passes_filter(&item) {
            self.pending.push_back(stream_event(&item, self.seq));
        }
        self.last = Some(item);
    }

    /// Whether a record waits for delivery.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Queues a record again, as the stream does when a delivery's answer
    /// is lost (Lambda retries an invocation whose result it never got).
    pub fn repeat_front(&mut self) {
        let front = self.pending.front().cloned().expect("a pending record");
        self.pending.push_front(front);
    }

    /// Delivers the first queued record to the worker, one invocation with
    /// `budget`, with the ids `request_id`: `None` when no record waits.
    /// A record whose delivery failed (an error, or named in
    /// `batchItemFailures`) stays first in the queue, as the stream
    /// delivers it again; the record of the job item's change, if any, is
    /// queued after.
    pub async fn deliver_next(
        &mut self,
        app: &App,
        request_id: &str,
        budget: Duration,
    ) -> Option<Result<Value, lambda_runtime::Error>> {
        let record = self.pending.front().cloned()?;
        let ctx = lambda_context(request_id, budget);
        let out = duplication_worker::handle(app, LambdaEvent::new(record, ctx)).await;
        if !failed(&out) {
            self.pending.pop_front();
        }
        self.take_new_record().await;
        Some(out)
    }

    /// Delivers the queued records to the worker as the event source
    /// mapping does, each invocation with `budget`, until none is left;
    /// then the job must have ended. Panics when a record is given up
    /// (delivered [`DELIVERIES_PER_RECORD`] times), after `max` deliveries,
    /// or when the job stalls: running with nothing left to deliver.
    pub async fn drive(&mut self, app: &App, budget: Duration, max: u32) -> Deliveries {
        let mut d = Deliveries::default();
        let mut attempts = 0;
        self.take_new_record().await;
        let mut front = self.pending.front().cloned();
        while front.is_some() {
            d.total += 1;
            attempts += 1;
            assert!(
                d.total <= max,
                "job {} not done after {max} deliveries",
                self.job_id
            );
            let out = self
                .deliver_next(app, &format!("w-{}", d.total), budget)
                .await
                .expect("a pending record");
            if failed(&out) {
                d.failed += 1;
                eprintln!(
                    "delivery {} failed ({out:?}); the stream delivers it again",
                    d.total
                );
                assert!(
                    attempts < DELIVERIES_PER_RECORD,
                    "record of job {} given up after {attempts} deliveries",
                    self.job_id
                );
            } else {
                attempts = 0;
            }
            front = self.pending.front().cloned();
        }
        let item = self.job_item().await;
        let status = item["status"].as_s().unwrap();
        assert_ne!(
            status, "running",
            "job {} stalled: running, and no record left to deliver: {item:?}",
            self.job_id
        );
        d
    }
}

/// Whether a worker's answer fails its record.
fn failed(out: &Result<Value, lambda_runtime::Error>) -> bool {
    match out {
        Ok(v) => !v["batchItemFailures"]
            .as_array()
            .expect("batchItemFailures")
            .is_empty(),
        Err(_) => true,
    }
}

/// Seeds `images` images into a source album of its own and duplicates it
/// into `destination` with no time to copy inline: the answer is a 202
/// whose job is handed off to the worker. Returns the job id.
pub async fn handed_off_job(env: &TestEnv, source: &str, destination: &str, images: u64) -> String {
    let store = env.direct_store().await;
    seed_album(&store, source, ORG, images).await;
    let mut app = env.app.clone();
    set_sync_copy_budget(&mut app, Duration::ZERO);
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        source,
        Some(&format!("destination_id={destination}")),
    );
    let (status, _, body) = parts(duplicate_album::handle(&app, request(&ev)).await.unwrap());
    assert_eq!(status, 202, "{body}");
    body["job_id"].as_str().unwrap().to_string()
}
