//! The function's typed settings, read once at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `JIRA_BASE_URL` | the Jira Cloud site, `https://<site>.atlassian.net` (plain `http` only for a loopback stand-in) | required |
//! | `JIRA_PROJECT_KEY` | the project issues are created in (`SEC`) | required |
//! | `JIRA_ISSUE_TYPE` | the issue type created | `Task` |
//! | `JIRA_DONE_TRANSITION` | the name of the workflow transition a resolve applies | `Done` |
//! | `JIRA_COUNT_FIELD` | a number custom field (`customfield_10050`) kept at the finding's count; empty: none | empty |
//! | `JIRA_CREDENTIALS_SECRET_ARN` | the Secrets Manager secret `{"email": …, "api_token": …}` | required |
//! | `TICKET_LINKS_TABLE_NAME` | the DynamoDB table of links from fingerprints to issues | required |
//! | `JIRA_TIME_MARGIN_SECONDS` | kept before the invocation's deadline: no retry waits into it | 5 |
//! | `JIRA_REQUEST_TIMEOUT_SECONDS` | one HTTP request's timeout | 10 |
//!
//! The severity → priority mapping is `policy/jira.toml`, compiled in.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use triage_core::Severity;
use triage_core::metrics::MetricsSettings;
use triage_core::settings::{ConfigError, Env};

pub const JIRA_TOML: &str = include_str!("../../../policy/jira.toml");

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error("{name}: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error("policy/jira.toml: {0}")]
    Priorities(String),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub jira: JiraSettings,
    pub credentials_secret_arn: String,
    pub links_table: String,
    pub time_margin: Duration,
    pub metrics: MetricsSettings,
}

#[derive(Debug, Clone)]
pub struct JiraSettings {
    /// Without a trailing slash.
    pub base_url: String,
    pub project_key: String,
    pub issue_type: String,
    pub done_transition: String,
    pub count_field: Option<String>,
    pub priorities: Priorities,
    pub request_timeout: Duration,
}

/// The Jira priority name of each severity (`None`: the project's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priorities(BTreeMap<Severity, Option<String>>);

impl Priorities {
    pub fn parse(toml_text: &str) -> Result<Self, SettingsError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            version: u32,
            priorities: BTreeMap<Severity, String>,
        }
        let bad = |p: String| SettingsError::Priorities(p);
        let file: File = toml::from_str(toml_text).map_err(|e| bad(e.to_string()))?;
        if file.version != 1 {
            return Err(bad(format!(
                "version {} (this build reads 1)",
                file.version
            )));
        }
        let mut out = BTreeMap::new();
        for severity in Severity::ALL {
            let name = file
                .priorities
                .get(&severity)
                .ok_or_else(|| bad(format!("no priority for {severity}")))?;
            if name.chars().count() > 64 || name.chars().any(char::is_control) {
                return Err(bad(format!(
                    "the priority of {severity} is over 64 characters or has control characters"
                )));
            }
            out.insert(
                severity,
                (!name.trim().is_empty()).then(|| name.trim().to_owned()),
            );
        }
        Ok(Priorities(out))
    }

    pub fn of(&self, severity: Severity) -> Option<&str> {
        self.0.get(&severity).and_then(|p| p.as_deref())
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SettingsError> {
        let invalid = |name: &'static str, problem: &str| SettingsError::Invalid {
            name,
            problem: problem.to_owned(),
        };
        let base_url = env
            .required("JIRA_BASE_URL")?
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if !base_url_is_acceptable(&base_url) {
            return Err(invalid(
                "JIRA_BASE_URL",
                "must be https://<site> (plain http only for 127.0.0.1 or localhost), with no path, query or credentials",
            ));
        }
        let project_key = env.required("JIRA_PROJECT_KEY")?.trim().to_owned();
        if !is_project_key(&project_key) {
            return Err(invalid(
                "JIRA_PROJECT_KEY",
                "must be a Jira project key: an upper-case letter, then upper-case letters, digits or _",
            ));
        }
        let text = |name: &'static str, default: &str| -> Result<String, SettingsError> {
            let v = env.optional(name).unwrap_or_default();
            let v = if v.trim().is_empty() {
                default.to_owned()
            } else {
                v.trim().to_owned()
            };
            if v.chars().count() > 100 || v.chars().any(char::is_control) {
                return Err(invalid(
                    name,
                    "over 100 characters or with control characters",
                ));
            }
            Ok(v)
        };
        let count_field = env
            .optional("JIRA_COUNT_FIELD")
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty());
        if let Some(f) = &count_field {
            let digits = f.strip_prefix("customfield_").unwrap_or("");
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    "JIRA_COUNT_FIELD",
                    "must be a custom field id such as customfield_10050",
                ));
            }
        }
        let seconds =
            |name: &'static str, default: u64, max: u64| -> Result<Duration, SettingsError> {
                Ok(Duration::from_secs(env.bounded(name, default, 1..=max)?))
            };
        Ok(Settings {
            jira: JiraSettings {
                base_url,
                project_key,
                issue_type: text("JIRA_ISSUE_TYPE", "Task")?,
                done_transition: text("JIRA_DONE_TRANSITION", "Done")?,
                count_field,
                priorities: Priorities::parse(JIRA_TOML)?,
                request_timeout: seconds("JIRA_REQUEST_TIMEOUT_SECONDS", 10, 60)?,
            },
            credentials_secret_arn: env.required("JIRA_CREDENTIALS_SECRET_ARN")?,
            links_table: env.required("TICKET_LINKS_TABLE_NAME")?,
            time_margin: seconds("JIRA_TIME_MARGIN_SECONDS", 5, 60)?,
            metrics: MetricsSettings::from_env(env)?,
        })
    }
}

