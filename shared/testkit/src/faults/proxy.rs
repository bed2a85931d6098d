//! The proxy: a hyper HTTP/1.1 server on 127.0.0.1, run by a tokio runtime of its own on a
//! thread of its own (so any caller, async or not, can start and drop it), that draws a fault
//! for each request, injects it, and forwards what reaches moto.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::codec::request_key;
use super::plan::draw;
use super::protocol::{self, Call};
use super::{Fault, FaultPlan, FaultStats};
use crate::MotoServer;
use crate::loopback::LoopbackServer;

/// How long the proxy waits for moto's answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of moto; stops when dropped.
pub struct FaultProxy {
    shared: Arc<Shared>,
    endpoint: String,
    /// Dropped last: ends the accept loop and every connection.
    _server: LoopbackServer,
}

struct Shared {
    upstream: SocketAddr,
    /// The proxy's own address.
    own: SocketAddr,
    plan: Mutex<FaultPlan>,
    /// How many times each request key was seen.
    seen: Mutex<HashMap<u64, u64>>,
    stats: Mutex<FaultStats>,
    receipt_handles: Mutex<Vec<String>>,
    /// The proxy's thread and connection tasks still running.
    live: Arc<AtomicUsize>,
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
        let live = Arc::new(AtomicUsize::new(0));
        let alive = Alive::new(&live);
        // The state names the proxy's own address, known once the server is bound.
        let (tx, rx) = oneshot::channel::<Arc<Shared>>();
        let server = LoopbackServer::start("fault-proxy", move |listener, stopped| async move {
            let _alive = alive;
            if let Ok(shared) = rx.await {
                accept(shared, listener, stopped).await;
            }
        })?;
        let own = server.addr();
        let shared = Arc::new(Shared {
            upstream,
            own,
            plan: Mutex::new(plan),
            seen: Mutex::new(HashMap::new()),
            stats: Mutex::new(FaultStats::default()),
            receipt_handles: Mutex::new(Vec::new()),
            live,
        });
        let _ = tx.send(shared.clone());
        Ok(FaultProxy {
            shared,
            endpoint: format!("http://{own}"),
            _server: server,
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give the SDK.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SDK configuration pointed at the proxy: the same settings as
    /// [`MotoServer::sdk_config`].
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::sdk_config_for(&self.endpoint).await
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

    /// The number of the proxy's thread and connection tasks still running: 0 once it is
    /// dropped.
    pub fn live_threads(&self) -> Arc<AtomicUsize> {
        self.shared.live.clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts a thread or task as alive while it exists.
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

impl Shared {
    /// The fault of this sighting of the request, and bits to place it with.
    fn decide(&self, call: &Call, body: &[u8]) -> (Fault, u64) {
        let key = request_key(
            &call.service,
            &call.operation,
            body,
            &[&self.upstream, &self.own],
        );
        let occurrence = {
            let mut seen = lock(&self.seen);
            let n = seen.entry(key).or_insert(0);
            *n += 1;
            *n - 1
        };
        let fault = lock(&self.plan).decide(&call.operation, key, occurrence);
        (fault, draw(key, occurrence, 0x5eed))
    }
}

/// Serves each connection on a task of its own (HTTP/1.1 keep-alive) until `stop` fires or
/// its sender is dropped.
async fn accept(shared: Arc<Shared>, listener: TcpListener, mut stop: oneshot::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let alive = Alive::new(&shared.live);
        let shared = shared.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let service = service_fn(|request| handle(shared.clone(), request));
            // Ends when the client closes the connection or a fault drops it.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One request, with its fault injected and counted. An `Err` makes hyper close the connection
/// without an answer.
async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> io::Result<Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
    let request = Request::from_parts(parts, body);
    let call = protocol::classify(&request);
    let (fault, bits) = shared.decide(&call, request.body());
    let count = |fault, failed| lock(&shared.stats).add(&call.operation, fault, failed);
    let dropped = || Err(io::Error::other("fault injected: connection dropped"));
    match fault {
        Fault::Throttle | Fault::InternalError => {
            count(fault, 0);
            return Ok(protocol::error_response(&call, fault, bits).map(Full::new));
        }
        Fault::DropBefore => {
            count(fault, 0);
            return dropped();
        }
        Fault::Pass | Fault::DropAfter | Fault::PartialBatch => {}
    }
    let mut response = match forward(shared.upstream, request).await {
        Ok(response) => response,
        Err(e) => {
            count(Fault::Pass, 0);
            return Ok(bad_gateway(&e).map(Full::new));
        }
    };
    let ok = response.status() == StatusCode::OK;
    // Messages received are in flight whether or not the answer gets through.
    if ok && call.operation == "ReceiveMessage" {
        let handles = protocol::receipt_handles_of(response.body());
        lock(&shared.receipt_handles).extend(handles);
    }
    if fault == Fault::DropAfter {
        count(fault, 0);
        return dropped();
    }
    let rewritten = (ok && fault == Fault::PartialBatch)
        .then(|| protocol::fail_some_entries(response.body(), bits))
        .flatten();
    match rewritten {
        Some((body, failed)) => {
            count(Fault::PartialBatch, failed);
            *response.body_mut() = body.into();
        }
        None => count(Fault::Pass, 0),
    }
    Ok(response.map(Full::new))
}

/// Sends the request to moto on a connection of its own and reads the whole answer.
async fn forward(upstream: SocketAddr, mut request: Request<Bytes>) -> io::Result<Response<Bytes>> {
    strip_hop_by_hop(request.headers_mut());
    let exchange = async {
        let stream = TcpStream::connect(upstream).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(connection);
        let response = sender
            .send_request(request.map(Full::new))
            .await
            .map_err(io::Error::other)?;
        let (mut parts, body) = response.into_parts();
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body))
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))?
}

/// Removes the headers that describe one hop, not the message (hyper writes its own framing:
/// a rewritten batch answer has a new length).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
        "expect",
        "transfer-encoding",
        "content-length",
    ] {
        headers.remove(name);
    }
}

