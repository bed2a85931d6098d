//! Cold starts: each function's release binary exec'd against the minimal Runtime API of
//! [`crate::runtime_api`], with the environment `template.yaml` gives it (moto stand-ins for the
//! queues, topics and table) and its sample event, so that the first invocation does real work
//! against moto. Measured per start:
//!
//! - **ready**: exec → the first `GET …/invocation/next` (settings parsed, rule packs compiled,
//!   SDK clients built);
//! - **first invocation**: the event written → `POST …/response` read;
//! - **peak RSS**: `VmHWM` of the child, read once it asks for the second event (idle).
//!
//! Every start gets fresh queues, topics and dedup table, so no start sees an earlier one's
//! dedup state; the digest's queue is seeded with what the classifiers' last starts queued, so
//! every digest start publishes a real digest. Round 0 is a warm-up (page cache) and is not
//! counted; the functions take turns within a round so that load from other processes spreads
//! over all of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stack_tests::{Template, memory_mb, resolve_env};
use triage_testkit::{DedupTable, MotoServer, Queues, TopicInbox};

use crate::rss::{kib_to_mb, peak_rss_kib};
use crate::runtime_api::{Invocation, Report, RuntimeApi};
use crate::stats::Stats;

/// Targets of issue 8.
pub const READY_TARGET_MS: f64 = 20.0;
pub const RSS_TARGET_MB: f64 = 30.0;

/// One function and the sample its first invocation gets (those of `local_invoke.rs`).
struct Case {
    binary: &'static str,
    sample: &'static str,
}

const CASES: [Case; 5] = [
    Case {
        binary: "config-classifier",
        sample: "config-noncompliant-s3-public-read.json",
    },
    Case {
        binary: "finding-classifier",
        sample: "guardduty-attack-sequence-critical.json",
    },
    Case {
        binary: "alarm-classifier",
        sample: "alarm-metric-alarm.json",
    },
    Case {
        binary: "log-detector",
        sample: "cwlogs-root-account-usage.json",
    },
    // Last in each round: its queue is seeded with what the classifiers queued.
    Case {
        binary: "digest",
        sample: "scheduled-digest.json",
    },
];

pub struct Options {
    pub runs: usize,
    /// Where the release binaries are (`target/release`).
    pub bin_dir: PathBuf,
    /// Where the functions' logs go.
    pub log_dir: PathBuf,
    /// Only these functions (all when empty).
    pub only: Vec<String>,
}

/// One cold start.
#[derive(Debug, Clone)]
struct Start {
    ready: Duration,
    first_invocation: Duration,
    exec_to_response: Duration,
    peak_rss_kib: u64,
    response: Value,
}

/// The moto resources of one start.
struct Resources {
    q: Queues,
    digest_topic: TopicInbox,
    table: DedupTable,
}

impl Resources {
    async fn create(moto: &MotoServer, prefix: &str) -> Resources {
        let q = Queues::create(moto, prefix).await;
        let digest_topic = TopicInbox::create(&q, &format!("{prefix}-digest-topic")).await;
        let table = DedupTable::create(moto, &format!("{prefix}-dedup")).await;
        Resources {
            q,
            digest_topic,
            table,
        }
    }

    fn stand_ins(&self) -> BTreeMap<&'static str, String> {
        let mut stand_ins = stack_tests::stand_ins(&self.q, &self.table);
        stand_ins.insert("DigestTopic", self.digest_topic.topic_arn.clone());
        stand_ins
    }

    async fn seed_digest(&self, bodies: &[String]) -> Result<(), String> {
        for body in bodies {
            self.q
                .sqs
                .send_message()
                .queue_url(&self.q.digest_queue_url)
                .message_body(body)
                .send()
                .await
                .map_err(|e| format!("seeding the digest queue: {e:?}"))?;
        }
        Ok(())
    }

    async fn queued_digest_bodies(&self) -> Vec<String> {
        self.q
            .drain(&self.q.digest_queue_url)
            .await
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect()
    }
}

