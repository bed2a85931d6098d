//! The three forms an alarm state change arrives in, normalised to one [`AlarmChange`].
//!
//! | form | shape | identity fields |
//! |---|---|---|
//! | EventBridge | `source: aws.cloudwatch`, `detail-type: CloudWatch Alarm State Change`, `detail` | `account`, `region`, `resources[]` |
//! | alarm Lambda action | `source: aws.cloudwatch`, `alarmArn`, `accountId`, `region`, `time`, `alarmData` (same inside as `detail`) | `alarmArn`, `accountId`, `region` |
//! | classic SNS notification | the JSON in `Sns.Message`: `AlarmName`, `NewStateValue`, `Trigger`… | `AlarmArn`, `AWSAccountId`, `Region` (a display name) |
//!
//! Each form is read into its serde structs below, whose fields read as absent when of another
//! JSON type ([`Lax`]). Nothing here allocates in proportion to the event: strings are borrowed
//! from it, lists keep their first [`MAX_LISTED`] elements, and long free text (reasons) is only
//! bounded later, when the finding is built.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::regions::region_code;
use crate::console;
use crate::json::{Lax, List, lax, str_at};
use crate::text::SafeText;

pub const STATE_CHANGE: &str = "CloudWatch Alarm State Change";
const ALARM_DETAIL_TYPE_PREFIX: &str = "CloudWatch Alarm ";
/// `reasonData` larger than this is not parsed (CloudWatch's own are a few hundred bytes).
const MAX_REASON_DATA_BYTES: usize = 64 * 1024;
/// At most this many metrics / triggering alarms are kept from one event.
pub const MAX_LISTED: usize = 10;
/// CloudWatch's limit on an alarm name (`PutMetricAlarm`, `PutCompositeAlarm`): a longer one
/// is forged, and would make an unbounded console link.
const MAX_ALARM_NAME_CHARS: usize = 255;

/// How the alarm change arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmForm {
    EventBridge,
    LambdaAction,
    SnsNotification,
}

impl AlarmForm {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmForm::EventBridge => "eventbridge",
            AlarmForm::LambdaAction => "lambda-action",
            AlarmForm::SnsNotification => "sns",
        }
    }

    /// Recognises the shape of an event: an EventBridge CloudWatch alarm event (of any alarm
    /// detail-type), an alarm Lambda-action payload or a classic SNS alarm notification.
    pub fn of(event: &Value) -> Option<AlarmForm> {
        let cloudwatch = str_at(event, &["source"]) == Some("aws.cloudwatch");
        if let Some(detail_type) = str_at(event, &["detail-type"]) {
            return (cloudwatch && detail_type.starts_with(ALARM_DETAIL_TYPE_PREFIX))
                .then_some(AlarmForm::EventBridge);
        }
        if cloudwatch && event.get("alarmData").is_some() {
            return Some(AlarmForm::LambdaAction);
        }
        let sns = str_at(event, &["AlarmName"]).is_some() && event.get("NewStateValue").is_some();
        sns.then_some(AlarmForm::SnsNotification)
    }
}

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn parse(value: &str) -> Option<AlarmState> {
        match value {
            "OK" => Some(AlarmState::Ok),
            "ALARM" => Some(AlarmState::Alarm),
            "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of alarm, from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmKind {
    /// One metric and a static threshold.
    Metric,
    /// A metric-math expression over several metrics.
    MetricMath,
    /// An anomaly-detection band (`ANOMALY_DETECTION_BAND(...)`).
    AnomalyDetection,
    /// A rule over other alarms' states.
    Composite,
}

impl AlarmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Metric => "metric",
            AlarmKind::MetricMath => "metric-math",
            AlarmKind::AnomalyDetection => "anomaly-detection",
            AlarmKind::Composite => "composite",
        }
    }
}

/// One metric (or expression) an alarm reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmMetric<'a> {
    pub id: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    pub dimensions: Vec<(&'a str, &'a str)>,
    /// `Average`, `Sum`, `p99`… (SNS's upper-case `SUM` is normalised to `Sum`).
    pub stat: Option<Cow<'a, str>>,
    pub period: Option<u64>,
    pub expression: Option<&'a str>,
    pub label: Option<&'a str>,
}

