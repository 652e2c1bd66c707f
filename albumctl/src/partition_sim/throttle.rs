//! The error DynamoDB answers a call over its partitions' limits with, so
//! that clients meet the very answer production gives them.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::partition::PartitionId;
use crate::proxy::{DDB_ERR_NS, Reply, aws_error};

/// What DynamoDB says when a partition key's range is over its throughput.
const THROTTLE_MESSAGE: &str = "Throughput exceeds the current capacity of your table or index. \
     DynamoDB is automatically scaling your table or index so please try again shortly. If \
     exceptions persist, check if you have a hot key: \
     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html";

/// The awsJson error of a call throttled by the partitions `blocked`.
pub(super) fn throttled(blocked: &[PartitionId], write: bool) -> Reply {
    let mut reasons: Vec<Value> = Vec::new();
    for p in blocked {
        let r = throttling_reason(p, write);
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    aws_error(
        StatusCode::BAD_REQUEST,
        &format!("{DDB_ERR_NS}#ProvisionedThroughputExceededException"),
        THROTTLE_MESSAGE,
        json!({ "ThrottlingReasons": reasons }),
    )
}

/// `TableWriteKeyRangeThroughputExceeded` and its kin, with the resource.
fn throttling_reason(p: &PartitionId, write: bool) -> Value {
    let reason = format!(
        "{}{}KeyRangeThroughputExceeded",
        if p.index.is_some() { "Index" } else { "Table" },
        if write { "Write" } else { "Read" }
    );
    let mut resource = format!("arn:aws:dynamodb:local:000000000000:table/{}", p.table);
    if let Some(index) = &p.index {
        resource.push_str("/index/");
        resource.push_str(index);
    }
    json!({"reason": reason, "resource": resource})
}
