//! Every kind of DynamoDB fault, one at a time, against a 3,000-image
//! duplicate through the real handler: `UnprocessedItems`, throttling, 500s,
//! connection resets and answers slower than the SDK's attempt timeout,
//! injected by the fault proxy in front of the local DynamoDB.
//!
//! Each run must end one of three ways: exact (200, `images_count` 3000, 3000
//! items); a clear failure (503 `unavailable`) after which the same request
//! with faults off ends exact; or a 202 whose job (the copy's progress,
//! saved when the faults stopped it part-way) the worker finishes exact. A 200 with a short count, or any
//! other answer, fails the test. Each kind runs several times with different
//! seeds: moderate runs fault every operation (GetItem, PutItem, Query,
//! UpdateItem, BatchWriteItem), and a last, harsh run with hardly any retries
//! faults the copy's writes so hard that it usually ends in a 503 with a
//! partial destination, which the re-run completes. Each test prints a
//! summary line (`cargo test --test it fault_kinds -- --nocapture`), e.g.
//! `fault=throttle runs=4 exact=4 first_try=3 after_503=1 after_202=0 injected=412`.

use std::time::{Duration, Instant};

use crate::support::fault_proxy::{FaultConfig, FaultProxy, FaultStats};
use crate::support::*;
use album_api::handlers::duplicate_album::handle;
use album_api::store::{RetryPolicy, Store, tuned};
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;

const IMAGES: u64 = 3000;

/// The album each run copies: [`IMAGES`] on dynalite; half on moto, whose
/// single-threaded server is what the whole moto suite waits on (1,500
/// items still span two of the copy's 1 MB query pages).
fn images() -> u64 {
    if emulator_is_moto() {
        IMAGES / 2
    } else {
        IMAGES
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unprocessed,
    Throttle,
    ServerError,
    Reset,
    Delay,
}

/// How hard one run is faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    /// Every operation faulted at a rate the retries are expected to absorb.
    Moderate,
    /// The copy's writes faulted hard, with two attempts per call: a 503 is
    /// the expected (not required) outcome.
    Harsh,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Unprocessed => "unprocessed_items",
            Kind::Throttle => "throttle",
            Kind::ServerError => "server_error_500",
            Kind::Reset => "connection_reset",
            Kind::Delay => "delay_past_sdk_timeout",
        }
    }

    fn config(self, severity: Severity, seed: u64) -> FaultConfig {
        let harsh = severity == Severity::Harsh;
        let rate = |moderate: f64, hard: f64| if harsh { hard } else { moderate };
        let mut cfg = FaultConfig {
            seed,
            ..FaultConfig::default()
        };
        match self {
            Kind::Unprocessed => cfg.unprocessed_rate = rate(0.4, 1.0),
            Kind::Throttle => cfg.throttle_rate = rate(0.12, 0.6),
            Kind::ServerError => cfg.server_error_rate = rate(0.12, 0.6),
            Kind::Reset => cfg.reset_rate = rate(0.08, 0.5),
            Kind::Delay => {
                cfg.delay_rate = rate(0.06, 0.5);
                cfg.delay = attempt_timeout() * 2;
            }
        }
        // Moderate runs fault every operation (UnprocessedItems only exist
        // for BatchWriteItem), the first call of each for sure (a request
        // makes only a dozen calls besides its batches); harsh runs fault
        // only the copy's writes, so that a failure leaves a partial
        // destination for the re-run to complete.
        if harsh {
            cfg = cfg.only(["BatchWriteItem"]);
        } else {
            cfg.first_of_each_op = true;
        }
        cfg
    }

    /// Faults of this kind the proxy injected.
    fn injected(self, stats: &FaultStats) -> u64 {
        match self {
            Kind::Unprocessed => stats.unprocessed_calls,
            Kind::Throttle => stats.throttled,
            Kind::ServerError => stats.server_errors,
            Kind::Reset => stats.resets,
            Kind::Delay => stats.delayed,
        }
    }
}

