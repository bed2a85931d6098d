//! `triage replay`: sample events through the real classifiers and router, in memory.
//!
//! The router runs with the same storm control as the Lambdas — the shipped suppressions, the
//! shipped dedup windows and an in-memory dedup store with the DynamoDB table's semantics — on
//! a clock that follows the events' own times, so a replayed storm shows one ticket and its
//! repeats. Alarm state changes go through alarm-classifier's flap control with an in-memory
//! transition log (the defaults: more than 4 changes in 60 minutes), so a replayed flapping
//! alarm shows one flapping ticket and its later changes as digest lines. At the end the digest
//! that the digest function would publish for everything that reached the digest queue is
//! printed (the text in `text` mode; `{"route": "digest-message", …}` lines in `jsonl` mode).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use flate2::read::GzDecoder;
use futures_executor::block_on;
use serde_json::{Value, json};
use triage_core::alarm::{AlarmClassifier, AlarmOptions, AlarmOutcome};
use triage_core::clock::{Clock, ManualClock};
use triage_core::config::{ConfigClassifier, ConfigRuleCatalog};
use triage_core::dedup::memory::MemoryDedupStore;
use triage_core::dedup::{DEFAULT_WINDOW_MINUTES, DedupWindows};
use triage_core::digest::{DigestBuilder, RenderOptions};
use triage_core::fakes::{MemoryAlertPublisher, MemoryDigestSink, MemoryTicketSink};
use triage_core::flap::memory::MemoryTransitionLog;
use triage_core::flap::{FlapControl, FlapSettings, Sorted};
use triage_core::inbound::unwrap_envelopes;
use triage_core::json::str_at;
use triage_core::pipeline::{Classifiers, ClassifyError, EventKind};
use triage_core::policy::{SeverityPolicy, Thresholds};
use triage_core::router::{RouteReport, Router};
use triage_core::suppress::Suppressions;
use triage_core::{Alert, DigestEntry, Finding, Severity, TicketEvent, text::sanitize};

use crate::Format;

type MemoryRouter = Router<MemoryTicketSink, MemoryDigestSink, MemoryAlertPublisher>;

/// Largest input file read, uncompressed.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Default)]
struct Totals {
    files: usize,
    unreadable: usize,
    events: usize,
    skipped: usize,
    rejected: usize,
    tickets: usize,
    digest: usize,
    alerts: usize,
    counted_only: usize,
    repeats: usize,
    suppressed: usize,
}

/// The router and what outlives one event: the clock it runs on, the alarms' flap states and
/// the digest being built.
struct Replay {
    router: MemoryRouter,
    clock: ManualClock,
    flap: FlapControl<MemoryTransitionLog>,
    digest: DigestBuilder,
}

fn build_replay() -> Result<Replay, String> {
    let policy = SeverityPolicy::shipped().map_err(|e| e.to_string())?;
    let suppressions = Suppressions::shipped().map_err(|e| e.to_string())?;
    let windows = DedupWindows::shipped(DEFAULT_WINDOW_MINUTES).map_err(|e| e.to_string())?;
    let clock = ManualClock::default();
    let router = Router::new(
        policy,
        Thresholds::default(),
        MemoryTicketSink::default(),
        MemoryDigestSink::default(),
        MemoryAlertPublisher::default(),
    )
    .with_suppressions(suppressions)
    .with_dedup(Arc::new(MemoryDedupStore::new()))
    .with_dedup_windows(windows)
    .with_clock(clock.clone());
    Ok(Replay {
        router,
        clock,
        flap: FlapControl::new(FlapSettings::default(), MemoryTransitionLog::new()),
        digest: DigestBuilder::new(),
    })
}

