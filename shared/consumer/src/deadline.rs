//! How long an invocation may still spend: the Lambda deadline less a margin kept for reporting
//! the batch. Retries of a ticket system's throttling and outages wait only while it allows.

use std::time::{Duration, Instant};

/// 2001-09-09 in epoch milliseconds: no Lambda deadline is earlier.
const NOT_BEFORE_EPOCH_MS: u64 = 1_000_000_000_000;
/// The time assumed when the runtime's deadline is not a time.
pub const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// `remaining` from now (the invocation's remaining time less the margin).
    pub fn after(remaining: Duration) -> Self {
        // An absurd deadline (years away) is capped, never an overflow.
        let remaining = remaining.min(Duration::from_secs(24 * 3600));
        Deadline {
            at: Instant::now() + remaining,
        }
    }

    /// From Lambda's deadline (milliseconds since the epoch) less `margin`. A deadline that is
    /// not a time since the epoch at all (before 2001: cargo-lambda's emulator sends the
    /// timeout, `600000`) gives [`UNKNOWN_DEADLINE_BUDGET`] less `margin`.
    pub fn from_lambda(deadline_epoch_ms: u64, margin: Duration) -> Self {
        if deadline_epoch_ms < NOT_BEFORE_EPOCH_MS {
            tracing::warn!(
                deadline_ms = deadline_epoch_ms,
                "the runtime's deadline is not a time: assuming {} s",
                UNKNOWN_DEADLINE_BUDGET.as_secs()
            );
            return Self::after(UNKNOWN_DEADLINE_BUDGET.saturating_sub(margin));
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let left = u128::from(deadline_epoch_ms).saturating_sub(now_ms);
        let left = Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
        Self::after(left.saturating_sub(margin))
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn passed(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Whether waiting `wait` (and then making a request) still fits.
    pub fn allows(&self, wait: Duration) -> bool {
        wait < self.remaining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_in_the_past_has_passed_and_allows_no_wait() {
        let d = Deadline::from_lambda(1_700_000_000_000, Duration::from_secs(5));
        assert!(d.passed());
        assert!(!d.allows(Duration::ZERO));
        let d = Deadline::after(Duration::from_secs(60));
        assert!(d.allows(Duration::from_secs(1)));
        assert!(!d.allows(Duration::from_secs(61)));
    }

    #[test]
    fn a_deadline_that_is_not_a_time_gets_the_default_budget() {
        let d = Deadline::from_lambda(600_000, Duration::from_secs(5));
        assert!(d.allows(Duration::from_secs(20)));
        assert!(!d.allows(Duration::from_secs(26)));
    }
}
