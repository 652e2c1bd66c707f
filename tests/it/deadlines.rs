//! Every function answers inside its deadline whatever DynamoDB does
//! (decision 0006): the fault proxy in front of the local DynamoDB plays a
//! brownout (every call throttled), a black hole (every call hangs, nothing
//! reaches the table) and a 500 storm. Each HTTP function, called through its
//! real handler with its real API Gateway event, must answer 503 with the
//! API's JSON error, the contract's headers and `Retry-After`, within its
//! route's budget + 1 s; the table must be as before; and once the fault
//! stops, the same request must succeed with every count exact. A duplicate
//! that DynamoDB trouble stops part-way answers 202 with a job when the job
//! can be saved (the worker then finishes it exactly), else 503 (the retry
//! finishes it exactly). The event functions fail their invocation before
//! its deadline instead of timing out, and the next delivery finishes.
//!
//! Each test prints its table (`cargo test --test it deadlines -- --nocapture`).

use std::time::{Duration, Instant};

use crate::support::cloudinary_stand_in::{Behaviour, StandIn};
use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::security::{
    Endpoint, check_error_response, raw_parts, signed_webhook_event, table_snapshot,
    upload_notification,
};
use crate::support::*;
use crate::support::{calls, tagging};
use album_api::App;
use album_api::album::Album;
use album_api::auth;
use album_api::handlers::{duplicate_album, duplication_worker, scheduled_duplicate};
use album_api::store::Store;
use album_api::store::jobs::{Job, JobStatus};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// Images of the album every request reads or copies.
const IMAGES: u64 = 300;
/// An album the delete and the webhook write into.
const SCRATCH: &str = "scratch-album";
/// An album the rename moves, and its images.
const RENAMED: &str = "rename-me";
/// An album of three images: the first deleted before the trouble (the
/// restore brings it back), the second deleted by the bulk delete.
const TRASHED: &str = "trash-album";
/// Where the image move takes the scratch album's second image.
const MOVED_TO: &str = "moved-to";
const RENAMED_IMAGES: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trouble {
    /// Every call answered `ThrottlingException` / `ProvisionedThroughputExceededException`.
    Brownout,
    /// Every call hangs: no answer, nothing forwarded.
    Blackhole,
    /// Every call answered 500 `InternalServerError`.
    ServerErrors,
}

impl Trouble {
    fn name(self) -> &'static str {
        match self {
            Trouble::Brownout => "brownout",
            Trouble::Blackhole => "blackhole",
            Trouble::ServerErrors => "500 storm",
        }
    }

    fn config(self) -> FaultConfig {
        let mut cfg = FaultConfig::none();
        match self {
            Trouble::Brownout => cfg.throttle_rate = 1.0,
            Trouble::Blackhole => cfg.hang_rate = 1.0,
            Trouble::ServerErrors => cfg.server_error_rate = 1.0,
        }
        cfg
    }
}

/// The whole budget of an endpoint's route.
fn route_budget(app: &App, e: Endpoint) -> Duration {
    match e {
        Endpoint::Duplicate
        | Endpoint::UpdateAlbum
        | Endpoint::DeleteImages
        | Endpoint::MoveImages => app.budgets().duplicate(),
        Endpoint::CreateAlbum
        | Endpoint::DeleteImage
        | Endpoint::Webhook
        | Endpoint::CreateTag
        | Endpoint::TagImages
        | Endpoint::DeleteTagImage
        | Endpoint::UpdateImage
        | Endpoint::RestoreTrashedImage
        | Endpoint::DuplicateImage
        | Endpoint::CreateImport => app.budgets().write,
        Endpoint::GetAlbum
        | Endpoint::ListAlbums
        | Endpoint::ListImages
        | Endpoint::GetDuplication
        | Endpoint::ListTags
        | Endpoint::ListTagImages
        | Endpoint::GetUsage
        | Endpoint::GetImage
        | Endpoint::ListTrashedImages
        | Endpoint::QueryTagImages
        | Endpoint::EmbedImage
        | Endpoint::GetImport => app.budgets().read,
    }
}

