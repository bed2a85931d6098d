//! Hostile-input catalogue for log-detector: malformed CloudWatch Logs subscription events, one
//! table row each (name, input, expected typed outcome), run through the real handler with
//! in-memory sinks and an in-memory dedup store.
//!
//! Categories:
//! - base64: invalid symbols, bad padding, base64 of something that is not gzip, base64 far
//!   longer than any acceptable payload;
//! - gzip: truncated after the header, inside the deflate stream, without its trailer, a corrupt
//!   checksum, a gzip bomb (a small stream inflating past `MAX_DECODED_BYTES`), 6 MB of base64
//!   that is not gzip;
//! - the inflated payload: binary garbage, 100 000 nested `[`, an array, wrong JSON types for
//!   every field the decoder reads (`logEvents` as an object or null, `messageType` as a number,
//!   `owner` as a number, `subscriptionFilters` as a string), an unknown `messageType` carrying
//!   ANSI and bidi controls, a duplicated `messageType`, a number beyond f64, more log events
//!   than `MAX_LOG_EVENTS`, an empty `logEvents`;
//! - the Lambda event: `awslogs` as a string, `awslogs.data` as a number or null, the event as a
//!   bare string; bodies the runtime refuses before the handler (100 000 nested `[`, invalid
//!   UTF-8);
//! - log events, each placed between two good records that must still be delivered: messages
//!   that are not JSON, log events of every wrong type, invalid UTF-8 inside the gzip, JSON that
//!   is not CloudTrail, 100 000-deep nesting, messages above `MAX_MESSAGE_BYTES`, a 6 MB payload
//!   of oversized events, 10 000 log events, timestamps of every wrong type and range, duplicate
//!   keys, null everywhere, huge numbers;
//! - hostile strings that reach a finding: control characters, ANSI, bidi and zero-width marks
//!   in every string, a 1 MB user agent, a 900 KB request parameter among 10 000 others, a 1 MB
//!   event id (no console link is built from it) — the rendered ticket, digest entry and alert
//!   must hold no control characters and stay bounded.
//!
//! - the organization-wide intake's Kinesis batches, a hostile record between a record holding
//!   the first good record and one holding the second: every undecodable `kinesis.data` (not
//!   base64, not gzip, truncated, a bomb, not JSON, not a payload) is named in
//!   `batchItemFailures` and costs nothing else; a record Lambda could never send (no sequence
//!   number, data not a string, another event source) fails the batch with `InvalidPayload`.
//!
//! The harness is `triage_testkit::hostile`: every case runs under `catch_unwind` (a panic fails
//! the case, it is never an outcome), and everything the sinks received is checked after it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use log_detector::handler::{Handler, Response};
use log_detector::{Settings, assemble};
use serde_json::{Value, json};
use stack_tests::{function_env, memory_stand_ins};
use triage_core::cloudtrail::{DEFAULT_MAX_LOG_EVENTS, encode_data, encode_kinesis_event};
use triage_core::fakes::Memory;
use triage_testkit::event as sample;
use triage_testkit::hostile::{self, Harness, Invocation, NASTY, Outcome, case};

/// The rules of the two good records placed around every hostile log event.
const GOOD_RULES: [&str; 2] = ["root-account-usage", "unauthorized-api-calls"];
/// The account of the good records.
const GOOD_ACCOUNT: &str = "111122223333";
/// The account of hostile records that match a detection: a finding of their own.
const HOSTILE_ACCOUNT: &str = "444455556666";
/// No string of a rendered ticket, alert or digest entry is longer (the largest field bound,
/// a finding's description, is 4096 characters).
const MAX_STRING_CHARS: usize = 4096;
/// No `InvalidPayload` message is longer, in bytes.
const MAX_ERROR_BYTES: usize = 2048;

// ------------------------------------------------------------------------------------------
// The table
// ------------------------------------------------------------------------------------------

enum Input {
    /// The invocation body as the Lambda runtime receives it.
    Raw(Vec<u8>),
    /// The Lambda event.
    Event(Value),
    /// `awslogs.data` as it is.
    Data(String),
    /// The inflated payload, gzipped and base64-encoded into `awslogs.data`.
    Inflated(Vec<u8>),
    /// Log events placed between the two good records of a `DATA_MESSAGE`.
    LogEvents(Vec<Value>),
    /// A Kinesis batch: a record holding the first good record, these records (edited from a
    /// well-formed one: `kinesis.data` and more), a record holding the second good record.
    Stream(Vec<Edit>),
}

