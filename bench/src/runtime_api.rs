//! A minimal Lambda Runtime API on 127.0.0.1, enough for one cold start: the first
//! `GET /2018-06-01/runtime/invocation/next` gets the event (with the `Lambda-Runtime-*`
//! headers `lambda_runtime` reads), `POST …/{id}/response` and `…/{id}/error` are answered
//! `202`, and every later `next` is held until the server is dropped (the function is then idle,
//! as it is between invocations on Lambda). Each step is reported, time-stamped, on a channel.
//!
//! HTTP/1.1 with keep-alive (the runtime's client pools its connection), `Content-Length` and
//! chunked bodies. One thread per connection: a cold start opens one or two.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PREFIX: &str = "/2018-06-01/runtime";
/// Largest request body accepted (a function's response is a small JSON summary).
const MAX_BODY: usize = 16 * 1024 * 1024;

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
    /// The event was written to the function.
    Served { at: Instant },
    /// `POST …/response` was read.
    Response { at: Instant, body: Vec<u8> },
    /// `POST …/error` or `POST …/init/error` was read.
    Error { path: String, body: Vec<u8> },
}

/// The server; stops accepting and releases held requests when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    reports: Receiver<Report>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    invocation: Invocation,
    nexts: std::sync::Mutex<usize>,
    stop: Arc<AtomicBool>,
    reports: Sender<Report>,
}

impl RuntimeApi {
    pub fn start(invocation: Invocation) -> io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (tx, reports) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            invocation,
            nexts: std::sync::Mutex::new(0),
            stop: Arc::clone(&stop),
            reports: tx,
        });
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    // A connection error only ends that connection; the run notices the
                    // missing report.
                    let _ = serve(stream, &shared);
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            reports,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// `host:port`, what `AWS_LAMBDA_RUNTIME_API` is set to.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The next report, if one comes within `timeout`.
    pub fn report(&self, timeout: Duration) -> Result<Report, RecvTimeoutError> {
        self.reports.recv_timeout(timeout)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor blocked in accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

/// One HTTP request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads one request; `None` when the client closed the connection.
pub fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad request line {line:?}")));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed inside the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(invalid(format!("bad header {header:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .parse()
                .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = if chunked {
        read_chunked(r)?
    } else {
        if length > MAX_BODY {
            return Err(invalid(format!("body of {length} bytes")));
        }
        let mut body = vec![0; length];
        r.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request { method, path, body }))
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(invalid("chunked body too large"));
        }
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        line.clear();
        r.read_line(&mut line)?; // the CRLF after the chunk
    }
}

fn respond(
    w: &mut impl Write,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let accepted = br#"{"status":"OK"}"#;
    while let Some(request) = read_request(&mut reader)? {
        let at = Instant::now();
        let path = request.path.strip_prefix(PREFIX).unwrap_or(&request.path);
        match (request.method.as_str(), path) {
            ("GET", "/invocation/next") => {
                let n = match shared.nexts.lock() {
                    Ok(mut n) => {
                        *n += 1;
                        *n
                    }
                    Err(_) => return Err(invalid("poisoned")),
                };
                let _ = shared.reports.send(Report::Next { n, at });
                if n > 1 {
                    // Idle, as between invocations: hold the request until the run is over.
                    while !shared.stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    return Ok(());
                }
                let inv = &shared.invocation;
                let deadline = inv.deadline_ms.to_string();
                respond(
                    &mut writer,
                    "200 OK",
                    &[
                        ("Lambda-Runtime-Aws-Request-Id", &inv.request_id),
                        ("Lambda-Runtime-Deadline-Ms", &deadline),
                        ("Lambda-Runtime-Invoked-Function-Arn", &inv.function_arn),
                        (
                            "Lambda-Runtime-Trace-Id",
                            "Root=1-00000000-000000000000000000000000;Sampled=0",
                        ),
                    ],
                    &inv.event,
                )?;
                let _ = shared.reports.send(Report::Served { at: Instant::now() });
            }
            ("POST", p) if p.starts_with("/invocation/") && p.ends_with("/response") => {
                let _ = shared.reports.send(Report::Response {
                    at,
                    body: request.body,
                });
                respond(&mut writer, "202 Accepted", &[], accepted)?;
            }
            ("POST", p) if p.ends_with("/error") => {
                let _ = shared.reports.send(Report::Error {
                    path: request.path.clone(),
                    body: request.body,
                });
                respond(&mut writer, "202 Accepted", &[], accepted)?;
            }
            _ => respond(&mut writer, "404 Not Found", &[], b"{}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use std::io::Read;

    use super::*;

    fn parse(raw: &[u8]) -> io::Result<Option<Request>> {
        read_request(&mut BufReader::new(raw))
    }

    #[test]
    fn a_content_length_body_is_read_exactly() {
        let r = parse(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET").unwrap();
        assert_eq!(
            r,
            Some(Request {
                method: "POST".into(),
                path: "/x".into(),
                body: b"hello".to_vec()
            })
        );
    }

    #[test]
    fn a_chunked_body_is_reassembled() {
        let raw = b"POST /r HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse(raw).unwrap().unwrap().body, b"abcde");
    }

    #[test]
    fn a_closed_connection_is_none_and_garbage_is_an_error() {
        assert_eq!(parse(b"").unwrap(), None);
        assert!(parse(b"GET\r\n\r\n").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n").is_err());
    }

    fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
        stream.write_all(request).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        head + &String::from_utf8_lossy(&body)
    }

    #[test]
    fn the_first_next_gets_the_event_the_response_is_accepted_and_the_second_next_is_held() {
        let api = RuntimeApi::start(Invocation {
            request_id: "req-1".into(),
            function_arn: "arn:aws:lambda:us-east-1:111122223333:function:f".into(),
            deadline_ms: 42,
            event: br#"{"k":1}"#.to_vec(),
        })
        .unwrap();
        let mut s = TcpStream::connect(api.address()).unwrap();
        let next = exchange(
            &mut s,
            b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(next.starts_with("HTTP/1.1 200 OK"), "{next}");
        assert!(
            next.contains("Lambda-Runtime-Aws-Request-Id: req-1"),
            "{next}"
        );
        assert!(next.contains("Lambda-Runtime-Deadline-Ms: 42"), "{next}");
        assert!(next.ends_with(r#"{"k":1}"#), "{next}");
        let posted = exchange(
            &mut s,
            b"POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        );
        assert!(posted.starts_with("HTTP/1.1 202"), "{posted}");
        s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
            .unwrap();

        let t = Duration::from_secs(5);
        assert!(matches!(api.report(t), Ok(Report::Next { n: 1, .. })));
        assert!(matches!(api.report(t), Ok(Report::Served { .. })));
        assert!(matches!(api.report(t), Ok(Report::Response { body, .. }) if body == b"{}"));
        assert!(matches!(api.report(t), Ok(Report::Next { n: 2, .. })));
        // Held: no answer arrives while the server lives.
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut byte = [0u8; 1];
        assert!(s.read(&mut byte).is_err(), "the second next must be held");
    }
}
