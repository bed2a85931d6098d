//! Findings of AWS's security services → findings: GuardDuty's own EventBridge events, and Security
//! Hub's in both of its shapes (ASFF "Security Hub Findings - Imported", OCSF "Findings Imported
//! V2"), which carry Inspector, Macie, IAM Access Analyzer, Security Hub's controls and partner
//! products too.
//!
//! # One ticket per provider finding
//!
//! The fingerprint is the finding's id (with the source, account and region, and for source
//! `securityhub` the product, from its product ARN: a finding a custom integration imports can
//! never take over the ticket of Inspector's finding by copying its id). A GuardDuty finding's
//! ARN is also its Security Hub `Id`, so the paths of one GuardDuty finding give one
//! fingerprint, under source `guardduty` on all; Security Hub's copy is recognised by its
//! product ARN (`…::product/aws/guardduty`), never by a product name an importer writes. Providers re-publish a finding on every update;
//! its `UpdatedAt` is the finding's `last_seen`, and the dedup state counts only a version newer
//! than the one it saw last ([`crate::Source::versions_its_records`]): the same version through
//! the other path, a re-delivery or an older version arriving late is dropped as stale. An
//! `UpdatedAt` later than the function's clock is taken as now (the provider's own value stays
//! in `details.provider_updated_at`): a forged far-future version cannot outrank every real one.
//!
//! # Lifecycle
//!
//! Active unless: GuardDuty `service.archived`; ASFF `Workflow.Status` RESOLVED or SUPPRESSED,
//! `RecordState` ARCHIVED, or `Compliance.Status` PASSED; OCSF `status_id` Suppressed, Resolved,
//! Archived or Deleted, or `compliance.status_id` Pass. Those resolve, checked before a control
//! that could not be evaluated (ASFF `NOT_AVAILABLE`, OCSF compliance Unknown), which otherwise
//! gives nothing. A GuardDuty finding resolves only when it is archived (GuardDuty's
//! `service.archived`, Security Hub's `RecordState` ARCHIVED, OCSF Archived or Deleted): a
//! Security Hub workflow status is Security Hub's note on it, which GuardDuty's own events never
//! carry, and obeying it on one path would open and close the ticket as the paths alternate.
//!
//! A provider may lower a finding's severity as it closes it (Security Hub calls a passed
//! control INFORMATIONAL; a finding may be re-scored before it is archived), which would leave
//! the resolve below the ticket threshold and the ticket open. Every resolve is therefore
//! raised to at least the ticket threshold ([`HubClassifier::with_resolve_floor`]): it reaches
//! the ticket; for a finding that never opened one it is a no-op for the ticket system, as a
//! first COMPLIANT is for Config.
//!
//! # Controls that AWS Config already reports
//!
//! Most Security Hub controls are evaluated by a service-linked AWS Config rule
//! (`securityhub-<rule>-<suffix>`). config-classifier already receives that rule's compliance
//! changes and tickets them keyed by the resource (one ticket per rule and resource, the rule
//! normalised to its managed name), with the evaluation's annotation. The Security Hub finding of
//! the same control is therefore skipped by default ([`HubSkip::ConfigBackedControl`], counted):
//! a second path that would need the Config resource id (a bucket name) and Security Hub's
//! resource id (an ARN) to agree to share a fingerprint. Set `SECURITY_HUB_CONFIG_CONTROLS=ticket`
//! when Config's events do not reach triage; controls without a Config rule (periodic checks
//! such as CloudWatch.1) always ticket here.

mod asff;
mod guardduty;
mod ocsf;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tracing::debug;

use crate::finding::{Evidence, Finding, Fingerprint, PRODUCT_DETAIL, Resource, Source, Status};
use crate::json::str_at;
use crate::severity::Severity;
use crate::text::SafeText;

pub const GUARDDUTY_SOURCE: &str = "aws.guardduty";
pub const GUARDDUTY_DETAIL_TYPE: &str = "GuardDuty Finding";
pub const SECURITYHUB_SOURCE: &str = "aws.securityhub";
pub const ASFF_DETAIL_TYPE: &str = "Security Hub Findings - Imported";
pub const OCSF_DETAIL_TYPE: &str = "Findings Imported V2";

