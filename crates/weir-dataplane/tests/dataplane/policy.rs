//! A listener's own policy through real sockets: the client networks it
//! allows (Octavia `allowed_cidrs`) and its timeouts (Octavia's
//! `timeout_client_data`, `timeout_member_connect`, `timeout_member_data`).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use weir_core::model::*;

use crate::support::*;

/// Connects to `vip` from the loopback address `source`; the backend's tag
/// line, or `None` when the connection is refused, reset or closed first.
pub(crate) async fn tag_from(source: &str, vip: SocketAddr) -> Option<String> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(vip))
        .await
        .ok()?
        .ok()?;
    let mut line = String::new();
    let mut reader = BufReader::new(stream);
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .ok()?
        .ok()?;
    (n > 0).then(|| line.trim().to_owned())
}

/// A listener on `vip` with one backend, changed by `change`.
pub(crate) fn one_backend(
    vip: SocketAddr,
    protocol: Protocol,
    (id, addr): (&str, SocketAddr),
    change: impl Fn(&mut weir_core::topology::ListenerSpec),
) -> std::sync::Arc<weir_core::topology::Topology> {
    with_listener(
        topology(
            1,
            vip,
            protocol,
            Scheduler::Wrr,
            vec![backend(id, addr, 1)],
            None,
            1000,
        ),
        change,
    )
}

pub(crate) fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_clients_outside_the_allowed_networks_never_reach_a_backend() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    dp.apply(one_backend(v, Protocol::Tcp, ("a", a), |l| {
        l.allowed_cidrs = nets(&["127.0.0.2/32"]);
    }));
    assert_eq!(tag_from("127.0.0.2", v).await.as_deref(), Some("a"));
    assert_eq!(tag_from("127.0.0.1", v).await, None, "outside the list");
    assert_eq!(tag_from("127.0.0.3", v).await, None, "outside the list");
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(2));
    // Refused before a backend was chosen: no connection counted to it.
    assert_eq!(metric(&dp, "weir_backend_connections_total", "a"), Some(1));
    // A change applies to the next connection.
    let mut widened = (*one_backend(v, Protocol::Tcp, ("a", a), |l| {
        l.allowed_cidrs = nets(&["127.0.0.0/8"]);
    }))
    .clone();
    widened.revision = 2;
    dp.apply(std::sync::Arc::new(widened));
    assert_eq!(tag_from("127.0.0.1", v).await.as_deref(), Some("a"));
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(2));
}

/// An HTTP backend that answers every request with `200 ok`.
async fn ok_backend() -> SocketAddr {
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
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.clear();
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A backend that reads a request and never answers (bounded).
async fn silent_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await;
                let _ = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await;
            });
        }
    });
    addr
}

/// Sends one request from `source` and reads the whole answer (bounded).
async fn http_from(source: &str, vip: SocketAddr, request: &str) -> String {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let Ok(mut stream) = socket.connect(vip).await else {
        return String::new();
    };
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut seen)).await;
    String::from_utf8_lossy(&seen).into_owned()
}

