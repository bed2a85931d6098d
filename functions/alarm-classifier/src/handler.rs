//! The handler: unwrap the envelopes, classify each alarm record (pure, in `triage-core`), let
//! flap control sort the records, route the findings through the ports.
//!
//! One invocation carries an EventBridge event, an alarm Lambda-action payload, or an SNS Lambda
//! event with one or more records (an SQS event of any of these works too). Each record is
//! classified on its own: a record that cannot be understood (not JSON, an unknown alarm type or
//! state, a missing `detail`) is counted as `invalid` and logged at WARN, and the good records
//! of the batch are still routed.
//!
//! Each real state change is recorded in the alarm's flap state (`triage_core::flap`, the dedup
//! table in production) before anything is sent: the change that makes an alarm flap adds one
//! flapping finding to the findings routed, the changes of a flapping alarm go to the digest
//! only, the first calm change resolves the flapping finding. Then the router applies the
//! severity policy, the suppressions and the dedup state and sends. A finding that is not
//! delivered, or a flap or dedup state that cannot be read or written, fails the invocation so
//! that Lambda retries it: the retry finds its state changes already recorded and gets the same
//! answers, and FIFO deduplication ids drop the ticket events that did get through.

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{debug, instrument, warn};
use triage_core::alarm::AlarmClassifier;
use triage_core::dedup::DedupError;
use triage_core::flap::FlapControl;
use triage_core::inbound::unwrap_envelopes;
use triage_core::metrics::{Counts, Emitter};
use triage_core::ports::{Backend, RouterOf};
use triage_core::router::{RouteError, RouteReport};
use triage_core::text::sanitize;
use triage_lambda::{ErrorType, Function};

/// What one invocation did; returned to Lambda (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Distinct findings routed (merged by fingerprint), flapping findings and the changes of
    /// flapping alarms included.
    pub findings: usize,
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
    pub suppressed: usize,
    /// Occurrences merged into an open problem inside its dedup window (a `repeat` digest
    /// entry, no ticket, no page).
    pub repeats: usize,
    /// Out-of-date changes dropped: an OK older than the last ALARM of an open problem, an
    /// ALARM no newer than the OK that resolved it.
    pub stale: usize,
    /// State changes of flapping alarms: to the digest only, no ticket, no page.
    pub flapping: usize,
    /// Alarms reported as flapping by this invocation, and flapping findings resolved.
    pub flapping_reported: usize,
    pub flapping_resolved: usize,
    /// Records with nothing to report: not alarm state changes (configuration changes, other
    /// events), or INSUFFICIENT_DATA while `ALARM_INSUFFICIENT_DATA=ignore`.
    pub skipped: usize,
    /// Records that could not be understood (logged at WARN); not retried, since a retry would
    /// not change them.
    pub invalid: usize,
}

impl Summary {
    fn routed(mut self, r: RouteReport) -> Self {
        self.findings += r.findings;
        self.tickets += r.tickets;
        self.digest_entries += r.digest_entries;
        self.alerts += r.alerts;
        self.counted_only += r.counted_only;
        self.suppressed += r.suppressed;
        self.repeats += r.repeats;
        self.stale += r.stale;
        self
    }

