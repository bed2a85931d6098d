//! One retry loop for SQS batch calls (`SendMessageBatch`, `DeleteMessageBatch`): entries SQS
//! refuses for a reason on its side are sent again alone, with backoff; entries refused as the
//! sender's fault, still refused after the policy's attempts, or missing from the answer are
//! handed back with why. The caller decides what a refusal means (a failed send fails the call;
//! a failed delete is reported).

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::BatchResultErrorEntry;
use tracing::warn;

/// How per-entry failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Attempts per entry, the first included.
    pub attempts: u32,
    /// Pause before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            attempts: 4,
            backoff: Duration::from_millis(50),
        }
    }
}

/// What one batch call answered: the ids it did, and the entries it refused.
pub(crate) struct Answer {
    pub succeeded: Vec<String>,
    pub failed: Vec<BatchResultErrorEntry>,
}

/// Entries not done after every attempt, each with why, and the attempts made.
pub(crate) struct Refused<E> {
    pub entries: Vec<(E, String)>,
    pub attempts: u32,
}

impl<E> Refused<E> {
    /// The reasons, joined, for an error message.
    pub fn reason(&self) -> String {
        self.entries
            .iter()
            .map(|(_, r)| r.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Calls `call` with `entries` (at most one batch), then again with the entries to retry, as
/// the policy says. A call that fails as a whole is the caller's error at once.
pub(crate) async fn with_retries<E, Err, Fut>(
    policy: BatchPolicy,
    what: &str,
    entries: Vec<E>,
    id: impl Fn(&E) -> &str,
    call: impl Fn(Vec<E>) -> Fut,
) -> Result<Refused<E>, Err>
where
    E: Clone,
    Fut: Future<Output = Result<Answer, Err>>,
{
    let mut refused = Vec::new();
    let mut pending = entries;
    let mut attempt = 1u32;
    let mut backoff = policy.backoff;
    loop {
        let answer = call(pending.clone()).await?;
        let mut retry = Vec::new();
        for entry in pending {
            let entry_id = id(&entry);
            if answer.succeeded.iter().any(|s| s == entry_id) {
                continue;
            }
            let Some(f) = answer.failed.iter().find(|f| f.id() == entry_id) else {
                refused.push((entry, format!("missing from the {what} answer")));
                continue;
            };
            let reason = format!("{} {}", f.code(), f.message().unwrap_or_default());
            if f.sender_fault() || attempt >= policy.attempts {
                refused.push((entry, reason));
            } else {
                warn!(id = entry_id, %reason, attempt, "SQS refused a {what} entry; retrying it");
                retry.push(entry);
            }
        }
        if retry.is_empty() {
            return Ok(Refused {
                entries: refused,
                attempts: attempt,
            });
        }
        pending = retry;
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2);
        attempt += 1;
    }
}