impl AlarmMetric<'_> {
    /// `AWS/EC2 CPUUtilization {InstanceId=i-1} Average/300s` or `e1 = SUM(METRICS())`.
    pub fn summary(&self) -> String {
        if let Some(expr) = self.expression {
            let id = self.id.unwrap_or("expression");
            return format!("{id} = {expr}");
        }
        let mut s = format!(
            "{} {}",
            self.namespace.unwrap_or("?"),
            self.name.unwrap_or("?")
        );
        if !self.dimensions.is_empty() {
            let dims: Vec<String> = self
                .dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!(" {{{}}}", dims.join(", ")));
        }
        match (&self.stat, self.period) {
            (Some(stat), Some(p)) => s.push_str(&format!(" {stat}/{p}s")),
            (Some(stat), None) => s.push_str(&format!(" {stat}")),
            (None, Some(p)) => s.push_str(&format!(" /{p}s")),
            (None, None) => {}
        }
        s
    }
}

/// An alarm state change in any form, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange<'a> {
    pub form: AlarmForm,
    pub kind: AlarmKind,
    pub name: &'a str,
    /// The alarm ARN as the event gives it (whitespace around its parts removed), or built from
    /// partition, region, account and name.
    pub arn: Cow<'a, str>,
    pub account: &'a str,
    /// A region code (`us-east-1`) when one could be determined, else the display name as given.
    pub region: Cow<'a, str>,
    /// The display name (`US East (N. Virginia)`) of an SNS notification.
    pub region_display_name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    pub reason: &'a str,
    pub changed_at: DateTime<Utc>,
    /// The EventBridge event id.
    pub event_id: Option<&'a str>,
    pub metrics: Vec<AlarmMetric<'a>>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<Cow<'a, str>>,
    pub evaluation_periods: Option<u64>,
    pub datapoints_to_alarm: Option<u64>,
    pub treat_missing_data: Option<&'a str>,
    /// Composite alarms: the rule, e.g. `ALARM(a) OR ALARM(b)`.
    pub alarm_rule: Option<&'a str>,
    /// Composite alarms: the child alarms whose change triggered this one (ARNs).
    pub triggering_alarms: Vec<String>,
    pub actions_suppressed_by: Option<&'a str>,
    pub actions_suppressed_reason: Option<&'a str>,
    pub actions_suppressor: Option<&'a str>,
}

/// An alarm event that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlarmEventError {
    #[error("event is not a JSON object")]
    NotAnObject,
    #[error("alarm event is missing {0}")]
    MissingField(&'static str),
    #[error("{field} is not an alarm state: \"{value}\"")]
    UnknownState {
        field: &'static str,
        value: SafeText,
    },
    #[error(
        "alarm \"{alarm}\" is of an unknown type: its configuration has no metrics, no trigger and no alarm rule"
    )]
    UnknownAlarmType { alarm: SafeText },
    #[error("{field} is not a timestamp: \"{value}\"")]
    BadTimestamp {
        field: &'static str,
        value: SafeText,
    },
    #[error("alarm name \"{alarm}\" is longer than CloudWatch's {MAX_ALARM_NAME_CHARS} characters")]
    NameTooLong { alarm: SafeText },
}

/// The alarm name, if CloudWatch could have made it.
fn checked_name(name: &str) -> Result<&str, AlarmEventError> {
    if name.chars().nth(MAX_ALARM_NAME_CHARS).is_some() {
        return Err(AlarmEventError::NameTooLong {
            alarm: SafeText::bounded(name, 64),
        });
    }
    Ok(name)
}

