//! [`FaultProxy`]: an HTTP/1.1 proxy on a free loopback port in front of a [`MotoServer`] that
//! injects the faults AWS services really produce, according to a deterministic [`FaultPlan`].
//!
//! Point the real AWS SDK at [`FaultProxy::endpoint`] (or use [`FaultProxy::sdk_config`], the
//! same settings as [`MotoServer::sdk_config`]): the SDK signs and sends its requests as it
//! would to AWS, keeps its standard retry (three attempts) on, and sees, per request, one of
//!
//! | fault | what the client sees |
//! |---|---|
//! | [`Fault::Pass`] | moto's answer |
//! | [`Fault::Throttle`] | the service's throttling error in its protocol: SQS (awsJson1_0, query compatible) `400 {"__type":"com.amazonaws.sqs#ThrottlingException"}` with `x-amzn-query-error: ThrottlingException;Sender`; DynamoDB `400 {"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"}`; awsQuery services (SNS) `400 <ErrorResponse>` with `Code` `Throttling` — codes the SDK's `AwsErrorCodeClassifier` classifies as throttling (aws-runtime `THROTTLING_ERRORS`) |
//! | [`Fault::InternalError`] | `500` `InternalError` (SQS), `InternalServerError` (DynamoDB), `InternalError` (query): retried by the SDK's HTTP status classifier |
//! | [`Fault::DropBefore`] | the connection closes after the request was read, before it is forwarded: nothing happened |
//! | [`Fault::DropAfter`] | the request is forwarded and took effect, then the connection closes before the answer: the client never learns it (this is what creates duplicates) |
//! | [`Fault::PartialBatch`] | `SendMessageBatch` / `DeleteMessageBatch` are forwarded, then the answer is rewritten so that some `Successful` entries are reported in `Failed` with `SenderFault: false` (the entries did take effect); other operations pass |
//!
//! The plan is deterministic: the fault of a request is drawn from a xorshift generator seeded
//! with the plan's seed, the request's identity (service, operation and body, with JSON keys
//! sorted and the loopback ports of moto and the proxy left out) and how many times that
//! identical request was seen before. The same requests therefore get the same faults in every
//! run, whatever the interleaving of concurrent callers; a retry of a request (same body) gets a
//! fresh draw. Requests whose body differs between runs (a wall-clock time, a receipt handle)
//! get different draws.
//!
//! The proxy counts what it injected ([`FaultProxy::stats`], per operation too) and stops when
//! dropped: the listener is closed, every open connection is shut down and every thread joined.
//! `PublishBatch` (SNS) answers are not rewritten: triage publishes one message per call.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::MotoServer;

/// The largest request or response body the proxy relays.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// The largest request or response head.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long the proxy waits for moto's answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    Pass,
    Throttle,
    InternalError,
    DropBefore,
    DropAfter,
    PartialBatch,
}

/// Which faults to inject, how often, and to which operations. Rates are probabilities per
/// request (0.0 … 1.0, summing to at most 1.0); whatever is left passes.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    seed: u64,
    throttle: f64,
    internal_error: f64,
    drop_before: f64,
    drop_after: f64,
    partial_batch: f64,
    operations: Option<Vec<String>>,
    sightings: Option<u64>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::none()
    }
}

impl FaultPlan {
    /// Every request passes.
    pub fn none() -> Self {
        FaultPlan::seeded(0)
    }

    /// No fault yet, with this seed; add rates with the builder methods.
    pub fn seeded(seed: u64) -> Self {
        FaultPlan {
            seed,
            throttle: 0.0,
            internal_error: 0.0,
            drop_before: 0.0,
            drop_after: 0.0,
            partial_batch: 0.0,
            operations: None,
            sightings: None,
        }
    }

    fn rate(r: f64) -> f64 {
        if r.is_nan() { 0.0 } else { r.clamp(0.0, 1.0) }
    }

    pub fn throttle(mut self, rate: f64) -> Self {
        self.throttle = Self::rate(rate);
        self
    }

    pub fn internal_error(mut self, rate: f64) -> Self {
        self.internal_error = Self::rate(rate);
        self
    }

    pub fn drop_before(mut self, rate: f64) -> Self {
        self.drop_before = Self::rate(rate);
        self
    }

    pub fn drop_after(mut self, rate: f64) -> Self {
        self.drop_after = Self::rate(rate);
        self
    }

    /// Rate of rewritten batch answers, among `SendMessageBatch` and `DeleteMessageBatch`
    /// requests (other operations pass where this fault is drawn).
    pub fn partial_batch(mut self, rate: f64) -> Self {
        self.partial_batch = Self::rate(rate);
        self
    }

