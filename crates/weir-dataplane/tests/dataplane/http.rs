//! HTTP: balancing with keep-alive, forwarding headers, pooled-connection
//! retry, and the 503 when nothing can serve.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weir_core::model::{Protocol, Scheduler};

use crate::http_limits::one_request;
use crate::support::*;

/// An HTTP backend answering `tag` and echoing the forwarding headers.
pub(crate) async fn http_backend(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let mut response = Response::new(Full::new(Bytes::from(tag)));
                    let h = response.headers_mut();
                    h.insert(
                        "x-seen-forwarded-for",
                        header("x-forwarded-for").parse().unwrap(),
                    );
                    h.insert(
                        "x-seen-forwarded-proto",
                        header("x-forwarded-proto").parse().unwrap(),
                    );
                    h.insert("x-seen-request-id", header("x-request-id").parse().unwrap());
                    Ok::<_, Infallible>(response)
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A backend that answers one request per connection, advertising
/// keep-alive, and then closes the socket: every pooled connection to it
/// goes stale.
async fn one_shot_backend(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{tag}",
                    tag.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

type TestClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn get(client: &TestClient, vip: SocketAddr) -> (u16, String, hyper::HeaderMap) {
    let uri = format!("http://{vip}/path?q=1").parse().unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), client.get(uri))
        .await
        .unwrap()
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_requests_are_balanced_and_forwarded() {
    let dp = dataplane();
    let a = http_backend("a").await;
    let b = http_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 3)],
        None,
        1000,
    ));
    let client = client();
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let (status, body, headers) = get(&client, v).await;
        assert_eq!(status, 200);
        *counts.entry(body).or_insert(0) += 1;
        assert_eq!(headers["x-seen-forwarded-for"], "127.0.0.1");
        assert_eq!(headers["x-seen-forwarded-proto"], "http");
        assert_eq!(
            headers["x-seen-request-id"], headers["x-request-id"],
            "one id, both ways"
        );
    }
    assert_eq!(counts.get("a"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("b"), Some(&30), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_pooled_connections_are_retried() {
    let dp = dataplane();
    let a = one_shot_backend("a").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        1000,
    ));
    let client = client();
    for _ in 0..20 {
        let (status, body, _) = get(&client, v).await;
        assert_eq!((status, body.as_str()), (200, "a"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_backend_means_a_clear_503_and_a_dead_one_a_retry() {
    let dp = dataplane();
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![],
        None,
        1000,
    ));
    let client = client();
    let (status, body, _) = get(&client, v).await;
    assert_eq!(status, 503);
    assert!(body.contains("no healthy backend"), "{body}");

    let live = http_backend("live").await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    dp.apply(topology(
        2,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("dead", dead, 1), backend("live", live, 1)],
        None,
        1000,
    ));
    for _ in 0..10 {
        let (status, body, _) = get(&client, v).await;
        assert_eq!((status, body.as_str()), (200, "live"));
    }
}

/// A response body of unknown length, so hyper sends it chunked.
struct Chunks(std::collections::VecDeque<Bytes>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// An HTTP backend that answers with the request's method, body length and
/// body, as a chunked response.
async fn echo_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let method = req.method().to_string();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let text =
                        format!("{method} {} {}", body.len(), String::from_utf8_lossy(&body));
                    let (a, b) = text.split_at(text.len() / 2);
                    let chunks =
                        Chunks([Bytes::from(a.to_owned()), Bytes::from(b.to_owned())].into());
                    Ok::<_, Infallible>(Response::new(chunks))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Sends raw bytes on one connection and reads `responses` answers back.
async fn raw_exchange(vip: SocketAddr, request: &[u8], until: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(vip).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&seen).contains(until) && tokio::time::Instant::now() < deadline
    {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Decodes a chunked body.
fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        text = &rest[n + 2..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_relayed_by_length_and_chunked_and_pipelined() {
    let dp = dataplane();
    let echo = echo_backend().await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("echo", echo, 1)],
        None,
        1000,
    ));
    // A length-delimited POST, a chunked POST and a HEAD, pipelined on one
    // connection; the chunked responses are relayed as chunks.
    let request = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n\
GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(v, request, "GET 0 ").await;
    let bodies: Vec<String> = answer
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|response| dechunk(response.split_once("\r\n\r\n").unwrap().1))
        .collect();
    assert_eq!(
        bodies,
        ["POST 5 hello", "POST 7 abcdefg", "GET 0 "],
        "{answer}"
    );
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 3, "{answer}");
    assert!(
        answer.contains("connection: close") || answer.contains("Connection: close"),
        "the last answer closes: {answer}"
    );
    // Heads count with bodies, each way: what went to the member is at
    // least the three request heads and bodies as the client sent them
    // (less the one header the engine may rewrite), and what came back at
    // least the three answers' bodies plus a status line each.
    let sent = metric(&dp, "weir_backend_bytes_sent_total", "echo").unwrap();
    let received = metric(&dp, "weir_backend_bytes_received_total", "echo").unwrap();
    let request_bytes = request.len() as u64;
    assert!(
        sent >= request_bytes - 32 && sent < request_bytes * 4,
        "sent {sent} for a {request_bytes}-byte request stream"
    );
    let bodies_len: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    assert!(
        received >= bodies_len + 3 * "HTTP/1.1 200 OK\r\n".len() as u64,
        "received {received}: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_400() {
    let dp = dataplane();
    let echo = echo_backend().await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("echo", echo, 1)],
        None,
        1000,
    ));
    let answer = raw_exchange(v, b"NOT A REQUEST\r\n\r\n", "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_is_answered_before_the_body() {
    let dp = dataplane();
    let echo = echo_backend().await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("echo", echo, 1)],
        None,
        1000,
    ));
    let mut stream = tokio::net::TcpStream::connect(v).await.unwrap();
    stream
        .write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // The client holds its body back until it is told to continue.
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&rest);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        dechunk(answer.split_once("\r\n\r\n").unwrap().1),
        "POST 5 hello"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_closes_when_its_listener_stops() {
    let dp = dataplane();
    let (addr, _) = crate::smuggling::recording_backend().await;
    let v = vip();
    let serving = |revision| {
        topology(
            revision,
            v,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("b", addr, 1)],
            None,
            1000,
        )
    };
    dp.apply(serving(1));
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut old = tokio::net::TcpStream::connect(v).await.unwrap();
    let first = one_request(&mut old, request).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first:?}");
    // The load balancer stops and starts again (Octavia admin_state_up,
    // native stop/start): the listener is a new one.
    dp.apply(std::sync::Arc::new(weir_core::topology::Topology {
        revision: 2,
        listeners: Default::default(),
        pools: Default::default(),
    }));
    dp.apply(serving(3));
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), old.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "the idle connection of the stopped listener closes without a word: {closed:?} {:?}",
        String::from_utf8_lossy(&rest)
    );
    // The old socket may still hold the port for a moment (its aborted
    // accept task drops it when the runtime next polls it): the new
    // listener binds on a retry, which `DataPlane::run` makes every
    // `bind_retry` and this test, driving `apply` by hand, makes itself.
    let mut new = None;
    for _ in 0..100 {
        if let Ok(stream) = tokio::net::TcpStream::connect(v).await {
            new = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        dp.retry_failed_binds();
    }
    let mut new = new.expect("the restarted listener accepts");
    for _ in 0..3 {
        let answer = one_request(&mut new, request).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    }
}
