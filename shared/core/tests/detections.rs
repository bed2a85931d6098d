//! The detection pack (`rules/detections.toml`): valid, faithful to the seed and to CIS, and
//! every rule's samples behave — through the pattern alone and through the whole detector.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod common;

use std::collections::BTreeSet;

use common::{repo_path, sample};
use triage_core::cloudtrail::{
    CloudTrailDetector, Decoded, Detection, DetectionPack, SEED_DETECTIONS, Sample,
};
use triage_core::{Severity, Source, Status};
use triage_filter_pattern::{Message, catalog};

fn pack() -> DetectionPack {
    DetectionPack::shipped().unwrap_or_else(|e| panic!("{e}"))
}

fn detector() -> CloudTrailDetector {
    CloudTrailDetector::shipped().unwrap_or_else(|e| panic!("{e}"))
}

/// A sample as CloudWatch Logs delivers it: one compact line.
fn sample_text(s: &Sample) -> String {
    match s {
        Sample::Inline(record) => record.clone(),
        Sample::File(name) => sample(name).to_string(),
    }
}

/// Whether the detector reports `rule` for the record: its own finding, or named in the
/// covering finding's `also_matched`.
fn reported(d: &Decoded, rule: &Detection) -> bool {
    d.findings.iter().any(|f| {
        f.rule_id.as_str() == rule.id
            || f.evidence.details.get("also_matched").is_some_and(|a| {
                a.as_str()
                    .split(", ")
                    .any(|n| n.split(' ').next() == Some(&rule.id))
            })
    })
}

#[test]
fn the_shipped_pack_is_valid_and_holds_the_seed_and_the_cis_set() {
    let pack = pack();
    let ids: Vec<&str> = pack.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[..3], SEED_DETECTIONS, "the seed's three come first");
    let cis: BTreeSet<&str> = pack
        .rules()
        .iter()
        .filter_map(|r| r.cis_id.as_deref())
        .collect();
    let mut want: BTreeSet<String> = (1..=14).map(|n| format!("CloudWatch.{n}")).collect();
    want.insert("CIS-1.4-4.1".into());
    want.insert("CIS-1.4-4.15".into());
    assert_eq!(
        cis,
        want.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "the CIS monitoring set, each control once"
    );
    assert!(
        pack.get("console-signin-failure").is_some(),
        "console sign-in failures"
    );
    for id in ["intake-logs-tampering", "intake-events-tampering"] {
        assert!(
            pack.get(id).is_some(),
            "{id}: triage's own intake is watched"
        );
    }
    assert_eq!(pack.rules().len(), 22);
}

#[test]
fn the_seed_detections_have_exactly_the_seeds_patterns_and_severities() {
    let pack = pack();
    let want = [
        (
            "root-account-usage",
            catalog::SEED_ROOT_USAGE,
            Severity::Critical,
        ),
        (
            "unauthorized-api-calls",
            catalog::SEED_UNAUTHORIZED_API_CALLS,
            Severity::High,
        ),
        (
            "console-signin-without-mfa",
            catalog::SEED_CONSOLE_LOGIN_WITHOUT_MFA,
            Severity::Critical,
        ),
    ];
    for (id, pattern, severity) in want {
        let rule = pack.get(id).expect(id);
        assert_eq!(
            rule.pattern.source(),
            pattern,
            "{id}: the seed's exact string"
        );
        assert_eq!(rule.severity, severity, "{id}");
        assert!(rule.covered_by.is_empty(), "{id} always reports");
    }
}

#[test]
fn the_cis_rules_use_the_exact_strings_security_hub_checks_for() {
    let pack = pack();
    for rule in pack.rules() {
        let Some(cis) = rule.cis_id.as_deref() else {
            continue;
        };
        let (_, want) = catalog::CIS
            .iter()
            .find(|(id, _)| *id == cis)
            .unwrap_or_else(|| panic!("{}: {cis} is not in the catalog", rule.id));
        assert_eq!(rule.pattern.source(), *want, "{}", rule.id);
    }
}

#[test]
fn every_rule_is_documented_and_reasoned() {
    for rule in pack().rules() {
        for (field, text) in [
            ("title", &rule.title),
            ("rationale", &rule.rationale),
            ("description", &rule.description),
            ("remediation", &rule.remediation),
        ] {
            assert!(text.len() >= 5, "{}: {field} too short", rule.id);
        }
        assert!(
            rule.rationale.len() >= 60,
            "{}: the rationale must say why this severity",
            rule.id
        );
        assert!(
            (1..=10080).contains(&rule.dedup_window_minutes),
            "{}",
            rule.id
        );
    }
}