    /// Injects faults only into these operations (`"Publish"`, `"SendMessageBatch"`,
    /// `"PutItem"`…); every other request passes.
    pub fn only(mut self, operations: &[&str]) -> Self {
        self.operations = Some(operations.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Injects faults only into the first `n` sightings of each request: with `n = 1` and a rate
    /// of 1.0 the first attempt fails and the SDK's retry of it passes.
    pub fn first_sightings(mut self, n: u64) -> Self {
        self.sightings = Some(n);
        self
    }

    /// The fault of the `occurrence`-th (0-based) sighting of the request `key` (a hash of its
    /// service, operation and body) for `operation`. Pure.
    pub fn decide(&self, operation: &str, key: u64, occurrence: u64) -> Fault {
        if let Some(ops) = &self.operations {
            if !ops.iter().any(|o| o == operation) {
                return Fault::Pass;
            }
        }
        if self.sightings.is_some_and(|n| occurrence >= n) {
            return Fault::Pass;
        }
        let u = unit(draw(self.seed, key, occurrence));
        let mut edge = 0.0;
        for (rate, fault) in [
            (self.throttle, Fault::Throttle),
            (self.internal_error, Fault::InternalError),
            (self.drop_before, Fault::DropBefore),
            (self.drop_after, Fault::DropAfter),
            (self.partial_batch, Fault::PartialBatch),
        ] {
            edge += rate;
            if u < edge {
                if fault == Fault::PartialBatch && !is_batch(operation) {
                    return Fault::Pass;
                }
                return fault;
            }
        }
        Fault::Pass
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={} throttle={} internal_error={} drop_before={} drop_after={} partial_batch={}",
            self.seed,
            self.throttle,
            self.internal_error,
            self.drop_before,
            self.drop_after,
            self.partial_batch
        )?;
        if let Some(ops) = &self.operations {
            write!(f, " only={}", ops.join(","))?;
        }
        if let Some(n) = self.sightings {
            write!(f, " first_sightings={n}")?;
        }
        Ok(())
    }
}

fn is_batch(operation: &str) -> bool {
    matches!(operation, "SendMessageBatch" | "DeleteMessageBatch")
}

/// xorshift64* of a seed mixed from the plan seed, the request key and its occurrence.
fn draw(seed: u64, key: u64, occurrence: u64) -> u64 {
    let mut x = seed ^ key.rotate_left(17) ^ occurrence.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    if x == 0 {
        x = 0x2545_F491_4F6C_DD1D;
    }
    // A few rounds so that nearby inputs give unrelated outputs.
    for _ in 0..4 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
    }
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A uniform number in [0, 1) from the top 53 bits.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a over byte strings, each terminated so that ("ab","c") and ("a","bc") differ.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Prefixes of strings that are random by design in a request body: the DynamoDB dedup store's
/// per-attempt write tokens (`triage_aws::WRITE_TOKEN_PREFIX`, then 32 hex digits).
pub const RANDOM_TOKEN_PREFIXES: &[&str] = &["wt-"];

/// Whether a JSON string is a random token (masked before the fault is drawn).
fn is_random_token(s: &str) -> bool {
    RANDOM_TOKEN_PREFIXES.iter().any(|p| {
        s.strip_prefix(p)
            .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// A request body with the keys of every JSON object sorted — the SDK serialises maps (DynamoDB
/// items, expression attributes) in hash order, which differs from process to process — random
/// tokens masked, and the loopback addresses of moto and the proxy (in queue URLs) replaced: the
/// fault drawn for a request must depend on none of them. (An SDK retry resends the same body,
/// token included, so its sightings still count up.)
fn canonical_body(body: &[u8], addresses: &[&SocketAddr]) -> Vec<u8> {
    let mut text = match sorted_json(body) {
        Some(json) => json,
        None => String::from_utf8_lossy(body).into_owned(),
    };
    for addr in addresses {
        for form in [addr.to_string(), addr.to_string().replace(':', "%3A")] {
            text = text.replace(&form, "loopback");
        }
    }
    text.into_bytes()
}

/// A JSON document with the keys of every object sorted; `None` if the body is not JSON.
fn sorted_json(body: &[u8]) -> Option<String> {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            serde_json::Value::String(s) if is_random_token(s) => out.push_str("\"token\""),
            other => out.push_str(&other.to_string()),
        }
    }
    let v = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let mut out = String::with_capacity(body.len());
    write(&v, &mut out);
    Some(out)
}

/// What the proxy did, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub requests: u64,
    pub passed: u64,
    pub throttled: u64,
    pub internal_errors: u64,
    pub dropped_before: u64,
    pub dropped_after: u64,
    /// Batch answers rewritten…
    pub partial_batches: u64,
    /// …and the entries they reported failed.
    pub failed_entries: u64,
}

impl FaultCounts {
    /// Requests that got a fault.
    pub fn injected(&self) -> u64 {
        self.throttled
            + self.internal_errors
            + self.dropped_before
            + self.dropped_after
            + self.partial_batches
    }

