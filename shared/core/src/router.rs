//! The shared router: severity policy, then routing by severity to the ticket queue, the
//! digest queue and the alert topic. Every function hands its findings to [`Router::route`].

use tracing::{debug, info, instrument};

use crate::finding::{Finding, Status, merge_by_fingerprint};
use crate::policy::{SeverityPolicy, Thresholds};
use crate::ports::{AlertPublisher, DigestSink, SinkError, TicketSink};
use crate::ticket::{Alert, DigestEntry, DigestKind, TicketAction, TicketEvent};

/// What the router decided to send, before anything is sent. Pure, so it is tested alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Distinct findings (after merging by fingerprint).
    pub findings: usize,
    pub tickets: Vec<TicketEvent>,
    pub digest: Vec<DigestEntry>,
    pub alerts: Vec<Alert>,
    /// Findings below every threshold: counted, not sent.
    pub counted_only: usize,
}

/// What was delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteReport {
    pub findings: usize,
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("could not encode an alert: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("ticket queue: {0}")]
    Tickets(#[source] SinkError),
    #[error("digest queue: {0}")]
    Digest(#[source] SinkError),
    #[error("alert topic: {0}")]
    Alert(#[source] SinkError),
}

/// Routes findings through the policy to the three sinks. Built once per cold start; borrowed
/// by every invocation.
pub struct Router<T, D, A> {
    policy: SeverityPolicy,
    thresholds: Thresholds,
    tickets: T,
    digest: D,
    alerts: A,
}

impl<T: TicketSink, D: DigestSink, A: AlertPublisher> Router<T, D, A> {
    pub fn new(
        policy: SeverityPolicy,
        thresholds: Thresholds,
        tickets: T,
        digest: D,
        alerts: A,
    ) -> Self {
        Router {
            policy,
            thresholds,
            tickets,
            digest,
            alerts,
        }
    }

    pub fn tickets(&self) -> &T {
        &self.tickets
    }

    pub fn digest(&self) -> &D {
        &self.digest
    }

    pub fn alerts(&self) -> &A {
        &self.alerts
    }

    /// Decides where each finding goes. Findings with the same fingerprint are merged first.
    pub fn plan(&self, findings: Vec<Finding>) -> Result<Plan, RouteError> {
        let mut plan = Plan::default();
        let merged = merge_by_fingerprint(findings);
        plan.findings = merged.len();
        for mut finding in merged {
            self.policy.apply(&mut finding);
            let severity = finding.severity;
            let routed_somewhere =
                severity >= self.thresholds.digest || severity >= self.thresholds.ticket;
            if !routed_somewhere {
                debug!(fingerprint = %finding.fingerprint, %severity, "below every threshold: counted only");
                plan.counted_only += 1;
                continue;
            }
            let resolved = finding.status == Status::Resolved;
            if severity >= self.thresholds.digest {
                let kind = if resolved {
                    DigestKind::Resolved
                } else {
                    DigestKind::New
                };
                plan.digest.push(DigestEntry::new(kind, &finding));
            }
            if !resolved && severity >= self.thresholds.alert {
                plan.alerts.push(Alert::for_finding(&finding)?);
            }
            if severity >= self.thresholds.ticket {
                let action = if resolved {
                    TicketAction::Resolve
                } else {
                    TicketAction::Open
                };
                plan.tickets.push(TicketEvent::new(action, finding));
            }
        }
        Ok(plan)
    }

    /// Sends a plan: tickets first, then digest entries, then alerts, so that a failure part way
    /// fails the invocation and its retry re-sends with the same FIFO deduplication ids and the
    /// same digest entry ids — and a page is never sent before its ticket.
    pub async fn deliver(&self, plan: &Plan) -> Result<RouteReport, RouteError> {
        if !plan.tickets.is_empty() {
            self.tickets
                .send_tickets(&plan.tickets)
                .await
                .map_err(RouteError::Tickets)?;
        }
        if !plan.digest.is_empty() {
            self.digest
                .send_entries(&plan.digest)
                .await
                .map_err(RouteError::Digest)?;
        }
        for alert in &plan.alerts {
            self.alerts
                .publish(alert)
                .await
                .map_err(RouteError::Alert)?;
        }
        Ok(RouteReport {
            findings: plan.findings,
            tickets: plan.tickets.len(),
            digest_entries: plan.digest.len(),
            alerts: plan.alerts.len(),
            counted_only: plan.counted_only,
        })
    }

    /// Plans and delivers.
    #[instrument(skip_all, fields(findings = findings.len()))]
    pub async fn route(&self, findings: Vec<Finding>) -> Result<RouteReport, RouteError> {
        let plan = self.plan(findings)?;
        let report = self.deliver(&plan).await?;
        info!(
            tickets = report.tickets,
            digest_entries = report.digest_entries,
            alerts = report.alerts,
            counted_only = report.counted_only,
            "findings routed"
        );
        Ok(report)
    }
}
