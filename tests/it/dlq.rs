//! `albumctl dlq list|redrive` against moto's SQS and DynamoDB Streams
//! (served on the same port as its DynamoDB): a scheduled duplication's
//! async-invoke dead letter, a worker's stream failure record read back
//! from the table's stream, and an unreadable message. dynalite has neither
//! SQS nor streams: there the test says so and returns.

use std::collections::HashSet;

use album_api::album::Album;
use album_api::store::Store;
use album_api::store::jobs::Job;
use albumctl::dlq::{self, Clients, Kind, RedriveOptions};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use aws_sdk_sqs::types::MessageAttributeValue;
use serde_json::json;

use crate::support::*;

const IMAGES: u64 = 40;
/// The scheduled duplication's destination.
const WEEKLY: &str = "dlq_weekly";
/// The handed-off job's destination.
const HANDED_OFF: &str = "dlq_handed_off";
const JOB: &str = "5b0e9c1a-7d3f-4e2b-9a6c-1f8e2d4c6b0a";
const REQUEST_ID: &str = "8c2f4e6a-0b1d-4c3e-9f5a-7b9d1e3f5a7c";

async fn clients() -> Clients {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    Clients::with_endpoint(&sdk, &emulator_endpoint())
}

fn string(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .unwrap()
}

/// The image records of `album`, by asset, and their ids.
async fn images(store: &Store, album: &str) -> (Vec<String>, HashSet<String>) {
    let album = store
        .get_album(&crate::support::key(album))
        .await
        .unwrap()
        .expect("the album");
    let (page, next) = store.images_page(&album, 1000, None).await.unwrap();
    assert!(next.is_none());
    let mut records: Vec<String> = page
        .iter()
        .map(|i| serde_json::to_string(&i.record).unwrap())
        .collect();
    records.sort();
    (records, page.into_iter().map(|i| i.id).collect())
}

