//! The periodic digest, pure: digest-queue messages in, one readable summary out.
//!
//! [`DigestBuilder`] takes the entries drained from the digest queue — counting an entry
//! delivered twice once, by its `entry_id` — and aggregates them as they come, so a digest of
//! 100 000 entries holds counters, not entries. [`Digest`] is the result: totals by severity,
//! per rule with counts, top resources and principals, suppressed counts and what was resolved
//! since the last digest. [`Digest::render`] turns it into SNS messages (plain text for email,
//! JSON for machines, `MessageStructure=json`), split into numbered parts only past SNS's size
//! limit; the text lists the top N of each section with an "and K more" line and the JSON is
//! complete, so nothing is dropped silently.
//!
//! The I/O around it — draining the queue, publishing, deleting only after the publish — is the
//! digest function's; the ports are in [`ports`], in-memory fakes in [`memory`].

mod render;

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use render::{DigestMessage, MAX_SNS_MESSAGE_BYTES, RenderOptions};

use crate::accounts::AccountNames;
use crate::finding::{Fingerprint, Source};
use crate::severity::Severity;
use crate::ticket::{DigestEntry, DigestKind, OLDEST_READABLE_SCHEMA_VERSION, SCHEMA_VERSION};

/// A digest-queue message that is not a digest entry (or a batch of them).
#[derive(Debug, thiserror::Error)]
pub enum DigestParseError {
    #[error("not a digest entry: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "unsupported digest entry schema_version {0} (expected {OLDEST_READABLE_SCHEMA_VERSION} to {SCHEMA_VERSION})"
    )]
    Version(u32),
    #[error("digest entry has a malformed {0} (expected 32 lowercase hex digits)")]
    Malformed(&'static str),
    #[error("digest entry has an implausible count {0} (more than {MAX_ENTRY_COUNT})")]
    Count(u64),
}

/// The largest occurrence count one entry may carry (a finding merges at most one invocation's
/// records). A larger one is forged or corrupt; bounding it keeps every total of a digest far
/// from overflowing.
pub const MAX_ENTRY_COUNT: u64 = u32::MAX as u64;

/// Version 1 entries differ from version 2 only in knowing fewer sources: both are read.
fn readable(version: u32) -> bool {
    (OLDEST_READABLE_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&version)
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum QueueMessage {
    Batch {
        schema_version: u32,
        entries: Vec<DigestEntry>,
    },
    One(Box<DigestEntry>),
}

/// The entries of one digest-queue message: a digest entry (what the router's digest sink
/// sends), or `{"schema_version": 2, "entries": [...]}` holding several (version 1 is read too).
pub fn parse_message(body: &str) -> Result<Vec<DigestEntry>, DigestParseError> {
    let entries = match serde_json::from_str::<QueueMessage>(body) {
        Ok(QueueMessage::Batch {
            schema_version,
            entries,
        }) => {
            if !readable(schema_version) {
                return Err(DigestParseError::Version(schema_version));
            }
            entries
        }
        Ok(QueueMessage::One(entry)) => vec![*entry],
        // Parse again as a single entry for a precise error message.
        Err(_) => vec![serde_json::from_str::<DigestEntry>(body)?],
    };
    for e in &entries {
        if !readable(e.schema_version) {
            return Err(DigestParseError::Version(e.schema_version));
        }
        // The identifiers are not sanitised text: a forged message must not smuggle anything
        // through them.
        if !is_hex_id(&e.entry_id) {
            return Err(DigestParseError::Malformed("entry_id"));
        }
        if !is_hex_id(e.fingerprint.as_str()) {
            return Err(DigestParseError::Malformed("fingerprint"));
        }
        if e.count > MAX_ENTRY_COUNT {
            return Err(DigestParseError::Count(e.count));
        }
    }
    Ok(entries)
}

/// Problems and occurrences of one severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Distinct fingerprints.
    pub problems: u64,
    /// Sum of the entries' counts.
    pub occurrences: u64,
}