impl<'a> AlarmChange<'a> {
    /// Parses an alarm event of a recognised form. The caller has checked that an EventBridge
    /// event is a state change (not, say, a configuration change).
    pub fn parse(event: &'a Value, form: AlarmForm) -> Result<AlarmChange<'a>, AlarmEventError> {
        match form {
            AlarmForm::EventBridge => {
                let e: EventBridgeAlarm = lax(event).ok_or(AlarmEventError::NotAnObject)?;
                let detail = e.detail.0.ok_or(AlarmEventError::MissingField("detail"))?;
                let identity = Identity {
                    arn: e.resources.items().first().map(|a| a.0),
                    account: e.account.0,
                    region: e.region.0,
                    region_display_name: None,
                    time: e.time.0,
                    event_id: e.id.0,
                };
                Self::from_detail(detail, identity, form)
            }
            AlarmForm::LambdaAction => {
                let e: LambdaAlarm = lax(event).ok_or(AlarmEventError::NotAnObject)?;
                let data = e
                    .alarm_data
                    .0
                    .ok_or(AlarmEventError::MissingField("alarmData"))?;
                let identity = Identity {
                    arn: e.alarm_arn.0,
                    account: e.account_id.0,
                    region: e.region.0,
                    region_display_name: None,
                    time: e.time.0,
                    event_id: None,
                };
                Self::from_detail(data, identity, form)
            }
            AlarmForm::SnsNotification => {
                Self::from_sns(lax(event).ok_or(AlarmEventError::NotAnObject)?)
            }
        }
    }

    /// The EventBridge `detail` / Lambda-action `alarmData` object.
    fn from_detail(
        detail: AlarmData<'a>,
        id: Identity<'a>,
        form: AlarmForm,
    ) -> Result<AlarmChange<'a>, AlarmEventError> {
        let missing = |field: &'static str| AlarmEventError::MissingField(field);
        // A field's name in errors, under `detail` or `alarmData`.
        let field = |eventbridge: &'static str, lambda: &'static str| match form {
            AlarmForm::EventBridge => eventbridge,
            _ => lambda,
        };
        let name_field = field("detail.alarmName", "alarmData.alarmName");
        let name = checked_name(detail.alarm_name.0.ok_or_else(|| missing(name_field))?)?;
        let state_field = field("detail.state.value", "alarmData.state.value");
        let current = detail.state.0.unwrap_or_default();
        let state = state_of(current.value.0, state_field)?.ok_or_else(|| missing(state_field))?;
        let previous_state = state_of(
            detail.previous_state.0.and_then(|s| s.value.0),
            field(
                "detail.previousState.value",
                "alarmData.previousState.value",
            ),
        )?;
        let config = detail.configuration.0.unwrap_or_default();
        let metrics: Vec<AlarmMetric<'a>> = (config.metrics.items().into_iter())
            .map(|m| m.0.unwrap_or_default().into())
            .collect();
        let kind = kind_of(config.alarm_rule.0.is_some(), &metrics).ok_or_else(|| {
            AlarmEventError::UnknownAlarmType {
                alarm: SafeText::bounded(name, 256),
            }
        })?;
        let reason = current.reason.0.unwrap_or_default();
        // Through a Value: serde_json's depth limit, and a repeated key's last value (a struct
        // would reject the repeat).
        let reason_data = (current.reason_data.0)
            .filter(|r| r.len() <= MAX_REASON_DATA_BYTES)
            .and_then(|r| serde_json::from_str::<Value>(r).ok());
        let reason_data: ReasonData = reason_data.as_ref().and_then(lax).unwrap_or_default();
        let time_field = field("detail.state.timestamp", "alarmData.state.timestamp");
        let changed_at = match current.timestamp.0 {
            Some(t) => parse_time(t, time_field)?,
            None => parse_time(id.time.ok_or_else(|| missing(time_field))?, "time")?,
        };
        let event_id = id.event_id;
        let (account, region, arn) = id.resolve(name)?;
        Ok(AlarmChange {
            form,
            kind,
            name,
            arn,
            account,
            region,
            region_display_name: None,
            description: config.description.0,
            state,
            previous_state,
            reason,
            changed_at,
            event_id,
            threshold: reason_data.threshold.0,
            comparison_operator: comparison_from_reason(reason).map(Cow::Borrowed),
            evaluation_periods: None,
            datapoints_to_alarm: None,
            treat_missing_data: None,
            alarm_rule: config.alarm_rule.0,
            triggering_alarms: (reason_data.triggering_alarms.items().into_iter())
                .map(|t| normalise_arn(t.arn).into_owned())
                .collect(),
            actions_suppressed_by: current.actions_suppressed_by.0,
            actions_suppressed_reason: current.actions_suppressed_reason.0,
            actions_suppressor: config.actions_suppressor.0,
            metrics,
        })
    }

