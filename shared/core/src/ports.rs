//! Every port through which triage talks to the world, in one place: the sinks findings leave
//! through, the dedup and flap state, the digest function's queue and topic, and [`Backend`],
//! which hands a function all of them. Each port has one AWS adapter (`triage-aws`) and one
//! in-memory fake (`crate::fakes`, feature `memory`) for tests and `triage replay`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alarm::AlarmState;
use crate::clock::Clock;
use crate::dedup::{Applied, DedupError, DedupItem, Write};
use crate::digest::DigestMessage;
use crate::finding::Fingerprint;
use crate::flap::{FlapSettings, FlapState, FlapStatus};
use crate::router::Router;
use crate::ticket::{Alert, BusEvent, DigestEntry, TicketEvent};

/// Where a function's ports lead, and its clock: AWS in production (`triage_aws::Aws`), memory
/// in tests and `triage replay` (`triage_core::fakes::Memory`). Each function's `assemble`
/// takes one, so every caller builds the function the same way and only the backend differs.
pub trait Backend {
    type Tickets: TicketSink + 'static;
    type Digest: DigestSink + 'static;
    type Alerts: AlertPublisher + 'static;
    type Dedup: DedupStore + 'static;
    type Transitions: TransitionLog + 'static;
    type DigestSource: DigestSource + 'static;
    type DigestPublisher: DigestPublisher + 'static;
    type Events: EventPublisher + 'static;

    fn ticket_sink(&self, queue_url: &str) -> Self::Tickets;
    fn digest_sink(&self, queue_url: &str) -> Self::Digest;
    fn alert_publisher(&self, topic_arn: &str) -> Self::Alerts;
    fn dedup_store(&self, table_name: &str) -> Self::Dedup;
    fn transition_log(&self, table_name: &str) -> Self::Transitions;
    fn digest_source(&self, queue_url: &str) -> Self::DigestSource;
    fn digest_publisher(&self, topic_arn: &str) -> Self::DigestPublisher;
    /// triage's EventBridge bus (`EVENT_BUS_NAME`).
    fn event_publisher(&self, bus_name: &str) -> Self::Events;
    /// "Now" for dedup windows, suppression expiry and digest periods.
    fn clock(&self) -> Arc<dyn Clock>;
}

/// The router a backend's sinks make.
pub type RouterOf<B> =
    Router<<B as Backend>::Tickets, <B as Backend>::Digest, <B as Backend>::Alerts>;

/// A sink could not take a message. Nothing is reported as sent that was not sent: the caller
/// fails its invocation so that Lambda retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The service answered, but refused some entries even after retries.
    #[error(
        "{sink}: {failed} of {total} message(s) not accepted after {attempts} attempt(s): {reason}"
    )]
    Rejected {
        sink: &'static str,
        failed: usize,
        total: usize,
        attempts: u32,
        reason: String,
    },
    /// The request itself failed (network, throttling, permissions, missing queue…).
    #[error("{sink}: request failed: {reason}")]
    Request { sink: &'static str, reason: String },
    /// The message could not be encoded.
    #[error("{sink}: could not encode a message: {reason}")]
    Encode { sink: &'static str, reason: String },
}

/// The FIFO ticket queue.
pub trait TicketSink: Send + Sync {
    /// Sends every event, or fails.
    fn send_tickets(
        &self,
        events: &[TicketEvent],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// The digest queue.
pub trait DigestSink: Send + Sync {
    /// Sends every entry, or fails.
    fn send_entries(
        &self,
        entries: &[DigestEntry],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// triage's EventBridge bus.
pub trait EventPublisher: Send + Sync {
    /// Puts every event, or fails.
    fn put_events(&self, events: &[BusEvent])
    -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// [`EventPublisher`] as a trait object: the router holds its bus this way, so that its type does
/// not depend on it.
pub trait DynEventPublisher: Send + Sync {
    fn put_events_boxed<'a>(
        &'a self,
        events: &'a [BusEvent],
    ) -> BoxFuture<'a, Result<(), SinkError>>;
}

impl<P: EventPublisher> DynEventPublisher for P {
    fn put_events_boxed<'a>(
        &'a self,
        events: &'a [BusEvent],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.put_events(events))
    }
}

impl<P: EventPublisher + ?Sized> EventPublisher for Arc<P> {
    fn put_events(
        &self,
        events: &[BusEvent],
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).put_events(events)
    }
}

/// The immediate alert topic.
pub trait AlertPublisher: Send + Sync {
    /// Publishes one alert, or fails.
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// A shared sink (a test or `triage replay` keeps a handle to read what was sent).
impl<S: TicketSink + ?Sized> TicketSink for Arc<S> {
    fn send_tickets(
        &self,
        events: &[TicketEvent],
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).send_tickets(events)
    }
}

impl<S: DigestSink + ?Sized> DigestSink for Arc<S> {
    fn send_entries(
        &self,
        entries: &[DigestEntry],
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).send_entries(entries)
    }
}

impl<S: AlertPublisher + ?Sized> AlertPublisher for Arc<S> {
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).publish(alert)
    }
}

