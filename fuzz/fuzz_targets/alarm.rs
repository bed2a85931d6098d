//! alarm-classifier's decoder: any bytes as the invocation payload, and the samples of all three
//! forms (EventBridge, alarm Lambda action, SNS notification — bare and in SNS / SQS batches)
//! with structure-aware mutations (SNS messages and SQS bodies included), through the handler's
//! path: `unwrap_envelopes`, then `AlarmClassifier::classify` with the default options and with
//! every option switched. Never a panic; findings and error messages free of control characters
//! and bounded.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use triage_core::alarm::{
    AlarmClassifier, AlarmOptions, AlarmOutcome, InsufficientData, LinkedDetections,
};
use triage_core::inbound::unwrap_envelopes;
use triage_core::{Alert, Severity, TicketAction, TicketEvent};
use triage_fuzz::{assert_clean, assert_clean_message, mutate};

static CLASSIFIERS: LazyLock<[AlarmClassifier; 2]> = LazyLock::new(|| {
    [
        AlarmClassifier::shipped(AlarmOptions::default()).expect("policy"),
        AlarmClassifier::shipped(AlarmOptions {
            insufficient_data: InsufficientData::Ticket,
            default_severity: Severity::Critical,
            linked_detections: LinkedDetections::Ticket,
        })
        .expect("policy"),
    ]
});

static TEMPLATES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../events/alarm-metric-alarm.json"),
        include_str!("../../events/alarm-metric-math-alarm.json"),
        include_str!("../../events/alarm-anomaly-detection-alarm.json"),
        include_str!("../../events/alarm-composite-suppressed-alarm.json"),
        include_str!("../../events/alarm-seed-root-usage-linked.json"),
        include_str!("../../events/alarm-severity-token-high.json"),
        include_str!("../../events/lambda-alarm-metric-alarm.json"),
        include_str!("../../events/lambda-alarm-composite-alarm.json"),
        include_str!("../../events/sns-alarm-cis-root-usage-alarm.json"),
        include_str!("../../events/sns-alarm-metric-math-crate-fixture.json"),
        include_str!("../../events/sqs-config-and-alarm-batch.json"),
    ]
    .iter()
    .map(|t| serde_json::from_str(t).expect("template"))
    .collect()
});

fn run(payload: Value) {
    for inner in unwrap_envelopes(payload) {
        let Ok(event) = inner.event else { continue };
        for classifier in CLASSIFIERS.iter() {
            match classifier.classify(&event) {
                Ok(AlarmOutcome::Finding(f)) => {
                    let v = serde_json::to_value(&f).expect("finding json");
                    assert_clean("finding", &v, 4096);
                    let alert = Alert::for_finding(&f).expect("alert");
                    assert!(alert.subject.len() <= 99 && alert.subject.is_ascii());
                    let body = TicketEvent::new(TicketAction::Open, *f, 1)
                        .body()
                        .expect("ticket");
                    assert!(body.len() <= 64 * 1024, "a ticket of {} bytes", body.len());
                }
                Ok(AlarmOutcome::Skipped(skip)) => {
                    assert_clean_message("skip", &skip.to_string());
                }
                Err(e) => assert_clean_message("alarm", &e.to_string()),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        run(v);
    }
    let mut u = Unstructured::new(data);
    if let Ok(template) = u.choose(&TEMPLATES)
        && let Ok(v) = mutate(template, &mut u)
    {
        run(v);
    }
});
