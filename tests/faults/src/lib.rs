//! Fault injection harness: the real pipeline — the functions' handlers, the `triage-aws`
//! adapters, the AWS SDK with its standard retry — against moto behind a
//! [`FaultProxy`](triage_testkit::faults::FaultProxy), with Lambda's asynchronous invocation
//! emulated around it, and the accounting that proves nothing is lost.
//!
//! - [`invoke_async`]: an invocation that returns an error is retried up to twice, one and then
//!   two minutes later (the injected clock moves on between the rounds, as time does between
//!   Lambda's retries), and after that goes to the "DLQ", where it is counted; a success is
//!   final.
//! - [`Expectation`]: what every finding must produce, computed by the same settings, classifier
//!   and router with in-memory sinks and no fault.
//! - [`account`]: compares what landed on the real FIFO ticket queue, digest queue and alert
//!   topic (read back directly from moto, not through the proxy) with the expectation.
//!
//! Test support: it panics (with what went wrong) where a test would.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use chrono::TimeDelta;
use triage_core::clock::ManualClock;
use triage_core::digest::parse_message;
use triage_core::{Alert, DigestEntry, TicketEvent};
use triage_testkit::faults::FaultProxy;

/// Lambda's asynchronous retries: the first about a minute after the failure, the second about
/// two minutes after the first; both past every function's dedup claim (its Timeout, at most
/// 60 s), as in production.
pub fn retry_delays() -> [TimeDelta; 2] {
    [TimeDelta::seconds(61), TimeDelta::seconds(121)]
}

/// SDK clients pointed at the proxy, built like the functions' `main.rs` builds theirs (one
/// shared `SdkConfig`, the standard retry mode with three attempts), each service in a retry
/// partition of its own named after the scenario: the SDK keeps its retry token bucket per
/// partition for the whole process, and in production each Lambda execution environment is a
/// process of its own, so scenarios must not share (and drain) one bucket.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub events: aws_sdk_eventbridge::Client,
}

impl Clients {
    pub async fn through(proxy: &FaultProxy, partition: &str) -> Clients {
        let sdk = proxy.sdk_config().await;
        let sqs = aws_sdk_sqs::config::Builder::from(&sdk)
            .retry_partition(aws_sdk_sqs::config::retry::RetryPartition::new(format!(
                "{partition}-sqs"
            )))
            .build();
        let sns = aws_sdk_sns::config::Builder::from(&sdk)
            .retry_partition(aws_sdk_sns::config::retry::RetryPartition::new(format!(
                "{partition}-sns"
            )))
            .build();
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_partition(aws_sdk_dynamodb::config::retry::RetryPartition::new(
                format!("{partition}-dynamodb"),
            ))
            .build();
        let events = aws_sdk_eventbridge::config::Builder::from(&sdk)
            .retry_partition(aws_sdk_eventbridge::config::retry::RetryPartition::new(
                format!("{partition}-events"),
            ))
            .build();
        Clients {
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            sns: aws_sdk_sns::Client::from_conf(sns),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            events: aws_sdk_eventbridge::Client::from_conf(events),
        }
    }
}

/// Runs the futures with at most `limit` of them in progress at once, on the current task;
/// returns their outputs in order.
pub async fn concurrently<F: Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    let limit = limit.max(1);
    let total = futures.len();
    let mut waiting = futures.into_iter().enumerate();
    let mut running: Vec<(usize, Pin<Box<F>>)> = Vec::new();
    let mut outputs: Vec<Option<F::Output>> = (0..total).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        loop {
            while running.len() < limit {
                match waiting.next() {
                    Some((i, f)) => running.push((i, Box::pin(f))),
                    None => break,
                }
            }
            let before = running.len();
            let mut i = 0;
            while i < running.len() {
                if let Poll::Ready(out) = running[i].1.as_mut().poll(cx) {
                    let (index, _) = running.swap_remove(i);
                    outputs[index] = Some(out);
                } else {
                    i += 1;
                }
            }
            if running.is_empty() && waiting.len() == 0 {
                return Poll::Ready(());
            }
            if running.len() == before {
                return Poll::Pending;
            }
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// What the emulated asynchronous invocations did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsyncInvocations {
    pub events: usize,
    /// Invocations, retries included.
    pub attempts: usize,
    pub failed_attempts: usize,
    /// Events whose invocation failed three times: on the on-failure destination.
    pub dlq: Vec<usize>,
    /// Failed attempts by the function's `errorType`, with one message each.
    pub errors: BTreeMap<String, (usize, String)>,
}

