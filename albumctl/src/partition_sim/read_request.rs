//! What a read asks for: the partition a Query names, whether it narrows
//! its answer, the same read for whole items.

use serde_json::{Map, Value};

use super::partition::key_text;

/// Splits a key condition expression into names, placeholders and operators.
fn tokens(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        let op = match c {
            '=' | '(' | ')' | ',' => Some(c.to_string()),
            '<' | '>' => {
                let mut s = c.to_string();
                if let Some(&n) = chars.peek()
                    && (n == '=' || n == '>')
                {
                    s.push(n);
                    chars.next();
                }
                Some(s)
            }
            c if c.is_whitespace() => Some(String::new()),
            _ => None,
        };
        match op {
            Some(op) => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if !op.is_empty() {
                    out.push(op);
                }
            }
            None => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The partition key value a Query names for attribute `hash`.
pub(super) fn query_hash_value(req: &Map<String, Value>, hash: &str) -> Option<String> {
    if let Some(expr) = req.get("KeyConditionExpression").and_then(Value::as_str) {
        let names = req
            .get("ExpressionAttributeNames")
            .and_then(Value::as_object);
        let values = req
            .get("ExpressionAttributeValues")
            .and_then(Value::as_object)?;
        let resolve = |t: &str| -> Option<String> {
            if t.starts_with('#') {
                names?.get(t)?.as_str().map(str::to_string)
            } else {
                Some(t.to_string())
            }
        };
        let toks = tokens(expr);
        for i in 1..toks.len().saturating_sub(1) {
            if toks[i] != "=" {
                continue;
            }
            for (name, value) in [(&toks[i - 1], &toks[i + 1]), (&toks[i + 1], &toks[i - 1])] {
                if value.starts_with(':') && resolve(name).as_deref() == Some(hash) {
                    return values.get(value.as_str()).and_then(key_text);
                }
            }
        }
        return None;
    }
    let condition = req.get("KeyConditions")?.get(hash)?;
    if condition.get("ComparisonOperator")?.as_str()? != "EQ" {
        return None;
    }
    key_text(condition.get("AttributeValueList")?.get(0)?)
}

/// Whether a Query, Scan or GetItem answers less than it reads.
pub(super) fn narrows(req: &Map<String, Value>) -> bool {
    [
        "ProjectionExpression",
        "AttributesToGet",
        "FilterExpression",
        "QueryFilter",
        "ScanFilter",
    ]
    .iter()
    .any(|k| req.contains_key(*k))
        || req
            .get("Select")
            .and_then(Value::as_str)
            .is_some_and(|s| s != "ALL_ATTRIBUTES" && s != "ALL_PROJECTED_ATTRIBUTES")
}

/// The same read, asking for whole items: no projection, `Select`, filter
/// (and none of the names and values only they used).
pub(super) fn whole_items_request(op: &str, req: &Map<String, Value>) -> Map<String, Value> {
    let mut r = req.clone();
    for k in [
        "ProjectionExpression",
        "AttributesToGet",
        "Select",
        "FilterExpression",
        "QueryFilter",
        "ScanFilter",
        "ConditionalOperator",
        "ReturnConsumedCapacity",
    ] {
        r.remove(k);
    }
    match op {
        "Query" => {
            let used: Vec<String> = r
                .get("KeyConditionExpression")
                .and_then(Value::as_str)
                .map(tokens)
                .unwrap_or_default();
            for field in ["ExpressionAttributeNames", "ExpressionAttributeValues"] {
                if let Some(Value::Object(m)) = r.get_mut(field) {
                    m.retain(|k, _| used.iter().any(|u| u == k));
                    if m.is_empty() {
                        r.remove(field);
                    }
                }
            }
        }
        _ => {
            // GetItem's and Scan's names and values served only what was removed.
            r.remove("ExpressionAttributeNames");
            r.remove("ExpressionAttributeValues");
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::partition_sim::obj;

    #[test]
    fn key_conditions_name_their_partition() {
        let req = obj(json!({
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :img)",
            "ExpressionAttributeValues": {":pk": {"S": "A#x"}, ":img": {"S": "I#"}},
        }));
        assert_eq!(query_hash_value(&req, "pk").as_deref(), Some("A#x"));
        let req = obj(json!({
            "KeyConditionExpression": "(#h=:v) and #r <= :r",
            "ExpressionAttributeNames": {"#h": "iid", "#r": "sk"},
            "ExpressionAttributeValues": {":v": {"S": "img"}, ":r": {"S": "z"}},
        }));
        assert_eq!(query_hash_value(&req, "iid").as_deref(), Some("img"));
        assert_eq!(query_hash_value(&req, "sk"), None, "<= is not =");
        let legacy = obj(json!({"KeyConditions": {"pk": {
            "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "A#y"}]}}}));
        assert_eq!(query_hash_value(&legacy, "pk").as_deref(), Some("A#y"));
    }

    #[test]
    fn a_narrowed_query_is_sized_by_the_same_query_for_whole_items() {
        let req = obj(json!({
            "TableName": "t", "KeyConditionExpression": "pk = :pk",
            "ProjectionExpression": "#s, d", "ExpressionAttributeNames": {"#s": "sk"},
            "FilterExpression": "d <> :no",
            "ExpressionAttributeValues": {":pk": {"S": "A#x"}, ":no": {"S": ""}},
            "Select": "SPECIFIC_ATTRIBUTES", "Limit": 51, "ConsistentRead": true,
        }));
        assert!(narrows(&req));
        let whole = whole_items_request("Query", &req);
        assert_eq!(
            Value::Object(whole),
            json!({
                "TableName": "t", "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": "A#x"}},
                "Limit": 51, "ConsistentRead": true,
            })
        );
        assert!(!narrows(&obj(json!({"Select": "ALL_ATTRIBUTES"}))));
    }
}
