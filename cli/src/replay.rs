//! `triage replay`: events through the functions as they ship, in memory.
//!
//! Each function is built by its own `assemble` — the same constructor its Lambda's `main.rs`
//! calls — with the settings `template.yaml` gives it and the in-memory backend in place of AWS:
//! the shipped severity policy, suppressions, dedup windows and flap control, one dedup table
//! for all of them, on a clock that follows the events' own times, so a replayed storm shows one
//! ticket and its repeats and a flapping alarm one flapping ticket. Each event goes to the
//! function that handles its kind, as AWS would deliver it (a CloudTrail record or a decoded
//! subscription payload is sent as the subscription's Lambda event). At the end the digest
//! function drains everything that reached the digest queue and its digest is printed (the text
//! in `text` mode; `{"route": "digest-message", …}` lines in `jsonl` mode).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use flate2::read::GzDecoder;
use futures_executor::block_on;
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use serde_json::{Value, json};
use triage_core::alarm::AlarmForm;
use triage_core::clock::ManualClock;
use triage_core::cloudtrail::{CloudTrailForm, encode_lambda_event};
use triage_core::config::ConfigClassifier;
use triage_core::fakes::Memory;
use triage_core::hub::HubClassifier;
use triage_core::inbound::unwrap_envelopes;
use triage_core::json::str_at;
use triage_core::metrics::{Emitter, MetricsSettings};
use triage_core::settings::env_from_map;
use triage_core::{Alert, DigestEntry, DigestKind, Finding, TicketEvent, text::sanitize};
use triage_template::{Template, memory_stand_ins};

use crate::Format;

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
    stale: usize,
}

/// Every function as it ships, on one in-memory backend, and the clock they share.
struct Functions {
    memory: Memory,
    clock: ManualClock,
    config: config_classifier::Handler<Memory>,
    findings: finding_classifier::Handler<Memory>,
    alarm: alarm_classifier::Handler<Memory>,
    logs: log_detector::Handler<Memory>,
    digest: digest::Handler<Memory>,
    /// The classifiers alone, to read an event's time before it is handled.
    peek: Peek,
    /// The EMF lines the functions wrote (collected, not printed).
    metrics: Arc<Mutex<Vec<Value>>>,
    namespace: String,
}

struct Peek {
    config: ConfigClassifier,
    findings: HubClassifier,
    alarm: triage_core::alarm::AlarmClassifier,
    logs: triage_core::cloudtrail::CloudTrailDetector,
}

/// The function an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Config,
    Findings,
    Alarm,
    Logs,
}

impl Target {
    fn of(event: &Value) -> Option<Target> {
        if ConfigClassifier::accepts(event) {
            Some(Target::Config)
        } else if HubClassifier::accepts(event) {
            Some(Target::Findings)
        } else if AlarmForm::of(event).is_some() {
            Some(Target::Alarm)
        } else if CloudTrailForm::of(event).is_some() {
            Some(Target::Logs)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Target::Config => "config-classifier",
            Target::Findings => "finding-classifier",
            Target::Alarm => "alarm-classifier",
            Target::Logs => "log-detector",
        }
    }
}

/// What a function's summary says, whichever function it is.
#[derive(Debug, Default)]
struct Counts {
    findings: usize,
    counted_only: usize,
    flapping: usize,
    invalid: usize,
    stale: usize,
}

fn counts(summary: impl Serialize) -> Counts {
    let v = serde_json::to_value(summary).unwrap_or_default();
    let n = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    };
    Counts {
        findings: n("findings"),
        counted_only: n("counted_only"),
        flapping: n("flapping"),
        invalid: n("invalid"),
        stale: n("stale"),
    }
}