impl AsyncInvocations {
    pub fn errors_line(&self) -> String {
        if self.errors.is_empty() {
            return "none".into();
        }
        self.errors
            .iter()
            .map(|(k, (n, message))| {
                let mut m: String = message.chars().take(160).collect();
                if m.len() < message.len() {
                    m.push('…');
                }
                format!("{k}:{n} (e.g. {m:?})")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Invokes every event (`invoke(index)`, which returns the function's `errorType` on failure),
/// `concurrency` at a time, the way Lambda runs an asynchronous invocation: a failure is retried
/// up to twice — after moving `clock` on by [`retry_delays`] — then counted as sent to the DLQ.
pub async fn invoke_async<Fut>(
    events: usize,
    concurrency: usize,
    clock: &ManualClock,
    invoke: impl Fn(usize) -> Fut,
) -> AsyncInvocations
where
    Fut: Future<Output = Result<(), (String, String)>>,
{
    let mut report = AsyncInvocations {
        events,
        ..AsyncInvocations::default()
    };
    let mut pending: Vec<usize> = (0..events).collect();
    let delays = retry_delays();
    for round in 0..=delays.len() {
        if pending.is_empty() {
            break;
        }
        if round > 0 {
            clock.advance(delays[round - 1]);
        }
        let results = concurrently(pending.iter().map(|&i| invoke(i)).collect(), concurrency).await;
        report.attempts += pending.len();
        let mut failed = Vec::new();
        for (&i, result) in pending.iter().zip(results) {
            if let Err((error_type, message)) = result {
                report.failed_attempts += 1;
                let e = report.errors.entry(error_type).or_insert((0, message));
                e.0 += 1;
                failed.push(i);
            }
        }
        pending = failed;
    }
    report.dlq = pending;
    report
}

/// Receives every message of a queue, deleting each batch as it comes (a FIFO queue hands out
/// the next message of a group only once the one before is deleted), directly on moto. Stops
/// after two empty answers in a row.
pub async fn drain_and_delete(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let got = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(120)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive from {queue_url}: {e:?}"));
        let messages = got.messages().to_vec();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .unwrap_or_else(|e| panic!("delete entry: {e}"))
            })
            .collect();
        let deleted = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap_or_else(|e| panic!("delete from {queue_url}: {e:?}"));
        assert!(
            deleted.failed().is_empty(),
            "drain could not delete: {:?}",
            deleted.failed()
        );
        out.extend(messages);
    }
    out
}

/// Receives every message of a queue without deleting any (each stays in flight for a
/// minute), directly on moto; a FIFO queue shows the first message of each group only.
pub async fn peek_all(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let got = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive from {queue_url}: {e:?}"));
        let messages = got.messages().to_vec();
        if messages.is_empty() {
            empty += 1;
        } else {
            empty = 0;
            out.extend(messages);
        }
    }
    out
}

/// The receipt handles of messages.
pub fn handles(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.receipt_handle().map(str::to_owned))
        .collect()
}

/// What an operator does with the on-failure destination (README, "A DLQ alarm fired"): once
/// the cause is gone, re-invoke each event in it. Returns the events whose redrive failed.
pub async fn redrive<Fut>(
    dlq: &[usize],
    clock: &ManualClock,
    invoke: impl Fn(usize) -> Fut,
) -> Vec<usize>
where
    Fut: Future<Output = Result<(), (String, String)>>,
{
    if dlq.is_empty() {
        return Vec::new();
    }
    // Later than any claim an attempt took.
    clock.advance(retry_delays()[1]);
    let results = concurrently(dlq.iter().map(|&i| invoke(i)).collect(), 16).await;
    dlq.iter()
        .zip(results)
        .filter(|(_, r)| r.is_err())
        .map(|(&i, _)| i)
        .collect()
}

/// Makes messages left in flight visible again (`ChangeMessageVisibility` to 0), directly on
/// moto: what their visibility timeout running out does, without waiting for it. Handles of
/// messages already deleted are refused by SQS and ignored here.
pub async fn make_visible(sqs: &aws_sdk_sqs::Client, queue_url: &str, handles: &[String]) {
    for chunk in handles.chunks(10) {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
                    .unwrap_or_else(|e| panic!("visibility entry: {e}"))
            })
            .collect();
        let _ = sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
    }
}

/// What one finding must produce when its invocation succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingExpectation {
    pub ticket: bool,
    /// The digest entry ids (a finding has one, or none below the digest threshold).
    pub digest: Vec<String>,
    pub alert: bool,
}

