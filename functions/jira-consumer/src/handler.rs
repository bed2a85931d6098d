//! The handler: an SQS batch in, a partial batch response out (`ReportBatchItemFailures`).

use std::time::Duration;

use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use triage_consumer::consumer::NotAnSqsEvent;
use triage_consumer::{BatchResponse, Consumer, Deadline, LinkStore};
use triage_core::metrics::{Counts, Emitter};
use triage_lambda::{ErrorType, Function};

use crate::jira::Jira;

pub struct Handler<L> {
    consumer: Consumer<Jira, L>,
    margin: Duration,
    metrics: Emitter,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Not an SQS event (the function is invoked by the ticket queue's event source mapping only).
    #[error(transparent)]
    InvalidEvent(#[from] NotAnSqsEvent),
}

impl ErrorType for HandlerError {
    fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
        }
    }
}

impl<L: LinkStore> Handler<L> {
    pub(crate) fn new(consumer: Consumer<Jira, L>, margin: Duration, metrics: Emitter) -> Self {
        Handler {
            consumer,
            margin,
            metrics,
        }
    }

    /// The same handler writing its metrics to `metrics` (tests).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Emitter) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn consumer(&self) -> &Consumer<Jira, L> {
        &self.consumer
    }

    /// One batch, with `deadline` for every retry.
    pub async fn batch(
        &self,
        event: Value,
        deadline: Deadline,
    ) -> Result<BatchResponse, HandlerError> {
        let (response, report) = self.consumer.handle(event, deadline).await?;
        let mut counts = Counts::default();
        counts.add("Records", report.messages);
        counts.add("IssuesCreated", report.created + report.adopted);
        counts.add("IssuesCommented", report.commented);
        counts.add("IssuesClosed", report.closed);
        counts.add("Failed", report.failed + report.held_back);
        self.metrics.emit(&counts, Utc::now());
        Ok(response)
    }
}

impl<L: LinkStore> Function for Handler<L> {
    type Output = BatchResponse;
    type Error = HandlerError;

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<BatchResponse, HandlerError> {
        let deadline = Deadline::from_lambda(event.context.deadline, self.margin);
        self.batch(event.payload, deadline).await
    }
}
