//! The digest's decoder: any text as a digest-queue message, and digest entries (single or
//! packed) with structure-aware mutations, through `digest::parse_message`, the
//! `DigestBuilder` and `Digest::render` (default options and tiny parts). Never a panic; what
//! parses is well-formed; totals never overflow; every rendered part is ASCII in its subject,
//! free of control characters and valid JSON.
#![no_main]

use std::collections::HashSet;
use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use triage_core::digest::{
    DigestBuilder, MAX_ENTRY_COUNT, MAX_SNS_MESSAGE_BYTES, RenderOptions, parse_message,
};
use triage_fuzz::{assert_clean, is_hostile, mutate};

static TEMPLATES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let entry = json!({
        "schema_version": 1, "entry_id": "6c3273d5eed4a2a2b947640438f14015", "kind": "new",
        "fingerprint": "cf73963c1588b1873be9126efa165158", "severity": "high", "source": "config",
        "rule_id": "restricted-ssh",
        "title": "Security group allows SSH (TCP 22) from the internet: sg-020e5918d504d1a76",
        "account": "111122223333", "region": "us-east-1",
        "resource": "arn:aws:ec2:us-east-1:111122223333:security-group/sg-020e5918d504d1a76",
        "principal": "arn:aws:iam::111122223333:root", "count": 1,
        "first_seen": "2024-03-03T15:54:28.354Z", "last_seen": "2024-03-03T15:54:28.354Z",
        "console_url": "https://us-east-1.console.aws.amazon.com/config/home?region=us-east-1"
    });
    let mut resolved = entry.clone();
    resolved["kind"] = json!("resolved");
    let mut suppressed = entry.clone();
    suppressed["kind"] = json!("suppressed");
    suppressed["suppression"] = json!("known-scanner");
    let packed = json!({"schema_version": 1, "entries": [entry, resolved, suppressed]});
    vec![entry, resolved, suppressed, packed]
});

fn is_hex_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn run(messages: &[String]) {
    let mut builder = DigestBuilder::new();
    let mut ids = HashSet::new();
    let mut unreadable = 0u64;
    for body in messages {
        // An error's message is not checked: serde_json quotes an unknown variant as it is, and
        // the digest handler sanitises these messages before it logs them.
        if let Ok(entries) = parse_message(body) {
            for e in &entries {
                assert!(is_hex_id(&e.entry_id) && is_hex_id(e.fingerprint.as_str()));
                assert!(e.count <= MAX_ENTRY_COUNT);
                ids.insert(e.entry_id.clone());
            }
        }
        if builder.add_message(body).is_err() {
            unreadable += 1;
        }
    }
    assert_eq!(builder.entries(), ids.len() as u64);
    let generated_at = serde_json::from_value(json!("2026-11-24T03:00:00Z")).expect("time");
    let digest = builder.finish(generated_at);
    assert_eq!(digest.unreadable, unreadable);
    for options in [
        RenderOptions::default(),
        RenderOptions {
            top_n: 1,
            max_message_bytes: 2048,
        },
    ] {
        let parts = digest.render(&options).expect("render");
        assert!(!parts.is_empty());
        for part in &parts {
            assert!(
                part.subject.len() <= 99 && part.subject.is_ascii(),
                "{part:?}"
            );
            assert!(!part.subject.chars().any(char::is_control));
            assert!(
                !part.text.chars().any(|c| c != '\n' && is_hostile(c)),
                "{:?}",
                part.text
            );
            let json: Value = serde_json::from_str(&part.json).expect("json");
            assert_clean("digest json", &json, 8192);
            let sns = part.sns_message().expect("sns");
            if parts.len() == 1 && options.max_message_bytes > 2048 {
                assert!(sns.len() <= MAX_SNS_MESSAGE_BYTES);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        run(&[text.to_owned()]);
    }
    let mut u = Unstructured::new(data);
    let mut messages = Vec::new();
    for _ in 0..u.int_in_range(1..=4).unwrap_or(1) {
        let Ok(template) = u.choose(&TEMPLATES) else {
            break;
        };
        let Ok(v) = mutate(template, &mut u) else {
            break;
        };
        messages.push(v.to_string());
    }
    run(&messages);
});
