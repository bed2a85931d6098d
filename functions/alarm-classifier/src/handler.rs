//! The handler: unwrap the envelopes, classify each alarm record (pure, in `triage-core`), route
//! the findings through the ports.
//!
//! One invocation carries an EventBridge event, an alarm Lambda-action payload, or an SNS Lambda
//! event with one or more records (an SQS event of any of these works too). Each record is
//! classified on its own: a record that cannot be understood (not JSON, an unknown alarm type or
//! state, a missing `detail`) is counted as `invalid` and logged at WARN, and the good records
//! of the batch are still routed. A finding that is not delivered fails the invocation so that
//! Lambda retries it (FIFO deduplication ids make the retry safe).

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::{debug, instrument, warn};
use triage_core::alarm::{AlarmClassifier, AlarmOutcome};
use triage_core::inbound::unwrap_envelopes;
use triage_core::ports::{AlertPublisher, DigestSink, TicketSink};
use triage_core::router::{RouteError, RouteReport, Router};
use triage_core::text::sanitize;

/// What one invocation did; returned to Lambda (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub findings: usize,
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
    /// Records with nothing to report: not alarm state changes (configuration changes, other
    /// events), or INSUFFICIENT_DATA while `ALARM_INSUFFICIENT_DATA=ignore`.
    pub skipped: usize,
    /// Records that could not be understood (logged at WARN); not retried, since a retry would
    /// not change them.
    pub invalid: usize,
}

