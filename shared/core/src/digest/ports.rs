//! The digest function's ports: the digest queue it drains and the topic it publishes to.

use std::future::Future;
use std::time::Duration;

use super::DigestMessage;
use crate::ports::SinkError;

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

/// The digest queue.
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
