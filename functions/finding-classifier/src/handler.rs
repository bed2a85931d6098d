//! The handler: classify every finding of the event (pure, in `triage-core`), route them
//! through the ports.
//!
//! A GuardDuty event holds one finding; a Security Hub event holds a list (one in practice, up
//! to 100 read). A finding that cannot be read (no id, no `UpdatedAt`, a bad timestamp) is
//! counted as `invalid` and logged at WARN, and the others of the event are still routed. An
//! event that cannot be read at all fails with `InvalidEvent`; a finding that is not delivered
//! fails the invocation so that Lambda retries it.

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{instrument, warn};
use triage_core::hub::{HubClassifier, HubEventError};
use triage_core::ports::{Backend, RouterOf};
use triage_core::router::{RouteError, RouteReport};
use triage_lambda::{ErrorType, Function};

/// What one invocation did; returned to Lambda (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Distinct findings routed (merged by fingerprint).
    pub findings: usize,
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
    pub suppressed: usize,
    /// Newer versions of an open finding inside its dedup window (a `repeat` digest entry, no
    /// ticket, no page).
    pub repeats: usize,
    /// Versions no newer than the one last seen (a re-delivery, the other path of a GuardDuty
    /// finding, an older version arriving late), resolves of resolved findings: dropped.
    pub stale: usize,
    /// Findings with nothing to report: other events, controls evaluated by an AWS Config rule
    /// (config-classifier reports those), controls not evaluated.
    pub skipped: usize,
    /// Findings that could not be read (logged at WARN); not retried, since a retry would not
    /// change them.
    pub invalid: usize,
}

impl Summary {
    fn routed(mut self, r: RouteReport) -> Self {
        self.findings = r.findings;
        self.tickets = r.tickets;
        self.digest_entries = r.digest_entries;
        self.alerts = r.alerts;
        self.counted_only = r.counted_only;
        self.suppressed = r.suppressed;
        self.repeats = r.repeats;
        self.stale = r.stale;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event cannot be understood: retrying will not help; after Lambda's retries it lands
    /// on the on-failure destination for a human.
    #[error("invalid finding event: {0}")]
    InvalidEvent(#[from] HubEventError),
    /// A finding was not delivered: fail so that Lambda retries the invocation.
    #[error("delivery failed: {0}")]
    Delivery(#[from] RouteError),
}

impl ErrorType for HandlerError {
    fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Delivery(route) => route.error_type(),
        }
    }
}

/// Built by [`crate::assemble`].
pub struct Handler<B: Backend> {
    classifier: HubClassifier,
    router: RouterOf<B>,
}

impl<B: Backend> Handler<B> {
    pub(crate) fn new(classifier: HubClassifier, router: RouterOf<B>) -> Self {
        Handler { classifier, router }
    }

    #[instrument(skip_all, fields(request_id = %event.context.request_id))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        let outcome = self.classifier.findings(&event.payload)?;
        for error in &outcome.invalid {
            warn!(%error, "unreadable finding skipped");
        }
        let summary = Summary {
            skipped: outcome.skipped.len(),
            invalid: outcome.invalid.len(),
            ..Summary::default()
        };
        if outcome.findings.is_empty() {
            return Ok(summary);
        }
        Ok(summary.routed(self.router.route(outcome.findings).await?))
    }
}

impl<B: Backend + Sync> Function for Handler<B> {
    type Output = Summary;
    type Error = HandlerError;

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        Handler::handle(self, event).await
    }
}
