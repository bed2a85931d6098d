//! What triage's bus gives its targets, from the events the four classifiers really put there
//! for every sample (built as they ship, on memory, with `AlertMinSeverity=info` so that every
//! severity pages and `OcsfEvents=enabled`):
//!
//! - the optional PagerDuty API destination (`PagerDutyRoutingKeySecretArn`): the template's rules
//!   give PagerDuty valid Events API v2 bodies: each page matches exactly one trigger rule, with
//!   PagerDuty's severity for it; each resolve matches the resolve rule; the dedup key is the
//!   problem's fingerprint on both;
//! - the OCSF findings: one per ticket event, of the class its source calls for, with every
//!   attribute OCSF 1.6.0 requires (`schema/ocsf-finding.schema.json`).
//!
//! EventBridge's input transformer is emulated as documented: each `<name>` of the template is
//! replaced by the JSON value its path selects (a string keeps its quotes), and the connection's
//! body parameters are then added to the JSON body (`routing_key`). The body is checked against
//! `schema/pagerduty-events-v2.schema.json`, written from PagerDuty's reference.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value as Json, json};
use stack_tests::{Template, Value, function_env, memory_stand_ins, repo_root, yaml_to_json};
use triage_core::fakes::Memory;
use triage_core::{Finding, SafeText, Severity, TicketAction, TicketEvent};

/// Each rule, the severities of the pages it takes, and PagerDuty's severity for them.
const RULES: [(&str, &[Severity], &str); 5] = [
    (
        "PagerDutyTriggerCriticalRule",
        &[Severity::Critical],
        "critical",
    ),
    ("PagerDutyTriggerHighRule", &[Severity::High], "error"),
    ("PagerDutyTriggerMediumRule", &[Severity::Medium], "warning"),
    (
        "PagerDutyTriggerLowRule",
        &[Severity::Low, Severity::Info],
        "info",
    ),
    ("PagerDutyResolveRule", &[], "resolve"),
];

/// A routing key of PagerDuty's shape (32 characters), standing in for the secret's.
const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdefABCDEF";

struct Rule {
    id: &'static str,
    pattern: Json,
    paths: BTreeMap<String, String>,
    template: String,
}

fn rules(t: &Template) -> Vec<Rule> {
    RULES
        .iter()
        .map(|(id, _, _)| {
            let r = t
                .resource(id)
                .unwrap_or_else(|| panic!("{id} in template.yaml"));
            let props = r.get("Properties").expect("Properties");
            let target = props
                .get("Targets")
                .and_then(Value::as_sequence)
                .and_then(|t| t.first())
                .expect("one target");
            assert_eq!(
                stack_tests::referenced_resource(target.get("Arn").expect("Arn")).as_deref(),
                Some("PagerDutyDestination"),
                "{id}"
            );
            let transformer = target.get("InputTransformer").expect("InputTransformer");
            let paths = yaml_to_json(transformer.get("InputPathsMap").expect("InputPathsMap"))
                .as_object()
                .expect("map")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("a path").to_owned()))
                .collect();
            Rule {
                id,
                pattern: yaml_to_json(props.get("EventPattern").expect("EventPattern")),
                paths,
                template: transformer
                    .get("InputTemplate")
                    .and_then(Value::as_str)
                    .expect("InputTemplate")
                    .to_owned(),
            }
        })
        .collect()
}

/// `$.a.b` of `event`.
fn select<'a>(event: &'a Json, path: &str) -> Option<&'a Json> {
    let rest = path.strip_prefix("$.")?;
    rest.split('.').try_fold(event, |v, key| v.get(key))
}

/// EventBridge's input transformer, then the connection's body parameters.
fn transform(rule: &Rule, event: &Json, body_parameters: &[(String, String)]) -> Json {
    let mut text = rule.template.clone();
    for (name, path) in &rule.paths {
        let value = select(event, path)
            .unwrap_or_else(|| panic!("{}: {path} is not in the event {event}", rule.id));
        text = text.replace(&format!("<{name}>"), &value.to_string());
    }
    let mut body: Json = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{}: the transformed input is not JSON ({e}): {text}",
            rule.id
        )
    });
    for (k, v) in body_parameters {
        body[k] = json!(v);
    }
    body
}

