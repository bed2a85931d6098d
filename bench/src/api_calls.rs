//! API calls per finding on the ticket path: config-classifier and log-detector as they ship
//! (`assemble` on the AWS backend, the template's settings: the real SQS/SNS/DynamoDB adapters,
//! the packed digest sink, suppressions and dedup state), against moto, with every request
//! counted on the wire by [`WireCounter`].
//!
//! Every scenario runs three passes over fresh resources, in this order:
//!
//! - **first sight**: every finding new (dedup claim, ticket, digest entry, alert if critical);
//! - **recurrence**: new occurrences of the same problems ten minutes later, within the dedup
//!   window (counted, no new ticket);
//! - **retry**: the recurrence's events delivered again, as Lambda retries an invocation
//!   (recognised by the dedup state, nothing sent twice).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use stack_tests::stand_ins;
use triage_aws::Aws;
use triage_core::cloudtrail::encode_lambda_event;
use triage_testkit::{DedupTable, MotoServer, Queues};

use crate::functions::{config_classifier_on, log_detector_on};
use crate::wire::WireCounter;

/// Config rule evaluations per config-classifier scenario (one finding per invocation).
pub const CONFIG_INVOCATIONS: usize = 20;
/// Distinct principals in log-detector's batch scenario (one payload).
pub const BATCH_FINDINGS: usize = 50;
/// How much later the recurrence happens.
const LATER_MINUTES: i64 = 10;

/// What one pass did.
#[derive(Default)]
struct Tally {
    invocations: usize,
    findings: u64,
    tickets: u64,
    digest_entries: u64,
    alerts: u64,
}

impl Tally {
    fn add(&mut self, summary: &Value) {
        let n = |k: &str| summary.get(k).and_then(Value::as_u64).unwrap_or(0);
        self.invocations += 1;
        self.findings += n("findings");
        self.tickets += n("tickets");
        self.digest_entries += n("digest_entries");
        self.alerts += n("alerts");
    }

    fn json(self, pass: &str, calls: BTreeMap<String, usize>) -> Value {
        let total: usize = calls.values().sum();
        json!({
            "pass": pass,
            "invocations": self.invocations,
            "findings": self.findings,
            "tickets": self.tickets,
            "digest_entries": self.digest_entries,
            "alerts": self.alerts,
            "calls": calls,
            "total_calls": total,
            "calls_per_finding": if self.findings > 0 {
                json!(((total as f64 / self.findings as f64) * 100.0).round() / 100.0)
            } else {
                Value::Null
            },
        })
    }
}

