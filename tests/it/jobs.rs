//! Scheduled duplications and jobs that outlive one invocation: real
//! EventBridge and DynamoDB Streams event JSON through the handlers,
//! against the local DynamoDB.

use std::time::Duration;

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::*;
use album_api::handlers::{
    duplicate_album, duplication_worker, get_duplication, scheduled_duplicate,
};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Map, Value, json};

/// An invocation budget of `ms` milliseconds against dynalite, longer
/// against moto: a slice makes progress only if it reads a source page (up
/// to 1 MB) before its deadline, which dynalite does in a few tens of
/// milliseconds and moto in about half a second.
fn slice_budget(ms: u64) -> Duration {
    Duration::from_millis(if emulator_is_moto() { ms * 6 } else { ms })
}

fn context(request_id: &str, budget: Duration) -> Context {
    lambda_context(request_id, budget)
}

fn scheduled_event(destination: &str) -> Value {
    let mut e = event("scheduled-duplicate.json");
    e["source_album_id"] = json!(SOURCE);
    e["destination_id"] = json!(destination);
    e["organization_id"] = json!(ORG);
    e
}

#[tokio::test]
async fn a_scheduled_copy_is_exact() {
    let env = TestEnv::new("sched").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 120).await;
    let out = scheduled_duplicate::handle(
        &env.app,
        LambdaEvent::new(
            scheduled_event("weekly"),
            context("r-1", Duration::from_secs(60)),
        ),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], "done");
    assert_album_exact(&store, "weekly", 120, "exact").await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_leaves_the_destination_exact() {
    let env = TestEnv::new("twice").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 80).await;
    // EventBridge envelope (rule / PutEvents) and Scheduler input alike.
    let mut envelope = event("scheduled-duplicate-eventbridge.json");
    envelope["detail"]["source_album_id"] = json!(SOURCE);
    envelope["detail"]["organization_id"] = json!(ORG);
    envelope["detail"]["destination_id"] = json!("team");
    for payload in [envelope, scheduled_event("weekly2")] {
        let dest = payload.get("detail").map_or_else(
            || payload["destination_id"].clone(),
            |d| d["destination_id"].clone(),
        );
        let dest = dest.as_str().unwrap().to_string();
        let first = scheduled_duplicate::handle(
            &env.app,
            LambdaEvent::new(payload.clone(), context("r-a", Duration::from_secs(60))),
        )
        .await
        .unwrap();
        let again = scheduled_duplicate::handle(
            &env.app,
            LambdaEvent::new(payload.clone(), context("r-b", Duration::from_secs(60))),
        )
        .await
        .unwrap();
        assert_eq!(first["status"], "done");
        assert_eq!(
            again["job_id"], first["job_id"],
            "a re-delivery is the same job"
        );
        assert_eq!(again["status"], "done");
        assert_album_exact(&store, &dest, 80, "exact").await;
    }
    // Two deliveries at once.
    let payload = scheduled_event("racing");
    let (a, b) = tokio::join!(
        scheduled_duplicate::handle(
            &env.app,
            LambdaEvent::new(payload.clone(), context("r-c", Duration::from_secs(60)))
        ),
        scheduled_duplicate::handle(
            &env.app,
            LambdaEvent::new(payload.clone(), context("r-d", Duration::from_secs(60)))
        ),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a["status"] == "done" || b["status"] == "done", "{a} {b}");
    // Whichever did not finish finds it done on its next delivery.
    let c = scheduled_duplicate::handle(
        &env.app,
        LambdaEvent::new(payload, context("r-e", Duration::from_secs(60))),
    )
    .await
    .unwrap();
    assert_eq!(c["status"], "done");
    assert_album_exact(&store, "racing", 80, "exact").await;
}

