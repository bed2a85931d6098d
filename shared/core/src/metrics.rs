//! Findings and the responder's work as CloudWatch metrics, in the Embedded Metric Format (EMF):
//! each function writes, at the end of an invocation, a few JSON log lines that CloudWatch Logs
//! turns into metrics — no API call, no permission beyond writing logs.
//!
//! * One line of the invocation's counters ([`CATALOG`]'s `Function` metrics: records,
//!   rejected input, ticket events by action, alerts, digest entries, suppressed, repeats,
//!   stale, delivery retries…), dimension `Function`.
//! * One line per (source, severity, rule) of the findings routed, metric [`FINDINGS`], under
//!   the dimension sets `Severity`, `Source`+`Severity` and `Source`+`Rule` (and
//!   `Account`+`Severity` when `METRICS_BY_ACCOUNT=enabled`: an organization has many accounts,
//!   and every value is a metric of its own).
//!
//! No fingerprint, principal or resource is ever a dimension, and no name someone else chose:
//! `Rule` is the detection id for CloudTrail, the managed rule for the Config rules of the
//! shipped catalog, the threat purpose of a GuardDuty finding type (`Recon`, `Backdoor`, …),
//! the product of a Security Hub finding (a fixed list), `alarm` for alarms, and `other` for
//! anything else ([`rule_dimension`]) — so the number of metrics stays bounded whatever the
//! accounts send, and anyone able to create an alarm or import a finding cannot mint metrics.
//! Dimension values are printable ASCII, as CloudWatch requires.
//!
//! The lines go to standard output in Lambda ([`Sink::Stdout`]); `triage replay` and the tests
//! collect them instead ([`Emitter::collecting`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::config::ConfigRuleCatalog;
use crate::finding::{Finding, Source};
use crate::settings::{ConfigError, Env};
use crate::severity::Severity;
use crate::text::SafeText;

/// The namespace when `METRICS_NAMESPACE` is unset (the template sets it from its
/// `MetricsNamespace` parameter).
pub const DEFAULT_NAMESPACE: &str = "Triage";

/// The findings metric: one per finding routed (after merging and the severity policy),
/// whatever became of it.
pub const FINDINGS: &str = "Findings";

/// The dimension sets of [`FINDINGS`], without the optional `Account` one.
pub const FINDING_DIMENSIONS: [&[&str]; 3] =
    [&["Severity"], &["Source", "Severity"], &["Source", "Rule"]];

/// The dimension set of [`FINDINGS`] that `METRICS_BY_ACCOUNT=enabled` adds.
pub const ACCOUNT_DIMENSIONS: &[&str] = &["Account", "Severity"];

/// One metric the functions emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    /// What it counts (the README's table).
    pub about: &'static str,
}

/// Every counter of the per-invocation line (dimension `Function`, unit `Count`), in the order
/// the README lists them. A function writes the ones that apply to it.
pub const CATALOG: &[MetricDef] = &[
    MetricDef {
        name: "Records",
        about: "input items the invocation read: log events (log-detector), alarm state changes, Config results, GuardDuty/Security Hub findings, digest queue messages, ticket-queue messages (jira-consumer)",
    },
    MetricDef {
        name: "Rejected",
        about: "input items skipped or refused: not JSON, not CloudTrail, no message, oversized, invalid events, unreadable digest messages",
    },
    MetricDef {
        name: "TicketsOpened",
        about: "`open` ticket events sent to the ticket queue",
    },
    MetricDef {
        name: "TicketsUpdated",
        about: "`update` ticket events sent (a problem recurring after its window)",
    },
    MetricDef {
        name: "TicketsResolved",
        about: "`resolve` ticket events sent",
    },
    MetricDef {
        name: "Alerts",
        about: "pages published to the alert topic",
    },
    MetricDef {
        name: "DigestEntries",
        about: "entries sent to the digest queue",
    },
    MetricDef {
        name: "Suppressed",
        about: "findings a suppression silenced (digest only)",
    },
    MetricDef {
        name: "Repeats",
        about: "occurrences merged into an open problem inside its window (digest only)",
    },
    MetricDef {
        name: "Stale",
        about: "out-of-date observations dropped (an old resolve, an old copy of a finding)",
    },
    MetricDef {
        name: "CountedOnly",
        about: "findings below every threshold: counted, sent nowhere",
    },
    MetricDef {
        name: "DeliveryRetries",
        about: "ticket events, digest entries and pages of an earlier, failed attempt sent again",
    },
    MetricDef {
        name: "DigestsPublished",
        about: "digest messages published (digest)",
    },
    MetricDef {
        name: "IssuesCreated",
        about: "Jira issues created or adopted (jira-consumer)",
    },
    MetricDef {
        name: "IssuesCommented",
        about: "comments added to Jira issues (jira-consumer)",
    },
    MetricDef {
        name: "IssuesClosed",
        about: "Jira issues transitioned to done (jira-consumer)",
    },
    MetricDef {
        name: "Failed",
        about: "messages left for a retry (jira-consumer: failed or held back behind a failed one)",
    },
];