fn is_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn base_url_is_acceptable(url: &str) -> bool {
    let (scheme, rest) = match url.split_once("://") {
        Some(parts) => parts,
        None => return false,
    };
    let host_ok = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
    match scheme {
        "https" => host_ok,
        "http" => host_ok && (host == "127.0.0.1" || host == "localhost"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::settings::env_from_pairs as env;

    const REQUIRED: [(&str, &str); 4] = [
        ("JIRA_BASE_URL", "https://example.atlassian.net/"),
        ("JIRA_PROJECT_KEY", "SEC"),
        (
            "JIRA_CREDENTIALS_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:jira",
        ),
        ("TICKET_LINKS_TABLE_NAME", "links"),
    ];

    fn with(extra: (&'static str, &'static str)) -> Result<Settings, SettingsError> {
        let mut vars = REQUIRED.to_vec();
        vars.retain(|(k, _)| *k != extra.0);
        vars.push(extra);
        Settings::from(&env(&vars))
    }

    #[test]
    fn the_shipped_priorities_load_and_the_defaults_apply() {
        let s = Settings::from(&env(&REQUIRED)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.jira.base_url, "https://example.atlassian.net");
        assert_eq!(
            (s.jira.issue_type.as_str(), s.jira.done_transition.as_str()),
            ("Task", "Done")
        );
        assert_eq!(s.jira.priorities.of(Severity::Critical), Some("Highest"));
        assert_eq!(s.jira.priorities.of(Severity::Info), Some("Lowest"));
        assert_eq!(s.jira.count_field, None);
    }

    #[test]
    fn settings_that_would_misbehave_fail_the_cold_start_with_their_name() {
        for (name, value) in [
            ("JIRA_BASE_URL", "http://example.atlassian.net"),
            ("JIRA_BASE_URL", "https://user:pw@example.atlassian.net"),
            ("JIRA_BASE_URL", "https://example.atlassian.net/jira?x"),
            ("JIRA_BASE_URL", "example.atlassian.net"),
            ("JIRA_PROJECT_KEY", "sec\" OR 1=1"),
            ("JIRA_COUNT_FIELD", "Count"),
            ("JIRA_ISSUE_TYPE", "Task\u{1b}[31m"),
            ("JIRA_TIME_MARGIN_SECONDS", "0"),
        ] {
            let err = with((name, value))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(name), "{name}={value:?}: {err}");
        }
        assert!(with(("JIRA_BASE_URL", "http://127.0.0.1:8080")).is_ok());
        assert!(with(("JIRA_COUNT_FIELD", "customfield_10050")).is_ok());
    }

    #[test]
    fn a_priorities_file_missing_a_severity_is_refused() {
        let err = Priorities::parse("version = 1\n[priorities]\ncritical = \"Highest\"\n");
        assert!(err.is_err());
        let err = Priorities::parse("version = 2\n[priorities]\n");
        assert!(err.is_err());
    }
}
