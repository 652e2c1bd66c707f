//! Capacity units: the bytes DynamoDB counts in an item, rounded up to
//! what a read or a write of them consumes.

use serde_json::{Map, Value};

/// Bytes per write unit.
const WRITE_UNIT_BYTES: usize = 1024;
/// Bytes per read unit.
const READ_UNIT_BYTES: usize = 4096;

/// Bytes of an attribute value in DynamoDB's JSON wire form (`{"S": …}`).
pub(super) fn attribute_size(value: &Value) -> usize {
    let Some((kind, v)) = value.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "N" => v.as_str().map_or(0, str::len),
        "B" => v.as_str().map_or(0, base64_decoded_len),
        "BOOL" | "NULL" => 1,
        "SS" | "NS" => v.as_array().map_or(0, |a| {
            a.iter().filter_map(Value::as_str).map(str::len).sum()
        }),
        "BS" => v.as_array().map_or(0, |a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(base64_decoded_len)
                .sum()
        }),
        "L" => v.as_array().map_or(3, |a| {
            3 + a.iter().map(|e| 1 + attribute_size(e)).sum::<usize>()
        }),
        "M" => v.as_object().map_or(3, |m| {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + attribute_size(e))
                .sum::<usize>()
        }),
        _ => 0,
    }
}

fn base64_decoded_len(s: &str) -> usize {
    let s = s.trim_end_matches('=');
    s.len() * 3 / 4
}

/// DynamoDB's size of an item in JSON wire form: attribute names plus values.
pub(super) fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(k, v)| k.len() + attribute_size(v)).sum()
}

/// Write units of a write of `bytes`: one per started KB, at least one.
pub(super) fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Read units of a read of `bytes`: one per started 4 KB, at least one;
/// half that for an eventually consistent read.
pub(super) fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::partition_sim::obj;

    #[test]
    fn sizes_follow_dynamodbs_rule_and_match_the_stores() {
        use album_api::store::{Store, item_size as store_size};
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(conf), "t");
        let img = crate::seed::sample_image("00100000123BB44", 1);
        let item = store
            .image_item(
                &album_api::album::Album::new("org", "o", "2019-04-08T17:38:46Z"),
                &img.id,
                &img.record,
            )
            .unwrap();
        let wire: Map<String, Value> = item
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    aws_sdk_dynamodb::types::AttributeValue::S(s) => json!({"S": s}),
                    aws_sdk_dynamodb::types::AttributeValue::N(n) => json!({"N": n}),
                    other => panic!("unexpected {other:?}"),
                };
                (k.clone(), v)
            })
            .collect();
        assert_eq!(item_size(&wire), store_size(&item));
        // Names + values; UTF-8 bytes; binary decoded; nested per DynamoDB.
        let item = obj(json!({
            "a": {"S": "héllo"}, "n": {"N": "12345"}, "b": {"B": "AAEC"},
            "t": {"BOOL": true}, "z": {"NULL": true},
            "l": {"L": [{"S": "ab"}, {"N": "1"}]}, "m": {"M": {"k": {"S": "v"}}},
        }));
        let expect = (1 + 6)
            + (1 + 5)
            + (1 + 3)
            + (1 + 1)
            + (1 + 1)
            + (1 + 3 + 1 + 2 + 1 + 1)
            + (1 + 3 + 1 + 1 + 1);
        assert_eq!(item_size(&item), expect);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(0, false), 0.5);
    }
}
