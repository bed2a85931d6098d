//! Config classification over every Config sample in events/: what each must and must not give.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod common;

use common::sample;
use triage_core::config::{
    ConfigClassifier, ConfigEventError, ConfigOutcome, ConfigRuleCatalog, ConfigSkip,
};
use triage_core::{Finding, Severity, Status};

fn classifier() -> ConfigClassifier {
    // Unknown rules get `low` here, to prove the default is configurable (the function's is medium).
    ConfigClassifier::new(
        ConfigRuleCatalog::shipped().expect("shipped catalog"),
        Severity::Low,
    )
}

fn finding(name: &str) -> Finding {
    match classifier().classify(&sample(name)) {
        Ok(ConfigOutcome::Finding(f)) => *f,
        other => panic!("{name}: expected a finding, got {other:?}"),
    }
}

#[test]
fn every_finding_sample_gives_the_expected_rule_status_and_severity() {
    use Severity::*;
    use Status::*;
    let table = [
        (
            "config-noncompliant-s3-public-read.json",
            "s3-bucket-public-read-prohibited",
            Active,
            Critical,
        ),
        (
            "config-compliant-s3-public-read.json",
            "s3-bucket-public-read-prohibited",
            Resolved,
            Critical,
        ),
        (
            "config-noncompliant-restricted-ssh.json",
            "restricted-ssh",
            Active,
            High,
        ),
        (
            "config-compliant-restricted-ssh.json",
            "restricted-ssh",
            Resolved,
            High,
        ),
        (
            "config-noncompliant-iam-root-access-key.json",
            "iam-root-access-key-check",
            Active,
            Critical,
        ),
        (
            "config-noncompliant-conformance-pack.json",
            "cloudwatch-log-group-encrypted",
            Active,
            Medium,
        ),
        (
            "config-noncompliant-conformance-pack-s3-public-read.json",
            "s3-bucket-public-read-prohibited",
            Active,
            Critical,
        ),
        (
            "config-noncompliant-securityhub-s3.json",
            "s3-bucket-public-read-prohibited",
            Active,
            Critical,
        ),
        (
            "config-compliant-securityhub-first-evaluation.json",
            "iam-inline-policy-blocked-kms-actions",
            Resolved,
            Medium,
        ),
        (
            "config-noncompliant-seed-cloudtrail-log-validation.json",
            "cloud-trail-log-file-validation-enabled",
            Active,
            High,
        ),
        (
            "config-noncompliant-ebs-encryption-by-default.json",
            "ec2-ebs-encryption-by-default",
            Active,
            Medium,
        ),
        (
            "config-noncompliant-unknown-custom-rule.json",
            "acme-required-tags",
            Active,
            Low,
        ),
        (
            "config-noncompliant-huge-annotation.json",
            "s3-bucket-public-write-prohibited",
            Active,
            Critical,
        ),
    ];
    for (file, rule, status, severity) in table {
        let f = finding(file);
        assert_eq!(f.rule_id.as_str(), rule, "{file}: rule");
        assert_eq!(f.status, status, "{file}: status");
        assert_eq!(f.severity, severity, "{file}: severity");
        assert_eq!(f.account.as_str(), "111122223333", "{file}: account");
        assert_eq!(f.count, 1);
        assert!(!f.remediation.is_empty(), "{file}: remediation");
        assert_eq!(f.resources.len(), 1, "{file}: resource");
    }
}

#[test]
fn not_applicable_and_insufficient_data_give_nothing() {
    let c = classifier();
    assert_eq!(
        c.classify(&sample("config-not-applicable-iam-root-access-key.json")),
        Ok(ConfigOutcome::Skipped(ConfigSkip::NotApplicable))
    );
    assert_eq!(
        c.classify(&sample("config-insufficient-data.json")),
        Ok(ConfigOutcome::Skipped(ConfigSkip::InsufficientData))
    );
    assert_eq!(
        c.findings(&sample("config-insufficient-data.json"))
            .map(|f| f.len()),
        Ok(0)
    );
}

#[test]
fn another_config_detail_type_is_skipped_not_an_error() {
    let outcome = classifier().classify(&sample("config-bad-wrong-detail-type.json"));
    assert!(
        matches!(outcome, Ok(ConfigOutcome::Skipped(ConfigSkip::NotAComplianceChange { ref detail_type })) if detail_type.as_str() == "Config Configuration Item Change"),
        "{outcome:?}"
    );
}

#[test]
fn malformed_compliance_changes_are_typed_errors() {
    let c = classifier();
    assert_eq!(
        c.classify(&sample("config-bad-missing-detail.json")),
        Err(ConfigEventError::MissingField("detail"))
    );
    assert!(matches!(
        c.classify(&sample("config-bad-unknown-compliance-type.json")),
        Err(ConfigEventError::UnknownComplianceType(t)) if t.as_str() == "SOMETHING_NEW"
    ));
    assert_eq!(
        c.classify(&serde_json::json!("just a string")),
        Err(ConfigEventError::NotAnObject)
    );
    let mut no_time = sample("config-noncompliant-restricted-ssh.json");
    no_time["detail"]["newEvaluationResult"]["resultRecordedTime"] = serde_json::json!("yesterday");
    assert!(matches!(
        c.classify(&no_time),
        Err(ConfigEventError::BadTimestamp { .. })
    ));
}

