//! The injected clock: nothing in frontdesk reads the system time directly, so "this
//! month" can be set in tests, evals and demos (`FRONTDESK_NOW`): a clock that starts
//! there and moves on with real time (a demo behaves like the real thing: a payment made
//! now shows in "today"), or one stopped there (`FRONTDESK_CLOCK=frozen`, for tests).

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of "now".
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// The real time, for marks the database server expires by its own clock (TTL
    /// indexes): with a clock set in the past (`FRONTDESK_NOW`), a mark made to last two
    /// days from "now" would be swept away at the server's next pass.
    fn wall(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock shared by every part of a running service.
pub type SharedClock = Arc<dyn Clock>;

/// The real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock that read `start` at `since` and moves on with real time from there.
#[derive(Debug, Clone, Copy)]
pub struct MovingClock {
    start: DateTime<Utc>,
    since: std::time::Instant,
}

impl MovingClock {
    /// A clock that reads `start` now.
    #[must_use]
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self::anchored(start, std::time::Instant::now())
    }

    /// A clock that read `start` at `since`: clocks anchored alike read alike, however
    /// much later each is made.
    #[must_use]
    pub fn anchored(start: DateTime<Utc>, since: std::time::Instant) -> Self {
        Self { start, since }
    }
}

impl Clock for MovingClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.since.elapsed()).unwrap_or_default();
        self.start + elapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moving_clock_starts_where_it_was_set_and_moves_on() {
        let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = MovingClock::starting_at(start);
        let first = clock.now();
        assert!(first >= start && first - start < chrono::Duration::seconds(1));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(clock.now() > first);
    }
}
