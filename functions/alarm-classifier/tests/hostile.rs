//! Hostile-input catalogue for alarm-classifier: malformed alarm events in every carrier (SNS
//! batch, SQS batch, a bare invocation), one table row each (name, input, expected typed
//! outcome), run through the real handler with in-memory sinks and an in-memory dedup store.
//! Every hostile record sits in a batch next to two good ones, which must still be delivered.
//!
//! Categories:
//! - SNS messages that are not usable JSON: empty, plain text, 100 000 nested `[`, a lone
//!   surrogate (invalid Unicode), JSON null, an array, `Sns.Message` as a number, a record that
//!   is not an object, envelopes nested ten deep, a first record without `EventSource`, 10 000
//!   garbage records;
//! - wrong JSON types and values for the fields the decoder reads: an unknown or numeric
//!   `NewStateValue`, `StateChangeTime` as a number or 100 000 digits, `Trigger` as a string (an
//!   unknown alarm type), null in every field, NaN / infinite / huge numbers, duplicate keys;
//!   in EventBridge form (SQS bodies): an empty body, a missing `detail`, `detail` as a string,
//!   `detail.state` as a string, a configuration without metrics, timestamps as numbers,
//!   `alarmData` as an array, another detail-type carrying garbage;
//! - enormous strings and structures: a 1 MB `NewStateReason`, a 1 MB `AlarmDescription`, a
//!   1 MB alarm name (invalid: longer than CloudWatch allows), a 1 MB `state.reason`,
//!   `reasonData` of 60 000 nested `[`, 10 000 metrics;
//! - control characters, ANSI, bidi and zero-width marks in every string, U+FFFD (what invalid
//!   UTF-8 becomes) — the rendered ticket, digest entry and alert must hold no control
//!   characters and stay bounded;
//! - whole invocations: an empty batch (`Records: []`), a bare string, JSON null, and bodies the
//!   runtime refuses before the handler (100 000 nested `[`, invalid UTF-8 in an SNS message).
//!
//! The harness is `triage_testkit::hostile`: every case runs under `catch_unwind` (a panic fails
//! the case, it is never an outcome), and everything the sinks received is checked after it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use alarm_classifier::handler::{Handler, Summary};
use alarm_classifier::{Settings, assemble};
use serde_json::{Value, json};
use stack_tests::{function_env, memory_stand_ins};
use triage_core::alarm::REASON_MAX_CHARS;
use triage_core::fakes::Memory;
use triage_testkit::event as sample;
use triage_testkit::hostile::{self, Harness, Invocation, NASTY, Outcome, case};

/// The alarm names (rule ids) of the good records of each carrier.
const GOOD_SNS: [&str; 2] = ["CIS-1.7-RootAccountUsage", "EXAMPLE"];
const GOOD_SQS: [&str; 2] = ["CIS-1.7-RootAccountUsage", "ServerCpuTooHigh"];
/// The account of hostile alarms that still give a finding.
const HOSTILE_ACCOUNT: &str = "444455556666";
/// No string of a rendered ticket, alert or digest entry is longer.
const MAX_STRING_CHARS: usize = 4096;

// ------------------------------------------------------------------------------------------
// The table
// ------------------------------------------------------------------------------------------

enum Input {
    /// The invocation body as the Lambda runtime receives it.
    Raw(Vec<u8>),
    /// The whole invocation payload; no good records beside it.
    Event(Value),
    /// SNS records placed between the two good SNS records.
    Sns(Vec<Value>),
    /// SNS records placed before the two good SNS records.
    SnsFirst(Vec<Value>),
    /// SQS records placed between the two good SQS records.
    Sqs(Vec<Value>),
}

/// What the hostile records of a case were counted as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    invalid: usize,
    skipped: usize,
    /// Findings besides the good records'.
    findings: usize,
}