/// What the good records' neighbours did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    not_json: usize,
    not_cloudtrail: usize,
    invalid: usize,
    oversized: usize,
    /// CloudTrail records evaluated besides the two good ones.
    evaluated: usize,
    /// Findings besides the two good ones.
    findings: usize,
}

const NONE: Counts = Counts {
    not_json: 0,
    not_cloudtrail: 0,
    invalid: 0,
    oversized: 0,
    evaluated: 0,
    findings: 0,
};

enum Expect {
    /// The runtime's deserializer (serde_json, as `lambda_runtime` uses it) refuses the body
    /// before the handler; the message names why.
    RuntimeRejects(&'static str),
    /// `InvalidPayload`, the message containing this.
    Invalid(&'static str),
    /// `Ok`, both good records delivered, the hostile log events counted so.
    Delivered(Counts),
    /// `Ok` with nothing routed: a payload of this many log events.
    Quiet(usize),
    /// A partial batch response naming exactly these records (positions in the batch), both
    /// good records delivered.
    Retried(Vec<usize>),
}

type Case = hostile::Case<Input, Expect>;

/// A change to a well-formed Kinesis record.
type Edit = Box<dyn Fn(&mut Value) + Send + Sync>;

// ------------------------------------------------------------------------------------------
// Building inputs
// ------------------------------------------------------------------------------------------

/// The `message` of the first log event of a decoded subscription sample.
fn first_message(name: &str) -> String {
    sample(name)["logEvents"][0]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

fn log_event(id: usize, message: impl Into<Value>) -> Value {
    json!({"id": id.to_string(), "timestamp": 1_668_097_714_000_i64, "message": message.into()})
}

fn good_events() -> (Value, Value) {
    (
        log_event(1, first_message("cwlogs-root-account-usage.decoded.json")),
        log_event(
            2,
            first_message("cwlogs-unauthorized-api-calls.decoded.json"),
        ),
    )
}

fn payload_with(events: Vec<Value>) -> Value {
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "111122223333",
        "logGroup": "aws-cloudtrail-logs-111122223333",
        "logStream": "111122223333_CloudTrail_us-east-1",
        "subscriptionFilters": ["triage-log-detector"],
        "logEvents": events,
    })
}

/// The good records with `hostile` between them.
fn around(hostile: Vec<Value>) -> Value {
    let (first, last) = good_events();
    let mut events = vec![first];
    events.extend(hostile);
    events.push(last);
    payload_with(events)
}

fn inflated(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn lambda_event(data: String) -> Value {
    json!({"awslogs": {"data": data}})
}

/// The root-usage record, moved to [`HOSTILE_ACCOUNT`] (a finding of its own) and changed by
/// `edit`.
fn root_record(edit: impl FnOnce(&mut Value)) -> Value {
    let mut r: Value =
        serde_json::from_str(&first_message("cwlogs-root-account-usage.decoded.json"))
            .expect("record");
    r["recipientAccountId"] = json!(HOSTILE_ACCOUNT);
    r["userIdentity"]["accountId"] = json!(HOSTILE_ACCOUNT);
    r["userIdentity"]["arn"] = json!(format!("arn:aws:iam::{HOSTILE_ACCOUNT}:root"));
    edit(&mut r);
    r
}

fn record_event(id: usize, record: &Value) -> Value {
    log_event(id, record.to_string())
}

/// Deterministic, incompressible text (xorshift over the base64 alphabet).
fn noise(len: usize, mut seed: u64) -> String {
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.push(char::from(B64[(seed % 64) as usize]));
    }
    out
}

/// Standard base64, by hand: the damaged gzip streams below need raw bytes in and out, and this
/// package has no base64 dependency for a dozen lines.
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(text: &str) -> Vec<u8> {
    let digits: Vec<u32> = text
        .bytes()
        .filter(|b| *b != b'=')
        .map(|b| B64.iter().position(|c| *c == b).expect("base64") as u32)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | d << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i) & 0xff) as u8);
        }
    }
    out
}