    /// The classic notification that an alarm's SNS action publishes (the JSON in `Sns.Message`).
    fn from_sns(m: SnsAlarm<'a>) -> Result<AlarmChange<'a>, AlarmEventError> {
        let name = m
            .alarm_name
            .0
            .ok_or(AlarmEventError::MissingField("AlarmName"))?;
        let name = checked_name(name)?;
        let state = state_of(m.new_state_value.0, "NewStateValue")?
            .ok_or(AlarmEventError::MissingField("NewStateValue"))?;
        let previous_state = state_of(m.old_state_value.0, "OldStateValue")?;
        let trigger = m.trigger.0.unwrap_or_default();
        let metrics: Vec<AlarmMetric<'a>> = match trigger.metrics.0 {
            Some(ms) => (ms.0.into_iter())
                .map(|m| m.0.unwrap_or_default().into())
                .collect(),
            None if trigger.metric_name.0.is_some() => vec![AlarmMetric {
                namespace: trigger.namespace.0,
                name: trigger.metric_name.0,
                dimensions: pairs(trigger.dimensions),
                stat: (trigger.statistic.0)
                    .filter(|s| !s.is_empty())
                    .map(normalise_statistic)
                    .or_else(|| trigger.extended_statistic.0.map(Cow::Borrowed)),
                period: trigger.period.0,
                ..AlarmMetric::default()
            }],
            None => Vec::new(),
        };
        let alarm_rule = m.alarm_rule.0;
        let kind = kind_of(alarm_rule.is_some(), &metrics).ok_or_else(|| {
            AlarmEventError::UnknownAlarmType {
                alarm: SafeText::bounded(name, 256),
            }
        })?;
        let time =
            (m.state_change_time.0).ok_or(AlarmEventError::MissingField("StateChangeTime"))?;
        let changed_at = parse_time(time, "StateChangeTime")?;
        let display = m.region.0;
        let id = Identity {
            arn: m.alarm_arn.0,
            account: m.aws_account_id.0,
            region: display.and_then(|d| {
                region_code(d).or_else(|| console::is_region(d.trim()).then_some(d.trim()))
            }),
            region_display_name: display,
            time: None,
            event_id: None,
        };
        let (account, region, arn) = id.resolve(name)?;
        let reason = m.new_state_reason.0.unwrap_or_default();
        Ok(AlarmChange {
            form: AlarmForm::SnsNotification,
            kind,
            name,
            arn,
            account,
            region,
            region_display_name: display,
            description: m.alarm_description.0,
            state,
            previous_state,
            reason,
            changed_at,
            event_id: None,
            threshold: trigger.threshold.0,
            comparison_operator: (trigger.comparison_operator.0)
                .map(Cow::Borrowed)
                .or_else(|| comparison_from_reason(reason).map(Cow::Borrowed)),
            evaluation_periods: trigger.evaluation_periods.0,
            datapoints_to_alarm: trigger.datapoints_to_alarm.0,
            treat_missing_data: trigger.treat_missing_data.0,
            alarm_rule,
            triggering_alarms: (m.triggering_children.items().into_iter())
                .map(|c| normalise_arn(c.arn).into_owned())
                .collect(),
            actions_suppressed_by: m.actions_suppressed_by.0,
            actions_suppressed_reason: m.actions_suppressed_reason.0,
            actions_suppressor: m.actions_suppressor.0,
            metrics,
        })
    }

    /// The `(namespace, metric name)` of every metric the alarm reads.
    pub fn metric_names(&self) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + '_ {
        self.metrics
            .iter()
            .filter_map(|m| Some((m.namespace?, m.name?)))
    }
}

// The events as serde reads them. Every field is optional and reads as absent when of another
// JSON type ([`Lax`]); the typed errors for what a change cannot lack are raised above.

/// An EventBridge `CloudWatch Alarm State Change`.
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct EventBridgeAlarm<'a> {
    id: Lax<&'a str>,
    account: Lax<&'a str>,
    region: Lax<&'a str>,
    time: Lax<&'a str>,
    /// The first of the `resources` that is an alarm ARN.
    resources: Lax<List<AlarmArn<'a>, 1>>,
    detail: Lax<AlarmData<'a>>,
}

/// The payload of an alarm's Lambda action.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct LambdaAlarm<'a> {
    alarm_arn: Lax<&'a str>,
    account_id: Lax<&'a str>,
    region: Lax<&'a str>,
    time: Lax<&'a str>,
    alarm_data: Lax<AlarmData<'a>>,
}

