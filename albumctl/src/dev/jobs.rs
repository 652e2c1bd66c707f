//! Jobs a 202 hands off, driven as the table's stream and the worker do in AWS.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use album_api::App;
use album_api::jobs::{SliceOutcome, run_slice};

/// Drives a 202's job in the background, as the table's stream and the
/// worker do in AWS ([`drive_job`]).
pub(super) fn drive_in_background(app: Arc<App>, id: String) {
    tokio::spawn(async move {
        let retries = crate::template::stream_retry_attempts().unwrap_or(5);
        let ended = drive_job(&app, &id, retries, Duration::from_secs(1)).await;
        eprintln!("job {id}: {ended:?}");
    });
}

/// How driving a job ended.
#[derive(Debug)]
pub enum Driven {
    /// Done, failed for good, or finished by someone else: the last slice's outcome.
    Ended(Box<SliceOutcome>),
    /// A slice failed `deliveries` times in a row: in AWS the record would
    /// go to the dead-letter queue (`albumctl dlq redrive` resumes it).
    GivenUp {
        /// Deliveries of the failing hand-off.
        deliveries: u32,
        /// The last failure.
        error: String,
    },
}

/// What the table's stream and the worker do in AWS: runs slices of job
/// `id` until it ends. A failed slice is run again, as the stream delivers
/// the same record again, after `backoff` doubling per failure, up to
/// `retries` times; a hand-off resets the count, as a new record would.
pub async fn drive_job(app: &App, id: &str, retries: u32, backoff: Duration) -> Driven {
    let owner = format!("dev-{}", uuid::Uuid::new_v4());
    let mut failures = 0;
    loop {
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let slice =
            album_api::jobs::within_invocation(app, deadline, run_slice(app, id, deadline, &owner));
        match slice.await {
            Ok(SliceOutcome::Paused(_)) => failures = 0,
            // Its holder lives and goes on with it; look again soon.
            Ok(SliceOutcome::Busy(_)) => tokio::time::sleep(Duration::from_millis(500)).await,
            Ok(outcome) => return Driven::Ended(Box::new(outcome)),
            Err(e) => {
                failures += 1;
                if failures > retries {
                    return Driven::GivenUp {
                        deliveries: failures,
                        error: e.to_string(),
                    };
                }
                eprintln!(
                    "job {id}: slice failed ({e}); delivered again ({failures} of {retries})"
                );
                tokio::time::sleep(backoff * 2u32.pow(failures.min(5) - 1)).await;
            }
        }
    }
}
