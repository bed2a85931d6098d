//! CloudTrail records → findings: the evidence, the fingerprints, merging within an invocation,
//! bad and large input, and every form `triage replay` hands to the classifiers.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod common;

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use common::sample;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use triage_core::cloudtrail::{
    CloudTrailDetector, CloudTrailEventError, CloudTrailForm, DecodeError, Limits,
    REQUEST_VALUE_MAX_CHARS, encode_lambda_event,
};
use triage_core::{Finding, Severity};

fn detector() -> CloudTrailDetector {
    CloudTrailDetector::shipped().unwrap_or_else(|e| panic!("{e}"))
}

fn one(findings: &[Finding], rule: &str) -> Finding {
    let mut hits = findings.iter().filter(|f| f.rule_id.as_str() == rule);
    let f = hits.next().unwrap_or_else(|| panic!("no {rule} finding"));
    assert!(hits.next().is_none(), "more than one {rule} finding");
    f.clone()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn detail<'f>(f: &'f Finding, key: &str) -> Option<&'f str> {
    f.evidence.details.get(key).map(|v| v.as_str())
}

/// A subscription Lambda event holding `messages` as log events.
fn lambda_event(messages: &[String]) -> Value {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1_722_431_184_000_i64 + i as i64, "message": m}))
        .collect();
    let payload = json!({
        "messageType": "DATA_MESSAGE",
        "owner": "111122223333",
        "logGroup": "aws-cloudtrail-logs-111122223333-3c1c6f5e",
        "logStream": "111122223333_CloudTrail_us-east-1",
        "subscriptionFilters": ["triage-log-detector"],
        "logEvents": events,
    });
    encode_lambda_event(payload.to_string().as_bytes()).expect("encode")
}

#[test]
fn a_root_console_sign_in_without_mfa_carries_its_evidence() {
    let d = detector().detect_records([&sample("cloudtrail-root-console-login-no-mfa.json")]);
    let root = one(&d.findings, "root-account-usage");
    assert_eq!(root.severity, Severity::Critical);
    assert_eq!(
        root.title.as_str(),
        "Root account used: ConsoleLogin from 192.0.2.0"
    );
    assert_eq!(
        root.principal.as_ref().map(|p| p.as_str()),
        Some("arn:aws:iam::111122223333:root")
    );
    assert_eq!(
        (root.account.as_str(), root.region.as_str()),
        ("111122223333", "us-east-1")
    );
    let e = &root.evidence;
    let s = |v: &Option<triage_core::SafeText>| v.as_ref().map(|t| t.as_str().to_owned());
    assert_eq!(
        s(&e.actor_arn).as_deref(),
        Some("arn:aws:iam::111122223333:root")
    );
    assert_eq!(s(&e.actor_type).as_deref(), Some("Root"));
    assert_eq!(s(&e.source_ip).as_deref(), Some("192.0.2.0"));
    assert!(s(&e.user_agent).is_some_and(|ua| ua.starts_with("Mozilla/5.0 (Macintosh")));
    assert_eq!(s(&e.event_source).as_deref(), Some("signin.amazonaws.com"));
    assert_eq!(s(&e.event_name).as_deref(), Some("ConsoleLogin"));
    assert_eq!(
        (e.error_code.clone(), e.error_message.clone()),
        (None, None)
    );
    assert_eq!(e.mfa_used, Some(false));
    assert_eq!(e.event_time, Some(time("2022-11-10T16:24:34Z")));
    assert_eq!(
        s(&e.event_id).as_deref(),
        Some("deb1e1f9-c99b-4612-8e9f-21f93b5d79c0")
    );
    assert_eq!(detail(&root, "console_login"), Some("Success"));
    assert_eq!(detail(&root, "event_type"), Some("AwsConsoleSignIn"));
    assert_eq!(
        detail(&root, "also_matched"),
        Some("cis-root-account-usage (CloudWatch.1)")
    );
    assert_eq!(
        root.console_url.as_deref(),
        Some(
            "https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/events/deb1e1f9-c99b-4612-8e9f-21f93b5d79c0"
        )
    );
    assert_eq!(
        (root.first_seen, root.last_seen),
        (time("2022-11-10T16:24:34Z"), time("2022-11-10T16:24:34Z"))
    );
    assert!(root.remediation.as_str().contains("break-glass"));
    assert!(
        root.description.as_str().contains(
            "called signin.amazonaws.com:ConsoleLogin in account 111122223333 (us-east-1)"
        )
    );

    let mfa = one(&d.findings, "console-signin-without-mfa");
    assert_eq!(mfa.severity, Severity::Critical);
    assert_ne!(mfa.fingerprint, root.fingerprint);
}

