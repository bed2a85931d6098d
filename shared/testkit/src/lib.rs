//! Test harness shared by the integration tests: a moto server started on a free loopback port
//! and stopped when dropped, SDK clients pointed at it, and the repository's sample events.

pub mod faults;
pub mod hostile;
pub mod jira;
pub mod loopback;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (where `events/` and `.venv/` are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A sample from `events/`, parsed. Panics (this is test code) with the file name if it is
/// missing or not JSON.
pub fn event(name: &str) -> serde_json::Value {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read sample {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("sample {} is not JSON: {e}", path.display()))
}

/// Every `*.json` file in `events/`, sorted.
pub fn all_event_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("events"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Where the `moto_server` executable is: `$MOTO_SERVER`, else the repository's `.venv`, else
/// `PATH`.
fn moto_executable() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// A moto server on 127.0.0.1, killed when dropped.
pub struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    /// Starts moto server on a free loopback port and waits until it answers. Panics with the
    /// way to install it if it cannot be started: a test that needs AWS must not pass without it.
    pub fn start() -> MotoServer {
        let exe = moto_executable();
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {} ({e}); run scripts/setup-tools (or scripts/test) to install moto into .venv",
                        exe.display()
                    )
                });
            let mut server = MotoServer {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
            };
            match server.wait_ready(port, Duration::from_secs(30)) {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("moto server did not become ready: {last_error}");
    }

    fn wait_ready(&mut self, port: u16, timeout: Duration) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("moto_server exited early with {status}"));
            }
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                let request = b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
                let mut reply = [0u8; 12];
                if stream.write_all(request).is_ok()
                    && stream.read_exact(&mut reply).is_ok()
                    && reply.starts_with(b"HTTP/1.")
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("no answer on {addr} within {timeout:?}"))
    }

    /// `http://127.0.0.1:<port>`: what `AWS_ENDPOINT_URL` is set to for subprocesses.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SDK configuration pointed at this server: see [`sdk_config_for`].
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint).await
    }
}

/// SDK configuration pointed at a local `endpoint`, with fixed test credentials and region — the
/// same settings `AWS_ENDPOINT_URL` gives a function's `aws_config::load_from_env` (and the
/// SDK's default standard retry of three attempts).
pub async fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "triage-testkit",
        ))
        .load()
        .await
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A FIFO queue and a standard queue and a topic whose deliveries land in a queue, created on
/// moto, for reading back what the router sent.
pub struct Queues {
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub ticket_queue_url: String,
    pub digest_queue_url: String,
    pub alert_topic_arn: String,
    /// An SQS queue subscribed (raw delivery off) to the alert topic.
    pub alert_inbox_url: String,
    pub events: aws_sdk_eventbridge::Client,
    /// triage's EventBridge bus (the template's `TriageEventBus`).
    pub event_bus_name: String,
    /// An SQS queue a rule on the bus sends every `triage` event to.
    pub event_inbox_url: String,
}

impl Queues {
    /// A new queue `name` subscribed to `topic_arn` (raw delivery off) with the subscription
    /// filter policy `filter_policy` (on message attributes): what a team's subscription is.
    pub async fn subscribe_filtered(
        &self,
        topic_arn: &str,
        name: &str,
        filter_policy: &str,
    ) -> String {
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create queue {name}: {e:?}"))
            .queue_url()
            .unwrap_or_default()
            .to_owned();
        let arn_attribute = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(arn_attribute.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("queue arn of {name}: {e:?}"))
            .attributes()
            .and_then(|a| a.get(&arn_attribute).cloned())
            .unwrap_or_default();
        self.sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("FilterPolicy", filter_policy)
            .send()
            .await
            .unwrap_or_else(|e| panic!("subscribe {name}: {e:?}"));
        url
    }

    pub async fn create(moto: &MotoServer, prefix: &str) -> Queues {
        let config = moto.sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let fifo = |name: String| {
            let sqs = sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(name)
                    .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("create FIFO queue: {e:?}"))
                    .queue_url()
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let standard = |name: String| {
            let sqs = sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(name)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("create queue: {e:?}"))
                    .queue_url()
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let ticket_queue_url = fifo(format!("{prefix}-tickets.fifo")).await;
        let digest_queue_url = standard(format!("{prefix}-digest")).await;
        let (alert_topic_arn, alert_inbox_url) = topic_with_inbox(
            &sqs,
            &sns,
            &format!("{prefix}-alerts"),
            &format!("{prefix}-alert-inbox"),
        )
        .await;
        let events = aws_sdk_eventbridge::Client::new(&config);
        let event_bus_name = format!("{prefix}-events");
        events
            .create_event_bus()
            .name(&event_bus_name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create event bus: {e:?}"));
        let event_inbox_url = bus_with_inbox(
            &sqs,
            &events,
            &event_bus_name,
            &format!("{prefix}-event-inbox"),
        )
        .await;
        Queues {
            sqs,
            sns,
            ticket_queue_url,
            digest_queue_url,
            alert_topic_arn,
            alert_inbox_url,
            events,
            event_bus_name,
            event_inbox_url,
        }
    }

    /// The queues and alert topic someone else created on the moto at `endpoint` (the ones
    /// `scripts/local-aws` prints), with an inbox subscribed to the alert topic: SNS's
    /// CreateTopic returns an existing topic's ARN.
    pub async fn attach(
        endpoint: &str,
        ticket_queue_url: &str,
        digest_queue_url: &str,
        alert_topic_name: &str,
        event_bus_name: &str,
    ) -> Queues {
        let config = sdk_config_for(endpoint).await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let (alert_topic_arn, alert_inbox_url) = topic_with_inbox(
            &sqs,
            &sns,
            alert_topic_name,
            &format!("{alert_topic_name}-inbox"),
        )
        .await;
        let events = aws_sdk_eventbridge::Client::new(&config);
        let event_inbox_url = bus_with_inbox(
            &sqs,
            &events,
            event_bus_name,
            &format!("{event_bus_name}-inbox"),
        )
        .await;
        Queues {
            sqs,
            sns,
            ticket_queue_url: ticket_queue_url.to_owned(),
            digest_queue_url: digest_queue_url.to_owned(),
            alert_topic_arn,
            alert_inbox_url,
            events,
            event_bus_name: event_bus_name.to_owned(),
            event_inbox_url,
        }
    }

    /// Receives until the queue is empty; returns every message, deleting none.
    pub async fn drain(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(300)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap_or_else(|e| panic!("receive: {e:?}"));
            let messages = got.messages().to_vec();
            if messages.is_empty() {
                return out;
            }
            out.extend(messages);
        }
    }
}

