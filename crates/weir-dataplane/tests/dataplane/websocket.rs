//! WebSocket through HTTP and HTTPS listeners: a real client and server
//! (tokio-tungstenite) over loopback, and the hostile cases of the upgrade
//! handshake with raw sockets on both sides: a body on the handshake, a
//! 101 nobody asked for, a 101 to another protocol, Upgrade on HTTP/1.0 or
//! to h2c, bytes pipelined behind the handshake, and the idle timeout.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;
use weir_core::model::{Protocol, Scheduler};

use crate::https::{bound, connect, https_topology, Ca};
use crate::support::*;

/// Request heads a backend saw, lowercased.
type Seen = Arc<Mutex<Vec<String>>>;

/// A WebSocket echo server that records each handshake's head.
async fn ws_backend() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                // The callback's error type is tungstenite's, not ours.
                #[allow(clippy::result_large_err)]
                let callback = |req: &Request, res: Response| {
                    let mut head = String::new();
                    for (name, value) in req.headers() {
                        head.push_str(&format!(
                            "{}: {}\n",
                            name,
                            value.to_str().unwrap_or("?").to_ascii_lowercase()
                        ));
                    }
                    record.lock().unwrap().push(head);
                    Ok(res)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_text() || message.is_binary() {
                        if ws.send(message).await.is_err() {
                            return;
                        }
                    } else if message.is_close() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// Sends a text message and returns the echo.
async fn echo_over<S: AsyncRead + AsyncWrite + Unpin>(stream: S, host: &str) -> Vec<String> {
    let url = format!("ws://{host}/chat");
    let (mut ws, response) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::client_async(url, stream),
    )
    .await
    .expect("handshake in time")
    .expect("handshake");
    assert_eq!(response.status(), 101);
    let mut echoes = Vec::new();
    for text in ["hello", "a longer message \u{1F600}", &"x".repeat(100_000)] {
        ws.send(Message::text(text)).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("echo in time")
            .expect("a message")
            .expect("no error");
        echoes.push(reply.into_text().unwrap().to_string());
    }
    ws.close(None).await.unwrap();
    echoes
}

fn expected() -> Vec<String> {
    vec![
        "hello".into(),
        "a longer message \u{1F600}".into(),
        "x".repeat(100_000),
    ]
}

#[tokio::test]
async fn a_websocket_echoes_through_an_http_listener() {
    let dp = dataplane();
    let vip = vip();
    let (b, seen) = ws_backend().await;
    dp.apply(topology(
        1,
        vip,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("b", b, 1)],
        None,
        1000,
    ));
    let tcp = TcpStream::connect(vip).await.unwrap();
    assert_eq!(echo_over(tcp, "app.test").await, expected());
    let head = seen.lock().unwrap()[0].clone();
    assert!(head.contains("upgrade: websocket\n"), "{head}");
    assert!(head.contains("connection: upgrade\n"), "{head}");
    assert!(head.contains("x-forwarded-for: 127."), "{head}");
    assert!(head.contains("x-forwarded-proto: http\n"), "{head}");
    assert!(head.contains("sec-websocket-key: "), "{head}");
    assert_eq!(
        listener_metric(&dp, "weir_listener_upgrades_total"),
        Some(1)
    );
}

