//! Quotas per organization (decision 0015): each answered before any
//! write, exact under a race for the last slot, a job stopped mid-way and
//! resumed, the doubling attack stopped at the album's limit. Tiny limits,
//! tiny albums: these tests take seconds.

use std::time::Duration;

use crate::support::*;
use album_api::handlers::duplicate_album;
use album_api::quota::{LimitBook, Limits, Overrides};
use album_api::store::Store;
use serde_json::{Value, json};

/// `env`'s app with `limits` as the deployment's quotas, overrides read
/// afresh at every request (no cache), so a test sees its own changes.
fn with_limits(env: &mut TestEnv, limits: Limits) {
    env.app.quotas = LimitBook::new(limits, Duration::ZERO);
}

const TINY: Limits = Limits {
    images_per_album: 20,
    images_copied_per_day: 1_000,
    jobs_at_once: 5,
};

/// Duplicates `source` into `destination` through the handler, as the
/// seed's user.
async fn duplicate(env: &TestEnv, source: &str, destination: &str) -> (u16, Value, Option<String>) {
    let token = env.token(USER, Some(json!({})));
    let body = format!("destination_id={destination}");
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&token)),
        source,
        Some(&body),
    );
    let resp = duplicate_album::handle(&env.app, request(&ev))
        .await
        .unwrap();
    let (status, headers, body) = parts(resp);
    let retry = headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, body, retry)
}

/// Every item of the table but the quota and usage items (`sk` `Q…`):
/// what a refused request must not have changed.
async fn data_items(store: &Store) -> usize {
    store
        .client()
        .scan()
        .table_name(store.table())
        .send()
        .await
        .expect("Scan")
        .items()
        .iter()
        .filter(|i| !i["sk"].as_s().is_ok_and(|s| s.starts_with('Q')))
        .count()
}

fn assert_quota(status: u16, body: &Value, expected_status: u16, quota: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    assert_eq!(body["error"]["quota"], quota, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(quota),
        "the message names the quota: {body}"
    );
}

#[tokio::test]
async fn each_quota_is_answered_before_any_write() {
    let mut env = TestEnv::new("q-refuse").await;
    with_limits(&mut env, TINY);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 15).await;
    seed_album(&store, "holds10", ORG, 10).await;
    // A job of the organization runs (it holds a slot).
    let held = album_api::store::jobs::Job::running(
        "held",
        album_api::store::jobs::JobKind::Duplicate,
        "holds10",
        "elsewhere",
        ORG,
        USER,
        10,
    );
    store
        .create_job_if_absent(&held, false, "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    assert!(store.take_slot(ORG, "held", 1).await.unwrap());
    let before = data_items(&store).await;

    // Size: 10 + 15 > 20 images per album.
    let (status, body, retry) = duplicate(&env, SOURCE, "holds10").await;
    assert_quota(status, &body, 422, "images_per_album");
    assert_eq!(retry, None, "a size quota has no Retry-After");

    // Rate: 15 images copied > 10 per day; the new album is not created.
    store
        .set_quota_overrides(
            ORG,
            &Overrides {
                images_copied_per_day: Some(10),
                ..Overrides::default()
            },
        )
        .await
        .unwrap();
    let (status, body, retry) = duplicate(&env, SOURCE, "fresh").await;
    assert_quota(status, &body, 429, "images_copied_per_day");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!(
        (1..=86_400).contains(&retry),
        "until the next UTC day: {retry}"
    );

    // Rate: the organization's only running slot is the running job's.
    store
        .set_quota_overrides(
            ORG,
            &Overrides {
                images_copied_per_day: Some(1_000),
                jobs_at_once: Some(1),
                ..Overrides::default()
            },
        )
        .await
        .unwrap();
    let (status, body, retry) = duplicate(&env, SOURCE, "fresh").await;
    assert_quota(status, &body, 429, "jobs_at_once");
    assert!(retry.is_some(), "Retry-After");

    assert_eq!(
        data_items(&store).await,
        before,
        "no refused request wrote anything"
    );
    assert!(store.get_album(&key("fresh")).await.unwrap().is_none());
    assert_album_exact(&store, "holds10", 10, "refused merge").await;
    let usage = store.quota_usage(ORG).await.unwrap();
    assert_eq!(
        usage.copied_on(&album_api::quota::utc_day(time::OffsetDateTime::now_utc())),
        0
    );
    assert_eq!(
        usage.running,
        vec!["held".to_string()],
        "no refused request holds a slot"
    );
}

