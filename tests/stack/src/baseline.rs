//! The seed baseline section of `template.yaml`, generated from the rule files.
//!
//! One source of truth: the detections' metric filters and alarms come from
//! `rules/detections.toml` (the file log-detector compiles in) and the AWS Config managed rules
//! from `rules/config-rules.toml` (the catalog config-classifier compiles in, read with its own
//! parser). The section sits between two marker lines in `template.yaml`; the test
//! `seed_baseline_in_the_template_is_generated_from_the_rule_files` fails when the committed text
//! differs from [`render`]'s, and `cargo run -p stack-tests --bin seed-baseline -- --write`
//! rewrites it.
//!
//! What the rule files do not say and a deployment needs is kept here, next to its reason:
//! how each managed rule is triggered ([`config_trigger`]) and the alarm's shape (the seed's: at
//! least one occurrence in 5 minutes, missing data not breaching).

use std::fmt::Write as _;

use triage_core::cloudtrail::{DetectionPack, SEED_DETECTIONS};
use triage_core::config::{ConfigRuleCatalog, ManagedRule};

pub const BEGIN: &str =
    "  # >>> seed baseline: generated from rules/detections.toml and rules/config-rules.toml";
pub const BEGIN_2: &str =
    "  # >>> by `cargo run -p stack-tests --bin seed-baseline -- --write`; do not edit by hand";
pub const END: &str = "  # <<< end of seed baseline";

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {reason}")]
    Rules { path: String, reason: String },
    #[error("config rule catalog: {0}")]
    Catalog(String),
    #[error(
        "seed Config rule {name} has identifier {identifier}, which the generator does not know how AWS Config triggers; add it to config_trigger()"
    )]
    UnknownTrigger { name: String, identifier: String },
    #[error("template.yaml has no seed baseline section (marker lines {BEGIN:?} … {END:?})")]
    NoSection,
}

/// A detection the baseline deploys a metric filter and an alarm for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub id: String,
    pub title: String,
    /// The pattern string exactly as in the rule file.
    pub pattern: String,
    pub metric_namespace: String,
    pub metric_name: String,
}

/// How AWS Config evaluates a managed rule: on configuration changes of these resource types,
/// or periodically (every 24 hours). From the managed rules' pages in the AWS Config Developer
/// Guide ("Trigger type").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Changes(&'static [&'static str]),
    Periodic,
}

pub fn config_trigger(identifier: &str) -> Option<Trigger> {
    Some(match identifier {
        "S3_BUCKET_PUBLIC_READ_PROHIBITED" | "S3_BUCKET_PUBLIC_WRITE_PROHIBITED" => {
            Trigger::Changes(&["AWS::S3::Bucket"])
        }
        "INCOMING_SSH_DISABLED" => Trigger::Changes(&["AWS::EC2::SecurityGroup"]),
        "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"
        | "IAM_ROOT_ACCESS_KEY_CHECK"
        | "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS"
        | "EC2_EBS_ENCRYPTION_BY_DEFAULT" => Trigger::Periodic,
        _ => return None,
    })
}

/// The seed detections of `rules/detections.toml`, read with log-detector's own parser
/// (`DetectionPack`), in the order of `SEED_DETECTIONS`.
pub fn seed_detections() -> Result<Vec<Detection>, BaselineError> {
    let rules_error = |reason: String| BaselineError::Rules {
        path: "rules/detections.toml".into(),
        reason,
    };
    let pack = DetectionPack::shipped().map_err(|e| rules_error(e.to_string()))?;
    let filters = pack.metric_filters();
    SEED_DETECTIONS
        .iter()
        .map(|id| {
            let rule = pack
                .get(id)
                .ok_or_else(|| rules_error(format!("seed detection {id:?} is missing")))?;
            let filter = filters.iter().find(|f| f.rule_id == *id).ok_or_else(|| {
                rules_error(format!("seed detection {id:?} has no metric filter"))
            })?;
            Ok(Detection {
                id: rule.id.clone(),
                title: rule.title.clone(),
                pattern: filter.pattern.to_owned(),
                metric_namespace: filter.metric_namespace.to_owned(),
                metric_name: filter.metric_name.to_owned(),
            })
        })
        .collect()
}