    /// The changes of flapping alarms, sent to the digest only: counted as `flapping`, not as
    /// repeats.
    fn digest_only(mut self, r: RouteReport) -> Self {
        self.findings += r.findings;
        self.digest_entries += r.digest_entries;
        self.counted_only += r.counted_only;
        self.suppressed += r.suppressed;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A finding was not delivered: fail so that Lambda retries the invocation.
    #[error("delivery failed: {0}")]
    Delivery(#[from] RouteError),
    /// The alarms' flap state (in the dedup table) could not be read or written: fail so that
    /// Lambda retries the invocation; nothing was sent.
    #[error("flap state: {0}")]
    FlapState(#[from] DedupError),
}

impl ErrorType for HandlerError {
    fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Delivery(route) => route.error_type(),
            // The same table as the dedup state, and the same remedy.
            HandlerError::FlapState(_) => "DedupStateUnavailable",
        }
    }
}

/// Built by [`crate::assemble`].
pub struct Handler<B: Backend> {
    classifier: AlarmClassifier,
    router: RouterOf<B>,
    flap: FlapControl<B::Transitions>,
    metrics: Emitter,
}

impl<B: Backend> Handler<B> {
    pub(crate) fn new(
        classifier: AlarmClassifier,
        router: RouterOf<B>,
        flap: FlapControl<B::Transitions>,
        metrics: Emitter,
    ) -> Self {
        Handler {
            classifier,
            router,
            flap,
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
        let mut records = Vec::new();
        let mut summary = Summary::default();
        let mut counts = Counts::default();
        for inner in unwrap_envelopes(event.payload) {
            counts.add("Records", 1);
            let origin = if inner.origin.is_empty() {
                "event"
            } else {
                inner.origin.as_str()
            };
            let outcome = match &inner.event {
                Ok(record) => self
                    .classifier
                    .classify_record(record)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(record) => records.push(record),
                Err(error) => {
                    summary.invalid += 1;
                    let error = sanitize(&error, 512);
                    warn!(origin, %error, "record skipped: not a usable alarm event");
                }
            }
        }
        let sorted = self.flap.sort(records).await?;
        summary.skipped = sorted.skipped.len();
        for skip in &sorted.skipped {
            debug!(%skip, "record gives no finding");
        }
        summary.flapping = sorted.digest_only.len();
        summary.flapping_reported = sorted.reported;
        summary.flapping_resolved = sorted.resolved;
        counts.add("Rejected", summary.invalid);
        if !sorted.route.is_empty() {
            let report = self.router.route(sorted.route).await?;
            counts.merge(&report.metrics);
            summary = summary.routed(report);
        }
        if !sorted.digest_only.is_empty() {
            let report = self.router.route_digest_only(sorted.digest_only).await?;
            counts.merge(&report.metrics);
            summary = summary.digest_only(report);
        }
        self.metrics.emit(&counts, self.router.now());
        Ok(summary)
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
    use serde_json::json;
    use triage_core::fakes::Memory;
    use triage_core::settings::env_from_pairs;
    use triage_core::{DigestKind, Severity, Status, TicketAction};

    use super::*;
    use crate::settings::tests::ROUTING;
    use crate::{Settings, assemble};

    /// The function as it ships, on the in-memory backend, with `extra` settings.
    fn handler_with(extra: &[(&str, &str)]) -> (Handler<Memory>, Memory) {
        let mut pairs = ROUTING.to_vec();
        pairs.extend_from_slice(extra);
        let memory = Memory::default();
        let settings = Settings::from(&env_from_pairs(&pairs)).expect("settings");
        (assemble(settings, &memory), memory)
    }

    fn handler() -> (Handler<Memory>, Memory) {
        handler_with(&[])
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
        let (h, memory) = handler();
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
        let ticket = &memory.tickets.sent()[0];
        assert_eq!(ticket.action, TicketAction::Open);
        assert_eq!(ticket.finding.severity, Severity::Critical);
        assert_eq!(ticket.finding.rule_id.as_str(), "CIS-1.7-RootAccountUsage");
        assert!(
            memory.alerts.sent()[0]
                .subject
                .starts_with("[CRITICAL] Root account used")
        );
    }

    #[tokio::test]
    async fn an_alarm_older_than_the_ok_already_handled_is_stale_and_an_older_ok_too() {
        let (h, memory) = handler();
        // ServiceAggregatedAlarm went OK at 16:12; its ALARM of 15:57 arrives afterwards.
        h.handle(event("alarm-composite-ok.json"))
            .await
            .expect("ok");
        let late = h
            .handle(event("alarm-composite-suppressed-alarm.json"))
            .await
            .expect("late alarm");
        assert_eq!((late.stale, late.tickets, late.alerts), (1, 0, 0));
        let actions: Vec<TicketAction> = memory.tickets.sent().iter().map(|t| t.action).collect();
        assert_eq!(actions, [TicketAction::Resolve]);

        // The other way round: the ALARM opens; an OK older than it does not resolve it.
        let (h, memory) = handler();
        h.handle(event("alarm-composite-suppressed-alarm.json"))
            .await
            .expect("alarm");
        let mut old_ok = sample("alarm-composite-ok.json");
        old_ok["time"] = json!("2022-07-22T15:00:00Z");
        old_ok["detail"]["state"]["timestamp"] = json!("2022-07-22T15:00:00.000+0000");
        let stale = h
            .handle(LambdaEvent::new(old_ok, Context::default()))
            .await
            .expect("old ok");
        assert_eq!((stale.stale, stale.tickets), (1, 0));
        let actions: Vec<TicketAction> = memory.tickets.sent().iter().map(|t| t.action).collect();
        assert_eq!(actions, [TicketAction::Open]);
    }

    #[tokio::test]
    async fn ok_resolves_the_same_ticket_without_paging() {
        let (h, memory) = handler();
        h.handle(event("alarm-metric-alarm.json"))
            .await
            .expect("alarm");
        h.handle(event("alarm-metric-ok.json")).await.expect("ok");
        let tickets = memory.tickets.sent();
        assert_eq!(
            tickets.iter().map(|t| t.action).collect::<Vec<_>>(),
            [TicketAction::Open, TicketAction::Resolve]
        );
        assert_eq!(tickets[0].fingerprint, tickets[1].fingerprint);
        assert!(memory.alerts.sent().is_empty(), "medium does not page");
        let kinds: Vec<DigestKind> = memory.digest.sent().iter().map(|d| d.kind).collect();
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
            let (h, _) = handler();
            let summary = h.handle(event(name)).await.expect(name);
            assert_eq!((summary.findings, summary.tickets), (1, 1), "{name}");
            assert_eq!((summary.skipped, summary.invalid), (0, 0), "{name}");
        }
    }

    #[tokio::test]
    async fn an_sns_batch_routes_its_good_record_and_counts_the_bad_ones() {
        let (h, memory) = handler();
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
            memory.tickets.sent()[0].finding.rule_id.as_str(),
            "CIS-1.7-RootAccountUsage"
        );
    }

