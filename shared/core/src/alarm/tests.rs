//! Alarm classification over every alarm sample in `events/` (`alarm-*`, `sns-alarm-*`,
//! `lambda-alarm-*`): what each must give, and what every other sample must not.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::finding::{Finding, Fingerprint, Source, Status};
use crate::inbound::{InboundError, unwrap_envelopes};
use crate::severity::Severity;
use crate::ticket::{TicketAction, TicketEvent};

const OWNED_PREFIXES: [&str; 3] = ["alarm-", "sns-alarm-", "lambda-alarm-"];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn sample(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn classifier(options: AlarmOptions) -> AlarmClassifier {
    AlarmClassifier::shipped(options).unwrap_or_else(|e| panic!("shipped alarm policy: {e}"))
}

/// What one record inside a sample must give.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A finding: status, severity, alarm type, and whether it is an ALARM → ALARM repeat.
    Finding(Status, Severity, AlarmKind, bool),
    Skipped(fn(&AlarmSkip) -> bool),
    Rejected(fn(&AlarmEventError) -> bool),
    NotJson,
}

/// Every record of a sample, unwrapped from its SNS/SQS envelope and classified.
fn outcomes(
    c: &AlarmClassifier,
    name: &str,
) -> Vec<Result<AlarmOutcome, Result<AlarmEventError, InboundError>>> {
    unwrap_envelopes(sample(name))
        .into_iter()
        .map(|inner| match inner.event {
            Ok(event) => c.classify(&event).map_err(Ok),
            Err(e) => Err(Err(e)),
        })
        .collect()
}

fn findings(name: &str) -> Vec<Finding> {
    outcomes(&classifier(AlarmOptions::default()), name)
        .into_iter()
        .filter_map(|o| match o {
            Ok(AlarmOutcome::Finding(f)) => Some(*f),
            _ => None,
        })
        .collect()
}

fn one(name: &str) -> Finding {
    let mut all = findings(name);
    assert_eq!(all.len(), 1, "{name}: expected exactly one finding");
    all.remove(0)
}

fn detail<'f>(f: &'f Finding, key: &str) -> Option<&'f str> {
    f.evidence.details.get(key).map(|v| v.as_str())
}

fn table() -> Vec<(&'static str, Vec<Want>)> {
    use AlarmKind::*;
    use Severity::*;
    use Status::*;
    use Want::*;
    vec![
        (
            "alarm-metric-alarm.json",
            vec![Finding(Active, Medium, Metric, false)],
        ),
        (
            "alarm-metric-ok.json",
            vec![Finding(Resolved, Medium, Metric, false)],
        ),
        (
            "alarm-metric-alarm-repeat.json",
            vec![Finding(Active, Medium, Metric, true)],
        ),
        (
            "alarm-metric-insufficient-data.json",
            vec![Skipped(|s| matches!(s, AlarmSkip::InsufficientData { .. }))],
        ),
        (
            "alarm-metric-math-alarm.json",
            vec![Finding(Active, Medium, MetricMath, false)],
        ),
        (
            "alarm-anomaly-detection-alarm.json",
            vec![Finding(Active, Medium, AnomalyDetection, false)],
        ),
        (
            "alarm-composite-suppressed-alarm.json",
            vec![Finding(Active, Medium, Composite, false)],
        ),
        (
            "alarm-composite-ok.json",
            vec![Finding(Resolved, Medium, Composite, false)],
        ),
        (
            "alarm-cis-root-usage-alarm.json",
            vec![Finding(Active, Critical, Metric, false)],
        ),
        (
            "alarm-seed-root-usage-linked.json",
            vec![Finding(Active, Low, Metric, false)],
        ),
        (
            "alarm-severity-token-high.json",
            vec![Finding(Active, High, Metric, false)],
        ),
        (
            "alarm-huge-reason.json",
            vec![Finding(Active, Medium, Metric, false)],
        ),
        (
            "alarm-flapping-sqs-batch.json",
            [
                Finding(Active, Medium, Metric, false),
                Finding(Resolved, Medium, Metric, false),
            ]
            .repeat(3),
        ),
        (
            "alarm-configuration-change.json",
            vec![Skipped(|s| matches!(s, AlarmSkip::NotAStateChange { .. }))],
        ),
        (
            "alarm-irrelevant-ec2-state-change.json",
            vec![Skipped(|s| *s == AlarmSkip::NotAnAlarmEvent)],
        ),
        (
            "alarm-bad-missing-detail.json",
            vec![Rejected(|e| *e == AlarmEventError::MissingField("detail"))],
        ),
        (
            "alarm-bad-unknown-alarm-type.json",
            vec![Rejected(|e| {
                matches!(e, AlarmEventError::UnknownAlarmType { .. })
            })],
        ),
        (
            "alarm-bad-unknown-state.json",
            vec![Rejected(|e| {
                matches!(e, AlarmEventError::UnknownState { .. })
            })],
        ),
        (
            "sns-alarm-cis-root-usage-alarm.json",
            vec![Finding(Active, Critical, Metric, false)],
        ),
        (
            "sns-alarm-cis-root-usage-ok.json",
            vec![Finding(Resolved, Critical, Metric, false)],
        ),
        (
            "sns-alarm-metric-crate-fixture.json",
            vec![Finding(Active, Medium, Metric, false)],
        ),
        (
            "sns-alarm-metric-math-crate-fixture.json",
            vec![Finding(Active, Medium, MetricMath, false)],
        ),
        (
            "sns-alarm-batch-with-bad-records.json",
            vec![
                NotJson,
                Finding(Active, Critical, Metric, false),
                Rejected(|e| matches!(e, AlarmEventError::UnknownAlarmType { .. })),
            ],
        ),
        (
            "lambda-alarm-metric-alarm.json",
            vec![Finding(Active, Medium, Metric, false)],
        ),
        (
            "lambda-alarm-composite-alarm.json",
            vec![Finding(Active, Medium, Composite, true)],
        ),
    ]
}

