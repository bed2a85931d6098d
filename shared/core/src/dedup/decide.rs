//! The dedup decision, pure: given the stored item and an observation, what to write and what
//! to send. Both stores apply the writes with the same conditions ([`apply`] is the reference
//! semantics the DynamoDB adapter reproduces with condition expressions).

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use super::{Applied, DedupError, DedupItem, DedupOptions, DedupStore, Pending, TakeOver, Write};
use crate::finding::{Finding, Status};
use crate::ticket::{DigestEntry, DigestKind, TicketAction, TicketEvent};

/// How many times a conflicting conditional write is re-decided before giving up.
const MAX_ATTEMPTS: u32 = 8;

/// One finding as the router sees it, about to be deduplicated.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    /// The finding after the severity policy (merged within the invocation).
    pub finding: &'a Finding,
    /// [`origin_of`] the finding: the same event gives the same origin on a retry.
    pub origin: String,
    pub now: DateTime<Utc>,
    /// The rule's dedup window.
    pub window: TimeDelta,
    /// Occurrences inside the window before the problem opens a ticket (and pages): 1 opens at
    /// once; above 1 the earlier ones are counted quietly (digest entries only).
    pub open_after: u64,
    pub options: DedupOptions,
    /// Whether the finding tickets, pages and reaches the digest (by the thresholds).
    pub send_ticket: bool,
    pub page: bool,
    pub digest: bool,
}

/// Why a pending is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// First occurrence (or first after the state expired or was resolved).
    Open,
    /// Recurrence after the window.
    Update,
    /// The problem went away.
    Resolve,
    /// This observation's own pending, left undelivered by an earlier attempt.
    Retry,
    /// Someone else's pending, left undelivered past its claim: delivered on its behalf (this
    /// observation also counts as a repeat).
    TakeOver,
    /// Someone else's pending, left undelivered past its claim, delivered on its behalf by a copy
    /// of the same version of a record its provider versions (the other path of a GuardDuty
    /// finding): the copy itself counts for nothing.
    Rescue,
}

/// Why an observation changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// A resolve older than the last occurrence of the open problem, or an occurrence no newer
    /// than the resolve of the resolved problem.
    Older,
    /// A resolve of a problem already resolved.
    AlreadyResolved,
    /// A record its provider versions (a GuardDuty or Security Hub finding:
    /// [`crate::Source::versions_its_records`]) no newer than the version last seen: a
    /// re-delivery, the same version through the other path, or an older version arriving late.
    NotNewer,
}

/// What the router does for an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send the pending's messages, then mark it delivered.
    Deliver {
        pending: Pending,
        generation: u64,
        why: Why,
    },
    /// Someone else's pending, left undelivered past its claim, must reach the ticket system
    /// before this observation (a resolve after an open, an open after a resolve): deliver it
    /// and mark it delivered, then observe again.
    Earlier { pending: Pending, generation: u64 },
    /// Inside the window: counted, nothing sent but a `repeat` digest entry.
    Repeat { total: u64 },
    /// This very observation was delivered before (a retried invocation): nothing to do.
    AlreadyDelivered,
    /// Out of date: dropped, counted.
    Stale(Stale),
}

/// The decision: the conditional write to make (if any) and what follows if it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub write: Option<Write>,
    pub outcome: Outcome,
}

/// A stable identity of an observed finding: 128 bits of SHA-256 over its JSON.
pub fn origin_of(finding: &Finding) -> String {
    let json = serde_json::to_vec(finding).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..16])
}

/// The sequence of a fingerprint's next ticket event after `last`: the larger of `last + 1` and
/// `now` in epoch milliseconds. Strictly increasing while the state lives, and still greater than
/// every earlier one after the state expired (the clock has moved on by then).
pub fn next_sequence(last: u64, now: DateTime<Utc>) -> u64 {
    let clock = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    last.saturating_add(1).max(clock)
}

fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