/// What a [`Counts`] keys the findings by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingKey {
    pub source: Source,
    pub severity: Severity,
    pub rule: SafeText,
    pub account: SafeText,
}

/// One invocation's counts, turned into EMF lines by an [`Emitter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    totals: BTreeMap<&'static str, u64>,
    findings: BTreeMap<FindingKey, u64>,
}

impl Counts {
    /// Adds `n` to the counter `metric` (one of [`CATALOG`]'s names). A counter added with 0
    /// is still written, as 0: a function writes every counter that applies to it, so that a
    /// graph shows a quiet period as zero rather than as a gap.
    pub fn add(&mut self, metric: &'static str, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let total = self.totals.entry(metric).or_default();
        *total = total.saturating_add(n);
    }

    /// Counts one routed finding (after the severity policy).
    pub fn finding(&mut self, finding: &Finding) {
        let key = FindingKey {
            source: finding.source,
            severity: finding.severity,
            rule: SafeText::new(&rule_dimension(finding)),
            account: finding.account.clone(),
        };
        *self.findings.entry(key).or_default() += 1;
    }

    /// Adds another invocation's (or payload's) counts.
    pub fn merge(&mut self, other: &Counts) {
        for (name, n) in &other.totals {
            let total = self.totals.entry(name).or_default();
            *total = total.saturating_add(*n);
        }
        for (key, n) in &other.findings {
            *self.findings.entry(key.clone()).or_default() += n;
        }
    }

    /// The counter `metric`.
    pub fn total(&self, metric: &str) -> u64 {
        self.totals.get(metric).copied().unwrap_or(0)
    }

    /// The counters, by name.
    pub fn totals(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.totals.iter().map(|(k, v)| (*k, *v))
    }

    /// The findings by (source, severity, rule, account).
    pub fn findings(&self) -> impl Iterator<Item = (&FindingKey, u64)> {
        self.findings.iter().map(|(k, v)| (k, *v))
    }

    pub fn is_empty(&self) -> bool {
        self.totals.is_empty() && self.findings.is_empty()
    }
}

/// Where the EMF lines go.
#[derive(Debug, Clone, Default)]
pub enum Sink {
    /// Standard output, one line each: what Lambda sends to CloudWatch Logs.
    Stdout,
    /// Kept, for `triage replay` and the tests.
    Collect(Arc<Mutex<Vec<Value>>>),
    /// Nowhere: a function built outside a Lambda runtime (tests, tools) whose lines nobody
    /// collects.
    #[default]
    Discard,
}

/// How the metrics are written: `METRICS_NAMESPACE` (default [`DEFAULT_NAMESPACE`]) and
/// `METRICS_BY_ACCOUNT` (`enabled` / `disabled`, default disabled); to standard output when a
/// Lambda runtime serves the function (`AWS_LAMBDA_RUNTIME_API`, which Lambda, `sam local` and
/// cargo-lambda set), nowhere otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    pub namespace: String,
    pub by_account: bool,
    pub stdout: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            by_account: false,
            stdout: false,
        }
    }
}

impl MetricsSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let namespace = env
            .optional("METRICS_NAMESPACE")
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        // CloudWatch's rule for a namespace; `AWS/` is reserved for AWS's own.
        let valid = (1..=255).contains(&namespace.len())
            && namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/#:".contains(c))
            && !namespace.starts_with("AWS/")
            && !namespace.starts_with(':');
        if !valid {
            return Err(ConfigError::Invalid {
                name: "METRICS_NAMESPACE",
                value: SafeText::bounded(&namespace, 64).to_string(),
                reason: "expected 1 to 255 of A-Z a-z 0-9 . _ - / # :, not starting with AWS/ or :"
                    .into(),
            });
        }
        let by_account = env.enabled("METRICS_BY_ACCOUNT")?;
        Ok(MetricsSettings {
            namespace,
            by_account,
            stdout: env.optional("AWS_LAMBDA_RUNTIME_API").is_some(),
        })
    }
}

