//! In-memory implementations of the ports: they record what they are given, and can be told to
//! fail, so tests and the local CLI see exactly what would have been sent.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ports::{AlertPublisher, DigestSink, SinkError, TicketSink};
use crate::ticket::{Alert, DigestEntry, TicketEvent};

/// Records every call; fails the next `n` calls when armed with [`Recorder::fail_next`].
#[derive(Debug)]
pub struct Recorder<T> {
    name: &'static str,
    sent: Mutex<Vec<T>>,
    failures_left: AtomicUsize,
}

impl<T: Clone> Recorder<T> {
    pub fn new(name: &'static str) -> Self {
        Recorder {
            name,
            sent: Mutex::new(Vec::new()),
            failures_left: AtomicUsize::new(0),
        }
    }

    /// Makes the next `calls` calls fail with a request error.
    pub fn fail_next(&self, calls: usize) {
        self.failures_left.store(calls, Ordering::SeqCst);
    }

    /// Everything accepted so far.
    pub fn sent(&self) -> Vec<T> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Takes everything accepted so far, leaving the recorder empty.
    pub fn take(&self) -> Vec<T> {
        self.sent
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    fn record(&self, items: &[T]) -> Result<(), SinkError> {
        let armed = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            return Err(SinkError::Request {
                sink: self.name,
                reason: "injected failure".into(),
            });
        }
        self.sent
            .lock()
            .map_err(|_| SinkError::Request {
                sink: self.name,
                reason: "recorder lock poisoned".into(),
            })?
            .extend_from_slice(items);
        Ok(())
    }
}

pub type MemoryTicketSink = Recorder<TicketEvent>;
pub type MemoryDigestSink = Recorder<DigestEntry>;
pub type MemoryAlertPublisher = Recorder<Alert>;

impl Default for Recorder<TicketEvent> {
    fn default() -> Self {
        Recorder::new("memory ticket sink")
    }
}

impl Default for Recorder<DigestEntry> {
    fn default() -> Self {
        Recorder::new("memory digest sink")
    }
}

impl Default for Recorder<Alert> {
    fn default() -> Self {
        Recorder::new("memory alert publisher")
    }
}

impl TicketSink for Recorder<TicketEvent> {
    async fn send_tickets(&self, events: &[TicketEvent]) -> Result<(), SinkError> {
        self.record(events)
    }
}

impl DigestSink for Recorder<DigestEntry> {
    async fn send_entries(&self, entries: &[DigestEntry]) -> Result<(), SinkError> {
        self.record(entries)
    }
}

impl AlertPublisher for Recorder<Alert> {
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError> {
        self.record(std::slice::from_ref(alert))
    }
}