#[test]
fn every_alarm_sample_gives_what_its_table_row_says() {
    let c = classifier(AlarmOptions::default());
    for (name, wants) in table() {
        let got = outcomes(&c, name);
        assert_eq!(got.len(), wants.len(), "{name}: records");
        for (i, (got, want)) in got.iter().zip(&wants).enumerate() {
            let ok = match (got, want) {
                (Ok(AlarmOutcome::Finding(f)), Want::Finding(status, severity, kind, repeat)) => {
                    f.status == *status
                        && f.severity == *severity
                        && detail(f, "alarm_type") == Some(kind.as_str())
                        && (detail(f, "repeat") == Some("true")) == *repeat
                }
                (Ok(AlarmOutcome::Skipped(s)), Want::Skipped(check)) => check(s),
                (Err(Ok(e)), Want::Rejected(check)) => check(e),
                (Err(Err(InboundError::NotJson { .. })), Want::NotJson) => true,
                _ => false,
            };
            assert!(ok, "{name} record {i}: want {want:?}, got {got:#?}");
        }
    }
}

#[test]
fn every_alarm_sample_in_events_has_a_table_row() {
    let rows: Vec<&str> = table().iter().map(|(n, _)| *n).collect();
    let mut owned = 0;
    for entry in std::fs::read_dir(events_dir()).unwrap_or_else(|e| panic!("events/: {e}")) {
        let name = entry
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".json") && OWNED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            owned += 1;
            assert!(
                rows.contains(&name.as_str()),
                "{name} has no expectation in the table"
            );
        }
    }
    assert_eq!(
        owned,
        rows.len(),
        "a table row names a file that does not exist"
    );
}

#[test]
fn no_other_sample_is_mistaken_for_an_alarm() {
    let c = classifier(AlarmOptions::default());
    for entry in std::fs::read_dir(events_dir()).unwrap_or_else(|e| panic!("events/: {e}")) {
        let name = entry
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".json") || OWNED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        for inner in unwrap_envelopes(sample(&name)) {
            let Ok(event) = inner.event else { continue };
            if !event.is_object()
                || crate::json::str_at(&event, &["source"]) == Some("aws.cloudwatch")
            {
                continue; // e.g. the alarm records of a mixed SQS batch
            }
            let got = c.classify(&event);
            assert_eq!(
                got,
                Ok(AlarmOutcome::Skipped(AlarmSkip::NotAnAlarmEvent)),
                "{name} {}",
                inner.origin
            );
        }
    }
}

