//! The router over real samples, and the serialized output checked against the JSON Schemas in
//! schema/ — the contract a ticket system codes against.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod common;

use common::{repo_path, sample};
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use futures_executor::block_on;
use triage_core::clock::ManualClock;
use triage_core::config::{ConfigClassifier, ConfigRuleCatalog};
use triage_core::fakes::{
    MemoryAlertPublisher, MemoryDedupStore, MemoryDigestSink, MemoryTicketSink,
};
use triage_core::hub::{ConfigControls, HubClassifier};
use triage_core::policy::{SeverityPolicy, Thresholds};
use triage_core::router::{RouteError, Router};
use triage_core::ticket::MAX_SUBJECT_CHARS;
use triage_core::{Alert, DigestKind, Finding, Severity, TicketAction};

type MemoryRouter = Router<MemoryTicketSink, MemoryDigestSink, MemoryAlertPublisher>;

fn router(policy: SeverityPolicy) -> MemoryRouter {
    Router::new(
        policy,
        Thresholds::default(),
        MemoryTicketSink::default(),
        MemoryDigestSink::default(),
        MemoryAlertPublisher::default(),
    )
}

fn findings(name: &str) -> Vec<Finding> {
    let classifier = ConfigClassifier::new(
        ConfigRuleCatalog::shipped().expect("catalog"),
        Severity::Medium,
    );
    classifier
        .findings(&sample(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_path("schema").join(file)).expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{file} is not a valid schema: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, body: &str) {
    let instance: serde_json::Value = serde_json::from_str(body).expect("body is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{body:.400}");
}

#[test]
fn a_critical_non_compliance_opens_a_ticket_pages_and_reaches_the_digest() {
    let r = router(SeverityPolicy::default());
    let report =
        block_on(r.route(findings("config-noncompliant-s3-public-read.json"))).expect("routed");
    assert_eq!(
        (report.tickets, report.digest_entries, report.alerts),
        (1, 1, 1)
    );
    let ticket = &r.tickets().sent()[0];
    assert_eq!(ticket.action, TicketAction::Open);
    assert_eq!(ticket.message_group_id(), ticket.fingerprint.as_str());
    assert_eq!(r.digest().sent()[0].kind, DigestKind::New);
    let alert = &r.alerts().sent()[0];
    assert!(
        alert.subject.starts_with("[CRITICAL] S3 bucket"),
        "{}",
        alert.subject
    );
}

#[test]
fn a_high_non_compliance_tickets_without_paging() {
    let r = router(SeverityPolicy::default());
    let report =
        block_on(r.route(findings("config-noncompliant-restricted-ssh.json"))).expect("routed");
    assert_eq!(
        (report.tickets, report.digest_entries, report.alerts),
        (1, 1, 0)
    );
}

#[test]
fn compliance_again_resolves_the_ticket_and_never_pages() {
    let r = router(SeverityPolicy::default());
    block_on(r.route(findings("config-noncompliant-s3-public-read.json"))).expect("open");
    block_on(r.route(findings("config-compliant-s3-public-read.json"))).expect("resolve");
    let tickets = r.tickets().sent();
    assert_eq!(
        tickets.iter().map(|t| t.action).collect::<Vec<_>>(),
        [TicketAction::Open, TicketAction::Resolve]
    );
    assert_eq!(tickets[0].fingerprint, tickets[1].fingerprint);
    assert_eq!(r.alerts().sent().len(), 1, "only the open paged");
    assert_eq!(r.digest().sent()[1].kind, DigestKind::Resolved);
}

#[test]
fn low_goes_to_the_digest_only_and_info_is_counted_only() {
    let low = SeverityPolicy::from_toml("version = 1\n[[override]]\nrule = \"restricted-ssh\"\nseverity = \"low\"\nreason = \"test\"").expect("policy");
    let r = router(low);
    let report =
        block_on(r.route(findings("config-noncompliant-restricted-ssh.json"))).expect("routed");
    assert_eq!(
        (
            report.tickets,
            report.digest_entries,
            report.alerts,
            report.counted_only
        ),
        (0, 1, 0, 0)
    );

    let info = SeverityPolicy::from_toml("version = 1\n[[override]]\nrule = \"restricted-ssh\"\nseverity = \"info\"\nreason = \"test\"").expect("policy");
    let r = router(info);
    let report =
        block_on(r.route(findings("config-noncompliant-restricted-ssh.json"))).expect("routed");
    assert_eq!(
        (
            report.tickets,
            report.digest_entries,
            report.alerts,
            report.counted_only
        ),
        (0, 0, 0, 1)
    );
}

#[test]
fn a_failed_sink_fails_the_route_and_the_retry_sends_what_is_left_with_identical_bodies() {
    let clock = ManualClock::new(Utc::now());
    let store = Arc::new(MemoryDedupStore::new());
    let r = router(SeverityPolicy::default())
        .with_dedup(Arc::clone(&store))
        .with_clock(clock.clone());
    r.digest().fail_next(1);
    let first = block_on(r.route(findings("config-noncompliant-s3-public-read.json")));
    assert!(matches!(first, Err(RouteError::Digest(_))), "{first:?}");
    assert!(
        r.alerts().sent().is_empty(),
        "no page before everything else was delivered"
    );
    let stored = store
        .items()
        .pop()
        .and_then(|i| i.pending)
        .expect("the pending open");
    assert!(
        stored.ticket_sent,
        "the ticket event went out and is marked so"
    );
    // Lambda's retry, after the claim ran out.
    clock.advance(TimeDelta::minutes(2));
    block_on(r.route(findings("config-noncompliant-s3-public-read.json"))).expect("retry");
    let tickets = r.tickets().sent();
    assert_eq!(tickets.len(), 1, "the ticket event is not sent again…");
    assert_eq!(
        tickets[0].body().expect("body"),
        stored.event,
        "…it is the stored one"
    );
    assert_eq!(r.digest().sent().len(), 1, "the digest entry, once");
    assert_eq!(r.alerts().sent().len(), 1, "the page, once");
}

#[test]
fn every_serialized_ticket_event_and_digest_entry_matches_its_schema() {
    let tickets = validator("ticket-event.schema.json");
    let digest = validator("digest-entry.schema.json");
    let r = router(SeverityPolicy::default());
    let mut count = 0;
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
        let hub = name.starts_with("guardduty-") || name.starts_with("securityhub-");
        if name.contains("-bad-") || !(name.starts_with("config-") || hub) {
            continue;
        }
        let found = if hub {
            HubClassifier::new(ConfigControls::Ticket, Severity::Medium)
                .classify(&sample(&name), Utc::now())
                .map(|o| o.findings)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        } else {
            findings(&name)
        };
        block_on(r.route(found)).expect("routed");
        count += 1;
    }
    assert!(count >= 30, "only {count} samples routed");
    assert!(
        r.tickets()
            .sent()
            .iter()
            .any(|t| t.finding.source == triage_core::Source::Guardduty),
        "GuardDuty and Security Hub findings are in the contract too"
    );
    let sent = r.tickets().sent();
    assert!(sent.len() >= 10);
    for t in &sent {
        assert_valid(&tickets, &t.body().expect("body"));
    }
    for e in r.digest().sent() {
        assert_valid(&digest, &e.body().expect("body"));
    }
    // The schema is not a rubber stamp.
    let mut bad: serde_json::Value =
        serde_json::from_str(&sent[0].body().expect("body")).expect("json");
    bad["action"] = "reopen".into();
    assert!(!tickets.is_valid(&bad));
    bad["action"] = "open".into();
    bad["finding"]["title"] = "line\nbreak".into();
    assert!(!tickets.is_valid(&bad));
}