#[test]
fn every_rule_matches_its_must_match_samples_and_not_its_must_not_match_samples() {
    let pack = pack();
    let detector = detector();
    let mut checked = 0;
    for rule in pack.rules() {
        for (samples, want) in [(&rule.must_match, true), (&rule.must_not_match, false)] {
            for s in samples {
                let text = sample_text(s);
                assert_eq!(
                    rule.pattern.matches_message(&Message::new(&text)),
                    want,
                    "{}: pattern on {s}",
                    rule.id
                );
                let d = detector.detect_message(&text);
                assert_eq!(
                    d.cloudtrail_records, 1,
                    "{}: {s} is not a CloudTrail record",
                    rule.id
                );
                assert_eq!(reported(&d, rule), want, "{}: detector on {s}", rule.id);
                checked += 1;
            }
        }
    }
    assert!(checked >= 80, "{checked} sample checks");
}

#[test]
fn every_sample_file_named_by_a_rule_exists() {
    for rule in pack().rules() {
        for s in rule.must_match.iter().chain(&rule.must_not_match) {
            if let Sample::File(name) = s {
                assert!(
                    repo_path("events").join(name).is_file(),
                    "{}: events/{name} does not exist",
                    rule.id
                );
            }
        }
    }
}

/// What each single-record sample in events/ gives: (file, findings' rule ids, covered rules).
const RECORDS: &[(&str, &[&str], &[&str])] = &[
    (
        "cloudtrail-access-denied-assumed-role.json",
        &["unauthorized-api-calls", "cis-organizations-changes"],
        &[
            "cis-unauthorized-api-calls",
            "cis-unauthorized-api-calls-filtered",
        ],
    ),
    (
        "cloudtrail-access-denied-delivery-logs.json",
        &["unauthorized-api-calls"],
        &["cis-unauthorized-api-calls"],
    ),
    (
        "cloudtrail-access-denied-iam-user.json",
        &["unauthorized-api-calls"],
        &[
            "cis-unauthorized-api-calls",
            "cis-unauthorized-api-calls-filtered",
        ],
    ),
    ("cloudtrail-assume-role-success.json", &[], &[]),
    (
        "cloudtrail-assumed-role-sso-invoked-by-servicecatalog.json",
        &[],
        &[],
    ),
    (
        "cloudtrail-attach-user-policy.json",
        &["cis-iam-policy-changes"],
        &[],
    ),
    (
        "cloudtrail-authorize-security-group-ingress.json",
        &["cis-security-group-changes"],
        &[],
    ),
    ("cloudtrail-aws-service-event-sso-federate.json", &[], &[]),
    (
        "cloudtrail-config-stop-configuration-recorder.json",
        &["cis-config-changes"],
        &[],
    ),
    (
        "cloudtrail-ec2-attach-internet-gateway.json",
        &["cis-network-gateway-changes"],
        &[],
    ),
    (
        "cloudtrail-ec2-create-network-acl-entry.json",
        &["cis-nacl-changes"],
        &[],
    ),
    (
        "cloudtrail-ec2-create-route.json",
        &["cis-route-table-changes"],
        &[],
    ),
    ("cloudtrail-ec2-create-vpc.json", &["cis-vpc-changes"], &[]),
    ("cloudtrail-ec2-start-instances.json", &[], &[]),
    (
        "cloudtrail-error-trail-not-found.json",
        &["cis-cloudtrail-config-changes"],
        &[],
    ),
    (
        "cloudtrail-head-bucket-access-denied.json",
        &["unauthorized-api-calls"],
        &["cis-unauthorized-api-calls"],
    ),
    (
        "cloudtrail-iam-put-role-policy.json",
        &["cis-iam-policy-changes"],
        &[],
    ),
    ("cloudtrail-iam-user-check-mfa.json", &[], &[]),
    (
        "cloudtrail-iam-user-console-login-failure.json",
        &["console-signin-failure"],
        &["cis-console-auth-failures"],
    ),
    ("cloudtrail-iam-user-console-login-mfa.json", &[], &[]),
    (
        "cloudtrail-iam-user-console-login-no-mfa-stratus.json",
        &["console-signin-without-mfa"],
        &["cis-console-signin-without-mfa"],
    ),
    (
        "cloudtrail-iam-user-console-login-no-mfa.json",
        &["console-signin-without-mfa"],
        &["cis-console-signin-without-mfa"],
    ),
    ("cloudtrail-insight-event.json", &[], &[]),
    (
        "cloudtrail-kms-schedule-key-deletion.json",
        &["cis-cmk-disable-or-delete"],
        &[],
    ),
    (
        "cloudtrail-organizations-detach-policy.json",
        &["cis-organizations-changes"],
        &[],
    ),
    ("cloudtrail-root-api-call-invoked-by-service.json", &[], &[]),
    (
        "cloudtrail-root-api-call.json",
        &["root-account-usage"],
        &["cis-root-account-usage"],
    ),
    ("cloudtrail-root-aws-service-event.json", &[], &[]),
    (
        "cloudtrail-root-console-login-failure.json",
        &["root-account-usage", "console-signin-failure"],
        &["cis-root-account-usage", "cis-console-auth-failures"],
    ),
    (
        "cloudtrail-root-console-login-mfa.json",
        &["root-account-usage"],
        &["cis-root-account-usage"],
    ),
    (
        "cloudtrail-root-console-login-no-mfa.json",
        &["root-account-usage", "console-signin-without-mfa"],
        &["cis-root-account-usage"],
    ),
    (
        "cloudtrail-s3-put-bucket-policy.json",
        &["cis-s3-bucket-policy-changes"],
        &[],
    ),
    (
        "cloudtrail-stop-logging.json",
        &["cis-cloudtrail-config-changes"],
        &[],
    ),
    (
        "cloudtrail-unauthorized-operation-assumed-role.json",
        &["unauthorized-api-calls"],
        &[
            "cis-unauthorized-api-calls",
            "cis-unauthorized-api-calls-filtered",
        ],
    ),
];

