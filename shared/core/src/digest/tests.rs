//! Building and rendering digests.

use super::*;
use crate::fakes::{at, finding};
use crate::finding::Finding;
use crate::text::SafeText;

fn entry(
    kind: DigestKind,
    rule: &str,
    severity: Severity,
    resource: &str,
    minute: i64,
) -> DigestEntry {
    let mut f: Finding = finding(rule);
    f.severity = severity;
    f.first_seen = at(minute);
    f.last_seen = at(minute);
    f.resources[0].id = SafeText::new(resource);
    f.resources[0].arn = None;
    f.fingerprint = Fingerprint::new(f.source, rule, "111122223333", "us-east-1", &[resource]);
    DigestEntry::new(kind, &f)
}

fn storm() -> DigestBuilder {
    let mut b = DigestBuilder::new();
    b.add(entry(
        DigestKind::New,
        "restricted-ssh",
        Severity::High,
        "sg-1",
        0,
    ));
    for m in 1..30 {
        b.add(entry(
            DigestKind::Repeat,
            "restricted-ssh",
            Severity::High,
            "sg-1",
            m,
        ));
    }
    b.add(entry(
        DigestKind::New,
        "iam-root-access-key-check",
        Severity::Critical,
        "111122223333",
        3,
    ));
    for (bucket, minute, suppression) in
        [("bucket-a", 4, "logs-sandbox"), ("bucket-b", 5, "logs-dev")]
    {
        let mut e = entry(
            DigestKind::Suppressed,
            "s3-bucket-logging-enabled",
            Severity::Low,
            bucket,
            minute,
        );
        e.suppression = Some(crate::SafeText::new(suppression));
        b.add(e);
    }
    b.add(entry(
        DigestKind::Resolved,
        "restricted-rdp",
        Severity::High,
        "sg-9",
        6,
    ));
    b
}

#[test]
fn an_entry_delivered_twice_is_counted_once() {
    let mut b = DigestBuilder::new();
    let e = entry(DigestKind::New, "restricted-ssh", Severity::High, "sg-1", 0);
    assert!(b.add(e.clone()));
    assert!(!b.add(e));
    let d = b.finish(at(60));
    assert_eq!((d.entries, d.duplicates, d.total.occurrences), (1, 1, 1));
}

#[test]
fn the_digest_totals_by_severity_and_rule_and_counts_suppressed_and_resolved() {
    let d = storm().finish(at(60));
    assert_eq!(d.entries, 34);
    assert_eq!(
        d.kinds,
        KindCounts {
            new: 2,
            repeat: 29,
            resolved: 1,
            suppressed: 2
        }
    );
    assert_eq!(
        d.total,
        Tally {
            problems: 2,
            occurrences: 31
        }
    );
    assert_eq!(
        d.by_severity,
        [
            (
                Severity::Critical,
                Tally {
                    problems: 1,
                    occurrences: 1
                }
            ),
            (
                Severity::High,
                Tally {
                    problems: 1,
                    occurrences: 30
                }
            ),
        ]
    );
    assert_eq!(
        d.rules[0].rule_id, "iam-root-access-key-check",
        "most severe first"
    );
    let ssh = d
        .rules
        .iter()
        .find(|r| r.rule_id == "restricted-ssh")
        .expect("ssh");
    assert_eq!(
        (ssh.new, ssh.repeat, ssh.occurrences, ssh.problems),
        (1, 29, 30, 1)
    );
    assert_eq!(d.resources[0], ("sg-1".to_owned(), 30));
    assert_eq!(
        d.suppressed,
        [SuppressedLine {
            source: Source::Config,
            rule_id: "s3-bucket-logging-enabled".into(),
            occurrences: 2,
            problems: 2,
            suppressions: vec!["logs-dev".into(), "logs-sandbox".into()]
        }]
    );
    assert_eq!(d.resolved.len(), 1);
    assert_eq!(d.resolved[0].resource.as_deref(), Some("sg-9"));
    assert_eq!(d.period, Some((at(0), at(29))));
}

