//! Counts every HTTP request the SDK clients put on the wire (retries included), by operation,
//! for SQS, SNS and DynamoDB.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;

#[derive(Debug, Clone, Default)]
pub struct WireCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl WireCounter {
    fn count(&self, op: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op.to_owned()).or_default() += 1;
        }
    }

    /// Requests by operation since the last reset.
    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }

    /// SQS, SNS and DynamoDB clients for `sdk` that report to this counter.
    pub fn clients(
        &self,
        sdk: &aws_config::SdkConfig,
    ) -> (
        aws_sdk_sqs::Client,
        aws_sdk_sns::Client,
        aws_sdk_dynamodb::Client,
    ) {
        (
            aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(sdk)
                    .interceptor(self.clone())
                    .build(),
            ),
            aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(sdk)
                    .interceptor(self.clone())
                    .build(),
            ),
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk)
                    .interceptor(self.clone())
                    .build(),
            ),
        )
    }

    /// An EventBridge client whose calls are counted too (triage's bus).
    pub fn events_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }
}

/// The operation of a request: the `X-Amz-Target` suffix (SQS, DynamoDB: JSON protocols), else
/// the query protocol's `Action=` (SNS).
pub fn operation(target: Option<&str>, body: &[u8]) -> String {
    if let Some(t) = target {
        return t.rsplit('.').next().unwrap_or(t).to_owned();
    }
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .map_or_else(|| "other".to_owned(), str::to_owned)
}

impl Intercept for WireCounter {
    fn name(&self) -> &'static str {
        "WireCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let op = operation(
            request.headers().get("x-amz-target"),
            request.body().bytes().unwrap_or_default(),
        );
        self.count(&op);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_comes_from_the_target_header_or_the_query_action() {
        assert_eq!(
            operation(Some("AmazonSQS.SendMessageBatch"), b""),
            "SendMessageBatch"
        );
        assert_eq!(
            operation(Some("DynamoDB_20120810.UpdateItem"), b""),
            "UpdateItem"
        );
        assert_eq!(
            operation(None, b"Action=Publish&Version=2010-03-31"),
            "Publish"
        );
        assert_eq!(operation(None, b"x=y"), "other");
    }
}