/// Security Hub puts at most 100 findings in one event. A longer list is forged (or a direct
/// invocation): the rest are counted invalid rather than read.
pub const MAX_FINDINGS_PER_EVENT: usize = 100;

const TITLE_MAX_CHARS: usize = 256;
const DESCRIPTION_MAX_CHARS: usize = 2048;
const REMEDIATION_MAX_CHARS: usize = 1024;
const ID_MAX_CHARS: usize = 512;
const DETAIL_MAX_CHARS: usize = 256;
/// At most this many resources of one finding reach the ticket.
const MAX_RESOURCES: usize = 10;

/// What `SECURITY_HUB_CONFIG_CONTROLS` asks of a Security Hub control evaluated by an AWS Config
/// rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigControls {
    /// config-classifier tickets it from the Config rule's own events (the default).
    #[default]
    Skip,
    /// Ticket it here too, under its own fingerprint.
    Ticket,
}

impl FromStr for ConfigControls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "skip" => Ok(ConfigControls::Skip),
            "ticket" => Ok(ConfigControls::Ticket),
            other => Err(format!("expected skip or ticket, not {other:?}")),
        }
    }
}

/// Why a finding (or a whole event) gave nothing. Not an error: counted, logged at debug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubSkip {
    /// Neither a GuardDuty finding nor a Security Hub findings event.
    NotAFindingEvent { detail_type: SafeText },
    /// A control evaluated by an AWS Config rule that config-classifier reports.
    ConfigBackedControl { config_rule: SafeText },
    /// A control that could not be evaluated (ASFF NOT_AVAILABLE, OCSF compliance unknown).
    NotEvaluated,
}

/// A finding of an event that cannot be read. The other findings of the event still count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindingError {
    #[error("finding #{index} is not a JSON object")]
    NotAnObject { index: usize },
    #[error("finding #{index} is missing {field}")]
    MissingField { index: usize, field: &'static str },
    #[error("finding #{index}: {field} is not an ISO 8601 timestamp: \"{value}\"")]
    BadTimestamp {
        index: usize,
        field: &'static str,
        value: SafeText,
    },
    #[error(
        "finding #{index} is past the {MAX_FINDINGS_PER_EVENT} findings Security Hub puts in one event"
    )]
    TooMany { index: usize },
}

/// An event that cannot be read at all: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubEventError {
    #[error("event is not a JSON object")]
    NotAnObject,
    #[error("{0} event is missing detail")]
    MissingDetail(&'static str),
    #[error("{0} event's detail.findings is not a list")]
    FindingsNotAList(&'static str),
}

/// What one event gives: findings to route, skips and unreadable findings to count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubOutcome {
    pub findings: Vec<Finding>,
    pub skipped: Vec<HubSkip>,
    pub invalid: Vec<FindingError>,
}

/// Classifies GuardDuty and Security Hub findings.
#[derive(Debug, Clone, Copy)]
pub struct HubClassifier {
    config_controls: ConfigControls,
    unknown_severity: Severity,
    resolve_floor: Severity,
}

impl HubClassifier {
    /// Resolves the provider calls informational are raised to medium (the default ticket
    /// threshold) until [`Self::with_resolve_floor`] says otherwise.
    pub fn new(config_controls: ConfigControls, unknown_severity: Severity) -> Self {
        HubClassifier {
            config_controls,
            unknown_severity,
            resolve_floor: Severity::Medium,
        }
    }

    /// The severity an informational resolve is raised to: the ticket threshold, so that the
    /// resolve of a passed control reaches the ticket its failure opened.
    pub fn with_resolve_floor(self, floor: Severity) -> Self {
        HubClassifier {
            resolve_floor: floor,
            ..self
        }
    }

    /// True for the three event types this classifier reads.
    pub fn accepts(event: &Value) -> bool {
        matches!(
            (str_at(event, &["source"]), str_at(event, &["detail-type"])),
            (Some(GUARDDUTY_SOURCE), Some(GUARDDUTY_DETAIL_TYPE))
                | (
                    Some(SECURITYHUB_SOURCE),
                    Some(ASFF_DETAIL_TYPE | OCSF_DETAIL_TYPE)
                )
        )
    }