enum Expect {
    /// The runtime's deserializer (serde_json, as `lambda_runtime` uses it) refuses the body
    /// before the handler; the message names why.
    RuntimeRejects(&'static str),
    /// `Ok`, the good records delivered, the hostile ones counted so.
    Counted(Counts),
}

type Case = hostile::Case<Input, Expect>;

const fn invalid(n: usize) -> Expect {
    Expect::Counted(Counts {
        invalid: n,
        skipped: 0,
        findings: 0,
    })
}

const fn skipped(n: usize) -> Expect {
    Expect::Counted(Counts {
        invalid: 0,
        skipped: n,
        findings: 0,
    })
}

const fn finding() -> Expect {
    Expect::Counted(Counts {
        invalid: 0,
        skipped: 0,
        findings: 1,
    })
}

// ------------------------------------------------------------------------------------------
// Building inputs
// ------------------------------------------------------------------------------------------

fn good_sns() -> [Value; 2] {
    [
        sample("sns-alarm-cis-root-usage-alarm.json")["Records"][0].clone(),
        sample("sns-alarm-metric-crate-fixture.json")["Records"][0].clone(),
    ]
}

fn good_sqs() -> [Value; 2] {
    let batch = sample("sqs-config-and-alarm-batch.json");
    [batch["Records"][0].clone(), batch["Records"][2].clone()]
}

fn sns_record(message: impl Into<Value>) -> Value {
    json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "MessageId": "m", "Message": message.into()}
    })
}

fn sqs_record(body: impl Into<Value>) -> Value {
    json!({"messageId": "m", "eventSource": "aws:sqs", "body": body.into()})
}

/// The CIS root-usage SNS notification, renamed to a hostile alarm in [`HOSTILE_ACCOUNT`] and
/// changed by `edit`.
fn sns_alarm(edit: impl FnOnce(&mut Value)) -> Value {
    let text = good_sns()[0]["Sns"]["Message"]
        .as_str()
        .expect("message")
        .to_owned();
    let mut m: Value = serde_json::from_str(&text).expect("alarm");
    m["AlarmName"] = json!("Hostile");
    m["AWSAccountId"] = json!(HOSTILE_ACCOUNT);
    m["AlarmArn"] = json!(format!(
        "arn:aws:cloudwatch:us-east-1:{HOSTILE_ACCOUNT}:alarm:Hostile"
    ));
    edit(&mut m);
    m
}

fn sns_of(m: &Value) -> Input {
    Input::Sns(vec![sns_record(m.to_string())])
}

/// The CIS root-usage EventBridge alarm event, renamed to a hostile alarm in
/// [`HOSTILE_ACCOUNT`] and changed by `edit`.
fn eventbridge_alarm(edit: impl FnOnce(&mut Value)) -> Value {
    let body = good_sqs()[0]["body"].as_str().expect("body").to_owned();
    let mut e: Value = serde_json::from_str(&body).expect("event");
    e["account"] = json!(HOSTILE_ACCOUNT);
    e["resources"] = json!([format!(
        "arn:aws:cloudwatch:us-east-1:{HOSTILE_ACCOUNT}:alarm:Hostile"
    )]);
    e["detail"]["alarmName"] = json!("Hostile");
    edit(&mut e);
    e
}

fn sqs_of(e: &Value) -> Input {
    Input::Sqs(vec![sqs_record(e.to_string())])
}

// ------------------------------------------------------------------------------------------
// Running a case
// ------------------------------------------------------------------------------------------

/// The function as it ships, on the in-memory backend, with the template's settings.
const HARNESS: Harness<Handler<Memory>, Input, Expect> = Harness {
    assemble: |memory| {
        let env = function_env("alarm-classifier", &memory_stand_ins());
        assemble(Settings::from(&env).expect("settings"), memory)
    },
    invocation,
    verdict,
    string_chars: field_bound,
};

fn run(cases: Vec<Case>) {
    HARNESS.run(cases);
}

fn invocation(input: &Input, _: &Memory) -> Invocation {
    let batch = |records: Vec<Value>| Invocation::Event(json!({ "Records": records }));
    match input {
        Input::Raw(body) => Invocation::Body(body.clone()),
        Input::Event(v) => Invocation::Event(v.clone()),
        Input::Sns(hostile) => {
            let [a, b] = good_sns();
            batch([vec![a], hostile.clone(), vec![b]].concat())
        }
        Input::SnsFirst(hostile) => batch([hostile.clone(), good_sns().to_vec()].concat()),
        Input::Sqs(hostile) => {
            let [a, b] = good_sqs();
            batch([vec![a], hostile.clone(), vec![b]].concat())
        }
    }
}

