//! The digest queue and topic: [`SqsPackedDigestSink`] writes digest entries packed several to
//! a message; the digest function's [`SqsDigestSource`] drains the queue (`ReceiveMessage` of
//! ten, `DeleteMessageBatch` of ten with every per-entry failure looked at) and
//! [`SnsDigestPublisher`] publishes a digest message to the digest topic
//! (`MessageStructure=json`).
//!
//! Why pack: each queue message costs a share of one receive and one delete (batches of ten), so
//! with one entry per message the digest costs 0.2 API calls per entry whatever it does.
//! Packing the entries of one invocation into a few messages divides that by the entries per
//! message. The reader accepts both forms (`triage_core::digest::parse_message`).

use std::time::Duration;

use aws_sdk_sns::error::DisplayErrorContext as SnsErrorContext;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use tracing::instrument;
use triage_core::digest::DigestMessage;
use triage_core::ports::{
    DeleteOutcome, DigestPublisher, DigestSink, DigestSource, QueueError, Received, SinkError,
};
use triage_core::{DigestEntry, SCHEMA_VERSION};

use crate::batch::{Answer, BatchPolicy, with_retries};
use crate::sqs::{build_error, send_all};

/// SQS's batch limit for receives and deletes.
pub const MAX_BATCH: usize = 10;

const DIGEST_TOPIC: &str = "SNS digest topic";
const DIGEST_QUEUE: &str = "SQS digest queue";

/// The largest packed message: ten of them fit one 256 KiB `SendMessageBatch`.
pub const MAX_PACKED_MESSAGE_BYTES: usize = 24 * 1024;

/// Packs digest entries into message bodies of at most `max_bytes` (an entry larger than that
/// travels alone): a single entry is sent as the entry itself (the `digest-entry` schema),
/// several as `{"schema_version": 2, "entries": [...]}` (the `digest-batch` schema).
pub fn pack_digest_entries(
    entries: &[DigestEntry],
    max_bytes: usize,
) -> Result<Vec<String>, SinkError> {
    let envelope = format!("{{\"schema_version\":{SCHEMA_VERSION},\"entries\":[]}}").len();
    let flush = |bodies: &mut Vec<String>, out: &mut Vec<String>| {
        match bodies.len() {
            0 => {}
            1 => out.append(bodies),
            _ => out.push(format!(
                "{{\"schema_version\":{SCHEMA_VERSION},\"entries\":[{}]}}",
                bodies.join(",")
            )),
        }
        bodies.clear();
    };
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = envelope;
    for entry in entries {
        let body = entry.body().map_err(|e| SinkError::Encode {
            sink: DIGEST_QUEUE,
            reason: e.to_string(),
        })?;
        if !current.is_empty() && size + body.len() + 1 > max_bytes {
            flush(&mut current, &mut out);
            size = envelope;
        }
        size += body.len() + 1;
        current.push(body);
    }
    flush(&mut current, &mut out);
    Ok(out)
}

/// The digest queue, written with the entries of one call packed into as few messages as fit
/// [`MAX_PACKED_MESSAGE_BYTES`], ten messages per `SendMessageBatch`; refused entries are
/// retried (unless the fault is the sender's) and anything still refused fails the call.
#[derive(Debug, Clone)]
pub struct SqsPackedDigestSink {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    policy: BatchPolicy,
    max_message_bytes: usize,
}

impl SqsPackedDigestSink {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsPackedDigestSink {
            client,
            queue_url: queue_url.into(),
            policy: BatchPolicy::default(),
            max_message_bytes: MAX_PACKED_MESSAGE_BYTES,
        }
    }

    pub fn with_policy(mut self, policy: BatchPolicy) -> Self {
        self.policy = policy;
        self
    }
}

