//! Hostile-input catalogue for config-classifier: malformed "Config Rules Compliance Change"
//! events, one table row each (name, input, expected typed outcome), run through the real
//! handler with in-memory sinks and an in-memory dedup store. config-classifier is invoked with
//! one EventBridge event at a time, so there is no batch to keep good records of: each case is
//! an `InvalidEvent` error, an `Ok` that sends nothing, or one finding whose rendered ticket,
//! digest entry and alert hold no control characters and stay bounded.
//!
//! Categories:
//! - the envelope: a bare string, an array, JSON null, an empty batch (`Records: []`), an SQS
//!   wrapper (not unwrapped: nothing to do), null in every field;
//! - wrong JSON types for every field the classifier reads: `detail` as null, a string or an
//!   array; `newEvaluationResult` as a string; `complianceType` as a number or unknown (in lower
//!   case, with ANSI and bidi controls); `configRuleName`, `resourceType`, `resourceId`,
//!   `awsAccountId` as numbers, objects or null; timestamps as numbers, words or 100 000 digits;
//! - duplicate keys, huge numbers;
//! - enormous strings: a 1 MB annotation with control characters, a 1 MB resource id (its
//!   console link must stay bounded), a 1 MB rule name;
//! - control characters, ANSI, bidi and zero-width marks in every string;
//! - bodies the runtime refuses before the handler: 100 000 nested `[`, invalid UTF-8.
//!
//! The harness is `triage_testkit::hostile`: every case runs under `catch_unwind` (a panic fails
//! the case, it is never an outcome), and everything the sinks received is checked after it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use config_classifier::handler::{Handler, Summary};
use config_classifier::{Settings, assemble};
use serde_json::{Value, json};
use stack_tests::{function_env, memory_stand_ins};
use triage_core::fakes::Memory;
use triage_testkit::event as sample;
use triage_testkit::hostile::{self, Harness, Invocation, NASTY, Outcome, case};

/// No string of a rendered ticket, alert or digest entry is longer.
const MAX_STRING_CHARS: usize = 4096;
/// No `InvalidEvent` message is longer, in bytes.
const MAX_ERROR_BYTES: usize = 1024;

enum Input {
    /// The invocation body as the Lambda runtime receives it.
    Raw(Vec<u8>),
    /// The event.
    Event(Value),
}

