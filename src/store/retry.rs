//! Who retries which DynamoDB call, and for how long (decision 0006).
//!
//! One retry layer per kind of call:
//! - **Single calls** (GetItem, PutItem, UpdateItem, DeleteItem, a Query
//!   page): the SDK's own standard retries ([`sdk_retry_config`]: attempts,
//!   initial and largest backoff; `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE`
//!   honoured), each attempt cut by the client's attempt timeout, the whole
//!   call cut by [`bounded`] at the invocation's deadline or the call's
//!   budget. No loop of ours on top.
//! - **Batches** (`BatchWriteItem`): the SDK retries nothing here (its
//!   retries are off for this operation, so the two layers cannot multiply);
//!   the copier's own loop re-sends `UnprocessedItems` and retryable
//!   failures per [`RetryPolicy`], sleeping only while the deadline allows.
//! - **Conditional outcomes** (the count protocol's refused updates) are
//!   answers, not errors: their callers decide, and their loops also stop
//!   at the deadline.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use rand::Rng;

use super::{StoreError, describe, is_conditional_failure, is_retryable};
use crate::deadline;

/// The SDK's attempts per single call unless `AWS_MAX_ATTEMPTS` says otherwise.
pub const SDK_MAX_ATTEMPTS: u32 = 3;
/// The SDK's first backoff (full jitter: a draw in `[0, this]`).
pub const SDK_INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// The SDK's largest backoff.
pub const SDK_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The SDK retry configuration of every client of the table: standard mode
/// (or `adaptive` when `AWS_RETRY_MODE` says so), [`SDK_MAX_ATTEMPTS`]
/// attempts (or `AWS_MAX_ATTEMPTS`), backoff from [`SDK_INITIAL_BACKOFF`]
/// up to [`SDK_MAX_BACKOFF`]. Set in code for the backoff, so the two
/// variables are read here: they would otherwise be ignored.
pub fn sdk_retry_config(lookup: impl Fn(&str) -> Option<String>) -> RetryConfig {
    let mode = lookup("AWS_RETRY_MODE").map(|m| m.trim().to_ascii_lowercase());
    let base = match mode.as_deref() {
        Some("adaptive") => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    let attempts = lookup("AWS_MAX_ATTEMPTS")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(SDK_MAX_ATTEMPTS);
    base.with_max_attempts(attempts)
        .with_initial_backoff(SDK_INITIAL_BACKOFF)
        .with_max_backoff(SDK_MAX_BACKOFF)
}

/// Runs one SDK call (with the SDK's retries inside) until it answers, or
/// until `budget` or the invocation's deadline runs out, whichever is
/// first. Retryable failures that outlast the SDK's attempts, and calls cut
/// by the deadline, are [`StoreError::Unavailable`]: a 503 the caller may
/// retry.
pub fn bounded<T, E, Fut>(
    operation: &'static str,
    budget: Duration,
    call: Fut,
) -> impl Future<Output = Result<T, StoreError>>
where
    Fut: Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let call = bounded_raw(operation, budget, call);
    async move { call.await?.map_err(|e| classify(&e)) }
}

