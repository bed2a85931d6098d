//! log-detector as it ships (`assemble`, the AWS backend, the template's settings) against moto
//! server: a subscription payload
//! holding the seed's three detections among benign records yields exactly the expected ticket
//! events, digest entries and pages, read back from the queues.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use lambda_runtime::{Context, LambdaEvent};
use log_detector::handler::{Handler, Summary};
use log_detector::{Settings, assemble};
use stack_tests::{function_env, stand_ins, ticket_of};
use triage_aws::Aws;
use triage_core::cloudtrail::{CloudTrailDetector, StreamRecord, kinesis_event};
use triage_core::digest::parse_message;
use triage_core::{DigestEntry, DigestKind, Finding, Severity, TicketAction, TicketEvent};
use triage_testkit::{DedupTable, MotoServer, Queues, event};

fn detector() -> CloudTrailDetector {
    CloudTrailDetector::shipped().expect("detection pack")
}

/// The function as `main.rs` builds it, on moto's queues, topic and a dedup table.
async fn handler(moto: &MotoServer, q: &Queues, prefix: &str) -> Handler<Aws> {
    let table = DedupTable::create(moto, &format!("{prefix}-dedup")).await;
    let env = function_env("log-detector", &stand_ins(q, &table));
    let settings = Settings::from(&env).expect("settings from the template");
    assemble(settings, &Aws::new(&moto.sdk_config().await))
}

fn invoke(name: &str) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(event(name), Context::default())
}

