//! jira-consumer as it ships (`cold_start`: the settings `template.yaml` gives it, the
//! credentials read from Secrets Manager and the links table in DynamoDB, both on moto) against a
//! local stand-in of the Jira Cloud REST API (wiremock on 127.0.0.1), fed the ticket events
//! config-classifier really emits for one problem: it opens, comes back after its window, and
//! goes away.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use jira_consumer::{Handler, Settings, cold_start};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use stack_tests::{function_env, memory_stand_ins};
use triage_consumer::Deadline;
use triage_consumer::links::DynamoDbLinks;
use triage_core::TicketEvent;
use triage_core::clock::ManualClock;
use triage_core::fakes::Memory;
use triage_core::metrics::{Emitter, MetricsSettings};
use triage_testkit::jira::{EMAIL, LIFECYCLE_CALLS, TOKEN, calls, healthy, requests, secret};
use triage_testkit::{DedupTable, MotoServer, event as sample};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

struct Stage {
    _moto: MotoServer,
    jira: MockServer,
    table: DedupTable,
    handler: Handler<DynamoDbLinks>,
    /// The metrics lines the handler wrote.
    metrics: Arc<Mutex<Vec<Value>>>,
}

fn settings(jira: &str, table: &str, secret_arn: &str) -> Settings {
    let stand_ins = BTreeMap::from([
        ("TicketLinksTable", table.to_owned()),
        ("JiraBaseUrl", jira.to_owned()),
        ("JiraProjectKey", "SEC".to_owned()),
        ("JiraCredentialsSecretArn", secret_arn.to_owned()),
    ]);
    Settings::from(&function_env("jira-consumer", &stand_ins)).expect("settings from the template")
}

