//! The handler: drain the digest queue with several receivers until it is empty or the time
//! budget is spent, render one digest (pure, in `triage-core`), publish it, and only then delete
//! the messages it summarised.
//!
//! Failure semantics: a publish that fails deletes nothing — the messages become visible again
//! after their visibility timeout and are in the next digest (after five failed runs the queue's
//! redrive moves them to its DLQ). Messages that are not digest entries are never deleted: they
//! reach the DLQ the same way. A message delivered twice is counted once (by `entry_id`) and
//! both copies are deleted.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, instrument, warn};
use triage_core::accounts::AccountNames;
use triage_core::clock::Clock;
use triage_core::digest::DigestBuilder;
use triage_core::metrics::{Counts, Emitter};
use triage_core::ports::{Backend, DigestPublisher, DigestSource, QueueError, Received, SinkError};
use triage_core::text::sanitize;
use triage_lambda::{ErrorType, Function};

use crate::settings::{Options, WhenEmpty};

/// Messages are kept hidden this long past the invocation's deadline, so none is received twice
/// during a run.
const VISIBILITY_SLACK: Duration = Duration::from_secs(60);

/// What one run did; returned to Lambda (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Queue messages received.
    pub received: usize,
    /// Distinct digest entries summarised.
    pub entries: u64,
    /// Entries received more than once, counted once.
    pub duplicates: u64,
    /// Messages that were not digest entries (left for the DLQ).
    pub unreadable: u64,
    /// SNS messages published (numbered parts past the size limit); 0 when nothing happened.
    pub published: usize,
    pub deleted: usize,
    /// Receive calls that failed (the run went on with what it had).
    pub receive_errors: usize,
    /// Whether the time budget or the message cap ended the drain before the queue was empty.
    pub stopped_early: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The digest was not published: nothing was deleted; the next run includes these entries.
    #[error("digest not published (nothing deleted; the entries are in the next digest): {0}")]
    Publish(#[source] SinkError),
    /// The digest could not be rendered.
    #[error("digest could not be rendered: {0}")]
    Render(#[from] serde_json::Error),
    /// The digest was published but some messages could not be deleted: they will be counted
    /// again in the next digest.
    #[error(
        "digest published, but {failed} of {total} message(s) could not be deleted and will be counted again next time: {reason}"
    )]
    Delete {
        failed: usize,
        total: usize,
        reason: String,
    },
    /// Receiving failed; whatever was received before was published and deleted.
    #[error("digest queue could not be read ({errors} failed receive(s)): {reason}")]
    Receive { errors: usize, reason: String },
}

impl ErrorType for HandlerError {
    fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Publish(_) => "PublishFailed",
            HandlerError::Render(_) => "RenderFailed",
            HandlerError::Delete { .. } => "DeleteFailed",
            HandlerError::Receive { .. } => "ReceiveFailed",
        }
    }
}

/// Built by [`crate::assemble`].
pub struct Handler<B: Backend> {
    source: B::DigestSource,
    publisher: B::DigestPublisher,
    options: Options,
    accounts: AccountNames,
    clock: Arc<dyn Clock>,
    metrics: Emitter,
}

/// Polls every future to completion, concurrently, on the current task.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The invocation's deadline as an `Instant` (Lambda gives epoch milliseconds); `None` when the
/// context has none (0) or it is already past.
fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())?;
    let left = deadline_ms.checked_sub(now_ms).filter(|ms| *ms > 0)?;
    Some(Instant::now() + Duration::from_millis(left))
}

struct Drained {
    messages: Vec<Received>,
    receive_errors: usize,
    first_error: Option<QueueError>,
    stopped_early: bool,
}

impl<B: Backend> Handler<B> {
    pub(crate) fn new(
        source: B::DigestSource,
        publisher: B::DigestPublisher,
        options: Options,
        accounts: AccountNames,
        clock: Arc<dyn Clock>,
        metrics: Emitter,
    ) -> Self {
        Handler {
            source,
            publisher,
            options,
            accounts,
            clock,
            metrics,
        }
    }

