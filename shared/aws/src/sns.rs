//! SNS alert publisher: `MessageStructure=json`, a human text for email and the JSON for the rest,
//! and message attributes subscription filter policies route on and paging integrations read
//! without parsing the message: `alert_id`, `kind`, `severity`, `source`, `rule`, `account`,
//! `action` ([`Alert::attributes`]).

use std::collections::HashMap;

use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use triage_core::ports::{AlertPublisher, SinkError};
use triage_core::{Alert, AttributeValue, MessageAttributes};

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

/// `attributes` as SNS message attributes: `String`, or `String.Array` (a JSON array).
pub fn sns_attributes(
    sink: &'static str,
    attributes: &MessageAttributes,
) -> Result<HashMap<String, MessageAttributeValue>, SinkError> {
    let encode = |reason: String| SinkError::Encode { sink, reason };
    attributes
        .iter()
        .map(|(name, value)| {
            let (data_type, text) = match value {
                AttributeValue::String(s) => ("String", s.clone()),
                AttributeValue::Strings(list) => (
                    "String.Array",
                    serde_json::to_string(list).map_err(|e| encode(e.to_string()))?,
                ),
            };
            let value = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(text)
                .build()
                .map_err(|e| encode(e.to_string()))?;
            Ok(((*name).to_owned(), value))
        })
        .collect()
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
        let attributes = sns_attributes(ALERTS, &alert.attributes())?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_structure(structure)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| SinkError::Request {
                sink: ALERTS,
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(())
    }
}
