//! What a write charges: write units to each partition it lands in, its
//! table's or an index's.

use serde_json::{Map, Value};

use super::partition::{PartitionId, key_text, table_partition};
use super::schema::{Projection, Schema};
use super::size::{attribute_size, item_size, write_units};

/// A write's charges: (partition, write units).
pub(super) type Charges = Vec<(PartitionId, f64)>;

/// A put's charges: the item to its table partition, each index entry to
/// its index partition. `None` when the item lacks the table's keys.
pub(super) fn put_charges(
    schema: &Schema,
    table: &str,
    item: &Map<String, Value>,
) -> Option<Charges> {
    let mut charges = vec![(
        table_partition(schema, table, item)?,
        write_units(item_size(item)),
    )];
    for ix in &schema.indexes {
        let Some(hash) = item.get(&ix.hash_key).and_then(key_text) else {
            continue;
        };
        if ix.range_key.as_ref().is_some_and(|r| !item.contains_key(r)) {
            continue; // sparse: no entry without every index key
        }
        let entry = match &ix.projection {
            Projection::All => item_size(item),
            projection => {
                let mut names: Vec<&str> = schema.table_keys().collect();
                names.push(&ix.hash_key);
                names.extend(ix.range_key.as_deref());
                if let Projection::Include(extra) = projection {
                    names.extend(extra.iter().map(String::as_str));
                }
                names.sort_unstable();
                names.dedup();
                names
                    .iter()
                    .filter_map(|n| item.get(*n).map(|v| n.len() + attribute_size(v)))
                    .sum()
            }
        };
        charges.push((
            PartitionId::new(table, Some(&ix.name), hash),
            write_units(entry),
        ));
    }
    Some(charges)
}

/// A delete's charges: 1 unit to the key's table partition.
pub(super) fn delete_charges(
    schema: &Schema,
    table: &str,
    key: &Map<String, Value>,
) -> Option<Charges> {
    Some(vec![(table_partition(schema, table, key)?, 1.0)])
}

/// An update's charges: its key and the values it sends, to the key's
/// table partition (a lower bound: see the module's doc).
pub(super) fn update_charges(schema: &Schema, req: &Map<String, Value>) -> Option<Charges> {
    let table = req.get("TableName")?.as_str()?;
    let key = req.get("Key")?.as_object()?;
    let mut bytes = item_size(key);
    if let Some(values) = req
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object)
    {
        bytes += values.values().map(attribute_size).sum::<usize>();
    }
    if let Some(updates) = req.get("AttributeUpdates").and_then(Value::as_object) {
        bytes += updates
            .iter()
            .map(|(name, u)| name.len() + u.get("Value").map_or(0, attribute_size))
            .sum::<usize>();
    }
    Some(vec![(
        table_partition(schema, table, key)?,
        write_units(bytes),
    )])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::partition_sim::obj;

    #[test]
    fn a_put_charges_its_table_partition_and_each_index_it_has_keys_for() {
        let s = Schema::shipped().unwrap();
        let pad = "x".repeat(1500);
        let tag_image = obj(json!({
            "pk": {"S": "A#alb"}, "sk": {"S": "G#1#img#tag"}, "iid": {"S": "ti"},
            "tg": {"S": "tag"}, "d": {"S": pad},
        }));
        let charges = put_charges(&s, "t", &tag_image).unwrap();
        let names: Vec<(Option<&str>, &str, f64)> = charges
            .iter()
            .map(|(p, u)| (p.index.as_deref(), p.key.as_str(), *u))
            .collect();
        assert_eq!(
            names,
            [
                (None, "A#alb", 2.0),
                (Some("by_image"), "ti", 1.0),
                (Some("by_tag"), "tag", 1.0)
            ]
        );
        // No organization_id: no by_organization entry; no sk: no entry in an index keyed on it.
        let album = obj(json!({"pk": {"S": "A#alb"}, "organization_id": {"S": "org"}}));
        let charges = put_charges(&s, "t", &album).unwrap();
        assert_eq!(charges.len(), 1, "by_organization needs its range key sk");
        assert!(put_charges(&s, "t", &obj(json!({"sk": {"S": "x"}}))).is_none());
    }
}
