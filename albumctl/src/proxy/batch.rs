//! A batch call's items: those forwarded, those sent back unprocessed.
//!
//! DynamoDB may process part of a `BatchWriteItem` or `BatchGetItem` and
//! hand the rest back (`UnprocessedItems`, `UnprocessedKeys`); a layer
//! that defers items forwards the others and adds what it kept back to
//! the upstream's answer, as DynamoDB would.

use serde_json::{Map, Value};

/// A `BatchWriteItem` request's writes, in order, as (table, write
/// request); `None` when it has none or is not of that shape.
pub fn batch_writes(request: &Map<String, Value>) -> Option<Vec<(String, Value)>> {
    let mut writes = Vec::new();
    for (table, list) in request.get("RequestItems")?.as_object()? {
        for write in list.as_array()? {
            writes.push((table.clone(), write.clone()));
        }
    }
    (!writes.is_empty()).then_some(writes)
}

/// (table, write) pairs as `RequestItems` holds them: a list per table, in
/// order; a table without writes is left out, as DynamoDB rejects an
/// empty list.
pub fn by_table(writes: impl IntoIterator<Item = (String, Value)>) -> Map<String, Value> {
    let mut tables = Map::new();
    for (table, write) in writes {
        if let Value::Array(list) = tables
            .entry(table)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(write);
        }
    }
    tables
}

/// Adds `extra` (table → its writes, or its keys' spec) under `field`
/// (`UnprocessedItems`, `UnprocessedKeys`) of a JSON answer, after what
/// the upstream put there; `None` when the answer is not of that shape.
pub fn merge_unprocessed(body: &[u8], field: &str, extra: Map<String, Value>) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let slot = answer
        .entry(field.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    let slot = slot.as_object_mut()?;
    for (table, more) in extra {
        match slot.get_mut(&table) {
            Some(existing) => append(existing, more)?,
            None => {
                slot.insert(table, more);
            }
        }
    }
    serde_json::to_vec(&Value::Object(answer)).ok()
}

/// Appends one table's unprocessed writes (a list) or keys (a spec with
/// `Keys`) to those already there.
fn append(existing: &mut Value, more: Value) -> Option<()> {
    match (existing, more) {
        (Value::Array(a), Value::Array(b)) => a.extend(b),
        (Value::Object(a), Value::Object(mut b)) => {
            let Some(Value::Array(more_keys)) = b.remove("Keys") else {
                return None;
            };
            a.get_mut("Keys")?.as_array_mut()?.extend(more_keys);
        }
        _ => return None,
    }
    Some(())
}