/// A dedup table like the template's (partition key `fingerprint`, TTL on `expires_at`), created
/// on moto.
pub struct DedupTable {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
}

impl DedupTable {
    pub async fn create(moto: &MotoServer, name: &str) -> DedupTable {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            TimeToLiveSpecification,
        };
        let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
        let build =
            |e: aws_sdk_dynamodb::error::BuildError| -> ! { panic!("table definition: {e}") };
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("fingerprint")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap_or_else(|e| build(e)),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("fingerprint")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap_or_else(|e| build(e)),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .unwrap_or_else(|e| build(e)),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("enable TTL on {name}: {e:?}"));
        DedupTable {
            client,
            name: name.to_owned(),
        }
    }

    /// Every item, as attribute maps (a scan: test tables are small).
    pub async fn items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|e| panic!("scan {}: {e:?}", self.name));
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return out;
            }
        }
    }
}

/// Creates the topic `topic` and the queue `inbox`, and subscribes the queue to the topic (raw
/// delivery off). Returns (topic ARN, queue URL).
/// A queue that a rule on `bus_name` sends every `triage` event to (what a user's rule does).
async fn bus_with_inbox(
    sqs: &aws_sdk_sqs::Client,
    events: &aws_sdk_eventbridge::Client,
    bus_name: &str,
    inbox: &str,
) -> String {
    let url = sqs
        .create_queue()
        .queue_name(inbox)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {inbox}: {e:?}"))
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn_attribute = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(arn_attribute.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue arn of {inbox}: {e:?}"))
        .attributes()
        .and_then(|a| a.get(&arn_attribute).cloned())
        .unwrap_or_default();
    let rule = format!("{inbox}-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(bus_name)
        .event_pattern(r#"{"source": ["triage"]}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule {rule}: {e:?}"));
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("inbox")
        .arn(arn)
        .build()
        .unwrap_or_else(|e| panic!("target: {e:?}"));
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(bus_name)
        .targets(target)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put targets {rule}: {e:?}"));
    url
}

async fn topic_with_inbox(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    topic: &str,
    inbox: &str,
) -> (String, String) {
    let topic_arn = sns
        .create_topic()
        .name(topic)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create topic: {e:?}"))
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    let inbox_url = sqs
        .create_queue()
        .queue_name(inbox)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue: {e:?}"))
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let inbox_arn = sqs
        .get_queue_attributes()
        .queue_url(&inbox_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue arn: {e:?}"))
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(inbox_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("subscribe inbox: {e:?}"));
    (topic_arn, inbox_url)
}

/// An SNS topic with an SQS queue subscribed to it (raw delivery off, as an email or chat
/// integration would see the notification), for reading back what was published.
pub struct TopicInbox {
    pub topic_arn: String,
    pub inbox_url: String,
}

impl TopicInbox {
    pub async fn create(q: &Queues, name: &str) -> TopicInbox {
        let (topic_arn, inbox_url) =
            topic_with_inbox(&q.sqs, &q.sns, name, &format!("{name}-inbox")).await;
        TopicInbox {
            topic_arn,
            inbox_url,
        }
    }

    /// The SNS notifications delivered so far (`{"Type": "Notification", "Subject", "Message"…}`),
    /// deleting none.
    pub async fn notifications(&self, q: &Queues) -> Vec<serde_json::Value> {
        q.drain(&self.inbox_url)
            .await
            .iter()
            .map(|m| {
                serde_json::from_str(m.body().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("SNS notification is not JSON: {e}"))
            })
            .collect()
    }
}

/// Approximate number of messages on a queue, visible and in flight.
pub async fn queue_depth(q: &Queues, queue_url: &str) -> (usize, usize) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = q
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue attributes: {e:?}"));
    let get = |name: &A| {
        out.attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        get(&A::ApproximateNumberOfMessages),
        get(&A::ApproximateNumberOfMessagesNotVisible),
    )
}
