//! Hostile-input catalogue for digest: digest-queue messages that are not digest entries, or
//! are entries carrying hostile text and numbers, one table row each (name, messages, expected
//! typed outcome). Each case drains a queue holding the hostile messages between good ones (two
//! single entries and a packed batch of two) through the real handler with the in-memory queue
//! and topic: the good entries must still be summarised, published and deleted; a message that
//! is not a digest entry is counted `unreadable` and left on the queue (for its DLQ), never
//! deleted; a readable hostile entry is summarised, and the published digest holds no control
//! characters and stays bounded.
//!
//! Categories:
//! - not JSON or not an entry: an empty body, JSON null, 100 000 nested `[`, a packed batch of
//!   100 000 nested `[`, a ticket event, an SNS notification wrapping an entry, a 256 KiB body
//!   of garbage, a lone surrogate (invalid Unicode), NaN;
//! - wrong JSON types and values for every field the parser reads: `schema_version` 2 or a
//!   string, `entry_id` with ANSI or too short, a fingerprint in upper case, `count` negative,
//!   beyond f64 or a string, an unknown severity or kind, `last_seen` as a number or a word, null
//!   in every field, duplicate keys, a packed batch with one bad entry, a packed batch whose
//!   `entries` is an object;
//! - counts of `u64::MAX` (more than `MAX_ENTRY_COUNT`: unreadable);
//! - hostile entries that are read: counts of `MAX_ENTRY_COUNT`, a year-9999 timestamp, 1 MB
//!   titles, rule ids, accounts, resources and principals with control characters, ANSI, bidi
//!   and zero-width marks, a 1 MB console link, 10 000 distinct entries;
//! - hostile scheduled events (the handler ignores all but `execution_id`): JSON null, a 1 MB
//!   `execution_id` with control characters.
//!
//! The harness is `triage_testkit::hostile`: every case runs under `catch_unwind` (a panic fails
//! the case, it is never an outcome), and everything published is checked after it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use digest::handler::{Handler, Summary};
use digest::{Settings, assemble};
use serde_json::{Value, json};
use stack_tests::{function_env, memory_stand_ins};
use triage_core::digest::MAX_ENTRY_COUNT;
use triage_core::fakes::{Memory, at, finding_about};
use triage_core::{DigestEntry, DigestKind, TicketAction, TicketEvent};
use triage_testkit::hostile::{self, Harness, Invocation, NASTY, Outcome};

/// Good entries on the queue of every case, in this many messages.
const GOOD_ENTRIES: u64 = 4;
const GOOD_MESSAGES: usize = 3;
/// No string of the published JSON is longer (`SafeText`'s bound for text read back).
const MAX_STRING_CHARS: usize = 8192;

// ------------------------------------------------------------------------------------------
// The table
// ------------------------------------------------------------------------------------------

/// One run of the digest.
struct Drain {
    /// The scheduled event; `None` for the sample.
    event: Option<Value>,
    /// Bodies placed between the good messages.
    messages: Vec<String>,
}

enum Expect {
    /// This many messages counted unreadable and left on the queue.
    Unreadable(usize),
    /// This many more entries summarised (their messages deleted).
    Entries(u64),
}

type Case = hostile::Case<Drain, Expect>;

fn case(name: &'static str, messages: Vec<String>, expect: Expect) -> Case {
    Case {
        name,
        input: Drain {
            event: None,
            messages,
        },
        expect,
    }
}

// ------------------------------------------------------------------------------------------
// Building inputs
// ------------------------------------------------------------------------------------------

/// A new entry about security group `sg-{minute}`, seen at minute `minute`.
fn entry(minute: i64) -> DigestEntry {
    let mut finding = finding_about("restricted-ssh", &format!("sg-{minute}"));
    finding.first_seen = at(minute);
    finding.last_seen = at(minute);
    DigestEntry::new(DigestKind::New, &finding)
}

fn body(e: &DigestEntry) -> String {
    e.body().expect("body")
}

/// A readable entry, as JSON, with a fresh `entry_id`, changed by `edit`.
fn entry_json(n: u64, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&body(&entry(100))).expect("json");
    v["entry_id"] = json!(format!("{n:032x}"));
    edit(&mut v);
    v.to_string()
}

fn packed(entries: &[String]) -> String {
    format!(
        "{{\"schema_version\":1,\"entries\":[{}]}}",
        entries.join(",")
    )
}

// ------------------------------------------------------------------------------------------
// Running a case
// ------------------------------------------------------------------------------------------

