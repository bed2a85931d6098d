//! The declarative severity policy: each rule brings its own severity, and `policy/severity.toml`
//! overrides it by source, rule (or alarm) name, account or resource. Routing thresholds decide
//! which severities ticket, page and reach the digest.

use serde::Deserialize;

use crate::finding::{Finding, Source};
use crate::glob::glob_match;
use crate::severity::Severity;

/// The policy shipped with the code (compiled in, validated by the tests).
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../../policy/severity.toml");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("severity policy is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("severity policy: override #{index} {problem}")]
    Invalid { index: usize, problem: String },
    #[error("severity policy: unsupported version {0} (expected 1)")]
    Version(u32),
}

/// One override: every field that is set must match (glob); the first matching override wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    #[serde(default)]
    pub source: Option<Source>,
    /// Glob over the rule id: a Config managed-rule name, a detection id or an alarm name.
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    /// Glob over each resource's id and ARN.
    #[serde(default)]
    pub resource: Option<String>,
    /// Glob over the product of a GuardDuty or Security Hub finding ([`Finding::product`]).
    #[serde(default)]
    pub product: Option<String>,
    pub severity: Severity,
    pub reason: String,
}

impl Override {
    fn matches(&self, finding: &Finding) -> bool {
        self.source.is_none_or(|s| s == finding.source)
            && self
                .rule
                .as_deref()
                .is_none_or(|g| glob_match(g, finding.rule_id.as_str()))
            && self
                .account
                .as_deref()
                .is_none_or(|g| glob_match(g, finding.account.as_str()))
            && self.resource.as_deref().is_none_or(|g| {
                finding.resources.iter().any(|r| {
                    glob_match(g, r.id.as_str())
                        || r.arn.as_ref().is_some_and(|a| glob_match(g, a.as_str()))
                })
            })
            && self
                .product
                .as_deref()
                .is_none_or(|g| finding.product().is_some_and(|p| glob_match(g, p)))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default, rename = "override")]
    overrides: Vec<Override>,
}

/// Severity overrides, applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeverityPolicy {
    overrides: Vec<Override>,
}

impl SeverityPolicy {
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text)?;
        if file.version != 1 {
            return Err(PolicyError::Version(file.version));
        }
        for (i, o) in file.overrides.iter().enumerate() {
            let index = i + 1;
            if o.source.is_none()
                && o.rule.is_none()
                && o.account.is_none()
                && o.resource.is_none()
                && o.product.is_none()
            {
                return Err(PolicyError::Invalid {
                    index,
                    problem: "matches everything: set at least one of source, rule, account, resource, product".into(),
                });
            }
            if o.reason.trim().is_empty() {
                return Err(PolicyError::Invalid {
                    index,
                    problem: "has no reason: say why this severity differs".into(),
                });
            }
            for glob in [&o.rule, &o.account, &o.resource, &o.product]
                .into_iter()
                .flatten()
            {
                if glob.is_empty() {
                    return Err(PolicyError::Invalid {
                        index,
                        problem: "has an empty pattern".into(),
                    });
                }
            }
        }
        Ok(SeverityPolicy {
            overrides: file.overrides,
        })
    }

    /// The shipped policy file.
    pub fn shipped() -> Result<Self, PolicyError> {
        Self::from_toml(DEFAULT_POLICY_TOML)
    }

    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// The severity a finding gets after the overrides.
    pub fn severity_for(&self, finding: &Finding) -> Severity {
        self.overrides
            .iter()
            .find(|o| o.matches(finding))
            .map_or(finding.severity, |o| o.severity)
    }

    /// Applies the policy in place.
    pub fn apply(&self, finding: &mut Finding) {
        finding.severity = self.severity_for(finding);
    }
}

/// From which severity a finding tickets, pages and reaches the digest (template parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub alert: Severity,
    pub ticket: Severity,
    pub digest: Severity,
}

impl Default for Thresholds {
    /// critical pages; critical, high and medium ticket; low and up reach the digest; info is
    /// counted only.
    fn default() -> Self {
        Thresholds {
            alert: Severity::Critical,
            ticket: Severity::Medium,
            digest: Severity::Low,
        }
    }
}
