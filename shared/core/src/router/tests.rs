//! The router with dedup state, suppressions and an injected clock, against the in-memory stores.

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use futures_executor::block_on;

use super::*;
use crate::clock::ManualClock;
use crate::dedup::{DedupError, DedupOptions};
use crate::fakes::MemoryDedupStore;
use crate::fakes::{MemoryAlertPublisher, MemoryDigestSink, MemoryTicketSink};
use crate::fakes::{at, finding};
use crate::finding::{Finding, Status};
use crate::policy::{SeverityPolicy, Thresholds};
use crate::severity::Severity;
use crate::suppress::Suppressions;
use crate::text::SafeText;
use crate::ticket::{DigestKind, TicketAction};

type MemoryRouter = Router<MemoryTicketSink, MemoryDigestSink, MemoryAlertPublisher>;

struct Rig {
    router: MemoryRouter,
    store: Arc<MemoryDedupStore>,
    clock: ManualClock,
}

fn rig() -> Rig {
    let store = Arc::new(MemoryDedupStore::new());
    let clock = ManualClock::new(at(0));
    let router = Router::new(
        SeverityPolicy::default(),
        Thresholds::default(),
        MemoryTicketSink::default(),
        MemoryDigestSink::default(),
        MemoryAlertPublisher::default(),
    )
    .with_dedup(Arc::clone(&store))
    .with_clock(clock.clone());
    Rig {
        router,
        store,
        clock,
    }
}

/// The invocation about to fail cannot release its claim either: the dedup store lets
/// `calls` calls through (the load and the writes before the failing send), then refuses one
/// (the release).
fn owner_cannot_release(r: &Rig, calls: usize) {
    r.store.fail_calls(calls, 1);
}

/// The `n`-th occurrence of the same problem: same fingerprint, its own event id and time.
fn occurrence(severity: Severity, minute: i64) -> Finding {
    let mut f = finding("restricted-ssh");
    f.severity = severity;
    f.first_seen = at(minute);
    f.last_seen = at(minute);
    f.evidence.event_id = Some(SafeText::new(&format!("event-{minute}")));
    f
}

fn route_at(r: &Rig, minute: i64, f: Finding) -> Result<RouteReport, RouteError> {
    r.clock.set(at(minute));
    block_on(r.router.route(vec![f]))
}

fn actions(r: &Rig) -> Vec<TicketAction> {
    r.router.tickets().sent().iter().map(|t| t.action).collect()
}

fn kinds(r: &Rig) -> Vec<DigestKind> {
    r.router.digest().sent().iter().map(|d| d.kind).collect()
}

#[test]
fn a_storm_of_thirty_occurrences_is_one_ticket_one_page_and_thirty_counted_digest_lines() {
    let r = rig();
    for minute in 0..30 {
        route_at(&r, minute, occurrence(Severity::Critical, minute)).expect("routed");
    }
    assert_eq!(actions(&r), [TicketAction::Open]);
    assert_eq!(r.router.alerts().sent().len(), 1, "a repeat never re-pages");
    let kinds = kinds(&r);
    assert_eq!(kinds.len(), 30);
    assert_eq!(kinds[0], DigestKind::New);
    assert!(kinds[1..].iter().all(|k| *k == DigestKind::Repeat));
    let item = r.store.items().pop().expect("state");
    assert_eq!((item.total, item.pending), (30, None));
}

#[test]
fn a_recurrence_after_the_window_updates_the_ticket_with_the_new_total_and_pages_again() {
    let r = rig();
    route_at(&r, 0, occurrence(Severity::Critical, 0)).expect("open");
    route_at(&r, 30, occurrence(Severity::Critical, 30)).expect("repeat");
    let report = route_at(&r, 61, occurrence(Severity::Critical, 61)).expect("update");
    assert_eq!((report.updates, report.tickets, report.alerts), (1, 1, 1));
    route_at(&r, 90, occurrence(Severity::Critical, 90)).expect("repeat in the new window");
    assert_eq!(actions(&r), [TicketAction::Open, TicketAction::Update]);
    let update = &r.router.tickets().sent()[1];
    assert_eq!(update.finding.count, 3, "the update carries the total");
    assert_eq!(update.finding.first_seen, at(0));
    assert_eq!(r.router.alerts().sent().len(), 2);
}