    /// The same handler writing its metrics to `metrics` (`triage replay`, tests).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Emitter) -> Self {
        self.metrics = metrics;
        self
    }

    #[instrument(skip_all, fields(request_id = %event.context.request_id))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        if let Some(execution) = event.payload.get("execution_id").and_then(Value::as_str) {
            info!(execution = %sanitize(execution, 128), "scheduled digest");
        }
        let deadline = deadline_of(event.context.deadline)
            .unwrap_or_else(|| Instant::now() + self.options.budget_without_deadline);
        self.run(deadline).await
    }

    /// One digest run that must be over by `deadline`.
    pub async fn run(&self, deadline: Instant) -> Result<Summary, HandlerError> {
        let stop_receiving_at = deadline
            .checked_sub(self.options.margin)
            .unwrap_or_else(Instant::now);
        let visibility = deadline.saturating_duration_since(Instant::now()) + VISIBILITY_SLACK;
        let drained = self.drain(stop_receiving_at, visibility).await;
        let mut summary = Summary {
            received: drained.messages.len(),
            receive_errors: drained.receive_errors,
            stopped_early: drained.stopped_early,
            ..Summary::default()
        };

        let mut builder = DigestBuilder::new().with_account_names(self.accounts.clone());
        let mut deletable: Vec<String> = Vec::with_capacity(drained.messages.len());
        for m in drained.messages {
            match builder.add_message(&m.body) {
                Ok(_) => deletable.push(m.receipt_handle),
                Err(e) => {
                    let error = sanitize(&e.to_string(), 300);
                    warn!(message_id = %sanitize(&m.message_id, 128), %error, "unreadable digest-queue message left for the dead-letter queue");
                }
            }
        }
        let digest = builder.finish(self.clock.now());
        summary.entries = digest.entries;
        summary.duplicates = digest.duplicates;
        summary.unreadable = digest.unreadable;

        if digest.is_empty() && self.options.when_empty == WhenEmpty::Skip {
            info!("digest queue empty: nothing to publish");
            return self.finish(summary, drained.first_error);
        }
        let messages = digest.render(&self.options.render)?;
        for message in &messages {
            self.publisher
                .publish(message)
                .await
                .map_err(HandlerError::Publish)?;
            summary.published += 1;
        }
        info!(
            parts = messages.len(),
            entries = digest.entries,
            occurrences = digest.total.occurrences,
            "digest published"
        );

        let (deleted, failed) = self.delete_all(&deletable).await;
        summary.deleted = deleted;
        if let Some((_, reason)) = failed.first() {
            return Err(HandlerError::Delete {
                failed: failed.len(),
                total: deletable.len(),
                reason: sanitize(reason, 300),
            });
        }
        self.finish(summary, drained.first_error)
    }

    fn finish(
        &self,
        summary: Summary,
        receive_error: Option<QueueError>,
    ) -> Result<Summary, HandlerError> {
        info!(?summary, "digest run done");
        let mut counts = Counts::default();
        counts.add("Records", summary.received);
        counts.add(
            "Rejected",
            usize::try_from(summary.unreadable).unwrap_or(usize::MAX),
        );
        counts.add("DigestsPublished", summary.published);
        self.metrics.emit(&counts, self.clock.now());
        match receive_error {
            Some(e) => Err(HandlerError::Receive {
                errors: summary.receive_errors,
                reason: sanitize(&e.reason, 300),
            }),
            None => Ok(summary),
        }
    }

    /// Several receivers, each receiving batches of ten until the queue answers empty, the
    /// message cap or the byte budget (the bodies are held until the publish) is reached, or it
    /// is time to stop.
    async fn drain(&self, stop_at: Instant, visibility: Duration) -> Drained {
        let collected: Mutex<Vec<Received>> = Mutex::new(Vec::new());
        let count = AtomicUsize::new(0);
        let bytes = AtomicUsize::new(0);
        let bytes = &bytes;
        let errors: Mutex<Vec<QueueError>> = Mutex::new(Vec::new());
        let stopped_early = AtomicUsize::new(0);
        let (collected_ref, count, errors_ref, stopped) =
            (&collected, &count, &errors, &stopped_early);
        let receiver = || async move {
            loop {
                if Instant::now() >= stop_at
                    || count.load(Ordering::SeqCst) >= self.options.max_messages
                    || bytes.load(Ordering::SeqCst) >= self.options.max_bytes
                {
                    stopped.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                match self.source.receive(10, visibility, self.options.wait).await {
                    Ok(batch) if batch.is_empty() => return,
                    Ok(batch) => {
                        count.fetch_add(batch.len(), Ordering::SeqCst);
                        bytes.fetch_add(batch.iter().map(|m| m.body.len()).sum(), Ordering::SeqCst);
                        if let Ok(mut c) = collected_ref.lock() {
                            c.extend(batch);
                        }
                    }
                    Err(e) => {
                        warn!(error = %sanitize(&e.reason, 300), "receive from the digest queue failed; this receiver stops");
                        if let Ok(mut errs) = errors_ref.lock() {
                            errs.push(e);
                        }
                        return;
                    }
                }
            }
        };
        join_all(
            (0..self.options.receivers.max(1))
                .map(|_| receiver())
                .collect(),
        )
        .await;
        let errors = errors.into_inner().unwrap_or_default();
        Drained {
            messages: collected.into_inner().unwrap_or_default(),
            receive_errors: errors.len(),
            first_error: errors.into_iter().next(),
            stopped_early: stopped_early.load(Ordering::SeqCst) > 0,
        }
    }

    /// Deletes in batches of ten, with the receivers' concurrency. Returns how many were
    /// deleted and every handle that was not, with the reason.
    async fn delete_all(&self, handles: &[String]) -> (usize, Vec<(String, String)>) {
        let chunks: Vec<&[String]> = handles.chunks(10).collect();
        let next = AtomicUsize::new(0);
        let deleted = AtomicUsize::new(0);
        let failed: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
        let (chunks_ref, next_ref, deleted_ref, failed_ref) = (&chunks, &next, &deleted, &failed);
        let worker = || async move {
            loop {
                let i = next_ref.fetch_add(1, Ordering::SeqCst);
                let Some(chunk) = chunks_ref.get(i) else {
                    return;
                };
                match self.source.delete(chunk).await {
                    Ok(outcome) => {
                        deleted_ref.fetch_add(outcome.deleted, Ordering::SeqCst);
                        if !outcome.failed.is_empty() {
                            if let Ok(mut f) = failed_ref.lock() {
                                f.extend(outcome.failed);
                            }
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failed_ref.lock() {
                            f.extend(chunk.iter().map(|h| (h.clone(), e.reason.clone())));
                        }
                    }
                }
            }
        };
        join_all(
            (0..self.options.receivers.max(1))
                .map(|_| worker())
                .collect(),
        )
        .await;
        let failed = failed.into_inner().unwrap_or_default();
        if !failed.is_empty() {
            warn!(
                failed = failed.len(),
                "some digest messages could not be deleted; they will be counted again"
            );
        }
        (deleted.load(Ordering::SeqCst), failed)
    }
}

impl<B: Backend + Sync> Function for Handler<B> {
    type Output = Summary;
    type Error = HandlerError;

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        Handler::handle(self, event).await
    }
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use triage_core::fakes::{Memory, MemoryDigestQueue, at, finding};
    use triage_core::settings::env_from_pairs;
    use triage_core::{DigestEntry, DigestKind, Finding};

    use super::*;
    use crate::settings::tests::REQUIRED;
    use crate::{Settings, assemble};

    /// The `i`-th occurrence (minute `i`) of one problem.
    fn entry(kind: DigestKind, i: i64) -> DigestEntry {
        let f = Finding {
            first_seen: at(i),
            last_seen: at(i),
            ..finding("restricted-ssh")
        };
        DigestEntry::new(kind, &f)
    }

    /// The function on the in-memory backend, no receive wait, `extra` settings.
    fn handler_with(extra: &[(&str, &str)]) -> (Handler<Memory>, Memory) {
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("DIGEST_RECEIVE_WAIT_SECONDS", "0"));
        pairs.extend_from_slice(extra);
        let memory = Memory::default();
        let settings = Settings::from(&env_from_pairs(&pairs)).expect("settings");
        (assemble(settings, &memory), memory)
    }

    /// The function, with a storm of `n` entries of one problem on its queue.
    fn handler(n: i64) -> (Handler<Memory>, Memory) {
        let (h, memory) = handler_with(&[]);
        storm(&memory.digest_queue, n);
        (h, memory)
    }

    fn storm(q: &MemoryDigestQueue, n: i64) {
        for i in 0..n {
            let kind = if i == 0 {
                DigestKind::New
            } else {
                DigestKind::Repeat
            };
            q.push(entry(kind, i).body().expect("body"));
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(120)
    }

    #[tokio::test]
    async fn a_storm_becomes_one_digest_and_every_message_is_deleted_after_the_publish() {
        let (h, memory) = handler(30);
        let summary = h.run(soon()).await.expect("run");
        assert_eq!(
            (
                summary.received,
                summary.entries,
                summary.published,
                summary.deleted
            ),
            (30, 30, 1, 30)
        );
        let published = memory.digest_topic.published();
        assert_eq!(published.len(), 1);
        assert!(
            published[0]
                .text
                .contains("30 occurrences of 1 problem: 1 new (ticket opened), 29 repeats merged"),
            "{}",
            published[0].text
        );
        assert!(memory.digest_queue.is_empty());
        assert_eq!(
            memory.digest_queue.deletes.load(Ordering::SeqCst),
            3,
            "batches of ten"
        );
    }

    #[tokio::test]
    async fn when_the_publish_fails_nothing_is_deleted_and_the_next_run_has_every_entry() {
        let (h, memory) = handler(25);
        memory.digest_topic.fail_next(1);
        let err = h.run(soon()).await.expect_err("publish fails");
        assert_eq!(err.error_type(), "PublishFailed");
        assert_eq!(memory.digest_queue.len(), 25, "nothing deleted");
        assert_eq!(memory.digest_queue.deletes.load(Ordering::SeqCst), 0);
        memory.digest_queue.release(); // the visibility timeout runs out
        let summary = h.run(soon()).await.expect("next run");
        assert_eq!((summary.entries, summary.deleted), (25, 25));
        assert!(memory.digest_queue.is_empty());
    }

    #[tokio::test]
    async fn an_entry_delivered_twice_is_counted_once_and_both_copies_are_deleted() {
        let (h, memory) = handler(3);
        memory
            .digest_queue
            .push(entry(DigestKind::Repeat, 1).body().expect("body"));
        let summary = h.run(soon()).await.expect("run");
        assert_eq!(
            (
                summary.received,
                summary.entries,
                summary.duplicates,
                summary.deleted
            ),
            (4, 3, 1, 4)
        );
    }

    #[tokio::test]
    async fn an_unreadable_message_is_reported_and_left_for_the_dead_letter_queue() {
        let (h, memory) = handler(2);
        memory.digest_queue.push("{ not a digest entry");
        let summary = h.run(soon()).await.expect("run");
        assert_eq!((summary.unreadable, summary.deleted), (1, 2));
        assert_eq!(memory.digest_queue.len(), 1, "left on the queue");
        assert!(
            memory.digest_topic.published()[0]
                .text
                .contains("1 unreadable queue message")
        );
    }

    #[tokio::test]
    async fn an_empty_queue_publishes_nothing_unless_asked_to_say_all_quiet() {
        let (h, memory) = handler(0);
        let summary = h.run(soon()).await.expect("run");
        assert_eq!(summary, Summary::default());
        assert!(memory.digest_topic.published().is_empty());
        let (quiet, memory) = handler_with(&[("DIGEST_WHEN_EMPTY", "publish")]);
        quiet.run(soon()).await.expect("run");
        assert_eq!(
            memory.digest_topic.published()[0].subject,
            "triage digest: all quiet"
        );
    }

    #[tokio::test]
    async fn a_failed_delete_fails_the_run_after_the_publish_and_names_the_count() {
        let (h, memory) = handler(12);
        memory.digest_queue.fail_deletes(2);
        let err = h.run(soon()).await.expect_err("delete failed");
        assert!(
            err.to_string()
                .contains("2 of 12 message(s) could not be deleted"),
            "{err}"
        );
        assert_eq!(err.error_type(), "DeleteFailed");
        assert_eq!(
            memory.digest_topic.published().len(),
            1,
            "the digest went out"
        );
        assert_eq!(memory.digest_queue.len(), 2);
    }

    #[tokio::test]
    async fn a_spent_time_budget_stops_the_drain_and_leaves_the_rest_for_the_next_digest() {
        let (h, memory) = handler(40);
        // The margin (30 s) is already larger than the time left.
        let summary = h
            .run(Instant::now() + Duration::from_secs(10))
            .await
            .expect("run");
        assert!(summary.stopped_early);
        assert_eq!(summary.received, 0);
        assert_eq!(memory.digest_queue.len(), 40);
    }

    #[tokio::test]
    async fn the_message_cap_bounds_one_run() {
        let (h, memory) = handler_with(&[("DIGEST_MAX_MESSAGES", "30"), ("DIGEST_RECEIVERS", "1")]);
        storm(&memory.digest_queue, 100);
        let summary = h.run(soon()).await.expect("run");
        assert!(summary.stopped_early);
        assert_eq!((summary.received, summary.deleted), (30, 30));
        assert_eq!(memory.digest_queue.len(), 70);
    }

    #[tokio::test]
    async fn the_byte_budget_bounds_one_run_and_leaves_the_rest_queued() {
        let (h, memory) = handler_with(&[("DIGEST_MAX_BYTES", "65536"), ("DIGEST_RECEIVERS", "1")]);
        storm(&memory.digest_queue, 1000);
        let summary = h.run(soon()).await.expect("run");
        assert!(summary.stopped_early);
        assert!(summary.received < 1000, "{summary:?}");
        let entry_bytes = entry(DigestKind::Repeat, 1).body().expect("body").len();
        // It stops at the first receive past the budget: at most one batch of ten over it.
        assert!(
            summary.received * entry_bytes <= 65536 + 10 * entry_bytes,
            "{summary:?}"
        );
        assert_eq!(summary.deleted, summary.received);
        assert_eq!(memory.digest_queue.len(), 1000 - summary.received);
    }

    #[tokio::test]
    async fn the_scheduled_event_sample_runs_a_digest() {
        let path = format!(
            "{}/../../events/scheduled-digest.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json");
        let (h, _) = handler(3);
        let summary = h
            .handle(LambdaEvent::new(payload, Context::default()))
            .await
            .expect("run");
        assert_eq!(summary.published, 1);
    }
}