#[test]
fn the_aws_documented_upper_case_yes_counts_as_mfa_in_the_evidence() {
    let d = detector().detect_records([&sample("cloudtrail-root-console-login-mfa.json")]);
    let root = one(&d.findings, "root-account-usage");
    assert_eq!(root.evidence.mfa_used, Some(true));
    assert!(
        d.findings
            .iter()
            .all(|f| f.rule_id.as_str() != "console-signin-without-mfa")
    );
}

#[test]
fn a_root_record_without_an_arn_gets_the_accounts_root_arn() {
    let record = json!({
        "eventVersion": "1.08", "eventTime": "2024-08-05T10:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
        "awsRegion": "cn-north-1", "eventType": "AwsApiCall",
        "userIdentity": {"type": "Root", "accountId": "444455556666"},
        "recipientAccountId": "444455556666", "sourceIPAddress": "198.51.100.7"
    });
    let d = detector().detect_records([&record]);
    let f = one(&d.findings, "root-account-usage");
    assert_eq!(
        f.principal.as_ref().map(|p| p.as_str()),
        Some("arn:aws-cn:iam::444455556666:root")
    );
    assert_eq!(
        f.title.as_str(),
        "Root account used: CreateAccessKey from 198.51.100.7"
    );
    assert_eq!(f.console_url, None, "no eventID, no link");
}

#[test]
fn an_iam_user_without_an_arn_is_named_by_user_name() {
    let d = detector().detect_records([&sample("cloudtrail-iam-user-console-login-failure.json")]);
    let f = one(&d.findings, "console-signin-failure");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.principal.as_ref().map(|p| p.as_str()), Some("anaya"));
    assert_eq!(f.evidence.actor_arn, None);
    assert_eq!(
        f.title.as_str(),
        "Console sign-in failed: ConsoleLogin by anaya from 192.0.2.0"
    );
    assert_eq!(
        f.evidence.error_message.as_ref().map(|m| m.as_str()),
        Some("Failed authentication")
    );
}

#[test]
fn unauthorized_calls_carry_the_error_and_the_role_session() {
    let d = detector().detect_records([&sample(
        "cloudtrail-unauthorized-operation-assumed-role.json",
    )]);
    let f = one(&d.findings, "unauthorized-api-calls");
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.title
            .as_str()
            .starts_with("Unauthorized API call: RunInstances by assumed-role/"),
        "{}",
        f.title
    );
    assert_eq!(
        f.evidence.error_code.as_ref().map(|c| c.as_str()),
        Some("Client.UnauthorizedOperation")
    );
    assert!(
        detail(&f, "session_issuer")
            .is_some_and(|a| a.starts_with("arn:aws:iam::111122223333:role/"))
    );
    assert_eq!(detail(&f, "request.instanceType"), Some("p2.xlarge"));
    assert_eq!(
        f.evidence.mfa_used,
        Some(false),
        "from the session's mfaAuthenticated"
    );
    assert!(f.resources.is_empty());
}

