//! The finding: one problem that triage reports, with its evidence.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::severity::Severity;
use crate::text::SafeText;

/// Where a finding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A CloudTrail record matched by a detection rule (log-detector).
    Cloudtrail,
    /// A CloudWatch alarm state change (alarm-classifier).
    Alarm,
    /// An AWS Config rule compliance change (config-classifier).
    Config,
    /// An Amazon GuardDuty finding, whether it came straight from GuardDuty or through Security
    /// Hub (finding-classifier): one source, so that both paths give one fingerprint.
    Guardduty,
    /// Any other finding imported into AWS Security Hub: Inspector, Macie, IAM Access Analyzer,
    /// Security Hub's own controls, partner products (finding-classifier).
    Securityhub,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cloudtrail => "cloudtrail",
            Source::Alarm => "alarm",
            Source::Config => "config",
            Source::Guardduty => "guardduty",
            Source::Securityhub => "securityhub",
        }
    }
}

impl Source {
    /// Whether one fingerprint of this source names one record that its provider versions (a
    /// GuardDuty or Security Hub finding, re-published on every update with its `UpdatedAt`), so
    /// that an occurrence no newer than the one last seen is an old copy of the record, not a
    /// new occurrence of the problem. CloudTrail records, alarm and Config changes are each a new
    /// occurrence, whenever they arrive.
    pub fn versions_its_records(self) -> bool {
        matches!(self, Source::Guardduty | Source::Securityhub)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the problem is present or has gone away (Config COMPLIANT, alarm OK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Resolved,
}

/// A stable identity for one problem: the same problem always yields the same fingerprint, so
/// one ticket is opened, updated and resolved for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Hashes the source, the rule, the account, the region and the rule's key fields (principal,
    /// resource…). Parts are separated by a byte that cannot occur in them, so `("a", "bc")` and
    /// `("ab", "c")` differ. 128 bits of SHA-256, hex: safe as an SQS `MessageGroupId`.
    pub fn new(source: Source, rule_id: &str, account: &str, region: &str, keys: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in [source.as_str(), rule_id, account, region]
            .iter()
            .chain(keys)
        {
            hasher.update(part.as_bytes());
            hasher.update([0x1f]);
        }
        let digest = hasher.finalize();
        Fingerprint(hex::encode(&digest[..16]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it has the form [`Fingerprint::new`] gives (32 lowercase hex digits): what a
    /// reader of a queue message checks before the fingerprint goes into a search or a label.
    pub fn is_well_formed(&self) -> bool {
        self.0.len() == 32
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS resource a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// CloudFormation-style type, e.g. `AWS::S3::Bucket`.
    #[serde(rename = "type")]
    pub kind: SafeText,
    pub id: SafeText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<SafeText>,
}

/// The triggering event's key fields, all optional and all sanitised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_arn: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_used: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<SafeText>,
    /// Source-specific key fields (a Config annotation, an alarm's threshold, a bounded summary
    /// of request parameters…), ordered by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, SafeText>,
}

/// One problem, as every function reports it and as a ticket carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub fingerprint: Fingerprint,
    pub status: Status,
    pub severity: Severity,
    pub source: Source,
    /// The rule that produced it: a Config managed-rule name, a detection id, an alarm name.
    pub rule_id: SafeText,
    pub title: SafeText,
    pub description: SafeText,
    pub account: SafeText,
    pub region: SafeText,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<SafeText>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many occurrences this finding stands for (merged within an invocation, or counted by
    /// the dedup window).
    pub count: u64,
    pub evidence: Evidence,
    /// A console deep link to the resource, event or alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    pub remediation: SafeText,
}

/// The evidence detail naming the product that produced a GuardDuty or Security Hub finding
/// (`GuardDuty`, `Inspector`, `Macie`, `IAM Access Analyzer`, `Security Hub`, a partner's).
pub const PRODUCT_DETAIL: &str = "product";

impl Finding {
    /// The product that produced the finding, for findings that name one (GuardDuty and Security
    /// Hub findings): what severity overrides and suppressions match `product` against.
    pub fn product(&self) -> Option<&str> {
        self.evidence
            .details
            .get(PRODUCT_DETAIL)
            .map(SafeText::as_str)
    }

    /// The resource a digest line or an alert names first.
    pub fn primary_resource(&self) -> Option<&Resource> {
        self.resources.first()
    }

    /// Folds a later occurrence of the same problem into this one: counts add up, first/last
    /// seen widen, and the newer occurrence's evidence and status win.
    pub fn merge(&mut self, later: Finding) {
        debug_assert_eq!(self.fingerprint, later.fingerprint);
        self.count = self.count.saturating_add(later.count);
        let newer = later.last_seen >= self.last_seen;
        self.first_seen = self.first_seen.min(later.first_seen);
        self.last_seen = self.last_seen.max(later.last_seen);
        if newer {
            self.evidence = later.evidence;
            self.status = later.status;
            self.severity = later.severity;
        }
    }
}

/// Merges findings that share a fingerprint, keeping the order of first appearance.
pub fn merge_by_fingerprint(findings: Vec<Finding>) -> Vec<Finding> {
    let mut merged: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut index = std::collections::HashMap::new();
    for finding in findings {
        match index.get(&finding.fingerprint) {
            Some(&i) => {
                let slot: &mut Finding = &mut merged[i];
                slot.merge(finding);
            }
            None => {
                index.insert(finding.fingerprint.clone(), merged.len());
                merged.push(finding);
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_separates_its_parts() {
        let a = Fingerprint::new(
            Source::Config,
            "restricted-ssh",
            "1",
            "us-east-1",
            &["sg-1"],
        );
        let b = Fingerprint::new(
            Source::Config,
            "restricted-ssh",
            "1",
            "us-east-1",
            &["sg-1"],
        );
        let c = Fingerprint::new(
            Source::Config,
            "restricted-ssh",
            "1",
            "us-east-1",
            &["sg-2"],
        );
        let d = Fingerprint::new(
            Source::Config,
            "restricted-ss",
            "h1",
            "us-east-1",
            &["sg-1"],
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(a.is_well_formed());
        for bad in [
            "",
            "ABCDEF0123456789abcdef0123456789",
            "0123",
            "\" OR labels is not EMPTY OR \"x",
        ] {
            let f: Result<Fingerprint, _> = serde_json::from_value(serde_json::json!(bad));
            assert!(f.is_ok_and(|f| !f.is_well_formed()), "{bad}");
        }
    }
}
