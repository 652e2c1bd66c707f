//! A partition: a table's or an index's partition key value, which
//! DynamoDB's per-partition limits are counted by.

use serde_json::{Map, Value};

use super::schema::Schema;

/// One partition: a table's or an index's partition key value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct PartitionId {
    /// The table.
    pub(super) table: String,
    /// The index, when the partition is an index's.
    pub(super) index: Option<String>,
    /// The partition key value.
    pub(super) key: String,
}

impl PartitionId {
    pub(super) fn new(table: &str, index: Option<&str>, key: String) -> Self {
        Self {
            table: table.to_string(),
            index: index.map(str::to_string),
            key,
        }
    }
}

/// The partition of an item or key of `table` (its partition key's value).
pub(super) fn table_partition(
    schema: &Schema,
    table: &str,
    item: &Map<String, Value>,
) -> Option<PartitionId> {
    let key = key_text(item.get(&schema.hash_key)?)?;
    Some(PartitionId::new(table, None, key))
}

/// A key attribute's value as text (`S`, `N`, or `B`'s base64).
pub(super) fn key_text(value: &Value) -> Option<String> {
    let (kind, v) = value.as_object()?.iter().next()?;
    match kind.as_str() {
        "S" | "N" | "B" => v.as_str().map(str::to_string),
        _ => None,
    }
}