const GET: &str = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_clients_outside_the_allowed_networks_get_no_answer() {
    let dp = dataplane();
    let ok = ok_backend().await;
    let v = vip();
    dp.apply(one_backend(v, Protocol::Http, ("ok", ok), |l| {
        l.allowed_cidrs = nets(&["127.0.0.2/31"])
    }));
    assert!(http_from("127.0.0.3", v, GET)
        .await
        .starts_with("HTTP/1.1 200"));
    assert_eq!(http_from("127.0.0.1", v, GET).await, "");
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(1));
    assert_eq!(metric(&dp, "weir_backend_connections_total", "ok"), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_from_outside_the_allowed_networks_open_no_flow() {
    let dp = dataplane();
    let (a, _ta) = udp_backend("a").await;
    let v = vip();
    dp.apply(one_backend(v, Protocol::Udp, ("a", a), |l| {
        l.allowed_cidrs = nets(&["127.0.0.2/32"])
    }));
    let ask = |socket: UdpSocket, text: &'static str| async move {
        socket.send_to(text.as_bytes(), v).await.unwrap();
        let mut buf = [0u8; 256];
        let limit = if text == "in" {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(300)
        };
        tokio::time::timeout(limit, socket.recv_from(&mut buf))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let inside = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    assert_eq!(ask(inside, "in").await.as_deref(), Some("a:in"));
    let outside = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(ask(outside, "out").await, None);
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tcp_connection_closes_at_the_backend_timeout_when_shorter() {
    // The data plane's idle timeout is 15 minutes; the listener's backend
    // timeout alone closes the connection.
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    dp.apply(one_backend(v, Protocol::Tcp, ("a", a), |l| {
        l.backend_timeout_ms = Some(400)
    }));
    let (_, mut conn) = open(v).await;
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            echo(&mut conn, &format!("m{i}")).await,
            Some(format!("m{i}")),
            "a busy connection stays open"
        );
    }
    assert!(
        closed_within(&mut conn, Duration::from_secs(5)).await,
        "closed once silent for the backend timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_listener_waits_for_a_backend_as_long_as_it_says() {
    // The data plane's response timeout is 60 s; the listener's is 300 ms.
    let dp = dataplane();
    let silent = silent_backend().await;
    let v = vip();
    dp.apply(one_backend(v, Protocol::Http, ("silent", silent), |l| {
        l.backend_timeout_ms = Some(300)
    }));
    let post = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let answer = http_from("127.0.0.1", v, post).await;
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer:?}");
    assert!(
        answer.contains("did not answer within 300 ms"),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_client_is_closed_at_the_listeners_client_timeout() {
    // The data plane keeps idle keep-alive clients 60 s; this listener 300 ms.
    let dp = dataplane();
    let ok = ok_backend().await;
    let v = vip();
    dp.apply(one_backend(v, Protocol::Http, ("ok", ok), |l| {
        l.idle_timeout_ms = Some(300)
    }));
    let mut conn = BufReader::new(TcpStream::connect(v).await.unwrap());
    conn.get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 64];
    while !answer.ends_with(b"\r\n\r\nok") {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    assert!(
        closed_within(&mut conn, Duration::from_secs(5)).await,
        "the idle keep-alive connection is closed"
    );
}

/// A backend whose accept queue is full: a listening socket with a backlog
/// of zero holding one connection it never accepts, so the kernel drops
/// the SYNs of every further connect and they hang until timed out.
async fn unreachable_backend() -> (SocketAddr, TcpStream, TcpListener) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let queued = TcpStream::connect(addr).await.unwrap();
    (addr, queued, listener)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_connects_give_up_at_the_listeners_connect_timeout() {
    // The data plane waits a minute for a connect; the listener 200 ms.
    let dp = dataplane_with(|c| c.connect_timeout = Duration::from_secs(60));
    let (full, _queued, _listener) = unreachable_backend().await;
    // Whether this kernel drops SYNs on a full queue (the premise).
    let probe = tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(full)).await;
    if probe.is_ok() {
        eprintln!("skipped: this kernel completes connects to a full accept queue");
        return;
    }
    let v = vip();
    dp.apply(one_backend(v, Protocol::Http, ("full", full), |l| {
        l.connect_timeout_ms = Some(200)
    }));
    // Bounded well under the data plane's own minute: only the listener's
    // timeout can answer in time.
    let answer = tokio::time::timeout(Duration::from_secs(20), http_from("127.0.0.1", v, GET))
        .await
        .expect("answered at the listener's connect timeout, not the data plane's");
    assert!(answer.starts_with("HTTP/1.1 50"), "{answer:?}");
    assert!(metric(&dp, "weir_backend_connect_failures_total", "full").unwrap_or(0) >= 1);
}
