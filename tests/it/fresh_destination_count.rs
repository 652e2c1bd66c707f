//! A duplicate into a destination it creates settles `images_count` from its
//! own tally instead of reading the copy back (decision 0003), and only
//! when nobody else wrote into the new album meanwhile. A proxy in front of
//! the emulator counts the Query calls (the recount's reads) and slows the
//! copy's writes down, so that other writers can be let in while it runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::security::{signed_webhook_event, upload_notification};
use crate::support::*;
use album_api::auth;
use album_api::handlers::{cloudinary_notification, duplicate_album};
use album_api::service::{App, now};
use album_api::store::{RetryPolicy, Store};

/// Duplicates `SOURCE` into `destination` through the handler: status and body.
async fn duplicate(env: &TestEnv, destination: &str) -> (u16, serde_json::Value) {
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some(&format!("destination_id={destination}")),
    );
    let (status, _, body) = parts(
        duplicate_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    (status, body)
}

/// The album's stored count and the image items it really holds.
async fn stored(env: &TestEnv, album: &str) -> (u64, u64) {
    let direct = env.direct_store().await;
    let count = direct
        .get_album(&crate::support::key(album))
        .await
        .unwrap()
        .unwrap()
        .images_count;
    (
        count,
        direct
            .count_images(&crate::support::key(album))
            .await
            .unwrap(),
    )
}

/// A proxy that holds every BatchWriteItem for 40 ms: a 1,000-image copy
/// through it takes long enough for other writers to come in meanwhile.
async fn slow_writes() -> FaultProxy {
    FaultProxy::start(
        &emulator_endpoint(),
        FaultConfig {
            delay_rate: 1.0,
            // Long enough (at least 5 rounds of it for 1,000 images) that
            // another request's few calls end first on a loaded emulator.
            delay: Duration::from_millis(200),
            operations: vec!["BatchWriteItem".into()],
            ..FaultConfig::default()
        },
    )
    .await
}

/// Starts duplicating `SOURCE` into `destination` in the background and
/// returns once its first write has reached the proxy: the destination
/// exists then, and the copy is running.
async fn copy_in_background(
    env: &Arc<TestEnv>,
    proxy: &FaultProxy,
    destination: &'static str,
) -> JoinHandle<(u16, serde_json::Value)> {
    let copy = tokio::spawn({
        let env = env.clone();
        async move { duplicate(&env, destination).await }
    });
    // Up to 30 s: moto, loaded by the other suite, has taken more than
    // 2.5 s to reach a copy's first write.
    for _ in 0..6000 {
        if proxy.stats().calls("BatchWriteItem") > 0 || copy.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        proxy.stats().calls("BatchWriteItem") > 0,
        "the copy never started"
    );
    copy
}

#[tokio::test]
async fn a_new_destination_takes_its_count_from_the_copy_without_reading_it_back() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let env = TestEnv::with_endpoint("fresh-count", &proxy.endpoint()).await;
    // 3,000 seed-sized images: the source spans several 1 MB Query pages.
    seed_album(&env.direct_store().await, SOURCE, ORG, 3000).await;

    proxy.reset_stats();
    let (status, body) = duplicate(&env, "fresh_copy").await;
    assert_eq!((status, body["images_count"].clone()), (200, 3000.into()));
    let fresh_queries = proxy.stats().calls("Query");
    assert!(
        fresh_queries >= 2,
        "the source is read in pages: {fresh_queries}"
    );
    assert_eq!(stored(&env, "fresh_copy").await, (3000, 3000));

    // The same duplicate again: the destination exists now, so the copy
    // cannot know what was there before and recounts (more Query pages).
    proxy.reset_stats();
    let (status, body) = duplicate(&env, "fresh_copy").await;
    assert_eq!((status, body["images_count"].clone()), (200, 3000.into()));
    let repeat_queries = proxy.stats().calls("Query");
    assert!(
        repeat_queries > fresh_queries,
        "a repeat recounts ({repeat_queries} Query calls), the first copy did not ({fresh_queries})"
    );
    assert_eq!(stored(&env, "fresh_copy").await, (3000, 3000));
}

#[tokio::test]
async fn an_upload_into_the_new_destination_during_its_copy_makes_the_copy_recount() {
    let proxy = slow_writes().await;
    let env = Arc::new(TestEnv::with_endpoint("fresh-race", &proxy.endpoint()).await);
    seed_album(&env.direct_store().await, SOURCE, ORG, 1000).await;

    // Once the copy writes, the album exists: an upload lands in it.
    let copy = copy_in_background(&env, &proxy, "raced_copy").await;
    let t = now();
    let token = auth::issue_notification_token(
        USER,
        "raced_copy",
        ORG,
        &crate::support::security::notification_key(),
        t,
        3600,
    )
    .unwrap();
    let (_, body) = upload_notification("raced_copy", 1, t - 5);
    let ev = signed_webhook_event(Some(&token), &body);
    let (status, _, answer) = parts(
        cloudinary_notification::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 201, "{answer}");
    assert!(
        !copy.is_finished(),
        "the upload must land while the copy runs"
    );

    let (status, body) = copy.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["images_count"], 1001,
        "the copy's 1,000 and the upload"
    );
    assert_eq!(stored(&env, "raced_copy").await, (1001, 1001));
}

/// A second duplicate into the new album that dies half-way (its retries
/// run out: 503) never gets to its own recount; its partial writes must
/// still be counted. It announced itself (bumped `seq`) before writing, so
/// the first copy cannot settle from its own tally and recounts.
#[tokio::test]
async fn a_second_duplicate_failing_half_way_into_the_new_destination_is_still_counted() {
    // The first duplicate's writes are slow...
    let slow = slow_writes().await;
    // ...the second's are cut short: only part of each batch is processed.
    let failing = FaultProxy::start(
        &emulator_endpoint(),
        FaultConfig {
            unprocessed_rate: 1.0,
            operations: vec!["BatchWriteItem".into()],
            seed: 5,
            ..FaultConfig::default()
        },
    )
    .await;
    let env = Arc::new(TestEnv::with_endpoint("fresh-partial", &slow.endpoint()).await);
    let mut second = App::new(
        config(&env.table),
        Store::new(client_for(&failing.endpoint()).await, &env.table).with_retry_policy(
            RetryPolicy {
                max_attempts: 3,
                base: Duration::from_millis(2),
                cap: Duration::from_millis(20),
            },
        ),
    );
    second.copy.concurrency = 1;
    let direct = env.direct_store().await;
    seed_album(&direct, SOURCE, ORG, 1000).await;
    seed_album(&direct, "second_source", ORG, 300).await;

    let first = copy_in_background(&env, &slow, "shared_copy").await;
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        "second_source",
        Some("destination_id=shared_copy"),
    );
    let (status, _, body) = parts(
        duplicate_album::handle(&second, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 503, "the second duplicate fails: {body}");
    assert!(
        !first.is_finished(),
        "the second must fail while the first copies"
    );
    let (status, body) = first.await.unwrap();
    assert_eq!(status, 200, "{body}");

    let (count, items) = stored(&env, "shared_copy").await;
    assert!(
        items > 1000 && items < 1300,
        "the second copy wrote part of its 300 images: {items}"
    );
    assert_eq!(body["images_count"], items, "the answer counts them");
    assert_eq!(count, items, "and so does the album");
}