/// The stream sequence number and shard of the record that handed job
/// `JOB` off, as the worker's event source mapping saw it.
async fn handoff_record(clients: &Clients, store: &Store) -> (String, String, String) {
    let table = store
        .client()
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let stream_arn = table
        .table()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_string();
    let stream = clients
        .streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap();
    let shard = stream.stream_description().unwrap().shards()[0]
        .shard_id()
        .unwrap()
        .to_string();
    let it = clients
        .streams
        .get_shard_iterator()
        .stream_arn(&stream_arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = clients
        .streams
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    let seq = records
        .records()
        .iter()
        .filter_map(|r| r.dynamodb())
        .find(|d| {
            d.new_image()
                .and_then(|i| i.get("pk"))
                .and_then(|pk| pk.as_s().ok())
                .is_some_and(|pk| pk == &format!("J#{JOB}"))
        })
        .and_then(|d| d.sequence_number())
        .expect("the job's hand-off in the stream")
        .to_string();
    (stream_arn, shard, seq)
}

#[tokio::test]
async fn dead_letters_are_listed_and_redriven_exactly_once() {
    if !emulator_is_moto() {
        eprintln!(
            "dlq: skipped: needs SQS and DynamoDB Streams, which moto serves \
             (scripts/with-moto.sh) and dynalite does not"
        );
        return;
    }
    let env = TestEnv::new("dlq").await;
    let store = env.direct_store().await;
    let clients = clients().await;
    seed_album(&store, SOURCE, ORG, IMAGES).await;
    // The table's stream, as the template declares it (the worker's source).
    store
        .client()
        .update_table()
        .table_name(&env.table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // A job handed off to the worker, whose batch then failed every retry.
    store
        .create_album_if_absent(&Album {
            id: HANDED_OFF.into(),
            organization_id: ORG.into(),
            images_count: 0,
            views_count: 0,
            created_at: "2026-11-30T06:00:00Z".into(),
            shards: 1,
        })
        .await
        .unwrap();
    let job = Job {
        slices: 1,
        ..Job::running(
            JOB,
            album_api::store::jobs::JobKind::Duplicate,
            SOURCE,
            HANDED_OFF,
            ORG,
            USER,
            IMAGES,
        )
    };
    store
        .create_job_if_absent(&job, true, "2026-11-30T06:15:00Z")
        .await
        .unwrap();
    let (stream_arn, shard, seq) = handoff_record(&clients, &store).await;

    let queue = clients
        .sqs
        .create_queue()
        .queue_name(unique_table("dlq"))
        .send()
        .await
        .unwrap();
    let url = queue.queue_url().unwrap().to_string();
    // 1. The scheduled function's async-invocation dead letter.
    clients
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body(
            json!({"source_album_id": SOURCE, "destination_id": WEEKLY, "organization_id": ORG})
                .to_string(),
        )
        .message_attributes("RequestID", string(REQUEST_ID))
        .message_attributes(
            "ErrorCode",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("200")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "ErrorMessage",
            string("DynamoDB unavailable: the call did not end inside its budget"),
        )
        .send()
        .await
        .unwrap();
    // 2. The worker's stream on-failure record.
    let record = json!({
        "requestContext": {"requestId": "d1c2b3a4-0000-4000-8000-000000000001",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:DuplicationWorkerFunction",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-30T06:31:12.842Z",
        "DDBStreamBatchInfo": {"shardId": shard, "startSequenceNumber": seq, "endSequenceNumber": seq,
            "approximateArrivalOfFirstRecord": "2026-11-30T06:15:01Z",
            "approximateArrivalOfLastRecord": "2026-11-30T06:15:01Z",
            "batchSize": 1, "streamArn": stream_arn}
    });
    clients
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body(record.to_string())
        .send()
        .await
        .unwrap();
    // 3. Something else entirely.
    let odd = clients
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("a message nobody can read")
        .send()
        .await
        .unwrap();
    let odd_id = odd.message_id().unwrap().to_string();

    // list: each failed duplication, and nothing hidden afterwards.
    let (items, warnings) = dlq::list(&clients, Some(&store), &url).await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(items.len(), 3, "{}", dlq::render(&items));
    let scheduled = items
        .iter()
        .find(|i| i.kind == Some(Kind::AsyncInvoke))
        .expect("the async-invoke dead letter");
    assert!(scheduled.readable);
    assert_eq!(scheduled.source_album_id.as_deref(), Some(SOURCE));
    assert_eq!(scheduled.destination_id.as_deref(), Some(WEEKLY));
    assert_eq!(scheduled.organization_id.as_deref(), Some(ORG));
    assert_eq!(scheduled.error.code.as_deref(), Some("200"));
    assert_eq!(scheduled.job_status.as_deref(), Some("not started"));
    let worker = items
        .iter()
        .find(|i| i.kind == Some(Kind::WorkerJob))
        .expect("the worker's failure record");
    assert_eq!(worker.job_ids, vec![JOB.to_string()], "{:?}", worker.note);
    assert_eq!(worker.destination_id.as_deref(), Some(HANDED_OFF));
    assert_eq!(worker.error.code.as_deref(), Some("Unhandled"));
    assert!(
        worker
            .job_status
            .as_deref()
            .is_some_and(|s| s.starts_with("running")),
        "{:?}",
        worker.job_status
    );
    let unreadable = items.iter().find(|i| !i.readable).expect("the odd one");
    assert_eq!(unreadable.message_id, odd_id);
    assert!(
        unreadable
            .note
            .as_deref()
            .unwrap()
            .starts_with("unreadable")
    );
    let (again, _) = dlq::list(&clients, Some(&store), &url).await.unwrap();
    assert_eq!(again.len(), 3, "listing hides nothing");

    // redrive: both duplications done exactly, the two messages deleted,
    // the unreadable one kept.
    let report = dlq::redrive(&env.app, &clients, &url, &RedriveOptions::default())
        .await
        .unwrap();
    println!("{}", report.render());
    assert_eq!(
        (
            report.redriven(),
            report.failed_again(),
            report.unreadable()
        ),
        (2, 0, 1),
        "{}",
        report.render()
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let (source_images, source_ids) = images(&store, SOURCE).await;
    for album in [WEEKLY, HANDED_OFF] {
        assert_album_exact(&store, album, IMAGES, "after the redrive").await;
        let (copied, ids) = images(&store, album).await;
        assert_eq!(copied, source_images, "{album} holds the source's images");
        assert!(ids.is_disjoint(&source_ids), "copies get their own ids");
    }
    assert_album_exact(&store, SOURCE, IMAGES, "the source").await;
    assert_eq!(job_items(&store).await, 2);
    let (left, _) = dlq::list(&clients, Some(&store), &url).await.unwrap();
    assert_eq!(left.len(), 1, "{}", dlq::render(&left));
    assert_eq!(left[0].message_id, odd_id);

    // A second redrive changes nothing.
    let second = dlq::redrive(&env.app, &clients, &url, &RedriveOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (
            second.redriven(),
            second.failed_again(),
            second.unreadable()
        ),
        (0, 0, 1),
        "{}",
        second.render()
    );
    for album in [WEEKLY, HANDED_OFF] {
        assert_album_exact(&store, album, IMAGES, "after a second redrive").await;
    }
    assert_eq!(job_items(&store).await, 2);
    let (left, _) = dlq::list(&clients, Some(&store), &url).await.unwrap();
    assert_eq!(left.len(), 1);
}
