//! The detection pack (`rules/detections.toml`): loading and validation.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use triage_filter_pattern::{FilterPattern, Message, PatternError, PatternKind, PatternSet};

use crate::severity::Severity;

/// The pack shipped with the code (compiled in, validated by the tests).
pub const DETECTIONS_TOML: &str = include_str!("../../../../rules/detections.toml");

/// The seed's three detections. alarm-classifier links the seed alarms to these ids
/// (`triage:detection=<id>`), so they never change.
pub const SEED_DETECTIONS: [&str; 3] = [
    "root-account-usage",
    "unauthorized-api-calls",
    "console-signin-without-mfa",
];

const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;
const MAX_TITLE_CHARS: usize = 80;
const ARN_PLACEHOLDERS: [&str; 4] = ["{partition}", "{region}", "{account}", "{id}"];

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("detection pack is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("detection pack: unsupported version {0} (expected 1)")]
    Version(u32),
    #[error("detection pack: rule {id:?}: {problem}")]
    Invalid { id: String, problem: String },
    #[error("detection pack: rule {id:?}: pattern rejected: {error}")]
    Pattern { id: String, error: PatternError },
}

/// A record field, or alternatives `a | b` of which the first present, non-empty one counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    alternatives: Vec<Vec<String>>,
}

impl FieldPath {
    /// Parses `a.b | c.d`: each alternative is dot-separated names of letters, digits, `_`
    /// and `-`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for alternative in text.split('|') {
            let alternative = alternative.trim();
            let steps: Vec<String> = alternative.split('.').map(str::to_owned).collect();
            let valid = steps.iter().all(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
            if !valid {
                return Err(format!(
                    "field path {text:?}: {alternative:?} is not a dotted field name"
                ));
            }
            alternatives.push(steps);
        }
        Ok(FieldPath {
            text: text.to_owned(),
            alternatives,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The alternatives, each as its steps.
    pub fn alternatives(&self) -> &[Vec<String>] {
        &self.alternatives
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A resource a rule can derive from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    /// CloudFormation-style type, e.g. `AWS::CloudTrail::Trail`.
    pub kind: String,
    /// Where the resource id is.
    pub id: FieldPath,
    /// ARN template with `{partition}`, `{region}`, `{account}` and `{id}`; an id that is
    /// already an ARN is used as it is.
    pub arn: Option<String>,
}

/// A must-match or must-not-match example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sample {
    /// A file in `events/`, by name.
    File(String),
    /// A one-line CloudTrail record.
    Inline(String),
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sample::File(name) => f.write_str(name),
            Sample::Inline(record) => {
                let short: String = record.chars().take(80).collect();
                write!(f, "inline record {short}…")
            }
        }
    }
}

/// One detection rule.
#[derive(Debug, Clone)]
pub struct Detection {
    pub id: String,
    pub title: String,
    pub pattern: FilterPattern,
    pub severity: Severity,
    pub rationale: String,
    pub description: String,
    pub remediation: String,
    /// The CIS / Security Hub control whose pattern this is.
    pub cis_id: Option<String>,
    pub metric_namespace: String,
    pub metric_name: String,
    pub fingerprint_fields: Vec<FieldPath>,
    pub dedup_window_minutes: u32,
    pub covered_by: Vec<String>,
    pub resources: Vec<ResourceSpec>,
    pub must_match: Vec<Sample>,
    pub must_not_match: Vec<Sample>,
    /// `covered_by` as indices into the pack.
    pub(crate) covered_by_index: Vec<usize>,
}

/// What the template needs for one metric filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricFilter<'p> {
    pub rule_id: &'p str,
    /// The pattern string exactly as in the rule file.
    pub pattern: &'p str,
    pub metric_namespace: &'p str,
    pub metric_name: &'p str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    version: u32,
    #[serde(default, rename = "detection")]
    detections: Vec<RawDetection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetection {
    id: String,
    title: String,
    pattern: String,
    severity: Severity,
    rationale: String,
    description: String,
    remediation: String,
    #[serde(default)]
    cis_id: Option<String>,
    metric_namespace: String,
    metric_name: String,
    fingerprint_fields: Vec<String>,
    dedup_window_minutes: u32,
    #[serde(default)]
    covered_by: Vec<String>,
    #[serde(default, rename = "resource")]
    resources: Vec<RawResource>,
    #[serde(default)]
    must_match: Vec<String>,
    #[serde(default)]
    must_not_match: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default)]
    arn: Option<String>,
}