#[test]
fn ok_resolves_the_ticket_that_alarm_opened_and_a_repeat_lands_on_it_too() {
    let opened = one("alarm-metric-alarm.json");
    let resolved = one("alarm-metric-ok.json");
    let repeat = one("alarm-metric-alarm-repeat.json");
    assert_eq!(opened.fingerprint, resolved.fingerprint);
    assert_eq!(opened.fingerprint, repeat.fingerprint);
    assert_eq!(opened.title, resolved.title, "one ticket keeps one title");
    assert!(
        repeat
            .description
            .as_str()
            .contains("still in ALARM with a new reason")
    );
    assert_eq!(detail(&repeat, "transition"), Some("ALARM -> ALARM"));
    assert_eq!(detail(&opened, "transition"), Some("OK -> ALARM"));
    assert_eq!(
        one("alarm-composite-suppressed-alarm.json").fingerprint,
        one("alarm-composite-ok.json").fingerprint
    );
}

#[test]
fn the_same_alarm_has_one_fingerprint_in_every_form() {
    let eventbridge = one("alarm-cis-root-usage-alarm.json");
    let sns = one("sns-alarm-cis-root-usage-alarm.json");
    let sns_ok = one("sns-alarm-cis-root-usage-ok.json");
    assert_eq!(eventbridge.fingerprint, sns.fingerprint);
    assert_eq!(sns.fingerprint, sns_ok.fingerprint);
    let want = Fingerprint::new(
        Source::Alarm,
        "CIS-1.7-RootAccountUsage",
        "111122223333",
        "us-east-1",
        &["arn:aws:cloudwatch:us-east-1:111122223333:alarm:CIS-1.7-RootAccountUsage"],
    );
    assert_eq!(eventbridge.fingerprint, want);
    // Without an ARN the classifier builds the same one from account, region and name.
    let mut bare = sample("alarm-cis-root-usage-alarm.json");
    bare["resources"] = json!([]);
    let rebuilt = classifier(AlarmOptions::default()).findings(&bare);
    assert_eq!(rebuilt.map(|f| f[0].fingerprint.clone()), Ok(want));
}

#[test]
fn a_finding_carries_the_alarm_its_metric_threshold_and_a_console_link() {
    let f = one("alarm-metric-alarm.json");
    assert_eq!(f.source, Source::Alarm);
    assert_eq!(f.rule_id.as_str(), "ServerCpuTooHigh");
    assert_eq!(
        (f.account.as_str(), f.region.as_str()),
        ("123456789012", "us-east-1")
    );
    let r = &f.resources[0];
    assert_eq!(r.kind.as_str(), "AWS::CloudWatch::Alarm");
    assert_eq!(r.id.as_str(), "ServerCpuTooHigh");
    assert_eq!(
        r.arn.as_ref().map(|a| a.as_str()),
        Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh")
    );
    let want = [
        ("alarm_name", "ServerCpuTooHigh"),
        (
            "alarm_arn",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh",
        ),
        ("state", "ALARM"),
        ("previous_state", "OK"),
        ("namespace", "AWS/EC2"),
        ("metric_name", "CPUUtilization"),
        ("dimensions", "InstanceId=i-12345678901234567"),
        ("statistic", "Average"),
        ("period_seconds", "300"),
        ("threshold", "50"),
        ("comparison_operator", "GreaterThanThreshold"),
        ("notification_form", "eventbridge"),
        ("severity_basis", "default alarm severity"),
    ];
    for (k, v) in want {
        assert_eq!(detail(&f, k), Some(v), "details.{k}");
    }
    assert!(detail(&f, "state_reason").is_some_and(|r| r.starts_with("Threshold Crossed")));
    assert_eq!(
        f.console_url.as_deref(),
        Some(
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/ServerCpuTooHigh"
        )
    );
    assert_eq!(
        f.evidence.event_id.as_ref().map(|s| s.as_str()),
        Some("c4c1c1c9-6542-e61b-6ef0-8c4d36933a92")
    );
    assert_eq!(f.first_seen.to_rfc3339(), "2019-10-02T17:04:40.989+00:00");
}