/// The good alarms `input` places beside its hostile records.
fn good(input: &Input) -> &'static [&'static str] {
    match input {
        Input::Raw(_) | Input::Event(_) => &[],
        Input::Sns(_) | Input::SnsFirst(_) => &GOOD_SNS,
        Input::Sqs(_) => &GOOD_SQS,
    }
}

/// The bound of a field that carries event text, by its key.
fn field_bound(key: &str) -> usize {
    match key {
        "reason" => REASON_MAX_CHARS,
        "account" | "region" => 64,
        "title" | "alarm_name" | "rule_id" => 256,
        _ => MAX_STRING_CHARS,
    }
}

fn verdict(
    input: &Input,
    expect: &Expect,
    outcome: Outcome<Summary>,
    memory: &Memory,
) -> Result<(), String> {
    match (expect, outcome) {
        (Expect::RuntimeRejects(want), Err(reason)) => hostile::refused(&reason, want),
        (Expect::Counted(want), Ok(Ok(s))) => {
            let good = good(input);
            let got = Counts {
                invalid: s.invalid,
                skipped: s.skipped,
                findings: s.findings.wrapping_sub(good.len()),
            };
            if got != *want {
                return Err(format!("counted {got:?}, want {want:?} ({s:?})"));
            }
            hostile::ticketed_once(memory, good, None).map_err(|e| format!("{e} ({s:?})"))?;
            let sent = memory.tickets.sent().len();
            if sent != good.len() + want.findings {
                return Err(format!("{sent} tickets sent ({s:?})"));
            }
            Ok(())
        }
        (_, outcome) => Err(hostile::unexpected(outcome)),
    }
}

// ------------------------------------------------------------------------------------------
// The catalogue
// ------------------------------------------------------------------------------------------