/// Runs every function's cold starts; returns one JSON row per function.
pub fn run(opts: &Options) -> Result<Vec<Value>, String> {
    let template = Template::load().map_err(|e| e.to_string())?;
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| opts.only.is_empty() || opts.only.iter().any(|o| o == c.binary))
        .collect();
    for c in &cases {
        let exe = opts.bin_dir.join(c.binary);
        if !exe.is_file() {
            return Err(format!(
                "{} not found: build it first (cargo build --release -p {})",
                exe.display(),
                c.binary
            ));
        }
    }
    std::fs::create_dir_all(&opts.log_dir)
        .map_err(|e| format!("{}: {e}", opts.log_dir.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let moto = MotoServer::start();
    let mut starts: BTreeMap<&str, Vec<Start>> = BTreeMap::new();
    let mut queued: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut notes: BTreeMap<&str, String> = BTreeMap::new();

    for round in 0..=opts.runs {
        for case in &cases {
            let f = template.function(case.binary)?;
            let resources = rt.block_on(Resources::create(
                &moto,
                &format!("cs{round}-{}", case.binary),
            ));
            if case.binary == "digest" {
                let seed: Vec<String> = queued.values().flatten().cloned().collect();
                rt.block_on(resources.seed_digest(&seed))?;
            }
            let mut env = resolve_env(&template, &f, &resources.stand_ins())?;
            if let Some(wait) = env.get("DIGEST_RECEIVE_WAIT_SECONDS") {
                notes.insert(
                    case.binary,
                    format!("the first invocation includes the empty receive that ends the drain (long poll, DIGEST_RECEIVE_WAIT_SECONDS={wait})"),
                );
            }
            env.extend(aws_env(moto.endpoint()));
            env.extend(lambda_env(&template, &f, case.binary, &opts.bin_dir));
            let event = std::fs::read(triage_testkit::repo_root().join("events").join(case.sample))
                .map_err(|e| format!("events/{}: {e}", case.sample))?;
            let log = opts.log_dir.join(format!("{}.log", case.binary));
            let timeout = Duration::from_secs(f.timeout.unwrap_or(30).max(5));
            let start = start_once(
                &opts.bin_dir.join(case.binary),
                env,
                invocation(case.binary, round, timeout, event),
                timeout,
                &log,
            )
            .map_err(|e| format!("{} (round {round}): {e}", case.binary))?;
            check(case.binary, &start.response).map_err(|e| {
                format!(
                    "{} (round {round}): {e}; log: {}",
                    case.binary,
                    log.display()
                )
            })?;
            if case.binary != "digest" {
                queued.insert(case.binary, rt.block_on(resources.queued_digest_bodies()));
            }
            eprintln!(
                "cold start {:<18} round {round:>2}{}: ready {:>6.1} ms, first invocation {:>7.1} ms, peak RSS {:>5.1} MB",
                case.binary,
                if round == 0 { " (warm-up)" } else { "" },
                ms(start.ready),
                ms(start.first_invocation),
                kib_to_mb(start.peak_rss_kib),
            );
            if round > 0 {
                starts.entry(case.binary).or_default().push(start);
            }
        }
    }
    drop(moto);
    Ok(cases
        .iter()
        .filter_map(|c| {
            let f = template.function(c.binary).ok()?;
            let mut r = row(c.binary, memory_mb(&template, &f), starts.get(c.binary)?);
            if let Some(note) = notes.get(c.binary) {
                r["note"] = json!(note);
            }
            Some(r)
        })
        .collect())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn row(binary: &str, memory_size_mb: u64, starts: &[Start]) -> Value {
    let ready = Stats::of(starts.iter().map(|s| ms(s.ready)));
    let first = Stats::of(starts.iter().map(|s| ms(s.first_invocation)));
    let total = Stats::of(starts.iter().map(|s| ms(s.exec_to_response)));
    let rss = Stats::of(starts.iter().map(|s| kib_to_mb(s.peak_rss_kib)));
    let pass = ready.median < READY_TARGET_MS && rss.max < RSS_TARGET_MB;
    json!({
        "bench": "cold_start",
        "function": binary,
        "runs": starts.len(),
        "memory_size_mb": memory_size_mb,
        "ready_ms": ready.json(),
        "first_invocation_ms": first.json(),
        "exec_to_response_ms": total.json(),
        "peak_rss_mb": rss.json(),
        "response": starts.last().map(|s| s.response.clone()),
        "target": {"ready_ms": READY_TARGET_MS, "peak_rss_mb": RSS_TARGET_MB},
        "pass": pass,
    })
}

/// The first invocation must have done the real work: tickets sent, or a digest published.
fn check(binary: &str, response: &Value) -> Result<(), String> {
    let field = if binary == "digest" {
        "published"
    } else {
        "tickets"
    };
    match response.get(field).and_then(Value::as_u64) {
        Some(n) if n > 0 => Ok(()),
        _ => Err(format!(
            "the first invocation's response has no {field}: {response}"
        )),
    }
}

fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// What the Lambda service sets for a `provided.al2023` function (the Runtime API address is
/// added per start).
fn lambda_env(
    t: &Template,
    f: &stack_tests::Function,
    binary: &str,
    bin_dir: &Path,
) -> Vec<(String, String)> {
    let name = format!("triage-bench-{binary}");
    let log_format = f
        .properties
        .get("LoggingConfig")
        .and_then(|l| l.get("LogFormat"))
        .and_then(stack_tests::Value::as_str)
        .unwrap_or("Text")
        .to_owned();
    vec![
        ("AWS_LAMBDA_FUNCTION_NAME".into(), name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            memory_mb(t, f).to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{name}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "bench".into()),
        ("AWS_LAMBDA_LOG_FORMAT".into(), log_format),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("LAMBDA_TASK_ROOT".into(), bin_dir.display().to_string()),
        ("_HANDLER".into(), "bootstrap".into()),
        ("TZ".into(), ":UTC".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
    ]
}

fn invocation(binary: &str, round: usize, timeout: Duration, event: Vec<u8>) -> Invocation {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    Invocation {
        request_id: format!("00000000-0000-4000-8000-{round:012}"),
        function_arn: format!(
            "arn:aws:lambda:us-east-1:111122223333:function:triage-bench-{binary}"
        ),
        deadline_ms: now_ms.saturating_add(timeout_ms),
        event,
    }
}

/// The child, killed (and reaped) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn start_once(
    exe: &Path,
    env: BTreeMap<String, String>,
    invocation: Invocation,
    timeout: Duration,
    log: &Path,
) -> Result<Start, String> {
    let api = RuntimeApi::start(invocation).map_err(|e| format!("runtime API: {e}"))?;
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command
        .env_clear()
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let t0 = Instant::now();
    let mut child = Running(
        command
            .spawn()
            .map_err(|e| format!("cannot exec {}: {e}", exe.display()))?,
    );
    let deadline = t0 + timeout;
    let (mut ready, mut served, mut responded) = (None, None, None);
    let mut response = Value::Null;
    loop {
        if Instant::now() > deadline {
            return Err(format!(
                "no {} within {timeout:?}\n{}",
                match (ready, responded) {
                    (None, _) => "first `next`",
                    (Some(_), None) => "response",
                    _ => "second `next`",
                },
                log_tail(log)
            ));
        }
        match api.report(Duration::from_millis(10)) {
            Ok(Report::Next { n: 1, at }) => ready = Some(at.duration_since(t0)),
            Ok(Report::Next { .. }) => break,
            Ok(Report::Served { at }) => served = Some(at),
            Ok(Report::Response { at, body }) => {
                responded = Some(at);
                response = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            }
            Ok(Report::Error { path, body }) => {
                return Err(format!(
                    "{path}: {}\n{}",
                    String::from_utf8_lossy(&body),
                    log_tail(log)
                ));
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.0.try_wait() {
                    return Err(format!("exited with {status}\n{}", log_tail(log)));
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Err("runtime API stopped".into()),
        }
    }
    let peak_rss_kib = peak_rss_kib(child.0.id())?;
    drop(child);
    match (ready, served, responded) {
        (Some(ready), Some(served), Some(responded)) => Ok(Start {
            ready,
            first_invocation: responded.duration_since(served),
            exec_to_response: responded.duration_since(t0),
            peak_rss_kib,
            response,
        }),
        _ => Err(format!(
            "asked for a second event without answering the first\n{}",
            log_tail(log)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_without_tickets_or_digest_does_not_count() {
        assert!(check("log-detector", &json!({"tickets": 1})).is_ok());
        assert!(check("log-detector", &json!({"tickets": 0})).is_err());
        assert!(check("digest", &json!({"published": 1})).is_ok());
        assert!(check("digest", &json!({"published": 0, "entries": 3})).is_err());
        assert!(check("digest", &json!("oops")).is_err());
    }

    #[test]
    fn a_row_passes_only_under_both_targets() {
        let start = |ready_ms: u64, kib: u64| Start {
            ready: Duration::from_millis(ready_ms),
            first_invocation: Duration::from_millis(5),
            exec_to_response: Duration::from_millis(ready_ms + 5),
            peak_rss_kib: kib,
            response: json!({}),
        };
        let fast_small = [start(4, 10_000), start(6, 11_000), start(30, 10_000)];
        assert_eq!(row("f", 256, &fast_small)["pass"], json!(true));
        assert_eq!(row("f", 256, &fast_small)["ready_ms"]["median"], json!(6.0));
        let one_too_big = [start(4, 10_000), start(6, 40_000)];
        assert_eq!(row("f", 256, &one_too_big)["pass"], json!(false));
        let slow = [start(25, 10_000), start(21, 10_000)];
        assert_eq!(row("f", 256, &slow)["pass"], json!(false));
    }
}
