//! alarm-classifier: CloudWatch alarm state changes — from EventBridge, from an alarm's SNS
//! action (SNS → Lambda) or from an alarm's Lambda action — become ticket events, digest entries
//! and (for critical findings) alerts, through the shared router's suppressions and DynamoDB
//! dedup state; flapping alarms are reported once (their flap state lives in the same table).

// The SDK's and the runtime's nested futures need more than the default query depth.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use serde_json::Value;
use triage_aws::flap::DynamoDbTransitionLog;
use triage_aws::{DynamoDbDedupStore, SnsAlertPublisher, SqsPackedDigestSink, SqsTicketSink};
use triage_core::flap::FlapControl;
use triage_core::router::Router;

use alarm_classifier::handler::Handler;
use alarm_classifier::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let router = Router::new(
        settings.policy,
        settings.routing.thresholds,
        SqsTicketSink::new(sqs.clone(), settings.routing.ticket_queue_url),
        SqsPackedDigestSink::new(sqs, settings.routing.digest_queue_url),
        SnsAlertPublisher::new(sns, settings.routing.alert_topic_arn),
    )
    .with_suppressions(settings.suppressions)
    .with_dedup(DynamoDbDedupStore::from_sdk_config(
        &sdk,
        settings.dedup.table_name.clone(),
    ))
    .with_dedup_windows(settings.dedup.windows)
    .with_dedup_options(settings.dedup.options);
    let flap = FlapControl::new(
        settings.flap,
        DynamoDbTransitionLog::from_sdk_config(&sdk, settings.dedup.table_name),
    );
    let handler = Handler::new(settings.classifier, router).with_flap_control(flap);
    let handler = &handler;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event).await
    }))
    .await
}
