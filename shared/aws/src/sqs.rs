//! The FIFO ticket queue sink, and the batching every SQS send shares: full batches of ten
//! within SQS's size limit, every per-entry failure looked at and retried.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tracing::instrument;
use triage_core::TicketEvent;
use triage_core::ports::{SinkError, TicketSink};

use crate::batch::{Answer, BatchPolicy, with_retries};

/// SQS takes at most ten entries per `SendMessageBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// …and at most this many bytes of bodies per batch (the long-standing 256 KiB limit, which
/// every SQS endpoint and emulator accepts).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

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

const TICKETS: &str = "SQS ticket queue";

pub(crate) fn encode_error(sink: &'static str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Encode {
        sink,
        reason: e.to_string(),
    }
}

pub(crate) fn build_error(sink: &'static str, e: impl std::fmt::Display) -> SinkError {
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

/// Sends every entry in full batches; entries SQS refuses are retried (unless the fault is the
/// sender's), and anything still refused after the policy's attempts fails the whole call.
#[instrument(skip_all, fields(sink, entries = entries.len()))]
pub(crate) async fn send_all(
    client: &Client,
    queue_url: &str,
    sink: &'static str,
    policy: BatchPolicy,
    entries: Vec<SendMessageBatchRequestEntry>,
) -> Result<(), SinkError> {
    let total = entries.len();
    for batch in batches(entries) {
        let send = |entries: Vec<SendMessageBatchRequestEntry>| async move {
            let out = client
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| SinkError::Request {
                    sink,
                    reason: DisplayErrorContext(&e).to_string(),
                })?;
            Ok(Answer {
                succeeded: out.successful().iter().map(|s| s.id().to_owned()).collect(),
                failed: out.failed().to_vec(),
            })
        };
        let refused = with_retries(policy, "SendMessageBatch", batch, |e| e.id(), send).await?;
        if !refused.entries.is_empty() {
            return Err(SinkError::Rejected {
                sink,
                failed: refused.entries.len(),
                total,
                attempts: refused.attempts,
                reason: refused.reason(),
            });
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
