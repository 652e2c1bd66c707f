//! The deadline of the invocation being served, and the time budgets it is
//! made of.
//!
//! Every HTTP answer must reach API Gateway before its 29 s, and every event
//! invocation must end before Lambda stops it, whatever DynamoDB does. So
//! each invocation runs inside [`scope`] with one deadline (the Lambda
//! deadline less a margin, capped by the route's budget), and every DynamoDB
//! call made for it is cut at [`bound`]: the sooner of that deadline and the
//! call's own budget. A call cut there fails as unavailable (503 with
//! `Retry-After`), never as a hang. The deadline is task-local so that no
//! call can forget it: a store method called from any depth of a handler is
//! bounded without being handed it (decision 0006 says why, and what each
//! budget is).

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Time kept between an HTTP answer's deadline and Lambda's own: the answer
/// is serialized and returned before the function is stopped.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(1);

/// Time kept free before an invocation's deadline: in-flight batches finish
/// and the handoff is written well before Lambda stops the process.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);

/// How long the batches still in flight when a bulk step (a copy, a move)
/// stops queueing may take to finish, retries included, before they are
/// given up: the step then reports where to resume and its caller still has
/// time to save it. A bulk step stops queueing this long before the
/// deadline it runs under ([`stop_queueing_at`]).
pub const DRAIN_ALLOWANCE: Duration = Duration::from_secs(2);

/// The default budgets (decision 0006). Each is overridable through the
/// environment variable named beside it, read once at init ([`Budgets::from_env`]).
pub mod defaults {
    use std::time::Duration;
    /// `READ_BUDGET_MS`: reads and auth lookups, and the whole of a read route.
    pub const READ: Duration = Duration::from_secs(3);
    /// `WRITE_BUDGET_MS`: single-item writes, and the whole of a write route (the webhook too).
    pub const WRITE: Duration = Duration::from_secs(5);
    /// `PAGE_BUDGET_MS`: one 1 MB page of a copy or a count (up to 4,000 items read).
    pub const PAGE: Duration = Duration::from_secs(5);
    /// `SYNC_COPY_BUDGET_MS`: how long a duplicate copies inline before it answers 202.
    pub const SYNC_COPY: Duration = Duration::from_secs(20);
    /// `AFTER_COPY_BUDGET_MS`: what a duplicate keeps after its copy for the
    /// in-flight batches, the count, the job and the answer.
    pub const AFTER_COPY: Duration = Duration::from_secs(5);
    /// `ATTEMPT_TIMEOUT_MS`: one attempt of any DynamoDB call (the SDK retries a cut attempt).
    pub const ATTEMPT: Duration = Duration::from_secs(2);
}

/// The time budgets of an invocation and of the calls it makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// A read route, and any single read (GetItem, a page of a listing).
    pub read: Duration,
    /// A write route, and any single-item write.
    pub write: Duration,
    /// One page of a copy's source or of a count.
    pub page: Duration,
    /// A duplicate's inline copy.
    pub sync_copy: Duration,
    /// What a duplicate keeps after its inline copy.
    pub after_copy: Duration,
    /// One attempt of a DynamoDB call.
    pub attempt: Duration,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            read: defaults::READ,
            write: defaults::WRITE,
            page: defaults::PAGE,
            sync_copy: defaults::SYNC_COPY,
            after_copy: defaults::AFTER_COPY,
            attempt: defaults::ATTEMPT,
        }
    }
}

impl Budgets {
    /// The defaults, each replaced by its environment variable when set
    /// (milliseconds); an unreadable or zero value is a configuration error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut b = Self::default();
        for (name, slot) in [
            ("READ_BUDGET_MS", &mut b.read),
            ("WRITE_BUDGET_MS", &mut b.write),
            ("PAGE_BUDGET_MS", &mut b.page),
            ("SYNC_COPY_BUDGET_MS", &mut b.sync_copy),
            ("AFTER_COPY_BUDGET_MS", &mut b.after_copy),
            ("ATTEMPT_TIMEOUT_MS", &mut b.attempt),
        ] {
            if let Some(v) = lookup(name) {
                match v.trim().parse::<u64>() {
                    Ok(ms) if ms > 0 => *slot = Duration::from_millis(ms),
                    _ => return Err(format!("{name} must be a positive number of milliseconds")),
                }
            }
        }
        Ok(b)
    }

    /// [`Budgets::from_lookup`] over the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The whole budget of a duplicate request: its inline copy and what follows.
    pub fn duplicate(&self) -> Duration {
        self.sync_copy + self.after_copy
    }
}

/// Runs `f` with `deadline` as the invocation's deadline (`None`: no deadline,
/// e.g. a command-line tool). Inside another scope, the sooner of the two
/// holds: a step of an invocation can end sooner than the invocation, never
/// later.
pub async fn scope<F: Future>(deadline: Option<Instant>, f: F) -> F::Output {
    let deadline = match (deadline, current()) {
        (Some(d), Some(outer)) => Some(d.min(outer)),
        (d, outer) => d.or(outer),
    };
    match deadline {
        Some(d) => DEADLINE.scope(d, f).await,
        None => f.await,
    }
}