/// The status each endpoint answers when DynamoDB is healthy.
fn healthy_status(e: Endpoint) -> u16 {
    match e {
        Endpoint::Webhook => 201,
        Endpoint::DeleteImage | Endpoint::DeleteTagImage => 204,
        Endpoint::EmbedImage => 302,
        _ => 200,
    }
}

/// A table with the seed's album of [`IMAGES`] images, a scratch album with
/// a few, a job; an app that reaches DynamoDB through the fault proxy; and
/// one ready request per HTTP function.
struct Fixture {
    env: TestEnv,
    proxy: FaultProxy,
    direct: Store,
    requests: Vec<(Endpoint, Value)>,
}

async fn fixture(tag: &str) -> Fixture {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint(tag, &proxy.endpoint()).await;
    // Imports ask a local Cloudinary stand-in, never the internet.
    let stand_in = StandIn::start(env.app.clone(), Behaviour::default()).await;
    env.app.config.cloudinary_api_url = stand_in.url();
    let direct = env.direct_store().await;
    seed_album(&direct, SOURCE, ORG, IMAGES).await;
    let scratch = seed_album(&direct, SCRATCH, ORG, 3).await;
    let job = Job {
        status: JobStatus::Done,
        images_copied: IMAGES,
        slices: 1,
        ..Job::running(
            format!("job-{tag}"),
            album_api::store::jobs::JobKind::Duplicate,
            SOURCE,
            "done-copy",
            ORG,
            USER,
            IMAGES,
        )
    };
    direct
        .create_job_if_absent(&job, false, "2026-11-28T00:00:00.000Z")
        .await
        .unwrap();
    let token = bearer(&env.token(USER, None));
    let now = album_api::service::now();
    let notification = auth::issue_notification_token(
        USER,
        SCRATCH,
        ORG,
        &crate::support::security::notification_key(),
        now,
        3600,
    )
    .unwrap();
    let (_, upload) = upload_notification(SCRATCH, 1, now);
    // A tag on the scratch album's third image (the one the tag-image delete removes).
    seed_album(&direct, RENAMED, ORG, RENAMED_IMAGES).await;
    let raw_token = env.token(USER, None);
    let tag_json = tagging::create_tag(&env.app, &raw_token, "deadline").await;
    let tag_id = tag_json["id"].as_str().unwrap().to_string();
    let tagged = tagging::tag_images(&env.app, &raw_token, &tag_id, &[&scratch[2].id]).await;
    let tag_image = tagged[0]["id"].as_str().unwrap().to_string();
    let trashed = seed_album(&direct, TRASHED, ORG, 3).await;
    let delete = Endpoint::DeleteImage.event(Some(&token), Some(&trashed[0].id));
    let resp = Endpoint::DeleteImage
        .call(&env.app, request(&delete))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let import = album_api::store::imports::Import {
        id: format!("import-{tag}"),
        organization_id: ORG.into(),
        album_id: SCRATCH.into(),
        params: serde_json::json!({"url": "https://example.org/a.jpg"}),
        status: album_api::store::imports::ImportStatus::Uploading,
        image_id: None,
        error: None,
        created_at: "2026-12-03T00:00:00.000Z".into(),
        updated_at: "2026-12-03T00:00:00.000Z".into(),
    };
    direct.create_import(&import, 1_800_000_000).await.unwrap();
    let requests = Endpoint::ALL
        .iter()
        .map(|&e| {
            let ev = match e {
                Endpoint::Duplicate => duplicate_event(
                    "duplicate-album.json",
                    Some(&token),
                    SOURCE,
                    Some(&format!("destination_id=copy-{tag}")),
                ),
                Endpoint::Webhook => signed_webhook_event(Some(&notification), &upload),
                Endpoint::GetAlbum | Endpoint::ListImages => e.event(Some(&token), Some(SOURCE)),
                Endpoint::DeleteImage => e.event(Some(&token), Some(&scratch[0].id)),
                Endpoint::GetDuplication => e.event(Some(&token), Some(&job.id)),
                Endpoint::CreateAlbum | Endpoint::ListAlbums | Endpoint::ListTags => {
                    e.event(Some(&token), None)
                }
                Endpoint::CreateTag => calls::api_event(
                    e,
                    Some(&token),
                    None,
                    &[],
                    Some(&calls::Payload::form(&[("name", &format!("new-{tag}"))])),
                    calls::Format::Http,
                ),
                Endpoint::TagImages => tagging::tag_images_event(
                    Some(&token),
                    &tag_id,
                    &tagging::image_ids_form(&[&scratch[1].id]),
                    calls::Format::Http,
                ),
                Endpoint::ListTagImages => e.event(Some(&token), Some(&tag_id)),
                Endpoint::DeleteTagImage => e.event(Some(&token), Some(&tag_image)),
                Endpoint::UpdateAlbum => tagging::update_album_event(
                    Some(&token),
                    RENAMED,
                    &tagging::move_body(&format!("renamed-{tag}"), None, false),
                    calls::Format::Http,
                ),
                Endpoint::GetUsage => e.event(Some(&token), None),
                Endpoint::GetImage => e.event(Some(&token), Some(&scratch[1].id)),
                Endpoint::ListTrashedImages => e.event(Some(&token), None),
                Endpoint::GetImport => e.event(Some(&token), Some(&import.id)),
                Endpoint::CreateImport => calls::api_event(
                    e,
                    Some(&token),
                    None,
                    &[],
                    Some(&calls::Payload::form(&[
                        ("album_id", "imported-album"),
                        ("url", "https://example.org/deadline.jpg"),
                    ])),
                    calls::Format::Http,
                ),
                Endpoint::DuplicateImage => e.event(Some(&token), Some(&trashed[2].id)),
                Endpoint::MoveImages => calls::api_event(
                    e,
                    Some(&token),
                    None,
                    &[],
                    Some(&calls::Payload::form(&[(
                        &format!("move_operations[{}]", scratch[1].id),
                        MOVED_TO,
                    )])),
                    calls::Format::Http,
                ),
                Endpoint::QueryTagImages => calls::api_event(
                    e,
                    Some(&token),
                    None,
                    &[("image_ids[]", &scratch[2].id)],
                    None,
                    calls::Format::Http,
                ),
                Endpoint::RestoreTrashedImage => e.event(Some(&token), Some(&trashed[0].id)),
                Endpoint::DeleteImages => calls::api_event(
                    e,
                    Some(&token),
                    None,
                    &[],
                    Some(&calls::Payload::form(&[("image_ids[]", &trashed[1].id)])),
                    calls::Format::Http,
                ),
                // The token in the query string, as an embeddable URL has it.
                Endpoint::EmbedImage => crate::support::security::embed_event(
                    Some(&raw_token),
                    &scratch[1].id,
                    &[("width", "200"), ("crop", "fit")],
                ),
                Endpoint::UpdateImage => calls::api_event(
                    e,
                    Some(&token),
                    Some(&scratch[1].id),
                    &[],
                    Some(&calls::Payload::form(&[("title", "A title")])),
                    calls::Format::Http,
                ),
            };
            (e, ev)
        })
        .collect();
    Fixture {
        env,
        proxy,
        direct,
        requests,
    }
}