    fn add(&mut self, fault: Fault, failed_entries: u64) {
        self.requests += 1;
        match fault {
            Fault::Pass => self.passed += 1,
            Fault::Throttle => self.throttled += 1,
            Fault::InternalError => self.internal_errors += 1,
            Fault::DropBefore => self.dropped_before += 1,
            Fault::DropAfter => self.dropped_after += 1,
            Fault::PartialBatch => {
                self.partial_batches += 1;
                self.failed_entries += failed_entries;
            }
        }
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (throttle={} 500={} drop_before={} drop_after={} partial_batch={}/{} entries; requests={})",
            self.injected(),
            self.throttled,
            self.internal_errors,
            self.dropped_before,
            self.dropped_after,
            self.partial_batches,
            self.failed_entries,
            self.requests
        )
    }
}

/// Counts in total and per operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub total: FaultCounts,
    pub by_operation: BTreeMap<String, FaultCounts>,
}

impl FaultStats {
    pub fn operation(&self, name: &str) -> FaultCounts {
        self.by_operation.get(name).copied().unwrap_or_default()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Shared {
    upstream: SocketAddr,
    /// The proxy's own address.
    own: SocketAddr,
    plan: Mutex<FaultPlan>,
    seen: Mutex<HashMap<u64, u64>>,
    stats: Mutex<FaultStats>,
    receipt_handles: Mutex<Vec<String>>,
    stopping: AtomicBool,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    next_socket: AtomicU64,
    workers: Mutex<Vec<JoinHandle<()>>>,
    live_threads: Arc<AtomicUsize>,
}

impl Shared {
    /// Keeps a handle to a socket so that dropping the proxy can shut it down.
    fn register(&self, stream: &TcpStream) -> Option<SocketGuard<'_>> {
        let clone = stream.try_clone().ok()?;
        let id = self.next_socket.fetch_add(1, Ordering::SeqCst);
        lock(&self.sockets).insert(id, clone);
        Some(SocketGuard { shared: self, id })
    }

    fn decide(&self, call: &Call, body: &[u8]) -> (Fault, u64) {
        let body = canonical_body(body, &[&self.upstream, &self.own]);
        let key = fnv1a(&[call.service.as_bytes(), call.operation.as_bytes(), &body]);
        let occurrence = {
            let mut seen = lock(&self.seen);
            let n = seen.entry(key).or_insert(0);
            let occurrence = *n;
            *n += 1;
            occurrence
        };
        let fault = lock(&self.plan).decide(&call.operation, key, occurrence);
        (fault, draw(key, occurrence, 0x5eed))
    }

    fn count(&self, call: &Call, fault: Fault, failed_entries: u64) {
        let mut stats = lock(&self.stats);
        stats.total.add(fault, failed_entries);
        stats
            .by_operation
            .entry(call.operation.clone())
            .or_default()
            .add(fault, failed_entries);
    }
}

struct SocketGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for SocketGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.sockets).remove(&self.id);
    }
}

/// Counts a thread as alive while it exists.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(gauge: &Arc<AtomicUsize>) -> Alive {
        gauge.fetch_add(1, Ordering::SeqCst);
        Alive(gauge.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of moto; stops when dropped.
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    endpoint: String,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `moto` on a free loopback port. Panics (this is test code) if
    /// no port can be bound.
    pub fn start(moto: &MotoServer, plan: FaultPlan) -> FaultProxy {
        FaultProxy::start_for(moto.endpoint(), plan)
            .unwrap_or_else(|e| panic!("cannot start the fault proxy: {e}"))
    }

    /// Starts a proxy in front of any `http://127.0.0.1:<port>` endpoint.
    pub fn start_for(upstream_endpoint: &str, plan: FaultPlan) -> io::Result<FaultProxy> {
        let upstream: SocketAddr = upstream_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("upstream {upstream_endpoint:?} is not http://ip:port: {e}"),
                )
            })?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            own: addr,
            plan: Mutex::new(plan),
            seen: Mutex::new(HashMap::new()),
            stats: Mutex::new(FaultStats::default()),
            receipt_handles: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            sockets: Mutex::new(HashMap::new()),
            next_socket: AtomicU64::new(0),
            workers: Mutex::new(Vec::new()),
            live_threads: Arc::new(AtomicUsize::new(0)),
        });
        let acceptor = {
            let shared = shared.clone();
            let alive = Alive::new(&shared.live_threads);
            std::thread::Builder::new()
                .name("fault-proxy-accept".into())
                .spawn(move || {
                    let _alive = alive;
                    accept_loop(&shared, listener);
                })?
        };
        Ok(FaultProxy {
            shared,
            addr,
            endpoint: format!("http://{addr}"),
            acceptor: Some(acceptor),
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give the SDK.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SDK configuration pointed at the proxy: the same settings as
    /// [`MotoServer::sdk_config`] (fixed test credentials, us-east-1, the default standard
    /// retry of three attempts).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
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

    /// Replaces the plan; requests already being handled keep the old one.
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.shared.plan) = plan;
    }

    pub fn plan(&self) -> FaultPlan {
        lock(&self.shared.plan).clone()
    }

    /// What was injected so far.
    pub fn stats(&self) -> FaultStats {
        lock(&self.shared.stats).clone()
    }

    /// Returns the counts so far and starts counting from zero.
    pub fn take_stats(&self) -> FaultStats {
        std::mem::take(&mut *lock(&self.shared.stats))
    }

    /// Every `ReceiptHandle` of the `ReceiveMessage` answers relayed so far (JSON protocol), so
    /// that a test can make messages a failed run left in flight visible again
    /// (`ChangeMessageVisibility` to 0) instead of waiting out their visibility timeout.
    pub fn receipt_handles(&self) -> Vec<String> {
        lock(&self.shared.receipt_handles).clone()
    }

    /// The number of the proxy's threads still running: 0 once it is dropped.
    pub fn live_threads(&self) -> Arc<AtomicUsize> {
        self.shared.live_threads.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor, which sees `stopping` and closes the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for socket in lock(&self.shared.sockets).values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let workers = std::mem::take(&mut *lock(&self.shared.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let worker = {
            let shared = shared.clone();
            let alive = Alive::new(&shared.live_threads);
            std::thread::Builder::new()
                .name("fault-proxy-conn".into())
                .spawn(move || {
                    let _alive = alive;
                    serve(&shared, stream);
                })
        };
        if let Ok(worker) = worker {
            let mut workers = lock(&shared.workers);
            workers.retain(|w| !w.is_finished());
            workers.push(worker);
        }
    }
}

// ------------------------------------------------------------------------------------------
// HTTP/1.1
// ------------------------------------------------------------------------------------------

type Headers = Vec<(String, String)>;

#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: Headers,
    body: Vec<u8>,
    /// The client asked to close the connection after this exchange.
    close: bool,
}

