//! `GetItem`, `Query`, `Scan` under the partitions' limits: admitted
//! while their bucket is not in debt, charged once the answer tells what
//! they read.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::exchange::Exchange;
use super::partition::{PartitionId, key_text, table_partition};
use super::read_request::{narrows, query_hash_value, whole_items_request};
use super::size::{item_size, read_units};
use super::throttle::throttled;
use crate::proxy::Reply;

/// Whether a read asks for strong consistency (full price).
pub(super) fn is_consistent(req: &Map<String, Value>) -> bool {
    req.get("ConsistentRead").and_then(Value::as_bool) == Some(true)
}

/// Admits a read of `p` (`None`), or answers it throttled.
fn refuse(x: &Exchange<'_>, op: &str, p: &PartitionId) -> Option<Reply> {
    let now = x.now();
    let mut ledger = x.ledger();
    if ledger.read_open(p, now) {
        None
    } else {
        ledger.throttled(op, std::slice::from_ref(p));
        Some(throttled(std::slice::from_ref(p), false))
    }
}

/// What a read answered, or (when it narrowed its answer) the same read
/// for whole items: what DynamoDB charges for.
async fn what_was_read(
    x: &Exchange<'_>,
    op: &str,
    req: &Map<String, Value>,
    answered: Value,
) -> Value {
    if !narrows(req) {
        return answered;
    }
    let whole = x.sizing_read(whole_items_request(op, req)).await;
    whole.unwrap_or(answered)
}

/// `GetItem`: its item's size, by its key's partition.
pub(super) async fn get_item(x: &Exchange<'_>, req: &Map<String, Value>) -> Option<Reply> {
    const OP: &str = "GetItem";
    let table = req.get("TableName")?.as_str()?;
    let p = table_partition(x.schema(), table, req.get("Key")?.as_object()?)?;
    if let Some(resp) = refuse(x, OP, &p) {
        return Some(resp);
    }
    let answer = match x.forward_as_is().await {
        Ok(a) => a,
        Err(resp) => return Some(resp),
    };
    if let Some(answered) = answer.json() {
        let read = what_was_read(x, OP, req, answered).await;
        let item = read.get("Item");
        let size = item.and_then(Value::as_object).map_or(0, item_size);
        let units = read_units(size, is_consistent(req));
        let now = x.now();
        let mut ledger = x.ledger();
        ledger.charge_read(OP, &p, units, now);
        ledger.op(OP).items_read += u64::from(item.is_some());
    }
    Some(answer.respond())
}

/// `Query` (one partition, admitted by its bucket) and `Scan` (no
/// partition to admit it by: always admitted, each partition it read
/// charged for its items).
pub(super) async fn query_or_scan(
    x: &Exchange<'_>,
    op: &str,
    req: &Map<String, Value>,
) -> Option<Reply> {
    let schema = x.schema();
    let table = req.get("TableName")?.as_str()?;
    let index = match req.get("IndexName") {
        Some(v) => Some(schema.index(v.as_str()?)?),
        None => None,
    };
    let hash = index.map_or(schema.hash_key.as_str(), |i| i.hash_key.as_str());
    let index_name = index.map(|i| i.name.as_str());
    // Index reads are eventually consistent whatever the request says.
    let consistent = index.is_none() && is_consistent(req);
    let partition = if op == "Query" {
        let p = PartitionId::new(table, index_name, query_hash_value(req, hash)?);
        if let Some(resp) = refuse(x, op, &p) {
            return Some(resp);
        }
        Some(p)
    } else {
        None
    };
    let answer = match x.forward_as_is().await {
        Ok(a) => a,
        Err(resp) => return Some(resp),
    };
    if let Some(answered) = answer.json() {
        let read = what_was_read(x, op, req, answered).await;
        let charges = match partition {
            Some(p) => vec![(p, items(&read).map(item_size).sum())],
            None => scan_charges(&read, table, index_name, hash),
        };
        let now = x.now();
        let mut ledger = x.ledger();
        ledger.op(op).items_read += items(&read).count() as u64;
        for (p, size) in charges {
            ledger.charge_read(op, &p, read_units(size, consistent), now);
        }
    }
    Some(answer.respond())
}

/// The items of a `Query` or `Scan` answer.
fn items(read: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    read.get("Items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// What a `Scan` read of each partition, in bytes; an empty scan is
/// charged its minimum to a partition named `*`.
fn scan_charges(
    read: &Value,
    table: &str,
    index: Option<&str>,
    hash: &str,
) -> Vec<(PartitionId, usize)> {
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for item in items(read) {
        let key = item.get(hash).and_then(key_text).unwrap_or_default();
        *by_key.entry(key).or_default() += item_size(item);
    }
    if by_key.is_empty() {
        by_key.insert("*".into(), 0);
    }
    by_key
        .into_iter()
        .map(|(key, size)| (PartitionId::new(table, index, key), size))
        .collect()
}
