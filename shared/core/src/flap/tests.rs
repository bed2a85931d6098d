//! The flap decision, pure, then flap control over real alarm records with the in-memory log.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures_executor::block_on;
use serde_json::Value;

use super::*;
use crate::alarm::{AlarmClassifier, AlarmOptions, FLAPPING_RULE};
use crate::fakes::MemoryTransitionLog;
use crate::fakes::at;
use crate::fakes::{MemoryAlertPublisher, MemoryDigestSink, MemoryTicketSink};
use crate::finding::{Source, Status};
use crate::policy::{SeverityPolicy, Thresholds};
use crate::router::Router;
use crate::severity::Severity;
use crate::ticket::{DigestKind, TicketAction};

fn alarm() -> Fingerprint {
    Fingerprint::new(Source::Alarm, "a", "1", "us-east-1", &["arn"])
}

/// Feeds state changes at the given minutes to [`decide`], storing each write, and returns the
/// statuses.
struct Log {
    state: Option<FlapState>,
    settings: FlapSettings,
}

impl Log {
    fn new(transitions: u32, window_minutes: u32) -> Self {
        Log {
            state: None,
            settings: FlapSettings::new(transitions, window_minutes),
        }
    }

    fn change(&mut self, minute: i64) -> FlapStatus {
        let d = decide(
            self.state.as_ref(),
            &alarm(),
            at(minute),
            AlarmState::Alarm,
            &self.settings,
        );
        if let Some(next) = d.write {
            assert_eq!(
                d.expected_version,
                self.state.as_ref().map(|s| s.version),
                "a write is conditioned on the version read"
            );
            self.state = Some(next);
        }
        d.status
    }

    fn changes(&mut self, minutes: &[i64]) -> Vec<FlapStatus> {
        minutes.iter().map(|m| self.change(*m)).collect()
    }
}

fn started(transitions: u32, since: i64) -> FlapStatus {
    FlapStatus::Started {
        transitions,
        since: at(since),
    }
}

fn calmed(transitions: u32, since: i64) -> FlapStatus {
    FlapStatus::Calmed {
        transitions,
        since: at(since),
    }
}

use FlapStatus::{Calm, Flapping};

#[test]
fn the_change_that_makes_more_than_n_in_the_window_starts_flapping_and_later_ones_are_flapping() {
    let mut log = Log::new(4, 60);
    assert_eq!(
        log.changes(&[0, 10, 20, 30, 40, 50]),
        [Calm, Calm, Calm, Calm, started(5, 0), Flapping]
    );
    let s = log.state.as_ref().map(|s| s.transitions.len());
    assert_eq!(s, Some(5), "the state keeps the last N+1 changes");
}

#[test]
fn n_changes_in_the_window_are_not_flapping() {
    let mut log = Log::new(4, 60);
    assert_eq!(log.changes(&[0, 10, 20, 30]), [Calm; 4]);
    // The fifth comes exactly one window after the first: (0, 60] holds four.
    assert_eq!(log.change(60), Calm);
}

#[test]
fn the_window_slides_with_the_alarms_own_time() {
    let mut log = Log::new(4, 60);
    // Every 16 minutes: at most four changes in any 60 minutes, however many in total.
    let minutes: Vec<i64> = (0..20).map(|i| i * 16).collect();
    assert!(log.changes(&minutes).iter().all(|s| *s == Calm));
    // Two quick changes more make five within (t - 60, t].
    assert_eq!(log.change(19 * 16 + 1), started(5, 16 * 16));
}

#[test]
fn a_retried_change_is_not_counted_twice_and_a_retried_report_reports_the_same() {
    let mut log = Log::new(4, 60);
    log.changes(&[0, 10, 20, 30]);
    let version = log.state.as_ref().map(|s| s.version);
    assert_eq!(log.change(30), Calm, "the same change again: still four");
    assert_eq!(log.state.as_ref().map(|s| s.version), version, "no write");
    assert_eq!(log.change(40), started(5, 0));
    assert_eq!(log.change(40), started(5, 0), "its retry reports the same");
    assert_eq!(log.change(50), Flapping);
    assert_eq!(log.change(50), Flapping);
    assert_eq!(log.change(45), Flapping, "a late change of the episode");
}

