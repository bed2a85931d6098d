//! The three shapes against the samples in `events/`, and hostile input.

use serde_json::{Value, json};

use super::*;
use crate::text::is_hostile;

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The function's clock in these tests: after every sample's versions.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn classifier() -> HubClassifier {
    HubClassifier::new(ConfigControls::Skip, Severity::Medium)
}

fn one(name: &str) -> Finding {
    let outcome = classifier().classify(&sample(name), now()).expect(name);
    assert_eq!(outcome.findings.len(), 1, "{name}: {outcome:?}");
    outcome.findings.into_iter().next().expect("one")
}

fn detail<'a>(f: &'a Finding, name: &str) -> Option<&'a str> {
    f.evidence.details.get(name).map(SafeText::as_str)
}

use Severity::{Critical, High, Info, Low, Medium};
use Source::{Guardduty, Securityhub};
use Status::{Active, Resolved};

/// Every GuardDuty and Security Hub sample, with what it gives: (source, rule, severity,
/// status) per finding, then the number of skips and of unreadable findings.
#[allow(clippy::type_complexity)]
const EXPECTED: [(&str, &[(Source, &str, Severity, Status)], usize, usize); 22] = [
    (
        "guardduty-credential-exfiltration.json",
        &[(Guardduty, EXFILTRATION, High, Active)],
        0,
        0,
    ),
    (
        "guardduty-credential-exfiltration-repeat.json",
        &[(Guardduty, EXFILTRATION, High, Active)],
        0,
        0,
    ),
    (
        "guardduty-credential-exfiltration-archived.json",
        &[(Guardduty, EXFILTRATION, High, Resolved)],
        0,
        0,
    ),
    (
        "guardduty-ssh-brute-force.json",
        &[(
            Guardduty,
            "UnauthorizedAccess:EC2/SSHBruteForce",
            Low,
            Active,
        )],
        0,
        0,
    ),
    (
        "guardduty-attack-sequence-critical.json",
        &[(
            Guardduty,
            "AttackSequence:IAM/CompromisedCredentials",
            Critical,
            Active,
        )],
        0,
        0,
    ),
    ("guardduty-bad-missing-id.json", &[], 0, 1),
    (
        "securityhub-guardduty-credential-exfiltration.json",
        &[(Guardduty, EXFILTRATION, High, Active)],
        0,
        0,
    ),
    (
        "securityhub-inspector-cve.json",
        &[(Securityhub, CVE, High, Active)],
        0,
        0,
    ),
    (
        "securityhub-inspector-cve-resolved.json",
        &[(Securityhub, CVE, High, Resolved)],
        0,
        0,
    ),
    (
        "securityhub-macie-sensitive-data.json",
        &[(Securityhub, MACIE, Medium, Active)],
        0,
        0,
    ),
    (
        "securityhub-access-analyzer-external-access.json",
        &[(Securityhub, EXTERNAL_ACCESS, Low, Active)],
        0,
        0,
    ),
    // A resolve reaches at least the ticket threshold (medium by default).
    (
        "securityhub-access-analyzer-external-access-suppressed.json",
        &[(Securityhub, EXTERNAL_ACCESS, Medium, Resolved)],
        0,
        0,
    ),
    ("securityhub-control-config-backed-failed.json", &[], 1, 0),
    (
        "securityhub-control-periodic-failed.json",
        &[(Securityhub, "CloudWatch.1", Low, Active)],
        0,
        0,
    ),
    // Security Hub calls a passed control informational: raised to the ticket threshold.
    (
        "securityhub-control-periodic-passed.json",
        &[(Securityhub, "CloudWatch.1", Medium, Resolved)],
        0,
        0,
    ),
    (
        "securityhub-batch-three-products.json",
        &[
            (Securityhub, CVE, High, Active),
            (Securityhub, MACIE, Medium, Active),
            (Guardduty, "Recon:IAMUser/MaliciousIPCaller", Medium, Active),
        ],
        0,
        0,
    ),
    (
        "securityhub-v2-guardduty-credential-exfiltration.json",
        &[(Guardduty, EXFILTRATION, High, Active)],
        0,
        0,
    ),
    (
        "securityhub-v2-compliance-failed.json",
        &[(Securityhub, "CloudWatch.1", Low, Active)],
        0,
        0,
    ),
    (
        "securityhub-v2-compliance-passed.json",
        &[(Securityhub, "CloudWatch.1", Medium, Resolved)],
        0,
        0,
    ),
    (
        "securityhub-v2-vulnerability.json",
        &[(Securityhub, CVE, High, Active)],
        0,
        0,
    ),
    ("securityhub-other-detail-type.json", &[], 1, 0),
    ("securityhub-bad-findings-not-array.json", &[], 0, 0),
];
const EXFILTRATION: &str = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS";
const CVE: &str = "Software and Configuration Checks/Vulnerabilities/CVE";
const MACIE: &str = "Sensitive Data Identifications/PII/SensitiveData:S3Object-Personal";
const EXTERNAL_ACCESS: &str =
    "Software and Configuration Checks/AWS Security Best Practices/External Access Granted";

