//! config-classifier's decoder: any bytes as the event, and the Config samples with
//! structure-aware mutations, through `ConfigClassifier::classify` with the shipped catalog.
//! Never a panic; findings and error messages free of control characters and bounded.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use triage_core::config::{ConfigClassifier, ConfigOutcome, ConfigRuleCatalog};
use triage_core::{Alert, Severity, TicketAction, TicketEvent};
use triage_fuzz::{assert_clean, assert_clean_message, mutate};

static CLASSIFIER: LazyLock<ConfigClassifier> = LazyLock::new(|| {
    ConfigClassifier::new(
        ConfigRuleCatalog::shipped().expect("catalog"),
        Severity::Medium,
    )
});

static TEMPLATES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../events/config-noncompliant-restricted-ssh.json"),
        include_str!("../../events/config-compliant-s3-public-read.json"),
        include_str!("../../events/config-noncompliant-conformance-pack.json"),
        include_str!("../../events/config-noncompliant-securityhub-s3.json"),
        include_str!("../../events/config-noncompliant-unknown-custom-rule.json"),
        include_str!("../../events/config-insufficient-data.json"),
        include_str!("../../events/config-noncompliant-seed-cloudtrail-log-validation.json"),
    ]
    .iter()
    .map(|t| serde_json::from_str(t).expect("template"))
    .collect()
});

fn run(event: &Value) {
    match CLASSIFIER.classify(event) {
        Ok(ConfigOutcome::Finding(f)) => {
            let v = serde_json::to_value(&f).expect("finding json");
            assert_clean("finding", &v, 4096);
            let alert = Alert::for_finding(&f).expect("alert");
            assert!(alert.subject.len() <= 99 && alert.subject.is_ascii());
            let body = TicketEvent::new(TicketAction::Open, *f, 1)
                .body()
                .expect("ticket");
            assert!(body.len() <= 64 * 1024, "a ticket of {} bytes", body.len());
        }
        Ok(ConfigOutcome::Skipped(_)) => {}
        Err(e) => assert_clean_message("config", &e.to_string()),
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
