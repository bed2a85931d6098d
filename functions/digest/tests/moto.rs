//! The digest end to end against moto server, every function as it ships (`assemble`, the AWS
//! backend, the template's settings): a storm routed by config-classifier (DynamoDB dedup state,
//! packed digest entries) is drained by the digest function and published as one SNS digest,
//! read back from an SQS queue subscribed to the digest topic; messages are deleted only after
//! the publish.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use digest::handler::{Handler, Summary};
use lambda_runtime::{Context, LambdaEvent};
use stack_tests::{function_env, stand_ins};
use triage_aws::Aws;
use triage_core::clock::ManualClock;
use triage_core::fakes::{at, finding};
use triage_core::ports::{Backend, DigestSink};
use triage_core::{DigestEntry, DigestKind, Finding, TicketEvent};
use triage_lambda::ErrorType;
use triage_testkit::{DedupTable, MotoServer, Queues, TopicInbox, event, queue_depth, repo_root};

/// The restricted-ssh sample as its `i`-th occurrence: own event id, `i` minutes later.
fn ssh_occurrence(i: i64) -> serde_json::Value {
    let mut e = event("config-noncompliant-restricted-ssh.json");
    let at = Utc
        .with_ymd_and_hms(2024, 3, 3, 15, 54, 28)
        .single()
        .expect("time")
        + TimeDelta::minutes(i);
    e["id"] = format!("c0d1e2f3-0415-2637-4859-{i:012x}").into();
    e["detail"]["newEvaluationResult"]["resultRecordedTime"] = at.to_rfc3339().into();
    e
}

/// The digest function as `main.rs` builds it, on these queues and topic.
async fn handler(moto: &MotoServer, q: &Queues, topic_arn: &str) -> Handler<Aws> {
    let stand_ins = BTreeMap::from([
        ("DigestQueue", q.digest_queue_url.clone()),
        ("DigestTopic", topic_arn.to_owned()),
    ]);
    let settings = digest::Settings::from(&function_env("digest", &stand_ins)).expect("settings");
    digest::assemble(settings, &Aws::new(&moto.sdk_config().await))
}

/// Entries on the digest queue as the classifiers send them (packed).
async fn send(moto: &MotoServer, q: &Queues, entries: &[DigestEntry]) {
    Aws::new(&moto.sdk_config().await)
        .digest_sink(&q.digest_queue_url)
        .send_entries(entries)
        .await
        .expect("sent");
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storm_becomes_one_ticket_and_one_sns_digest_and_the_queue_is_emptied_after_the_publish()
{
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "storm").await;
    let topic = TopicInbox::create(&q, "storm-digest").await;
    let table = DedupTable::create(&moto, "storm-dedup").await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2024, 3, 3, 15, 54, 28)
            .single()
            .expect("time"),
    );
    let env = function_env("config-classifier", &stand_ins(&q, &table));
    let settings = config_classifier::Settings::from(&env).expect("settings");
    let aws = Aws::new(&moto.sdk_config().await).with_clock(clock.clone());
    let classifier = config_classifier::assemble(settings, &aws);

    for i in 0..30 {
        clock.set(
            Utc.with_ymd_and_hms(2024, 3, 3, 15, 54, 30)
                .single()
                .expect("time")
                + TimeDelta::minutes(i),
        );
        classifier
            .handle(LambdaEvent::new(ssh_occurrence(i), Context::default()))
            .await
            .expect("routed");
    }
    classifier
        .handle(LambdaEvent::new(
            event("config-compliant-s3-public-read.json"),
            Context::default(),
        ))
        .await
        .expect("resolve");

    let tickets: Vec<TicketEvent> = q
        .drain(&q.ticket_queue_url)
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(
        tickets.len(),
        2,
        "one open for the storm, one resolve for the bucket"
    );
    assert_eq!(
        queue_depth(&q, &q.digest_queue_url).await.0 + queue_depth(&q, &q.digest_queue_url).await.1,
        31
    );

    let h = handler(&moto, &q, &topic.topic_arn).await;
    let summary = h.run(deadline()).await.expect("digest run");
    // SQS delivers at least once (and moto, with four concurrent receivers, now and then hands
    // the same message to two of them): every copy is deleted, each entry counted once.
    assert_eq!((summary.entries, summary.published), (31, 1));
    assert!(summary.received >= 31, "{summary:?}");
    assert_eq!(summary.duplicates as usize, summary.received - 31);
    assert_eq!(summary.deleted, summary.received);
    assert_eq!(
        queue_depth(&q, &q.digest_queue_url).await,
        (0, 0),
        "deleted after the publish"
    );

    let notifications = topic.notifications(&q).await;
    assert_eq!(notifications.len(), 1, "one digest per period");
    let n = &notifications[0];
    assert_eq!(
        n["Subject"],
        "[HIGH] triage digest: 1 new, 29 repeats, 0 suppressed, 1 resolved"
    );
    let machine: serde_json::Value =
        serde_json::from_str(n["Message"].as_str().expect("Message")).expect("JSON");
    assert_eq!(machine["totals"]["occurrences"], 30);
    assert_eq!(machine["totals"]["resolved"], 1);
    assert_eq!(machine["rules"][0]["rule_id"], "restricted-ssh");
    assert_eq!(
        machine["resolved"][0]["rule_id"],
        "s3-bucket-public-read-prohibited"
    );
    let schema_text =
        std::fs::read_to_string(repo_root().join("schema/digest.schema.json")).expect("schema");
    let schema = jsonschema::validator_for(&serde_json::from_str(&schema_text).expect("json"))
        .expect("schema");
    assert!(schema.is_valid(&machine), "{machine}");

    // Nothing left: the next run publishes nothing.
    assert_eq!(
        h.run(deadline()).await.expect("empty run"),
        Summary::default()
    );
    assert_eq!(
        queue_depth(&q, &topic.inbox_url).await,
        (0, 1),
        "no second notification"
    );
}

