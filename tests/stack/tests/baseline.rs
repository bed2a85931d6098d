//! The seed baseline in template.yaml comes from the rule files, and says what they say.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use stack_tests::baseline::{self, committed_section};
use stack_tests::{Template, Value, intrinsic, referenced_resource};
use triage_core::Severity;
use triage_core::alarm::DescriptionTokens;
use triage_core::cloudtrail::{DetectionPack, SEED_DETECTIONS};
use triage_core::config::ConfigRuleCatalog;

fn template_text() -> String {
    std::fs::read_to_string(Template::path()).expect("template.yaml")
}

fn template() -> Template {
    Template::load().expect("template.yaml")
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

#[test]
fn seed_baseline_in_the_template_is_generated_from_the_rule_files() {
    let expected = baseline::generate().expect("generate the seed baseline");
    let text = template_text();
    let committed = committed_section(&text).expect("seed baseline section");
    if committed != expected {
        let first_difference = committed
            .lines()
            .zip(expected.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| {
                format!(
                    "line {} of the section:\n  committed: {a}\n  generated: {b}",
                    i + 1
                )
            })
            .unwrap_or_else(|| "the sections differ in length".into());
        panic!(
            "template.yaml's seed baseline is not what rules/detections.toml and \
             rules/config-rules.toml generate ({first_difference}).\nRegenerate it with: \
             cargo run -p stack-tests --bin seed-baseline -- --write"
        );
    }
}

#[test]
fn every_seed_detection_has_a_metric_filter_with_the_rule_files_pattern_and_a_linked_alarm() {
    let t = template();
    let pack = DetectionPack::shipped().expect("detection pack");
    let filters = t.resources_of("AWS::Logs::MetricFilter");
    let alarms = t.resources_of("AWS::CloudWatch::Alarm");
    assert_eq!(
        filters.len(),
        SEED_DETECTIONS.len(),
        "one metric filter per seed detection"
    );
    for id in SEED_DETECTIONS {
        let rule = pack
            .metric_filters()
            .into_iter()
            .find(|f| f.rule_id == id)
            .unwrap_or_else(|| panic!("{id} in rules/detections.toml"));
        // The YAML-parsed pattern is byte for byte the rule file's: quoting lost nothing.
        let (filter_id, filter) = filters
            .iter()
            .find(|(_, f)| str_of(f, &["Properties", "FilterPattern"]) == Some(rule.pattern))
            .unwrap_or_else(|| panic!("no metric filter has {id}'s pattern {}", rule.pattern));
        let props = filter.get("Properties").expect("properties");
        assert_eq!(
            props.get("LogGroupName").and_then(referenced_resource),
            Some("TrailLogGroupName".into()),
            "{filter_id} watches the trail's log group"
        );
        assert_eq!(
            str_of(filter, &["Condition"]),
            Some("DeploySeedDetectionAlarms")
        );
        let transformation = props
            .get("MetricTransformations")
            .and_then(|m| m.get(0))
            .expect("metric transformation");
        assert_eq!(
            str_of(transformation, &["MetricNamespace"]),
            Some(rule.metric_namespace)
        );
        assert_eq!(
            str_of(transformation, &["MetricName"]),
            Some(rule.metric_name)
        );

        let token = format!("triage:detection={id}");
        let (alarm_id, alarm) = alarms
            .iter()
            .find(|(_, a)| {
                str_of(a, &["Properties", "AlarmDescription"]).is_some_and(|d| d.contains(&token))
            })
            .unwrap_or_else(|| panic!("no alarm's description carries {token}"));
        let p = alarm.get("Properties").expect("properties");
        let name = p
            .get("AlarmName")
            .and_then(intrinsic)
            .expect("AlarmName !Sub");
        assert_eq!(
            (name.0.as_str(), name.1.as_str()),
            ("Sub", Some(format!("${{AWS::StackName}}-{id}").as_str())),
            "{alarm_id}"
        );
        assert_eq!(str_of(p, &["Namespace"]), Some(rule.metric_namespace));
        assert_eq!(str_of(p, &["MetricName"]), Some(rule.metric_name));
        assert_eq!(str_of(p, &["Statistic"]), Some("Sum"));
        assert_eq!(p.get("Period").and_then(Value::as_u64), Some(300));
        assert_eq!(p.get("EvaluationPeriods").and_then(Value::as_u64), Some(1));
        assert_eq!(p.get("Threshold").and_then(Value::as_u64), Some(1));
        assert_eq!(
            str_of(p, &["ComparisonOperator"]),
            Some("GreaterThanOrEqualToThreshold")
        );
        assert_eq!(str_of(p, &["TreatMissingData"]), Some("notBreaching"));
        assert_eq!(
            str_of(alarm, &["Condition"]),
            Some("DeploySeedDetectionAlarms")
        );
    }
}

#[test]
fn the_seed_config_rules_are_the_catalogs_seven_under_names_config_classifier_resolves() {
    let t = template();
    let catalog = ConfigRuleCatalog::shipped().expect("catalog");
    let deployed = t.resources_of("AWS::Config::ConfigRule");
    let seed: Vec<_> = catalog.rules().iter().filter(|r| r.seed).collect();
    assert_eq!(seed.len(), 7, "the seed has seven Config rules");
    assert_eq!(deployed.len(), seed.len());
    for (id, r) in &deployed {
        let p = r.get("Properties").expect("properties");
        let name = str_of(p, &["ConfigRuleName"]).expect("ConfigRuleName");
        let known = catalog
            .lookup(name)
            .unwrap_or_else(|| panic!("{id}: config-classifier does not know {name}"));
        assert!(known.seed, "{id}: {name} is not one of the seed's rules");
        assert_eq!(str_of(p, &["Source", "Owner"]), Some("AWS"), "{id}");
        assert_eq!(
            str_of(p, &["Source", "SourceIdentifier"]),
            Some(known.identifier.as_str()),
            "{id}: {name} must run the managed rule {}",
            known.identifier
        );
        assert_eq!(str_of(r, &["Condition"]), Some("DeploySeedConfigRules"));
    }
    for rule in seed {
        assert!(
            deployed.iter().any(|(_, r)| {
                str_of(r, &["Properties", "SourceIdentifier"]).is_none()
                    && str_of(r, &["Properties", "Source", "SourceIdentifier"])
                        == Some(rule.identifier.as_str())
            }),
            "seed rule {} ({}) is not deployed",
            rule.name,
            rule.identifier
        );
    }
}

#[test]
fn the_alarms_watching_the_responder_page_and_ticket_at_high() {
    let t = template();
    let mut watching = 0;
    for (id, alarm) in t.resources_of("AWS::CloudWatch::Alarm") {
        if alarm.get("Condition").is_some() {
            continue; // the seed's detection alarms
        }
        let p = alarm.get("Properties").expect("properties");
        let description = str_of(p, &["AlarmDescription"]).unwrap_or_default();
        assert_eq!(
            DescriptionTokens::parse(description).severity,
            Some(Severity::High),
            "{id}: alarm-classifier should ticket it at high ({description:?})"
        );
        let name = p.get("AlarmName").and_then(intrinsic).expect("AlarmName");
        assert!(
            name.0 == "Sub"
                && name
                    .1
                    .as_str()
                    .is_some_and(|n| n.starts_with("${AWS::StackName}-")),
            "{id}: named <stack>-…, which the key and topic policies let publish"
        );
        watching += 1;
    }
    assert!(watching >= 10, "{watching} alarms watch the responder");
}
