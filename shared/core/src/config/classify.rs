//! Pure classification of one Config compliance-change event.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tracing::debug;

use super::catalog::{ConfigRuleCatalog, normalise_rule_name};
use crate::console;
use crate::finding::{Evidence, Finding, Fingerprint, Resource, Source, Status};
use crate::json::{Lax, lax, str_at};
use crate::severity::Severity;
use crate::text::SafeText;

pub const DETAIL_TYPE: &str = "Config Rules Compliance Change";
const ANNOTATION_MAX_CHARS: usize = 1024;
/// AWS Config's limit on a resource id (768) and type (256): a longer one is forged and gets no
/// console link, which would be as long as it.
const LINKED_RESOURCE_ID_MAX_BYTES: usize = 768;
const LINKED_RESOURCE_TYPE_MAX_BYTES: usize = 256;

/// Why a compliance-change event produced no finding. Not an error: nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSkip {
    /// Not a Config compliance change (another source or detail-type).
    NotAComplianceChange { detail_type: SafeText },
    /// NOT_APPLICABLE: the rule does not apply to the resource.
    NotApplicable,
    /// INSUFFICIENT_DATA: Config could not evaluate.
    InsufficientData,
}

/// What one event gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOutcome {
    Finding(Box<Finding>),
    Skipped(ConfigSkip),
}

/// A compliance-change event that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigEventError {
    #[error("event is not a JSON object")]
    NotAnObject,
    #[error("compliance change is missing {0}")]
    MissingField(&'static str),
    #[error("unknown complianceType \"{0}\"")]
    UnknownComplianceType(SafeText),
    #[error("{field} is not an ISO 8601 timestamp: \"{value}\"")]
    BadTimestamp {
        field: &'static str,
        value: SafeText,
    },
}

/// Classifies Config compliance changes with the managed-rule catalog.
#[derive(Debug, Clone)]
pub struct ConfigClassifier {
    catalog: ConfigRuleCatalog,
    unknown_rule_severity: Severity,
}

impl ConfigClassifier {
    pub fn new(catalog: ConfigRuleCatalog, unknown_rule_severity: Severity) -> Self {
        ConfigClassifier {
            catalog,
            unknown_rule_severity,
        }
    }

    pub fn catalog(&self) -> &ConfigRuleCatalog {
        &self.catalog
    }

    /// True when `event` is an EventBridge compliance-change envelope, or the bare notification
    /// that Config sends to SNS (`messageType: ComplianceChangeNotification`).
    pub fn accepts(event: &Value) -> bool {
        let eventbridge = str_at(event, &["source"]) == Some("aws.config")
            && str_at(event, &["detail-type"]) == Some(DETAIL_TYPE);
        eventbridge || str_at(event, &["messageType"]) == Some("ComplianceChangeNotification")
    }

    /// NON_COMPLIANT gives an active finding, COMPLIANT a resolved one; NOT_APPLICABLE and
    /// INSUFFICIENT_DATA give nothing. Events of another kind are skipped.
    pub fn classify(&self, event: &Value) -> Result<ConfigOutcome, ConfigEventError> {
        let Some(envelope) = event.as_object() else {
            return Err(ConfigEventError::NotAnObject);
        };
        let detail = if envelope.contains_key("detail-type") {
            if !Self::accepts(event) {
                let detail_type = str_at(event, &["detail-type"]).unwrap_or_default();
                return Ok(ConfigOutcome::Skipped(ConfigSkip::NotAComplianceChange {
                    detail_type: SafeText::bounded(detail_type, 128),
                }));
            }
            event
                .get("detail")
                .filter(|d| d.is_object())
                .ok_or(ConfigEventError::MissingField("detail"))?
        } else if Self::accepts(event) {
            event
        } else {
            return Ok(ConfigOutcome::Skipped(ConfigSkip::NotAComplianceChange {
                detail_type: SafeText::default(),
            }));
        };
        self.classify_detail(event, detail)
    }

    /// [`Self::classify`] as a list of findings, logging why an event gave none: what the
    /// function and the replay CLI both route.
    pub fn findings(&self, event: &Value) -> Result<Vec<Finding>, ConfigEventError> {
        match self.classify(event)? {
            ConfigOutcome::Finding(finding) => Ok(vec![*finding]),
            ConfigOutcome::Skipped(skip) => {
                debug!(?skip, "config event gives no finding");
                Ok(Vec::new())
            }
        }
    }

