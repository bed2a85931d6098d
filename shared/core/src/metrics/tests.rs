use chrono::TimeZone;

use super::*;
use crate::finding::{Fingerprint, Status};

fn finding(source: Source, severity: Severity, rule: &str, account: &str) -> Finding {
    let mut f = crate::fakes::finding(rule);
    f.source = source;
    f.severity = severity;
    f.rule_id = SafeText::new(rule);
    f.account = SafeText::new(account);
    f.status = Status::Active;
    f.fingerprint = Fingerprint::new(source, rule, account, "us-east-1", &[]);
    f
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 3, 0, 0)
        .single()
        .unwrap_or_default()
}

#[test]
fn counters_and_findings_become_valid_emf_documents() {
    let mut counts = Counts::default();
    counts.add("Records", 875);
    counts.add("Rejected", 0);
    counts.add("TicketsOpened", 2);
    for f in [
        finding(
            Source::Cloudtrail,
            Severity::Critical,
            "root-account-usage",
            "111122223333",
        ),
        finding(
            Source::Cloudtrail,
            Severity::Critical,
            "root-account-usage",
            "111122223333",
        ),
        finding(
            Source::Cloudtrail,
            Severity::Medium,
            "unauthorized-api-calls",
            "",
        ),
    ] {
        counts.finding(&f);
    }
    let emitter = Emitter::new("log-detector", MetricsSettings::default());
    let docs = emitter.documents(&counts, at());
    assert_eq!(
        docs.len(),
        3,
        "the counters' line and one per rule and severity"
    );
    for doc in &docs {
        assert_eq!(check_document(doc), Ok(()), "{doc}");
        assert_eq!(
            doc.pointer("/_aws/Timestamp"),
            Some(&json!(at().timestamp_millis()))
        );
        assert_eq!(
            doc.pointer("/_aws/CloudWatchMetrics/0/Namespace"),
            Some(&json!("Triage"))
        );
        assert_eq!(doc["Function"], "log-detector");
    }
    let counters = &docs[0];
    assert_eq!(
        counters.pointer("/_aws/CloudWatchMetrics/0/Dimensions"),
        Some(&json!([["Function"]]))
    );
    assert_eq!(
        (counters["Records"].clone(), counters["Rejected"].clone()),
        (json!(875), json!(0)),
        "a counter added with 0 is written as 0"
    );
    let root = docs
        .iter()
        .find(|d| d["Rule"] == "root-account-usage")
        .unwrap_or(&Value::Null);
    assert_eq!(
        root.pointer("/_aws/CloudWatchMetrics/0/Dimensions"),
        Some(&json!([
            ["Severity"],
            ["Source", "Severity"],
            ["Source", "Rule"]
        ]))
    );
    assert_eq!(
        (
            &root["Source"],
            &root["Severity"],
            &root["Rule"],
            &root[FINDINGS]
        ),
        (
            &json!("cloudtrail"),
            &json!("critical"),
            &json!("root-account-usage"),
            &json!(2)
        )
    );
    assert!(
        root.get("Account").is_none(),
        "no account dimension by default"
    );
}

#[test]
fn the_account_dimension_comes_only_when_enabled() {
    let mut counts = Counts::default();
    counts.finding(&finding(
        Source::Config,
        Severity::High,
        "s3-bucket-public-read-prohibited",
        "",
    ));
    let settings = MetricsSettings {
        by_account: true,
        ..MetricsSettings::default()
    };
    let docs = Emitter::new("config-classifier", settings).documents(&counts, at());
    assert_eq!(docs.len(), 1, "no counters: only the findings' line");
    let doc = &docs[0];
    assert_eq!(check_document(doc), Ok(()));
    assert_eq!(
        doc.pointer("/_aws/CloudWatchMetrics/0/Dimensions/3"),
        Some(&json!(["Account", "Severity"]))
    );
    assert_eq!(doc["Account"], "none", "an empty dimension value is named");
}

