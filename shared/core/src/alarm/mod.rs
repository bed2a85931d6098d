//! CloudWatch alarm state changes → findings (alarm-classifier).
//!
//! # Three forms, one classification
//!
//! An alarm change arrives as an EventBridge `CloudWatch Alarm State Change` (metric,
//! metric-math, anomaly-detection and composite alarms, including composites whose actions are
//! suppressed), as the alarm's Lambda-action payload (`alarmData`), or as the classic SNS
//! notification (the alarm JSON in `Sns.Message`, whose `Region` is a display name such as
//! `US East (N. Virginia)`: mapped to the code by [`region_code`], else taken from the
//! `AlarmArn`). [`AlarmChange`] normalises all three; [`AlarmClassifier`] turns it into a
//! [`Finding`](crate::Finding) with source `alarm`, the alarm name as rule id and an
//! `AWS::CloudWatch::Alarm` resource. Envelopes (SNS, SQS) are unwrapped by the caller with
//! [`crate::inbound::unwrap_envelopes`], so each record is classified on its own.
//!
//! # Lifecycle
//!
//! - **ALARM** → an active finding; **OK** → a resolved finding for the same fingerprint (a
//!   harmless no-op for the ticket system when nothing is open).
//! - **INSUFFICIENT_DATA** → by default no finding (counted as skipped, logged at debug);
//!   with [`InsufficientData::Ticket`] an active finding on the same ticket, capped at medium.
//! - Other CloudWatch alarm detail-types (`CloudWatch Alarm Configuration Change`) and events
//!   that are not alarms at all → skipped, not an error.
//! - **Fingerprint** = source `alarm` + alarm name + account + region + the alarm ARN (built from
//!   partition, region, account and name when the event lacks it, so every form of the same
//!   alarm gives the same fingerprint). A new reason or a re-notification of an alarm that is
//!   still in ALARM therefore lands on the same ticket; `previousState` ALARM → ALARM is marked
//!   `details.repeat = "true"` and described as "still in ALARM with a new reason".
//!
//! Across invocations the router's dedup state (the DynamoDB table, [`crate::dedup`]) makes a
//! repeat inside the alarm's dedup window a `repeat` digest entry and one after it an `update`;
//! within one invocation the router merges findings of one fingerprint (an SNS batch holding
//! ALARM, OK, ALARM for one alarm is one finding with count 3 and the latest status).
//!
//! # Flapping
//!
//! An alarm that changes state more than N times within a window (`ALARM_FLAP_TRANSITIONS`,
//! default 4; `ALARM_FLAP_WINDOW_MINUTES`, default 60) is reported once as flapping instead of
//! as N tickets. Every real state change ([`AlarmRecord::transition`]: OK, ALARM and
//! INSUFFICIENT_DATA changes, not ALARM → ALARM re-notifications) is recorded by
//! [`crate::flap`] under the alarm's fingerprint, with the alarm's own state-change time, so a
//! retried delivery is not counted twice. The change that makes the count exceed N opens a
//! **flapping finding** ([`AlarmTransition::flapping`]): its own rule ([`FLAPPING_RULE`],
//! hence its own fingerprint and ticket), the alarm's resource and console link, the title
//! "CloudWatch alarm <name> is flapping: <k> state changes in <W> min", and the alarm's
//! severity capped at **high** — flapping says the alarm is unreliable, not that its condition
//! happened again, and the alarm's first ALARM already paged if it pages; with the default
//! `AlertMinSeverity` (critical) a flapping finding never pages. While flapping was reported
//! within the window, the alarm's own state changes go to the digest only (a `repeat` entry:
//! no ticket, no page, no dedup state). The first state change at least a window after the
//! report with at most N changes in the window before it resolves the flapping finding (once)
//! and is itself routed as usual; if the alarm still flaps a window after the report, it is
//! reported again (an `update` of the flapping ticket, through the dedup state).
//!
//! The trade-off, on purpose: while an alarm flaps, its own ticket keeps the state it had when
//! the flapping began (open or resolved), and the flapping ticket stays open until a calm state
//! change arrives — an alarm that stops changing state altogether leaves it open. A human
//! looks: the flapping ticket names the alarm, the digest lists every change.

//! # Severity
//!
//! Declarative, in `policy/alarm-severity.toml` ([`AlarmPolicy`]): a `severity=<level>` token in
//! the alarm description wins; then a `triage:detection=<id>` token (the detection's severity);
//! then the first alarm-name glob; then the first namespace/metric glob; else the configured
//! default (`ALARM_DEFAULT_SEVERITY`, medium). The seed's detections carry their severity: root
//! usage and console sign-in without MFA critical, unauthorized API calls high — also for the
//! usual CIS alarm names (`CIS-1.7-RootAccountUsage`) and the `CISBenchmark` /
//! `CloudTrailMetrics` metric-filter metrics. `details.severity_basis` says which line decided.
//!
//! # One problem, one ticket: alarms that watch a log-detector detection
//!
//! The template's seed alarms count the same CloudTrail records that log-detector evaluates: a
//! root sign-in is seen by log-detector (a ticket with principal, source IP, user agent, event
//! id) *and*, minutes later, by the metric-filter alarm (a count crossing 1, no who or where).
//! A shared fingerprint cannot work — the alarm knows neither the principal nor the event — so
//! the link is explicit: the template writes `triage:detection=<log-detector rule id>` into
//! each seed alarm's `AlarmDescription`. Such an alarm:
//!
//! - with `ALARM_LINKED_DETECTIONS=digest` (the default) becomes a **low** finding — a digest
//!   line, never a ticket or a page — carrying `details.linked_detection` and
//!   `details.detection_severity`, so the digest shows that the independent metric-filter path
//!   agrees with log-detector's ticket (and, if that ticket is missing, that log-detector is
//!   blind: its own error and DLQ alarms page for that);
//! - with `ALARM_LINKED_DETECTIONS=ticket` tickets at the detection's severity like any alarm,
//!   for deployments where log-detector does not subscribe to the trail the filters watch.
//!
//! Only the explicit token links. An alarm that merely *looks* like a seed alarm (a CIS name or
//! a `CISBenchmark` metric, created outside this stack and possibly on another trail) gets the
//! detection's severity, title and remediation (`details.detection`) but still tickets: triage
//! does not hide a signal it cannot prove is a duplicate. Whoever can edit an alarm's
//! description can already disable its actions, so the token gives no one new power.

mod change;
mod classify;
mod policy;
mod regions;

pub use change::{
    AlarmChange, AlarmEventError, AlarmForm, AlarmKind, AlarmMetric, AlarmState, STATE_CHANGE,
    normalise_arn, parse_time,
};
pub use classify::{
    ALARM_RESOURCE_TYPE, AlarmClassifier, AlarmOptions, AlarmOutcome, AlarmRecord, AlarmSkip,
    AlarmTransition, FLAPPING_RULE, InsufficientData, LinkedDetections, REASON_MAX_CHARS,
};
pub use policy::{
    ALARM_SEVERITY_TOML, AlarmPolicy, AlarmPolicyError, DETECTION_TOKEN, DescriptionTokens,
    Detection, MetricRule, NameRule, SeverityBasis, Verdict,
};
pub use regions::region_code;

#[cfg(test)]
mod tests;
