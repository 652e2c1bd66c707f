//! `BatchGetItem` under the partitions' limits: the keys whose partitions
//! are open are forwarded, the others come back in `UnprocessedKeys`.

use std::collections::HashMap;

use hyper::body::Bytes;
use serde_json::{Map, Value};

use super::exchange::{Exchange, with_unprocessed};
use super::partition::{PartitionId, key_text, table_partition};
use super::reads::is_consistent;
use super::schema::Schema;
use super::size::{item_size, read_units};
use super::throttle::throttled;
use crate::proxy::Reply;

const OP: &str = "BatchGetItem";

/// An item's key values (partition, sort).
type KeyValues = (String, Option<String>);

/// A key admitted: its table, key, partition, consistency.
type AdmittedKey = (String, KeyValues, PartitionId, bool);

/// A batch's keys split by the buckets, each table's spec kept whole.
#[derive(Default)]
struct Split {
    admitted: Vec<AdmittedKey>,
    kept: Map<String, Value>,
    deferred: Map<String, Value>,
    refused: Vec<PartitionId>,
}

/// Forwards the keys whose partitions are open, throttles the call when
/// none is, and charges each key's item once the answer is back (a
/// missing item its minimum).
pub(super) async fn batch_get(x: &Exchange<'_>, req: &Map<String, Value>) -> Option<Reply> {
    let split = split(x, req.get("RequestItems")?.as_object()?)?;
    if split.admitted.is_empty() {
        if split.refused.is_empty() {
            return None;
        }
        x.ledger().throttled(OP, &split.refused);
        return Some(throttled(&split.refused, false));
    }
    {
        let mut ledger = x.ledger();
        for p in &split.refused {
            ledger.deferred(OP, std::slice::from_ref(p));
        }
    }
    let mut forwarded = req.clone();
    forwarded.insert("RequestItems".into(), Value::Object(split.kept));
    let body = if split.deferred.is_empty() {
        x.call.body.clone()
    } else {
        Bytes::from(serde_json::to_vec(&Value::Object(forwarded.clone())).ok()?)
    };
    let answer = match x.forward(body).await {
        Ok(a) => a,
        Err(resp) => return Some(resp),
    };
    if let Some(answered) = answer.json() {
        let read = what_was_read(x, forwarded, answered).await;
        charge(x, &sizes(x.schema(), &read), split.admitted);
    }
    if !answer.status.is_success() {
        return Some(answer.respond());
    }
    Some(with_unprocessed(answer, "UnprocessedKeys", split.deferred))
}

/// Splits every table's keys into those whose partition is open and those
/// sent back; `None` when a spec cannot be read.
fn split(x: &Exchange<'_>, request_items: &Map<String, Value>) -> Option<Split> {
    let schema = x.schema();
    let now = x.now();
    let mut ledger = x.ledger();
    let mut split = Split::default();
    for (table, spec) in request_items {
        let spec = spec.as_object()?;
        let consistent = is_consistent(spec);
        let (mut keep, mut defer) = (Vec::new(), Vec::new());
        for key in spec.get("Keys")?.as_array()? {
            let key_map = key.as_object()?;
            let p = table_partition(schema, table, key_map)?;
            if ledger.read_open(&p, now) {
                let values = key_of(schema, key_map)?;
                split.admitted.push((table.clone(), values, p, consistent));
                keep.push(key.clone());
            } else {
                split.refused.push(p);
                defer.push(key.clone());
            }
        }
        for (list, target) in [(keep, &mut split.kept), (defer, &mut split.deferred)] {
            if !list.is_empty() {
                let mut s = spec.clone();
                s.insert("Keys".into(), Value::Array(list));
                target.insert(table.clone(), Value::Object(s));
            }
        }
    }
    Some(split)
}

/// The answer, or (when a table's spec narrowed it) the forwarded request
/// again for whole items.
async fn what_was_read(
    x: &Exchange<'_>,
    mut forwarded: Map<String, Value>,
    answered: Value,
) -> Value {
    let Some(Value::Object(items)) = forwarded.get_mut("RequestItems") else {
        return answered;
    };
    let mut narrowed = false;
    for spec in items.values_mut() {
        if let Value::Object(s) = spec {
            narrowed |= s.remove("ProjectionExpression").is_some();
            narrowed |= s.remove("AttributesToGet").is_some();
            s.remove("ExpressionAttributeNames");
        }
    }
    if !narrowed {
        return answered;
    }
    x.sizing_read(forwarded).await.unwrap_or(answered)
}

/// The size of every item read, by (table, key).
fn sizes(schema: &Schema, read: &Value) -> HashMap<(String, KeyValues), usize> {
    let mut sizes = HashMap::new();
    let Some(responses) = read.get("Responses").and_then(Value::as_object) else {
        return sizes;
    };
    for (table, items) in responses {
        for item in items.as_array().into_iter().flatten() {
            if let Some(item) = item.as_object()
                && let Some(k) = key_of(schema, item)
            {
                sizes.insert((table.clone(), k), item_size(item));
            }
        }
    }
    sizes
}

/// Charges each admitted key its item's read units.
fn charge(
    x: &Exchange<'_>,
    sizes: &HashMap<(String, KeyValues), usize>,
    admitted: Vec<AdmittedKey>,
) {
    let now = x.now();
    let mut ledger = x.ledger();
    for (table, key, p, consistent) in admitted {
        let size = sizes.get(&(table, key));
        let units = read_units(size.copied().unwrap_or(0), consistent);
        ledger.charge_read(OP, &p, units, now);
        ledger.op(OP).items_read += u64::from(size.is_some());
    }
}

/// The key of an item or key map, for matching answers to requested keys.
fn key_of(schema: &Schema, item: &Map<String, Value>) -> Option<KeyValues> {
    let hash = key_text(item.get(&schema.hash_key)?)?;
    let range = match &schema.range_key {
        Some(r) => Some(key_text(item.get(r)?)?),
        None => None,
    };
    Some((hash, range))
}
