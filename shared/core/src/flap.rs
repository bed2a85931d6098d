//! Flap control: an alarm that changes state more than N times within a window is reported
//! once as flapping, not as N tickets (see [`crate::alarm`] for the lifecycle and the
//! trade-off).
//!
//! # State
//!
//! One [`FlapState`] per alarm, kept in the dedup table under its own key
//! (`flap#<alarm fingerprint>`, [`key_of`]) behind the [`TransitionLog`] port: the DynamoDB
//! adapter lives in `triage-aws`, `fakes::MemoryTransitionLog` serves the tests and
//! `triage replay`. It holds the alarm's last N+1 state-change times (the alarm's own
//! timestamps, so a retried delivery of the same change finds its time already there and
//! counts nothing), when flapping was last reported (with the count and first change of that
//! report, so a retry rebuilds the same flapping finding byte for byte), and when it was last
//! resolved. Every change is a conditional write on the item's `version`; a conflict re-reads
//! and decides again ([`TransitionLog::record`]), a store that cannot be reached fails the
//! invocation (retryable, like the dedup store). The state lives `DEDUP_RETENTION_DAYS` after
//! the alarm's latest change (the table's TTL); an expired state counts as absent.
//!
//! # The decision ([`decide`], pure)
//!
//! Time is the alarm's: a change at `t` counts the recorded changes in `(t - W, t]`.
//!
//! | state of the alarm | the change | [`FlapStatus`] |
//! |---|---|---|
//! | flapping reported less than W before (or after) `t` | any | `Flapping`: digest only |
//! | not reported within W | more than N changes in the window | `Started`: report once; the change itself goes to the digest only |
//! | reported, but not within W | at most N changes | `Calmed`: resolve the flapping finding once; route the change as usual |
//! | never reported (or resolved) | at most N changes | `Calm`: route as usual |
//!
//! A change whose time is already recorded (a retry, or the same change delivered by two
//! paths) writes nothing and gets the status it got the first time, as far as the stored
//! markers tell: `Started` again if it was the change that reported, `Calmed` again if it was
//! the one that resolved. A change older than every recorded one when N+1 are kept is not
//! recorded (it cannot change the count of any later window).

use chrono::{DateTime, TimeDelta, Utc};
use tracing::{debug, info};

use crate::alarm::{AlarmOutcome, AlarmRecord, AlarmSkip, AlarmState};
use crate::dedup::{Applied, DEFAULT_RETENTION_DAYS, DedupError, MAX_WINDOW_MINUTES};
use crate::finding::{Finding, Fingerprint};
use crate::ports::TransitionLog;

/// `ALARM_FLAP_TRANSITIONS` when unset: more than 4 state changes…
pub const DEFAULT_FLAP_TRANSITIONS: u32 = 4;
/// …within `ALARM_FLAP_WINDOW_MINUTES`, 60 when unset, is flapping.
pub const DEFAULT_FLAP_WINDOW_MINUTES: u32 = 60;
/// The largest N (the state keeps N+1 times).
pub const MAX_FLAP_TRANSITIONS: u32 = 100;
/// Flap state keys in the dedup table: `flap#<alarm fingerprint>`. Dedup items are keyed by
/// the bare fingerprint (32 hex digits), so the two never meet.
pub const KEY_PREFIX: &str = "flap#";

/// How many re-reads a conflicting conditional write gets before giving up.
const MAX_ATTEMPTS: u32 = 8;

/// When an alarm flaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapSettings {
    /// More than this many state changes within the window is flapping; 0 turns flap control
    /// off (every change is routed, nothing is recorded).
    pub transitions: u32,
    pub window: TimeDelta,
    /// How long the state outlives the alarm's latest change (never shorter than the window
    /// and a day).
    pub retention: TimeDelta,
}

impl Default for FlapSettings {
    fn default() -> Self {
        FlapSettings::new(DEFAULT_FLAP_TRANSITIONS, DEFAULT_FLAP_WINDOW_MINUTES)
    }
}

impl FlapSettings {
    /// `transitions` (at most [`MAX_FLAP_TRANSITIONS`]) within `window_minutes` (1 minute … a
    /// week), state kept for the dedup retention default.
    pub fn new(transitions: u32, window_minutes: u32) -> Self {
        FlapSettings {
            transitions: transitions.min(MAX_FLAP_TRANSITIONS),
            window: TimeDelta::minutes(i64::from(window_minutes.clamp(1, MAX_WINDOW_MINUTES))),
            retention: TimeDelta::days(i64::from(DEFAULT_RETENTION_DAYS)),
        }
    }

    /// Flap control off: every state change is routed as usual.
    pub fn disabled() -> Self {
        FlapSettings::new(0, DEFAULT_FLAP_WINDOW_MINUTES)
    }

    pub fn with_retention(mut self, retention: TimeDelta) -> Self {
        self.retention = retention;
        self
    }

    pub fn enabled(&self) -> bool {
        self.transitions > 0
    }

    /// How long a state lives after its latest change.
    fn keep(&self) -> TimeDelta {
        self.retention.max(self.window + TimeDelta::days(1))
    }
}

