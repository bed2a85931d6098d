//! The DynamoDB transition log against moto's DynamoDB, in a dedup table shared with dedup
//! items: the same decisions as the in-memory log, concurrent writers that lose nothing, and a
//! failure when the table cannot be reached.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use triage_aws::flap::{DynamoDbTransitionLog, flap_from_attributes};
use triage_aws::{DynamoDbDedupStore, PARTITION_KEY, TTL_ATTRIBUTE};
use triage_core::alarm::AlarmState;
use triage_core::dedup::{Applied, DedupError};
use triage_core::fakes::MemoryTransitionLog;
use triage_core::flap::{FlapSettings, FlapState, FlapStatus, key_of};
use triage_core::ports::{DedupStore, TransitionLog};
use triage_core::{Fingerprint, Source};
use triage_testkit::{DedupTable, MotoServer};

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
        .single()
        .expect("time")
        + TimeDelta::minutes(minutes)
}

fn alarm(name: &str) -> Fingerprint {
    Fingerprint::new(
        Source::Alarm,
        name,
        "111122223333",
        "us-east-1",
        &[&format!(
            "arn:aws:cloudwatch:us-east-1:111122223333:alarm:{name}"
        )],
    )
}

fn state_at(i: i64) -> AlarmState {
    if i % 2 == 0 {
        AlarmState::Alarm
    } else {
        AlarmState::Ok
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dynamodb_log_decides_like_the_memory_log_and_keeps_its_item_beside_the_dedup_items() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "flap-parity").await;
    let dynamo = DynamoDbTransitionLog::new(table.client.clone(), &table.name);
    let memory = MemoryTransitionLog::new();
    let settings = FlapSettings::default();
    let a = alarm("OrdersQueueBacklog");
    // Six changes ten minutes apart, a retry of the fifth, a calm change two hours later.
    let script = [0, 10, 20, 30, 40, 40, 50, 170];
    let mut statuses = Vec::new();
    for (i, minute) in script.iter().enumerate() {
        let state = state_at(i as i64);
        let d = dynamo.record(&settings, &a, t(*minute), state).await;
        let m = memory.record(&settings, &a, t(*minute), state).await;
        assert_eq!(d, m, "minute {minute}");
        statuses.push(d.expect("recorded"));
    }
    use FlapStatus::{Calm, Calmed, Flapping, Started};
    let started = Started {
        transitions: 5,
        since: t(0),
    };
    assert_eq!(
        statuses,
        [
            Calm,
            Calm,
            Calm,
            Calm,
            started,
            started,
            Flapping,
            Calmed {
                transitions: 5,
                since: t(0)
            }
        ]
    );

    let items = table.items().await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let key = item
        .get(PARTITION_KEY)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    assert_eq!(key, format!("flap#{a}"));
    assert_eq!(
        item.get(TTL_ATTRIBUTE).and_then(|v| v.as_n().ok()).cloned(),
        Some((t(170) + TimeDelta::days(30)).timestamp().to_string()),
        "expires with the dedup retention after the latest change"
    );
    let stored = flap_from_attributes(item).expect("readable");
    assert_eq!(Some(stored.clone()), memory.get(&key));
    assert_eq!(
        stored.transitions,
        [t(10), t(20), t(30), t(40), t(50), t(170)][1..]
    );

    // The alarm's own dedup item is a different key: the dedup store does not see the flap item.
    let dedup = DynamoDbDedupStore::new(table.client.clone(), &table.name);
    assert_eq!(dedup.load(&a).await, Ok(None));
}

/// One request at a time. DynamoDB applies each conditional write atomically; moto's threaded
/// server checks a condition and writes in two steps, so two writers can both pass (seen once
/// in CI: 11 of 12 changes kept, none failed). The writers' read–decide–write sequences still
/// interleave freely, which is the contention under test.
struct OneRequestAtATime<L>(L, tokio::sync::Mutex<()>);

impl<L: TransitionLog> TransitionLog for OneRequestAtATime<L> {
    async fn load(&self, key: &str) -> Result<Option<FlapState>, DedupError> {
        let _turn = self.1.lock().await;
        self.0.load(key).await
    }

    async fn store(
        &self,
        state: &FlapState,
        expected_version: Option<u64>,
    ) -> Result<Applied, DedupError> {
        let _turn = self.1.lock().await;
        self.0.store(state, expected_version).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invocations_recording_changes_of_one_alarm_lose_none() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "flap-concurrent").await;
    let log = Arc::new(OneRequestAtATime(
        DynamoDbTransitionLog::new(table.client.clone(), &table.name),
        tokio::sync::Mutex::new(()),
    ));
    let settings = FlapSettings::new(100, 24 * 60);
    let a = alarm("Busy");
    let mut tasks = Vec::new();
    for i in 0..12 {
        let log = Arc::clone(&log);
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            log.record(&settings, &a, t(i), state_at(i)).await
        }));
    }
    let mut started = 0;
    for task in tasks {
        match task.await.expect("joined") {
            Ok(FlapStatus::Calm) => {}
            Ok(other) => panic!("12 changes of 100 allowed: {other:?}"),
            // Lost the race eight times in a row: the invocation fails and Lambda retries it.
            Err(e @ DedupError::Contention { .. }) => {
                assert!(e.is_retryable());
                started += 1;
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    let stored = log.load(&key_of(&a)).await.expect("load").expect("stored");
    assert_eq!(
        stored.transitions.len() + started,
        12,
        "every change is stored unless its invocation failed (to be retried)"
    );
    assert_eq!(stored.version as usize, stored.transitions.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_are_conditional_and_an_unreachable_table_is_a_retryable_error() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "flap-conditions").await;
    let log = DynamoDbTransitionLog::new(table.client.clone(), &table.name);
    let mut s = FlapState::new(key_of(&alarm("x")));
    s.version = 1;
    s.transitions = vec![t(0)];
    s.expires_at = t(60 * 24 * 30);
    assert_eq!(log.store(&s, None).await, Ok(Applied::Yes));
    assert_eq!(log.store(&s, None).await, Ok(Applied::Conflict), "exists");
    s.version = 2;
    assert_eq!(log.store(&s, Some(7)).await, Ok(Applied::Conflict), "stale");
    assert_eq!(log.store(&s, Some(1)).await, Ok(Applied::Yes));
    assert_eq!(log.load(&s.key).await, Ok(Some(s)));

    let missing = DynamoDbTransitionLog::new(table.client.clone(), "no-such-table");
    let e = missing
        .record(&FlapSettings::default(), &alarm("x"), t(0), AlarmState::Ok)
        .await;
    assert!(
        matches!(&e, Err(e @ DedupError::Unavailable { .. }) if e.is_retryable()),
        "{e:?}"
    );
}
