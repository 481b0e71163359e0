//! HTTP limits and policies through a real listener: the head timeout
//! (slowloris), keep-alive and body idle timeouts, the head size and field
//! count caps (431), HTTP/1.0 clients, and what is never sent twice.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_core::model::{Protocol, Scheduler};
use weir_dataplane::http::HttpSettings;
use weir_dataplane::{Config, DataPlane};

use crate::smuggling::recording_backend;
use crate::support::*;

/// A loopback data plane with these HTTP settings.
fn dataplane_with(http: HttpSettings) -> DataPlane {
    DataPlane::new(Config {
        egress_allow: vec!["127.0.0.0/8".parse().unwrap()],
        bind_retry: Duration::from_millis(50),
        http,
        ..Config::default()
    })
}

fn short_timeouts() -> HttpSettings {
    HttpSettings {
        head_timeout: Duration::from_millis(300),
        keepalive_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..HttpSettings::default()
    }
}

fn serve(dp: &DataPlane, backend_addr: SocketAddr) -> SocketAddr {
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("b", backend_addr, 1)],
        None,
        1000,
    ));
    v
}

/// Reads until EOF (or error), at most `limit`; `None` if still open then.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut seen = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut seen)).await {
        Ok(_) => Some(String::from_utf8_lossy(&seen).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_a_byte_at_a_time_gets_408_and_a_close() {
    let dp = dataplane_with(short_timeouts());
    let (addr, recording) = recording_backend().await;
    let v = serve(&dp, addr);
    let mut stream = TcpStream::connect(v).await.unwrap();
    // One byte every 20 ms, at most 150 of them (3 s): a head that never
    // ends.
    let trickle = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: {}", "a".repeat(200));
    for byte in trickle.as_bytes().iter().take(150) {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = read_until_closed(&mut stream, Duration::from_secs(3))
        .await
        .expect("the connection is closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(
        recording.lock().unwrap().is_empty(),
        "nothing reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_connections_are_closed() {
    let dp = dataplane_with(short_timeouts());
    let (addr, _) = recording_backend().await;
    let v = serve(&dp, addr);
    // Never a byte: closed after the head timeout.
    let mut silent = TcpStream::connect(v).await.unwrap();
    let answer = read_until_closed(&mut silent, Duration::from_secs(3)).await;
    assert_eq!(answer.as_deref(), Some(""), "closed quietly");
    // One request, then idle: closed after the keep-alive timeout.
    let mut idle = TcpStream::connect(v).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut idle, Duration::from_secs(3))
        .await
        .expect("the idle connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(!answer.contains("HTTP/1.1 408"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_gets_408_and_both_sides_close() {
    let dp = dataplane_with(short_timeouts());
    let (addr, recording) = recording_backend().await;
    let v = serve(&dp, addr);
    let mut stream = TcpStream::connect(v).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(3))
        .await
        .expect("the connection is closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    let closed = eventually(Duration::from_secs(3), async || {
        let all = recording.lock().unwrap();
        !all.is_empty() && all.iter().all(|r| r.closed)
    })
    .await;
    assert!(
        closed,
        "the backend connection is closed with the partial body"
    );
}

async fn status_for(v: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(v).await.unwrap();
    let _ = stream.write_all(request).await;
    let _ = stream.shutdown().await;
    read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_past_the_caps_get_431() {
    let dp = dataplane_with(HttpSettings::default());
    let (addr, recording) = recording_backend().await;
    let v = serve(&dp, addr);
    // 20 KiB of one field, past the 16 KiB default.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20 * 1024)
    );
    let answer = status_for(v, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    // 150 small fields, past the 100 default.
    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-F{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = status_for(v, many.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    assert!(recording.lock().unwrap().is_empty());
    // Within the caps: served.
    let answer = status_for(v, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");

    // The cap is a setting.
    let dp = dataplane_with(HttpSettings {
        max_head_bytes: 2048,
        ..HttpSettings::default()
    });
    let v = serve(&dp, addr);
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(3000)
    );
    let answer = status_for(v, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
}

/// A backend that answers a chunked `hello world` with keep-alive.
async fn chunked_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;x=1\r\nhello \r\n5\r\nworld\r\n0\r\nX-T: 1\r\n\r\n";
                        if stream.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_clients_never_get_chunked_responses() {
    let dp = dataplane_with(HttpSettings::default());
    let v = serve(&dp, chunked_backend().await);
    for request in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(v).await.unwrap();
        stream.write_all(request).await.unwrap();
        // No half-close: the body must end with Weir's close.
        let answer = read_until_closed(&mut stream, Duration::from_secs(5))
            .await
            .expect("the body ends with the connection");
        let (head, body) = answer.split_once("\r\n\r\n").expect(&answer);
        assert!(head.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(
            !head.to_ascii_lowercase().contains("transfer-encoding"),
            "{answer:?}"
        );
        assert!(head.contains("Connection: close"), "{answer:?}");
        assert_eq!(body, "hello world");
    }
    // An HTTP/1.1 client gets the chunks, re-encoded.
    let mut stream = TcpStream::connect(v).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        answer.ends_with("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\nX-T: 1\r\n\r\n"),
        "{answer:?}"
    );
}

/// A backend that answers the first request of each connection and, on
/// the second, reads it and closes without a word (a keep-alive race seen
/// from the proxy). Records every request line it reads.
async fn second_request_dropping_backend() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                let mut served = 0;
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|n| n.parse::<usize>().ok())
                            .unwrap_or(0);
                        if pending.len() < end + 4 + length {
                            break;
                        }
                        pending.drain(..end + 4 + length);
                        log.lock()
                            .unwrap()
                            .push(head.lines().next().unwrap_or("").to_owned());
                        served += 1;
                        if served == 2 {
                            return;
                        }
                        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if stream.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// Sends `request` on `stream` and reads one whole answer (every answer
/// here carries a `Content-Length`).
pub async fn one_request(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Every answer here carries a Content-Length; read one whole answer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await else {
            return text;
        };
        if n == 0 {
            return text;
        }
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_resent_after_a_reused_connection_fails() {
    let dp = dataplane_with(HttpSettings::default());
    let (addr, seen) = second_request_dropping_backend().await;
    let v = serve(&dp, addr);
    let requests: [(&[u8], &str, u16, usize); 3] = [
        // Idempotent and bodiless: sent again once, on a fresh connection.
        (b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n", "GET /g", 200, 2),
        (b"POST /p HTTP/1.1\r\nHost: x\r\n\r\n", "POST /p", 502, 1),
        (
            b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody",
            "POST /b",
            502,
            1,
        ),
    ];
    for (request, line, status, copies) in requests {
        seen.lock().unwrap().clear();
        // A first request leaves an idle connection in the pool; the next
        // one reuses it and the backend drops it after reading.
        let mut stream = TcpStream::connect(v).await.unwrap();
        let first = one_request(&mut stream, b"GET /warm HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(first.starts_with("HTTP/1.1 200"), "{first:?}");
        let answer = one_request(&mut stream, request).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{line}: {answer:?}"
        );
        let got = seen.lock().unwrap().clone();
        let sent = got.iter().filter(|l| l.starts_with(line)).count();
        assert_eq!(sent, copies, "{line} reached the backend: {got:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_chain_is_appended_to_when_the_policy_says_so() {
    let dp = dataplane_with(HttpSettings {
        forwarded_for: weir_dataplane::http::ForwardedFor::Append,
        ..HttpSettings::default()
    });
    let (addr, recording) = recording_backend().await;
    let v = serve(&dp, addr);
    let mut stream = TcpStream::connect(v).await.unwrap();
    let client = stream.local_addr().unwrap().ip();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let got = String::from_utf8_lossy(&recording.lock().unwrap()[0].bytes).into_owned();
    assert!(
        got.contains(&format!(
            "\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2, {client}\r\n"
        )),
        "{got:?}"
    );
    assert!(got.contains("\r\nX-Real-IP: 10.0.0.1\r\n"), "{got:?}");
    assert_eq!(got.matches("X-Forwarded-For").count(), 1, "{got:?}");
}

/// The headers a listener adds are its own choice (Octavia's
/// `insert_headers`): here the port but not the address; and a client's
/// own `X-Forwarded-*` claims never reach the backend, on or off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_adds_the_forwarded_headers_it_is_told_to() {
    let dp = dataplane();
    let (addr, recording) = recording_backend().await;
    let v = vip();
    dp.apply(with_listener(
        topology(
            1,
            v,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("b", addr, 1)],
            None,
            1000,
        ),
        |l| {
            l.forwarded_headers = weir_core::model::ForwardedHeaders {
                forwarded_for: false,
                forwarded_proto: true,
                forwarded_port: true,
                client_cert: Default::default(),
            }
        },
    ));
    let mut stream = TcpStream::connect(v).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Port: 1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let got = String::from_utf8_lossy(&recording.lock().unwrap()[0].bytes).into_owned();
    assert!(
        got.contains(&format!("\r\nX-Forwarded-Port: {}\r\n", v.port())),
        "{got:?}"
    );
    assert!(got.contains("\r\nX-Forwarded-Proto: http\r\n"), "{got:?}");
    assert!(!got.contains("X-Forwarded-For"), "{got:?}");
    assert!(
        !got.contains("6.6.6.6"),
        "the client's claim is dropped: {got:?}"
    );
    assert_eq!(got.matches("X-Forwarded-Port").count(), 1, "{got:?}");
}

/// An HTTP listener that redirects to HTTPS answers every request with a
/// 301 to the same host and path on the HTTPS port, and never reaches a
/// backend; a Host that cannot be written into a URL is 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirecting_listener_answers_301_to_https_and_forwards_nothing() {
    let dp = dataplane();
    let (addr, recording) = recording_backend().await;
    let v = vip();
    dp.apply(with_listener(
        topology(
            1,
            v,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("b", addr, 1)],
            None,
            1000,
        ),
        |l| l.redirect_https_port = Some(8443),
    ));
    let mut stream = TcpStream::connect(v).await.unwrap();
    stream
        .write_all(b"GET /a/b?q=1 HTTP/1.1\r\nHost: www.example.test:80\r\n\r\nGET /next HTTP/1.1\r\nHost: evil@x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 301 Moved Permanently\r\n"),
        "{answer:?}"
    );
    assert!(
        answer.contains("\r\nLocation: https://www.example.test:8443/a/b?q=1\r\n"),
        "{answer:?}"
    );
    // The keep-alive connection carried on to the second request.
    assert!(answer.contains("HTTP/1.1 400"), "{answer:?}");
    assert!(recording.lock().unwrap().is_empty(), "nothing is forwarded");
}

/// An HTTP/1.0 client that names no host (`openssl s_time -www`, old
/// monitors) is forwarded with the listener's own authority, so the
/// backend answers it and keeps the connection for the next client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http10_request_without_host_reaches_the_backend_with_the_listeners_authority() {
    let dp = dataplane_with(HttpSettings::default());
    let (addr, recording) = recording_backend().await;
    let v = serve(&dp, addr);
    for _ in 0..3 {
        let mut stream = TcpStream::connect(v).await.unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    }
    let got = recording.lock().unwrap().clone();
    // One upstream connection carried the three requests.
    assert_eq!(got.len(), 1, "{got:?}");
    let bytes = String::from_utf8_lossy(&got[0].bytes).into_owned();
    let host = format!("\r\nHost: {}:{}\r\n", v.ip(), v.port());
    assert_eq!(bytes.matches(&host).count(), 3, "{bytes:?}");
}