#[test]
fn config_change_rules_name_the_changed_resource() {
    let cases = [
        (
            "cloudtrail-stop-logging.json",
            "cis-cloudtrail-config-changes",
            "AWS::CloudTrail::Trail",
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/stratus-red-team-ct-stop-trail-buykxbqejv",
        ),
        (
            "cloudtrail-authorize-security-group-ingress.json",
            "cis-security-group-changes",
            "AWS::EC2::SecurityGroup",
            "arn:aws:ec2:us-east-1:111122223333:security-group/sg-003dc7f1f1c686164",
        ),
        (
            "cloudtrail-kms-schedule-key-deletion.json",
            "cis-cmk-disable-or-delete",
            "AWS::KMS::Key",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        (
            "cloudtrail-s3-put-bucket-policy.json",
            "cis-s3-bucket-policy-changes",
            "AWS::S3::Bucket",
            "arn:aws:s3:::example-public-assets-bucket",
        ),
        (
            "cloudtrail-attach-user-policy.json",
            "cis-iam-policy-changes",
            "AWS::IAM::Policy",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        ),
        (
            "cloudtrail-ec2-create-vpc.json",
            "cis-vpc-changes",
            "AWS::EC2::VPC",
            "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0e9801d129EXAMPLE",
        ),
    ];
    for (file, rule, kind, arn) in cases {
        let d = detector().detect_records([&sample(file)]);
        let f = one(&d.findings, rule);
        let r = f
            .primary_resource()
            .unwrap_or_else(|| panic!("{file}: no resource"));
        assert_eq!(r.kind.as_str(), kind, "{file}");
        assert_eq!(r.arn.as_ref().map(|a| a.as_str()), Some(arn), "{file}");
    }
}

#[test]
fn five_hundred_access_denied_from_one_role_in_one_invocation_are_one_finding_counted_500() {
    let template = sample("cloudtrail-access-denied-assumed-role.json");
    let messages: Vec<String> = (0..500)
        .map(|i| {
            let mut r = template.clone();
            // Every call from a different SDK session of the same role, a second apart.
            let session = format!("aws-go-sdk-{i}");
            r["userIdentity"]["arn"] = format!(
                "arn:aws:sts::111122223333:assumed-role/stratus-red-team-leave-org-role/{session}"
            )
            .into();
            r["eventID"] = format!("00000000-0000-4000-8000-{i:012}").into();
            r["eventTime"] = (time("2024-08-02T08:30:00Z") + chrono::TimeDelta::seconds(i))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
                .into();
            r.to_string()
        })
        .collect();
    let d = detector()
        .detect_lambda_event(&lambda_event(&messages))
        .expect("decodes");
    assert_eq!(
        (d.records, d.cloudtrail_records, d.matched_records),
        (500, 500, 500)
    );
    let unauthorized = one(&d.findings, "unauthorized-api-calls");
    assert_eq!(unauthorized.count, 500);
    assert_eq!(unauthorized.first_seen, time("2024-08-02T08:30:00Z"));
    assert_eq!(unauthorized.last_seen, time("2024-08-02T08:38:19Z"));
    assert_eq!(
        unauthorized.evidence.event_id.as_ref().map(|e| e.as_str()),
        Some("00000000-0000-4000-8000-000000000499"),
        "the newest occurrence's evidence"
    );
    // LeaveOrganization is also an Organizations change attempt: one more problem, also merged.
    assert_eq!(one(&d.findings, "cis-organizations-changes").count, 500);
    assert_eq!(d.findings.len(), 2);
    assert_eq!(d.occurrences(), 1000);
}

#[test]
fn a_different_role_is_a_different_problem_and_root_usage_is_one_per_account() {
    let detector = detector();
    let a = detector.detect_records([&sample("cloudtrail-access-denied-assumed-role.json")]);
    let b = detector.detect_records([&sample(
        "cloudtrail-unauthorized-operation-assumed-role.json",
    )]);
    assert_ne!(
        one(&a.findings, "unauthorized-api-calls").fingerprint,
        one(&b.findings, "unauthorized-api-calls").fingerprint
    );
    let login = detector.detect_records([&sample("cloudtrail-root-console-login-no-mfa.json")]);
    let api = detector.detect_records([&sample("cloudtrail-root-api-call.json")]);
    assert_eq!(
        one(&login.findings, "root-account-usage").fingerprint,
        one(&api.findings, "root-account-usage").fingerprint
    );
}

#[test]
fn one_bad_log_event_never_costs_the_good_ones() {
    let good = sample("cloudtrail-root-api-call.json").to_string();
    let payload = json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "g",
        "logStream": "111122223333_CloudTrail_us-east-1", "subscriptionFilters": [],
        "logEvents": [
            17,
            {"id": "1", "timestamp": 1, "message": {"eventVersion": "1.08"}},
            {"id": "2", "timestamp": 2},
            {"id": "3", "timestamp": 3, "message": "plain text"},
            {"id": "4", "timestamp": 4, "message": "{\"truncated\": "},
            {"id": "5", "timestamp": 5, "message": "{\"level\":\"info\"}"},
            {"id": "6", "timestamp": 6, "message": "[1, 2, 3]"},
            {"id": "7", "timestamp": 7, "message": good},
        ]
    });
    let event = encode_lambda_event(payload.to_string().as_bytes()).expect("encode");
    let d = detector().detect_lambda_event(&event).expect("decodes");
    assert_eq!(d.records, 8);
    assert_eq!(
        (
            d.skipped_invalid,
            d.skipped_not_json,
            d.skipped_not_cloudtrail
        ),
        (3, 3, 1)
    );
    assert_eq!(d.cloudtrail_records, 1);
    assert_eq!(one(&d.findings, "root-account-usage").count, 1);
}