/// When a request stops copying (or moving) inline: its inline budget
/// (`sync_copy`) from now, and in any case early enough to leave
/// `after_copy` before the request's deadline for the batches in flight,
/// the count, the job and the answer.
pub fn inline_copy_until(budgets: &Budgets) -> Instant {
    let own = Instant::now() + budgets.sync_copy;
    match current() {
        Some(d) => own.min(
            d.checked_sub(budgets.after_copy)
                .unwrap_or_else(Instant::now),
        ),
        None => own,
    }
}

/// When a bulk step running under the current deadline stops queueing
/// work: [`DRAIN_ALLOWANCE`] before it, so what is in flight can finish.
pub fn stop_queueing_at() -> Option<Instant> {
    current().map(|d| d.checked_sub(DRAIN_ALLOWANCE).unwrap_or_else(Instant::now))
}

/// Runs the bulk step `f` so that it stops queueing work at `stop_at`
/// (`None`: when the current deadline says) and every call it makes ends
/// [`DRAIN_ALLOWANCE`] later: the one deadline, set for a step.
pub async fn bulk<F: Future>(stop_at: Option<Instant>, f: F) -> F::Output {
    scope(stop_at.map(|t| t + DRAIN_ALLOWANCE), f).await
}

/// The deadline of the invocation this task serves, if any.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// When a call with `budget` must end: the sooner of `now + budget` and the
/// invocation's deadline.
pub fn bound(budget: Duration) -> Instant {
    let own = Instant::now() + budget;
    current().map_or(own, |d| d.min(own))
}

/// The `Instant` of a wall-clock deadline (Lambda gives deadlines as epoch
/// milliseconds).
pub fn instant_of(deadline: SystemTime) -> Instant {
    let now = SystemTime::now();
    Instant::now() + deadline.duration_since(now).unwrap_or(Duration::ZERO)
}

/// Milliseconds since the Unix epoch of `t`: how the leases stored in
/// DynamoDB (a job's, a recount's) say until when they hold.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An invocation's deadline: `started + budget`, or Lambda's deadline less
/// `margin` when that comes first (`lambda` is `None` outside Lambda).
pub fn of_invocation(
    started: Instant,
    budget: Duration,
    lambda: Option<SystemTime>,
    margin: Duration,
) -> Instant {
    let own = started + budget;
    match lambda {
        Some(d) => {
            let l = instant_of(d);
            own.min(l.checked_sub(margin).unwrap_or(started))
        }
        None => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_is_bounded_by_the_sooner_of_its_budget_and_the_scope() {
        assert!(current().is_none());
        let soon = Instant::now() + Duration::from_millis(100);
        scope(Some(soon), async {
            assert_eq!(current(), Some(soon));
            assert_eq!(bound(Duration::from_secs(3)), soon);
            assert!(bound(Duration::from_millis(1)) < soon);
        })
        .await;
        let later = bound(Duration::from_secs(3));
        assert!(later > soon, "outside the scope only the budget counts");
    }

    #[tokio::test]
    async fn a_scope_inside_another_ends_no_later_than_the_outer_one() {
        let outer = Instant::now() + Duration::from_millis(100);
        scope(Some(outer), async {
            scope(Some(outer + Duration::from_secs(5)), async {
                assert_eq!(current(), Some(outer));
            })
            .await;
            let inner = outer - Duration::from_millis(50);
            scope(Some(inner), async { assert_eq!(current(), Some(inner)) }).await;
            scope(None, async { assert_eq!(current(), Some(outer)) }).await;
        })
        .await;
    }

    #[test]
    fn the_invocation_ends_before_lambdas_deadline() {
        let t0 = Instant::now();
        let lambda = SystemTime::now() + Duration::from_secs(10);
        let d = of_invocation(t0, Duration::from_secs(25), Some(lambda), ANSWER_MARGIN);
        let left = d.duration_since(t0);
        assert!(
            left <= Duration::from_millis(9010) && left > Duration::from_millis(8500),
            "{left:?}"
        );
        let d = of_invocation(t0, Duration::from_secs(3), Some(lambda), ANSWER_MARGIN);
        assert_eq!(d, t0 + Duration::from_secs(3));
        assert_eq!(
            of_invocation(t0, Duration::from_secs(3), None, ANSWER_MARGIN),
            t0 + Duration::from_secs(3)
        );
    }

    #[test]
    fn budgets_read_from_the_environment_and_refuse_nonsense() {
        let b = Budgets::from_lookup(|k| (k == "READ_BUDGET_MS").then(|| "1500".into())).unwrap();
        assert_eq!(b.read, Duration::from_millis(1500));
        assert_eq!(b.write, defaults::WRITE);
        assert_eq!(b.duplicate(), defaults::SYNC_COPY + defaults::AFTER_COPY);
        assert!(Budgets::from_lookup(|k| (k == "WRITE_BUDGET_MS").then(|| "0".into())).is_err());
        assert!(Budgets::from_lookup(|k| (k == "PAGE_BUDGET_MS").then(|| "x".into())).is_err());
    }
}
