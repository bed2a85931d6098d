//! The alarm severity policy (`policy/alarm-severity.toml`): what an alarm's ALARM means, by a
//! token in its description, its name or its metrics. The file documents the precedence.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;

use crate::glob::glob_match;
use crate::severity::Severity;

/// The policy shipped with the code (compiled in, validated by the tests).
pub const ALARM_SEVERITY_TOML: &str = include_str!("../../../../policy/alarm-severity.toml");

/// The description token that links an alarm to a log-detector detection.
pub const DETECTION_TOKEN: &str = "triage:detection=";

#[derive(Debug, thiserror::Error)]
pub enum AlarmPolicyError {
    #[error("alarm severity policy is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("alarm severity policy: unsupported version {0} (expected 1)")]
    Version(u32),
    #[error("alarm severity policy: {entry}: {problem}")]
    Invalid { entry: String, problem: String },
}

/// A log-detector detection that CloudWatch alarms may also watch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// log-detector's rule id, e.g. `root-account-usage`.
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub remediation: String,
}

/// An entry matched by alarm name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameRule {
    /// Glob over the alarm name.
    pub name: String,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub detection: Option<String>,
    /// Whether a `severity=` token in the alarm's description may lower a high or critical
    /// severity this entry decides (by default it may not: anyone who can edit an alarm could
    /// otherwise silence it).
    #[serde(default)]
    pub token_may_lower: bool,
    pub reason: String,
}

/// An entry matched by one of the alarm's metrics.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRule {
    /// Glob over the metric namespace.
    pub namespace: String,
    /// Glob over the metric name.
    pub metric: String,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub detection: Option<String>,
    /// As [`NameRule::token_may_lower`].
    #[serde(default)]
    pub token_may_lower: bool,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default, rename = "detection")]
    detections: Vec<Detection>,
    #[serde(default, rename = "alarm")]
    alarms: Vec<NameRule>,
    #[serde(default, rename = "metric")]
    metrics: Vec<MetricRule>,
}

/// Why an alarm got its severity: shown on the finding (`details.severity_basis`) so a reader
/// can see which line of the policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeverityBasis {
    /// `severity=<level>` in the alarm description.
    DescriptionToken,
    /// A `severity=<level>` token that would have lowered a high or critical severity the
    /// policy decided was ignored; the policy's basis follows.
    TokenRefused(Severity, Box<SeverityBasis>),
    /// `triage:detection=<id>` in the description, with a known detection.
    DetectionToken(String),
    /// `[[alarm]]` entry number (1-based) matched the alarm name.
    AlarmName(usize),
    /// `[[metric]]` entry number (1-based) matched one of the metrics.
    Metric(usize),
    /// Nothing matched: the configured default.
    Default,
}

impl fmt::Display for SeverityBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeverityBasis::DescriptionToken => {
                f.write_str("severity token in the alarm description")
            }
            SeverityBasis::TokenRefused(token, basis) => write!(
                f,
                "{basis}; the description's severity={token} was ignored: a description may not lower a high or critical alarm unless the policy entry sets token_may_lower"
            ),
            SeverityBasis::DetectionToken(id) => {
                write!(f, "{DETECTION_TOKEN}{id} in the alarm description")
            }
            SeverityBasis::AlarmName(n) => {
                write!(f, "alarm-severity policy [[alarm]] #{n} (alarm name)")
            }
            SeverityBasis::Metric(n) => write!(
                f,
                "alarm-severity policy [[metric]] #{n} (namespace/metric)"
            ),
            SeverityBasis::Default => f.write_str("default alarm severity"),
        }
    }
}

/// What the policy decides for one alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'p> {
    pub severity: Severity,
    pub basis: SeverityBasis,
    /// The detection the alarm watches, when the policy or a token names a known one.
    pub detection: Option<&'p Detection>,
    /// The detection id of a `triage:detection=<id>` token (known to the policy or not): the
    /// alarm is the template's metric-filter twin of a log-detector detection.
    pub linked_detection: Option<String>,
}

/// The compiled alarm policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmPolicy {
    detections: Vec<Detection>,
    by_id: HashMap<String, usize>,
    alarms: Vec<NameRule>,
    metrics: Vec<MetricRule>,
}