fn sns_cases() -> Vec<Case> {
    use Input::{Sns, SnsFirst};
    let one_mb = "A".repeat(1_000_000);
    let mut nested = json!({"AlarmName": "x", "NewStateValue": "ALARM"});
    for _ in 0..10 {
        nested = json!({"Type": "Notification", "Message": nested.to_string()});
    }
    let duplicate_state = sns_alarm(|m| m["NewStateValue"] = json!("@@STATE@@"))
        .to_string()
        .replace(
            "\"NewStateValue\":\"@@STATE@@\"",
            "\"NewStateValue\":\"OK\",\"NewStateValue\":\"ALARM\"",
        );
    let nulls: serde_json::Map<String, Value> = sns_alarm(|_| {})
        .as_object()
        .expect("object")
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    vec![
        case(
            "an empty SNS message",
            Sns(vec![sns_record("")]),
            invalid(1),
        ),
        case(
            "a plain-text SNS message (an email-style notification)",
            Sns(vec![sns_record(
                "ALARM: \"Hostile\" in US East (N. Virginia)\n\nReason: {\"AlarmName\"",
            )]),
            invalid(1),
        ),
        case(
            "an SNS message of 100 000 nested [",
            Sns(vec![sns_record("[".repeat(100_000))]),
            invalid(1),
        ),
        case(
            "an SNS message with a lone surrogate (invalid Unicode)",
            Sns(vec![sns_record(
                sns_alarm(|_| {})
                    .to_string()
                    .replace("\"Hostile\"", "\"\\ud800\""),
            )]),
            invalid(1),
        ),
        case(
            "an SNS message that is JSON null",
            Sns(vec![sns_record("null")]),
            invalid(1),
        ),
        case(
            "an SNS message that is a JSON array",
            Sns(vec![sns_record(format!("[{}]", sns_alarm(|_| {})))]),
            invalid(1),
        ),
        case(
            "Sns.Message is a number",
            Sns(vec![sns_record(42)]),
            invalid(1),
        ),
        case(
            "an SNS record that is not an object",
            Sns(vec![json!("aws:sns")]),
            invalid(1),
        ),
        case(
            "SNS envelopes nested ten deep",
            Sns(vec![sns_record(nested.to_string())]),
            invalid(1),
        ),
        case(
            "a first record without EventSource",
            SnsFirst(vec![
                json!({"Sns": {"Message": sns_alarm(|_| {}).to_string()}}),
            ]),
            finding(),
        ),
        case(
            "a first record that is not an object",
            SnsFirst(vec![Value::Null]),
            invalid(1),
        ),
        case(
            "10 000 garbage SNS records",
            Sns((0..10_000)
                .map(|i| sns_record(format!("garbage {i}")))
                .collect()),
            invalid(10_000),
        ),
        case(
            "an unknown NewStateValue with ANSI",
            sns_of(&sns_alarm(|m| {
                m["NewStateValue"] = json!("PANIC\u{1b}[31m")
            })),
            invalid(1),
        ),
        case(
            "NewStateValue is a number",
            sns_of(&sns_alarm(|m| m["NewStateValue"] = json!(1))),
            invalid(1),
        ),
        case(
            "StateChangeTime is a number",
            sns_of(&sns_alarm(|m| {
                m["StateChangeTime"] = json!(1_714_641_970_115_i64)
            })),
            invalid(1),
        ),
        case(
            "StateChangeTime is 100 000 digits",
            sns_of(&sns_alarm(|m| {
                m["StateChangeTime"] = json!("9".repeat(100_000))
            })),
            invalid(1),
        ),
        case(
            "Trigger is a string: an unknown alarm type",
            sns_of(&sns_alarm(|m| m["Trigger"] = json!("CISBenchmark"))),
            invalid(1),
        ),
        case(
            "null in every field",
            sns_of(&Value::Object(nulls)),
            skipped(1),
        ),
        case(
            "NaN, infinite and huge numbers",
            sns_of(&sns_alarm(|m| {
                m["Trigger"]["Threshold"] = json!("NaN");
                m["Trigger"]["Period"] = json!(1e308);
                m["Trigger"]["EvaluationPeriods"] = json!(-1);
                m["Trigger"]["DatapointsToAlarm"] = json!(1.5);
                m["Trigger"]["Statistic"] = json!("Infinity");
            })),
            finding(),
        ),
        case(
            "NewStateValue given twice",
            Sns(vec![sns_record(duplicate_state)]),
            finding(),
        ),
        case(
            "control characters, ANSI, bidi and zero-width marks in every string",
            sns_of(&sns_alarm(|m| {
                m["AlarmName"] = json!(format!("Hostile{NASTY}"));
                m["AlarmDescription"] = json!(NASTY);
                m["NewStateReason"] = json!(NASTY);
                m["Region"] = json!(NASTY);
                m["AlarmArn"] = json!(format!(
                    "arn:aws:cloudwatch:us-east-1:{HOSTILE_ACCOUNT}:alarm:{NASTY}"
                ));
                m["Trigger"]["MetricName"] = json!(NASTY);
                m["Trigger"]["Namespace"] = json!(NASTY);
                m["Trigger"]["Dimensions"] = json!([{"name": NASTY, "value": NASTY}]);
            })),
            finding(),
        ),
        case(
            "U+FFFD in the alarm name (what invalid UTF-8 becomes)",
            sns_of(&sns_alarm(|m| {
                m["AlarmName"] = json!("Hostile\u{fffd}\u{fffd}")
            })),
            finding(),
        ),
        case(
            "a 1 MB NewStateReason",
            sns_of(&sns_alarm(|m| m["NewStateReason"] = json!(one_mb))),
            finding(),
        ),
        case(
            "a 1 MB alarm name",
            sns_of(&sns_alarm(|m| {
                m["AlarmName"] = json!(one_mb);
                m.as_object_mut().map(|o| o.remove("AlarmArn"));
            })),
            invalid(1),
        ),
        case(
            "a 1 MB AlarmDescription",
            sns_of(&sns_alarm(|m| m["AlarmDescription"] = json!(one_mb))),
            finding(),
        ),
    ]
}

