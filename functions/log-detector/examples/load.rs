//! Load (a benchmark, not a test): a million CloudTrail records through log-detector's
//! classification — the whole `Handler::handle` with in-memory sinks, no network: base64 +
//! gunzip + subscription JSON, the detection pack on every record, findings with evidence, the
//! router's plan — in subscription payloads of about 1 MB, generated on the fly one at a time so
//! that memory stays bounded.
//!
//! ```sh
//! cargo run --release -p log-detector --example load                       # 1 000 000 records
//! cargo run --release -p log-detector --example load -- 200000 --json      # RECORDS, JSON row
//! cargo run --release -p log-detector --example load -- --samples DIR --every 5 --payload-mb 2
//! ```
//!
//! The records are the `cloudtrail-*.json` samples of `../shared/samples` (the shared sample
//! set; `events/` when it is not there, or `--samples DIR`), each with its own `eventID`; the
//! detector itself sorts them into matching and benign ones, and one record in `--every`
//! (default 10) is a matching one. Only the handler's time counts (building and compressing
//! the payloads does not); the throughput is of the inflated JSON. Peak RSS is this process's
//! `VmHWM`, read after the first 10 % of the records and at the end: memory is *bounded* when
//! the end's peak is within 25 % + 4 MB of the early one. Every payload's records must all come
//! back as evaluated CloudTrail records, or the run fails.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use log_detector::handler::Handler;
use serde_json::{Value, json};
use triage_core::cloudtrail::{CloudTrailDetector, encode_lambda_event};
use triage_core::fakes::{MemoryAlertPublisher, MemoryDigestSink, MemoryTicketSink};
use triage_core::policy::{SeverityPolicy, Thresholds};
use triage_core::router::Router;

type MemoryHandler = Handler<MemoryTicketSink, MemoryDigestSink, MemoryAlertPublisher>;

fn fail(message: &str) -> ! {
    eprintln!("load: {message}");
    std::process::exit(1)
}

struct Options {
    records: usize,
    every: usize,
    payload_bytes: usize,
    samples: PathBuf,
    as_json: bool,
}

impl Options {
    fn parse() -> Options {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let shared = root.join("../shared/samples");
        let mut o = Options {
            records: 1_000_000,
            every: 10,
            payload_bytes: 1_000_000,
            samples: if shared.is_dir() {
                shared
            } else {
                root.join("events")
            },
            as_json: false,
        };
        o.samples = std::fs::canonicalize(&o.samples).unwrap_or(o.samples);
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .unwrap_or_else(|| fail(&format!("{name} needs a value")))
            };
            let number = |name: &str, v: String| -> usize {
                v.parse()
                    .unwrap_or_else(|_| fail(&format!("{name}: not a number: {v}")))
            };
            match a.as_str() {
                "--json" => o.as_json = true,
                "--samples" => o.samples = PathBuf::from(value("--samples")),
                "--every" => o.every = number("--every", value("--every")).max(1),
                "--payload-mb" => {
                    o.payload_bytes =
                        number("--payload-mb", value("--payload-mb")).max(1) * 1_000_000
                }
                n => o.records = number("RECORDS", n.to_owned()),
            }
        }
        o
    }
}

/// The sample records, sorted by the detector into those that match a detection and those
/// that do not.
fn samples(dir: &Path, detector: &CloudTrailDetector) -> (Vec<Value>, Vec<Value>) {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", dir.display())))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cloudtrail-") && n.ends_with(".json"))
        })
        .collect();
    names.sort();
    let (mut matching, mut benign) = (Vec::new(), Vec::new());
    for path in names {
        let record: Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| fail(&format!("{} is not JSON", path.display())));
        match detector.findings(&record) {
            Ok(f) if !f.is_empty() => matching.push(record),
            Ok(_) => benign.push(record),
            Err(e) => eprintln!("load: {} left out: {e}", path.display()),
        }
    }
    if matching.is_empty() || benign.is_empty() {
        fail(&format!(
            "{} needs matching and benign cloudtrail-*.json samples (found {} and {})",
            dir.display(),
            matching.len(),
            benign.len()
        ));
    }
    (matching, benign)
}

/// Builds the subscription payloads one at a time.
struct Generator {
    matching: Vec<Value>,
    benign: Vec<Value>,
    every: usize,
    payload_bytes: usize,
    next: usize,
    total: usize,
}

/// One payload: the Lambda event, its inflated size and its records.
struct Payload {
    event: Value,
    inflated: usize,
    records: usize,
}

impl Generator {
    fn record(&self, i: usize) -> String {
        let mut record = if i % self.every == 0 {
            self.matching[(i / self.every) % self.matching.len()].clone()
        } else {
            self.benign[i % self.benign.len()].clone()
        };
        record["eventID"] = json!(format!("{:08x}-0000-4000-8000-{i:012}", i % 0xffff_ffff));
        record.to_string()
    }