fn build() -> Result<Functions, String> {
    let template = Template::shipped().map_err(|e| format!("template.yaml: {e}"))?;
    let stand_ins = memory_stand_ins();
    let env = |binary: &str| template.function_env(binary, &stand_ins).map(env_from_map);
    let clock = ManualClock::default();
    let memory = Memory::default().with_clock(clock.clone());
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let config =
        config_classifier::Settings::from(&env("config-classifier")?).map_err(|x| e(&x))?;
    let findings =
        finding_classifier::Settings::from(&env("finding-classifier")?).map_err(|x| e(&x))?;
    let alarm = alarm_classifier::Settings::from(&env("alarm-classifier")?).map_err(|x| e(&x))?;
    let logs = log_detector::Settings::from(&env("log-detector")?).map_err(|x| e(&x))?;
    let digest_settings = digest::Settings::from(&env("digest")?).map_err(|x| e(&x))?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let namespace = digest_settings.metrics.namespace.clone();
    let emitter = |name: &'static str, settings: &MetricsSettings| {
        Emitter::new(name, settings.clone()).collecting(lines.clone())
    };
    let metrics = (
        emitter("config-classifier", &config.router.metrics),
        emitter("finding-classifier", &findings.router.metrics),
        emitter("alarm-classifier", &alarm.router.metrics),
        emitter("log-detector", &logs.router.metrics),
        emitter("digest", &digest_settings.metrics),
    );
    let peek = Peek {
        config: config.classifier.clone(),
        findings: findings.classifier,
        alarm: alarm.classifier.clone(),
        logs: logs.detector.clone(),
    };
    Ok(Functions {
        config: config_classifier::assemble(config, &memory).with_metrics(metrics.0),
        findings: finding_classifier::assemble(findings, &memory).with_metrics(metrics.1),
        alarm: alarm_classifier::assemble(alarm, &memory).with_metrics(metrics.2),
        logs: log_detector::assemble(logs, &memory).with_metrics(metrics.3),
        digest: digest::assemble(digest_settings, &memory).with_metrics(metrics.4),
        peek,
        metrics: lines,
        namespace,
        memory,
        clock,
    })
}

