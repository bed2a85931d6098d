//! AWS Config "Config Rules Compliance Change" events → findings.

mod catalog;
mod classify;

pub use catalog::{
    CONFIG_RULES_TOML, CatalogError, ConfigRuleCatalog, ManagedRule, normalise_rule_name,
};
pub use classify::{ConfigClassifier, ConfigEventError, ConfigOutcome, ConfigSkip};