/// What every event's findings must produce, by event, then by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    pub events: Vec<BTreeMap<String, FindingExpectation>>,
    /// Distinct findings per event, as the router counts them (counted-only ones included).
    pub findings: Vec<usize>,
}

impl Expectation {
    /// Records what a fault-free route of one event sent.
    pub fn push(
        &mut self,
        findings: usize,
        tickets: &[TicketEvent],
        digest: &[DigestEntry],
        alerts: &[Alert],
    ) {
        let mut by: BTreeMap<String, FindingExpectation> = BTreeMap::new();
        for t in tickets {
            by.entry(t.fingerprint.as_str().to_owned())
                .or_default()
                .ticket = true;
        }
        for d in digest {
            by.entry(d.fingerprint.as_str().to_owned())
                .or_default()
                .digest
                .push(d.entry_id.clone());
        }
        for a in alerts {
            by.entry(a.fingerprint.as_str().to_owned())
                .or_default()
                .alert = true;
        }
        self.events.push(by);
        self.findings.push(findings);
    }

    pub fn findings_in(&self) -> usize {
        self.findings.iter().sum()
    }

    pub fn tickets(&self) -> usize {
        self.events
            .iter()
            .flat_map(|e| e.values())
            .filter(|f| f.ticket)
            .count()
    }
}

/// The accounting of one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounting {
    pub findings_in: usize,
    /// Messages received from the FIFO ticket queue.
    pub ticket_events_out: usize,
    /// Distinct (fingerprint, sequence) pairs among them: the ticket events a consumer applies.
    pub distinct_ticket_events: usize,
    /// Received ticket events whose (fingerprint, sequence) came before: a consumer drops them.
    /// moto's FIFO deduplication window runs on wall time while the scenarios compress hours
    /// into seconds, so this, not the FIFO deduplication, is what holds after a late redrive.
    pub ticket_event_copies: usize,
    /// (fingerprint, sequence) pairs received with different bodies. Must be 0.
    pub sequence_conflicts: usize,
    /// Deduplication ids received more than once (FIFO deduplication failed to absorb).
    pub duplicate_dedup_ids: usize,
    /// Ticket messages whose `MessageGroupId` is not their fingerprint.
    pub wrong_group: usize,
    /// Findings of succeeded invocations with a ticket, digest entry or alert missing.
    pub lost: usize,
    pub lost_tickets: usize,
    pub lost_digest_entries: usize,
    pub lost_alerts: usize,
    /// Invocations on the DLQ and their findings; how many of those findings got their ticket
    /// anyway (an attempt got that far before failing).
    pub dlq_events: usize,
    pub dlq_findings: usize,
    pub dlq_findings_ticketed: usize,
    /// Digest-queue entries received, and how many were extra copies (the standard digest
    /// queue keeps retries' copies; the digest counts an `entry_id` once).
    pub digest_entries_out: usize,
    pub digest_copies: usize,
    /// Alerts received, and how many were extra copies (a standard SNS topic does not
    /// deduplicate: a retried publish pages twice).
    pub alerts_out: usize,
    pub alert_copies: usize,
    /// Pages whose copies do not all carry one `alert_id` (in the JSON and as the message
    /// attribute): a paging service could not deduplicate them. Must be 0.
    pub alerts_without_one_id: usize,
}

impl Accounting {
    /// `findings_in=… ticket_events_out=… dlq=… lost=…` and the rest.
    pub fn line(&self) -> String {
        format!(
            "findings_in={} ticket_events_out={} distinct_ticket_events={} ticket_event_copies={} sequence_conflicts={} dlq={} lost={} dlq_invocations={} dlq_findings_ticketed_anyway={} lost_tickets={} lost_digest={} lost_alerts={} fifo_duplicate_dedup_ids={} digest_entries_out={} digest_extra_copies={} alerts_out={} alert_extra_copies={} alerts_without_one_id={}",
            self.findings_in,
            self.ticket_events_out,
            self.distinct_ticket_events,
            self.ticket_event_copies,
            self.sequence_conflicts,
            self.dlq_findings,
            self.lost,
            self.dlq_events,
            self.dlq_findings_ticketed,
            self.lost_tickets,
            self.lost_digest_entries,
            self.lost_alerts,
            self.duplicate_dedup_ids,
            self.digest_entries_out,
            self.digest_copies,
            self.alerts_out,
            self.alert_copies,
            self.alerts_without_one_id,
        )
    }
}

fn attribute(m: &Message, name: &MessageSystemAttributeName) -> Option<String> {
    m.attributes().and_then(|a| a.get(name)).cloned()
}