#[test]
fn per_rule_windows_apply() {
    let r = rig();
    let router =
        r.router
            .with_dedup_windows(DedupWindows::new(60).with_rule(None, "restricted-*", 5));
    let r = Rig { router, ..r };
    route_at(&r, 0, occurrence(Severity::High, 0)).expect("open");
    route_at(&r, 4, occurrence(Severity::High, 4)).expect("repeat");
    route_at(&r, 6, occurrence(Severity::High, 6)).expect("update");
    assert_eq!(actions(&r), [TicketAction::Open, TicketAction::Update]);
}

#[test]
fn a_per_rule_count_threshold_opens_and_pages_at_the_nth_occurrence_and_the_digest_counts_every_one()
 {
    let r = rig();
    let router = r
        .router
        .with_dedup_windows(DedupWindows::new(60).with_threshold(
            Some(crate::finding::Source::Config),
            "restricted-*",
            3,
        ));
    let r = Rig { router, ..r };
    route_at(&r, 0, occurrence(Severity::Critical, 0)).expect("first");
    let second = route_at(&r, 5, occurrence(Severity::Critical, 5)).expect("second");
    assert_eq!((second.tickets, second.alerts), (0, 0));
    assert!(actions(&r).is_empty(), "below the threshold: no ticket");
    assert!(r.router.alerts().sent().is_empty(), "…and no page");
    let third = route_at(&r, 9, occurrence(Severity::Critical, 9)).expect("third");
    assert_eq!((third.tickets, third.alerts), (1, 1));
    let open = &r.router.tickets().sent()[0];
    assert_eq!((open.action, open.finding.count), (TicketAction::Open, 3));
    assert_eq!(open.finding.first_seen, at(0));
    route_at(&r, 20, occurrence(Severity::Critical, 20)).expect("fourth");
    assert_eq!(actions(&r), [TicketAction::Open]);
    assert_eq!(r.router.alerts().sent().len(), 1);
    assert_eq!(kinds(&r).len(), 4, "the digest counts all four");
    // Another rule is not held back.
    let mut other = occurrence(Severity::Critical, 21);
    other.rule_id = SafeText::new("iam-root-access-key-check");
    other.fingerprint = crate::finding::Fingerprint::new(
        crate::finding::Source::Config,
        "iam-root-access-key-check",
        "1",
        "us-east-1",
        &[],
    );
    route_at(&r, 21, other).expect("other");
    assert_eq!(actions(&r), [TicketAction::Open, TicketAction::Open]);
}

#[test]
fn a_resolution_keeps_a_tombstone_and_the_next_occurrence_opens_again_with_a_greater_sequence() {
    let r = rig();
    route_at(&r, 0, occurrence(Severity::High, 0)).expect("open");
    route_at(&r, 61, occurrence(Severity::High, 61)).expect("update");
    let mut resolved = occurrence(Severity::High, 65);
    resolved.status = Status::Resolved;
    route_at(&r, 65, resolved).expect("resolve");
    let item = r.store.items().pop().expect("tombstone");
    assert_eq!(item.resolved_at, Some(at(65)));
    route_at(&r, 70, occurrence(Severity::High, 70)).expect("open again");
    assert_eq!(
        actions(&r),
        [
            TicketAction::Open,
            TicketAction::Update,
            TicketAction::Resolve,
            TicketAction::Open
        ]
    );
    let sent = r.router.tickets().sent();
    let sequences: Vec<u64> = sent.iter().map(|t| t.sequence).collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing per fingerprint: {sequences:?}"
    );
    let times: Vec<_> = sent.iter().map(|t| t.event_time).collect();
    assert_eq!(
        times,
        [at(0), at(61), at(65), at(70)],
        "each the time of its event"
    );
    assert_eq!(
        r.store.items().pop().map(|i| i.total),
        Some(1),
        "a fresh count"
    );
}

fn suppressions() -> Suppressions {
    Suppressions::from_toml(
        "version = 1\n[[suppression]]\nid = \"lab\"\nreason = \"lab account\"\nexpires = 2026-12-01\nrule = \"restricted-ssh\"\naccount = \"111122223333\"",
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(),
    )
    .expect("valid suppressions")
}

