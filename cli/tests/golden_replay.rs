//! The golden replay: `triage replay --format jsonl events/` reduced to one row per message —
//! file, route, action, fingerprint, severity, rule — and compared with the committed
//! `golden/replay-events.tsv`. Users' ticket systems key on fingerprints, so a change to any
//! fingerprint, routing decision or severity fails here; a deliberate one is re-blessed with
//! `TRIAGE_BLESS=1 cargo test -p triage-cli --test golden_replay` and explained in its commit.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/replay-events.tsv")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// One message as a row: what a ticket system or a pager keys on.
fn row(line: &Value) -> String {
    let route = text(&line["route"]);
    let file = text(&line["file"]);
    let (action, fingerprint, severity, rule) = match route.as_str() {
        "ticket" => (
            text(&line["action"]),
            text(&line["fingerprint"]),
            text(&line["finding"]["severity"]),
            text(&line["finding"]["rule_id"]),
        ),
        "digest" => (
            text(&line["kind"]),
            text(&line["fingerprint"]),
            text(&line["severity"]),
            text(&line["rule_id"]),
        ),
        "alert" => {
            let body: Value = serde_json::from_str(line["message"]["default"].as_str().unwrap())
                .expect("alert JSON");
            (
                "page".to_owned(),
                text(&body["finding"]["fingerprint"]),
                text(&body["finding"]["severity"]),
                text(&body["finding"]["rule_id"]),
            )
        }
        "digest-message" => (
            format!("part {}/{}", line["part"], line["parts"]),
            "-".to_owned(),
            "-".to_owned(),
            text(&line["subject"]),
        ),
        other => panic!("unknown route {other}: {line}"),
    };
    [file, route, action, fingerprint, severity, rule].join("\t")
}

#[test]
fn replaying_the_sample_events_keeps_every_fingerprint_route_and_severity() {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["replay", "--format", "jsonl", "events"])
        .current_dir(repo())
        .output()
        .expect("run triage");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| row(&serde_json::from_str(l).expect("JSONL")))
        .collect();
    let got = format!(
        "file\troute\taction\tfingerprint\tseverity\trule\n{}\n",
        rows.join("\n")
    );
    if std::env::var_os("TRIAGE_BLESS").is_some() {
        std::fs::write(golden_path(), &got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(golden_path()).expect("golden file");
    assert!(rows.len() > 100, "the replay produced too few messages");
    if got != want {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (w, g))| w != g)
            .take(10)
            .map(|(i, (w, g))| format!("line {}:\n  want {w}\n  got  {g}", i + 1))
            .collect();
        panic!(
            "replay differs from tests/golden/replay-events.tsv ({} lines wanted, {} got):\n{}",
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}
