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
use triage_testkit::{MotoServer, Queues};

/// One invocation per function: its sample and what it must return.
struct Case {
    binary: &'static str,
    sample: &'static str,
    /// Fields of the JSON response that must have these values.
    response: Json,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            binary: "config-classifier",
            sample: "config-noncompliant-s3-public-read.json",
            // critical: ticket + alert + digest
            response: json!({"findings": 1, "tickets": 1, "digest_entries": 1, "alerts": 1}),
        },
        Case {
            binary: "alarm-classifier",
            sample: "alarm-metric-alarm.json",
            // medium: ticket + digest, no alert
            response: json!({"findings": 1, "tickets": 1, "digest_entries": 1, "alerts": 0}),
        },
        Case {
            binary: "log-detector",
            sample: "cwlogs-root-account-usage.json",
            // critical: ticket + alert + digest
            response: json!({"findings": 1, "tickets": 1, "digest_entries": 1, "alerts": 1}),
        },
        // Last: drains what the others put on the digest queue.
        Case {
            binary: "digest",
            sample: "scheduled-digest.json",
            response: json!({"published": 1}),
        },
    ]
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

    fn invoke(&self, binary: &str, sample: &str) -> Json {
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
        assert!(
            status.success(),
            "cargo lambda invoke {binary} --data-file events/{sample} failed ({status}):\n{}\n{stdout}\n--- emulator log ---\n{}",
            stderr,
            self.log_text()
        );
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{binary}: response is not JSON ({e}): {stdout}"))
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
    let cases = cases();
    let deployed: Vec<&str> = functions
        .iter()
        .filter_map(|f| f.binary.as_deref())
        .collect();
    for bin in &deployed {
        assert!(
            cases.iter().any(|c| c.binary == *bin),
            "{bin} is deployed by the template but has no case in {}",
            file!()
        );
    }
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| deployed.contains(&c.binary))
        .collect();
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
    let stand_ins: BTreeMap<&str, String> = BTreeMap::from([
        ("TicketQueue", q.ticket_queue_url.clone()),
        ("DigestQueue", q.digest_queue_url.clone()),
        ("AlertTopic", q.alert_topic_arn.clone()),
        ("DigestTopic", digest_topic.clone()),
        ("DedupTable", "triage-local-dedup".to_owned()),
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
        let response = emulator.invoke(case.binary, case.sample);
        for (field, want) in case.response.as_object().expect("object") {
            assert_eq!(
                response.get(field),
                Some(want),
                "{} on {}: response {response}",
                case.binary,
                case.sample
            );
        }
        let tickets = take(&q, &q.ticket_queue_url).await;
        let expected_tickets = case
            .response
            .get("tickets")
            .and_then(Json::as_u64)
            .unwrap_or(0);
        assert_eq!(
            tickets.len() as u64,
            expected_tickets,
            "{}: ticket events on the FIFO queue: {tickets:?}",
            case.binary
        );
        if let Some(last) = tickets.last().filter(|_| expected_tickets > 0) {
            assert_eq!(last.get("action"), Some(&json!("open")), "{last}");
            assert!(last.get("fingerprint").and_then(Json::as_str).is_some());
        }
    }

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
    let expected_alerts: u64 = cases
        .iter()
        .filter_map(|c| c.response.get("alerts").and_then(Json::as_u64))
        .sum();
    assert_eq!(
        alerts.len() as u64,
        expected_alerts,
        "alerts on the alert topic"
    );
    drop(emulator);
    std::io::stdout().flush().ok();
}
