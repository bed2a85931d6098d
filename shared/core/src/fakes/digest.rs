//! The digest queue and the digest topic in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::digest::DigestMessage;
use crate::ports::{DeleteOutcome, DigestPublisher, DigestSource, QueueError, Received, SinkError};

#[derive(Debug, Default)]
struct QueueState {
    next: u64,
    /// id → (body, in flight)
    messages: BTreeMap<u64, (String, bool)>,
}

/// A queue: received messages stay hidden until deleted or [`MemoryDigestQueue::release`]d
/// (as if their visibility timeout ran out). Counts its calls.
#[derive(Debug, Default)]
pub struct MemoryDigestQueue {
    state: Mutex<QueueState>,
    pub receives: AtomicUsize,
    pub deletes: AtomicUsize,
    failing_deletes: AtomicUsize,
}

impl MemoryDigestQueue {
    pub fn new() -> Self {
        MemoryDigestQueue::default()
    }

    pub fn push(&self, body: impl Into<String>) {
        if let Ok(mut s) = self.state.lock() {
            let id = s.next;
            s.next += 1;
            s.messages.insert(id, (body.into(), false));
        }
    }

    /// Messages still on the queue (visible or in flight).
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.messages.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes every in-flight message visible again.
    pub fn release(&self) {
        if let Ok(mut s) = self.state.lock() {
            for m in s.messages.values_mut() {
                m.1 = false;
            }
        }
    }

    /// Makes the next `n` deletes of single messages fail (reported per entry).
    pub fn fail_deletes(&self, n: usize) {
        self.failing_deletes.store(n, Ordering::SeqCst);
    }
}

impl DigestSource for MemoryDigestQueue {
    async fn receive(
        &self,
        max_messages: i32,
        _visibility: Duration,
        _wait: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        self.receives.fetch_add(1, Ordering::SeqCst);
        let mut s = self.state.lock().map_err(|_| QueueError {
            reason: "lock poisoned".into(),
        })?;
        let max = usize::try_from(max_messages.clamp(1, 10)).unwrap_or(10);
        let mut out = Vec::new();
        for (id, (body, in_flight)) in s.messages.iter_mut() {
            if out.len() == max {
                break;
            }
            if !*in_flight {
                *in_flight = true;
                out.push(Received {
                    message_id: id.to_string(),
                    receipt_handle: id.to_string(),
                    body: body.clone(),
                });
            }
        }
        Ok(out)
    }

    async fn delete(&self, receipt_handles: &[String]) -> Result<DeleteOutcome, QueueError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        let mut s = self.state.lock().map_err(|_| QueueError {
            reason: "lock poisoned".into(),
        })?;
        let mut outcome = DeleteOutcome::default();
        for handle in receipt_handles {
            let failing = self
                .failing_deletes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let removed = !failing
                && handle
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| s.messages.remove(&id))
                    .is_some();
            if removed {
                outcome.deleted += 1;
            } else {
                outcome
                    .failed
                    .push((handle.clone(), "ReceiptHandleIsInvalid".into()));
            }
        }
        Ok(outcome)
    }
}

/// A topic that records what it publishes; can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryDigestPublisher {
    published: Mutex<Vec<DigestMessage>>,
    failures_left: AtomicUsize,
}

impl MemoryDigestPublisher {
    pub fn new() -> Self {
        MemoryDigestPublisher::default()
    }

    pub fn fail_next(&self, n: usize) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    pub fn published(&self) -> Vec<DigestMessage> {
        self.published.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl DigestPublisher for MemoryDigestPublisher {
    async fn publish(&self, message: &DigestMessage) -> Result<(), SinkError> {
        let armed = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            return Err(SinkError::Request {
                sink: "memory digest publisher",
                reason: "injected failure".into(),
            });
        }
        self.published
            .lock()
            .map_err(|_| SinkError::Request {
                sink: "memory digest publisher",
                reason: "lock poisoned".into(),
            })?
            .push(message.clone());
        Ok(())
    }
}