/// The connection's body parameters, with the secret's value standing in for its dynamic
/// reference.
fn body_parameters(t: &Template) -> Vec<(String, String)> {
    let connection = t
        .resource("PagerDutyConnection")
        .expect("PagerDutyConnection");
    let params = connection
        .get("Properties")
        .and_then(|p| p.get("AuthParameters"))
        .and_then(|a| a.get("InvocationHttpParameters"))
        .and_then(|i| i.get("BodyParameters"))
        .and_then(Value::as_sequence)
        .expect("BodyParameters");
    params
        .iter()
        .map(|p| {
            let key = p.get("Key").and_then(Value::as_str).expect("Key").to_owned();
            let value = serde_json::to_string(&yaml_to_json(p.get("Value").expect("Value"))).expect("json");
            assert!(
                value.contains("{{resolve:secretsmanager:${PagerDutyRoutingKeySecretArn}:SecretString:routing_key}}"),
                "{key} comes from the user's secret: {value}"
            );
            assert_eq!(p.get("IsValueSecret").and_then(Value::as_bool), Some(true), "{key} is secret");
            (key, ROUTING_KEY.to_owned())
        })
        .collect()
}

fn envelope(detail_type: &str, detail: &str, resources: &[String]) -> Json {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "triage",
        "account": "111122223333",
        "time": "2026-11-24T03:00:00Z",
        "region": "us-east-1",
        "resources": resources,
        "detail": serde_json::from_str::<Json>(detail).expect("detail JSON"),
    })
}

/// What the classifiers put on the bus for every sample, with every severity paging and the
/// OCSF twins on.
async fn bus_events() -> Vec<Json> {
    let memory = Memory::default();
    let mut stand_ins = memory_stand_ins();
    stand_ins.insert("AlertMinSeverity", "info".to_owned());
    stand_ins.insert("OcsfEvents", "enabled".to_owned());
    let env = |binary| function_env(binary, &stand_ins);
    let config = config_classifier::assemble(
        config_classifier::Settings::from(&env("config-classifier")).expect("settings"),
        &memory,
    );
    let alarms = alarm_classifier::assemble(
        alarm_classifier::Settings::from(&env("alarm-classifier")).expect("settings"),
        &memory,
    );
    let hub = finding_classifier::assemble(
        finding_classifier::Settings::from(&env("finding-classifier")).expect("settings"),
        &memory,
    );
    let trail = log_detector::assemble(
        log_detector::Settings::from(&env("log-detector")).expect("settings"),
        &memory,
    );
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
        // Bad samples fail with their typed errors; what the good ones sent is what counts.
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
                let _ = trail.handle(event()).await;
            }
            _ => {}
        }
    }
    let mut events: Vec<Json> = memory
        .events
        .sent()
        .iter()
        .map(|e| envelope(e.detail_type, &e.detail, &e.resources))
        .collect();
    // The longest title a finding can have: a page of it.
    let mut long = triage_core::fakes::finding("restricted-ssh");
    long.title = SafeText::new(&"\"quoted\" \\ title ".repeat(100_000));
    long.severity = Severity::Critical;
    let alert = triage_core::Alert::for_finding(&long)
        .expect("alert")
        .bus_event();
    events.push(envelope(alert.detail_type, &alert.detail, &alert.resources));
    let resolve = TicketEvent::new(TicketAction::Resolve, long, 9);
    let bus = resolve.bus_event(&resolve.body().expect("body"));
    events.push(envelope(bus.detail_type, &bus.detail, &bus.resources));
    let twin = triage_core::ocsf::bus_event(&resolve, bus.resources.clone()).expect("OCSF");
    events.push(envelope(twin.detail_type, &twin.detail, &twin.resources));
    events
}

