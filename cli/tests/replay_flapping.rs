//! `triage replay` of a flapping alarm: one flapping ticket, and the changes after it as digest
//! lines only — what alarm-classifier does with the same events.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;
use std::process::Command;

fn triage(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("run triage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_flapping_alarm_replays_as_one_flapping_ticket_and_digest_lines_after_it() {
    let (code, stdout, stderr) = triage(&[
        "replay",
        "--format",
        "jsonl",
        "events/alarm-flapping-sqs-batch.json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect();
    let tickets: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["route"] == "ticket")
        .map(|l| {
            (
                l["action"].as_str().unwrap_or_default(),
                l["finding"]["rule_id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        tickets,
        [
            ("open", "OrdersQueueBacklog"),
            ("resolve", "OrdersQueueBacklog"),
            ("open", "OrdersQueueBacklog"),
            ("resolve", "OrdersQueueBacklog"),
            ("open", "alarm-flapping"),
        ],
        "the fifth change reports the flapping, the sixth tickets nothing"
    );
    let flapping = lines
        .iter()
        .find(|l| l["route"] == "ticket" && l["finding"]["rule_id"] == "alarm-flapping")
        .expect("flapping ticket");
    assert_eq!(
        flapping["finding"]["title"],
        "CloudWatch alarm OrdersQueueBacklog is flapping: 5 state changes in 60 min"
    );
    assert_eq!(flapping["finding"]["severity"], "medium");
    let repeats = lines
        .iter()
        .filter(|l| {
            l["route"] == "digest" && l["kind"] == "repeat" && l["rule_id"] == "OrdersQueueBacklog"
        })
        .count();
    assert_eq!(repeats, 2, "the fifth and sixth changes as digest lines");
    assert!(lines.iter().all(|l| l["route"] != "alert"));
    assert_eq!(
        stderr.matches("the alarm is flapping").count(),
        2,
        "{stderr}"
    );
}
