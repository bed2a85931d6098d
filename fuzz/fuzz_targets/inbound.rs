//! `triage_core::inbound::unwrap_envelopes`: any bytes as a payload (never a panic), and
//! generated batches of SQS / SNS records whose events are wrapped in chains of envelopes, among
//! bad records: every record gives exactly one result, in order — the event itself when it is
//! nested no deeper than the limit, `TooDeep` beyond it, an error for a bad record.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use triage_core::inbound::{InboundError, unwrap_envelopes};
use triage_fuzz::{string, value};

/// Envelopes nested deeper than this are refused (`inbound::MAX_DEPTH`).
const MAX_DEPTH: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Wrap {
    SqsBatch,
    SnsBatch,
    Notification,
    NotificationObject,
}

fn wrap(w: Wrap, inner: Value) -> Value {
    match w {
        Wrap::SqsBatch => {
            json!({"Records": [{"eventSource": "aws:sqs", "body": inner.to_string()}]})
        }
        Wrap::SnsBatch => json!({"Records": [{"EventSource": "aws:sns",
            "Sns": {"Type": "Notification", "Message": inner.to_string()}}]}),
        Wrap::Notification => json!({"Type": "Notification", "Message": inner.to_string()}),
        Wrap::NotificationObject => json!({"Type": "Notification", "Message": inner}),
    }
}

enum Expected {
    Event(Value),
    TooDeep,
    Error,
}

fn generated(u: &mut Unstructured<'_>) -> Result<(Value, Vec<Expected>)> {
    let sqs = u.arbitrary::<bool>()?;
    let n = u.int_in_range(1..=5)?;
    let mut records = Vec::new();
    let mut expected = Vec::new();
    for i in 0..n {
        match u.int_in_range(0..=5)? {
            0 => {
                // A bad record: no body, a body that is not JSON, or not an object.
                let record = match u.int_in_range(0..=2)? {
                    0 => json!({"eventSource": "aws:sqs"}),
                    1 => json!({"eventSource": "aws:sqs", "body": "{not json"}),
                    _ => json!([value(u, 2)?]),
                };
                records.push(record);
                expected.push(Expected::Error);
            }
            _ => {
                // Strings only: floats need not survive a JSON round trip bit for bit.
                let leaf = json!({"leaf": i, "x": string(u)?});
                let chain_len = u.int_in_range(0..=5)?;
                let mut inner = leaf.clone();
                for _ in 0..chain_len {
                    let w = *u.choose(&[
                        Wrap::SqsBatch,
                        Wrap::SnsBatch,
                        Wrap::Notification,
                        Wrap::NotificationObject,
                    ])?;
                    inner = wrap(w, inner);
                }
                let record = if sqs {
                    json!({"eventSource": "aws:sqs", "body": inner.to_string()})
                } else {
                    json!({"EventSource": "aws:sns", "Sns": {"Message": inner.to_string()}})
                };
                records.push(record);
                // The record's event sits at depth 1; each envelope adds one, and the leaf
                // must be at depth MAX_DEPTH at most.
                let depth = 1 + chain_len;
                expected.push(if depth <= MAX_DEPTH {
                    Expected::Event(leaf)
                } else {
                    Expected::TooDeep
                });
            }
        }
    }
    // At least one record names its source, so the batch is recognised as one.
    if !records
        .iter()
        .any(|r| r.get("eventSource").is_some() || r.get("EventSource").is_some())
    {
        return Ok((json!({}), Vec::new()));
    }
    Ok((json!({ "Records": records }), expected))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        for inner in unwrap_envelopes(v) {
            let _ = inner.event.map_err(|e| e.to_string());
        }
    }
    let mut u = Unstructured::new(data);
    let Ok((batch, expected)) = generated(&mut u) else {
        return;
    };
    if expected.is_empty() {
        return;
    }
    let got = unwrap_envelopes(batch);
    assert_eq!(got.len(), expected.len(), "one result per record");
    for (i, (inner, want)) in got.iter().zip(&expected).enumerate() {
        assert!(
            inner.origin.starts_with(&format!("Records[{i}]")),
            "{}",
            inner.origin
        );
        match (want, &inner.event) {
            (Expected::Event(leaf), Ok(v)) => assert_eq!(v, leaf),
            (Expected::TooDeep, Err(InboundError::TooDeep { .. })) => {}
            (Expected::Error, Err(_)) => {}
            (Expected::Event(leaf), got) => panic!("record {i}: want {leaf}, got {got:?}"),
            (Expected::TooDeep, got) => panic!("record {i}: want TooDeep, got {got:?}"),
            (Expected::Error, got) => panic!("record {i}: want an error, got {got:?}"),
        }
    }
});