    fn classify_detail(
        &self,
        envelope: &Value,
        detail: &Value,
    ) -> Result<ConfigOutcome, ConfigEventError> {
        let (Some(envelope), Some(d)) =
            (lax::<Envelope>(envelope), lax::<ComplianceChange>(detail))
        else {
            return Err(ConfigEventError::NotAnObject);
        };
        let new_result = (d.new_evaluation_result.0)
            .ok_or(ConfigEventError::MissingField("detail.newEvaluationResult"))?;
        let compliance = new_result
            .compliance_type
            .0
            .ok_or(ConfigEventError::MissingField(
                "detail.newEvaluationResult.complianceType",
            ))?;
        let status = match compliance {
            "NON_COMPLIANT" => Status::Active,
            "COMPLIANT" => Status::Resolved,
            "NOT_APPLICABLE" => return Ok(ConfigOutcome::Skipped(ConfigSkip::NotApplicable)),
            "INSUFFICIENT_DATA" => return Ok(ConfigOutcome::Skipped(ConfigSkip::InsufficientData)),
            other => {
                return Err(ConfigEventError::UnknownComplianceType(SafeText::bounded(
                    other, 64,
                )));
            }
        };

        let qualifier = (new_result.evaluation_result_identifier.0)
            .and_then(|i| i.evaluation_result_qualifier.0)
            .unwrap_or_default();
        let deployed_rule = (d.config_rule_name.0)
            .or(qualifier.config_rule_name.0)
            .ok_or(ConfigEventError::MissingField("detail.configRuleName"))?;
        let resource_type = (d.resource_type.0)
            .or(qualifier.resource_type.0)
            .ok_or(ConfigEventError::MissingField("detail.resourceType"))?;
        let resource_id = (d.resource_id.0)
            .or(qualifier.resource_id.0)
            .ok_or(ConfigEventError::MissingField("detail.resourceId"))?;
        let account = (d.aws_account_id.0)
            .or(envelope.account.0)
            .ok_or(ConfigEventError::MissingField("detail.awsAccountId"))?;
        let region = (d.aws_region.0)
            .or(envelope.region.0)
            .ok_or(ConfigEventError::MissingField("detail.awsRegion"))?;
        let rule_arn = d.config_rule_arn.0;
        let observed_at = observed_at([
            (
                "detail.newEvaluationResult.resultRecordedTime",
                new_result.result_recorded_time.0,
            ),
            (
                "detail.notificationCreationTime",
                d.notification_creation_time.0,
            ),
            ("time", envelope.time.0),
        ])?;
        let old_compliance = d.old_evaluation_result.0.and_then(|r| r.compliance_type.0);
        let annotation = new_result.annotation.0;

        let managed = self.catalog.lookup(deployed_rule);
        let rule_id =
            managed.map_or_else(|| normalise_rule_name(deployed_rule), |m| m.name.as_str());
        let severity = managed.map_or(self.unknown_rule_severity, |m| m.severity);
        let partition = rule_arn
            .and_then(|arn| arn.split(':').nth(1))
            .filter(|p| p.starts_with("aws"))
            .unwrap_or_else(|| console::partition(region));
        let arn = resource_arn(partition, resource_type, resource_id, region, account);

        let title = match managed {
            Some(m) => format!("{}: {}", m.title, resource_id),
            None => format!(
                "AWS Config rule {rule_id} reports {resource_type} {resource_id} non-compliant"
            ),
        };
        let mut description = format!(
            "AWS Config rule {deployed_rule} evaluated {resource_type} {resource_id} in account {account} ({region}) as {compliance}"
        );
        if let Some(old) = old_compliance {
            description.push_str(&format!(" (previously {old})"));
        } else {
            description.push_str(" (first evaluation)");
        }
        description.push('.');
        if let Some(note) = annotation {
            description.push_str(" Annotation: ");
            description.push_str(&crate::text::sanitize(note, ANNOTATION_MAX_CHARS));
        }
        if let Some(m) = managed {
            description.push_str(&format!(" Severity {}: {}", m.severity, m.rationale));
        }
        let remediation = managed.map_or_else(
            || format!("Review the resource against the rule {rule_id} and bring it into compliance, or fix the rule if the evaluation is wrong."),
            |m| m.remediation.clone(),
        );

        let mut details = BTreeMap::new();
        let mut put = |k: &str, v: Option<&str>, max: usize| {
            if let Some(v) = v {
                details.insert(k.to_owned(), SafeText::bounded(v, max));
            }
        };
        put("config_rule_name", Some(deployed_rule), 256);
        put("config_rule_arn", rule_arn, 512);
        put(
            "managed_rule_identifier",
            managed.map(|m| m.identifier.as_str()),
            128,
        );
        put("compliance_type", Some(compliance), 64);
        put("previous_compliance_type", old_compliance, 64);
        put("annotation", annotation, ANNOTATION_MAX_CHARS);
        put("evaluation_mode", qualifier.evaluation_mode.0, 64);

        let finding = Finding {
            fingerprint: Fingerprint::new(
                Source::Config,
                rule_id,
                account,
                region,
                &[resource_type, resource_id],
            ),
            status,
            severity,
            source: Source::Config,
            rule_id: SafeText::bounded(rule_id, 256),
            title: SafeText::bounded(&title, 256),
            description: SafeText::bounded(&description, 4096),
            account: SafeText::bounded(account, 64),
            region: SafeText::bounded(region, 64),
            resources: vec![Resource {
                kind: SafeText::bounded(resource_type, 128),
                id: SafeText::bounded(resource_id, 512),
                arn: arn.map(|a| SafeText::bounded(&a, 1024)),
            }],
            principal: None,
            first_seen: observed_at,
            last_seen: observed_at,
            count: 1,
            evidence: Evidence {
                event_time: Some(observed_at),
                event_id: envelope.id.0.map(|id| SafeText::bounded(id, 128)),
                event_source: Some(SafeText::new("config.amazonaws.com")),
                details,
                ..Evidence::default()
            },
            console_url: (resource_id.len() <= LINKED_RESOURCE_ID_MAX_BYTES
                && resource_type.len() <= LINKED_RESOURCE_TYPE_MAX_BYTES)
                .then(|| console::config_timeline(region, resource_type, resource_id))
                .flatten(),
            remediation: SafeText::bounded(&remediation, 1024),
        };
        Ok(ConfigOutcome::Finding(Box::new(finding)))
    }
}