/// The SDK attempt timeout of the client used for the delay runs (production
/// has 10 s, far too long for a test); injected delays are twice as long.
/// moto answers a 25-item BatchWriteItem far more slowly than dynalite, so
/// it gets more room before an answer counts as lost.
fn attempt_timeout() -> Duration {
    if emulator_is_moto() {
        Duration::from_millis(2500)
    } else {
        Duration::from_millis(400)
    }
}

/// Runs per kind: moderate ones, then one harsh (one of each on moto,
/// whose server the whole moto suite waits on; dynalite runs the seeds).
fn runs() -> u64 {
    if emulator_is_moto() { 2 } else { 4 }
}

/// A client like production's ([`tuned`]: timeouts, the SDK's standard
/// retries) whose attempt timeout is `attempt` instead of 10 s.
async fn client_with_attempt_timeout(endpoint: &str, attempt: Duration) -> Client {
    let sdk = tuned(
        aws_config::defaults(aws_config::BehaviorVersion::latest()),
        &album_api::deadline::Budgets::from_env().expect("budgets"),
    )
    .region("us-east-1")
    .credentials_provider(Credentials::new("test", "test", None, None, "test"))
    .load()
    .await;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(attempt)
        .build();
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .timeout_config(timeouts)
        .build();
    Client::from_conf(conf)
}

fn policy(severity: Severity) -> RetryPolicy {
    match severity {
        Severity::Moderate => RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(100),
        },
        Severity::Harsh => RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(2),
            cap: Duration::from_millis(20),
        },
    }
}

/// Asserts the destination holds exactly [`images`] items and says so.
#[derive(Default)]
struct Tally {
    runs: u64,
    exact: u64,
    first_try: u64,
    after_503: u64,
    after_202: u64,
    injected: u64,
}

