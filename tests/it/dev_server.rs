//! `make dev` drives a 202's job as the stream does in AWS: a failed slice
//! is delivered again with backoff, up to the template's retry limit, so a
//! brownout delays the job instead of stranding it `running`.

use std::time::Duration;

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::stream::handed_off_job;
use crate::support::*;
use album_api::jobs::SliceOutcome;
use albumctl::dev::{Driven, drive_job};

fn storm() -> FaultConfig {
    let mut cfg = FaultConfig::none();
    cfg.server_error_rate = 1.0;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_server_delivers_a_failed_slice_again_until_the_job_is_done() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("devretry", &proxy.endpoint()).await;
    env.app.slice_items = Some(300);
    let job = handed_off_job(&env, SOURCE, "copy", 900).await;
    // DynamoDB answers nothing but 500s for the first deliveries.
    proxy.set_config(storm());
    let handle = proxy.stats_handle();
    let recover = tokio::spawn(async move {
        while handle.stats().server_errors < 6 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        handle.set_config(FaultConfig::none());
    });
    let driven = drive_job(&env.app, &job, 5, Duration::from_millis(50)).await;
    recover.await.unwrap();
    assert!(
        matches!(&driven, Driven::Ended(o) if matches!(**o, SliceOutcome::Done(_))),
        "{driven:?}"
    );
    assert!(proxy.stats().server_errors >= 6, "slices really failed");
    assert_album_exact(&env.direct_store().await, "copy", 900, "exact").await;
}

#[tokio::test]
async fn the_dev_server_gives_a_job_up_after_the_templates_retries_as_the_stream_does() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let env = TestEnv::with_endpoint("devgiveup", &proxy.endpoint()).await;
    let job = handed_off_job(&env, SOURCE, "copy", 30).await;
    proxy.set_config(storm());
    let retries = albumctl::template::stream_retry_attempts().unwrap();
    let driven = drive_job(&env.app, &job, retries, Duration::from_millis(10)).await;
    match driven {
        Driven::GivenUp { deliveries, .. } => assert_eq!(deliveries, retries + 1),
        other => panic!("{other:?}"),
    }
}
