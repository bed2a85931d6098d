//! The CloudWatch Logs subscription samples in events/: each `cwlogs-<name>.json` (the Lambda
//! envelope, gzip + base64) decodes to exactly `cwlogs-<name>.decoded.json`, and both are what
//! the generator below writes from the single-record `cloudtrail-*.json` samples.
//!
//! Regenerate after changing a record or the list below:
//!
//! ```sh
//! cargo test -p triage-core --test cloudtrail_events -- --ignored regenerate_subscription_samples
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod common;

use std::fmt::Write as _;

use common::{repo_path, sample};
use serde_json::Value;
use triage_core::cloudtrail::{
    CloudTrailDetector, Limits, MessageType, Subscription, decode_lambda_event, encode_lambda_event,
};

const LOG_GROUP: &str = "aws-cloudtrail-logs-111122223333-3c1c6f5e";
const LOG_STREAM: &str = "111122223333_CloudTrail_us-east-1";
const FILTER: &str = "triage-log-detector";
/// Log event ids are 56-digit decimal strings, like AWS's.
const ID_PREFIX: &str = "3786142961022135052914856718432654812978493275108196";

enum Line {
    /// A record from `events/<name>`, as CloudTrail writes it to CloudWatch Logs: compact JSON.
    Record(&'static str),
    /// A message as it is, with its timestamp (ms).
    Text(&'static str, i64),
}

struct Envelope {
    name: &'static str,
    message_type: &'static str,
    owner: &'static str,
    log_group: &'static str,
    log_stream: &'static str,
    filters: &'static [&'static str],
    policy_level: Option<&'static str>,
    /// Explicit log event ids (the verbatim AWS samples); otherwise numbered from [`ID_PREFIX`].
    ids: Option<&'static [&'static str]>,
    lines: Vec<Line>,
}

fn data(name: &'static str, lines: Vec<Line>) -> Envelope {
    Envelope {
        name,
        message_type: "DATA_MESSAGE",
        owner: "111122223333",
        log_group: LOG_GROUP,
        log_stream: LOG_STREAM,
        filters: &[FILTER],
        policy_level: None,
        ids: None,
        lines,
    }
}

fn envelopes() -> Vec<Envelope> {
    use Line::{Record, Text};
    let account_policy_message = r#"{"eventVersion":"1.03","userIdentity":{"type":"Root"}"#;
    vec![
        data(
            "cwlogs-root-account-usage",
            vec![Record("cloudtrail-root-api-call.json")],
        ),
        data(
            "cwlogs-unauthorized-api-calls",
            vec![
                Record("cloudtrail-access-denied-iam-user.json"),
                Record("cloudtrail-unauthorized-operation-assumed-role.json"),
            ],
        ),
        data(
            "cwlogs-console-signin-without-mfa",
            vec![Record(
                "cloudtrail-iam-user-console-login-no-mfa-stratus.json",
            )],
        ),
        data(
            "cwlogs-mixed-batch",
            vec![
                Record("cloudtrail-assume-role-success.json"),
                Record("cloudtrail-root-api-call.json"),
                Record("cloudtrail-ec2-start-instances.json"),
                Record("cloudtrail-assumed-role-sso-invoked-by-servicecatalog.json"),
                Record("cloudtrail-access-denied-iam-user.json"),
                Record("cloudtrail-iam-user-console-login-mfa.json"),
                Record("cloudtrail-root-api-call-invoked-by-service.json"),
                Record("cloudtrail-iam-user-console-login-no-mfa.json"),
                Record("cloudtrail-root-aws-service-event.json"),
                Record("cloudtrail-aws-service-event-sso-federate.json"),
                Record("cloudtrail-insight-event.json"),
                Record("cloudtrail-iam-user-check-mfa.json"),
            ],
        ),
        data(
            "cwlogs-non-json-line",
            vec![
                Text(
                    "2024-07-31T13:06:20.114Z [ERROR] trail delivery: log file upload retried",
                    1_722_431_180_114,
                ),
                Text(
                    r#"{"eventVersion":"1.10","userIdentity":{"type":"IAMUser"}"#,
                    1_722_431_181_000,
                ),
                Text(
                    r#"{"level":"info","msg":"health check ok","service":"payments"}"#,
                    1_722_431_182_000,
                ),
                Record("cloudtrail-stop-logging.json"),
            ],
        ),
        Envelope {
            name: "cwlogs-control-message",
            message_type: "CONTROL_MESSAGE",
            owner: "CloudwatchLogs",
            log_group: "",
            log_stream: "",
            filters: &[],
            policy_level: None,
            ids: Some(&[""]),
            lines: vec![Text(
                "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
                1_680_683_189_085,
            )],
        },
        Envelope {
            name: "cwlogs-account-level-policy",
            message_type: "DATA_MESSAGE",
            owner: "123456789012",
            log_group: "Example1",
            log_stream: "logStream1",
            filters: &["ExamplePolicyLambda"],
            policy_level: Some("ACCOUNT_LEVEL_POLICY"),
            ids: Some(&[
                "31953106606966983378809025079804211143289615424298221568",
                "31953106606966983378809025079804211143289615424298221569",
                "31953106606966983378809025079804211143289615424298221570",
            ]),
            lines: vec![
                Text(account_policy_message, 1_432_826_855_000),
                Text(account_policy_message, 1_432_826_855_000),
                Text(account_policy_message, 1_432_826_855_000),
            ],
        },
    ]
}

