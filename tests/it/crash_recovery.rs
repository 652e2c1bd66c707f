//! Crashes: the real `duplicate_album` binary under AWS's Lambda Runtime
//! Interface Emulator (the one `aws-sam-cli` ships, as `make invoke` uses),
//! killed with SIGKILL, emulator and all, at a random point of a 3,000-image
//! copy; then started again and sent the same request, as a client or API
//! Gateway retry would. The retry must answer 200 with `images_count` 3000
//! and leave exactly 3,000 images in the destination.
//!
//! Kill points: half the trials after a random share (20–80 %) of an
//! uncrashed run's measured duration, half as soon as the destination holds
//! a random number of items (so the kill surely lands inside the copy).
//! Prints `crash trials=10 exact=10 …` (`-- --nocapture`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::rie::{Function, http_answer, rie_path};
use crate::support::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// The album killed mid-copy, and the kills: on dynalite. moto's server
/// copies several times slower, so its run kills a smaller album fewer
/// times ([`scale`]): the same kill points (before, inside and after the
/// copy), in about half the time.
const IMAGES: u64 = 3000;
const TRIALS: u32 = 10;

/// (images, trials) on the emulator at hand.
fn scale() -> (u64, u32) {
    if emulator_is_moto() {
        (2000, 4)
    } else {
        (IMAGES, TRIALS)
    }
}
/// The function's logical id in `template.yaml`.
const FUNCTION: &str = "DuplicateAlbumFunction";

/// The function's binary.
fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_duplicate_album"))
}

/// Runs the request to the end under a fresh emulator; asserts it answers
/// 200 with the full count. Returns how long the invocation took.
async fn run_to_completion(
    rie: &Path,
    table: &str,
    log: &Path,
    event: &Value,
    what: &str,
    images: u64,
) -> Duration {
    let mut f = Function::start(rie, &exe(), FUNCTION, table, log);
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(240), Function::invoke(f.port, event))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 240 s (log: {})", log.display()))
        .unwrap_or_else(|e| panic!("{what}: {e} (log: {})", log.display()));
    let took = started.elapsed();
    f.kill();
    let (status, body) = http_answer(&answer);
    assert_eq!(status, 200, "{what}: {answer}");
    assert_eq!(body["images_count"], images, "{what}: {body}");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_killed_mid_copy_is_exact_after_a_retry() {
    let rie = rie_path();
    let env = TestEnv::new("crash").await;
    let direct = env.direct_store().await;
    let (images, trials) = scale();
    seed_album(&direct, SOURCE, ORG, images).await;
    let token = bearer(&env.token(USER, None));
    // One log per emulator: `make test` runs the suite on both at once.
    let emulator = if emulator_is_moto() {
        "moto"
    } else {
        "dynalite"
    };
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("crash_recovery-rie-{emulator}.log"));
    let _ = std::fs::remove_file(&log);
    let event_for = |destination: &str| {
        duplicate_event(
            "duplicate-album.json",
            Some(&token),
            SOURCE,
            Some(&format!("destination_id={destination}")),
        )
    };

    // An uncrashed run: the baseline for kill times (from the request to
    // the answer; the function's cold start included, as in every trial).
    let mut baseline = run_to_completion(
        &rie,
        &env.table,
        &log,
        &event_for("uncrashed"),
        "uncrashed",
        images,
    )
    .await;
    assert_album_exact(&direct, "uncrashed", images, "uncrashed").await;

    let seed: u64 = rand::rng().random();
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut exact, mut mid_copy, mut before_recount, mut after_answer) = (0, 0, 0, 0);
    let mut before_copy = 0;
    let mut kills = Vec::new();
    for trial in 0..trials {
        let destination = format!("crash-{trial}");
        let event = event_for(&destination);
        let mut f = Function::start(&rie, &exe(), FUNCTION, &env.table, &log);
        let port = f.port;
        let call = tokio::spawn({
            let event = event.clone();
            async move { Function::invoke(port, &event).await }
        });
        // Against moto, every kill waits for the copy's first writes: its
        // slower, load-bound runs made a kill timed from the baseline land
        // before the copy or after the answer too often to prove anything.
        let kill_point = if trial % 2 == 0 && !emulator_is_moto() {
            let share = rng.random_range(0.2..0.8);
            let at = baseline.mul_f64(share);
            tokio::time::sleep(at).await;
            format!("after {} ms ({:.0} %)", at.as_millis(), share * 100.0)
        } else {
            // Up to 80 %: the destination is polled, and the copy runs on
            // while a count is taken.
            let target = rng.random_range(100..images * 8 / 10);
            let waiting = Instant::now();
            while direct
                .count_images(&crate::support::key(&destination))
                .await
                .unwrap()
                < target
            {
                assert!(
                    !call.is_finished(),
                    "trial {trial}: the request ended before {target} items"
                );
                assert!(
                    waiting.elapsed() < Duration::from_secs(120),
                    "trial {trial}: never reached {target} items"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            format!("at >= {target} items")
        };
        let answered = call.is_finished();
        let function_ran = f.kill();
        call.abort();
        let _ = call.await;
        let left = direct
            .count_images(&crate::support::key(&destination))
            .await
            .unwrap();
        let count_left = direct
            .get_album(&crate::support::key(&destination))
            .await
            .unwrap()
            .map(|a| a.images_count);
        let when = if answered || !function_ran {
            after_answer += 1;
            "after the answer"
        } else if left == 0 {
            before_copy += 1;
            "before the first write"
        } else if left < images {
            mid_copy += 1;
            "mid-copy"
        } else {
            before_recount += 1;
            "after the copy, before the answer"
        };
        let what = format!("trial {trial} (seed {seed}, killed {kill_point}, {when})");
        eprintln!("{what}: left {left} items, images_count {count_left:?}; retrying");
        kills.push(left);

        // A retry rewrites every copy: an uncrashed run's length, the
        // baseline of the next trial (the first run was a colder one).
        baseline = run_to_completion(&rie, &env.table, &log, &event, &what, images).await;
        assert_album_exact(&direct, &destination, images, &what).await;
        exact += 1;
    }
    eprintln!(
        "crash trials={trials} images={images} exact={exact} killed_mid_copy={mid_copy} \
         killed_before_copy={before_copy} killed_after_copy_before_answer={before_recount} killed_after_answer={after_answer} \
         items_at_kill={kills:?} last_uncrashed_ms={} seed={seed}",
        baseline.as_millis()
    );
    assert_eq!(exact, trials);
    assert!(
        mid_copy >= trials / 2,
        "most kills must land inside the copy ({mid_copy} of {trials})"
    );
}