pub fn run(format: Format, paths: &[PathBuf]) -> ExitCode {
    let classifiers = match build_classifiers() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("triage: {e}");
            return ExitCode::from(2);
        }
    };
    let mut replay = match build_replay() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("triage: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut totals = Totals::default();
    for file in expand(paths, &mut totals) {
        totals.files += 1;
        if let Err(e) = replay_file(
            &file,
            &classifiers,
            &mut replay,
            format,
            &mut out,
            &mut totals,
        ) {
            totals.unreadable += 1;
            let _ = out.flush();
            eprintln!("triage: {}: {e}", file.display());
        }
    }
    print_digest(format, &mut out, replay);
    if format == Format::Text {
        let _ = writeln!(
            out,
            "\n{} file(s), {} event(s): {} ticket event(s), {} digest entr{} ({} repeat{}, {} suppressed), {} alert(s), {} counted only; {} skipped, {} rejected, {} unreadable file(s)",
            totals.files,
            totals.events,
            totals.tickets,
            totals.digest,
            if totals.digest == 1 { "y" } else { "ies" },
            totals.repeats,
            if totals.repeats == 1 { "" } else { "s" },
            totals.suppressed,
            totals.alerts,
            totals.counted_only,
            totals.skipped,
            totals.rejected,
            totals.unreadable
        );
    }
    let _ = out.flush();
    if totals.unreadable > 0 || totals.files == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn build_classifiers() -> Result<Classifiers, String> {
    let catalog = ConfigRuleCatalog::shipped().map_err(|e| e.to_string())?;
    Ok(Classifiers {
        config: ConfigClassifier::new(catalog, Severity::Medium),
        alarm: AlarmClassifier::shipped(AlarmOptions::default()).map_err(|e| e.to_string())?,
        cloudtrail: triage_core::cloudtrail::CloudTrailDetector::shipped()
            .map_err(|e| e.to_string())?,
    })
}

/// Files named on the command line, and the `.json` / `.gz` files under named directories,
/// sorted so runs are repeatable.
fn expand(paths: &[PathBuf], totals: &mut Totals) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found);
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            totals.unreadable += 1;
            eprintln!("triage: {}: no such file or directory", path.display());
        }
    }
    files
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("triage: {}: cannot read directory", dir.display());
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found);
        } else if path.extension().is_some_and(|e| e == "json" || e == "gz") {
            found.push(path);
        }
    }
}

fn read(path: &Path) -> Result<String, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    let gz = path.extension().is_some_and(|e| e == "gz");
    let result = if gz {
        GzDecoder::new(file)
            .take(MAX_FILE_BYTES)
            .read_to_string(&mut text)
    } else {
        file.take(MAX_FILE_BYTES).read_to_string(&mut text)
    };
    result.map_err(|e| {
        if gz {
            format!("not gzip text: {e}")
        } else {
            format!("not UTF-8 text: {e}")
        }
    })?;
    Ok(text)
}

