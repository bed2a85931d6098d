//! The shared router: severity policy → suppressions → thresholds → dedup state, then delivery
//! to the ticket queue, the digest queue and the alert topic. Every function hands its findings
//! to [`Router::route`].
//!
//! ```text
//! plan (pure)     merge by fingerprint · severity policy · suppressions · thresholds
//! deliver (I/O)   dedup state per finding that tickets or pages (open / repeat / update /
//!                 resolve / stale) → send tickets → mark them sent → digest entries → alerts
//!                 → mark delivered
//! ```
//!
//! Without a dedup store ([`Router::with_dedup`]) every active finding is a first occurrence:
//! it opens a ticket and pages as its severity says. With one, repeats inside the rule's window
//! only count (a `repeat` digest entry), and a recurrence after it sends an `update` (see
//! [`crate::dedup`] for the state and its failure semantics).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{debug, info, instrument, warn};

use crate::accounts::AccountNames;
use crate::clock::{Clock, SystemClock};
use crate::dedup::{
    DedupError, DedupOptions, DedupWindows, NoDedup, Observation, Outcome, Pending, Why, Write,
    observe, origin_of,
};
use crate::finding::{Finding, Fingerprint, Status, merge_by_fingerprint};
use crate::metrics::Counts;
use crate::policy::{SeverityPolicy, Thresholds};
use crate::ports::{
    AlertPublisher, Backend, DedupStore, DigestSink, DynDedupStore, RouterOf, SinkError, TicketSink,
};
use crate::settings::RouterSettings;
use crate::suppress::Suppressions;
use crate::ticket::{Alert, DigestEntry, DigestKind, TicketEvent};

/// A finding that tickets or pages (or resolves one that does): its delivery depends on the
/// dedup state, which numbers its ticket event. Its digest entry and page are built once, here;
/// a first occurrence sends them as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// After the severity policy.
    pub finding: Finding,
    /// Whether the finding tickets (an `open`, or a `resolve` for a resolved finding).
    pub ticket: bool,
    /// The `new` (or `resolved`) digest entry, if the finding reaches the digest.
    pub entry: Option<DigestEntry>,
    /// The page, if the finding pages (never for a resolve).
    pub alert: Option<Alert>,
}

/// Where each finding goes before the dedup state is consulted. Pure, so it is tested alone;
/// [`Router::deliver`] then applies the dedup state to the [`Plan::candidates`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Distinct findings (after merging by fingerprint).
    pub findings: usize,
    /// Digest entries that go out whatever the dedup state: digest-only findings and
    /// `suppressed` entries.
    pub digest: Vec<DigestEntry>,
    /// Findings below every threshold: counted, not sent.
    pub counted_only: usize,
    /// Findings a suppression silenced: a `suppressed` digest entry each, no ticket, no page.
    pub suppressed: usize,
    /// Findings that ticket or page, and resolves of them, subject to dedup.
    pub candidates: Vec<Candidate>,
    /// Every finding (after the policy) by source, severity and rule, for the metrics.
    pub tally: Counts,
}

/// What was delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteReport {
    pub findings: usize,
    /// Ticket events sent (open, update, resolve, and re-sent pending ones).
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
    pub suppressed: usize,
    /// Occurrences merged into an open problem inside its window.
    pub repeats: usize,
    /// Recurrences after the window (`update` ticket events).
    pub updates: usize,
    /// Undelivered ticket events of an earlier attempt re-sent (retry or take-over).
    pub redelivered: usize,
    /// Observations already delivered by an earlier attempt (a retried invocation).
    pub already_delivered: usize,
    /// Out-of-date observations dropped: a resolve older than the problem's last occurrence,
    /// an occurrence no newer than its resolve, a resolve of a resolved problem, a version of
    /// a GuardDuty or Security Hub finding no newer than the one last seen.
    pub stale: usize,
    /// Ticket events sent, by action: open, update, resolve.
    pub ticket_actions: [usize; 3],
    /// The findings by source, severity and rule (after the severity policy), and the
    /// counters above, as metrics ([`crate::metrics`]).
    pub metrics: Counts,
}

