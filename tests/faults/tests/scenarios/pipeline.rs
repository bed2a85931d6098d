//! The real pipeline behind the fault proxy: config-classifier, finding-classifier, log-detector
//! and alarm-classifier built by their own `assemble` on the AWS backend (the SDK's standard retry),
//! with the settings `template.yaml` gives them, many distinct findings, Lambda's asynchronous
//! retries emulated, then the FIFO ticket queue, the digest queue and the alert topic read back
//! directly from moto. Every finding is delivered or its invocation is on the DLQ; every copy the
//! faults create carries the sequence of the ticket event it copies (what a consumer keys on
//! after FIFO deduplication's five minutes, which moto counts on wall time). The expectation is the same
//! function, assembled the same way on the in-memory backend, with no fault.
//!
//! Run with `--nocapture` to see one report line per scenario.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_sqs::types::Message;
use chrono::{DateTime, TimeZone, Utc};
use fault_tests::{
    AsyncInvocations, Clients, Expectation, account, drain_and_delete, handles, invoke_async,
    make_visible, peek_all, redrive,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use std::collections::BTreeMap;

use stack_tests::{function_vars, memory_stand_ins, stand_ins};
use triage_aws::Aws;
use triage_core::clock::ManualClock;
use triage_core::cloudtrail::{StreamRecord, encode_lambda_event, kinesis_event};
use triage_core::fakes::Memory;
use triage_core::ports::Backend;
use triage_core::settings::env_from_map;
use triage_lambda::{Function, diagnostic};
use triage_testkit::faults::{FaultPlan, FaultProxy, FaultStats};
use triage_testkit::{DedupTable, MotoServer, Queues, event};

/// Invocations in flight at once (Lambda runs asynchronous invocations concurrently).
const CONCURRENCY: usize = 16;

/// The fault plans: one fault at a time at a rate where the SDK's three attempts still fail now
/// and then, or all of them mixed.
fn plan(scenario: &str, seed: u64) -> FaultPlan {
    let s = FaultPlan::seeded(seed);
    match scenario {
        "throttle" => s.throttle(0.2),
        "internal_error" => s.internal_error(0.2),
        "drop_before" => s.drop_before(0.2),
        // Effects the client never learns of: what creates duplicates.
        "drop_after" => s.drop_after(0.2),
        "partial_batch" => s.partial_batch(0.5),
        "mixed" => s
            .throttle(0.05)
            .internal_error(0.05)
            .drop_before(0.05)
            .drop_after(0.05)
            .partial_batch(0.2),
        other => panic!("no plan for scenario {other}"),
    }
}

const CONFIG_SEED: u64 = 0xC0_F1C;
const LOG_SEED: u64 = 0x10_6DE7;
const ALARM_SEED: u64 = 0xA1_A53;
const FINDING_SEED: u64 = 0xF1_4D1;

/// Where the injected clock starts. Fixed, so that every request body (DynamoDB items carry
/// times) and therefore every fault drawn for it is the same in every run.
fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .expect("time")
}

/// 200 distinct Config compliance changes: the project's NON_COMPLIANT samples, each with its
/// own resource id (so its own fingerprint) and event id.
fn config_events(n: usize) -> Vec<Value> {
    let samples = [
        "config-noncompliant-restricted-ssh.json",
        "config-noncompliant-s3-public-read.json",
        "config-noncompliant-iam-root-access-key.json",
        "config-noncompliant-ebs-encryption-by-default.json",
        "config-noncompliant-conformance-pack.json",
        "config-noncompliant-securityhub-s3.json",
        "config-noncompliant-seed-cloudtrail-log-validation.json",
        "config-noncompliant-unknown-custom-rule.json",
    ];
    let templates: Vec<Value> = samples.iter().map(|s| event(s)).collect();
    (0..n)
        .map(|i| {
            let mut e = templates[i % templates.len()].clone();
            let resource = format!(
                "{}-fault-{i:04}",
                e["detail"]["resourceId"].as_str().unwrap_or("resource")
            );
            e["id"] = json!(format!("fa017000-0000-4000-8000-{i:012x}"));
            e["detail"]["resourceId"] = json!(resource);
            for result in ["newEvaluationResult", "oldEvaluationResult"] {
                let q = e
                    .pointer_mut(&format!(
                        "/detail/{result}/evaluationResultIdentifier/evaluationResultQualifier"
                    ))
                    .and_then(Value::as_object_mut);
                if let Some(q) = q {
                    q.insert("resourceId".into(), json!(resource));
                }
            }
            e
        })
        .collect()
}

