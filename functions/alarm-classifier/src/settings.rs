//! The function's typed settings, read once at cold start.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `TICKET_QUEUE_URL`, `DIGEST_QUEUE_URL`, `ALERT_TOPIC_ARN`, `*_MIN_SEVERITY` | see [`RoutingSettings`] | — |
//! | `ALARM_INSUFFICIENT_DATA` | `ignore` (no finding, counted as skipped) or `ticket` | `ignore` |
//! | `ALARM_DEFAULT_SEVERITY` | severity of an alarm no policy line decides | `medium` |
//! | `ALARM_LINKED_DETECTIONS` | `digest` (alarms marked `triage:detection=<id>` are digest lines beside log-detector's ticket) or `ticket` | `digest` |

use triage_core::Severity;
use triage_core::alarm::{
    AlarmClassifier, AlarmOptions, AlarmPolicyError, InsufficientData, LinkedDetections,
};
use triage_core::policy::{PolicyError, SeverityPolicy};
use triage_core::settings::{ConfigError, Env, RoutingSettings};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    AlarmPolicy(#[from] AlarmPolicyError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

pub struct Settings {
    pub routing: RoutingSettings,
    pub policy: SeverityPolicy,
    pub classifier: AlarmClassifier,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SettingsError> {
        let options = alarm_options(env)?;
        Ok(Settings {
            routing: RoutingSettings::from_env(env)?,
            policy: SeverityPolicy::shipped()?,
            classifier: AlarmClassifier::shipped(options)?,
        })
    }
}

/// `ALARM_INSUFFICIENT_DATA`, `ALARM_DEFAULT_SEVERITY`, `ALARM_LINKED_DETECTIONS`.
pub fn alarm_options<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<AlarmOptions, ConfigError> {
    let d = AlarmOptions::default();
    Ok(AlarmOptions {
        insufficient_data: env
            .parsed_or::<InsufficientData>("ALARM_INSUFFICIENT_DATA", d.insufficient_data)?,
        default_severity: env
            .parsed_or::<Severity>("ALARM_DEFAULT_SEVERITY", d.default_severity)?,
        linked_detections: env
            .parsed_or::<LinkedDetections>("ALARM_LINKED_DETECTIONS", d.linked_detections)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Env(move |k: &str| map.get(k).cloned())
    }

    const ROUTING: [(&str, &str); 3] = [
        (
            "TICKET_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/tickets.fifo",
        ),
        (
            "DIGEST_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/digest",
        ),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:alerts"),
    ];

    #[test]
    fn alarm_settings_default_to_ignore_medium_and_digest() {
        let s = Settings::from(&env(&ROUTING)).expect("settings");
        assert_eq!(s.classifier.options(), AlarmOptions::default());
        assert_eq!(
            AlarmOptions::default(),
            AlarmOptions {
                insufficient_data: InsufficientData::Ignore,
                default_severity: Severity::Medium,
                linked_detections: LinkedDetections::Digest,
            }
        );
    }

    #[test]
    fn alarm_settings_are_read_from_the_environment() {
        let mut pairs = ROUTING.to_vec();
        pairs.extend([
            ("ALARM_INSUFFICIENT_DATA", "Ticket"),
            ("ALARM_DEFAULT_SEVERITY", "high"),
            ("ALARM_LINKED_DETECTIONS", "ticket"),
        ]);
        let s = Settings::from(&env(&pairs)).expect("settings");
        assert_eq!(
            s.classifier.options(),
            AlarmOptions {
                insufficient_data: InsufficientData::Ticket,
                default_severity: Severity::High,
                linked_detections: LinkedDetections::Ticket,
            }
        );
    }

    #[test]
    fn a_bad_alarm_setting_names_the_variable() {
        for (name, value) in [
            ("ALARM_INSUFFICIENT_DATA", "page"),
            ("ALARM_DEFAULT_SEVERITY", "urgent"),
            ("ALARM_LINKED_DETECTIONS", "both"),
        ] {
            let mut pairs = ROUTING.to_vec();
            pairs.push((name, value));
            let err = Settings::from(&env(&pairs))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(name) && err.contains(value), "{name}: {err}");
        }
    }

    #[test]
    fn a_missing_queue_fails_the_cold_start_with_its_name() {
        let err = Settings::from(&env(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("TICKET_QUEUE_URL"), "{err}");
    }
}