    /// Every finding of `event`: a GuardDuty event holds one, a Security Hub event up to 100.
    /// An unreadable finding is counted in [`HubOutcome::invalid`] and the others still count.
    /// `now` is the function's clock: no finding's version is later.
    pub fn classify(&self, event: &Value, now: DateTime<Utc>) -> Result<HubOutcome, HubEventError> {
        let envelope = event.as_object().ok_or(HubEventError::NotAnObject)?;
        let detail_type = str_at(event, &["detail-type"]).unwrap_or_default();
        if !Self::accepts(event) {
            return Ok(HubOutcome {
                skipped: vec![HubSkip::NotAFindingEvent {
                    detail_type: SafeText::bounded(detail_type, 128),
                }],
                ..HubOutcome::default()
            });
        }
        let context = Context::of(envelope);
        let mut outcome = HubOutcome::default();
        if detail_type == GUARDDUTY_DETAIL_TYPE {
            let detail = envelope
                .get("detail")
                .filter(|d| d.is_object())
                .ok_or(HubEventError::MissingDetail(GUARDDUTY_DETAIL_TYPE))?;
            self.add(&mut outcome, guardduty::read(detail, &context, 0), now);
            return Ok(outcome);
        }
        let shape = if detail_type == ASFF_DETAIL_TYPE {
            ASFF_DETAIL_TYPE
        } else {
            OCSF_DETAIL_TYPE
        };
        let findings = envelope
            .get("detail")
            .filter(|d| d.is_object())
            .ok_or(HubEventError::MissingDetail(shape))?
            .get("findings")
            .and_then(Value::as_array)
            .ok_or(HubEventError::FindingsNotAList(shape))?;
        for (index, finding) in findings.iter().enumerate() {
            if index >= MAX_FINDINGS_PER_EVENT {
                outcome.invalid.push(FindingError::TooMany { index });
                continue;
            }
            let read = if shape == ASFF_DETAIL_TYPE {
                asff::read(finding, &context, index)
            } else {
                ocsf::read(finding, &context, index)
            };
            self.add(&mut outcome, read, now);
        }
        Ok(outcome)
    }

    /// [`Self::classify`]'s findings, logging the skips and unreadable findings: what the
    /// function and the replay CLI both route.
    pub fn findings(&self, event: &Value, now: DateTime<Utc>) -> Result<HubOutcome, HubEventError> {
        let outcome = self.classify(event, now)?;
        for skip in &outcome.skipped {
            debug!(?skip, "security finding gives no finding");
        }
        Ok(outcome)
    }

    fn add(&self, outcome: &mut HubOutcome, read: Result<Read, FindingError>, now: DateTime<Utc>) {
        match read {
            Ok(Read::Record(record)) => match (&record.config_rule, self.config_controls) {
                (Some(rule), ConfigControls::Skip) => {
                    outcome.skipped.push(HubSkip::ConfigBackedControl {
                        config_rule: SafeText::bounded(rule, DETAIL_MAX_CHARS),
                    });
                }
                _ => outcome.findings.push(record.into_finding(
                    self.unknown_severity,
                    self.resolve_floor,
                    now,
                )),
            },
            Ok(Read::Skip(skip)) => outcome.skipped.push(skip),
            Err(e) => outcome.invalid.push(e),
        }
    }
}

/// The envelope's fields a finding falls back on.
struct Context<'a> {
    account: Option<&'a str>,
    region: Option<&'a str>,
}

impl<'a> Context<'a> {
    fn of(envelope: &'a Map<String, Value>) -> Self {
        Context {
            account: envelope.get("account").and_then(Value::as_str),
            region: envelope.get("region").and_then(Value::as_str),
        }
    }
}

/// What a shape reader makes of one finding.
enum Read<'a> {
    Record(Box<Record<'a>>),
    Skip(HubSkip),
}

/// Which of the three shapes a finding came in (`details.shape`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    GuardDuty,
    Asff,
    Ocsf,
}

impl Shape {
    fn as_str(self) -> &'static str {
        match self {
            Shape::GuardDuty => "guardduty",
            Shape::Asff => "asff",
            Shape::Ocsf => "ocsf",
        }
    }
}