/// Security Hub events of `per` findings each (ASFF; Inspector high, Macie medium, GuardDuty
/// medium through Security Hub, Inspector high again), every finding its own id.
fn hub_events(n: usize, per: usize) -> Vec<Value> {
    let template = event("securityhub-batch-three-products.json");
    let findings: Vec<Value> = template["detail"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (0..n)
        .map(|i| {
            let mut e = template.clone();
            e["id"] = json!(format!("f1d00000-0000-4000-8000-{i:012x}"));
            let list: Vec<Value> = (0..per)
                .map(|j| {
                    let mut f = findings[j % findings.len()].clone();
                    f["Id"] = json!(format!(
                        "arn:aws:securityhub:us-east-1:111122223333:fault/{i:04}/{j:02}"
                    ));
                    f
                })
                .collect();
            e["detail"]["findings"] = json!(list);
            e
        })
        .collect()
}

/// CloudWatch Logs subscription payloads of `per` CloudTrail records each, every record its own
/// finding: denied API calls by distinct users (high), console sign-ins without MFA by distinct
/// users (critical: pages) and KMS key deletions of distinct keys (high).
fn cloudtrail_payloads(payloads: usize, per: usize) -> Vec<Value> {
    let denied = event("cloudtrail-access-denied-iam-user.json");
    let signin = event("cloudtrail-iam-user-console-login-no-mfa.json");
    let kms = event("cloudtrail-kms-schedule-key-deletion.json");
    (0..payloads)
        .map(|p| {
            let log_events: Vec<Value> = (0..per)
                .map(|r| {
                    let i = p * per + r;
                    let mut record = match i % 3 {
                        0 => denied.clone(),
                        1 => signin.clone(),
                        _ => kms.clone(),
                    };
                    let user = format!("fault-user-{i:04}");
                    record["userIdentity"]["arn"] =
                        json!(format!("arn:aws:iam::111122223333:user/{user}"));
                    record["userIdentity"]["userName"] = json!(user);
                    record["userIdentity"]["principalId"] = json!(format!("AIDAFAULT{i:08}"));
                    if i % 3 == 2 {
                        record["requestParameters"]["keyId"] =
                            json!(format!("fa017000-0000-4000-8000-{i:012x}"));
                    }
                    record["eventID"] = json!(format!("fa017000-0000-4000-9000-{i:012x}"));
                    json!({
                        "id": format!("{:056}", i),
                        "timestamp": 1_722_375_072_000_i64 + i as i64,
                        "message": record.to_string(),
                    })
                })
                .collect();
            let subscription = json!({
                "messageType": "DATA_MESSAGE",
                "owner": "111122223333",
                "logGroup": "aws-cloudtrail-logs-111122223333-faults",
                "logStream": "111122223333_CloudTrail_us-east-1",
                "subscriptionFilters": ["triage-log-detector"],
                "logEvents": log_events,
            });
            encode_lambda_event(subscription.to_string().as_bytes()).expect("encode")
        })
        .collect()
}

/// `n` distinct alarms going into ALARM, one event each: metric alarms (medium: ticket and
/// digest) and CIS root-usage alarms (critical: they page), each its own name and ARN, so its
/// own fingerprint and its own flap state.
fn alarm_events(n: usize) -> Vec<Value> {
    let templates = [
        event("alarm-metric-alarm.json"),
        event("alarm-cis-root-usage-alarm.json"),
    ];
    (0..n)
        .map(|i| {
            let mut e = templates[i % templates.len()].clone();
            let name = format!(
                "{}-fault-{i:04}",
                e["detail"]["alarmName"].as_str().unwrap_or("alarm")
            );
            let arn = e["resources"][0]
                .as_str()
                .and_then(|a| a.rsplit_once(':'))
                .map(|(prefix, _)| format!("{prefix}:{name}"))
                .expect("alarm ARN");
            e["id"] = json!(format!("fa017000-0000-4000-a000-{i:012x}"));
            e["detail"]["alarmName"] = json!(name);
            e["resources"] = json!([arn]);
            e
        })
        .collect()
}

/// The ticket, digest and alert messages, read directly from moto: peeked (left on the queues,
/// made visible again) or drained.
async fn landed(q: &Queues, drain: bool) -> (Vec<Message>, Vec<String>, Vec<Value>) {
    let mut got = Vec::new();
    for url in [&q.ticket_queue_url, &q.digest_queue_url, &q.alert_inbox_url] {
        let messages = if drain {
            drain_and_delete(&q.sqs, url).await
        } else {
            let m = peek_all(&q.sqs, url).await;
            make_visible(&q.sqs, url, &handles(&m)).await;
            m
        };
        got.push(messages);
    }
    let alerts = got
        .pop()
        .unwrap_or_default()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap_or_default()).expect("SNS JSON"))
        .collect();
    let digest = got
        .pop()
        .unwrap_or_default()
        .iter()
        .map(|m| m.body().unwrap_or_default().to_owned())
        .collect();
    (got.pop().unwrap_or_default(), digest, alerts)
}