fn sample(name: &str) -> Result<String, String> {
    let path = triage_testkit::repo_root().join("events").join(name);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Moves the RFC 3339 times at these JSON pointers `minutes` later.
fn shift(v: &mut Value, pointers: &[&str], minutes: i64) {
    for p in pointers {
        if let Some(t) = v.pointer_mut(p)
            && let Some(parsed) = t
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        {
            let later = parsed.with_timezone(&Utc) + TimeDelta::minutes(minutes);
            *t = json!(later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
    }
}

/// `count` copies of a Config compliance change, each about its own resource, `minutes` after
/// the sample.
fn config_events(name: &str, count: usize, minutes: i64) -> Result<Vec<Value>, String> {
    let text = sample(name)?;
    let original = parse(&text)?["detail"]["resourceId"]
        .as_str()
        .ok_or_else(|| format!("{name}: no detail.resourceId"))?
        .to_owned();
    (0..count)
        .map(|i| {
            let mut e = parse(&text.replace(&original, &format!("{original}-bench{i:04}")))?;
            if minutes != 0 {
                e["id"] = json!(format!("00000000-0000-4000-8000-{minutes:04}{i:08}"));
                shift(
                    &mut e,
                    &[
                        "/time",
                        "/detail/notificationCreationTime",
                        "/detail/newEvaluationResult/resultRecordedTime",
                        "/detail/newEvaluationResult/configRuleInvokedTime",
                        "/detail/newEvaluationResult/evaluationResultIdentifier/orderingTimestamp",
                    ],
                    minutes,
                );
            }
            Ok(e)
        })
        .collect()
}

/// One subscription payload of `count` copies of a CloudTrail record, each by its own IAM user
/// when `user` (the sample's user name) is given, `minutes` after the sample.
fn cloudtrail_batch(
    name: &str,
    user: Option<&str>,
    count: usize,
    minutes: i64,
) -> Result<Value, String> {
    let text = sample(name)?;
    let events: Vec<Value> = (0..count)
        .map(|i| {
            let text = match user {
                Some(u) => text.replace(u, &format!("bench-user-{i:04}")),
                None => text.clone(),
            };
            let mut record = parse(&text)?;
            record["eventID"] = json!(format!("00000000-0000-4000-8000-{minutes:04}{i:08}"));
            shift(&mut record, &["/eventTime"], minutes);
            Ok(json!({
                "id": format!("{minutes:04}{i:052}"),
                "timestamp": 1_722_375_072_000_i64 + minutes * 60_000,
                "message": record.to_string(),
            }))
        })
        .collect::<Result<_, String>>()?;
    let decoded = json!({
        "messageType": "DATA_MESSAGE",
        "owner": "111122223333",
        "logGroup": "aws-cloudtrail-logs-111122223333",
        "logStream": "111122223333_CloudTrail_us-east-1",
        "subscriptionFilters": ["triage-log-detector"],
        "logEvents": events,
    });
    encode_lambda_event(decoded.to_string().as_bytes()).map_err(|e| e.to_string())
}

fn summary(s: &impl serde::Serialize) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// A scenario: the events of its first sight and of its recurrence (which the retry repeats).
struct Scenario {
    function: &'static str,
    label: String,
    first: Vec<Value>,
    later: Vec<Value>,
}

/// The handlers under test.
struct Handlers {
    config: config_classifier::Handler<Aws>,
    logs: log_detector::Handler<Aws>,
}

impl Handlers {
    /// The handlers' futures are boxed: nested in the bench's own, they are deeper than the
    /// compiler's layout computation goes by default.
    async fn invoke(&self, function: &str, event: Value) -> Result<Value, String> {
        let event = LambdaEvent::new(event, Context::default());
        let fail = |e: &dyn std::fmt::Display| format!("{function}: {e}");
        match function {
            "config-classifier" => Box::pin(self.config.handle(event))
                .await
                .map(|s| summary(&s))
                .map_err(|e| fail(&e)),
            _ => Box::pin(self.logs.handle(event))
                .await
                .map(|s| summary(&s))
                .map_err(|e| fail(&e)),
        }
    }
}

fn scenarios() -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    for (name, label) in [
        (
            "config-noncompliant-restricted-ssh.json",
            "high: ticket + digest",
        ),
        (
            "config-noncompliant-s3-public-read.json",
            "critical: ticket + alert + digest",
        ),
    ] {
        out.push(Scenario {
            function: "config-classifier",
            label: format!(
                "{CONFIG_INVOCATIONS} resources of {name} ({label}), one per invocation"
            ),
            first: config_events(name, CONFIG_INVOCATIONS, 0)?,
            later: config_events(name, CONFIG_INVOCATIONS, LATER_MINUTES)?,
        });
    }
    out.push(Scenario {
        function: "log-detector",
        label: "one payload of cloudtrail-root-api-call.json (critical: ticket + alert + digest)"
            .into(),
        first: vec![cloudtrail_batch(
            "cloudtrail-root-api-call.json",
            None,
            1,
            0,
        )?],
        later: vec![cloudtrail_batch(
            "cloudtrail-root-api-call.json",
            None,
            1,
            LATER_MINUTES,
        )?],
    });
    let denied = "cloudtrail-access-denied-iam-user.json";
    out.push(Scenario {
        function: "log-detector",
        label: format!("one payload of {denied} by {BATCH_FINDINGS} users (high: ticket + digest)"),
        first: vec![cloudtrail_batch(
            denied,
            Some("christophe"),
            BATCH_FINDINGS,
            0,
        )?],
        later: vec![cloudtrail_batch(
            denied,
            Some("christophe"),
            BATCH_FINDINGS,
            LATER_MINUTES,
        )?],
    });
    Ok(out)
}

pub async fn run() -> Result<Vec<Value>, String> {
    let moto = MotoServer::start();
    let counter = WireCounter::default();
    let sdk = moto.sdk_config().await;
    let (sqs, sns, dynamodb) = counter.clients(&sdk);
    let aws = Aws::from_clients(sqs, sns, dynamodb).with_events(counter.events_client(&sdk));
    let mut rows = Vec::new();
    for (n, scenario) in scenarios()?.into_iter().enumerate() {
        // Fresh queues and table: no scenario sees another's dedup state.
        let prefix = format!("apicalls{n}");
        let q = Queues::create(&moto, &prefix).await;
        let table = DedupTable::create(&moto, &format!("{prefix}-dedup")).await;
        let stand_ins = stand_ins(&q, &table);
        let handlers = Handlers {
            config: config_classifier_on(&aws, &stand_ins)?,
            logs: log_detector_on(&aws, &stand_ins)?,
        };
        let mut passes = Vec::new();
        for (pass, events) in [
            ("first sight", &scenario.first),
            ("recurrence", &scenario.later),
            ("retry", &scenario.later),
        ] {
            counter.reset();
            let mut tally = Tally::default();
            for e in events {
                tally.add(&handlers.invoke(scenario.function, e.clone()).await?);
            }
            passes.push(tally.json(pass, counter.snapshot()));
        }
        rows.push(json!({
            "bench": "api_calls",
            "function": scenario.function,
            "scenario": scenario.label,
            "passes": passes,
        }));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use triage_core::cloudtrail::{CloudTrailDetector, decode_lambda_event};

    use super::*;

    #[test]
    fn config_copies_differ_only_in_the_resource() {
        let events = config_events("config-noncompliant-restricted-ssh.json", 3, 0).unwrap();
        let ids: Vec<&str> = events
            .iter()
            .map(|e| e["detail"]["resourceId"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "sg-020e5918d504d1a76-bench0000",
                "sg-020e5918d504d1a76-bench0001",
                "sg-020e5918d504d1a76-bench0002"
            ]
        );
        assert_eq!(events[0]["detail"]["configRuleName"], "restricted-ssh");
    }

    #[test]
    fn a_recurrence_is_later_and_has_its_own_ids() {
        let first = config_events("config-noncompliant-restricted-ssh.json", 1, 0).unwrap();
        let later = config_events("config-noncompliant-restricted-ssh.json", 1, 10).unwrap();
        assert_ne!(first[0]["id"], later[0]["id"]);
        assert_eq!(
            later[0]["detail"]["newEvaluationResult"]["resultRecordedTime"],
            "2024-03-03T16:04:28.354Z"
        );
        assert_eq!(
            first[0]["detail"]["resourceId"],
            later[0]["detail"]["resourceId"]
        );
    }

    #[test]
    fn the_batch_holds_one_distinct_finding_per_user() {
        let payload = cloudtrail_batch(
            "cloudtrail-access-denied-iam-user.json",
            Some("christophe"),
            7,
            0,
        )
        .unwrap();
        let detector = CloudTrailDetector::shipped().unwrap();
        let decoded = decode_lambda_event(&payload, detector.limits()).unwrap();
        assert_eq!(decoded.log_events.len(), 7);
        let found = detector.detect_lambda_event(&payload).unwrap();
        assert_eq!(found.findings.len(), 7, "{:?}", found.findings);
    }
}
