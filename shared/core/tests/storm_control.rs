//! Storm control over the real samples and hostile input: the stored ticket bodies re-send byte
//! for byte, the digest matches its schema, and untrusted text cannot escape its line in an
//! alert, a digest or a ticket.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod common;

use chrono::{TimeZone, Utc};
use common::{repo_path, sample};
use triage_core::alarm::{AlarmClassifier, AlarmForm, AlarmOptions};
use triage_core::cloudtrail::CloudTrailDetector;
use triage_core::config::{ConfigClassifier, ConfigRuleCatalog};
use triage_core::digest::{DigestBuilder, RenderOptions};
use triage_core::inbound::unwrap_envelopes;
use triage_core::ticket::MAX_SUBJECT_CHARS;
use triage_core::{
    Alert, DigestEntry, DigestKind, Evidence, Finding, Fingerprint, Resource, SafeText, Severity,
    Source, Status, TicketAction, TicketEvent,
};

/// The shipped classifiers, each given the events of its own kind.
struct Classifiers {
    config: ConfigClassifier,
    alarm: AlarmClassifier,
    cloudtrail: CloudTrailDetector,
}

impl Classifiers {
    fn classify(&self, event: &serde_json::Value) -> Option<Vec<Finding>> {
        if ConfigClassifier::accepts(event) {
            self.config.findings(event).ok()
        } else if AlarmForm::of(event).is_some() {
            self.alarm.findings(event).ok()
        } else {
            self.cloudtrail.findings(event).ok()
        }
    }
}

fn classifiers() -> Classifiers {
    Classifiers {
        config: ConfigClassifier::new(
            ConfigRuleCatalog::shipped().expect("catalog"),
            Severity::Medium,
        ),
        alarm: AlarmClassifier::shipped(AlarmOptions::default()).expect("alarm policy"),
        cloudtrail: CloudTrailDetector::shipped().expect("detection pack"),
    }
}

/// Every finding the shipped classifiers make from every sample.
fn sample_findings() -> Vec<Finding> {
    let c = classifiers();
    let mut findings = Vec::new();
    for path in std::fs::read_dir(repo_path("events"))
        .expect("events/")
        .filter_map(Result::ok)
        .map(|e| e.path())
    {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !name.ends_with(".json") {
            continue;
        }
        for inner in unwrap_envelopes(sample(&name)) {
            if let Ok(event) = inner.event {
                findings.extend(c.classify(&event).unwrap_or_default());
            }
        }
    }
    findings
}

