//! alarm-classifier as it ships (`assemble`, the AWS backend, the template's settings) against
//! moto server: what lands on the
//! FIFO ticket queue, the digest queue and the alert topic is exactly what a ticket system and an
//! inbox read; storm control (dedup state, flapping) keeps its state in a moto dedup table.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed expectation is the test failing, with its message"
)]

use alarm_classifier::handler::{Handler, Summary};
use alarm_classifier::{Settings, assemble};
use lambda_runtime::{Context, LambdaEvent};
use stack_tests::{function_env, stand_ins, ticket_of};
use triage_aws::Aws;
use triage_core::alarm::{AlarmClassifier, AlarmOptions};
use triage_core::inbound::unwrap_envelopes;
use triage_core::{DigestEntry, DigestKind, Finding, Severity, TicketAction, TicketEvent};
use triage_testkit::{DedupTable, MotoServer, Queues, event};

fn classifier() -> AlarmClassifier {
    AlarmClassifier::shipped(AlarmOptions::default()).expect("alarm policy")
}

/// The function as `main.rs` builds it: packed digest entries, dedup state and flap states in
/// one table, the template's settings.
async fn handler(moto: &MotoServer, q: &Queues, table: &DedupTable) -> Handler<Aws> {
    let env = function_env("alarm-classifier", &stand_ins(q, table));
    let settings = Settings::from(&env).expect("settings from the template");
    assemble(settings, &Aws::new(&moto.sdk_config().await))
}

fn invoke(name: &str) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(event(name), Context::default())
}