/// The flap state of one alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlapState {
    /// `flap#<alarm fingerprint>`.
    pub key: String,
    /// Bumped by every write: writes are conditioned on it.
    pub version: u64,
    /// The latest N+1 state-change times, ascending, millisecond precision.
    pub transitions: Vec<DateTime<Utc>>,
    /// The state of the latest change (for people browsing the table).
    pub last_state: Option<AlarmState>,
    /// The change that last reported the alarm as flapping, until a calm change resolves it.
    pub reported_at: Option<DateTime<Utc>>,
    /// The state changes that report counted, and the first of them.
    pub reported_transitions: u32,
    pub reported_since: Option<DateTime<Utc>>,
    /// The change that last resolved the flapping finding.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The TTL: past it the state counts as absent.
    pub expires_at: DateTime<Utc>,
}

impl FlapState {
    /// An empty state (version 0: nothing stored yet).
    pub fn new(key: String) -> Self {
        FlapState {
            key,
            version: 0,
            transitions: Vec::new(),
            last_state: None,
            reported_at: None,
            reported_transitions: 0,
            reported_since: None,
            resolved_at: None,
            expires_at: DateTime::UNIX_EPOCH,
        }
    }

    /// Whether flapping was reported less than `window` before or after `at`.
    fn reported_near(&self, at: DateTime<Utc>, window: TimeDelta) -> bool {
        self.reported_at.is_some_and(|r| (at - r).abs() < window)
    }

    /// The status of a change already recorded (or too old to record).
    fn replayed(&self, at: DateTime<Utc>, window: TimeDelta) -> FlapStatus {
        let since = self.reported_since.unwrap_or(at);
        if self.reported_at == Some(at) {
            FlapStatus::Started {
                transitions: self.reported_transitions,
                since,
            }
        } else if self.resolved_at == Some(at) {
            FlapStatus::Calmed {
                transitions: self.reported_transitions,
                since,
            }
        } else if self.reported_near(at, window) {
            FlapStatus::Flapping
        } else {
            FlapStatus::Calm
        }
    }
}

/// The key of an alarm's flap state.
pub fn key_of(alarm: &Fingerprint) -> String {
    format!("{KEY_PREFIX}{alarm}")
}

/// What a state change means for its alarm's flapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlapStatus {
    /// Not flapping: route the change as usual.
    Calm,
    /// This change made the alarm flap: report it once (`transitions` changes since `since`);
    /// the change itself goes to the digest only.
    Started {
        transitions: u32,
        since: DateTime<Utc>,
    },
    /// Flapping was reported within the window: the change goes to the digest only.
    Flapping,
    /// The first calm change after a report: resolve the flapping finding (the report's
    /// `transitions` and `since` give it the same title) and route the change as usual.
    Calmed {
        transitions: u32,
        since: DateTime<Utc>,
    },
}

/// What to write (if anything) and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The state to store, its version already bumped.
    pub write: Option<FlapState>,
    /// The version the write is conditioned on; `None`: only if no state is stored.
    pub expected_version: Option<u64>,
    pub status: FlapStatus,
}

fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Records the change of `alarm` to `state` at `at` (the alarm's own time) in the stored state
/// (`None` when absent) and decides what it means. Pure.
pub fn decide(
    current: Option<&FlapState>,
    alarm: &Fingerprint,
    at: DateTime<Utc>,
    state: AlarmState,
    settings: &FlapSettings,
) -> Decision {
    let at = millis(at);
    let window = settings.window;
    let keep = settings.transitions as usize + 1;
    let live = current.filter(|c| c.expires_at > at);
    if let Some(s) = live {
        let too_old = s.transitions.len() >= keep && s.transitions.first().is_some_and(|f| at < *f);
        if too_old || s.transitions.contains(&at) {
            return Decision {
                write: None,
                expected_version: None,
                status: s.replayed(at, window),
            };
        }
    }
    let mut next = live
        .cloned()
        .unwrap_or_else(|| FlapState::new(key_of(alarm)));
    next.version = current.map_or(1, |c| c.version + 1);
    let position = next.transitions.partition_point(|t| *t < at);
    next.transitions.insert(position, at);
    if next.transitions.len() > keep {
        let excess = next.transitions.len() - keep;
        next.transitions.drain(..excess);
    }
    let latest = next.transitions.last().copied().unwrap_or(at);
    if latest == at {
        next.last_state = Some(state);
    }
    next.expires_at = seconds(latest + settings.keep());

    let in_window: Vec<DateTime<Utc>> = next
        .transitions
        .iter()
        .copied()
        .filter(|t| *t > at - window && *t <= at)
        .collect();
    let count = u32::try_from(in_window.len()).unwrap_or(u32::MAX);
    let since = in_window.first().copied().unwrap_or(at);
    let status = if next.reported_near(at, window) {
        FlapStatus::Flapping
    } else if count > settings.transitions {
        next.reported_at = Some(at);
        next.reported_transitions = count;
        next.reported_since = Some(since);
        next.resolved_at = None;
        FlapStatus::Started {
            transitions: count,
            since,
        }
    } else if next.reported_at.is_some() {
        next.reported_at = None;
        next.resolved_at = Some(at);
        FlapStatus::Calmed {
            transitions: next.reported_transitions,
            since: next.reported_since.unwrap_or(at),
        }
    } else {
        FlapStatus::Calm
    };
    Decision {
        write: Some(next),
        expected_version: current.map(|c| c.version),
        status,
    }
}

/// Records a state change of `alarm` and says what it means: read, [`decide`], write
/// conditionally, and on a conflict (another invocation wrote first) read and decide again.
pub(crate) async fn record_change<L: TransitionLog + ?Sized>(
    log: &L,
    settings: &FlapSettings,
    alarm: &Fingerprint,
    at: DateTime<Utc>,
    state: AlarmState,
) -> Result<FlapStatus, DedupError> {
    let key = key_of(alarm);
    for attempt in 1..=MAX_ATTEMPTS {
        let current = log.load(&key).await?;
        let decision = decide(current.as_ref(), alarm, at, state, settings);
        let Some(next) = decision.write else {
            return Ok(decision.status);
        };
        match log.store(&next, decision.expected_version).await? {
            Applied::Yes => return Ok(decision.status),
            Applied::Conflict => {
                debug!(%alarm, attempt, "flap state changed under the write; deciding again");
            }
        }
    }
    Err(DedupError::Contention {
        fingerprint: alarm.clone(),
        attempts: MAX_ATTEMPTS,
    })
}

/// Alarm records sorted by what flap control makes of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sorted {
    /// To route as usual: the findings of calm alarms and the flapping findings (reports and
    /// resolutions).
    pub route: Vec<Finding>,
    /// The findings of flapping alarms: to the digest only (no ticket, no page).
    pub digest_only: Vec<Finding>,
    /// Records with nothing to report.
    pub skipped: Vec<AlarmSkip>,
    /// Flapping findings opened and resolved.
    pub reported: usize,
    pub resolved: usize,
}