async fn exercise(kind: Kind) {
    let mut env = TestEnv::new(&format!("fk-{}", kind.name().replace('_', ""))).await;
    let direct = env.direct_store().await;
    let total = images();
    seed_album(&direct, SOURCE, ORG, total).await;
    let token = bearer(&env.token(USER, None));
    let mut tally = Tally::default();

    for run in 0..runs() {
        let severity = if run + 1 == runs() {
            Severity::Harsh
        } else {
            Severity::Moderate
        };
        let seed = 1000 * (kind as u64 + 1) + run;
        let cfg = kind.config(severity, seed);
        let proxy = FaultProxy::start(&emulator_endpoint(), cfg).await;
        let client = if kind == Kind::Delay {
            client_with_attempt_timeout(&proxy.endpoint(), attempt_timeout()).await
        } else {
            client_for(&proxy.endpoint()).await
        };
        // Never the 202 path of a copy out of time: this test is about faults.
        let budgets = album_api::deadline::Budgets {
            sync_copy: Duration::from_secs(600),
            ..test_budgets()
        };
        env.app.store = Store::new(client, &env.table).with_budgets(budgets);
        env.app.store = env.app.store.clone().with_retry_policy(policy(severity));

        let destination = format!("{}-{run}", kind.name());
        let ev = duplicate_event(
            "duplicate-album.json",
            Some(&token),
            SOURCE,
            Some(&format!("destination_id={destination}")),
        );
        let what = format!("fault={} run={run} seed={seed} {severity:?}", kind.name());
        let started = Instant::now();
        let (status, _, body) = parts(handle(&env.app, request(&ev)).await.unwrap());
        let stats = proxy.stats();
        let injected = kind.injected(&stats);
        // A request that ended before it reached a faulted operation (its
        // reads timed out on a loaded machine) proves nothing here; the
        // tally below asserts the kind's runs did inject.
        assert!(
            injected > 0 || stats.targeted == 0,
            "{what}: no fault injected: {stats:?}"
        );
        if severity == Severity::Moderate && kind != Kind::Unprocessed {
            // Faults reached every operation the request made: the reads
            // (GetItem, Query), the single-item writes (PutItem of the new
            // album, UpdateItem of the count), the batches. A request that
            // ended early (a 503, or a 202 on a slow machine) made fewer
            // kinds of call; one that answered 200 made them all.
            for op in [
                "GetItem",
                "PutItem",
                "Query",
                "UpdateItem",
                "BatchWriteItem",
            ] {
                if status == 200 || stats.calls(op) > 0 {
                    assert!(
                        stats.faults_on(op) > 0,
                        "{what}: no fault on {op}: {stats:?}"
                    );
                }
            }
        }
        tally.runs += 1;
        tally.injected += injected;
        match status {
            200 => {
                assert_eq!(body["images_count"], images(), "{what}: short 200: {body}");
                assert_eq!(body["id"], destination.as_str(), "{what}");
                assert_album_exact(&direct, &destination, images(), &what).await;
                tally.first_try += 1;
            }
            503 => {
                assert_eq!(body["error"]["code"], "unavailable", "{what}: {body}");
                let partial = direct
                    .count_images(&crate::support::key(&destination))
                    .await
                    .unwrap_or(0);
                eprintln!(
                    "{what}: 503 after {:?} with {partial} of {total} items copied ({}); \
                     re-running with faults off",
                    started.elapsed(),
                    body["error"]["message"]
                );
                // The client's retry, faults off, with production's retry
                // policy (the harsh run's two attempts were the fault's).
                proxy.set_config(FaultConfig::none());
                env.app.store = env
                    .app
                    .store
                    .clone()
                    .with_retry_policy(RetryPolicy::default());
                let (status, _, body) = parts(handle(&env.app, request(&ev)).await.unwrap());
                match status {
                    200 => assert_eq!(
                        body["images_count"],
                        images(),
                        "{what}: short re-run: {body}"
                    ),
                    // A loaded machine may still time calls out: the copy
                    // is kept as a job, which the worker finishes.
                    202 => run_job_to_done(&env.app, body["job_id"].as_str().unwrap(), 5).await,
                    other => panic!("{what}: the re-run answered {other}: {body}"),
                }
                assert_album_exact(&direct, &destination, images(), &what).await;
                tally.after_503 += 1;
            }
            202 => {
                // The copy stopped part-way and saved its progress as a job
                // (decision 0006); with faults off the worker finishes it.
                let copied = body["images_copied"].as_u64().unwrap_or(0);
                eprintln!(
                    "{what}: 202 after {:?} with {copied} of {total} copied; the job continues with faults off",
                    started.elapsed()
                );
                proxy.set_config(FaultConfig::none());
                let job_id = body["job_id"].as_str().expect("a job id");
                run_job_to_done(&env.app, job_id, 5).await;
                assert_album_exact(&direct, &destination, images(), &what).await;
                tally.after_202 += 1;
            }
            other => panic!("{what}: neither exact nor a clear failure: {other} {body}"),
        }
        tally.exact += 1;
        eprintln!(
            "{what}: {status} in {:?}; injected {injected} ({:?}); {} calls",
            started.elapsed(),
            stats.faults_by_op,
            stats.dynamodb_calls
        );
    }
    eprintln!(
        "fault={} runs={} exact={} first_try={} after_503={} after_202={} injected={}",
        kind.name(),
        tally.runs,
        tally.exact,
        tally.first_try,
        tally.after_503,
        tally.after_202,
        tally.injected
    );
    assert_eq!(tally.exact, tally.runs);
    assert!(
        tally.injected > 0,
        "fault={}: no run injected a fault",
        kind.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprocessed_items_end_exact_or_fail_clearly() {
    exercise(Kind::Unprocessed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_ends_exact_or_fails_clearly() {
    exercise(Kind::Throttle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_end_exact_or_fail_clearly() {
    exercise(Kind::ServerError).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_end_exact_or_fail_clearly() {
    exercise(Kind::Reset).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_slower_than_the_sdk_timeout_end_exact_or_fail_clearly() {
    exercise(Kind::Delay).await;
}
