//! Scheduled duplications and jobs that outlive one invocation: real
//! EventBridge and DynamoDB Streams event JSON through the handlers,
//! against the local DynamoDB.

use std::time::Duration;

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::stream::JobStream;
use crate::support::*;
use album_api::handlers::{
    duplicate_album, duplication_worker, get_duplication, scheduled_duplicate,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

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
async fn a_scheduled_copy_handed_off_slice_by_slice_resumes_until_done_without_restarting() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("resume", &proxy.endpoint()).await;
    // Slices of 500 items: six of them, whatever the machine's speed.
    env.app.slice_items = Some(500);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 3000).await;
    proxy.reset_stats();

    let out = scheduled_duplicate::handle(
        &env.app,
        LambdaEvent::new(
            scheduled_event("slow"),
            context("d-1", Duration::from_secs(60)),
        ),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], "running", "{out}");
    let job_id = out["job_id"].as_str().unwrap();
    let mut stream = JobStream::new(&store, job_id);
    let deliveries = stream.drive(&env.app, Duration::from_secs(60), 50).await;
    assert_eq!(deliveries.failed, 0, "{deliveries:?}");
    // The schedule's own slice, then the worker's five of 500 (and one
    // that finds the end).
    assert!((5..=6).contains(&deliveries.total), "{deliveries:?}");
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
        // Authorization: the schedule's organization must own the source
        // (a destination id is always its own: decision 0014).
        json!({"source_album_id": SOURCE, "destination_id": "x4", "organization_id": OTHER_ORG}),
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
            store
                .get_album(&crate::support::key(album))
                .await
                .unwrap()
                .is_none(),
            "{album} was created"
        );
    }
    assert_eq!(
        store
            .count_images(&album_api::album::AlbumKey::new(OTHER_ORG, "theirs"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(job_items(&store).await, 0);
}

#[tokio::test]
async fn the_202_path_reaches_done_with_an_exact_copy() {
    let mut env = TestEnv::new("async").await;
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    env.app.slice_items = Some(500);
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

    // The stream delivers the hand-offs' records, as Lambda would, until done.
    let mut stream = JobStream::new(&store, &job_id);
    let deliveries = stream.drive(&env.app, Duration::from_secs(60), 50).await;
    assert_eq!(deliveries.failed, 0, "{deliveries:?}");
    // Slices of 500 (and one that finds the end, when the last share ends
    // on the album's last item).
    assert!((3..=4).contains(&deliveries.total), "{deliveries:?}");
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
    assert_eq!(out["batchItemFailures"], json!([]));
    assert_eq!(stream.job_item().await["status"].as_s().unwrap(), "done");
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
