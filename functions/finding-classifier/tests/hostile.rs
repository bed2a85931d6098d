//! Hostile-input catalogue for finding-classifier: malformed GuardDuty and Security Hub events,
//! one table row each (name, input, expected typed outcome), run through the real handler with
//! in-memory sinks and an in-memory dedup store. A Security Hub event is a list of findings: a
//! finding that cannot be read is counted `invalid` and the others still ticket.
//!
//! Categories:
//! - the envelope: a bare string, an array, JSON null; `detail` null or an array; `findings`
//!   null, a string, empty;
//! - findings that cannot be read among good ones: null, a number, a string; an id that is a
//!   number; `updatedAt` a word, 100 000 digits, an OCSF time past chrono's range;
//! - severities of the wrong type or out of range (the configured default applies);
//! - enormous strings: a 1 MB description with control characters, a 1 MB finding id (no
//!   console link), a 1 MB finding type; 101 findings in one event;
//! - control characters, ANSI, bidi and zero-width marks in every string;
//! - bodies the runtime refuses before the handler: 100 000 nested `[`, invalid UTF-8.
//!
//! The harness is `triage_testkit::hostile`: every case runs under `catch_unwind` (a panic fails
//! the case, it is never an outcome), and everything the sinks received is checked after it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use finding_classifier::handler::{Handler, Summary};
use finding_classifier::{Settings, assemble};
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
    Raw(Vec<u8>),
    Event(Value),
}

