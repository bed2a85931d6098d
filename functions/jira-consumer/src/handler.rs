//! The handler: an SQS batch in, a partial batch response out (`ReportBatchItemFailures`).

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use triage_consumer::consumer::NotAnSqsEvent;
use triage_consumer::{BatchResponse, Consumer, Deadline, LinkStore};
use triage_lambda::{ErrorType, Function};

use crate::jira::Jira;

pub struct Handler<L> {
    consumer: Consumer<Jira, L>,
    margin: Duration,
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
    pub(crate) fn new(consumer: Consumer<Jira, L>, margin: Duration) -> Self {
        Handler { consumer, margin }
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
        Ok(self.consumer.handle(event, deadline).await?.0)
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
