//! config-classifier as it ships (`assemble` with the AWS backend and the template's settings)
//! against moto server: what lands on the queues, the alert topic and the dedup table is exactly
//! what a ticket system and an inbox would read.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use config_classifier::handler::{Handler, Summary};
use config_classifier::{Settings, assemble};
use lambda_runtime::{Context, LambdaEvent};
use stack_tests::{function_env, stand_ins, ticket_of};
use triage_aws::Aws;
use triage_core::digest::parse_message;
use triage_core::{DigestEntry, DigestKind, Severity, TicketAction, TicketEvent};
use triage_testkit::{DedupTable, MotoServer, Queues, event};

/// The function as `main.rs` builds it, on these queues and table.
async fn handler(moto: &MotoServer, q: &Queues, table: &DedupTable) -> Handler<Aws> {
    let env = function_env("config-classifier", &stand_ins(q, table));
    let settings = Settings::from(&env).expect("settings from the template");
    assemble(settings, &Aws::new(&moto.sdk_config().await))
}

fn invoke(name: &str) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(event(name), Context::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn non_compliance_then_compliance_is_one_ticket_opened_and_resolved_on_the_fifo_queue() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "config").await;
    let table = DedupTable::create(&moto, "config-dedup").await;
    let h = handler(&moto, &q, &table).await;

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
            counted_only: 0,
            stale: 0
        }
    );
    // A retried invocation of the same event: the dedup state knows it was delivered.
    let retried = h
        .handle(invoke("config-noncompliant-s3-public-read.json"))
        .await
        .expect("retry");
    assert_eq!(
        (retried.findings, retried.tickets, retried.alerts),
        (1, 0, 0)
    );
    h.handle(invoke("config-compliant-s3-public-read.json"))
        .await
        .expect("resolve");
    // Irrelevant events send nothing.
    h.handle(invoke("config-not-applicable-iam-root-access-key.json"))
        .await
        .expect("skip");

    let tickets = q.drain(&q.ticket_queue_url).await;
    assert_eq!(tickets.len(), 2, "open + resolve; the retry sent nothing");
    let events: Vec<TicketEvent> = tickets.iter().map(ticket_of).collect();
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
        .flat_map(|m| parse_message(m.body().expect("body")).expect("digest message"))
        .collect();
    assert_eq!(
        digest.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DigestKind::New, DigestKind::Resolved]
    );

    let pages = q.drain(&q.alert_inbox_url).await;
    assert_eq!(pages.len(), 1, "one page: the retry was already delivered");
    // triage's EventBridge bus, as a rule on it delivers to a queue: the same three messages.
    let mut on_bus: Vec<(String, serde_json::Value)> = q
        .drain(&q.event_inbox_url)
        .await
        .iter()
        .map(|m| {
            let e: serde_json::Value =
                serde_json::from_str(m.body().expect("body")).expect("event JSON");
            assert_eq!(e["source"], "triage");
            (
                e["detail-type"].as_str().unwrap_or_default().to_owned(),
                e["detail"].clone(),
            )
        })
        .collect();
    on_bus.sort_by(|a, b| a.0.cmp(&b.0));
    let kinds: Vec<&str> = on_bus.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["Alert", "Ticket Opened", "Ticket Resolved"]);
    assert_eq!(
        on_bus[1].1["fingerprint"],
        serde_json::json!(events[0].fingerprint.as_str())
    );
    assert_eq!(
        on_bus[1].1["sequence"],
        serde_json::json!(events[0].sequence)
    );
    let items = table.items().await;
    assert!(
        items.len() == 1
            && items[0].contains_key("resolved_at")
            && items[0].get("delivered").and_then(|d| d.as_bool().ok()) == Some(&true),
        "the resolve left a delivered tombstone: {items:?}"
    );
    assert!(
        events[0].sequence < events[1].sequence,
        "the resolve's sequence follows the open's"
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
    let table = DedupTable::create(&moto, "broken-dedup").await;
    q.sqs
        .delete_queue()
        .queue_url(&q.ticket_queue_url)
        .send()
        .await
        .expect("delete");
    let err = handler(&moto, &q, &table)
        .await
        .handle(invoke("config-noncompliant-restricted-ssh.json"))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("ticket queue"), "{err}");
    assert!(
        q.drain(&q.digest_queue_url).await.is_empty(),
        "nothing sent after the failed ticket"
    );
}

/// Routing by team: the payments team subscribes its queue to the alert topic with a filter
/// policy on the `account` message attribute, and gets its account's pages and no other.
#[tokio::test(flavor = "multi_thread")]
async fn a_filter_policy_on_account_routes_one_accounts_pages_to_its_team() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "routing").await;
    let table = DedupTable::create(&moto, "routing-dedup").await;
    let payments = q
        .subscribe_filtered(
            &q.alert_topic_arn,
            "payments-team-pages",
            r#"{"account": ["444455556666"], "severity": ["critical"]}"#,
        )
        .await;
    let h = handler(&moto, &q, &table).await;
    let ours = event("config-noncompliant-iam-root-access-key.json");
    let mut theirs = ours.clone();
    theirs["account"] = serde_json::json!("444455556666");
    theirs["detail"]["awsAccountId"] = serde_json::json!("444455556666");
    theirs["detail"]["resourceId"] = serde_json::json!("444455556666");
    for e in [ours, theirs] {
        let s = h
            .handle(LambdaEvent::new(e, Context::default()))
            .await
            .expect("page");
        assert_eq!(s.alerts, 1);
    }
    assert_eq!(
        q.drain(&q.alert_inbox_url).await.len(),
        2,
        "the unfiltered inbox gets both"
    );
    let routed = q.drain(&payments).await;
    assert_eq!(routed.len(), 1, "the team gets its own account's page only");
    let envelope: serde_json::Value =
        serde_json::from_str(routed[0].body().expect("body")).expect("SNS envelope");
    let attributes = &envelope["MessageAttributes"];
    for (name, value) in [
        ("account", "444455556666"),
        ("severity", "critical"),
        ("source", "config"),
        ("rule", "iam-root-access-key-check"),
        ("action", "open"),
        ("kind", "alert"),
    ] {
        assert_eq!(attributes[name]["Value"], value, "{name}: {attributes}");
    }
}
