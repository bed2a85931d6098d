//! [`Aws`], the production [`Backend`]: one SQS, SNS and DynamoDB client each, built once at
//! cold start from the shared SDK configuration, and the system clock. Tests point the same
//! backend at moto (or at a fault proxy in front of it) and may give it a manual clock.

use std::sync::Arc;

use aws_config::SdkConfig;
use triage_core::clock::{Clock, SystemClock};
use triage_core::ports::Backend;

use crate::flap::DynamoDbTransitionLog;
use crate::{
    DynamoDbDedupStore, EventBridgePublisher, SnsAlertPublisher, SnsDigestPublisher,
    SqsDigestSource, SqsPackedDigestSink, SqsTicketSink,
};

#[derive(Clone)]
pub struct Aws {
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// triage's EventBridge bus (`EVENT_BUS_NAME`); none in a backend built from explicit
    /// clients without it ([`Aws::with_events`]).
    pub events: Option<aws_sdk_eventbridge::Client>,
    clock: Arc<dyn Clock>,
}

impl Aws {
    /// The clients a Lambda function uses: configuration from its environment (region,
    /// credentials, and `AWS_ENDPOINT_URL` where a local stand-in is meant).
    pub async fn from_env() -> Aws {
        Aws::new(&aws_config::load_from_env().await)
    }

    pub fn new(sdk: &SdkConfig) -> Aws {
        Aws::from_clients(
            aws_sdk_sqs::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            aws_sdk_dynamodb::Client::new(sdk),
        )
        .with_events(aws_sdk_eventbridge::Client::new(sdk))
    }

    pub fn from_clients(
        sqs: aws_sdk_sqs::Client,
        sns: aws_sdk_sns::Client,
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> Aws {
        Aws {
            sqs,
            sns,
            dynamodb,
            events: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The EventBridge client for triage's bus.
    pub fn with_events(mut self, events: aws_sdk_eventbridge::Client) -> Aws {
        self.events = Some(events);
        self
    }

    /// Another clock (tests that compress hours into seconds).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Aws {
        self.clock = Arc::new(clock);
        self
    }
}

impl Backend for Aws {
    type Tickets = SqsTicketSink;
    type Digest = SqsPackedDigestSink;
    type Alerts = SnsAlertPublisher;
    type Dedup = DynamoDbDedupStore;
    type Transitions = DynamoDbTransitionLog;
    type DigestSource = SqsDigestSource;
    type DigestPublisher = SnsDigestPublisher;
    type Events = EventBridgePublisher;

    fn ticket_sink(&self, queue_url: &str) -> SqsTicketSink {
        SqsTicketSink::new(self.sqs.clone(), queue_url)
    }
    fn digest_sink(&self, queue_url: &str) -> SqsPackedDigestSink {
        SqsPackedDigestSink::new(self.sqs.clone(), queue_url)
    }
    fn alert_publisher(&self, topic_arn: &str) -> SnsAlertPublisher {
        SnsAlertPublisher::new(self.sns.clone(), topic_arn)
    }
    fn dedup_store(&self, table_name: &str) -> DynamoDbDedupStore {
        DynamoDbDedupStore::new(self.dynamodb.clone(), table_name)
    }
    fn transition_log(&self, table_name: &str) -> DynamoDbTransitionLog {
        DynamoDbTransitionLog::new(self.dynamodb.clone(), table_name)
    }
    fn digest_source(&self, queue_url: &str) -> SqsDigestSource {
        SqsDigestSource::new(self.sqs.clone(), queue_url)
    }
    fn digest_publisher(&self, topic_arn: &str) -> SnsDigestPublisher {
        SnsDigestPublisher::new(self.sns.clone(), topic_arn)
    }
    fn event_publisher(&self, bus_name: &str) -> EventBridgePublisher {
        EventBridgePublisher::new(self.events.clone(), bus_name)
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}
