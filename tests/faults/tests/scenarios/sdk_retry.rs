//! What the real AWS SDK makes of each injected fault: the error code its retry classifier
//! sees, and that its standard retry (three attempts, what the functions run with) retries every
//! one of them; and what the SQS adapter does with entries a batch answer reports failed.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use fault_tests::{Clients, drain_and_delete};
use triage_aws::{
    BatchPolicy, DynamoDbDedupStore, SqsTicketSink, WRITE_TOKEN_PREFIX, item_from_attributes,
};
use triage_core::dedup::{
    Applied, DedupError, DedupOptions, Observation, Outcome, Why, Write, decide, observe, origin_of,
};
use triage_core::fakes::finding;
use triage_core::ports::DedupStore;
use triage_core::ports::{SinkError, TicketSink};
use triage_core::{Finding, TicketAction, TicketEvent};
use triage_testkit::faults::{Fault, FaultPlan, FaultProxy, RANDOM_TOKEN_PREFIXES};
use triage_testkit::{DedupTable, MotoServer, Queues};

fn plan(fault: Fault) -> FaultPlan {
    let p = FaultPlan::seeded(5);
    match fault {
        Fault::Throttle => p.throttle(1.0),
        Fault::InternalError => p.internal_error(1.0),
        Fault::DropBefore => p.drop_before(1.0),
        Fault::DropAfter => p.drop_after(1.0),
        Fault::PartialBatch => p.partial_batch(1.0),
        Fault::Pass => p,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_recognises_every_injected_fault_as_retryable_and_makes_three_attempts() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let q = Queues::create(&moto, "sdk").await;
    let table = DedupTable::create(&moto, "sdk-dedup").await;
    let c = Clients::through(&proxy, "sdk-retry").await;

    for fault in [
        Fault::Throttle,
        Fault::InternalError,
        Fault::DropBefore,
        Fault::DropAfter,
    ] {
        proxy.take_stats();
        proxy.set_plan(plan(fault));
        // The three calls at once: each waits out the SDK's backoff between its attempts.
        let (sqs, sns, ddb) = tokio::join!(
            c.sqs
                .get_queue_attributes()
                .queue_url(&q.digest_queue_url)
                .send(),
            c.sns
                .get_topic_attributes()
                .topic_arn(&q.alert_topic_arn)
                .send(),
            c.dynamodb
                .get_item()
                .table_name(&table.name)
                .key("fingerprint", AttributeValue::S("x".into()))
                .send(),
        );
        let (sqs, sns, ddb) = (
            sqs.expect_err("SQS fails"),
            sns.expect_err("SNS fails"),
            ddb.expect_err("DynamoDB fails"),
        );
        proxy.set_plan(FaultPlan::none());
        let stats = proxy.take_stats();
        for op in ["GetQueueAttributes", "GetTopicAttributes", "GetItem"] {
            assert_eq!(
                stats.operation(op).requests,
                3,
                "{fault:?} on {op}: the standard retry made three attempts: {stats:?}"
            );
        }
        let codes = (sqs.code(), sns.code(), ddb.code());
        match fault {
            Fault::Throttle => assert_eq!(
                codes,
                (
                    Some("ThrottlingException"),
                    Some("Throttling"),
                    Some("ThrottlingException")
                ),
                "the codes of aws-runtime's THROTTLING_ERRORS"
            ),
            Fault::InternalError => assert_eq!(
                codes,
                (
                    Some("InternalError"),
                    Some("InternalError"),
                    Some("InternalServerError")
                )
            ),
            // A dropped connection is a dispatch or response error, not a service error.
            _ => assert_eq!(codes, (None, None, None)),
        }
        eprintln!(
            "fault={fault:?} sqs={:?} sns={:?} dynamodb={:?} attempts_each=3",
            codes.0, codes.1, codes.2
        );
    }
}

fn ticket(i: usize) -> TicketEvent {
    TicketEvent::new(TicketAction::Open, finding(&format!("sdk-rule-{i}")), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_reported_failed_but_enqueued_are_resent_and_fifo_deduplication_absorbs_them() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let q = Queues::create(&moto, "partial").await;
    let c = Clients::through(&proxy, "sdk-partial").await;
    let sink = SqsTicketSink::new(c.sqs.clone(), &q.ticket_queue_url).with_policy(BatchPolicy {
        attempts: 4,
        backoff: std::time::Duration::from_millis(1),
    });
    let tickets: Vec<TicketEvent> = (0..25).map(ticket).collect();

    // Every answer reports some entries failed (they were enqueued): the adapter re-sends
    // them, four attempts per batch, then fails the call — the invocation would be retried.
    proxy.set_plan(plan(Fault::PartialBatch));
    let err = sink
        .send_tickets(&tickets)
        .await
        .expect_err("still refused");
    assert!(
        matches!(err, SinkError::Rejected { attempts: 4, .. }),
        "{err}"
    );
    let stats = proxy.take_stats();
    assert_eq!(stats.operation("SendMessageBatch").partial_batches, 4);

    // The invocation's retry sends everything again, without faults this time.
    proxy.set_plan(FaultPlan::none());
    sink.send_tickets(&tickets).await.expect("sent");
    let got = drain_and_delete(&q.sqs, &q.ticket_queue_url).await;
    let mut groups: Vec<String> = got
        .iter()
        .map(|m| {
            serde_json::from_str::<TicketEvent>(m.body().unwrap())
                .unwrap()
                .fingerprint
                .as_str()
                .to_owned()
        })
        .collect();
    groups.sort();
    groups.dedup();
    assert_eq!(
        got.len(),
        25,
        "every ticket once: the re-sent copies were deduplicated"
    );
    assert_eq!(groups.len(), 25);
}

/// The router's observation of `finding` at `now`: ticketed, not paged, with a digest line.
fn observation(finding: &Finding, now: chrono::DateTime<chrono::Utc>) -> Observation<'_> {
    Observation {
        finding,
        origin: origin_of(finding),
        now,
        window: chrono::TimeDelta::minutes(60),
        open_after: 1,
        options: DedupOptions::default(),
        send_ticket: true,
        page: false,
        digest: true,
    }
}

/// A new dedup item's `Create`, from the router's own decision for `ticket(i)`'s finding.
fn create(i: usize, now: chrono::DateTime<chrono::Utc>) -> (Finding, Write) {
    let finding = ticket(i).finding;
    let write = decide(None, &observation(&finding, now))
        .expect("decide")
        .write
        .expect("a write");
    (finding, write)
}

/// The dedup store's conditional writes when DynamoDB applies them but the answers are lost:
/// the write's attempt token tells the writer its write applied — after one lost answer (the
/// SDK's retry is refused and returns our own item) and after three (a consistent read finds
/// it) — a count applies once however often the SDK sends it, and a write that never reached
/// the table stays a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_write_whose_answer_is_lost_is_known_applied_by_its_token() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let table = DedupTable::create(&moto, "sdk-token").await;
    let c = Clients::through(&proxy, "sdk-token").await;
    let store = DynamoDbDedupStore::new(c.dynamodb.clone(), &table.name);
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let stored_total = || async {
        let items = table.items().await;
        assert_eq!(items.len(), 1);
        item_from_attributes(&items[0]).expect("item").total
    };

    // The first answer to the create is lost; the SDK's retry meets the item it wrote.
    let (finding, write) = create(1, now);
    proxy.set_plan(
        FaultPlan::seeded(11)
            .drop_after(1.0)
            .only(&["PutItem"])
            .first_sightings(1),
    );
    assert_eq!(store.write(&write).await, Ok(Applied::Yes));
    let stats = proxy.take_stats();
    assert_eq!(
        (
            stats.operation("PutItem").requests,
            stats.operation("PutItem").dropped_after
        ),
        (2, 1),
        "{stats:?}"
    );
    assert_eq!(stats.operation("GetItem").requests, 0, "no read needed");
    assert_eq!(stored_total().await, 1);

    // Every answer to a count is lost: three attempts reach the table, one applies, and the
    // read afterwards finds the token.
    let count = Write::Count {
        fingerprint: finding.fingerprint.clone(),
        generation: 1,
        add: 1,
        last_seen: now,
        expires_at: now + chrono::TimeDelta::days(30),
        take_over: None,
    };
    proxy.set_plan(FaultPlan::seeded(12).drop_after(1.0).only(&["UpdateItem"]));
    assert_eq!(store.write(&count).await, Ok(Applied::Yes));
    let stats = proxy.take_stats();
    assert_eq!(stats.operation("UpdateItem").requests, 3, "{stats:?}");
    assert_eq!(stats.operation("UpdateItem").dropped_after, 3);
    assert_eq!(stats.operation("GetItem").requests, 1);
    assert_eq!(stored_total().await, 2, "counted once, not three times");

    // A count that never reaches the table: the read finds another token; still a failure.
    proxy.set_plan(FaultPlan::seeded(13).drop_before(1.0).only(&["UpdateItem"]));
    let err = store.write(&count).await.expect_err("not applied");
    assert!(matches!(err, DedupError::Unavailable { .. }), "{err}");
    proxy.set_plan(FaultPlan::none());
    assert_eq!(stored_total().await, 2);

    // And a refusal that is somebody else's write stays a conflict.
    assert_eq!(store.write(&write).await, Ok(Applied::Conflict));
}

/// End to end: the router's observation of a new finding, with the first answer to its create
/// lost, tickets once and does not fail as "in flight" on its own claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_the_opening_write_still_opens_the_ticket_at_once() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto, FaultPlan::none());
    let table = DedupTable::create(&moto, "sdk-open").await;
    let c = Clients::through(&proxy, "sdk-open").await;
    let store = DynamoDbDedupStore::new(c.dynamodb.clone(), &table.name);
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let finding = ticket(2).finding;
    let obs = observation(&finding, now);
    proxy.set_plan(
        FaultPlan::seeded(14)
            .drop_after(1.0)
            .only(&["PutItem"])
            .first_sightings(1),
    );
    let outcome = observe(&store, &obs).await.expect("observed");
    assert!(
        matches!(outcome, Outcome::Deliver { why: Why::Open, .. }),
        "{outcome:?}"
    );
}

/// The proxy masks the dedup store's write tokens before it draws a fault, so that the same
/// faults fall on the same writes in every run.
#[test]
fn the_proxy_masks_the_tokens_the_dedup_store_writes() {
    assert!(RANDOM_TOKEN_PREFIXES.contains(&WRITE_TOKEN_PREFIX));
}
