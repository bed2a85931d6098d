//! Benchmark (not a test): one digest of many entries against moto server — wall time and API
//! calls per entry, counted on the wire (every HTTP request the SDK clients send, retries
//! included).
//!
//! ```sh
//! cargo run --release -p digest@0.1.0 --example digest_bench -- [ENTRIES] [ENTRIES_PER_INVOCATION] [RECEIVERS]
//! ```
//!
//! The queue is filled as the functions fill it: each invocation's entries go through
//! `triage_aws::pack_digest_entries` (what `SqsPackedDigestSink` sends: one message per
//! invocation of a few entries, packed up to 24 KiB), so ENTRIES_PER_INVOCATION = 1 is a
//! config-classifier storm (one entry per message) and 50 a log-detector one. Defaults: 100 000
//! entries, 50 per invocation, 8 receivers. Filling the queue is not counted.
//!
//! `digest_bench memory [ENTRIES] [ENTRIES_PER_INVOCATION] [RECEIVERS]` runs the same digest
//! against the in-memory queue and topic instead: the cost of triage's own code (parsing,
//! aggregating, rendering) without moto's, which dominates the wall time above.
//!
//! `--json` (anywhere among the arguments) prints the result as one JSON object (`"bench":
//! "digest_api_calls"`) instead of the table, for `scripts/bench`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed expectation is the failure

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{TimeDelta, TimeZone, Utc};
use digest::handler::Handler;
use digest::settings::Options;
use triage_aws::{
    MAX_PACKED_MESSAGE_BYTES, SnsDigestPublisher, SqsDigestSource, pack_digest_entries,
};
use triage_core::{
    DigestEntry, DigestKind, Evidence, Finding, Fingerprint, SafeText, Severity, Source, Status,
};
use triage_testkit::{MotoServer, Queues, TopicInbox};

/// Counts every request on the wire, by operation.
#[derive(Debug, Clone, Default)]
struct WireCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl WireCounter {
    fn count(&self, op: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op.to_owned()).or_default() += 1;
        }
    }
    fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
    fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

impl Intercept for WireCounter {
    fn name(&self) -> &'static str {
        "WireCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let op = request
            .headers()
            .get("x-amz-target")
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned())
            .or_else(|| {
                // SNS speaks the query protocol: Action=Publish in the body.
                let body = request.body().bytes().unwrap_or_default();
                let body = String::from_utf8_lossy(body);
                body.split('&')
                    .find_map(|kv| kv.strip_prefix("Action="))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "other".into());
        self.count(&op);
        Ok(())
    }
}

fn entry(i: usize) -> DigestEntry {
    let t = Utc
        .with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
        .single()
        .unwrap()
        + TimeDelta::milliseconds(i64::try_from(i).unwrap_or(0));
    // A storm shaped like real life: 40 rules, 500 resources, 1 in 20 occurrences is new.
    let rule = format!("rule-{:02}", i % 40);
    let resource = format!(
        "arn:aws:ec2:us-east-1:111122223333:security-group/sg-{:04}",
        i % 500
    );
    let finding = Finding {
        fingerprint: Fingerprint::new(
            Source::Cloudtrail,
            &rule,
            "111122223333",
            "us-east-1",
            &[&resource],
        ),
        status: Status::Active,
        severity: [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ][i % 4],
        source: Source::Cloudtrail,
        rule_id: SafeText::new(&rule),
        title: SafeText::new(&format!("Detection {rule} on {resource}")),
        description: SafeText::new("d"),
        account: SafeText::new("111122223333"),
        region: SafeText::new("us-east-1"),
        resources: vec![],
        principal: Some(SafeText::new(&format!(
            "arn:aws:iam::111122223333:role/app-{}",
            i % 50
        ))),
        first_seen: t,
        last_seen: t,
        count: 1,
        evidence: Evidence::default(),
        console_url: None,
        remediation: SafeText::new("r"),
    };
    let kind = if i % 20 == 0 {
        DigestKind::New
    } else {
        DigestKind::Repeat
    };
    let mut e = DigestEntry::new(kind, &finding);
    e.resource = Some(SafeText::new(&resource));
    e
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let as_json = std::env::args().any(|a| a == "--json");
    let entries = args.first().copied().unwrap_or(100_000);
    let per_invocation = args.get(1).copied().unwrap_or(50).clamp(1, 10_000);
    let receivers = args.get(2).copied().unwrap_or(8).clamp(1, 20);
    if std::env::args().skip(1).any(|a| a == "memory") {
        return in_memory(entries, per_invocation, receivers, as_json).await;
    }

    let moto = MotoServer::start();
    let q = Queues::create(&moto, "bench").await;
    let topic = TopicInbox::create(&q, "bench-digest").await;
    let counter = WireCounter::default();
    let sdk = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );

    // Fill (not counted): each invocation's entries packed as the sink packs them, ten messages
    // per SendMessageBatch, eight senders.
    let fill_start = Instant::now();
    let all: Vec<DigestEntry> = (0..entries).map(entry).collect();
    let bodies: Vec<String> = all
        .chunks(per_invocation)
        .flat_map(|invocation| pack_digest_entries(invocation, MAX_PACKED_MESSAGE_BYTES).unwrap())
        .collect();
    let messages = bodies.len();
    let batches: Vec<Vec<String>> = bodies.chunks(10).map(<[String]>::to_vec).collect();
    let batches = Arc::new(Mutex::new(batches));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (sqs, url, batches) = (
            q.sqs.clone(),
            q.digest_queue_url.clone(),
            Arc::clone(&batches),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let Some(batch) = batches.lock().unwrap().pop() else {
                    return;
                };
                let entries: Vec<SendMessageBatchRequestEntry> = batch
                    .into_iter()
                    .enumerate()
                    .map(|(i, body)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(body)
                            .build()
                            .unwrap()
                    })
                    .collect();
                let out = sqs
                    .send_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                assert!(out.failed().is_empty(), "fill failed");
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let fill = fill_start.elapsed();
    counter.reset();

    let handler = Handler::new(
        SqsDigestSource::new(sqs, &q.digest_queue_url),
        SnsDigestPublisher::new(sns, &topic.topic_arn),
        Options {
            receivers,
            max_messages: 1_000_000,
            ..Options::default()
        },
    );
    let start = Instant::now();
    let summary = handler
        .run(Instant::now() + Duration::from_secs(900))
        .await
        .expect("digest run");
    let wall = start.elapsed();
    let calls = counter.snapshot();
    let total: usize = calls.values().sum();

    if as_json {
        print_json(&Row {
            backend: "moto",
            entries: summary.entries,
            per_invocation,
            messages,
            receivers,
            wall,
            calls,
        });
        return;
    }
    println!(
        "digest benchmark against moto server {} (fill of {messages} messages took {:.1} s, not counted)",
        moto.endpoint(),
        fill.as_secs_f64()
    );
    println!();
    println!(
        "| entries | per invocation | messages | receivers | wall time | receive | delete | publish | API calls | calls/entry |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {per_invocation} | {messages} | {receivers} | {:.1} s | {} | {} | {} | {total} | {:.4} |",
        summary.entries,
        wall.as_secs_f64(),
        calls.get("ReceiveMessage").copied().unwrap_or(0),
        calls.get("DeleteMessageBatch").copied().unwrap_or(0),
        calls.get("Publish").copied().unwrap_or(0),
        total as f64 / summary.entries.max(1) as f64
    );
    println!();
    println!("summary: {summary:?}");
    println!("calls by operation: {calls:?}");
}

