//! SQS sinks: full batches of ten, and every per-entry failure looked at and retried.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tracing::{instrument, warn};
use triage_core::ports::{DigestSink, SinkError, TicketSink};
use triage_core::{DigestEntry, TicketEvent};

/// SQS takes at most ten entries per `SendMessageBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// …and at most this many bytes of bodies per batch (the long-standing 256 KiB limit, which
/// every SQS endpoint and emulator accepts).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// How per-entry failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Attempts per entry, the first included.
    pub attempts: u32,
    /// Pause before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            attempts: 4,
            backoff: Duration::from_millis(50),
        }
    }
}

/// The FIFO ticket queue: `MessageGroupId` = fingerprint, `MessageDeduplicationId` = hash of
/// the body.
#[derive(Debug, Clone)]
pub struct SqsTicketSink {
    client: Client,
    queue_url: String,
    policy: BatchPolicy,
}

impl SqsTicketSink {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsTicketSink {
            client,
            queue_url: queue_url.into(),
            policy: BatchPolicy::default(),
        }
    }

    pub fn with_policy(mut self, policy: BatchPolicy) -> Self {
        self.policy = policy;
        self
    }
}

/// The digest queue (standard).
#[derive(Debug, Clone)]
pub struct SqsDigestSink {
    client: Client,
    queue_url: String,
    policy: BatchPolicy,
}

impl SqsDigestSink {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsDigestSink {
            client,
            queue_url: queue_url.into(),
            policy: BatchPolicy::default(),
        }
    }

    pub fn with_policy(mut self, policy: BatchPolicy) -> Self {
        self.policy = policy;
        self
    }
}

const TICKETS: &str = "SQS ticket queue";
const DIGEST: &str = "SQS digest queue";

fn encode_error(sink: &'static str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Encode {
        sink,
        reason: e.to_string(),
    }
}

fn build_error(sink: &'static str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Encode {
        sink,
        reason: format!("invalid batch entry: {e}"),
    }
}

/// Ticket events as batch entries (ids are their index).
pub fn ticket_entries(
    events: &[TicketEvent],
) -> Result<Vec<SendMessageBatchRequestEntry>, SinkError> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let body = event.body().map_err(|e| encode_error(TICKETS, e))?;
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_group_id(event.message_group_id())
                .message_deduplication_id(event.deduplication_id(&body))
                .message_body(body)
                .build()
                .map_err(|e| build_error(TICKETS, e))
        })
        .collect()
}

/// Digest entries as batch entries (ids are their index).
pub fn digest_entries(
    entries: &[DigestEntry],
) -> Result<Vec<SendMessageBatchRequestEntry>, SinkError> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let body = entry.body().map_err(|e| encode_error(DIGEST, e))?;
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .map_err(|e| build_error(DIGEST, e))
        })
        .collect()
}

/// Splits entries into batches of at most ten entries and [`MAX_BATCH_BYTES`] of bodies.
fn batches(entries: Vec<SendMessageBatchRequestEntry>) -> Vec<Vec<SendMessageBatchRequestEntry>> {
    let mut out: Vec<Vec<SendMessageBatchRequestEntry>> = Vec::new();
    let mut bytes = 0usize;
    for entry in entries {
        let size = entry.message_body().len();
        let full = out
            .last()
            .is_none_or(|b| b.len() == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES);
        if full {
            out.push(Vec::with_capacity(MAX_BATCH_ENTRIES));
            bytes = 0;
        }
        bytes += size;
        if let Some(batch) = out.last_mut() {
            batch.push(entry);
        }
    }
    out
}

/// Sends every entry; entries SQS refuses are retried (unless the fault is the sender's), and
/// anything still refused after the policy's attempts fails the whole call.
#[instrument(skip_all, fields(sink, entries = entries.len()))]
async fn send_all(
    client: &Client,
    queue_url: &str,
    sink: &'static str,
    policy: BatchPolicy,
    entries: Vec<SendMessageBatchRequestEntry>,
) -> Result<(), SinkError> {
    let total = entries.len();
    for batch in batches(entries) {
        let mut pending = batch;
        let mut attempt = 1u32;
        let mut backoff = policy.backoff;
        loop {
            let output = client
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .map_err(|e| SinkError::Request {
                    sink,
                    reason: DisplayErrorContext(&e).to_string(),
                })?;
            let failed = output.failed();
            if failed.is_empty() {
                break;
            }
            let sender_fault = failed.iter().find(|f| f.sender_fault());
            let reason = failed
                .iter()
                .map(|f| format!("{} {}", f.code(), f.message().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("; ");
            if sender_fault.is_some() || attempt >= policy.attempts {
                return Err(SinkError::Rejected {
                    sink,
                    failed: failed.len(),
                    total,
                    attempts: attempt,
                    reason,
                });
            }
            warn!(failed = failed.len(), attempt, %reason, "SQS refused some batch entries; retrying them");
            let failed_ids: Vec<&str> = failed.iter().map(|f| f.id()).collect();
            pending.retain(|e| failed_ids.contains(&e.id()));
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
            attempt += 1;
        }
    }
    Ok(())
}

impl TicketSink for SqsTicketSink {
    async fn send_tickets(&self, events: &[TicketEvent]) -> Result<(), SinkError> {
        let entries = ticket_entries(events)?;
        send_all(&self.client, &self.queue_url, TICKETS, self.policy, entries).await
    }
}

impl DigestSink for SqsDigestSink {
    async fn send_entries(&self, entries: &[DigestEntry]) -> Result<(), SinkError> {
        let entries = digest_entries(entries)?;
        send_all(&self.client, &self.queue_url, DIGEST, self.policy, entries).await
    }
}
