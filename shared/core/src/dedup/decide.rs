//! The dedup decision, pure: given the stored item and an observation, what to write and what
//! to send. Both stores apply the writes with the same conditions ([`apply`] is the reference
//! semantics the DynamoDB adapter reproduces with condition expressions).

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use super::{Applied, DedupError, DedupItem, DedupOptions, DedupStore, Pending, TakeOver, Write};
use crate::finding::Finding;
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
    /// This observation's own pending, left undelivered by an earlier attempt.
    Retry,
    /// Someone else's pending, left undelivered past its claim: delivered on its behalf (this
    /// observation also counts as a repeat).
    TakeOver,
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
    /// Inside the window: counted, nothing sent but a `repeat` digest entry.
    Repeat { total: u64 },
    /// This very observation was delivered before (a retried invocation): nothing to do.
    AlreadyDelivered,
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

    /// The messages to store: a ticket event about `ticket_finding` and a digest entry of `kind`
    /// about the observed finding.
    fn pending(
        &self,
        action: TicketAction,
        ticket_finding: Finding,
        kind: DigestKind,
    ) -> Result<Pending, DedupError> {
        let event = TicketEvent::new(action, ticket_finding)
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
            page: self.page,
            digest,
            claimed_until: self.claim_until(),
        })
    }

    fn count_write(&self, item: &DedupItem, add: u64, take_over: Option<TakeOver>) -> Write {
        Write::Count {
            fingerprint: item.fingerprint.clone(),
            generation: item.generation,
            add,
            last_seen: self.finding.last_seen,
            expires_at: self.expires_at(),
            take_over,
        }
    }
}

/// Decides, from the stored item (`None` when absent), what to write and to send.
pub fn decide(current: Option<&DedupItem>, obs: &Observation<'_>) -> Result<Step, DedupError> {
    let now = obs.now();
    let finding = obs.finding;
    let Some(item) = current.filter(|i| i.expires_at > now) else {
        // First occurrence, or the state expired: open.
        let pending = obs.pending(TicketAction::Open, finding.clone(), DigestKind::New)?;
        let item = DedupItem {
            fingerprint: finding.fingerprint.clone(),
            version: current.map_or(1, |c| c.version + 1),
            generation: current.map_or(1, |c| c.generation + 1),
            rule_id: finding.rule_id.as_str().to_owned(),
            window_start: now,
            window_end: now + obs.window,
            first_seen: finding.first_seen,
            last_seen: finding.last_seen,
            total: obs.count(),
            pending: Some(pending.clone()),
            delivered_origin: None,
            expires_at: obs.expires_at(),
        };
        let generation = item.generation;
        let write = match current {
            None => Write::Create(item),
            Some(old) => Write::Replace {
                item,
                expected_version: old.version,
            },
        };
        return Ok(Step {
            write: Some(write),
            outcome: Outcome::Deliver {
                pending,
                generation,
                why: Why::Open,
            },
        });
    };

    if item.delivered_origin.as_deref() == Some(obs.origin.as_str()) {
        return Ok(Step {
            write: None,
            outcome: Outcome::AlreadyDelivered,
        });
    }

    if let Some(pending) = &item.pending {
        let mine = pending.origin == obs.origin;
        if pending.claimed_until > now {
            if mine {
                return Err(DedupError::InFlight {
                    fingerprint: item.fingerprint.clone(),
                    claimed_until: pending.claimed_until,
                });
            }
            // The owner is (or may be) delivering: count and let it finish.
            return Ok(Step {
                write: Some(obs.count_write(item, obs.count(), None)),
                outcome: Outcome::Repeat {
                    total: item.total.saturating_add(obs.count()),
                },
            });
        }
        // The claim ran out: the owner died. Claim it and deliver exactly what it stored.
        let claimed_until = obs.claim_until();
        let take_over = TakeOver {
            origin: pending.origin.clone(),
            claimed_until_was: pending.claimed_until,
            claimed_until,
        };
        let add = if mine { 0 } else { obs.count() };
        return Ok(Step {
            write: Some(obs.count_write(item, add, Some(take_over))),
            outcome: Outcome::Deliver {
                pending: Pending {
                    claimed_until,
                    ..pending.clone()
                },
                generation: item.generation,
                why: if mine { Why::Retry } else { Why::TakeOver },
            },
        });
    }

    if now < item.window_end {
        return Ok(Step {
            write: Some(obs.count_write(item, obs.count(), None)),
            outcome: Outcome::Repeat {
                total: item.total.saturating_add(obs.count()),
            },
        });
    }

    // Recurrence after the window: update the ticket with the running total, new window.
    let total = item.total.saturating_add(obs.count());
    let mut updated = finding.clone();
    updated.count = total;
    updated.first_seen = item.first_seen.min(finding.first_seen);
    let pending = obs.pending(TicketAction::Update, updated, DigestKind::Repeat)?;
    let generation = item.generation + 1;
    let next = DedupItem {
        fingerprint: item.fingerprint.clone(),
        version: item.version + 1,
        generation,
        rule_id: finding.rule_id.as_str().to_owned(),
        window_start: now,
        window_end: now + obs.window,
        first_seen: item.first_seen.min(finding.first_seen),
        last_seen: finding.last_seen,
        total,
        pending: Some(pending.clone()),
        delivered_origin: item.delivered_origin.clone(),
        expires_at: obs.expires_at(),
    };
    Ok(Step {
        write: Some(Write::Replace {
            item: next,
            expected_version: item.version,
        }),
        outcome: Outcome::Deliver {
            pending,
            generation,
            why: Why::Update,
        },
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
        Write::MarkDelivered {
            generation, origin, ..
        } => {
            let c = current.filter(|c| {
                c.generation == *generation
                    && c.pending.as_ref().is_some_and(|p| &p.origin == origin)
            })?;
            let mut next = c.clone();
            next.pending = None;
            next.delivered_origin = Some(origin.clone());
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
            let w = Write::MarkDelivered {
                fingerprint: finding(0).fingerprint,
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
            TicketEvent::new(TicketAction::Open, f.clone())
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
    fn the_origin_is_stable_and_tells_occurrences_apart() {
        let (a, b) = (finding(0), finding(1));
        assert_eq!(origin_of(&a), origin_of(&a.clone()));
        assert_ne!(origin_of(&a), origin_of(&b));
        assert_eq!(origin_of(&a).len(), 32);
    }
}
