//! The narrow ports through which findings leave triage. Each has one AWS adapter (in
//! `triage-aws`) and an in-memory fake (in [`crate::fakes`]) for tests and the local CLI.

use std::future::Future;

use crate::ticket::{Alert, DigestEntry, TicketEvent};

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

/// The immediate alert topic.
pub trait AlertPublisher: Send + Sync {
    /// Publishes one alert, or fails.
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), SinkError>> + Send;
}