#[test]
fn alerts_have_a_short_ascii_subject_and_json_for_machines_text_for_email() {
    let r = router(SeverityPolicy::default());
    block_on(r.route(findings("config-noncompliant-huge-annotation.json"))).expect("routed");
    let alert = &r.alerts().sent()[0];
    assert!(alert.subject.len() <= MAX_SUBJECT_CHARS);
    assert!(
        alert
            .subject
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' ')
    );
    let message: serde_json::Value =
        serde_json::from_str(&alert.sns_message().expect("message")).expect("json");
    let machine: serde_json::Value =
        serde_json::from_str(message["default"].as_str().expect("default"))
            .expect("default is JSON");
    assert_eq!(
        machine["finding"]["fingerprint"].as_str(),
        Some(alert.fingerprint.as_str())
    );
    let email = message["email"].as_str().expect("email");
    assert!(email.contains("Remediation:"));
    assert!(
        email.len() < 8 * 1024,
        "email text is short: {} bytes",
        email.len()
    );
    assert!(!email.contains('\u{1b}'));
}

#[test]
fn every_copy_of_a_page_carries_the_same_alert_id_and_the_next_page_another() {
    let route = || {
        let r = router(SeverityPolicy::default());
        block_on(r.route(findings("config-noncompliant-iam-root-access-key.json")))
            .expect("routed");
        r.alerts().sent()[0].clone()
    };
    // A retried invocation rebuilds the same alert: a paging service deduplicates on the id.
    let (first, retry) = (route(), route());
    assert_eq!(first.id, retry.id);
    assert_eq!(first.id.len(), 32);
    assert!(first.id.bytes().all(|b| b.is_ascii_hexdigit()));
    let message: serde_json::Value =
        serde_json::from_str(&first.sns_message().expect("message")).expect("json");
    let machine: serde_json::Value =
        serde_json::from_str(message["default"].as_str().expect("default")).expect("JSON");
    assert_eq!(machine["alert_id"].as_str(), Some(first.id.as_str()));
    assert!(
        message["email"]
            .as_str()
            .expect("email")
            .ends_with(&format!("Alert id: {}", first.id))
    );

    // The same problem paging again after its window (another count, another time) is a new
    // page with its own id; so is another problem.
    let mut again = findings("config-noncompliant-iam-root-access-key.json").remove(0);
    again.count = 7;
    let next = Alert::for_finding(&again).expect("alert");
    assert_eq!(next.fingerprint, first.fingerprint);
    assert_ne!(next.id, first.id);
    let other =
        Alert::for_finding(&findings("config-noncompliant-restricted-ssh.json")[0]).expect("alert");
    assert_ne!(other.id, first.id);
}

