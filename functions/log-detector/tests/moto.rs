//! log-detector as it ships (`assemble`, the AWS backend, the template's settings) against moto
//! server: a subscription payload
//! holding the seed's three detections among benign records yields exactly the expected ticket
//! events, digest entries and pages, read back from the queues.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use lambda_runtime::{Context, LambdaEvent};
use log_detector::handler::{Handler, Summary};
use log_detector::{Settings, assemble};
use stack_tests::{function_env, stand_ins, ticket_of};
use triage_aws::Aws;
use triage_core::cloudtrail::CloudTrailDetector;
use triage_core::digest::parse_message;
use triage_core::{DigestEntry, DigestKind, Finding, Severity, TicketAction, TicketEvent};
use triage_testkit::{DedupTable, MotoServer, Queues, event};

fn detector() -> CloudTrailDetector {
    CloudTrailDetector::shipped().expect("detection pack")
}

/// The function as `main.rs` builds it, on moto's queues, topic and a dedup table.
async fn handler(moto: &MotoServer, q: &Queues, prefix: &str) -> Handler<Aws> {
    let table = DedupTable::create(moto, &format!("{prefix}-dedup")).await;
    let env = function_env("log-detector", &stand_ins(q, &table));
    let settings = Settings::from(&env).expect("settings from the template");
    assemble(settings, &Aws::new(&moto.sdk_config().await))
}

fn invoke(name: &str) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(event(name), Context::default())
}

/// The findings the pure detector makes of a sample, independently of the handler.
fn expected_findings(name: &str) -> Vec<Finding> {
    detector()
        .detect_lambda_event(&event(name))
        .expect("decodes")
        .findings
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_detections_among_benign_records_become_exactly_three_tickets_three_digest_lines_and_two_pages()
 {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "logdet").await;
    let h = handler(&moto, &q, "logdet").await;

    let summary = h
        .handle(invoke("cwlogs-mixed-batch.json"))
        .await
        .expect("handled");
    assert_eq!(
        (
            summary.records,
            summary.findings,
            summary.tickets,
            summary.digest_entries,
            summary.alerts
        ),
        (12, 3, 3, 3, 2)
    );
    // Lambda retries the same asynchronous invocation: the dedup state knows it was delivered.
    let retried = h
        .handle(invoke("cwlogs-mixed-batch.json"))
        .await
        .expect("retry");
    assert_eq!((retried.tickets, retried.alerts), (0, 0));
    // A control message between them changes nothing.
    let control = h
        .handle(invoke("cwlogs-control-message.json"))
        .await
        .expect("control");
    assert_eq!(
        control,
        Summary {
            message_type: Some("CONTROL_MESSAGE"),
            records: 1,
            ..Summary::default()
        }
    );

    let want = expected_findings("cwlogs-mixed-batch.json");
    let tickets: Vec<TicketEvent> = q
        .drain(&q.ticket_queue_url)
        .await
        .iter()
        .map(ticket_of)
        .collect();
    assert_eq!(tickets.len(), want.len(), "{tickets:?}");
    // Each event carries the sequence the dedup state gave it.
    let want_tickets: Vec<TicketEvent> = want
        .iter()
        .zip(&tickets)
        .map(|(f, t)| TicketEvent::new(TicketAction::Open, f.clone(), t.sequence))
        .collect();
    assert_eq!(tickets, want_tickets, "exactly three opens, nothing else");
    let summary: Vec<(&str, Severity, Option<&str>)> = tickets
        .iter()
        .map(|t| {
            (
                t.finding.rule_id.as_str(),
                t.finding.severity,
                t.finding.principal.as_ref().map(|p| p.as_str()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "root-account-usage",
                Severity::Critical,
                Some("arn:aws:iam::111122223333:root")
            ),
            (
                "unauthorized-api-calls",
                Severity::High,
                Some("arn:aws:iam::111122223333:user/christophe")
            ),
            (
                "console-signin-without-mfa",
                Severity::Critical,
                Some("arn:aws:iam::111122223333:user/anaya")
            ),
        ]
    );
    let root = &tickets[0].finding;
    assert_eq!(
        root.title.as_str(),
        "Root account used: EnableMFADevice from 192.0.2.0"
    );
    assert!(
        root.console_url
            .as_deref()
            .is_some_and(|u| u.contains("/cloudtrail/home?region=us-east-1#/events/"))
    );

    let digest: Vec<DigestEntry> = q
        .drain(&q.digest_queue_url)
        .await
        .iter()
        .flat_map(|m| parse_message(m.body().expect("body")).expect("digest message"))
        .collect();
    let first: Vec<DigestEntry> = want
        .iter()
        .map(|f| DigestEntry::new(DigestKind::New, f))
        .collect();
    assert_eq!(
        digest, first,
        "three new entries, packed; the retry sent none"
    );

    let pages = q.drain(&q.alert_inbox_url).await;
    let subjects: Vec<String> = pages
        .iter()
        .map(|m| {
            let n: serde_json::Value =
                serde_json::from_str(m.body().expect("body")).expect("SNS JSON");
            n["Subject"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        subjects.len(),
        2,
        "two critical findings, paged once: {subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .all(|s| s.starts_with("[CRITICAL] ") && s.len() <= 99),
        "{subjects:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_ticket_queue_fails_the_invocation_instead_of_reporting_success() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "logdet-broken").await;
    q.sqs
        .delete_queue()
        .queue_url(&q.ticket_queue_url)
        .send()
        .await
        .expect("delete");
    let err = handler(&moto, &q, "logdet-broken")
        .await
        .handle(invoke("cwlogs-root-account-usage.json"))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("ticket queue"), "{err}");
    assert!(
        q.drain(&q.digest_queue_url).await.is_empty(),
        "nothing sent after the failed ticket"
    );
    assert!(q.drain(&q.alert_inbox_url).await.is_empty(), "no page");
}
