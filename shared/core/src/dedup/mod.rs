//! Dedup state: the first occurrence of a problem tickets (and pages) at once; repeats inside its
//! window only count; a recurrence after the window updates the ticket; a resolution closes it
//! and is remembered (a *tombstone*), so that an older event arriving late changes nothing.
//!
//! # The state of one fingerprint ([`DedupItem`])
//!
//! One item per fingerprint, in a DynamoDB table in production (`ports::DedupStore` is the port, the
//! adapter lives in `triage-aws`) and in memory for tests and `triage replay`
//! (`fakes::MemoryDedupStore`). Every change is a *conditional* write
//! ([`Write`]): create only if absent, replace only if the version read is still current, count
//! only within the same window generation. Two invocations that see the same new fingerprint
//! race on the create; exactly one wins and opens the ticket, the other re-reads and counts a
//! repeat.
//!
//! # Windows
//!
//! A window is fixed (tumbling), not sliding: it starts at the open (or at an update) and lasts
//! the rule's dedup window ([`DedupWindows`]: `DEDUP_WINDOW_MINUTES`, 60 by default, overridden
//! per rule in `policy/dedup-windows.toml`). Inside it a repeat sends no ticket and no page; it
//! adds its count to the state and yields a `repeat` digest entry. The first occurrence after it
//! sends an `update` ticket event carrying the new total count (and pages again if the finding
//! pages: it is news after a quiet window) and starts a new window. A continuous storm therefore
//! gives one ticket, one update per window with the running total, and digest counts.
//!
//! # Order: sequences and event times
//!
//! Every ticket event the state produces (open, update, resolve) carries the fingerprint's next
//! `sequence`: strictly greater than every earlier one of the same fingerprint (the larger of
//! the last one + 1 and the current time in milliseconds, so it keeps growing even after the
//! state expired), and the time of the event it reflects. A consumer applies a ticket event only
//! if its sequence is greater than the last one it applied for the fingerprint; a copy (same
//! sequence) or an overtaken event (smaller) is dropped.
//!
//! Events also arrive late and out of order (Lambda's retries, a DLQ redrive hours later). A
//! resolve older than the last occurrence of an open problem, and an occurrence no newer than
//! the resolve of a resolved one, are *stale*: counted and dropped ([`Outcome::Stale`]). A
//! tie goes to the resolve. A resolve of a resolved problem is dropped the same way.
//!
//! A GuardDuty or Security Hub finding is one record its provider re-publishes on every update
//! ([`crate::Source::versions_its_records`]); its `last_seen` is the record's `UpdatedAt`. An
//! occurrence of such a record no newer than the version last seen is *stale* too
//! ([`Stale::NotNewer`]): the same version delivered again, or through the other path
//! (GuardDuty directly and through Security Hub), or an older version arriving late. Only a
//! newer version counts as a repeat (inside the window) or updates the ticket (after it).
//!
//! # Nothing lost: the outbox ([`Pending`])
//!
//! The write that opens (or updates) stores the exact messages to send — the ticket event body,
//! the digest entry body and whether to page — as the item's *pending* delivery, with a
//! `delivered = false` flag and a claim (`claimed_until`, at least the function timeout). The
//! invocation then sends them: first the ticket event, and marks it sent at once
//! ([`Write::MarkTicketSent`]) when digest entries or a page are still to go; then the digest
//! entry and the page, and marks the pending delivered. If it dies in between:
//!
//! - its retry rebuilds the same finding, so the same *origin* (a hash of the finding); once the
//!   claim has run out it re-sends exactly the stored messages — same body, so the same FIFO
//!   deduplication id, so SQS drops a copy that did get through — and marks them delivered. While
//!   the claim runs, an identical observation fails with the retryable [`DedupError::InFlight`]
//!   instead of guessing whether the owner is alive. An invocation that learns its delivery
//!   failed (a send or a mark refused, rather than a crash or a timeout) releases its claims
//!   ([`Write::Release`]) before it fails, so that its retry — a stream's comes within seconds —
//!   delivers at once instead of waiting for the claim;
//! - any other occurrence of the fingerprint counts as a repeat while the claim runs, and after
//!   it takes the pending over and delivers it (a copy of the same version of a GuardDuty or
//!   Security Hub finding, which does not count, only rescues it: [`Why::Rescue`]);
//! - a resolve of an open problem, or a new occurrence of a resolved one, must come after the
//!   pending in the ticket system: it waits for a live claim ([`DedupError::InFlight`]) and
//!   delivers a stale pending first ([`Outcome::Earlier`]).
//!
//! A ticket event is therefore re-sent only when its invocation failed between the send and the
//! `MarkTicketSent` write (a lost answer, a timeout); the copy has the same body, the same FIFO
//! deduplication id and the same sequence. SQS drops it within its 5-minute deduplication
//! window; after that (a DLQ redrive hours later) the consumer's sequence check does.
//!
//! An observation whose origin is the one last delivered is a retry of an invocation that got
//! further than this finding: nothing is sent again ([`Outcome::AlreadyDelivered`]). A retried
//! *repeat* is not recognised and adds its count twice to the stored total (the digest still
//! counts it once: the digest entry is the same, with the same `entry_id`). When the store
//! cannot be reached the invocation fails and Lambda retries it: a finding is never dropped and
//! a ticket never opened without the state that prevents the next duplicate. A write that
//! applied but whose answer was lost is not "cannot be reached": the store must report it
//! applied (the DynamoDB adapter recognises its own per-attempt token in the item), or the
//! writer would find its own claim and fail as [`DedupError::InFlight`] until the claim ran out.
//!
//! # Time to live
//!
//! `expires_at` (the table's TTL attribute) is refreshed on every write to now + the retention
//! (`DEDUP_RETENTION_DAYS`, 30 by default; never shorter than the window). An item past it is
//! treated as absent even before DynamoDB deletes it, so an old problem that comes back after a
//! month opens a fresh ticket.