#[derive(Debug, Clone)]
struct Response {
    status: u16,
    reason: String,
    headers: Headers,
    body: Vec<u8>,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads a head (start line and headers). `Ok(None)` on a clean end of stream before it.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<(String, Headers)>> {
    let mut start = String::new();
    loop {
        start.clear();
        if reader.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        if !start.trim().is_empty() {
            break;
        }
    }
    let mut headers = Vec::new();
    let mut size = start.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            return Err(invalid("end of stream inside a head"));
        }
        size += n;
        if size > MAX_HEAD_BYTES {
            return Err(invalid("head too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    Ok(Some((start.trim_end().to_owned(), headers)))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("end of stream inside a chunked body"));
        }
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(invalid("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

/// The body that follows a head: chunked, `Content-Length`, or (for responses only) up to the
/// end of the stream.
fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    to_eof_allowed: bool,
) -> io::Result<Vec<u8>> {
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return read_chunked(reader);
    }
    if let Some(len) = header(headers, "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
        if len > MAX_BODY_BYTES {
            return Err(invalid("body too large"));
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if to_eof_allowed {
        reader
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)?;
        if body.len() > MAX_BODY_BYTES {
            return Err(invalid("body too large"));
        }
    }
    Ok(body)
}

fn read_request(reader: &mut impl BufRead, writer: &mut impl Write) -> io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = start.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line {start:?}")));
    };
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let body = read_body(reader, &headers, false)?;
    let connection = header(&headers, "connection").map(str::to_ascii_lowercase);
    let close = connection.as_deref() == Some("close")
        || (version == "HTTP/1.0" && connection.as_deref() != Some("keep-alive"));
    Ok(Some(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body,
        close,
    }))
}

/// Headers that describe one hop, not the message: the proxy sets its own.
fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "proxy-connection",
        "te",
        "upgrade",
        "expect",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

fn forward(shared: &Shared, request: &Request) -> io::Result<Response> {
    let upstream = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(5))?;
    let _guard = shared.register(&upstream);
    upstream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    upstream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    upstream.set_nodelay(true)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (k, v) in &request.headers {
        if !hop_by_hop(k) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    let mut writer = upstream.try_clone()?;
    writer.write_all(head.as_bytes())?;
    writer.write_all(&request.body)?;
    writer.flush()?;
    let mut reader = BufReader::new(upstream);
    let (start, headers) =
        read_head(&mut reader)?.ok_or_else(|| invalid("moto closed without answering"))?;
    let mut parts = start.splitn(3, ' ');
    let _version = parts.next();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {start:?}")))?;
    let reason = parts.next().unwrap_or_default().to_owned();
    let body = if request.method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
        Vec::new()
    } else {
        read_body(&mut reader, &headers, true)?
    };
    Ok(Response {
        status,
        reason,
        headers,
        body,
    })
}

