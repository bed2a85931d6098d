//! The function's typed settings, read once at cold start.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `TICKET_QUEUE_URL`, `DIGEST_QUEUE_URL`, `ALERT_TOPIC_ARN`, `*_MIN_SEVERITY` | see [`RoutingSettings`] | — |
//! | `ALARM_INSUFFICIENT_DATA` | `ignore` (no finding, counted as skipped) or `ticket` | `ignore` |
//! | `ALARM_DEFAULT_SEVERITY` | severity of an alarm no policy line decides | `medium` |
//! | `ALARM_LINKED_DETECTIONS` | `digest` (alarms marked `triage:detection=<id>` are digest lines beside log-detector's ticket) or `ticket` | `digest` |
//! | `ALARM_FLAP_TRANSITIONS` | N, 0 … 100: an alarm with more than N state changes within the window is reported once as flapping (`alarm-flapping`) and its changes go to the digest only until it is calm; 0 turns flap control off | 4 |
//! | `ALARM_FLAP_WINDOW_MINUTES` | the flapping window, 1 … 10080 | 60 |
//! | `DEDUP_TABLE_NAME` | the DynamoDB dedup state table (also holds the alarms' flap states, `flap#<fingerprint>`) | required |
//! | `DEDUP_WINDOW_MINUTES`, `DEDUP_CLAIM_SECONDS`, `DEDUP_RETENTION_DAYS` | see [`DedupSettings`]; `policy/dedup-windows.toml` may override an alarm's window; the retention is also the flap states' | 60, 60, 30 |
//!
//! Flapping findings are capped at high (the alarm's own severity otherwise): they say that an
//! alarm is unreliable, not that its condition happened again, so with the default
//! `ALERT_MIN_SEVERITY` (critical) they never page. See `triage_core::alarm` (Flapping).

use triage_core::Severity;
use triage_core::alarm::{
    AlarmClassifier, AlarmOptions, AlarmPolicyError, InsufficientData, LinkedDetections,
};
use triage_core::dedup::MAX_WINDOW_MINUTES;
use triage_core::flap::{
    DEFAULT_FLAP_TRANSITIONS, DEFAULT_FLAP_WINDOW_MINUTES, FlapSettings, MAX_FLAP_TRANSITIONS,
};
use triage_core::settings::{ConfigError, Env, RouterSettings, RouterSettingsError};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    Router(#[from] RouterSettingsError),
    #[error(transparent)]
    AlarmPolicy(#[from] AlarmPolicyError),
}

pub struct Settings {
    pub router: RouterSettings,
    pub classifier: AlarmClassifier,
    pub flap: FlapSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SettingsError> {
        let options = alarm_options(env)?;
        let router = RouterSettings::from_env(env)?;
        let flap = flap_settings(env)?.with_retention(router.dedup.options.retention);
        Ok(Settings {
            router,
            classifier: AlarmClassifier::shipped(options)?,
            flap,
        })
    }
}

/// `ALARM_FLAP_TRANSITIONS`, `ALARM_FLAP_WINDOW_MINUTES` (the retention is the dedup table's).
pub fn flap_settings<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<FlapSettings, ConfigError> {
    let transitions = env.bounded(
        "ALARM_FLAP_TRANSITIONS",
        DEFAULT_FLAP_TRANSITIONS,
        0..=MAX_FLAP_TRANSITIONS,
    )?;
    let window = env.bounded(
        "ALARM_FLAP_WINDOW_MINUTES",
        DEFAULT_FLAP_WINDOW_MINUTES,
        1..=MAX_WINDOW_MINUTES,
    )?;
    Ok(FlapSettings::new(transitions, window))
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
pub(crate) mod tests {
    use super::*;

    use triage_core::settings::env_from_pairs as env;

    pub(crate) const ROUTING: [(&str, &str); 4] = [
        (
            "TICKET_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/tickets.fifo",
        ),
        (
            "DIGEST_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/digest",
        ),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:alerts"),
        ("DEDUP_TABLE_NAME", "triage-dedup"),
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
    fn storm_control_defaults_to_the_dedup_table_and_more_than_four_changes_an_hour() {
        let s = Settings::from(&env(&ROUTING)).expect("settings");
        assert_eq!(s.router.dedup.table_name, "triage-dedup");
        assert_eq!(s.flap, FlapSettings::default());
        assert_eq!((s.flap.transitions, s.flap.window.num_minutes()), (4, 60));
        assert_eq!(s.flap.retention, s.router.dedup.options.retention);
        assert_eq!(
            s.router.suppressions.all().len(),
            triage_core::suppress::Suppressions::shipped()
                .expect("shipped")
                .all()
                .len(),
            "the shipped suppressions"
        );
    }

    #[test]
    fn flap_control_is_read_from_the_environment_and_zero_turns_it_off() {
        let mut pairs = ROUTING.to_vec();
        pairs.extend([
            ("ALARM_FLAP_TRANSITIONS", "6"),
            ("ALARM_FLAP_WINDOW_MINUTES", "30"),
            ("DEDUP_RETENTION_DAYS", "7"),
        ]);
        let s = Settings::from(&env(&pairs)).expect("settings");
        assert_eq!(
            (
                s.flap.transitions,
                s.flap.window.num_minutes(),
                s.flap.retention.num_days()
            ),
            (6, 30, 7)
        );
        let mut pairs = ROUTING.to_vec();
        pairs.push(("ALARM_FLAP_TRANSITIONS", "0"));
        let s = Settings::from(&env(&pairs)).expect("settings");
        assert!(!s.flap.enabled());
    }

    #[test]
    fn a_missing_dedup_table_fails_the_cold_start_with_its_name() {
        let err = Settings::from(&env(&ROUTING[..3]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("DEDUP_TABLE_NAME"), "{err}");
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
            ("ALARM_FLAP_TRANSITIONS", "101"),
            ("ALARM_FLAP_TRANSITIONS", "-1"),
            ("ALARM_FLAP_WINDOW_MINUTES", "0"),
            ("ALARM_FLAP_WINDOW_MINUTES", "hourly"),
            ("DEDUP_WINDOW_MINUTES", "0"),
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
