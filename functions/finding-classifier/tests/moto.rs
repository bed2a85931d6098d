//! finding-classifier as it ships (`assemble` with the AWS backend and the template's settings)
//! against moto server: one GuardDuty finding through its three paths, its lifecycle, a
//! Security Hub event at its 100-finding limit, and a missing queue.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use finding_classifier::handler::Handler;
use finding_classifier::{Settings, assemble};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use stack_tests::{function_env, stand_ins, ticket_of};
use triage_aws::Aws;
use triage_core::digest::parse_message;
use triage_core::{DigestEntry, DigestKind, Severity, Source, TicketAction, TicketEvent};
use triage_testkit::{DedupTable, MotoServer, Queues, event};

/// The function as `main.rs` builds it, on these queues and table.
async fn handler(moto: &MotoServer, q: &Queues, table: &DedupTable) -> Handler<Aws> {
    let env = function_env("finding-classifier", &stand_ins(q, table));
    let settings = Settings::from(&env).expect("settings from the template");
    assemble(settings, &Aws::new(&moto.sdk_config().await))
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guardduty_finding_on_three_paths_opens_repeats_and_resolves_one_ticket() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "findings").await;
    let table = DedupTable::create(&moto, "findings-dedup").await;
    let h = handler(&moto, &q, &table).await;

    let mut summaries = Vec::new();
    for name in [
        "guardduty-credential-exfiltration.json",
        "securityhub-guardduty-credential-exfiltration.json",
        "securityhub-v2-guardduty-credential-exfiltration.json",
        "guardduty-credential-exfiltration-repeat.json",
        "guardduty-credential-exfiltration-repeat.json", // a re-delivery
        "guardduty-credential-exfiltration-archived.json",
        "guardduty-attack-sequence-critical.json",
        "securityhub-control-config-backed-failed.json",
    ] {
        let s = h.handle(invoke(event(name))).await.expect(name);
        summaries.push((s.tickets, s.repeats, s.stale, s.skipped, s.alerts));
    }
    assert_eq!(
        summaries,
        [
            (1, 0, 0, 0, 0), // open, high
            (0, 0, 1, 0, 0), // the same version through Security Hub (ASFF)
            (0, 0, 1, 0, 0), // and through Security Hub (OCSF)
            (0, 1, 0, 0, 0), // a newer version inside the window
            (0, 0, 1, 0, 0), // the same version again
            (1, 0, 0, 0, 0), // archived: resolve
            (1, 0, 0, 0, 1), // critical: ticket and page
            (0, 0, 0, 1, 0), // a control AWS Config reports: config-classifier's
        ]
    );

    let events: Vec<TicketEvent> = q
        .drain(&q.ticket_queue_url)
        .await
        .iter()
        .map(ticket_of)
        .collect();
    assert_eq!(
        events.iter().map(|t| t.action).collect::<Vec<_>>(),
        [
            TicketAction::Open,
            TicketAction::Resolve,
            TicketAction::Open
        ]
    );
    assert_eq!(events[0].fingerprint, events[1].fingerprint);
    assert!(events[0].sequence < events[1].sequence);
    let f = &events[0].finding;
    assert_eq!((f.source, f.severity), (Source::Guardduty, Severity::High));
    assert_eq!(
        f.rule_id.as_str(),
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
    );
    assert_eq!(
        f.evidence.source_ip.as_ref().map(|i| i.as_str()),
        Some("198.51.100.23")
    );
    assert!(
        f.console_url
            .as_deref()
            .is_some_and(|u| u.contains("/guardduty/home"))
    );
    assert_eq!(events[2].finding.severity, Severity::Critical);

    let digest: Vec<DigestEntry> = q
        .drain(&q.digest_queue_url)
        .await
        .iter()
        .flat_map(|m| parse_message(m.body().expect("body")).expect("digest message"))
        .collect();
    assert_eq!(
        digest.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [
            DigestKind::New,
            DigestKind::Repeat,
            DigestKind::Resolved,
            DigestKind::New
        ]
    );
    assert_eq!(q.drain(&q.alert_inbox_url).await.len(), 1, "one page");
    assert_eq!(table.items().await.len(), 2, "one state per finding");
}

/// Security Hub's limit of 100 findings in one event, each its own ticket, sent in batches.
#[tokio::test(flavor = "multi_thread")]
async fn a_security_hub_event_of_100_findings_opens_100_tickets() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "hundred").await;
    let table = DedupTable::create(&moto, "hundred-dedup").await;
    let h = handler(&moto, &q, &table).await;

    let mut e = event("securityhub-inspector-cve.json");
    let template = e["detail"]["findings"][0].clone();
    let findings: Vec<Value> = (0..100)
        .map(|i| {
            let mut f = template.clone();
            f["Id"] = json!(format!(
                "arn:aws:inspector2:us-east-1:111122223333:finding/{i:032x}"
            ));
            f
        })
        .collect();
    e["detail"]["findings"] = json!(findings);
    let s = h.handle(invoke(e.clone())).await.expect("100 findings");
    assert_eq!((s.findings, s.tickets, s.invalid), (100, 100, 0));
    // Lambda retries the whole event: nothing is sent twice.
    let again = h.handle(invoke(e)).await.expect("retry");
    assert_eq!(again.tickets, 0);
    let tickets = q.drain(&q.ticket_queue_url).await;
    assert_eq!(tickets.len(), 100);
    let mut fingerprints: Vec<String> = tickets
        .iter()
        .map(|m| ticket_of(m).fingerprint.to_string())
        .collect();
    fingerprints.sort();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 100, "one ticket per finding");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_queue_fails_the_invocation_instead_of_reporting_success() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "broken").await;
    let table = DedupTable::create(&moto, "broken-dedup").await;
    q.sqs
        .delete_queue()
        .queue_url(&q.ticket_queue_url)
        .send()
        .await
        .expect("delete");
    let err = handler(&moto, &q, &table)
        .await
        .handle(invoke(event("securityhub-inspector-cve.json")))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("ticket queue"), "{err}");
    assert!(q.drain(&q.digest_queue_url).await.is_empty());
}
