//! The function's typed settings, read once at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DIGEST_QUEUE_URL` | the digest queue | required |
//! | `DIGEST_TOPIC_ARN` | the SNS digest topic | required |
//! | `DIGEST_RECEIVERS` | concurrent receivers (and deleters), 1…20 | 4 |
//! | `DIGEST_TIME_MARGIN_SECONDS` | time kept before the deadline for publishing and deleting, 5…300 | 30 |
//! | `DIGEST_MAX_MESSAGES` | messages summarised per run at most (the rest waits for the next), 10…1000000 | 250000 |
//! | `DIGEST_MAX_BYTES` | message bytes held per run at most (the bodies wait in memory for the publish; the rest waits for the next run), 65536…1073741824 | 134217728 (128 MiB) |
//! | `DIGEST_TOP_N` | lines per section of the email, 1…200 | 20 |
//! | `CHAT_NOTIFICATIONS` | `enabled`: each message carries an Amazon Q Developer custom notification for HTTPS subscribers | `disabled` |
//! | `DIGEST_WHEN_EMPTY` | `skip` (no message when nothing happened) or `publish` ("all quiet") | `skip` |
//! | `DIGEST_RECEIVE_WAIT_SECONDS` | long-poll wait of a receive, 0…20 | 1 |

use std::str::FromStr;
use std::time::Duration;

use triage_core::accounts::AccountNames;
use triage_core::digest::RenderOptions;
use triage_core::metrics::MetricsSettings;
use triage_core::settings::{ConfigError, Env};

/// What to do when the queue held nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    Skip,
    Publish,
}

impl FromStr for WhenEmpty {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "skip" => Ok(WhenEmpty::Skip),
            "publish" => Ok(WhenEmpty::Publish),
            _ => Err("expected skip or publish".into()),
        }
    }
}

/// How a run drains, renders and publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub receivers: usize,
    /// Kept before the invocation's deadline for rendering, publishing and deleting.
    pub margin: Duration,
    pub max_messages: usize,
    /// Bytes of message bodies one run holds at most.
    pub max_bytes: usize,
    pub wait: Duration,
    pub when_empty: WhenEmpty,
    pub render: RenderOptions,
    /// The time budget when the invocation has no deadline (local runs).
    pub budget_without_deadline: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            receivers: 4,
            margin: Duration::from_secs(30),
            max_messages: 250_000,
            max_bytes: 128 * 1024 * 1024,
            wait: Duration::from_secs(1),
            when_empty: WhenEmpty::Skip,
            render: RenderOptions::default(),
            budget_without_deadline: Duration::from_secs(120),
        }
    }
}

pub struct Settings {
    pub queue_url: String,
    pub topic_arn: String,
    pub options: Options,
    /// `policy/accounts.toml`: the names the BY ACCOUNT section shows.
    pub accounts: AccountNames,
    pub metrics: MetricsSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let d = Options::default();
        let as_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let options = Options {
            receivers: as_usize(env.bounded("DIGEST_RECEIVERS", 4, 1..=20)?),
            margin: Duration::from_secs(env.bounded("DIGEST_TIME_MARGIN_SECONDS", 30, 5..=300)?),
            max_messages: as_usize(env.bounded("DIGEST_MAX_MESSAGES", 250_000, 10..=1_000_000)?),
            max_bytes: as_usize(env.bounded(
                "DIGEST_MAX_BYTES",
                128 * 1024 * 1024,
                65_536..=1024 * 1024 * 1024,
            )?),
            wait: Duration::from_secs(env.bounded("DIGEST_RECEIVE_WAIT_SECONDS", 1, 0..=20)?),
            when_empty: env.parsed_or("DIGEST_WHEN_EMPTY", WhenEmpty::Skip)?,
            render: RenderOptions {
                top_n: as_usize(env.bounded("DIGEST_TOP_N", 20, 1..=200)?),
                chat: env.enabled("CHAT_NOTIFICATIONS")?,
                ..d.render
            },
            budget_without_deadline: d.budget_without_deadline,
        };
        // Compiled in and validated by `cargo test`: an error here means an untested build.
        let accounts = AccountNames::shipped().map_err(|e| ConfigError::Invalid {
            name: "policy/accounts.toml",
            value: String::new(),
            reason: e.to_string(),
        })?;
        Ok(Settings {
            queue_url: env.required("DIGEST_QUEUE_URL")?,
            topic_arn: env.required("DIGEST_TOPIC_ARN")?,
            options,
            accounts,
            metrics: MetricsSettings::from_env(env)?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use triage_core::settings::env_from_pairs as env;

    pub(crate) const REQUIRED: [(&str, &str); 2] = [
        (
            "DIGEST_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/digest",
        ),
        ("DIGEST_TOPIC_ARN", "arn:aws:sns:us-east-1:1:digest"),
    ];

    #[test]
    fn settings_default_to_four_receivers_a_thirty_second_margin_and_no_empty_digest() {
        let s = Settings::from(&env(&REQUIRED)).expect("settings");
        assert_eq!(s.options, Options::default());
        assert_eq!(s.options.when_empty, WhenEmpty::Skip);
    }

    #[test]
    fn a_missing_queue_or_a_bad_value_names_the_variable() {
        let e = Settings::from(&env(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("DIGEST_QUEUE_URL"), "{e}");
        for (name, value) in [
            ("DIGEST_RECEIVERS", "0"),
            ("DIGEST_TIME_MARGIN_SECONDS", "1"),
            ("DIGEST_TOP_N", "many"),
            ("DIGEST_WHEN_EMPTY", "always"),
            ("DIGEST_RECEIVE_WAIT_SECONDS", "30"),
        ] {
            let mut pairs = REQUIRED.to_vec();
            pairs.push((name, value));
            let e = Settings::from(&env(&pairs))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(name) && e.contains(value), "{name}: {e}");
        }
    }

    #[test]
    fn an_all_quiet_digest_can_be_asked_for() {
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("DIGEST_WHEN_EMPTY", "Publish"));
        let s = Settings::from(&env(&pairs)).expect("settings");
        assert_eq!(s.options.when_empty, WhenEmpty::Publish);
    }
}