/// The compiled pack: every rule, and all patterns in one [`PatternSet`] (indices match
/// [`DetectionPack::rules`]).
#[derive(Debug, Clone)]
pub struct DetectionPack {
    rules: Vec<Detection>,
    set: PatternSet,
    by_id: HashMap<String, usize>,
}

impl DetectionPack {
    pub fn from_toml(text: &str) -> Result<Self, PackError> {
        let file: PackFile = toml::from_str(text)?;
        if file.version != 1 {
            return Err(PackError::Version(file.version));
        }
        let mut rules = Vec::with_capacity(file.detections.len());
        let mut by_id = HashMap::new();
        let mut metrics = HashSet::new();
        for raw in file.detections {
            let rule = compile(raw)?;
            if by_id.insert(rule.id.clone(), rules.len()).is_some() {
                return Err(invalid(&rule.id, "the id is used by another rule"));
            }
            if !metrics.insert((rule.metric_namespace.clone(), rule.metric_name.clone())) {
                return Err(invalid(
                    &rule.id,
                    "metric_namespace/metric_name is used by another rule",
                ));
            }
            rules.push(rule);
        }
        let lookup = |rule: &Detection, other: &str| {
            by_id.get(other).copied().ok_or_else(|| {
                invalid(
                    &rule.id,
                    &format!("covered_by names unknown rule {other:?}"),
                )
            })
        };
        let mut covered_by = Vec::with_capacity(rules.len());
        for rule in &rules {
            let mut indices = Vec::new();
            for other in &rule.covered_by {
                if other == &rule.id {
                    return Err(invalid(&rule.id, "a rule cannot be covered by itself"));
                }
                indices.push(lookup(rule, other)?);
            }
            covered_by.push(indices);
        }
        for (i, indices) in covered_by.iter().enumerate() {
            for &j in indices {
                if !covered_by[j].is_empty() {
                    return Err(invalid(
                        &rules[i].id,
                        &format!(
                            "covered_by {:?}, which is itself covered: name the rule that reports",
                            rules[j].id
                        ),
                    ));
                }
            }
        }
        for (rule, indices) in rules.iter_mut().zip(covered_by) {
            rule.covered_by_index = indices;
        }
        let set = PatternSet::new(rules.iter().map(|r| r.pattern.clone()));
        Ok(DetectionPack { rules, set, by_id })
    }

    /// The shipped pack.
    pub fn shipped() -> Result<Self, PackError> {
        Self::from_toml(DETECTIONS_TOML)
    }

    pub fn rules(&self) -> &[Detection] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Detection> {
        self.by_id.get(id).and_then(|&i| self.rules.get(i))
    }

    /// Every pattern, in rule order.
    pub fn set(&self) -> &PatternSet {
        &self.set
    }

    /// `(rule id, dedup window in minutes)` for each rule, e.g. for the router's dedup windows.
    pub fn windows(&self) -> impl Iterator<Item = (&str, u32)> {
        self.rules
            .iter()
            .map(|r| (r.id.as_str(), r.dedup_window_minutes))
    }

    /// The metric filter of each rule, for generating or checking the template.
    pub fn metric_filters(&self) -> Vec<MetricFilter<'_>> {
        self.rules
            .iter()
            .map(|r| MetricFilter {
                rule_id: &r.id,
                pattern: r.pattern.source(),
                metric_namespace: &r.metric_namespace,
                metric_name: &r.metric_name,
            })
            .collect()
    }
}

fn invalid(id: &str, problem: &str) -> PackError {
    PackError::Invalid {
        id: id.to_owned(),
        problem: problem.to_owned(),
    }
}