/// Strips the whitespace between JSON tokens, keeping key order and string contents.
fn compact(pretty: &str) -> String {
    let mut out = String::with_capacity(pretty.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in pretty.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The log events of an envelope: (id, timestamp ms, message).
fn log_events(envelope: &Envelope) -> Vec<(String, i64, String)> {
    envelope
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let id = match envelope.ids {
                Some(ids) => ids[i].to_owned(),
                None => format!("{ID_PREFIX}{i:04}"),
            };
            match line {
                Line::Text(text, ts) => (id, *ts, (*text).to_owned()),
                Line::Record(file) => {
                    let path = repo_path("events").join(file);
                    let pretty = std::fs::read_to_string(&path).expect("record");
                    let record: Value = serde_json::from_str(&pretty).expect("record JSON");
                    let time = record["eventTime"].as_str().expect("eventTime");
                    // CloudTrail delivers to CloudWatch Logs a few minutes after the event.
                    let ts = chrono::DateTime::parse_from_rfc3339(time)
                        .expect("eventTime")
                        .timestamp_millis()
                        + 4 * 60 * 1000
                        + i64::try_from(i).unwrap_or(0);
                    (id, ts, compact(&pretty))
                }
            }
        })
        .collect()
}

/// The decoded payload, pretty (what `<name>.decoded.json` holds) or compact (what is gzipped),
/// with AWS's field order.
fn render(envelope: &Envelope, pretty: bool) -> String {
    let (nl, i1, i2, i3, sp) = if pretty {
        ("\n", "  ", "    ", "      ", " ")
    } else {
        ("", "", "", "", "")
    };
    let mut s = String::new();
    let _ = write!(s, "{{{nl}");
    let _ = write!(
        s,
        "{i1}\"messageType\":{sp}{},{nl}",
        json_string(envelope.message_type)
    );
    let _ = write!(s, "{i1}\"owner\":{sp}{},{nl}", json_string(envelope.owner));
    let _ = write!(
        s,
        "{i1}\"logGroup\":{sp}{},{nl}",
        json_string(envelope.log_group)
    );
    let _ = write!(
        s,
        "{i1}\"logStream\":{sp}{},{nl}",
        json_string(envelope.log_stream)
    );
    let filters: Vec<String> = envelope
        .filters
        .iter()
        .map(|f| format!("{i2}{}", json_string(f)))
        .collect();
    if filters.is_empty() {
        let _ = write!(s, "{i1}\"subscriptionFilters\":{sp}[],{nl}");
    } else {
        let _ = write!(
            s,
            "{i1}\"subscriptionFilters\":{sp}[{nl}{}{nl}{i1}],{nl}",
            filters.join(&format!(",{nl}"))
        );
    }
    let events: Vec<String> = log_events(envelope)
        .into_iter()
        .map(|(id, ts, message)| {
            format!(
                "{i2}{{{nl}{i3}\"id\":{sp}{},{nl}{i3}\"timestamp\":{sp}{ts},{nl}{i3}\"message\":{sp}{}{nl}{i2}}}",
                json_string(&id),
                json_string(&message)
            )
        })
        .collect();
    let _ = write!(
        s,
        "{i1}\"logEvents\":{sp}[{nl}{}{nl}{i1}]",
        events.join(&format!(",{nl}"))
    );
    if let Some(level) = envelope.policy_level {
        let _ = write!(s, ",{nl}{i1}\"policyLevel\":{sp}{}", json_string(level));
    }
    let _ = write!(s, "{nl}}}");
    if pretty {
        s.push('\n');
    }
    s
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo_path("events").join(name)).expect(name)
}

#[test]
#[ignore = "writes events/cwlogs-*.json; run by hand after changing a sample"]
fn regenerate_subscription_samples() {
    for envelope in envelopes() {
        let decoded = render(&envelope, true);
        let lambda = encode_lambda_event(render(&envelope, false).as_bytes()).expect("encode");
        let dir = repo_path("events");
        std::fs::write(
            dir.join(format!("{}.decoded.json", envelope.name)),
            &decoded,
        )
        .expect("write decoded");
        let mut text = serde_json::to_string_pretty(&lambda).expect("json");
        text.push('\n');
        std::fs::write(dir.join(format!("{}.json", envelope.name)), text).expect("write envelope");
    }
}