#[test]
fn a_calm_change_after_the_window_resolves_once_and_routing_resumes() {
    let mut log = Log::new(4, 60);
    log.changes(&[0, 10, 20, 30, 40, 50, 60, 70]);
    assert_eq!(
        log.change(99),
        Flapping,
        "the report at 40 is within 60 minutes"
    );
    // 59 minutes of quiet after the last change, 61 after the report: (64, 125] holds 125 only.
    assert_eq!(log.change(125), calmed(5, 0));
    assert_eq!(log.change(125), calmed(5, 0), "its retry resolves the same");
    assert_eq!(log.change(140), Calm, "resolved once");
    assert_eq!(log.changes(&[150, 160]), [Calm; 2]);
    assert_eq!(
        log.change(170),
        started(5, 125),
        "a new episode is reported again"
    );
}

#[test]
fn an_alarm_still_flapping_a_window_after_the_report_is_reported_again() {
    let mut log = Log::new(4, 60);
    let minutes: Vec<i64> = (0..=10).map(|i| i * 10).collect();
    assert_eq!(
        log.changes(&minutes),
        [
            Calm,
            Calm,
            Calm,
            Calm,
            started(5, 0),
            Flapping,
            Flapping,
            Flapping,
            Flapping,
            Flapping,
            started(5, 60),
        ]
    );
}

#[test]
fn an_expired_state_counts_as_absent_and_a_too_old_change_is_not_recorded() {
    let mut log = Log::new(2, 60);
    log.changes(&[0, 10]);
    let expires = log.state.as_ref().map(|s| s.expires_at);
    assert_eq!(
        expires,
        Some(at(10) + TimeDelta::days(30)),
        "the dedup retention after the latest change"
    );
    let much_later = 10 + 31 * 24 * 60;
    assert_eq!(log.changes(&[much_later, much_later + 1]), [Calm, Calm]);
    assert_eq!(
        log.state.as_ref().map(|s| s.transitions.len()),
        Some(2),
        "the expired changes are gone"
    );
    log.change(much_later + 2);
    let kept = log.state.as_ref().map(|s| s.transitions.clone());
    assert_eq!(
        log.change(much_later - 5),
        Flapping,
        "older than every kept change"
    );
    assert_eq!(log.state.as_ref().map(|s| s.transitions.clone()), kept);
}

#[test]
fn one_transition_is_enough_with_n_of_one_and_times_are_kept_to_the_millisecond() {
    let mut log = Log::new(1, 5);
    assert_eq!(log.change(0), Calm);
    assert_eq!(log.change(4), started(2, 0));
    let t = at(0) + TimeDelta::microseconds(1500);
    let d = decide(None, &alarm(), t, AlarmState::Ok, &log.settings);
    let kept = d.write.map(|s| s.transitions);
    assert_eq!(kept, Some(vec![at(0) + TimeDelta::milliseconds(1)]));
}

/// A log whose state another invocation changes right before this one's first write.
struct Racing {
    inner: MemoryTransitionLog,
    raced: std::sync::atomic::AtomicBool,
    other: DateTime<Utc>,
}

impl TransitionLog for Racing {
    async fn load(&self, key: &str) -> Result<Option<FlapState>, DedupError> {
        self.inner.load(key).await
    }

    async fn store(&self, state: &FlapState, expected: Option<u64>) -> Result<Applied, DedupError> {
        if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let settings = FlapSettings::default();
            self.inner
                .record(&settings, &alarm(), self.other, AlarmState::Ok)
                .await?;
        }
        self.inner.store(state, expected).await
    }
}

#[test]
fn a_conflicting_write_is_decided_again_on_what_the_other_invocation_stored() {
    let log = Racing {
        inner: MemoryTransitionLog::new(),
        raced: false.into(),
        other: at(1),
    };
    let status = block_on(log.record(&FlapSettings::default(), &alarm(), at(2), AlarmState::Alarm));
    assert_eq!(status, Ok(Calm));
    let state = log.inner.get(&key_of(&alarm()));
    assert_eq!(
        state.map(|s| (s.transitions, s.version, s.last_state)),
        Some((vec![at(1), at(2)], 2, Some(AlarmState::Alarm))),
        "both changes recorded, neither lost"
    );
    assert_eq!(log.inner.writes(), 2);
}

/// Always loses the race.
struct AlwaysConflicting;

impl TransitionLog for AlwaysConflicting {
    async fn load(&self, _key: &str) -> Result<Option<FlapState>, DedupError> {
        Ok(None)
    }

    async fn store(&self, _: &FlapState, _: Option<u64>) -> Result<Applied, DedupError> {
        Ok(Applied::Conflict)
    }
}