/// One finding as the three shapes agree on it, borrowed from the event.
struct Record<'a> {
    shape: Shape,
    source: Source,
    /// `GuardDuty`, `Inspector`, `Macie`, `IAM Access Analyzer`, `Security Hub`…
    product: &'a str,
    /// The product's identity from its product ARN (`aws/inspector`, `111122223333/default`), in
    /// the fingerprint of a `securityhub` finding; empty for GuardDuty.
    product_key: &'a str,
    /// The provider's finding id: the fingerprint's key (GuardDuty: the finding ARN).
    id: &'a str,
    /// What the finding is: GuardDuty's finding type, a control id, the first ASFF type.
    rule: String,
    title: Option<&'a str>,
    description: Option<&'a str>,
    account: &'a str,
    region: &'a str,
    /// `None`: the provider gave no severity this reader understands.
    severity: Option<Severity>,
    /// The provider's own severity, as it wrote it (`8`, `HIGH`, `High`).
    severity_text: Option<String>,
    status: Status,
    /// Why the status is what it is (`archived`, `workflow RESOLVED`, `compliance PASSED`).
    state: Option<String>,
    updated_at: DateTime<Utc>,
    created_at: Option<DateTime<Utc>>,
    first_observed: Option<DateTime<Utc>>,
    last_observed: Option<DateTime<Utc>>,
    /// How many times the provider has seen it (GuardDuty's `service.count`).
    count: Option<u64>,
    resources: Vec<Resource>,
    actor: Option<&'a str>,
    actor_type: Option<&'a str>,
    remote_ip: Option<&'a str>,
    api: Option<(&'a str, &'a str)>,
    /// The AWS Config rule that evaluates this control, if it is one.
    config_rule: Option<&'a str>,
    remediation: Option<String>,
    console_url: Option<String>,
    /// Further key fields for the ticket (remote IP's organisation and country, CVE…).
    details: Vec<(&'static str, String)>,
    sample: bool,
}

impl Record<'_> {
    fn into_finding(
        mut self,
        unknown_severity: Severity,
        resolve_floor: Severity,
        now: DateTime<Utc>,
    ) -> Finding {
        let account = SafeText::bounded(self.account, 64);
        let region = SafeText::bounded(self.region, 64);
        let keys: &[&str] = match self.source {
            Source::Guardduty => &[self.id],
            _ => &[self.product_key, self.id],
        };
        let fingerprint =
            Fingerprint::new(self.source, "", account.as_str(), region.as_str(), keys);
        let severity = match (self.severity.unwrap_or(unknown_severity), self.status) {
            (severity, Status::Resolved) => severity.max(resolve_floor),
            (severity, _) => severity,
        };
        if self.updated_at > now {
            self.details.push((
                "provider_updated_at",
                self.updated_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ));
            self.updated_at = now;
        }
        let title = match self.title.filter(|t| !t.trim().is_empty()) {
            Some(t) if self.sample => format!("Sample finding: {t}"),
            Some(t) => t.to_owned(),
            None => format!("{} finding {}", self.product, self.rule),
        };
        let mut description = String::new();
        if let Some(d) = self.description {
            description.push_str(&crate::text::sanitize(d, DESCRIPTION_MAX_CHARS));
            description.push(' ');
        }
        description.push_str(&format!(
            "{} reports {} in account {} ({}).",
            self.product,
            self.rule,
            account.as_str(),
            region.as_str()
        ));
        if self.sample {
            description.push_str(" This is a sample finding (generated on request, not a threat).");
        }
        let first_seen = [self.first_observed, self.created_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.updated_at)
            .min(self.updated_at);

        let mut details = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                details.insert(k.to_owned(), SafeText::bounded(v, DETAIL_MAX_CHARS));
            }
        };
        put(PRODUCT_DETAIL, self.product);
        put("finding_type", &self.rule);
        put("shape", self.shape.as_str());
        if let Some(s) = &self.severity_text {
            put("provider_severity", s);
        }
        if let Some(s) = &self.state {
            put("state", s);
        }
        if let Some(c) = self.count {
            put("provider_count", &c.to_string());
        }
        for (name, at) in [
            ("created_at", self.created_at),
            ("first_observed_at", self.first_observed),
            ("last_observed_at", self.last_observed),
        ] {
            if let Some(at) = at {
                put(name, &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
        }
        if let Some(rule) = self.config_rule {
            put("config_rule_name", rule);
        }
        if self.sample {
            put("sample", "true");
        }
        for (name, value) in &self.details {
            put(name, value);
        }
        let mut evidence = Evidence {
            actor_arn: self.actor.map(|a| SafeText::bounded(a, ID_MAX_CHARS)),
            actor_type: self.actor_type.map(|a| SafeText::bounded(a, 64)),
            source_ip: self.remote_ip.map(|ip| SafeText::bounded(ip, 64)),
            event_time: Some(self.updated_at),
            event_id: Some(SafeText::bounded(self.id, ID_MAX_CHARS)),
            details,
            ..Evidence::default()
        };
        if let Some((service, api)) = self.api {
            evidence.event_source = Some(SafeText::bounded(service, 128));
            evidence.event_name = Some(SafeText::bounded(api, 128));
        }
        let remediation = self.remediation.unwrap_or_else(|| {
            format!(
                "Investigate the finding in {} (the link below), then remediate the resource or archive the finding as expected behaviour.",
                self.product
            )
        });
        Finding {
            fingerprint,
            status: self.status,
            severity,
            source: self.source,
            rule_id: SafeText::bounded(&self.rule, DETAIL_MAX_CHARS),
            title: SafeText::bounded(&title, TITLE_MAX_CHARS),
            description: SafeText::bounded(&description, 4096),
            account,
            region,
            resources: self.resources,
            principal: self.actor.map(|a| SafeText::bounded(a, ID_MAX_CHARS)),
            first_seen,
            last_seen: self.updated_at,
            count: 1,
            evidence,
            console_url: self.console_url,
            remediation: SafeText::bounded(&remediation, REMEDIATION_MAX_CHARS),
        }
    }
}