/// The dedup state table.
pub trait DedupStore: Send + Sync {
    /// The item of a fingerprint (a strongly consistent read), expired or not.
    fn load(
        &self,
        fingerprint: &Fingerprint,
    ) -> impl Future<Output = Result<Option<DedupItem>, DedupError>> + Send;

    /// Applies a conditional write.
    fn write(&self, write: &Write) -> impl Future<Output = Result<Applied, DedupError>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`DedupStore`] as a trait object. The router holds its store this way so that its type —
/// `Router<T, D, A>`, named by every function's handler — does not depend on the store.
pub trait DynDedupStore: Send + Sync {
    fn load_boxed<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
    ) -> BoxFuture<'a, Result<Option<DedupItem>, DedupError>>;
    fn write_boxed<'a>(&'a self, write: &'a Write) -> BoxFuture<'a, Result<Applied, DedupError>>;
}

impl<S: DedupStore> DynDedupStore for S {
    fn load_boxed<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
    ) -> BoxFuture<'a, Result<Option<DedupItem>, DedupError>> {
        Box::pin(self.load(fingerprint))
    }

    fn write_boxed<'a>(&'a self, write: &'a Write) -> BoxFuture<'a, Result<Applied, DedupError>> {
        Box::pin(self.write(write))
    }
}

impl DedupStore for dyn DynDedupStore + '_ {
    async fn load(&self, fingerprint: &Fingerprint) -> Result<Option<DedupItem>, DedupError> {
        self.load_boxed(fingerprint).await
    }

    async fn write(&self, write: &Write) -> Result<Applied, DedupError> {
        self.write_boxed(write).await
    }
}

/// A shared store (tests keep a handle to inspect it).
impl<S: DedupStore + ?Sized> DedupStore for Arc<S> {
    fn load(
        &self,
        fingerprint: &Fingerprint,
    ) -> impl Future<Output = Result<Option<DedupItem>, DedupError>> + Send {
        (**self).load(fingerprint)
    }

    fn write(&self, write: &Write) -> impl Future<Output = Result<Applied, DedupError>> + Send {
        (**self).write(write)
    }
}

/// The alarms' flap states (the dedup table in production).
pub trait TransitionLog: Send + Sync {
    /// The state stored under `key` (a strongly consistent read), expired or not.
    fn load(&self, key: &str)
    -> impl Future<Output = Result<Option<FlapState>, DedupError>> + Send;

    /// Stores `state` only if the stored version is still `expected_version` (`None`: only if
    /// nothing is stored under its key).
    fn store(
        &self,
        state: &FlapState,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<Applied, DedupError>> + Send;

    /// Records a state change of `alarm` and says what it means: read, [`decide`], write
    /// conditionally, and on a conflict (another invocation wrote first) read and decide again.
    fn record(
        &self,
        settings: &FlapSettings,
        alarm: &Fingerprint,
        at: DateTime<Utc>,
        state: AlarmState,
    ) -> impl Future<Output = Result<FlapStatus, DedupError>> + Send {
        crate::flap::record_change(self, settings, alarm, at, state)
    }
}

/// A shared log (tests keep a handle to inspect it).
impl<L: TransitionLog + ?Sized> TransitionLog for Arc<L> {
    fn load(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<FlapState>, DedupError>> + Send {
        (**self).load(key)
    }

    fn store(
        &self,
        state: &FlapState,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<Applied, DedupError>> + Send {
        (**self).store(state, expected_version)
    }
}

/// One message received from the digest queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    /// What deletes it.
    pub receipt_handle: String,
    pub body: String,
}

/// The digest queue could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest queue: {reason}")]
pub struct QueueError {
    pub reason: String,
}

/// What a delete of up to ten messages did. Every receipt handle is either deleted or listed in
/// `failed` with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    pub deleted: usize,
    pub failed: Vec<(String, String)>,
}

/// The digest queue, as the digest function drains it.
pub trait DigestSource: Send + Sync {
    /// Receives up to `max_messages` (≤ 10), hiding them from other receivers for `visibility`;
    /// waits up to `wait` for at least one (long polling). Empty when the queue is drained.
    fn receive(
        &self,
        max_messages: i32,
        visibility: Duration,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, QueueError>> + Send;

    /// Deletes up to ten messages (one batch call, failed entries retried where that can help).
    fn delete(
        &self,
        receipt_handles: &[String],
    ) -> impl Future<Output = Result<DeleteOutcome, QueueError>> + Send;
}

/// The digest topic.
pub trait DigestPublisher: Send + Sync {
    /// Publishes one digest message (`MessageStructure=json`), or fails.
    fn publish(
        &self,
        message: &DigestMessage,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

impl<S: DigestSource + ?Sized> DigestSource for Arc<S> {
    fn receive(
        &self,
        max_messages: i32,
        visibility: Duration,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, QueueError>> + Send {
        (**self).receive(max_messages, visibility, wait)
    }

    fn delete(
        &self,
        receipt_handles: &[String],
    ) -> impl Future<Output = Result<DeleteOutcome, QueueError>> + Send {
        (**self).delete(receipt_handles)
    }
}

impl<S: DigestPublisher + ?Sized> DigestPublisher for Arc<S> {
    fn publish(
        &self,
        message: &DigestMessage,
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).publish(message)
    }
}
