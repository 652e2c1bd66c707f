//! Retry policy: exponential backoff with full jitter.
//!
//! The SDK retries a throttled call a few times on its own; this layer sits on
//! top for the two things the SDK does not do: re-sending `UnprocessedItems`
//! of a `BatchWriteItem`, and riding out longer throttling or network trouble
//! during a copy of thousands of items. Full jitter (sleep a random time in
//! `[0, min(cap, base·2^attempt)]`) spreads the retries of many parallel
//! writers, as AWS's architecture blog recommends.

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use rand::Rng;

use super::{StoreError, describe, is_retryable};

/// How often and how patiently to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff base.
    pub base: Duration,
    /// Upper bound of one backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(25),
            cap: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The sleep before retry number `attempt` (1-based): uniform in
    /// `[0, min(cap, base·2^attempt)]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let ceiling = exp.min(self.cap);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// Why a retried call ended without a value.
#[derive(Debug)]
pub enum Outcome<E> {
    /// The caller's predicate matched this error (e.g. a failed condition): not retried.
    Stopped(E),
    /// A non-retryable error, or retries exhausted.
    Failed(StoreError),
}

/// Runs `call` until it succeeds, retrying retryable errors per `policy`.
pub async fn retrying<T, E, F, Fut>(policy: &RetryPolicy, call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    retrying_unless(policy, call, |_| false)
        .await
        .map_err(|o| match o {
            Outcome::Failed(e) => e,
            Outcome::Stopped(e) => StoreError::Dynamo(describe(&e)),
        })
}

/// Like [`retrying`], but an error matching `stop` is handed back as is.
pub async fn retrying_unless<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut call: F,
    stop: impl Fn(&SdkError<E>) -> bool,
) -> Result<T, Outcome<SdkError<E>>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if stop(&e) => return Err(Outcome::Stopped(e)),
            Err(e) if is_retryable(&e) && attempt < policy.max_attempts => {
                tracing::warn!(attempt, error = %describe(&e), "retrying DynamoDB call");
                tokio::time::sleep(policy.backoff(attempt)).await;
            }
            Err(e) if is_retryable(&e) => {
                return Err(Outcome::Failed(StoreError::Unavailable {
                    attempts: attempt,
                    detail: describe(&e),
                }));
            }
            Err(e) => return Err(Outcome::Failed(StoreError::Dynamo(describe(&e)))),
        }
    }
}

/// Runs a conditional write, retrying retryable errors per `policy`:
/// `Some(output)` when it applied, `None` when its condition failed.
pub async fn conditional<T, E, F, Fut>(
    policy: &RetryPolicy,
    call: F,
) -> Result<Option<T>, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    match retrying_unless(policy, call, super::is_conditional_failure).await {
        Ok(v) => Ok(Some(v)),
        Err(Outcome::Stopped(_)) => Ok(None),
        Err(Outcome::Failed(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_by_the_exponential_and_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(100),
        };
        for _ in 0..200 {
            assert!(p.backoff(1) <= Duration::from_millis(20));
            assert!(p.backoff(3) <= Duration::from_millis(80));
            assert!(p.backoff(30) <= Duration::from_millis(100));
        }
        // Full jitter: not a constant.
        let draws: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(6)).collect();
        assert!(draws.len() > 10);
    }
}