/// Asserts an album's `images_count` equals its image items, and returns it.
async fn exact_count(direct: &Store, album: &str) -> u64 {
    let items = direct
        .count_images(&crate::support::key(album))
        .await
        .unwrap();
    let count = direct
        .get_album(&crate::support::key(album))
        .await
        .unwrap()
        .unwrap()
        .images_count;
    assert_eq!(count, items, "images_count of {album} against its items");
    items
}

/// Calls every HTTP function at once under `trouble`, then again after it.
async fn every_function_under(trouble: Trouble) {
    let tag = trouble.name().replace(' ', "");
    let fx = fixture(&tag).await;
    let before = table_snapshot(&fx.direct).await;
    fx.proxy.set_config(trouble.config());

    let mut calls = tokio::task::JoinSet::new();
    for (endpoint, ev) in fx.requests.clone() {
        let app = fx.env.app.clone();
        calls.spawn(async move {
            let started = Instant::now();
            let resp = endpoint.call(&app, request(&ev)).await.unwrap();
            (endpoint, started.elapsed(), raw_parts(resp))
        });
    }
    let mut rows = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (endpoint, took, (status, headers, text)) = done.unwrap();
        let what = format!("{} under {}", endpoint.event_file(), trouble.name());
        assert_eq!(status, 503, "{what}: {text}");
        check_error_response(status, &headers, &text).unwrap_or_else(|e| panic!("{what}: {e}"));
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no Retry-After"));
        assert!(
            retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
            "{what}: Retry-After {retry_after}"
        );
        let budget = route_budget(&fx.env.app, endpoint);
        assert!(
            took <= budget + Duration::from_secs(1),
            "{what}: answered after {took:?}, budget {budget:?}"
        );
        rows.push((endpoint, took, budget, retry_after.to_string()));
    }
    assert!(fx.proxy.stats().faults() >= 8, "{:?}", fx.proxy.stats());
    rows.sort_by_key(|r| r.0.event_file());
    for (endpoint, took, budget, retry_after) in &rows {
        eprintln!(
            "trouble={:<10} function={:<28} status=503 retry_after={retry_after} seconds={:.2} budget={}",
            trouble.name(),
            endpoint.event_file(),
            took.as_secs_f64(),
            budget.as_secs()
        );
    }
    // Every call was faulted, so nothing reached the table.
    assert_eq!(
        table_snapshot(&fx.direct).await,
        before,
        "written under {}",
        trouble.name()
    );

    // The fault stops: the same requests succeed, and every count is exact.
    fx.proxy.set_config(FaultConfig::none());
    for (endpoint, ev) in &fx.requests {
        let resp = endpoint.call(&fx.env.app, request(ev)).await.unwrap();
        let (status, _, text) = raw_parts(resp);
        assert_eq!(
            status,
            healthy_status(*endpoint),
            "{} after {}: {text}",
            endpoint.event_file(),
            trouble.name()
        );
    }
    assert_eq!(exact_count(&fx.direct, SOURCE).await, IMAGES);
    assert_eq!(
        exact_count(&fx.direct, &format!("copy-{tag}")).await,
        IMAGES
    );
    // Three seeded, one deleted, one uploaded, one moved away.
    assert_eq!(exact_count(&fx.direct, SCRATCH).await, 2);
    // Three seeded, one deleted before and restored, one deleted in bulk,
    // one duplicated into it.
    assert_eq!(exact_count(&fx.direct, TRASHED).await, 3);
    assert_eq!(exact_count(&fx.direct, MOVED_TO).await, 1);
    // Renamed: every image under the new id, the old album gone.
    assert_eq!(
        exact_count(&fx.direct, &format!("renamed-{tag}")).await,
        RENAMED_IMAGES
    );
    assert!(
        fx.direct
            .get_album(&crate::support::key(RENAMED))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        fx.direct
            .count_images(&crate::support::key(RENAMED))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_a_brownout_every_function_answers_503_with_retry_after_in_its_budget() {
    every_function_under(Trouble::Brownout).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_every_call_hangs_every_function_answers_503_with_retry_after_in_its_budget() {
    every_function_under(Trouble::Blackhole).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_a_500_storm_every_function_answers_503_with_retry_after_in_its_budget() {
    every_function_under(Trouble::ServerErrors).await;
}

/// Starts `trouble` on the operations `ops` (all when empty) once the copy
/// has sent `after` batches.
fn trouble_after_batches(proxy: &FaultProxy, trouble: Trouble, ops: &[&str], after: u64) {
    let cfg = trouble.config().only(ops.iter().copied());
    let watch = proxy.stats_handle();
    tokio::spawn(async move {
        let started = Instant::now();
        while watch.stats().batch_write < after && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        watch.set_config(cfg);
    });
}

/// An app that copies in small pages, two batches at a time (so trouble
/// can start part-way through a 300-image copy), and a duplicate request
/// into `destination`.
fn slow_copy(fx: &Fixture, destination: &str) -> (App, Value) {
    let mut app = fx.env.app.clone();
    app.copy.page_limit = Some(50);
    app.copy.concurrency = 2;
    // An 8 s inline copy instead of 20: the trouble starts after three
    // batches, and a black hole then waits out the budget.
    set_sync_copy_budget(&mut app, Duration::from_secs(8));
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&fx.env.token(USER, None))),
        SOURCE,
        Some(&format!("destination_id={destination}")),
    );
    (app, ev)
}

