//! One entry point for "which classifier understands this event?", used by the replay CLI so
//! that it runs exactly the classification each function runs. Each function calls its own
//! classifier directly; this only dispatches.

use serde_json::Value;

use crate::alarm::{AlarmClassifier, AlarmEventError, AlarmForm};
use crate::cloudtrail::{CloudTrailDetector, CloudTrailEventError, CloudTrailForm};
use crate::config::{ConfigClassifier, ConfigEventError};
use crate::finding::Finding;

/// The kind of event, as recognised from its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// AWS Config compliance change (EventBridge, or the SNS notification body).
    ConfigCompliance,
    /// EventBridge `aws.cloudwatch` alarm event: a `CloudWatch Alarm State Change` (other alarm
    /// detail-types, such as configuration changes, are recognised and give no finding).
    AlarmStateChange,
    /// Classic CloudWatch alarm notification: the alarm JSON an SNS action publishes (what
    /// `Sns.Message` holds).
    AlarmNotification,
    /// The payload a CloudWatch alarm's Lambda action sends (`alarmData`).
    AlarmAction,
    /// A CloudWatch Logs subscription payload, as Lambda receives it (`awslogs.data`) or
    /// decoded (`messageType`, `logEvents`).
    LogsSubscription,
    /// One CloudTrail record.
    CloudTrailRecord,
    /// A CloudTrail S3 log file (`{"Records": [...]}` of CloudTrail records).
    CloudTrailLogFile,
    /// Anything triage has no classifier for.
    Unknown,
}

impl EventKind {
    pub fn of(event: &Value) -> EventKind {
        if ConfigClassifier::accepts(event) {
            return EventKind::ConfigCompliance;
        }
        match AlarmForm::of(event) {
            Some(AlarmForm::EventBridge) => EventKind::AlarmStateChange,
            Some(AlarmForm::SnsNotification) => EventKind::AlarmNotification,
            Some(AlarmForm::LambdaAction) => EventKind::AlarmAction,
            None => match CloudTrailForm::of(event) {
                Some(CloudTrailForm::LambdaSubscription | CloudTrailForm::DecodedSubscription) => {
                    EventKind::LogsSubscription
                }
                Some(CloudTrailForm::Record) => EventKind::CloudTrailRecord,
                Some(CloudTrailForm::LogFile) => EventKind::CloudTrailLogFile,
                None => EventKind::Unknown,
            },
        }
    }

    /// The function that handles this kind in AWS.
    pub fn function(self) -> Option<&'static str> {
        match self {
            EventKind::ConfigCompliance => Some("config-classifier"),
            EventKind::AlarmStateChange | EventKind::AlarmNotification | EventKind::AlarmAction => {
                Some("alarm-classifier")
            }
            EventKind::LogsSubscription
            | EventKind::CloudTrailRecord
            | EventKind::CloudTrailLogFile => Some("log-detector"),
            EventKind::Unknown => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error(transparent)]
    Config(#[from] ConfigEventError),
    #[error(transparent)]
    Alarm(#[from] AlarmEventError),
    #[error(transparent)]
    CloudTrail(#[from] CloudTrailEventError),
    #[error("no classifier understands this event")]
    Unrecognised,
}

/// Every classifier, for callers that see every kind of event (the replay CLI).
#[derive(Debug, Clone)]
pub struct Classifiers {
    pub config: ConfigClassifier,
    pub alarm: AlarmClassifier,
    pub cloudtrail: CloudTrailDetector,
}

impl Classifiers {
    pub fn classify(&self, event: &Value) -> Result<Vec<Finding>, ClassifyError> {
        match EventKind::of(event) {
            EventKind::ConfigCompliance => Ok(self.config.findings(event)?),
            EventKind::AlarmStateChange | EventKind::AlarmNotification | EventKind::AlarmAction => {
                Ok(self.alarm.findings(event)?)
            }
            EventKind::LogsSubscription
            | EventKind::CloudTrailRecord
            | EventKind::CloudTrailLogFile => Ok(self.cloudtrail.findings(event)?),
            EventKind::Unknown => Err(ClassifyError::Unrecognised),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Severity;
    use crate::alarm::AlarmOptions;
    use crate::config::ConfigRuleCatalog;
    use crate::inbound::unwrap_envelopes;

    fn classifiers() -> Classifiers {
        match (
            ConfigRuleCatalog::shipped(),
            AlarmClassifier::shipped(AlarmOptions::default()),
            CloudTrailDetector::shipped(),
        ) {
            (Ok(catalog), Ok(alarm), Ok(cloudtrail)) => Classifiers {
                config: ConfigClassifier::new(catalog, Severity::Medium),
                alarm,
                cloudtrail,
            },
            _ => panic!("shipped catalog, alarm policy and detection pack must load"),
        }
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn all_three_alarm_forms_dispatch_to_the_alarm_classifier() {
        let c = classifiers();
        let cases = [
            (
                "alarm-cis-root-usage-alarm.json",
                EventKind::AlarmStateChange,
            ),
            ("lambda-alarm-metric-alarm.json", EventKind::AlarmAction),
            (
                "sns-alarm-cis-root-usage-alarm.json",
                EventKind::AlarmNotification,
            ),
        ];
        for (name, kind) in cases {
            for inner in unwrap_envelopes(sample(name)) {
                let Ok(event) = inner.event else {
                    panic!("{name}: {inner:?}")
                };
                assert_eq!(EventKind::of(&event), kind, "{name}");
                assert_eq!(kind.function(), Some("alarm-classifier"));
                assert_eq!(c.classify(&event).map(|f| f.len()).ok(), Some(1), "{name}");
            }
        }
    }

    #[test]
    fn a_mixed_sqs_batch_reaches_both_classifiers_and_config_still_works() {
        let c = classifiers();
        let kinds: Vec<EventKind> = unwrap_envelopes(sample("sqs-config-and-alarm-batch.json"))
            .into_iter()
            .filter_map(|i| i.event.ok())
            .map(|e| {
                assert_eq!(c.classify(&e).map(|f| f.len()).ok(), Some(1));
                EventKind::of(&e)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                EventKind::AlarmStateChange,
                EventKind::ConfigCompliance,
                EventKind::AlarmStateChange
            ]
        );
    }

    #[test]
    fn an_alarm_configuration_change_is_an_alarm_event_with_nothing_to_report() {
        let c = classifiers();
        let e = sample("alarm-configuration-change.json");
        assert_eq!(EventKind::of(&e), EventKind::AlarmStateChange);
        assert_eq!(c.classify(&e).map(|f| f.len()).ok(), Some(0));
    }

    #[test]
    fn a_bad_alarm_event_is_an_alarm_error_and_other_events_are_unrecognised() {
        let c = classifiers();
        let bad = c.classify(&sample("alarm-bad-missing-detail.json"));
        assert!(matches!(
            bad,
            Err(ClassifyError::Alarm(AlarmEventError::MissingField(
                "detail"
            )))
        ));
        let other = c.classify(
            &json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}),
        );
        assert!(matches!(other, Err(ClassifyError::Unrecognised)));
    }
}
