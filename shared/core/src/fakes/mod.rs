//! Every port in memory (feature `memory`): sinks that record what they are given, the dedup
//! table and the flap states with the DynamoDB table's conditional-write semantics, the digest
//! queue and topic. Each can be told to fail. [`Memory`] is the [`Backend`] that hands them to a
//! function's `assemble`, for tests and `triage replay`.

mod dedup;
mod digest;
mod findings;
mod flap;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use dedup::MemoryDedupStore;
pub use digest::{MemoryDigestPublisher, MemoryDigestQueue};
pub use findings::{at, finding, finding_about};
pub use flap::MemoryTransitionLog;

use crate::clock::{Clock, SystemClock};
use crate::ports::{AlertPublisher, Backend, DigestSink, EventPublisher, SinkError, TicketSink};
use crate::ticket::{Alert, BusEvent, DigestEntry, TicketEvent};

/// The in-memory backend: one of each port, shared, so the caller reads back what the function
/// it assembled sent. Queue URLs, topic ARNs and table names are ignored. The clock is the
/// system's unless [`Memory::with_clock`] says otherwise.
#[derive(Clone)]
pub struct Memory {
    pub tickets: Arc<MemoryTicketSink>,
    pub digest: Arc<MemoryDigestSink>,
    pub alerts: Arc<MemoryAlertPublisher>,
    pub dedup: Arc<MemoryDedupStore>,
    pub transitions: Arc<MemoryTransitionLog>,
    pub digest_queue: Arc<MemoryDigestQueue>,
    pub digest_topic: Arc<MemoryDigestPublisher>,
    /// triage's EventBridge bus.
    pub events: Arc<MemoryEventPublisher>,
    clock: Arc<dyn Clock>,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            tickets: Arc::default(),
            digest: Arc::default(),
            alerts: Arc::default(),
            dedup: Arc::default(),
            transitions: Arc::default(),
            digest_queue: Arc::default(),
            digest_topic: Arc::default(),
            events: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Memory {
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

impl Backend for Memory {
    type Tickets = Arc<MemoryTicketSink>;
    type Digest = Arc<MemoryDigestSink>;
    type Alerts = Arc<MemoryAlertPublisher>;
    type Dedup = Arc<MemoryDedupStore>;
    type Transitions = Arc<MemoryTransitionLog>;
    type DigestSource = Arc<MemoryDigestQueue>;
    type DigestPublisher = Arc<MemoryDigestPublisher>;
    type Events = Arc<MemoryEventPublisher>;

    fn ticket_sink(&self, _queue_url: &str) -> Self::Tickets {
        self.tickets.clone()
    }
    fn digest_sink(&self, _queue_url: &str) -> Self::Digest {
        self.digest.clone()
    }
    fn alert_publisher(&self, _topic_arn: &str) -> Self::Alerts {
        self.alerts.clone()
    }
    fn dedup_store(&self, _table_name: &str) -> Self::Dedup {
        self.dedup.clone()
    }
    fn transition_log(&self, _table_name: &str) -> Self::Transitions {
        self.transitions.clone()
    }
    fn digest_source(&self, _queue_url: &str) -> Self::DigestSource {
        self.digest_queue.clone()
    }
    fn digest_publisher(&self, _topic_arn: &str) -> Self::DigestPublisher {
        self.digest_topic.clone()
    }
    fn event_publisher(&self, _bus_name: &str) -> Self::Events {
        self.events.clone()
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}

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
pub type MemoryEventPublisher = Recorder<BusEvent>;

impl Default for Recorder<BusEvent> {
    fn default() -> Self {
        Recorder::new("memory event bus")
    }
}

impl EventPublisher for Recorder<BusEvent> {
    async fn put_events(&self, events: &[BusEvent]) -> Result<(), SinkError> {
        self.record(events)
    }
}

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