enum Expect {
    /// The runtime's deserializer refuses the body before the handler.
    RuntimeRejects(&'static str),
    /// `InvalidEvent`, the message containing this.
    Invalid(&'static str),
    /// `Ok`: this many unreadable findings counted, this many tickets sent.
    Counted { invalid: usize, tickets: usize },
}

use Expect::{Counted, Invalid, RuntimeRejects};

type Case = hostile::Case<Input, Expect>;

/// The GuardDuty exfiltration finding changed by `edit` (its `detail` is the finding).
fn guardduty(edit: impl FnOnce(&mut Value)) -> Input {
    let mut e = sample("guardduty-credential-exfiltration.json");
    edit(&mut e["detail"]);
    Input::Event(e)
}

/// The Inspector finding through Security Hub, its one ASFF finding changed by `edit`.
fn asff(edit: impl FnOnce(&mut Value)) -> Input {
    let mut e = sample("securityhub-inspector-cve.json");
    edit(&mut e["detail"]["findings"][0]);
    Input::Event(e)
}

/// The GuardDuty finding in OCSF, changed by `edit`.
fn ocsf(edit: impl FnOnce(&mut Value)) -> Input {
    let mut e = sample("securityhub-v2-guardduty-credential-exfiltration.json");
    edit(&mut e["detail"]["findings"][0]);
    Input::Event(e)
}

/// A Security Hub event whose findings are `findings`.
fn findings(findings: Vec<Value>) -> Input {
    let mut e = sample("securityhub-inspector-cve.json");
    e["detail"]["findings"] = Value::Array(findings);
    Input::Event(e)
}

/// The Inspector ASFF finding with id number `n`.
fn inspector(n: usize) -> Value {
    let mut f = sample("securityhub-inspector-cve.json")["detail"]["findings"][0].clone();
    f["Id"] = json!(format!(
        "arn:aws:inspector2:us-east-1:111122223333:finding/{n:032x}"
    ));
    f
}

const HARNESS: Harness<Handler<Memory>, Input, Expect> = Harness {
    assemble: |memory| {
        let env = function_env("finding-classifier", &memory_stand_ins());
        assemble(Settings::from(&env).expect("settings"), memory)
    },
    invocation: |input, _| match input {
        Input::Raw(body) => Invocation::Body(body.clone()),
        Input::Event(v) => Invocation::Event(v.clone()),
    },
    verdict,
    string_chars: field_bound,
};

/// The bound of a field that carries event text, by its key.
fn field_bound(key: &str) -> usize {
    match key {
        "account" | "region" | "actor_type" | "source_ip" => 64,
        "title" | "rule_id" | "finding_type" | "product" | "kind" | "type" => 256,
        "id" | "event_id" | "actor_arn" | "principal" => 512,
        "remediation" => 1024,
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
        (RuntimeRejects(want), Err(reason)) => hostile::refused(&reason, want),
        (Invalid(want), Ok(Err(d))) => {
            hostile::typed_error(&d, "InvalidEvent", want, MAX_ERROR_BYTES, memory)
        }
        (
            Counted {
                invalid,
                tickets: n,
            },
            Ok(Ok(s)),
        ) => {
            if s.invalid != *invalid || s.tickets != *n || tickets.len() != *n {
                return Err(format!("{s:?}, {} tickets", tickets.len()));
            }
            Ok(())
        }
        (_, outcome) => Err(hostile::unexpected(outcome)),
    }
}

fn malformed_events() -> Vec<Case> {
    use Input::{Event, Raw};
    vec![
        case(
            "the event is a bare string",
            Event(json!("GuardDuty Finding")),
            Invalid("event is not a JSON object"),
        ),
        case(
            "the event is an array",
            Event(json!([sample("guardduty-credential-exfiltration.json")])),
            Invalid("event is not a JSON object"),
        ),
        case(
            "the event is JSON null",
            Event(Value::Null),
            Invalid("event is not a JSON object"),
        ),
        case(
            "GuardDuty's detail is null",
            guardduty(|d| *d = Value::Null),
            Invalid("GuardDuty Finding event is missing detail"),
        ),
        case(
            "GuardDuty's detail is an array",
            guardduty(|d| *d = json!([d.clone()])),
            Invalid("GuardDuty Finding event is missing detail"),
        ),
        case(
            "Security Hub's findings are null",
            {
                let mut e = sample("securityhub-inspector-cve.json");
                e["detail"]["findings"] = Value::Null;
                Event(e)
            },
            Invalid("detail.findings is not a list"),
        ),
        case(
            "Security Hub's findings are a string",
            {
                let mut e = sample("securityhub-v2-vulnerability.json");
                e["detail"]["findings"] = json!("[]");
                Event(e)
            },
            Invalid("Findings Imported V2 event's detail.findings is not a list"),
        ),
        case(
            "an empty findings list",
            findings(vec![]),
            Counted {
                invalid: 0,
                tickets: 0,
            },
        ),
        case(
            "null, a number and a string among two good findings",
            findings(vec![
                inspector(1),
                Value::Null,
                json!(7),
                json!("finding"),
                inspector(2),
            ]),
            Counted {
                invalid: 3,
                tickets: 2,
            },
        ),
        case(
            "GuardDuty's id is a number",
            guardduty(|d| d["id"] = json!(42)),
            Counted {
                invalid: 1,
                tickets: 0,
            },
        ),
        case(
            "updatedAt is a word",
            guardduty(|d| d["updatedAt"] = json!("yesterday")),
            Counted {
                invalid: 1,
                tickets: 0,
            },
        ),
        case(
            "UpdatedAt is 100 000 digits",
            asff(|f| f["UpdatedAt"] = json!("9".repeat(100_000))),
            Counted {
                invalid: 1,
                tickets: 0,
            },
        ),
        case(
            "OCSF's modified time is past chrono's range",
            ocsf(|f| {
                f["finding_info"]["modified_time_dt"] = Value::Null;
                f["finding_info"]["modified_time"] = json!(i64::MAX);
            }),
            Counted {
                invalid: 1,
                tickets: 0,
            },
        ),
        case(
            "an invocation body of 100 000 nested [",
            Raw(vec![b'['; 100_000]),
            RuntimeRejects("recursion limit exceeded"),
        ),
        case(
            "an invocation body with invalid UTF-8",
            Raw(b"{\"detail-type\":\"GuardDuty Finding\",\"x\":\"\xc3\x28\"}".to_vec()),
            RuntimeRejects("invalid unicode code point"),
        ),
    ]
}

fn hostile_findings() -> Vec<Case> {
    let one_mb = "A".repeat(1_000_000);
    let ticket = |n| Counted {
        invalid: 0,
        tickets: n,
    };
    vec![
        case(
            "GuardDuty's severity is a string",
            guardduty(|d| d["severity"] = json!("8")),
            ticket(1),
        ),
        case(
            "GuardDuty's severity is 1e308",
            guardduty(|d| d["severity"] = json!(1e308)),
            ticket(1),
        ),
        case(
            "OCSF's severity_id is negative and its caption unknown",
            ocsf(|f| {
                f["severity_id"] = json!(-4);
                f["severity"] = json!(NASTY);
            }),
            ticket(1),
        ),
        case(
            "ASFF Types is a string and Severity an array",
            asff(|f| {
                f["Types"] = json!("Software and Configuration Checks");
                f["Severity"] = json!(["HIGH"]);
            }),
            ticket(1),
        ),
        case(
            "a 1 MB description with control characters",
            guardduty(|d| d["description"] = json!(format!("{NASTY}{one_mb}{NASTY}"))),
            ticket(1),
        ),
        case(
            "a 1 MB finding id (no console link)",
            asff(|f| f["Id"] = json!(one_mb)),
            ticket(1),
        ),
        case(
            "a 1 MB finding type",
            ocsf(|f| {
                f["metadata"]["product"]["name"] = json!("Inspector");
                f["finding_info"]["types"] = json!([one_mb]);
            }),
            ticket(1),
        ),
        case(
            "control characters, ANSI, bidi and zero-width marks in every string",
            asff(|f| {
                for key in [
                    "Title",
                    "Description",
                    "ProductName",
                    "GeneratorId",
                    "AwsAccountId",
                    "Region",
                ] {
                    f[key] = json!(format!("{key}{NASTY}"));
                }
                f["Types"] = json!([NASTY]);
                f["Resources"] = json!([{"Type": NASTY, "Id": NASTY}]);
                f["Remediation"] = json!({"Recommendation": {"Text": NASTY, "Url": NASTY}});
                f["Severity"] = json!({"Label": NASTY, "Normalized": 95});
            }),
            ticket(1),
        ),
        case(
            "the same in GuardDuty's own shape",
            guardduty(|d| {
                for key in ["title", "description", "type", "accountId", "region", "arn"] {
                    d[key] = json!(format!("{key}{NASTY}"));
                }
                d["resource"]["accessKeyDetails"]["userName"] = json!(NASTY);
                d["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["ipAddressV4"] =
                    json!(NASTY);
            }),
            ticket(1),
        ),
        case(
            "101 findings in one event",
            findings((0..101).map(inspector).collect()),
            Counted {
                invalid: 1,
                tickets: 100,
            },
        ),
    ]
}

#[test]
fn malformed_finding_events_are_typed_errors_or_counted_never_a_panic() {
    HARNESS.run(malformed_events());
}

#[test]
fn hostile_findings_reach_the_ticket_clean_and_bounded_and_the_good_ones_still_count() {
    HARNESS.run(hostile_findings());
}