#[test]
fn sns_notifications_carry_trigger_threshold_comparison_and_the_region_code() {
    let f = one("sns-alarm-cis-root-usage-alarm.json");
    assert_eq!(f.region.as_str(), "us-east-1");
    for (k, v) in [
        ("region_display_name", "US East (N. Virginia)"),
        ("statistic", "Sum"),
        ("threshold", "1"),
        ("comparison_operator", "GreaterThanOrEqualToThreshold"),
        ("evaluation_periods", "1"),
        ("datapoints_to_alarm", "1"),
        ("treat_missing_data", "notBreaching"),
        ("notification_form", "sns"),
        ("detection", "root-account-usage"),
    ] {
        assert_eq!(detail(&f, k), Some(v), "details.{k}");
    }
    assert_eq!(
        detail(&f, "linked_detection"),
        None,
        "a CIS name alone does not link"
    );
    assert!(f.title.as_str().starts_with("Root account used"));
    assert!(f.console_url.is_some());
    let math = one("sns-alarm-metric-math-crate-fixture.json");
    assert_eq!(detail(&math, "expression"), Some("m1*1"));
    assert_eq!(detail(&math, "dimensions"), Some("InstanceId=TestInstance"));
}

#[test]
fn metric_math_and_anomaly_alarms_list_every_metric_they_read() {
    let math = one("alarm-metric-math-alarm.json");
    assert_eq!(detail(&math, "expression"), Some("SUM(METRICS())"));
    let metrics = detail(&math, "metrics").unwrap_or_default();
    assert!(
        metrics.contains("AWS/EC2 NetworkIn {InstanceId=i-12345678901234567} Maximum/300s"),
        "{metrics}"
    );
    assert!(metrics.contains("AWS/EC2 NetworkOut"), "{metrics}");
    assert_eq!(detail(&math, "threshold"), Some("10000"));
    let anomaly = one("alarm-anomaly-detection-alarm.json");
    assert_eq!(
        detail(&anomaly, "expression"),
        Some("ANOMALY_DETECTION_BAND(m1, 0.8)")
    );
    assert_eq!(
        detail(&anomaly, "comparison_operator"),
        Some("LessThanLowerOrGreaterThanUpperThreshold")
    );
}

#[test]
fn a_suppressed_composite_alarm_still_reports_and_says_so() {
    let f = one("alarm-composite-suppressed-alarm.json");
    assert_eq!(detail(&f, "actions_suppressed_by"), Some("WaitPeriod"));
    assert_eq!(
        detail(&f, "actions_suppressor"),
        Some("ServiceMaintenanceAlarm")
    );
    assert_eq!(
        detail(&f, "alarm_rule"),
        Some("ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)")
    );
    assert_eq!(
        detail(&f, "triggering_alarms"),
        Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh")
    );
    assert!(
        f.description
            .as_str()
            .contains("suppressed this alarm's own actions (WaitPeriod")
    );
}

#[test]
fn the_lambda_action_payload_is_understood_despite_the_documentations_stray_spaces() {
    let f = one("lambda-alarm-metric-alarm.json");
    assert_eq!(
        detail(&f, "alarm_arn"),
        Some("arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo-metric-alarm")
    );
    assert_eq!(f.account.as_str(), "444455556666");
    assert_eq!(detail(&f, "notification_form"), Some("lambda-action"));
    assert_eq!(f.first_seen.to_rfc3339(), "2023-08-04T12:36:15.490+00:00");
    let composite = one("lambda-alarm-composite-alarm.json");
    assert_eq!(detail(&composite, "transition"), Some("ALARM -> ALARM"));
    assert_eq!(
        detail(&composite, "triggering_alarms"),
        Some("arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild")
    );
}

#[test]
fn the_templates_seed_alarm_is_a_digest_line_linked_to_log_detectors_ticket() {
    let f = one("alarm-seed-root-usage-linked.json");
    assert_eq!(
        f.severity,
        Severity::Low,
        "below the default ticket threshold: digest only"
    );
    assert_eq!(detail(&f, "linked_detection"), Some("root-account-usage"));
    assert_eq!(detail(&f, "detection_severity"), Some("critical"));
    assert!(f.description.as_str().contains("log-detector"));

    let tickets = classifier(AlarmOptions {
        linked_detections: LinkedDetections::Ticket,
        ..AlarmOptions::default()
    });
    let f = tickets.findings(&sample("alarm-seed-root-usage-linked.json"));
    let f = f.as_deref().unwrap_or_default();
    assert_eq!(f.first().map(|f| f.severity), Some(Severity::Critical));
    assert_eq!(f.first().and_then(|f| detail(f, "linked_detection")), None);
}