/// One rule's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    pub source: Source,
    pub rule_id: String,
    /// The most severe severity seen for the rule.
    pub severity: Severity,
    pub title: String,
    /// First occurrences (tickets opened) in the period.
    pub new: u64,
    /// Repeats merged into known problems.
    pub repeat: u64,
    /// Occurrences (new and repeat), summed counts.
    pub occurrences: u64,
    /// Distinct problems (fingerprints) with new or repeat entries.
    pub problems: u64,
    pub accounts: Vec<String>,
    /// Suppressed occurrences.
    pub suppressed: u64,
    /// Problems resolved.
    pub resolved: u64,
}

/// Suppressed occurrences of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressedLine {
    pub source: Source,
    pub rule_id: String,
    pub occurrences: u64,
    pub problems: u64,
    /// The ids of the suppressions that silenced them.
    pub suppressions: Vec<String>,
}

/// A problem resolved since the last digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLine {
    pub fingerprint: Fingerprint,
    pub source: Source,
    pub severity: Severity,
    pub rule_id: String,
    pub title: String,
    pub account: String,
    pub region: String,
    pub resource: Option<String>,
    pub at: DateTime<Utc>,
}

/// Entry counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    pub new: u64,
    pub repeat: u64,
    pub resolved: u64,
    pub suppressed: u64,
}

/// The digest of one period, aggregated and sorted, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub generated_at: DateTime<Utc>,
    /// Per account, the most severe first: what the text's BY ACCOUNT section shows.
    pub accounts: Vec<AccountLine>,
    /// Earliest and latest `last_seen` of the entries.
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Distinct entries.
    pub entries: u64,
    /// Entries delivered more than once, counted once.
    pub duplicates: u64,
    /// Queue messages that were not digest entries (left on the queue for its DLQ).
    pub unreadable: u64,
    pub kinds: KindCounts,
    /// Active occurrences (new and repeat) and distinct problems.
    pub total: Tally,
    /// Most severe first; severities with nothing are left out.
    pub by_severity: Vec<(Severity, Tally)>,
    /// Rules with occurrences first, then most severe, then most occurrences.
    pub rules: Vec<RuleLine>,
    /// Resources by occurrences, most first (every one of them).
    pub resources: Vec<(String, u64)>,
    pub principals: Vec<(String, u64)>,
    pub suppressed: Vec<SuppressedLine>,
    pub resolved: Vec<ResolvedLine>,
}

impl Digest {
    /// Nothing at all was drained.
    pub fn is_empty(&self) -> bool {
        self.entries == 0 && self.unreadable == 0
    }
}

#[derive(Debug, Default)]
struct RuleAgg {
    severity: Option<Severity>,
    title: String,
    new: u64,
    repeat: u64,
    occurrences: u64,
    problems: HashSet<Fingerprint>,
    accounts: BTreeSet<String>,
    suppressed: u64,
    suppressed_problems: HashSet<Fingerprint>,
    suppressions: BTreeSet<String>,
    resolved: HashSet<Fingerprint>,
}

/// One account's share of a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLine {
    pub account: String,
    /// From `policy/accounts.toml`, when the digest function knows it.
    pub name: Option<String>,
    /// The most severe active finding (new or repeat); `None` with only suppressed or
    /// resolved entries.
    pub severity: Option<Severity>,
    pub problems: u64,
    pub occurrences: u64,
    pub new: u64,
    pub suppressed: u64,
    pub resolved: u64,
}

#[derive(Debug, Default)]
struct AccountAgg {
    severity: Option<Severity>,
    problems: HashSet<Fingerprint>,
    occurrences: u64,
    new: u64,
    suppressed: u64,
    resolved: HashSet<Fingerprint>,
}

#[derive(Debug, Default)]
struct SeverityAgg {
    problems: HashSet<Fingerprint>,
    occurrences: u64,
}

/// Aggregates digest entries as they are drained.
#[derive(Debug, Default)]
pub struct DigestBuilder {
    seen: HashSet<String>,
    duplicates: u64,
    unreadable: u64,
    kinds: KindCounts,
    period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    severities: HashMap<Severity, SeverityAgg>,
    problems: HashSet<Fingerprint>,
    occurrences: u64,
    rules: HashMap<(Source, String), RuleAgg>,
    resources: HashMap<String, u64>,
    principals: HashMap<String, u64>,
    resolved: HashMap<Fingerprint, ResolvedLine>,
    accounts: HashMap<String, AccountAgg>,
    names: AccountNames,
}