/// EventBridge's `detail`, the Lambda action's `alarmData`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct AlarmData<'a> {
    alarm_name: Lax<&'a str>,
    state: Lax<AlarmStateData<'a>>,
    previous_state: Lax<AlarmStateData<'a>>,
    configuration: Lax<Configuration<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct AlarmStateData<'a> {
    value: Lax<&'a str>,
    reason: Lax<&'a str>,
    /// JSON in a string.
    reason_data: Lax<&'a str>,
    timestamp: Lax<&'a str>,
    actions_suppressed_by: Lax<&'a str>,
    actions_suppressed_reason: Lax<&'a str>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct Configuration<'a> {
    description: Lax<&'a str>,
    /// Every entry counts towards [`MAX_LISTED`]; one that is not an object lists as `? ?`.
    metrics: Lax<List<Lax<Metric<'a>>, MAX_LISTED>>,
    alarm_rule: Lax<&'a str>,
    actions_suppressor: Lax<&'a str>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct Metric<'a> {
    id: Lax<&'a str>,
    metric_stat: Lax<MetricStat<'a>>,
    expression: Lax<&'a str>,
    label: Lax<&'a str>,
}

#[derive(Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct MetricStat<'a> {
    metric: Lax<MetricId<'a>>,
    stat: Lax<&'a str>,
    period: Lax<u64>,
}

#[derive(Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct MetricId<'a> {
    namespace: Lax<&'a str>,
    name: Lax<&'a str>,
    dimensions: Lax<Dimensions<'a>>,
}

/// The parsed `reasonData`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct ReasonData<'a> {
    threshold: Lax<f64>,
    triggering_alarms: Lax<List<TriggeringAlarm<'a>, MAX_LISTED>>,
}

/// A composite's child alarm whose change triggered it; an entry without a string `arn` is skipped.
#[derive(Deserialize)]
struct TriggeringAlarm<'a> {
    arn: &'a str,
}

/// The classic SNS notification.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct SnsAlarm<'a> {
    alarm_name: Lax<&'a str>,
    alarm_description: Lax<&'a str>,
    alarm_arn: Lax<&'a str>,
    #[serde(rename = "AWSAccountId")]
    aws_account_id: Lax<&'a str>,
    /// A display name (`US East (N. Virginia)`), or a code.
    region: Lax<&'a str>,
    new_state_value: Lax<&'a str>,
    old_state_value: Lax<&'a str>,
    new_state_reason: Lax<&'a str>,
    state_change_time: Lax<&'a str>,
    trigger: Lax<Trigger<'a>>,
    alarm_rule: Lax<&'a str>,
    triggering_children: Lax<List<TriggeringChild<'a>, MAX_LISTED>>,
    actions_suppressed_by: Lax<&'a str>,
    actions_suppressed_reason: Lax<&'a str>,
    actions_suppressor: Lax<&'a str>,
}

/// An SNS notification's `Trigger`: `Metrics[]` (when an array), else one metric.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct Trigger<'a> {
    metrics: Lax<List<Lax<SnsMetric<'a>>, MAX_LISTED>>,
    metric_name: Lax<&'a str>,
    namespace: Lax<&'a str>,
    statistic: Lax<&'a str>,
    extended_statistic: Lax<&'a str>,
    dimensions: Lax<List<SnsDimension<'a>, MAX_LISTED>>,
    period: Lax<u64>,
    evaluation_periods: Lax<u64>,
    datapoints_to_alarm: Lax<u64>,
    comparison_operator: Lax<&'a str>,
    threshold: Lax<f64>,
    treat_missing_data: Lax<&'a str>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct SnsMetric<'a> {
    id: Lax<&'a str>,
    metric_stat: Lax<SnsMetricStat<'a>>,
    expression: Lax<&'a str>,
    label: Lax<&'a str>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct SnsMetricStat<'a> {
    metric: Lax<SnsMetricId<'a>>,
    stat: Lax<&'a str>,
    period: Lax<u64>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct SnsMetricId<'a> {
    namespace: Lax<&'a str>,
    metric_name: Lax<&'a str>,
    dimensions: Lax<List<SnsDimension<'a>, MAX_LISTED>>,
}

/// `{"name": "InstanceId", "value": "i-1"}`.
#[derive(Deserialize)]
struct SnsDimension<'a> {
    name: &'a str,
    value: &'a str,
}

/// The SNS spelling of a [`TriggeringAlarm`].
#[derive(Deserialize)]
struct TriggeringChild<'a> {
    #[serde(rename = "Arn")]
    arn: &'a str,
}