enum Expect {
    /// The runtime's deserializer (serde_json, as `lambda_runtime` uses it) refuses the body
    /// before the handler; the message names why.
    RuntimeRejects(&'static str),
    /// `InvalidEvent`, the message containing this.
    Invalid(&'static str),
    /// `Ok`, nothing sent.
    Nothing,
    /// `Ok`, one finding, ticketed.
    Ticket,
}

type Case = hostile::Case<Input, Expect>;

/// The restricted-ssh NON_COMPLIANT event changed by `edit`.
fn event(edit: impl FnOnce(&mut Value)) -> Input {
    let mut e = sample("config-noncompliant-restricted-ssh.json");
    edit(&mut e);
    Input::Event(e)
}

fn remove(v: &mut Value, key: &str) {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
}

const QUALIFIER: &str =
    "/detail/newEvaluationResult/evaluationResultIdentifier/evaluationResultQualifier";

/// Sets `field` in `detail` and in the evaluation-result qualifier (where the classifier also
/// looks for it).
fn both(e: &mut Value, field: &str, value: Value) {
    e["detail"][field] = value.clone();
    if let Some(q) = e.pointer_mut(QUALIFIER) {
        q[field] = value;
    }
}

// ------------------------------------------------------------------------------------------
// Running a case
// ------------------------------------------------------------------------------------------

/// The function as it ships, on the in-memory backend, with the template's settings.
const HARNESS: Harness<Handler<Memory>, Input, Expect> = Harness {
    assemble: |memory| {
        let env = function_env("config-classifier", &memory_stand_ins());
        assemble(Settings::from(&env).expect("settings"), memory)
    },
    invocation: |input, _| match input {
        Input::Raw(body) => Invocation::Body(body.clone()),
        Input::Event(v) => Invocation::Event(v.clone()),
    },
    verdict,
    string_chars: field_bound,
};

fn run(cases: Vec<Case>) {
    HARNESS.run(cases);
}

/// The bound of a field that carries event text, by its key.
fn field_bound(key: &str) -> usize {
    match key {
        "annotation" => 1024,
        "account" | "region" | "compliance_type" => 64,
        "title" | "rule_id" | "config_rule_name" => 256,
        "id" => 512,
        _ => MAX_STRING_CHARS,
    }
}

fn verdict(
    _: &Input,
    expect: &Expect,
    outcome: Outcome<Summary>,
    memory: &Memory,
) -> Result<(), String> {
    let tickets = memory.tickets.sent();
    match (expect, outcome) {
        (Expect::RuntimeRejects(want), Err(reason)) => hostile::refused(&reason, want),
        (Expect::Invalid(want), Ok(Err(d))) => {
            hostile::typed_error(&d, "InvalidEvent", want, MAX_ERROR_BYTES, memory)
        }
        (Expect::Nothing, Ok(Ok(s))) => {
            if s != Summary::default() || !tickets.is_empty() {
                return Err(format!("{s:?}"));
            }
            Ok(())
        }
        (Expect::Ticket, Ok(Ok(s))) => {
            if s.findings != 1 || s.tickets != 1 || tickets.len() != 1 {
                return Err(format!("{s:?}, {} tickets", tickets.len()));
            }
            Ok(())
        }
        (_, outcome) => Err(hostile::unexpected(outcome)),
    }
}

// ------------------------------------------------------------------------------------------
// The catalogue
// ------------------------------------------------------------------------------------------

fn malformed_events() -> Vec<Case> {
    use Expect::{Invalid, Nothing, RuntimeRejects};
    use Input::{Event, Raw};
    let nulls: serde_json::Map<String, Value> = sample("config-noncompliant-restricted-ssh.json")
        .as_object()
        .expect("object")
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    let sqs_wrapped = json!({"Records": [{"eventSource": "aws:sqs",
        "body": sample("config-noncompliant-restricted-ssh.json").to_string()}]});
    let times = |e: &mut Value, value: Value| {
        e["detail"]["newEvaluationResult"]["resultRecordedTime"] = value;
        remove(&mut e["detail"], "notificationCreationTime");
        remove(e, "time");
    };
    vec![
        case(
            "the event is a bare string",
            Event(json!("NON_COMPLIANT")),
            Invalid("event is not a JSON object"),
        ),
        case(
            "the event is an array",
            Event(json!([sample("config-noncompliant-restricted-ssh.json")])),
            Invalid("event is not a JSON object"),
        ),
        case(
            "the event is JSON null",
            Event(Value::Null),
            Invalid("event is not a JSON object"),
        ),
        case(
            "an empty batch (Records: [])",
            Event(json!({"Records": []})),
            Nothing,
        ),
        case(
            "a compliance change wrapped in SQS",
            Event(sqs_wrapped),
            Nothing,
        ),
        case("null in every field", Event(Value::Object(nulls)), Nothing),
        case(
            "detail is null",
            event(|e| e["detail"] = Value::Null),
            Invalid("missing detail"),
        ),
        case(
            "detail is a string",
            event(|e| e["detail"] = json!("NON_COMPLIANT")),
            Invalid("missing detail"),
        ),
        case(
            "detail is an array",
            event(|e| e["detail"] = json!([e["detail"].clone()])),
            Invalid("missing detail"),
        ),
        case(
            "newEvaluationResult is a string",
            event(|e| e["detail"]["newEvaluationResult"] = json!("NON_COMPLIANT")),
            Invalid("missing detail.newEvaluationResult"),
        ),
        case(
            "complianceType is a number",
            event(|e| e["detail"]["newEvaluationResult"]["complianceType"] = json!(1)),
            Invalid("missing detail.newEvaluationResult.complianceType"),
        ),
        case(
            "complianceType in lower case",
            event(|e| {
                e["detail"]["newEvaluationResult"]["complianceType"] = json!("non_compliant")
            }),
            Invalid("unknown complianceType \"non_compliant\""),
        ),
        case(
            "complianceType with ANSI and bidi controls",
            event(|e| {
                e["detail"]["newEvaluationResult"]["complianceType"] =
                    json!("NON_COMPLIANT\u{1b}[31m\u{202e}\r\nforged")
            }),
            Invalid("unknown complianceType \"NON_COMPLIANT [31m forged\""),
        ),
        case(
            "configRuleName is a number",
            event(|e| both(e, "configRuleName", json!(22))),
            Invalid("missing detail.configRuleName"),
        ),
        case(
            "resourceType is null",
            event(|e| both(e, "resourceType", Value::Null)),
            Invalid("missing detail.resourceType"),
        ),
        case(
            "resourceId is an object",
            event(|e| both(e, "resourceId", json!({"id": "sg-1"}))),
            Invalid("missing detail.resourceId"),
        ),
        case(
            "awsAccountId is a number and account is missing",
            event(|e| {
                e["detail"]["awsAccountId"] = json!(111_122_223_333_u64);
                remove(e, "account");
            }),
            Invalid("missing detail.awsAccountId"),
        ),
        case(
            "every timestamp is a number or missing",
            event(|e| times(e, json!(1_709_481_268_354_i64))),
            Invalid("missing detail.newEvaluationResult.resultRecordedTime"),
        ),
        case(
            "resultRecordedTime is a word",
            event(|e| times(e, json!("yesterday"))),
            Invalid("is not an ISO 8601 timestamp: \"yesterday\""),
        ),
        case(
            "resultRecordedTime is 100 000 digits",
            event(|e| times(e, json!("9".repeat(100_000)))),
            Invalid("is not an ISO 8601 timestamp"),
        ),
        case(
            "an invocation body of 100 000 nested [",
            Raw(vec![b'['; 100_000]),
            RuntimeRejects("recursion limit exceeded"),
        ),
        case(
            "an invocation body with invalid UTF-8",
            Raw(
                b"{\"detail-type\":\"Config Rules Compliance Change\",\"x\":\"\xc3\x28\"}".to_vec(),
            ),
            RuntimeRejects("invalid unicode code point"),
        ),
    ]
}

fn hostile_findings() -> Vec<Case> {
    use Expect::Ticket;
    let one_mb = "A".repeat(1_000_000);
    let duplicate = sample("config-noncompliant-restricted-ssh.json")
        .to_string()
        .replacen(
            "\"complianceType\":\"NON_COMPLIANT\"",
            "\"complianceType\":\"COMPLIANT\",\"complianceType\":\"NON_COMPLIANT\"",
            1,
        );
    let duplicate: Value = serde_json::from_str(&duplicate).expect("json");
    vec![
        case(
            "a 1 MB annotation with control characters",
            event(|e| {
                e["detail"]["newEvaluationResult"]["annotation"] =
                    json!(format!("{NASTY}{one_mb}{NASTY}"))
            }),
            Ticket,
        ),
        case(
            "a 1 MB resource id",
            event(|e| both(e, "resourceId", json!(one_mb))),
            Ticket,
        ),
        case(
            "a 1 MB rule name",
            event(|e| both(e, "configRuleName", json!(one_mb))),
            Ticket,
        ),
        case(
            "control characters, ANSI, bidi and zero-width marks in every string",
            event(|e| {
                for field in ["resourceId", "resourceType", "configRuleName"] {
                    both(e, field, json!(format!("{field}{NASTY}")));
                }
                for field in ["awsAccountId", "awsRegion", "configRuleARN"] {
                    e["detail"][field] = json!(format!("{field}{NASTY}"));
                }
                e["detail"]["newEvaluationResult"]["annotation"] = json!(NASTY);
                e["detail"]["oldEvaluationResult"]["complianceType"] = json!(NASTY);
                e["id"] = json!(NASTY);
            }),
            Ticket,
        ),
        case(
            "complianceType given twice",
            Input::Event(duplicate),
            Ticket,
        ),
        case(
            "huge numbers where strings are expected elsewhere",
            event(|e| {
                e["detail"]["recordVersion"] = json!(1e308);
                e["detail"]["newEvaluationResult"]["configRuleInvokedTime"] = json!(u64::MAX);
                e["detail"]["oldEvaluationResult"] = json!(-1e308);
                e["version"] = json!(i64::MIN);
            }),
            Ticket,
        ),
    ]
}

#[test]
fn malformed_compliance_changes_are_typed_errors_or_nothing_never_a_panic() {
    run(malformed_events());
}

#[test]
fn hostile_strings_reach_the_ticket_clean_and_bounded() {
    run(hostile_findings());
}
