//! Writes under the partitions' limits: admitted whole, throttled, or (a
//! batch) trimmed to what the buckets hold.

use hyper::body::Bytes;
use serde_json::{Map, Value};

use super::charges::{Charges, delete_charges, put_charges, update_charges};
use super::exchange::{Exchange, with_unprocessed};
use super::partition::PartitionId;
use super::schema::Schema;
use super::throttle::throttled;
use crate::proxy::{Answer, Reply, batch_writes, by_table};

const BATCH: &str = "BatchWriteItem";

/// `PutItem`, `DeleteItem`, `UpdateItem`: throttled unless every bucket
/// the write charges holds its units; refunded when the emulator refuses
/// it without consuming capacity.
pub(super) async fn single(x: &Exchange<'_>, op: &str, req: &Map<String, Value>) -> Option<Reply> {
    let table = req.get("TableName")?.as_str()?;
    let schema = x.schema();
    let charges = match op {
        "PutItem" => put_charges(schema, table, req.get("Item")?.as_object()?)?,
        "DeleteItem" => delete_charges(schema, table, req.get("Key")?.as_object()?)?,
        _ => update_charges(schema, req)?,
    };
    {
        let now = x.now();
        let mut ledger = x.ledger();
        if let Err(blocked) = ledger.try_write(op, &charges, now) {
            ledger.throttled(op, &blocked);
            return Some(throttled(&blocked, true));
        }
    }
    let answer = x.forward_as_is().await;
    if !answer.as_ref().is_ok_and(consumed_despite) {
        let now = x.now();
        x.ledger().refund_write(op, &charges, now);
    }
    Some(answer.map_or_else(|resp| resp, Answer::respond))
}

/// Whether a write the emulator answered consumed capacity: DynamoDB
/// charges a write whose condition failed, not one it rejected.
fn consumed_despite(answer: &Answer) -> bool {
    answer.status.is_success()
        || answer
            .error_type()
            .ends_with("ConditionalCheckFailedException")
}

/// A batch's writes split by the buckets: those admitted (and what they
/// were charged) and those sent back with the partitions that refused them.
#[derive(Default)]
struct Split {
    kept: Vec<(String, Value)>,
    charged: Charges,
    deferred: Vec<(String, Value)>,
    refusals: Vec<Vec<PartitionId>>,
}

/// `BatchWriteItem`: the writes whose partitions hold their units are
/// forwarded, the others come back in `UnprocessedItems`; none admitted,
/// the whole call is throttled, as DynamoDB does.
pub(super) async fn batch(x: &Exchange<'_>, req: &Map<String, Value>) -> Option<Reply> {
    let writes = charged_writes(x.schema(), req)?;
    let split = admit(x, writes);
    if split.kept.is_empty() {
        let blocked: Vec<PartitionId> = split.refusals.into_iter().flatten().collect();
        x.ledger().throttled(BATCH, &blocked);
        return Some(throttled(&blocked, true));
    }
    let body = if split.deferred.is_empty() {
        x.call.body.clone()
    } else {
        let mut r = req.clone();
        r.insert("RequestItems".into(), Value::Object(by_table(split.kept)));
        Bytes::from(serde_json::to_vec(&Value::Object(r)).ok()?)
    };
    let answer = match x.forward(body).await {
        Ok(a) if a.status.is_success() => a,
        failed => {
            let now = x.now();
            x.ledger().refund_write(BATCH, &split.charged, now);
            return Some(failed.map_or_else(|resp| resp, Answer::respond));
        }
    };
    Some(with_unprocessed(
        answer,
        "UnprocessedItems",
        by_table(split.deferred),
    ))
}

/// Every write of a batch with its charges; `None` when one cannot be read.
fn charged_writes(
    schema: &Schema,
    req: &Map<String, Value>,
) -> Option<Vec<(String, Value, Charges)>> {
    let mut writes = Vec::new();
    for (table, w) in batch_writes(req)? {
        let charges = if let Some(put) = w.get("PutRequest") {
            put_charges(schema, &table, put.get("Item")?.as_object()?)?
        } else {
            let key = w.get("DeleteRequest")?.get("Key")?.as_object()?;
            delete_charges(schema, &table, key)?
        };
        writes.push((table, w, charges));
    }
    Some(writes)
}

/// Admits each write its buckets hold, in order, and records the others
/// as deferred (nothing is recorded when none is admitted: the caller
/// throttles the call).
fn admit(x: &Exchange<'_>, writes: Vec<(String, Value, Charges)>) -> Split {
    let now = x.now();
    let mut ledger = x.ledger();
    let mut split = Split::default();
    for (table, w, charges) in writes {
        match ledger.try_write(BATCH, &charges, now) {
            Ok(()) => {
                split.charged.extend(charges);
                split.kept.push((table, w));
            }
            Err(blocked) => {
                split.refusals.push(blocked);
                split.deferred.push((table, w));
            }
        }
    }
    if !split.kept.is_empty() {
        for blocked in &split.refusals {
            ledger.deferred(BATCH, blocked);
        }
    }
    split
}