/// One of EventBridge's `resources` that is an alarm ARN.
struct AlarmArn<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for AlarmArn<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let arn = <&str>::deserialize(d)?;
        if arn.contains(":alarm:") {
            Ok(AlarmArn(arn))
        } else {
            Err(de::Error::custom("not an alarm ARN"))
        }
    }
}

/// EventBridge's `dimensions` object: its first [`MAX_LISTED`] entries whose value is a string.
struct Dimensions<'a>(Vec<(&'a str, &'a str)>);

impl<'de: 'a, 'a> Deserialize<'de> for Dimensions<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Entries<'a> {
            type Value = Dimensions<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut dims = Vec::new();
                while let Some((name, Lax(value))) = map.next_entry::<&str, Lax<&str>>()? {
                    if dims.len() < MAX_LISTED {
                        dims.extend(value.map(|v| (name, v)));
                    }
                }
                Ok(Dimensions(dims))
            }
        }
        d.deserialize_map(Entries(PhantomData))
    }
}

impl<'a> From<Metric<'a>> for AlarmMetric<'a> {
    fn from(m: Metric<'a>) -> Self {
        let stat = m.metric_stat.0.unwrap_or_default();
        let metric = stat.metric.0.unwrap_or_default();
        AlarmMetric {
            id: m.id.0,
            namespace: metric.namespace.0,
            name: metric.name.0,
            dimensions: metric.dimensions.0.map(|d| d.0).unwrap_or_default(),
            stat: stat.stat.0.map(Cow::Borrowed),
            period: stat.period.0,
            expression: m.expression.0,
            label: m.label.0,
        }
    }
}

impl<'a> From<SnsMetric<'a>> for AlarmMetric<'a> {
    fn from(m: SnsMetric<'a>) -> Self {
        let stat = m.metric_stat.0.unwrap_or_default();
        let metric = stat.metric.0.unwrap_or_default();
        AlarmMetric {
            id: m.id.0,
            namespace: metric.namespace.0,
            name: metric.metric_name.0,
            dimensions: pairs(metric.dimensions),
            stat: stat.stat.0.map(Cow::Borrowed),
            period: stat.period.0,
            expression: m.expression.0,
            label: m.label.0,
        }
    }
}

fn pairs<'a>(dims: Lax<List<SnsDimension<'a>, MAX_LISTED>>) -> Vec<(&'a str, &'a str)> {
    dims.items()
        .into_iter()
        .map(|d| (d.name, d.value))
        .collect()
}

/// Where the alarm lives, as the envelope says; resolved against the ARN.
struct Identity<'a> {
    arn: Option<&'a str>,
    account: Option<&'a str>,
    /// A region code, when the envelope gives one.
    region: Option<&'a str>,
    /// An SNS display name that the table does not know: the last resort for `region`.
    region_display_name: Option<&'a str>,
    time: Option<&'a str>,
    event_id: Option<&'a str>,
}

impl<'a> Identity<'a> {
    /// Account and region from the envelope, else from the ARN; the ARN normalised, or built.
    #[allow(clippy::type_complexity)]
    fn resolve(
        self,
        name: &'a str,
    ) -> Result<(&'a str, Cow<'a, str>, Cow<'a, str>), AlarmEventError> {
        let arn = self.arn.map(normalise_arn);
        let parts = arn.as_deref().and_then(arn_parts);
        let account = match self.account.filter(|a| !a.trim().is_empty()) {
            Some(a) => a,
            None => self
                .arn
                .and_then(|raw| raw.split(':').nth(4))
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .ok_or(AlarmEventError::MissingField("account"))?,
        };
        let region: Cow<'a, str> = match (self.region, &parts) {
            (Some(r), _) => Cow::Borrowed(r),
            (None, Some(p)) if console::is_region(&p.region) => Cow::Owned(p.region.clone()),
            (None, _) => match self.region_display_name {
                Some(d) if !d.trim().is_empty() => Cow::Borrowed(d),
                _ => return Err(AlarmEventError::MissingField("region")),
            },
        };
        let arn = match arn {
            Some(a) => a,
            None => Cow::Owned(format!(
                "arn:{}:cloudwatch:{region}:{account}:alarm:{name}",
                console::partition(&region)
            )),
        };
        Ok((account, region, arn))
    }
}