fn validator() -> jsonschema::Validator {
    let path = repo_root().join("tests/stack/schema/pagerduty-events-v2.schema.json");
    let schema: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("a valid schema")
}

#[tokio::test]
async fn every_page_and_resolve_becomes_a_valid_pagerduty_event_with_the_fingerprint_as_dedup_key()
{
    let t = Template::load().expect("template.yaml");
    let rules = rules(&t);
    let params = body_parameters(&t);
    let validator = validator();
    let mut q = quamina::Quamina::<String>::new();
    for r in &rules {
        q.add_pattern(r.id.to_owned(), &r.pattern.to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", r.id));
    }

    let events = bus_events().await;
    let mut severities_paged = BTreeSet::new();
    let mut resolves = 0;
    for event in &events {
        let detail_type = event["detail-type"].as_str().expect("detail-type");
        let matched = q
            .matches_for_event(event.to_string().as_bytes())
            .expect("matching");
        if triage_core::ocsf::DETAIL_TYPES.contains(&detail_type) {
            assert!(matched.is_empty(), "{detail_type} matched {matched:?}");
            continue;
        }
        let finding: Finding =
            serde_json::from_value(event["detail"]["finding"].clone()).expect("a finding");
        let expected: Vec<&str> = match detail_type {
            "Alert" => RULES
                .iter()
                .filter(|(_, s, _)| s.contains(&finding.severity))
                .map(|(id, _, _)| *id)
                .collect(),
            "Ticket Resolved" => vec!["PagerDutyResolveRule"],
            _ => vec![],
        };
        assert_eq!(
            matched, expected,
            "{detail_type} of severity {}",
            finding.severity
        );
        let Some(rule) = rules.iter().find(|r| expected.first() == Some(&r.id)) else {
            continue;
        };
        let body = transform(rule, event, &params);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}\n{body}", rule.id);
        assert_eq!(body["routing_key"], ROUTING_KEY);
        assert_eq!(
            body["dedup_key"],
            finding.fingerprint.as_str(),
            "the problem's fingerprint"
        );
        let (_, _, pd) = RULES
            .iter()
            .find(|(id, _, _)| *id == rule.id)
            .expect("rule");
        if detail_type == "Alert" {
            assert_eq!(body["event_action"], "trigger");
            assert_eq!(body["payload"]["severity"], *pd);
            assert_eq!(body["payload"]["summary"], finding.title.as_str());
            assert_eq!(body["payload"]["source"], finding.account.as_str());
            assert_eq!(
                body["payload"]["custom_details"]["alert_id"],
                event["detail"]["alert_id"]
            );
            severities_paged.insert(finding.severity);
        } else {
            assert_eq!(body["event_action"], "resolve");
            resolves += 1;
        }
    }
    assert_eq!(
        severities_paged,
        BTreeSet::from([
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low
        ]),
        "the samples page at every severity a rule exists for"
    );
    assert!(resolves >= 2, "resolves: {resolves}");
}

#[test]
fn the_api_destination_is_pagerdutys_events_endpoint_and_only_the_stacks_rules_invoke_it() {
    let t = Template::load().expect("template.yaml");
    let d = t
        .resource("PagerDutyDestination")
        .and_then(|r| r.get("Properties"))
        .expect("destination");
    assert_eq!(
        d.get("InvocationEndpoint").and_then(Value::as_str),
        Some("https://events.pagerduty.com/v2/enqueue")
    );
    assert_eq!(d.get("HttpMethod").and_then(Value::as_str), Some("POST"));
    for (id, _, _) in RULES {
        let r = t.resource(id).expect("rule");
        assert_eq!(
            r.get("Condition").and_then(Value::as_str),
            Some("PagerDutyEnabled"),
            "{id}"
        );
        let bus = r
            .get("Properties")
            .and_then(|p| p.get("EventBusName"))
            .expect("EventBusName");
        assert_eq!(
            stack_tests::referenced_resource(bus).as_deref(),
            Some("TriageEventBus"),
            "{id}"
        );
    }
}

