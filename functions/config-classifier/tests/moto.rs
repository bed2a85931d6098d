//! The handler with the real SQS/SNS adapters against moto server: what lands on the queues and
//! the alert topic is exactly what a ticket system and an inbox would read.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use aws_sdk_sqs::types::MessageSystemAttributeName;
use config_classifier::handler::{Handler, Summary};
use lambda_runtime::{Context, LambdaEvent};
use sha2_free_hash::sha256_hex;
use triage_aws::{SnsAlertPublisher, SqsDigestSink, SqsTicketSink};
use triage_core::config::{ConfigClassifier, ConfigRuleCatalog};
use triage_core::policy::{SeverityPolicy, Thresholds};
use triage_core::router::Router;
use triage_core::{DigestEntry, Severity, TicketAction, TicketEvent};
use triage_testkit::{MotoServer, Queues, event};

/// The dedup id is the SHA-256 of the body; recompute it independently of the code under test.
mod sha2_free_hash {
    pub fn sha256_hex(body: &str) -> String {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(body.as_bytes())?;
                child.wait_with_output()
            })
            .expect("sha256sum");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

type AwsHandler = Handler<SqsTicketSink, SqsDigestSink, SnsAlertPublisher>;

fn handler(q: &Queues) -> AwsHandler {
    Handler::new(
        ConfigClassifier::new(
            ConfigRuleCatalog::shipped().expect("catalog"),
            Severity::Medium,
        ),
        Router::new(
            SeverityPolicy::shipped().expect("policy"),
            Thresholds::default(),
            SqsTicketSink::new(q.sqs.clone(), &q.ticket_queue_url),
            SqsDigestSink::new(q.sqs.clone(), &q.digest_queue_url),
            SnsAlertPublisher::new(q.sns.clone(), &q.alert_topic_arn),
        ),
    )
}

fn invoke(name: &str) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(event(name), Context::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn non_compliance_then_compliance_is_one_ticket_opened_and_resolved_on_the_fifo_queue() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "config").await;
    let h = handler(&q);

    let opened = h
        .handle(invoke("config-noncompliant-s3-public-read.json"))
        .await
        .expect("open");
    assert_eq!(
        opened,
        Summary {
            findings: 1,
            tickets: 1,
            digest_entries: 1,
            alerts: 1,
            counted_only: 0
        }
    );
    // A retried invocation of the same event: FIFO deduplication drops the second ticket.
    h.handle(invoke("config-noncompliant-s3-public-read.json"))
        .await
        .expect("retry");
    h.handle(invoke("config-compliant-s3-public-read.json"))
        .await
        .expect("resolve");
    // Irrelevant events send nothing.
    h.handle(invoke("config-not-applicable-iam-root-access-key.json"))
        .await
        .expect("skip");

    let tickets = q.drain(&q.ticket_queue_url).await;
    assert_eq!(
        tickets.len(),
        2,
        "open + resolve; the retry's copy was deduplicated"
    );
    let mut events = Vec::new();
    for m in &tickets {
        let body = m.body().expect("body");
        let ticket: TicketEvent = serde_json::from_str(body).expect("ticket event JSON");
        let attrs = m.attributes().expect("system attributes");
        assert_eq!(
            attrs
                .get(&MessageSystemAttributeName::MessageGroupId)
                .map(String::as_str),
            Some(ticket.fingerprint.as_str())
        );
        assert_eq!(
            attrs
                .get(&MessageSystemAttributeName::MessageDeduplicationId)
                .cloned(),
            Some(sha256_hex(body))
        );
        events.push(ticket);
    }
    assert_eq!(
        events.iter().map(|t| t.action).collect::<Vec<_>>(),
        [TicketAction::Open, TicketAction::Resolve]
    );
    assert_eq!(events[0].fingerprint, events[1].fingerprint);
    let f = &events[0].finding;
    assert_eq!(f.rule_id.as_str(), "s3-bucket-public-read-prohibited");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.resources[0].arn.as_ref().map(|a| a.as_str()),
        Some("arn:aws:s3:::example-public-assets-bucket")
    );

    let digest: Vec<DigestEntry> = q
        .drain(&q.digest_queue_url)
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().expect("body")).expect("digest entry JSON"))
        .collect();
    // The standard digest queue keeps the retry's copy; the digest counts it once by entry_id.
    assert_eq!(digest.len(), 3);
    assert_eq!(digest[0].entry_id, digest[1].entry_id);
    assert_ne!(digest[0].entry_id, digest[2].entry_id);

    let pages = q.drain(&q.alert_inbox_url).await;
    assert_eq!(
        pages.len(),
        2,
        "one page per delivered open (the retry re-pages: alerts are not FIFO)"
    );
    let notification: serde_json::Value =
        serde_json::from_str(pages[0].body().expect("body")).expect("SNS JSON");
    assert!(
        notification["Subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("[CRITICAL] S3 bucket") && s.len() <= 99)
    );
    let machine: serde_json::Value =
        serde_json::from_str(notification["Message"].as_str().expect("Message"))
            .expect("machine JSON");
    assert_eq!(
        machine["finding"]["fingerprint"],
        serde_json::json!(events[0].fingerprint.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_queue_fails_the_invocation_instead_of_reporting_success() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "broken").await;
    q.sqs
        .delete_queue()
        .queue_url(&q.ticket_queue_url)
        .send()
        .await
        .expect("delete");
    let err = handler(&q)
        .handle(invoke("config-noncompliant-restricted-ssh.json"))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("ticket queue"), "{err}");
    assert!(
        q.drain(&q.digest_queue_url).await.is_empty(),
        "nothing sent after the failed ticket"
    );
}