#[test]
fn every_sample_gives_what_events_readme_says() {
    let dir = format!("{}/../../events", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("events/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("guardduty-") || n.starts_with("securityhub-"))
        .collect();
    names.sort();
    let mut listed: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    listed.sort_unstable();
    assert_eq!(
        names, listed,
        "every sample is listed here, and only samples"
    );

    for (name, findings, skipped, invalid) in EXPECTED {
        let event = sample(name);
        assert!(HubClassifier::accepts(&event) || skipped == 1, "{name}");
        let outcome = match classifier().classify(&event, now()) {
            Ok(o) => o,
            Err(e) => {
                assert_eq!(
                    name, "securityhub-bad-findings-not-array.json",
                    "{name}: {e}"
                );
                assert_eq!(e, HubEventError::FindingsNotAList(ASFF_DETAIL_TYPE));
                continue;
            }
        };
        let got: Vec<_> = outcome
            .findings
            .iter()
            .map(|f| (f.source, f.rule_id.as_str(), f.severity, f.status))
            .collect();
        assert_eq!(got, findings, "{name}");
        assert_eq!(
            outcome.skipped.len(),
            skipped,
            "{name}: {:?}",
            outcome.skipped
        );
        assert_eq!(
            outcome.invalid.len(),
            invalid,
            "{name}: {:?}",
            outcome.invalid
        );
        for f in &outcome.findings {
            assert!(f.product().is_some(), "{name}");
            assert!(f.console_url.is_some(), "{name}: a link to the finding");
            assert!(f.first_seen <= f.last_seen, "{name}");
            assert_eq!(f.count, 1, "{name}: one version, one occurrence");
        }
    }
}

#[test]
fn one_guardduty_finding_has_one_fingerprint_on_all_three_paths() {
    let direct = one("guardduty-credential-exfiltration.json");
    let asff = one("securityhub-guardduty-credential-exfiltration.json");
    let ocsf = one("securityhub-v2-guardduty-credential-exfiltration.json");
    for other in [&asff, &ocsf] {
        assert_eq!(other.fingerprint, direct.fingerprint);
        assert_eq!(
            (other.source, &other.rule_id, other.severity),
            (direct.source, &direct.rule_id, direct.severity)
        );
        // The same version: the dedup state drops the second path as not newer.
        assert_eq!(other.last_seen, direct.last_seen);
        assert_eq!(other.evidence.actor_arn, direct.evidence.actor_arn);
        assert_eq!(other.evidence.source_ip, direct.evidence.source_ip);
        assert_eq!(other.console_url, direct.console_url);
    }
    let repeat = one("guardduty-credential-exfiltration-repeat.json");
    assert_eq!(repeat.fingerprint, direct.fingerprint);
    assert!(repeat.last_seen > direct.last_seen, "a newer version");
    assert_eq!(detail(&repeat, "provider_count"), Some("6"));
    assert_ne!(
        one("guardduty-ssh-brute-force.json").fingerprint,
        direct.fingerprint
    );
}

#[test]
fn a_finding_in_asff_and_in_ocsf_has_one_fingerprint() {
    for (asff, ocsf) in [
        (
            "securityhub-control-periodic-failed.json",
            "securityhub-v2-compliance-failed.json",
        ),
        (
            "securityhub-control-periodic-passed.json",
            "securityhub-v2-compliance-passed.json",
        ),
        (
            "securityhub-inspector-cve.json",
            "securityhub-v2-vulnerability.json",
        ),
    ] {
        let (a, o) = (one(asff), one(ocsf));
        assert_eq!(a.fingerprint, o.fingerprint, "{asff} / {ocsf}");
        assert_eq!((a.rule_id, a.status), (o.rule_id, o.status), "{asff}");
    }
}

#[test]
fn the_evidence_names_type_product_resource_actor_ip_times_count_and_links_the_finding() {
    let f = one("guardduty-credential-exfiltration-repeat.json");
    assert_eq!(detail(&f, "product"), Some("GuardDuty"));
    assert_eq!(detail(&f, "finding_type"), Some(EXFILTRATION));
    assert_eq!(
        f.evidence.actor_arn.as_ref().map(SafeText::as_str),
        Some("app-server-role")
    );
    assert_eq!(
        f.evidence.source_ip.as_ref().map(SafeText::as_str),
        Some("198.51.100.23")
    );
    assert_eq!(detail(&f, "remote_ip_country"), Some("Netherlands"));
    assert_eq!(
        detail(&f, "first_observed_at"),
        Some("2025-03-14T02:36:44Z")
    );
    assert!(detail(&f, "last_observed_at").is_some());
    assert_eq!(
        (
            f.evidence.event_source.as_ref(),
            f.evidence.event_name.as_ref()
        )
            .1
            .map(SafeText::as_str),
        Some("GetObject")
    );
    assert_eq!(f.resources[0].kind.as_str(), "AWS::IAM::AccessKey");
    assert_eq!(f.resources[0].id.as_str(), "ASIASZ2EXAMPLEK7QHDL");
    assert_eq!(
        f.console_url.as_deref(),
        Some(
            "https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=60c8a1f3b2d47e9c0a6f1b3d5example"
        )
    );

    let ssh = one("guardduty-ssh-brute-force.json");
    assert_eq!(
        ssh.resources[0].arn.as_ref().map(SafeText::as_str),
        Some("arn:aws:ec2:us-east-1:111122223333:instance/i-99999999")
    );
    assert_eq!(detail(&ssh, "provider_count"), Some("37"));

    let cve = one("securityhub-inspector-cve.json");
    assert_eq!(detail(&cve, "product"), Some("Inspector"));
    assert_eq!(detail(&cve, "vulnerability_id"), Some("CVE-2023-4911"));
    assert!(
        cve.console_url
            .as_deref()
            .is_some_and(|u| u.contains("/securityhub/home"))
    );
}

#[test]
fn a_control_a_config_rule_evaluates_is_left_to_config_classifier_unless_asked() {
    let event = sample("securityhub-control-config-backed-failed.json");
    let skipped = classifier().classify(&event, now()).expect("event");
    assert!(skipped.findings.is_empty());
    assert_eq!(
        skipped.skipped,
        [HubSkip::ConfigBackedControl {
            config_rule: SafeText::new("securityhub-s3-bucket-public-read-prohibited-9f1c2b3a")
        }]
    );
    let ticket = HubClassifier::new(ConfigControls::Ticket, Severity::Medium)
        .classify(&event, now())
        .expect("event");
    assert_eq!(ticket.findings.len(), 1);
    let f = &ticket.findings[0];
    assert_eq!((f.rule_id.as_str(), f.severity), ("S3.2", Critical));
    assert_eq!(
        detail(f, "config_rule_name"),
        Some("securityhub-s3-bucket-public-read-prohibited-9f1c2b3a")
    );

    // OCSF names the rule as the finding's analytic.
    let mut v2 = sample("securityhub-v2-compliance-failed.json");
    v2["detail"]["findings"][0]["finding_info"]["analytic"] = json!({
        "category": "AWS::Config::ConfigRule",
        "name": "securityhub-root-account-mfa-enabled-1a2b3c4d",
        "type": "Rule",
        "type_id": 1
    });
    let v2 = classifier().classify(&v2, now()).expect("event");
    assert!(v2.findings.is_empty());
    assert!(matches!(
        v2.skipped[..],
        [HubSkip::ConfigBackedControl { .. }]
    ));
}

#[test]
fn a_control_that_could_not_be_evaluated_gives_nothing() {
    let mut asff = sample("securityhub-control-periodic-failed.json");
    asff["detail"]["findings"][0]["Compliance"]["Status"] = json!("NOT_AVAILABLE");
    let mut ocsf = sample("securityhub-v2-compliance-failed.json");
    ocsf["detail"]["findings"][0]["compliance"]["status_id"] = json!(0);
    for event in [asff.clone(), ocsf.clone()] {
        let o = classifier().classify(&event, now()).expect("event");
        assert_eq!(
            (o.findings.len(), &o.skipped[..]),
            (0, &[HubSkip::NotEvaluated][..])
        );
    }
    // A control no longer evaluated because its resource is gone is archived: that resolves.
    asff["detail"]["findings"][0]["RecordState"] = json!("ARCHIVED");
    ocsf["detail"]["findings"][0]["status_id"] = json!(5);
    for event in [asff, ocsf] {
        assert_eq!(one_of(&event).status, Resolved);
    }
}

#[test]
fn every_resolve_reaches_at_least_the_ticket_threshold_and_an_open_keeps_its_severity() {
    let passed = sample("securityhub-control-periodic-passed.json");
    let high = classifier()
        .with_resolve_floor(High)
        .classify(&passed, now())
        .expect("event");
    assert_eq!(high.findings[0].severity, High, "INFORMATIONAL on passing");
    let failed = classifier()
        .with_resolve_floor(High)
        .classify(&sample("securityhub-control-periodic-failed.json"), now())
        .expect("event");
    assert_eq!(
        failed.findings[0].severity, Low,
        "an open keeps its severity"
    );
    let archived = sample("guardduty-credential-exfiltration-archived.json");
    for (floor, want) in [(Critical, Critical), (Medium, High)] {
        let o = classifier()
            .with_resolve_floor(floor)
            .classify(&archived, now())
            .expect("event");
        assert_eq!(o.findings[0].severity, want, "floor {floor}");
    }
}

/// What someone inside an account can put in Security Hub (`BatchImportFindings` with its own
/// product) never reaches the ticket of another product's finding nor passes for GuardDuty, and
/// a far-future `UpdatedAt` cannot outrank the real versions.
#[test]
fn an_imported_finding_cannot_take_over_another_products_ticket_or_the_future() {
    let inspector = one("securityhub-inspector-cve.json");
    let guardduty = one("securityhub-guardduty-credential-exfiltration.json");
    for (copied, product) in [
        ("securityhub-inspector-cve.json", "Inspector"),
        (
            "securityhub-guardduty-credential-exfiltration.json",
            "GuardDuty",
        ),
    ] {
        let mut forged = sample(copied);
        let f = &mut forged["detail"]["findings"][0];
        f["ProductArn"] =
            json!("arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default");
        f["ProductName"] = json!(product);
        f["RecordState"] = json!("ARCHIVED");
        f["UpdatedAt"] = json!("2099-01-01T00:00:00Z");
        let forged = one_of(&forged);
        assert_eq!(
            forged.source, Securityhub,
            "{copied}: not GuardDuty by its name"
        );
        assert_ne!(forged.fingerprint, inspector.fingerprint, "{copied}");
        assert_ne!(forged.fingerprint, guardduty.fingerprint, "{copied}");
        assert_eq!(forged.last_seen, now(), "a future version is taken as now");
        assert_eq!(
            detail(&forged, "provider_updated_at"),
            Some("2099-01-01T00:00:00.000Z")
        );
    }
    // The provider's link survives only when it is AWS documentation.
    let mut linked = sample("securityhub-macie-sensitive-data.json");
    linked["detail"]["findings"][0]["Remediation"] = json!({"Recommendation":
        {"Text": "Review the bucket.", "Url": "https://evil.example/fix"}});
    assert_eq!(one_of(&linked).remediation.as_str(), "Review the bucket.");
    linked["detail"]["findings"][0]["Remediation"]["Recommendation"]["Url"] =
        json!("https://docs.aws.amazon.com/macie/latest/user/findings.html");
    assert!(
        one_of(&linked)
            .remediation
            .as_str()
            .ends_with("findings.html")
    );
}

/// A GuardDuty finding closes when GuardDuty archives it, on every path; Security Hub's
/// workflow on it (which GuardDuty's own events never carry) would make the paths disagree.
#[test]
fn a_guardduty_finding_resolves_by_archiving_not_by_security_hubs_workflow() {
    let mut asff = sample("securityhub-guardduty-credential-exfiltration.json");
    asff["detail"]["findings"][0]["Workflow"]["Status"] = json!("SUPPRESSED");
    assert_eq!(one_of(&asff).status, Active);
    asff["detail"]["findings"][0]["RecordState"] = json!("ARCHIVED");
    assert_eq!(one_of(&asff).status, Resolved);
    let mut ocsf = sample("securityhub-v2-guardduty-credential-exfiltration.json");
    for (status_id, want) in [(3, Active), (4, Active), (5, Resolved), (6, Resolved)] {
        ocsf["detail"]["findings"][0]["status_id"] = json!(status_id);
        assert_eq!(one_of(&ocsf).status, want, "status_id {status_id}");
    }
    // Any other product follows the workflow.
    let mut inspector = sample("securityhub-inspector-cve.json");
    inspector["detail"]["findings"][0]["Workflow"]["Status"] = json!("SUPPRESSED");
    assert_eq!(one_of(&inspector).status, Resolved);
}

fn one_of(event: &Value) -> Finding {
    let mut o = classifier().classify(event, now()).expect("event");
    assert_eq!(o.findings.len(), 1, "{o:?}");
    o.findings.remove(0)
}

#[test]
fn guardduty_types_come_back_from_their_asff_form() {
    for (asff, kind) in [
        (
            "Effects/Data Exfiltration/UnauthorizedAccess:IAMUser-InstanceCredentialExfiltration.OutsideAWS",
            Some("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"),
        ),
        (
            "TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce",
            Some("UnauthorizedAccess:EC2/SSHBruteForce"),
        ),
        (
            "TTPs/Command and Control/CryptoCurrency:EC2-BitcoinTool.B!DNS",
            Some("CryptoCurrency:EC2/BitcoinTool.B!DNS"),
        ),
        (
            "TTPs/AttackSequence:IAM/CompromisedCredentials",
            Some("AttackSequence:IAM/CompromisedCredentials"),
        ),
        (
            "Software and Configuration Checks/Vulnerabilities/CVE",
            None,
        ),
        ("Weird:-", None),
    ] {
        assert_eq!(guardduty_type_from_asff(asff).as_deref(), kind, "{asff}");
    }
}

#[test]
fn severities_follow_guardduty_bands_asff_labels_and_ocsf_ids() {
    for (score, level) in [
        (0.5, Some(Info)),
        (1.0, Some(Low)),
        (3.9, Some(Low)),
        (4.0, Some(Medium)),
        (6.9, Some(Medium)),
        (7.0, Some(High)),
        (8.9, Some(High)),
        (9.0, Some(Critical)),
        (10.0, Some(Critical)),
        (10.5, None),
        (f64::NAN, None),
    ] {
        assert_eq!(guardduty_band(score), level, "{score}");
    }
    for (label, level) in [
        ("CRITICAL", Some(Critical)),
        ("High", Some(High)),
        ("informational", Some(Info)),
        ("Fatal", Some(Critical)),
        ("SEVERE", None),
    ] {
        assert_eq!(label_severity(label), level, "{label}");
    }
    assert_eq!(normalized_severity(95.0), Some(Critical));
    assert_eq!(normalized_severity(40.0), Some(Medium));
    assert_eq!(normalized_severity(-1.0), None);
    // No severity at all: the configured default.
    let mut event = sample("securityhub-macie-sensitive-data.json");
    event["detail"]["findings"][0]["Severity"] = json!({"Label": "SEVERE"});
    let f = HubClassifier::new(ConfigControls::Skip, High)
        .classify(&event, now())
        .expect("event");
    assert_eq!(f.findings[0].severity, High);
}

/// Security Hub's findings list at its limit and past it, with hostile text and broken findings
/// among good ones: bounded, sanitised, the good ones kept, never a panic.
#[test]
fn a_hostile_findings_list_keeps_its_good_findings_bounded_and_clean() {
    let template = sample("securityhub-inspector-cve.json")["detail"]["findings"][0].clone();
    let hostile = "\u{202e}<script>alert(1)</script>\u{1b}[31m@channel\r\n\u{200b}".repeat(20_000);
    let mut findings = Vec::new();
    for i in 0..101 {
        let mut f = template.clone();
        f["Id"] = json!(format!(
            "arn:aws:inspector2:us-east-1:111122223333:finding/{i:032x}"
        ));
        match i {
            3 => f["Description"] = json!(hostile),
            4 => f["Title"] = json!(hostile),
            5 => {
                f.as_object_mut().map(|o| o.remove("UpdatedAt"));
            }
            6 => f["UpdatedAt"] = json!("yesterday"),
            7 => f = json!("not an object"),
            8 => f["Id"] = json!(7),
            9 => f["Resources"] = json!([{"Type": hostile, "Id": hostile}]),
            10 => f["ProductFields"] = json!(hostile),
            _ => {}
        }
        findings.push(f);
    }
    let event = json!({
        "version": "0", "id": "x", "detail-type": ASFF_DETAIL_TYPE, "source": SECURITYHUB_SOURCE,
        "account": "111122223333", "time": "2025-06-03T08:15:00Z", "region": "us-east-1",
        "resources": [], "detail": {"findings": findings}
    });
    let outcome = classifier().classify(&event, now()).expect("event");
    assert_eq!(outcome.findings.len(), 96, "100 read, 4 unreadable");
    assert_eq!(
        outcome.invalid,
        [
            FindingError::MissingField {
                index: 5,
                field: "UpdatedAt"
            },
            FindingError::BadTimestamp {
                index: 6,
                field: "UpdatedAt",
                value: SafeText::new("\"yesterday\"")
            },
            FindingError::NotAnObject { index: 7 },
            FindingError::MissingField {
                index: 8,
                field: "Id"
            },
            FindingError::TooMany { index: 100 },
        ]
    );
    for f in &outcome.findings {
        let json = serde_json::to_string(f).expect("json");
        assert!(json.len() < 16_000, "bounded: {} bytes", json.len());
        for text in [
            &f.title,
            &f.description,
            &f.resources[0].kind,
            &f.resources[0].id,
        ] {
            assert!(
                !text.as_str().chars().any(is_hostile),
                "{:?}",
                text.as_str()
            );
        }
    }
}

#[test]
fn events_that_cannot_be_read_are_typed_errors() {
    assert_eq!(
        classifier().classify(&json!([1]), now()),
        Err(HubEventError::NotAnObject)
    );
    let no_detail = json!({"source": GUARDDUTY_SOURCE, "detail-type": GUARDDUTY_DETAIL_TYPE});
    assert_eq!(
        classifier().classify(&no_detail, now()),
        Err(HubEventError::MissingDetail(GUARDDUTY_DETAIL_TYPE))
    );
    let no_findings =
        json!({"source": SECURITYHUB_SOURCE, "detail-type": OCSF_DETAIL_TYPE, "detail": {}});
    assert_eq!(
        classifier().classify(&no_findings, now()),
        Err(HubEventError::FindingsNotAList(OCSF_DETAIL_TYPE))
    );
    // A Config event is not this classifier's: skipped, not an error.
    let config = sample("config-noncompliant-securityhub-s3.json");
    assert!(!HubClassifier::accepts(&config));
    assert_eq!(
        classifier()
            .classify(&config, now())
            .map(|o| o.skipped.len()),
        Ok(1)
    );
}

#[test]
fn severity_overrides_and_suppressions_match_finding_type_and_product() {
    use chrono::NaiveDate;

    use crate::policy::SeverityPolicy;
    use crate::suppress::Suppressions;

    let policy = SeverityPolicy::from_toml(
        r#"
version = 1
[[override]]
source = "guardduty"
rule = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*"
severity = "critical"
reason = "an instance role's credentials used outside AWS"
[[override]]
product = "Inspector"
account = "111122223333"
severity = "low"
reason = "sandbox"
"#,
    )
    .expect("policy");
    for name in [
        "guardduty-credential-exfiltration.json",
        "securityhub-guardduty-credential-exfiltration.json",
        "securityhub-v2-guardduty-credential-exfiltration.json",
    ] {
        assert_eq!(policy.severity_for(&one(name)), Critical, "{name}");
    }
    assert_eq!(
        policy.severity_for(&one("securityhub-inspector-cve.json")),
        Low
    );
    assert_eq!(
        policy.severity_for(&one("securityhub-macie-sensitive-data.json")),
        Medium,
        "another product keeps its own"
    );

    let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let suppressions = Suppressions::from_toml(
        r#"
version = 1
[[suppression]]
id = "pentest-ssh"
reason = "the external penetration test brute-forces SSH on the bastion this month"
expires = 2027-01-31
source = "guardduty"
rule = "UnauthorizedAccess:EC2/SSHBruteForce"
[[suppression]]
id = "macie-exports"
reason = "the export bucket holds customer data by design; reviewed quarterly"
expires = 2027-01-31
product = "Macie"
resource = "arn:aws:s3:::example-customer-exports"
"#,
        today,
    )
    .expect("suppressions");
    let now = today
        .and_hms_opt(12, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default();
    let id = |name: &str| suppressions.find(&one(name), now).map(|s| s.id.clone());
    assert_eq!(
        id("guardduty-ssh-brute-force.json").as_deref(),
        Some("pentest-ssh")
    );
    assert_eq!(
        id("securityhub-macie-sensitive-data.json").as_deref(),
        Some("macie-exports")
    );
    assert_eq!(id("guardduty-credential-exfiltration.json"), None);
    assert_eq!(id("securityhub-inspector-cve.json"), None);
}