/// Ticketed or paged findings of succeeded invocations whose dedup state is not marked
/// delivered (must be none).
async fn undelivered_state(table: &DedupTable, expected: &Expectation, dlq: &[usize]) -> usize {
    let delivered: HashMap<String, bool> = table
        .items()
        .await
        .iter()
        .filter_map(|item| {
            Some((
                item.get("fingerprint")?.as_s().ok()?.clone(),
                *item.get("delivered")?.as_bool().ok()?,
            ))
        })
        .collect();
    expected
        .events
        .iter()
        .enumerate()
        .filter(|(i, _)| !dlq.contains(i))
        .flat_map(|(_, e)| e.iter())
        .filter(|(fp, want)| (want.ticket || want.alert) && delivered.get(*fp) != Some(&true))
        .count()
}

/// Accounts for a scenario once its invocations are over: what landed while the DLQ still held
/// the failed invocations (every finding delivered or on the DLQ), then after the operator's
/// redrive of the DLQ (every finding delivered, once). Prints the report line.
#[allow(clippy::too_many_arguments)]
async fn finish<Fut>(
    function: &str,
    scenario: &str,
    q: &Queues,
    table: &DedupTable,
    expected: &Expectation,
    invocations: &AsyncInvocations,
    stats: &FaultStats,
    clock: &ManualClock,
    invoke: impl Fn(usize) -> Fut,
) where
    Fut: Future<Output = Result<(), (String, String)>>,
{
    let before = if invocations.dlq.is_empty() {
        None
    } else {
        let (t, d, a) = landed(q, false).await;
        Some(account(expected, &invocations.dlq, &t, &d, &a))
    };
    let still_failing = redrive(&invocations.dlq, clock, invoke).await;
    let (t, d, a) = landed(q, true).await;
    let after = account(expected, &still_failing, &t, &d, &a);
    let undelivered = undelivered_state(table, expected, &still_failing).await;
    let first = before.as_ref().unwrap_or(&after);

    let by_operation: Vec<String> = stats
        .by_operation
        .iter()
        .filter(|(_, c)| c.injected() > 0)
        .map(|(op, c)| format!("{op}:{}", c.injected()))
        .collect();
    eprintln!(
        "scenario={scenario} function={function} findings_in={} ticket_events_out={} dlq={} lost={} injected={} by_operation={} | invocations={} attempts={} failed_attempts={} errors={} | dlq_redriven={} still_failing={} after_redrive: {}",
        first.findings_in,
        first.ticket_events_out,
        first.dlq_findings,
        first.lost,
        stats.total,
        by_operation.join(","),
        invocations.events,
        invocations.attempts,
        invocations.failed_attempts,
        invocations.errors_line(),
        invocations.dlq.len(),
        still_failing.len(),
        after.line(),
    );

    let ctx = format!("{function} scenario {scenario}: {first:?} {after:?} {invocations:?}");
    assert!(
        expected.tickets() >= 50,
        "{ctx}: too few tickets to prove anything"
    );
    assert!(
        stats.total.injected() >= 20,
        "{ctx}: faults were injected: {}",
        stats.total
    );
    if stats.total.dropped_after > 0 {
        assert!(
            stats.operation("SendMessageBatch").dropped_after > 0,
            "{ctx}: batches took effect unacknowledged and were sent again: FIFO deduplication had copies to absorb"
        );
    }
    assert_eq!(
        first.lost, 0,
        "{ctx}: every finding is delivered or on the DLQ"
    );
    assert_eq!(
        first.duplicate_dedup_ids, 0,
        "{ctx}: FIFO deduplication absorbs every copy"
    );
    assert!(still_failing.is_empty(), "{ctx}: the redrive succeeds");
    assert_eq!(
        after.lost, 0,
        "{ctx}: after the redrive every finding is delivered"
    );
    assert_eq!(
        after.duplicate_dedup_ids, 0,
        "{ctx}: FIFO deduplication absorbs every copy, the redrive's too"
    );
    assert_eq!(
        after.wrong_group, 0,
        "{ctx}: MessageGroupId is the fingerprint"
    );
    assert_eq!(
        after.alerts_without_one_id, 0,
        "{ctx}: every copy of a page carries its page's alert_id, in the JSON and as the message attribute"
    );
    assert_eq!(
        after.sequence_conflicts, 0,
        "{ctx}: a sequence names one ticket event: its copies are byte for byte the same"
    );
    assert_eq!(
        after.distinct_ticket_events,
        expected.tickets(),
        "{ctx}: one ticket event (one fingerprint and sequence) per ticketed finding, nothing else, whatever the FIFO deduplication window absorbed"
    );
    assert_eq!(
        undelivered, 0,
        "{ctx}: the dedup state of every finding is marked delivered"
    );
    assert!(
        invocations.dlq.len() * 10 <= invocations.events,
        "{ctx}: the SDK's retries and Lambda's retries deliver at least 90% of the invocations"
    );
}