/// Writes one invocation's [`Counts`] as EMF lines.
#[derive(Debug, Clone)]
pub struct Emitter {
    function: &'static str,
    settings: MetricsSettings,
    sink: Sink,
}

impl Emitter {
    /// For the function named `function` (its binary's name: `log-detector`, …): to stdout
    /// under a Lambda runtime, else nowhere ([`MetricsSettings`]).
    pub fn new(function: &'static str, settings: MetricsSettings) -> Self {
        let sink = if settings.stdout {
            Sink::Stdout
        } else {
            Sink::Discard
        };
        Emitter {
            function,
            settings,
            sink,
        }
    }

    /// The same emitter keeping its lines in `lines` instead of printing them.
    #[must_use]
    pub fn collecting(mut self, lines: Arc<Mutex<Vec<Value>>>) -> Self {
        self.sink = Sink::Collect(lines);
        self
    }

    pub fn function(&self) -> &'static str {
        self.function
    }

    /// The EMF documents of `counts`, stamped `at`: the counters' line (if any counter), then
    /// one line per (source, severity, rule, account) of the findings.
    pub fn documents(&self, counts: &Counts, at: DateTime<Utc>) -> Vec<Value> {
        // A document of `metrics` (all of unit Count) under the dimension sets `dimensions`.
        let document = |dimensions: Value, metrics: Vec<&str>| {
            let metrics: Vec<Value> = metrics
                .iter()
                .map(|name| json!({"Name": name, "Unit": "Count"}))
                .collect();
            let mut doc = Map::new();
            doc.insert(
                "_aws".into(),
                json!({
                    "Timestamp": at.timestamp_millis(),
                    "CloudWatchMetrics": [{
                        "Namespace": self.settings.namespace,
                        "Dimensions": dimensions,
                        "Metrics": metrics,
                    }],
                }),
            );
            doc.insert("Function".into(), json!(self.function));
            doc
        };
        let mut out = Vec::new();
        if !counts.totals.is_empty() {
            let mut doc = document(
                json!([["Function"]]),
                counts.totals.keys().copied().collect(),
            );
            for (name, n) in &counts.totals {
                doc.insert((*name).into(), json!(n));
            }
            out.push(Value::Object(doc));
        }
        let mut dimensions: Vec<&[&str]> = FINDING_DIMENSIONS.to_vec();
        if self.settings.by_account {
            dimensions.push(ACCOUNT_DIMENSIONS);
        }
        for (key, n) in &counts.findings {
            let mut doc = document(json!(dimensions), vec![FINDINGS]);
            doc.insert("Source".into(), json!(key.source.as_str()));
            doc.insert("Severity".into(), json!(key.severity.as_str()));
            doc.insert("Rule".into(), json!(dimension_value(&key.rule)));
            if self.settings.by_account {
                doc.insert("Account".into(), json!(dimension_value(&key.account)));
            }
            doc.insert(FINDINGS.into(), json!(n));
            out.push(Value::Object(doc));
        }
        out
    }

    /// Writes `counts` (stamped `at`) to the sink.
    pub fn emit(&self, counts: &Counts, at: DateTime<Utc>) {
        let documents = self.documents(counts, at);
        match &self.sink {
            Sink::Stdout => {
                use std::io::Write as _;
                // One write per line under stdout's lock: lines of concurrent invocations never
                // interleave. A failed write loses metrics, not the invocation (its deliveries
                // are done).
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                for doc in documents {
                    let _ = writeln!(out, "{doc}");
                }
            }
            Sink::Collect(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.extend(documents);
                }
            }
            Sink::Discard => {}
        }
    }
}

/// GuardDuty's threat purposes: the first part of a finding type (`Recon:EC2/PortProbe…`).
const GUARDDUTY_PURPOSES: [&str; 18] = [
    "Backdoor",
    "Behavior",
    "CredentialAccess",
    "Cryptocurrency",
    "DefenseEvasion",
    "Discovery",
    "Execution",
    "Exfiltration",
    "Impact",
    "InitialAccess",
    "Object",
    "PenTest",
    "Persistence",
    "Policy",
    "PrivilegeEscalation",
    "Recon",
    "Stealth",
    "Trojan",
];

/// The AWS products whose findings reach Security Hub under their own name.
const SECURITY_HUB_PRODUCTS: [&str; 10] = [
    "Security Hub",
    "Inspector",
    "Macie",
    "IAM Access Analyzer",
    "Config",
    "Firewall Manager",
    "Health",
    "Systems Manager Patch Manager",
    "Detective",
    "GuardDuty",
];