#[test]
fn sequences_keep_growing_after_the_state_expired() {
    let r = rig();
    route_at(&r, 0, occurrence(Severity::High, 0)).expect("open");
    let month = 60 * 24 * 40;
    route_at(&r, month, occurrence(Severity::High, month)).expect("open after expiry");
    let sent = r.router.tickets().sent();
    assert_eq!(actions(&r), [TicketAction::Open, TicketAction::Open]);
    assert!(sent[0].sequence < sent[1].sequence, "{sent:?}");
}

#[test]
fn a_late_retry_of_an_older_occurrence_does_not_reopen_a_fixed_problem() {
    let r = rig();
    let first = occurrence(Severity::High, 0);
    route_at(&r, 0, first.clone()).expect("open");
    let mut fixed = occurrence(Severity::High, 10);
    fixed.status = Status::Resolved;
    route_at(&r, 10, fixed.clone()).expect("resolve");
    // An older NON_COMPLIANT arrives late (a retry, a DLQ redrive hours later)…
    let report = route_at(&r, 300, occurrence(Severity::High, 5)).expect("stale open");
    assert_eq!((report.stale, report.tickets, report.alerts), (1, 0, 0));
    // …and so does a copy of the resolve.
    let mut copy = fixed;
    copy.evidence.event_id = Some(SafeText::new("another-delivery"));
    let report = route_at(&r, 301, copy).expect("resolve again");
    assert_eq!((report.stale, report.tickets), (1, 0));
    assert_eq!(actions(&r), [TicketAction::Open, TicketAction::Resolve]);
    assert_eq!(kinds(&r), [DigestKind::New, DigestKind::Resolved]);
}

#[test]
fn an_older_resolve_does_not_close_an_active_problem() {
    let r = rig();
    route_at(&r, 10, occurrence(Severity::High, 10)).expect("open");
    let mut old = occurrence(Severity::High, 5);
    old.status = Status::Resolved;
    let report = route_at(&r, 12, old).expect("stale resolve");
    assert_eq!((report.stale, report.tickets), (1, 0));
    assert_eq!(actions(&r), [TicketAction::Open]);
    assert!(
        r.store
            .items()
            .pop()
            .is_some_and(|i| i.resolved_at.is_none())
    );
}

#[test]
fn a_resolve_delivers_an_open_left_undelivered_first_so_the_ticket_system_sees_both_in_order() {
    let r = rig();
    r.router.tickets().fail_next(1);
    owner_cannot_release(&r, 2);
    route_at(&r, 0, occurrence(Severity::High, 0)).expect_err("ticket queue down");
    // The open's owner died (its event went to the DLQ); the problem is fixed meanwhile.
    let mut fixed = occurrence(Severity::High, 1);
    fixed.status = Status::Resolved;
    let early = route_at(&r, 0, fixed.clone()).expect_err("claim still running");
    assert!(
        matches!(early, RouteError::Dedup(DedupError::InFlight { .. })),
        "waits for a live claim: {early}"
    );
    let report = route_at(&r, 3, fixed).expect("resolve");
    assert_eq!((report.redelivered, report.tickets), (1, 2));
    assert_eq!(actions(&r), [TicketAction::Open, TicketAction::Resolve]);
    let sent = r.router.tickets().sent();
    assert!(sent[0].sequence < sent[1].sequence);
    assert_eq!(kinds(&r), [DigestKind::New, DigestKind::Resolved]);
}

#[test]
fn a_suppressed_finding_never_tickets_or_pages_and_is_counted_until_the_suppression_expires() {
    let r = rig();
    let router = r.router.with_suppressions(suppressions());
    let r = Rig { router, ..r };
    let report = route_at(&r, 0, occurrence(Severity::Critical, 0)).expect("suppressed");
    assert_eq!(
        (
            report.suppressed,
            report.tickets,
            report.alerts,
            report.digest_entries
        ),
        (1, 0, 0, 1)
    );
    assert_eq!(kinds(&r), [DigestKind::Suppressed]);
    assert_eq!(
        r.router.digest().sent()[0]
            .suppression
            .as_ref()
            .map(|s| s.as_str()),
        Some("lab"),
        "the digest says which suppression silenced it"
    );
    assert!(
        r.store.items().is_empty(),
        "no dedup state for suppressed findings"
    );

    // One minute before 2026-12-01 00:00 UTC it still applies…
    let expiry = (7 * 24 - 3) * 60;
    let report =
        route_at(&r, expiry - 1, occurrence(Severity::Critical, expiry - 1)).expect("routed");
    assert_eq!((report.suppressed, report.tickets), (1, 0));
    // …from then on it has expired and the finding tickets and pages.
    let minute = expiry;
    let report = route_at(&r, minute, occurrence(Severity::Critical, minute)).expect("routed");
    assert_eq!(
        (report.suppressed, report.tickets, report.alerts),
        (0, 1, 1)
    );
    assert_eq!(actions(&r), [TicketAction::Open]);
}