struct ArnParts {
    region: String,
}

fn arn_parts(arn: &str) -> Option<ArnParts> {
    let mut parts = arn.splitn(7, ':');
    (parts.next()? == "arn").then_some(())?;
    let _partition = parts.next()?;
    let _service = parts.next()?;
    let region = parts.next()?.to_owned();
    Some(ArnParts { region })
}

/// Removes whitespace around the six leading parts of an ARN (the AWS documentation's sample
/// payloads carry `us-east-1: 444455556666`), leaving the resource name (which may contain
/// spaces) untouched.
pub fn normalise_arn(arn: &str) -> Cow<'_, str> {
    let parts: Vec<&str> = arn.trim().splitn(7, ':').collect();
    if parts.len() < 7 || parts[..6].iter().all(|p| p.trim() == *p) {
        return Cow::Borrowed(arn.trim());
    }
    let head: Vec<&str> = parts[..6].iter().map(|p| p.trim()).collect();
    Cow::Owned(format!("{}:{}", head.join(":"), parts[6]))
}

fn state_of(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<AlarmState>, AlarmEventError> {
    match value {
        None => Ok(None),
        Some(v) => AlarmState::parse(v)
            .map(Some)
            .ok_or_else(|| AlarmEventError::UnknownState {
                field,
                value: SafeText::bounded(v, 64),
            }),
    }
}

fn kind_of(composite: bool, metrics: &[AlarmMetric<'_>]) -> Option<AlarmKind> {
    if composite {
        return Some(AlarmKind::Composite);
    }
    let expressions = || metrics.iter().filter_map(|m| m.expression);
    if expressions().any(|e| e.to_ascii_uppercase().contains("ANOMALY_DETECTION_BAND")) {
        Some(AlarmKind::AnomalyDetection)
    } else if expressions().next().is_some() {
        Some(AlarmKind::MetricMath)
    } else if metrics.iter().any(|m| m.name.is_some()) {
        Some(AlarmKind::Metric)
    } else {
        None
    }
}

/// SNS notifications spell statistics `SUM`, `SAMPLE_COUNT`…; the API spells them `Sum`.
fn normalise_statistic(s: &str) -> Cow<'_, str> {
    let known = match s {
        "SUM" => "Sum",
        "AVERAGE" => "Average",
        "MINIMUM" => "Minimum",
        "MAXIMUM" => "Maximum",
        "SAMPLE_COUNT" => "SampleCount",
        _ => return Cow::Borrowed(s),
    };
    Cow::Borrowed(known)
}

/// The comparison, from CloudWatch's reason text (EventBridge events do not carry it). Reads
/// only the start of the reason.
fn comparison_from_reason(reason: &str) -> Option<&'static str> {
    let mut cut = reason.len().min(1024);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let r = &reason[..cut];
    const PHRASES: &[(&str, &str)] = &[
        (
            "less than the lower thresholds",
            "LessThanLowerOrGreaterThanUpperThreshold",
        ),
        (
            "greater than the upper threshold",
            "GreaterThanUpperThreshold",
        ),
        ("less than the lower threshold", "LessThanLowerThreshold"),
        (
            "greater than or equal to the threshold",
            "GreaterThanOrEqualToThreshold",
        ),
        (
            "less than or equal to the threshold",
            "LessThanOrEqualToThreshold",
        ),
        ("greater than the threshold", "GreaterThanThreshold"),
        ("less than the threshold", "LessThanThreshold"),
    ];
    PHRASES
        .iter()
        .find(|(p, _)| r.contains(p))
        .map(|&(_, op)| op)
}

