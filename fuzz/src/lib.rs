//! Helpers shared by the decoder fuzz targets: structure-aware mutation of sample events (so the
//! fuzzer gets past "is this an alarm event at all" quickly), and the invariants every target
//! checks on what the decoders produce.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use serde_json::{Map, Value};
pub use triage_core::text::is_hostile;

/// Strings the decoders compare against, and strings that make trouble.
const DICTIONARY: &[&str] = &[
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "NON_COMPLIANT",
    "COMPLIANT",
    "NOT_APPLICABLE",
    "DATA_MESSAGE",
    "CONTROL_MESSAGE",
    "Notification",
    "aws:sqs",
    "aws:sns",
    "aws.cloudwatch",
    "aws.config",
    "CloudWatch Alarm State Change",
    "CloudWatch Alarm Configuration Change",
    "Config Rules Compliance Change",
    "ComplianceChangeNotification",
    "2024-05-02T09:26:10.115+0000",
    "2024-05-02T09: 26: 10.115+0000",
    "2024-09-27T15:45:43.234Z",
    "9999-12-31T23:59:59Z",
    "+262143-12-31T23:59:59Z",
    "us-east-1",
    "US East (N. Virginia)",
    "cn-north-1",
    "us-gov-west-1",
    "arn:aws:cloudwatch:us-east-1:111122223333:alarm:x",
    "arn:aws:cloudwatch:us-east-1: 111122223333:alarm:x",
    "arn:",
    "arn:aws:s3:::bucket",
    "AWS::S3::Bucket",
    "AWS::EC2::SecurityGroup",
    "ANOMALY_DETECTION_BAND(m1, 2)",
    "SUM(METRICS())",
    "ALARM(a) OR ALARM(b)",
    "severity=critical",
    "triage:detection=root-account-usage",
    "restricted-ssh-conformance-pack-abc",
    "securityhub-s3-bucket-public-read-prohibited-1a2b3c",
    "0123456789abcdef0123456789abcdef",
    "new",
    "repeat",
    "resolved",
    "suppressed",
    "critical",
    "cloudtrail",
    "config",
    "alarm",
    "",
    " ",
    "\u{1b}[31m",
    "\u{202e}",
    "\u{200b}",
    "\r\n",
    "\u{0}",
    "\u{fffd}",
    "\\ud800",
    "{",
    "[",
    "null",
];

/// An arbitrary JSON value, biased towards what the decoders look for.
pub fn value(u: &mut Unstructured<'_>, depth: usize) -> Result<Value> {
    let max_kind = if depth >= 3 { 5 } else { 7 };
    Ok(match u.int_in_range(0..=max_kind)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => {
            let n: i64 = *u.choose(&[0, 1, -1, i64::MAX, i64::MIN, 300, 1_714_641_970_115])?;
            Value::from(n)
        }
        3 => {
            let f: f64 = *u.choose(&[0.5, -0.0, 1e308, -1e308, 1e-308, 4294967296.5])?;
            // Non-finite floats become null, as serde_json would write them.
            Value::from(f)
        }
        4 => Value::from(u.arbitrary::<u64>()?),
        5 => Value::String(string(u)?),
        6 => {
            let n = u.int_in_range(0..=3)?;
            Value::Array((0..n).map(|_| value(u, depth + 1)).collect::<Result<_>>()?)
        }
        _ => {
            let n = u.int_in_range(0..=3)?;
            let mut m = Map::new();
            for _ in 0..n {
                m.insert(string(u)?, value(u, depth + 1)?);
            }
            Value::Object(m)
        }
    })
}

/// A dictionary word, an arbitrary string, a mix of both or a long repetition.
pub fn string(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 => (*u.choose(DICTIONARY)?).to_owned(),
        2 => u.arbitrary::<String>()?,
        _ => {
            let word = *u.choose(DICTIONARY)?;
            let times = u.int_in_range(1..=2000)?;
            format!("{}{}", word.repeat(times), u.arbitrary::<String>()?)
        }
    })
}

/// Every JSON pointer of `v` (containers included).
pub fn pointers(v: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, item) in m {
                    let key = k.replace('~', "~0").replace('/', "~1");
                    walk(item, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out
}

/// `template` with a few of its fields replaced by arbitrary values, removed, or (for fields
/// that hold JSON text, like an SNS `Message`) mutated in turn.
pub fn mutate(template: &Value, u: &mut Unstructured<'_>) -> Result<Value> {
    let mut v = template.clone();
    let paths = pointers(template);
    let edits = u.int_in_range(0..=6)?;
    for _ in 0..edits {
        let path = u.choose(&paths)?;
        match u.int_in_range(0..=3)? {
            0 => {
                if let Some((parent, key)) = path.rsplit_once('/')
                    && let Some(Value::Object(m)) = v.pointer_mut(parent)
                {
                    m.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
            }
            1 => {
                // JSON text inside a string: mutate what it holds.
                if let Some(Value::String(s)) = v.pointer(path)
                    && let Ok(inner) = serde_json::from_str::<Value>(s)
                {
                    let inner = mutate(&inner, u)?;
                    if let Some(slot) = v.pointer_mut(path) {
                        *slot = Value::String(inner.to_string());
                    }
                }
            }
            _ => {
                let new = value(u, 0)?;
                if let Some(slot) = v.pointer_mut(path) {
                    *slot = new;
                }
            }
        }
    }
    Ok(v)
}

/// Panics when a string (or key) of `v` holds a control, bidi or zero-width character, or is
/// longer than `max_chars`.
pub fn assert_clean(what: &str, v: &Value, max_chars: usize) {
    match v {
        Value::String(s) => {
            assert!(
                !s.chars().any(is_hostile),
                "{what}: control characters in {s:?}"
            );
            assert!(
                s.chars().count() <= max_chars,
                "{what}: {} chars",
                s.chars().count()
            );
        }
        Value::Array(items) => items.iter().for_each(|i| assert_clean(what, i, max_chars)),
        Value::Object(m) => {
            for (k, item) in m {
                assert!(!k.chars().any(is_hostile), "{what}: key {k:?}");
                assert_clean(what, item, max_chars);
            }
        }
        _ => {}
    }
}

/// Panics when an error message could forge a log line or recolour a terminal.
pub fn assert_clean_message(what: &str, message: &str) {
    assert!(
        !message.chars().any(is_hostile),
        "{what}: control characters in the error {message:?}"
    );
}