fn ocsf_validator() -> jsonschema::Validator {
    let path = repo_root().join("schema/ocsf-finding.schema.json");
    let schema: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    jsonschema::validator_for(&schema).expect("a valid schema")
}

#[tokio::test]
async fn every_ticket_event_has_an_ocsf_twin_with_every_attribute_its_class_requires() {
    let validator = ocsf_validator();
    let envelope_schema: Json = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schema/triage-event.schema.json"))
            .expect("schema"),
    )
    .expect("JSON");
    let envelope = jsonschema::validator_for(&envelope_schema).expect("a valid schema");
    let events = bus_events().await;
    for e in &events {
        let errors: Vec<String> = envelope
            .iter_errors(e)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "triage-event.schema.json: {errors:#?}\n{e:.300}"
        );
    }
    let tickets: Vec<&Json> = events
        .iter()
        .filter(|e| {
            e["detail-type"]
                .as_str()
                .is_some_and(|d| d.starts_with("Ticket "))
        })
        .collect();
    let twins: Vec<&Json> = events
        .iter()
        .filter(|e| {
            e["detail-type"]
                .as_str()
                .is_some_and(|d| triage_core::ocsf::DETAIL_TYPES.contains(&d))
        })
        .collect();
    assert_eq!(
        twins.len(),
        tickets.len(),
        "one OCSF finding per ticket event"
    );
    let mut classes = BTreeMap::new();
    for (ticket, twin) in tickets.iter().zip(&twins) {
        let t: TicketEvent =
            serde_json::from_value(ticket["detail"].clone()).expect("a ticket event");
        let o = &twin["detail"];
        let errors: Vec<String> = validator
            .iter_errors(o)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{o}");
        assert_eq!(twin["resources"], ticket["resources"], "the same resources");
        // the same problem, the same moment, the class its source calls for
        assert_eq!(o["finding_info"]["uid"], t.fingerprint.as_str());
        assert_eq!(
            o["metadata"]["uid"],
            format!("{}:{}", t.fingerprint, t.sequence)
        );
        assert_eq!(o["time"], t.event_time.timestamp_millis());
        let activity = match t.action {
            TicketAction::Open => 1,
            TicketAction::Update => 2,
            TicketAction::Resolve => 3,
        };
        assert_eq!(o["activity_id"], activity);
        let class = o["class_uid"].as_u64().expect("class");
        assert_eq!(
            o["type_uid"].as_u64(),
            Some(class * 100 + activity),
            "type_uid"
        );
        let expected_class = match t.finding.source {
            triage_core::Source::Config => 2003,
            triage_core::Source::Securityhub if t.finding.rule_id.as_str().contains('.') => 2003,
            _ => 2004,
        };
        assert_eq!(
            class, expected_class,
            "{} {}",
            t.finding.source, t.finding.rule_id
        );
        let detail_type = if class == 2003 {
            "OCSF Compliance Finding"
        } else {
            "OCSF Detection Finding"
        };
        assert_eq!(twin["detail-type"], detail_type);
        let severity = match t.finding.severity {
            Severity::Info => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        };
        assert_eq!(o["severity_id"], severity);
        if class == 2003 {
            let pass = t.action == TicketAction::Resolve;
            assert_eq!(o["compliance"]["status_id"], if pass { 1 } else { 3 });
        }
        *classes
            .entry(format!("{class} {}", t.finding.source))
            .or_insert(0) += 1;
    }
    for expected in [
        "2003 config",
        "2003 securityhub",
        "2004 alarm",
        "2004 cloudtrail",
        "2004 guardduty",
        "2004 securityhub",
    ] {
        assert!(
            classes.contains_key(expected),
            "no {expected} among {classes:?}"
        );
    }
}
