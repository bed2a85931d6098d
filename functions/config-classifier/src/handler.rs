//! The handler: decode, classify (pure, in `triage-core`), route through the ports.

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::instrument;
use triage_core::config::{ConfigClassifier, ConfigEventError};
use triage_core::metrics::Emitter;
use triage_core::ports::{Backend, RouterOf};
use triage_core::router::{RouteError, RouteReport};
use triage_lambda::{ErrorType, Function};

/// What one invocation did; returned to Lambda (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub findings: usize,
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
    /// Out-of-date results dropped: a COMPLIANT older than the last NON_COMPLIANT of an open
    /// problem, a NON_COMPLIANT no newer than the COMPLIANT that resolved it.
    pub stale: usize,
}

impl From<RouteReport> for Summary {
    fn from(r: RouteReport) -> Self {
        Summary {
            findings: r.findings,
            tickets: r.tickets,
            digest_entries: r.digest_entries,
            alerts: r.alerts,
            counted_only: r.counted_only,
            stale: r.stale,
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
    classifier: ConfigClassifier,
    router: RouterOf<B>,
    metrics: Emitter,
}

impl<B: Backend> Handler<B> {
    pub(crate) fn new(classifier: ConfigClassifier, router: RouterOf<B>, metrics: Emitter) -> Self {
        Handler {
            classifier,
            router,
            metrics,
        }
    }

    /// The same handler writing its metrics to `metrics` (`triage replay`, tests).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Emitter) -> Self {
        self.metrics = metrics;
        self
    }

    #[instrument(skip_all, fields(request_id = %event.context.request_id))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        let findings = self.classifier.findings(&event.payload)?;
        let report = if findings.is_empty() {
            RouteReport::default()
        } else {
            self.router.route(findings).await?
        };
        let mut counts = report.metrics.clone();
        counts.add("Records", 1);
        self.metrics.emit(&counts, self.router.now());
        Ok(report.into())
    }
}

impl<B: Backend + Sync> Function for Handler<B> {
    type Output = Summary;
    type Error = HandlerError;

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        Handler::handle(self, event).await
    }
}

#[cfg(test)]
mod tests {
    use lambda_runtime::{Context, LambdaEvent};
    use triage_core::TicketAction;
    use triage_core::fakes::Memory;

    use super::*;
    use crate::settings::tests::REQUIRED;
    use crate::{Settings, assemble};

    fn handler() -> (Handler<Memory>, Memory) {
        let memory = Memory::default();
        let settings = Settings::from(&triage_core::settings::env_from_pairs(&REQUIRED));
        (assemble(settings.expect("settings"), &memory), memory)
    }

    fn event(name: &str) -> LambdaEvent<Value> {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("sample");
        LambdaEvent::new(
            serde_json::from_str(&text).expect("json"),
            Context::default(),
        )
    }

    #[tokio::test]
    async fn root_access_key_non_compliance_is_one_critical_ticket_one_digest_entry_one_page() {
        let (h, memory) = handler();
        let summary = h
            .handle(event("config-noncompliant-iam-root-access-key.json"))
            .await
            .expect("handled");
        assert_eq!(
            summary,
            Summary {
                findings: 1,
                tickets: 1,
                digest_entries: 1,
                alerts: 1,
                counted_only: 0,
                stale: 0
            }
        );
        assert_eq!(memory.tickets.sent()[0].action, TicketAction::Open);
    }

    #[tokio::test]
    async fn a_late_older_non_compliance_does_not_reopen_the_problem_its_compliance_fixed() {
        let (h, memory) = handler();
        // Config fixed it at 16:31; the NON_COMPLIANT of 15:45 arrives afterwards (a late retry).
        h.handle(event("config-compliant-s3-public-read.json"))
            .await
            .expect("resolve");
        let late = h
            .handle(event("config-noncompliant-s3-public-read.json"))
            .await
            .expect("late");
        assert_eq!((late.stale, late.tickets, late.alerts), (1, 0, 0));
        let actions: Vec<TicketAction> = memory.tickets.sent().iter().map(|t| t.action).collect();
        assert_eq!(actions, [TicketAction::Resolve]);
    }

    #[tokio::test]
    async fn not_applicable_and_other_detail_types_do_nothing_and_succeed() {
        let (h, memory) = handler();
        for name in [
            "config-not-applicable-iam-root-access-key.json",
            "config-insufficient-data.json",
            "config-bad-wrong-detail-type.json",
        ] {
            assert_eq!(
                h.handle(event(name)).await.expect(name),
                Summary::default(),
                "{name}"
            );
        }
        assert!(memory.tickets.sent().is_empty());
        assert!(memory.digest.sent().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_compliance_change_is_an_invalid_event_error() {
        let (h, _) = handler();
        for name in [
            "config-bad-missing-detail.json",
            "config-bad-unknown-compliance-type.json",
        ] {
            let err = h.handle(event(name)).await.expect_err(name);
            assert_eq!(err.error_type(), "InvalidEvent", "{name}");
        }
    }

    #[tokio::test]
    async fn an_undelivered_ticket_fails_the_invocation_so_lambda_retries() {
        let (h, memory) = handler();
        memory.tickets.fail_next(1);
        let err = h
            .handle(event("config-noncompliant-restricted-ssh.json"))
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "DeliveryFailed");
        assert!(
            memory.digest.sent().is_empty(),
            "nothing after the failed ticket"
        );
    }
}