#[test]
fn a_resolution_is_never_suppressed() {
    let r = rig();
    let router = r.router.with_suppressions(suppressions());
    let r = Rig { router, ..r };
    let mut resolved = occurrence(Severity::High, 0);
    resolved.status = Status::Resolved;
    route_at(&r, 0, resolved).expect("resolve");
    assert_eq!(actions(&r), [TicketAction::Resolve]);
}

#[test]
fn when_the_ticket_send_fails_after_the_state_was_written_the_retry_sends_the_stored_open() {
    let r = rig();
    let f = occurrence(Severity::Critical, 0);
    r.router.tickets().fail_next(1);
    // The owner dies before it can release its claim (a crash, a timeout, or the table
    // unreachable as well).
    owner_cannot_release(&r, 2);
    let err = route_at(&r, 0, f.clone()).expect_err("ticket queue down");
    assert!(
        matches!(err, RouteError::Tickets(_)) && err.is_retryable(),
        "{err}"
    );
    let pending = r
        .store
        .items()
        .pop()
        .and_then(|i| i.pending)
        .expect("pending open stored");

    // A retry arriving while the claim still runs fails again, retryably: it cannot tell a
    // dead owner from a live one yet.
    let early = route_at(&r, 0, f.clone()).expect_err("claim still running");
    assert!(
        matches!(early, RouteError::Dedup(DedupError::InFlight { .. })) && early.is_retryable(),
        "{early}"
    );
    assert!(r.router.tickets().sent().is_empty());

    // After the claim: exactly the stored body, so exactly the same FIFO deduplication id.
    let report = route_at(&r, 2, f).expect("retry");
    assert_eq!(
        (report.tickets, report.alerts, report.redelivered),
        (1, 1, 1)
    );
    let sent = &r.router.tickets().sent()[0];
    let body = sent.body().expect("body");
    assert_eq!(body, pending.event);
    assert_eq!(
        sent.deduplication_id(&body),
        sent.deduplication_id(&pending.event)
    );
    assert!(
        r.store.items().iter().all(|i| i.pending.is_none()),
        "marked delivered"
    );
}

#[test]
fn when_the_page_fails_a_redrive_hours_later_pages_once_and_sends_no_second_ticket_event() {
    let r = rig();
    let f = occurrence(Severity::Critical, 0);
    r.router.alerts().fail_next(1);
    route_at(&r, 0, f.clone()).expect_err("alert topic down");
    // The event goes to the DLQ and is re-invoked six hours later: far outside SQS FIFO's
    // five-minute deduplication window, so a second copy would reach the ticket system.
    let report = route_at(&r, 6 * 60, f).expect("redrive");
    assert_eq!(
        (report.redelivered, report.tickets, report.alerts),
        (1, 0, 1)
    );
    assert_eq!(
        actions(&r),
        [TicketAction::Open],
        "the ticket was marked sent"
    );
    assert_eq!(r.router.alerts().sent().len(), 1, "one page delivered");
    assert!(r.store.items().iter().all(|i| i.pending.is_none()));
}

#[test]
fn another_occurrence_takes_over_an_open_whose_owner_died() {
    let r = rig();
    r.router.digest().fail_next(1);
    owner_cannot_release(&r, 3);
    route_at(&r, 0, occurrence(Severity::High, 0)).expect_err("digest queue down");
    // The ticket went out on the first attempt; the owner's event then went to the DLQ.
    assert_eq!(actions(&r), [TicketAction::Open]);
    // While the claim runs, another occurrence is only counted…
    let report = route_at(&r, 0, occurrence(Severity::High, 1)).expect("repeat");
    assert_eq!((report.repeats, report.tickets), (1, 0));
    // …after it, the next one delivers the rest of the stored open (its ticket event was
    // marked sent: not again) and counts itself.
    let report = route_at(&r, 3, occurrence(Severity::High, 3)).expect("take over");
    assert_eq!(
        (report.redelivered, report.repeats, report.tickets),
        (1, 1, 0)
    );
    assert_eq!(actions(&r), [TicketAction::Open]);
    assert_eq!(
        kinds(&r),
        [DigestKind::Repeat, DigestKind::New, DigestKind::Repeat],
        "the stored New entry, and the taker's own repeat"
    );
    assert_eq!(r.store.items().pop().map(|i| i.total), Some(3));
}

