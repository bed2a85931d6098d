//! The DynamoDB dedup store against moto's DynamoDB: concurrent writers, the same semantics as
//! the in-memory store, and a failure when the table cannot be reached.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use triage_aws::{DynamoDbDedupStore, item_from_attributes};
use triage_core::clock::ManualClock;
use triage_core::dedup::{Applied, DedupError, DedupItem, DedupWindows, Write};
use triage_core::fakes::MemoryDedupStore;
use triage_core::fakes::{MemoryAlertPublisher, MemoryDigestSink, MemoryTicketSink};
use triage_core::policy::{SeverityPolicy, Thresholds};
use triage_core::ports::DedupStore;
use triage_core::router::{RouteError, Router};
use triage_core::{
    DigestKind, Evidence, Finding, Fingerprint, SafeText, Severity, Source, Status, TicketAction,
};
use triage_testkit::{DedupTable, MotoServer};

type MemoryRouter = Router<MemoryTicketSink, MemoryDigestSink, MemoryAlertPublisher>;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
        .single()
        .expect("time")
        + TimeDelta::minutes(minutes)
}

/// An occurrence of the same problem (same fingerprint) with its own event id.
fn occurrence(event: &str, minute: i64) -> Finding {
    Finding {
        fingerprint: Fingerprint::new(
            Source::Cloudtrail,
            "unauthorized-api-calls",
            "111122223333",
            "us-east-1",
            &["arn:aws:iam::111122223333:role/app"],
        ),
        status: Status::Active,
        severity: Severity::Critical,
        source: Source::Cloudtrail,
        rule_id: SafeText::new("unauthorized-api-calls"),
        title: SafeText::new("AccessDenied storm"),
        description: SafeText::new("d"),
        account: SafeText::new("111122223333"),
        region: SafeText::new("us-east-1"),
        resources: vec![],
        principal: Some(SafeText::new("arn:aws:iam::111122223333:role/app")),
        first_seen: t(minute),
        last_seen: t(minute),
        count: 1,
        evidence: Evidence {
            event_id: Some(SafeText::new(event)),
            ..Evidence::default()
        },
        console_url: None,
        remediation: SafeText::new("r"),
    }
}

fn router(clock: &ManualClock) -> MemoryRouter {
    Router::new(
        SeverityPolicy::default(),
        Thresholds::default(),
        MemoryTicketSink::default(),
        MemoryDigestSink::default(),
        MemoryAlertPublisher::default(),
    )
    .with_clock(clock.clone())
}

/// One store call at a time. DynamoDB applies each conditional write atomically; moto's
/// threaded server checks a condition and writes in two steps, so two concurrent creates can
/// both pass there. The invocations' read–decide–write sequences still interleave freely,
/// which is the race under test.
struct OneRequestAtATime(DynamoDbDedupStore, tokio::sync::Mutex<()>);

impl OneRequestAtATime {
    fn new(table: &DedupTable) -> Self {
        OneRequestAtATime(
            DynamoDbDedupStore::new(table.client.clone(), &table.name),
            tokio::sync::Mutex::new(()),
        )
    }
}

impl DedupStore for OneRequestAtATime {
    async fn load(&self, fingerprint: &Fingerprint) -> Result<Option<DedupItem>, DedupError> {
        let _turn = self.1.lock().await;
        self.0.load(fingerprint).await
    }