#[test]
fn endless_conflicts_and_an_unreachable_store_are_retryable_errors() {
    let settings = FlapSettings::default();
    let e = block_on(AlwaysConflicting.record(&settings, &alarm(), at(0), AlarmState::Ok));
    assert!(
        matches!(e, Err(DedupError::Contention { attempts: 8, .. })),
        "{e:?}"
    );
    let log = MemoryTransitionLog::new();
    log.fail_next(1);
    let e = block_on(log.record(&settings, &alarm(), at(0), AlarmState::Ok));
    assert!(e.as_ref().is_err_and(DedupError::is_retryable), "{e:?}");
    assert_eq!(log.writes(), 0);
}

// ------------------------------------------------------------------ flap control, real records

fn sample(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `ServerCpuTooHigh` changing from `from` to `to` at minute `minute`.
fn change(minute: i64, from: &str, to: &str) -> Value {
    let mut e = sample("alarm-metric-alarm.json");
    e["detail"]["previousState"]["value"] = from.into();
    e["detail"]["state"]["value"] = to.into();
    e["detail"]["state"]["timestamp"] = at(minute)
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
        .into();
    e
}

/// Alternating OK → ALARM, ALARM → OK changes at the given minutes, starting with ALARM.
fn alternating(minutes: &[i64]) -> Vec<Value> {
    minutes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i % 2 == 0 {
                change(*m, "OK", "ALARM")
            } else {
                change(*m, "ALARM", "OK")
            }
        })
        .collect()
}