/// The rule a finding is counted under: a value from a bounded set (module docs).
pub fn rule_dimension(finding: &Finding) -> String {
    static CONFIG: std::sync::LazyLock<Option<ConfigRuleCatalog>> =
        std::sync::LazyLock::new(|| ConfigRuleCatalog::shipped().ok());
    let rule = finding.rule_id.as_str();
    let known = match finding.source {
        // The detection pack's ids: compiled in.
        Source::Cloudtrail => Some(rule.to_owned()),
        Source::Config => CONFIG
            .as_ref()
            .and_then(|c| c.lookup(rule))
            .map(|r| r.name.clone()),
        Source::Alarm => Some("alarm".to_owned()),
        Source::Guardduty => rule
            .split(':')
            .next()
            .filter(|p| GUARDDUTY_PURPOSES.contains(p))
            .map(str::to_owned),
        Source::Securityhub => finding
            .product()
            .filter(|p| SECURITY_HUB_PRODUCTS.contains(p))
            .map(str::to_owned),
    };
    known.unwrap_or_else(|| "other".to_owned())
}

/// A dimension value: CloudWatch takes 1 to 1024 printable ASCII characters. Anything else
/// becomes `_`; an empty value (a finding without an account) is named.
fn dimension_value(text: &SafeText) -> String {
    let s = text.as_str();
    if s.is_empty() {
        return "none".to_owned();
    }
    s.chars()
        .take(255)
        .map(|c| if (' '..='~').contains(&c) { c } else { '_' })
        .collect()
}

/// The totals of collected EMF lines, per metric and dimension values: what `triage replay`
/// prints. Keys are `Metric{Function=…}` for the counters and
/// `Findings{Source=…,Severity=…,Rule=…}` for the findings.
pub fn totals_of(lines: &[Value]) -> BTreeMap<String, u64> {
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for line in lines {
        let Some(defs) = line
            .pointer("/_aws/CloudWatchMetrics")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for def in defs {
            let names = def
                .get("Metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("Name").and_then(Value::as_str));
            for name in names {
                let n = line.get(name).and_then(Value::as_u64).unwrap_or(0);
                let dimensions: &[&str] = if name == FINDINGS {
                    &["Source", "Severity", "Rule"]
                } else {
                    &["Function"]
                };
                let key = {
                    let dims: Vec<String> = dimensions
                        .iter()
                        .filter_map(|d| {
                            Some(format!("{d}={}", line.get(*d).and_then(Value::as_str)?))
                        })
                        .collect();
                    format!("{name}{{{}}}", dims.join(","))
                };
                *totals.entry(key).or_default() += n;
            }
        }
    }
    totals
}

/// The checks of the EMF specification a document must pass for CloudWatch to extract its
/// metrics: the `_aws` metadata, each directive's namespace, dimension sets and metrics, and a
/// top-level member for every dimension (a string) and every metric (a number).
pub fn check_document(doc: &Value) -> Result<(), String> {
    let aws = doc.get("_aws").ok_or("no _aws")?;
    aws.get("Timestamp")
        .and_then(Value::as_i64)
        .filter(|t| *t > 0)
        .ok_or("_aws.Timestamp is not a positive integer (ms)")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("no Namespace")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(format!("namespace {namespace:?}"));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("Dimensions is not an array")?;
        for set in sets {
            let names = set.as_array().ok_or("a dimension set is not an array")?;
            if names.is_empty() || names.len() > 30 {
                return Err(format!("a dimension set of {} names", names.len()));
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                let value = doc
                    .get(name)
                    .and_then(Value::as_str)
                    .ok_or(format!("dimension {name} has no string value"))?;
                if value.is_empty()
                    || value.len() > 1024
                    || !value.chars().all(|c| (' '..='~').contains(&c))
                {
                    return Err(format!(
                        "dimension {name}={value:?}: 1 to 1024 printable ASCII characters"
                    ));
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty() && m.len() <= 100)
            .ok_or("Metrics is not an array of 1 to 100")?;
        for metric in metrics {
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric without Name")?;
            if metric.get("Unit").and_then(Value::as_str) != Some("Count") {
                return Err(format!("{name}: unit is not Count"));
            }
            doc.get(name)
                .and_then(Value::as_f64)
                .ok_or(format!("metric {name} has no numeric value"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