impl RouteReport {
    /// Fills [`Self::metrics`]' counters from the report's.
    fn count(mut self) -> Self {
        let [opened, updated, resolved] = self.ticket_actions;
        let m = &mut self.metrics;
        m.add("TicketsOpened", opened);
        m.add("TicketsUpdated", updated);
        m.add("TicketsResolved", resolved);
        m.add("Alerts", self.alerts);
        m.add("DigestEntries", self.digest_entries);
        m.add("Suppressed", self.suppressed);
        m.add("Repeats", self.repeats);
        m.add("Stale", self.stale);
        m.add("CountedOnly", self.counted_only);
        m.add("DeliveryRetries", self.redelivered);
        self
    }
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
    #[error("event bus: {0}")]
    Events(#[source] SinkError),
    #[error("dedup state: {0}")]
    Dedup(#[source] DedupError),
}

impl RouteError {
    /// Whether retrying the invocation can succeed (sinks and the dedup store may recover;
    /// an encoding error will not).
    pub fn is_retryable(&self) -> bool {
        match self {
            RouteError::Encode(_) => false,
            RouteError::Tickets(e)
            | RouteError::Digest(e)
            | RouteError::Alert(e)
            | RouteError::Events(e) => !matches!(e, SinkError::Encode { .. }),
            RouteError::Dedup(e) => e.is_retryable(),
        }
    }

    /// The `errorType` a function reports for this error: an unreachable dedup table is told
    /// apart from an undelivered message, so that an operator reading the function's errors
    /// knows which resource to look at. Both are retried.
    pub fn error_type(&self) -> &'static str {
        match self {
            RouteError::Dedup(_) => "DedupStateUnavailable",
            _ => "DeliveryFailed",
        }
    }
}

/// The router every classifier ships, from its settings and a backend: the backend's sinks,
/// dedup store and clock. The functions' `assemble` call this and nothing else builds a router
/// for a function.
pub fn assemble<B: Backend>(settings: RouterSettings, backend: &B) -> RouterOf<B> {
    let RouterSettings {
        routing,
        policy,
        dedup,
        suppressions,
        accounts,
        metrics: _,
    } = settings;
    let mut router = Router::new(
        policy,
        routing.thresholds,
        backend.ticket_sink(&routing.ticket_queue_url),
        backend.digest_sink(&routing.digest_queue_url),
        backend.alert_publisher(&routing.alert_topic_arn),
    )
    .with_suppressions(suppressions)
    .with_account_names(accounts)
    .with_dedup(backend.dedup_store(&dedup.table_name))
    .with_dedup_windows(dedup.windows)
    .with_dedup_options(dedup.options);
    router.clock = backend.clock();
    router.chat = routing.chat;
    router.ocsf = routing.ocsf;
    if let Some(bus) = &routing.event_bus_name {
        router.events = Some(Box::new(backend.event_publisher(bus)));
    }
    router
}

/// Routes findings through the policy and the dedup state to the three sinks. Built once per
/// cold start; borrowed by every invocation.
pub struct Router<T, D, A> {
    policy: SeverityPolicy,
    thresholds: Thresholds,
    tickets: T,
    digest: D,
    alerts: A,
    suppressions: Suppressions,
    dedup: Box<dyn DynDedupStore>,
    windows: DedupWindows,
    dedup_options: DedupOptions,
    clock: Arc<dyn Clock>,
    accounts: AccountNames,
    /// Whether alerts carry the chat notification for HTTPS subscribers.
    chat: bool,
    /// Whether ticket events also go on the bus as OCSF findings.
    ocsf: bool,
    /// triage's EventBridge bus, when `EVENT_BUS_NAME` names one.
    events: Option<Box<dyn crate::ports::DynEventPublisher>>,
}

impl<T, D, A> Router<T, D, A> {
    /// A router without dedup state or suppressions (add them with the `with_*` methods).
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
            suppressions: Suppressions::none(),
            dedup: Box::new(NoDedup),
            windows: DedupWindows::default(),
            dedup_options: DedupOptions::default(),
            events: None,
            chat: false,
            ocsf: false,
            clock: Arc::new(SystemClock),
            accounts: AccountNames::default(),
        }
    }

    /// Keeps dedup state in `store` (DynamoDB in production).
    pub fn with_dedup(mut self, store: impl DedupStore + 'static) -> Self {
        self.dedup = Box::new(store);
        self
    }

    /// The dedup window of each rule.
    pub fn with_dedup_windows(mut self, windows: DedupWindows) -> Self {
        self.windows = windows;
        self
    }

    /// The claim and retention of dedup state.
    pub fn with_dedup_options(mut self, options: DedupOptions) -> Self {
        self.dedup_options = options;
        self
    }

    pub fn with_suppressions(mut self, suppressions: Suppressions) -> Self {
        self.suppressions = suppressions;
        self
    }

    /// Names the findings' accounts (`policy/accounts.toml`).
    pub fn with_account_names(mut self, accounts: AccountNames) -> Self {
        self.accounts = accounts;
        self
    }

    /// Where "now" comes from (dedup windows, suppression expiry).
    /// The router's time: the clock its dedup windows and suppressions are judged by.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
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

    pub fn suppressions(&self) -> &Suppressions {
        &self.suppressions
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }
}