#[tokio::test]
async fn two_duplicates_racing_for_the_last_images_of_the_day_exactly_one_passes() {
    let mut env = TestEnv::new("q-race").await;
    with_limits(
        &mut env,
        Limits {
            images_copied_per_day: 20,
            ..TINY
        },
    );
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 12).await;

    let (a, b) = tokio::join!(
        duplicate(&env, SOURCE, "left"),
        duplicate(&env, SOURCE, "right")
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 429], "{} {}", a.1, b.1);
    let (winner, loser) = if a.0 == 200 {
        ("left", "right")
    } else {
        ("right", "left")
    };
    assert_album_exact(&store, winner, 12, "the one that passed").await;
    assert!(
        store.get_album(&key(loser)).await.unwrap().is_none(),
        "the refused one wrote nothing"
    );
    let usage = store.quota_usage(ORG).await.unwrap();
    let today = album_api::quota::utc_day(time::OffsetDateTime::now_utc());
    assert_eq!(
        usage.copied_on(&today),
        12,
        "billed exactly what was copied"
    );
    assert!(
        usage.running.is_empty(),
        "both slots freed: {:?}",
        usage.running
    );
}

#[tokio::test]
async fn a_job_stopped_by_the_day_quota_mid_way_resumes_exactly_when_the_quota_is_raised() {
    let mut env = TestEnv::new("q-resume").await;
    with_limits(
        &mut env,
        Limits {
            images_copied_per_day: 100,
            ..TINY
        },
    );
    // No inline copy: the duplicate answers 202 at once with a job.
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 18).await;
    let today = album_api::quota::utc_day(time::OffsetDateTime::now_utc());

    let (status, body, _) = duplicate(&env, SOURCE, "copy").await;
    assert_eq!(status, 202, "{body}");
    let job_id = body["job_id"]
        .as_str()
        .or(body["id"].as_str())
        .expect("a job id")
        .to_string();

    // The operator lowers the day's quota before the worker runs.
    store
        .set_quota_overrides(
            ORG,
            &Overrides {
                images_copied_per_day: Some(7),
                ..Overrides::default()
            },
        )
        .await
        .unwrap();
    let deadline = std::time::SystemTime::now() + Duration::from_secs(60);
    let outcome = album_api::jobs::run_slice(&env.app, &job_id, deadline, "w-1")
        .await
        .unwrap();
    assert_eq!(outcome.status(), "failed");
    let job = store.get_job(&job_id).await.unwrap().unwrap();
    assert!(
        job.error
            .as_deref()
            .unwrap()
            .contains("images_copied_per_day"),
        "{:?}",
        job.error
    );
    assert_eq!(job.images_copied, 7);
    assert_album_exact(&store, "copy", 7, "stopped at the quota").await;
    let usage = store.quota_usage(ORG).await.unwrap();
    assert_eq!(usage.copied_on(&today), 7);
    assert!(usage.running.is_empty(), "the stopped job freed its slot");

    // The operator raises it (`albumctl quotas set`): the same request
    // resumes the same job, from where it stopped.
    let mut shown = Vec::new();
    let raise = albumctl::quotas::QuotasCommand::Set {
        org: ORG.into(),
        images_per_album: None,
        images_copied_per_day: Some(100),
        jobs_at_once: None,
    };
    albumctl::quotas::run(&store, raise, Limits::default(), &mut shown)
        .await
        .unwrap();
    let shown: Value = serde_json::from_slice(&shown).unwrap();
    assert_eq!(shown["limits"]["images_copied_per_day"], 100, "{shown}");
    assert_eq!(shown["usage"]["images_copied_today"], 7, "{shown}");
    let (status, body, _) = duplicate(&env, SOURCE, "copy").await;
    assert_eq!(status, 202, "{body}");
    let resumed = body["job_id"].as_str().or(body["id"].as_str()).unwrap();
    assert_eq!(resumed, job_id, "the same job resumes");
    run_job_to_done(&env.app, &job_id, 5).await;
    assert_album_exact(&store, "copy", 18, "resumed to the end").await;
    let usage = store.quota_usage(ORG).await.unwrap();
    assert_eq!(usage.copied_on(&today), 18, "no image billed twice");
    assert!(usage.running.is_empty(), "the finished job freed its slot");
}