impl DigestBuilder {
    pub fn new() -> Self {
        DigestBuilder::default()
    }

    /// Names the accounts of the BY ACCOUNT section (`policy/accounts.toml`).
    pub fn with_account_names(mut self, names: AccountNames) -> Self {
        self.names = names;
        self
    }

    /// Adds the entries of one queue message; an unreadable message is counted as such.
    pub fn add_message(&mut self, body: &str) -> Result<usize, DigestParseError> {
        match parse_message(body) {
            Ok(entries) => {
                let n = entries.len();
                for entry in entries {
                    self.add(entry);
                }
                Ok(n)
            }
            Err(e) => {
                self.unreadable += 1;
                Err(e)
            }
        }
    }

    /// Adds one entry; false when its `entry_id` was already counted.
    pub fn add(&mut self, entry: DigestEntry) -> bool {
        if !self.seen.insert(entry.entry_id.clone()) {
            self.duplicates += 1;
            return false;
        }
        let count = entry.count.max(1);
        let at = entry.last_seen;
        self.period = Some(match self.period {
            None => (at, at),
            Some((from, to)) => (from.min(at), to.max(at)),
        });
        let rule = self
            .rules
            .entry((entry.source, entry.rule_id.as_str().to_owned()))
            .or_default();
        rule.severity = rule.severity.max(Some(entry.severity));
        if rule.title.is_empty() {
            rule.title = entry.title.as_str().to_owned();
        }
        let account = self
            .accounts
            .entry(entry.account.as_str().to_owned())
            .or_default();
        match entry.kind {
            DigestKind::New | DigestKind::Repeat => {
                account.severity = account.severity.max(Some(entry.severity));
                account.problems.insert(entry.fingerprint.clone());
                account.occurrences = account.occurrences.saturating_add(count);
                if entry.kind == DigestKind::New {
                    account.new += 1;
                }
            }
            DigestKind::Suppressed => account.suppressed = account.suppressed.saturating_add(count),
            DigestKind::Resolved => {
                account.resolved.insert(entry.fingerprint.clone());
            }
        }
        match entry.kind {
            DigestKind::New | DigestKind::Repeat => {
                if entry.kind == DigestKind::New {
                    self.kinds.new += 1;
                    rule.new += 1;
                } else {
                    self.kinds.repeat += 1;
                    rule.repeat += 1;
                }
                rule.occurrences = rule.occurrences.saturating_add(count);
                rule.problems.insert(entry.fingerprint.clone());
                rule.accounts.insert(entry.account.as_str().to_owned());
                let sev = self.severities.entry(entry.severity).or_default();
                sev.problems.insert(entry.fingerprint.clone());
                sev.occurrences = sev.occurrences.saturating_add(count);
                self.problems.insert(entry.fingerprint.clone());
                self.occurrences = self.occurrences.saturating_add(count);
                if let Some(r) = &entry.resource {
                    let n = self.resources.entry(r.as_str().to_owned()).or_default();
                    *n = n.saturating_add(count);
                }
                if let Some(p) = &entry.principal {
                    let n = self.principals.entry(p.as_str().to_owned()).or_default();
                    *n = n.saturating_add(count);
                }
            }
            DigestKind::Suppressed => {
                self.kinds.suppressed += 1;
                rule.suppressed = rule.suppressed.saturating_add(count);
                rule.suppressed_problems.insert(entry.fingerprint.clone());
                if let Some(id) = &entry.suppression {
                    rule.suppressions.insert(id.as_str().to_owned());
                }
            }
            DigestKind::Resolved => {
                self.kinds.resolved += 1;
                rule.resolved.insert(entry.fingerprint.clone());
                let line = ResolvedLine {
                    fingerprint: entry.fingerprint.clone(),
                    source: entry.source,
                    severity: entry.severity,
                    rule_id: entry.rule_id.as_str().to_owned(),
                    title: entry.title.as_str().to_owned(),
                    account: entry.account.as_str().to_owned(),
                    region: entry.region.as_str().to_owned(),
                    resource: entry.resource.as_ref().map(|r| r.as_str().to_owned()),
                    at,
                };
                // The latest resolution of a problem wins.
                match self.resolved.get(&entry.fingerprint) {
                    Some(old) if old.at >= at => {}
                    _ => {
                        self.resolved.insert(entry.fingerprint, line);
                    }
                }
            }
        }
        true
    }