fn replay_file(
    path: &Path,
    classifiers: &Classifiers,
    replay: &mut Replay,
    format: Format,
    out: &mut impl Write,
    totals: &mut Totals,
) -> Result<(), String> {
    let text = read(path)?;
    let payload: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let name = path.display().to_string();
    if format == Format::Text {
        let _ = writeln!(out, "{name}");
    }
    for inner in unwrap_envelopes(payload) {
        totals.events += 1;
        let at = if inner.origin.is_empty() {
            String::new()
        } else {
            format!(" [{}]", inner.origin)
        };
        let event = match inner.event {
            Ok(event) => event,
            Err(e) => {
                totals.rejected += 1;
                note(format, out, &name, &format!("rejected{at}: {e}"));
                continue;
            }
        };
        let kind = EventKind::of(&event);
        let classified = if kind.function() == Some("alarm-classifier") {
            classify_alarm(classifiers, replay, &event)
        } else {
            classifiers.classify(&event).map(|f| (f, Vec::new()))
        };
        let (findings, flapping) = match classified {
            Ok(findings) => findings,
            Err(ClassifyError::Unrecognised) => {
                totals.skipped += 1;
                let what = describe(&event);
                note(
                    format,
                    out,
                    &name,
                    &format!("skipped{at}: no triage function handles {what}"),
                );
                continue;
            }
            Err(e) => {
                totals.rejected += 1;
                note(
                    format,
                    out,
                    &name,
                    &format!("rejected{at}: {}", sanitize(&e.to_string(), 300)),
                );
                continue;
            }
        };
        if findings.is_empty() && flapping.is_empty() {
            totals.skipped += 1;
            let by = kind.function().unwrap_or("no function");
            note(
                format,
                out,
                &name,
                &format!("skipped{at}: {by} has nothing to report for this event"),
            );
            continue;
        }
        // The events arrive "when they happened": the dedup windows and suppression expiries
        // are judged at the event's time.
        if let Some(latest) = findings.iter().chain(&flapping).map(|f| f.last_seen).max() {
            replay.clock.advance_to(latest);
        }
        let router = &replay.router;
        let mut reports = Vec::new();
        if !findings.is_empty() {
            reports.push(block_on(router.route(findings)).map_err(|e| e.to_string())?);
        }
        let muted = flapping.len();
        if muted > 0 {
            // The changes of a flapping alarm: digest lines only, as alarm-classifier sends them.
            reports.push(block_on(router.route_digest_only(flapping)).map_err(|e| e.to_string())?);
        }
        let mut report = RouteReport::default();
        for r in reports {
            report.tickets += r.tickets;
            report.digest_entries += r.digest_entries;
            report.alerts += r.alerts;
            report.counted_only += r.counted_only;
            report.repeats += r.repeats;
            report.suppressed += r.suppressed;
            report.already_delivered += r.already_delivered;
        }
        let sent = Sent {
            tickets: router.tickets().take(),
            digest: router.digest().take(),
            alerts: router.alerts().take(),
            report,
        };
        totals.tickets += report.tickets;
        totals.digest += report.digest_entries;
        totals.alerts += report.alerts;
        totals.counted_only += report.counted_only;
        totals.repeats += report.repeats;
        totals.suppressed += report.suppressed;
        print_sent(format, out, &name, &at, &sent);
        if muted > 0 {
            note(
                format,
                out,
                &name,
                &format!(
                    "flapping{at}: the alarm is flapping; this state change goes to the digest only (no ticket, no page)"
                ),
            );
        }
        for entry in sent.digest {
            replay.digest.add(entry);
        }
    }
    Ok(())
}

/// An alarm event through alarm-classifier's classification and flap control: the findings to
/// route, and the changes of a flapping alarm (digest only).
fn classify_alarm(
    classifiers: &Classifiers,
    replay: &Replay,
    event: &Value,
) -> Result<(Vec<Finding>, Vec<Finding>), ClassifyError> {
    let record = classifiers.alarm.classify_record(event)?;
    // The in-memory log does not fail; were it to, the event is routed without flap control.
    let sorted = block_on(replay.flap.sort(vec![record.clone()])).unwrap_or_else(|e| {
        eprintln!("triage: flap state: {e}; routing the event without flap control");
        Sorted {
            route: match record.outcome {
                AlarmOutcome::Finding(f) => vec![*f],
                AlarmOutcome::Skipped(_) => Vec::new(),
            },
            ..Sorted::default()
        }
    });
    Ok((sorted.route, sorted.digest_only))
}

fn note(format: Format, out: &mut impl Write, file: &str, message: &str) {
    match format {
        Format::Text => {
            let _ = writeln!(out, "  {message}");
        }
        Format::Jsonl => eprintln!("triage: {file}: {message}"),
    }
}

/// What one event's findings actually sent, after the dedup state and the suppressions.
struct Sent {
    tickets: Vec<TicketEvent>,
    digest: Vec<DigestEntry>,
    alerts: Vec<Alert>,
    report: RouteReport,
}