mod decide;
mod windows;

use chrono::{DateTime, Utc};

pub use decide::{
    Observation, Outcome, Stale, Step, Why, apply, decide, next_sequence, observe, origin_of,
};
pub use windows::{
    DEFAULT_CLAIM_SECONDS, DEFAULT_DEDUP_WINDOWS_TOML, DEFAULT_RETENTION_DAYS,
    DEFAULT_WINDOW_MINUTES, DedupOptions, DedupSettings, DedupSettingsError, DedupWindows,
    MAX_WINDOW_MINUTES, WindowError, WindowRule,
};

use crate::finding::Fingerprint;
use crate::ports::DedupStore;
use crate::ticket::{DigestEntry, TicketAction, TicketEvent};

/// The dedup store could not do its part; the invocation must fail so that Lambda retries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DedupError {
    /// The store did not answer or refused the request (network, throttling, permissions, a
    /// missing table…). Retryable.
    #[error("dedup store unavailable: {reason}")]
    Unavailable { reason: String },
    /// The state kept changing between read and conditional write. Retryable.
    #[error(
        "dedup state of {fingerprint} changed under every one of {attempts} conditional writes; retry"
    )]
    Contention {
        fingerprint: Fingerprint,
        attempts: u32,
    },
    /// An identical observation (a duplicate delivery, or this invocation's own retry arriving
    /// early) holds an undelivered ticket event whose claim has not run out. Retryable: once the
    /// claim ends the retry re-sends it, unless it was delivered meanwhile.
    #[error(
        "an identical occurrence of {fingerprint} is being delivered by another invocation (claimed until {claimed_until}); retry"
    )]
    InFlight {
        fingerprint: Fingerprint,
        claimed_until: DateTime<Utc>,
    },
    /// The stored item cannot be read back (edited by hand, or written by an incompatible
    /// version). Not retryable: a human must look (the event lands on the DLQ).
    #[error("dedup state of {fingerprint} is unreadable: {reason}")]
    Corrupt { fingerprint: String, reason: String },
    /// A pending message could not be encoded or decoded.
    #[error("dedup pending message: {0}")]
    Encode(String),
}

impl DedupError {
    /// Whether a retry of the invocation can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DedupError::Unavailable { .. }
                | DedupError::Contention { .. }
                | DedupError::InFlight { .. }
        )
    }
}

/// Messages stored with the state before they are sent (the outbox), so that a retry re-sends
/// exactly them (the ticket event only if it was not marked sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The observation that wrote it ([`origin_of`] its finding): its retry recognises it.
    pub origin: String,
    pub action: TicketAction,
    /// The ticket event body, exactly as it is (or was) sent. It holds the finding an alert is
    /// built from.
    pub event: String,
    /// Whether the ticket event goes to the ticket queue (the severity reaches the ticket
    /// threshold).
    pub send_ticket: bool,
    /// The ticket event was sent (and marked so) before the rest: a retry does not send it again.
    pub ticket_sent: bool,
    /// Whether an alert is published.
    pub page: bool,
    /// The digest entry body, if the finding reaches the digest.
    pub digest: Option<String>,
    /// Until when the invocation that wrote (or took over) the pending may still be sending it.
    pub claimed_until: DateTime<Utc>,
}

