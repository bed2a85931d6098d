//! Per-rule dedup windows (`policy/dedup-windows.toml`) and the dedup settings of a function.

use chrono::TimeDelta;
use serde::Deserialize;

use crate::finding::{Finding, Source};
use crate::glob::glob_match;
use crate::settings::{ConfigError, Env};

/// The window overrides shipped with the code (compiled in, validated by the tests).
pub const DEFAULT_DEDUP_WINDOWS_TOML: &str = include_str!("../../../../policy/dedup-windows.toml");

/// `DEDUP_WINDOW_MINUTES` when unset.
pub const DEFAULT_WINDOW_MINUTES: u32 = 60;
/// The longest window: a week.
pub const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;
/// `DEDUP_CLAIM_SECONDS` when unset: at least the function timeout.
pub const DEFAULT_CLAIM_SECONDS: u32 = 60;
/// `DEDUP_RETENTION_DAYS` when unset.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("dedup windows file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("dedup windows file: unsupported version {0} (expected 1)")]
    Version(u32),
    #[error("dedup window #{index} {problem}")]
    Invalid { index: usize, problem: String },
}

/// One override: findings of the rule (glob) get this window; the first match wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowRule {
    #[serde(default)]
    pub source: Option<Source>,
    pub rule: String,
    pub minutes: u32,
    pub reason: String,
}

/// A count threshold: findings of the rule (glob) open a ticket (and page) only at the
/// `occurrences`-th occurrence inside their window; the first match wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRule {
    #[serde(default)]
    pub source: Option<Source>,
    pub rule: String,
    pub occurrences: u64,
    pub reason: String,
}

/// The largest count threshold.
pub const MAX_THRESHOLD: u64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowsFile {
    version: u32,
    #[serde(default, rename = "window")]
    windows: Vec<WindowRule>,
    #[serde(default, rename = "threshold")]
    thresholds: Vec<ThresholdRule>,
}

/// The dedup window of each rule: the overrides in order, else the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupWindows {
    default_minutes: u32,
    rules: Vec<WindowRule>,
    thresholds: Vec<ThresholdRule>,
}

impl Default for DedupWindows {
    fn default() -> Self {
        DedupWindows::new(DEFAULT_WINDOW_MINUTES)
    }
}

impl DedupWindows {
    /// Every rule gets `default_minutes` (clamped to 1 minute … a week).
    pub fn new(default_minutes: u32) -> Self {
        DedupWindows {
            default_minutes: default_minutes.clamp(1, MAX_WINDOW_MINUTES),
            rules: Vec::new(),
            thresholds: Vec::new(),
        }
    }

    pub fn from_toml(text: &str, default_minutes: u32) -> Result<Self, WindowError> {
        let file: WindowsFile = toml::from_str(text)?;
        if file.version != 1 {
            return Err(WindowError::Version(file.version));
        }
        for (i, w) in file.windows.iter().enumerate() {
            let invalid = |problem: &str| WindowError::Invalid {
                index: i + 1,
                problem: problem.to_owned(),
            };
            if w.rule.trim().is_empty() {
                return Err(invalid("has an empty rule pattern"));
            }
            if !(1..=MAX_WINDOW_MINUTES).contains(&w.minutes) {
                return Err(invalid(&format!(
                    "has minutes = {}: a window lasts 1 to {MAX_WINDOW_MINUTES} minutes (a week)",
                    w.minutes
                )));
            }
            if w.reason.trim().is_empty() {
                return Err(invalid("has no reason: say why this rule's window differs"));
            }
        }
        for (i, t) in file.thresholds.iter().enumerate() {
            let invalid = |problem: &str| WindowError::Invalid {
                index: i + 1,
                problem: format!("(a [[threshold]]) {problem}"),
            };
            if t.rule.trim().is_empty() {
                return Err(invalid("has an empty rule pattern"));
            }
            if !(2..=MAX_THRESHOLD).contains(&t.occurrences) {
                return Err(invalid(&format!(
                    "has occurrences = {}: a threshold is 2 to {MAX_THRESHOLD} occurrences (1 opens at once: remove the entry)",
                    t.occurrences
                )));
            }
            if t.reason.trim().is_empty() {
                return Err(invalid(
                    "has no reason: say why this rule waits for repeats",
                ));
            }
        }
        let mut windows = DedupWindows::new(default_minutes);
        windows.rules = file.windows;
        windows.thresholds = file.thresholds;
        Ok(windows)
    }

