//! The dashboard and the alarms draw only metrics that exist: the functions' own (found by
//! running them, as they ship, over every sample in events/ and collecting what they write),
//! an AWS service's, or a metric filter's of the template.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use lambda_runtime::{Context, LambdaEvent};
use regex::Regex;
use serde_json::Value as Json;
use stack_tests::{Template, Value, function_env, intrinsic, memory_stand_ins};
use triage_core::fakes::Memory;
use triage_core::metrics::{self, Emitter, MetricsSettings};

/// The namespace the functions are given here, and the dashboard's `${MetricsNamespace}` is
/// replaced with: not the default, so that a widget naming `Triage` itself is caught.
const NAMESPACE: &str = "TestTriage/metrics";

/// The AWS metrics the template may draw or alarm on: (namespace, metric, dimension).
const AWS_METRICS: &[(&str, &str, &str)] = &[
    ("AWS/Lambda", "Errors", "FunctionName"),
    ("AWS/Lambda", "Throttles", "FunctionName"),
    ("AWS/Lambda", "Invocations", "FunctionName"),
    ("AWS/Lambda", "IteratorAge", "FunctionName"),
    ("AWS/Lambda", "DestinationDeliveryFailures", "FunctionName"),
    ("AWS/Lambda", "AsyncEventsDropped", "FunctionName"),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"),
    ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName"),
    ("AWS/Kinesis", "IncomingRecords", "StreamName"),
];

/// (metric, sorted dimension names) of every EMF line the functions wrote over the samples.
fn emitted() -> BTreeSet<(String, Vec<String>)> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let memory = Memory::default();
    let mut stand_ins = memory_stand_ins();
    stand_ins.insert("AlertMinSeverity", "info".to_owned());
    let env = |binary| function_env(binary, &stand_ins);
    let settings = MetricsSettings {
        namespace: NAMESPACE.to_owned(),
        ..MetricsSettings::default()
    };
    let emitter =
        |binary: &'static str| Emitter::new(binary, settings.clone()).collecting(lines.clone());
    let config = config_classifier::assemble(
        config_classifier::Settings::from(&env("config-classifier")).expect("settings"),
        &memory,
    )
    .with_metrics(emitter("config-classifier"));
    let alarms = alarm_classifier::assemble(
        alarm_classifier::Settings::from(&env("alarm-classifier")).expect("settings"),
        &memory,
    )
    .with_metrics(emitter("alarm-classifier"));
    let hub = finding_classifier::assemble(
        finding_classifier::Settings::from(&env("finding-classifier")).expect("settings"),
        &memory,
    )
    .with_metrics(emitter("finding-classifier"));
    let trail = log_detector::assemble(
        log_detector::Settings::from(&env("log-detector")).expect("settings"),
        &memory,
    )
    .with_metrics(emitter("log-detector"));
    let digest = digest::assemble(
        digest::Settings::from(&env("digest")).expect("settings"),
        &memory,
    )
    .with_metrics(emitter("digest"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for path in triage_testkit::all_event_files() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if name.ends_with(".jsonl") || name.ends_with(".decoded.json") {
                continue;
            }
            let event = || LambdaEvent::new(triage_testkit::event(&name), Context::default());
            // Bad samples fail with their typed errors; what the good ones wrote is what counts.
            match stack_tests::owner_of(&name) {
                Some("config-classifier") => {
                    let _ = config.handle(event()).await;
                }
                Some("alarm-classifier") => {
                    let _ = alarms.handle(event()).await;
                }
                Some("finding-classifier") => {
                    let _ = hub.handle(event()).await;
                }
                Some("log-detector") => {
                    let _ = trail.invoke(event()).await;
                }
                _ => {}
            }
        }
        let scheduled = LambdaEvent::new(
            triage_testkit::event("scheduled-digest.json"),
            Context::default(),
        );
        digest.handle(scheduled).await.expect("the digest runs");
    });
    let lines = lines.lock().expect("lines").clone();
    assert!(lines.len() > 20, "{} EMF lines", lines.len());
    let writers: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l["Function"].as_str())
        .collect();
    assert_eq!(
        writers,
        BTreeSet::from([
            "alarm-classifier",
            "config-classifier",
            "digest",
            "finding-classifier",
            "log-detector"
        ]),
        "every function wrote metrics"
    );
    let mut out = BTreeSet::new();
    for line in &lines {
        assert_eq!(metrics::check_document(line), Ok(()), "{line}");
        for directive in line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for metric in directive["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("name");
                for set in directive["Dimensions"].as_array().expect("sets") {
                    let mut dims: Vec<String> = set
                        .as_array()
                        .expect("set")
                        .iter()
                        .map(|d| d.as_str().expect("name").to_owned())
                        .collect();
                    dims.sort();
                    out.insert((name.to_owned(), dims));
                }
            }
        }
    }
    out
}