fn compile(raw: RawDetection) -> Result<Detection, PackError> {
    let id = raw.id;
    let bad = |problem: &str| invalid(&id, problem);
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || id.starts_with('-')
        || id.ends_with('-')
    {
        return Err(bad(
            "id must be kebab-case: lower-case letters, digits and '-'",
        ));
    }
    for (name, value) in [
        ("title", &raw.title),
        ("rationale", &raw.rationale),
        ("description", &raw.description),
        ("remediation", &raw.remediation),
    ] {
        if value.trim().is_empty() {
            return Err(bad(&format!("{name} is required")));
        }
        if value.contains('\n') {
            return Err(bad(&format!("{name} must be one line")));
        }
    }
    if raw.title.chars().count() > MAX_TITLE_CHARS {
        return Err(bad(&format!(
            "title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    let pattern = FilterPattern::parse(&raw.pattern).map_err(|error| PackError::Pattern {
        id: id.clone(),
        error,
    })?;
    if pattern.kind() != PatternKind::Json {
        return Err(bad(
            "pattern must be a JSON pattern ({ … }): CloudTrail records are JSON",
        ));
    }
    if raw.metric_namespace.is_empty()
        || raw.metric_namespace.len() > 255
        || raw.metric_namespace.starts_with("AWS/")
    {
        return Err(bad(
            "metric_namespace must be 1–255 characters and not start with AWS/",
        ));
    }
    if raw.metric_name.is_empty()
        || raw.metric_name.len() > 255
        || !raw
            .metric_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(bad(
            "metric_name must be 1–255 letters, digits, '-', '_' or '.'",
        ));
    }
    if let Some(cis) = &raw.cis_id
        && cis.trim().is_empty()
    {
        return Err(bad("cis_id, when set, must not be empty"));
    }
    if !(1..=MAX_WINDOW_MINUTES).contains(&raw.dedup_window_minutes) {
        return Err(bad(&format!(
            "dedup_window_minutes must be 1 to {MAX_WINDOW_MINUTES} (a week)"
        )));
    }
    let fingerprint_fields = raw
        .fingerprint_fields
        .iter()
        .map(|f| FieldPath::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    let mut resources = Vec::with_capacity(raw.resources.len());
    for r in raw.resources {
        let parts: Vec<&str> = r.kind.split("::").collect();
        if parts.len() != 3 || parts[0] != "AWS" || parts[1..].iter().any(|p| p.is_empty()) {
            return Err(bad(&format!(
                "resource type {:?} is not AWS::Service::Type",
                r.kind
            )));
        }
        if let Some(template) = &r.arn {
            check_arn_template(template).map_err(|e| bad(&e))?;
        }
        resources.push(ResourceSpec {
            kind: r.kind,
            id: FieldPath::parse(&r.id).map_err(|e| bad(&e))?,
            arn: r.arn,
        });
    }
    if raw.must_match.is_empty() || raw.must_not_match.is_empty() {
        return Err(bad(
            "needs at least one must_match and one must_not_match sample",
        ));
    }
    let samples = |list: Vec<String>| -> Result<Vec<Sample>, PackError> {
        list.into_iter()
            .map(|s| sample(s).map_err(|e| bad(&e)))
            .collect()
    };
    Ok(Detection {
        title: raw.title,
        pattern,
        severity: raw.severity,
        rationale: raw.rationale,
        description: raw.description,
        remediation: raw.remediation,
        cis_id: raw.cis_id,
        metric_namespace: raw.metric_namespace,
        metric_name: raw.metric_name,
        fingerprint_fields,
        dedup_window_minutes: raw.dedup_window_minutes,
        covered_by: raw.covered_by,
        resources,
        must_match: samples(raw.must_match)?,
        must_not_match: samples(raw.must_not_match)?,
        covered_by_index: Vec::new(),
        id,
    })
}

fn sample(text: String) -> Result<Sample, String> {
    if text.trim_start().starts_with('{') {
        if !Message::new(&text).is_json_object() {
            return Err(format!("inline sample is not a JSON object: {text:.80}"));
        }
        return Ok(Sample::Inline(text));
    }
    let plain = !text.is_empty()
        && text.ends_with(".json")
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && !text.contains("..");
    if plain {
        Ok(Sample::File(text))
    } else {
        Err(format!(
            "sample {text:?} is neither a file name in events/ nor an inline JSON record"
        ))
    }
}

fn check_arn_template(template: &str) -> Result<(), String> {
    if !template.starts_with("arn:{partition}:") {
        return Err(format!(
            "arn template {template:?} must start with arn:{{partition}}:"
        ));
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("arn template {template:?} has an unclosed {{"));
        };
        let placeholder = &rest[open..open + close + 1];
        if !ARN_PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "arn template {template:?}: unknown placeholder {placeholder} (known: {})",
                ARN_PLACEHOLDERS.join(" ")
            ));
        }
        rest = &rest[open + close + 1..];
    }
    if !template.contains("{id}") {
        return Err(format!("arn template {template:?} does not use {{id}}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        version = 1
        [[detection]]
        id = "a"
        title = "A"
        pattern = '{ $.eventName = "A" }'
        severity = "low"
        rationale = "r"
        description = "d"
        remediation = "m"
        metric_namespace = "N"
        metric_name = "A"
        fingerprint_fields = ["userIdentity.arn | userIdentity.userName"]
        dedup_window_minutes = 60
        must_match = ['{"eventName":"A"}']
        must_not_match = ["cloudtrail-x.json"]
    "#;

    fn problem(text: &str) -> String {
        DetectionPack::from_toml(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "accepted".into())
    }

    #[test]
    fn a_minimal_rule_loads_with_its_alternatives() {
        let pack = DetectionPack::from_toml(MINIMAL).expect("valid");
        let rule = pack.get("a").expect("rule a");
        assert_eq!(
            rule.fingerprint_fields[0].alternatives(),
            [
                vec!["userIdentity".to_owned(), "arn".to_owned()],
                vec!["userIdentity".to_owned(), "userName".to_owned()]
            ]
        );
        assert_eq!(
            rule.must_not_match,
            [Sample::File("cloudtrail-x.json".into())]
        );
        assert_eq!(pack.set().len(), 1);
    }

    #[test]
    fn broken_rules_are_rejected_naming_the_rule_and_the_problem() {
        let cases = [
            (MINIMAL.replace("id = \"a\"", "id = \"A_b\""), "kebab-case"),
            (
                MINIMAL.replace(r#"'{ $.eventName = "A" }'"#, r#"'{ $.eventName = "A" '"#),
                "pattern rejected",
            ),
            (
                MINIMAL.replace(r#"'{ $.eventName = "A" }'"#, "'ConsoleLogin'"),
                "JSON pattern",
            ),
            (
                MINIMAL.replace("rationale = \"r\"", "rationale = \" \""),
                "rationale is required",
            ),
            (
                MINIMAL.replace("dedup_window_minutes = 60", "dedup_window_minutes = 0"),
                "dedup_window_minutes",
            ),
            (
                MINIMAL.replace(
                    "userIdentity.arn | userIdentity.userName",
                    "userIdentity..arn",
                ),
                "not a dotted field name",
            ),
            (
                MINIMAL.replace(
                    "must_not_match = [\"cloudtrail-x.json\"]",
                    "must_not_match = []",
                ),
                "must_not_match",
            ),
            (
                MINIMAL.replace("\"cloudtrail-x.json\"", "\"../etc/passwd\""),
                "neither a file name",
            ),
            (
                MINIMAL.replace(
                    "metric_namespace = \"N\"",
                    "metric_namespace = \"AWS/Logs\"",
                ),
                "metric_namespace",
            ),
            (format!("{MINIMAL}\nsurprise = 1"), "not valid TOML"),
            (
                MINIMAL.replace("version = 1", "version = 2"),
                "unsupported version",
            ),
            (
                format!("{MINIMAL}covered_by = [\"zzz\"]"),
                "unknown rule \"zzz\"",
            ),
            (
                format!("{MINIMAL}covered_by = [\"a\"]"),
                "covered by itself",
            ),
            (
                format!(
                    "{MINIMAL}[[detection.resource]]\ntype = \"AWS::S3::Bucket\"\nid = \"requestParameters.bucketName\"\narn = \"arn:{{partition}}:s3:::{{bucket}}\""
                ),
                "unknown placeholder {bucket}",
            ),
        ];
        for (text, want) in cases {
            let got = problem(&text);
            assert!(got.contains(want), "want {want:?}, got {got:?}");
        }
    }

    #[test]
    fn duplicate_ids_and_metrics_and_chained_coverage_are_rejected() {
        let twice = format!(
            "{MINIMAL}{}",
            &MINIMAL[MINIMAL.find("[[detection]]").unwrap_or(0)..]
        );
        assert!(problem(&twice).contains("used by another rule"));
        let second = MINIMAL[MINIMAL.find("[[detection]]").unwrap_or(0)..]
            .replace("id = \"a\"", "id = \"b\"")
            .replace("metric_name = \"A\"", "metric_name = \"B\"");
        let third = second
            .replace("id = \"b\"", "id = \"c\"")
            .replace("metric_name = \"B\"", "metric_name = \"C\"");
        let chained =
            format!("{MINIMAL}covered_by = [\"b\"]\n{second}covered_by = [\"c\"]\n{third}");
        assert!(
            problem(&chained).contains("itself covered"),
            "{}",
            problem(&chained)
        );
        let fine = format!("{MINIMAL}covered_by = [\"b\"]\n{second}");
        assert_eq!(problem(&fine), "accepted");
    }
}