fn classifier() -> AlarmClassifier {
    AlarmClassifier::shipped(AlarmOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn sort(control: &FlapControl<Arc<MemoryTransitionLog>>, events: &[Value]) -> Sorted {
    let c = classifier();
    let records = events
        .iter()
        .map(|e| c.classify_record(e).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    block_on(control.sort(records)).unwrap_or_else(|e| panic!("{e}"))
}

fn control() -> FlapControl<Arc<MemoryTransitionLog>> {
    FlapControl::new(
        FlapSettings::default(),
        Arc::new(MemoryTransitionLog::new()),
    )
}

#[test]
fn six_changes_route_four_report_flapping_once_and_send_two_to_the_digest_only() {
    let control = control();
    let mut route = Vec::new();
    let mut digest_only = Vec::new();
    let mut reported = 0;
    for event in alternating(&[0, 10, 20, 30, 40, 50]) {
        let s = sort(&control, &[event]);
        route.push(s.route);
        digest_only.extend(s.digest_only);
        reported += s.reported;
    }
    let routed: Vec<Vec<(&str, Status)>> = route
        .iter()
        .map(|r| r.iter().map(|f| (f.rule_id.as_str(), f.status)).collect())
        .collect();
    use Status::{Active, Resolved};
    assert_eq!(
        routed,
        [
            vec![("ServerCpuTooHigh", Active)],
            vec![("ServerCpuTooHigh", Resolved)],
            vec![("ServerCpuTooHigh", Active)],
            vec![("ServerCpuTooHigh", Resolved)],
            vec![(FLAPPING_RULE, Active)],
            vec![],
        ]
    );
    assert_eq!(reported, 1);
    assert_eq!(digest_only.len(), 2, "the 5th and 6th changes");
    let flapping = &route[4][0];
    assert_eq!(
        flapping.title.as_str(),
        "CloudWatch alarm ServerCpuTooHigh is flapping: 5 state changes in 60 min"
    );
    assert_ne!(flapping.fingerprint, route[0][0].fingerprint);
    assert_eq!(flapping.resources, route[0][0].resources);
    assert_eq!(flapping.console_url, route[0][0].console_url);
    assert_eq!(flapping.severity, Severity::Medium, "the alarm's own");
    assert_eq!((flapping.first_seen, flapping.last_seen), (at(0), at(40)));
    assert_eq!(
        flapping.count, 1,
        "one report; the five changes are in its title"
    );
    assert_eq!(
        flapping
            .evidence
            .details
            .get("state_changes")
            .map(|s| s.as_str()),
        Some("5")
    );
}

#[test]
fn a_critical_alarm_flaps_at_high_and_a_calm_change_resolves_the_same_ticket() {
    let control = control();
    let root = |minute: i64, from: &str, to: &str| {
        let mut e = change(minute, from, to);
        e["detail"]["alarmName"] = "CIS-1.7-RootAccountUsage".into();
        e["resources"][0] =
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:CIS-1.7-RootAccountUsage".into();
        e
    };
    let events: Vec<Value> = [0, 1, 2, 3, 4]
        .iter()
        .map(|m| {
            if m % 2 == 0 {
                root(*m, "OK", "ALARM")
            } else {
                root(*m, "ALARM", "OK")
            }
        })
        .collect();
    let s = sort(&control, &events);
    assert_eq!(s.reported, 1);
    let report = s
        .route
        .iter()
        .find(|f| f.rule_id.as_str() == FLAPPING_RULE)
        .cloned()
        .unwrap_or_else(|| panic!("no flapping finding"));
    assert_eq!(
        report.severity,
        Severity::High,
        "critical capped at high: never pages"
    );
    assert_eq!(
        report
            .evidence
            .details
            .get("alarm_severity")
            .map(|s| s.as_str()),
        Some("critical")
    );
    // An hour and more later, one calm change: the flapping ticket resolves, the change routes.
    let calm = sort(&control, &[root(70, "OK", "ALARM")]);
    assert_eq!((calm.resolved, calm.digest_only.len()), (1, 0));
    let statuses: Vec<(&str, Status)> = calm
        .route
        .iter()
        .map(|f| (f.rule_id.as_str(), f.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (FLAPPING_RULE, Status::Resolved),
            ("CIS-1.7-RootAccountUsage", Status::Active)
        ]
    );
    assert_eq!(calm.route[0].fingerprint, report.fingerprint);
    assert_eq!(
        calm.route[0].title, report.title,
        "one ticket keeps one title"
    );
}

#[test]
fn re_notifications_and_ignored_insufficient_data_are_handled_as_flap_control_says() {
    let control = control();
    // ALARM → ALARM is not a state change: never recorded, whatever the count.
    let repeats: Vec<Value> = (0..8).map(|m| change(m, "ALARM", "ALARM")).collect();
    let s = sort(&control, &repeats);
    assert_eq!((s.route.len(), s.reported), (8, 0));
    assert!(
        control
            .log()
            .get(&key_of(&s.route[0].fingerprint))
            .is_none()
    );
    // INSUFFICIENT_DATA gives no finding by default but is a state change that counts.
    let mut events = alternating(&[10, 11, 12, 13]);
    events.push(change(14, "ALARM", "INSUFFICIENT_DATA"));
    let s = sort(&control, &events);
    assert_eq!((s.reported, s.skipped.len()), (1, 1));
}

#[test]
fn with_flap_control_off_every_change_is_routed_and_nothing_recorded() {
    let c = classifier();
    let records = alternating(&[0, 1, 2, 3, 4, 5, 6, 7])
        .iter()
        .map(|e| c.classify_record(e).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let log = Arc::new(MemoryTransitionLog::new());
    let off = FlapControl::new(FlapSettings::new(0, 60), log.clone());
    let s = block_on(off.sort(records)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.route.len(), s.digest_only.len(), s.reported), (8, 0, 0));
    assert_eq!(log.writes(), 0);
    assert!(!FlapControl::disabled().settings().enabled());
}

#[test]
fn digest_only_findings_are_repeat_entries_under_the_policy_with_no_ticket_or_page() {
    let flap = control();
    let mut digest_only = Vec::new();
    for e in alternating(&[0, 1, 2, 3, 4, 5, 6]) {
        let mut e = e;
        e["detail"]["configuration"]["description"] = "severity=critical".into();
        digest_only.extend(sort(&flap, &[e]).digest_only);
    }
    assert_eq!(digest_only.len(), 3);
    assert!(digest_only.iter().all(|f| f.severity == Severity::Critical));
    let router = Router::new(
        SeverityPolicy::shipped().unwrap_or_else(|e| panic!("{e}")),
        Thresholds::default(),
        MemoryTicketSink::default(),
        MemoryDigestSink::default(),
        MemoryAlertPublisher::default(),
    );
    let report = block_on(router.route_digest_only(digest_only)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (report.findings, report.repeats, report.digest_entries),
        (1, 1, 1)
    );
    assert!(router.tickets().sent().is_empty());
    assert!(
        router.alerts().sent().is_empty(),
        "a critical flapping change never pages"
    );
    let entries = router.digest().sent();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].kind, entries[0].count), (DigestKind::Repeat, 3));
    // An ordinary route of such a change tickets and pages.
    let mut ordinary = change(0, "OK", "ALARM");
    ordinary["detail"]["configuration"]["description"] = "severity=critical".into();
    let s = sort(&control(), &[ordinary]);
    block_on(router.route(s.route)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(router.tickets().sent()[0].action, TicketAction::Open);
    assert_eq!(router.alerts().sent().len(), 1);
}