/// The gzip stream of a small, valid subscription payload.
fn good_gzip() -> Vec<u8> {
    b64_decode(&encode_data(&inflated(&around(vec![]))).expect("encode"))
}

/// `around([placeholder])` with the placeholder's text replaced by raw `bytes`.
fn around_with_raw_message(bytes: &[u8]) -> Vec<u8> {
    let text = around(vec![log_event(9, "@@RAW@@")]).to_string();
    let (head, tail) = text.split_once("@@RAW@@").expect("placeholder");
    [head.as_bytes(), bytes, tail.as_bytes()].concat()
}

/// `record` as the text of a JSON string (escaped), with `marker` replaced by raw `bytes`.
fn escaped_with_raw(record: &Value, marker: &str, bytes: &[u8]) -> Vec<u8> {
    let quoted = serde_json::to_string(&record.to_string()).expect("json");
    let escaped = &quoted[1..quoted.len() - 1];
    let (head, tail) = escaped.split_once(marker).expect("marker");
    [head.as_bytes(), bytes, tail.as_bytes()].concat()
}

/// `around([placeholder])` with the placeholder log event replaced by raw `bytes`.
fn around_with_raw_event(bytes: &[u8]) -> Vec<u8> {
    let text = around(vec![json!("@@EVENT@@")]).to_string();
    let (head, tail) = text.split_once("\"@@EVENT@@\"").expect("placeholder");
    [head.as_bytes(), bytes, tail.as_bytes()].concat()
}

// ------------------------------------------------------------------------------------------
// Running a case
// ------------------------------------------------------------------------------------------

/// The function as it ships, on the in-memory backend, with the template's settings.
const HARNESS: Harness<Handler<Memory>, Input, Expect> = Harness {
    assemble: |memory| {
        let env = function_env("log-detector", &memory_stand_ins());
        assemble(Settings::from(&env).expect("settings"), memory)
    },
    invocation,
    verdict,
    string_chars: |_| MAX_STRING_CHARS,
};

fn run(cases: Vec<Case>) {
    HARNESS.run(cases);
}

fn invocation(input: &Input, _: &Memory) -> Invocation {
    let data = |data: String| Invocation::Event(lambda_event(data));
    match input {
        Input::Raw(body) => Invocation::Body(body.clone()),
        Input::Event(v) => Invocation::Event(v.clone()),
        Input::Data(d) => data(d.clone()),
        Input::Inflated(bytes) => data(encode_data(bytes).expect("encode")),
        Input::LogEvents(events) => {
            data(encode_data(&inflated(&around(events.clone()))).expect("encode"))
        }
        Input::Stream(edits) => Invocation::Event(stream_event(edits)),
    }
}

fn stream_event(edits: &[Edit]) -> Value {
    let (first, last) = good_events();
    let first = inflated(&payload_with(vec![first]));
    let last = inflated(&payload_with(vec![last]));
    let middle = inflated(&payload_with(vec![]));
    let mut payloads: Vec<&[u8]> = vec![&first];
    payloads.extend(edits.iter().map(|_| middle.as_slice()));
    payloads.push(&last);
    let mut event = encode_kinesis_event(&payloads, 1, STREAM).expect("encode");
    let records = event["Records"].as_array_mut().expect("records");
    for (edit, record) in edits.iter().zip(&mut records[1..]) {
        edit(record);
    }
    event
}

const STREAM: &str = "arn:aws:kinesis:us-east-1:111122223333:stream/triage-trail-records";

/// The sequence number of the record at `position` in [`stream_event`]'s batch.
fn sequence(position: usize) -> String {
    format!("{:056}", position + 1)
}

