//! The function's typed settings, read once at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TICKET_QUEUE_URL`, `DIGEST_QUEUE_URL`, `ALERT_TOPIC_ARN`, `*_MIN_SEVERITY` | routing, see [`RoutingSettings`](triage_core::settings) | required / critical, medium, low |
//! | `DEDUP_TABLE_NAME` | the DynamoDB dedup state table | required |
//! | `DEDUP_WINDOW_MINUTES`, `DEDUP_CLAIM_SECONDS`, `DEDUP_RETENTION_DAYS` | see [`DedupSettings`](triage_core::dedup::DedupSettings) | 60, 60, 30 |
//! | `SECURITY_HUB_CONFIG_CONTROLS` | `skip`: a Security Hub control evaluated by an AWS Config rule is left to config-classifier; `ticket`: ticket it here too | skip |
//! | `UNKNOWN_FINDING_SEVERITY` | severity of a finding whose provider gives none this function understands | medium |
//!
//! The severity policy, the per-rule dedup windows and the suppressions are compiled in from
//! `policy/` and validated by the tests.

use triage_core::Severity;
use triage_core::hub::{ConfigControls, HubClassifier};
use triage_core::settings::{ConfigError, Env, RouterSettings, RouterSettingsError};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    Router(#[from] RouterSettingsError),
}

pub struct Settings {
    pub router: RouterSettings,
    pub classifier: HubClassifier,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SettingsError> {
        let controls =
            env.parsed_or::<ConfigControls>("SECURITY_HUB_CONFIG_CONTROLS", ConfigControls::Skip)?;
        let unknown = env.parsed_or::<Severity>("UNKNOWN_FINDING_SEVERITY", Severity::Medium)?;
        let router = RouterSettings::from_env(env)?;
        let classifier = HubClassifier::new(controls, unknown)
            .with_resolve_floor(router.routing.thresholds.ticket);
        Ok(Settings { router, classifier })
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
    fn the_shipped_policy_loads_with_the_required_variables() {
        let s = Settings::from(&env(&REQUIRED));
        assert!(s.is_ok(), "{:?}", s.err());
    }

    #[test]
    fn a_misspelt_config_controls_setting_fails_the_cold_start_with_its_name() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("SECURITY_HUB_CONFIG_CONTROLS", "both"));
        let err = Settings::from(&env(&vars))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("SECURITY_HUB_CONFIG_CONTROLS"), "{err}");
    }
}