/// The findings the pure detector makes of a sample, independently of the handler.
fn expected_findings(name: &str) -> Vec<Finding> {
    detector()
        .detect_lambda_event(&event(name))
        .expect("decodes")
        .findings
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_detections_among_benign_records_become_exactly_three_tickets_three_digest_lines_and_two_pages()
 {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "logdet").await;
    let h = handler(&moto, &q, "logdet").await;

    let summary = h
        .handle(invoke("cwlogs-mixed-batch.json"))
        .await
        .expect("handled");
    assert_eq!(
        (
            summary.records,
            summary.findings,
            summary.tickets,
            summary.digest_entries,
            summary.alerts
        ),
        (12, 3, 3, 3, 2)
    );
    // Lambda retries the same asynchronous invocation: the dedup state knows it was delivered.
    let retried = h
        .handle(invoke("cwlogs-mixed-batch.json"))
        .await
        .expect("retry");
    assert_eq!((retried.tickets, retried.alerts), (0, 0));
    // A control message between them changes nothing.
    let control = h
        .handle(invoke("cwlogs-control-message.json"))
        .await
        .expect("control");
    assert_eq!(
        control,
        Summary {
            message_type: Some("CONTROL_MESSAGE"),
            records: 1,
            ..Summary::default()
        }
    );

    let want = expected_findings("cwlogs-mixed-batch.json");
    let tickets: Vec<TicketEvent> = q
        .drain(&q.ticket_queue_url)
        .await
        .iter()
        .map(ticket_of)
        .collect();
    assert_eq!(tickets.len(), want.len(), "{tickets:?}");
    // Each event carries the sequence the dedup state gave it.
    let want_tickets: Vec<TicketEvent> = want
        .iter()
        .zip(&tickets)
        .map(|(f, t)| TicketEvent::new(TicketAction::Open, f.clone(), t.sequence))
        .collect();
    assert_eq!(tickets, want_tickets, "exactly three opens, nothing else");
    let summary: Vec<(&str, Severity, Option<&str>)> = tickets
        .iter()
        .map(|t| {
            (
                t.finding.rule_id.as_str(),
                t.finding.severity,
                t.finding.principal.as_ref().map(|p| p.as_str()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "root-account-usage",
                Severity::Critical,
                Some("arn:aws:iam::111122223333:root")
            ),
            (
                "unauthorized-api-calls",
                Severity::High,
                Some("arn:aws:iam::111122223333:user/christophe")
            ),
            (
                "console-signin-without-mfa",
                Severity::Critical,
                Some("arn:aws:iam::111122223333:user/anaya")
            ),
        ]
    );
    let root = &tickets[0].finding;
    assert_eq!(
        root.title.as_str(),
        "Root account used: EnableMFADevice from 192.0.2.0"
    );
    assert!(
        root.console_url
            .as_deref()
            .is_some_and(|u| u.contains("/cloudtrail/home?region=us-east-1#/events/"))
    );

    let digest: Vec<DigestEntry> = q
        .drain(&q.digest_queue_url)
        .await
        .iter()
        .flat_map(|m| parse_message(m.body().expect("body")).expect("digest message"))
        .collect();
    let first: Vec<DigestEntry> = want
        .iter()
        .map(|f| DigestEntry::new(DigestKind::New, f))
        .collect();
    assert_eq!(
        digest, first,
        "three new entries, packed; the retry sent none"
    );

    let pages = q.drain(&q.alert_inbox_url).await;
    let subjects: Vec<String> = pages
        .iter()
        .map(|m| {
            let n: serde_json::Value =
                serde_json::from_str(m.body().expect("body")).expect("SNS JSON");
            n["Subject"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        subjects.len(),
        2,
        "two critical findings, paged once: {subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .all(|s| s.starts_with("[CRITICAL] ") && s.len() <= 99),
        "{subjects:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_ticket_queue_fails_the_invocation_instead_of_reporting_success() {
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "logdet-broken").await;
    q.sqs
        .delete_queue()
        .queue_url(&q.ticket_queue_url)
        .send()
        .await
        .expect("delete");
    let err = handler(&moto, &q, "logdet-broken")
        .await
        .handle(invoke("cwlogs-root-account-usage.json"))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("ticket queue"), "{err}");
    assert!(
        q.drain(&q.digest_queue_url).await.is_empty(),
        "nothing sent after the failed ticket"
    );
    assert!(q.drain(&q.alert_inbox_url).await.is_empty(), "no page");
}

// ------------------------------------------------------------------------------------------
// The organization-wide intake: subscription payloads through a Kinesis stream
// ------------------------------------------------------------------------------------------

/// `file`'s record as `account` wrote it in `region`.
fn record_in(file: &str, account: &str, region: &str) -> serde_json::Value {
    let text = event(file).to_string().replace("111122223333", account);
    let mut r: serde_json::Value = serde_json::from_str(&text).expect("json");
    r["awsRegion"] = serde_json::json!(region);
    r
}

/// One log stream's subscription payload as an organization trail's log group sends it.
fn org_trail_payload(account: &str, region: &str, benign: usize) -> Vec<u8> {
    let mut messages = vec![record_in("cloudtrail-root-api-call.json", account, region)];
    for i in 0..benign {
        let file = if i % 2 == 0 {
            "cloudtrail-ec2-start-instances.json"
        } else {
            "cloudtrail-assume-role-success.json"
        };
        messages.push(record_in(file, account, region));
    }
    let log_events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({"id": format!("{i:056}"), "timestamp": 1_733_000_000_000_i64 + i as i64, "message": m.to_string()})
        })
        .collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "aws-cloudtrail-logs-o-a1b2c3d4e5",
        "logStream": format!("o-a1b2c3d4e5_{account}_CloudTrail_{region}"),
        "subscriptionFilters": ["triage-org-trail"],
        "logEvents": log_events,
    })
    .to_string()
    .into_bytes()
}

/// What a Kinesis event source mapping hands the function for `records` read from the stream.
fn lambda_kinesis_event(
    stream_arn: &str,
    records: &[aws_sdk_kinesis::types::Record],
) -> serde_json::Value {
    use base64::Engine as _;
    let data: Vec<String> = records
        .iter()
        .map(|r| base64::engine::general_purpose::STANDARD.encode(r.data().as_ref()))
        .collect();
    kinesis_event(
        records.iter().zip(&data).map(|(r, data)| StreamRecord {
            sequence_number: r.sequence_number(),
            data,
        }),
        stream_arn,
    )
}

