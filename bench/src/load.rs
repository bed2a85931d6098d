//! Load: a million CloudTrail records through log-detector, assembled as it ships on the memory
//! backend, in ~1 MB subscription payloads generated one at a time so that memory stays bounded.
//!
//! The records are the `cloudtrail-*.json` of the shared sample set (`../shared/samples`, else
//! `events/`), sorted by the detector into matching and benign ones; one in `every` matches.
//! Only the handler's time counts. The dedup state is the backend's, as in production: a
//! detection seen again within its window is a repeat (counted, a digest entry), so `tickets`
//! counts first sights. Peak RSS (`VmHWM`) is read after 10 % of the records and at the end:
//! memory is *bounded* when the end's peak is within 25 % + 4 MB of the early one. Every
//! record must come back evaluated, or the run fails.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use stack_tests::memory_stand_ins;
use triage_core::fakes::Memory;

use crate::functions::log_detector_on;
use crate::payloads::Mix;
use crate::rss::own_peak_rss_mb;

pub struct Options {
    pub records: usize,
    pub every: usize,
    pub payload_mb: usize,
    /// The directory of the samples.
    pub samples: PathBuf,
}

/// The shared sample set next to the repository, else `events/`.
pub fn default_samples() -> PathBuf {
    let root = triage_testkit::repo_root();
    let shared = root.join("../shared/samples");
    let dir = if shared.is_dir() {
        shared
    } else {
        root.join("events")
    };
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

pub fn run(o: &Options) -> Result<Vec<Value>, String> {
    let memory = Memory::default();
    let h = log_detector_on(&memory, &memory_stand_ins())?;
    let mix = Mix::of_dir(&o.samples, h.detector(), o.every)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let (matching, benign) = mix.samples();
    let payload_bytes = o.payload_mb.max(1) * 1_000_000;
    eprintln!(
        "load: {} records from {} ({matching} matching, {benign} benign samples; 1 in {} matches), ~{} MB payloads",
        o.records,
        o.samples.display(),
        o.every,
        o.payload_mb
    );
    let (mut generate, mut classify) = (Duration::ZERO, Duration::ZERO);
    let (mut payloads, mut records, mut inflated) = (0usize, 0usize, 0usize);
    let (mut matched, mut findings, mut tickets) = (0usize, 0usize, 0usize);
    let mut early_peak = None;
    while records < o.records {
        let g = Instant::now();
        let p = mix.payload(records, o.records, payload_bytes)?;
        generate += g.elapsed();
        let c = Instant::now();
        let summary = rt
            .block_on(h.handle(LambdaEvent::new(p.event, Context::default())))
            .map_err(|e| format!("payload {payloads}: {e}"))?;
        classify += c.elapsed();
        if summary.records != p.records || summary.cloudtrail_records != p.records {
            return Err(format!(
                "payload {payloads}: {} records sent, {} read, {} evaluated: {summary:?}",
                p.records, summary.records, summary.cloudtrail_records
            ));
        }
        tickets += memory.tickets.take().len();
        memory.digest.take();
        memory.alerts.take();
        payloads += 1;
        records += p.records;
        inflated += p.inflated;
        matched += summary.matched_records;
        findings += summary.findings;
        if early_peak.is_none() && records >= o.records / 10 {
            early_peak = Some(own_peak_rss_mb()?);
        }
    }
    let peak = own_peak_rss_mb()?;
    let early = early_peak.unwrap_or(peak);
    let secs = classify.as_secs_f64().max(1e-9);
    Ok(vec![json!({
        "bench": "load",
        "records": records,
        "payloads": payloads,
        "payload_mb": payload_bytes as f64 / 1e6,
        "inflated_mb": inflated as f64 / 1e6,
        "matched_records": matched,
        "findings": findings,
        "tickets": tickets,
        "classify_s": secs,
        "generate_s": generate.as_secs_f64(),
        "records_per_s": records as f64 / secs,
        "mb_per_s": inflated as f64 / 1e6 / secs,
        "peak_rss_mb": peak,
        "early_peak_rss_mb": early,
        "bounded": peak <= early * 1.25 + 4.0,
    })])
}