impl<T: TicketSink, D: DigestSink, A: AlertPublisher> Router<T, D, A> {
    /// Decides where each finding goes and builds its messages. Findings with the same
    /// fingerprint are merged first.
    pub fn plan(&self, findings: Vec<Finding>) -> Result<Plan, RouteError> {
        let now = self.clock.now();
        let mut plan = Plan::default();
        let merged = merge_by_fingerprint(findings);
        plan.findings = merged.len();
        for mut finding in merged {
            self.policy.apply(&mut finding);
            self.accounts.annotate(&mut finding);
            plan.tally.finding(&finding);
            let severity = finding.severity;
            let to_digest = severity >= self.thresholds.digest;
            let to_ticket = severity >= self.thresholds.ticket;
            if !to_digest && !to_ticket {
                debug!(fingerprint = %finding.fingerprint, %severity, "below every threshold: counted only");
                plan.counted_only += 1;
                continue;
            }
            if let Some(s) = self.suppressions.find(&finding, now) {
                info!(
                    fingerprint = %finding.fingerprint,
                    rule = %finding.rule_id,
                    suppression = %s.id,
                    "suppressed: no ticket, no page; counted in the digest"
                );
                plan.suppressed += 1;
                plan.digest.push(DigestEntry::suppressed(&finding, &s.id));
                continue;
            }
            let page = severity >= self.thresholds.alert;
            let tracked = to_ticket || page;
            if finding.status == Status::Resolved {
                let entry = to_digest.then(|| DigestEntry::new(DigestKind::Resolved, &finding));
                if tracked {
                    plan.candidates.push(Candidate {
                        ticket: to_ticket,
                        entry,
                        alert: None,
                        finding,
                    });
                } else {
                    plan.digest.extend(entry);
                }
                continue;
            }
            let entry = to_digest.then(|| DigestEntry::new(DigestKind::New, &finding));
            if !tracked {
                plan.digest.extend(entry);
                continue;
            }
            plan.candidates.push(Candidate {
                alert: if page {
                    Some(Alert::for_finding(&finding)?)
                } else {
                    None
                },
                ticket: to_ticket,
                entry,
                finding,
            });
        }
        Ok(plan)
    }

    /// Applies the dedup state to the plan's candidates, then sends: tickets first (and marks
    /// them sent), then digest entries, then alerts — so that a page is never sent before its
    /// ticket — then marks the pending deliveries done. A failure at any step fails the call;
    /// the retried invocation re-sends the stored pending messages not marked sent (same bodies:
    /// FIFO deduplication ids, sequences, digest entry ids, alert ids).
    pub async fn deliver(&self, plan: Plan) -> Result<RouteReport, RouteError> {
        let now = self.clock.now();
        let mut out = Outbox {
            digest: plan.digest,
            ..Outbox::default()
        };
        let mut report = RouteReport {
            findings: plan.findings,
            counted_only: plan.counted_only,
            suppressed: plan.suppressed,
            metrics: plan.tally,
            ..RouteReport::default()
        };
        if let Err(error) = self
            .gather(plan.candidates, now, &mut out, &mut report)
            .await
        {
            // Pendings this invocation claimed for the findings before the failing one will
            // not be sent by it: release them (see `flush`).
            self.release(&out.marks, &error).await;
            return Err(error);
        }
        let sent = self.flush(out).await?;
        report.add(&sent);
        Ok(report)
    }

