//! Virtual time, as every in-memory driver keeps it (the
//! [`GrpcPair`](super::GrpcPair) here, and spec-tests' h2 pair, link pair and
//! test server): one reading of the real clock
//! for an origin, then time moves only when the test says, so a 2-hour timer
//! runs in microseconds and the same calls give the same octets.

use std::time::{Duration, Instant};

/// A clock that moves only forward, and only when told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    start: Instant,
    now: Instant,
}

impl Clock {
    /// A clock at an arbitrary origin: the only reading of the real clock.
    // No `Default`: a default that reads the real clock would hide the reading.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Clock {
        Clock::starting_at(Instant::now())
    }

    /// A clock at `start`, for connections already created at that instant.
    pub fn starting_at(start: Instant) -> Clock {
        Clock { start, now: start }
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The origin.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Time since the origin.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves forward by `by`.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Moves to `at`, or stays when `at` has passed: a timer polled late
    /// fires now, and time never goes back.
    pub fn advance_to(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }
}

/// The earlier of two sides' `poll_timeout`, as a driver of both waits for.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Calls `step` until it reports that nothing moved, at most `max_steps`
/// times; returns whether it went quiet (false points to a livelock).
pub fn until_quiet(max_steps: usize, mut step: impl FnMut() -> bool) -> bool {
    (0..max_steps).any(|_| !step())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_moves_only_forward() {
        let mut clock = Clock::new();
        let start = clock.start();
        clock.advance(Duration::from_secs(2));
        clock.advance_to(start + Duration::from_secs(1));
        assert_eq!(clock.elapsed(), Duration::from_secs(2));
        clock.advance_to(start + Duration::from_secs(3));
        assert_eq!(clock.now(), start + Duration::from_secs(3));
    }

    #[test]
    fn earliest_ignores_a_side_without_timer() {
        let t = Instant::now();
        let later = t + Duration::from_secs(1);
        assert_eq!(earliest(Some(later), Some(t)), Some(t));
        assert_eq!(earliest(None, Some(t)), Some(t));
        assert_eq!(earliest(None, None), None);
    }
}