/// A resource of a finding, bounded. `arn` only when the id is one.
fn resource(kind: &str, id: &str, arn: Option<&str>) -> Resource {
    let arn = arn.or_else(|| id.starts_with("arn:").then_some(id));
    Resource {
        kind: SafeText::bounded(kind, 128),
        id: SafeText::bounded(id, ID_MAX_CHARS),
        arn: arn.map(|a| SafeText::bounded(a, 1024)),
    }
}

/// The timestamp at `value`, if present: an error names the field when it is not one.
fn timestamp(
    value: Option<&Value>,
    index: usize,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, FindingError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    // OCSF's `*_time` attributes are epoch milliseconds; everything else is ISO 8601.
    if let Some(millis) = value.as_i64() {
        if let Some(t) = DateTime::from_timestamp_millis(millis) {
            return Ok(Some(t));
        }
    }
    let text = value.as_str().unwrap_or_default();
    DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| FindingError::BadTimestamp {
            index,
            field,
            value: SafeText::bounded(&value.to_string(), 64),
        })
}

/// A required string field, or the error naming it.
fn required<'a>(
    value: Option<&'a str>,
    index: usize,
    field: &'static str,
) -> Result<&'a str, FindingError> {
    value
        .filter(|s| !s.trim().is_empty())
        .ok_or(FindingError::MissingField { index, field })
}

/// The product part of a Security Hub product ARN (`arn:aws:securityhub:us-east-1::product/aws/inspector`
/// and OCSF's `…::productv2/aws/inspector` → `aws/inspector`).
fn product_key(arn: &str) -> Option<&str> {
    ["::product/", "::productv2/"]
        .iter()
        .find_map(|marker| arn.find(marker).map(|i| &arn[i + marker.len()..]))
        .filter(|key| !key.is_empty())
}

/// The product key of GuardDuty's findings in Security Hub.
const GUARDDUTY_PRODUCT: &str = "aws/guardduty";

/// What a Security Hub finding (either shape) is, by its product key: its source, the product
/// key its fingerprint carries (none for GuardDuty, whose finding ARN is the same on every
/// path), and the console link to it.
struct Provenance<'a> {
    guardduty: bool,
    source: Source,
    product_key: &'a str,
    console_url: Option<String>,
}

