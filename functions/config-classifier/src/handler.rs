//! The handler: decode, classify (pure, in `triage-core`), route through the ports.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::instrument;
use triage_core::config::{ConfigClassifier, ConfigEventError};
use triage_core::ports::{AlertPublisher, DigestSink, TicketSink};
use triage_core::router::{RouteError, RouteReport, Router};

/// What one invocation did; returned to Lambda (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub findings: usize,
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
}

impl From<RouteReport> for Summary {
    fn from(r: RouteReport) -> Self {
        Summary {
            findings: r.findings,
            tickets: r.tickets,
            digest_entries: r.digest_entries,
            alerts: r.alerts,
            counted_only: r.counted_only,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event cannot be understood: retrying will not help; after Lambda's retries it lands
    /// on the on-failure destination for a human.
    #[error("invalid Config event: {0}")]
    InvalidEvent(#[from] ConfigEventError),
    /// A finding was not delivered: fail so that Lambda retries the invocation.
    #[error("delivery failed: {0}")]
    Delivery(#[from] RouteError),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match e {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Delivery(_) => "DeliveryFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

pub struct Handler<T, D, A> {
    classifier: ConfigClassifier,
    router: Router<T, D, A>,
}

impl<T: TicketSink, D: DigestSink, A: AlertPublisher> Handler<T, D, A> {
    pub fn new(classifier: ConfigClassifier, router: Router<T, D, A>) -> Self {
        Handler { classifier, router }
    }

    #[instrument(skip_all, fields(request_id = %event.context.request_id))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        let findings = self.classifier.findings(&event.payload)?;
        if findings.is_empty() {
            return Ok(Summary::default());
        }
        Ok(self.router.route(findings).await?.into())
    }
}