impl Pending {
    /// The stored ticket event. Serialising it again gives the stored body byte for byte (the
    /// contract is deterministic), hence the same FIFO deduplication id.
    ///
    /// A pending stored by a version that wrote ticket events of schema version 1 (no sequence,
    /// no event time; left undelivered across an upgrade) is sent as version 2, numbered by its
    /// finding's last sighting: earlier than anything the new version numbers by its clock.
    pub fn ticket_event(&self) -> Result<TicketEvent, DedupError> {
        #[derive(serde::Deserialize)]
        struct Version1 {
            schema_version: u32,
            action: TicketAction,
            finding: crate::finding::Finding,
        }
        serde_json::from_str(&self.event).or_else(|e| {
            match serde_json::from_str::<Version1>(&self.event) {
                Ok(v1) if v1.schema_version == 1 => {
                    let sequence = next_sequence(0, v1.finding.last_seen);
                    Ok(TicketEvent::new(v1.action, v1.finding, sequence))
                }
                _ => Err(DedupError::Encode(format!("stored ticket event: {e}"))),
            }
        })
    }

    /// The stored digest entry, if any.
    pub fn digest_entry(&self) -> Result<Option<DigestEntry>, DedupError> {
        self.digest
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| DedupError::Encode(format!("stored digest entry: {e}")))
    }
}

/// The dedup state of one fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupItem {
    pub fingerprint: Fingerprint,
    /// Bumped by every write: a replace is conditioned on it (optimistic concurrency).
    pub version: u64,
    /// Bumped when a window opens (open, update): counts and marks are conditioned on it.
    pub generation: u64,
    /// For people browsing the table.
    pub rule_id: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// When the problem was first seen (kept across windows; the update ticket carries it).
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Occurrences since the open.
    pub total: u64,
    /// The sequence of the last ticket event this state produced (0: none yet).
    pub sequence: u64,
    /// The problem was resolved by an event of this time: the item is a tombstone.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The undelivered outbox, if any (`delivered = false` in the table).
    pub pending: Option<Pending>,
    /// The origin of the last delivered pending.
    pub delivered_origin: Option<String>,
    /// The TTL: past it the item counts as absent.
    pub expires_at: DateTime<Utc>,
    /// The window holds occurrences of a rule with a count threshold (`[[threshold]]` in
    /// `policy/dedup-windows.toml`) that have not reached it: no ticket was sent for them; the
    /// occurrence that reaches it inside the window opens the ticket.
    pub quiet: bool,
}

/// A conditional write: applied whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store a new item, only if none exists.
    Create(DedupItem),
    /// Replace the item, only if its version is still `expected_version`.
    Replace {
        item: DedupItem,
        expected_version: u64,
    },
    /// Add `add` occurrences, only if the item is still in window generation `generation`
    /// (and, to take over a stale pending, only if its claim is still the one read).
    Count {
        fingerprint: Fingerprint,
        generation: u64,
        add: u64,
        last_seen: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        take_over: Option<TakeOver>,
    },
    /// The ticket event of the pending of `generation` written by `origin` was sent; its digest
    /// entry or page are still to go.
    MarkTicketSent {
        fingerprint: Fingerprint,
        generation: u64,
        origin: String,
    },
    /// The pending of `generation` written by `origin` was delivered: clear it.
    MarkDelivered {
        fingerprint: Fingerprint,
        generation: u64,
        origin: String,
    },
    /// The invocation that claimed the pending of `generation` written by `origin` failed to
    /// deliver it and gives up: its claim ends at `claimed_until` (now), so that the retry need
    /// not wait for it.
    Release {
        fingerprint: Fingerprint,
        generation: u64,
        origin: String,
        claimed_until: DateTime<Utc>,
    },
}

impl Write {
    pub fn fingerprint(&self) -> &Fingerprint {
        match self {
            Write::Create(item) | Write::Replace { item, .. } => &item.fingerprint,
            Write::Count { fingerprint, .. }
            | Write::MarkTicketSent { fingerprint, .. }
            | Write::MarkDelivered { fingerprint, .. }
            | Write::Release { fingerprint, .. } => fingerprint,
        }
    }
}

/// Claiming a pending whose claim ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOver {
    pub origin: String,
    pub claimed_until_was: DateTime<Utc>,
    pub claimed_until: DateTime<Utc>,
}

/// Whether a conditional write was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Yes,
    /// Its condition did not hold: someone else wrote first. Re-read and decide again.
    Conflict,
}

/// No state: every active finding opens, nothing is remembered.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDedup;

impl DedupStore for NoDedup {
    async fn load(&self, _fingerprint: &Fingerprint) -> Result<Option<DedupItem>, DedupError> {
        Ok(None)
    }

    async fn write(&self, _write: &Write) -> Result<Applied, DedupError> {
        Ok(Applied::Yes)
    }
}
