//! Pure classification of one alarm event: recognise its form, normalise it to an
//! [`AlarmChange`], decide its severity with the [`AlarmPolicy`], build the [`Finding`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tracing::debug;

use super::change::{AlarmChange, AlarmEventError, AlarmForm, AlarmKind, AlarmState, STATE_CHANGE};
use super::policy::{AlarmPolicy, AlarmPolicyError, Verdict};
use crate::console;
use crate::finding::{Evidence, Finding, Fingerprint, Resource, Source, Status};
use crate::json::str_at;
use crate::severity::Severity;
use crate::text::{SafeText, sanitize};

/// The CloudFormation type of the resource every alarm finding is about.
pub const ALARM_RESOURCE_TYPE: &str = "AWS::CloudWatch::Alarm";
/// Bound for an alarm's state reason (CloudWatch's own are a few hundred characters; composite
/// and forged ones can be far longer).
pub const REASON_MAX_CHARS: usize = 1024;
/// The rule id of the finding that reports an alarm as flapping (see [`crate::flap`]): a rule of
/// its own, so its fingerprint — and its ticket — differ from the alarm's.
pub const FLAPPING_RULE: &str = "alarm-flapping";

/// What INSUFFICIENT_DATA does (`ALARM_INSUFFICIENT_DATA`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InsufficientData {
    /// No finding; the event is counted as skipped and logged at debug.
    #[default]
    Ignore,
    /// An active finding on the alarm's ticket, at the alarm's severity capped at medium: the
    /// alarm cannot see, which is worth a look but is not the alarm firing.
    Ticket,
}

/// What an alarm linked to a log-detector detection does (`ALARM_LINKED_DETECTIONS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinkedDetections {
    /// A `low` finding (a digest line by default) naming the detection: log-detector tickets the
    /// problem with its CloudTrail evidence, the alarm only corroborates it.
    #[default]
    Digest,
    /// The alarm tickets at its detection's severity, like any other alarm. For deployments
    /// where log-detector does not watch the trail that the metric filters watch.
    Ticket,
}

macro_rules! choice {
    ($ty:ty, $($text:literal => $variant:expr),+) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($variant),)+
                    _ => Err(format!("expected one of {}", [$($text),+].join(", "))),
                }
            }
        }
    };
}
choice!(InsufficientData, "ignore" => InsufficientData::Ignore, "ticket" => InsufficientData::Ticket);
choice!(LinkedDetections, "digest" => LinkedDetections::Digest, "ticket" => LinkedDetections::Ticket);

/// The classifier's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmOptions {
    pub insufficient_data: InsufficientData,
    /// Severity of an alarm no policy line and no description token decides.
    pub default_severity: Severity,
    pub linked_detections: LinkedDetections,
}

impl Default for AlarmOptions {
    fn default() -> Self {
        AlarmOptions {
            insufficient_data: InsufficientData::Ignore,
            default_severity: Severity::Medium,
            linked_detections: LinkedDetections::Digest,
        }
    }
}

/// Why an alarm event produced no finding. Not an error: nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmSkip {
    /// Not an alarm event in any of the three forms.
    NotAnAlarmEvent,
    /// A CloudWatch alarm event that is not a state change (e.g. a configuration change).
    NotAStateChange { detail_type: SafeText },
    /// INSUFFICIENT_DATA while `ALARM_INSUFFICIENT_DATA=ignore`.
    InsufficientData { alarm: SafeText },
}

impl fmt::Display for AlarmSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlarmSkip::NotAnAlarmEvent => f.write_str("not a CloudWatch alarm event"),
            AlarmSkip::NotAStateChange { detail_type } => {
                write!(f, "not an alarm state change: {detail_type}")
            }
            AlarmSkip::InsufficientData { alarm } => write!(
                f,
                "alarm {alarm} has insufficient data (ignored by setting)"
            ),
        }
    }
}