/// The seed's Config rules, from the shipped catalog.
pub fn seed_config_rules() -> Result<Vec<ManagedRule>, BaselineError> {
    let catalog =
        ConfigRuleCatalog::shipped().map_err(|e| BaselineError::Catalog(e.to_string()))?;
    Ok(catalog.rules().iter().filter(|r| r.seed).cloned().collect())
}

/// `root-account-usage` → `RootAccountUsage`.
pub fn camel(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            cs.next()
                .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A YAML single-quoted scalar: no escapes but `''`, so a filter pattern reads as written.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn detection_filter_id(d: &Detection) -> String {
    format!("SeedDetection{}MetricFilter", camel(&d.id))
}
pub fn detection_alarm_id(d: &Detection) -> String {
    format!("SeedDetection{}Alarm", camel(&d.id))
}
pub fn config_rule_id(r: &ManagedRule) -> String {
    format!("SeedConfigRule{}", camel(&r.name))
}

pub fn organization_config_rule_id(r: &ManagedRule) -> String {
    format!("SeedOrganizationConfigRule{}", camel(&r.name))
}

/// The whole section, marker lines included.
pub fn render(detections: &[Detection], rules: &[ManagedRule]) -> Result<String, BaselineError> {
    let mut y = String::new();
    let mut line = |s: &str| {
        y.push_str(s);
        y.push('\n');
    };
    line(BEGIN);
    line(BEGIN_2);
    line("  #");
    line(
        "  # Seed detections (SeedDetectionAlarms=enabled): a metric filter on the trail's log group with",
    );
    line(
        "  # the detection's own pattern, and an alarm on at least one match in 5 minutes (missing data is",
    );
    line("  # not breaching). The alarms have no actions of their own: their state changes reach");
    line(
        "  # alarm-classifier through EventBridge, and triage:detection=<id> in the description links them",
    );
    line("  # to log-detector's ticket for the same problem (see policy/alarm-severity.toml).");
    let mut out = y;
    for d in detections {
        let _ = write!(
            out,
            "  {filter}:\n    Type: AWS::Logs::MetricFilter\n    Condition: DeploySeedDetectionAlarms\n    Properties:\n      LogGroupName: !Ref TrailLogGroupName\n      FilterPattern: {pattern}\n      MetricTransformations:\n        - MetricNamespace: {ns}\n          MetricName: {metric}\n          MetricValue: \"1\"\n\n  {alarm}:\n    Type: AWS::CloudWatch::Alarm\n    Condition: DeploySeedDetectionAlarms\n    DependsOn: {filter}\n    Properties:\n      AlarmName: !Sub \"${{AWS::StackName}}-{id}\"\n      AlarmDescription: {description}\n      Namespace: {ns}\n      MetricName: {metric}\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: 1\n      ComparisonOperator: GreaterThanOrEqualToThreshold\n      TreatMissingData: notBreaching\n\n",
            filter = detection_filter_id(d),
            alarm = detection_alarm_id(d),
            pattern = quoted(&d.pattern),
            ns = d.metric_namespace,
            metric = d.metric_name,
            id = d.id,
            description = quoted(&format!("{}. triage:detection={}", d.title, d.id)),
        );
    }
    // Each rule's trigger, known for every rule before anything is written for one.
    let rules: Vec<(&ManagedRule, Trigger)> = rules
        .iter()
        .map(|r| {
            config_trigger(&r.identifier)
                .map(|t| (r, t))
                .ok_or_else(|| BaselineError::UnknownTrigger {
                    name: r.name.clone(),
                    identifier: r.identifier.clone(),
                })
        })
        .collect::<Result<_, _>>()?;
    out.push_str(
        "  # The seed's AWS Config managed rules (SeedConfigRules=enabled), under the names\n",
    );
    out.push_str(
        "  # config-classifier resolves to its catalog entries. Needs a configuration recorder.\n",
    );
    for &(r, trigger) in &rules {
        let _ = write!(
            out,
            "  {id}:\n    Type: AWS::Config::ConfigRule\n    Condition: DeploySeedConfigRules\n    Properties:\n      ConfigRuleName: {name}\n      Description: {title}\n      Source:\n        Owner: AWS\n        SourceIdentifier: {identifier}\n",
            id = config_rule_id(r),
            name = r.name,
            title = quoted(&r.title),
            identifier = r.identifier,
        );
        match trigger {
            Trigger::Changes(types) => {
                let _ = write!(
                    out,
                    "      Scope:\n        ComplianceResourceTypes: [{}]\n",
                    types.join(", ")
                );
            }
            Trigger::Periodic => {
                out.push_str("      MaximumExecutionFrequency: TwentyFour_Hours\n")
            }
        }
        out.push('\n');
    }
    out.push_str(
        "  # The same seven as organization Config rules (SeedConfigRules=organization), deployed from\n",
    );
    out.push_str(
        "  # the management or delegated-administrator account to every member account, where they\n",
    );
    out.push_str(
        "  # are named OrgConfigRule-<name>-<suffix> (config-classifier strips the decoration).\n",
    );
    for &(r, trigger) in &rules {
        let _ = write!(
            out,
            "  {id}:\n    Type: AWS::Config::OrganizationConfigRule\n    Condition: DeploySeedOrganizationConfigRules\n    Properties:\n      OrganizationConfigRuleName: {name}\n      OrganizationManagedRuleMetadata:\n        Description: {title}\n        RuleIdentifier: {identifier}\n",
            id = organization_config_rule_id(r),
            name = r.name,
            title = quoted(&r.title),
            identifier = r.identifier,
        );
        match trigger {
            Trigger::Changes(types) => {
                let _ = writeln!(out, "        ResourceTypesScope: [{}]", types.join(", "));
            }
            Trigger::Periodic => {
                out.push_str("        MaximumExecutionFrequency: TwentyFour_Hours\n")
            }
        }
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    Ok(out)
}

/// The section as committed in `template`: from the first marker line to the end marker.
pub fn committed_section(template: &str) -> Result<&str, BaselineError> {
    let start = template.find(BEGIN).ok_or(BaselineError::NoSection)?;
    let end_at = template[start..]
        .find(END)
        .ok_or(BaselineError::NoSection)?
        + start;
    let end = template[end_at..]
        .find('\n')
        .map_or(template.len(), |n| end_at + n + 1);
    Ok(&template[start..end])
}

/// `template` with its section replaced by `section`.
pub fn replace_section(template: &str, section: &str) -> Result<String, BaselineError> {
    let old = committed_section(template)?;
    let start = old.as_ptr() as usize - template.as_ptr() as usize;
    Ok(format!(
        "{}{}{}",
        &template[..start],
        section,
        &template[start + old.len()..]
    ))
}

/// The section as it should be, from the shipped rule files.
pub fn generate() -> Result<String, BaselineError> {
    render(&seed_detections()?, &seed_config_rules()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_logical_id_words() {
        assert_eq!(camel("root-account-usage"), "RootAccountUsage");
        assert_eq!(
            camel("s3-bucket-public-read-prohibited"),
            "S3BucketPublicReadProhibited"
        );
    }

    #[test]
    fn a_pattern_survives_yaml_quoting_byte_for_byte() {
        let pattern = r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.x = 'it''s') }"#;
        let v: serde_norway::Value =
            serde_norway::from_str(&format!("p: {}", quoted(pattern))).expect("yaml");
        assert_eq!(v.get("p").and_then(|p| p.as_str()), Some(pattern));
    }

    #[test]
    fn replacing_the_section_keeps_the_rest_of_the_template() {
        let t = format!("before\n{BEGIN}\nold\n{END}\nafter\n");
        let new = replace_section(&t, &format!("{BEGIN}\nnew\n{END}\n")).expect("section");
        assert_eq!(new, format!("before\n{BEGIN}\nnew\n{END}\nafter\n"));
    }
}