fn bad_gateway(e: &io::Error) -> Response<Bytes> {
    protocol::answer(
        StatusCode::BAD_GATEWAY,
        &[
            ("content-type", "text/plain".to_owned()),
            ("connection", "close".to_owned()),
        ],
        format!("fault proxy: moto did not answer: {e}"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use hyper::client::conn::http1::{SendRequest, handshake};
    use tokio::io::AsyncReadExt;

    use super::*;

    /// A tiny upstream answering every request with a fixed batch answer; counts the requests.
    async fn fixed_upstream() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(AtomicUsize::new(0));
        let counter = served.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                let service = service_fn(move |_| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"Successful":[{"Id":"0"},{"Id":"1"}],"Failed":[]}"#;
                    async move { Ok::<_, io::Error>(Response::new(Full::new(Bytes::from(body)))) }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        (endpoint, served)
    }

    async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        sender
    }

    /// The status and body of one exchange; `None` if the connection closed instead.
    async fn exchange(
        client: &mut SendRequest<Full<Bytes>>,
        body: &'static str,
    ) -> Option<(StatusCode, String)> {
        let request = Request::post("/")
            .header("x-amz-target", "AmazonSQS.SendMessageBatch")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        client.ready().await.ok()?;
        let response = client.send_request(request).await.ok()?;
        let status = response.status();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_proxy_relays_injects_counts_and_stops_when_dropped() {
        let (upstream, served) = fixed_upstream().await;
        let proxy = FaultProxy::start_for(&upstream, FaultPlan::none()).unwrap();
        let addr: SocketAddr = proxy.endpoint()["http://".len()..].parse().unwrap();
        let gauge = proxy.live_threads();

        // Pass, on a kept-alive connection, then a throttle on the same connection.
        let mut client = connect(addr).await;
        let (status, body) = exchange(&mut client, r#"{"a":1}"#).await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("Successful"), "{body}");
        proxy.set_plan(FaultPlan::seeded(1).throttle(1.0));
        let (status, body) = exchange(&mut client, r#"{"a":2}"#).await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("ThrottlingException"), "{body}");

        // A partial batch: forwarded, answer rewritten.
        proxy.set_plan(FaultPlan::seeded(1).partial_batch(1.0));
        let (_, body) = exchange(&mut client, r#"{"a":3}"#).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(!v["Failed"].as_array().unwrap().is_empty(), "{body}");

        // Dropped after forwarding: the upstream served it, the client gets no answer.
        proxy.set_plan(FaultPlan::seeded(1).drop_after(1.0));
        assert_eq!(exchange(&mut client, r#"{"a":4}"#).await, None);

        // Dropped before forwarding: the upstream never sees it.
        proxy.set_plan(FaultPlan::seeded(1).drop_before(1.0));
        let mut client = connect(addr).await;
        assert_eq!(exchange(&mut client, r#"{"a":5}"#).await, None);

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
            served.load(Ordering::SeqCst),
            3,
            "pass, partial and drop-after reached it"
        );

        // An idle connection must not keep the proxy alive.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(proxy);
        assert_eq!(gauge.load(Ordering::SeqCst), 0, "thread and tasks ended");
        let read = idle.read(&mut [0u8; 1]).await;
        assert!(matches!(read, Ok(0) | Err(_)), "closed: {read:?}");
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed"
        );
    }
}