#[test]
fn a_retried_invocation_does_not_resend_what_it_already_delivered() {
    let r = rig();
    let a = occurrence(Severity::Critical, 0);
    route_at(&r, 0, a.clone()).expect("delivered");
    // The same invocation again (its handler failed after routing, or a DLQ redrive).
    let report = route_at(&r, 5, a).expect("retry");
    assert_eq!(
        (
            report.already_delivered,
            report.tickets,
            report.alerts,
            report.digest_entries
        ),
        (1, 0, 0, 0)
    );
    assert_eq!(actions(&r), [TicketAction::Open]);
    assert_eq!(r.router.alerts().sent().len(), 1, "not paged again");
    assert_eq!(
        r.store.items().pop().map(|i| i.total),
        Some(1),
        "not counted again"
    );
}

#[test]
fn an_unreachable_dedup_store_fails_the_invocation_and_sends_nothing() {
    let r = rig();
    r.store.fail_next(1);
    let err = route_at(&r, 0, occurrence(Severity::Critical, 0)).expect_err("store down");
    assert!(
        matches!(err, RouteError::Dedup(DedupError::Unavailable { .. })) && err.is_retryable(),
        "{err}"
    );
    assert!(r.router.tickets().sent().is_empty());
    assert!(r.router.digest().sent().is_empty());
    assert!(r.router.alerts().sent().is_empty());
    // The retry delivers the open: nothing was lost.
    route_at(&r, 1, occurrence(Severity::Critical, 0)).expect("retry");
    assert_eq!(actions(&r), [TicketAction::Open]);
}

#[test]
fn a_failed_mark_fails_the_invocation_and_the_retry_re_sends_the_same_body_and_marks_it() {
    let r = rig();
    let f = occurrence(Severity::High, 0);
    // load and create succeed, the mark after the ticket send fails: the one window in which
    // a sent ticket event is sent again (same body, same sequence).
    r.store.fail_calls(2, 1);
    let err = route_at(&r, 0, f.clone()).expect_err("mark failed");
    assert!(
        matches!(err, RouteError::Dedup(DedupError::Unavailable { .. })),
        "{err}"
    );
    assert_eq!(
        actions(&r),
        [TicketAction::Open],
        "the ticket itself went out"
    );
    route_at(&r, 2, f).expect("retry");
    let tickets = r.router.tickets().sent();
    assert_eq!(tickets.len(), 2);
    assert_eq!(
        tickets[0].body().ok(),
        tickets[1].body().ok(),
        "FIFO dedup keeps one"
    );
    assert!(r.store.items().iter().all(|i| i.pending.is_none()));
}

#[test]
fn twenty_concurrent_invocations_with_the_same_new_problem_open_exactly_one_ticket() {
    let r = rig();
    std::thread::scope(|s| {
        for i in 0..20 {
            let router = &r.router;
            s.spawn(move || {
                let mut f = occurrence(Severity::Critical, 0);
                f.evidence.event_id = Some(SafeText::new(&format!("concurrent-{i}")));
                block_on(router.route(vec![f]))
            });
        }
    });
    assert_eq!(actions(&r), [TicketAction::Open]);
    assert_eq!(r.router.alerts().sent().len(), 1);
    let kinds = kinds(&r);
    assert_eq!(kinds.iter().filter(|k| **k == DigestKind::New).count(), 1);
    assert_eq!(
        kinds.iter().filter(|k| **k == DigestKind::Repeat).count(),
        19
    );
    assert_eq!(r.store.items().pop().map(|i| i.total), Some(20));
}

#[test]
fn without_a_store_every_occurrence_opens_as_before() {
    let router = Router::new(
        SeverityPolicy::default(),
        Thresholds::default(),
        MemoryTicketSink::default(),
        MemoryDigestSink::default(),
        MemoryAlertPublisher::default(),
    );
    for minute in 0..3 {
        block_on(router.route(vec![occurrence(Severity::High, minute)])).expect("routed");
    }
    assert_eq!(router.tickets().sent().len(), 3);
}