fn verdict(
    _: &Input,
    expect: &Expect,
    outcome: Outcome<Response>,
    memory: &Memory,
) -> Result<(), String> {
    let outcome = match (expect, outcome) {
        (Expect::Retried(positions), Ok(Ok(Response::Stream(s)))) => {
            let named: Vec<&str> = s
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            let want: Vec<String> = positions.iter().map(|&p| sequence(p)).collect();
            if named != want {
                return Err(format!("named {named:?}, want {want:?}"));
            }
            return hostile::ticketed_once(memory, &GOOD_RULES, Some(GOOD_ACCOUNT));
        }
        (_, Ok(Ok(Response::Subscription(s)))) => Ok(Ok(s)),
        (_, Ok(Ok(other))) => return Err(format!("{other:?}")),
        (_, Ok(Err(d))) => Ok(Err(d)),
        (_, Err(reason)) => Err(reason),
    };
    match (expect, outcome) {
        (Expect::RuntimeRejects(want), Err(reason)) => hostile::refused(&reason, want),
        (Expect::Invalid(want), Ok(Err(d))) => {
            hostile::typed_error(&d, "InvalidPayload", want, MAX_ERROR_BYTES, memory)
        }
        (Expect::Delivered(want), Ok(Ok(s))) => {
            let got = Counts {
                not_json: s.skipped_not_json,
                not_cloudtrail: s.skipped_not_cloudtrail,
                invalid: s.skipped_invalid,
                oversized: s.skipped_oversized,
                evaluated: s.cloudtrail_records.wrapping_sub(2),
                findings: s.findings.wrapping_sub(2),
            };
            if got != *want {
                return Err(format!("counted {got:?}, want {want:?} ({s:?})"));
            }
            hostile::ticketed_once(memory, &GOOD_RULES, Some(GOOD_ACCOUNT))?;
            let sent = memory.tickets.sent().len();
            if sent != s.tickets || s.tickets != 2 + want.findings {
                return Err(format!("{sent} tickets sent, summary {s:?}"));
            }
            Ok(())
        }
        (Expect::Quiet(records), Ok(Ok(s))) => {
            if s.records != *records || s.findings != 0 || !memory.tickets.sent().is_empty() {
                return Err(format!("{s:?}"));
            }
            Ok(())
        }
        (_, outcome) => Err(hostile::unexpected(outcome)),
    }
}

// ------------------------------------------------------------------------------------------
// The catalogue
// ------------------------------------------------------------------------------------------

/// An edit that sets `kinesis.data`.
fn data_is(data: impl Into<Value>) -> Edit {
    let data = data.into();
    Box::new(move |r: &mut Value| r["kinesis"]["data"] = data.clone())
}

fn hostile_stream_records() -> Vec<Case> {
    use Expect::{Invalid, Retried};
    use Input::Stream;
    let gz = good_gzip();
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let gzip = |bytes: &[u8]| encode_data(bytes).expect("encode");
    // 32 MB of spaces: a few kB of gzip, twice the template's MAX_DECODED_BYTES inflated
    let bomb = gzip(&vec![b' '; 32 * 1024 * 1024]);
    let mut unknown_type = payload_with(vec![]);
    unknown_type["messageType"] = json!(format!("DATA\u{1b}[31m{NASTY}"));
    let ok = |r: &mut Value| {
        let _ = r;
    };
    vec![
        case(
            "stream: data not base64",
            Stream(vec![data_is("%%%not base64%%%")]),
            Retried(vec![1]),
        ),
        case(
            "stream: base64 of plain JSON, not gzip",
            Stream(vec![data_is(b64(b"{\"messageType\":\"DATA_MESSAGE\"}"))]),
            Retried(vec![1]),
        ),
        case(
            "stream: gzip truncated inside the deflate stream",
            Stream(vec![data_is(b64(&gz[..gz.len() / 2]))]),
            Retried(vec![1]),
        ),
        case(
            "stream: a gzip bomb",
            Stream(vec![data_is(bomb)]),
            Retried(vec![1]),
        ),
        case(
            "stream: gzip of text",
            Stream(vec![data_is(gzip(b"not json at all"))]),
            Retried(vec![1]),
        ),
        case(
            "stream: gzip of a JSON array",
            Stream(vec![data_is(gzip(b"[1,2,3]"))]),
            Retried(vec![1]),
        ),
        case(
            "stream: an unknown messageType full of control characters",
            Stream(vec![data_is(gzip(unknown_type.to_string().as_bytes()))]),
            Retried(vec![1]),
        ),
        case(
            "stream: empty data",
            Stream(vec![data_is("")]),
            Retried(vec![1]),
        ),
        case(
            "stream: three bad records among good and empty ones",
            Stream(vec![
                data_is("%%%"),
                Box::new(ok),
                data_is(gzip(b"[]")),
                Box::new(ok),
                data_is(b64(&gz[..10])),
            ]),
            Retried(vec![1, 3, 5]),
        ),
        case(
            "stream: 200 undecodable records",
            Stream((0..200).map(|_| data_is("%%%")).collect()),
            Retried((1..=200).collect()),
        ),
        case(
            "stream: data as a number",
            Stream(vec![data_is(42)]),
            Invalid("Records[1]"),
        ),
        case(
            "stream: no sequence number",
            Stream(vec![Box::new(|r: &mut Value| {
                r["kinesis"]
                    .as_object_mut()
                    .expect("kinesis")
                    .remove("sequenceNumber");
            })]),
            Invalid("Records[1]"),
        ),
        case(
            "stream: another event source in the batch",
            Stream(vec![Box::new(|r: &mut Value| {
                r["eventSource"] = json!("aws:sqs")
            })]),
            Invalid("Records[1] is not a Kinesis record"),
        ),
    ]
}