#[test]
fn a_256_kb_log_event_is_evaluated_and_its_summary_bounded_and_a_larger_one_is_skipped() {
    let mut big = sample("cloudtrail-s3-put-bucket-policy.json");
    big["requestParameters"]["policy"] = "x".repeat(250 * 1024).into();
    let big = big.to_string();
    assert!(
        big.len() > 250 * 1024 && big.len() <= 256 * 1024,
        "{}",
        big.len()
    );
    let detector = CloudTrailDetector::new(
        detector().pack().clone(),
        Limits {
            max_message_bytes: 300 * 1024,
            ..Limits::default()
        },
    );
    let mut huge = sample("cloudtrail-root-api-call.json");
    huge["requestParameters"] = json!({"padding": "y".repeat(400 * 1024)});
    let d = detector
        .detect_lambda_event(&lambda_event(&[big, huge.to_string()]))
        .expect("decodes");
    assert_eq!((d.records, d.skipped_oversized), (2, 1));
    let f = one(&d.findings, "cis-s3-bucket-policy-changes");
    let policy = detail(&f, "request.policy").expect("summarised");
    assert_eq!(policy.chars().count(), REQUEST_VALUE_MAX_CHARS);
    let body = serde_json::to_string(&f).expect("json");
    assert!(
        body.len() < 16 * 1024,
        "the finding stays small: {} bytes",
        body.len()
    );
}

#[test]
fn hostile_strings_in_a_record_reach_the_finding_sanitised() {
    let mut r = sample("cloudtrail-access-denied-iam-user.json");
    r["userAgent"] = "curl\r\nINFO forged\u{1b}[31m\u{202e}evil".into();
    r["sourceIPAddress"] = "198.51.100.1\nfake".into();
    r["errorMessage"] = "A".repeat(100_000).into();
    let d = detector().detect_records([&r]);
    let f = one(&d.findings, "unauthorized-api-calls");
    let body = serde_json::to_string(&f).expect("json");
    assert!(!body.contains("\\n") && !body.contains("\\r") && !body.contains("\\u001b"));
    assert!(!body.contains('\u{202e}'));
    assert!(body.len() < 16 * 1024, "{} bytes", body.len());
    assert_eq!(
        f.evidence.user_agent.as_ref().map(|u| u.as_str()),
        Some("curl INFO forged [31m evil")
    );
}

#[test]
fn a_control_message_is_acknowledged_with_nothing_to_report() {
    let d = detector()
        .detect_lambda_event(&sample("cwlogs-control-message.json"))
        .expect("decodes");
    assert_eq!(d.message_type.map(|m| m.as_str()), Some("CONTROL_MESSAGE"));
    assert_eq!(
        (
            d.records,
            d.cloudtrail_records,
            d.findings.len(),
            d.skipped()
        ),
        (1, 0, 0, 0)
    );
}

#[test]
fn a_record_with_an_unreadable_event_time_takes_the_log_events_timestamp() {
    let mut r = sample("cloudtrail-root-api-call.json");
    r["eventTime"] = "yesterday".into();
    let d = detector()
        .detect_lambda_event(&lambda_event(&[r.to_string()]))
        .expect("decodes");
    let f = one(&d.findings, "root-account-usage");
    assert_eq!(f.first_seen.timestamp_millis(), 1_722_431_184_000);
    assert_eq!(f.evidence.event_time, None);
}

// ------------------------------------------------------------------------------------------
// Every form of CloudTrail input the detector understands (what `triage replay` hands it)
// ------------------------------------------------------------------------------------------

fn rule_ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule_id.as_str()).collect()
}

#[test]
fn replay_understands_subscription_envelopes_in_lambda_and_decoded_form() {
    let c = detector();
    for name in ["cwlogs-mixed-batch.json", "cwlogs-mixed-batch.decoded.json"] {
        let event = sample(name);
        assert!(
            matches!(
                CloudTrailForm::of(&event),
                Some(CloudTrailForm::LambdaSubscription | CloudTrailForm::DecodedSubscription)
            ),
            "{name}"
        );
        let findings = c.findings(&event).expect(name);
        assert_eq!(
            rule_ids(&findings),
            [
                "root-account-usage",
                "unauthorized-api-calls",
                "console-signin-without-mfa"
            ],
            "{name}"
        );
    }
    let control = c
        .findings(&sample("cwlogs-control-message.json"))
        .expect("control");
    assert!(control.is_empty());
}

#[test]
fn replay_understands_a_single_cloudtrail_record() {
    let c = detector();
    let event = sample("cloudtrail-stop-logging.json");
    assert_eq!(CloudTrailForm::of(&event), Some(CloudTrailForm::Record));
    assert_eq!(
        rule_ids(&c.findings(&event).expect("record")),
        ["cis-cloudtrail-config-changes"]
    );
    // A benign record is recognised and gives nothing.
    let benign = sample("cloudtrail-assume-role-success.json");
    assert_eq!(CloudTrailForm::of(&benign), Some(CloudTrailForm::Record));
    assert!(c.findings(&benign).expect("benign").is_empty());
}

