//! log-detector's decoder: any bytes as the inflated subscription payload (gzipped and base64-
//! encoded as CloudWatch Logs sends them), the decoded samples with structure-aware mutations
//! (log event messages included), and any text as `awslogs.data` — through
//! `decode_lambda_event` and the shipped detection pack. Never a panic; the counts add up; every
//! finding is free of control characters and bounded.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Crc;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use triage_core::cloudtrail::{
    CloudTrailDetector, Decoded, Limits, MessageType, Subscription, decode_lambda_event,
};
use triage_core::{Alert, TicketAction, TicketEvent};
use triage_fuzz::{assert_clean, assert_clean_message, mutate};

static DETECTOR: LazyLock<CloudTrailDetector> = LazyLock::new(|| {
    let pack = CloudTrailDetector::shipped()
        .expect("shipped pack")
        .pack()
        .clone();
    // Small bounds, so that the fuzzer reaches them.
    let limits = Limits {
        max_decoded_bytes: 256 * 1024,
        max_log_events: 500,
        max_message_bytes: 64 * 1024,
    };
    CloudTrailDetector::new(pack, limits)
});

static TEMPLATES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../events/cwlogs-mixed-batch.decoded.json"),
        include_str!("../../events/cwlogs-root-account-usage.decoded.json"),
        include_str!("../../events/cwlogs-console-signin-without-mfa.decoded.json"),
        include_str!("../../events/cwlogs-unauthorized-api-calls.decoded.json"),
        include_str!("../../events/cwlogs-non-json-line.decoded.json"),
        include_str!("../../events/cwlogs-control-message.decoded.json"),
    ]
    .iter()
    .map(|t| serde_json::from_str(t).expect("template"))
    .collect()
});

fn check(sub: &Subscription, d: &Decoded) {
    assert_eq!(d.message_type, Some(sub.message_type));
    assert_eq!(
        d.records,
        sub.log_events.len(),
        "every log event is counted"
    );
    if sub.message_type == MessageType::Control {
        assert!(d.findings.is_empty(), "a control message gives nothing");
        return;
    }
    assert_eq!(
        d.skipped() + d.cloudtrail_records,
        d.records,
        "every log event is evaluated or skipped: {d:?}"
    );
    assert!(d.matched_records <= d.cloudtrail_records);
    let rules = DETECTOR.pack().rules().len() as u64;
    assert!(d.occurrences() <= d.matched_records as u64 * rules);
    assert!(d.findings.len() as u64 <= d.occurrences());
    for f in &d.findings {
        assert!(f.count >= 1 && f.first_seen <= f.last_seen, "{f:?}");
        let v = serde_json::to_value(f).expect("finding json");
        assert_clean("finding", &v, 4096);
        let alert = Alert::for_finding(f).expect("alert");
        assert!(alert.subject.len() <= 99 && alert.subject.is_ascii());
        assert!(!alert.subject.chars().any(char::is_control));
        assert!(
            TicketEvent::new(TicketAction::Open, f.clone(), 1)
                .body()
                .is_ok()
        );
    }
}

/// gzip of stored (uncompressed) deflate blocks, then base64, as in `awslogs.data`.
/// Compression levels are the `gzip` target's business; deflating every input would dominate
/// this target's time.
fn encode(json: &[u8]) -> String {
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut blocks = json.chunks(0xffff).peekable();
    if blocks.peek().is_none() {
        gz.extend([1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let len = u16::try_from(block.len()).expect("block");
        gz.push(u8::from(blocks.peek().is_none()));
        gz.extend(len.to_le_bytes());
        gz.extend((!len).to_le_bytes());
        gz.extend(block);
    }
    let mut crc = Crc::new();
    crc.update(json);
    gz.extend(crc.sum().to_le_bytes());
    gz.extend(crc.amount().to_le_bytes());
    STANDARD.encode(gz)
}

fn run(event: &Value) {
    match decode_lambda_event(event, DETECTOR.limits()) {
        Ok(sub) => check(&sub, &DETECTOR.detect_subscription(&sub)),
        Err(e) => assert_clean_message("decode", &e.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    // The bytes as the inflated payload.
    run(&json!({"awslogs": {"data": encode(data)}}));
    // A decoded sample, mutated (messages are JSON text: mutated too).
    let mut u = Unstructured::new(data);
    if let Ok(template) = u.choose(&TEMPLATES)
        && let Ok(payload) = mutate(template, &mut u)
    {
        run(&json!({"awslogs": {"data": encode(payload.to_string().as_bytes())}}));
    }
    // The bytes as the base64 text.
    if let Ok(text) = std::str::from_utf8(data) {
        run(&json!({"awslogs": {"data": text}}));
    }
});