#[tokio::test]
async fn a_websocket_echoes_through_an_https_listener() {
    let ca = Ca::new();
    let site = ca.leaf("c1", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let (b, seen) = ws_backend().await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;
    let tls = connect(vip, ca.client(&[b"http/1.1"]), "app.test")
        .await
        .unwrap();
    assert_eq!(echo_over(tls, "app.test").await, expected());
    let head = seen.lock().unwrap()[0].clone();
    assert!(head.contains("x-forwarded-proto: https\n"), "{head}");
    assert_eq!(
        listener_metric(&dp, "weir_listener_upgrades_total"),
        Some(1)
    );
}

/// A backend that reads one request head per connection, hands it to
/// `seen`, and answers with `answer`; then echoes whatever follows.
async fn raw_backend(answer: &'static [u8]) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        record.lock().unwrap().push(head);
                        buf.drain(..end + 4);
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                        // Anything after the head (the tunnel, or a next
                        // request) is echoed back as it is.
                        if !buf.is_empty() && stream.write_all(&buf).await.is_err() {
                            return;
                        }
                        break;
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                loop {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&chunk[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

const SWITCH: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
const HANDSHAKE: &str = "GET /chat HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

async fn http_listener(answer: &'static [u8]) -> (weir_dataplane::DataPlane, SocketAddr, Seen) {
    let dp = dataplane();
    let vip = vip();
    let (b, seen) = raw_backend(answer).await;
    dp.apply(topology(
        1,
        vip,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("b", b, 1)],
        None,
        1000,
    ));
    (dp, vip, seen)
}

/// Everything the client reads until the connection closes or goes quiet
/// for a moment after `until` appeared.
async fn read_until(conn: &mut TcpStream, until: &str) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
            if String::from_utf8_lossy(&out).contains(until) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn an_upgrade_with_a_body_is_refused_before_the_backend() {
    let (_dp, vip, seen) = http_listener(SWITCH).await;
    for framing in [
        "Content-Length: 5\r\n\r\nhello",
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        let mut conn = TcpStream::connect(vip).await.unwrap();
        conn.write_all(format!("{HANDSHAKE}{framing}").as_bytes())
            .await
            .unwrap();
        let got = read_until(&mut conn, "\r\n\r\n").await;
        assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_101_to_a_request_that_did_not_upgrade_is_a_502() {
    let (dp, vip, seen) = http_listener(SWITCH).await;
    let mut conn = TcpStream::connect(vip).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\nnot-a-request")
        .await
        .unwrap();
    let got = read_until(&mut conn, "weir: ").await;
    assert!(got.starts_with("HTTP/1.1 502"), "{got}");
    assert!(!got.contains("HTTP/1.1 101"), "{got}");
    assert!(!got.contains("not-a-request"), "{got}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        listener_metric(&dp, "weir_listener_upgrades_total"),
        Some(0)
    );
}

#[tokio::test]
async fn a_101_to_another_protocol_is_a_502() {
    let (dp, vip, _seen) = http_listener(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    )
    .await;
    let mut conn = TcpStream::connect(vip).await.unwrap();
    conn.write_all(format!("{HANDSHAKE}\r\n").as_bytes())
        .await
        .unwrap();
    let got = read_until(&mut conn, "weir: ").await;
    assert!(got.starts_with("HTTP/1.1 502"), "{got}");
    assert_eq!(
        listener_metric(&dp, "weir_listener_upgrades_total"),
        Some(0)
    );
}

#[tokio::test]
async fn upgrade_on_http10_or_to_h2c_is_not_forwarded() {
    let (_dp, vip, seen) =
        http_listener(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
    for request in [
        "GET / HTTP/1.0\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n",
    ] {
        let mut conn = TcpStream::connect(vip).await.unwrap();
        conn.write_all(request.as_bytes()).await.unwrap();
        let got = read_until(&mut conn, "\r\n\r\nok").await;
        assert!(got.starts_with("HTTP/1.1 200"), "{request}: {got}");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    for head in seen.iter() {
        assert!(!head.contains("upgrade"), "{head}");
        assert!(!head.contains("http2-settings"), "{head}");
    }
}

#[tokio::test]
async fn bytes_pipelined_after_the_handshake_open_the_tunnel() {
    let (dp, vip, _seen) = http_listener(SWITCH).await;
    let mut conn = TcpStream::connect(vip).await.unwrap();
    // The first frame rides in the same segment as the handshake: it must
    // reach the member only after the 101, as the tunnel's first bytes.
    conn.write_all(format!("{HANDSHAKE}\r\nEARLY-BYTES").as_bytes())
        .await
        .unwrap();
    let got = read_until(&mut conn, "EARLY-BYTES").await;
    assert!(got.starts_with("HTTP/1.1 101"), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("upgrade: websocket"),
        "{got}"
    );
    assert!(got.ends_with("\r\n\r\nEARLY-BYTES"), "{got}");
    conn.write_all(b"later").await.unwrap();
    assert_eq!(read_until(&mut conn, "later").await, "later");
    assert_eq!(
        listener_metric(&dp, "weir_listener_upgrades_total"),
        Some(1)
    );
}

#[tokio::test]
async fn bytes_pipelined_after_a_refused_upgrade_are_the_next_request() {
    let (_dp, vip, seen) = http_listener(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
    )
    .await;
    let mut conn = TcpStream::connect(vip).await.unwrap();
    conn.write_all(
        format!("{HANDSHAKE}\r\nGET /next HTTP/1.1\r\nHost: app.test\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut got = String::new();
    for _ in 0..2 {
        if got.matches("HTTP/1.1 403").count() < 2 {
            got.push_str(&read_until(&mut conn, "\r\n\r\nno").await);
        }
    }
    assert_eq!(got.matches("HTTP/1.1 403").count(), 2, "{got}");
    assert!(!got.contains("HTTP/1.1 101"), "{got}");
    // The handshake's connection carried nothing after its head (the raw
    // backend would have echoed it); the pipelined request was served as
    // a request of its own.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].starts_with("get /chat "), "{seen:?}");
    assert!(seen[1].starts_with("get /next "), "{seen:?}");
}

#[tokio::test]
async fn an_idle_tunnel_is_closed_by_the_listener_timeout() {
    let dp = dataplane();
    let vip = vip();
    let (b, _seen) = raw_backend(SWITCH).await;
    let t = topology(
        1,
        vip,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("b", b, 1)],
        None,
        1000,
    );
    dp.apply(with_listener(t, |l| l.idle_timeout_ms = Some(200)));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    conn.write_all(format!("{HANDSHAKE}\r\n").as_bytes())
        .await
        .unwrap();
    let got = read_until(&mut conn, "\r\n\r\n").await;
    assert!(got.starts_with("HTTP/1.1 101"), "{got}");
    // Silent both ways: the tunnel closes (a bounded wait, not a timing).
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
}
