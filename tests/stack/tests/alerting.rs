//! The responder watches itself where a finding could otherwise be lost unseen: ticket events
//! that nobody reads before they expire, asynchronous events Lambda could not record as failed,
//! and a stack whose alerts reach nobody.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use stack_tests::{Template, Value, referenced_resource};

fn template() -> Template {
    Template::load().expect("template.yaml")
}

/// The alarms' `(logical id, properties)`.
fn alarms(t: &Template) -> Vec<(String, Value)> {
    t.resources_of("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, r)| (id.to_owned(), r.get("Properties").cloned().unwrap()))
        .collect()
}

/// `(namespace, metric, resource the dimension names)` of every metric an alarm reads.
fn metrics(alarm: &Value) -> Vec<(String, String, Option<String>)> {
    let one = |m: &Value| {
        let dimension = m
            .get("Dimensions")
            .and_then(Value::as_sequence)
            .and_then(|d| d.first())
            .and_then(|d| d.get("Value"))
            .and_then(referenced_resource);
        (
            m.get("Namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            m.get("MetricName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            dimension,
        )
    };
    match alarm.get("Metrics").and_then(Value::as_sequence) {
        Some(queries) => queries
            .iter()
            .filter_map(|q| q.get("MetricStat")?.get("Metric"))
            .map(one)
            .collect(),
        None => vec![one(alarm)],
    }
}

/// The stack's own alarms page through the health topic, which does not depend on the stack's
/// key (see trust.rs).
fn alerts_the_health_topic(alarm: &Value) -> bool {
    alarm
        .get("AlarmActions")
        .and_then(Value::as_sequence)
        .is_some_and(|a| {
            a.iter()
                .any(|v| referenced_resource(v).as_deref() == Some("HealthTopic"))
        })
}

#[test]
fn ticket_events_are_kept_14_days_and_an_alarm_fires_long_before_they_expire() {
    let t = template();
    let retention = t
        .resource("TicketQueue")
        .and_then(|q| q.get("Properties")?.get("MessageRetentionPeriod")?.as_u64())
        .expect("TicketQueue retention");
    assert_eq!(retention, 14 * 24 * 3600, "SQS's longest retention");
    let age = alarms(&t)
        .into_iter()
        .find(|(_, a)| {
            metrics(a).iter().any(|(ns, m, q)| {
                ns == "AWS/SQS"
                    && m == "ApproximateAgeOfOldestMessage"
                    && q.as_deref() == Some("TicketQueue")
            })
        })
        .expect("an alarm on the ticket queue's oldest message");
    let threshold = age
        .1
        .get("Threshold")
        .and_then(Value::as_f64)
        .expect("threshold");
    assert!(
        threshold <= retention as f64 / 2.0,
        "{}: fires with half the retention left at least",
        age.0
    );
    assert!(alerts_the_health_topic(&age.1), "{}", age.0);
    assert!(
        alarms(&t)
            .iter()
            .any(|(_, a)| metrics(a).iter().any(|(ns, m, q)| ns == "AWS/SQS"
                && m == "ApproximateNumberOfMessagesVisible"
                && q.as_deref() == Some("TicketQueue"))
                && alerts_the_health_topic(a)),
        "an alarm on the ticket queue's backlog"
    );
}

#[test]
fn events_lambda_could_not_record_as_failed_alarm_for_every_function() {
    let t = template();
    let alarms = alarms(&t);
    // A function only an SQS event source mapping invokes (jira-consumer) is invoked
    // synchronously: its failed messages go back to the queue, then to the queue's DLQ.
    let polled_only = |f: &stack_tests::Function| {
        !f.events.is_empty()
            && f.events
                .values()
                .all(|e| e.get("Type").and_then(Value::as_str) == Some("SQS"))
    };
    for f in t.functions().into_iter().filter(|f| !polled_only(f)) {
        for metric in ["DestinationDeliveryFailures", "AsyncEventsDropped"] {
            assert!(
                alarms.iter().any(|(_, a)| alerts_the_health_topic(a)
                    && metrics(a).iter().any(|(ns, m, fun)| ns == "AWS/Lambda"
                        && m == metric
                        && fun.as_deref() == Some(f.logical_id.as_str()))),
                "{}: no alarm on {metric}",
                f.logical_id
            );
        }
    }
}

#[test]
fn a_deploy_whose_alerts_would_reach_nobody_is_refused_unless_said_so() {
    let t = template();
    let rule = t
        .root
        .get("Rules")
        .and_then(|r| r.get("AlertsReachSomeone"))
        .expect("Rules.AlertsReachSomeone");
    let text = serde_json::to_string(&stack_tests::yaml_to_json(rule)).expect("json");
    for needle in ["AllowNoAlertSubscriber", "AlertEmail"] {
        assert!(text.contains(needle), "the rule reads {needle}: {text}");
    }
    assert_eq!(
        t.parameter_default("AllowNoAlertSubscriber")
            .and_then(Value::as_str),
        Some("false"),
        "refused by default"
    );
}
