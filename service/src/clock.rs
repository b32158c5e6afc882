//! Time for the service layer, which reads no clock of its own.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where the service layer gets "now" from, to measure call durations and the
/// time left before a deadline. Adapters pass one in (`Instant::now` is one:
/// every `Fn() -> Instant` is a clock); without one, durations are `None` and
/// the remaining time is the one at the start of the call.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

impl<F: Fn() -> Instant + Send + Sync> Clock for F {
    fn now(&self) -> Instant {
        self()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// A clock that only moves when told to, for deterministic tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Instant) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: Instant) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_and_manual_clocks_are_clocks() {
        let start = Instant::now();
        let fixed = move || start;
        assert_eq!(Clock::now(&fixed), start);
        let manual = ManualClock::new(start);
        manual.advance(Duration::from_secs(2));
        assert_eq!(manual.now(), start + Duration::from_secs(2));
        manual.set(start);
        assert_eq!(manual.now(), start);
    }
}