#[test]
fn insufficient_data_is_configurable_and_never_more_than_medium() {
    let ticket = classifier(AlarmOptions {
        insufficient_data: InsufficientData::Ticket,
        ..AlarmOptions::default()
    });
    let f = ticket.findings(&sample("alarm-metric-insufficient-data.json"));
    let f = f.as_deref().unwrap_or_default();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].status, f[0].severity),
        (Status::Active, Severity::Medium)
    );
    assert_eq!(
        f[0].fingerprint,
        one("alarm-metric-alarm.json").fingerprint,
        "the alarm's own ticket"
    );

    let mut root = sample("alarm-cis-root-usage-alarm.json");
    root["detail"]["state"]["value"] = json!("INSUFFICIENT_DATA");
    let f = ticket.findings(&root);
    assert_eq!(f.map(|f| f[0].severity), Ok(Severity::Medium));
}

#[test]
fn the_default_severity_is_configurable() {
    let c = classifier(AlarmOptions {
        default_severity: Severity::Low,
        ..AlarmOptions::default()
    });
    let f = c.findings(&sample("alarm-metric-alarm.json"));
    assert_eq!(f.map(|f| f[0].severity), Ok(Severity::Low));
}

#[test]
fn an_absurdly_long_hostile_reason_is_bounded_and_cleaned() {
    let f = one("alarm-huge-reason.json");
    let reason = detail(&f, "state_reason").unwrap_or_default();
    assert!(
        reason.chars().count() <= REASON_MAX_CHARS,
        "{}",
        reason.len()
    );
    assert!(reason.ends_with("…[truncated]"));
    assert!(f.description.as_str().chars().count() <= 4096);
    for text in [reason, f.description.as_str(), f.title.as_str()] {
        assert!(
            !text.chars().any(|c| c.is_control()
                || ('\u{2028}'..='\u{202e}').contains(&c)
                || c == '\u{200b}')
        );
    }

    // 1 MB in the SNS form too.
    let mut m = json!({
        "AlarmName": "big", "AWSAccountId": "111122223333", "NewStateValue": "ALARM",
        "StateChangeTime": "2024-05-02T09:26:10.115+0000", "Region": "EU (Ireland)",
        "Trigger": {"MetricName": "M", "Namespace": "N", "Threshold": 1.0}
    });
    m["NewStateReason"] = json!("\u{1b}[31mX\n".repeat(1 << 18));
    m["AlarmDescription"] = json!("D".repeat(1 << 20));
    let f = classifier(AlarmOptions::default()).findings(&m);
    let f = f.as_deref().unwrap_or_default();
    assert_eq!(f.len(), 1);
    assert!(detail(&f[0], "state_reason").is_some_and(|r| r.chars().count() <= REASON_MAX_CHARS));
    assert!(detail(&f[0], "alarm_description").is_some_and(|r| r.chars().count() <= 1024));
    assert!(f[0].title.as_str().chars().count() <= 256);
    assert_eq!(f[0].region.as_str(), "eu-west-1");
}

#[test]
fn hostile_names_cannot_break_the_console_link_or_the_ticket() {
    let mut e = sample("alarm-metric-alarm.json");
    e["detail"]["alarmName"] = json!("a/../b?x=1#frag\nINFO forged");
    e["resources"] = json!([]);
    let f = classifier(AlarmOptions::default()).findings(&e);
    let f = f.as_deref().unwrap_or_default();
    assert_eq!(f.len(), 1);
    let url = f[0].console_url.as_deref().unwrap_or_default();
    assert!(
        url.ends_with("#alarmsV2:alarm/a%2F..%2Fb%3Fx%3D1%23frag%0AINFO%20forged"),
        "{url}"
    );
    assert_eq!(f[0].rule_id.as_str(), "a/../b?x=1#frag INFO forged");
}