#[tokio::test]
async fn a_copy_cut_short_by_its_deadline_resumes_until_done_without_restarting() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("resume", &proxy.endpoint()).await;
    // Copying stops halfway to each delivery's deadline, so the batches in
    // flight and the hand-off fit before the deadline that ends every call.
    env.app.deadline_margin = slice_budget(100);
    env.app.answer_margin = Duration::ZERO;
    env.app.copy.concurrency = 2;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 3000).await;
    proxy.reset_stats();

    let payload = scheduled_event("slow");
    let mut deliveries = 0;
    loop {
        deliveries += 1;
        assert!(deliveries < 500, "never finished");
        let out = scheduled_duplicate::handle(
            &env.app,
            LambdaEvent::new(
                payload.clone(),
                context(&format!("d-{deliveries}"), slice_budget(200)),
            ),
        )
        .await;
        match out {
            Ok(out) if out["status"] == "done" => break,
            Ok(_) => {}
            // A delivery whose last call missed its deadline fails, as it
            // would in Lambda, which delivers the event again.
            Err(e) => eprintln!("delivery {deliveries} failed ({e}); delivered again"),
        }
    }
    assert!(
        deliveries >= 3,
        "the deadline really cut the copy ({deliveries} deliveries)"
    );
    assert_album_exact(&store, "slow", 3000, "exact").await;
    let written = proxy.stats().batch_write_items;
    assert!(written >= 3000, "{written}");
    assert!(
        (written as f64) < 3000.0 * 1.1,
        "resumed rather than restarted: {written} items written for 3000"
    );
}

#[tokio::test]
async fn malformed_schedule_input_fails_clearly_and_writes_nothing() {
    let env = TestEnv::new("badsched").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 3).await;
    seed_album(&store, "theirs", OTHER_ORG, 1).await;
    let cases = [
        json!({"source_album_id": SOURCE, "destination_id": "x1"}),
        json!({"source_album_id": SOURCE, "destination_id": "x2", "organization_id": ORG, "surprise": true}),
        json!({"source_album_id": SOURCE, "destination_id": "x3/..", "organization_id": ORG}),
        json!("just a string"),
        json!({"detail-type": "Duplicate album", "detail": {"source_album_id": SOURCE}}),
        // Authorization: the schedule's organization must own the source and destination.
        json!({"source_album_id": SOURCE, "destination_id": "x4", "organization_id": OTHER_ORG}),
        json!({"source_album_id": SOURCE, "destination_id": "theirs", "organization_id": ORG}),
    ];
    for payload in cases {
        let err = scheduled_duplicate::handle(
            &env.app,
            LambdaEvent::new(payload.clone(), context("bad", Duration::from_secs(30))),
        )
        .await
        .unwrap_err();
        assert!(!err.to_string().is_empty(), "{payload}");
    }
    for album in ["x1", "x2", "x3", "x4"] {
        assert!(
            store.get_album(album).await.unwrap().is_none(),
            "{album} was created"
        );
    }
    assert_eq!(store.count_images("theirs").await.unwrap(), 1);
    assert_eq!(job_items(&store).await, 0);
}

/// The DynamoDB Streams record of an item, as Lambda delivers it.
fn stream_event(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    fn av(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => json!({"S": s}),
            AttributeValue::N(n) => json!({"N": n}),
            AttributeValue::Bool(b) => json!({"BOOL": b}),
            other => panic!("unexpected attribute {other:?}"),
        }
    }
    let image: Map<String, Value> = item.iter().map(|(k, v)| (k.clone(), av(v))).collect();
    let mut e = event("duplication-worker.json");
    e["Records"][0]["dynamodb"]["NewImage"] = Value::Object(image.clone());
    e["Records"][0]["dynamodb"]["Keys"] = json!({"pk": image["pk"], "sk": image["sk"]});
    e
}