/// The finding the pure classifier makes of the one good record of a sample.
fn expected_finding(name: &str) -> Finding {
    let mut found: Vec<Finding> = unwrap_envelopes(event(name))
        .into_iter()
        .filter_map(|inner| inner.event.ok())
        .filter_map(|e| classifier().findings(&e).ok())
        .flatten()
        .collect();
    assert_eq!(found.len(), 1, "{name}");
    found.remove(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sns_alarm_batch_then_its_ok_is_one_ticket_opened_and_resolved_and_the_seed_alarm_only_a_digest_line()
 {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "alarm").await;
    let table = DedupTable::create(&moto, "alarm-dedup").await;
    let h = handler(&moto, &q, &table).await;

    // An SNS batch: a non-JSON message, the CIS root-usage ALARM, an alarm of an unknown type.
    let opened = h
        .handle(invoke("sns-alarm-batch-with-bad-records.json"))
        .await
        .expect("open");
    assert_eq!(
        opened,
        Summary {
            findings: 1,
            tickets: 1,
            digest_entries: 1,
            alerts: 1,
            invalid: 2,
            ..Summary::default()
        }
    );
    // Lambda retries the same SNS event: the dedup state knows it was delivered.
    let retried = h
        .handle(invoke("sns-alarm-batch-with-bad-records.json"))
        .await
        .expect("retry");
    assert_eq!((retried.tickets, retried.alerts), (0, 0));
    let resolved = h
        .handle(invoke("sns-alarm-cis-root-usage-ok.json"))
        .await
        .expect("resolve");
    assert_eq!((resolved.tickets, resolved.alerts), (1, 0));
    // The template's own seed alarm: log-detector owns the ticket, this is a digest line.
    let linked = h
        .handle(invoke("alarm-seed-root-usage-linked.json"))
        .await
        .expect("linked");
    assert_eq!(
        (linked.tickets, linked.digest_entries, linked.alerts),
        (0, 1, 0)
    );

    let tickets: Vec<TicketEvent> = q
        .drain(&q.ticket_queue_url)
        .await
        .iter()
        .map(ticket_of)
        .collect();
    let sequence = |i: usize| tickets.get(i).map_or(0, |t| t.sequence);
    assert!(
        sequence(0) < sequence(1),
        "the resolve comes after the open"
    );
    let want_open = TicketEvent::new(
        TicketAction::Open,
        expected_finding("sns-alarm-batch-with-bad-records.json"),
        sequence(0),
    );
    let want_resolve = TicketEvent::new(
        TicketAction::Resolve,
        expected_finding("sns-alarm-cis-root-usage-ok.json"),
        sequence(1),
    );
    assert_eq!(
        tickets,
        [want_open.clone(), want_resolve],
        "exactly open + resolve, nothing else"
    );
    let f = &want_open.finding;
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.rule_id.as_str(), "CIS-1.7-RootAccountUsage");
    assert_eq!(f.region.as_str(), "us-east-1");
    assert_eq!(
        f.resources[0].arn.as_ref().map(|a| a.as_str()),
        Some("arn:aws:cloudwatch:us-east-1:111122223333:alarm:CIS-1.7-RootAccountUsage")
    );

    let digest: Vec<DigestEntry> = q
        .drain(&q.digest_queue_url)
        .await
        .iter()
        .flat_map(|m| {
            triage_core::digest::parse_message(m.body().expect("body")).expect("digest message")
        })
        .collect();
    let summary: Vec<(DigestKind, Severity, &str)> = digest
        .iter()
        .map(|d| (d.kind, d.severity, d.rule_id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                DigestKind::New,
                Severity::Critical,
                "CIS-1.7-RootAccountUsage"
            ),
            (
                DigestKind::Resolved,
                Severity::Critical,
                "CIS-1.7-RootAccountUsage"
            ),
            (DigestKind::New, Severity::Low, "triage-root-account-usage"),
        ]
    );
    assert_eq!(
        digest[0],
        DigestEntry::new(DigestKind::New, &want_open.finding)
    );
    assert_eq!(digest[0].fingerprint, digest[1].fingerprint);

    let pages = q.drain(&q.alert_inbox_url).await;
    assert_eq!(pages.len(), 1, "one page: the retry was already delivered");
    let notification: serde_json::Value =
        serde_json::from_str(pages[0].body().expect("body")).expect("SNS JSON");
    assert!(
        notification["Subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("[CRITICAL] Root account used") && s.len() <= 99),
        "{notification}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_ticket_queue_fails_the_invocation_instead_of_reporting_success() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "alarm-broken").await;
    let table = DedupTable::create(&moto, "alarm-broken-dedup").await;
    q.sqs
        .delete_queue()
        .queue_url(&q.ticket_queue_url)
        .send()
        .await
        .expect("delete");
    let err = handler(&moto, &q, &table)
        .await
        .handle(invoke("alarm-metric-alarm.json"))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("ticket queue"), "{err}");
    assert!(
        q.drain(&q.digest_queue_url).await.is_empty(),
        "nothing sent after the failed ticket"
    );
}

// ------------------------------------------------------------------ storm control

use triage_aws::PARTITION_KEY;
use triage_aws::flap::flap_from_attributes;
use triage_core::alarm::FLAPPING_RULE;

/// `ServerCpuTooHigh` changing state at 2024-06-11 08:00 + `minute`, alternately to ALARM and OK.
fn change(i: usize, minute: u32) -> LambdaEvent<serde_json::Value> {
    let (from, to) = if i % 2 == 0 {
        ("OK", "ALARM")
    } else {
        ("ALARM", "OK")
    };
    let mut e = event("alarm-metric-alarm.json");
    e["detail"]["previousState"]["value"] = from.into();
    e["detail"]["state"]["value"] = to.into();
    e["detail"]["state"]["timestamp"] = format!(
        "2024-06-11T{:02}:{:02}:00.000+0000",
        8 + minute / 60,
        minute % 60
    )
    .into();
    LambdaEvent::new(e, Context::default())
}

