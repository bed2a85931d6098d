//! Every function binary the template deploys, run under cargo-lambda's Lambda runtime emulator
//! (`cargo lambda watch` + `cargo lambda invoke`, no Docker) against moto, with one sample each:
//! the README's "Invoking a function locally", as a test.
//!
//! The emulator builds each function binary (dev profile, the workspace's target directory) on
//! its first invocation and runs it as Lambda would; a build error or a failed cold start fails
//! the test with the emulator's log. The functions get the environment the template gives them, with every `!Ref` to a queue,
//! topic or table replaced by its moto stand-in and every `!Ref` to a parameter by its default.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use stack_tests::{Template, Value, intrinsic, repo_root};
use triage_consumer::LinkStore as _;
use triage_testkit::{MotoServer, Queues};

/// One invocation: a function, its sample, and what it must return.
struct Case {
    binary: &'static str,
    sample: &'static str,
    expect: Expect,
}

enum Expect {
    /// Fields of the JSON response that must have these values.
    Response(Json),
    /// The invocation fails with this `errorType`.
    Error(&'static str),
    /// A Kinesis or SQS batch: the partial batch response names nothing to retry (and is all
    /// Lambda gets), after sending this many ticket events and alerts.
    Stream { tickets: u64, alerts: u64 },
}

impl Expect {
    fn count(&self, field: &str) -> u64 {
        match self {
            Expect::Response(r) => r.get(field).and_then(Json::as_u64).unwrap_or(0),
            Expect::Error(_) => 0,
            Expect::Stream { tickets, alerts } => match field {
                "tickets" => *tickets,
                "alerts" => *alerts,
                _ => 0,
            },
        }
    }
}

/// Two invocations per function, in order: one that routes, one that is skipped or rejected (and
/// for log-detector, a Kinesis batch of the organization-wide intake).
/// The cargo-lambda emulator and `sam local invoke` run the same cases.
fn cases() -> Vec<Case> {
    let response = Expect::Response;
    vec![
        Case {
            binary: "config-classifier",
            sample: "config-noncompliant-s3-public-read.json",
            // critical: ticket + alert + digest
            expect: response(
                json!({"findings": 1, "tickets": 1, "digest_entries": 1, "alerts": 1}),
            ),
        },
        Case {
            binary: "config-classifier",
            sample: "config-bad-missing-detail.json",
            expect: Expect::Error("InvalidEvent"),
        },
        Case {
            binary: "finding-classifier",
            sample: "guardduty-attack-sequence-critical.json",
            // GuardDuty 9.0-10.0: critical, ticket + alert + digest
            expect: response(
                json!({"findings": 1, "tickets": 1, "digest_entries": 1, "alerts": 1}),
            ),
        },
        Case {
            binary: "finding-classifier",
            sample: "securityhub-bad-findings-not-array.json",
            expect: Expect::Error("InvalidEvent"),
        },
        Case {
            binary: "alarm-classifier",
            sample: "alarm-metric-alarm.json",
            // medium: ticket + digest, no alert
            expect: response(
                json!({"findings": 1, "tickets": 1, "digest_entries": 1, "alerts": 0}),
            ),
        },
        Case {
            binary: "alarm-classifier",
            sample: "alarm-configuration-change.json",
            expect: response(json!({"findings": 0, "tickets": 0, "skipped": 1})),
        },
        Case {
            binary: "log-detector",
            sample: "cwlogs-root-account-usage.json",
            // critical: ticket + alert + digest
            expect: response(
                json!({"findings": 1, "tickets": 1, "digest_entries": 1, "alerts": 1}),
            ),
        },
        Case {
            binary: "log-detector",
            sample: "cwlogs-control-message.json",
            expect: response(json!({"message_type": "CONTROL_MESSAGE", "tickets": 0})),
        },
        // The organization-wide intake: three accounts' records through Kinesis. The root
        // usage in 111122223333 repeats the case above (no ticket, no page); four new problems
        // ticket, the two console sign-ins without MFA page.
        Case {
            binary: "log-detector",
            sample: "kinesis-org-trail-three-accounts.json",
            expect: Expect::Stream {
                tickets: 4,
                alerts: 2,
            },
        },
        // The ticket queue's batch of one problem's open, update and resolve. Under the
        // emulator, against the local Jira stand-in: one issue created, commented, closed. In
        // Docker (no stand-in the container may reach over https), its links already record
        // the batch: a replay, applied with no call to Jira.
        Case {
            binary: "jira-consumer",
            sample: "sqs-ticket-batch.json",
            expect: Expect::Stream {
                tickets: 0,
                alerts: 0,
            },
        },
        // Last: drains what the others put on the digest queue, then finds it empty.
        Case {
            binary: "digest",
            sample: "scheduled-digest.json",
            expect: response(json!({"published": 1})),
        },
        Case {
            binary: "digest",
            sample: "scheduled-digest.json",
            expect: response(json!({"published": 0})),
        },
    ]
}

/// Checks an invocation's outcome (the response, or the invocation's output when it failed)
/// against the case.
fn check(runner: &str, case: &Case, outcome: &Result<Json, String>) {
    let what = format!("{runner}: {} on {}", case.binary, case.sample);
    match (&case.expect, outcome) {
        (Expect::Response(want), Ok(response)) => {
            for (field, value) in want.as_object().expect("object") {
                assert_eq!(
                    response.get(field),
                    Some(value),
                    "{what}: response {response}"
                );
            }
        }
        // SAM prints Lambda's error object; cargo-lambda prints `Error: <errorType>`.
        (Expect::Error(error_type), Err(output)) => assert!(
            output.contains(&format!("\"errorType\":\"{error_type}\""))
                || output.contains(&format!("\"errorType\": \"{error_type}\""))
                || output.contains(&format!("Error: {error_type}\n")),
            "{what}: the output names the function's typed error {error_type}:\n{output}"
        ),
        (Expect::Stream { .. }, Ok(response)) => assert_eq!(
            response,
            &json!({"batchItemFailures": []}),
            "{what}: the partial batch response, nothing else"
        ),
        (Expect::Stream { .. }, Err(output)) => panic!("{what}: failed:\n{output}"),
        (Expect::Error(error_type), Ok(response)) => {
            panic!("{what}: must fail with {error_type}, answered {response}")
        }
        (Expect::Response(_), Err(output)) => panic!("{what}: failed:\n{output}"),
    }
}

/// The cases the deployed functions have, after checking every deployed function has some.
fn deployed_cases(t: &Template) -> Vec<Case> {
    let functions = t.functions();
    let deployed: Vec<&str> = functions
        .iter()
        .filter_map(|f| f.binary.as_deref())
        .collect();
    let cases = cases();
    for bin in &deployed {
        assert!(
            cases.iter().any(|c| c.binary == *bin),
            "{bin} is deployed by the template but has no case in {}",
            file!()
        );
    }
    cases
        .into_iter()
        .filter(|c| deployed.contains(&c.binary))
        .collect()
}

fn cargo_lambda() -> PathBuf {
    let exe = repo_root().join(".venv/bin/cargo-lambda");
    assert!(
        exe.exists(),
        "{} not found: run scripts/setup-tools (scripts/test does) to install cargo-lambda into .venv",
        exe.display()
    );
    exe
}

/// A file of this test process in the target's scratch directory (several runs of the test may
/// share the target directory).
fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", std::process::id()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `cargo lambda watch` in its own process group, killed with all its children when dropped.
struct Emulator {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Emulator {
    fn start(env: &BTreeMap<String, String>, log: PathBuf) -> Emulator {
        let port = free_port();
        let out = std::fs::File::create(&log).expect("emulator log file");
        let err = out.try_clone().expect("log file handle");
        let child = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--ignore-changes"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(repo_root())
            .envs(env)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    repo_root().join(".venv/bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start cargo lambda watch: {e}"));
        let mut emulator = Emulator { child, port, log };
        emulator.wait_listening(Duration::from_secs(120));
        emulator
    }

