//! What the stack tests read: `template.yaml` with its CloudFormation tags, the environment
//! variables each function's code reads, and the seed baseline generated from the rule files.
//!
//! The template is parsed with `serde_norway` (the maintained fork of `serde_yaml`), which keeps
//! unknown tags: `!Ref X` is `Value::Tagged { tag: "!Ref", value: "X" }`, so the tests can follow
//! references between resources instead of comparing strings.

pub mod baseline;
pub mod env_reads;

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use sha2::{Digest, Sha256};
use triage_core::TicketEvent;
use triage_core::settings::{Env, env_from_map};
pub use triage_template::*;
use triage_testkit::{DedupTable, Queues};

/// Which samples in events/ belong to which function, by file-name prefix. A new function needs
/// a line here (and samples).
pub const SAMPLES: &[(&str, &[&str])] = &[
    ("config-classifier", &["config-"]),
    ("finding-classifier", &["guardduty-", "securityhub-"]),
    (
        "alarm-classifier",
        &["alarm-", "sns-alarm-", "lambda-alarm-"],
    ),
    ("log-detector", &["cwlogs-", "kinesis-"]),
    ("digest", &["scheduled-digest"]),
    ("jira-consumer", &["sqs-ticket-"]),
];

/// The function a sample in events/ is for ([`SAMPLES`]).
pub fn owner_of(sample: &str) -> Option<&'static str> {
    SAMPLES
        .iter()
        .find(|(_, prefixes)| prefixes.iter().any(|p| sample.starts_with(p)))
        .map(|(f, _)| *f)
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    triage_testkit::repo_root()
}

/// Local stand-ins for the template's queues, alert topic and dedup table, by logical id.
pub fn stand_ins(q: &Queues, table: &DedupTable) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("TicketQueue", q.ticket_queue_url.clone()),
        ("DigestQueue", q.digest_queue_url.clone()),
        ("AlertTopic", q.alert_topic_arn.clone()),
        ("DedupTable", table.name.clone()),
        ("TriageEventBus", q.event_bus_name.clone()),
    ])
}

/// The settings environment `template.yaml` gives the function built from `binary`, with the
/// stand-ins in place of the stack's resources: what the tests, the fault scenarios and the
/// bench build each function from. Test support: panics where the template cannot say.
pub fn function_env(
    binary: &str,
    stand_ins: &BTreeMap<&str, String>,
) -> Env<impl Fn(&str) -> Option<String> + use<>> {
    env_from_map(function_vars(binary, stand_ins))
}

/// The variables behind [`function_env`].
pub fn function_vars(binary: &str, stand_ins: &BTreeMap<&str, String>) -> BTreeMap<String, String> {
    let template = Template::load().unwrap_or_else(|e| panic!("{e}"));
    template
        .function_env(binary, stand_ins)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The ticket event of a message read from the FIFO ticket queue, after checking its FIFO
/// attributes: `MessageGroupId` is the fingerprint, `MessageDeduplicationId` the SHA-256 of the
/// body (recomputed here, not by the code under test). Test support: panics on a mismatch.
pub fn ticket_of(m: &Message) -> TicketEvent {
    let body = m
        .body()
        .unwrap_or_else(|| panic!("a ticket message without a body"));
    let ticket: TicketEvent =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not a ticket event ({e}): {body}"));
    let attrs = m
        .attributes()
        .unwrap_or_else(|| panic!("no system attributes on a ticket message"));
    assert_eq!(
        attrs
            .get(&MessageSystemAttributeName::MessageGroupId)
            .map(String::as_str),
        Some(ticket.fingerprint.as_str()),
        "MessageGroupId is the fingerprint"
    );
    assert_eq!(
        attrs
            .get(&MessageSystemAttributeName::MessageDeduplicationId)
            .cloned(),
        Some(hex::encode(Sha256::digest(body.as_bytes()))),
        "MessageDeduplicationId is the SHA-256 of the body"
    );
    ticket
}
