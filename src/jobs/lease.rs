//! A job's lease: short, renewed by its holder's heartbeat, waited for by
//! whoever finds it held.
//!
//! Why short: a holder that dies (a crash, a timeout, an error whose
//! release of the lease failed too) must not keep its job for the rest of
//! its 15-minute invocation. The stream delivers the dead holder's record
//! again; if that delivery found the job held and gave up, the record would
//! be consumed and the job would stay `running` for good. So a lease lasts
//! [`LEASE_TTL`] and its holder renews it every [`HEARTBEAT_EVERY`]; a
//! delivery that finds the job held waits ([`take`]) until the lease either
//! runs out (the holder died: it takes the job) or is renewed (the holder
//! lives, and its own delivery, retried by the stream should it fail, owns
//! the job). Exactness never depends on the lease (copies are idempotent,
//! counts recounted; decision 0004): it only keeps two slices from doing
//! the same work at once (decision 0005).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::deadline::epoch_ms;
use crate::deadline::instant_of;
use crate::store::jobs::Lease;
use crate::store::{Store, StoreError};

/// How long a lease lasts unless its holder renews it.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// How often a holder renews its lease: three times a lease, so that one
/// or two renewals lost to DynamoDB trouble do not lose it.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// When a lease taken or renewed now ends: [`LEASE_TTL`] from now, never
/// after the holder's own deadline (a holder stopped by Lambda renews
/// nothing, so its lease must not outlive it).
fn lease_end(deadline: SystemTime) -> u64 {
    epoch_ms((SystemTime::now() + LEASE_TTL).min(deadline))
}

/// Takes job `job_id`'s lease for `owner`. A job held by another waits,
/// until `stop_at` at the latest, for its holder's lease to run out or be
/// renewed: taken when it runs out; `Busy` when it is renewed (the holder
/// lives) or `stop_at` comes.
pub async fn take(
    store: &Store,
    job_id: &str,
    owner: &str,
    deadline: SystemTime,
    stop_at: Instant,
) -> Result<Lease, StoreError> {
    let acquire = || {
        let now = epoch_ms(SystemTime::now());
        store.acquire_job(job_id, owner, now, lease_end(deadline))
    };
    let lease = acquire().await?;
    let Lease::Busy(seen) = &lease else {
        return Ok(lease);
    };
    let seen = seen.holder.clone();
    let mut lease = lease;
    loop {
        let now = Instant::now();
        if now >= stop_at {
            return Ok(lease);
        }
        // Just after the lease runs out, or after the holder's next
        // renewal would have come, whichever is first.
        let runs_out = seen.as_ref().map_or(now, |h| {
            instant_of(UNIX_EPOCH + Duration::from_millis(h.until_ms)) + Duration::from_millis(50)
        });
        let wake = runs_out
            .min(now + HEARTBEAT_EVERY + Duration::from_secs(1))
            .min(stop_at);
        tokio::time::sleep_until(wake.into()).await;
        lease = acquire().await?;
        match &lease {
            // Neither renewed nor run out yet.
            Lease::Busy(job) if job.holder == seen => continue,
            // Taken, finished, missing, or held by a live holder.
            _ => return Ok(lease),
        }
    }
}

/// Renews a held lease every [`HEARTBEAT_EVERY`] until dropped.
#[derive(Debug)]
pub struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    /// Starts renewing `owner`'s lease of job `job_id`, up to `deadline`.
    pub fn start(store: &Store, job_id: &str, owner: &str, deadline: SystemTime) -> Self {
        let (store, job_id, owner) = (store.clone(), job_id.to_string(), owner.to_string());
        let scope = crate::deadline::current();
        Self(tokio::spawn(crate::deadline::scope(scope, async move {
            loop {
                tokio::time::sleep(HEARTBEAT_EVERY).await;
                match store
                    .renew_job_lease(&job_id, &owner, lease_end(deadline))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %job_id, "lease lost; the next checkpoint stops this slice");
                        return;
                    }
                    // The lease may still hold until the next try.
                    Err(e) => tracing::warn!(job = %job_id, error = %e, "lease not renewed"),
                }
            }
        })))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