    #[tokio::test]
    async fn irrelevant_events_and_ignored_insufficient_data_do_nothing_and_succeed() {
        let (h, memory) = handler();
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
        assert!(memory.tickets.sent().is_empty());
        assert!(memory.digest.sent().is_empty());
    }

    #[tokio::test]
    async fn malformed_alarm_events_are_counted_invalid_never_a_panic_or_a_ticket() {
        let (h, memory) = handler();
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
        assert!(memory.tickets.sent().is_empty());
    }

    #[tokio::test]
    async fn the_templates_seed_alarm_goes_to_the_digest_only() {
        let (h, memory) = handler();
        let summary = h
            .handle(event("alarm-seed-root-usage-linked.json"))
            .await
            .expect("handled");
        assert_eq!(
            (summary.tickets, summary.digest_entries, summary.alerts),
            (0, 1, 0)
        );
        let entry = &memory.digest.sent()[0];
        assert_eq!(entry.severity, Severity::Low);
        assert_eq!(entry.rule_id.as_str(), "triage-root-account-usage");
    }

    #[tokio::test]
    async fn alarm_then_ok_of_one_alarm_in_one_sns_batch_is_one_resolved_finding() {
        let (h, memory) = handler();
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
        let ticket = &memory.tickets.sent()[0];
        assert_eq!(ticket.action, TicketAction::Resolve);
        assert_eq!(
            (ticket.finding.count, ticket.finding.status),
            (2, Status::Resolved)
        );
    }

