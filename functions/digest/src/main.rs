//! digest: on a schedule (EventBridge Scheduler), drains the digest queue and publishes one
//! digest — plain text for email, JSON for machines — to the SNS digest topic, then deletes the
//! messages it summarised.

// The SDK's and the runtime's nested futures need more than the default query depth.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use serde_json::Value;
use triage_aws::{SnsDigestPublisher, SqsDigestSource};

use digest::handler::Handler;
use digest::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let source = SqsDigestSource::new(aws_sdk_sqs::Client::new(&sdk), settings.queue_url);
    let publisher = SnsDigestPublisher::new(aws_sdk_sns::Client::new(&sdk), settings.topic_arn);
    let handler = Handler::new(source, publisher, settings.options);
    let handler = &handler;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event).await
    }))
    .await
}