/// Chat: every alert and digest a sample produces is a valid Amazon Q Developer custom
/// notification (the documented shape, triage's bounds), sent to HTTPS subscribers while email
/// keeps its text; a hostile finding's values reach it neutralised and bounded.
#[test]
fn alerts_and_digests_are_valid_chat_notifications_for_https_subscribers() {
    use triage_core::digest::{DigestBuilder, RenderOptions};
    use triage_core::text::has_live_markup;

    let chat = validator("chat-notification.schema.json");
    let hub = HubClassifier::new(ConfigControls::Ticket, Severity::Medium);
    let mut all: Vec<Finding> = Vec::new();
    for name in [
        "config-noncompliant-s3-public-read.json",
        "config-noncompliant-huge-annotation.json",
        "config-noncompliant-restricted-ssh.json",
    ] {
        all.extend(findings(name));
    }
    for name in [
        "guardduty-attack-sequence-critical.json",
        "securityhub-batch-three-products.json",
        "securityhub-v2-vulnerability.json",
    ] {
        all.extend(
            hub.classify(&sample(name), Utc::now())
                .expect(name)
                .findings,
        );
    }
    let mut hostile = all[0].clone();
    let nasty = "<img src=x onerror=alert(1)>[click](https://evil.example/p) @here <!channel> \
                 www.evil.example/reset `code` *bold* _it_ ~strike~ \u{1b}[31m\u{202e}fdp\u{200b}\r\n\
                 \u{1F600}\u{10FFFD}"
        .repeat(400);
    let hostile_text = |max| triage_core::SafeText::bounded(&nasty, max);
    hostile.title = hostile_text(256);
    hostile.description = hostile_text(4096);
    hostile.remediation = hostile_text(1024);
    hostile.rule_id = triage_core::SafeText::bounded(&format!("`{nasty}"), 256);
    hostile.account = hostile_text(64);
    hostile.region = hostile_text(64);
    hostile.principal = Some(hostile_text(512));
    hostile.evidence.source_ip = Some(hostile_text(64));
    for r in &mut hostile.resources {
        r.kind = hostile_text(128);
        r.id = hostile_text(512);
        r.arn = Some(hostile_text(1024));
    }
    all.push(hostile);

    let mut builder = DigestBuilder::new();
    for f in &all {
        let alert = Alert::for_finding(f).expect("alert");
        let message: serde_json::Value =
            serde_json::from_str(&alert.sns_message().expect("message")).expect("json");
        assert!(message["email"].is_string() && message["default"].is_string());
        let body = message["https"].as_str().expect("https entry");
        assert!(
            body.len() <= triage_core::chat::MAX_NOTIFICATION_BYTES,
            "{} bytes",
            body.len()
        );
        assert_valid(&chat, body);
        let n: serde_json::Value = serde_json::from_str(body).expect("chat json");
        assert_eq!(
            n["metadata"]["threadId"],
            f.fingerprint.as_str(),
            "pages of a problem thread"
        );
        // Every string but triage's own console link: no live markup, no bare host to link.
        let mut strings = Vec::new();
        collect_strings(&n, &mut strings);
        for text in strings
            .iter()
            .filter(|t| !t.starts_with("Console: https://"))
        {
            assert!(
                !has_live_markup(text),
                "live markup reaches chat: {text:.300}"
            );
            // Outside code spans and blocks, where chat markdown formats and links.
            let prose = outside_code(text);
            assert!(
                !prose.contains("evil.example"),
                "a bare host reaches chat: {text:.300}"
            );
            assert!(
                !prose.contains("*bold*") && !prose.contains("_it_"),
                "{text:.300}"
            );
        }
        assert!(alert.sns_message().expect("message").len() < 200 * 1024);
        // An update's card says the problem is back, still threaded under the open's.
        let again = alert.clone().with_action(triage_core::TicketAction::Update);
        assert_valid(&chat, &again.chat);
        let a: serde_json::Value = serde_json::from_str(&again.chat).expect("json");
        assert!(
            a["content"]["title"]
                .as_str()
                .is_some_and(|t| t.contains("] Again: "))
        );
        assert_eq!(a["metadata"]["threadId"], n["metadata"]["threadId"]);
        // Without chat (the default), HTTPS subscribers get the JSON.
        let plain: serde_json::Value =
            serde_json::from_str(&alert.clone().without_chat().sns_message().expect("message"))
                .expect("json");
        assert!(plain.get("https").is_none());
        builder.add(triage_core::DigestEntry::new(DigestKind::New, f));
    }
    let options = RenderOptions {
        chat: true,
        ..RenderOptions::default()
    };
    let digest = builder
        .finish(chrono::Utc::now())
        .render(&options)
        .expect("digest");
    for part in &digest {
        let message: serde_json::Value =
            serde_json::from_str(&part.sns_message().expect("message")).expect("json");
        let body = message["https"].as_str().expect("https entry");
        assert_valid(&chat, body);
    }
    // The schema is not a rubber stamp.
    let mut bad: serde_json::Value =
        serde_json::from_str(&Alert::for_finding(&all[0]).expect("alert").chat).expect("json");
    bad["content"]["description"] = serde_json::json!("x".repeat(4001));
    assert!(!chat.is_valid(&bad));
    bad["content"] = serde_json::json!({"title": "no description"});
    assert!(!chat.is_valid(&bad));
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// `text` without its code spans and blocks (between backticks).
fn outside_code(text: &str) -> String {
    let mut inside = false;
    text.chars()
        .filter(|&c| {
            if c == '`' {
                inside = !inside;
                return false;
            }
            !inside
        })
        .collect()
}

/// Every ticket event and alert is also put on triage's EventBridge bus, before it counts as
/// sent, as an event a rule can match by kind; a put that fails fails the route, and the retry
/// puts it again.
#[test]
fn ticket_events_and_alerts_go_on_the_event_bus_as_triage_events() {
    use triage_core::fakes::Memory;
    use triage_core::settings::{RouterSettings, env_from_pairs};

    // A clock that stands still between the failed attempt and its retry, between two
    // milliseconds: the release must end the claim for a retry within the same millisecond.
    let instant = chrono::DateTime::parse_from_rfc3339("2024-09-28T11:20:00.000500Z")
        .map(|t| t.with_timezone(&Utc))
        .expect("time");
    let memory = Memory::default().with_clock(ManualClock::new(instant));
    let env = env_from_pairs(&[
        (
            "TICKET_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/t.fifo",
        ),
        (
            "DIGEST_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/d",
        ),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:alerts"),
        ("DEDUP_TABLE_NAME", "dedup"),
        ("EVENT_BUS_NAME", "triage-events"),
    ]);
    let r =
        triage_core::router::assemble(RouterSettings::from_env(&env).expect("settings"), &memory);
    let envelope = validator("triage-event.schema.json");
    let tickets = validator("ticket-event.schema.json");

    // The bus refuses once: the route fails, nothing counts as sent; the retry puts both.
    memory.events.fail_next(1);
    let open = findings("config-noncompliant-s3-public-read.json");
    assert!(block_on(r.route(open.clone())).is_err());
    block_on(r.route(open)).expect("retry");
    block_on(r.route(findings("config-compliant-s3-public-read.json"))).expect("resolve");

    let events = memory.events.sent();
    let kinds: Vec<&str> = events.iter().map(|e| e.detail_type).collect();
    assert_eq!(kinds, ["Ticket Opened", "Alert", "Ticket Resolved"]);
    let sent = memory.tickets.sent();
    assert_eq!(
        events[0].detail,
        sent[sent.len() - 2].body().expect("body"),
        "the queue's bytes"
    );
    for e in &events {
        let delivered = serde_json::json!({
            "version": "0", "id": "x", "source": "triage", "detail-type": e.detail_type,
            "account": "111122223333", "time": "2024-09-28T11:15:02Z", "region": "us-east-1",
            "resources": e.resources,
            "detail": serde_json::from_str::<serde_json::Value>(&e.detail).expect("detail JSON"),
        });
        assert_valid(&envelope, &delivered.to_string());
        if e.detail_type != "Alert" {
            assert_valid(&tickets, &e.detail);
        }
    }
    assert_eq!(
        events[0].resources,
        ["arn:aws:s3:::example-public-assets-bucket"]
    );
    assert_eq!(
        events[1].resources, events[0].resources,
        "the alert names them too"
    );
}