    /// The shipped overrides over `default_minutes`.
    pub fn shipped(default_minutes: u32) -> Result<Self, WindowError> {
        Self::from_toml(DEFAULT_DEDUP_WINDOWS_TOML, default_minutes)
    }

    /// Adds an override in code (e.g. from a detection pack that carries its own windows).
    pub fn with_rule(mut self, source: Option<Source>, rule: &str, minutes: u32) -> Self {
        self.rules.push(WindowRule {
            source,
            rule: rule.to_owned(),
            minutes: minutes.clamp(1, MAX_WINDOW_MINUTES),
            reason: "set in code".into(),
        });
        self
    }

    /// Adds a count threshold in code (tests).
    pub fn with_threshold(mut self, source: Option<Source>, rule: &str, occurrences: u64) -> Self {
        self.thresholds.push(ThresholdRule {
            source,
            rule: rule.to_owned(),
            occurrences: occurrences.clamp(1, MAX_THRESHOLD),
            reason: "set in code".into(),
        });
        self
    }

    pub fn thresholds(&self) -> &[ThresholdRule] {
        &self.thresholds
    }

    /// The occurrences inside its window this finding's rule waits for before it opens a
    /// ticket: 1 (at once) unless a `[[threshold]]` matches.
    pub fn open_after_for(&self, finding: &Finding) -> u64 {
        self.thresholds
            .iter()
            .find(|t| {
                t.source.is_none_or(|s| s == finding.source)
                    && glob_match(&t.rule, finding.rule_id.as_str())
            })
            .map_or(1, |t| t.occurrences)
    }

    pub fn default_window(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.default_minutes))
    }

    pub fn rules(&self) -> &[WindowRule] {
        &self.rules
    }

    /// The window of this finding's rule.
    pub fn window_for(&self, finding: &Finding) -> TimeDelta {
        self.rules
            .iter()
            .find(|w| {
                w.source.is_none_or(|s| s == finding.source)
                    && glob_match(&w.rule, finding.rule_id.as_str())
            })
            .map_or_else(
                || self.default_window(),
                |w| TimeDelta::minutes(i64::from(w.minutes)),
            )
    }
}

/// How long a pending delivery is claimed and how long state is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupOptions {
    /// How long the invocation that wrote a pending may still be sending it: at least the
    /// function timeout. Past it another invocation takes the pending over.
    pub claim: TimeDelta,
    /// How long state outlives its last write (the TTL).
    pub retention: TimeDelta,
}

impl Default for DedupOptions {
    fn default() -> Self {
        DedupOptions {
            claim: TimeDelta::seconds(i64::from(DEFAULT_CLAIM_SECONDS)),
            retention: TimeDelta::days(i64::from(DEFAULT_RETENTION_DAYS)),
        }
    }
}

/// A function's dedup settings: `DEDUP_TABLE_NAME` (required), `DEDUP_WINDOW_MINUTES`
/// (default 60, 1…10080), `DEDUP_CLAIM_SECONDS` (default 60, 1…900: at least the function
/// timeout), `DEDUP_RETENTION_DAYS` (default 30, 1…365), and the shipped per-rule windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupSettings {
    pub table_name: String,
    pub windows: DedupWindows,
    pub options: DedupOptions,
}

/// A dedup settings error: a bad variable, or a broken shipped windows file.
#[derive(Debug, thiserror::Error)]
pub enum DedupSettingsError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error(transparent)]
    Windows(#[from] WindowError),
}