#[tokio::test]
async fn the_202_path_reaches_done_with_an_exact_copy() {
    let mut env = TestEnv::new("async").await;
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    // Copying stops halfway to each delivery's deadline, so the batches in
    // flight and the hand-off fit before the deadline that ends every call.
    env.app.deadline_margin = slice_budget(125);
    env.app.answer_margin = Duration::ZERO;
    env.app.copy.concurrency = 2;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 1500).await;
    let token = bearer(&env.token(USER, None));

    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&token),
        SOURCE,
        Some("destination_id=big_copy"),
    );
    let (status, headers, body) = parts(
        duplicate_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{body}");
    let job_id = body["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        headers["location"],
        format!("/api/v1/duplications/{job_id}")
    );
    assert_eq!(body["status"], "running");
    assert_eq!(body["images_total"], 1500);

    let get_event = {
        let mut e = event("get-duplication.json");
        e["pathParameters"]["job_id"] = json!(job_id);
        e["rawPath"] = json!(format!("/api/v1/duplications/{job_id}"));
        e["headers"]["authorization"] = json!(token);
        e
    };
    let get = async |env: &TestEnv| {
        parts(
            get_duplication::handle(&env.app, request(&get_event))
                .await
                .unwrap(),
        )
    };
    let (s, _, progress) = get(&env).await;
    assert_eq!((s, progress["status"].as_str()), (200, Some("running")));

    // Deliver the stream records the hand-offs produce, as Lambda would, until done.
    let mut slices = 0;
    loop {
        let item = store
            .client()
            .get_item()
            .table_name(store.table())
            .key("pk", AttributeValue::S(format!("J#{job_id}")))
            .key("sk", AttributeValue::S("J".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        if item["status"].as_s().unwrap() == "done" {
            break;
        }
        assert!(item.contains_key("handoff"), "a paused job is handed off");
        // The stream delivers the record again while the worker fails on it
        // (a slice whose last call missed its deadline).
        loop {
            slices += 1;
            assert!(slices < 400, "never finished");
            let out = duplication_worker::handle(
                &env.app,
                LambdaEvent::new(
                    stream_event(&item),
                    context(&format!("w-{slices}"), slice_budget(250)),
                ),
            )
            .await;
            match out {
                Ok(out) => {
                    assert_eq!(out.as_array().unwrap().len(), 1);
                    break;
                }
                Err(e) => eprintln!("slice {slices} failed ({e}); the record is delivered again"),
            }
        }
    }
    assert!(slices >= 2, "the worker ran several slices ({slices})");
    assert_album_exact(&store, "big_copy", 1500, "exact").await;
    let (s, _, done) = get(&env).await;
    assert_eq!(s, 200);
    assert_eq!(done["status"], "done");
    assert_eq!(done["images_copied"], 1500);
    assert_eq!(done["album"]["images_count"], 1500);
    assert_eq!(done["album"]["id"], "big_copy");

    // A stale stream record after completion changes nothing.
    let mut stale = event("duplication-worker.json");
    stale["Records"][0]["dynamodb"]["NewImage"]["pk"] = json!({"S": format!("J#{job_id}")});
    let out = duplication_worker::handle(
        &env.app,
        LambdaEvent::new(stale, context("late", Duration::from_secs(30))),
    )
    .await
    .unwrap();
    assert_eq!(out[0]["status"], "done");
    assert_album_exact(&store, "big_copy", 1500, "exact").await;
}

#[tokio::test]
async fn another_organization_cannot_see_a_job() {
    let mut env = TestEnv::new("jobauth").await;
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 30).await;
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some("destination_id=j2"),
    );
    let (status, _, body) = parts(
        duplicate_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{body}");
    let mut e = event("get-duplication.json");
    e["pathParameters"]["job_id"] = body["job_id"].clone();
    e["headers"]["authorization"] = json!(bearer(&env.token(OTHER_USER, None)));
    let (s, _, b) = parts(
        get_duplication::handle(&env.app, request(&e))
            .await
            .unwrap(),
    );
    assert_eq!(s, 404, "{b}");
    e["pathParameters"]["job_id"] = json!("no-such-job");
    e["headers"]["authorization"] = json!(bearer(&env.token(USER, None)));
    assert_eq!(
        parts(
            get_duplication::handle(&env.app, request(&e))
                .await
                .unwrap()
        )
        .0,
        404
    );
}