/// A load test of the organization-wide intake, not a benchmark: 60 accounts in two regions
/// write their organization-trail payloads (a root API call among 40 benign records each) as
/// a Logs destination does, gzipped, one stream record per payload, on a two-shard stream in
/// moto; the function reads them in batches of the template's size, as the event source
/// mapping would, and must give exactly one ticket per account and region, correctly
/// attributed, with nothing to retry. Run with `--nocapture` to see the records per second.
#[tokio::test(flavor = "multi_thread")]
async fn an_organizations_trail_through_kinesis_gives_one_ticket_per_account_and_region() {
    use base64::Engine as _;
    let moto = MotoServer::start();
    let q = Queues::create(&moto, "orgkin").await;
    let h = handler(&moto, &q, "orgkin").await;
    let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk_config().await);
    let name = "triage-trail-records";
    kinesis
        .create_stream()
        .stream_name(name)
        .shard_count(2)
        .send()
        .await
        .expect("create stream");
    let arn = kinesis
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .expect("describe")
        .stream_description_summary()
        .map(|d| d.stream_arn().to_owned())
        .expect("arn");

    let accounts: Vec<String> = (0..60)
        .map(|i| format!("{:012}", 200_000_000_000_u64 + i * 1_111))
        .collect();
    let regions = ["us-east-1", "eu-west-1"];
    let mut want = std::collections::BTreeSet::new();
    for account in &accounts {
        for region in regions {
            let json = org_trail_payload(account, region, 40);
            let gz = base64::engine::general_purpose::STANDARD
                .decode(triage_core::cloudtrail::encode_data(&json).expect("gzip"))
                .expect("base64");
            kinesis
                .put_record()
                .stream_name(name)
                .partition_key(format!("{account}/{region}"))
                .data(aws_sdk_kinesis::primitives::Blob::new(gz))
                .send()
                .await
                .expect("put record");
            want.insert((account.clone(), region.to_owned()));
        }
    }

    let batch_size = stack_tests::Template::load()
        .expect("template")
        .resource("LogDetectorStreamMapping")
        .and_then(|m| m.get("Properties")?.get("BatchSize")?.as_i64())
        .expect("the mapping's BatchSize");
    let shards = kinesis
        .list_shards()
        .stream_name(name)
        .send()
        .await
        .expect("shards");
    let (mut payloads, mut records, mut spent) = (0, 0, std::time::Duration::ZERO);
    for shard in shards.shards() {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator {
            let got = kinesis
                .get_records()
                .shard_iterator(it)
                .limit(i32::try_from(batch_size).expect("batch size"))
                .send()
                .await
                .expect("get records");
            if got.records().is_empty() {
                break;
            }
            let started = std::time::Instant::now();
            let response = h
                .invoke(LambdaEvent::new(
                    lambda_kinesis_event(&arn, got.records()),
                    Context::default(),
                ))
                .await
                .expect("handled");
            spent += started.elapsed();
            let log_detector::Response::Stream(stream) = response else {
                panic!("a Kinesis batch gets a partial batch response")
            };
            assert!(stream.batch_item_failures.is_empty(), "{stream:?}");
            payloads += stream.processed;
            records += stream.summary.cloudtrail_records;
            iterator = got.next_shard_iterator().map(str::to_owned);
        }
    }
    assert_eq!(payloads, accounts.len() * regions.len());
    assert_eq!(records, payloads * 41);
    println!(
        "{payloads} payloads, {records} CloudTrail records through log-detector and moto in {spent:?} ({:.0} records/s, delivery to moto included)",
        records as f64 / spent.as_secs_f64()
    );

    let tickets: Vec<TicketEvent> = q
        .drain(&q.ticket_queue_url)
        .await
        .iter()
        .map(ticket_of)
        .collect();
    let got: std::collections::BTreeSet<(String, String)> = tickets
        .iter()
        .map(|t| {
            assert_eq!(t.action, TicketAction::Open);
            assert_eq!(t.finding.rule_id.as_str(), "root-account-usage");
            (
                t.finding.account.as_str().to_owned(),
                t.finding.region.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        tickets.len(),
        want.len(),
        "one ticket per account and region, none twice"
    );
    assert_eq!(
        got, want,
        "each attributed to the account and region it happened in"
    );
}