#[tokio::test]
async fn the_doubling_attack_stops_at_the_album_quota_with_every_count_exact() {
    let mut env = TestEnv::new("q-double").await;
    with_limits(&mut env, TINY);
    let store = env.direct_store().await;
    seed_album(&store, "A", ORG, 3).await;
    // A → a new album, then that copy back into A: A doubles each round
    // (the copies back have new ids), until the quota says no.
    let mut a = 3u64;
    let mut billed = 0;
    let mut refused_at = None;
    for round in 0..10 {
        let copy = format!("T{round}");
        let (status, body, _) = duplicate(&env, "A", &copy).await;
        assert_eq!(status, 200, "round {round}: {body}");
        assert_eq!(body["images_count"], a);
        billed += a;
        let (status, body, _) = duplicate(&env, &copy, "A").await;
        if a + a > TINY.images_per_album {
            assert_quota(status, &body, 422, "images_per_album");
            refused_at = Some(a);
            break;
        }
        assert_eq!(status, 200, "round {round}: {body}");
        a += a;
        billed += a / 2;
        assert_eq!(body["images_count"], a);
    }
    // 3, 6, 12; then 12 + 12 > 20.
    assert_eq!(refused_at, Some(12), "stopped at the configured size");
    assert_album_exact(&store, "A", 12, "A").await;
    for (copy, n) in [("T0", 3), ("T1", 6), ("T2", 12)] {
        assert_album_exact(&store, copy, n, copy).await;
    }
    let usage = store.quota_usage(ORG).await.unwrap();
    let today = album_api::quota::utc_day(time::OffsetDateTime::now_utc());
    assert_eq!(usage.copied_on(&today), billed, "billed exactly the copies");
    assert_eq!(billed, 3 + 3 + 6 + 6 + 12);
}

