//! The SQS event Lambda's event source mapping hands a consumer, and the partial batch response
//! it answers with (`ReportBatchItemFailures`): the ids of the messages to leave on the queue.
//!
//! FIFO semantics: the messages of one message group (one fingerprint) must be applied in order.
//! Once one of them fails, the rest of that group in the batch is not processed and is reported
//! failed with it, so that it comes back, in order, after the failed one; the other groups of
//! the batch go on.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// The SQS event (only what a consumer reads).
#[derive(Debug, Clone, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<QueueMessage>,
}

/// One message of the batch.
#[derive(Debug, Clone, Deserialize)]
pub struct QueueMessage {
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub attributes: MessageAttributes,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageAttributes {
    #[serde(rename = "MessageGroupId")]
    pub message_group_id: Option<String>,
    #[serde(rename = "ApproximateReceiveCount")]
    pub approximate_receive_count: Option<String>,
}

impl QueueMessage {
    /// The FIFO message group; a message without one (not from a FIFO queue) is its own group.
    pub fn group(&self) -> &str {
        self.attributes
            .message_group_id
            .as_deref()
            .unwrap_or(&self.message_id)
    }
}

/// The partial batch response: `{"batchItemFailures":[{"itemIdentifier":"<messageId>"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl BatchResponse {
    pub fn failed_ids(&self) -> Vec<&str> {
        self.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }
}

/// Walks a batch in order, keeping FIFO groups blocked after a failure.
#[derive(Debug, Default)]
pub struct GroupGate {
    blocked: HashSet<String>,
    response: BatchResponse,
}

impl GroupGate {
    /// Whether the message may be processed (its group has not failed in this batch). A message
    /// that may not is reported failed.
    pub fn admit(&mut self, message: &QueueMessage) -> bool {
        if self.blocked.contains(message.group()) {
            self.fail(message);
            return false;
        }
        true
    }

    /// Reports the message failed and blocks the rest of its group.
    pub fn fail(&mut self, message: &QueueMessage) {
        self.blocked.insert(message.group().to_owned());
        self.response.batch_item_failures.push(ItemFailure {
            item_identifier: message.message_id.clone(),
        });
    }

    pub fn finish(self) -> BatchResponse {
        self.response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, group: &str) -> QueueMessage {
        QueueMessage {
            message_id: id.to_owned(),
            body: String::new(),
            attributes: MessageAttributes {
                message_group_id: Some(group.to_owned()),
                approximate_receive_count: None,
            },
        }
    }

    #[test]
    fn a_failure_blocks_the_rest_of_its_group_and_only_its_group() {
        let mut gate = GroupGate::default();
        let batch = [
            message("1", "a"),
            message("2", "b"),
            message("3", "a"),
            message("4", "b"),
        ];
        assert!(gate.admit(&batch[0]));
        gate.fail(&batch[0]);
        assert!(gate.admit(&batch[1]));
        assert!(!gate.admit(&batch[2]));
        assert!(gate.admit(&batch[3]));
        let r = gate.finish();
        assert_eq!(r.failed_ids(), ["1", "3"]);
        assert_eq!(
            serde_json::to_value(&r).ok(),
            Some(
                serde_json::json!({"batchItemFailures":[{"itemIdentifier":"1"},{"itemIdentifier":"3"}]})
            )
        );
    }

    #[test]
    fn the_documented_sqs_event_shape_is_read() {
        let event = serde_json::json!({"Records": [{
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": "{}",
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SequenceNumber": "18849496460467696128",
                "MessageGroupId": "1",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "MessageDeduplicationId": "1",
                "ApproximateFirstReceiveTimestamp": "1545082649185"
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:fifo.fifo",
            "awsRegion": "us-east-2"
        }]});
        let e: Result<SqsEvent, _> = serde_json::from_value(event);
        let e = e.map_err(|e| e.to_string());
        assert_eq!(e.as_ref().map(|e| e.records[0].group()), Ok("1"));
    }
}