#[test]
fn every_envelope_decodes_to_exactly_its_decoded_form() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_path("events")).expect("events/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_prefix("cwlogs-") else {
            continue;
        };
        if stem.ends_with(".decoded.json") {
            let envelope = name.replace(".decoded.json", ".json");
            assert!(
                repo_path("events").join(&envelope).exists(),
                "{name} has no envelope {envelope}"
            );
            continue;
        }
        let lambda = sample(&name);
        let data = lambda["awslogs"]["data"].as_str().expect("awslogs.data");
        let json = triage_core::cloudtrail::decode_data(data, &Limits::default()).expect(&name);
        let inside: Value = serde_json::from_slice(&json).expect("decoded JSON");
        let decoded = sample(&name.replace(".json", ".decoded.json"));
        assert_eq!(inside, decoded, "{name}");
        checked += 1;
    }
    assert_eq!(
        checked,
        envelopes().len(),
        "every generated envelope is in events/"
    );
}

#[test]
fn the_samples_are_what_the_generator_writes() {
    for envelope in envelopes() {
        let file = format!("{}.decoded.json", envelope.name);
        assert_eq!(
            read(&file),
            render(&envelope, true),
            "{file} differs from its generator: rerun regenerate_subscription_samples"
        );
        // The gzipped text is the compact form of the same JSON.
        let compact: Value = serde_json::from_str(&render(&envelope, false)).expect("compact");
        assert_eq!(compact, sample(&file));
    }
}

#[test]
fn every_envelope_gives_what_its_readme_row_says() {
    let detector = CloudTrailDetector::shipped().expect("pack");
    // (envelope, message type, records, findings as (rule, count), not JSON, not CloudTrail)
    type Row = (
        &'static str,
        MessageType,
        usize,
        &'static [(&'static str, u64)],
        usize,
        usize,
    );
    let rows: [Row; 7] = [
        (
            "cwlogs-root-account-usage.json",
            MessageType::Data,
            1,
            &[("root-account-usage", 1)],
            0,
            0,
        ),
        (
            "cwlogs-unauthorized-api-calls.json",
            MessageType::Data,
            2,
            &[("unauthorized-api-calls", 1), ("unauthorized-api-calls", 1)],
            0,
            0,
        ),
        (
            "cwlogs-console-signin-without-mfa.json",
            MessageType::Data,
            1,
            &[("console-signin-without-mfa", 1)],
            0,
            0,
        ),
        (
            "cwlogs-mixed-batch.json",
            MessageType::Data,
            12,
            &[
                ("root-account-usage", 1),
                ("unauthorized-api-calls", 1),
                ("console-signin-without-mfa", 1),
            ],
            0,
            0,
        ),
        (
            "cwlogs-non-json-line.json",
            MessageType::Data,
            4,
            &[("cis-cloudtrail-config-changes", 1)],
            2,
            1,
        ),
        (
            "cwlogs-control-message.json",
            MessageType::Control,
            1,
            &[],
            0,
            0,
        ),
        (
            "cwlogs-account-level-policy.json",
            MessageType::Data,
            3,
            &[],
            3,
            0,
        ),
    ];
    for (name, message_type, records, findings, not_json, not_cloudtrail) in rows {
        let d = detector.detect_lambda_event(&sample(name)).expect(name);
        assert_eq!(d.message_type, Some(message_type), "{name}");
        assert_eq!(d.records, records, "{name}");
        let got: Vec<(&str, u64)> = d
            .findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.count))
            .collect();
        assert_eq!(got, findings, "{name}");
        assert_eq!(
            (
                d.skipped_not_json,
                d.skipped_not_cloudtrail,
                d.skipped_invalid
            ),
            (not_json, not_cloudtrail, 0),
            "{name}"
        );
        // The decoded form says the same.
        let decoded = sample(&name.replace(".json", ".decoded.json"));
        let again = detector.detect_subscription(
            &Subscription::from_value(&decoded, &Limits::default()).expect("decoded"),
        );
        assert_eq!(again, d, "{name}");
    }
}

#[test]
fn the_account_level_sample_keeps_its_policy_level_and_owner() {
    let sub = decode_lambda_event(
        &sample("cwlogs-account-level-policy.json"),
        &Limits::default(),
    )
    .expect("decodes");
    assert_eq!(sub.policy_level.as_deref(), Some("ACCOUNT_LEVEL_POLICY"));
    assert_eq!(sub.owner, "123456789012");
    let d = CloudTrailDetector::shipped()
        .expect("pack")
        .detect_subscription(&sub);
    assert_eq!(
        d.policy_level.as_ref().map(|p| p.as_str()),
        Some("ACCOUNT_LEVEL_POLICY")
    );
}