impl Observation<'_> {
    fn now(&self) -> DateTime<Utc> {
        millis(self.now)
    }

    fn count(&self) -> u64 {
        self.finding.count.max(1)
    }

    /// Whether `total` occurrences are still below the rule's count threshold.
    fn below_threshold(&self, total: u64) -> bool {
        total < self.open_after
    }

    fn resolving(&self) -> bool {
        self.finding.status == Status::Resolved
    }

    fn expires_at(&self) -> DateTime<Utc> {
        let keep = self
            .options
            .retention
            .max(self.window + self.options.claim + TimeDelta::days(1));
        seconds(self.now() + keep)
    }

    fn claim_until(&self) -> DateTime<Utc> {
        self.now() + self.options.claim
    }

    /// The messages to store: ticket event number `sequence` about `ticket_finding` and a digest
    /// entry of `kind` about the observed finding.
    fn pending(
        &self,
        action: TicketAction,
        ticket_finding: Finding,
        sequence: u64,
        kind: DigestKind,
    ) -> Result<Pending, DedupError> {
        let event = TicketEvent::new(action, ticket_finding, sequence)
            .body()
            .map_err(|e| DedupError::Encode(e.to_string()))?;
        let digest = if self.digest {
            Some(
                DigestEntry::new(kind, self.finding)
                    .body()
                    .map_err(|e| DedupError::Encode(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(Pending {
            origin: self.origin.clone(),
            action,
            event,
            send_ticket: self.send_ticket,
            ticket_sent: false,
            // A provider's re-publication of a finding updates its ticket; it pages only as news
            // (the open): Inspector's rescans would page again every window otherwise.
            page: self.page
                && action != TicketAction::Resolve
                && !(action == TicketAction::Update && self.versioned()),
            digest,
            claimed_until: self.claim_until(),
        })
    }

    fn count_write(
        &self,
        item: &DedupItem,
        add: u64,
        last_seen: DateTime<Utc>,
        take_over: Option<TakeOver>,
    ) -> Write {
        Write::Count {
            fingerprint: item.fingerprint.clone(),
            generation: item.generation,
            add,
            last_seen,
            expires_at: self.expires_at(),
            take_over,
        }
    }

    /// A repeat: counted into the current window.
    fn repeat(&self, item: &DedupItem) -> Step {
        let last_seen = item.last_seen.max(self.finding.last_seen);
        Step {
            write: Some(self.count_write(item, self.count(), last_seen, None)),
            outcome: Outcome::Repeat {
                total: item.total.saturating_add(self.count()),
            },
        }
    }

    /// Why this observation is out of date against `item`, if it is.
    fn stale(&self, item: &DedupItem) -> Option<Stale> {
        let seen = self.finding.last_seen;
        match (item.resolved_at, self.resolving()) {
            (Some(_), true) => Some(Stale::AlreadyResolved),
            (Some(resolved), false) => (seen <= resolved).then_some(Stale::Older),
            (None, true) => (seen < item.last_seen).then_some(Stale::Older),
            (None, false) => {
                (self.versioned() && seen <= item.last_seen).then_some(Stale::NotNewer)
            }
        }
    }

    /// Whether the finding is a version of one provider record: only a newer version counts.
    fn versioned(&self) -> bool {
        self.finding.source.versions_its_records()
    }

    /// A new state that opens (an active finding) or resolves (a resolve with nothing open
    /// known), replacing `current` (absent, expired or a tombstone).
    fn first(&self, current: Option<&DedupItem>) -> Result<Step, DedupError> {
        let now = self.now();
        let finding = self.finding;
        let sequence = next_sequence(current.map_or(0, |c| c.sequence), now);
        let (action, kind, why, total, resolved_at) = if self.resolving() {
            let r = TicketAction::Resolve;
            (
                r,
                DigestKind::Resolved,
                Why::Resolve,
                0,
                Some(finding.last_seen),
            )
        } else {
            let o = TicketAction::Open;
            (o, DigestKind::New, Why::Open, self.count(), None)
        };
        let quiet = !self.resolving() && self.below_threshold(total);
        let mut pending = self.pending(action, finding.clone(), sequence, kind)?;
        if quiet {
            // Below the rule's count threshold: counted (the digest entry), no ticket, no page.
            pending.send_ticket = false;
            pending.page = false;
        }
        let item = DedupItem {
            quiet,
            fingerprint: finding.fingerprint.clone(),
            version: current.map_or(1, |c| c.version + 1),
            generation: current.map_or(1, |c| c.generation + 1),
            rule_id: finding.rule_id.as_str().to_owned(),
            window_start: now,
            window_end: now + self.window,
            first_seen: finding.first_seen,
            last_seen: finding.last_seen,
            total,
            sequence,
            resolved_at,
            pending: Some(pending.clone()),
            delivered_origin: current.and_then(|c| c.delivered_origin.clone()),
            expires_at: self.expires_at(),
        };
        let generation = item.generation;
        let write = match current {
            None => Write::Create(item),
            Some(old) => Write::Replace {
                item,
                expected_version: old.version,
            },
        };
        Ok(Step {
            write: Some(write),
            outcome: Outcome::Deliver {
                pending,
                generation,
                why,
            },
        })
    }

    /// The open problem of `item` went away: a tombstone that remembers when.
    fn resolve(&self, item: &DedupItem) -> Result<Step, DedupError> {
        let sequence = next_sequence(item.sequence, self.now());
        let mut pending = self.pending(
            TicketAction::Resolve,
            self.finding.clone(),
            sequence,
            DigestKind::Resolved,
        )?;
        if item.quiet {
            // It never reached its threshold: no ticket to close.
            pending.send_ticket = false;
        }
        let generation = item.generation + 1;
        let next = DedupItem {
            version: item.version + 1,
            generation,
            last_seen: item.last_seen.max(self.finding.last_seen),
            sequence,
            resolved_at: Some(self.finding.last_seen),
            pending: Some(pending.clone()),
            expires_at: self.expires_at(),
            quiet: false,
            ..item.clone()
        };
        Ok(replacing(item, next, pending, Why::Resolve))
    }

    /// A recurrence after the window: update the ticket with the running total, new window.
    fn update(&self, item: &DedupItem) -> Result<Step, DedupError> {
        let now = self.now();
        let finding = self.finding;
        let total = item.total.saturating_add(self.count());
        let first_seen = item.first_seen.min(finding.first_seen);
        let mut updated = finding.clone();
        updated.count = total;
        updated.first_seen = first_seen;
        let sequence = next_sequence(item.sequence, now);
        let pending = self.pending(TicketAction::Update, updated, sequence, DigestKind::Repeat)?;
        let generation = item.generation + 1;
        let next = DedupItem {
            fingerprint: item.fingerprint.clone(),
            version: item.version + 1,
            generation,
            rule_id: finding.rule_id.as_str().to_owned(),
            window_start: now,
            window_end: now + self.window,
            first_seen,
            last_seen: item.last_seen.max(finding.last_seen),
            total,
            sequence,
            resolved_at: None,
            pending: Some(pending.clone()),
            delivered_origin: item.delivered_origin.clone(),
            expires_at: self.expires_at(),
            quiet: false,
        };
        Ok(replacing(item, next, pending, Why::Update))
    }

    /// The occurrence that brings a quiet window's count to the rule's threshold: the ticket
    /// opens now (and pages, if the finding pages), carrying the count and the first sighting of
    /// the window, in the same window.
    fn reach_threshold(&self, item: &DedupItem) -> Result<Step, DedupError> {
        let finding = self.finding;
        let total = item.total.saturating_add(self.count());
        let first_seen = item.first_seen.min(finding.first_seen);
        let mut opened = finding.clone();
        opened.count = total;
        opened.first_seen = first_seen;
        let sequence = next_sequence(item.sequence, self.now());
        let pending = self.pending(TicketAction::Open, opened, sequence, DigestKind::New)?;
        let next = DedupItem {
            version: item.version + 1,
            generation: item.generation + 1,
            rule_id: finding.rule_id.as_str().to_owned(),
            first_seen,
            last_seen: item.last_seen.max(finding.last_seen),
            total,
            sequence,
            pending: Some(pending.clone()),
            expires_at: self.expires_at(),
            quiet: false,
            ..item.clone()
        };
        Ok(replacing(item, next, pending, Why::Open))
    }
}

/// Replaces `item` with `next`, which opens a window generation holding `pending`, and delivers it.
fn replacing(item: &DedupItem, next: DedupItem, pending: Pending, why: Why) -> Step {
    let generation = next.generation;
    Step {
        write: Some(Write::Replace {
            item: next,
            expected_version: item.version,
        }),
        outcome: Outcome::Deliver {
            pending,
            generation,
            why,
        },
    }
}

/// Decides, from the stored item (`None` when absent), what to write and to send.
pub fn decide(current: Option<&DedupItem>, obs: &Observation<'_>) -> Result<Step, DedupError> {
    let now = obs.now();
    let Some(item) = current.filter(|i| i.expires_at > now) else {
        // Nothing known (never seen, or the state expired): open, or record the resolve.
        return obs.first(current);
    };

    if item.delivered_origin.as_deref() == Some(obs.origin.as_str()) {
        return Ok(Step {
            write: None,
            outcome: Outcome::AlreadyDelivered,
        });
    }

    if let Some(pending) = &item.pending {
        let mine = pending.origin == obs.origin;
        let live = pending.claimed_until > now;
        // A repeat of an open problem counts beside the pending; anything else (a resolve, an
        // occurrence of a resolved problem) must follow it in the ticket system.
        let follows = !mine && (obs.resolving() || item.resolved_at.is_some());
        // A version of a record no newer than the pending's is dropped while the owner may be
        // delivering; after its claim it rescues the pending (below) and counts for nothing.
        let copy = !mine && obs.versioned() && !obs.resolving() && obs.stale(item).is_some();
        if let Some(stale) = obs.stale(item).filter(|_| follows || (copy && live)) {
            return Ok(Step {
                write: None,
                outcome: Outcome::Stale(stale),
            });
        }
        if live {
            if mine || follows {
                return Err(DedupError::InFlight {
                    fingerprint: item.fingerprint.clone(),
                    claimed_until: pending.claimed_until,
                });
            }
            // The owner is (or may be) delivering: count and let it finish.
            return Ok(obs.repeat(item));
        }
        // The claim ran out: the owner died. Claim it and deliver exactly what it stored.
        let claimed_until = obs.claim_until();
        let take_over = TakeOver {
            origin: pending.origin.clone(),
            claimed_until_was: pending.claimed_until,
            claimed_until,
        };
        let claimed = Pending {
            claimed_until,
            ..pending.clone()
        };
        if follows {
            return Ok(Step {
                write: Some(obs.count_write(item, 0, item.last_seen, Some(take_over))),
                outcome: Outcome::Earlier {
                    pending: claimed,
                    generation: item.generation,
                },
            });
        }
        let (add, last_seen) = if mine || copy {
            (0, item.last_seen)
        } else {
            (obs.count(), item.last_seen.max(obs.finding.last_seen))
        };
        return Ok(Step {
            write: Some(obs.count_write(item, add, last_seen, Some(take_over))),
            outcome: Outcome::Deliver {
                pending: claimed,
                generation: item.generation,
                why: if mine {
                    Why::Retry
                } else if copy {
                    Why::Rescue
                } else {
                    Why::TakeOver
                },
            },
        });
    }

    if let Some(stale) = obs.stale(item) {
        return Ok(Step {
            write: None,
            outcome: Outcome::Stale(stale),
        });
    }
    match (item.resolved_at.is_some(), obs.resolving()) {
        (true, _) => obs.first(Some(item)),
        (false, true) => obs.resolve(item),
        (false, false) if item.quiet && now >= item.window_end => {
            // A quiet window ran out below its threshold: its occurrences were counted in the
            // digest; this one starts a new window (and opens, if it alone reaches it).
            obs.first(Some(item))
        }
        (false, false)
            if item.quiet && !obs.below_threshold(item.total.saturating_add(obs.count())) =>
        {
            obs.reach_threshold(item)
        }
        (false, false) if now < item.window_end => Ok(obs.repeat(item)),
        (false, false) => obs.update(item),
    }
}

/// `current`, if it is still in window generation `generation` with a pending `origin` wrote:
/// the condition of every write on a pending (mark sent, mark delivered, release).
fn own_pending<'a>(
    current: Option<&'a DedupItem>,
    generation: u64,
    origin: &str,
) -> Option<&'a DedupItem> {
    current.filter(|c| {
        c.generation == generation && c.pending.as_ref().is_some_and(|p| p.origin == origin)
    })
}

/// The reference semantics of a conditional write: the item after it, or `None` when its
/// condition does not hold. The in-memory store is exactly this; the DynamoDB adapter encodes
/// the same conditions as condition expressions (and the moto tests hold the two together).
pub fn apply(current: Option<&DedupItem>, write: &Write) -> Option<DedupItem> {
    match write {
        Write::Create(item) => current.is_none().then(|| item.clone()),
        Write::Replace {
            item,
            expected_version,
        } => current
            .filter(|c| c.version == *expected_version)
            .map(|_| item.clone()),
        Write::Count {
            generation,
            add,
            last_seen,
            expires_at,
            take_over,
            ..
        } => {
            let c = current.filter(|c| c.generation == *generation)?;
            let mut next = c.clone();
            if let Some(t) = take_over {
                let p = next
                    .pending
                    .as_mut()
                    .filter(|p| p.origin == t.origin && p.claimed_until == t.claimed_until_was)?;
                p.claimed_until = t.claimed_until;
            }
            next.total = next.total.saturating_add(*add);
            next.version += 1;
            next.last_seen = *last_seen;
            next.expires_at = *expires_at;
            Some(next)
        }
        Write::MarkTicketSent {
            generation, origin, ..
        } => {
            let mut next = own_pending(current, *generation, origin)?.clone();
            if let Some(p) = next.pending.as_mut() {
                p.ticket_sent = true;
            }
            next.version += 1;
            Some(next)
        }
        Write::MarkDelivered {
            generation, origin, ..
        } => {
            let mut next = own_pending(current, *generation, origin)?.clone();
            next.pending = None;
            next.delivered_origin = Some(origin.clone());
            next.version += 1;
            Some(next)
        }
        Write::Release {
            generation,
            origin,
            claimed_until,
            ..
        } => {
            let mut next = own_pending(current, *generation, origin)?.clone();
            if let Some(p) = next.pending.as_mut() {
                p.claimed_until = *claimed_until;
            }
            next.version += 1;
            Some(next)
        }
    }
}

/// Reads, decides and writes until a conditional write applies (or gives up after a few
/// conflicts with [`DedupError::Contention`]).
pub async fn observe<S: DedupStore + ?Sized>(
    store: &S,
    obs: &Observation<'_>,
) -> Result<Outcome, DedupError> {
    let fingerprint = &obs.finding.fingerprint;
    for _ in 0..MAX_ATTEMPTS {
        let current = store.load(fingerprint).await?;
        let step = decide(current.as_ref(), obs)?;
        let Some(write) = step.write else {
            return Ok(step.outcome);
        };
        match store.write(&write).await? {
            Applied::Yes => return Ok(step.outcome),
            Applied::Conflict => {
                tracing::debug!(%fingerprint, "dedup state changed under a conditional write; re-reading");
            }
        }
    }
    Err(DedupError::Contention {
        fingerprint: fingerprint.clone(),
        attempts: MAX_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::finding::{Evidence, Fingerprint, Source, Status};
    use crate::severity::Severity;
    use crate::text::SafeText;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn finding(minute: i64) -> Finding {
        let t = t0() + TimeDelta::minutes(minute);
        Finding {
            fingerprint: Fingerprint::new(
                Source::Config,
                "restricted-ssh",
                "1",
                "us-east-1",
                &["sg-1"],
            ),
            status: Status::Active,
            severity: Severity::High,
            source: Source::Config,
            rule_id: SafeText::new("restricted-ssh"),
            title: SafeText::new("SSH open"),
            description: SafeText::new("d"),
            account: SafeText::new("1"),
            region: SafeText::new("us-east-1"),
            resources: vec![],
            principal: None,
            first_seen: t,
            last_seen: t,
            count: 1,
            evidence: Evidence::default(),
            console_url: None,
            remediation: SafeText::new("r"),
        }
    }

    fn obs(f: &Finding, minute: i64) -> Observation<'_> {
        Observation {
            finding: f,
            origin: origin_of(f),
            now: t0() + TimeDelta::minutes(minute),
            window: TimeDelta::minutes(60),
            open_after: 1,
            options: DedupOptions::default(),
            send_ticket: true,
            page: false,
            digest: true,
        }
    }

    /// Decides and applies, as a store without concurrency would.
    fn step(state: &mut Option<DedupItem>, o: &Observation<'_>) -> Result<Outcome, DedupError> {
        let s = decide(state.as_ref(), o)?;
        if let Some(w) = &s.write {
            *state = Some(apply(state.as_ref(), w).ok_or(DedupError::Encode("conflict".into()))?);
        }
        Ok(s.outcome)
    }

    fn mark(state: &mut Option<DedupItem>, outcome: &Outcome) {
        if let Outcome::Deliver {
            pending,
            generation,
            ..
        } = outcome
        {
            let fingerprint = state
                .as_ref()
                .map_or_else(|| finding(0).fingerprint, |s| s.fingerprint.clone());
            let w = Write::MarkDelivered {
                fingerprint,
                generation: *generation,
                origin: pending.origin.clone(),
            };
            *state = apply(state.as_ref(), &w).or(state.take());
        }
    }

    fn why(o: &Outcome) -> Option<Why> {
        match o {
            Outcome::Deliver { why, .. } => Some(*why),
            _ => None,
        }
    }

    #[test]
    fn first_occurrence_opens_repeats_in_the_window_count_and_a_recurrence_updates_with_the_total()
    {
        let mut state = None;
        let (f0, f10, f59, f61, f70) = (
            finding(0),
            finding(10),
            finding(59),
            finding(61),
            finding(70),
        );
        let open = step(&mut state, &obs(&f0, 0)).expect("open");
        assert_eq!(why(&open), Some(Why::Open));
        mark(&mut state, &open);
        assert_eq!(
            step(&mut state, &obs(&f10, 10)),
            Ok(Outcome::Repeat { total: 2 })
        );
        assert_eq!(
            step(&mut state, &obs(&f59, 59)),
            Ok(Outcome::Repeat { total: 3 })
        );
        let update = step(&mut state, &obs(&f61, 61)).expect("update");
        assert_eq!(why(&update), Some(Why::Update));
        let Outcome::Deliver { pending, .. } = &update else {
            panic!("{update:?}")
        };
        let ticket = pending.ticket_event().expect("ticket");
        assert_eq!(ticket.action, TicketAction::Update);
        assert_eq!(ticket.finding.count, 4, "the update carries the new total");
        assert_eq!(
            ticket.finding.first_seen, f0.first_seen,
            "…and the first sighting"
        );
        let digest = pending.digest_entry().expect("entry").expect("some");
        assert_eq!((digest.kind, digest.count), (DigestKind::Repeat, 1));
        mark(&mut state, &update);
        // The new window runs from the update.
        assert_eq!(
            step(&mut state, &obs(&f70, 70)),
            Ok(Outcome::Repeat { total: 5 })
        );
    }

    fn pending_of(o: &Outcome) -> &Pending {
        match o {
            Outcome::Deliver { pending, .. } => pending,
            other => panic!("not a delivery: {other:?}"),
        }
    }

    #[test]
    fn under_a_count_threshold_the_ticket_and_the_page_wait_for_the_nth_occurrence_in_the_window() {
        let mut state = None;
        fn paging(f: &Finding, minute: i64) -> Observation<'_> {
            Observation {
                open_after: 3,
                page: true,
                ..obs(f, minute)
            }
        }
        let (f0, f10, f20, f30) = (finding(0), finding(10), finding(20), finding(30));
        let first = step(&mut state, &paging(&f0, 0)).expect("first");
        assert_eq!(why(&first), Some(Why::Open));
        let p = pending_of(&first);
        assert!(
            !p.send_ticket && !p.page,
            "below the threshold: no ticket, no page"
        );
        assert!(p.digest.is_some(), "…but the digest counts it");
        assert!(state.as_ref().is_some_and(|s| s.quiet));
        mark(&mut state, &first);
        assert_eq!(
            step(&mut state, &paging(&f10, 10)),
            Ok(Outcome::Repeat { total: 2 })
        );
        let third = step(&mut state, &paging(&f20, 20)).expect("third");
        assert_eq!(why(&third), Some(Why::Open));
        let p = pending_of(&third);
        assert!(p.send_ticket && p.page, "the third opens and pages");
        let ticket = p.ticket_event().expect("ticket");
        assert_eq!(ticket.action, TicketAction::Open);
        assert_eq!(ticket.finding.count, 3, "with the count of the window");
        assert_eq!(ticket.finding.first_seen, f0.first_seen);
        assert!(state.as_ref().is_some_and(|s| !s.quiet));
        mark(&mut state, &third);
        assert_eq!(
            step(&mut state, &paging(&f30, 30)),
            Ok(Outcome::Repeat { total: 4 }),
            "then repeats count as usual"
        );
    }

    #[test]
    fn a_quiet_window_that_runs_out_below_its_threshold_starts_again_and_its_resolve_closes_nothing()
     {
        let mut state = None;
        fn quiet(f: &Finding, minute: i64) -> Observation<'_> {
            Observation {
                open_after: 2,
                ..obs(f, minute)
            }
        }
        let (f0, f70) = (finding(0), finding(70));
        let first = step(&mut state, &quiet(&f0, 0)).expect("first");
        mark(&mut state, &first);
        // 70 minutes later: the 60-minute window ran out with one occurrence.
        let again = step(&mut state, &quiet(&f70, 70)).expect("again");
        assert!(
            !pending_of(&again).send_ticket,
            "a new quiet window, not an open"
        );
        assert_eq!(state.as_ref().map(|s| s.total), Some(1));
        mark(&mut state, &again);
        let mut gone = finding(80);
        gone.status = Status::Resolved;
        let resolve = step(&mut state, &quiet(&gone, 80)).expect("resolve");
        assert_eq!(why(&resolve), Some(Why::Resolve));
        assert!(
            !pending_of(&resolve).send_ticket,
            "no ticket was opened: none to close"
        );
    }

    #[test]
    fn the_open_stores_the_exact_messages_to_send() {
        let f = finding(0);
        let s = decide(None, &obs(&f, 0)).expect("decide");
        let Outcome::Deliver {
            pending,
            generation,
            why,
        } = s.outcome
        else {
            panic!()
        };
        assert_eq!((generation, why), (1, Why::Open));
        assert_eq!(
            pending.event,
            TicketEvent::new(TicketAction::Open, f.clone(), next_sequence(0, t0()))
                .body()
                .expect("body")
        );
        assert_eq!(
            pending.digest,
            Some(DigestEntry::new(DigestKind::New, &f).body().expect("body"))
        );
        assert!(
            matches!(s.write, Some(Write::Create(ref i)) if i.pending.as_ref() == Some(&pending) && i.total == 1)
        );
    }

    #[test]
    fn a_retry_after_full_delivery_sends_nothing_again() {
        let mut state = None;
        let f = finding(0);
        let open = step(&mut state, &obs(&f, 0)).expect("open");
        mark(&mut state, &open);
        assert_eq!(step(&mut state, &obs(&f, 2)), Ok(Outcome::AlreadyDelivered));
        assert_eq!(
            state.as_ref().map(|s| s.total),
            Some(1),
            "not counted twice"
        );
    }

    #[test]
    fn an_undelivered_open_is_redelivered_by_the_retry_once_its_claim_has_run_out() {
        let mut state = None;
        let f = finding(0);
        let open = step(&mut state, &obs(&f, 0)).expect("open");
        // The invocation dies before sending; its retry arrives while the claim still runs…
        let early = step(&mut state, &obs(&f, 0));
        assert!(
            matches!(early, Err(DedupError::InFlight { .. })),
            "{early:?}"
        );
        assert!(early.as_ref().is_err_and(DedupError::is_retryable));
        // …and again after the claim: it re-sends exactly the stored messages.
        let retry = step(&mut state, &obs(&f, 2)).expect("retry");
        let (
            Outcome::Deliver { pending: a, .. },
            Outcome::Deliver {
                pending: b, why, ..
            },
        ) = (&open, &retry)
        else {
            panic!("{retry:?}")
        };
        assert_eq!(*why, Why::Retry);
        assert_eq!((&a.event, &a.digest), (&b.event, &b.digest));
        assert_eq!(
            state.as_ref().map(|s| s.total),
            Some(1),
            "a retry is not a repeat"
        );
        mark(&mut state, &retry);
        assert!(state.as_ref().is_some_and(|s| s.pending.is_none()));
    }

    #[test]
    fn another_occurrence_counts_while_the_owner_delivers_and_takes_over_a_stale_pending() {
        let mut state = None;
        let (f0, f1, f5) = (finding(0), finding(0), finding(5));
        let mut f1 = f1;
        f1.evidence.event_id = Some(SafeText::new("other-event"));
        let open = step(&mut state, &obs(&f0, 0)).expect("open");
        assert_eq!(
            step(&mut state, &obs(&f1, 0)),
            Ok(Outcome::Repeat { total: 2 })
        );
        // The owner died; a later occurrence delivers the stored open on its behalf.
        let taken = step(&mut state, &obs(&f5, 5)).expect("take over");
        let (
            Outcome::Deliver { pending: a, .. },
            Outcome::Deliver {
                pending: b, why, ..
            },
        ) = (&open, &taken)
        else {
            panic!("{taken:?}")
        };
        assert_eq!(*why, Why::TakeOver);
        assert_eq!(a.event, b.event, "the stored open, not a new one");
        assert_eq!(a.origin, b.origin);
        assert_eq!(
            state.as_ref().map(|s| s.total),
            Some(3),
            "the taker's occurrence counts"
        );
        // A second taker racing with the first loses its conditional write.
        let stale = decide(state.as_ref(), &obs(&f5, 5)).map(|s| s.write);
        assert!(
            matches!(
                stale,
                Ok(Some(Write::Count {
                    take_over: None,
                    ..
                }))
            ),
            "claim renewed: now a repeat"
        );
    }

    #[test]
    fn an_expired_state_opens_afresh() {
        let mut state = None;
        let f = finding(0);
        let open = step(&mut state, &obs(&f, 0)).expect("open");
        mark(&mut state, &open);
        let later = finding(60 * 24 * 31);
        let again = step(&mut state, &obs(&later, 60 * 24 * 31)).expect("reopen");
        assert_eq!(why(&again), Some(Why::Open));
        assert_eq!(
            state.as_ref().map(|s| (s.generation, s.total)),
            Some((2, 1))
        );
    }

    #[test]
    fn conditions_refuse_stale_writes() {
        let f = finding(0);
        let Step {
            write: Some(create),
            ..
        } = decide(None, &obs(&f, 0)).expect("decide")
        else {
            panic!()
        };
        let item = apply(None, &create).expect("created");
        assert_eq!(apply(Some(&item), &create), None, "create only if absent");
        let replace = Write::Replace {
            item: item.clone(),
            expected_version: item.version + 1,
        };
        assert_eq!(
            apply(Some(&item), &replace),
            None,
            "replace only at the version read"
        );
        let count = Write::Count {
            fingerprint: f.fingerprint.clone(),
            generation: item.generation + 1,
            add: 1,
            last_seen: f.last_seen,
            expires_at: item.expires_at,
            take_over: None,
        };
        assert_eq!(
            apply(Some(&item), &count),
            None,
            "count only in the same window generation"
        );
        let mark = Write::MarkDelivered {
            fingerprint: f.fingerprint.clone(),
            generation: item.generation,
            origin: "someone-else".into(),
        };
        assert_eq!(
            apply(Some(&item), &mark),
            None,
            "mark only the pending one wrote"
        );
    }

    #[test]
    fn a_ticket_event_marked_sent_is_not_sent_again_by_the_retry() {
        let mut state = None;
        let f = finding(0);
        let open = step(&mut state, &obs(&f, 0)).expect("open");
        let Outcome::Deliver {
            pending,
            generation,
            ..
        } = &open
        else {
            panic!("{open:?}")
        };
        let sent = Write::MarkTicketSent {
            fingerprint: f.fingerprint.clone(),
            generation: *generation,
            origin: pending.origin.clone(),
        };
        state = apply(state.as_ref(), &sent);
        // The invocation dies before the digest entry went out; its retry after the claim:
        let retry = step(&mut state, &obs(&f, 2)).expect("retry");
        let Outcome::Deliver { pending, why, .. } = retry else {
            panic!("{retry:?}")
        };
        assert_eq!(why, Why::Retry);
        assert!(
            pending.ticket_sent,
            "the retry knows the ticket event went out"
        );
        assert!(pending.digest.is_some(), "and still owes the digest entry");
    }

    #[test]
    fn sequences_grow_through_update_resolve_and_reopen_and_stale_events_change_nothing() {
        let mut state = None;
        let sequence = |o: &Outcome| match o {
            Outcome::Deliver { pending, .. } => pending.ticket_event().map(|t| t.sequence).ok(),
            _ => None,
        };
        let open = step(&mut state, &obs(&finding(0), 0)).expect("open");
        mark(&mut state, &open);
        let update = step(&mut state, &obs(&finding(61), 61)).expect("update");
        mark(&mut state, &update);
        let mut fixed = finding(70);
        fixed.status = Status::Resolved;
        let resolve = step(&mut state, &obs(&fixed, 70)).expect("resolve");
        assert_eq!(why(&resolve), Some(Why::Resolve));
        mark(&mut state, &resolve);
        assert_eq!(
            state.as_ref().and_then(|s| s.resolved_at),
            Some(fixed.last_seen)
        );
        // An occurrence older than the resolve, and a copy of the resolve, are stale.
        let late = finding(65);
        assert_eq!(
            step(&mut state, &obs(&late, 200)),
            Ok(Outcome::Stale(Stale::Older))
        );
        let mut again = fixed.clone();
        again.evidence.event_id = Some(SafeText::new("again"));
        assert_eq!(
            step(&mut state, &obs(&again, 201)),
            Ok(Outcome::Stale(Stale::AlreadyResolved))
        );
        let reopen = step(&mut state, &obs(&finding(300), 300)).expect("reopen");
        assert_eq!(why(&reopen), Some(Why::Open));
        let seqs: Vec<u64> = [&open, &update, &resolve, &reopen]
            .iter()
            .filter_map(|o| sequence(o))
            .collect();
        assert_eq!(seqs.len(), 4);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        // A resolve older than the last occurrence of the reopened problem is stale.
        let mut old_fix = finding(250);
        old_fix.status = Status::Resolved;
        assert_eq!(
            step(&mut state, &obs(&old_fix, 301)),
            Ok(Outcome::Stale(Stale::Older))
        );
    }

    /// A GuardDuty finding as its provider re-publishes it: `minute` is its `UpdatedAt`.
    fn version(minute: i64) -> Finding {
        let mut f = finding(minute);
        f.source = Source::Guardduty;
        f.fingerprint = Fingerprint::new(Source::Guardduty, "", "1", "us-east-1", &["arn:f"]);
        f
    }

    #[test]
    fn a_versioned_record_counts_only_when_newer_than_the_version_last_seen() {
        let mut state = None;
        let open = step(&mut state, &obs(&version(0), 0)).expect("open");
        assert_eq!(why(&open), Some(Why::Open));
        // The same version through the other path, while the open is still being delivered:
        // dropped, not counted.
        let mut other_path = version(0);
        other_path.evidence.event_id = Some(SafeText::new("via-security-hub"));
        assert_eq!(
            step(&mut state, &obs(&other_path, 0)),
            Ok(Outcome::Stale(Stale::NotNewer))
        );
        // Its owner died (the claim ran out): the copy rescues the open, counting nothing.
        let rescue = step(&mut state, &obs(&other_path, 2)).expect("rescue");
        assert_eq!(why(&rescue), Some(Why::Rescue));
        assert_eq!(
            state.as_ref().map(|s| (s.total, s.last_seen)),
            Some((1, version(0).last_seen))
        );
        mark(&mut state, &rescue);
        assert_eq!(
            step(&mut state, &obs(&other_path, 3)),
            Ok(Outcome::Stale(Stale::NotNewer))
        );
        // A newer version is a repeat inside the window, an update after it; an older one
        // arriving late changes nothing.
        assert_eq!(
            step(&mut state, &obs(&version(30), 30)),
            Ok(Outcome::Repeat { total: 2 })
        );
        assert_eq!(
            step(&mut state, &obs(&version(20), 40)),
            Ok(Outcome::Stale(Stale::NotNewer))
        );
        let update = step(&mut state, &obs(&version(90), 90)).expect("update");
        assert_eq!(why(&update), Some(Why::Update));
        assert_eq!(state.as_ref().map(|s| s.total), Some(3));
        // Its own retry (same origin) is not dropped: it still delivers what it stored.
        let retry = step(&mut state, &obs(&version(90), 92)).expect("retry");
        assert_eq!(why(&retry), Some(Why::Retry), "a retry, not stale");
        // The same record in CloudTrail's terms would count every copy.
        let mut copies = None;
        let first = step(&mut copies, &obs(&finding(0), 0)).expect("open");
        mark(&mut copies, &first);
        let mut copy = finding(0);
        copy.evidence.event_id = Some(SafeText::new("copy"));
        assert_eq!(
            step(&mut copies, &obs(&copy, 1)),
            Ok(Outcome::Repeat { total: 2 })
        );
    }

    #[test]
    fn a_pending_stored_by_version_1_is_sent_as_version_2_numbered_before_anything_new() {
        let f = finding(0);
        let v1 = serde_json::json!({
            "schema_version": 1,
            "action": "open",
            "fingerprint": f.fingerprint,
            "finding": f,
        })
        .to_string();
        let Ok(Step {
            outcome: Outcome::Deliver { mut pending, .. },
            ..
        }) = decide(None, &obs(&f, 0))
        else {
            panic!("open")
        };
        pending.event = v1;
        let event = pending.ticket_event().expect("upgraded");
        assert_eq!(
            event.schema_version,
            crate::ticket::TICKET_EVENT_SCHEMA_VERSION
        );
        assert_eq!(event.action, TicketAction::Open);
        assert_eq!(event.finding, f);
        assert!(event.sequence < next_sequence(0, t0() + TimeDelta::seconds(1)));
        pending.event = "{\"schema_version\":3}".into();
        assert!(matches!(pending.ticket_event(), Err(DedupError::Encode(_))));
    }

    #[test]
    fn next_sequence_is_the_clock_or_one_more_whichever_is_greater() {
        let t = t0();
        let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0);
        assert_eq!(next_sequence(0, t), ms);
        assert_eq!(next_sequence(ms, t), ms + 1);
        assert_eq!(
            next_sequence(ms + 5, t),
            ms + 6,
            "a clock behind does not go back"
        );
    }

    #[test]
    fn the_origin_is_stable_and_tells_occurrences_apart() {
        let (a, b) = (finding(0), finding(1));
        assert_eq!(origin_of(&a), origin_of(&a.clone()));
        assert_ne!(origin_of(&a), origin_of(&b));
        assert_eq!(origin_of(&a).len(), 32);
    }
}