fn print_sent(format: Format, out: &mut impl Write, file: &str, at: &str, plan: &Sent) {
    match format {
        Format::Text => {
            for t in &plan.tickets {
                let f = &t.finding;
                let _ = writeln!(
                    out,
                    "  ticket {:<7} [{}] {}{at}\n         fingerprint {}  rule {}  account {}  region {}",
                    t.action.as_str(),
                    f.severity,
                    f.title,
                    t.fingerprint,
                    f.rule_id,
                    f.account,
                    f.region
                );
            }
            for d in &plan.digest {
                let _ = writeln!(
                    out,
                    "  digest {:<7} [{}] {}",
                    format!("{:?}", d.kind).to_lowercase(),
                    d.severity,
                    d.title
                );
            }
            for a in &plan.alerts {
                let _ = writeln!(out, "  alert   {}", a.subject);
            }
            if plan.report.counted_only > 0 {
                let _ = writeln!(
                    out,
                    "  counted {} finding(s) below every threshold",
                    plan.report.counted_only
                );
            }
            if plan.report.already_delivered > 0 {
                let _ = writeln!(
                    out,
                    "  already delivered: {} finding(s) identical to one replayed before (a duplicate delivery sends nothing)",
                    plan.report.already_delivered
                );
            }
        }
        Format::Jsonl => {
            for t in &plan.tickets {
                let body = t
                    .body()
                    .ok()
                    .and_then(|b| serde_json::from_str::<Value>(&b).ok());
                let dedup = t.body().map(|b| t.deduplication_id(&b)).unwrap_or_default();
                emit(
                    out,
                    "ticket",
                    file,
                    body,
                    json!({"message_group_id": t.message_group_id(), "message_deduplication_id": dedup}),
                );
            }
            for d in &plan.digest {
                let body = d
                    .body()
                    .ok()
                    .and_then(|b| serde_json::from_str::<Value>(&b).ok());
                emit(out, "digest", file, body, Value::Null);
            }
            for a in &plan.alerts {
                let message = a
                    .sns_message()
                    .ok()
                    .and_then(|m| serde_json::from_str::<Value>(&m).ok());
                let body =
                    json!({"subject": a.subject, "message_structure": "json", "message": message});
                emit(out, "alert", file, Some(body), Value::Null);
            }
        }
    }
}

/// One JSONL line: `{"route": …, "file": …, "sqs"?: …, …the message body…}`.
fn emit(out: &mut impl Write, route: &str, file: &str, body: Option<Value>, sqs: Value) {
    let mut line = serde_json::Map::new();
    line.insert("route".into(), route.into());
    line.insert("file".into(), file.into());
    if !sqs.is_null() {
        line.insert("sqs".into(), sqs);
    }
    if let Some(Value::Object(fields)) = body {
        line.extend(fields);
    }
    let _ = writeln!(out, "{}", Value::Object(line));
}

/// "source / detail-type" of an event, sanitised, for a skip note.
fn describe(event: &Value) -> String {
    match (str_at(event, &["source"]), str_at(event, &["detail-type"])) {
        (Some(source), Some(detail_type)) => {
            format!("{} / {}", sanitize(source, 64), sanitize(detail_type, 96))
        }
        _ => "this kind of event".to_owned(),
    }
}

/// The digest the digest function would publish for everything that reached the digest queue.
fn print_digest(format: Format, out: &mut impl Write, replay: Replay) {
    let digest = replay.digest.finish(replay.clock.now());
    if digest.is_empty() {
        if format == Format::Text {
            let _ = writeln!(
                out,
                "\ndigest: nothing reached the digest queue, no digest would be sent"
            );
        }
        return;
    }
    let messages = match digest.render(&RenderOptions::default()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("triage: digest could not be rendered: {e}");
            return;
        }
    };
    for m in &messages {
        match format {
            Format::Text => {
                let _ = writeln!(
                    out,
                    "\ndigest message {}/{}  subject: {}\n",
                    m.part, m.parts, m.subject
                );
                for line in m.text.lines() {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            Format::Jsonl => {
                let message = m
                    .sns_message()
                    .ok()
                    .and_then(|m| serde_json::from_str::<Value>(&m).ok());
                let body = json!({
                    "part": m.part,
                    "parts": m.parts,
                    "subject": m.subject,
                    "message_structure": "json",
                    "message": message,
                });
                let mut line = serde_json::Map::new();
                line.insert("route".into(), "digest-message".into());
                if let Value::Object(fields) = body {
                    line.extend(fields);
                }
                let _ = writeln!(out, "{}", Value::Object(line));
            }
        }
    }
}