fn undecodable_payloads() -> Vec<Case> {
    use Expect::{Invalid, Quiet, RuntimeRejects};
    use Input::{Data, Event, Inflated, Raw};
    let gz = good_gzip();
    let mut bad_crc = gz.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let many_events: Vec<Value> = (0..=DEFAULT_MAX_LOG_EVENTS)
        .map(|i| json!({"id": i.to_string(), "timestamp": 0, "message": ""}))
        .collect();
    let mut unknown_type = payload_with(vec![]);
    unknown_type["messageType"] = json!("DATA_MESSAGE\u{1b}[2J\u{202e}\r\nforged");
    let with_field = |field: &str, value: Value| {
        let mut p = around(vec![]);
        p[field] = value;
        Inflated(inflated(&p))
    };
    let duplicate_type =
        br#"{"messageType":"CONTROL_MESSAGE","messageType":"DATA_MESSAGE","logEvents":[]}"#;
    let beyond_f64 = br#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1e400,"message":"x"}]}"#;
    vec![
        case(
            "base64 with invalid symbols",
            Data("H4sI%%%%".into()),
            Invalid("not valid base64"),
        ),
        case(
            "base64 with bad padding",
            Data("H4sIAA=A".into()),
            Invalid("not valid base64"),
        ),
        case(
            "base64 of plain JSON, not gzip",
            Data(b64_encode(&inflated(&around(vec![])))),
            Invalid("not gzip: no gzip header"),
        ),
        case(
            "gzip truncated after its header",
            Data(b64_encode(&gz[..10])),
            Invalid("truncated gzip"),
        ),
        case(
            "gzip truncated inside the deflate stream",
            Data(b64_encode(&gz[..gz.len() / 2])),
            Invalid("truncated gzip"),
        ),
        case(
            "gzip without its CRC and size trailer",
            Data(b64_encode(&gz[..gz.len() - 8])),
            Invalid("truncated gzip"),
        ),
        case(
            "gzip with a corrupt checksum",
            Data(b64_encode(&bad_crc)),
            Invalid("not gzip"),
        ),
        case(
            "gzip bomb: 16 KiB inflating past MAX_DECODED_BYTES",
            Data(encode_data(&vec![0u8; 17 * 1024 * 1024]).expect("bomb")),
            Invalid("inflates to more than 16777216 bytes"),
        ),
        case(
            "6 MB of base64 that is not gzip",
            Data("A".repeat(6 * 1024 * 1024)),
            Invalid("not gzip"),
        ),
        case(
            "base64 longer than any acceptable payload",
            Data("H4sI".repeat(6 * 1024 * 1024)),
            Invalid("characters of base64, more than the"),
        ),
        case(
            "inflated binary garbage (invalid UTF-8 everywhere)",
            Inflated(noise(4096, 7).bytes().map(|b| b | 0x80).collect()),
            Invalid("not JSON"),
        ),
        case(
            "inflated 100 000 nested [",
            Inflated(vec![b'['; 100_000]),
            Invalid("not a subscription payload: invalid type: sequence"),
        ),
        case(
            "100 000 unclosed [ inside logEvents",
            Inflated(
                [
                    &b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":"[..],
                    &vec![b'['; 100_000],
                ]
                .concat(),
            ),
            Invalid("not JSON: EOF while parsing a list"),
        ),
        case(
            "inflated payload is a JSON array",
            Inflated(b"[{\"messageType\":\"DATA_MESSAGE\"}]".to_vec()),
            Invalid("not a subscription payload"),
        ),
        case(
            "logEvents is an object",
            with_field("logEvents", json!({"0": {"message": "x"}})),
            Invalid("not a subscription payload: invalid type: map"),
        ),
        case(
            "logEvents is null",
            with_field("logEvents", Value::Null),
            Invalid("logEvents is missing"),
        ),
        case(
            "messageType is a number",
            with_field("messageType", json!(1)),
            Invalid("not a subscription payload: invalid type: integer"),
        ),
        case(
            "owner is a number",
            with_field("owner", json!(111_122_223_333_u64)),
            Invalid("not a subscription payload: invalid type: integer"),
        ),
        case(
            "subscriptionFilters is a string",
            with_field("subscriptionFilters", json!("triage")),
            Invalid("not a subscription payload: invalid type: string"),
        ),
        case(
            "unknown messageType with ANSI and bidi controls",
            Inflated(inflated(&unknown_type)),
            Invalid("unknown messageType \"DATA_MESSAGE [2J forged\""),
        ),
        case(
            "messageType given twice",
            Inflated(duplicate_type.to_vec()),
            Invalid("duplicate field `messageType`"),
        ),
        case(
            "a timestamp beyond f64 (1e400)",
            Inflated(beyond_f64.to_vec()),
            Invalid("number out of range"),
        ),
        case(
            "more log events than MAX_LOG_EVENTS",
            Inflated(inflated(&payload_with(many_events))),
            Invalid("50001 log events in one payload, more than the 50000 allowed"),
        ),
        case(
            "an empty logEvents",
            Inflated(inflated(&payload_with(vec![]))),
            Quiet(0),
        ),
        case(
            "awslogs is a string",
            Event(json!({"awslogs": "H4sIAAAA"})),
            Invalid("awslogs.data is missing"),
        ),
        case(
            "awslogs.data is a number",
            Event(json!({"awslogs": {"data": 42}})),
            Invalid("awslogs.data is not a string"),
        ),
        case(
            "awslogs.data is null",
            Event(json!({"awslogs": {"data": null}})),
            Invalid("awslogs.data is not a string"),
        ),
        case(
            "the event is a bare string",
            Event(json!("H4sIAAAAAAAA")),
            Invalid("awslogs is missing"),
        ),
        case(
            "an invocation body of 100 000 nested [",
            Raw(vec![b'['; 100_000]),
            RuntimeRejects("recursion limit exceeded"),
        ),
        case(
            "an invocation body with invalid UTF-8",
            Raw(b"{\"awslogs\":{\"data\":\"H4sI\xff\xfe\"}}".to_vec()),
            RuntimeRejects("invalid unicode code point"),
        ),
    ]
}

