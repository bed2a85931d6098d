//! The function's typed settings, read once at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TICKET_QUEUE_URL`, `DIGEST_QUEUE_URL`, `ALERT_TOPIC_ARN`, `*_MIN_SEVERITY` | routing, see [`RoutingSettings`] | required / critical, medium, low |
//! | `DEDUP_TABLE_NAME` | the DynamoDB dedup state table | required |
//! | `DEDUP_WINDOW_MINUTES`, `DEDUP_CLAIM_SECONDS`, `DEDUP_RETENTION_DAYS` | see [`DedupSettings`] | 60, 60, 30 |
//! | `UNKNOWN_CONFIG_RULE_SEVERITY` | severity of Config rules the catalog does not know | medium |
//!
//! The severity policy, the per-rule dedup windows and the suppressions are compiled in from
//! `policy/` and validated by the tests.

use triage_core::Severity;
use triage_core::config::{CatalogError, ConfigClassifier, ConfigRuleCatalog};
use triage_core::settings::{ConfigError, Env, RouterSettings, RouterSettingsError};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    Router(#[from] RouterSettingsError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

pub struct Settings {
    pub router: RouterSettings,
    pub classifier: ConfigClassifier,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SettingsError> {
        let unknown =
            env.parsed_or::<Severity>("UNKNOWN_CONFIG_RULE_SEVERITY", Severity::Medium)?;
        Ok(Settings {
            router: RouterSettings::from_env(env)?,
            classifier: ConfigClassifier::new(ConfigRuleCatalog::shipped()?, unknown),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use triage_core::settings::env_from_pairs as env;

    pub(crate) const REQUIRED: [(&str, &str); 4] = [
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
    fn the_shipped_policy_windows_and_suppressions_load_with_the_required_variables() {
        let s = Settings::from(&env(&REQUIRED));
        assert!(s.is_ok(), "{:?}", s.err());
        let s = s.ok();
        assert_eq!(
            s.as_ref().map(|s| s.router.dedup.table_name.as_str()),
            Some("triage-dedup")
        );
    }

    #[test]
    fn a_missing_dedup_table_fails_the_cold_start_with_its_name() {
        let err = Settings::from(&env(&REQUIRED[..3]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(err, "environment variable DEDUP_TABLE_NAME is not set");
    }
}