#[test]
fn the_namespace_and_the_account_switch_come_from_the_environment() {
    use crate::settings::env_from_pairs as env;
    assert_eq!(
        MetricsSettings::from_env(&env(&[])),
        Ok(MetricsSettings::default())
    );
    assert_eq!(
        MetricsSettings::from_env(&env(&[
            ("METRICS_NAMESPACE", "Triage/prod"),
            ("METRICS_BY_ACCOUNT", "enabled")
        ])),
        Ok(MetricsSettings {
            namespace: "Triage/prod".into(),
            by_account: true,
            stdout: false,
        })
    );
    let lambda = MetricsSettings::from_env(&env(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")]));
    assert_eq!(
        lambda.map(|s| s.stdout),
        Ok(true),
        "to stdout under a Lambda runtime"
    );
    for bad in ["AWS/Lambda", ":x", "spaces here", &"x".repeat(256)] {
        assert!(
            MetricsSettings::from_env(&env(&[("METRICS_NAMESPACE", bad)])).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn collected_lines_add_up_per_metric() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let emitter =
        Emitter::new("alarm-classifier", MetricsSettings::default()).collecting(lines.clone());
    let mut counts = Counts::default();
    counts.add("Alerts", 1);
    counts.finding(&finding(Source::Alarm, Severity::High, "cpu-high", "1"));
    emitter.emit(&counts, at());
    emitter.emit(&counts, at());
    let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(lines.len(), 4);
    let totals = totals_of(&lines);
    assert_eq!(totals.get("Alerts{Function=alarm-classifier}"), Some(&2));
    assert_eq!(
        totals.get("Findings{Source=alarm,Severity=high,Rule=alarm}"),
        Some(&2)
    );
}

#[test]
fn rules_are_counted_under_names_from_a_bounded_set() {
    let cases = [
        (
            Source::Cloudtrail,
            "root-account-usage",
            None,
            "root-account-usage",
        ),
        (Source::Config, "restricted-ssh", None, "restricted-ssh"),
        (Source::Config, "my-own-rule-1234", None, "other"),
        (
            Source::Alarm,
            "TargetTracking-table-AlarmHigh-5f1c",
            None,
            "alarm",
        ),
        (
            Source::Guardduty,
            "Recon:EC2/PortProbeUnprotectedPort",
            None,
            "Recon",
        ),
        (Source::Guardduty, "Made:Up/Type", None, "other"),
        (
            Source::Securityhub,
            "S3.8",
            Some("Security Hub"),
            "Security Hub",
        ),
        (
            Source::Securityhub,
            "anything",
            Some("Evil Corp scanner"),
            "other",
        ),
    ];
    for (source, rule, product, want) in cases {
        let mut f = finding(source, Severity::High, rule, "1");
        if let Some(p) = product {
            f.evidence
                .details
                .insert(crate::finding::PRODUCT_DETAIL.into(), SafeText::new(p));
        }
        assert_eq!(rule_dimension(&f), want, "{source:?} {rule}");
    }
}

#[test]
fn dimension_values_are_printable_ascii() {
    let mut counts = Counts::default();
    counts.finding(&finding(
        Source::Cloudtrail,
        Severity::Low,
        "root-account-usage",
        "Überlast…",
    ));
    let settings = MetricsSettings {
        by_account: true,
        ..MetricsSettings::default()
    };
    let docs = Emitter::new("log-detector", settings).documents(&counts, at());
    assert_eq!(check_document(&docs[0]), Ok(()));
    assert_eq!(docs[0]["Account"], "_berlast_");
    let mut bad = docs[0].clone();
    bad["Account"] = json!("Überlast");
    assert!(
        check_document(&bad).is_err(),
        "the check refuses non-ASCII values"
    );
}

#[test]
fn the_catalog_names_are_unique_and_cloudwatch_metric_names() {
    let mut names: Vec<&str> = CATALOG.iter().map(|m| m.name).collect();
    names.push(FINDINGS);
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count);
    assert!(
        names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_alphanumeric()))
    );
}
