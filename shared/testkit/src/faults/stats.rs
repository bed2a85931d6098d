//! What the proxy injected, counted in total and per operation.

use std::collections::BTreeMap;
use std::fmt;

use super::Fault;

/// What the proxy did, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub requests: u64,
    pub passed: u64,
    pub throttled: u64,
    pub internal_errors: u64,
    pub dropped_before: u64,
    pub dropped_after: u64,
    /// Batch answers rewritten…
    pub partial_batches: u64,
    /// …and the entries they reported failed.
    pub failed_entries: u64,
}

impl FaultCounts {
    /// Requests that got a fault.
    pub fn injected(&self) -> u64 {
        self.throttled
            + self.internal_errors
            + self.dropped_before
            + self.dropped_after
            + self.partial_batches
    }

    fn add(&mut self, fault: Fault, failed_entries: u64) {
        self.requests += 1;
        match fault {
            Fault::Pass => self.passed += 1,
            Fault::Throttle => self.throttled += 1,
            Fault::InternalError => self.internal_errors += 1,
            Fault::DropBefore => self.dropped_before += 1,
            Fault::DropAfter => self.dropped_after += 1,
            Fault::PartialBatch => {
                self.partial_batches += 1;
                self.failed_entries += failed_entries;
            }
        }
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (throttle={} 500={} drop_before={} drop_after={} partial_batch={}/{} entries; requests={})",
            self.injected(),
            self.throttled,
            self.internal_errors,
            self.dropped_before,
            self.dropped_after,
            self.partial_batches,
            self.failed_entries,
            self.requests
        )
    }
}

/// Counts in total and per operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub total: FaultCounts,
    pub by_operation: BTreeMap<String, FaultCounts>,
}

impl FaultStats {
    pub fn operation(&self, name: &str) -> FaultCounts {
        self.by_operation.get(name).copied().unwrap_or_default()
    }

    /// Counts one request to `operation` that got `fault`.
    pub(super) fn add(&mut self, operation: &str, fault: Fault, failed_entries: u64) {
        self.total.add(fault, failed_entries);
        self.by_operation
            .entry(operation.to_owned())
            .or_default()
            .add(fault, failed_entries);
    }
}
