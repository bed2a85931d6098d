//! finding-classifier's decoder: any bytes as the event, and the GuardDuty and Security Hub
//! samples (all three shapes) with structure-aware mutations, through `HubClassifier::classify`.
//! Never a panic; findings and error messages free of control characters and bounded.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use triage_core::hub::{ConfigControls, HubClassifier};
use triage_core::{Alert, Severity, TicketAction, TicketEvent};
use triage_fuzz::{assert_clean, assert_clean_message, mutate};

static CLASSIFIER: LazyLock<HubClassifier> =
    LazyLock::new(|| HubClassifier::new(ConfigControls::Ticket, Severity::Medium));

static TEMPLATES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../events/guardduty-credential-exfiltration.json"),
        include_str!("../../events/guardduty-ssh-brute-force.json"),
        include_str!("../../events/securityhub-guardduty-credential-exfiltration.json"),
        include_str!("../../events/securityhub-control-config-backed-failed.json"),
        include_str!("../../events/securityhub-batch-three-products.json"),
        include_str!("../../events/securityhub-v2-guardduty-credential-exfiltration.json"),
        include_str!("../../events/securityhub-v2-compliance-failed.json"),
        include_str!("../../events/securityhub-v2-vulnerability.json"),
    ]
    .iter()
    .map(|t| serde_json::from_str(t).expect("template"))
    .collect()
});

fn run(event: &Value) {
    match CLASSIFIER.classify(event, chrono::Utc::now()) {
        Ok(outcome) => {
            for f in outcome.findings {
                let v = serde_json::to_value(&f).expect("finding json");
                assert_clean("finding", &v, 4096);
                let alert = Alert::for_finding(&f).expect("alert");
                assert!(alert.subject.len() <= 99 && alert.subject.is_ascii());
                let body = TicketEvent::new(TicketAction::Open, f, 1)
                    .body()
                    .expect("ticket");
                assert!(body.len() <= 64 * 1024, "a ticket of {} bytes", body.len());
            }
            for e in outcome.invalid {
                assert_clean_message("finding", &e.to_string());
            }
        }
        Err(e) => assert_clean_message("hub", &e.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        run(&v);
    }
    let mut u = Unstructured::new(data);
    if let Ok(template) = u.choose(&TEMPLATES)
        && let Ok(v) = mutate(template, &mut u)
    {
        run(&v);
    }
});
