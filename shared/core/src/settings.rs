//! Typed settings from the environment. Names are SCREAMING_SNAKE and match the template; a
//! missing or bad setting fails the cold start with a message that names the variable.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::accounts::{AccountNames, AccountNamesError};
use crate::dedup::{DedupSettings, DedupSettingsError};
use crate::policy::{PolicyError, SeverityPolicy, Thresholds};
use crate::severity::Severity;
use crate::suppress::{SuppressionError, Suppressions};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Reads settings through a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Env(|name| std::env::var(name).ok())
    }
}

/// An environment of fixed `(name, value)` pairs: for tests.
pub fn env_from_pairs(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String> + use<>> {
    env_from_map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    )
}

/// An environment read from a map: the template's `Environment` of a function, resolved, for
/// everything that builds a function outside Lambda.
pub fn env_from_map(map: BTreeMap<String, String>) -> Env<impl Fn(&str) -> Option<String> + use<>> {
    Env(move |k: &str| map.get(k).cloned())
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// A switch: `enabled` or `disabled` (the default).
    pub fn enabled(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref().map(str::trim) {
            None | Some("disabled") => Ok(false),
            Some("enabled") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                name,
                value: other.to_owned(),
                reason: "expected enabled or disabled".into(),
            }),
        }
    }

    /// A parsed value, or `default` when unset.
    pub fn parsed_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                    value,
                }),
        }
    }

    /// A parsed value within `range`, or `default` when unset.
    pub fn bounded<T>(
        &self,
        name: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display,
        T::Err: Display,
    {
        let value = self.parsed_or(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::Invalid {
                name,
                value: value.to_string(),
                reason: format!("must be between {} and {}", range.start(), range.end()),
            })
        }
    }

    /// `ALERT_MIN_SEVERITY`, `TICKET_MIN_SEVERITY`, `DIGEST_MIN_SEVERITY`.
    pub fn thresholds(&self) -> Result<Thresholds, ConfigError> {
        let d = Thresholds::default();
        Ok(Thresholds {
            alert: self.parsed_or::<Severity>("ALERT_MIN_SEVERITY", d.alert)?,
            ticket: self.parsed_or::<Severity>("TICKET_MIN_SEVERITY", d.ticket)?,
            digest: self.parsed_or::<Severity>("DIGEST_MIN_SEVERITY", d.digest)?,
        })
    }
}

/// Where the router sends: `TICKET_QUEUE_URL`, `DIGEST_QUEUE_URL`, `ALERT_TOPIC_ARN`, plus the
/// thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingSettings {
    pub ticket_queue_url: String,
    pub digest_queue_url: String,
    pub alert_topic_arn: String,
    pub thresholds: Thresholds,
    /// `CHAT_NOTIFICATIONS=enabled`: alerts carry an Amazon Q Developer custom notification for
    /// their HTTPS subscribers (`crate::chat`); `disabled` (the default): HTTPS subscribers get
    /// the JSON, as paging integrations subscribed over HTTPS expect.
    pub chat: bool,
    /// `OCSF_EVENTS=enabled`: every ticket event also goes on triage's bus as an OCSF finding
    /// (`crate::ocsf`); `disabled` (the default): not.
    pub ocsf: bool,
    /// `EVENT_BUS_NAME`: triage's EventBridge bus, which every ticket event and alert is also put
    /// on; unset: none.
    pub event_bus_name: Option<String>,
}

impl RoutingSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let ticket_queue_url = env.required("TICKET_QUEUE_URL")?;
        if !ticket_queue_url.ends_with(".fifo") {
            return Err(ConfigError::Invalid {
                name: "TICKET_QUEUE_URL",
                value: ticket_queue_url,
                reason: "the ticket queue must be a FIFO queue (its URL ends in .fifo)".into(),
            });
        }
        Ok(RoutingSettings {
            ticket_queue_url,
            digest_queue_url: env.required("DIGEST_QUEUE_URL")?,
            alert_topic_arn: env.required("ALERT_TOPIC_ARN")?,
            thresholds: env.thresholds()?,
            chat: env.enabled("CHAT_NOTIFICATIONS")?,
            ocsf: env.enabled("OCSF_EVENTS")?,
            event_bus_name: env
                .optional("EVENT_BUS_NAME")
                .filter(|b| !b.trim().is_empty()),
        })
    }
}

/// What every classifier's router is built from (`triage_core::router::assemble`): where it
/// sends, the severity policy, the dedup state and the suppressions.
pub struct RouterSettings {
    /// How the functions write their metrics (the router does not: each function does, with
    /// its own counters).
    pub metrics: crate::metrics::MetricsSettings,
    pub routing: RoutingSettings,
    pub policy: SeverityPolicy,
    pub dedup: DedupSettings,
    pub suppressions: Suppressions,
    pub accounts: AccountNames,
}

#[derive(Debug, thiserror::Error)]
pub enum RouterSettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Dedup(#[from] DedupSettingsError),
    #[error(transparent)]
    Suppressions(#[from] SuppressionError),
    #[error(transparent)]
    Accounts(#[from] AccountNamesError),
}

impl RouterSettings {
    /// The routing and dedup variables, the shipped severity policy and suppressions.
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<Self, RouterSettingsError> {
        Ok(RouterSettings {
            metrics: crate::metrics::MetricsSettings::from_env(env)?,
            routing: RoutingSettings::from_env(env)?,
            policy: SeverityPolicy::shipped()?,
            dedup: DedupSettings::from_env(env)?,
            suppressions: Suppressions::shipped()?,
            accounts: AccountNames::shipped()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::settings::env_from_pairs as env;

    #[test]
    fn a_missing_queue_url_names_the_variable() {
        let e = RoutingSettings::from_env(&env(&[])).err();
        assert_eq!(e, Some(ConfigError::Missing("TICKET_QUEUE_URL")));
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "environment variable TICKET_QUEUE_URL is not set"
        );
    }

    #[test]
    fn a_bad_severity_names_the_variable_and_value() {
        let e = env(&[("ALERT_MIN_SEVERITY", "urgent")]).thresholds().err();
        assert!(matches!(
            e,
            Some(ConfigError::Invalid {
                name: "ALERT_MIN_SEVERITY",
                ..
            })
        ));
    }

    #[test]
    fn a_standard_ticket_queue_is_refused() {
        let e = RoutingSettings::from_env(&env(&[
            ("TICKET_QUEUE_URL", "http://q/tickets"),
            ("DIGEST_QUEUE_URL", "http://q/digest"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
        ]))
        .err();
        assert!(matches!(
            e,
            Some(ConfigError::Invalid {
                name: "TICKET_QUEUE_URL",
                ..
            })
        ));
    }

    #[test]
    fn thresholds_default_when_unset() {
        assert_eq!(env(&[]).thresholds(), Ok(Thresholds::default()));
    }
}