fn write_response(writer: &mut impl Write, response: &Response, close: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    for (k, v) in &response.headers {
        if !hop_by_hop(k) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(&response.body)?;
    writer.flush()
}

// ------------------------------------------------------------------------------------------
// AWS protocols
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// awsJson1_0 / 1_1 (`X-Amz-Target`).
    Json,
    /// awsQuery (form body with `Action=`), XML answers.
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    /// The SigV4 signing name (`sqs`, `sns`, `dynamodb`).
    service: String,
    operation: String,
    protocol: Protocol,
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn classify(request: &Request) -> Call {
    let service = header(&request.headers, "authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .map(str::to_owned);
    let target = header(&request.headers, "x-amz-target");
    match target {
        Some(target) => {
            let (prefix, operation) = target.split_once('.').unwrap_or(("", target));
            let service = service.unwrap_or_else(|| {
                if prefix.starts_with("AmazonSQS") {
                    "sqs".to_owned()
                } else if prefix.starts_with("DynamoDB") {
                    "dynamodb".to_owned()
                } else {
                    prefix.to_ascii_lowercase()
                }
            });
            Call {
                service,
                operation: operation.to_owned(),
                protocol: Protocol::Json,
            }
        }
        None => Call {
            service: service.unwrap_or_default(),
            operation: form_value(&request.body, "Action")
                .or_else(|| {
                    request
                        .target
                        .split_once('?')
                        .and_then(|(_, q)| form_value(q.as_bytes(), "Action"))
                })
                .unwrap_or_default(),
            protocol: Protocol::Query,
        },
    }
}

fn request_id(key: u64) -> String {
    format!("fa017000-0000-4000-8000-{:012x}", key & 0xffff_ffff_ffff)
}

/// The error answer a service gives for a throttled or failed request, in its protocol.
fn error_response(call: &Call, fault: Fault, key: u64) -> Response {
    let throttle = fault == Fault::Throttle;
    let (status, reason) = if throttle {
        (400, "Bad Request")
    } else {
        (500, "Internal Server Error")
    };
    let id = request_id(key);
    match (call.protocol, call.service.as_str()) {
        (Protocol::Json, "sqs") => {
            let (code, kind, message) = if throttle {
                ("ThrottlingException", "Sender", "Rate exceeded")
            } else {
                (
                    "InternalError",
                    "Receiver",
                    "We encountered an internal error. Please try again.",
                )
            };
            Response {
                status,
                reason: reason.into(),
                headers: vec![
                    ("Content-Type".into(), "application/x-amz-json-1.0".into()),
                    ("x-amzn-RequestId".into(), id),
                    ("x-amzn-query-error".into(), format!("{code};{kind}")),
                ],
                body: serde_json::json!({
                    "__type": format!("com.amazonaws.sqs#{code}"),
                    "message": message,
                })
                .to_string()
                .into_bytes(),
            }
        }
        (Protocol::Json, service) => {
            let namespace = if service == "dynamodb" {
                "com.amazonaws.dynamodb.v20120810".to_owned()
            } else {
                format!("com.amazonaws.{service}")
            };
            let (code, message) = if throttle {
                (
                    "ThrottlingException",
                    "Rate of requests exceeds the allowed throughput.",
                )
            } else {
                ("InternalServerError", "Internal server error")
            };
            Response {
                status,
                reason: reason.into(),
                headers: vec![
                    ("Content-Type".into(), "application/x-amz-json-1.0".into()),
                    ("x-amzn-RequestId".into(), id),
                ],
                body: serde_json::json!({
                    "__type": format!("{namespace}#{code}"),
                    "message": message,
                })
                .to_string()
                .into_bytes(),
            }
        }
        (Protocol::Query, _) => {
            let (code, kind, message) = if throttle {
                ("Throttling", "Sender", "Rate exceeded")
            } else {
                ("InternalError", "Receiver", "Internal error")
            };
            let body = format!(
                "<ErrorResponse xmlns=\"http://{}.amazonaws.com/doc/2010-03-31/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                call.service
            );
            Response {
                status,
                reason: reason.into(),
                headers: vec![
                    ("Content-Type".into(), "text/xml".into()),
                    ("x-amzn-RequestId".into(), id),
                ],
                body: body.into_bytes(),
            }
        }
    }
}

/// Moves some of the `Successful` entries of a JSON batch answer to `Failed`, as a transient
/// failure on AWS's side (`SenderFault: false`). `bits` chooses which (at least one). Returns
/// the new body and how many entries it reports failed; `None` if the answer is not a JSON
/// batch answer with successful entries.
fn fail_some_entries(body: &[u8], bits: u64) -> Option<(Vec<u8>, u64)> {
    let mut answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = answer.as_object_mut()?;
    let successful = object.get("Successful")?.as_array()?.clone();
    if successful.is_empty() {
        return None;
    }
    let first = usize::try_from(bits % successful.len() as u64).unwrap_or(0);
    let (mut keep, mut failed) = (Vec::new(), Vec::new());
    for (i, entry) in successful.into_iter().enumerate() {
        let chosen = i == first || (bits >> (8 + (i % 48))) & 1 == 1;
        if chosen {
            let id = entry.get("Id").cloned().unwrap_or(serde_json::Value::Null);
            failed.push(serde_json::json!({
                "Id": id,
                "SenderFault": false,
                "Code": "InternalError",
                "Message": "injected by FaultProxy: the entry may or may not have been processed",
            }));
        } else {
            keep.push(entry);
        }
    }
    let count = failed.len() as u64;
    let mut all_failed = object
        .get("Failed")
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    all_failed.extend(failed);
    object.insert("Successful".into(), serde_json::Value::Array(keep));
    object.insert("Failed".into(), serde_json::Value::Array(all_failed));
    Some((answer.to_string().into_bytes(), count))
}

fn receipt_handles_of(body: &[u8]) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("Messages").and_then(|m| m.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("ReceiptHandle").and_then(|h| h.as_str()))
        .map(str::to_owned)
        .collect()
}

fn bad_gateway(e: &io::Error) -> Response {
    Response {
        status: 502,
        reason: "Bad Gateway".into(),
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("fault proxy: moto did not answer: {e}").into_bytes(),
    }
}

/// One client connection: requests in a loop (keep-alive) until the client closes, a fault
/// drops the connection, or the proxy stops.
fn serve(shared: &Shared, client: TcpStream) {
    let _guard = shared.register(&client);
    let _ = client.set_nodelay(true);
    let Ok(read_half) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = client;
    loop {
        let Ok(Some(request)) = read_request(&mut reader, &mut writer) else {
            return;
        };
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let call = classify(&request);
        let (fault, bits) = shared.decide(&call, &request.body);
        let response = match fault {
            Fault::Throttle | Fault::InternalError => {
                shared.count(&call, fault, 0);
                error_response(&call, fault, bits)
            }
            Fault::DropBefore => {
                shared.count(&call, fault, 0);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Fault::Pass | Fault::DropAfter | Fault::PartialBatch => {
                let mut response = match forward(shared, &request) {
                    Ok(r) => r,
                    Err(e) => {
                        shared.count(&call, Fault::Pass, 0);
                        let _ = write_response(&mut writer, &bad_gateway(&e), true);
                        return;
                    }
                };
                // Messages received are in flight whether or not the answer gets through.
                if call.operation == "ReceiveMessage" && response.status == 200 {
                    lock(&shared.receipt_handles).extend(receipt_handles_of(&response.body));
                }
                if fault == Fault::DropAfter {
                    shared.count(&call, fault, 0);
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
                let rewritten = (fault == Fault::PartialBatch && response.status == 200)
                    .then(|| fail_some_entries(&response.body, bits))
                    .flatten();
                match rewritten {
                    Some((body, failed)) => {
                        shared.count(&call, Fault::PartialBatch, failed);
                        response.body = body;
                    }
                    None => shared.count(&call, Fault::Pass, 0),
                }
                response
            }
        };
        if write_response(&mut writer, &response, request.close).is_err() || request.close {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_same_plan_and_requests_give_the_same_faults_and_the_rates_hold() {
        let plan = FaultPlan::seeded(7)
            .throttle(0.1)
            .internal_error(0.1)
            .drop_before(0.1)
            .drop_after(0.1)
            .partial_batch(0.1);
        let run = |plan: &FaultPlan| -> Vec<Fault> {
            (0..10_000u64)
                .map(|i| plan.decide("SendMessageBatch", fnv1a(&[&i.to_le_bytes()]), i % 3))
                .collect()
        };
        let a = run(&plan);
        assert_eq!(a, run(&plan), "deterministic");
        assert_ne!(
            a,
            run(&FaultPlan {
                seed: 8,
                ..plan.clone()
            }),
            "the seed matters"
        );
        let mut counts: BTreeMap<Fault, usize> = BTreeMap::new();
        for f in &a {
            *counts.entry(*f).or_default() += 1;
        }
        for fault in [
            Fault::Throttle,
            Fault::InternalError,
            Fault::DropBefore,
            Fault::DropAfter,
            Fault::PartialBatch,
        ] {
            let n = counts.get(&fault).copied().unwrap_or(0);
            assert!((800..1200).contains(&n), "{fault:?}: {n} of 10000");
        }
        assert!((4500..5500).contains(&counts[&Fault::Pass]), "{counts:?}");
    }

    #[test]
    fn requests_are_keyed_whatever_their_key_order_and_the_loopback_ports() {
        let moto: SocketAddr = "127.0.0.1:5123".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:6234".parse().unwrap();
        assert_eq!(
            canonical_body(
                br#"{"b":{"y":1,"x":[{"d":2,"c":3}]},"a":"s","QueueUrl":"http://127.0.0.1:5123/1/q"}"#,
                &[&moto]
            ),
            canonical_body(
                br#"{"QueueUrl":"http://127.0.0.1:6234/1/q","a":"s","b":{"x":[{"c":3,"d":2}],"y":1}}"#,
                &[&other]
            )
        );
        assert_ne!(
            canonical_body(br#"{"a":1}"#, &[]),
            canonical_body(br#"{"a":2}"#, &[])
        );
        assert_eq!(
            canonical_body(
                b"Action=Publish&Url=http%3A%2F%2F127.0.0.1%3A5123%2Fq",
                &[&moto]
            ),
            b"Action=Publish&Url=http%3A%2F%2Floopback%2Fq".to_vec()
        );
    }

    #[test]
    fn random_write_tokens_are_masked_and_nothing_else_that_looks_like_one() {
        let token = |hex: &str| format!(r#"{{"Item":{{"write_token":{{"S":"wt-{hex}"}}}}}}"#);
        let a = token("0123456789abcdef0123456789abcdef");
        let b = token("fedcba9876543210fedcba9876543210");
        assert_eq!(
            canonical_body(a.as_bytes(), &[]),
            canonical_body(b.as_bytes(), &[])
        );
        // Not a token: too short, not hex, another prefix.
        for (x, y) in [
            (token("0123"), token("4567")),
            (
                token("0123456789abcdef0123456789abcdeg"),
                token("0123456789abcdef0123456789abcdeh"),
            ),
            (
                r#"{"S":"xt-0123456789abcdef0123456789abcdef"}"#.to_owned(),
                r#"{"S":"xt-fedcba9876543210fedcba9876543210"}"#.to_owned(),
            ),
        ] {
            assert_ne!(
                canonical_body(x.as_bytes(), &[]),
                canonical_body(y.as_bytes(), &[])
            );
        }
    }

    #[test]
    fn first_sightings_limits_faults_to_the_first_attempts_of_a_request() {
        let plan = FaultPlan::seeded(2).drop_after(1.0).first_sightings(1);
        assert_eq!(plan.decide("PutItem", 9, 0), Fault::DropAfter);
        assert_eq!(plan.decide("PutItem", 9, 1), Fault::Pass);
        assert_eq!(plan.decide("PutItem", 10, 0), Fault::DropAfter);
        assert!(plan.to_string().ends_with("first_sightings=1"), "{plan}");
    }

    #[test]
    fn a_retry_of_the_same_request_gets_a_fresh_draw() {
        let plan = FaultPlan::seeded(1).throttle(0.5);
        let key = fnv1a(&[b"sqs", b"SendMessageBatch", b"{}"]);
        let faults: Vec<Fault> = (0..64)
            .map(|n| plan.decide("SendMessageBatch", key, n))
            .collect();
        assert!(faults.contains(&Fault::Pass) && faults.contains(&Fault::Throttle));
    }

    #[test]
    fn partial_batch_only_touches_batch_operations_and_only_limits_the_operations() {
        let plan = FaultPlan::seeded(3).partial_batch(1.0);
        assert_eq!(plan.decide("SendMessageBatch", 1, 0), Fault::PartialBatch);
        assert_eq!(plan.decide("DeleteMessageBatch", 1, 0), Fault::PartialBatch);
        assert_eq!(plan.decide("Publish", 1, 0), Fault::Pass);
        let plan = FaultPlan::seeded(3).throttle(1.0).only(&["Publish"]);
        assert_eq!(plan.decide("Publish", 1, 0), Fault::Throttle);
        assert_eq!(plan.decide("GetItem", 1, 0), Fault::Pass);
        assert_eq!(FaultPlan::none().decide("Publish", 1, 0), Fault::Pass);
    }

    #[test]
    fn a_rewritten_batch_answer_reports_some_entries_failed_on_the_service_side() {
        let body = br#"{"Successful":[{"Id":"0","MessageId":"a"},{"Id":"1","MessageId":"b"},{"Id":"2","MessageId":"c"}],"Failed":[]}"#;
        for bits in [0u64, 1, 2, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def0] {
            let (out, failed) = fail_some_entries(body, bits).expect("rewritten");
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let ok = v["Successful"].as_array().unwrap();
            let bad = v["Failed"].as_array().unwrap();
            assert!(failed >= 1);
            assert_eq!(bad.len() as u64, failed);
            assert_eq!(ok.len() + bad.len(), 3);
            assert!(
                bad.iter()
                    .all(|f| f["SenderFault"] == false && f["Code"] == "InternalError")
            );
            let mut ids: Vec<&str> = ok
                .iter()
                .chain(bad.iter())
                .map(|e| e["Id"].as_str().unwrap())
                .collect();
            ids.sort_unstable();
            assert_eq!(ids, ["0", "1", "2"]);
        }
        assert!(fail_some_entries(br#"{"Successful":[],"Failed":[]}"#, 1).is_none());
        assert!(fail_some_entries(b"<xml/>", 1).is_none());
    }

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: "POST".into(),
            target: "/".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
            close: false,
        }
    }

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=00";

    #[test]
    fn calls_are_recognised_by_signing_name_and_target_or_action() {
        let sqs = request(
            &[
                ("Authorization", &AUTH.replace("{}", "sqs")),
                ("X-Amz-Target", "AmazonSQS.SendMessageBatch"),
            ],
            "{}",
        );
        let call = classify(&sqs);
        assert_eq!(
            (
                call.service.as_str(),
                call.operation.as_str(),
                call.protocol
            ),
            ("sqs", "SendMessageBatch", Protocol::Json)
        );
        let sns = request(
            &[("authorization", &AUTH.replace("{}", "sns"))],
            "Action=Publish&Version=2010-03-31&TopicArn=x",
        );
        let call = classify(&sns);
        assert_eq!(
            (
                call.service.as_str(),
                call.operation.as_str(),
                call.protocol
            ),
            ("sns", "Publish", Protocol::Query)
        );
        let ddb = request(&[("X-Amz-Target", "DynamoDB_20120810.PutItem")], "{}");
        let call = classify(&ddb);
        assert_eq!(
            (call.service.as_str(), call.operation.as_str()),
            ("dynamodb", "PutItem")
        );
    }

    #[test]
    fn throttling_answers_use_each_protocols_error_shape() {
        let call = |service: &str, protocol| Call {
            service: service.into(),
            operation: "X".into(),
            protocol,
        };
        let sqs = error_response(&call("sqs", Protocol::Json), Fault::Throttle, 1);
        assert_eq!(sqs.status, 400);
        assert_eq!(
            header(&sqs.headers, "x-amzn-query-error"),
            Some("ThrottlingException;Sender")
        );
        let v: serde_json::Value = serde_json::from_slice(&sqs.body).unwrap();
        assert_eq!(v["__type"], "com.amazonaws.sqs#ThrottlingException");
        let ddb = error_response(&call("dynamodb", Protocol::Json), Fault::Throttle, 1);
        let v: serde_json::Value = serde_json::from_slice(&ddb.body).unwrap();
        assert_eq!(
            v["__type"],
            "com.amazonaws.dynamodb.v20120810#ThrottlingException"
        );
        let sns = error_response(&call("sns", Protocol::Query), Fault::Throttle, 1);
        let text = String::from_utf8(sns.body).unwrap();
        assert!(text.contains("<Code>Throttling</Code>") && text.starts_with("<ErrorResponse"));
        let e500 = error_response(&call("sns", Protocol::Query), Fault::InternalError, 1);
        assert_eq!(e500.status, 500);
    }

    /// A tiny upstream answering every request with a fixed JSON body, on its own thread.
    fn fixed_upstream(answers: usize) -> (String, JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut served = 0;
            for stream in listener.incoming().take(answers) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (_, headers) = read_head(&mut reader).unwrap().unwrap();
                let _ = read_body(&mut reader, &headers, false).unwrap();
                let body = r#"{"Successful":[{"Id":"0"},{"Id":"1"}],"Failed":[]}"#;
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                served += 1;
            }
            served
        });
        (endpoint, handle)
    }

    fn exchange(stream: &mut TcpStream, body: &str) -> io::Result<Option<(String, Vec<u8>)>> {
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.SendMessageBatch\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let Some((start, headers)) = read_head(&mut reader)? else {
            return Ok(None);
        };
        let body = read_body(&mut reader, &headers, false)?;
        Ok(Some((start, body)))
    }

    #[test]
    fn the_proxy_relays_injects_counts_and_stops_when_dropped() {
        let (upstream, served) = fixed_upstream(3);
        let proxy = FaultProxy::start_for(&upstream, FaultPlan::none()).unwrap();
        let addr: SocketAddr = proxy
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let gauge = proxy.live_threads();

        // Pass, on a kept-alive connection, then a throttle on the same connection.
        let mut client = TcpStream::connect(addr).unwrap();
        let (status, body) = exchange(&mut client, "{\"a\":1}").unwrap().unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert!(String::from_utf8_lossy(&body).contains("Successful"));
        proxy.set_plan(FaultPlan::seeded(1).throttle(1.0));
        let (status, body) = exchange(&mut client, "{\"a\":2}").unwrap().unwrap();
        assert!(status.starts_with("HTTP/1.1 400"), "{status}");
        assert!(String::from_utf8_lossy(&body).contains("ThrottlingException"));

        // A partial batch: forwarded, answer rewritten.
        proxy.set_plan(FaultPlan::seeded(1).partial_batch(1.0));
        let (_, body) = exchange(&mut client, "{\"a\":3}").unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(!v["Failed"].as_array().unwrap().is_empty());

        // Dropped after forwarding: the upstream served it, the client gets no answer.
        proxy.set_plan(FaultPlan::seeded(1).drop_after(1.0));
        let answer = exchange(&mut client, "{\"a\":4}");
        assert!(matches!(answer, Ok(None) | Err(_)), "{answer:?}");

        // Dropped before forwarding: the upstream never sees it.
        proxy.set_plan(FaultPlan::seeded(1).drop_before(1.0));
        let mut client = TcpStream::connect(addr).unwrap();
        let answer = exchange(&mut client, "{\"a\":5}");
        assert!(matches!(answer, Ok(None) | Err(_)), "{answer:?}");

        let stats = proxy.stats();
        assert_eq!(
            (
                stats.total.requests,
                stats.total.passed,
                stats.total.throttled,
                stats.total.partial_batches,
                stats.total.dropped_after,
                stats.total.dropped_before
            ),
            (5, 1, 1, 1, 1, 1)
        );
        assert_eq!(stats.operation("SendMessageBatch").requests, 5);
        assert_eq!(
            served.join().unwrap(),
            3,
            "pass, partial and drop-after reached it"
        );

        // An idle connection must not keep the proxy alive.
        let _idle = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(proxy);
        assert_eq!(gauge.load(Ordering::SeqCst), 0, "every thread joined");
        assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
    }
}