#[test]
fn the_claim_and_retention_come_from_the_options() {
    let r = rig();
    let router = r.router.with_dedup_options(DedupOptions {
        claim: TimeDelta::seconds(10),
        retention: TimeDelta::days(2),
    });
    let r = Rig { router, ..r };
    r.router.tickets().fail_next(1);
    owner_cannot_release(&r, 2);
    route_at(&r, 0, occurrence(Severity::High, 0)).expect_err("down");
    let item = r.store.items().pop().expect("item");
    let pending = item.pending.expect("pending");
    assert_eq!(pending.claimed_until, at(0) + TimeDelta::seconds(10));
    assert_eq!(item.expires_at, at(0) + TimeDelta::days(2));
    r.clock.set(at(0) + TimeDelta::seconds(11));
    block_on(r.router.route(vec![occurrence(Severity::High, 0)])).expect("retry after 11 s");
    assert_eq!(actions(&r), [TicketAction::Open]);
}

#[test]
fn a_known_accounts_name_rides_beside_its_id_and_changes_no_fingerprint() {
    let plain = rig();
    route_at(&plain, 0, occurrence(Severity::Critical, 0)).expect("routed");
    let named = rig();
    let account = finding("restricted-ssh").account.as_str().to_owned();
    let named = Rig {
        router: named
            .router
            .with_account_names(crate::accounts::AccountNames::from_pairs([(
                account.as_str(),
                "payments-prod",
            )])),
        ..named
    };
    route_at(&named, 0, occurrence(Severity::Critical, 0)).expect("routed");
    let (a, b) = (
        &plain.router.tickets().sent()[0],
        &named.router.tickets().sent()[0],
    );
    assert_eq!(
        a.fingerprint, b.fingerprint,
        "the name is not part of the identity"
    );
    assert_eq!(a.finding.evidence.details.get("account_name"), None);
    assert_eq!(
        b.finding
            .evidence
            .details
            .get("account_name")
            .map(|n| n.as_str()),
        Some("payments-prod")
    );
    let page = &named.router.alerts().sent()[0];
    assert!(
        page.subject
            .ends_with(&format!("({account} payments-prod)")),
        "{}",
        page.subject
    );
    assert!(
        page.text
            .contains(&format!("Account: {account} payments-prod")),
        "{}",
        page.text
    );
    let entry = &named.router.digest().sent()[0];
    assert_eq!(
        entry.account.as_str(),
        account,
        "digest entries keep the id; the digest names it"
    );
}

#[test]
fn a_failed_delivery_releases_its_claim_so_the_retry_delivers_at_once() {
    let r = rig();
    let f = occurrence(Severity::Critical, 0);
    r.router.tickets().fail_next(1);
    let err = route_at(&r, 0, f.clone()).expect_err("ticket queue down");
    assert!(matches!(err, RouteError::Tickets(_)), "{err}");
    let pending = r
        .store
        .items()
        .pop()
        .and_then(|i| i.pending)
        .expect("pending open stored");
    assert_eq!(pending.claimed_until, at(0), "released: the claim ends now");
    // The retry (a Kinesis batch's comes within seconds) needs no wait: exactly the stored
    // open, paged once.
    let report = route_at(&r, 0, f).expect("retry at once");
    assert_eq!(
        (report.tickets, report.alerts, report.redelivered),
        (1, 1, 1)
    );
    assert_eq!(
        r.router.tickets().sent()[0].body().expect("body"),
        pending.event
    );
    assert!(r.store.items().iter().all(|i| i.pending.is_none()));
}

#[test]
fn a_failed_page_after_the_ticket_releases_only_what_is_left() {
    let r = rig();
    let f = occurrence(Severity::Critical, 0);
    r.router.alerts().fail_next(1);
    route_at(&r, 0, f.clone()).expect_err("alert topic down");
    let report = route_at(&r, 0, f).expect("retry at once");
    assert_eq!(
        (report.tickets, report.alerts),
        (0, 1),
        "the ticket was marked sent"
    );
    assert_eq!(actions(&r), [TicketAction::Open]);
    assert_eq!(r.router.alerts().sent().len(), 1);
}