fn hostile_log_events() -> Vec<Case> {
    use Expect::Delivered;
    use Input::{Event, Inflated, LogEvents};
    let oversized = "x".repeat(triage_core::cloudtrail::DEFAULT_MAX_MESSAGE_BYTES + 1);
    let benign =
        serde_json::to_string(&sample("cloudtrail-ec2-start-instances.json")).expect("json");
    let six_mb: Vec<Value> = (0..6)
        .map(|i| log_event(10 + i, noise(1_050_000, 0x9e37_79b9_7f4a_7c15 + i as u64)))
        .collect();
    let six_mb_event = lambda_event(encode_data(&inflated(&around(six_mb))).expect("encode"));
    assert!(six_mb_event.to_string().len() > 6_000_000);
    let deep_record = format!(
        "{{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-01-01T00:00:00Z\",\"eventSource\":\"iam.amazonaws.com\",\"x\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let bad_time = root_record(|r| r["eventTime"] = json!("not a time"));
    let timestamps: Vec<Value> = [
        json!("yesterday"),
        json!(1e300),
        json!(-1e300),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(true),
        json!({"ms": 1}),
        Value::Null,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, ts)| json!({"id": i.to_string(), "timestamp": ts, "message": bad_time.to_string()}))
    .collect();
    let nasty = root_record(|r| {
        for key in [
            "userAgent",
            "sourceIPAddress",
            "eventName",
            "eventID",
            "awsRegion",
            "errorMessage",
        ] {
            r[key] = json!(format!("{key}-{NASTY}"));
        }
        r["userIdentity"]["userName"] = json!(NASTY);
        r["userIdentity"]["arn"] = json!(format!("arn:aws:iam::{HOSTILE_ACCOUNT}:root{NASTY}"));
        r["requestParameters"] = json!({NASTY: NASTY, "nested": {"k": [NASTY, 1, null]}});
    });
    let duplicates = root_record(|_| {}).to_string().replacen(
        "\"eventName\":",
        "\"eventName\":\"Dup\",\"userAgent\":\"first\",\"userAgent\":\"second\",\"eventName\":",
        1,
    );
    let nulls = json!({
        "eventVersion": "1.08", "eventTime": "2024-01-01T00:00:00Z", "eventSource": "iam.amazonaws.com",
        "userIdentity": null, "eventName": null, "awsRegion": null, "sourceIPAddress": null,
        "userAgent": null, "requestParameters": null, "responseElements": null, "errorCode": null,
        "recipientAccountId": null, "eventType": null, "eventID": null
    });
    let all_null = json!({
        "eventVersion": null, "eventTime": null, "eventSource": null, "userIdentity": null
    });
    let huge_numbers = root_record(|_| {}).to_string().replacen(
        "\"readOnly\":false",
        "\"readOnly\":1e400,\"apiVersion\":-0.0e-999,\"requestParameters2\":123456789012345678901234567890123456789",
        1,
    );
    let one_mb = "A".repeat(1_000_000);
    vec![
        case(
            "messages that are not JSON objects",
            LogEvents(
                [
                    "plain text",
                    "",
                    "{",
                    "null",
                    "[1, 2]",
                    "\"a string\"",
                    "{\"a\": 1,}",
                ]
                .iter()
                .enumerate()
                .map(|(i, m)| log_event(10 + i, *m))
                .collect(),
            ),
            Delivered(Counts {
                not_json: 7,
                ..NONE
            }),
        ),
        case(
            "log events of every wrong type",
            LogEvents(vec![
                json!(42),
                json!("text"),
                json!([1, 2]),
                Value::Null,
                json!({"message": 5}),
                json!({"message": {"eventVersion": "1.08"}}),
                json!({"message": null}),
                json!({"id": {"x": 1}, "timestamp": "now"}),
                json!({}),
            ]),
            Delivered(Counts { invalid: 9, ..NONE }),
        ),
        case(
            "invalid UTF-8 inside the gzip, in one message",
            Inflated(around_with_raw_message(
                b"caf\xc3 \xff\xfe\xed\xa0\x80 bytes",
            )),
            Delivered(Counts {
                not_json: 1,
                ..NONE
            }),
        ),
        case(
            "invalid UTF-8 inside the gzip, in a matching record",
            Inflated(around_with_raw_message(&escaped_with_raw(
                &root_record(|r| r["userAgent"] = json!("@@UA@@")),
                "@@UA@@",
                b"agent\xff\xfe\xc0\xafend",
            ))),
            Delivered(Counts {
                evaluated: 1,
                findings: 1,
                ..NONE
            }),
        ),
        case(
            "JSON that is not CloudTrail",
            LogEvents(vec![
                log_event(10, "{\"a\": 1}"),
                log_event(
                    11,
                    r#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com"}"#,
                ),
                log_event(
                    12,
                    r#"{"eventVersion":1.08,"eventTime":"2024-01-01T00:00:00Z","eventSource":"iam.amazonaws.com"}"#,
                ),
                log_event(
                    13,
                    sample("config-noncompliant-restricted-ssh.json").to_string(),
                ),
            ]),
            Delivered(Counts {
                not_cloudtrail: 4,
                ..NONE
            }),
        ),
        case(
            "100 000 nested [ in messages",
            LogEvents(vec![
                log_event(10, "[".repeat(100_000)),
                log_event(11, format!("{{\"a\":{}", "[".repeat(100_000))),
                log_event(12, deep_record),
            ]),
            Delivered(Counts {
                not_json: 2,
                evaluated: 1,
                ..NONE
            }),
        ),
        case(
            "a log event of 100 000 nested [",
            Inflated(around_with_raw_event(
                &[vec![b'['; 100_000], vec![b']'; 100_000]].concat(),
            )),
            Delivered(Counts { invalid: 1, ..NONE }),
        ),
        case(
            "a message above MAX_MESSAGE_BYTES",
            LogEvents(vec![log_event(10, oversized)]),
            Delivered(Counts {
                oversized: 1,
                ..NONE
            }),
        ),
        case(
            "a 6 MB payload of oversized, incompressible log events",
            Event(six_mb_event),
            Delivered(Counts {
                oversized: 6,
                ..NONE
            }),
        ),
        case(
            "10 000 log events in one payload",
            LogEvents(
                (0..10_000)
                    .map(|i| log_event(10 + i, benign.clone()))
                    .collect(),
            ),
            Delivered(Counts {
                evaluated: 10_000,
                ..NONE
            }),
        ),
        case(
            "timestamps of every wrong type and range, with an unreadable eventTime",
            LogEvents(timestamps),
            Delivered(Counts {
                evaluated: 9,
                findings: 1,
                ..NONE
            }),
        ),
        case(
            "a log event with its message key twice",
            Inflated(around_with_raw_message(b"x\", \"message\": 5, \"z\": \"")),
            Delivered(Counts { invalid: 1, ..NONE }),
        ),
        case(
            "duplicate keys inside a matching record",
            LogEvents(vec![log_event(10, duplicates)]),
            Delivered(Counts {
                evaluated: 1,
                findings: 1,
                ..NONE
            }),
        ),
        case(
            "null in every field of a record",
            LogEvents(vec![
                log_event(10, nulls.to_string()),
                log_event(11, all_null.to_string()),
            ]),
            Delivered(Counts {
                not_cloudtrail: 1,
                evaluated: 1,
                ..NONE
            }),
        ),
        case(
            "huge and tiny numbers in a matching record",
            LogEvents(vec![log_event(10, huge_numbers)]),
            Delivered(Counts {
                evaluated: 1,
                findings: 1,
                ..NONE
            }),
        ),
        case(
            "control characters, ANSI, bidi and zero-width marks in every string",
            LogEvents(vec![record_event(10, &nasty)]),
            Delivered(Counts {
                evaluated: 1,
                findings: 1,
                ..NONE
            }),
        ),
        case(
            "a 1 MB user agent",
            LogEvents(vec![record_event(
                10,
                &root_record(|r| r["userAgent"] = json!(one_mb)),
            )]),
            Delivered(Counts {
                evaluated: 1,
                findings: 1,
                ..NONE
            }),
        ),
        case(
            "a 900 KB request parameter among 10 000 of them",
            LogEvents(vec![record_event(
                10,
                &root_record(|r| {
                    let mut params = serde_json::Map::new();
                    params.insert("big".into(), json!(&one_mb[..900_000]));
                    for i in 0..10_000 {
                        params.insert(format!("k{i}"), json!(i));
                    }
                    r["requestParameters"] = Value::Object(params);
                }),
            )]),
            Delivered(Counts {
                evaluated: 1,
                findings: 1,
                ..NONE
            }),
        ),
    ]
}

#[test]
fn an_undecodable_stream_record_fails_only_itself_and_a_batch_lambda_could_not_send_fails_whole() {
    run(hostile_stream_records());
}

#[test]
fn every_undecodable_subscription_event_is_a_typed_error_never_a_panic() {
    run(undecodable_payloads());
}

#[test]
fn hostile_log_events_are_counted_and_the_good_records_beside_them_still_delivered() {
    run(hostile_log_events());
}

/// A 1 MB `eventID` is not an event id: the finding gets no console link rather than a 1 MB one
/// (which would push the ticket past SQS's 256 KiB and fail every retry).
#[test]
fn a_1_mb_event_id_reaches_the_ticket_bounded() {
    let one_mb = "A".repeat(1_000_000);
    run(vec![case(
        "a 1 MB event id",
        Input::LogEvents(vec![record_event(
            10,
            &root_record(|r| r["eventID"] = json!(one_mb)),
        )]),
        Expect::Delivered(Counts {
            evaluated: 1,
            findings: 1,
            ..NONE
        }),
    )]);
}