/// The function as it ships, on the in-memory backend, with the template's settings.
const HARNESS: Harness<Handler<Memory>, Drain, Expect> = Harness {
    assemble: |memory| {
        let env = function_env("digest", &memory_stand_ins());
        assemble(Settings::from(&env).expect("settings"), memory)
    },
    invocation,
    verdict,
    string_chars: |_| MAX_STRING_CHARS,
};

fn run(cases: Vec<Case>) {
    HARNESS.run(cases);
}

/// Puts the good messages and the case's on the queue; the scheduled event.
fn invocation(drain: &Drain, memory: &Memory) -> Invocation {
    let q = &memory.digest_queue;
    q.push(body(&entry(1)));
    for m in &drain.messages {
        q.push(m.clone());
    }
    q.push(body(&entry(2)));
    q.push(packed(&[body(&entry(3)), body(&entry(4))]));
    Invocation::Event(
        drain
            .event
            .clone()
            .unwrap_or_else(|| triage_testkit::event("scheduled-digest.json")),
    )
}

fn verdict(
    _: &Drain,
    expect: &Expect,
    outcome: Outcome<Summary>,
    memory: &Memory,
) -> Result<(), String> {
    let s = match outcome {
        Ok(Ok(s)) => s,
        other => return Err(hostile::unexpected(other)),
    };
    let (unreadable, extra) = match expect {
        Expect::Unreadable(n) => (*n, 0),
        Expect::Entries(n) => (0, *n),
    };
    let left = memory.digest_queue.len();
    if s.unreadable != unreadable as u64
        || s.entries != GOOD_ENTRIES + extra
        || s.published == 0
        || s.deleted + unreadable != s.received
        || left != unreadable
    {
        return Err(format!("{s:?}, {left} left on the queue"));
    }
    if s.received < GOOD_MESSAGES {
        return Err(format!("good messages not received: {s:?}"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The catalogue
// ------------------------------------------------------------------------------------------

fn unreadable_messages() -> Vec<Case> {
    use Expect::Unreadable;
    let one = |s: String| vec![s];
    let ticket = TicketEvent::new(
        TicketAction::Open,
        finding_about("restricted-ssh", "sg-9"),
        1,
    )
    .body()
    .expect("ticket");
    let sns = json!({"Type": "Notification", "Message": body(&entry(9))}).to_string();
    let nulls: serde_json::Map<String, Value> = serde_json::from_str::<Value>(&body(&entry(9)))
        .expect("json")
        .as_object()
        .expect("object")
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    let set = |key: &'static str, value: Value| entry_json(7, |v| v[key] = value);
    vec![
        case("an empty body", one(String::new()), Unreadable(1)),
        case("JSON null", one("null".into()), Unreadable(1)),
        case("NaN", one("NaN".into()), Unreadable(1)),
        case("100 000 nested [", one("[".repeat(100_000)), Unreadable(1)),
        case(
            "a packed batch of 100 000 nested [",
            one(format!(
                "{{\"schema_version\":1,\"entries\":{}{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )),
            Unreadable(1),
        ),
        case("a ticket event", one(ticket), Unreadable(1)),
        case(
            "an SNS notification wrapping an entry",
            one(sns),
            Unreadable(1),
        ),
        case(
            "256 KiB of garbage",
            one(NASTY.repeat(256 * 1024 / NASTY.len())),
            Unreadable(1),
        ),
        case(
            "a lone surrogate in the title (invalid Unicode)",
            one(entry_json(7, |v| v["title"] = json!("@@T@@")).replace("@@T@@", "\\ud800")),
            Unreadable(1),
        ),
        case(
            "schema_version 3 (a version this digest does not know)",
            one(set("schema_version", json!(3))),
            Unreadable(1),
        ),
        case(
            "schema_version is a string",
            one(set("schema_version", json!("1"))),
            Unreadable(1),
        ),
        case(
            "entry_id with ANSI",
            one(set(
                "entry_id",
                json!("\u{1b}[31m0123456789abcdef0123456789abc"),
            )),
            Unreadable(1),
        ),
        case(
            "entry_id too short",
            one(set("entry_id", json!("abc"))),
            Unreadable(1),
        ),
        case(
            "fingerprint in upper case",
            one(set(
                "fingerprint",
                json!("0123456789ABCDEF0123456789ABCDEF"),
            )),
            Unreadable(1),
        ),
        case(
            "a negative count",
            one(set("count", json!(-1))),
            Unreadable(1),
        ),
        case(
            "a count beyond f64",
            one(entry_json(7, |v| v["count"] = json!(0)).replace("\"count\":0", "\"count\":1e400")),
            Unreadable(1),
        ),
        case(
            "count is a string",
            one(set("count", json!("1"))),
            Unreadable(1),
        ),
        case(
            "an unknown severity",
            one(set("severity", json!("apocalyptic"))),
            Unreadable(1),
        ),
        case(
            "an unknown kind",
            one(set("kind", json!("deleted"))),
            Unreadable(1),
        ),
        case(
            "last_seen is a number",
            one(set("last_seen", json!(1_795_000_000))),
            Unreadable(1),
        ),
        case(
            "last_seen is a word",
            one(set("last_seen", json!("yesterday"))),
            Unreadable(1),
        ),
        case(
            "null in every field",
            one(Value::Object(nulls).to_string()),
            Unreadable(1),
        ),
        case(
            "count given twice",
            one(entry_json(7, |v| v["count"] = json!(5)).replacen(
                "\"count\":5",
                "\"count\":5,\"count\":6",
                1,
            )),
            Unreadable(1),
        ),
        case(
            "a packed batch with one bad entry among good ones",
            one(packed(&[
                entry_json(7, |_| {}),
                set("severity", json!(null)),
                entry_json(8, |_| {}),
            ])),
            Unreadable(1),
        ),
        case(
            "a packed batch whose entries is an object",
            one(format!(
                "{{\"schema_version\":1,\"entries\":{{\"0\":{}}}}}",
                entry_json(7, |_| {})
            )),
            Unreadable(1),
        ),
    ]
}

fn max_counts(count: u64) -> Vec<String> {
    (0..30)
        .map(|i| {
            entry_json(1000 + i, |v| {
                v["count"] = json!(count);
                v["resource"] = json!(format!("sg-max-{i}"));
                v["principal"] = json!(format!("p-{i}"));
                v["fingerprint"] = json!(format!("{:032x}", 5000 + i));
                v["kind"] = json!(if i % 3 == 0 { "suppressed" } else { "repeat" });
                v["rule_id"] = json!(format!("rule-{}", i % 2));
            })
        })
        .collect()
}

fn hostile_entries() -> Vec<Case> {
    use Expect::Entries;
    let one_mb = "A".repeat(1_000_000);
    let hostile = format!("{NASTY}{one_mb}{NASTY}");
    vec![
        case(
            "30 entries counting MAX_ENTRY_COUNT each",
            max_counts(MAX_ENTRY_COUNT),
            Entries(30),
        ),
        case(
            "a year-9999 timestamp",
            vec![entry_json(7, |v| {
                v["last_seen"] = json!("9999-12-31T23:59:59Z");
                v["first_seen"] = json!("0001-01-01T00:00:00Z");
            })],
            Entries(1),
        ),
        case(
            "1 MB strings with control characters, ANSI, bidi and zero-width marks",
            vec![entry_json(7, |v| {
                for key in [
                    "title",
                    "rule_id",
                    "account",
                    "region",
                    "resource",
                    "principal",
                ] {
                    v[key] = json!(hostile);
                }
            })],
            Entries(1),
        ),
        case(
            "a resolved entry with 1 MB strings",
            vec![entry_json(7, |v| {
                v["kind"] = json!("resolved");
                for key in ["title", "rule_id", "account", "region", "resource"] {
                    v[key] = json!(hostile);
                }
            })],
            Entries(1),
        ),
        case(
            "a 1 MB console link",
            vec![entry_json(7, |v| {
                v["console_url"] = json!(format!("https://{NASTY}{one_mb}"))
            })],
            Entries(1),
        ),
        case(
            "10 000 distinct entries in packed batches",
            (0..100)
                .map(|b| {
                    let entries: Vec<String> = (0..100)
                        .map(|i| {
                            let n = 10_000 + b * 100 + i;
                            entry_json(n, |v| {
                                v["fingerprint"] = json!(format!("{n:032x}"));
                                v["rule_id"] = json!(format!("rule-{n}{NASTY}"));
                                v["resource"] = json!(format!("r-{n}"));
                            })
                        })
                        .collect();
                    packed(&entries)
                })
                .collect(),
            Entries(10_000),
        ),
        Case {
            name: "a scheduled event that is JSON null",
            input: Drain {
                event: Some(Value::Null),
                messages: vec![],
            },
            expect: Entries(0),
        },
        Case {
            name: "a 1 MB execution_id with control characters",
            input: Drain {
                event: Some(json!({"execution_id": hostile})),
                messages: vec![],
            },
            expect: Entries(0),
        },
    ]
}

#[test]
fn messages_that_are_not_digest_entries_are_left_for_the_dlq_and_the_good_ones_published() {
    run(unreadable_messages());
}

#[test]
fn hostile_entries_are_summarised_clean_and_bounded_next_to_the_good_ones() {
    run(hostile_entries());
}