    /// Observes each candidate against the dedup state and puts what it must deliver in `out`.
    async fn gather(
        &self,
        candidates: Vec<Candidate>,
        now: DateTime<Utc>,
        out: &mut Outbox,
        report: &mut RouteReport,
    ) -> Result<(), RouteError> {
        for c in candidates {
            let Candidate {
                finding,
                ticket,
                entry,
                alert,
            } = c;
            let obs = Observation {
                finding: &finding,
                origin: origin_of(&finding),
                now,
                window: self.windows.window_for(&finding),
                open_after: self.windows.open_after_for(&finding),
                options: self.dedup_options,
                send_ticket: ticket,
                page: alert.is_some(),
                digest: entry.is_some(),
            };
            match self.observe_in_order(&obs, report).await? {
                Outcome::Deliver {
                    pending,
                    generation,
                    why,
                } => {
                    match why {
                        Why::Open | Why::Resolve => {}
                        Why::Update => report.updates += 1,
                        Why::Retry | Why::TakeOver | Why::Rescue => report.redelivered += 1,
                    }
                    let event = pending.ticket_event().map_err(RouteError::Dedup)?;
                    info!(fingerprint = %finding.fingerprint, ?why, action = event.action.as_str(), sequence = event.sequence, "delivering");
                    if matches!(why, Why::Open | Why::Resolve) {
                        // A fresh open or resolve sends the plan's own digest entry and page
                        // (the stored copies are the same bytes).
                        let alert = alert.filter(|_| pending.page);
                        out.push(generation, &pending, event, entry.clone(), alert);
                    } else {
                        let stored_entry = pending.digest_entry().map_err(RouteError::Dedup)?;
                        let stored_alert = if pending.page {
                            Some(Alert::for_finding(&event.finding)?)
                        } else {
                            None
                        };
                        out.push(generation, &pending, event, stored_entry, stored_alert);
                    }
                    if why == Why::TakeOver {
                        // This observation itself is a repeat of the problem taken over.
                        report.repeats += 1;
                        if entry.is_some() {
                            out.digest
                                .push(DigestEntry::new(DigestKind::Repeat, &finding));
                        }
                    }
                }
                Outcome::Repeat { total } => {
                    debug!(fingerprint = %finding.fingerprint, total, "repeat inside the window: counted, no ticket, no page");
                    report.repeats += 1;
                    if entry.is_some() {
                        out.digest
                            .push(DigestEntry::new(DigestKind::Repeat, &finding));
                    }
                }
                Outcome::AlreadyDelivered => {
                    debug!(fingerprint = %finding.fingerprint, "already delivered by an earlier attempt");
                    report.already_delivered += 1;
                }
                Outcome::Stale(why) => {
                    info!(fingerprint = %finding.fingerprint, status = ?finding.status, last_seen = %finding.last_seen, ?why, "out of date: dropped");
                    report.stale += 1;
                }
                // observe_in_order delivers earlier pendings itself; one still ahead after its
                // rounds is contention.
                Outcome::Earlier { .. } => {
                    return Err(RouteError::Dedup(DedupError::Contention {
                        fingerprint: finding.fingerprint.clone(),
                        attempts: 0,
                    }));
                }
            }
        }
        Ok(())
    }

    /// Ends this invocation's claims on the pendings of `marks` after `error`: it will send
    /// nothing more of them, so a retry (a stream's comes within seconds) need not wait for the
    /// claims to run out. A release that is refused (the pending was delivered or moved on) or
    /// fails (the store is down too) leaves the claim to run out, as when an invocation dies.
    async fn release(&self, marks: &[Mark], error: &RouteError) {
        let now = self.clock.now();
        for mark in marks {
            match self.dedup.write_boxed(&mark.release(now)).await {
                Ok(_) => {
                    debug!(fingerprint = %mark.fingerprint, %error, "claim released after a failed delivery")
                }
                Err(e) => {
                    warn!(fingerprint = %mark.fingerprint, %error, release_error = %e, "claim not released: a retry waits for it to run out")
                }
            }
        }
    }

    /// Observes, first delivering the stale pending of another invocation that must reach the
    /// ticket system before this observation ([`Outcome::Earlier`]).
    async fn observe_in_order(
        &self,
        obs: &Observation<'_>,
        report: &mut RouteReport,
    ) -> Result<Outcome, RouteError> {
        const ROUNDS: u32 = 3;
        for _ in 0..ROUNDS {
            match observe(&*self.dedup, obs)
                .await
                .map_err(RouteError::Dedup)?
            {
                Outcome::Earlier {
                    pending,
                    generation,
                } => {
                    let event = pending.ticket_event().map_err(RouteError::Dedup)?;
                    info!(fingerprint = %obs.finding.fingerprint, action = event.action.as_str(), sequence = event.sequence, "delivering an earlier undelivered event first");
                    let entry = pending.digest_entry().map_err(RouteError::Dedup)?;
                    let alert = if pending.page {
                        Some(Alert::for_finding(&event.finding)?)
                    } else {
                        None
                    };
                    let mut out = Outbox::default();
                    out.push(generation, &pending, event, entry, alert);
                    let sent = self.flush(out).await?;
                    report.redelivered += 1;
                    report.add(&sent);
                }
                other => return Ok(other),
            }
        }
        Err(RouteError::Dedup(DedupError::Contention {
            fingerprint: obs.finding.fingerprint.clone(),
            attempts: ROUNDS,
        }))
    }