fn eventbridge_cases() -> Vec<Case> {
    use Input::Sqs;
    let one_mb = "A".repeat(1_000_000);
    vec![
        case(
            "an SQS record with an empty body",
            Sqs(vec![sqs_record("")]),
            invalid(1),
        ),
        case(
            "an SQS record whose body is a number",
            Sqs(vec![sqs_record(7)]),
            invalid(1),
        ),
        case(
            "an SNS notification without a Message in an SQS body",
            Sqs(vec![sqs_record(r#"{"Type":"Notification"}"#)]),
            invalid(1),
        ),
        case(
            "a state change without detail",
            sqs_of(&eventbridge_alarm(|e| {
                e.as_object_mut().map(|o| o.remove("detail"));
            })),
            invalid(1),
        ),
        case(
            "detail is a string",
            sqs_of(&eventbridge_alarm(|e| e["detail"] = json!("ALARM"))),
            invalid(1),
        ),
        case(
            "detail.state is a string",
            sqs_of(&eventbridge_alarm(|e| {
                e["detail"]["state"] = json!("ALARM")
            })),
            invalid(1),
        ),
        case(
            "a configuration without metrics: an unknown alarm type",
            sqs_of(&eventbridge_alarm(|e| {
                e["detail"]["configuration"] = json!({"description": "?"})
            })),
            invalid(1),
        ),
        case(
            "state.timestamp and time are numbers",
            sqs_of(&eventbridge_alarm(|e| {
                e["detail"]["state"]["timestamp"] = json!(1_714_641_970_115_i64);
                e["time"] = json!(1_714_641_970_i64);
            })),
            invalid(1),
        ),
        case(
            "alarmData of a Lambda action is an array",
            Sqs(vec![sqs_record(
                json!({"source": "aws.cloudwatch", "alarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:x",
                       "accountId": "1", "region": "us-east-1", "alarmData": [1, 2]})
                .to_string(),
            )]),
            invalid(1),
        ),
        case(
            "another detail-type carrying garbage",
            sqs_of(&eventbridge_alarm(|e| {
                e["detail-type"] = json!("CloudWatch Alarm \u{202e}Garbage");
                e["detail"] = json!([null, {"x": NASTY}]);
            })),
            skipped(1),
        ),
        case(
            "a 1 MB state reason",
            sqs_of(&eventbridge_alarm(|e| {
                e["detail"]["state"]["reason"] = json!(one_mb)
            })),
            finding(),
        ),
        case(
            "reasonData of 60 000 nested [",
            sqs_of(&eventbridge_alarm(|e| {
                e["detail"]["state"]["reasonData"] = json!("[".repeat(60_000))
            })),
            finding(),
        ),
        case(
            "10 000 metrics",
            sqs_of(&eventbridge_alarm(|e| {
                let metric = e["detail"]["configuration"]["metrics"][0].clone();
                e["detail"]["configuration"]["metrics"] = json!(vec![metric; 10_000]);
            })),
            finding(),
        ),
    ]
}

fn whole_invocations() -> Vec<Case> {
    use Expect::{Counted, RuntimeRejects};
    use Input::{Event, Raw};
    let sns_body = json!({"Records": [sns_record("@@MESSAGE@@")]}).to_string();
    let (head, tail) = sns_body.split_once("@@MESSAGE@@").expect("placeholder");
    let invalid_utf8 = [
        head.as_bytes(),
        b"{\\\"AlarmName\\\":\\\"\xff\xfe\\\"}",
        tail.as_bytes(),
    ]
    .concat();
    vec![
        case(
            "an empty batch (Records: [])",
            Event(json!({"Records": []})),
            Counted(Counts {
                skipped: 1,
                ..Counts::default()
            }),
        ),
        case(
            "the invocation is a bare string",
            Event(json!("ALARM")),
            invalid(1),
        ),
        case(
            "the invocation is JSON null",
            Event(Value::Null),
            invalid(1),
        ),
        case(
            "an invocation body of 100 000 nested [",
            Raw(vec![b'['; 100_000]),
            RuntimeRejects("recursion limit exceeded"),
        ),
        case(
            "invalid UTF-8 in an SNS message",
            Raw(invalid_utf8),
            RuntimeRejects("invalid unicode code point"),
        ),
    ]
}

#[test]
fn hostile_sns_records_are_counted_and_the_good_alarms_beside_them_still_delivered() {
    run(sns_cases());
}

#[test]
fn hostile_eventbridge_alarms_in_sqs_are_counted_and_the_good_ones_still_delivered() {
    run(eventbridge_cases());
}

#[test]
fn hostile_whole_invocations_are_counted_or_refused_never_a_panic() {
    run(whole_invocations());
}