/// A new-problem entry of `rule` at minute `i` (a rule of its own: a digest line of its own).
fn entry(rule: &str, i: i64) -> DigestEntry {
    let f = Finding {
        first_seen: at(i),
        last_seen: at(i),
        ..finding(rule)
    };
    DigestEntry::new(DigestKind::New, &f)
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_digest_topic_is_gone_the_run_fails_and_deletes_nothing() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "nopub").await;
    let topic = TopicInbox::create(&q, "nopub-digest").await;
    let entries: Vec<DigestEntry> = (0..25).map(|i| entry(&format!("alarm-{i}"), i)).collect();
    send(&moto, &q, &entries).await;
    q.sns
        .delete_topic()
        .topic_arn(&topic.topic_arn)
        .send()
        .await
        .expect("deleted");

    let err = handler(&moto, &q, &topic.topic_arn)
        .await
        .run(deadline())
        .await
        .expect_err("publish fails");
    assert_eq!(err.error_type(), "PublishFailed");
    let sent = triage_aws::pack_digest_entries(&entries, triage_aws::MAX_PACKED_MESSAGE_BYTES)
        .expect("packed")
        .len();
    let (visible, in_flight) = queue_depth(&q, &q.digest_queue_url).await;
    assert_eq!(
        visible + in_flight,
        sent,
        "nothing deleted: the entries are in the next digest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_size_limit_the_digest_arrives_in_numbered_parts() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "parts").await;
    let topic = TopicInbox::create(&q, "parts-digest").await;
    // Enough distinct rules that the complete JSON passes SNS's 256 KiB.
    let entries: Vec<DigestEntry> = (0..2000)
        .map(|i| entry(&format!("alarm-{i:04}-{}", "x".repeat(60)), i))
        .collect();
    send(&moto, &q, &entries).await;

    let summary = handler(&moto, &q, &topic.topic_arn)
        .await
        .run(deadline())
        .await
        .expect("run");
    assert!(summary.published > 1, "{summary:?}");
    assert_eq!(summary.entries, 2000);
    assert_eq!(summary.deleted, summary.received, "every copy deleted");
    let mut notifications = topic.notifications(&q).await;
    assert_eq!(notifications.len(), summary.published);
    notifications.sort_by_key(|n| {
        serde_json::from_str::<serde_json::Value>(n["Message"].as_str().unwrap()).unwrap()["part"].as_u64()
    });
    let mut rules = 0;
    for (i, n) in notifications.iter().enumerate() {
        let subject = n["Subject"].as_str().expect("subject");
        assert!(
            subject.ends_with(&format!("(part {}/{})", i + 1, summary.published)),
            "{subject}"
        );
        let m: serde_json::Value = serde_json::from_str(n["Message"].as_str().unwrap()).unwrap();
        rules += m["rules"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(rules, 2000, "split, never truncated");
}