async fn stage() -> Stage {
    let moto = MotoServer::start();
    let table = DedupTable::create(&moto, "triage-ticket-links").await;
    let arn = secret(&moto, "triage/jira", None).await;
    let jira = MockServer::start().await;
    let handler = cold_start(
        settings(&jira.uri(), &table.name, &arn),
        &moto.sdk_config().await,
    )
    .await
    .expect("cold start");
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let handler = handler.with_metrics(
        Emitter::new("jira-consumer", MetricsSettings::default()).collecting(metrics.clone()),
    );
    Stage {
        _moto: moto,
        jira,
        table,
        handler,
        metrics,
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .with_timezone(&Utc)
}

/// A Config sample moved `by` later (the event's and the evaluation's times).
fn later(name: &str, by: TimeDelta) -> Value {
    let mut e = sample(name);
    let shift = |v: &mut Value| {
        if let Some(t) = v.as_str().map(|t| at(t) + by) {
            *v = json!(t.to_rfc3339());
        }
    };
    shift(&mut e["time"]);
    shift(&mut e["detail"]["newEvaluationResult"]["resultRecordedTime"]);
    shift(&mut e["detail"]["newEvaluationResult"]["configRuleInvokedTime"]);
    shift(
        &mut e["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["orderingTimestamp"],
    );
    shift(&mut e["detail"]["notificationCreationTime"]);
    e
}

/// What config-classifier, built as it ships on memory, sends for the restricted-ssh problem:
/// open, update (non-compliant again two hours later, past its window), resolve.
async fn lifecycle() -> Vec<TicketEvent> {
    let clock = ManualClock::new(at("2024-03-03T15:54:30Z"));
    let memory = Memory::default().with_clock(clock.clone());
    let settings =
        config_classifier::Settings::from(&function_env("config-classifier", &memory_stand_ins()))
            .expect("config-classifier settings");
    let classifier = config_classifier::assemble(settings, &memory);
    let hours = |h| TimeDelta::hours(h);
    for (event, now) in [
        (sample("config-noncompliant-restricted-ssh.json"), hours(0)),
        (
            later("config-noncompliant-restricted-ssh.json", hours(2)),
            hours(2),
        ),
        (
            later("config-compliant-restricted-ssh.json", hours(3)),
            hours(3),
        ),
    ] {
        clock.set(at("2024-03-03T15:54:30Z") + now);
        classifier
            .handle(LambdaEvent::new(event, Context::default()))
            .await
            .expect("classified");
    }
    let tickets = memory.tickets.take();
    let actions: Vec<&str> = tickets.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(
        actions,
        ["open", "update", "resolve"],
        "the classifier's lifecycle"
    );
    tickets
}

/// The SQS event Lambda's event source mapping hands the function.
fn batch(messages: &[(&str, &TicketEvent)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, t)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": t.body().expect("body"),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "MessageGroupId": t.message_group_id(),
                    "MessageDeduplicationId": t.deduplication_id(&t.body().expect("body")),
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:triage-tickets.fifo",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

async fn run(s: &Stage, messages: &[(&str, &TicketEvent)], deadline: Duration) -> Vec<String> {
    s.handler
        .batch(batch(messages), Deadline::after(deadline))
        .await
        .expect("an SQS batch")
        .failed_ids()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

const MINUTE: Duration = Duration::from_secs(60);

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).expect("a JSON request body")
}

#[tokio::test]
async fn one_problem_is_one_issue_created_commented_and_closed_and_replays_change_nothing() {
    let s = stage().await;
    healthy(&s.jira).await;
    let t = lifecycle().await;
    let failed = run(&s, &[("m1", &t[0]), ("m2", &t[1]), ("m3", &t[2])], MINUTE).await;
    assert!(failed.is_empty(), "{failed:?}");

    let seen = requests(&s.jira).await;
    assert_eq!(calls(&seen), LIFECYCLE_CALLS);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"))
    );
    assert!(seen.iter().all(
        |r| r.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(basic.as_str())
    ));

    let fp = t[0].fingerprint.as_str();
    let search = body(&seen[0]);
    assert_eq!(
        search["jql"],
        format!(
            "project = \"SEC\" AND labels = \"triage-{fp}\" AND statusCategory != Done ORDER BY created DESC"
        )
    );
    let create = body(&seen[1]);
    let fields = &create["fields"];
    assert_eq!(fields["project"]["key"], "SEC");
    assert_eq!(fields["issuetype"]["name"], "Task");
    assert_eq!(fields["labels"], json!(["triage", format!("triage-{fp}")]));
    let severity = t[0].finding.severity.as_str();
    let expected_priority =
        jira_consumer::settings::Priorities::parse(jira_consumer::settings::JIRA_TOML)
            .expect("priorities")
            .of(t[0].finding.severity)
            .map(str::to_owned);
    assert_eq!(
        fields["priority"]["name"].as_str().map(str::to_owned),
        expected_priority,
        "{severity}"
    );
    assert!(
        fields["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("[{}] ", severity.to_uppercase())))
    );
    assert_eq!(fields["description"]["type"], "doc");
    let description = fields["description"].to_string();
    assert!(description.contains(fp) && description.contains(t[0].finding.account.as_str()));
    assert_eq!(create["properties"][0]["value"]["sequence"], t[0].sequence);
    assert!(body(&seen[2])["body"].to_string().contains("Seen again"));
    assert_eq!(body(&seen[5]), json!({"transition": {"id": "31"}}));
    assert!(body(&seen[6])["body"].to_string().contains("Resolved at"));

    // The link is in the table: the issue, the last sequence applied, closed.
    let items = s.table.items().await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        item.get("ticket")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("SEC-1")
    );
    assert_eq!(
        item.get("sequence").and_then(|v| v.as_n().ok()),
        Some(&t[2].sequence.to_string())
    );
    assert_eq!(
        item.get("closed").and_then(|v| v.as_bool().ok()),
        Some(&true)
    );

    // A redrive from the DLQ, or SQS's own second copy, of any of them: not one call to Jira.
    let failed = run(
        &s,
        &[("m4", &t[0]), ("m5", &t[1]), ("m6", &t[2]), ("m7", &t[1])],
        MINUTE,
    )
    .await;
    assert!(failed.is_empty());
    assert_eq!(requests(&s.jira).await.len(), 7, "a replay reached Jira");

    // Its metrics: one line per batch, the issue created, commented and closed once.
    let lines = s.metrics.lock().expect("lines").clone();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(triage_core::metrics::check_document(line), Ok(()), "{line}");
    }
    let totals = triage_core::metrics::totals_of(&lines);
    let total = |m: &str| {
        totals
            .get(&format!("{m}{{Function=jira-consumer}}"))
            .copied()
    };
    assert_eq!(
        [
            total("Records"),
            total("IssuesCreated"),
            total("IssuesCommented"),
            total("IssuesClosed"),
            total("Failed")
        ],
        [Some(7), Some(1), Some(1), Some(1), Some(0)]
    );
}