/// CloudWatch's `2019-10-02T17:04:40.989+0000`, RFC 3339, and the documentation samples' stray
/// spaces (`2023-08-04T12: 36: 15.490+0000`).
pub fn parse_time(raw: &str, field: &'static str) -> Result<DateTime<Utc>, AlarmEventError> {
    let bad = || AlarmEventError::BadTimestamp {
        field,
        value: SafeText::bounded(raw, 64),
    };
    if raw.len() > 64 {
        return Err(bad());
    }
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    DateTime::parse_from_rfc3339(&compact)
        .or_else(|_| DateTime::parse_from_str(&compact, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cloudwatch_timestamps_parse_in_every_spelling() {
        let want = "2019-10-02T17:04:40.989Z";
        for raw in [
            "2019-10-02T17:04:40.989+0000",
            "2019-10-02T17:04:40.989Z",
            "2019-10-02T17: 04: 40.989+0000",
        ] {
            let t = parse_time(raw, "t")
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            assert_eq!(t.as_deref(), Ok(want), "{raw}");
        }
        assert!(matches!(
            parse_time("yesterday", "t"),
            Err(AlarmEventError::BadTimestamp { .. })
        ));
        assert!(parse_time(&"9".repeat(100_000), "t").is_err());
    }

    #[test]
    fn arns_lose_stray_spaces_but_not_spaces_in_the_alarm_name() {
        assert_eq!(
            normalise_arn("arn:aws:cloudwatch:us-east-1: 444455556666:alarm:lambda-demo"),
            "arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo"
        );
        let spaced = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:EC2 CPU Utilization Anomaly";
        assert_eq!(normalise_arn(spaced), spaced);
    }

    #[test]
    fn comparison_comes_from_the_reason_when_the_event_lacks_it() {
        let cases = [
            (
                "... was greater than or equal to the threshold (1.0) ...",
                Some("GreaterThanOrEqualToThreshold"),
            ),
            (
                "... was not greater than the threshold (50.0) ...",
                Some("GreaterThanThreshold"),
            ),
            (
                "... was less than the lower thresholds [0.02] or greater than the upper thresholds [0.3]",
                Some("LessThanLowerOrGreaterThanUpperThreshold"),
            ),
            ("test", None),
        ];
        for (reason, want) in cases {
            assert_eq!(comparison_from_reason(reason), want, "{reason}");
        }
    }

    #[test]
    fn shapes_are_recognised_by_their_fields() {
        let eb =
            json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change"});
        let cfg = json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm Configuration Change"});
        let other =
            json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"});
        let action = json!({"source": "aws.cloudwatch", "alarmData": {}});
        let sns = json!({"AlarmName": "x", "NewStateValue": "ALARM"});
        assert_eq!(AlarmForm::of(&eb), Some(AlarmForm::EventBridge));
        assert_eq!(AlarmForm::of(&cfg), Some(AlarmForm::EventBridge));
        assert_eq!(AlarmForm::of(&other), None);
        assert_eq!(AlarmForm::of(&action), Some(AlarmForm::LambdaAction));
        assert_eq!(AlarmForm::of(&sns), Some(AlarmForm::SnsNotification));
        assert_eq!(AlarmForm::of(&json!({"AlarmName": "x"})), None);
        assert_eq!(AlarmForm::of(&json!([1, 2])), None);
    }

    #[test]
    fn an_sns_notification_without_a_known_region_name_falls_back_to_the_arn() {
        let m = json!({
            "AlarmName": "a", "AWSAccountId": "111122223333", "NewStateValue": "ALARM",
            "StateChangeTime": "2024-05-02T09:26:10.115+0000", "Region": "Asia Pacific (Somewhere New)",
            "AlarmArn": "arn:aws:cloudwatch:ap-southeast-9:111122223333:alarm:a",
            "Trigger": {"MetricName": "M", "Namespace": "N"}
        });
        let c = AlarmChange::parse(&m, AlarmForm::SnsNotification);
        assert_eq!(c.as_ref().map(|c| c.region.as_ref()), Ok("ap-southeast-9"));
        assert_eq!(
            c.as_ref().map(|c| c.region_display_name),
            Ok(Some("Asia Pacific (Somewhere New)"))
        );
    }

    #[test]
    fn an_sns_notification_whose_region_is_a_code_keeps_it() {
        let m = json!({
            "AlarmName": "a", "AWSAccountId": "1", "NewStateValue": "OK",
            "StateChangeTime": "2024-05-02T09:26:10.115+0000", "Region": "eu-west-1",
            "AlarmRule": "ALARM(b)"
        });
        let c = AlarmChange::parse(&m, AlarmForm::SnsNotification);
        assert_eq!(c.as_ref().map(|c| c.region.as_ref()), Ok("eu-west-1"));
        assert_eq!(c.as_ref().map(|c| c.kind), Ok(AlarmKind::Composite));
        assert_eq!(
            c.as_ref().map(|c| c.arn.as_ref()),
            Ok("arn:aws:cloudwatch:eu-west-1:1:alarm:a"),
            "a missing ARN is built from its parts"
        );
    }
}
