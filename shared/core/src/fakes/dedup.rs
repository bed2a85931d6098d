//! The dedup table in memory, with the DynamoDB table's exact semantics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::dedup::{Applied, DedupError, DedupItem, Write, apply};
use crate::finding::Fingerprint;
use crate::ports::DedupStore;

/// The dedup table in memory: conditional writes applied atomically under a lock with
/// [`apply`], the same semantics as the DynamoDB adapter. Can be told to fail (unavailable).
#[derive(Debug, Default)]
pub struct MemoryDedupStore {
    items: Mutex<HashMap<Fingerprint, DedupItem>>,
    /// (calls to let through, calls to fail after them)
    failures: Mutex<(usize, usize)>,
    writes: AtomicUsize,
}

impl MemoryDedupStore {
    pub fn new() -> Self {
        MemoryDedupStore::default()
    }

    /// Makes the next `calls` calls (load or write) fail as if the table were
    /// unreachable.
    pub fn fail_next(&self, calls: usize) {
        self.fail_calls(0, calls);
    }

    /// Lets the next `pass` calls through, then fails `fail` calls.
    pub fn fail_calls(&self, pass: usize, fail: usize) {
        if let Ok(mut f) = self.failures.lock() {
            *f = (pass, fail);
        }
    }

    /// The stored item of a fingerprint.
    pub fn get(&self, fingerprint: &Fingerprint) -> Option<DedupItem> {
        self.items
            .lock()
            .ok()
            .and_then(|m| m.get(fingerprint).cloned())
    }

    /// Every stored item.
    pub fn items(&self) -> Vec<DedupItem> {
        self.items
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Conditional writes applied so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), DedupError> {
        let armed = match self.failures.lock() {
            Ok(mut f) => match *f {
                (0, 0) => false,
                (0, fail) => {
                    f.1 = fail - 1;
                    true
                }
                (pass, _) => {
                    f.0 = pass - 1;
                    false
                }
            },
            Err(_) => true,
        };
        if armed {
            Err(DedupError::Unavailable {
                reason: "injected failure".into(),
            })
        } else {
            Ok(())
        }
    }

    fn locked(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<Fingerprint, DedupItem>>, DedupError> {
        self.items.lock().map_err(|_| DedupError::Unavailable {
            reason: "memory dedup store lock poisoned".into(),
        })
    }
}

impl DedupStore for MemoryDedupStore {
    async fn load(&self, fingerprint: &Fingerprint) -> Result<Option<DedupItem>, DedupError> {
        self.check()?;
        Ok(self.locked()?.get(fingerprint).cloned())
    }

    async fn write(&self, write: &Write) -> Result<Applied, DedupError> {
        self.check()?;
        let mut items = self.locked()?;
        let key = write.fingerprint().clone();
        match apply(items.get(&key), write) {
            Some(next) => {
                items.insert(key, next);
                self.writes.fetch_add(1, Ordering::SeqCst);
                Ok(Applied::Yes)
            }
            None => Ok(Applied::Conflict),
        }
    }
}
