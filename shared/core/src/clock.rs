//! Wall-clock time behind a small trait, so that dedup windows and suppression expiry are tested
//! with an injected clock and `triage replay` can follow the events' own timestamps.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock (what the Lambdas use).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is moved: for tests, and for `triage replay`, which moves
/// it to each event's time. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl Default for ManualClock {
    /// At the Unix epoch, to be moved forward.
    fn default() -> Self {
        ManualClock::new(DateTime::UNIX_EPOCH)
    }
}

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = at;
        }
    }

    /// Moves the clock forward to `at`; never backwards.
    pub fn advance_to(&self, at: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            if at > *now {
                *now = at;
            }
        }
    }

    pub fn advance(&self, by: TimeDelta) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|now| *now).unwrap_or_else(|_| Utc::now())
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_manual_clock_is_shared_by_its_clones_and_only_advances_forward() {
        let t = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let clock = ManualClock::new(t);
        let shared = clock.clone();
        clock.advance(TimeDelta::minutes(5));
        assert_eq!(shared.now(), t + TimeDelta::minutes(5));
        shared.advance_to(t);
        assert_eq!(clock.now(), t + TimeDelta::minutes(5), "never backwards");
        clock.set(t);
        assert_eq!(shared.now(), t);
    }
}