impl AlarmPolicy {
    pub fn from_toml(text: &str) -> Result<Self, AlarmPolicyError> {
        let file: PolicyFile = toml::from_str(text)?;
        if file.version != 1 {
            return Err(AlarmPolicyError::Version(file.version));
        }
        let mut by_id = HashMap::new();
        for (i, d) in file.detections.iter().enumerate() {
            let invalid = |problem: &str| AlarmPolicyError::Invalid {
                entry: format!("[[detection]] {:?}", d.id),
                problem: problem.to_owned(),
            };
            if d.id.is_empty()
                || !d
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            {
                return Err(invalid(
                    "id must be non-empty lower-case letters, digits, '-' and '.'",
                ));
            }
            if d.title.trim().is_empty() || d.remediation.trim().is_empty() {
                return Err(invalid("title and remediation are required"));
            }
            if by_id.insert(d.id.clone(), i).is_some() {
                return Err(invalid("id is used twice"));
            }
        }
        let check = |entry: String,
                     globs: &[&str],
                     severity: Option<Severity>,
                     detection: &Option<String>,
                     reason: &str| {
            let invalid = |problem: &str| AlarmPolicyError::Invalid {
                entry: entry.clone(),
                problem: problem.to_owned(),
            };
            if globs.iter().any(|g| g.is_empty()) {
                return Err(invalid("has an empty pattern"));
            }
            if severity.is_none() && detection.is_none() {
                return Err(invalid("sets neither severity nor detection"));
            }
            if let Some(id) = detection
                && !by_id.contains_key(id)
            {
                return Err(invalid(&format!("names the unknown detection {id:?}")));
            }
            if reason.trim().is_empty() {
                return Err(invalid("has no reason: say why this severity"));
            }
            Ok(())
        };
        for (i, r) in file.alarms.iter().enumerate() {
            check(
                format!("[[alarm]] #{}", i + 1),
                &[&r.name],
                r.severity,
                &r.detection,
                &r.reason,
            )?;
        }
        for (i, r) in file.metrics.iter().enumerate() {
            check(
                format!("[[metric]] #{}", i + 1),
                &[&r.namespace, &r.metric],
                r.severity,
                &r.detection,
                &r.reason,
            )?;
        }
        Ok(AlarmPolicy {
            detections: file.detections,
            by_id,
            alarms: file.alarms,
            metrics: file.metrics,
        })
    }

    /// The shipped policy file.
    pub fn shipped() -> Result<Self, AlarmPolicyError> {
        Self::from_toml(ALARM_SEVERITY_TOML)
    }

    pub fn detections(&self) -> &[Detection] {
        &self.detections
    }

    pub fn detection(&self, id: &str) -> Option<&Detection> {
        self.by_id.get(id).and_then(|&i| self.detections.get(i))
    }

    pub fn name_rules(&self) -> &[NameRule] {
        &self.alarms
    }

    pub fn metric_rules(&self) -> &[MetricRule] {
        &self.metrics
    }