    /// Sends what `out` holds (see [`Self::send`]); when that fails, releases the claims of
    /// its pendings before the error is returned ([`Self::release`]).
    async fn flush(&self, out: Outbox) -> Result<Sent, RouteError> {
        let marks = out.marks.clone();
        let sent = self.send(out).await;
        if let Err(error) = &sent {
            self.release(&marks, error).await;
        }
        sent
    }

    /// Sends what `out` holds: tickets, then marks them sent (delivered, when nothing else of
    /// theirs is to go), then digest entries, then alerts, then marks the rest delivered.
    async fn send(&self, out: Outbox) -> Result<Sent, RouteError> {
        if !out.tickets.is_empty() {
            self.tickets
                .send_tickets(&out.tickets)
                .await
                .map_err(RouteError::Tickets)?;
            // On the bus too, before the ticket is marked sent: a failed put is retried with it.
            let mut events = Vec::with_capacity(out.tickets.len() * 2);
            for t in &out.tickets {
                let event = t.bus_event(&t.body()?);
                if self.ocsf {
                    events.push(crate::ocsf::bus_event(t, event.resources.clone())?);
                }
                events.push(event);
            }
            self.put_events(&events).await?;
        }
        for mark in out.marks.iter().filter(|m| m.ticket) {
            // A conflict means another invocation marked it (or moved the state on): fine.
            let write = if mark.rest {
                mark.ticket_sent()
            } else {
                mark.delivered()
            };
            self.dedup
                .write_boxed(&write)
                .await
                .map_err(RouteError::Dedup)?;
        }
        if !out.digest.is_empty() {
            self.digest
                .send_entries(&out.digest)
                .await
                .map_err(RouteError::Digest)?;
        }
        for alert in &out.alerts {
            let without;
            let alert = if self.chat {
                alert
            } else {
                without = alert.clone().without_chat();
                &without
            };
            self.alerts
                .publish(alert)
                .await
                .map_err(RouteError::Alert)?;
        }
        let alert_events: Vec<_> = out.alerts.iter().map(Alert::bus_event).collect();
        self.put_events(&alert_events).await?;
        for mark in out.marks.iter().filter(|m| !m.ticket || m.rest) {
            self.dedup
                .write_boxed(&mark.delivered())
                .await
                .map_err(RouteError::Dedup)?;
        }
        let mut actions = [0; 3];
        for t in &out.tickets {
            let i = match t.action {
                crate::ticket::TicketAction::Open => 0,
                crate::ticket::TicketAction::Update => 1,
                crate::ticket::TicketAction::Resolve => 2,
            };
            if let Some(n) = actions.get_mut(i) {
                *n += 1;
            }
        }
        Ok(Sent {
            tickets: out.tickets.len(),
            digest_entries: out.digest.len(),
            alerts: out.alerts.len(),
            actions,
        })
    }

    /// Puts `events` on triage's bus, when it has one.
    async fn put_events(&self, events: &[crate::ticket::BusEvent]) -> Result<(), RouteError> {
        match &self.events {
            Some(bus) if !events.is_empty() => bus
                .put_events_boxed(events)
                .await
                .map_err(RouteError::Events),
            _ => Ok(()),
        }
    }

    /// Plans and delivers.
    #[instrument(skip_all, fields(findings = findings.len()))]
    pub async fn route(&self, findings: Vec<Finding>) -> Result<RouteReport, RouteError> {
        let plan = self.plan(findings)?;
        let report = self.deliver(plan).await?.count();
        info!(
            tickets = report.tickets,
            digest_entries = report.digest_entries,
            alerts = report.alerts,
            counted_only = report.counted_only,
            suppressed = report.suppressed,
            repeats = report.repeats,
            updates = report.updates,
            redelivered = report.redelivered,
            stale = report.stale,
            "findings routed"
        );
        Ok(report)
    }