impl DedupSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<Self, DedupSettingsError> {
        let table_name = env.required("DEDUP_TABLE_NAME")?;
        let window = env.bounded(
            "DEDUP_WINDOW_MINUTES",
            DEFAULT_WINDOW_MINUTES,
            1..=MAX_WINDOW_MINUTES,
        )?;
        let claim = env.bounded("DEDUP_CLAIM_SECONDS", DEFAULT_CLAIM_SECONDS, 1..=900)?;
        let retention = env.bounded("DEDUP_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, 1..=365)?;
        Ok(DedupSettings {
            table_name,
            windows: DedupWindows::shipped(window)?,
            options: DedupOptions {
                claim: TimeDelta::seconds(i64::from(claim)),
                retention: TimeDelta::days(i64::from(retention)),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::settings::env_from_pairs as env;

    #[test]
    fn dedup_settings_default_to_an_hour_a_minute_and_a_month() {
        let s = DedupSettings::from_env(&env(&[("DEDUP_TABLE_NAME", "triage-dedup")]))
            .expect("settings");
        assert_eq!(s.table_name, "triage-dedup");
        assert_eq!(s.windows.default_window(), TimeDelta::minutes(60));
        assert_eq!(s.options, DedupOptions::default());
    }

    #[test]
    fn a_missing_table_or_a_bad_window_names_the_variable() {
        let e = DedupSettings::from_env(&env(&[]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("environment variable DEDUP_TABLE_NAME is not set")
        );
        for (name, value) in [
            ("DEDUP_WINDOW_MINUTES", "0"),
            ("DEDUP_WINDOW_MINUTES", "20000"),
            ("DEDUP_WINDOW_MINUTES", "soon"),
            ("DEDUP_CLAIM_SECONDS", "901"),
            ("DEDUP_RETENTION_DAYS", "0"),
        ] {
            let e = DedupSettings::from_env(&env(&[("DEDUP_TABLE_NAME", "t"), (name, value)]))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(name) && e.contains(value), "{name}={value}: {e}");
        }
    }

    #[test]
    fn the_shipped_windows_file_is_valid_and_the_first_matching_override_wins() {
        assert!(DedupWindows::shipped(60).is_ok());
        let w = DedupWindows::from_toml(
            "version = 1\n[[window]]\nsource = \"config\"\nrule = \"restricted-*\"\nminutes = 1440\nreason = \"daily\"\n[[window]]\nrule = \"*\"\nminutes = 5\nreason = \"x\"",
            60,
        )
        .expect("valid");
        let mut f = crate::fakes::finding("restricted-ssh");
        assert_eq!(w.window_for(&f), TimeDelta::minutes(1440));
        f.source = Source::Alarm;
        assert_eq!(w.window_for(&f), TimeDelta::minutes(5));
        assert_eq!(
            DedupWindows::new(60)
                .with_rule(None, "restricted-ssh", 15)
                .window_for(&f),
            TimeDelta::minutes(15)
        );
    }

    #[test]
    fn a_count_threshold_holds_back_its_rules_only_and_the_first_match_wins() {
        let w = DedupWindows::from_toml(
            "version = 1\n[[threshold]]\nsource = \"cloudtrail\"\nrule = \"unauthorized-*\"\noccurrences = 5\nreason = \"one denial is noise\"\n[[threshold]]\nrule = \"*\"\noccurrences = 2\nreason = \"x\"",
            60,
        )
        .expect("valid");
        let mut f = crate::fakes::finding("unauthorized-api-calls");
        assert_eq!(
            w.open_after_for(&f),
            2,
            "a config finding: the second entry"
        );
        f.source = Source::Cloudtrail;
        assert_eq!(w.open_after_for(&f), 5);
        assert_eq!(
            DedupWindows::new(60).open_after_for(&f),
            1,
            "no entry: at once"
        );
        for (body, want) in [
            (
                "rule = \"x\"\noccurrences = 1\nreason = \"r\"",
                "occurrences = 1",
            ),
            (
                "rule = \"x\"\noccurrences = 1001\nreason = \"r\"",
                "occurrences = 1001",
            ),
            ("rule = \"\"\noccurrences = 3\nreason = \"r\"", "empty rule"),
            ("rule = \"x\"\noccurrences = 3\nreason = \"\"", "no reason"),
            (
                "rule = \"x\"\noccurrences = 3\nreason = \"r\"\nminutes = 5",
                "unknown field",
            ),
        ] {
            let e = DedupWindows::from_toml(&format!("version = 1\n[[threshold]]\n{body}"), 60)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn an_invalid_window_is_rejected() {
        for (body, want) in [
            ("rule = \"x\"\nminutes = 0\nreason = \"r\"", "minutes = 0"),
            ("rule = \"\"\nminutes = 5\nreason = \"r\"", "empty rule"),
            ("rule = \"x\"\nminutes = 5\nreason = \" \"", "no reason"),
            (
                "rule = \"x\"\nminutes = 5\nreason = \"r\"\nseverity = \"low\"",
                "unknown field",
            ),
        ] {
            let e = DedupWindows::from_toml(&format!("version = 1\n[[window]]\n{body}"), 60)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(want), "{body}: {e}");
        }
    }
}
