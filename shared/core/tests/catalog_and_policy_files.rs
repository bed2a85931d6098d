//! The shipped data files are valid: a broken file fails these tests, never production.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use triage_core::config::ConfigRuleCatalog;
use triage_core::policy::{PolicyError, SeverityPolicy};
use triage_core::{Finding, Severity};

#[test]
fn the_shipped_config_rule_catalog_is_valid_and_covers_the_seed_and_forty_more() {
    let catalog = ConfigRuleCatalog::shipped().unwrap_or_else(|e| panic!("{e}"));
    let seed: Vec<&str> = catalog
        .rules()
        .iter()
        .filter(|r| r.seed)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        seed,
        [
            "s3-bucket-public-read-prohibited",
            "s3-bucket-public-write-prohibited",
            "restricted-ssh",
            "cloud-trail-log-file-validation-enabled",
            "iam-root-access-key-check",
            "mfa-enabled-for-iam-console-access",
            "ec2-ebs-encryption-by-default",
        ]
    );
    assert!(
        catalog.rules().len() >= 47,
        "{} rules",
        catalog.rules().len()
    );
    for rule in catalog.rules() {
        assert!(
            rule.title.len() <= 120,
            "{}: title too long for a ticket",
            rule.name
        );
        assert!(
            !rule.remediation.contains('\n'),
            "{}: remediation is one line",
            rule.name
        );
    }
}

#[test]
fn the_shipped_severity_policy_is_valid() {
    SeverityPolicy::shipped().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn an_override_changes_severity_by_rule_account_and_resource_first_match_wins() {
    let policy = SeverityPolicy::from_toml(
        r#"
        version = 1
        [[override]]
        source = "config"
        rule = "restricted-ssh"
        account = "444455556666"
        severity = "low"
        reason = "sandbox"
        [[override]]
        resource = "arn:aws:s3:::example-public-*"
        severity = "info"
        reason = "public website buckets"
        [[override]]
        rule = "restricted-*"
        severity = "critical"
        reason = "never reached for the sandbox account"
        "#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let base = sample_finding();
    let mut sandbox = base.clone();
    sandbox.account = triage_core::SafeText::new("444455556666");
    assert_eq!(policy.severity_for(&sandbox), Severity::Low);
    assert_eq!(policy.severity_for(&base), Severity::Critical);

    let mut bucket = base.clone();
    bucket.rule_id = triage_core::SafeText::new("s3-bucket-public-read-prohibited");
    bucket.resources[0].arn = Some(triage_core::SafeText::new(
        "arn:aws:s3:::example-public-site",
    ));
    assert_eq!(policy.severity_for(&bucket), Severity::Info);
}

#[test]
fn invalid_policies_are_rejected_with_the_reason() {
    let cases = [
        ("version = 2", "unsupported version"),
        (
            "version = 1\n[[override]]\nseverity = \"low\"\nreason = \"x\"",
            "matches everything",
        ),
        (
            "version = 1\n[[override]]\nrule = \"x\"\nseverity = \"low\"\nreason = \" \"",
            "no reason",
        ),
        (
            "version = 1\n[[override]]\nrule = \"x\"\nseverity = \"urgent\"\nreason = \"x\"",
            "not valid TOML",
        ),
        (
            "version = 1\n[[override]]\nrules = \"x\"\nseverity = \"low\"\nreason = \"x\"",
            "not valid TOML",
        ),
    ];
    for (text, want) in cases {
        let err: PolicyError = SeverityPolicy::from_toml(text)
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"));
        assert!(err.to_string().contains(want), "{text}: {err}");
    }
}

fn sample_finding() -> Finding {
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/config-noncompliant-restricted-ssh.json"
        ))
        .expect("sample"),
    )
    .expect("json");
    let classifier = triage_core::config::ConfigClassifier::new(
        ConfigRuleCatalog::shipped().expect("catalog"),
        Severity::Medium,
    );
    classifier.findings(&event).expect("finding").remove(0)
}