    async fn write(&self, write: &Write) -> Result<Applied, DedupError> {
        let _turn = self.1.lock().await;
        self.0.write(write).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_invocations_observing_a_new_problem_open_exactly_one_ticket() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "dedup-concurrent").await;
    let clock = ManualClock::new(t(0));
    let r = Arc::new(router(&clock).with_dedup(OneRequestAtATime::new(&table)));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let r = Arc::clone(&r);
        tasks.push(tokio::spawn(async move {
            r.route(vec![occurrence(&format!("e{i}"), 0)]).await
        }));
    }
    for task in tasks {
        task.await.expect("joined").expect("routed");
    }
    let tickets = r.tickets().sent();
    assert_eq!(
        tickets.iter().map(|t| t.action).collect::<Vec<_>>(),
        [TicketAction::Open]
    );
    assert_eq!(r.alerts().sent().len(), 1, "one page");
    let kinds: Vec<DigestKind> = r.digest().sent().iter().map(|d| d.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == DigestKind::New).count(), 1);
    assert_eq!(
        kinds.iter().filter(|k| **k == DigestKind::Repeat).count(),
        19
    );
    let items = table.items().await;
    assert_eq!(items.len(), 1);
    let item = item_from_attributes(&items[0]).expect("item");
    assert_eq!(item.total, 20, "every occurrence counted");
    assert!(item.pending.is_none(), "marked delivered");
    assert!(item.expires_at > t(60 * 24 * 29), "TTL set a month ahead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deliveries_of_the_same_event_open_once_and_the_others_retry() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "dedup-duplicates").await;
    let clock = ManualClock::new(t(0));
    let r = Arc::new(router(&clock).with_dedup(OneRequestAtATime::new(&table)));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let r = Arc::clone(&r);
        tasks.push(tokio::spawn(async move {
            r.route(vec![occurrence("same-event", 0)]).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("joined") {
            Ok(_) => ok += 1,
            // The owner is delivering: an identical copy must fail retryably, never re-send.
            Err(RouteError::Dedup(e @ DedupError::InFlight { .. })) => assert!(e.is_retryable()),
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert!(ok >= 1);
    assert_eq!(r.tickets().sent().len(), 1);
    assert_eq!(r.alerts().sent().len(), 1);
    let item = item_from_attributes(&table.items().await[0]).expect("item");
    assert_eq!(item.total, 1, "one event, one occurrence");
}

/// The same script through the in-memory store and the DynamoDB store gives the same messages
/// and the same state.
#[tokio::test(flavor = "multi_thread")]
async fn the_dynamodb_store_and_the_memory_store_decide_alike() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "dedup-parity").await;
    let memory_clock = ManualClock::new(t(0));
    let dynamo_clock = ManualClock::new(t(0));
    let memory = Arc::new(MemoryDedupStore::new());
    let with_memory = router(&memory_clock).with_dedup(Arc::clone(&memory));
    let with_dynamo = router(&dynamo_clock)
        .with_dedup(DynamoDbDedupStore::new(table.client.clone(), &table.name));

    // clock minute, event (its id and minute), which sink fails on this call
    let script: [(i64, (&str, i64), Option<&str>); 9] = [
        (0, ("e0", 0), Some("tickets")), // the open's send fails: pending stays, claim released
        (0, ("e1", 0), None),            // another occurrence at once: takes the open over
        (3, ("e0", 0), None),            // e0's retry: already delivered
        (4, ("e0", 0), None),            // a second retry: already delivered
        (30, ("e2", 30), None),          // repeat
        (61, ("e3", 61), Some("digest")), // recurrence: update written, digest send fails
        (65, ("e4", 65), None),          // takes the stale update over, and counts itself
        (70, ("e5", 70), None),          // repeat in the new window
        (70, ("e6", 70), None),          // repeat
    ];
    for (minute, (event, event_minute), fail) in script {
        for (r, clock) in [(&with_memory, &memory_clock), (&with_dynamo, &dynamo_clock)] {
            clock.set(t(minute));
            match fail {
                Some("tickets") => r.tickets().fail_next(1),
                Some("digest") => r.digest().fail_next(1),
                _ => {}
            }
            let result = r.route(vec![occurrence(event, event_minute)]).await;
            assert_eq!(
                result.is_ok(),
                fail.is_none(),
                "minute {minute}: {result:?}"
            );
        }
    }
    // The problem is fixed at minute 75; an older occurrence and an older resolve arrive late.
    for (r, clock) in [(&with_memory, &memory_clock), (&with_dynamo, &dynamo_clock)] {
        clock.set(t(80));
        let mut fixed = occurrence("e7", 75);
        fixed.status = Status::Resolved;
        let resolved = r.route(vec![fixed]).await.expect("resolve");
        assert_eq!(resolved.tickets, 1);
        clock.set(t(90));
        let late = r.route(vec![occurrence("e8", 74)]).await.expect("late");
        assert_eq!((late.stale, late.tickets), (1, 0), "older than the resolve");
    }
    let summary = |r: &MemoryRouter| {
        (
            r.tickets()
                .sent()
                .iter()
                .map(|t| (t.action, t.finding.count, t.body().unwrap()))
                .collect::<Vec<_>>(),
            r.digest()
                .sent()
                .iter()
                .map(|d| (d.kind, d.entry_id.clone()))
                .collect::<Vec<_>>(),
            r.alerts().sent().len(),
        )
    };
    let (a, b) = (summary(&with_memory), summary(&with_dynamo));
    assert_eq!(a, b);
    assert_eq!(
        a.1.iter().map(|d| d.0).collect::<Vec<_>>(),
        [
            DigestKind::New,      // e0's stored entry, delivered by e1 (e0 released its claim)
            DigestKind::Repeat,   // e1 itself
            DigestKind::Repeat,   // e2
            DigestKind::Repeat,   // e3's stored entry, delivered by e4
            DigestKind::Repeat,   // e4 itself
            DigestKind::Repeat,   // e5
            DigestKind::Repeat,   // e6
            DigestKind::Resolved, // e7
        ]
    );
    assert_eq!(
        a.0.iter()
            .map(|(action, count, _)| (*action, *count))
            .collect::<Vec<_>>(),
        [
            (TicketAction::Open, 1),
            (TicketAction::Update, 4),
            (TicketAction::Resolve, 1),
        ],
        "the open once, the update once (its ticket event was marked sent before the digest send failed: the taker sent only the rest), the resolve; the stale events nothing"
    );
    let in_memory = memory.items().pop().expect("memory item");
    let in_dynamo = item_from_attributes(&table.items().await[0]).expect("dynamo item");
    assert_eq!(in_memory, in_dynamo);
    assert_eq!((in_dynamo.generation, in_dynamo.total), (3, 7));
    assert_eq!(in_dynamo.resolved_at, Some(t(75)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_count_threshold_holds_the_ticket_back_alike_on_dynamodb_and_in_memory() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "dedup-threshold").await;
    let clock = ManualClock::new(t(0));
    let windows = || DedupWindows::new(60).with_threshold(None, "unauthorized-*", 3);
    let memory = Arc::new(MemoryDedupStore::new());
    let with_memory = router(&clock)
        .with_dedup(Arc::clone(&memory))
        .with_dedup_windows(windows());
    let with_dynamo = router(&clock)
        .with_dedup(DynamoDbDedupStore::new(table.client.clone(), &table.name))
        .with_dedup_windows(windows());
    // two below the threshold, a window that runs out, then three inside one window and a
    // fourth; the third of them fails its ticket send once and is retried
    for (minute, (event, event_minute), fail) in [
        (0, ("e0", 0), false),
        (10, ("e1", 10), false),
        (80, ("e2", 80), false),
        (85, ("e3", 85), false),
        (90, ("e4", 90), true),
        (91, ("e4", 90), false),
        (95, ("e5", 95), false),
    ] {
        for r in [&with_memory, &with_dynamo] {
            clock.set(t(minute));
            if fail {
                r.tickets().fail_next(1);
            }
            let result = r.route(vec![occurrence(event, event_minute)]).await;
            assert_eq!(result.is_ok(), !fail, "minute {minute}: {result:?}");
        }
    }
    for r in [&with_memory, &with_dynamo] {
        let tickets: Vec<_> = r
            .tickets()
            .sent()
            .iter()
            .map(|t| (t.action, t.finding.count))
            .collect();
        assert_eq!(
            tickets,
            [(TicketAction::Open, 3)],
            "one open, at the third occurrence of the second window"
        );
        let kinds: Vec<_> = r
            .digest()
            .sent()
            .iter()
            .map(|d| (d.kind, d.count, d.last_seen))
            .collect();
        assert_eq!(
            r.digest().sent().len(),
            6,
            "every occurrence in the digest: {kinds:?}"
        );
    }
    let in_memory = memory.items().pop().expect("memory item");
    let in_dynamo = item_from_attributes(&table.items().await[0]).expect("dynamo item");
    assert_eq!(in_memory, in_dynamo);
    assert!(!in_dynamo.quiet);
    assert_eq!(in_dynamo.total, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_table_fails_the_invocation_and_sends_nothing() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "dedup-gone").await;
    table
        .client
        .delete_table()
        .table_name(&table.name)
        .send()
        .await
        .expect("deleted");
    let clock = ManualClock::new(t(0));
    let r = router(&clock).with_dedup(DynamoDbDedupStore::new(table.client.clone(), &table.name));
    let err = r
        .route(vec![occurrence("e0", 0)])
        .await
        .expect_err("no table");
    assert!(
        matches!(err, RouteError::Dedup(DedupError::Unavailable { .. })) && err.is_retryable(),
        "{err}"
    );
    assert!(err.to_string().contains("ResourceNotFound"), "{err}");
    assert!(
        r.tickets().sent().is_empty()
            && r.digest().sent().is_empty()
            && r.alerts().sent().is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resolution_leaves_a_tombstone_that_drops_late_events_and_a_newer_occurrence_reopens() {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "dedup-resolve").await;
    let clock = ManualClock::new(t(0));
    let store = DynamoDbDedupStore::new(table.client.clone(), &table.name);
    let r = router(&clock).with_dedup(store.clone());
    r.route(vec![occurrence("e0", 0)]).await.expect("open");
    assert_eq!(table.items().await.len(), 1);
    let mut resolved = occurrence("e1", 2);
    resolved.status = Status::Resolved;
    clock.set(t(2));
    r.route(vec![resolved]).await.expect("resolve");
    let tombstone = store
        .load(&occurrence("e0", 0).fingerprint)
        .await
        .expect("load")
        .expect("kept");
    assert_eq!(tombstone.resolved_at, Some(t(2)));
    assert!(tombstone.pending.is_none(), "the resolve was delivered");
    clock.set(t(300));
    let late = r.route(vec![occurrence("e-late", 1)]).await.expect("late");
    assert_eq!((late.stale, late.tickets), (1, 0));
    let again = r.route(vec![occurrence("e2", 299)]).await.expect("reopen");
    assert_eq!(again.tickets, 1);
    let sequences: Vec<u64> = r.tickets().sent().iter().map(|e| e.sequence).collect();
    assert_eq!(sequences.len(), 3, "open, resolve, reopen");
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let ttl = table
        .client
        .describe_time_to_live()
        .table_name(&table.name)
        .send()
        .await
        .expect("ttl");
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires_at")
    );
}