    /// Decides an alarm's severity. `metrics` are its `(namespace, metric name)` pairs.
    pub fn decide<'m>(
        &self,
        alarm_name: &str,
        description: Option<&str>,
        metrics: impl IntoIterator<Item = (&'m str, &'m str)> + Clone,
        default: Severity,
    ) -> Verdict<'_> {
        let tokens = description
            .map(DescriptionTokens::parse)
            .unwrap_or_default();
        let linked_detection = tokens.detection.clone();
        let token_detection = tokens
            .detection
            .as_deref()
            .and_then(|id| self.detection(id));

        let from_rule = |severity: Option<Severity>, detection: &Option<String>| {
            let d = detection.as_deref().and_then(|id| self.detection(id));
            (severity.or(d.map(|d| d.severity)).unwrap_or(default), d)
        };
        // What the policy decides without the severity token, and whether the token may lower it.
        let (policy_severity, policy_basis, policy_detection, may_lower) =
            if let Some(d) = token_detection {
                (
                    d.severity,
                    SeverityBasis::DetectionToken(d.id.clone()),
                    Some(d),
                    false,
                )
            } else if let Some((i, r)) = self.name_rule(alarm_name) {
                let (s, d) = from_rule(r.severity, &r.detection);
                (s, SeverityBasis::AlarmName(i + 1), d, r.token_may_lower)
            } else if let Some((i, r)) = self.metric_rule(metrics.clone()) {
                let (s, d) = from_rule(r.severity, &r.detection);
                (s, SeverityBasis::Metric(i + 1), d, r.token_may_lower)
            } else {
                (default, SeverityBasis::Default, None, false)
            };
        let (severity, basis, detection) = match tokens.severity {
            Some(token)
                if token < policy_severity && policy_severity >= Severity::High && !may_lower =>
            {
                (
                    policy_severity,
                    SeverityBasis::TokenRefused(token, Box::new(policy_basis)),
                    policy_detection,
                )
            }
            Some(token) => {
                let d = token_detection.or_else(|| self.rule_detection(alarm_name, metrics));
                (token, SeverityBasis::DescriptionToken, d)
            }
            None => (policy_severity, policy_basis, policy_detection),
        };
        Verdict {
            severity,
            basis,
            detection,
            linked_detection,
        }
    }

    fn name_rule(&self, alarm_name: &str) -> Option<(usize, &NameRule)> {
        self.alarms
            .iter()
            .enumerate()
            .find(|(_, r)| glob_match(&r.name, alarm_name))
    }

    fn metric_rule<'m>(
        &self,
        metrics: impl IntoIterator<Item = (&'m str, &'m str)> + Clone,
    ) -> Option<(usize, &MetricRule)> {
        self.metrics.iter().enumerate().find(|(_, r)| {
            metrics
                .clone()
                .into_iter()
                .any(|(ns, name)| glob_match(&r.namespace, ns) && glob_match(&r.metric, name))
        })
    }

    /// The detection a name or metric rule names, for an alarm whose severity a token decided.
    fn rule_detection<'m>(
        &self,
        alarm_name: &str,
        metrics: impl IntoIterator<Item = (&'m str, &'m str)> + Clone,
    ) -> Option<&Detection> {
        let by_name = self
            .name_rule(alarm_name)
            .and_then(|(_, r)| r.detection.as_deref());
        let by_metric = || {
            self.metric_rule(metrics)
                .and_then(|(_, r)| r.detection.as_deref())
        };
        by_name.or_else(by_metric).and_then(|id| self.detection(id))
    }
}

/// The `severity=<level>` and `triage:detection=<id>` tokens of an alarm description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescriptionTokens {
    pub severity: Option<Severity>,
    pub detection: Option<String>,
}

/// Descriptions are at most 1024 characters in CloudWatch; a forged one is read no further.
const DESCRIPTION_SCAN_BYTES: usize = 4096;