#[test]
fn compliant_resolves_the_same_problem_that_non_compliant_opened() {
    for (open, resolve) in [
        (
            "config-noncompliant-s3-public-read.json",
            "config-compliant-s3-public-read.json",
        ),
        (
            "config-noncompliant-restricted-ssh.json",
            "config-compliant-restricted-ssh.json",
        ),
    ] {
        assert_eq!(
            finding(open).fingerprint,
            finding(resolve).fingerprint,
            "{open} / {resolve}"
        );
    }
}

#[test]
fn conformance_pack_and_security_hub_copies_are_the_same_problem_as_the_managed_rule() {
    let managed = finding("config-noncompliant-s3-public-read.json").fingerprint;
    assert_eq!(
        finding("config-noncompliant-conformance-pack-s3-public-read.json").fingerprint,
        managed
    );
    assert_eq!(
        finding("config-noncompliant-securityhub-s3.json").fingerprint,
        managed
    );
}

#[test]
fn the_finding_names_the_resource_rule_annotation_and_config_timeline() {
    let f = finding("config-noncompliant-conformance-pack.json");
    let r = &f.resources[0];
    assert_eq!(r.kind.as_str(), "AWS::Logs::LogGroup");
    assert_eq!(r.id.as_str(), "BadCrowd4");
    assert_eq!(
        r.arn.as_ref().map(|a| a.as_str()),
        Some("arn:aws:logs:ap-southeast-2:111122223333:log-group:BadCrowd4")
    );
    assert_eq!(f.region.as_str(), "ap-southeast-2");
    let details = &f.evidence.details;
    assert_eq!(
        details["annotation"].as_str(),
        "This log group is not encrypted."
    );
    assert_eq!(
        details["config_rule_name"].as_str(),
        "cloudwatch-log-group-encrypted-conformance-pack-6cruwvtg2"
    );
    assert_eq!(
        details["managed_rule_identifier"].as_str(),
        "CLOUDWATCH_LOG_GROUP_ENCRYPTED"
    );
    assert!(
        !details.contains_key("previous_compliance_type"),
        "first evaluation has no old result"
    );
    assert!(f.description.as_str().contains("first evaluation"));
    assert_eq!(
        f.console_url.as_deref(),
        Some(
            "https://ap-southeast-2.console.aws.amazon.com/config/home?region=ap-southeast-2#/timeline/AWS%3A%3ALogs%3A%3ALogGroup/BadCrowd4/configuration"
        )
    );

    let s3 = finding("config-noncompliant-s3-public-read.json");
    assert_eq!(
        s3.resources[0].arn.as_ref().map(|a| a.as_str()),
        Some("arn:aws:s3:::example-public-assets-bucket")
    );
    assert_eq!(
        s3.evidence.details["previous_compliance_type"].as_str(),
        "COMPLIANT"
    );
}

#[test]
fn a_huge_hostile_annotation_is_bounded_and_stripped() {
    let f = finding("config-noncompliant-huge-annotation.json");
    let json = serde_json::to_string(&f).expect("serialise");
    assert!(json.len() < 16 * 1024, "finding is {} bytes", json.len());
    let annotation = f.evidence.details["annotation"].as_str();
    assert!(annotation.chars().count() <= 1024);
    for text in [annotation, f.description.as_str(), f.title.as_str()] {
        assert!(
            !text.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{text:.80}"
        );
    }
}

#[test]
fn the_seed_spellings_and_the_real_managed_rule_names_both_resolve() {
    let catalog = ConfigRuleCatalog::shipped().expect("catalog");
    for (name, identifier) in [
        (
            "cloudtrail-log-file-validation-enabled",
            "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
        ),
        (
            "cloud-trail-log-file-validation-enabled",
            "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
        ),
        (
            "ebs-encrypted-volume-by-default",
            "EC2_EBS_ENCRYPTION_BY_DEFAULT",
        ),
        (
            "ec2-ebs-encryption-by-default",
            "EC2_EBS_ENCRYPTION_BY_DEFAULT",
        ),
        ("restricted-ssh", "INCOMING_SSH_DISABLED"),
        (
            "s3-bucket-public-read-prohibited",
            "S3_BUCKET_PUBLIC_READ_PROHIBITED",
        ),
        (
            "s3-bucket-public-write-prohibited",
            "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
        ),
        ("iam-root-access-key-check", "IAM_ROOT_ACCESS_KEY_CHECK"),
        (
            "mfa-enabled-for-iam-console-access",
            "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS",
        ),
    ] {
        assert_eq!(
            catalog.lookup(name).map(|r| r.identifier.as_str()),
            Some(identifier),
            "{name}"
        );
    }
    assert!(catalog.lookup("acme-required-tags").is_none());
}