fn validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_path("schema").join(file)).expect("schema file");
    jsonschema::validator_for(&serde_json::from_str(&text).expect("schema JSON"))
        .unwrap_or_else(|e| panic!("{file} is not a valid schema: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, body: &str) {
    let instance: serde_json::Value = serde_json::from_str(body).expect("JSON");
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{body:.600}");
}

#[test]
fn a_stored_ticket_body_is_re_sent_byte_for_byte_so_its_fifo_deduplication_id_is_the_same() {
    let findings = sample_findings();
    assert!(findings.len() >= 40, "only {} findings", findings.len());
    for f in findings {
        for action in [TicketAction::Open, TicketAction::Update] {
            let stored = TicketEvent::new(action, f.clone(), 1_768_478_400_001)
                .body()
                .expect("body");
            let again: TicketEvent = serde_json::from_str(&stored).expect("parse");
            let resent = again.body().expect("body");
            assert_eq!(resent, stored, "{}", f.rule_id);
            assert_eq!(
                again.deduplication_id(&resent),
                again.deduplication_id(&stored)
            );
        }
    }
}

#[test]
fn every_kind_of_digest_entry_and_the_digest_of_every_sample_match_their_schemas() {
    let entry_schema = validator("digest-entry.schema.json");
    let digest_schema = validator("digest.schema.json");
    let mut b = DigestBuilder::new();
    for (i, f) in sample_findings().into_iter().enumerate() {
        let kind = [
            DigestKind::New,
            DigestKind::Repeat,
            DigestKind::Suppressed,
            DigestKind::Resolved,
        ][i % 4];
        let e = DigestEntry::new(kind, &f);
        assert_valid(&entry_schema, &e.body().expect("body"));
        b.add(e);
    }
    let digest = b.finish(Utc::now());
    let whole = digest.render(&RenderOptions::default()).expect("render");
    assert_eq!(whole.len(), 1);
    assert_valid(&digest_schema, &whole[0].json);
    let parts = digest
        .render(&RenderOptions {
            top_n: 5,
            max_message_bytes: 12 * 1024,
            chat: true,
        })
        .expect("render");
    assert!(parts.len() > 1);
    for p in &parts {
        assert_valid(&digest_schema, &p.json);
    }
    // The schema is not a rubber stamp.
    let mut bad: serde_json::Value = serde_json::from_str(&whole[0].json).expect("json");
    bad["rules"][0]["title"] = "line\nbreak".into();
    assert!(!digest_schema.is_valid(&bad));
}

// ------------------------------------------------------------------------- hostile text

const MB: usize = 1 << 20;

/// Newlines that would forge lines, ANSI colour and OSC title sequences, a bell, right-to-left
/// overrides and isolates, zero-width characters, a line separator — and a megabyte.
fn hostile(tag: &str) -> String {
    format!(
        "{tag}\r\n[critical] FORGED LINE\u{1b}[31mred\u{1b}]0;title\u{7}\u{202e}gnp.exe\u{2066}iso\u{2069}\u{200b}\u{2028}sep\u{feff}\u{200f}{}",
        "A".repeat(MB)
    )
}

fn hostile_finding() -> Finding {
    let t = Utc
        .with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
        .single()
        .expect("time");
    // As every classifier does: untrusted strings enter only through SafeText.
    Finding {
        fingerprint: Fingerprint::new(
            Source::Cloudtrail,
            "unauthorized-api-calls",
            "111122223333",
            "us-east-1",
            &["x"],
        ),
        status: Status::Active,
        severity: Severity::Critical,
        source: Source::Cloudtrail,
        rule_id: SafeText::bounded(&hostile("rule"), 256),
        title: SafeText::bounded(&hostile("title"), 256),
        description: SafeText::bounded(&hostile("description"), 4096),
        account: SafeText::bounded(&hostile("account"), 64),
        region: SafeText::bounded("us-east-1", 64),
        resources: vec![Resource {
            kind: SafeText::bounded(&hostile("type"), 128),
            id: SafeText::bounded(&hostile("resource"), 512),
            arn: Some(SafeText::bounded(&hostile("arn"), 1024)),
        }],
        principal: Some(SafeText::bounded(&hostile("principal"), 512)),
        first_seen: t,
        last_seen: t,
        count: 1,
        evidence: Evidence {
            user_agent: Some(SafeText::new(&hostile("agent"))),
            error_message: Some(SafeText::new(&hostile("error"))),
            source_ip: Some(SafeText::bounded(&hostile("ip"), 64)),
            ..Evidence::default()
        },
        console_url: None,
        remediation: SafeText::new(&hostile("remediation")),
    }
}

/// No control character but our own line breaks, no bidi or zero-width character, no line
/// longer than `max_line` characters.
fn assert_clean(what: &str, text: &str, max_line: usize) {
    for (i, line) in text.split('\n').enumerate() {
        assert!(
            !line.chars().any(|c| {
                c.is_control()
                    || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
            }),
            "{what}: line {i} holds a hostile character: {line:.200}"
        );
        assert!(
            line.chars().count() <= max_line,
            "{what}: line {i} has {} characters",
            line.chars().count()
        );
        assert!(
            !line.starts_with("[critical] FORGED"),
            "{what}: a forged line"
        );
    }
}

/// Every string in a JSON document is clean and bounded.
fn assert_clean_json(what: &str, json: &str) {
    fn walk(what: &str, v: &serde_json::Value) {
        match v {
            serde_json::Value::String(s) => assert_clean(what, s, 8192),
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(what, v)),
            serde_json::Value::Object(o) => o.values().for_each(|v| walk(what, v)),
            _ => {}
        }
    }
    walk(what, &serde_json::from_str(json).expect("JSON"));
}