/// A function's environment, as the template sets it.
type Vars = BTreeMap<String, String>;

fn invocation(event: &Value) -> LambdaEvent<Value> {
    LambdaEvent::new(event.clone(), Context::default())
}

/// What `reference` — the function on the in-memory backend, no fault, the scenario's clock —
/// sends for each of `events`: the expectation a scenario's subject is held to.
async fn expectation<M: Function>(
    function: &str,
    reference: &M,
    memory: &Memory,
    events: &[Value],
) -> Expectation {
    let mut expected = Expectation::default();
    for e in events {
        let summary = reference
            .handle(invocation(e))
            .await
            .unwrap_or_else(|e| panic!("reference {function}: {e}"));
        let findings = serde_json::to_value(&summary).expect("summary")["findings"]
            .as_u64()
            .expect("findings in the summary");
        expected.push(
            usize::try_from(findings).expect("count"),
            &memory.tickets.take(),
            &memory.digest.take(),
            &memory.alerts.take(),
        );
    }
    expected
}

/// The AWS backend, its clients through the fault proxy, on the scenario's clock.
async fn aws_through(proxy: &FaultProxy, prefix: &str, clock: &ManualClock) -> Aws {
    let clients = Clients::through(proxy, prefix).await;
    Aws::from_clients(clients.sqs, clients.sns, clients.dynamodb)
        .with_events(clients.events)
        .with_clock(clock.clone())
}