/// When Config recorded the result: the first of `candidates` present (the result's, the
/// notification's, the envelope's time).
fn observed_at(
    candidates: [(&'static str, Option<&str>); 3],
) -> Result<DateTime<Utc>, ConfigEventError> {
    for (field, value) in candidates {
        if let Some(value) = value {
            return DateTime::parse_from_rfc3339(value)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ConfigEventError::BadTimestamp {
                    field,
                    value: SafeText::bounded(value, 64),
                });
        }
    }
    Err(ConfigEventError::MissingField(
        "detail.newEvaluationResult.resultRecordedTime",
    ))
}

/// The ARN of a resource, where Config's resource id determines it.
fn resource_arn(
    partition: &str,
    resource_type: &str,
    id: &str,
    region: &str,
    account: &str,
) -> Option<String> {
    if id.starts_with("arn:") {
        return Some(id.to_owned());
    }
    let regional = |service: &str, path: &str| {
        Some(format!(
            "arn:{partition}:{service}:{region}:{account}:{path}"
        ))
    };
    match resource_type {
        "AWS::S3::Bucket" => Some(format!("arn:{partition}:s3:::{id}")),
        "AWS::EC2::SecurityGroup" => regional("ec2", &format!("security-group/{id}")),
        "AWS::EC2::Instance" => regional("ec2", &format!("instance/{id}")),
        "AWS::EC2::Volume" => regional("ec2", &format!("volume/{id}")),
        "AWS::EC2::VPC" => regional("ec2", &format!("vpc/{id}")),
        "AWS::EC2::Subnet" => regional("ec2", &format!("subnet/{id}")),
        "AWS::EC2::NetworkAcl" => regional("ec2", &format!("network-acl/{id}")),
        "AWS::Logs::LogGroup" => regional("logs", &format!("log-group:{id}")),
        "AWS::Lambda::Function" => regional("lambda", &format!("function:{id}")),
        "AWS::KMS::Key" => regional("kms", &format!("key/{id}")),
        "AWS::CloudTrail::Trail" => regional("cloudtrail", &format!("trail/{id}")),
        "AWS::DynamoDB::Table" => regional("dynamodb", &format!("table/{id}")),
        _ => None,
    }
}

// The event as serde reads it. Every field is optional and reads as absent when of another JSON
// type ([`Lax`]); the typed errors for what a compliance change cannot lack are raised above.

/// The EventBridge envelope (for the bare SNS notification, the notification itself).
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct Envelope<'a> {
    id: Lax<&'a str>,
    account: Lax<&'a str>,
    region: Lax<&'a str>,
    time: Lax<&'a str>,
}

/// The `detail` of a compliance change, or the bare notification.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct ComplianceChange<'a> {
    config_rule_name: Lax<&'a str>,
    #[serde(rename = "configRuleARN")]
    config_rule_arn: Lax<&'a str>,
    resource_type: Lax<&'a str>,
    resource_id: Lax<&'a str>,
    aws_account_id: Lax<&'a str>,
    aws_region: Lax<&'a str>,
    notification_creation_time: Lax<&'a str>,
    new_evaluation_result: Lax<EvaluationResult<'a>>,
    old_evaluation_result: Lax<EvaluationResult<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct EvaluationResult<'a> {
    compliance_type: Lax<&'a str>,
    annotation: Lax<&'a str>,
    result_recorded_time: Lax<&'a str>,
    evaluation_result_identifier: Lax<EvaluationResultIdentifier<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct EvaluationResultIdentifier<'a> {
    evaluation_result_qualifier: Lax<Qualifier<'a>>,
}

/// The rule and resource as the evaluation result names them: where the detail lacks its own.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct Qualifier<'a> {
    config_rule_name: Lax<&'a str>,
    resource_type: Lax<&'a str>,
    resource_id: Lax<&'a str>,
    evaluation_mode: Lax<&'a str>,
}
