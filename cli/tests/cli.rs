//! The `triage` command as a user runs it: the binary over the repository's events/, and the
//! README's local commands as written.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn triage(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run triage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn jsonl(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn replaying_every_sample_succeeds_and_prints_a_summary() {
    let (code, stdout, stderr) = triage(&["replay", "events"]);
    assert_eq!(code, 0, "{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains("0 unreadable file(s)"), "{last}");
    assert!(
        stdout.contains("ticket open    [critical] Root user has an access key"),
        "{stdout}"
    );
}

#[test]
fn jsonl_prints_each_message_as_it_would_be_sent_with_its_route() {
    let (code, stdout, stderr) = triage(&[
        "replay",
        "--format",
        "jsonl",
        "events/config-noncompliant-s3-public-read.json",
        "events/config-compliant-s3-public-read.json",
        "events/config-not-applicable-iam-root-access-key.json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines = jsonl(&stdout);
    let routes: Vec<&str> = lines.iter().filter_map(|l| l["route"].as_str()).collect();
    assert_eq!(
        routes,
        [
            "ticket",
            "digest",
            "alert",
            "ticket",
            "digest",
            "digest-message"
        ]
    );
    assert_eq!(lines[0]["action"], "open");
    assert_eq!(lines[0]["schema_version"], 3);
    assert!(
        lines[0]["sequence"].as_u64() < lines[3]["sequence"].as_u64(),
        "the resolve follows the open"
    );
    assert_eq!(lines[0]["sqs"]["message_group_id"], lines[0]["fingerprint"]);
    assert_eq!(lines[3]["action"], "resolve");
    assert_eq!(lines[3]["fingerprint"], lines[0]["fingerprint"]);
    assert_eq!(lines[2]["message_structure"], "json");
    assert!(
        lines[2]["message"]["email"]
            .as_str()
            .is_some_and(|t| t.contains("Remediation:"))
    );
    assert!(
        stderr.contains("config-not-applicable-iam-root-access-key.json: skipped"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_file_is_named_and_does_not_stop_the_others() {
    let dir = std::env::temp_dir().join(format!("triage-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let garbage = dir.join("garbage.json");
    let bad_gzip = dir.join("truncated.json.gz");
    std::fs::write(&garbage, "{ not json").expect("write");
    std::fs::write(&bad_gzip, [0x1f, 0x8b, 0x08, 0x00]).expect("write");
    let (code, stdout, stderr) = triage(&[
        "replay",
        "--format",
        "jsonl",
        garbage.to_str().unwrap_or_default(),
        bad_gzip.to_str().unwrap_or_default(),
        "events/config-noncompliant-restricted-ssh.json",
        "events/does-not-exist.json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1, "unreadable inputs make the exit code non-zero");
    assert!(stderr.contains("garbage.json: not JSON"), "{stderr}");
    assert!(stderr.contains("truncated.json.gz: not gzip"), "{stderr}");
    assert!(
        stderr.contains("does-not-exist.json: no such file"),
        "{stderr}"
    );
    let routes: Vec<String> = jsonl(&stdout)
        .iter()
        .filter_map(|l| l["route"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        routes,
        ["ticket", "digest", "digest-message"],
        "the good file was still replayed"
    );
}

/// `count` copies of a Config sample, each its own occurrence (own event id, one minute apart),
/// or exact duplicates (the same event delivered `count` times).
fn storm_dir(tag: &str, count: usize, distinct: bool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("triage-storm-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let text =
        std::fs::read_to_string(repo().join("events/config-noncompliant-restricted-ssh.json"))
            .expect("sample");
    let sample: serde_json::Value = serde_json::from_str(&text).expect("json");
    for i in 0..count {
        let mut e = sample.clone();
        if distinct {
            e["id"] = format!("c0d1e2f3-0415-2637-4859-{i:012x}").into();
            let at = format!(
                "2024-03-03T{:02}:{:02}:28.354Z",
                15 + (54 + i) / 60,
                (54 + i) % 60
            );
            e["detail"]["newEvaluationResult"]["resultRecordedTime"] = at.into();
        }
        std::fs::write(dir.join(format!("copy-{i:02}.json")), e.to_string()).expect("write");
    }
    dir
}

#[test]
fn a_storm_of_thirty_occurrences_replays_as_one_ticket_and_a_digest_with_the_counts() {
    let dir = storm_dir("jsonl", 30, true);
    let (code, stdout, stderr) = triage(&["replay", "--format", "jsonl", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let lines = jsonl(&stdout);
    let count = |route: &str| lines.iter().filter(|l| l["route"] == route).count();
    assert_eq!(
        (count("ticket"), count("alert"), count("digest")),
        (1, 0, 30)
    );
    let kinds: Vec<&str> = lines
        .iter()
        .filter(|l| l["route"] == "digest")
        .filter_map(|l| l["kind"].as_str())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "repeat").count(), 29);
    let digest: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["route"] == "digest-message")
        .collect();
    assert_eq!(digest.len(), 1, "one digest message");
    assert_eq!(digest[0]["message_structure"], "json");
    assert_eq!(
        digest[0]["subject"],
        "[HIGH] triage digest: 1 new, 29 repeats, 0 suppressed, 0 resolved"
    );
    let machine: serde_json::Value =
        serde_json::from_str(digest[0]["message"]["default"].as_str().expect("default"))
            .expect("json");
    assert_eq!(machine["totals"]["occurrences"], 30);
    assert_eq!(machine["rules"][0]["rule_id"], "restricted-ssh");
    assert_eq!(
        (
            machine["rules"][0]["new"].as_u64(),
            machine["rules"][0]["repeat"].as_u64()
        ),
        (Some(1), Some(29))
    );
    assert!(
        digest[0]["message"]["email"]
            .as_str()
            .is_some_and(|t| t.contains("30 occurrences of 1 problem"))
    );

    let (code, text, stderr) = triage(&["replay", dir.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(text.matches("  ticket open ").count(), 1, "{text}");
    assert!(
        text.contains("digest message 1/1  subject: [HIGH] triage digest: 1 new, 29 repeats"),
        "{text}"
    );
    assert!(
        text.contains("  |       30 occurrences of 1 problem (1 new, 29 repeats) in 1 account"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap_or_default()
            .contains("1 ticket event(s), 30 digest entries (29 repeats, 0 suppressed)"),
        "{text}"
    );
}

#[test]
fn the_same_event_replayed_thirty_times_is_one_occurrence() {
    let dir = storm_dir("duplicates", 30, false);
    let (code, stdout, stderr) = triage(&["replay", "--format", "jsonl", dir.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{stderr}");
    let lines = jsonl(&stdout);
    let routes: Vec<&str> = lines.iter().filter_map(|l| l["route"].as_str()).collect();
    assert_eq!(
        routes,
        ["ticket", "digest", "digest-message"],
        "a duplicate delivery sends nothing"
    );
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

#[test]
fn replay_orders_events_by_their_own_time_whatever_the_file_order() {
    // Named the other way round: the fix (16:31) before the problem (15:45).
    let (code, stdout, stderr) = triage(&[
        "replay",
        "--format",
        "jsonl",
        "events/config-compliant-restricted-ssh.json",
        "events/config-noncompliant-restricted-ssh.json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("in the order they happened"), "{stderr}");
    let lines = jsonl(&stdout);
    let actions: Vec<&str> = lines
        .iter()
        .filter(|l| l["route"] == "ticket")
        .filter_map(|l| l["action"].as_str())
        .collect();
    assert_eq!(actions, ["open", "resolve"], "the problem, then its fix");
    let digest = lines
        .iter()
        .find(|l| l["route"] == "digest-message")
        .expect("a digest");
    let text = digest["message"]["email"].as_str().unwrap_or_default();
    assert!(text.contains("RESOLVED SINCE THE LAST DIGEST"), "{text}");
}

#[test]
fn replay_reports_a_stale_event_it_drops() {
    // Config reports the bucket compliant twice (two evaluations, a minute apart): the second
    // resolve of a resolved problem changes nothing and is reported as stale.
    let dir = std::env::temp_dir().join(format!("triage-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut again: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("events/config-compliant-s3-public-read.json"))
            .expect("sample"),
    )
    .expect("json");
    again["id"] = serde_json::json!("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9");
    again["time"] = serde_json::json!("2024-09-27T16:32:09Z");
    again["detail"]["newEvaluationResult"]["resultRecordedTime"] =
        serde_json::json!("2024-09-27T16:32:08.117Z");
    again["detail"]["newEvaluationResult"]["configRuleInvokedTime"] =
        serde_json::json!("2024-09-27T16:32:07.000Z");
    again["detail"]["notificationCreationTime"] = serde_json::json!("2024-09-27T16:32:09.004Z");
    let copy = dir.join("compliant-again.json");
    std::fs::write(&copy, again.to_string()).expect("write");
    let (code, stdout, stderr) = triage(&[
        "replay",
        "events/config-noncompliant-s3-public-read.json",
        "events/config-compliant-s3-public-read.json",
        copy.to_str().expect("path"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.matches("ticket resolve").count(), 1, "{stdout}");
    assert!(
        stdout.contains("  stale: older than what config-classifier already knows"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains(" 1 stale"), "{last}");
}

#[test]
fn an_empty_directory_says_so() {
    let dir = std::env::temp_dir().join(format!("triage-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (code, stdout, stderr) = triage(&["replay", dir.to_str().expect("path")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("no event files"), "{stderr}");
}

#[test]
fn rejections_name_the_problem_once_in_plain_words() {
    let (code, stdout, stderr) =
        triage(&["replay", "events/sns-alarm-batch-with-bad-records.json"]);
    assert_eq!(code, 0, "{stderr}");
    let rejected: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  rejected"))
        .collect();
    assert_eq!(rejected.len(), 2, "{stdout}");
    for line in rejected {
        assert!(!line.contains("SafeText("), "Rust debug text: {line}");
        // `rejected [where]: why`, or `rejected: where: why` when the error names it itself.
        let location = match line.split_once("rejected [") {
            Some((_, rest)) => rest.split(']').next(),
            None => line
                .split_once("rejected: ")
                .and_then(|(_, rest)| rest.split(": ").next()),
        }
        .expect("a location");
        assert!(location.contains("Records["), "a location: {line}");
        assert_eq!(line.matches(location).count(), 1, "location twice: {line}");
    }
}

/// Every `triage` command of the README's shell blocks (the top block and "Local use, no AWS
/// account"), as pasted.
#[test]
fn the_readmes_triage_commands_work_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut ran = 0;
    for block in readme.split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        for line in block.lines() {
            let command = line.split("  #").next().unwrap_or_default().trim();
            let Some(args) = command.strip_prefix("cargo run -q -p triage-cli -- ") else {
                continue;
            };
            let args = shell_words(args);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, stdout, stderr) = triage(&refs);
            assert_eq!(code, 0, "{command}: {stderr}");
            assert!(!stdout.trim().is_empty(), "{command}: no output");
            if refs.first() == Some(&"pattern") {
                let summary = stdout.lines().last().unwrap_or_default();
                assert!(
                    !summary.starts_with("0 of"),
                    "{command}: matched nothing: {summary}"
                );
            }
            ran += 1;
        }
    }
    assert!(ran >= 5, "the README's triage commands: {ran}");
}

/// Splits a command line as a POSIX shell would, for the quoting the README uses ('…').
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn pattern_test_reads_a_json_document_as_its_records_and_json_lines_as_messages() {
    let root = r#"{ $.userIdentity.type = "Root" }"#;
    let (code, stdout, stderr) = triage(&[
        "pattern",
        "test",
        root,
        "events/cloudtrail-root-api-call.json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.trim_end().ends_with("1 of 1 message matched"),
        "{stdout}"
    );
    let (code, stdout, stderr) =
        triage(&["pattern", "test", root, "events/cloudtrail-records.jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.trim_end().ends_with("1 of 4 messages matched"),
        "{stdout}"
    );
}

#[test]
fn a_guardduty_finding_replayed_through_its_three_paths_is_one_ticket() {
    let (code, stdout, stderr) = triage(&[
        "replay",
        "--format",
        "jsonl",
        "events/guardduty-credential-exfiltration.json",
        "events/securityhub-guardduty-credential-exfiltration.json",
        "events/securityhub-v2-guardduty-credential-exfiltration.json",
        "events/guardduty-credential-exfiltration-archived.json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines = jsonl(&stdout);
    let tickets: Vec<&str> = lines
        .iter()
        .filter(|l| l["route"] == "ticket")
        .filter_map(|l| l["action"].as_str())
        .collect();
    assert_eq!(tickets, ["open", "resolve"]);
    assert_eq!(lines[0]["finding"]["source"], "guardduty");
    assert_eq!(stderr.matches(": stale").count(), 2, "{stderr}");
}

#[test]
fn replay_prints_the_metric_totals_the_functions_would_write() {
    let dir = storm_dir("metrics", 30, true);
    let (code, stdout, stderr) = triage(&[
        "replay",
        "--metrics",
        "--format",
        "jsonl",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines = jsonl(&stdout);
    let metrics: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["route"] == "metrics").collect();
    assert_eq!(metrics.len(), 1, "one metrics line, at the end");
    assert_eq!(metrics[0]["namespace"], "Triage");
    let totals = &metrics[0]["totals"];
    let total = |key: &str| totals[key].as_u64();
    assert_eq!(total("Records{Function=config-classifier}"), Some(30));
    assert_eq!(total("TicketsOpened{Function=config-classifier}"), Some(1));
    assert_eq!(total("Repeats{Function=config-classifier}"), Some(29));
    assert_eq!(total("DigestEntries{Function=config-classifier}"), Some(30));
    assert_eq!(
        total("Findings{Source=config,Severity=high,Rule=restricted-ssh}"),
        Some(30)
    );
    assert_eq!(total("DigestsPublished{Function=digest}"), Some(1));

    let (code, text, stderr) = triage(&["replay", "--metrics", dir.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("metrics (namespace Triage;")
            && text.contains("  TicketsOpened{Function=config-classifier} 1"),
        "{text}"
    );
    // Without the flag, no metrics.
    let (_, plain, _) = triage(&["replay", "events/config-noncompliant-restricted-ssh.json"]);
    assert!(!plain.contains("metrics (namespace"), "{plain}");
}