impl DescriptionTokens {
    /// Reads the first `severity=` / `triage:severity=` token with a valid level, and the first
    /// `triage:detection=` token. Tokens are separated by whitespace and `, ; ( ) [ ] { } " '`;
    /// names are matched ignoring case.
    pub fn parse(description: &str) -> Self {
        let mut cut = description.len().min(DESCRIPTION_SCAN_BYTES);
        while !description.is_char_boundary(cut) {
            cut -= 1;
        }
        let separators = |c: char| c.is_whitespace() || ",;()[]{}\"'".contains(c);
        let mut out = DescriptionTokens::default();
        for token in description[..cut]
            .split(separators)
            .filter(|t| !t.is_empty())
        {
            let lower = token.to_ascii_lowercase();
            let lower = lower.trim_end_matches(['.', '!', '?']);
            if out.severity.is_none() {
                let level = lower
                    .strip_prefix("triage:severity=")
                    .or_else(|| lower.strip_prefix("severity="));
                out.severity = level.and_then(|l| l.parse().ok());
            }
            if out.detection.is_none()
                && let Some(id) = lower.strip_prefix(DETECTION_TOKEN)
                && !id.is_empty()
                && id.len() <= 128
                && id.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'-'
                        || b == b'.'
                        || b == b'_'
                })
            {
                out.detection = Some(id.to_owned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> AlarmPolicy {
        match AlarmPolicy::shipped() {
            Ok(p) => p,
            Err(e) => panic!("shipped alarm policy is invalid: {e}"),
        }
    }

    #[test]
    fn the_shipped_policy_is_valid() {
        let p = shipped();
        assert!(!p.detections().is_empty());
        assert!(!p.name_rules().is_empty());
        assert!(!p.metric_rules().is_empty());
    }

    #[test]
    fn seed_detections_carry_their_severity() {
        let p = shipped();
        let sev = |id: &str| p.detection(id).map(|d| d.severity);
        assert_eq!(sev("root-account-usage"), Some(Severity::Critical));
        assert_eq!(sev("console-signin-without-mfa"), Some(Severity::Critical));
        assert_eq!(sev("unauthorized-api-calls"), Some(Severity::High));
    }

    #[test]
    fn cis_and_seed_alarm_names_map_to_their_detection() {
        let p = shipped();
        let cases = [
            (
                "CIS-1.7-RootAccountUsage",
                "root-account-usage",
                Severity::Critical,
            ),
            (
                "CIS-3.3-RootAccountUsage",
                "root-account-usage",
                Severity::Critical,
            ),
            (
                "RootAccountUsageAlarm",
                "root-account-usage",
                Severity::Critical,
            ),
            (
                "CIS-3.2-ConsoleSigninWithoutMFA",
                "console-signin-without-mfa",
                Severity::Critical,
            ),
            (
                "CIS-4.1-UnauthorizedAPICalls",
                "unauthorized-api-calls",
                Severity::High,
            ),
            (
                "UnauthorizedAPICalls",
                "unauthorized-api-calls",
                Severity::High,
            ),
        ];
        for (name, id, severity) in cases {
            let v = p.decide(name, None, [], Severity::Medium);
            assert_eq!(v.severity, severity, "{name}");
            assert_eq!(v.detection.map(|d| d.id.as_str()), Some(id), "{name}");
            assert!(matches!(v.basis, SeverityBasis::AlarmName(_)), "{name}");
            assert_eq!(
                v.linked_detection, None,
                "{name}: only the description token links"
            );
        }
    }

    #[test]
    fn cis_metrics_decide_when_the_name_says_nothing() {
        let p = shipped();
        let cases = [
            (
                ("CISBenchmark", "RootAccountUsageCount"),
                Severity::Critical,
            ),
            (
                ("CISBenchmark", "ConsoleSigninWithoutMFACount"),
                Severity::Critical,
            ),
            (
                ("CloudTrailMetrics", "UnauthorizedAttemptCount"),
                Severity::High,
            ),
            (("AWS/EC2", "CPUUtilization"), Severity::Low),
        ];
        for (metric, severity) in cases {
            let v = p.decide("my-alarm", None, [metric], Severity::Low);
            assert_eq!(v.severity, severity, "{metric:?}");
        }
    }

    #[test]
    fn a_description_token_cannot_downgrade_an_alarm_the_policy_rates_critical() {
        // Anyone with cloudwatch:PutMetricAlarm could otherwise silence the root-usage page.
        let p = shipped();
        let v = p.decide(
            "CIS-1.7-RootAccountUsage",
            Some("Root usage; severity=LOW (sandbox)"),
            [("CISBenchmark", "RootAccountUsageCount")],
            Severity::Medium,
        );
        assert_eq!(v.severity, Severity::Critical);
        assert!(
            matches!(v.basis, SeverityBasis::TokenRefused(Severity::Low, _)),
            "{:?}",
            v.basis
        );
        assert!(
            v.basis.to_string().contains("severity=low was ignored"),
            "{}",
            v.basis
        );
        assert_eq!(
            v.detection.map(|d| d.id.as_str()),
            Some("root-account-usage")
        );
        // Nor through the detection token of the template's own seed alarms.
        let v = p.decide(
            "anything",
            Some("triage:detection=root-account-usage severity=info"),
            [],
            Severity::Medium,
        );
        assert_eq!(v.severity, Severity::Critical);
    }

    #[test]
    fn a_description_token_raises_any_alarm_and_lowers_one_rated_below_high() {
        let p = shipped();
        let raised = p.decide("x", Some("severity=critical"), [], Severity::Medium);
        assert_eq!(
            (raised.severity, raised.basis),
            (Severity::Critical, SeverityBasis::DescriptionToken)
        );
        let lowered = p.decide("x", Some("severity=low"), [], Severity::Medium);
        assert_eq!(
            (lowered.severity, lowered.basis),
            (Severity::Low, SeverityBasis::DescriptionToken)
        );
    }

    #[test]
    fn a_policy_entry_may_let_the_token_lower_its_alarms() {
        let p = AlarmPolicy::from_toml(
            r#"
version = 1
[[alarm]]
name = "sandbox-*"
severity = "high"
token_may_lower = true
reason = "sandbox accounts: owners tune their own alarms"
"#,
        )
        .expect("policy");
        let v = p.decide("sandbox-cpu", Some("severity=low"), [], Severity::Medium);
        assert_eq!(
            (v.severity, v.basis),
            (Severity::Low, SeverityBasis::DescriptionToken)
        );
    }

    #[test]
    fn an_unknown_level_in_the_token_is_ignored() {
        let p = shipped();
        let v = p.decide("x", Some("severity=urgent"), [], Severity::Medium);
        assert_eq!(
            (v.severity, v.basis),
            (Severity::Medium, SeverityBasis::Default)
        );
    }

    #[test]
    fn a_detection_token_links_and_takes_the_detections_severity() {
        let p = shipped();
        let v = p.decide(
            "triage-prod-console-signin-without-mfa",
            Some("Console sign-in without MFA. triage:detection=console-signin-without-mfa"),
            [("triage", "ConsoleSigninWithoutMfa")],
            Severity::Low,
        );
        assert_eq!(v.severity, Severity::Critical);
        assert_eq!(
            v.basis,
            SeverityBasis::DetectionToken("console-signin-without-mfa".into())
        );
        assert_eq!(
            v.linked_detection.as_deref(),
            Some("console-signin-without-mfa")
        );
    }

    #[test]
    fn tokens_are_found_between_punctuation_and_ignore_case() {
        let t = DescriptionTokens::parse(
            "Root usage (Triage:Detection=root-account-usage), triage:severity=High.",
        );
        assert_eq!(t.detection.as_deref(), Some("root-account-usage"));
        assert_eq!(t.severity, Some(Severity::High));
        assert_eq!(
            DescriptionTokens::parse("no tokens here"),
            DescriptionTokens::default()
        );
        assert_eq!(
            DescriptionTokens::parse("triage:detection=<script>").detection,
            None
        );
    }

    #[test]
    fn a_huge_description_is_scanned_only_at_its_start() {
        let huge = format!("{} severity=critical", "x ".repeat(1 << 19));
        assert_eq!(DescriptionTokens::parse(&huge).severity, None);
        let multibyte = "é".repeat(5000);
        assert_eq!(
            DescriptionTokens::parse(&multibyte),
            DescriptionTokens::default()
        );
    }

    #[test]
    fn invalid_policies_are_refused_with_the_entry_named() {
        let cases = [
            ("version = 2", "unsupported version"),
            (
                "version = 1\n[[alarm]]\nname = \"x\"\nreason = \"r\"",
                "neither severity nor detection",
            ),
            (
                "version = 1\n[[alarm]]\nname = \"\"\nseverity = \"low\"\nreason = \"r\"",
                "empty pattern",
            ),
            (
                "version = 1\n[[alarm]]\nname = \"x\"\nseverity = \"low\"\nreason = \" \"",
                "no reason",
            ),
            (
                "version = 1\n[[alarm]]\nname = \"x\"\ndetection = \"nope\"\nreason = \"r\"",
                "unknown detection",
            ),
            (
                "version = 1\n[[metric]]\nnamespace = \"A\"\nmetric = \"\"\nseverity = \"low\"\nreason = \"r\"",
                "empty pattern",
            ),
            (
                "version = 1\n[[alarm]]\nname = \"x\"\nseverity = \"urgent\"\nreason = \"r\"",
                "unknown variant",
            ),
            (
                "version = 1\n[[alarm]]\nname = \"x\"\nseverity = \"low\"\nreason = \"r\"\nextra = 1",
                "unknown field",
            ),
            (
                "version = 1\n[[detection]]\nid = \"a\"\nseverity = \"low\"\ntitle = \"t\"\nremediation = \"r\"\n[[detection]]\nid = \"a\"\nseverity = \"low\"\ntitle = \"t\"\nremediation = \"r\"",
                "used twice",
            ),
            (
                "version = 1\n[[detection]]\nid = \"Root\"\nseverity = \"low\"\ntitle = \"t\"\nremediation = \"r\"",
                "lower-case",
            ),
        ];
        for (text, want) in cases {
            match AlarmPolicy::from_toml(text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => assert!(e.to_string().contains(want), "{text}: {e}"),
            }
        }
    }
}