impl<'a> Provenance<'a> {
    fn of(product_key: &'a str, region: &str, id: &str) -> Self {
        let guardduty = product_key == GUARDDUTY_PRODUCT;
        Provenance {
            guardduty,
            source: if guardduty {
                Source::Guardduty
            } else {
                Source::Securityhub
            },
            product_key: if guardduty { "" } else { product_key },
            console_url: if guardduty {
                crate::console::guardduty_finding(region, id.rsplit('/').next().unwrap_or(id))
            } else {
                crate::console::securityhub_finding(region, id)
            },
        }
    }

    /// The provider's remediation, or GuardDuty's general one.
    fn remediation(&self, provider: Option<String>) -> Option<String> {
        provider.or_else(|| self.guardduty.then(|| guardduty::REMEDIATION.to_owned()))
    }
}

/// Resolved when the reader found a closing state.
fn status_of(state: &Option<String>) -> Status {
    if state.is_some() {
        Status::Resolved
    } else {
        Status::Active
    }
}

/// A path of object keys into `value`.
fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// A non-blank string at `path`.
fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    str_at(value, path).filter(|s| !s.trim().is_empty())
}

/// GuardDuty's bands (1.0–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical); below
/// 1.0 is informational.
fn guardduty_band(score: f64) -> Option<Severity> {
    if !score.is_finite() || !(0.0..=10.0).contains(&score) {
        return None;
    }
    Some(if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score >= 1.0 {
        Severity::Low
    } else {
        Severity::Info
    })
}

/// ASFF `Severity.Label` (and OCSF's `severity` caption): CRITICAL, HIGH, MEDIUM, LOW,
/// INFORMATIONAL, in any case. OCSF's `Fatal` counts as critical.
fn label_severity(label: &str) -> Option<Severity> {
    match label.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" | "FATAL" => Some(Severity::Critical),
        "HIGH" => Some(Severity::High),
        "MEDIUM" => Some(Severity::Medium),
        "LOW" => Some(Severity::Low),
        "INFORMATIONAL" | "INFO" => Some(Severity::Info),
        _ => None,
    }
}

/// ASFF `Severity.Normalized` (0–100): 0 informational, 1–39 low, 40–69 medium, 70–89 high,
/// 90–100 critical (Security Hub's own mapping of the label).
fn normalized_severity(n: f64) -> Option<Severity> {
    if !n.is_finite() || !(0.0..=100.0).contains(&n) {
        return None;
    }
    Some(if n >= 90.0 {
        Severity::Critical
    } else if n >= 70.0 {
        Severity::High
    } else if n >= 40.0 {
        Severity::Medium
    } else if n >= 1.0 {
        Severity::Low
    } else {
        Severity::Info
    })
}

/// A GuardDuty finding type from its ASFF `Types` entry: GuardDuty prefixes the type with a
/// namespace and category from a table and writes the type's first `/` as `-`
/// (`Effects/Data Exfiltration/UnauthorizedAccess:IAMUser-InstanceCredentialExfiltration.OutsideAWS`),
/// except for attack sequences, which keep it (`TTPs/AttackSequence:IAM/CompromisedCredentials`).
/// The type starts at the segment holding the `:`; the resource part of a type (`EC2`,
/// `IAMUser`, `S3`, `Runtime`…) holds no `-`, so the first `-` after the `:` is GuardDuty's.
fn guardduty_type_from_asff(asff_type: &str) -> Option<String> {
    let colon = asff_type.find(':')?;
    let start = asff_type[..colon].rfind('/').map_or(0, |slash| slash + 1);
    let kind = &asff_type[start..];
    if kind.contains('/') {
        return Some(kind.to_owned());
    }
    let dash = kind
        .find('-')
        .filter(|&d| d > colon - start + 1 && d + 1 < kind.len())?;
    Some(format!("{}/{}", &kind[..dash], &kind[dash + 1..]))
}

impl fmt::Display for HubSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubSkip::NotAFindingEvent { detail_type } => {
                write!(f, "not a finding event ({detail_type})")
            }
            HubSkip::ConfigBackedControl { config_rule } => write!(
                f,
                "control evaluated by AWS Config rule {config_rule}: config-classifier reports it"
            ),
            HubSkip::NotEvaluated => f.write_str("control not evaluated"),
        }
    }
}