pub fn run(format: Format, metrics: bool, paths: &[PathBuf]) -> ExitCode {
    let mut functions = match build() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("triage: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut totals = Totals::default();
    let mut events = Vec::new();
    for file in expand(paths, &mut totals) {
        totals.files += 1;
        match load(&file, &functions.peek) {
            Ok(found) => events.extend(found),
            Err(e) => {
                totals.unreadable += 1;
                eprintln!("triage: {}: {e}", file.display());
            }
        }
    }
    if totals.files == 0 {
        eprintln!(
            "triage: no event files (.json, .json.gz) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(1);
    }
    // As AWS would have delivered them: in the order they happened. Files are only containers;
    // replaying them in name order would, say, resolve a problem and then reopen it with its
    // older occurrence (which the dedup state drops as stale, as it would in production).
    events.sort_by_key(|e| e.time);
    let order = "in the order they happened (each event's own time; events without one first)";
    match format {
        Format::Text => {
            let _ = writeln!(
                out,
                "replaying {} event(s) from {} file(s) {order}\n",
                events.len(),
                totals.files
            );
        }
        Format::Jsonl => eprintln!("triage: replaying {} event(s) {order}", events.len()),
    }
    let mut last_file: Option<String> = None;
    for event in events {
        if format == Format::Text && last_file.as_deref() != Some(event.file.as_str()) {
            let _ = writeln!(out, "{}", event.file);
        }
        last_file = Some(event.file.clone());
        replay_event(event, &mut functions, format, &mut out, &mut totals);
    }
    print_digest(format, &mut out, &functions);
    if metrics {
        print_metrics(format, &mut out, &functions);
    }
    if format == Format::Text {
        let _ = writeln!(
            out,
            "\n{} file(s), {} event(s): {} ticket event(s), {} digest entr{} ({} repeat{}, {} suppressed), {} alert(s), {} counted only; {} skipped, {} rejected, {} stale, {} unreadable file(s)",
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
            totals.stale,
            totals.unreadable
        );
    }
    let _ = out.flush();
    if totals.unreadable > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
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

/// One event read from a file, waiting for its turn.
struct Event {
    file: String,
    /// Where in the file (" [SQS record 2]"), empty when the file is the event.
    at: String,
    event: Result<Value, String>,
    /// When it happened, by its function's own classifier.
    time: Option<DateTime<Utc>>,
}

/// The events of one file (an SQS or SNS batch holds several).
fn load(path: &Path, peek: &Peek) -> Result<Vec<Event>, String> {
    let text = read(path)?;
    let payload: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let file = path.display().to_string();
    Ok(unwrap_envelopes(payload)
        .into_iter()
        .map(|inner| {
            let time = inner
                .event
                .as_ref()
                .ok()
                .and_then(|e| Some((Target::of(e)?, e)))
                .and_then(|(target, e)| event_time(peek, target, e));
            Event {
                file: file.clone(),
                at: if inner.origin.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", inner.origin)
                },
                event: inner.event.map_err(|e| e.to_string()),
                time,
            }
        })
        .collect())
}

fn replay_event(
    e: Event,
    functions: &mut Functions,
    format: Format,
    out: &mut impl Write,
    totals: &mut Totals,
) {
    totals.events += 1;
    let (name, at) = (e.file.as_str(), e.at.as_str());
    let event = match e.event {
        Ok(event) => event,
        Err(why) => {
            // An envelope's error names where in the file it is (`Records[0] → …: …`).
            totals.rejected += 1;
            note(format, out, name, &format!("rejected: {why}"));
            return;
        }
    };
    let Some(target) = Target::of(&event) else {
        totals.skipped += 1;
        let what = describe(&event);
        note(
            format,
            out,
            name,
            &format!("skipped{at}: no triage function handles {what}"),
        );
        return;
    };
    // The events arrive "when they happened": the dedup windows and suppression expiries are
    // judged at the event's time.
    if let Some(time) = e.time {
        functions.clock.advance_to(time);
    }
    let counts = match handle(functions, target, &event) {
        Ok(counts) => counts,
        Err(why) => {
            totals.rejected += 1;
            let why = sanitize(&why, 300);
            note(format, out, name, &format!("rejected{at}: {why}"));
            return;
        }
    };
    if counts.invalid > 0 && target == Target::Findings && counts.findings > 0 {
        // A Security Hub event's other findings still count.
        totals.rejected += 1;
        note(
            format,
            out,
            name,
            &format!(
                "rejected{at}: {} unreadable finding(s) of the event; the others are routed",
                counts.invalid
            ),
        );
    } else if counts.invalid > 0 {
        totals.rejected += 1;
        let why = peek_error(&functions.peek, target, &event)
            .unwrap_or_else(|| "not a usable alarm event".to_owned());
        note(
            format,
            out,
            name,
            &format!("rejected{at}: {}", sanitize(&why, 300)),
        );
        return;
    }
    let memory = &functions.memory;
    let sent = Sent {
        tickets: memory.tickets.take(),
        digest: memory.digest.take(),
        alerts: memory.alerts.take(),
        counted_only: counts.counted_only,
    };
    if counts.stale > 0 {
        totals.stale += counts.stale;
        note(
            format,
            out,
            name,
            &format!(
                "stale{at}: older than what {} already knows of this problem (a resolve older than its last occurrence, an occurrence no newer than its resolve, a second resolve, or a GuardDuty or Security Hub finding no newer than the version already seen): dropped, as in production",
                target.name()
            ),
        );
    }
    if counts.findings == 0 && sent.digest.is_empty() {
        totals.skipped += 1;
        note(
            format,
            out,
            name,
            &format!(
                "skipped{at}: {} has nothing to report for this event",
                target.name()
            ),
        );
        return;
    }
    totals.tickets += sent.tickets.len();
    totals.digest += sent.digest.len();
    totals.alerts += sent.alerts.len();
    totals.counted_only += counts.counted_only;
    totals.repeats += sent
        .digest
        .iter()
        .filter(|d| d.kind == DigestKind::Repeat)
        .count();
    totals.suppressed += sent
        .digest
        .iter()
        .filter(|d| d.kind == DigestKind::Suppressed)
        .count();
    print_sent(format, out, name, at, &sent);
    if counts.flapping > 0 {
        note(
            format,
            out,
            name,
            &format!(
                "flapping{at}: the alarm is flapping; this state change goes to the digest only (no ticket, no page)"
            ),
        );
    }
    // What reached the digest queue, for the digest function at the end.
    for entry in &sent.digest {
        if let Ok(body) = entry.body() {
            memory.digest_queue.push(body);
        }
    }
}

/// The event handed to its function's handler, as AWS delivers it.
fn handle(functions: &Functions, target: Target, event: &Value) -> Result<Counts, String> {
    let invocation = |payload: Value| LambdaEvent::new(payload, Context::default());
    match target {
        Target::Config => block_on(functions.config.handle(invocation(event.clone())))
            .map(counts)
            .map_err(|e| e.to_string()),
        Target::Findings => block_on(functions.findings.handle(invocation(event.clone())))
            .map(counts)
            .map_err(|e| e.to_string()),
        Target::Alarm => block_on(functions.alarm.handle(invocation(event.clone())))
            .map(counts)
            .map_err(|e| e.to_string()),
        Target::Logs if CloudTrailForm::of(event) == Some(CloudTrailForm::Kinesis) => {
            // As the event source mapping invokes it: the partial batch response names the
            // records Lambda would retry.
            match block_on(functions.logs.invoke(invocation(event.clone()))) {
                Ok(log_detector::Response::Stream(stream))
                    if stream.batch_item_failures.is_empty() =>
                {
                    Ok(counts(stream.summary))
                }
                Ok(log_detector::Response::Stream(stream)) => Err(format!(
                    "Kinesis records to retry: {}",
                    stream
                        .batch_item_failures
                        .iter()
                        .map(|f| f.item_identifier.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Ok(log_detector::Response::Subscription(summary)) => Ok(counts(summary)),
                Err(e) => Err(e.to_string()),
            }
        }
        Target::Logs => {
            let payload = subscription_event(event)?;
            block_on(functions.logs.handle(invocation(payload)))
                .map(counts)
                .map_err(|e| e.to_string())
        }
    }
}

/// CloudTrail input as the subscription's Lambda event: a Lambda event as it is; a decoded
/// payload gzipped and base64-encoded; records (one, or an S3 log file's) as the log events of
/// one `DATA_MESSAGE`.
fn subscription_event(event: &Value) -> Result<Value, String> {
    let decoded = match CloudTrailForm::of(event) {
        Some(CloudTrailForm::LambdaSubscription | CloudTrailForm::Kinesis) => {
            return Ok(event.clone());
        }
        Some(CloudTrailForm::DecodedSubscription) => event.clone(),
        Some(CloudTrailForm::Record) => records_payload(std::slice::from_ref(event)),
        Some(CloudTrailForm::LogFile) => records_payload(
            event
                .get("Records")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        ),
        None => return Err("not CloudTrail input".into()),
    };
    encode_lambda_event(decoded.to_string().as_bytes()).map_err(|e| e.to_string())
}

fn records_payload(records: &[Value]) -> Value {
    let owner = records
        .iter()
        .find_map(|r| str_at(r, &["recipientAccountId"]))
        .unwrap_or("000000000000");
    let log_events: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ms = str_at(r, &["eventTime"])
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map_or(0, |t| t.timestamp_millis());
            json!({"id": i.to_string(), "timestamp": ms, "message": r.to_string()})
        })
        .collect();
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": "triage-replay",
        "logStream": "triage-replay",
        "subscriptionFilters": ["triage-replay"],
        "logEvents": log_events,
    })
}

/// The latest time the event's findings carry, read by the function's own classifier.
fn event_time(peek: &Peek, target: Target, event: &Value) -> Option<DateTime<Utc>> {
    let findings: Vec<Finding> = match target {
        Target::Config => peek.config.findings(event).ok()?,
        // No clock yet: the event's own time is what the replay clock is set to.
        Target::Findings => {
            peek.findings
                .classify(event, DateTime::<Utc>::MAX_UTC)
                .ok()?
                .findings
        }
        Target::Alarm => peek.alarm.findings(event).ok()?,
        Target::Logs => peek.logs.findings(event).ok()?,
    };
    findings.iter().map(|f| f.last_seen).max()
}

/// Why the function's classifier refuses the event (the function itself only counts it).
fn peek_error(peek: &Peek, target: Target, event: &Value) -> Option<String> {
    match target {
        Target::Config => peek.config.findings(event).err().map(|e| e.to_string()),
        Target::Findings => match peek.findings.classify(event, DateTime::<Utc>::MAX_UTC) {
            Err(e) => Some(e.to_string()),
            Ok(o) => o.invalid.first().map(ToString::to_string),
        },
        Target::Alarm => peek
            .alarm
            .classify_record(event)
            .err()
            .map(|e| e.to_string()),
        Target::Logs => peek.logs.findings(event).err().map(|e| e.to_string()),
    }
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
    counted_only: usize,
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
            if plan.counted_only > 0 {
                let _ = writeln!(
                    out,
                    "  counted {} finding(s) below every threshold",
                    plan.counted_only
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
        // What the ticket queue carries: its consumer's input (jira-consumer), not a classifier's.
        _ if event.get("fingerprint").is_some() && event.get("sequence").is_some() => {
            "a ticket event (the ticket queue's consumer, jira-consumer, reads those)".to_owned()
        }
        _ => "this kind of event".to_owned(),
    }
}

/// The digest the digest function publishes for everything that reached the digest queue.
/// The totals of the metrics the functions wrote, per metric and dimension values.
fn print_metrics(format: Format, out: &mut impl Write, functions: &Functions) {
    let lines = functions
        .metrics
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    let totals = triage_core::metrics::totals_of(&lines);
    match format {
        Format::Text => {
            let _ = writeln!(
                out,
                "\nmetrics (namespace {}; what the functions would write to CloudWatch, summed):",
                functions.namespace
            );
            for (key, n) in &totals {
                let _ = writeln!(out, "  {key} {n}");
            }
        }
        Format::Jsonl => {
            let line = json!({
                "route": "metrics",
                "namespace": functions.namespace,
                "totals": totals,
            });
            let _ = writeln!(out, "{line}");
        }
    }
}

fn print_digest(format: Format, out: &mut impl Write, functions: &Functions) {
    let scheduled = json!({"source": "triage.replay", "execution_id": "replay"});
    if let Err(e) = block_on(
        functions
            .digest
            .handle(LambdaEvent::new(scheduled, Context::default())),
    ) {
        eprintln!("triage: digest: {e}");
        return;
    }
    let messages = functions.memory.digest_topic.published();
    if messages.is_empty() {
        if format == Format::Text {
            let _ = writeln!(
                out,
                "\ndigest: nothing reached the digest queue, no digest would be sent"
            );
        }
        return;
    }
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