/// One function under faults: `build` assembles it (its crate's `Settings::from` and
/// `assemble`) from the template's environment on a backend. The expectation is the function
/// on the in-memory backend with no fault; the subject is the same function on the AWS backend
/// through the proxy, on the same injected clock.
#[allow(clippy::too_many_arguments)]
async fn scenario<M, A>(
    function: &str,
    moto: &MotoServer,
    proxy: &FaultProxy,
    scenario: &str,
    plan: FaultPlan,
    events: &[Value],
    build_memory: impl Fn(&Vars, &Memory) -> M,
    build_aws: impl Fn(&Vars, &Aws) -> A,
) where
    M: Function,
    A: Function,
{
    let prefix = format!("{}-{}", &function[..3], scenario.replace('_', "-"));
    let q = Queues::create(moto, &prefix).await;
    let table = DedupTable::create(moto, &format!("{prefix}-dedup")).await;
    let clock = ManualClock::new(start_time());

    let memory = Memory::default().with_clock(clock.clone());
    let reference = build_memory(&function_vars(function, &memory_stand_ins()), &memory);
    let expected = expectation(function, &reference, &memory, events).await;
    let aws = aws_through(proxy, &prefix, &clock).await;
    let subject = build_aws(&function_vars(function, &stand_ins(&q, &table)), &aws);
    let subject = &subject;
    let invoke = |i: usize| async move {
        subject
            .handle(invocation(&events[i]))
            .await
            .map(|_| ())
            .map_err(|e| {
                let d = diagnostic(&e);
                (d.error_type, d.error_message)
            })
    };
    proxy.take_stats();
    proxy.set_plan(plan);
    let invocations = invoke_async(events.len(), CONCURRENCY, &clock, &invoke).await;
    proxy.set_plan(FaultPlan::none());
    let stats = proxy.take_stats();
    finish(
        function,
        scenario,
        &q,
        &table,
        &expected,
        &invocations,
        &stats,
        &clock,
        &invoke,
    )
    .await;
}

/// A function crate's `assemble`, from the template's variables, on the memory backend (the
/// expectation) and on the AWS backend (the subject).
macro_rules! assembled {
    ($krate:ident) => {{
        fn build<B: Backend>(vars: &Vars, backend: &B) -> $krate::Handler<B> {
            let settings = $krate::Settings::from(&env_from_map(vars.clone())).expect("settings");
            $krate::assemble(settings, backend)
        }
        (build::<Memory>, build::<Aws>)
    }};
}

/// One scenario of `function` on a moto and a proxy of its own (the builds are its
/// [`assembled!`] pair).
async fn alone<M: Function, A: Function>(
    function: &str,
    scenario: &str,
    seed: u64,
    events: &[Value],
    (memory, aws): (impl Fn(&Vars, &Memory) -> M, impl Fn(&Vars, &Aws) -> A),
) {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let plan = plan(scenario, seed);
    self::scenario(function, &moto, &proxy, scenario, plan, events, memory, aws).await;
}

/// One moto, one proxy, the scenarios one after the other over `events` distinct Config events.
async fn config_classifier_under(scenarios: &[&str], events: usize) {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let events = config_events(events);
    for scenario in scenarios {
        let (memory, aws) = assembled!(config_classifier);
        let plan = plan(scenario, CONFIG_SEED);
        let f = "config-classifier";
        self::scenario(f, &moto, &proxy, scenario, plan, &events, memory, aws).await;
    }
}

