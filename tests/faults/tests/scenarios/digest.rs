//! The digest function behind the fault proxy: a publish that fails deletes nothing and its
//! entries are in a later digest; faults on receiving and deleting lose no entry, and count one
//! twice only where the run reported that it could not delete it. Each entry has a rule of its
//! own, so the published JSON (`rules[].occurrences`) shows every entry and how often it was
//! counted.
//!
//! Time is not waited for: between runs, the messages a failed run left in flight are made
//! visible again (`ChangeMessageVisibility` to 0, with the receipt handles the proxy relayed),
//! which is what their visibility timeout running out does.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use digest::handler::{Handler, HandlerError, Summary};
use digest::{Settings, assemble};
use fault_tests::{Clients, make_visible};
use serde_json::Value;
use stack_tests::function_env;
use triage_aws::Aws;
use triage_core::fakes::{at, finding};
use triage_core::ports::{Backend, DigestSink};
use triage_core::{DigestEntry, DigestKind, Finding};
use triage_lambda::ErrorType;
use triage_testkit::faults::{FaultPlan, FaultProxy};
use triage_testkit::{MotoServer, Queues, TopicInbox, queue_depth};

/// A digest entry with a rule of its own.
fn entry(i: i64) -> DigestEntry {
    let f = Finding {
        first_seen: at(i),
        last_seen: at(i),
        ..finding(&format!("fault-rule-{i:03}"))
    };
    DigestEntry::new(DigestKind::New, &f)
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// rule id → occurrences, summed over every digest published to the topic so far, and the
/// number of digest parts published.
async fn counted(q: &Queues, topic: &TopicInbox) -> (BTreeMap<String, u64>, usize) {
    let mut rules = BTreeMap::new();
    let notifications = topic.notifications(q).await;
    for n in &notifications {
        let machine: Value =
            serde_json::from_str(n["Message"].as_str().expect("Message")).expect("digest JSON");
        for r in machine["rules"].as_array().expect("rules") {
            *rules
                .entry(r["rule_id"].as_str().expect("rule_id").to_owned())
                .or_default() += r["occurrences"].as_u64().expect("occurrences");
        }
    }
    (rules, notifications.len())
}

async fn depth(q: &Queues) -> usize {
    let (visible, in_flight) = queue_depth(q, &q.digest_queue_url).await;
    visible + in_flight
}

/// The queue with `entries` entries, each sent as a classifier invocation with one finding
/// sends it (the digest sink that ships, directly on moto), and the digest function as it
/// ships, with the template's settings, through the proxy.
async fn setup(
    moto: &MotoServer,
    proxy: &FaultProxy,
    name: &str,
    entries: i64,
) -> (Queues, TopicInbox, Handler<Aws>) {
    let q = Queues::create(moto, name).await;
    let topic = TopicInbox::create(&q, &format!("{name}-digest")).await;
    let sink = Aws::new(&moto.sdk_config().await).digest_sink(&q.digest_queue_url);
    for i in 0..entries {
        sink.send_entries(&[entry(i)]).await.expect("entry queued");
    }
    let stand_ins = BTreeMap::from([
        ("DigestQueue", q.digest_queue_url.clone()),
        ("DigestTopic", topic.topic_arn.clone()),
    ]);
    let settings = Settings::from(&function_env("digest", &stand_ins)).expect("settings");
    let clients = Clients::through(proxy, name).await;
    let aws = Aws::from_clients(clients.sqs, clients.sns, clients.dynamodb);
    (q, topic, assemble(settings, &aws))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_deletes_nothing_and_faults_lose_no_entry_nor_count_one_twice() {
    const ENTRIES: i64 = 120;
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let (q, topic, h) = setup(&moto, &proxy, "dgfault", ENTRIES).await;

    // The publish fails whatever the SDK's three attempts do: nothing is deleted.
    for (scenario, plan) in [
        (
            "digest-publish-throttle",
            FaultPlan::seeded(11).throttle(1.0),
        ),
        (
            "digest-publish-500",
            FaultPlan::seeded(12).internal_error(1.0),
        ),
        (
            "digest-publish-drop-before",
            FaultPlan::seeded(13).drop_before(1.0),
        ),
    ] {
        proxy.take_stats();
        proxy.set_plan(plan.only(&["Publish"]));
        let err = h.run(deadline()).await.expect_err("the publish fails");
        proxy.set_plan(FaultPlan::none());
        let stats = proxy.take_stats();
        assert!(matches!(err, HandlerError::Publish(_)), "{err}");
        assert_eq!(err.error_type(), "PublishFailed");
        assert_eq!(
            stats.operation("Publish").requests,
            3,
            "{scenario}: the SDK's standard retry made three attempts"
        );
        assert_eq!(depth(&q).await, 120, "{scenario}: nothing deleted");
        let (_, published) = counted(&q, &topic).await;
        assert_eq!(published, 0, "{scenario}: nothing published");
        eprintln!(
            "scenario={scenario} function=digest entries_in={ENTRIES} digests_published=0 deleted=0 left_on_queue={} lost=0 injected={}",
            depth(&q).await,
            stats.total
        );
        make_visible(&q.sqs, &q.digest_queue_url, &proxy.receipt_handles()).await;
    }

    // Faults on receiving and deleting; runs follow each other until the queue is empty.
    proxy.take_stats();
    proxy.set_plan(
        FaultPlan::seeded(14)
            .throttle(0.1)
            .internal_error(0.1)
            .drop_before(0.1)
            .drop_after(0.1)
            .partial_batch(0.3)
            .only(&["ReceiveMessage", "DeleteMessageBatch"]),
    );
    let mut runs = 0;
    let mut failed_runs: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut not_deleted = 0;
    let mut summaries: Vec<Summary> = Vec::new();
    while depth(&q).await > 0 {
        runs += 1;
        assert!(runs <= 12, "the queue drains within 12 runs");
        match h.run(deadline()).await {
            Ok(s) => summaries.push(s),
            Err(e) => {
                if let HandlerError::Delete { failed, .. } = &e {
                    not_deleted += failed;
                }
                *failed_runs.entry(e.error_type()).or_default() += 1;
            }
        }
        make_visible(&q.sqs, &q.digest_queue_url, &proxy.receipt_handles()).await;
    }
    proxy.set_plan(FaultPlan::none());
    let stats = proxy.take_stats();

    let (rules, published) = counted(&q, &topic).await;
    let lost = (0..ENTRIES)
        .filter(|i| !rules.contains_key(&format!("fault-rule-{i:03}")))
        .count();
    let counted_twice: u64 = rules.values().map(|n| n.saturating_sub(1)).sum();
    eprintln!(
        "scenario=digest-sqs-faults function=digest entries_in={ENTRIES} runs={runs} failed_runs={failed_runs:?} digests_published={published} entries_counted={} lost={lost} counted_twice={counted_twice} reported_not_deleted={not_deleted} injected={}",
        rules.values().sum::<u64>(),
        stats.total
    );
    assert!(
        stats.total.injected() >= 5,
        "faults were injected: {}",
        stats.total
    );
    assert_eq!(lost, 0, "every entry is in a digest");
    assert_eq!(rules.len() as i64, ENTRIES, "nothing but the entries");
    assert!(
        counted_twice <= not_deleted as u64,
        "an entry is counted twice only when the run said it could not delete it ({counted_twice} > {not_deleted})"
    );
    assert_eq!(depth(&q).await, 0, "the queue is empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_published_but_never_acknowledged_is_published_again() {
    const ENTRIES: i64 = 30;
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let (q, topic, h) = setup(&moto, &proxy, "dgdup", ENTRIES).await;

    // Every Publish takes effect, and every answer is lost: the SDK retries (three attempts),
    // the run fails and deletes nothing.
    proxy.set_plan(FaultPlan::seeded(21).drop_after(1.0).only(&["Publish"]));
    let err = h
        .run(deadline())
        .await
        .expect_err("publish not acknowledged");
    assert!(matches!(err, HandlerError::Publish(_)), "{err}");
    proxy.set_plan(FaultPlan::none());
    let stats = proxy.take_stats();
    assert_eq!(depth(&q).await, 30, "nothing deleted");
    make_visible(&q.sqs, &q.digest_queue_url, &proxy.receipt_handles()).await;
    let summary = h.run(deadline()).await.expect("the next run publishes");
    assert_eq!((summary.entries, summary.published), (30, 1));
    assert_eq!(depth(&q).await, 0);

    let (rules, published) = counted(&q, &topic).await;
    let unacknowledged = stats.operation("Publish").dropped_after as usize;
    assert_eq!(unacknowledged, 3);
    assert_eq!(
        published,
        1 + unacknowledged,
        "each unacknowledged publish reached the topic: SNS Publish is not idempotent"
    );
    assert!(rules.values().all(|n| *n == published as u64));
    assert_eq!(rules.len() as i64, ENTRIES, "nothing lost");
    eprintln!(
        "scenario=digest-publish-drop-after function=digest entries_in={ENTRIES} digests_published={published} lost=0 counted_more_than_once={ENTRIES} (each entry in {published} digests: a publish whose answer is lost cannot be told from one that failed) injected={}",
        stats.total
    );
}