fn s3_log_file() -> Value {
    json!({"Records": [
        sample("cloudtrail-assume-role-success.json"),
        sample("cloudtrail-root-api-call.json"),
        sample("cloudtrail-access-denied-iam-user.json"),
        sample("cloudtrail-access-denied-iam-user.json"),
        sample("cloudtrail-stop-logging.json"),
    ]})
}

#[test]
fn replay_understands_a_cloudtrail_s3_log_file() {
    let c = detector();
    let file = s3_log_file();
    assert_eq!(CloudTrailForm::of(&file), Some(CloudTrailForm::LogFile));
    // An S3 log file is not an SQS/SNS batch: unwrap_envelopes hands it over whole.
    let inner = triage_core::inbound::unwrap_envelopes(file.clone());
    assert_eq!(inner.len(), 1);
    let findings = c.findings(&file).expect("log file");
    assert_eq!(
        rule_ids(&findings),
        [
            "root-account-usage",
            "unauthorized-api-calls",
            "cis-cloudtrail-config-changes"
        ]
    );
    assert_eq!(
        findings[1].count, 2,
        "the same denied call twice is one finding"
    );
}

#[test]
fn a_gzipped_cloudtrail_s3_log_file_written_to_disk_replays_the_same() {
    let dir = std::env::temp_dir().join(format!("triage-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("111122223333_CloudTrail_us-east-1_20240731T1310Z_abc.json.gz");
    let mut gz = GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        Compression::default(),
    );
    gz.write_all(s3_log_file().to_string().as_bytes())
        .expect("write");
    gz.finish().expect("finish");

    // What replay does with a .json.gz file: gunzip, parse, unwrap, classify.
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(&path).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    let _ = std::fs::remove_dir_all(&dir);
    let payload: Value = serde_json::from_str(&text).expect("json");
    let c = detector();
    let mut findings = Vec::new();
    for inner in triage_core::inbound::unwrap_envelopes(payload) {
        findings.extend(
            c.findings(&inner.event.expect("event"))
                .expect("classified"),
        );
    }
    assert_eq!(findings, c.findings(&s3_log_file()).expect("plain"));
    assert_eq!(findings.len(), 3);
}

#[test]
fn a_broken_envelope_is_a_cloudtrail_error_and_other_kinds_are_not_cloudtrail_input() {
    let c = detector();
    let broken = json!({"awslogs": {"data": "H4sI!!!!"}});
    assert_eq!(
        CloudTrailForm::of(&broken),
        Some(CloudTrailForm::LambdaSubscription)
    );
    assert!(matches!(
        c.findings(&broken),
        Err(CloudTrailEventError::Decode(DecodeError::Base64(_)))
    ));
    // Other kinds of event are not CloudTrail input.
    for other in [
        "config-noncompliant-s3-public-read.json",
        "alarm-cis-root-usage-alarm.json",
    ] {
        assert_eq!(CloudTrailForm::of(&sample(other)), None, "{other}");
    }
}

#[test]
fn merging_while_detecting_equals_merging_the_single_findings_afterwards() {
    // Out of order in time, repeated principals and rules, covered and covering rules.
    let mut records: Vec<Value> = Vec::new();
    for (i, name) in [
        "cloudtrail-access-denied-assumed-role.json",
        "cloudtrail-root-console-login-no-mfa.json",
        "cloudtrail-access-denied-iam-user.json",
        "cloudtrail-root-api-call.json",
        "cloudtrail-access-denied-assumed-role.json",
        "cloudtrail-root-console-login-failure.json",
        "cloudtrail-access-denied-iam-user.json",
    ]
    .iter()
    .enumerate()
    {
        let mut r = sample(name);
        r["eventTime"] = format!("2024-08-0{}T08:30:00Z", [5, 3, 7, 1, 2, 9, 4][i]).into();
        r["eventID"] = format!("event-{i}").into();
        records.push(r);
    }
    let detector = detector();
    let together = detector.detect_records(records.iter()).findings;
    let one_by_one: Vec<Finding> = records
        .iter()
        .flat_map(|r| detector.detect_records([r]).findings)
        .collect();
    let merged = triage_core::finding::merge_by_fingerprint(one_by_one);
    assert_eq!(together, merged);
    assert!(together.iter().any(|f| f.count == 2));
    // The subscription path keeps each repeated finding's newest record parsed and builds its
    // evidence at the end: the same result.
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    let payload = detector
        .detect_lambda_event(&lambda_event(&lines))
        .expect("decodes");
    assert_eq!(payload.findings, merged);
}