#[test]
fn malformed_alarm_events_are_typed_errors_not_panics() {
    let c = classifier(AlarmOptions::default());
    let base = sample("alarm-metric-alarm.json");
    type Check = fn(&AlarmEventError) -> bool;
    let mut cases: Vec<(Value, Check)> = Vec::new();
    let mut v = base.clone();
    v["detail"] = json!("not an object");
    cases.push((v, |e| *e == AlarmEventError::MissingField("detail")));
    let mut v = base.clone();
    v["detail"]["state"] = json!({});
    cases.push((v, |e| {
        *e == AlarmEventError::MissingField("detail.state.value")
    }));
    let mut v = base.clone();
    v["detail"]["state"]["timestamp"] = json!("last tuesday");
    cases.push((v, |e| matches!(e, AlarmEventError::BadTimestamp { .. })));
    let mut v = base.clone();
    v["detail"]["alarmName"] = json!(42);
    cases.push((v, |e| {
        *e == AlarmEventError::MissingField("detail.alarmName")
    }));
    let mut v = base.clone();
    v["detail"]["configuration"]["metrics"] = json!([]);
    cases.push((v, |e| matches!(e, AlarmEventError::UnknownAlarmType { .. })));
    let mut v = base.clone();
    v.as_object_mut().map(|o| o.remove("account"));
    v["resources"] = json!([]);
    cases.push((v, |e| *e == AlarmEventError::MissingField("account")));
    cases.push(
        (json!({"source": "aws.cloudwatch", "alarmData": "x"}), |e| {
            *e == AlarmEventError::MissingField("alarmData")
        }),
    );
    cases.push((
        json!({"AlarmName": "a", "NewStateValue": "ALARM", "Trigger": {"MetricName": "m"}}),
        |e| *e == AlarmEventError::MissingField("StateChangeTime"),
    ));
    cases.push((json!(["not", "an", "object"]), |e| {
        *e == AlarmEventError::NotAnObject
    }));
    for (event, check) in cases {
        let got = c.classify(&event);
        assert!(matches!(&got, Err(e) if check(e)), "{event:.200}: {got:?}");
    }
}

#[test]
fn every_alarm_finding_is_a_valid_ticket_event() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/ticket-event.schema.json"),
    )
    .unwrap_or_else(|e| panic!("schema: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("schema JSON: {e}"));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema: {e}"));
    let mut checked = 0;
    for (name, _) in table() {
        for f in findings(name) {
            let body = TicketEvent::new(TicketAction::Open, f, 1_768_478_400_001)
                .body()
                .unwrap_or_default();
            let instance: Value = serde_json::from_str(&body).unwrap_or_default();
            let errors: Vec<String> = validator
                .iter_errors(&instance)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
}

#[test]
fn every_real_state_change_is_a_transition_and_a_re_notification_is_not() {
    let c = classifier(AlarmOptions::default());
    let record = |name: &str| {
        let event = sample(name);
        c.classify_record(&event)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let opened = record("alarm-metric-alarm.json");
    let t = opened
        .transition
        .clone()
        .unwrap_or_else(|| panic!("OK -> ALARM"));
    let AlarmOutcome::Finding(f) = &opened.outcome else {
        panic!("a finding")
    };
    assert_eq!(
        t.alarm, f.fingerprint,
        "recorded under the alarm's own fingerprint"
    );
    assert_eq!(
        (t.state, t.previous_state),
        (AlarmState::Alarm, Some(AlarmState::Ok))
    );
    assert_eq!(t.at, f.last_seen, "the alarm's own state-change time");
    assert!(record("alarm-metric-ok.json").transition.is_some());
    let insufficient = record("alarm-metric-insufficient-data.json");
    assert!(matches!(insufficient.outcome, AlarmOutcome::Skipped(_)));
    assert!(
        insufficient.transition.is_some(),
        "an ignored INSUFFICIENT_DATA still changes state"
    );
    assert_eq!(record("alarm-metric-alarm-repeat.json").transition, None);
    assert_eq!(record("lambda-alarm-composite-alarm.json").transition, None);
    assert_eq!(record("alarm-configuration-change.json").transition, None);
    // The flapping finding: its own rule and fingerprint, the alarm's resource and link.
    let flapping = t.flapping(5, t.at, chrono::TimeDelta::minutes(60));
    assert_eq!(flapping.rule_id.as_str(), FLAPPING_RULE);
    assert_ne!(flapping.fingerprint, f.fingerprint);
    assert_eq!(
        (&flapping.resources, &flapping.console_url, flapping.status),
        (&f.resources, &f.console_url, Status::Active)
    );
    assert_eq!(
        flapping.title.as_str(),
        "CloudWatch alarm ServerCpuTooHigh is flapping: 5 state changes in 60 min"
    );
    let resolved = t.calmed(5, t.at, chrono::TimeDelta::minutes(60));
    assert_eq!(
        (&resolved.fingerprint, &resolved.title, resolved.status),
        (&flapping.fingerprint, &flapping.title, Status::Resolved)
    );
}