/// A duplicate whose batches start failing part-way saves what it copied as
/// a job (202, `Retry-After`, `Location`), inside its budget; the worker
/// finishes it exactly once the trouble ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_stopped_part_way_answers_202_with_its_job_and_the_job_finishes_exactly() {
    let fx = fixture("midcopy202").await;
    let (app, ev) = slow_copy(&fx, "partial-202");
    for trouble in [Trouble::Brownout, Trouble::Blackhole] {
        fx.proxy.set_config(FaultConfig::none());
        fx.proxy.reset_stats();
        trouble_after_batches(&fx.proxy, trouble, &["BatchWriteItem"], 3);
        let started = Instant::now();
        let (status, headers, body) =
            parts(duplicate_album::handle(&app, request(&ev)).await.unwrap());
        let took = started.elapsed();
        assert_eq!(status, 202, "{}: {body}", trouble.name());
        assert!(
            took <= app.budgets().duplicate() + Duration::from_secs(1),
            "{took:?}"
        );
        assert!(headers.contains_key("retry-after") && headers.contains_key("location"));
        let copied = body["images_copied"].as_u64().unwrap();
        assert!(copied > 0 && copied < IMAGES, "{}: {body}", trouble.name());
        eprintln!(
            "trouble={:<10} function=duplicate (batches fail after 3) status=202 copied={copied} seconds={:.2}",
            trouble.name(),
            took.as_secs_f64()
        );

        // The trouble ends; the worker runs the job to the end.
        fx.proxy.set_config(FaultConfig::none());
        run_job_to_done(&app, body["job_id"].as_str().unwrap(), 5).await;
        assert_eq!(exact_count(&fx.direct, "partial-202").await, IMAGES);
    }
}