    #[tokio::test]
    async fn a_mixed_sqs_batch_handles_its_alarms_and_skips_the_config_record() {
        let (h, _) = handler();
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
        let (h, memory) = handler();
        h.handle(event("alarm-huge-reason.json"))
            .await
            .expect("handled");
        let body = memory.tickets.sent()[0].body().expect("body");
        assert!(body.len() < 16 * 1024, "{} bytes", body.len());
        assert!(
            !body.contains("\\u001b") && !body.contains("\\n"),
            "control characters reached the ticket"
        );
    }

    #[tokio::test]
    async fn an_undelivered_ticket_fails_the_invocation_so_lambda_retries() {
        let (h, memory) = handler();
        memory.tickets.fail_next(1);
        let err = h
            .handle(event("alarm-cis-root-usage-alarm.json"))
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "DeliveryFailed");
        assert!(
            memory.digest.sent().is_empty(),
            "nothing after the failed ticket"
        );
        assert!(memory.alerts.sent().is_empty(), "no page before its ticket");
    }

    // ------------------------------------------------------------ storm control: dedup, flapping

    use triage_core::alarm::FLAPPING_RULE;

    /// `ServerCpuTooHigh` changing state at 08:00 + `minute` on 2024-06-11.
    fn change(minute: u32, from: &str, to: &str) -> LambdaEvent<Value> {
        let mut e = sample("alarm-metric-alarm.json");
        e["detail"]["previousState"]["value"] = from.into();
        e["detail"]["state"]["value"] = to.into();
        e["detail"]["state"]["timestamp"] = format!(
            "2024-06-11T{:02}:{:02}:00.000+0000",
            8 + minute / 60,
            minute % 60
        )
        .into();
        LambdaEvent::new(e, Context::default())
    }

    fn alternating(minute: u32, i: usize) -> LambdaEvent<Value> {
        if i % 2 == 0 {
            change(minute, "OK", "ALARM")
        } else {
            change(minute, "ALARM", "OK")
        }
    }

