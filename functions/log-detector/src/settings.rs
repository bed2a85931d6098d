//! The function's typed settings, read once at cold start.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `TICKET_QUEUE_URL`, `DIGEST_QUEUE_URL`, `ALERT_TOPIC_ARN`, `*_MIN_SEVERITY` | routing, see [`RoutingSettings`] | required / critical, medium, low |
//! | `DEDUP_TABLE_NAME` | the DynamoDB dedup state table | required |
//! | `DEDUP_WINDOW_MINUTES`, `DEDUP_CLAIM_SECONDS`, `DEDUP_RETENTION_DAYS` | see [`DedupSettings`]; every detection brings its own window (`dedup_window_minutes` in `rules/detections.toml`), which `policy/dedup-windows.toml` may override | 60, 60, 30 |
//! | `MAX_DECODED_BYTES` | largest inflated subscription payload, 65536 … 134217728; a larger one is refused (`InvalidPayload`) without inflating the rest | 16777216 (16 MiB) |
//! | `MAX_LOG_EVENTS` | most log events in one payload, 1 … 1000000 | 50000 |
//! | `MAX_MESSAGE_BYTES` | largest log event message evaluated, 1024 … 16777216; larger ones are skipped and counted | 1048576 (1 MiB; CloudTrail sends at most 256 KB) |

use triage_core::Source;
use triage_core::cloudtrail::{CloudTrailDetector, DetectionPack, Limits, PackError};
use triage_core::settings::{ConfigError, Env, RouterSettings, RouterSettingsError};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    Router(#[from] RouterSettingsError),
    #[error(transparent)]
    Pack(#[from] PackError),
}

pub struct Settings {
    /// The router's settings, with each detection's own dedup window added after the shipped
    /// overrides.
    pub router: RouterSettings,
    pub detector: CloudTrailDetector,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SettingsError> {
        let mut router = RouterSettings::from_env(env)?;
        let limits = limits(env)?;
        let pack = DetectionPack::shipped()?;
        for (rule, minutes) in pack.windows() {
            router.dedup.windows =
                router
                    .dedup
                    .windows
                    .with_rule(Some(Source::Cloudtrail), rule, minutes);
        }
        Ok(Settings {
            router,
            detector: CloudTrailDetector::new(pack, limits),
        })
    }
}

/// `MAX_DECODED_BYTES`, `MAX_LOG_EVENTS`, `MAX_MESSAGE_BYTES`.
pub fn limits<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    Ok(Limits {
        max_decoded_bytes: env.bounded(
            "MAX_DECODED_BYTES",
            d.max_decoded_bytes,
            64 * 1024..=128 * 1024 * 1024,
        )?,
        max_log_events: env.bounded("MAX_LOG_EVENTS", d.max_log_events, 1..=1_000_000)?,
        max_message_bytes: env.bounded(
            "MAX_MESSAGE_BYTES",
            d.max_message_bytes,
            1024..=16 * 1024 * 1024,
        )?,
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
    fn limits_default_to_16_mib_50000_events_and_1_mib_messages() {
        let s = Settings::from(&env(&ROUTING)).expect("settings");
        assert_eq!(*s.detector.limits(), Limits::default());
        assert_eq!(
            Limits::default(),
            Limits {
                max_decoded_bytes: 16 * 1024 * 1024,
                max_log_events: 50_000,
                max_message_bytes: 1024 * 1024,
            }
        );
        assert_eq!(s.detector.pack().rules().len(), 22);
    }

    #[test]
    fn each_detection_keeps_its_own_dedup_window() {
        let s = Settings::from(&env(&ROUTING)).expect("settings");
        for rule in s.detector.pack().rules() {
            let mut finding = s
                .detector
                .detect_message(r#"{"eventVersion":"1.08","eventTime":"2024-08-05T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","errorCode":"AccessDenied","userIdentity":{"type":"Root"},"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"}}"#)
                .findings
                .remove(0);
            finding.rule_id = triage_core::SafeText::new(&rule.id);
            assert_eq!(
                s.router.dedup.windows.window_for(&finding).num_minutes(),
                i64::from(rule.dedup_window_minutes),
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn limits_are_read_from_the_environment() {
        let mut pairs = ROUTING.to_vec();
        pairs.extend([
            ("MAX_DECODED_BYTES", "1048576"),
            ("MAX_LOG_EVENTS", "10000"),
            ("MAX_MESSAGE_BYTES", "262144"),
        ]);
        let s = Settings::from(&env(&pairs)).expect("settings");
        assert_eq!(
            *s.detector.limits(),
            Limits {
                max_decoded_bytes: 1_048_576,
                max_log_events: 10_000,
                max_message_bytes: 262_144,
            }
        );
    }

    #[test]
    fn a_bad_limit_names_the_variable_and_value() {
        for (name, value) in [
            ("MAX_DECODED_BYTES", "lots"),
            ("MAX_DECODED_BYTES", "1"),
            ("MAX_LOG_EVENTS", "0"),
            ("MAX_MESSAGE_BYTES", "-5"),
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
