//! The function's typed settings, read once at cold start.

use triage_core::Severity;
use triage_core::config::{CatalogError, ConfigClassifier, ConfigRuleCatalog};
use triage_core::policy::{PolicyError, SeverityPolicy};
use triage_core::settings::{ConfigError, Env, RoutingSettings};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

pub struct Settings {
    pub routing: RoutingSettings,
    pub policy: SeverityPolicy,
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
            routing: RoutingSettings::from_env(env)?,
            policy: SeverityPolicy::shipped()?,
            classifier: ConfigClassifier::new(ConfigRuleCatalog::shipped()?, unknown),
        })
    }
}
