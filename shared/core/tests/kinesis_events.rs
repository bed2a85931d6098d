//! The organization-wide intake's sample, `events/kinesis-org-trail-three-accounts.json`: the
//! Lambda event a Kinesis event source mapping sends when an organization trail's log group in
//! the management account subscribes to triage's Logs destination. One stream record per
//! subscription payload, one payload per log stream (`<org id>_<account>_CloudTrail_<region>`),
//! records from three member accounts in two regions. Written by the generator below from the
//! single-record `cloudtrail-*.json` samples, with their account and region replaced.
//!
//! ```sh
//! cargo test -p triage-core --test kinesis_events -- --ignored regenerate_kinesis_sample
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod common;

use std::collections::BTreeSet;

use common::{repo_path, sample};
use serde_json::{Value, json};
use triage_core::cloudtrail::{
    CloudTrailDetector, CloudTrailForm, Limits, decode_stream_record, encode_kinesis_event,
    stream_records,
};

const NAME: &str = "kinesis-org-trail-three-accounts.json";
const ORG: &str = "o-a1b2c3d4e5";
const MANAGEMENT: &str = "123456789012";
const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:999999999999:stream/triage-trail-records";

/// (member account, region, records from events/)
const STREAMS: &[(&str, &str, &[&str])] = &[
    (
        "111122223333",
        "us-east-1",
        &[
            "cloudtrail-root-console-login-no-mfa.json",
            "cloudtrail-ec2-start-instances.json",
        ],
    ),
    (
        "444455556666",
        "eu-west-1",
        &["cloudtrail-unauthorized-operation-assumed-role.json"],
    ),
    (
        "777788889999",
        "us-east-1",
        &["cloudtrail-iam-user-console-login-no-mfa.json"],
    ),
    (
        "777788889999",
        "eu-west-1",
        &[
            "cloudtrail-unauthorized-operation-assumed-role.json",
            "cloudtrail-assume-role-success.json",
        ],
    ),
];

/// A record of `file` as `account` wrote it in `region`.
fn record(file: &str, account: &str, region: &str) -> Value {
    let mut r = sample(file);
    let text = r.to_string().replace("111122223333", account);
    r = serde_json::from_str(&text).unwrap();
    r["awsRegion"] = json!(region);
    r
}

fn payloads() -> Vec<Value> {
    let mut id = 0_u64;
    STREAMS
        .iter()
        .map(|(account, region, files)| {
            let log_events: Vec<Value> = files
                .iter()
                .map(|file| {
                    let r = record(file, account, region);
                    let ms = chrono::DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap())
                        .unwrap()
                        .timestamp_millis();
                    id += 1;
                    json!({"id": format!("{:056}", 38_000_000 + id), "timestamp": ms, "message": r.to_string()})
                })
                .collect();
            json!({
                "messageType": "DATA_MESSAGE",
                "owner": MANAGEMENT,
                "logGroup": format!("aws-cloudtrail-logs-{ORG}"),
                "logStream": format!("{ORG}_{account}_CloudTrail_{region}"),
                "subscriptionFilters": ["triage-org-trail"],
                "logEvents": log_events,
            })
        })
        .collect()
}

fn generated() -> Value {
    let texts: Vec<String> = payloads().iter().map(Value::to_string).collect();
    let bytes: Vec<&[u8]> = texts.iter().map(String::as_bytes).collect();
    encode_kinesis_event(
        &bytes,
        49_590_338_271_490_256_608_559_692_538_361_571_095,
        STREAM_ARN,
    )
    .expect("encode")
}

#[test]
#[ignore = "writes events/kinesis-org-trail-three-accounts.json; run by hand after changing it"]
fn regenerate_kinesis_sample() {
    let mut text = serde_json::to_string_pretty(&generated()).expect("json");
    text.push('\n');
    std::fs::write(repo_path("events").join(NAME), text).expect("write");
}

#[test]
fn the_sample_holds_what_the_generator_writes() {
    let event = sample(NAME);
    assert_eq!(CloudTrailForm::of(&event), Some(CloudTrailForm::Kinesis));
    let records = stream_records(&event).expect("records");
    let want = payloads();
    assert_eq!(records.len(), want.len());
    for (record, want) in records.iter().zip(&want) {
        let payload = decode_stream_record(record, &Limits::default()).expect("payload");
        assert_eq!(payload.log_stream, want["logStream"].as_str().unwrap());
        let messages: Vec<Value> = payload
            .events()
            .map(|(_, m)| serde_json::from_str(m.unwrap()).unwrap())
            .collect();
        let want: Vec<Value> = want["logEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(e["message"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(messages, want, "{NAME}: rerun regenerate_kinesis_sample");
    }
}

#[test]
fn three_accounts_in_two_regions_give_distinct_correctly_attributed_findings() {
    let detector = CloudTrailDetector::shipped().expect("pack");
    let findings = detector.findings(&sample(NAME)).expect("findings");
    let got: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|f| (f.account.as_str(), f.region.as_str(), f.rule_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("111122223333", "us-east-1", "root-account-usage"),
            // a root sign-in without MFA is also a console sign-in without MFA
            ("111122223333", "us-east-1", "console-signin-without-mfa"),
            ("444455556666", "eu-west-1", "unauthorized-api-calls"),
            ("777788889999", "us-east-1", "console-signin-without-mfa"),
            ("777788889999", "eu-west-1", "unauthorized-api-calls"),
        ]
    );
    let fingerprints: BTreeSet<_> = findings.iter().map(|f| &f.fingerprint).collect();
    assert_eq!(
        fingerprints.len(),
        findings.len(),
        "one problem per account and region"
    );
    for f in &findings {
        let url = f.console_url.as_deref().unwrap_or_default();
        assert!(
            url.contains(f.region.as_str()),
            "{}: the console link opens the finding's region: {url}",
            f.rule_id.as_str()
        );
    }
}