#[tokio::test]
async fn an_open_whose_link_was_lost_finds_its_issue_instead_of_creating_a_second() {
    let s = stage().await;
    let t = lifecycle().await;
    // The create went through but the invocation died before writing the link: Jira has the
    // issue, the table has nothing.
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(body_string_contains(format!("triage-{}", t[0].fingerprint)))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"issues": [{"id": "10001", "key": "SEC-1"}]})),
        )
        .mount(&s.jira)
        .await;
    healthy(&s.jira).await;
    let failed = run(&s, &[("m1", &t[0]), ("m2", &t[1])], MINUTE).await;
    assert!(failed.is_empty());
    let seen = calls(&requests(&s.jira).await);
    assert_eq!(
        seen,
        [
            "POST /rest/api/3/search/jql",
            "POST /rest/api/3/issue/SEC-1/comment"
        ]
    );
}

#[tokio::test]
async fn throttling_is_waited_out_and_a_failed_search_is_asked_again_within_the_invocation() {
    let s = stage().await;
    let t = lifecycle().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.jira)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_string("rate limited"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.jira)
        .await;
    healthy(&s.jira).await;
    let started = std::time::Instant::now();
    let failed = run(&s, &[("m1", &t[0])], MINUTE).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(
        calls(&requests(&s.jira).await),
        [
            "POST /rest/api/3/search/jql",
            "POST /rest/api/3/search/jql",
            "POST /rest/api/3/issue",
            "POST /rest/api/3/issue",
        ],
        "503 then found nothing; 429 then created"
    );
}

#[tokio::test]
async fn a_create_without_a_clear_answer_is_not_sent_again_and_its_redelivery_finds_the_issue() {
    let s = stage().await;
    let t = lifecycle().await;
    // Jira created SEC-1 but its gateway answered 502: the outcome is unknown.
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.jira)
        .await;
    healthy(&s.jira).await;
    let failed = run(&s, &[("m1", &t[0]), ("m2", &t[1])], MINUTE).await;
    assert_eq!(failed, ["m1", "m2"], "the open failed, its group held back");
    let creates = |calls: &[String]| {
        calls
            .iter()
            .filter(|c| *c == "POST /rest/api/3/issue")
            .count()
    };
    assert_eq!(
        creates(&calls(&requests(&s.jira).await)),
        1,
        "a 502 on a create is not retried"
    );
    // The redelivery: the search now finds the issue that create made.
    s.jira.reset().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"issues": [{"id": "10001", "key": "SEC-1"}]})),
        )
        .with_priority(1)
        .mount(&s.jira)
        .await;
    healthy(&s.jira).await;
    let failed = run(&s, &[("m1", &t[0]), ("m2", &t[1])], MINUTE).await;
    assert!(failed.is_empty());
    assert_eq!(
        calls(&requests(&s.jira).await),
        [
            "POST /rest/api/3/search/jql",
            "POST /rest/api/3/issue/SEC-1/comment"
        ],
        "adopted, not created again"
    );
}

#[tokio::test]
async fn an_outage_past_the_deadline_leaves_its_group_on_the_queue_and_other_groups_go_on() {
    let s = stage().await;
    let t = lifecycle().await;
    let mut other = t[0].clone();
    other.fingerprint =
        triage_core::Fingerprint::new(triage_core::Source::Config, "other", "1", "us-east-1", &[]);
    other.finding.fingerprint = other.fingerprint.clone();
    // Jira fails every create of the restricted-ssh problem, and asks for a wait longer than the
    // invocation has left.
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .and(body_string_contains(format!("triage-{}", t[0].fingerprint)))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .with_priority(1)
        .mount(&s.jira)
        .await;
    healthy(&s.jira).await;
    let failed = run(
        &s,
        &[("a1", &t[0]), ("b1", &other), ("a2", &t[1])],
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        failed,
        ["a1", "a2"],
        "the failed message and the rest of its group"
    );
    let seen = calls(&requests(&s.jira).await);
    assert_eq!(
        seen.iter()
            .filter(|c| *c == "POST /rest/api/3/issue")
            .count(),
        2,
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|c| c.ends_with("/comment")),
        "a2 was tried: {seen:?}"
    );

    // Jira recovers; Lambda hands the group back in order: one issue, one comment.
    s.jira.reset().await;
    healthy(&s.jira).await;
    let failed = run(&s, &[("a1", &t[0]), ("a2", &t[1])], MINUTE).await;
    assert!(failed.is_empty());
    assert_eq!(
        calls(&requests(&s.jira).await),
        [
            "POST /rest/api/3/search/jql",
            "POST /rest/api/3/issue",
            "POST /rest/api/3/issue/SEC-1/comment"
        ]
    );
}