/// When the trouble also keeps the job from being saved, the duplicate
/// answers 503 in its budget; the client's retry then finishes exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_stopped_part_way_with_no_job_saved_answers_503_and_the_retry_is_exact() {
    let fx = fixture("midcopy503").await;
    let (app, ev) = slow_copy(&fx, "partial-503");
    for trouble in [Trouble::Brownout, Trouble::Blackhole, Trouble::ServerErrors] {
        fx.proxy.set_config(FaultConfig::none());
        fx.proxy.reset_stats();
        trouble_after_batches(&fx.proxy, trouble, &[], 3);
        let started = Instant::now();
        let resp = duplicate_album::handle(&app, request(&ev)).await.unwrap();
        let took = started.elapsed();
        let (status, headers, text) = raw_parts(resp);
        assert_eq!(status, 503, "{}: {text}", trouble.name());
        check_error_response(status, &headers, &text).unwrap();
        assert!(headers.contains_key("retry-after"));
        assert!(
            took <= app.budgets().duplicate() + Duration::from_secs(1),
            "{took:?}"
        );
        let partial = fx
            .direct
            .count_images(&crate::support::key("partial-503"))
            .await
            .unwrap();
        eprintln!(
            "trouble={:<10} function=duplicate (all calls fail after 3 batches) status=503 partial={partial} seconds={:.2}",
            trouble.name(),
            took.as_secs_f64()
        );
        fx.proxy.set_config(FaultConfig::none());
        let (status, _, body) = parts(duplicate_album::handle(&app, request(&ev)).await.unwrap());
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["images_count"], IMAGES);
        assert_eq!(exact_count(&fx.direct, "partial-503").await, IMAGES);
    }
}

