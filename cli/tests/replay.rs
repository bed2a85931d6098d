//! `triage replay` as a user runs it: the binary over the repository's events/.
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
    assert_eq!(routes, ["ticket", "digest", "alert", "ticket", "digest"]);
    assert_eq!(lines[0]["action"], "open");
    assert_eq!(lines[0]["schema_version"], 1);
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
        ["ticket", "digest"],
        "the good file was still replayed"
    );
}