#[tokio::test]
async fn a_refused_request_fails_its_message_at_once_and_says_why() {
    let s = stage().await;
    let t = lifecycle().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"errors": {"priority": "Specify the Priority (name) in the string format"}}),
        ))
        .with_priority(1)
        .mount(&s.jira)
        .await;
    healthy(&s.jira).await;
    let failed = run(&s, &[("m1", &t[0])], MINUTE).await;
    assert_eq!(failed, ["m1"]);
    let creates = calls(&requests(&s.jira).await)
        .into_iter()
        .filter(|c| c == "POST /rest/api/3/issue")
        .count();
    assert_eq!(creates, 1, "a 400 is not retried");
    assert!(
        s.table.items().await.is_empty(),
        "nothing recorded as applied"
    );
}

#[tokio::test]
async fn a_resolve_of_an_issue_someone_already_closed_changes_nothing_else() {
    let s = stage().await;
    let t = lifecycle().await;
    healthy(&s.jira).await;
    run(&s, &[("m1", &t[0])], MINUTE).await;
    s.jira.reset().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/SEC-1/transitions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"transitions": [{"id": "41", "name": "Reopen"}]})),
        )
        .mount(&s.jira)
        .await;
    Mock::given(method("GET")).and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"key": "SEC-1", "fields": {"status": {"name": "Won't Do", "statusCategory": {"key": "done"}}}})))
        .mount(&s.jira).await;
    let failed = run(&s, &[("m3", &t[2])], MINUTE).await;
    assert!(failed.is_empty());
    assert_eq!(
        calls(&requests(&s.jira).await),
        ["GET /rest/api/3/issue/SEC-1"],
        "done already (Won't Do, by hand): no transition, no comment"
    );
}

#[tokio::test]
async fn a_cold_start_without_usable_credentials_fails_with_its_reason() {
    let moto = MotoServer::start();
    let jira = MockServer::start().await;
    let arn = secret(
        &moto,
        "triage/jira-no-token",
        Some("{\"email\": \"bot@example.com\"}"),
    )
    .await;
    let err = cold_start(settings(&jira.uri(), "t", &arn), &moto.sdk_config().await)
        .await
        .err();
    assert!(err.is_some_and(|e| e.to_string().contains("api_token")));
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf";
    let err = cold_start(
        settings(&jira.uri(), "t", missing),
        &moto.sdk_config().await,
    )
    .await
    .err();
    assert!(err.is_some_and(|e| e.to_string().contains("secret")));
}

/// `events/sqs-ticket-batch.json` is the SQS event of the lifecycle above, as the ticket queue's
/// event source mapping hands it to the function (`sam local invoke` and the README use it).
/// `TRIAGE_WRITE_SAMPLES=1` rewrites it from the classifier's output.
#[tokio::test]
async fn the_ticket_queue_sample_is_what_the_classifier_emits_and_applies() {
    let t = lifecycle().await;
    let path = triage_testkit::repo_root().join("events/sqs-ticket-batch.json");
    if std::env::var_os("TRIAGE_WRITE_SAMPLES").is_some() {
        let event = batch(&[
            ("7b1e3c02-6f4a-4d55-9a57-0f3f4b8e2a11", &t[0]),
            ("c2f0a9d4-1b7e-4c38-8e2b-5d6a7f9e0b22", &t[1]),
            ("e9d8c7b6-a5f4-4e3d-9c2b-1a0f9e8d7c33", &t[2]),
        ]);
        let text = serde_json::to_string_pretty(&event).expect("json") + "\n";
        std::fs::write(&path, text).expect("write the sample");
    }
    let event = sample("sqs-ticket-batch.json");
    let bodies: Vec<String> = event["Records"]
        .as_array()
        .expect("Records")
        .iter()
        .map(|r| r["body"].as_str().expect("body").to_owned())
        .collect();
    let emitted: Vec<String> = t.iter().map(|e| e.body().expect("body")).collect();
    assert_eq!(bodies, emitted, "regenerate with TRIAGE_WRITE_SAMPLES=1");

    let s = stage().await;
    healthy(&s.jira).await;
    let response = s
        .handler
        .batch(event, Deadline::after(MINUTE))
        .await
        .expect("an SQS batch");
    assert!(response.failed_ids().is_empty());
    assert_eq!(calls(&requests(&s.jira).await), LIFECYCLE_CALLS);
}
