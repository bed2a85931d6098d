//! A minimal Lambda Runtime API on 127.0.0.1, enough for one cold start: the first
//! `GET /2018-06-01/runtime/invocation/next` gets the event (with the `Lambda-Runtime-*`
//! headers `lambda_runtime` reads), `POST …/{id}/response` and `…/{id}/error` are answered
//! `202`, and every later `next` is held until the server is dropped (the function is then idle,
//! as it is between invocations on Lambda). Each step is reported, time-stamped, on a channel.
//!
//! A hyper HTTP/1.1 server on a [`LoopbackServer`]: dropping it ends every connection.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use triage_testkit::loopback::LoopbackServer;

const PREFIX: &str = "/2018-06-01/runtime";

/// The one invocation the server hands out.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub function_arn: String,
    /// Epoch milliseconds.
    pub deadline_ms: u64,
    pub event: Vec<u8>,
}

/// What the function did, in order, each with the moment the server saw it.
#[derive(Debug)]
pub enum Report {
    /// The n-th `next` request (1-based) was read.
    Next { n: usize, at: Instant },
    /// The event was handed to the connection to write.
    Served { at: Instant },
    /// `POST …/response` was read.
    Response { at: Instant, body: Vec<u8> },
    /// `POST …/error` or `POST …/init/error` was read.
    Error { path: String, body: Vec<u8> },
}

/// The server; stops and releases held requests when dropped.
pub struct RuntimeApi {
    reports: Receiver<Report>,
    server: LoopbackServer,
}

struct Shared {
    invocation: Invocation,
    nexts: AtomicUsize,
    reports: Sender<Report>,
}

impl RuntimeApi {
    pub fn start(invocation: Invocation) -> io::Result<RuntimeApi> {
        let (tx, reports) = mpsc::channel();
        let shared = Arc::new(Shared {
            invocation,
            nexts: AtomicUsize::new(0),
            reports: tx,
        });
        let server = LoopbackServer::start("runtime-api", move |listener, stopped| {
            accept(shared, listener, stopped)
        })?;
        Ok(RuntimeApi { reports, server })
    }

    /// `host:port`, what `AWS_LAMBDA_RUNTIME_API` is set to.
    pub fn address(&self) -> String {
        self.server.addr().to_string()
    }

    /// The next report, if one comes within `timeout`.
    pub fn report(&self, timeout: Duration) -> Result<Report, RecvTimeoutError> {
        self.reports.recv_timeout(timeout)
    }
}

/// Serves each connection (the runtime's client keeps one alive) until `stop` fires.
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
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(|request| handle(Arc::clone(&shared), request));
            // A connection error only ends that connection; the run notices the missing report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> io::Result<Response<Full<Bytes>>> {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(io::Error::other)?
        .to_bytes()
        .to_vec();
    let path = parts.uri.path();
    let report = |report| {
        let _ = shared.reports.send(report);
    };
    let json = Response::builder().header("content-type", "application/json");
    let accepted = || Full::from(r#"{"status":"OK"}"#);
    let response = match (&parts.method, path.strip_prefix(PREFIX).unwrap_or(path)) {
        (&Method::GET, "/invocation/next") => {
            let n = shared.nexts.fetch_add(1, Ordering::SeqCst) + 1;
            report(Report::Next { n, at });
            if n > 1 {
                // Idle, as between invocations: held until the server is dropped.
                std::future::pending::<()>().await;
            }
            let inv = &shared.invocation;
            let response = json
                .header("lambda-runtime-aws-request-id", &inv.request_id)
                .header("lambda-runtime-deadline-ms", inv.deadline_ms)
                .header("lambda-runtime-invoked-function-arn", &inv.function_arn)
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000;Sampled=0",
                )
                .body(Full::from(inv.event.clone()));
            report(Report::Served { at: Instant::now() });
            response
        }
        (&Method::POST, p) if p.starts_with("/invocation/") && p.ends_with("/response") => {
            report(Report::Response { at, body });
            json.status(StatusCode::ACCEPTED).body(accepted())
        }
        (&Method::POST, p) if p.ends_with("/error") => {
            let path = path.to_owned();
            report(Report::Error { path, body });
            json.status(StatusCode::ACCEPTED).body(accepted())
        }
        _ => json.status(StatusCode::NOT_FOUND).body(Full::from("{}")),
    };
    response.map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use hyper::client::conn::http1::{SendRequest, handshake};

    use super::*;

    async fn send(
        client: &mut SendRequest<Full<Bytes>>,
        method: Method,
        path: &str,
        body: &'static str,
    ) -> Response<Bytes> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{PREFIX}{path}"))
            .body(Full::from(body))
            .unwrap();
        client.ready().await.unwrap();
        let (parts, body) = client.send_request(request).await.unwrap().into_parts();
        Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_first_next_gets_the_event_the_response_is_accepted_and_the_second_next_is_held() {
        let api = RuntimeApi::start(Invocation {
            request_id: "req-1".into(),
            function_arn: "arn:aws:lambda:us-east-1:111122223333:function:f".into(),
            deadline_ms: 42,
            event: br#"{"k":1}"#.to_vec(),
        })
        .unwrap();
        let stream = tokio::net::TcpStream::connect(api.address()).await.unwrap();
        let (mut client, connection) = handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);

        let next = send(&mut client, Method::GET, "/invocation/next", "").await;
        assert_eq!(next.status(), StatusCode::OK);
        assert_eq!(next.headers()["lambda-runtime-aws-request-id"], "req-1");
        assert_eq!(next.headers()["lambda-runtime-deadline-ms"], "42");
        assert_eq!(next.body().as_ref(), br#"{"k":1}"#);
        let posted = send(
            &mut client,
            Method::POST,
            "/invocation/req-1/response",
            "{}",
        )
        .await;
        assert_eq!(posted.status(), StatusCode::ACCEPTED);
        let held = tokio::time::timeout(
            Duration::from_millis(200),
            send(&mut client, Method::GET, "/invocation/next", ""),
        )
        .await;
        assert!(held.is_err(), "the second next must be held");

        let t = Duration::from_secs(5);
        assert!(matches!(api.report(t), Ok(Report::Next { n: 1, .. })));
        assert!(matches!(api.report(t), Ok(Report::Served { .. })));
        assert!(matches!(api.report(t), Ok(Report::Response { body, .. }) if body == b"{}"));
        assert!(matches!(api.report(t), Ok(Report::Next { n: 2, .. })));
    }
}