/// The dashboard's body twice: with its conditional parts (the `Fn::Sub` variables) empty, and
/// with all of them present. `${MetricsNamespace}` becomes [`NAMESPACE`]; every other `${…}`
/// must name a pseudo parameter or a resource — unconditional in the body, of the variable's
/// condition in a variable — and becomes `REF:<name>`.
fn dashboards(t: &Template) -> [Json; 2] {
    let props = t
        .resource("Dashboard")
        .and_then(|d| d.get("Properties"))
        .expect("a Dashboard resource");
    let (tag, sub) = intrinsic(props.get("DashboardBody").expect("DashboardBody")).expect("!Sub");
    assert_eq!(tag, "Sub");
    let (body, variables) = match sub.as_sequence() {
        Some(list) => (
            list.first().and_then(Value::as_str).expect("the body"),
            list.get(1)
                .and_then(Value::as_mapping)
                .cloned()
                .unwrap_or_default(),
        ),
        None => (sub.as_str().expect("the body"), Default::default()),
    };
    let reference = Regex::new(r"\$\{([A-Za-z0-9:]+)(\.[A-Za-z]+)?\}").expect("regex");
    // Each variable: !If [condition, !Sub 'text', ""], its resources of that condition.
    let mut present: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &variables {
        let name = name.as_str().expect("a variable name").to_owned();
        let (tag, args) = intrinsic(value).expect("!If");
        assert_eq!(tag, "If", "{name}");
        let args = args.as_sequence().expect("!If's list");
        let condition = args[0].as_str().expect("a condition");
        let (tag, text) = intrinsic(&args[1]).expect("!Sub");
        assert_eq!(tag, "Sub", "{name}");
        assert_eq!(
            args[2].as_str(),
            Some(""),
            "{name}: empty without its condition"
        );
        let text = text.as_str().expect("text");
        for c in reference.captures_iter(text) {
            let resource = t
                .resource(&c[1])
                .unwrap_or_else(|| panic!("{name} names {}", &c[1]));
            assert_eq!(
                resource.get("Condition").and_then(Value::as_str),
                Some(condition),
                "{name} names {}, which must exist exactly when {condition} holds",
                &c[1]
            );
        }
        present.insert(name, reference.replace_all(text, "REF:$1").into_owned());
    }
    for c in reference.captures_iter(body) {
        let name = &c[1];
        if name.starts_with("AWS::") || name == "MetricsNamespace" || present.contains_key(name) {
            continue;
        }
        let resource = t
            .resource(name)
            .unwrap_or_else(|| panic!("the dashboard names {name}, not in the template"));
        assert!(
            resource.get("Condition").is_none(),
            "the dashboard names {name}, which not every stack has: use a variable"
        );
    }
    let render = |with: bool| {
        let mut text = body.replace("${MetricsNamespace}", NAMESPACE);
        for (name, value) in &present {
            text = text.replace(&format!("${{{name}}}"), if with { value } else { "" });
        }
        let text = reference.replace_all(&text, "REF:$1").into_owned();
        assert!(
            !text.contains("${"),
            "a reference this test cannot read is left: {text}"
        );
        serde_json::from_str::<Json>(&text)
            .unwrap_or_else(|e| panic!("the dashboard body is not JSON (variables {with}): {e}"))
    };
    [render(false), render(true)]
}

/// The values a dimension of ours can take (for the widgets that name one).
fn dimension_values(name: &str) -> Vec<String> {
    match name {
        "Severity" => triage_core::Severity::ALL
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        "Source" => ["cloudtrail", "alarm", "config", "guardduty", "securityhub"]
            .map(str::to_owned)
            .to_vec(),
        other => panic!("a widget names a value of {other}: add its values here"),
    }
}