    /// Distinct entries so far.
    pub fn entries(&self) -> u64 {
        self.seen.len() as u64
    }

    pub fn finish(self, generated_at: DateTime<Utc>) -> Digest {
        let mut by_severity: Vec<(Severity, Tally)> = self
            .severities
            .into_iter()
            .map(|(s, a)| {
                (
                    s,
                    Tally {
                        problems: a.problems.len() as u64,
                        occurrences: a.occurrences,
                    },
                )
            })
            .collect();
        by_severity.sort_by_key(|(s, _)| std::cmp::Reverse(*s));
        let mut suppressed = Vec::new();
        let mut rules: Vec<RuleLine> = Vec::new();
        for ((source, rule_id), a) in self.rules {
            if a.suppressed > 0 {
                suppressed.push(SuppressedLine {
                    source,
                    rule_id: rule_id.clone(),
                    occurrences: a.suppressed,
                    problems: a.suppressed_problems.len() as u64,
                    suppressions: a.suppressions.iter().cloned().collect(),
                });
            }
            rules.push(RuleLine {
                source,
                rule_id,
                severity: a.severity.unwrap_or(Severity::Info),
                title: a.title,
                new: a.new,
                repeat: a.repeat,
                occurrences: a.occurrences,
                problems: a.problems.len() as u64,
                accounts: a.accounts.into_iter().collect(),
                suppressed: a.suppressed,
                resolved: a.resolved.len() as u64,
            });
        }
        // Rules with occurrences first (resolved- or suppressed-only rules after them), then
        // the most severe, then the most frequent.
        rules.sort_by(|a, b| {
            (b.occurrences > 0)
                .cmp(&(a.occurrences > 0))
                .then(b.severity.cmp(&a.severity))
                .then(b.occurrences.cmp(&a.occurrences))
                .then(b.suppressed.cmp(&a.suppressed))
                .then_with(|| (a.source, &a.rule_id).cmp(&(b.source, &b.rule_id)))
        });
        suppressed.sort_by(|a, b| {
            b.occurrences
                .cmp(&a.occurrences)
                .then_with(|| (a.source, &a.rule_id).cmp(&(b.source, &b.rule_id)))
        });
        let ranked = |m: HashMap<String, u64>| {
            let mut v: Vec<(String, u64)> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
        };
        let names = &self.names;
        let mut accounts: Vec<AccountLine> = self
            .accounts
            .into_iter()
            .map(|(account, a)| AccountLine {
                name: names.name(&account).map(|n| n.as_str().to_owned()),
                account,
                severity: a.severity,
                problems: a.problems.len() as u64,
                occurrences: a.occurrences,
                new: a.new,
                suppressed: a.suppressed,
                resolved: a.resolved.len() as u64,
            })
            .collect();
        accounts.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.occurrences.cmp(&a.occurrences))
                .then_with(|| a.account.cmp(&b.account))
        });
        let mut resolved: Vec<ResolvedLine> = self.resolved.into_values().collect();
        resolved.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| {
                    (a.source, &a.rule_id, &a.resource).cmp(&(b.source, &b.rule_id, &b.resource))
                })
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        Digest {
            generated_at,
            accounts,
            period: self.period,
            entries: self.seen.len() as u64,
            duplicates: self.duplicates,
            unreadable: self.unreadable,
            kinds: self.kinds,
            total: Tally {
                problems: self.problems.len() as u64,
                occurrences: self.occurrences,
            },
            by_severity,
            rules,
            resources: ranked(self.resources),
            principals: ranked(self.principals),
            suppressed,
            resolved,
        }
    }
}

#[cfg(test)]
mod tests;
