//! The alarms' flap states in memory, with the table's conditional-write semantics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::dedup::{Applied, DedupError};
use crate::flap::FlapState;
use crate::ports::TransitionLog;

/// Flap states in memory, each write applied atomically under a lock with the same condition
/// as the DynamoDB adapter (absent, or the version read). Can be told to fail (unavailable).
#[derive(Debug, Default)]
pub struct MemoryTransitionLog {
    states: Mutex<HashMap<String, FlapState>>,
    /// Calls (load or store) still to fail.
    failures: AtomicUsize,
    writes: AtomicUsize,
}

impl MemoryTransitionLog {
    pub fn new() -> Self {
        MemoryTransitionLog::default()
    }

    /// Makes the next `calls` calls fail as if the table were unreachable.
    pub fn fail_next(&self, calls: usize) {
        self.failures.store(calls, Ordering::SeqCst);
    }

    /// The state stored under `key`.
    pub fn get(&self, key: &str) -> Option<FlapState> {
        self.states.lock().ok().and_then(|m| m.get(key).cloned())
    }

    /// Writes applied so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), DedupError> {
        let armed = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            Err(DedupError::Unavailable {
                reason: "injected failure".into(),
            })
        } else {
            Ok(())
        }
    }

    fn locked(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, FlapState>>, DedupError> {
        self.states.lock().map_err(|_| DedupError::Unavailable {
            reason: "memory transition log lock poisoned".into(),
        })
    }
}

impl TransitionLog for MemoryTransitionLog {
    async fn load(&self, key: &str) -> Result<Option<FlapState>, DedupError> {
        self.check()?;
        Ok(self.locked()?.get(key).cloned())
    }

    async fn store(
        &self,
        state: &FlapState,
        expected_version: Option<u64>,
    ) -> Result<Applied, DedupError> {
        self.check()?;
        let mut states = self.locked()?;
        let current = states.get(&state.key).map(|s| s.version);
        if current != expected_version {
            return Ok(Applied::Conflict);
        }
        states.insert(state.key.clone(), state.clone());
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(Applied::Yes)
    }
}
