//! The catalog of AWS Config managed rules triage knows (`rules/config-rules.toml`), and the
//! normalisation of deployed rule names to managed-rule names.

use std::collections::HashMap;

use serde::Deserialize;

use crate::severity::Severity;

/// The catalog shipped with the code (compiled in, validated by the tests).
pub const CONFIG_RULES_TOML: &str = include_str!("../../../../rules/config-rules.toml");

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("config rule catalog is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("config rule catalog: rule {name:?}: {problem}")]
    Invalid { name: String, problem: String },
}

/// One AWS Config managed rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedRule {
    /// The rule name AWS Config deploys it under by default, e.g. `restricted-ssh`.
    pub name: String,
    /// The managed rule's source identifier, e.g. `INCOMING_SSH_DISABLED`.
    pub identifier: String,
    /// Other names that mean this rule (e.g. the seed's `cloudtrail-log-file-validation-enabled`).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub severity: Severity,
    /// The non-compliant state, in a few words: a ticket title.
    pub title: String,
    /// Why this severity.
    pub rationale: String,
    pub remediation: String,
    /// One of the seed baseline's seven rules.
    #[serde(default)]
    pub seed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(rename = "rule")]
    rules: Vec<ManagedRule>,
}

/// Managed rules, looked up by name, alias or identifier.
#[derive(Debug, Clone)]
pub struct ConfigRuleCatalog {
    rules: Vec<ManagedRule>,
    index: HashMap<String, usize>,
}

impl ConfigRuleCatalog {
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        let mut index = HashMap::new();
        for (i, rule) in file.rules.iter().enumerate() {
            let invalid = |problem: &str| CatalogError::Invalid {
                name: rule.name.clone(),
                problem: problem.to_owned(),
            };
            if rule.name.is_empty() || rule.name != rule.name.to_ascii_lowercase() {
                return Err(invalid("name must be non-empty lower-case"));
            }
            if rule.identifier.is_empty()
                || !rule
                    .identifier
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(invalid("identifier must be UPPER_SNAKE_CASE"));
            }
            for field in [&rule.title, &rule.rationale, &rule.remediation] {
                if field.trim().is_empty() {
                    return Err(invalid("title, rationale and remediation are required"));
                }
            }
            let keys = std::iter::once(rule.name.clone())
                .chain(rule.aliases.iter().cloned())
                .chain(std::iter::once(rule.identifier.clone()));
            for key in keys {
                if index.insert(key.clone(), i).is_some_and(|other| other != i) {
                    return Err(invalid(&format!("{key:?} is used by another rule")));
                }
            }
        }
        Ok(ConfigRuleCatalog {
            rules: file.rules,
            index,
        })
    }

    /// The shipped catalog.
    pub fn shipped() -> Result<Self, CatalogError> {
        Self::from_toml(CONFIG_RULES_TOML)
    }

    pub fn rules(&self) -> &[ManagedRule] {
        &self.rules
    }

    /// The managed rule behind a deployed rule name, if triage knows it.
    pub fn lookup(&self, deployed_name: &str) -> Option<&ManagedRule> {
        let normalised = normalise_rule_name(deployed_name);
        self.index
            .get(normalised)
            .or_else(|| self.index.get(&normalised.to_ascii_lowercase()))
            .and_then(|&i| self.rules.get(i))
    }
}

/// Strips the decorations AWS adds when a managed rule is deployed for someone else:
/// conformance packs deploy `<rule>-conformance-pack-<9 lower-case alphanumerics>`, Security Hub
/// deploys `securityhub-<rule>-<8 hex digits>`, an organization Config rule appears in each
/// member account as `OrgConfigRule-<rule>-<8 lower-case alphanumerics>`. Anything else is
/// returned unchanged.
pub fn normalise_rule_name(deployed: &str) -> &str {
    if let Some((rule, suffix)) = deployed
        .strip_prefix("OrgConfigRule-")
        .and_then(|rest| rest.rsplit_once('-'))
    {
        if !rule.is_empty()
            && suffix.len() == 8
            && suffix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return rule;
        }
    }
    if let Some((rule, suffix)) = deployed.rsplit_once("-conformance-pack-")
        && !rule.is_empty()
        && suffix.len() == 9
        && suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return rule;
    }
    if let Some(rest) = deployed.strip_prefix("securityhub-")
        && let Some((rule, suffix)) = rest.rsplit_once('-')
        && !rule.is_empty()
        && suffix.len() == 8
        && suffix.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return rule;
    }
    deployed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance_pack_and_security_hub_names_map_to_the_managed_rule() {
        let cases = [
            (
                "cloudwatch-log-group-encrypted-conformance-pack-6cruwvtg2",
                "cloudwatch-log-group-encrypted",
            ),
            (
                "s3-bucket-public-read-prohibited-conformance-pack-abcde1234",
                "s3-bucket-public-read-prohibited",
            ),
            (
                "securityhub-iam-inline-policy-blocked-kms-actions-baa2cf8c",
                "iam-inline-policy-blocked-kms-actions",
            ),
            (
                "securityhub-s3-bucket-public-read-prohibited-0a1b2c3d",
                "s3-bucket-public-read-prohibited",
            ),
            ("restricted-ssh", "restricted-ssh"),
            // SeedConfigRules=organization: the organization rule's copy in a member account
            (
                "OrgConfigRule-s3-bucket-public-read-prohibited-7ugp5ovr",
                "s3-bucket-public-read-prohibited",
            ),
            (
                "OrgConfigRule-restricted-ssh-abc",
                "OrgConfigRule-restricted-ssh-abc",
            ),
            // not the decoration's shape: left alone
            (
                "my-rule-conformance-pack-short",
                "my-rule-conformance-pack-short",
            ),
            (
                "securityhub-custom-rule-notahexx",
                "securityhub-custom-rule-notahexx",
            ),
            ("-conformance-pack-abcdefghi", "-conformance-pack-abcdefghi"),
        ];
        for (deployed, want) in cases {
            assert_eq!(normalise_rule_name(deployed), want, "{deployed}");
        }
    }

    #[test]
    fn a_catalog_with_a_duplicate_name_is_rejected() {
        let toml = r#"
            [[rule]]
            name = "a"
            identifier = "A"
            severity = "low"
            title = "t"
            rationale = "r"
            remediation = "m"
            [[rule]]
            name = "b"
            identifier = "B"
            aliases = ["a"]
            severity = "low"
            title = "t"
            rationale = "r"
            remediation = "m"
        "#;
        assert!(matches!(
            ConfigRuleCatalog::from_toml(toml),
            Err(CatalogError::Invalid { .. })
        ));
    }
}
