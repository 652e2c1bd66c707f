//! The simulator's time: real, or moved by hand so that tests do not
//! depend on how fast the machine is.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::lock;

/// The simulator's time: real, or moved by hand (tests that must not
/// depend on how fast the machine is).
#[derive(Clone, Debug)]
pub enum Clock {
    /// Time since the simulator started.
    Real(Instant),
    /// Time advanced only by [`Clock::advance`].
    Manual(Arc<Mutex<Duration>>),
}

impl Clock {
    /// The wall clock.
    pub fn real() -> Self {
        Clock::Real(Instant::now())
    }

    /// A clock that stands still until advanced.
    pub fn manual() -> Self {
        Clock::Manual(Arc::new(Mutex::new(Duration::ZERO)))
    }

    pub(super) fn now(&self) -> Duration {
        match self {
            Clock::Real(start) => start.elapsed(),
            Clock::Manual(t) => *lock(t),
        }
    }

    /// Moves a manual clock forward (buckets refill by `by`); a real one
    /// ignores it.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(t) = self {
            *lock(t) += by;
        }
    }
}