impl DigestSink for SqsPackedDigestSink {
    #[instrument(skip_all, fields(entries = entries.len()))]
    async fn send_entries(&self, entries: &[DigestEntry]) -> Result<(), SinkError> {
        let messages = pack_digest_entries(entries, self.max_message_bytes)?
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| build_error(DIGEST_QUEUE, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        send_all(
            &self.client,
            &self.queue_url,
            DIGEST_QUEUE,
            self.policy,
            messages,
        )
        .await
    }
}

/// The digest queue, read by the digest function.
#[derive(Debug, Clone)]
pub struct SqsDigestSource {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    policy: BatchPolicy,
}

impl SqsDigestSource {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsDigestSource {
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

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

/// The batch entries of a delete (ids are their index).
pub fn delete_entries(
    receipt_handles: &[String],
) -> Result<Vec<DeleteMessageBatchRequestEntry>, QueueError> {
    receipt_handles
        .iter()
        .enumerate()
        .map(|(i, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
                .map_err(|e| QueueError {
                    reason: format!("invalid delete entry: {e}"),
                })
        })
        .collect()
}

impl DigestSource for SqsDigestSource {
    async fn receive(
        &self,
        max_messages: i32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max_messages.clamp(1, 10))
            .visibility_timeout(seconds(visibility).clamp(0, 43_200))
            .wait_time_seconds(seconds(wait).clamp(0, 20))
            .send()
            .await
            .map_err(|e| QueueError {
                reason: format!("ReceiveMessage: {}", DisplayErrorContext(&e)),
            })?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Received {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    /// One `DeleteMessageBatch` of up to ten; entries that fail for a reason on AWS's side are
    /// retried with backoff, entries refused as the sender's fault (an expired receipt handle)
    /// are reported at once. Every handle ends up deleted or in `failed`.
    async fn delete(&self, receipt_handles: &[String]) -> Result<DeleteOutcome, QueueError> {
        if receipt_handles.is_empty() {
            return Ok(DeleteOutcome::default());
        }
        if receipt_handles.len() > MAX_BATCH {
            return Err(QueueError {
                reason: format!(
                    "DeleteMessageBatch takes at most {MAX_BATCH} entries, got {}",
                    receipt_handles.len()
                ),
            });
        }
        let entries = delete_entries(receipt_handles)?;
        let delete = |entries: Vec<DeleteMessageBatchRequestEntry>| async move {
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError {
                    reason: format!("DeleteMessageBatch: {}", DisplayErrorContext(&e)),
                })?;
            Ok(Answer {
                succeeded: out.successful().iter().map(|s| s.id().to_owned()).collect(),
                failed: out.failed().to_vec(),
            })
        };
        let total = entries.len();
        let refused = with_retries(
            self.policy,
            "DeleteMessageBatch",
            entries,
            |e| e.id(),
            delete,
        )
        .await?;
        Ok(DeleteOutcome {
            deleted: total - refused.entries.len(),
            failed: refused
                .entries
                .into_iter()
                .map(|(e, reason)| (e.receipt_handle().to_owned(), reason))
                .collect(),
        })
    }
}

/// The digest topic.
#[derive(Debug, Clone)]
pub struct SnsDigestPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsDigestPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsDigestPublisher {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// The `Publish` parameters of a digest message: (subject, message, message structure).
pub fn digest_request(
    message: &DigestMessage,
) -> Result<(String, String, &'static str), SinkError> {
    let body = message.sns_message().map_err(|e| SinkError::Encode {
        sink: DIGEST_TOPIC,
        reason: e.to_string(),
    })?;
    Ok((message.subject.clone(), body, "json"))
}

impl DigestPublisher for SnsDigestPublisher {
    async fn publish(&self, message: &DigestMessage) -> Result<(), SinkError> {
        let (subject, body, structure) = digest_request(message)?;
        let attributes = crate::sns::sns_attributes(DIGEST_TOPIC, &message.attributes)?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(body)
            .message_structure(structure)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| SinkError::Request {
                sink: DIGEST_TOPIC,
                reason: SnsErrorContext(&e).to_string(),
            })?;
        Ok(())
    }
}