    fn next_payload(&mut self) -> Option<Payload> {
        if self.next >= self.total {
            return None;
        }
        let mut text = String::with_capacity(self.payload_bytes + 64 * 1024);
        text.push_str(
            r#"{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"aws-cloudtrail-logs-111122223333","logStream":"111122223333_CloudTrail_us-east-1","subscriptionFilters":["triage-log-detector"],"logEvents":["#,
        );
        let first = self.next;
        while self.next < self.total && text.len() < self.payload_bytes {
            let i = self.next;
            if i > first {
                text.push(',');
            }
            let message = serde_json::to_string(&self.record(i)).unwrap_or_default();
            let _ = write!(
                text,
                r#"{{"id":"{i:056}","timestamp":{},"message":{message}}}"#,
                1_722_431_184_000_u64 + (i as u64) / 100,
            );
            self.next += 1;
        }
        text.push_str("]}");
        let event = encode_lambda_event(text.as_bytes()).unwrap_or_else(|e| fail(&e.to_string()));
        Some(Payload {
            event,
            inflated: text.len(),
            records: self.next - first,
        })
    }
}

fn handler(detector: CloudTrailDetector) -> MemoryHandler {
    let policy = SeverityPolicy::shipped().unwrap_or_else(|e| fail(&e.to_string()));
    Handler::new(
        detector,
        Router::new(
            policy,
            Thresholds::default(),
            MemoryTicketSink::default(),
            MemoryDigestSink::default(),
            MemoryAlertPublisher::default(),
        ),
    )
}

/// `VmHWM` (peak resident set) of this process, in bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

fn main() {
    let o = Options::parse();
    let detector = CloudTrailDetector::shipped().unwrap_or_else(|e| fail(&e.to_string()));
    let (matching, benign) = samples(&o.samples, &detector);
    let h = handler(detector);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mut generator = Generator {
        matching,
        benign,
        every: o.every,
        payload_bytes: o.payload_bytes,
        next: 0,
        total: o.records,
    };
    if !o.as_json {
        println!(
            "log-detector load: {} records from {} ({} matching, {} benign samples; 1 in {} matches), ~{} MB payloads",
            o.records,
            o.samples.display(),
            generator.matching.len(),
            generator.benign.len(),
            o.every,
            o.payload_bytes / 1_000_000
        );
    }
    let (mut generate, mut classify) = (Duration::ZERO, Duration::ZERO);
    let (mut payloads, mut records, mut inflated) = (0usize, 0usize, 0usize);
    let (mut matched, mut findings, mut tickets) = (0usize, 0usize, 0usize);
    let mut early_peak = None;
    loop {
        let g = Instant::now();
        let Some(p) = generator.next_payload() else {
            break;
        };
        generate += g.elapsed();
        let c = Instant::now();
        let summary = rt
            .block_on(h.handle(LambdaEvent::new(p.event, Context::default())))
            .unwrap_or_else(|e| fail(&format!("payload {payloads}: {e}")));
        classify += c.elapsed();
        if summary.records != p.records || summary.cloudtrail_records != p.records {
            fail(&format!(
                "payload {payloads}: {} records sent, {} read, {} evaluated: {summary:?}",
                p.records, summary.records, summary.cloudtrail_records
            ));
        }
        tickets += h.router().tickets().take().len();
        h.router().digest().take();
        h.router().alerts().take();
        payloads += 1;
        records += p.records;
        inflated += p.inflated;
        matched += summary.matched_records;
        findings += summary.findings;
        if early_peak.is_none() && records >= o.records / 10 {
            early_peak = Some(peak_rss());
        }
    }
    let peak = peak_rss();
    let early = early_peak.unwrap_or(peak);
    let bounded = peak as f64 <= early as f64 * 1.25 + 4e6;
    let secs = classify.as_secs_f64().max(1e-9);
    let mb = |b: u64| b as f64 / 1e6;
    if o.as_json {
        println!(
            "{}",
            json!({
                "bench": "load",
                "records": records,
                "payloads": payloads,
                "payload_mb": o.payload_bytes as f64 / 1e6,
                "inflated_mb": inflated as f64 / 1e6,
                "matched_records": matched,
                "findings": findings,
                "tickets": tickets,
                "classify_s": secs,
                "generate_s": generate.as_secs_f64(),
                "records_per_s": records as f64 / secs,
                "mb_per_s": inflated as f64 / 1e6 / secs,
                "peak_rss_mb": mb(peak),
                "early_peak_rss_mb": mb(early),
                "bounded": bounded,
            })
        );
    } else {
        println!(
            "{records} records in {payloads} payloads ({:.0} MB inflated): {matched} matched, {findings} findings, {tickets} ticket events",
            inflated as f64 / 1e6
        );
        println!(
            "classification {:.2} s: {:.0} records/s, {:.1} MB/s (generating the payloads took {:.2} s, not counted)",
            secs,
            records as f64 / secs,
            inflated as f64 / 1e6 / secs,
            generate.as_secs_f64()
        );
        println!(
            "peak RSS {:.1} MB (after 10 % of the records: {:.1} MB): {}",
            mb(peak),
            mb(early),
            if bounded { "bounded" } else { "GROWING" }
        );
    }
}
