//! CloudWatch Logs subscription payloads of CloudTrail records, for the throughput and load
//! runs: records cycled from sample files, each with its own `eventID`, one in `every` a
//! record that matches a detection, gzipped and base64'd into the Lambda event.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use triage_core::cloudtrail::{CloudTrailDetector, encode_lambda_event};

/// The records a payload is made of.
pub struct Mix {
    matching: Vec<Value>,
    benign: Vec<Value>,
    every: usize,
}

/// One payload: the Lambda event, the size of its inflated JSON and its records.
pub struct Payload {
    pub event: Value,
    pub inflated: usize,
    pub records: usize,
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Mix {
    /// These samples of `events/`.
    pub fn of_events(matching: &[&str], benign: &[&str], every: usize) -> Result<Mix, String> {
        let events = triage_testkit::repo_root().join("events");
        let read = |names: &[&str]| -> Result<Vec<Value>, String> {
            names.iter().map(|n| read_json(&events.join(n))).collect()
        };
        Ok(Mix {
            matching: read(matching)?,
            benign: read(benign)?,
            every: every.max(1),
        })
    }

    /// Every `cloudtrail-*.json` of `dir`, sorted by the detector into the records that match a
    /// detection and those that do not.
    pub fn of_dir(dir: &Path, detector: &CloudTrailDetector, every: usize) -> Result<Mix, String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("cloudtrail-") && n.ends_with(".json"))
            })
            .collect();
        paths.sort();
        let (mut matching, mut benign) = (Vec::new(), Vec::new());
        for path in paths {
            let record = read_json(&path)?;
            match detector.findings(&record) {
                Ok(f) if !f.is_empty() => matching.push(record),
                Ok(_) => benign.push(record),
                Err(e) => eprintln!("{} left out: {e}", path.display()),
            }
        }
        if matching.is_empty() || benign.is_empty() {
            return Err(format!(
                "{} needs matching and benign cloudtrail-*.json samples (found {} and {})",
                dir.display(),
                matching.len(),
                benign.len()
            ));
        }
        Ok(Mix {
            matching,
            benign,
            every: every.max(1),
        })
    }

    pub fn samples(&self) -> (usize, usize) {
        (self.matching.len(), self.benign.len())
    }

    /// The `i`-th record, as the JSON text of a log event's message.
    fn record(&self, i: usize) -> String {
        let mut record = if i % self.every == 0 {
            self.matching[(i / self.every) % self.matching.len()].clone()
        } else {
            self.benign[i % self.benign.len()].clone()
        };
        record["eventID"] = json!(format!("{:08x}-0000-4000-8000-{i:012}", i % 0xffff_ffff));
        record.to_string()
    }

    /// The payload of records `first`, `first + 1`, … (below `end`) that holds about `bytes` of
    /// inflated JSON.
    pub fn payload(&self, first: usize, end: usize, bytes: usize) -> Result<Payload, String> {
        let mut text = String::with_capacity(bytes + 64 * 1024);
        text.push_str(
            r#"{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"aws-cloudtrail-logs-111122223333","logStream":"111122223333_CloudTrail_us-east-1","subscriptionFilters":["triage-log-detector"],"logEvents":["#,
        );
        let mut i = first;
        while i < end && text.len() < bytes {
            if i > first {
                text.push(',');
            }
            let message = serde_json::to_string(&self.record(i)).map_err(|e| e.to_string())?;
            let _ = write!(
                text,
                r#"{{"id":"{i:056}","timestamp":{},"message":{message}}}"#,
                1_722_431_184_000_u64 + (i as u64) / 100,
            );
            i += 1;
        }
        text.push_str("]}");
        Ok(Payload {
            event: encode_lambda_event(text.as_bytes()).map_err(|e| e.to_string())?,
            inflated: text.len(),
            records: i - first,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use triage_core::cloudtrail::decode_lambda_event;

    use super::*;

    #[test]
    fn one_record_in_every_matches_and_each_has_its_own_event_id() {
        let detector = CloudTrailDetector::shipped().unwrap();
        let mix = Mix::of_events(
            &["cloudtrail-root-api-call.json"],
            &["cloudtrail-assume-role-success.json"],
            4,
        )
        .unwrap();
        let p = mix.payload(0, 8, 1_000_000).unwrap();
        assert_eq!(p.records, 8);
        let decoded = decode_lambda_event(&p.event, detector.limits()).unwrap();
        assert_eq!(decoded.log_events.len(), 8);
        let found = detector.detect_subscription(&decoded);
        assert_eq!(found.matched_records, 2);
        let ids: std::collections::BTreeSet<String> = decoded
            .events()
            .filter_map(|(_, m)| m)
            .map(|m| serde_json::from_str::<Value>(m).unwrap()["eventID"].to_string())
            .collect();
        assert_eq!(ids.len(), 8);
    }

    #[test]
    fn a_payload_stops_near_its_size() {
        let mix = Mix::of_events(
            &["cloudtrail-root-api-call.json"],
            &["cloudtrail-assume-role-success.json"],
            10,
        )
        .unwrap();
        let p = mix.payload(0, usize::MAX, 50_000).unwrap();
        assert!(
            p.inflated >= 50_000 && p.inflated < 60_000,
            "{}",
            p.inflated
        );
    }
}