    /// Occurrences another ticket already stands for (the state changes of a flapping alarm,
    /// see [`crate::flap`]): the severity policy, the suppressions and the digest threshold
    /// apply as in [`Self::plan`], but nothing tickets, pages or touches the dedup state; each
    /// reaches the digest as a `repeat` entry (`suppressed` when a suppression matches).
    #[instrument(skip_all, fields(findings = findings.len()))]
    pub async fn route_digest_only(
        &self,
        findings: Vec<Finding>,
    ) -> Result<RouteReport, RouteError> {
        let now = self.clock.now();
        let mut report = RouteReport::default();
        let mut entries = Vec::new();
        for mut finding in merge_by_fingerprint(findings) {
            report.findings += 1;
            self.policy.apply(&mut finding);
            self.accounts.annotate(&mut finding);
            report.metrics.finding(&finding);
            if finding.severity < self.thresholds.digest {
                report.counted_only += 1;
            } else if let Some(s) = self.suppressions.find(&finding, now) {
                report.suppressed += 1;
                entries.push(DigestEntry::suppressed(&finding, &s.id));
            } else {
                report.repeats += 1;
                entries.push(DigestEntry::new(DigestKind::Repeat, &finding));
            }
        }
        if !entries.is_empty() {
            self.digest
                .send_entries(&entries)
                .await
                .map_err(RouteError::Digest)?;
        }
        report.digest_entries = entries.len();
        Ok(report.count())
    }
}

/// What one delivery sends, in order, and the marks that follow.
#[derive(Default)]
struct Outbox {
    tickets: Vec<TicketEvent>,
    digest: Vec<DigestEntry>,
    alerts: Vec<Alert>,
    marks: Vec<Mark>,
}

impl Outbox {
    /// A stored pending's messages: its ticket event unless it was sent already, its digest
    /// entry and its page.
    fn push(
        &mut self,
        generation: u64,
        pending: &Pending,
        event: TicketEvent,
        entry: Option<DigestEntry>,
        alert: Option<Alert>,
    ) {
        let ticket = pending.send_ticket && !pending.ticket_sent;
        let rest = entry.is_some() || alert.is_some();
        let action = event.action;
        let fingerprint = event.fingerprint.clone();
        if ticket {
            self.tickets.push(event);
        }
        self.digest.extend(entry);
        self.alerts.extend(alert.map(|a| a.with_action(action)));
        self.marks.push(Mark {
            fingerprint,
            generation,
            origin: pending.origin.clone(),
            ticket,
            rest,
        });
    }
}

/// The marks owed to one pending.
#[derive(Clone)]
struct Mark {
    fingerprint: Fingerprint,
    generation: u64,
    origin: String,
    /// Its ticket event is in this delivery.
    ticket: bool,
    /// Its digest entry or page is in this delivery.
    rest: bool,
}

impl Mark {
    fn ticket_sent(&self) -> Write {
        Write::MarkTicketSent {
            fingerprint: self.fingerprint.clone(),
            generation: self.generation,
            origin: self.origin.clone(),
        }
    }

    fn delivered(&self) -> Write {
        Write::MarkDelivered {
            fingerprint: self.fingerprint.clone(),
            generation: self.generation,
            origin: self.origin.clone(),
        }
    }

    /// Ends the claim now, to the millisecond: the dedup decision compares claims with a time
    /// truncated to milliseconds, and a retry within the same millisecond must find it ended.
    fn release(&self, now: DateTime<Utc>) -> Write {
        Write::Release {
            fingerprint: self.fingerprint.clone(),
            generation: self.generation,
            origin: self.origin.clone(),
            claimed_until: DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now),
        }
    }
}

/// How many messages a delivery sent.
struct Sent {
    tickets: usize,
    digest_entries: usize,
    alerts: usize,
    /// Ticket events by action (open, update, resolve).
    actions: [usize; 3],
}

impl RouteReport {
    fn add(&mut self, sent: &Sent) {
        self.tickets += sent.tickets;
        self.digest_entries += sent.digest_entries;
        self.alerts += sent.alerts;
        for (n, more) in self.ticket_actions.iter_mut().zip(sent.actions) {
            *n += more;
        }
    }
}

#[cfg(test)]
mod tests;