#[test]
fn every_cloudtrail_sample_in_events_gives_exactly_its_expected_findings() {
    let detector = detector();
    let mut files: Vec<String> = std::fs::read_dir(repo_path("events"))
        .expect("events/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cloudtrail-") && n.ends_with(".json"))
        .collect();
    files.sort();
    let rows: Vec<&str> = RECORDS.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(
        files, rows,
        "every cloudtrail-*.json has a row, and every row a file"
    );
    for (name, findings, covered) in RECORDS {
        let d = detector.detect_records([&sample(name)]);
        assert_eq!(d.cloudtrail_records, 1, "{name}");
        let got: Vec<&str> = d.findings.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(got, *findings, "{name}");
        assert_eq!(d.covered, covered.len(), "{name}");
        let mut also: Vec<String> = d
            .findings
            .iter()
            .filter_map(|f| f.evidence.details.get("also_matched"))
            .flat_map(|a| {
                a.as_str()
                    .split(", ")
                    .filter_map(|n| n.split(' ').next())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        also.sort();
        also.dedup();
        let mut want: Vec<&str> = covered.to_vec();
        want.sort_unstable();
        assert_eq!(also, want, "{name}: also_matched");
        for f in &d.findings {
            assert_eq!(
                (f.source, f.status, f.count),
                (Source::Cloudtrail, Status::Active, 1)
            );
        }
    }
}

#[test]
fn metric_filters_are_unique_and_carry_the_rule_files_pattern_strings() {
    let pack = pack();
    let filters = pack.metric_filters();
    assert_eq!(filters.len(), pack.rules().len());
    let names: BTreeSet<(&str, &str)> = filters
        .iter()
        .map(|f| (f.metric_namespace, f.metric_name))
        .collect();
    assert_eq!(names.len(), filters.len());
    for f in &filters {
        assert!(f.pattern.len() <= 1024, "{}", f.rule_id);
        assert_eq!(
            f.pattern,
            pack.get(f.rule_id).expect("rule").pattern.source()
        );
    }
    // The seed's metric names are ones the alarm policy maps back to the detections.
    let seed: Vec<(&str, &str)> = filters[..3]
        .iter()
        .map(|f| (f.rule_id, f.metric_name))
        .collect();
    assert_eq!(
        seed,
        [
            ("root-account-usage", "RootAccountUsageCount"),
            ("unauthorized-api-calls", "UnauthorizedAPICallsCount"),
            ("console-signin-without-mfa", "ConsoleSigninWithoutMFACount"),
        ]
    );
}

#[test]
fn the_alarm_policy_knows_every_seed_detection_with_the_same_severity() {
    let policy =
        triage_core::alarm::AlarmPolicy::from_toml(triage_core::alarm::ALARM_SEVERITY_TOML)
            .expect("alarm policy");
    let pack = pack();
    for id in SEED_DETECTIONS {
        let detection = policy
            .detection(id)
            .unwrap_or_else(|| panic!("alarm policy has no [[detection]] {id}"));
        assert_eq!(detection.severity, pack.get(id).expect(id).severity, "{id}");
    }
}