/// Flap control for a batch of alarm records: the settings and the transition log. Built once
/// per cold start.
#[derive(Debug, Clone)]
pub struct FlapControl<L> {
    settings: FlapSettings,
    log: L,
}

impl FlapControl<NoTransitionLog> {
    /// No flap control: every record is routed as usual.
    pub fn disabled() -> Self {
        FlapControl::new(FlapSettings::disabled(), NoTransitionLog)
    }
}

impl<L: TransitionLog> FlapControl<L> {
    pub fn new(settings: FlapSettings, log: L) -> Self {
        FlapControl { settings, log }
    }

    pub fn settings(&self) -> &FlapSettings {
        &self.settings
    }

    pub fn log(&self) -> &L {
        &self.log
    }

    /// Records each record's state change (in the order given) and sorts the records: what to
    /// route, what goes to the digest only, what to report or resolve as flapping. A store
    /// error stops and fails the call: nothing of the batch has been sent, and a retry finds
    /// the changes already recorded and gets the same answers.
    pub async fn sort(&self, records: Vec<AlarmRecord>) -> Result<Sorted, DedupError> {
        let mut out = Sorted::default();
        for record in records {
            let status = match &record.transition {
                Some(t) if self.settings.enabled() => {
                    self.log
                        .record(&self.settings, &t.alarm, t.at, t.state)
                        .await?
                }
                _ => FlapStatus::Calm,
            };
            let finding = match record.outcome {
                AlarmOutcome::Finding(f) => Some(*f),
                AlarmOutcome::Skipped(skip) => {
                    out.skipped.push(skip);
                    None
                }
            };
            match (status, record.transition.as_ref()) {
                (FlapStatus::Started { transitions, since }, Some(t)) => {
                    info!(
                        alarm = %t.name,
                        transitions,
                        window_minutes = self.settings.window.num_minutes(),
                        "alarm is flapping: reported once; its state changes go to the digest only"
                    );
                    out.route
                        .push(t.flapping(transitions, since, self.settings.window));
                    out.reported += 1;
                    out.digest_only.extend(finding);
                }
                (FlapStatus::Flapping, t) => {
                    debug!(alarm = ?t.map(|t| t.name.as_str()), "flapping: state change to the digest only");
                    out.digest_only.extend(finding);
                }
                (FlapStatus::Calmed { transitions, since }, Some(t)) => {
                    info!(alarm = %t.name, "alarm is calm again: flapping resolved");
                    out.route
                        .push(t.calmed(transitions, since, self.settings.window));
                    out.resolved += 1;
                    out.route.extend(finding);
                }
                _ => out.route.extend(finding),
            }
        }
        Ok(out)
    }
}

/// Remembers nothing: every state change is the first.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTransitionLog;

impl TransitionLog for NoTransitionLog {
    async fn load(&self, _key: &str) -> Result<Option<FlapState>, DedupError> {
        Ok(None)
    }

    async fn store(
        &self,
        _state: &FlapState,
        _expected_version: Option<u64>,
    ) -> Result<Applied, DedupError> {
        Ok(Applied::Yes)
    }
}

#[cfg(test)]
mod tests;