/// What one event gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmOutcome {
    Finding(Box<Finding>),
    Skipped(AlarmSkip),
}

/// One alarm record, classified: its outcome and, for a real state change, the transition that
/// flap control records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRecord {
    pub outcome: AlarmOutcome,
    /// `None` for events that are not alarm state changes and for ALARM → ALARM
    /// re-notifications (the state did not change).
    pub transition: Option<AlarmTransition>,
}

/// A real state change of one alarm (OK, ALARM, INSUFFICIENT_DATA to another of them), with
/// what it takes to report the alarm as flapping. An INSUFFICIENT_DATA that gives no finding
/// (`ALARM_INSUFFICIENT_DATA=ignore`) is still a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmTransition {
    /// The fingerprint of the alarm's own findings.
    pub alarm: Fingerprint,
    pub name: SafeText,
    /// The alarm's own state-change time: a retried delivery of the same change has the same
    /// time, so it is not counted twice.
    pub at: DateTime<Utc>,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    /// The flapping finding, active, to be completed by [`AlarmTransition::flapping`].
    flapping: Box<Finding>,
}

impl AlarmTransition {
    /// The alarm reported as flapping: `transitions` state changes since `since`, within
    /// `window`. Same fingerprint for every report of this alarm, distinct from the alarm's.
    pub fn flapping(&self, transitions: u32, since: DateTime<Utc>, window: TimeDelta) -> Finding {
        let mut f = (*self.flapping).clone();
        let minutes = window.num_minutes();
        f.status = Status::Active;
        f.title = SafeText::bounded(&self.flapping_title(transitions, minutes), 256);
        f.description = SafeText::bounded(
            &format!(
                "{} changed state {transitions} times within {minutes} minutes (the first at {}, the latest {} at {}): it is flapping. Until it is calm again, its state changes go to the digest only — no ticket, no page — and its own ticket keeps the state it had when the flapping began. triage resolves this ticket at the first state change that comes at least {minutes} minutes after this report with no more than the allowed number of changes in the {minutes} minutes before it. Severity {} (the alarm's own, capped at high: flapping says the alarm is unreliable, not that its condition happened again).",
                f.description,
                since.to_rfc3339(),
                self.state,
                self.at.to_rfc3339(),
                f.severity
            ),
            4096,
        );
        f.first_seen = since.min(self.at);
        f.last_seen = self.at;
        // One report of one problem: the changes it stands for are in the title and details
        // (and each reached the digest as the alarm's own line), not counted twice here.
        f.count = 1;
        self.put_details(&mut f, transitions, since, minutes);
        f
    }

    /// The flapping finding resolved: the alarm is calm again (this state change). Same title
    /// as the report, so one ticket keeps one title.
    pub fn calmed(&self, transitions: u32, since: DateTime<Utc>, window: TimeDelta) -> Finding {
        let mut f = (*self.flapping).clone();
        let minutes = window.num_minutes();
        f.status = Status::Resolved;
        f.title = SafeText::bounded(&self.flapping_title(transitions, minutes), 256);
        f.description = SafeText::bounded(
            &format!(
                "{} is calm again: it went to {} at {} with no flapping reported in the {minutes} minutes before. Its state changes are ticketed as usual from this one on.",
                f.description,
                self.state,
                self.at.to_rfc3339()
            ),
            4096,
        );
        f.first_seen = self.at;
        f.last_seen = self.at;
        self.put_details(&mut f, transitions, since, minutes);
        f
    }

    fn flapping_title(&self, transitions: u32, minutes: i64) -> String {
        format!(
            "CloudWatch alarm {} is flapping: {transitions} state changes in {minutes} min",
            self.name
        )
    }

