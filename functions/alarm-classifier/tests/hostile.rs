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
//! Every case runs under `catch_unwind`: a panic fails the case, it is never an outcome.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use triage_core::text::is_hostile;

use alarm_classifier::handler::{Handler, Summary};
use alarm_classifier::{Settings, assemble};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use stack_tests::{function_env, memory_stand_ins};
use triage_core::alarm::REASON_MAX_CHARS;
use triage_core::fakes::Memory;
use triage_core::ticket::MAX_SUBJECT_CHARS;

/// The function, and the backend to read back what it sent.
struct Fakes {
    handler: Handler<Memory>,
    memory: Memory,
}

/// The alarm names (rule ids) of the good records of each carrier.
const GOOD_SNS: [&str; 2] = ["CIS-1.7-RootAccountUsage", "EXAMPLE"];
const GOOD_SQS: [&str; 2] = ["CIS-1.7-RootAccountUsage", "ServerCpuTooHigh"];
/// The account of hostile alarms that still give a finding.
const HOSTILE_ACCOUNT: &str = "444455556666";
/// No string of a rendered ticket, alert or digest entry is longer.
const MAX_STRING_CHARS: usize = 4096;
/// No ticket event body is larger.
const MAX_TICKET_BYTES: usize = 32 * 1024;
/// Every kind of character that must never reach a reader.
const NASTY: &str = "evil\r\nINFO forged\u{1b}[31mred\u{1b}]0;title\u{7}\u{202e}fdp.exe\u{2066}x\u{2069}\u{200b}\u{feff}\u{2028}\u{0}\u{7f}\u{85}tab\there";

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

struct Case {
    name: &'static str,
    input: Input,
    expect: Expect,
}

fn case(name: &'static str, input: Input, expect: Expect) -> Case {
    Case {
        name,
        input,
        expect,
    }
}

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

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("json")
}

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
fn handler() -> Fakes {
    let memory = Memory::default();
    let env = function_env("alarm-classifier", &memory_stand_ins());
    let handler = assemble(Settings::from(&env).expect("settings"), &memory);
    Fakes { handler, memory }
}

/// What the handler made of one input (`Err` when the runtime refused the body first), and
/// the good alarms that should have been delivered.
type Outcome = Result<(Result<Summary, Diagnostic>, &'static [&'static str]), String>;

fn invoke(h: &Fakes, input: Input) -> Outcome {
    let batch = |records: Vec<Value>| json!({ "Records": records });
    let (payload, good): (Value, &'static [&'static str]) = match input {
        // What lambda_runtime does with the body before it calls the handler.
        Input::Raw(body) => (
            serde_json::from_slice(&body).map_err(|e| e.to_string())?,
            &[],
        ),
        Input::Event(v) => (v, &[]),
        Input::Sns(hostile) => {
            let [a, b] = good_sns();
            (batch([vec![a], hostile, vec![b]].concat()), &GOOD_SNS)
        }
        Input::SnsFirst(hostile) => (batch([hostile, good_sns().to_vec()].concat()), &GOOD_SNS),
        Input::Sqs(hostile) => {
            let [a, b] = good_sqs();
            (batch([vec![a], hostile, vec![b]].concat()), &GOOD_SQS)
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let result = rt
        .block_on(
            h.handler
                .handle(LambdaEvent::new(payload, Context::default())),
        )
        .map_err(|e| triage_lambda::diagnostic(&e));
    Ok((result, good))
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

fn check_strings(what: &str, key: &str, v: &Value, problems: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if s.chars().any(is_hostile) {
                problems.push(format!("{what}.{key}: control characters in {s:.80?}"));
            }
            let chars = s.chars().count();
            if chars > field_bound(key) {
                problems.push(format!("{what}.{key}: {chars} chars"));
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|i| check_strings(what, key, i, problems)),
        Value::Object(m) => {
            for (k, item) in m {
                if k.chars().any(is_hostile) || k.chars().count() > 256 {
                    problems.push(format!("{what}: key {k:.80?}"));
                }
                check_strings(what, k, item, problems);
            }
        }
        _ => {}
    }
}

/// Everything the sinks received is clean and bounded.
fn rendered_problems(h: &Fakes) -> Vec<String> {
    let mut problems = Vec::new();
    for t in h.memory.tickets.sent() {
        let body = t.body().expect("ticket body");
        if body.len() > MAX_TICKET_BYTES {
            problems.push(format!("ticket body of {} bytes", body.len()));
        }
        let v = serde_json::from_str(&body).expect("json");
        check_strings("ticket", "", &v, &mut problems);
    }
    for d in h.memory.digest.sent() {
        let v = serde_json::from_str(&d.body().expect("digest body")).expect("json");
        check_strings("digest entry", "", &v, &mut problems);
    }
    for a in h.memory.alerts.sent() {
        if a.subject.len() > MAX_SUBJECT_CHARS
            || !a.subject.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        {
            problems.push(format!("alert subject {:?}", a.subject));
        }
        if a.text.chars().any(|c| c != '\n' && is_hostile(c)) {
            problems.push("alert text holds control characters".into());
        }
        let v = serde_json::from_str(&a.json).expect("json");
        check_strings("alert json", "", &v, &mut problems);
    }
    problems
}

fn verdict(h: &Fakes, expect: &Expect, outcome: Outcome) -> Result<(), String> {
    let tickets = h.memory.tickets.sent();
    match (expect, outcome) {
        (Expect::RuntimeRejects(want), Err(reason)) => {
            if !reason.contains(want) {
                return Err(format!("runtime refused it, but: {reason}"));
            }
        }
        (Expect::Counted(want), Ok((Ok(s), good))) => {
            let got = Counts {
                invalid: s.invalid,
                skipped: s.skipped,
                findings: s.findings.wrapping_sub(good.len()),
            };
            if got != *want {
                return Err(format!("counted {got:?}, want {want:?} ({s:?})"));
            }
            for alarm in good {
                let delivered = tickets
                    .iter()
                    .filter(|t| t.finding.rule_id.as_str() == *alarm)
                    .count();
                if delivered != 1 {
                    return Err(format!("good alarm {alarm}: {delivered} tickets ({s:?})"));
                }
            }
            if tickets.len() != good.len() + want.findings {
                return Err(format!("{} tickets sent ({s:?})", tickets.len()));
            }
        }
        (_, Err(reason)) => return Err(format!("the runtime refused it: {reason}")),
        (_, Ok((Ok(s), _))) => return Err(format!("Ok({s:?})")),
        (_, Ok((Err(d), _))) => return Err(format!("{}: {}", d.error_type, d.error_message)),
    }
    let problems = rendered_problems(h);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Runs every case (each under `catch_unwind`) and reports all failures at once.
fn run(cases: Vec<Case>) {
    let total = cases.len();
    let mut failures = Vec::new();
    for Case {
        name,
        input,
        expect,
    } in cases
    {
        let h = handler();
        let outcome = catch_unwind(AssertUnwindSafe(|| invoke(&h, input)));
        let result = match outcome {
            Err(_) => Err("PANICKED".to_owned()),
            Ok(outcome) => verdict(&h, &expect, outcome),
        };
        if let Err(why) = result {
            failures.push(format!("{name}: {why:.600}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
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