#[tokio::test]
async fn a_merge_or_an_upload_past_the_album_quota_records_nothing() {
    use crate::support::calls::Format;
    use crate::support::security::{Endpoint, signed_webhook_event, upload_notification};
    use crate::support::tagging::{move_body, update_album_event};
    let mut env = TestEnv::new("q-grow").await;
    with_limits(&mut env, TINY);
    let store = env.direct_store().await;
    seed_album(&store, "full", ORG, 20).await;
    seed_album(&store, "five", ORG, 5).await;
    let before = data_items(&store).await;

    // A merge of 5 into an album of 20: 422 before the source is marked.
    let auth = bearer(&env.token(USER, Some(json!({}))));
    let ev = update_album_event(
        Some(&auth),
        "five",
        &move_body("full", Some("true"), false),
        Format::Http,
    );
    let (status, _, body) = parts(
        Endpoint::UpdateAlbum
            .call(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_quota(status, &body, 422, "images_per_album");

    // An upload into the full album: a 200 that records nothing (a
    // Cloudinary retry could never pass), naming the quota.
    let token = album_api::auth::issue_notification_token(
        USER,
        "full",
        ORG,
        &crate::support::security::notification_key(),
        album_api::service::now(),
        3600,
    )
    .unwrap();
    let (_, upload) = upload_notification("full", 1, album_api::service::now() - 30);
    let ev = signed_webhook_event(Some(&token), &upload);
    let (status, _, body) = parts(
        Endpoint::Webhook
            .call(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"]["quota"], "images_per_album", "{body}");

    assert_eq!(data_items(&store).await, before, "nothing written");
    assert_album_exact(&store, "full", 20, "full").await;
    assert_album_exact(&store, "five", 5, "five").await;
}

#[tokio::test]
async fn the_usage_route_shows_the_organizations_limits_and_use() {
    use crate::support::security::Endpoint;
    let mut env = TestEnv::new("q-usage").await;
    with_limits(&mut env, TINY);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 4).await;
    store
        .set_quota_overrides(
            ORG,
            &Overrides {
                jobs_at_once: Some(3),
                ..Overrides::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(duplicate(&env, SOURCE, "copied").await.0, 200);

    let auth = bearer(&env.token(USER, Some(json!({}))));
    let ev = Endpoint::GetUsage.event(Some(&auth), None);
    let (status, headers, body) = parts(
        Endpoint::GetUsage
            .call(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains_key("x-token"));
    let today = album_api::quota::utc_day(time::OffsetDateTime::now_utc());
    assert_eq!(
        body,
        json!({
            "organization_id": ORG,
            "day": today,
            "limits": {"images_per_album": 20, "images_copied_per_day": 1000, "jobs_at_once": 3},
            "images_copied_today": 4,
            "images_copied_left_today": 996,
            "jobs_running": 0,
        })
    );
    // Another organization sees its own, untouched usage.
    let other = bearer(&env.token(OTHER_USER, Some(json!({}))));
    let ev = Endpoint::GetUsage.event(Some(&other), None);
    let (status, _, body) = parts(
        Endpoint::GetUsage
            .call(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["organization_id"], OTHER_ORG);
    assert_eq!(body["images_copied_today"], 0);
    assert_eq!(body["limits"]["jobs_at_once"], 5);
}

#[tokio::test]
async fn two_copies_racing_for_the_last_job_slot_exactly_one_runs() {
    let mut env = TestEnv::new("q-slot").await;
    with_limits(
        &mut env,
        Limits {
            jobs_at_once: 1,
            ..TINY
        },
    );
    // No inline copy: each duplicate turns into a job at once.
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 6).await;

    let (a, b) = tokio::join!(
        duplicate(&env, SOURCE, "one"),
        duplicate(&env, SOURCE, "two")
    );
    let running: Vec<_> = [(&a, "one"), (&b, "two")]
        .into_iter()
        .filter(|(r, _)| r.0 == 202 && r.1["status"] == "running")
        .collect();
    assert_eq!(running.len(), 1, "exactly one runs: {} {}", a.1, b.1);
    let (winner, _) = running[0];
    let (loser, loser_dest) = if std::ptr::eq(winner, &a) {
        (&b, "two")
    } else {
        (&a, "one")
    };
    // The loser met the quota: refused at admission (429, nothing written)
    // or, past it, saved as a job stopped by the quota (202, failed).
    match loser.0 {
        429 => assert_quota(429, &loser.1, 429, "jobs_at_once"),
        202 => {
            assert_eq!(loser.1["status"], "failed", "{}", loser.1);
            assert!(
                loser.1["error"].to_string().contains("jobs_at_once"),
                "{}",
                loser.1
            );
        }
        other => panic!("the loser answered {other}: {}", loser.1),
    }
    let winner_id = winner.1["job_id"].as_str().unwrap();
    let usage = store.quota_usage(ORG).await.unwrap();
    assert_eq!(
        usage.running,
        vec![winner_id.to_string()],
        "exactly one slot taken"
    );

    // The winner ends and frees the slot; the loser's request, sent again,
    // runs (resuming its stopped job when it has one).
    run_job_to_done(&env.app, winner_id, 5).await;
    let (status, body, _) = duplicate(&env, SOURCE, loser_dest).await;
    assert_eq!(status, 202, "{body}");
    if loser.0 == 202 {
        assert_eq!(body["job_id"], loser.1["job_id"], "the same job resumes");
    }
    run_job_to_done(&env.app, body["job_id"].as_str().unwrap(), 5).await;
    assert_album_exact(&store, "one", 6, "one").await;
    assert_album_exact(&store, "two", 6, "two").await;
    assert!(store.quota_usage(ORG).await.unwrap().running.is_empty());
}