#[test]
fn the_text_names_every_section_and_the_subject_is_short_ascii() {
    let d = storm().finish(at(60));
    let messages = d.render(&RenderOptions::default()).expect("render");
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(
        m.subject,
        "[CRITICAL] triage digest: 2 new, 29 repeats, 2 suppressed, 1 resolved"
    );
    for needle in [
        "31 occurrences of 2 problems: 2 new (ticket opened), 29 repeats merged",
        "SEVERITY",
        "  critical           1            1",
        "[high] config restricted-ssh: restricted-ssh is not compliant",
        "30 occurrences of 1 problem (1 new, 29 repeats) in 1 account",
        "TOP RESOURCES",
        "SUPPRESSED (no ticket, no page",
        "       2  config s3-bucket-logging-enabled (2 problems; by logs-dev, logs-sandbox)",
        "RESOLVED SINCE THE LAST DIGEST",
        "[high] config restricted-rdp  sg-9  111122223333 us-east-1",
    ] {
        assert!(m.text.contains(needle), "missing {needle:?} in\n{}", m.text);
    }
    let sns: serde_json::Value =
        serde_json::from_str(&m.sns_message().expect("sns")).expect("json");
    assert_eq!(sns["email"].as_str(), Some(m.text.as_str()));
    let json: serde_json::Value =
        serde_json::from_str(sns["default"].as_str().expect("default")).expect("json");
    assert_eq!(json["kind"], "digest");
    assert_eq!(json["totals"]["occurrences"], 31);
    assert_eq!(json["totals"]["suppressed"], 2);
    assert_eq!(
        json["suppressed"][0]["suppressions"],
        serde_json::json!(["logs-dev", "logs-sandbox"])
    );
    assert_eq!(json["rules"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        (json["part"].as_u64(), json["parts"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn each_text_section_shows_the_top_n_and_says_how_many_more_there_are() {
    let mut b = DigestBuilder::new();
    for i in 0..30 {
        b.add(entry(
            DigestKind::New,
            &format!("rule-{i:02}"),
            Severity::Medium,
            &format!("sg-{i}"),
            i,
        ));
    }
    let d = b.finish(at(60));
    let m = &d
        .render(&RenderOptions {
            top_n: 5,
            ..RenderOptions::default()
        })
        .expect("render")[0];
    assert!(
        m.text
            .contains("… and 25 more rules (the JSON's \"rules\" lists all of them)"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("… and 25 more (25 occurrences; the JSON's top_resources lists the top 5)"),
        "{}",
        m.text
    );
    assert_eq!(m.text.matches("[medium] config rule-").count(), 5);
    let json: serde_json::Value = serde_json::from_str(&m.json).expect("json");
    assert_eq!(
        json["rules"].as_array().map(Vec::len),
        Some(30),
        "the JSON is complete"
    );
    assert_eq!(json["more_resources"], 25);
}

#[test]
fn past_the_size_limit_the_digest_splits_into_numbered_parts_and_loses_nothing() {
    let mut b = DigestBuilder::new();
    for i in 0..400 {
        b.add(entry(
            DigestKind::New,
            &format!("rule-{i:03}-{}", "x".repeat(100)),
            Severity::Medium,
            &format!("sg-{i}"),
            i,
        ));
        b.add(entry(
            DigestKind::Resolved,
            &format!("gone-{i:03}"),
            Severity::Low,
            &format!("sg-r{i}"),
            i,
        ));
    }
    let d = b.finish(at(600));
    let options = RenderOptions {
        top_n: 10,
        max_message_bytes: 32 * 1024,
        chat: true,
    };
    let parts = d.render(&options).expect("render");
    assert!(parts.len() > 3, "{} parts", parts.len());
    let mut rules = 0;
    let mut resolved = 0;
    for (i, m) in parts.iter().enumerate() {
        assert!(
            m.sns_size().expect("sns") <= options.max_message_bytes,
            "part {} too big",
            i + 1
        );
        assert_eq!((m.part, m.parts), (i + 1, parts.len()));
        assert!(
            m.subject
                .ends_with(&format!("(part {}/{})", i + 1, parts.len())),
            "{}",
            m.subject
        );
        assert!(m.subject.len() <= crate::ticket::MAX_SUBJECT_CHARS);
        let json: serde_json::Value = serde_json::from_str(&m.json).expect("json");
        rules += json["rules"].as_array().map_or(0, Vec::len);
        resolved += json["resolved"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(
        (rules, resolved),
        (800, 400),
        "every line is in exactly one part"
    );
    assert!(
        parts[0]
            .text
            .contains(&format!("part 1 of {}", parts.len()))
    );
    assert!(
        parts[1]
            .text
            .contains(&format!("(part 2 of {})", parts.len()))
    );
    // Parts only past the limit: under SNS's 256 KB the same digest needs far fewer.
    let whole = d.render(&RenderOptions::default()).expect("render");
    assert!(
        whole.len() < parts.len() && whole.len() <= 2,
        "{}",
        whole.len()
    );
    assert!(
        whole.iter().all(
            |m| m.sns_message().map(|s| s.len()).unwrap_or(usize::MAX) <= MAX_SNS_MESSAGE_BYTES
        )
    );
}

#[test]
fn an_empty_digest_is_all_quiet() {
    let d = DigestBuilder::new().finish(at(0));
    assert!(d.is_empty());
    let m = &d.render(&RenderOptions::default()).expect("render")[0];
    assert_eq!(m.subject, "triage digest: all quiet");
    assert!(m.text.contains("All quiet"));
}

#[test]
fn queue_messages_are_single_entries_or_batches_and_anything_else_is_unreadable() {
    let e = entry(DigestKind::New, "restricted-ssh", Severity::High, "sg-1", 0);
    let one = e.body().expect("body");
    assert_eq!(parse_message(&one).expect("one").len(), 1);
    let batch = serde_json::json!({"schema_version": 1, "entries": [e, entry(DigestKind::Repeat, "restricted-ssh", Severity::High, "sg-1", 1)]});
    assert_eq!(parse_message(&batch.to_string()).expect("batch").len(), 2);
    let mut b = DigestBuilder::new();
    assert!(b.add_message("{ not json").is_err());
    assert!(
        b.add_message("{\"schema_version\": 1, \"entries\": [{\"x\": 1}]}")
            .is_err()
    );
    // Version 1 (before GuardDuty and Security Hub) is still read; a future version is not.
    let v1 = one.replace("\"schema_version\":2", "\"schema_version\":1");
    assert_ne!(v1, one);
    assert_eq!(parse_message(&v1).expect("v1").len(), 1);
    let v3 = one.replace("\"schema_version\":2", "\"schema_version\":3");
    assert!(matches!(
        parse_message(&v3),
        Err(DigestParseError::Version(3))
    ));
    assert!(b.add_message(&one).is_ok());
    let d = b.finish(at(0));
    assert_eq!((d.entries, d.unreadable), (1, 2));
    let m = &d.render(&RenderOptions::default()).expect("render")[0];
    assert!(
        m.text
            .contains("2 unreadable queue messages left on the digest queue"),
        "{}",
        m.text
    );
}

#[test]
fn the_subject_and_the_text_count_resolved_problems_as_the_resolved_list_lists_them() {
    let mut b = DigestBuilder::new();
    // A flapping alarm resolves twice in the period; another problem once.
    for (minute, resource) in [(1, "sg-1"), (5, "sg-1"), (7, "sg-2")] {
        b.add(entry(
            DigestKind::Resolved,
            "restricted-ssh",
            Severity::High,
            resource,
            minute,
        ));
    }
    let d = b.finish(at(10));
    assert_eq!(d.resolved.len(), 2);
    assert!(
        d.subject(1, 1).ends_with("2 resolved"),
        "{}",
        d.subject(1, 1)
    );
    let text = d.text(&RenderOptions::default(), 1);
    assert!(text.contains("2 problems resolved."), "{text}");
    let rows = text
        .lines()
        .skip_while(|l| !l.starts_with("RESOLVED SINCE"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .count();
    assert_eq!(rows, 2, "{text}");
}

fn in_account(mut e: DigestEntry, account: &str) -> DigestEntry {
    e.account = SafeText::new(account);
    e.entry_id = format!("{}-{account}", e.entry_id);
    e.fingerprint = Fingerprint::new(e.source, e.rule_id.as_str(), account, "us-east-1", &[]);
    e
}

#[test]
fn the_digest_groups_by_account_most_severe_first_with_the_names_it_knows() {
    let names = crate::accounts::AccountNames::from_pairs([
        ("444455556666", "payments-prod"),
        ("777788889999", "sandbox"),
    ]);
    let mut b = DigestBuilder::new().with_account_names(names);
    let high = entry(DigestKind::New, "restricted-ssh", Severity::High, "sg-1", 0);
    let critical = entry(
        DigestKind::New,
        "iam-root-access-key-check",
        Severity::Critical,
        "root",
        1,
    );
    let low = entry(
        DigestKind::New,
        "s3-bucket-logging-enabled",
        Severity::Low,
        "b",
        2,
    );
    let resolved = entry(
        DigestKind::Resolved,
        "restricted-rdp",
        Severity::High,
        "sg-9",
        3,
    );
    b.add(in_account(high.clone(), "777788889999"));
    b.add(in_account(critical, "444455556666"));
    b.add(in_account(low, "222233334444"));
    b.add(in_account(resolved, "444455556666"));
    let mut repeat = in_account(high, "777788889999");
    repeat.kind = DigestKind::Repeat;
    repeat.entry_id.push_str("-again");
    repeat.count = 4;
    b.add(repeat);
    let d = b.finish(at(10));
    let order: Vec<(&str, Option<&str>, u64)> = d
        .accounts
        .iter()
        .map(|a| (a.account.as_str(), a.name.as_deref(), a.occurrences))
        .collect();
    assert_eq!(
        order,
        [
            ("444455556666", Some("payments-prod"), 1),
            ("777788889999", Some("sandbox"), 5),
            ("222233334444", None, 1),
        ]
    );
    let text = d.text(&RenderOptions::default(), 1);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("BY ACCOUNT"))
        .take(4)
        .collect();
    assert_eq!(
        section,
        [
            "BY ACCOUNT (most severe first)",
            "  [critical] 444455556666 payments-prod: 1 problem, 1 occurrence (1 new); 1 resolved",
            "  [high] 777788889999 sandbox: 1 problem, 5 occurrences (1 new)",
            "  [low] 222233334444: 1 problem, 1 occurrence (1 new)",
        ],
        "{text}"
    );
    assert!(
        text.contains("444455556666 (payments-prod) us-east-1"),
        "a resolved line names its account: {text}"
    );
    // One account: nothing to group.
    let single = storm().finish(at(40)).text(&RenderOptions::default(), 1);
    assert!(!single.contains("BY ACCOUNT"), "{single}");
}

#[test]
fn a_digest_carries_the_attributes_a_team_filter_policy_routes_on() {
    use crate::ticket::AttributeValue;
    let mut b = DigestBuilder::new();
    let mut other = entry(DigestKind::New, "restricted-ssh", Severity::High, "sg-9", 0);
    other.account = SafeText::new("444455556666");
    for e in [
        entry(DigestKind::New, "restricted-ssh", Severity::High, "sg-1", 0),
        entry(
            DigestKind::Repeat,
            "restricted-ssh",
            Severity::High,
            "sg-1",
            1,
        ),
        other,
    ] {
        assert!(b.add_message(&e.body().expect("body")).is_ok());
    }
    let m = &b
        .finish(at(0))
        .render(&RenderOptions::default())
        .expect("render")[0];
    let get = |name: &str| {
        m.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let list = |v: &[&str]| {
        Some(AttributeValue::Strings(
            v.iter().map(|s| s.to_string()).collect(),
        ))
    };
    assert_eq!(get("kind"), Some(AttributeValue::String("digest".into())));
    assert_eq!(get("severity"), list(&["high"]));
    assert_eq!(get("source"), list(&["config"]));
    assert_eq!(get("rule"), list(&["restricted-ssh"]));
    let accounts = get("account");
    assert!(
        matches!(&accounts, Some(AttributeValue::Strings(a)) if a.contains(&"444455556666".to_owned()) && a.len() == 2),
        "{accounts:?}"
    );
    assert_eq!(get("action"), list(&["open", "update"]));
    assert!(m.attributes.len() <= 7, "within SQS raw delivery's ten");
    // An empty digest says only what it is.
    let quiet = DigestBuilder::new().finish(at(0));
    let quiet = &quiet.render(&RenderOptions::default()).expect("render")[0];
    assert_eq!(
        quiet.attributes,
        [("kind", AttributeValue::String("digest".into()))]
    );
}