    fn put_details(&self, f: &mut Finding, transitions: u32, since: DateTime<Utc>, minutes: i64) {
        let d = &mut f.evidence.details;
        d.insert("state".into(), SafeText::new(self.state.as_str()));
        d.insert(
            "transition".into(),
            SafeText::bounded(
                &match self.previous_state {
                    Some(prev) => format!("{prev} -> {}", self.state),
                    None => self.state.to_string(),
                },
                64,
            ),
        );
        d.insert(
            "state_changes".into(),
            SafeText::new(&transitions.to_string()),
        );
        d.insert(
            "flap_window_minutes".into(),
            SafeText::new(&minutes.to_string()),
        );
        d.insert(
            "flapping_since".into(),
            SafeText::new(&since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        f.evidence.event_time = Some(self.at);
    }
}

/// Classifies alarm state changes in all three forms. Built once per cold start.
#[derive(Debug, Clone)]
pub struct AlarmClassifier {
    policy: AlarmPolicy,
    options: AlarmOptions,
}

impl AlarmClassifier {
    pub fn new(policy: AlarmPolicy, options: AlarmOptions) -> Self {
        AlarmClassifier { policy, options }
    }

    /// With the compiled-in `policy/alarm-severity.toml`.
    pub fn shipped(options: AlarmOptions) -> Result<Self, AlarmPolicyError> {
        Ok(Self::new(AlarmPolicy::shipped()?, options))
    }

    pub fn policy(&self) -> &AlarmPolicy {
        &self.policy
    }

    pub fn options(&self) -> AlarmOptions {
        self.options
    }

    /// True for an EventBridge CloudWatch alarm event (state or configuration change), an alarm
    /// Lambda-action payload or a classic SNS alarm notification (the `Sns.Message` JSON).
    pub fn accepts(event: &Value) -> bool {
        AlarmForm::of(event).is_some()
    }

    /// ALARM gives an active finding, OK a resolved one, INSUFFICIENT_DATA what the options say.
    /// Events of another kind are skipped; alarm events that cannot be understood are errors.
    pub fn classify(&self, event: &Value) -> Result<AlarmOutcome, AlarmEventError> {
        self.classify_record(event).map(|r| r.outcome)
    }

    /// [`Self::classify`], plus the state transition the event records (for flap control).
    pub fn classify_record(&self, event: &Value) -> Result<AlarmRecord, AlarmEventError> {
        let skipped = |skip| AlarmRecord {
            outcome: AlarmOutcome::Skipped(skip),
            transition: None,
        };
        if !event.is_object() {
            return Err(AlarmEventError::NotAnObject);
        }
        let Some(form) = AlarmForm::of(event) else {
            return Ok(skipped(AlarmSkip::NotAnAlarmEvent));
        };
        if form == AlarmForm::EventBridge {
            let detail_type = str_at(event, &["detail-type"]).unwrap_or_default();
            if detail_type != STATE_CHANGE {
                return Ok(skipped(AlarmSkip::NotAStateChange {
                    detail_type: SafeText::bounded(detail_type, 128),
                }));
            }
        }
        let change = AlarmChange::parse(event, form)?;
        Ok(AlarmRecord {
            outcome: self.outcome(&change),
            transition: self.transition(&change),
        })
    }

    /// [`Self::classify`] as a list of findings, logging why an event gave none: what the replay
    /// CLI routes.
    pub fn findings(&self, event: &Value) -> Result<Vec<Finding>, AlarmEventError> {
        match self.classify(event)? {
            AlarmOutcome::Finding(finding) => Ok(vec![*finding]),
            AlarmOutcome::Skipped(skip) => {
                debug!(%skip, "alarm event gives no finding");
                Ok(Vec::new())
            }
        }
    }

    /// The finding for a normalised alarm change.
    pub fn outcome(&self, c: &AlarmChange<'_>) -> AlarmOutcome {
        let status = match (c.state, self.options.insufficient_data) {
            (AlarmState::Alarm, _) | (AlarmState::InsufficientData, InsufficientData::Ticket) => {
                Status::Active
            }
            (AlarmState::Ok, _) => Status::Resolved,
            (AlarmState::InsufficientData, InsufficientData::Ignore) => {
                return AlarmOutcome::Skipped(AlarmSkip::InsufficientData {
                    alarm: SafeText::bounded(c.name, 256),
                });
            }
        };
        let verdict = self.policy.decide(
            c.name,
            c.description,
            c.metric_names(),
            self.options.default_severity,
        );
        AlarmOutcome::Finding(Box::new(self.build(c, status, &verdict)))
    }

    /// The transition a state change records, `None` for an ALARM → ALARM re-notification.
    /// The flapping finding it carries has the alarm's severity (as its ALARM would have it),
    /// capped at high.
    fn transition(&self, c: &AlarmChange<'_>) -> Option<AlarmTransition> {
        if c.previous_state == Some(c.state) {
            return None;
        }
        let verdict = self.policy.decide(
            c.name,
            c.description,
            c.metric_names(),
            self.options.default_severity,
        );
        let mut severity = verdict.severity.min(Severity::High);
        if self.linked(&verdict).is_some() {
            severity = severity.min(Severity::Low);
        }
        let region = c.region.as_ref();
        let mut details = BTreeMap::new();
        details.insert("alarm_name".to_owned(), SafeText::bounded(c.name, 256));
        details.insert("alarm_arn".to_owned(), SafeText::bounded(&c.arn, 1024));
        details.insert("alarm_type".to_owned(), SafeText::new(c.kind.as_str()));
        details.insert(
            "alarm_severity".to_owned(),
            SafeText::new(verdict.severity.as_str()),
        );
        let flapping = Finding {
            fingerprint: Fingerprint::new(
                Source::Alarm,
                FLAPPING_RULE,
                c.account,
                region,
                &[&c.arn],
            ),
            status: Status::Active,
            severity,
            source: Source::Alarm,
            rule_id: SafeText::new(FLAPPING_RULE),
            title: SafeText::bounded(&format!("CloudWatch alarm {} is flapping", c.name), 256),
            description: SafeText::bounded(
                &format!(
                    "CloudWatch {} alarm {} in account {} ({region})",
                    c.kind.as_str(),
                    c.name,
                    c.account
                ),
                1024,
            ),
            account: SafeText::bounded(c.account, 64),
            region: SafeText::bounded(region, 64),
            resources: vec![alarm_resource(c)],
            principal: None,
            first_seen: c.changed_at,
            last_seen: c.changed_at,
            count: 1,
            evidence: Evidence {
                event_time: Some(c.changed_at),
                event_source: Some(SafeText::new("monitoring.amazonaws.com")),
                details,
                ..Evidence::default()
            },
            console_url: console::cloudwatch_alarm(region, c.name),
            remediation: SafeText::new(
                "Look at the alarm's metric around its threshold: require several datapoints to alarm (DatapointsToAlarm, EvaluationPeriods), lengthen the period, set TreatMissingData deliberately, or put hysteresis behind a composite alarm. Then check the alarm's own ticket: it keeps the state the alarm had when the flapping began.",
            ),
        };
        Some(AlarmTransition {
            alarm: alarm_fingerprint(c),
            name: SafeText::bounded(c.name, 256),
            at: c.changed_at,
            state: c.state,
            previous_state: c.previous_state,
            flapping: Box::new(flapping),
        })
    }

    /// The detection an alarm is the metric-filter twin of, when such alarms go to the digest.
    fn linked<'v>(&self, verdict: &'v Verdict<'_>) -> Option<&'v str> {
        verdict
            .linked_detection
            .as_deref()
            .filter(|_| self.options.linked_detections == LinkedDetections::Digest)
    }

    fn build(&self, c: &AlarmChange<'_>, status: Status, verdict: &Verdict<'_>) -> Finding {
        let linked = self.linked(verdict);
        let mut severity = verdict.severity;
        if c.state == AlarmState::InsufficientData {
            severity = severity.min(Severity::Medium);
        }
        if linked.is_some() {
            severity = severity.min(Severity::Low);
        }
        let repeat = c.state == AlarmState::Alarm && c.previous_state == Some(AlarmState::Alarm);
        let reason = sanitize(c.reason, REASON_MAX_CHARS);
        let region = c.region.as_ref();
        let metrics: Vec<String> = c.metrics.iter().map(|m| m.summary()).collect();

        let title = match (verdict.detection, c.description) {
            (Some(d), _) => format!("{}: CloudWatch alarm {}", d.title, c.name),
            (None, Some(desc)) if !desc.trim().is_empty() => {
                format!("CloudWatch alarm {}: {}", c.name, sanitize(desc, 160))
            }
            (None, _) => format!("CloudWatch alarm {}", c.name),
        };

        let mut description = format!(
            "CloudWatch {} alarm {} in account {} ({}) ",
            c.kind.as_str(),
            c.name,
            c.account,
            region
        );
        match (c.previous_state, repeat) {
            (_, true) => description.push_str("is still in ALARM with a new reason"),
            (Some(prev), false) => {
                description.push_str(&format!("went from {prev} to {}", c.state))
            }
            (None, false) => description.push_str(&format!("went to {}", c.state)),
        }
        description.push_str(&format!(" at {}.", c.changed_at.to_rfc3339()));
        if !reason.is_empty() {
            description.push_str(&format!(" Reason: {reason}"));
        }
        if !metrics.is_empty() {
            description.push_str(&format!(" Metrics: {}.", metrics.join("; ")));
        }
        if let Some(t) = c.threshold {
            let op = c.comparison_operator.as_deref().unwrap_or("threshold");
            description.push_str(&format!(" {op} {t}."));
        }
        if let Some(rule) = c.alarm_rule {
            description.push_str(&format!(" Alarm rule: {}.", sanitize(rule, 512)));
        }
        if let Some(by) = c.actions_suppressed_by {
            description.push_str(&format!(
                " CloudWatch suppressed this alarm's own actions ({by}{}); triage still reports it.",
                c.actions_suppressor.map(|s| format!(", suppressor {s}")).unwrap_or_default()
            ));
        }
        if let Some(id) = linked {
            description.push_str(&format!(
                " This alarm is the metric-filter twin of log-detector's detection {id}, which tickets the same problem with its CloudTrail evidence: reported here as a digest line only."
            ));
        }
        description.push_str(&format!(" Severity {severity} ({}).", verdict.basis));

        let remediation = match (verdict.detection, linked, c.kind) {
            (Some(d), _, _) => d.remediation.clone(),
            (None, Some(id), _) => format!(
                "See log-detector's ticket for detection {id}: it names the principal, source IP and calls. If there is none, check that log-detector's subscription on the trail's log group is in place."
            ),
            (None, None, AlarmKind::Composite) => "Open the composite alarm in the CloudWatch console, see which child alarms triggered it (details.triggering_alarms) and follow their runbooks.".to_owned(),
            (None, None, _) => "Open the alarm in the CloudWatch console, compare the metric with the threshold named in the reason and fix the cause; if the alarm is noise, tune its threshold or put a severity=<level> token in its description.".to_owned(),
        };

        let mut details = BTreeMap::new();
        let mut put = |k: &str, v: Option<&str>, max: usize| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                details.insert(k.to_owned(), SafeText::bounded(v, max));
            }
        };
        put("alarm_name", Some(c.name), 256);
        put("alarm_arn", Some(&c.arn), 1024);
        put("alarm_type", Some(c.kind.as_str()), 32);
        put("alarm_description", c.description, 1024);
        put("notification_form", Some(c.form.as_str()), 32);
        put("state", Some(c.state.as_str()), 32);
        put(
            "previous_state",
            c.previous_state.map(AlarmState::as_str),
            32,
        );
        put("transition", Some(&transition(c)), 64);
        put("repeat", repeat.then_some("true"), 8);
        put("state_reason", Some(&reason), REASON_MAX_CHARS);
        put("metrics", Some(&metrics.join("; ")), 1024);
        if let Some(m) = c.metrics.iter().find(|m| m.name.is_some()) {
            put("namespace", m.namespace, 256);
            put("metric_name", m.name, 256);
            let dims: Vec<String> = m
                .dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            put("dimensions", Some(&dims.join(", ")), 512);
            put("statistic", m.stat.as_deref(), 64);
            put(
                "period_seconds",
                m.period.map(|p| p.to_string()).as_deref(),
                16,
            );
        }
        put(
            "expression",
            c.metrics.iter().find_map(|m| m.expression),
            512,
        );
        put(
            "threshold",
            c.threshold.map(|t| t.to_string()).as_deref(),
            64,
        );
        put("comparison_operator", c.comparison_operator.as_deref(), 64);
        put(
            "evaluation_periods",
            c.evaluation_periods.map(|n| n.to_string()).as_deref(),
            16,
        );
        put(
            "datapoints_to_alarm",
            c.datapoints_to_alarm.map(|n| n.to_string()).as_deref(),
            16,
        );
        put("treat_missing_data", c.treat_missing_data, 64);
        put("alarm_rule", c.alarm_rule, 1024);
        put(
            "triggering_alarms",
            Some(&c.triggering_alarms.join(", ")),
            1024,
        );
        put("actions_suppressed_by", c.actions_suppressed_by, 64);
        put(
            "actions_suppressed_reason",
            c.actions_suppressed_reason,
            256,
        );
        put("actions_suppressor", c.actions_suppressor, 256);
        put("region_display_name", c.region_display_name, 64);
        put("severity_basis", Some(&verdict.basis.to_string()), 128);
        put("detection", verdict.detection.map(|d| d.id.as_str()), 128);
        put("linked_detection", linked, 128);
        if linked.is_some() {
            put("detection_severity", Some(verdict.severity.as_str()), 16);
        }

        Finding {
            fingerprint: alarm_fingerprint(c),
            status,
            severity,
            source: Source::Alarm,
            rule_id: SafeText::bounded(c.name, 256),
            title: SafeText::bounded(&title, 256),
            description: SafeText::bounded(&description, 4096),
            account: SafeText::bounded(c.account, 64),
            region: SafeText::bounded(region, 64),
            resources: vec![alarm_resource(c)],
            principal: None,
            first_seen: c.changed_at,
            last_seen: c.changed_at,
            count: 1,
            evidence: Evidence {
                event_time: Some(c.changed_at),
                event_id: c.event_id.map(|id| SafeText::bounded(id, 128)),
                event_source: Some(SafeText::new("monitoring.amazonaws.com")),
                details,
                ..Evidence::default()
            },
            console_url: console::cloudwatch_alarm(region, c.name),
            remediation: SafeText::bounded(&remediation, 1024),
        }
    }
}

/// The fingerprint of an alarm's findings: source, alarm name, account, region and ARN.
fn alarm_fingerprint(c: &AlarmChange<'_>) -> Fingerprint {
    Fingerprint::new(
        Source::Alarm,
        c.name,
        c.account,
        c.region.as_ref(),
        &[&c.arn],
    )
}

fn alarm_resource(c: &AlarmChange<'_>) -> Resource {
    Resource {
        kind: SafeText::new(ALARM_RESOURCE_TYPE),
        id: SafeText::bounded(c.name, 256),
        arn: Some(SafeText::bounded(&c.arn, 1024)),
    }
}

fn transition(c: &AlarmChange<'_>) -> String {
    match c.previous_state {
        Some(prev) => format!("{prev} -> {}", c.state),
        None => c.state.to_string(),
    }
}
