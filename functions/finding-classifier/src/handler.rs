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
use triage_core::metrics::{Counts, Emitter};
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
    metrics: Emitter,
}

impl<B: Backend> Handler<B> {
    pub(crate) fn new(classifier: HubClassifier, router: RouterOf<B>, metrics: Emitter) -> Self {
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
        let outcome = self
            .classifier
            .findings(&event.payload, self.router.now())?;
        for error in &outcome.invalid {
            warn!(%error, "unreadable finding skipped");
        }
        let summary = Summary {
            skipped: outcome.skipped.len(),
            invalid: outcome.invalid.len(),
            ..Summary::default()
        };
        let mut counts = Counts::default();
        counts.add(
            "Records",
            outcome.findings.len() + outcome.skipped.len() + outcome.invalid.len(),
        );
        counts.add("Rejected", outcome.invalid.len());
        if outcome.findings.is_empty() {
            self.metrics.emit(&counts, self.router.now());
            return Ok(summary);
        }
        let report = self.router.route(outcome.findings).await?;
        counts.merge(&report.metrics);
        self.metrics.emit(&counts, self.router.now());
        Ok(summary.routed(report))
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
    use chrono::{DateTime, TimeDelta, Utc};
    use lambda_runtime::{Context, LambdaEvent};
    use triage_core::clock::ManualClock;
    use triage_core::fakes::Memory;
    use triage_core::{Source, TicketAction};

    use super::*;
    use crate::settings::tests::REQUIRED;
    use crate::{Settings, assemble};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// finding-classifier as it ships, on memory, at `now`.
    fn handler(now: &str) -> (Handler<Memory>, Memory, ManualClock) {
        let clock = ManualClock::new(at(now));
        let memory = Memory::default().with_clock(clock.clone());
        let settings = Settings::from(&triage_core::settings::env_from_pairs(&REQUIRED));
        (
            assemble(settings.expect("settings"), &memory),
            memory,
            clock,
        )
    }

    fn event(name: &str) -> LambdaEvent<Value> {
        LambdaEvent::new(triage_testkit::event(name), Context::default())
    }

    fn actions(memory: &Memory) -> Vec<TicketAction> {
        memory.tickets.sent().iter().map(|t| t.action).collect()
    }

    #[tokio::test]
    async fn one_guardduty_finding_through_all_three_paths_is_one_ticket_and_one_page_at_most() {
        let (h, memory, _) = handler("2025-03-14T02:42:00Z");
        let direct = h
            .handle(event("guardduty-credential-exfiltration.json"))
            .await
            .expect("direct");
        assert_eq!((direct.findings, direct.tickets), (1, 1));
        for other in [
            "securityhub-guardduty-credential-exfiltration.json",
            "securityhub-v2-guardduty-credential-exfiltration.json",
        ] {
            let s = h.handle(event(other)).await.expect(other);
            assert_eq!((s.stale, s.tickets, s.repeats), (1, 0, 0), "{other}");
        }
        assert_eq!(actions(&memory), [TicketAction::Open]);
        assert_eq!(memory.tickets.sent()[0].finding.source, Source::Guardduty);
        assert!(
            memory.alerts.sent().is_empty(),
            "high tickets, it does not page"
        );
    }

    #[tokio::test]
    async fn a_newer_version_repeats_in_the_window_updates_after_it_and_archiving_resolves() {
        let (h, memory, clock) = handler("2025-03-14T02:42:00Z");
        h.handle(event("guardduty-credential-exfiltration.json"))
            .await
            .expect("open");
        // Re-published 2 h later with count 6: inside a 60-minute window counted, no ticket.
        clock.set(at("2025-03-14T02:50:00Z"));
        let repeat = h
            .handle(event("guardduty-credential-exfiltration-repeat.json"))
            .await
            .expect("repeat");
        assert_eq!((repeat.repeats, repeat.tickets), (1, 0));
        // The same version again (a re-delivery) changes nothing.
        let again = h
            .handle(event("guardduty-credential-exfiltration-repeat.json"))
            .await
            .expect("again");
        assert_eq!((again.stale, again.repeats, again.tickets), (1, 0, 0));
        clock.set(at("2025-03-15T05:03:00Z"));
        let archived = h
            .handle(event("guardduty-credential-exfiltration-archived.json"))
            .await
            .expect("archived");
        assert_eq!(archived.tickets, 1);
        assert_eq!(
            actions(&memory),
            [TicketAction::Open, TicketAction::Resolve]
        );

        // With the window over, a newer version updates the ticket with the running count.
        let (h, memory, clock) = handler("2025-03-14T02:42:00Z");
        h.handle(event("guardduty-credential-exfiltration.json"))
            .await
            .expect("open");
        clock.advance(TimeDelta::hours(2));
        h.handle(event("guardduty-credential-exfiltration-repeat.json"))
            .await
            .expect("update");
        let sent = memory.tickets.sent();
        assert_eq!(actions(&memory), [TicketAction::Open, TicketAction::Update]);
        assert_eq!(sent[1].finding.count, 2, "two versions seen");
        assert_eq!(
            sent[1]
                .finding
                .evidence
                .details
                .get("provider_count")
                .map(|c| c.as_str()),
            Some("6"),
            "GuardDuty's own count"
        );
        assert!(sent[0].sequence < sent[1].sequence);
    }

    #[tokio::test]
    async fn a_critical_finding_pages_on_open_and_its_later_versions_update_the_ticket_quietly() {
        let (h, memory, clock) = handler("2025-03-14T05:00:00Z");
        h.handle(event("guardduty-attack-sequence-critical.json"))
            .await
            .expect("open");
        let mut later = triage_testkit::event("guardduty-attack-sequence-critical.json");
        later["detail"]["updatedAt"] = serde_json::json!("2025-03-14T07:00:00Z");
        clock.advance(TimeDelta::hours(2));
        let update = h
            .handle(LambdaEvent::new(later, Context::default()))
            .await
            .expect("update");
        assert_eq!((update.tickets, update.alerts), (1, 0));
        assert_eq!(actions(&memory), [TicketAction::Open, TicketAction::Update]);
        let pages = memory.alerts.sent();
        assert_eq!(pages.len(), 1, "a re-publication is not news: one page");
        assert_eq!(
            (pages[0].action, pages[0].account.as_str()),
            (TicketAction::Open, "111122223333")
        );
        assert!(pages[0].attributes().contains(&(
            "source",
            triage_core::AttributeValue::String("guardduty".into())
        )));
        assert!(
            pages[0].chat.is_empty(),
            "chat is opt-in: HTTPS gets the JSON"
        );

        // CHAT_NOTIFICATIONS=enabled: the page carries the chat card for HTTPS subscribers.
        let mut vars = REQUIRED.to_vec();
        vars.push(("CHAT_NOTIFICATIONS", "enabled"));
        let memory = Memory::default();
        let settings = Settings::from(&triage_core::settings::env_from_pairs(&vars));
        let h = assemble(settings.expect("settings"), &memory);
        h.handle(event("guardduty-attack-sequence-critical.json"))
            .await
            .expect("open");
        let chat = &memory.alerts.sent()[0].chat;
        assert!(chat.contains("\"threadId\""), "{chat}");
    }

    #[tokio::test]
    async fn an_older_version_arriving_late_neither_reopens_nor_counts() {
        let (h, memory, _) = handler("2025-06-06T00:00:00Z");
        h.handle(event("securityhub-inspector-cve.json"))
            .await
            .expect("open");
        h.handle(event("securityhub-inspector-cve-resolved.json"))
            .await
            .expect("resolve");
        let late = h
            .handle(event("securityhub-v2-vulnerability.json"))
            .await
            .expect("late");
        assert_eq!((late.stale, late.tickets), (1, 0));
        assert_eq!(
            actions(&memory),
            [TicketAction::Open, TicketAction::Resolve]
        );
    }

    #[tokio::test]
    async fn a_control_config_reports_gets_one_ticket_from_config_classifier_and_none_here() {
        let (h, memory, _) = handler("2024-09-28T11:16:00Z");
        let config = config_classifier::assemble(
            config_classifier::Settings::from(&triage_core::settings::env_from_pairs(&REQUIRED))
                .expect("settings"),
            &memory,
        );
        config
            .handle(event("config-noncompliant-securityhub-s3.json"))
            .await
            .expect("config");
        let hub = h
            .handle(event("securityhub-control-config-backed-failed.json"))
            .await
            .expect("hub");
        assert_eq!((hub.skipped, hub.findings, hub.tickets), (1, 0, 0));
        let sent = memory.tickets.sent();
        assert_eq!(sent.len(), 1, "one ticket for the bucket");
        assert_eq!(sent[0].finding.source, Source::Config);
        assert_eq!(
            memory.alerts.sent().len(),
            1,
            "one page for a critical public bucket"
        );
    }

    #[tokio::test]
    async fn a_passed_control_sends_its_resolve_to_the_ticket_queue() {
        let (h, memory, _) = handler("2025-02-12T06:21:00Z");
        let failed = h
            .handle(event("securityhub-control-periodic-failed.json"))
            .await
            .expect("failed");
        assert_eq!(
            (failed.tickets, failed.digest_entries),
            (0, 1),
            "low: digest only"
        );
        let passed = h
            .handle(event("securityhub-v2-compliance-passed.json"))
            .await
            .expect("passed");
        assert_eq!(passed.tickets, 1);
        assert_eq!(actions(&memory), [TicketAction::Resolve]);
    }

    #[tokio::test]
    async fn unreadable_findings_are_counted_and_unreadable_events_are_errors() {
        let (h, memory, _) = handler("2025-03-14T02:42:00Z");
        let bad = h
            .handle(event("guardduty-bad-missing-id.json"))
            .await
            .expect("counted");
        assert_eq!((bad.invalid, bad.findings), (1, 0));
        let other = h
            .handle(event("securityhub-other-detail-type.json"))
            .await
            .expect("skipped");
        assert_eq!(other.skipped, 1);
        let err = h
            .handle(event("securityhub-bad-findings-not-array.json"))
            .await
            .expect_err("invalid");
        assert_eq!(err.error_type(), "InvalidEvent");
        assert!(memory.tickets.sent().is_empty());
    }

    #[tokio::test]
    async fn an_undelivered_ticket_fails_the_invocation_so_lambda_retries() {
        let (h, memory, _) = handler("2025-03-14T05:00:00Z");
        memory.tickets.fail_next(1);
        let err = h
            .handle(event("guardduty-attack-sequence-critical.json"))
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "DeliveryFailed");
        assert!(memory.alerts.sent().is_empty(), "no page before its ticket");
        let retry = h
            .handle(event("guardduty-attack-sequence-critical.json"))
            .await
            .expect("retry");
        assert_eq!((retry.tickets, retry.alerts), (1, 1));
    }
}
