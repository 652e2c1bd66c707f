//! The stream worker keeps every job moving: a slice that reaches its
//! deadline hands off what is left, a failed or repeated delivery still
//! leads to the next hand-off, a dead holder's lease is taken over, and a
//! poison record fails alone. Deliveries go through the stream as AWS runs
//! it ([`JobStream`]): a job left `running` with no new record stalls.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::stream::{JobStream, handed_off_job, stream_event};
use crate::support::*;

use album_api::handlers::duplication_worker;
use album_api::store::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// A worker invocation's budget: long enough for a slice to copy a few
/// hundred images and hand off, several times that against moto.
fn worker_budget(secs: u64) -> Duration {
    Duration::from_secs(if emulator_is_moto() { secs * 2 } else { secs })
}

fn no_failures(out: &Value) -> bool {
    out["batchItemFailures"] == json!([])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slice_whose_dynamodb_stops_answering_near_its_deadline_hands_off_and_no_invocation_fails()
 {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("stopsanswering", &proxy.endpoint()).await;
    let store = env.direct_store().await;
    let job_id = handed_off_job(&env, SOURCE, "copy", 1500).await;
    // Small pages and few batches at once: many Queries, a slow copy.
    env.app.copy.page_limit = Some(100);
    env.app.copy.concurrency = 1;
    proxy.reset_stats();
    let mut stream = JobStream::new(&store, &job_id);
    stream.take_new_record().await;

    // A few hundred images in, every Query goes unanswered.
    let watcher = {
        let handle = proxy.stats_handle();
        tokio::spawn(async move {
            while handle.stats().batch_write_items < 200 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut hang = FaultConfig::none().only(["Query"]);
            hang.hang_rate = 1.0;
            handle.set_config(hang);
        })
    };
    // Slicing stops 5 s before the deadline (`deadline_margin`): 4 s of
    // copying, then the wait for DynamoDB until the hand-off.
    let budget = Duration::from_secs(if emulator_is_moto() { 14 } else { 9 });
    let started = Instant::now();
    let out = stream
        .deliver_next(&env.app, "w-1", budget)
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    watcher.await.unwrap();
    assert!(no_failures(&out), "{out}");
    assert!(took < budget, "{took:?}");
    assert!(proxy.stats().faults_on("Query") > 0, "{:?}", proxy.stats());
    let item = stream.job_item().await;
    assert_eq!(item["status"].as_s().unwrap(), "running");
    assert!(item.contains_key("handoff"), "handed off: {item:?}");
    let copied: u64 = item["images_copied"].as_n().unwrap().parse().unwrap();
    assert!((200..1500).contains(&copied), "progress saved: {copied}");
    assert!(stream.has_pending(), "the hand-off is a stream record");

    proxy.set_config(FaultConfig::none());
    let rest = stream.drive(&env.app, worker_budget(60), 20).await;
    assert_eq!(rest.failed, 0, "{rest:?}");
    assert_album_exact(&store, "copy", 1500, "exact").await;
}

/// Leaves job `job_id` as an invocation that took it and died would: its
/// lease held for `for_ms` more milliseconds, its `handoff` taken away.
async fn lease_held_by_a_dead_invocation(store: &Store, job_id: &str, for_ms: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("J#{job_id}")))
        .key("sk", AttributeValue::S("J".into()))
        .update_expression(
            "SET lease_owner = :dead, lease_until = :until ADD slices :one REMOVE handoff",
        )
        .expression_attribute_values(":dead", AttributeValue::S("dead-invocation".into()))
        .expression_attribute_values(":until", AttributeValue::N((now + for_ms).to_string()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_delivery_and_a_dead_holders_lease_still_lead_to_the_next_hand_off() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("deadholder", &proxy.endpoint()).await;
    env.app.slice_items = Some(500);
    let store = env.direct_store().await;
    let job_id = handed_off_job(&env, SOURCE, "copy", 1500).await;
    let mut stream = JobStream::new(&store, &job_id);
    stream.take_new_record().await;

    // The first delivery fails: DynamoDB answers nothing but 500s.
    let mut storm = FaultConfig::none();
    storm.server_error_rate = 1.0;
    proxy.set_config(storm);
    let out = stream
        .deliver_next(&env.app, "w-1", worker_budget(10))
        .await
        .unwrap();
    assert!(!no_failures(&out.unwrap()), "the record is reported failed");
    proxy.set_config(FaultConfig::none());
    assert!(stream.has_pending(), "the stream delivers the record again");

    // Meanwhile an invocation took the job and died without a word.
    lease_held_by_a_dead_invocation(&store, &job_id, 2_000).await;
    stream.take_new_record().await;
    let started = Instant::now();
    let out = stream
        .deliver_next(&env.app, "w-2", worker_budget(30))
        .await
        .unwrap();
    assert!(no_failures(&out.unwrap()));
    assert!(
        started.elapsed() >= Duration::from_millis(1_900),
        "the job was taken only once the dead holder's lease ran out"
    );
    assert!(stream.has_pending(), "the slice handed off");
    let rest = stream.drive(&env.app, worker_budget(60), 20).await;
    assert_eq!(rest.failed, 0, "{rest:?}");
    assert_album_exact(&store, "copy", 1500, "exact").await;
}

#[tokio::test]
async fn a_delivery_that_repeats_a_hand_off_still_moves_the_job_on() {
    let mut env = TestEnv::new("repeated").await;
    env.app.slice_items = Some(400);
    let store = env.direct_store().await;
    let job_id = handed_off_job(&env, SOURCE, "copy", 1500).await;
    let mut stream = JobStream::new(&store, &job_id);
    stream.take_new_record().await;
    // Its answer lost, the same record comes twice.
    stream.repeat_front();
    for attempt in ["w-1", "w-1-again"] {
        let out = stream
            .deliver_next(&env.app, attempt, worker_budget(30))
            .await
            .unwrap();
        assert!(no_failures(&out.unwrap()));
    }
    assert!(stream.has_pending(), "the repeated delivery handed off too");
    let rest = stream.drive(&env.app, worker_budget(60), 20).await;
    assert_eq!(rest.failed, 0, "{rest:?}");
    assert_album_exact(&store, "copy", 1500, "exact").await;
}

#[tokio::test]
async fn a_poison_record_is_reported_alone_while_the_others_of_its_batch_proceed() {
    let env = TestEnv::new("poison").await;
    let store = env.direct_store().await;
    let first = handed_off_job(&env, "src-a", "copy-a", 60).await;
    let second = handed_off_job(&env, "src-b", "copy-b", 40).await;
    // A job item the worker cannot read: no source album.
    let poison = "poison-job";
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S(format!("J#{poison}")))
        .item("sk", AttributeValue::S("J".into()))
        .item("status", AttributeValue::S("running".into()))
        .item("handoff", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for (seq, id) in [(1, &first), (2, &poison.to_string()), (3, &second)] {
        let item = JobStream::new(&store, id).job_item().await;
        records.push(stream_event(&item, seq)["Records"][0].clone());
    }
    let out = duplication_worker::handle(
        &env.app,
        LambdaEvent::new(
            json!({"Records": records}),
            lambda_context("batch", worker_budget(30)),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": format!("{:024}", 2)}]),
        "{out}"
    );
    for (id, album, images) in [(&first, "copy-a", 60), (&second, "copy-b", 40)] {
        let status = JobStream::new(&store, id).job_item().await["status"].clone();
        assert_eq!(status.as_s().unwrap(), "done", "{id}");
        assert_album_exact(&store, album, images, "exact").await;
    }
}