/// (namespace, metric, sorted dimension names) of every metric a widget draws.
fn drawn(body: &Json) -> Vec<(String, String, Vec<String>)> {
    let search = Regex::new(r#"SEARCH\('\{([^}]*)\} MetricName="([A-Za-z]+)"'"#).expect("regex");
    let schema =
        Regex::new(r#"SUM\(([A-Za-z]+)\) FROM SCHEMA\("([^"]+)", ([^)]*)\)"#).expect("regex");
    let mut out = Vec::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        if widget["type"] != "metric" {
            continue;
        }
        let props = &widget["properties"];
        assert!(
            props["region"].is_string(),
            "a metric widget needs a region"
        );
        for row in props["metrics"].as_array().expect("metrics") {
            let row = row.as_array().expect("a metric row");
            if let Some(ns) = row.first().and_then(Json::as_str) {
                let name = row[1].as_str().expect("metric name").to_owned();
                let pairs: Vec<&str> = row[2..].iter().filter_map(Json::as_str).collect();
                let mut dims = Vec::new();
                for pair in pairs.chunks(2) {
                    let (dim, value) = (pair[0], pair.get(1).copied().unwrap_or_default());
                    if ns == NAMESPACE {
                        assert!(
                            dimension_values(dim).iter().any(|v| v == value),
                            "{name}: {dim}={value} is a value no function writes"
                        );
                    } else {
                        assert!(value.starts_with("REF:"), "{name}: {dim}={value}");
                    }
                    dims.push(dim.to_owned());
                }
                dims.sort();
                out.push((ns.to_owned(), name, dims));
                continue;
            }
            let expression = row[0]["expression"].as_str().expect("an expression");
            let mut found: Vec<(String, String, Vec<String>)> = search
                .captures_iter(expression)
                .map(|c| {
                    let mut parts = c[1]
                        .split(',')
                        .map(|p| p.trim().trim_matches('"').to_owned());
                    let ns = parts.next().unwrap_or_default();
                    (ns, c[2].to_owned(), parts.collect::<Vec<_>>())
                })
                .collect();
            found.extend(schema.captures_iter(expression).map(|c| {
                let dims = c[3].split(',').map(|d| d.trim().to_owned()).collect();
                (c[2].to_owned(), c[1].to_owned(), dims)
            }));
            assert!(
                !found.is_empty(),
                "an expression this test cannot read: {expression}"
            );
            for (ns, name, mut dims) in found {
                dims.sort();
                out.push((ns, name, dims));
            }
        }
    }
    out
}

/// The metric names the template's metric filters publish, by namespace.
fn metric_filter_metrics(t: &Template) -> BTreeSet<(String, String)> {
    t.resources_of("AWS::Logs::MetricFilter")
        .iter()
        .flat_map(|(_, r)| {
            r["Properties"]["MetricTransformations"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|m| {
            Some((
                m.get("MetricNamespace")?.as_str()?.to_owned(),
                m.get("MetricName")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn known(
    emitted: &BTreeSet<(String, Vec<String>)>,
    filters: &BTreeSet<(String, String)>,
    (ns, name, dims): &(String, String, Vec<String>),
) -> Result<(), String> {
    if ns == NAMESPACE {
        return if emitted.contains(&(name.clone(), dims.clone())) {
            Ok(())
        } else {
            Err(format!("{name} by {dims:?}: no function writes it"))
        };
    }
    if AWS_METRICS
        .iter()
        .any(|(n, m, d)| n == ns && m == name && dims.len() == 1 && dims[0] == *d)
    {
        return Ok(());
    }
    if filters.contains(&(ns.clone(), name.clone())) {
        return Ok(());
    }
    Err(format!(
        "{ns} {name} by {dims:?}: not a metric of AWS's or of a metric filter"
    ))
}

#[test]
fn every_metric_the_dashboard_and_the_alarms_use_is_written_by_someone() {
    let t = Template::load().expect("template.yaml");
    let emitted = emitted();
    let filters = metric_filter_metrics(&t);
    let [without, with] = dashboards(&t);
    let drawn = drawn(&without);
    assert!(drawn.len() >= 30, "{} metrics drawn", drawn.len());
    let all = self::drawn(&with);
    assert!(
        all.len() > drawn.len(),
        "the conditional rows are drawn when present"
    );
    for metric in &all {
        known(&emitted, &filters, metric).unwrap_or_else(|e| panic!("the dashboard: {e}"));
    }
    // Every alarm that reaches the health topic is on the alarm widget (with its condition).
    let listed: BTreeSet<String> = with["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| {
            w["properties"]["alarms"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|a| a.as_str()?.strip_prefix("REF:").map(str::to_owned))
        .collect();
    for (id, alarm) in t.resources_of("AWS::CloudWatch::Alarm") {
        let health = alarm["Properties"]
            .get("AlarmActions")
            .and_then(Value::as_sequence)
            .is_some_and(|a| {
                a.iter()
                    .any(|x| stack_tests::referenced_resource(x).as_deref() == Some("HealthTopic"))
            });
        if health {
            assert!(
                listed.contains(id),
                "{id} pages the health topic and is not on the dashboard"
            );
        }
    }
    // Every graph of ours is drawn from something a function wrote.
    let ours: BTreeSet<&String> = drawn
        .iter()
        .filter(|(ns, _, _)| ns == NAMESPACE)
        .map(|(_, m, _)| m)
        .collect();
    for needed in [
        "Findings",
        "TicketsOpened",
        "TicketsResolved",
        "Alerts",
        "Suppressed",
    ] {
        assert!(
            ours.contains(&needed.to_owned()),
            "the dashboard draws {needed}"
        );
    }
    // The alarms: a plain metric or metric math over metrics.
    let mut alarmed = 0;
    for (id, alarm) in t.resources_of("AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        let mut stats: Vec<&Value> = vec![p];
        if let Some(metrics) = p.get("Metrics").and_then(Value::as_sequence) {
            stats.extend(
                metrics
                    .iter()
                    .filter_map(|m| m.get("MetricStat")?.get("Metric")),
            );
        }
        for s in stats {
            let Some(name) = s.get("MetricName").and_then(Value::as_str) else {
                continue;
            };
            let ns = match s.get("Namespace") {
                Some(v) if v.as_str().is_some() => v.as_str().unwrap_or_default().to_owned(),
                Some(v)
                    if intrinsic(v).is_some_and(|(tag, arg)| {
                        tag == "Ref" && arg.as_str() == Some("MetricsNamespace")
                    }) =>
                {
                    NAMESPACE.to_owned()
                }
                other => panic!("{id}: a namespace this test cannot read: {other:?}"),
            };
            let mut dims: Vec<String> = s
                .get("Dimensions")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|d| d.get("Name")?.as_str().map(str::to_owned))
                .collect();
            dims.sort();
            known(&emitted, &filters, &(ns, name.to_owned(), dims))
                .unwrap_or_else(|e| panic!("alarm {id}: {e}"));
            alarmed += 1;
        }
    }
    assert!(alarmed >= 30, "{alarmed} alarm metrics checked");
}

#[test]
fn the_functions_write_every_counter_the_readme_lists() {
    let emitted: BTreeMap<String, ()> = emitted().into_iter().map(|(m, _)| (m, ())).collect();
    // jira-consumer's counters are written by its own tests (functions/jira-consumer).
    let jira_only = ["IssuesCreated", "IssuesCommented", "IssuesClosed", "Failed"];
    for def in metrics::CATALOG {
        if jira_only.contains(&def.name) {
            continue;
        }
        assert!(
            emitted.contains_key(def.name),
            "{} is written by no function",
            def.name
        );
    }
    assert!(emitted.contains_key(metrics::FINDINGS));
}

#[test]
fn the_readme_lists_every_metric_with_its_dimensions() {
    let readme =
        std::fs::read_to_string(stack_tests::repo_root().join("README.md")).expect("README");
    for def in metrics::CATALOG {
        let row = format!("| `{}` | `Function` | {} |", def.name, def.about);
        assert!(readme.contains(&row), "README, Dashboard: {row}");
    }
    assert!(readme.contains("| `Findings` | `Severity`; `Source`, `Severity`; `Source`, `Rule`"));
}