/// The machine JSON of an alert notification (raw delivery off: it is the `Message`).
fn alert_json(notification: &serde_json::Value) -> Option<serde_json::Value> {
    serde_json::from_str(notification.get("Message")?.as_str()?).ok()
}

/// The fingerprint of the finding an alert notification is about.
pub fn alert_fingerprint(notification: &serde_json::Value) -> Option<String> {
    alert_json(notification)?
        .pointer("/finding/fingerprint")?
        .as_str()
        .map(str::to_owned)
}

/// The alert id of an alert notification: the machine JSON's `alert_id` when the message
/// attribute `alert_id` says the same, `None` otherwise.
pub fn alert_id(notification: &serde_json::Value) -> Option<String> {
    let id = alert_json(notification)?
        .get("alert_id")?
        .as_str()?
        .to_owned();
    let attribute = notification.pointer("/MessageAttributes/alert_id/Value")?;
    (attribute.as_str() == Some(id.as_str())).then_some(id)
}

/// Compares what landed with what was expected.
pub fn account(
    expected: &Expectation,
    dlq: &[usize],
    tickets: &[Message],
    digest_bodies: &[String],
    alerts: &[serde_json::Value],
) -> Accounting {
    let mut a = Accounting {
        findings_in: expected.findings_in(),
        ticket_events_out: tickets.len(),
        dlq_events: dlq.len(),
        ..Accounting::default()
    };

    let mut dedup_ids: HashMap<String, usize> = HashMap::new();
    let mut ticketed: HashSet<String> = HashSet::new();
    let mut sequences: HashMap<(String, u64), String> = HashMap::new();
    for m in tickets {
        let body = m.body().unwrap_or_default();
        let event: TicketEvent = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("a ticket-queue message is not a ticket event: {e}"));
        if attribute(m, &MessageSystemAttributeName::MessageGroupId).as_deref()
            != Some(event.fingerprint.as_str())
        {
            a.wrong_group += 1;
        }
        let id =
            attribute(m, &MessageSystemAttributeName::MessageDeduplicationId).unwrap_or_default();
        *dedup_ids.entry(id).or_default() += 1;
        ticketed.insert(event.fingerprint.as_str().to_owned());
        let key = (event.fingerprint.as_str().to_owned(), event.sequence);
        match sequences.get(&key) {
            Some(first) if first == body => a.ticket_event_copies += 1,
            Some(_) => a.sequence_conflicts += 1,
            None => {
                sequences.insert(key, body.to_owned());
            }
        }
    }
    a.distinct_ticket_events = sequences.len();
    a.duplicate_dedup_ids = dedup_ids.values().filter(|n| **n > 1).count();

    let mut entries: HashMap<String, usize> = HashMap::new();
    for body in digest_bodies {
        let parsed = parse_message(body)
            .unwrap_or_else(|e| panic!("a digest-queue message is not a digest entry: {e}"));
        for entry in parsed {
            a.digest_entries_out += 1;
            *entries.entry(entry.entry_id).or_default() += 1;
        }
    }
    a.digest_copies = entries.values().map(|n| n - 1).sum();

    let mut paged: HashMap<String, usize> = HashMap::new();
    let mut ids: HashMap<String, HashSet<Option<String>>> = HashMap::new();
    for n in alerts {
        let fp = alert_fingerprint(n)
            .unwrap_or_else(|| panic!("an alert notification without a finding: {n}"));
        ids.entry(fp.clone()).or_default().insert(alert_id(n));
        *paged.entry(fp).or_default() += 1;
    }
    a.alerts_out = alerts.len();
    a.alert_copies = paged.values().map(|n| n - 1).sum();
    a.alerts_without_one_id = ids
        .values()
        .filter(|set| set.len() != 1 || set.contains(&None))
        .count();

    let dlq: HashSet<usize> = dlq.iter().copied().collect();
    for (i, event) in expected.events.iter().enumerate() {
        if dlq.contains(&i) {
            a.dlq_findings += expected.findings[i];
            a.dlq_findings_ticketed += event.keys().filter(|fp| ticketed.contains(*fp)).count();
            continue;
        }
        for (fp, want) in event {
            let no_ticket = want.ticket && !ticketed.contains(fp);
            let no_digest = want.digest.iter().any(|id| !entries.contains_key(id));
            let no_alert = want.alert && !paged.contains_key(fp);
            a.lost_tickets += usize::from(no_ticket);
            a.lost_digest_entries += usize::from(no_digest);
            a.lost_alerts += usize::from(no_alert);
            a.lost += usize::from(no_ticket || no_digest || no_alert);
        }
    }
    a
}