#[test]
fn hostile_strings_are_bounded_and_stripped_in_tickets_alerts_and_digests() {
    let f = hostile_finding();

    let ticket = TicketEvent::new(TicketAction::Open, f.clone(), 1)
        .body()
        .expect("body");
    assert!(
        ticket.len() < 64 * 1024,
        "ticket body {} bytes",
        ticket.len()
    );
    assert_clean_json("ticket", &ticket);

    let alert = Alert::for_finding(&f).expect("alert");
    assert!(alert.subject.len() <= MAX_SUBJECT_CHARS && alert.subject.is_ascii());
    assert_clean("alert subject", &alert.subject, MAX_SUBJECT_CHARS);
    assert_clean("alert text", &alert.text, 1200);
    assert!(
        alert.text.len() < 16 * 1024,
        "alert text {} bytes",
        alert.text.len()
    );
    assert_clean_json("alert json", &alert.json);

    let mut b = DigestBuilder::new();
    for kind in [
        DigestKind::New,
        DigestKind::Repeat,
        DigestKind::Suppressed,
        DigestKind::Resolved,
    ] {
        b.add(DigestEntry::new(kind, &f));
    }
    let digest = b.finish(Utc::now());
    for m in digest.render(&RenderOptions::default()).expect("render") {
        assert_clean("digest subject", &m.subject, MAX_SUBJECT_CHARS);
        assert_clean("digest text", &m.text, 400);
        assert_clean_json("digest json", &m.json);
        assert!(m.sns_message().expect("sns").len() < 64 * 1024);
    }
}

#[test]
fn a_forged_digest_queue_message_is_sanitised_on_the_way_in() {
    // Someone with sqs:SendMessage on the digest queue writes raw JSON: the digest's reader
    // bounds and strips it like any other untrusted input.
    let f = hostile_finding();
    let mut raw: serde_json::Value =
        serde_json::from_str(&DigestEntry::new(DigestKind::New, &f).body().expect("body"))
            .expect("json");
    raw["title"] = hostile("forged title").into();
    raw["resource"] = hostile("forged resource").into();
    raw["principal"] = hostile("forged principal").into();
    raw["rule_id"] = hostile("forged rule").into();
    let mut b = DigestBuilder::new();
    b.add_message(&raw.to_string()).expect("a digest entry");
    let m = b
        .finish(Utc::now())
        .render(&RenderOptions::default())
        .expect("render")
        .remove(0);
    assert_clean("digest text", &m.text, 400);
    assert_clean_json("digest json", &m.json);
    assert!(
        m.json.len() < 64 * 1024,
        "bounded on deserialisation: {} bytes",
        m.json.len()
    );
    // Identifiers are not text: a forged one makes the message unreadable (left for the DLQ).
    for field in ["fingerprint", "entry_id"] {
        let mut forged = raw.clone();
        forged[field] = format!("{}\n[critical] FORGED", "a".repeat(32)).into();
        let mut b = DigestBuilder::new();
        assert!(b.add_message(&forged.to_string()).is_err(), "{field}");
    }
}

#[test]
fn the_huge_annotation_sample_stays_bounded_through_every_rendering() {
    let c = classifiers();
    let findings = c
        .classify(&sample("config-noncompliant-huge-annotation.json"))
        .expect("finding");
    let f = &findings[0];
    assert_clean_json(
        "ticket",
        &TicketEvent::new(TicketAction::Open, f.clone(), 1)
            .body()
            .expect("body"),
    );
    let alert = Alert::for_finding(f).expect("alert");
    assert_clean("alert text", &alert.text, 1200);
    let mut b = DigestBuilder::new();
    b.add(DigestEntry::new(DigestKind::New, f));
    let m = b
        .finish(Utc::now())
        .render(&RenderOptions::default())
        .expect("render")
        .remove(0);
    assert_clean("digest text", &m.text, 400);
}