    fn tickets(memory: &Memory) -> Vec<(TicketAction, String)> {
        memory
            .tickets
            .sent()
            .iter()
            .map(|t| (t.action, t.finding.rule_id.as_str().to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn six_state_changes_are_one_flapping_ticket_and_nothing_per_change_after_it() {
        let (h, memory) = handler();
        let log = &memory.transitions;
        let mut summaries = Vec::new();
        for (i, minute) in [0, 10, 20, 30, 40, 50].into_iter().enumerate() {
            summaries.push(h.handle(alternating(minute, i)).await.expect("handled"));
        }
        let cpu = "ServerCpuTooHigh".to_owned();
        assert_eq!(
            tickets(&memory),
            [
                (TicketAction::Open, cpu.clone()),
                (TicketAction::Resolve, cpu.clone()),
                (TicketAction::Open, cpu.clone()),
                (TicketAction::Resolve, cpu.clone()),
                (TicketAction::Open, FLAPPING_RULE.to_owned()),
            ]
        );
        assert_eq!(
            summaries[4],
            Summary {
                findings: 2,
                tickets: 1,
                digest_entries: 2,
                flapping: 1,
                flapping_reported: 1,
                ..Summary::default()
            }
        );
        assert_eq!(
            summaries[5],
            Summary {
                findings: 1,
                digest_entries: 1,
                flapping: 1,
                ..Summary::default()
            }
        );
        let flapping = &memory.tickets.sent()[4].finding;
        assert_eq!(
            flapping.title.as_str(),
            "CloudWatch alarm ServerCpuTooHigh is flapping: 5 state changes in 60 min"
        );
        assert!(memory.alerts.sent().is_empty());
        let digest: Vec<(DigestKind, String)> = memory
            .digest
            .sent()
            .iter()
            .map(|d| (d.kind, d.rule_id.as_str().to_owned()))
            .collect();
        assert_eq!(
            digest[4..],
            [
                (DigestKind::New, FLAPPING_RULE.to_owned()),
                (DigestKind::Repeat, cpu.clone()),
                (DigestKind::Repeat, cpu.clone()),
            ]
        );
        assert_eq!(log.writes(), 6, "one recorded change per invocation");

        // Lambda retries the invocation that reported: nothing new goes out but the digest copy.
        let retry = h.handle(alternating(40, 4)).await.expect("retry");
        assert_eq!((retry.tickets, retry.flapping_reported), (0, 1));
        assert_eq!(memory.tickets.sent().len(), 5);

        // Over an hour after the report, a calm change: the flapping ticket resolves, routing
        // resumes with the change itself.
        let calm = h.handle(change(150, "OK", "ALARM")).await.expect("calm");
        assert_eq!(
            (calm.flapping_resolved, calm.flapping, calm.tickets),
            (1, 0, 2)
        );
        assert_eq!(
            tickets(&memory)[5..],
            [
                (TicketAction::Resolve, FLAPPING_RULE.to_owned()),
                (TicketAction::Open, cpu),
            ]
        );
        let sent = memory.tickets.sent();
        assert_eq!(sent[5].fingerprint, sent[4].fingerprint);
        assert_eq!(sent[5].finding.title, sent[4].finding.title);
    }

    #[tokio::test]
    async fn the_flapping_sample_batch_is_one_resolve_one_flapping_ticket_and_two_digest_lines() {
        let (h, memory) = handler();
        let summary = h
            .handle(event("alarm-flapping-sqs-batch.json"))
            .await
            .expect("handled");
        assert_eq!(
            summary,
            Summary {
                findings: 3,
                tickets: 2,
                digest_entries: 3,
                flapping: 2,
                flapping_reported: 1,
                ..Summary::default()
            }
        );
        let sent = memory.tickets.sent();
        // The four calm changes of the batch merge into one finding (the latest, OK).
        assert_eq!(
            (sent[0].action, sent[0].finding.count),
            (TicketAction::Resolve, 4)
        );
        assert_eq!(
            sent[1].finding.title.as_str(),
            "CloudWatch alarm OrdersQueueBacklog is flapping: 5 state changes in 60 min"
        );
        assert_eq!(sent[1].finding.severity, Severity::Medium);
    }

    #[tokio::test]
    async fn a_repeat_inside_the_dedup_window_is_a_digest_line_not_a_second_ticket() {
        let (h, memory) = handler();
        let dedup = &memory.dedup;
        h.handle(event("alarm-metric-alarm.json"))
            .await
            .expect("alarm");
        let repeat = h
            .handle(event("alarm-metric-alarm-repeat.json"))
            .await
            .expect("repeat");
        assert_eq!(
            (repeat.tickets, repeat.repeats, repeat.digest_entries),
            (0, 1, 1)
        );
        assert_eq!(
            tickets(&memory),
            [(TicketAction::Open, "ServerCpuTooHigh".to_owned())]
        );
        assert_eq!(dedup.items().len(), 1);
        assert_eq!(dedup.items()[0].total, 2);
    }

    #[tokio::test]
    async fn an_unreachable_flap_state_fails_the_invocation_before_anything_is_sent() {
        let (h, memory) = handler();
        let log = &memory.transitions;
        log.fail_next(1);
        let err = h
            .handle(event("alarm-cis-root-usage-alarm.json"))
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "DedupStateUnavailable");
        assert!(memory.tickets.sent().is_empty());
        assert!(memory.digest.sent().is_empty());
        assert!(memory.alerts.sent().is_empty());
        let retry = h
            .handle(event("alarm-cis-root-usage-alarm.json"))
            .await
            .expect("retry");
        assert_eq!((retry.tickets, retry.alerts), (1, 1));
    }

    #[tokio::test]
    async fn with_flap_control_off_every_change_tickets() {
        let (h, memory) = handler_with(&[("ALARM_FLAP_TRANSITIONS", "0")]);
        let log = &memory.transitions;
        for (i, minute) in [0, 10, 20, 30, 40, 50].into_iter().enumerate() {
            let s = h.handle(alternating(minute, i)).await.expect("handled");
            assert_eq!((s.tickets, s.flapping), (1, 0));
        }
        assert_eq!(log.writes(), 0);
    }
}