    fn wait_listening(&mut self, timeout: Duration) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "cargo lambda watch exited with {status}:\n{}",
                    self.log_text()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "cargo lambda watch is not listening on {addr}:\n{}",
            self.log_text()
        );
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The function's response, or the invoke's output when the invocation failed.
    fn invoke(&self, binary: &str, sample: &str) -> Result<Json, String> {
        let (out_path, err_path) = (scratch("invoke.out"), scratch("invoke.err"));
        let log_before = self.log_text().len();
        let mut child = Command::new(cargo_lambda())
            .args(["lambda", "invoke", binary])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(format!("events/{sample}"))
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("invoke stdout"))
            .stderr(std::fs::File::create(&err_path).expect("invoke stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run cargo lambda invoke: {e}"));
        // The first invocation of a function compiles it (dev profile): minutes on a busy machine.
        let deadline = Instant::now() + Duration::from_secs(900);
        let status = loop {
            if let Some(status) = child.try_wait().expect("invoke status") {
                break status;
            }
            let new_log = self
                .log_text()
                .get(log_before..)
                .unwrap_or_default()
                .to_owned();
            let died = new_log
                .lines()
                .any(|l| l.starts_with("Error:") || l.starts_with("error"));
            if died || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "cargo lambda invoke {binary} --data-file events/{sample}: {}\n--- emulator log ---\n{new_log}",
                    if died {
                        "the function failed to build or start"
                    } else {
                        "no answer in 900 s"
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = (
            std::fs::remove_file(&out_path),
            std::fs::remove_file(&err_path),
        );
        if !status.success() {
            return Err(format!(
                "cargo lambda invoke {binary} --data-file events/{sample} failed ({status}):\n{stderr}\n{stdout}\n--- emulator log ---\n{}",
                self.log_text()
            ));
        }
        Ok(serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{binary}: response is not JSON ({e}): {stdout}")))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The whole group: cargo-lambda and the function processes it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Usually the group is gone by now: no "No such process" in the test output.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A parameter default or a local stand-in for what a template value refers to.
fn resolve(t: &Template, name: &str, v: &Value, stand_ins: &BTreeMap<&str, String>) -> String {
    if matches!(v, Value::String(_) | Value::Number(_)) {
        return v
            .as_str()
            .map(str::to_owned)
            .or_else(|| v.as_u64().map(|n| n.to_string()))
            .unwrap_or_default();
    }
    match intrinsic(v) {
        Some((tag, arg)) if tag == "Ref" => {
            let id = arg.as_str().unwrap_or_default();
            if let Some(local) = stand_ins.get(id) {
                return local.clone();
            }
            match t.parameter_default(id) {
                Some(d) => resolve(t, name, d, stand_ins),
                None => panic!("{name}: no local stand-in for !Ref {id}; add one to this test"),
            }
        }
        _ => panic!("{name}: cannot resolve {v:?} locally"),
    }
}

async fn subscribe_inbox(q: &Queues, topic_arn: &str, name: &str) -> String {
    let url = q
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("inbox queue")
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn = q
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("inbox arn")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    q.sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .expect("subscribe inbox");
    url
}

async fn create_dedup_table(moto: &MotoServer, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(triage_aws::PARTITION_KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(triage_aws::PARTITION_KEY)
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create dedup table");
}

/// The ticket events one case put on the FIFO queue: as many as its response says, the last one
/// an `open` with a fingerprint.
async fn check_tickets(q: &Queues, case: &Case) {
    let tickets = take(q, &q.ticket_queue_url).await;
    let expected = case.expect.count("tickets");
    assert_eq!(
        tickets.len() as u64,
        expected,
        "{} on {}: ticket events on the FIFO queue: {tickets:?}",
        case.binary,
        case.sample
    );
    if let Some(last) = tickets.last() {
        assert_eq!(last.get("action"), Some(&json!("open")), "{last}");
        assert!(last.get("fingerprint").and_then(Json::as_str).is_some());
    }
}

/// Every message on the queue, parsed and deleted.
async fn take(q: &Queues, url: &str) -> Vec<Json> {
    let messages = q.drain(url).await;
    for m in &messages {
        q.sqs
            .delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().unwrap_or_default())
            .send()
            .await
            .expect("delete message");
    }
    messages
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap_or_default()).expect("JSON body"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_binary_runs_under_the_cargo_lambda_emulator_against_moto() {
    let t = Template::load().expect("template.yaml");
    let functions = t.functions();
    let cases = deployed_cases(&t);
    cargo_lambda(); // fails with the way to install it before anything starts

    let moto = MotoServer::start();
    let q = Queues::create(&moto, "triage-local").await;
    let digest_topic = q
        .sns
        .create_topic()
        .name("triage-local-digest")
        .send()
        .await
        .expect("digest topic")
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    let digest_inbox = subscribe_inbox(&q, &digest_topic, "triage-local-digest-inbox").await;
    create_dedup_table(&moto, "triage-local-dedup").await;
    create_dedup_table(&moto, "triage-local-links").await; // the same key
    let jira = wiremock::MockServer::start().await;
    triage_testkit::jira::healthy(&jira).await;
    let jira_secret = triage_testkit::jira::secret(&moto, "triage-local/jira", None).await;
    let stand_ins: BTreeMap<&str, String> = BTreeMap::from([
        ("TicketLinksTable", "triage-local-links".to_owned()),
        ("JiraBaseUrl", jira.uri()),
        ("JiraProjectKey", "SEC".to_owned()),
        ("JiraCredentialsSecretArn", jira_secret),
        ("TicketQueue", q.ticket_queue_url.clone()),
        ("DigestQueue", q.digest_queue_url.clone()),
        ("AlertTopic", q.alert_topic_arn.clone()),
        ("DigestTopic", digest_topic.clone()),
        ("DedupTable", "triage-local-dedup".to_owned()),
        ("TriageEventBus", q.event_bus_name.clone()),
    ]);

    let mut env = BTreeMap::from([
        ("AWS_ENDPOINT_URL".to_owned(), moto.endpoint().to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
    ]);
    for f in &functions {
        for (name, v) in &f.env {
            let value = resolve(&t, name, v, &stand_ins);
            if let Some(other) = env.insert(name.clone(), value.clone())
                && other != value
            {
                panic!(
                    "{name} differs between functions ({other} / {value}); the emulator serves all with one environment"
                );
            }
        }
    }

    let log = scratch("cargo-lambda-watch.log");
    let emulator = Emulator::start(&env, log);
    for case in &cases {
        let outcome = emulator.invoke(case.binary, case.sample);
        check("cargo lambda invoke", case, &outcome);
        check_tickets(&q, case).await;
    }

    // jira-consumer created, commented and closed one issue on the stand-in.
    let jira_calls = triage_testkit::jira::calls(&triage_testkit::jira::requests(&jira).await);
    assert_eq!(
        jira_calls,
        triage_testkit::jira::LIFECYCLE_CALLS,
        "Jira stand-in"
    );

    // The digest run published the entries the classifiers queued, and deleted them.
    let digest_messages = take(&q, &digest_inbox).await;
    assert_eq!(digest_messages.len(), 1, "one digest: {digest_messages:?}");
    let queued = q.drain(&q.digest_queue_url).await;
    assert!(
        queued.is_empty(),
        "the digest left {} entries",
        queued.len()
    );
    let alerts = q.drain(&q.alert_inbox_url).await;
    let expected_alerts: u64 = cases.iter().map(|c| c.expect.count("alerts")).sum();
    assert_eq!(
        alerts.len() as u64,
        expected_alerts,
        "alerts on the alert topic"
    );
    drop(emulator);
    std::io::stdout().flush().ok();
}

/// A variable `scripts/local-lambda up` exports.
fn exported(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this test after eval \"$(scripts/local-lambda up)\" and sam build (scripts/test does)")
    })
}

/// `sam local invoke <logical id> -e events/<sample> $SAM_LOCAL_ARGS`: the function's response,
/// or SAM's output when the invocation failed.
fn sam_local_invoke(logical_id: &str, sample: &str) -> Result<Json, String> {
    let sam = repo_root().join(".venv/bin/sam");
    let args = exported("SAM_LOCAL_ARGS");
    let out = Command::new(&sam)
        .args(["local", "invoke", logical_id, "-e"])
        .arg(format!("events/{sample}"))
        .args(args.split_whitespace())
        .env("DOCKER_HOST", exported("DOCKER_HOST"))
        .env("SAM_CLI_TELEMETRY", "0")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", sam.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // SAM prints the function's answer on stdout, an error object included, as one line.
    let answer: Option<Json> = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok());
    match answer {
        Some(a) if out.status.success() && a.get("errorType").is_none() => Ok(a),
        _ => Err(format!(
            "sam local invoke {logical_id} -e events/{sample} ({}):\n{stdout}\n--- stderr ---\n{stderr}",
            out.status
        )),
    }
}

/// The same cases as the cargo-lambda test, through `sam local invoke`: the template's
/// functions as `sam build` built them (release, cargo-lambda), each in a container of the
/// base-image stand-in, with the environment SAM gives them and the --env-vars file
/// `scripts/local-lambda up` wrote, against its moto. `scripts/test` runs it after `sam build`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs sam build and scripts/local-lambda up: scripts/test runs it"]
async fn every_function_runs_under_sam_local_invoke_in_docker_against_moto() {
    let t = Template::load().expect("template.yaml");
    let cases = deployed_cases(&t);
    let built = repo_root().join(".aws-sam/build/template.yaml");
    assert!(
        built.exists(),
        "{} not found: run sam build first",
        built.display()
    );
    let endpoint = exported("AWS_ENDPOINT_URL");
    let alert_topic = exported("ALERT_TOPIC_ARN");
    let q = Queues::attach(
        &endpoint,
        &exported("TICKET_QUEUE_URL"),
        &exported("DIGEST_QUEUE_URL"),
        alert_topic.rsplit(':').next().unwrap_or_default(),
        &exported("EVENT_BUS_NAME"),
    )
    .await;
    let digest_topic = exported("DIGEST_TOPIC_ARN");
    let digest_inbox = subscribe_inbox(&q, &digest_topic, "triage-sam-digest-inbox").await;
    // Start from empty queues and no dedup state: the moto may have served an earlier run.
    for url in [&q.ticket_queue_url, &q.digest_queue_url, &q.alert_inbox_url] {
        take(&q, url).await;
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(&triage_testkit::sdk_config_for(&endpoint).await);
    let table = exported("DEDUP_TABLE_NAME");
    let items = dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan the dedup table");
    for item in items.items() {
        dynamodb
            .delete_item()
            .table_name(&table)
            .set_key(Some(
                item.iter()
                    .filter(|(k, _)| k.as_str() == triage_aws::PARTITION_KEY)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ))
            .send()
            .await
            .expect("delete a dedup item");
    }

    // jira-consumer's links already record the sample batch (see its case).
    let links = exported("TICKET_LINKS_TABLE_NAME");
    let batch = triage_testkit::event("sqs-ticket-batch.json");
    let last: triage_core::TicketEvent = batch["Records"]
        .as_array()
        .and_then(|r| r.last())
        .and_then(|r| r["body"].as_str())
        .and_then(|b| serde_json::from_str(b).ok())
        .expect("the sample's last ticket event");
    // Through the consumer's own adapter: the links as jira-consumer writes them.
    // (A moto that served an earlier run may hold the same link already: refused, and as good.)
    let store = triage_consumer::links::DynamoDbLinks::new(dynamodb.clone(), links, "jira");
    let link = triage_consumer::Link {
        ticket: Some("SEC-1".to_owned()),
        sequence: last.sequence,
        closed: true,
    };
    store
        .put(&last.fingerprint, &link)
        .await
        .expect("seed the ticket links");
    let stored = store
        .get(&last.fingerprint)
        .await
        .expect("read the link back");
    assert!(
        stored.is_some_and(|l| l.sequence >= last.sequence),
        "the sample's last sequence is recorded"
    );

    let logical_id = |binary: &str| {
        t.functions()
            .into_iter()
            .find(|f| f.binary.as_deref() == Some(binary))
            .map(|f| f.logical_id)
            .unwrap_or_else(|| panic!("{binary}: not in the template"))
    };
    for case in &cases {
        let outcome = sam_local_invoke(&logical_id(case.binary), case.sample);
        check("sam local invoke", case, &outcome);
        if let Ok(response) = &outcome {
            println!(
                "sam local invoke {} -e events/{}: {response}",
                logical_id(case.binary),
                case.sample
            );
        }
        check_tickets(&q, case).await;
    }
    let digest_messages = take(&q, &digest_inbox).await;
    assert_eq!(digest_messages.len(), 1, "one digest: {digest_messages:?}");
    let alerts = take(&q, &q.alert_inbox_url).await;
    let expected_alerts: u64 = cases.iter().map(|c| c.expect.count("alerts")).sum();
    assert_eq!(
        alerts.len() as u64,
        expected_alerts,
        "alerts on the alert topic"
    );
}