impl Summary {
    fn routed(mut self, r: RouteReport) -> Self {
        self.findings = r.findings;
        self.tickets = r.tickets;
        self.digest_entries = r.digest_entries;
        self.alerts = r.alerts;
        self.counted_only = r.counted_only;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A finding was not delivered: fail so that Lambda retries the invocation.
    #[error("delivery failed: {0}")]
    Delivery(#[from] RouteError),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match e {
            HandlerError::Delivery(_) => "DeliveryFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

pub struct Handler<T, D, A> {
    classifier: AlarmClassifier,
    router: Router<T, D, A>,
}

impl<T: TicketSink, D: DigestSink, A: AlertPublisher> Handler<T, D, A> {
    pub fn new(classifier: AlarmClassifier, router: Router<T, D, A>) -> Self {
        Handler { classifier, router }
    }

    pub fn router(&self) -> &Router<T, D, A> {
        &self.router
    }

    #[instrument(skip_all, fields(request_id = %event.context.request_id))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        let mut findings = Vec::new();
        let mut summary = Summary::default();
        for inner in unwrap_envelopes(event.payload) {
            let origin = if inner.origin.is_empty() {
                "event"
            } else {
                inner.origin.as_str()
            };
            let outcome = match &inner.event {
                Ok(record) => self.classifier.classify(record).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(AlarmOutcome::Finding(finding)) => findings.push(*finding),
                Ok(AlarmOutcome::Skipped(skip)) => {
                    summary.skipped += 1;
                    debug!(origin, %skip, "record gives no finding");
                }
                Err(error) => {
                    summary.invalid += 1;
                    let error = sanitize(&error, 512);
                    warn!(origin, %error, "record skipped: not a usable alarm event");
                }
            }
        }
        if findings.is_empty() {
            return Ok(summary);
        }
        Ok(summary.routed(self.router.route(findings).await?))
    }
}

#[cfg(test)]
mod tests {
    use lambda_runtime::{Context, LambdaEvent};
    use serde_json::json;
    use triage_core::alarm::AlarmOptions;
    use triage_core::fakes::{MemoryAlertPublisher, MemoryDigestSink, MemoryTicketSink};
    use triage_core::policy::{SeverityPolicy, Thresholds};
    use triage_core::{DigestKind, Severity, Status, TicketAction};

    use super::*;

    type Fakes = Handler<MemoryTicketSink, MemoryDigestSink, MemoryAlertPublisher>;

    fn handler() -> Fakes {
        Handler::new(
            AlarmClassifier::shipped(AlarmOptions::default()).expect("alarm policy"),
            Router::new(
                SeverityPolicy::shipped().expect("policy"),
                Thresholds::default(),
                MemoryTicketSink::default(),
                MemoryDigestSink::default(),
                MemoryAlertPublisher::default(),
            ),
        )
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("sample");
        serde_json::from_str(&text).expect("json")
    }

    fn event(name: &str) -> LambdaEvent<Value> {
        LambdaEvent::new(sample(name), Context::default())
    }

    #[tokio::test]
    async fn a_root_usage_alarm_is_one_critical_ticket_one_digest_entry_one_page() {
        let h = handler();
        let summary = h
            .handle(event("alarm-cis-root-usage-alarm.json"))
            .await
            .expect("handled");
        assert_eq!(
            summary,
            Summary {
                findings: 1,
                tickets: 1,
                digest_entries: 1,
                alerts: 1,
                ..Summary::default()
            }
        );
        let ticket = &h.router.tickets().sent()[0];
        assert_eq!(ticket.action, TicketAction::Open);
        assert_eq!(ticket.finding.severity, Severity::Critical);
        assert_eq!(ticket.finding.rule_id.as_str(), "CIS-1.7-RootAccountUsage");
        assert!(
            h.router.alerts().sent()[0]
                .subject
                .starts_with("[CRITICAL] Root account used")
        );
    }

    #[tokio::test]
    async fn ok_resolves_the_same_ticket_without_paging() {
        let h = handler();
        h.handle(event("alarm-metric-alarm.json"))
            .await
            .expect("alarm");
        h.handle(event("alarm-metric-ok.json")).await.expect("ok");
        let tickets = h.router.tickets().sent();
        assert_eq!(
            tickets.iter().map(|t| t.action).collect::<Vec<_>>(),
            [TicketAction::Open, TicketAction::Resolve]
        );
        assert_eq!(tickets[0].fingerprint, tickets[1].fingerprint);
        assert!(h.router.alerts().sent().is_empty(), "medium does not page");
        let kinds: Vec<DigestKind> = h.router.digest().sent().iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [DigestKind::New, DigestKind::Resolved]);
    }

    #[tokio::test]
    async fn every_alarm_form_is_handled() {
        for name in [
            "alarm-metric-math-alarm.json",
            "alarm-anomaly-detection-alarm.json",
            "alarm-composite-suppressed-alarm.json",
            "lambda-alarm-metric-alarm.json",
            "lambda-alarm-composite-alarm.json",
            "sns-alarm-cis-root-usage-alarm.json",
            "sns-alarm-metric-math-crate-fixture.json",
        ] {
            let h = handler();
            let summary = h.handle(event(name)).await.expect(name);
            assert_eq!((summary.findings, summary.tickets), (1, 1), "{name}");
            assert_eq!((summary.skipped, summary.invalid), (0, 0), "{name}");
        }
    }

    #[tokio::test]
    async fn an_sns_batch_routes_its_good_record_and_counts_the_bad_ones() {
        let h = handler();
        let summary = h
            .handle(event("sns-alarm-batch-with-bad-records.json"))
            .await
            .expect("a bad record never fails the batch");
        assert_eq!(
            summary,
            Summary {
                findings: 1,
                tickets: 1,
                digest_entries: 1,
                alerts: 1,
                invalid: 2,
                ..Summary::default()
            }
        );
        assert_eq!(
            h.router.tickets().sent()[0].finding.rule_id.as_str(),
            "CIS-1.7-RootAccountUsage"
        );
    }

    #[tokio::test]
    async fn irrelevant_events_and_ignored_insufficient_data_do_nothing_and_succeed() {
        let h = handler();
        for name in [
            "alarm-configuration-change.json",
            "alarm-irrelevant-ec2-state-change.json",
            "alarm-metric-insufficient-data.json",
        ] {
            let summary = h.handle(event(name)).await.expect(name);
            assert_eq!(
                summary,
                Summary {
                    skipped: 1,
                    ..Summary::default()
                },
                "{name}"
            );
        }
        assert!(h.router.tickets().sent().is_empty());
        assert!(h.router.digest().sent().is_empty());
    }

    #[tokio::test]
    async fn malformed_alarm_events_are_counted_invalid_never_a_panic_or_a_ticket() {
        let h = handler();
        let payloads = [
            sample("alarm-bad-missing-detail.json"),
            sample("alarm-bad-unknown-alarm-type.json"),
            sample("alarm-bad-unknown-state.json"),
            json!("just a string"),
            json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{\"AlarmName\":"}}]}),
            json!({"Records": [{"EventSource": "aws:sns", "Sns": {}}]}),
        ];
        for payload in payloads {
            let summary = h
                .handle(LambdaEvent::new(payload.clone(), Context::default()))
                .await
                .expect("bad input is not an invocation error");
            assert_eq!(
                summary,
                Summary {
                    invalid: 1,
                    ..Summary::default()
                },
                "{payload:.120}"
            );
        }
        assert!(h.router.tickets().sent().is_empty());
    }

    #[tokio::test]
    async fn the_templates_seed_alarm_goes_to_the_digest_only() {
        let h = handler();
        let summary = h
            .handle(event("alarm-seed-root-usage-linked.json"))
            .await
            .expect("handled");
        assert_eq!(
            (summary.tickets, summary.digest_entries, summary.alerts),
            (0, 1, 0)
        );
        let entry = &h.router.digest().sent()[0];
        assert_eq!(entry.severity, Severity::Low);
        assert_eq!(entry.rule_id.as_str(), "triage-root-account-usage");
    }

    #[tokio::test]
    async fn alarm_then_ok_of_one_alarm_in_one_sns_batch_is_one_resolved_finding() {
        let h = handler();
        let mut batch = sample("sns-alarm-cis-root-usage-alarm.json");
        let ok = sample("sns-alarm-cis-root-usage-ok.json")["Records"][0].clone();
        if let Some(records) = batch["Records"].as_array_mut() {
            records.push(ok);
        }
        let summary = h
            .handle(LambdaEvent::new(batch, Context::default()))
            .await
            .expect("handled");
        assert_eq!(
            (summary.findings, summary.tickets, summary.alerts),
            (1, 1, 0)
        );
        let ticket = &h.router.tickets().sent()[0];
        assert_eq!(ticket.action, TicketAction::Resolve);
        assert_eq!(
            (ticket.finding.count, ticket.finding.status),
            (2, Status::Resolved)
        );
    }

    #[tokio::test]
    async fn a_mixed_sqs_batch_handles_its_alarms_and_skips_the_config_record() {
        let h = handler();
        let summary = h
            .handle(event("sqs-config-and-alarm-batch.json"))
            .await
            .expect("handled");
        assert_eq!(
            (summary.findings, summary.skipped, summary.invalid),
            (2, 1, 0)
        );
    }

    #[tokio::test]
    async fn an_absurdly_long_reason_reaches_the_ticket_bounded() {
        let h = handler();
        h.handle(event("alarm-huge-reason.json"))
            .await
            .expect("handled");
        let body = h.router.tickets().sent()[0].body().expect("body");
        assert!(body.len() < 16 * 1024, "{} bytes", body.len());
        assert!(
            !body.contains("\\u001b") && !body.contains("\\n"),
            "control characters reached the ticket"
        );
    }

    #[tokio::test]
    async fn an_undelivered_ticket_fails_the_invocation_so_lambda_retries() {
        let h = handler();
        h.router.tickets().fail_next(1);
        let err = h
            .handle(event("alarm-cis-root-usage-alarm.json"))
            .await
            .expect_err("must fail");
        assert_eq!(Diagnostic::from(err).error_type, "DeliveryFailed");
        assert!(
            h.router.digest().sent().is_empty(),
            "nothing after the failed ticket"
        );
        assert!(
            h.router.alerts().sent().is_empty(),
            "no page before its ticket"
        );
    }
}
