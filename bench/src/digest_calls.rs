//! API calls per digest entry: one run of the digest function, assembled as it ships, over a
//! queue of many entries, against moto (every request counted on the wire by [`WireCounter`],
//! retries included) or, with `memory`, against the in-memory queue and topic (triage's own
//! cost — parsing, aggregating, rendering — without moto's, which dominates the wall time).
//!
//! The queue is filled as the classifiers fill it, `per_invocation` entries at a time through
//! the packed digest sink that ships (one message of a few entries per invocation, up to
//! 24 KiB): 1 per invocation is a config-classifier storm, 50 a log-detector one. Filling the
//! queue is not counted. The digest drains it with `receivers` receivers and no message cap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use serde_json::{Value, json};
use triage_aws::{Aws, MAX_PACKED_MESSAGE_BYTES, pack_digest_entries};
use triage_core::fakes::{Memory, at, finding_about};
use triage_core::ports::{Backend, DigestSink};
use triage_core::{DigestEntry, DigestKind, Finding, SafeText, Severity};
use triage_testkit::{MotoServer, Queues, TopicInbox};

use crate::functions::{StandIns, digest_on};
use crate::wire::WireCounter;

pub struct Options {
    pub entries: usize,
    pub per_invocation: usize,
    pub receivers: usize,
    /// The in-memory queue and topic instead of moto.
    pub memory: bool,
}

/// Concurrent senders filling the queue.
const FILLERS: usize = 8;

/// The `i`-th entry of a storm shaped like real life: 40 rules, 500 resources, 1 in 20
/// occurrences new.
fn entry(i: usize) -> DigestEntry {
    let rule = format!("rule-{:02}", i % 40);
    let group = format!("sg-{:04}", i % 500);
    let t = at(0) + TimeDelta::milliseconds(i64::try_from(i).unwrap_or(0));
    let finding = Finding {
        severity: [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ][i % 4],
        principal: Some(SafeText::new(&format!(
            "arn:aws:iam::111122223333:role/app-{}",
            i % 50
        ))),
        first_seen: t,
        last_seen: t,
        ..finding_about(&rule, &group)
    };
    let kind = if i % 20 == 0 {
        DigestKind::New
    } else {
        DigestKind::Repeat
    };
    DigestEntry::new(kind, &finding)
}

fn entries(o: &Options) -> Vec<DigestEntry> {
    (0..o.entries).map(entry).collect()
}

/// The template's digest, with `receivers` and no cap on the messages of a run.
fn digest<B: Backend>(
    backend: &B,
    stand_ins: &StandIns,
    o: &Options,
) -> Result<digest::Handler<B>, String> {
    digest_on(
        backend,
        stand_ins,
        &[
            ("DIGEST_RECEIVERS", o.receivers.to_string()),
            ("DIGEST_MAX_MESSAGES", "1000000".to_owned()),
        ],
    )
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(900)
}

pub async fn run(o: &Options) -> Result<Vec<Value>, String> {
    if o.memory {
        return in_memory(o).await;
    }
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "bench").await;
    let topic = TopicInbox::create(&q, "bench-digest").await;
    let sdk = moto.sdk_config().await;
    let fill_start = Instant::now();
    fill(
        Aws::new(&sdk),
        &q.digest_queue_url,
        entries(o),
        o.per_invocation,
    )
    .await?;
    eprintln!(
        "digest: the queue filled in {:.1} s (not counted)",
        fill_start.elapsed().as_secs_f64()
    );

    let counter = WireCounter::default();
    let (sqs, sns, dynamodb) = counter.clients(&sdk);
    let stand_ins = BTreeMap::from([
        ("DigestQueue", q.digest_queue_url.clone()),
        ("DigestTopic", topic.topic_arn.clone()),
    ]);
    let handler = digest(&Aws::from_clients(sqs, sns, dynamodb), &stand_ins, o)?;
    let start = Instant::now();
    let summary = handler.run(deadline()).await.map_err(|e| e.to_string())?;
    Ok(vec![row(
        "moto",
        o,
        &summary,
        start.elapsed(),
        counter.snapshot(),
    )])
}

/// Sends the entries `per_invocation` at a time through the packed digest sink, from a few
/// concurrent senders.
async fn fill(
    aws: Aws,
    queue_url: &str,
    entries: Vec<DigestEntry>,
    per_invocation: usize,
) -> Result<(), String> {
    let entries = Arc::new(entries);
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..FILLERS)
        .map(|_| {
            let (sink, entries, next) = (aws.digest_sink(queue_url), entries.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let first = next.fetch_add(per_invocation, Ordering::SeqCst);
                    if first >= entries.len() {
                        return Ok::<_, String>(());
                    }
                    let end = (first + per_invocation).min(entries.len());
                    sink.send_entries(&entries[first..end])
                        .await
                        .map_err(|e| format!("filling the digest queue: {e}"))?;
                }
            })
        })
        .collect();
    for s in senders {
        s.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// The same run against the in-memory queue and topic.
async fn in_memory(o: &Options) -> Result<Vec<Value>, String> {
    let memory = Memory::default();
    for invocation in entries(o).chunks(o.per_invocation) {
        for body in
            pack_digest_entries(invocation, MAX_PACKED_MESSAGE_BYTES).map_err(|e| e.to_string())?
        {
            memory.digest_queue.push(body);
        }
    }
    let handler = digest(&memory, &stack_tests::memory_stand_ins(), o)?;
    let start = Instant::now();
    let summary = handler.run(deadline()).await.map_err(|e| e.to_string())?;
    let wall = start.elapsed();
    let calls = BTreeMap::from([
        (
            "ReceiveMessage".to_owned(),
            memory.digest_queue.receives.load(Ordering::SeqCst),
        ),
        (
            "DeleteMessageBatch".to_owned(),
            memory.digest_queue.deletes.load(Ordering::SeqCst),
        ),
        ("Publish".to_owned(), memory.digest_topic.published().len()),
    ]);
    Ok(vec![row("memory", o, &summary, wall, calls)])
}

fn row(
    backend: &str,
    o: &Options,
    summary: &digest::handler::Summary,
    wall: Duration,
    calls: BTreeMap<String, usize>,
) -> Value {
    let total: usize = calls.values().sum();
    json!({
        "bench": "digest_api_calls",
        "backend": backend,
        "entries": summary.entries,
        "per_invocation": o.per_invocation,
        "messages": summary.received,
        "receivers": o.receivers,
        "wall_s": wall.as_secs_f64(),
        "calls": calls,
        "total_calls": total,
        "calls_per_entry": total as f64 / summary.entries.max(1) as f64,
    })
}
