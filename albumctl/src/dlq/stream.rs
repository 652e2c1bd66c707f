//! A worker failure's jobs, read back from the table's stream: its
//! on-failure record names where the batch sits, not what it held.

use std::cmp::Ordering;

use album_api::handlers::duplication_worker;
use aws_sdk_dynamodbstreams as streams;
use serde_json::{Map, Value, json};

use super::message::StreamBatch;
use super::queue::sdk_error;

/// Orders two stream sequence numbers (decimal strings of up to 40 digits).
pub(crate) fn sequence_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn attribute_json(v: &streams::types::AttributeValue) -> Value {
    use streams::types::AttributeValue as A;
    match v {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::Bool(b) => json!({ "BOOL": b }),
        _ => json!({ "NULL": true }),
    }
}

/// A stream record as the Lambda event carries it (what the worker reads).
fn record_json(r: &streams::types::Record) -> Value {
    let image: Map<String, Value> = r
        .dynamodb()
        .and_then(|d| d.new_image())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), attribute_json(v)))
        .collect();
    json!({
        "eventName": r.event_name().map(|e| e.as_str()),
        "dynamodb": {
            "NewImage": image,
            "SequenceNumber": r.dynamodb().and_then(|d| d.sequence_number()),
        },
    })
}

/// The jobs a failed stream batch handed off, read back from the stream
/// (it keeps records 24 hours), with the worker's own filter.
pub(crate) async fn jobs_of_batch(
    client: &streams::Client,
    batch: &StreamBatch,
) -> Result<Vec<String>, String> {
    let unreadable =
        |what: &str, e: String| format!("the stream record cannot be read back ({what}: {e})");
    let it = client
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(streams::types::ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start_sequence_number)
        .send()
        .await
        .map_err(|e| unreadable("GetShardIterator", sdk_error(&e)))?;
    let want = batch.batch_size.unwrap_or(1).clamp(1, 1000) as i32;
    let mut iterator = it.shard_iterator().map(str::to_string);
    let mut records = Vec::new();
    let mut reads = 0;
    'read: while let Some(i) = iterator.take() {
        reads += 1;
        let out = client
            .get_records()
            .shard_iterator(i)
            .limit(want)
            .send()
            .await
            .map_err(|e| unreadable("GetRecords", sdk_error(&e)))?;
        for r in out.records() {
            let seq = r.dynamodb().and_then(|d| d.sequence_number()).unwrap_or("");
            if sequence_cmp(seq, &batch.end_sequence_number) == Ordering::Greater {
                break 'read;
            }
            records.push(record_json(r));
            if sequence_cmp(seq, &batch.end_sequence_number) == Ordering::Equal {
                break 'read;
            }
        }
        if reads >= 5 {
            break;
        }
        iterator = out.next_shard_iterator().map(str::to_string);
    }
    if records.is_empty() {
        return Err(unreadable(
            "GetRecords",
            "the stream no longer holds the batch".into(),
        ));
    }
    let jobs = duplication_worker::handed_off_jobs(&json!({ "Records": records }));
    if jobs.is_empty() {
        return Err("the batch's stream records hand off no job".into());
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_order_as_numbers() {
        assert_eq!(sequence_cmp("9", "10"), Ordering::Less);
        assert_eq!(
            sequence_cmp(
                "4421584500000000017450439091",
                "4421584500000000017450439091"
            ),
            Ordering::Equal
        );
        assert_eq!(sequence_cmp("000100", "99"), Ordering::Greater);
    }
}