async fn digest_entries(q: &Queues) -> Vec<DigestEntry> {
    q.drain(&q.digest_queue_url)
        .await
        .iter()
        .flat_map(|m| {
            triage_core::digest::parse_message(m.body().expect("body")).expect("digest message")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn six_state_changes_are_exactly_one_flapping_ticket_and_no_ticket_per_change_after_the_threshold()
 {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "alarm-flap").await;
    let table = DedupTable::create(&moto, "alarm-flap-dedup").await;
    let h = handler(&moto, &q, &table).await;
    let minutes = [0, 10, 20, 30, 40, 50];
    for (i, minute) in minutes.into_iter().enumerate() {
        let s = h.handle(change(i, minute)).await.expect("handled");
        assert_eq!(s.flapping, usize::from(i >= 4), "change {i}");
    }
    // Lambda retries the invocation that reported the flapping: nothing new reaches the queue.
    h.handle(change(4, 40)).await.expect("retry");

    let tickets: Vec<TicketEvent> = q
        .drain(&q.ticket_queue_url)
        .await
        .iter()
        .map(ticket_of)
        .collect();
    let flapping: Vec<&TicketEvent> = tickets
        .iter()
        .filter(|t| t.finding.rule_id.as_str() == FLAPPING_RULE)
        .collect();
    assert_eq!(
        flapping.len(),
        1,
        "exactly one flapping ticket: {tickets:#?}"
    );
    assert_eq!(flapping[0].action, TicketAction::Open);
    assert_eq!(
        flapping[0].finding.title.as_str(),
        "CloudWatch alarm ServerCpuTooHigh is flapping: 5 state changes in 60 min"
    );
    assert_eq!(flapping[0].finding.severity, Severity::Medium);
    let per_change: Vec<(TicketAction, String)> = tickets
        .iter()
        .filter(|t| t.finding.rule_id.as_str() == "ServerCpuTooHigh")
        .map(|t| (t.action, t.finding.last_seen.format("%H:%M").to_string()))
        .collect();
    assert_eq!(
        per_change,
        [
            (TicketAction::Open, "08:00".to_owned()),
            (TicketAction::Resolve, "08:10".to_owned()),
            (TicketAction::Open, "08:20".to_owned()),
            (TicketAction::Resolve, "08:30".to_owned()),
        ],
        "the changes before the threshold only"
    );
    assert_eq!(tickets.len(), 5);
    assert!(
        q.drain(&q.alert_inbox_url).await.is_empty(),
        "medium never pages"
    );

    let digest = digest_entries(&q).await;
    let repeats: std::collections::BTreeSet<&str> = digest
        .iter()
        .filter(|d| d.kind == DigestKind::Repeat && d.rule_id.as_str() == "ServerCpuTooHigh")
        .map(|d| d.entry_id.as_str())
        .collect();
    assert_eq!(
        repeats.len(),
        2,
        "the 5th and 6th changes reach the digest (the retry's copy counts once): {digest:#?}"
    );

    // The flap state sits in the dedup table beside the flapping finding's dedup item.
    let items = table.items().await;
    let flap_items: Vec<_> = items
        .iter()
        .filter(|i| {
            i.get(PARTITION_KEY)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|k| k.starts_with("flap#"))
        })
        .collect();
    assert_eq!(flap_items.len(), 1);
    let state = flap_from_attributes(flap_items[0]).expect("readable");
    assert_eq!(state.key, format!("flap#{}", tickets[0].fingerprint));
    assert_eq!(state.transitions.len(), 5, "the last N+1 changes");
    assert!(state.reported_at.is_some());
    assert!(
        items.iter().any(|i| i
            .get(PARTITION_KEY)
            .and_then(|v| v.as_s().ok())
            .is_some_and(|k| k == flapping[0].fingerprint.as_str())),
        "the flapping ticket's dedup state"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_alarm_twice_inside_its_dedup_window_is_one_ticket() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "alarm-dedup").await;
    let table = DedupTable::create(&moto, "alarm-dedup-table").await;
    let h = handler(&moto, &q, &table).await;
    let first = h
        .handle(invoke("alarm-metric-alarm.json"))
        .await
        .expect("first");
    let second = h
        .handle(invoke("alarm-metric-alarm-repeat.json"))
        .await
        .expect("second");
    assert_eq!((first.tickets, second.tickets, second.repeats), (1, 0, 1));
    let tickets = q.drain(&q.ticket_queue_url).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(ticket_of(&tickets[0]).action, TicketAction::Open);
    let kinds: Vec<DigestKind> = digest_entries(&q).await.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DigestKind::New, DigestKind::Repeat]);
}