/// One moto, one proxy, one scenario over 20 Security Hub events of 5 findings each: a failure
/// on one finding fails the event, whose retry must deliver the others exactly once.
async fn finding_classifier_under(scenario: &str) {
    let events = hub_events(20, 5);
    let builds = assembled!(finding_classifier);
    alone(
        "finding-classifier",
        scenario,
        FINDING_SEED,
        &events,
        builds,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_classifier_loses_nothing_when_every_fault_meets_events_of_several_findings() {
    finding_classifier_under("mixed").await;
}

/// One moto, one proxy, one scenario over 20 subscription payloads of 10 CloudTrail records,
/// each record its own finding.
async fn log_detector_under(scenario: &str) {
    let payloads = cloudtrail_payloads(20, 10);
    let builds = assembled!(log_detector);
    alone("log-detector", scenario, LOG_SEED, &payloads, builds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_classifier_loses_nothing_when_aws_throttles_fails_or_drops_requests() {
    config_classifier_under(&["throttle", "internal_error", "drop_before"], 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_classifier_loses_nothing_when_batch_entries_are_reported_failed() {
    config_classifier_under(&["partial_batch"], 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_classifier_loses_nothing_and_fifo_absorbs_every_duplicate_when_answers_are_lost() {
    config_classifier_under(&["drop_after"], 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_classifier_loses_nothing_and_duplicates_nothing_under_every_fault_mixed() {
    config_classifier_under(&["mixed"], 200).await;
}

// Ten findings per invocation, so ten conditional writes that can lose their answers: the
// dedup store's write tokens tell it which of them applied (before them, 14 of these 20
// invocations reached the DLQ, InFlight on their own claims).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_detector_loses_nothing_and_fifo_absorbs_every_duplicate_when_answers_are_lost() {
    log_detector_under("drop_after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_detector_loses_nothing_and_duplicates_nothing_under_every_fault_mixed() {
    log_detector_under("mixed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_detector_loses_nothing_when_batch_entries_are_reported_failed() {
    log_detector_under("partial_batch").await;
}

/// One moto, one proxy, one scenario over `events` distinct alarms going into ALARM: each
/// invocation records the alarm's flap state and its dedup state, and pages for the critical.
async fn alarm_classifier_under(scenario: &str, events: usize) {
    let events = alarm_events(events);
    let builds = assembled!(alarm_classifier);
    alone("alarm-classifier", scenario, ALARM_SEED, &events, builds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_classifier_loses_nothing_and_fifo_absorbs_every_duplicate_when_answers_are_lost() {
    alarm_classifier_under("drop_after", 120).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_classifier_loses_nothing_and_duplicates_nothing_under_every_fault_mixed() {
    alarm_classifier_under("mixed", 120).await;
}

// ------------------------------------------------------------------------------------------
// The organization-wide intake: log-detector behind a Kinesis event source mapping
// ------------------------------------------------------------------------------------------

/// The event source mapping's settings, as the template sets them.
fn stream_mapping() -> (usize, usize) {
    let t = stack_tests::Template::load().expect("template.yaml");
    let p = t
        .resource("LogDetectorStreamMapping")
        .and_then(|m| m.get("Properties"))
        .expect("LogDetectorStreamMapping");
    let n = |k: &str| {
        p.get(k)
            .and_then(stack_tests::Value::as_u64)
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or_else(|| panic!("LogDetectorStreamMapping.{k}"))
    };
    (n("BatchSize"), n("MaximumRetryAttempts"))
}

/// The Kinesis event for the subscription payloads `records` of `payloads` (their
/// `awslogs.data`, as a Logs destination writes them), sequence number = index.
fn stream_event(payloads: &[Value], records: std::ops::Range<usize>) -> Value {
    let sequences: Vec<String> = records.clone().map(|i| format!("{i:056}")).collect();
    kinesis_event(
        records
            .zip(&sequences)
            .map(|(i, sequence_number)| StreamRecord {
                sequence_number,
                data: payloads[i]["awslogs"]["data"]
                    .as_str()
                    .expect("awslogs.data"),
            }),
        "arn:aws:kinesis:us-east-1:111122223333:stream/triage-trail-records",
    )
}

/// The records a partial batch response names, as indexes (their sequence numbers).
fn named(response: &log_detector::Response) -> Vec<usize> {
    match response {
        log_detector::Response::Stream(s) => s
            .batch_item_failures
            .iter()
            .map(|f| {
                f.item_identifier
                    .parse()
                    .expect("a sequence number of ours")
            })
            .collect(),
        log_detector::Response::Subscription(_) => {
            panic!("a Kinesis batch gets a partial batch response")
        }
    }
}

/// One shard read as Lambda's event source mapping does: batches of `batch` records in order;
/// after a partial batch response it resumes at the lowest record named, at once (a stream's
/// retries come within seconds: no clock moves); a record still named after `retries` retries
/// goes to the on-failure destination (bisection isolates it) and reading goes on after it.
async fn read_shard<Fut>(
    records: usize,
    batch: usize,
    retries: usize,
    invoke: impl Fn(std::ops::Range<usize>) -> Fut,
) -> AsyncInvocations
where
    Fut: Future<Output = Result<Vec<usize>, (String, String)>>,
{
    let mut report = AsyncInvocations {
        events: records,
        ..AsyncInvocations::default()
    };
    let (mut from, mut tries) = (0, 0);
    while from < records {
        let to = (from + batch).min(records);
        report.attempts += 1;
        let failed_at = match invoke(from..to).await {
            Ok(named) => named.into_iter().min(),
            Err((error_type, message)) => {
                let e = report.errors.entry(error_type).or_insert((0, message));
                e.0 += 1;
                Some(from)
            }
        };
        match failed_at {
            None => {
                from = to;
                tries = 0;
            }
            Some(k) => {
                report.failed_attempts += 1;
                if k != from {
                    tries = 0;
                }
                from = k;
                if tries == retries {
                    report.dlq.push(k);
                    from = k + 1;
                    tries = 0;
                } else {
                    tries += 1;
                }
            }
        }
    }
    report
}

/// One moto, one proxy, one scenario: the payloads of `log_detector_under` through a stream.
/// The expectation is log-detector on the in-memory backend taking each payload as its
/// subscription event; the subject reads the stream through the emulated mapping.
async fn log_detector_stream_under(scenario: &str) {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let payloads = cloudtrail_payloads(20, 10);
    let (build_memory, build_aws) = assembled!(log_detector);
    let (batch, retries) = stream_mapping();
    let function = "log-detector";
    let prefix = format!("kin-{}", scenario.replace('_', "-"));
    let q = Queues::create(&moto, &prefix).await;
    let table = DedupTable::create(&moto, &format!("{prefix}-dedup")).await;
    let clock = ManualClock::new(start_time());

    let memory = Memory::default().with_clock(clock.clone());
    let reference = build_memory(&function_vars(function, &memory_stand_ins()), &memory);
    let expected = expectation(function, &reference, &memory, &payloads).await;
    let aws = aws_through(&proxy, &prefix, &clock).await;
    let subject = build_aws(&function_vars(function, &stand_ins(&q, &table)), &aws);
    let subject = &subject;
    let payloads = &payloads;
    let read = |range: std::ops::Range<usize>| async move {
        subject
            .invoke(invocation(&stream_event(payloads, range)))
            .await
            .map(|r| named(&r))
            .map_err(|e| {
                let d = diagnostic(&e);
                (d.error_type, d.error_message)
            })
    };
    proxy.take_stats();
    proxy.set_plan(plan(scenario, LOG_SEED ^ 0x5EED));
    let invocations = read_shard(payloads.len(), batch, retries, &read).await;
    proxy.set_plan(FaultPlan::none());
    let stats = proxy.take_stats();
    // The operator's redrive re-invokes the function with each record of the on-failure
    // destination, as a Kinesis event of its own.
    let redrive_one = |i: usize| async move {
        match read(i..i + 1).await {
            Ok(named) if named.is_empty() => Ok(()),
            Ok(_) => Err(("Named".to_owned(), format!("record {i} named again"))),
            Err(e) => Err(e),
        }
    };
    finish(
        "log-detector (Kinesis)",
        scenario,
        &q,
        &table,
        &expected,
        &invocations,
        &stats,
        &clock,
        &redrive_one,
    )
    .await;
}

// The failed attempt releases its claims, so the mapping's immediate retries deliver instead of
// finding the records in flight until the claim runs out.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_detector_through_kinesis_loses_nothing_when_aws_throttles_and_fails() {
    log_detector_stream_under("internal_error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_detector_through_kinesis_loses_nothing_and_duplicates_nothing_under_every_fault_mixed()
{
    log_detector_stream_under("mixed").await;
}