/// One run's figures, for `--json`.
struct Row {
    backend: &'static str,
    entries: u64,
    per_invocation: usize,
    messages: usize,
    receivers: usize,
    wall: Duration,
    calls: BTreeMap<String, usize>,
}

fn print_json(r: &Row) {
    let total: usize = r.calls.values().sum();
    println!(
        "{}",
        serde_json::json!({
            "bench": "digest_api_calls",
            "backend": r.backend,
            "entries": r.entries,
            "per_invocation": r.per_invocation,
            "messages": r.messages,
            "receivers": r.receivers,
            "wall_s": r.wall.as_secs_f64(),
            "calls": r.calls,
            "total_calls": total,
            "calls_per_entry": total as f64 / r.entries.max(1) as f64,
        })
    );
}

/// The same run against the in-memory queue and topic.
async fn in_memory(entries: usize, per_invocation: usize, receivers: usize, as_json: bool) {
    use std::sync::atomic::Ordering;
    use triage_core::digest::memory::{MemoryDigestPublisher, MemoryDigestQueue};

    let queue = MemoryDigestQueue::new();
    let all: Vec<DigestEntry> = (0..entries).map(entry).collect();
    let mut messages = 0;
    for invocation in all.chunks(per_invocation) {
        for body in pack_digest_entries(invocation, MAX_PACKED_MESSAGE_BYTES).unwrap() {
            queue.push(body);
            messages += 1;
        }
    }
    let handler = Handler::new(
        queue,
        MemoryDigestPublisher::new(),
        Options {
            receivers,
            max_messages: 1_000_000,
            wait: Duration::ZERO,
            ..Options::default()
        },
    );
    let start = Instant::now();
    let summary = handler
        .run(Instant::now() + Duration::from_secs(900))
        .await
        .expect("digest run");
    let wall = start.elapsed();
    let receive = handler.source().receives.load(Ordering::SeqCst);
    let delete = handler.source().deletes.load(Ordering::SeqCst);
    let publish = handler.publisher().published().len();
    let total = receive + delete + publish;
    if as_json {
        print_json(&Row {
            backend: "memory",
            entries: summary.entries,
            per_invocation,
            messages,
            receivers,
            wall,
            calls: BTreeMap::from([
                ("ReceiveMessage".to_owned(), receive),
                ("DeleteMessageBatch".to_owned(), delete),
                ("Publish".to_owned(), publish),
            ]),
        });
        return;
    }
    println!("digest benchmark against the in-memory queue and topic (triage's own cost)");
    println!();
    println!(
        "| entries | per invocation | messages | receivers | wall time | receive | delete | publish | API calls | calls/entry |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {per_invocation} | {messages} | {receivers} | {:.2} s | {receive} | {delete} | {publish} | {total} | {:.4} |",
        summary.entries,
        wall.as_secs_f64(),
        total as f64 / summary.entries.max(1) as f64
    );
}
