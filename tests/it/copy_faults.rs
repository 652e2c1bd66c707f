//! The copy under faults DynamoDB produces and the emulator cannot:
//! `UnprocessedItems` and throttling, injected by a proxy in front of it.

use std::time::Duration;

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::*;
use album_api::handlers::duplicate_album::handle;
use album_api::store::RetryPolicy;

async fn seed(env: &TestEnv, n: u64) {
    seed_album(&env.direct_store().await, SOURCE, ORG, n).await;
}

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(40),
    }
}

#[tokio::test]
async fn a_3000_image_copy_ends_exact_through_unprocessed_items_and_throttling() {
    let proxy = FaultProxy::start(
        &emulator_endpoint(),
        FaultConfig {
            unprocessed_rate: 0.3,
            throttle_rate: 0.15,
            operations: vec!["BatchWriteItem".into()],
            seed: 7,
            ..FaultConfig::default()
        },
    )
    .await;
    let mut env = TestEnv::with_endpoint("faults", &proxy.endpoint()).await;
    env.app.store = env.app.store.clone().with_retry_policy(quick_retries(30));
    seed(&env, 3000).await;

    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some("destination_id=faulty"),
    );
    let (status, _, body) = parts(handle(&env.app, request(&ev)).await.unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 3000);

    let stats = proxy.stats();
    assert!(stats.unprocessed_calls > 10, "{stats:?}");
    assert!(stats.items_deferred > 100, "{stats:?}");
    assert!(stats.throttled > 5, "{stats:?}");

    let direct = env.direct_store().await;
    assert_eq!(
        direct
            .count_images(&crate::support::key("faulty"))
            .await
            .unwrap(),
        3000
    );
    assert_eq!(
        direct
            .get_album(&crate::support::key("faulty"))
            .await
            .unwrap()
            .unwrap()
            .images_count,
        3000
    );
}

#[tokio::test]
async fn exhausted_retries_fail_clearly_and_the_next_run_completes_exactly() {
    let proxy = FaultProxy::start(
        &emulator_endpoint(),
        FaultConfig {
            unprocessed_rate: 1.0,
            operations: vec!["BatchWriteItem".into()],
            seed: 11,
            ..FaultConfig::default()
        },
    )
    .await;
    let mut env = TestEnv::with_endpoint("exhaust", &proxy.endpoint()).await;
    env.app.store = env.app.store.clone().with_retry_policy(quick_retries(3));
    seed(&env, 500).await;
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some("destination_id=partial"),
    );

    let (status, _, body) = parts(handle(&env.app, request(&ev)).await.unwrap());
    assert_eq!(status, 503, "never a silent partial success: {body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let direct = env.direct_store().await;
    let partial = direct
        .count_images(&crate::support::key("partial"))
        .await
        .unwrap();
    assert!(partial < 500, "the failed run was partial ({partial})");

    proxy.set_config(FaultConfig::none());
    let (status, _, body) = parts(handle(&env.app, request(&ev)).await.unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 500);
    assert_eq!(
        direct
            .count_images(&crate::support::key("partial"))
            .await
            .unwrap(),
        500
    );
}