/// The scheduled duplication and the stream worker fail their invocation
/// before its deadline (at least half a second before Lambda would stop it) under every trouble (so Lambda's retries and
/// the dead-letter queue take over), and the next delivery finishes exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_functions_fail_before_their_deadline_and_the_next_delivery_finishes() {
    let fx = fixture("events").await;
    // Longer than any one call's budget, so a call's own budget ends it
    // first; the invocation's deadline (less its margin) is the backstop.
    let invocation = fx.env.app.budgets().write + Duration::from_secs(5);
    // A job the worker is handed: a copy into "worker-copy", not started.
    let dest = Album {
        id: "worker-copy".into(),
        organization_id: ORG.into(),
        images_count: 0,
        views_count: 0,
        created_at: "2026-11-28T00:00:00.000Z".into(),
        shards: 1,
    };
    fx.direct.create_album_if_absent(&dest).await.unwrap();
    let job = Job {
        slices: 1,
        ..Job::running(
            "job-worker",
            album_api::store::jobs::JobKind::Duplicate,
            SOURCE,
            dest.id.clone(),
            ORG,
            USER,
            IMAGES,
        )
    };
    fx.direct
        .create_job_if_absent(&job, true, "2026-11-28T00:00:00.000Z")
        .await
        .unwrap();
    let stream = json!({"Records": [{
        "eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
        "dynamodb": {"SequenceNumber": "100", "NewImage": {
            "pk": {"S": "J#job-worker"}, "sk": {"S": "J"},
            "status": {"S": "running"}, "handoff": {"N": "1"}
        }}
    }]});
    let mut scheduled = event("scheduled-duplicate.json");
    scheduled["source_album_id"] = json!(SOURCE);
    scheduled["destination_id"] = json!("scheduled-copy");
    scheduled["organization_id"] = json!(ORG);

    for trouble in [Trouble::Brownout, Trouble::Blackhole, Trouble::ServerErrors] {
        fx.proxy.set_config(trouble.config());
        for (name, payload) in [("scheduled", &scheduled), ("worker", &stream)] {
            let started = Instant::now();
            let ctx = lambda_context(&format!("{name}-{}", trouble.name()), invocation);
            let out = if name == "scheduled" {
                scheduled_duplicate::handle(&fx.env.app, LambdaEvent::new(payload.clone(), ctx))
                    .await
            } else {
                duplication_worker::handle(&fx.env.app, LambdaEvent::new(payload.clone(), ctx))
                    .await
            };
            let took = started.elapsed();
            // The worker reports its record failed (the stream delivers it
            // again); the scheduled run fails its invocation.
            let failed = match &out {
                Ok(v) => v["batchItemFailures"] == json!([{"itemIdentifier": "100"}]),
                Err(_) => name == "scheduled",
            };
            assert!(failed, "{name} under {}: {out:?}", trouble.name());
            assert!(
                took + Duration::from_millis(500) < invocation,
                "{name} under {}: {took:?}",
                trouble.name()
            );
            eprintln!(
                "trouble={:<10} function={name:<9} invocation failed after {:.2}s of {}s",
                trouble.name(),
                took.as_secs_f64(),
                invocation.as_secs()
            );
        }
    }
    fx.proxy.set_config(FaultConfig::none());
    let out = scheduled_duplicate::handle(
        &fx.env.app,
        LambdaEvent::new(
            scheduled.clone(),
            lambda_context("scheduled-after", invocation),
        ),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], "done", "{out}");
    let out = duplication_worker::handle(
        &fx.env.app,
        LambdaEvent::new(stream.clone(), lambda_context("worker-after", invocation)),
    )
    .await
    .unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    assert_eq!(exact_count(&fx.direct, "scheduled-copy").await, IMAGES);
    assert_eq!(exact_count(&fx.direct, "worker-copy").await, IMAGES);
}
