//! SNS alert publisher: `MessageStructure=json`, a human text for email and the JSON for the rest,
//! and the alert's id as the message attribute `alert_id` (subscription filter policies and
//! paging integrations read it without parsing the message).

use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use triage_core::Alert;
use triage_core::ports::{AlertPublisher, SinkError};

const ALERTS: &str = "SNS alert topic";
/// The message attribute that carries [`Alert::id`].
pub const ALERT_ID_ATTRIBUTE: &str = "alert_id";

/// Publishes alerts to the alert topic.
#[derive(Debug, Clone)]
pub struct SnsAlertPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsAlertPublisher {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsAlertPublisher {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// The `Publish` parameters for an alert: (subject, message, message structure).
pub fn alert_request(alert: &Alert) -> Result<(String, String, &'static str), SinkError> {
    let message = alert.sns_message().map_err(|e| SinkError::Encode {
        sink: ALERTS,
        reason: e.to_string(),
    })?;
    Ok((alert.subject.clone(), message, "json"))
}

impl AlertPublisher for SnsAlertPublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError> {
        let (subject, message, structure) = alert_request(alert)?;
        let id = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&alert.id)
            .build()
            .map_err(|e| SinkError::Encode {
                sink: ALERTS,
                reason: e.to_string(),
            })?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_structure(structure)
            .message_attributes(ALERT_ID_ATTRIBUTE, id)
            .send()
            .await
            .map_err(|e| SinkError::Request {
                sink: ALERTS,
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(())
    }
}