/// Like [`bounded`] for a conditional write: `Some(output)` when it
/// applied, `None` when its condition failed.
pub fn conditional<T, E: ProvideErrorMetadata + std::fmt::Debug, Fut>(
    operation: &'static str,
    budget: Duration,
    call: Fut,
) -> impl Future<Output = Result<Option<T>, StoreError>>
where
    Fut: Future<Output = Result<T, SdkError<E>>>,
{
    let call = bounded_raw(operation, budget, call);
    async move {
        match call.await? {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// The call's own answer, or [`StoreError::Unavailable`] when the deadline
/// cut it. The SDK's future is moved to the heap at once: it is large, and
/// held by value it would be copied into every future that awaits a store
/// call (debug builds overflowed their stacks).
pub fn bounded_raw<T, E, Fut>(
    operation: &'static str,
    budget: Duration,
    call: Fut,
) -> impl Future<Output = Result<Result<T, SdkError<E>>, StoreError>>
where
    Fut: Future<Output = Result<T, SdkError<E>>>,
{
    let call = Box::pin(call);
    async move {
        let until = deadline::bound(budget);
        tokio::time::timeout_at(until.into(), call)
            .await
            .map_err(|_| out_of_time(operation))
    }
}

/// The error of a call cut by its deadline.
pub fn out_of_time(operation: &'static str) -> StoreError {
    StoreError::Unavailable(format!(
        "{operation}: no answer before the deadline of this invocation"
    ))
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(e: &SdkError<E>) -> StoreError {
    if is_retryable(e) {
        StoreError::Unavailable(describe(e))
    } else {
        StoreError::Dynamo(describe(e))
    }
}

/// Sleeps `pause`, unless that would end past the invocation's deadline:
/// then returns [`StoreError::Unavailable`] at once (no backoff sleeps past
/// the deadline).
pub async fn pause_within_deadline(
    operation: &'static str,
    pause: Duration,
) -> Result<(), StoreError> {
    let wake = std::time::Instant::now() + pause;
    if deadline::current().is_some_and(|d| wake >= d) {
        return Err(out_of_time(operation));
    }
    tokio::time::sleep(pause).await;
    Ok(())
}

/// How often and how patiently the crate's own loops retry: a batch's
/// `UnprocessedItems` and failures, and a refused recount.
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
    /// `[0, min(cap, base·2^attempt)]` (full jitter spreads the retries of
    /// many parallel writers, as AWS's architecture blog recommends).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let ceiling = exp.min(self.cap);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// The longest all backoffs of one call can sleep in all: the sum of
    /// `min(cap, base·2^n)` over its retries.
    pub fn worst_case_sleep(&self) -> Duration {
        (1..self.max_attempts)
            .map(|n| {
                self.base
                    .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
                    .min(self.cap)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
        // 20 + 40 + 80 + 100 ms.
        assert_eq!(p.worst_case_sleep(), Duration::from_millis(240));
    }

    #[test]
    fn the_sdk_retries_honour_the_environment() {
        let none = sdk_retry_config(|_| None);
        assert_eq!(none.max_attempts(), SDK_MAX_ATTEMPTS);
        assert_eq!(none.initial_backoff(), SDK_INITIAL_BACKOFF);
        assert_eq!(none.max_backoff(), SDK_MAX_BACKOFF);
        assert_eq!(none.mode(), aws_config::retry::RetryMode::Standard);
        let set = sdk_retry_config(|k| match k {
            "AWS_MAX_ATTEMPTS" => Some("7".into()),
            "AWS_RETRY_MODE" => Some("adaptive".into()),
            _ => None,
        });
        assert_eq!(set.max_attempts(), 7);
        assert_eq!(set.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(
            sdk_retry_config(|_| Some("zero".into())).max_attempts(),
            SDK_MAX_ATTEMPTS
        );
    }

    #[tokio::test]
    async fn a_call_that_hangs_ends_at_the_deadline_as_unavailable() {
        let started = Instant::now();
        let soon = started + Duration::from_millis(150);
        let hang = std::future::pending::<
            Result<(), SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError>>,
        >();
        let res =
            deadline::scope(Some(soon), bounded("GetItem", Duration::from_secs(3), hang)).await;
        assert!(matches!(res, Err(StoreError::Unavailable(_))), "{res:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn no_backoff_sleeps_past_the_deadline() {
        let soon = Instant::now() + Duration::from_millis(50);
        let res = deadline::scope(
            Some(soon),
            pause_within_deadline("recount", Duration::from_secs(5)),
        )
        .await;
        assert!(matches!(res, Err(StoreError::Unavailable(_))));
        assert!(Instant::now() < soon, "refused at once instead of sleeping");
        pause_within_deadline("recount", Duration::from_millis(1))
            .await
            .unwrap();
    }
}
