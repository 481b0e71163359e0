//! HTTP/2 to clients through real sockets: the `h2` crate's client over
//! TLS (ALPN `h2`) and over plain TCP (h2c by prior knowledge), each
//! stream served by the HTTP/1.1 engine towards loopback members; bodies
//! both ways past the flow-control windows, chunked answers, the stream
//! limit, rapid reset, CONNECT, oversized heads and the drain's GOAWAY.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use weir_core::model::{Protocol, Scheduler};

use crate::https::{bound, connect, https_topology, Ca};
use crate::support::*;

/// A member that answers with the request body and, in `x-seen-*`
/// fields, what reached it; `/hold` waits for `release` first. Counts
/// the requests it saw.
async fn echo_backend(release: Arc<Semaphore>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (release, count) = (release.clone(), count.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (release, count) = (release.clone(), count.clone());
                    async move {
                        count.fetch_add(1, Ordering::SeqCst);
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .map(|v| v.to_str().unwrap_or("?").to_owned())
                                .unwrap_or_default()
                        };
                        let seen = [
                            ("x-seen-host", header("host")),
                            ("x-seen-forwarded-proto", header("x-forwarded-proto")),
                            ("x-seen-forwarded-for", header("x-forwarded-for")),
                            ("x-seen-cookie", header("cookie")),
                            ("x-seen-version", format!("{:?}", req.version())),
                        ];
                        if req.uri().path() == "/hold" {
                            let _permit = release.acquire().await.unwrap();
                        }
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let mut response = hyper::Response::new(Full::new(body));
                        for (name, value) in seen {
                            response.headers_mut().insert(name, value.parse().unwrap());
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// A member answering every request with a chunked body.
async fn chunked_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                    .await;
            });
        }
    });
    addr
}

type Client = h2::client::SendRequest<Bytes>;

/// An HTTP/2 client over `io`, its connection driven in the background;
/// the handle resolves with how the connection ended.
async fn h2_client<T>(io: T) -> (Client, tokio::task::JoinHandle<Result<(), h2::Error>>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, conn) = tokio::time::timeout(Duration::from_secs(5), h2::client::handshake(io))
        .await
        .expect("handshake in time")
        .expect("handshake");
    (client, tokio::spawn(conn))
}

/// Sends one request and reads the whole answer.
async fn send(
    client: &mut Client,
    request: Request<()>,
    body: Option<Bytes>,
) -> Result<(http::response::Parts, Bytes), h2::Error> {
    let mut ready = client.clone().ready().await?;
    let (response, mut stream) = ready.send_request(request, body.is_none())?;
    if let Some(body) = body {
        // Sent in pieces the windows allow.
        let mut rest = body;
        while !rest.is_empty() {
            stream.reserve_capacity(rest.len());
            let n = std::future::poll_fn(|cx| stream.poll_capacity(cx))
                .await
                .expect("capacity")?;
            let piece = rest.split_to(n.min(rest.len()));
            stream.send_data(piece, rest.is_empty())?;
        }
    }
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("answer in time")?;
    let (parts, mut recv) = response.into_parts();
    let mut body = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        body.extend_from_slice(&chunk);
    }
    Ok((parts, Bytes::from(body)))
}

fn get(uri: &str) -> Request<()> {
    Request::builder().uri(uri).body(()).unwrap()
}

fn field<'a>(parts: &'a http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

async fn h2c_listener(member: SocketAddr) -> (weir_dataplane::DataPlane, SocketAddr) {
    let dp = dataplane();
    let vip = vip();
    dp.apply(topology(
        1,
        vip,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("b", member, 1)],
        None,
        1000,
    ));
    (dp, vip)
}

#[tokio::test]
async fn alpn_h2_serves_streams_over_tls_as_https() {
    let ca = Ca::new();
    let site = ca.leaf("c1", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let (b, seen) = echo_backend(Arc::new(Semaphore::new(10_000))).await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;
    let tls = connect(vip, ca.client(&[b"h2", b"http/1.1"]), "app.test")
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (client, _conn) = h2_client(tls).await;
    let requests = (0..5).map(|i| {
        let mut client = client.clone();
        async move {
            let request = Request::builder()
                .uri(format!("https://app.test/{i}"))
                .header("cookie", "a=1")
                .header("cookie", "b=2")
                .header("x-forwarded-for", "6.6.6.6")
                .body(())
                .unwrap();
            send(&mut client, request, None).await.unwrap()
        }
    });
    for (parts, _) in futures_util::future::join_all(requests).await {
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(field(&parts, "x-seen-forwarded-proto"), "https");
        assert_eq!(field(&parts, "x-seen-forwarded-for"), "127.0.0.1");
        assert_eq!(field(&parts, "x-seen-host"), "app.test");
        assert_eq!(field(&parts, "x-seen-cookie"), "a=1; b=2");
        assert_eq!(field(&parts, "x-seen-version"), "HTTP/1.1");
        assert!(!field(&parts, "x-request-id").is_empty());
    }
    assert_eq!(seen.load(Ordering::SeqCst), 5);
    assert_eq!(
        listener_metric(&dp, "weir_listener_h2_connections_total"),
        Some(1)
    );
    assert_eq!(
        listener_metric(&dp, "weir_listener_h2_streams_total"),
        Some(5)
    );
}

#[tokio::test]
async fn h2c_by_prior_knowledge_carries_bodies_past_the_windows() {
    let (b, _) = echo_backend(Arc::new(Semaphore::new(10_000))).await;
    let (dp, vip) = h2c_listener(b).await;
    let (mut client, _conn) = h2_client(TcpStream::connect(vip).await.unwrap()).await;
    let (parts, body) = send(&mut client, get("http://app.test/"), None)
        .await
        .unwrap();
    assert_eq!(parts.status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(field(&parts, "x-seen-forwarded-proto"), "http");
    // 3 MiB each way: past the stream (256 KiB) and connection (1 MiB)
    // windows, so flow control must be released as the member reads.
    let big: Bytes = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    for length in [true, false] {
        let mut request = Request::builder()
            .method("POST")
            .uri("http://app.test/upload");
        if length {
            request = request.header("content-length", big.len());
        }
        let (parts, body) = send(&mut client, request.body(()).unwrap(), Some(big.clone()))
            .await
            .unwrap();
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(body.len(), big.len());
        assert!(body == big, "the echo differs");
    }
    assert_eq!(
        listener_metric(&dp, "weir_listener_h2_streams_total"),
        Some(3)
    );
    // HTTP/1.1 on the same listener is untouched.
    assert_eq!(tag_of_http(vip).await, "HTTP/1.1 200 OK");
}

/// The status line of one HTTP/1.1 GET.
async fn tag_of_http(vip: SocketAddr) -> String {
    let mut conn = TcpStream::connect(vip).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_string(&mut out)).await;
    out.lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_chunked_answer_arrives_as_data_frames() {
    let (dp, vip) = h2c_listener(chunked_backend().await).await;
    let (mut client, _conn) = h2_client(TcpStream::connect(vip).await.unwrap()).await;
    let (parts, body) = send(&mut client, get("http://app.test/"), None)
        .await
        .unwrap();
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(&body[..], b"hello world");
    assert!(parts.headers.get("transfer-encoding").is_none());
    drop(dp);
}

#[tokio::test]
async fn the_stream_limit_is_advertised_and_more_requests_queue() {
    let release = Arc::new(Semaphore::new(0));
    let (b, seen) = echo_backend(release.clone()).await;
    let (_dp, vip) = h2c_listener(b).await;
    let (client, _conn) = h2_client(TcpStream::connect(vip).await.unwrap()).await;
    // After one answer the server's SETTINGS have reached the client:
    // 100 concurrent streams.
    let mut probe = client.clone();
    let (parts, _) = send(&mut probe, get("http://app.test/"), None)
        .await
        .unwrap();
    assert_eq!(parts.status, StatusCode::OK);
    let mut ready = client.clone().ready().await.unwrap();
    assert_eq!(ready.current_max_send_streams(), 100);
    let (first, _) = ready
        .send_request(get("http://app.test/hold"), true)
        .unwrap();
    // 150 more: the client may have only 100 open, the rest wait.
    let more = (0..150).map(|i| {
        let mut client = client.clone();
        async move { send(&mut client, get(&format!("http://app.test/{i}")), None).await }
    });
    let answers = futures_util::future::join_all(more).await;
    assert!(answers
        .iter()
        .all(|a| matches!(a, Ok((p, _)) if p.status == StatusCode::OK)));
    release.add_permits(10_000);
    let first = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(seen.load(Ordering::SeqCst), 152);
}

#[tokio::test]
async fn rapid_reset_ends_the_connection_before_the_members_pay() {
    let release = Arc::new(Semaphore::new(0));
    let (b, seen) = echo_backend(release.clone()).await;
    let (_dp, vip) = h2c_listener(b).await;
    let (client, conn) = h2_client(TcpStream::connect(vip).await.unwrap()).await;
    let attack = async {
        for i in 0..5000 {
            let Ok(mut ready) = client.clone().ready().await else {
                return i;
            };
            let Ok((_response, mut stream)) =
                ready.send_request(get(&format!("http://app.test/hold?{i}")), false)
            else {
                return i;
            };
            stream.send_reset(h2::Reason::CANCEL);
            // Let the connection task write what is queued, as a real
            // attacker's socket would.
            tokio::task::yield_now().await;
        }
        5000
    };
    let sent = tokio::time::timeout(Duration::from_secs(30), attack)
        .await
        .expect("the attack loop is bounded");
    let ended = tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the server ends the connection")
        .unwrap();
    let error = ended.expect_err("ended by the server");
    // GOAWAY(ENHANCE_YOUR_CALM), or the close right behind it reached the
    // client while it was still writing.
    assert!(
        error.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) || error.is_io(),
        "{error:?} after {sent} resets"
    );
    release.add_permits(10_000);
    let reached = seen.load(Ordering::SeqCst);
    assert!(reached < 500, "{reached} member requests for {sent} resets");
}

#[tokio::test]
async fn resetting_streams_the_members_took_is_cut_short_too() {
    // Each stream reaches the member before its reset: h2's own cap on
    // streams reset before they were accepted does not see these.
    let release = Arc::new(Semaphore::new(0));
    let (b, seen) = echo_backend(release.clone()).await;
    let (_dp, vip) = h2c_listener(b).await;
    let (client, conn) = h2_client(TcpStream::connect(vip).await.unwrap()).await;
    let mut resets = 0;
    for i in 0..400 {
        let Ok(mut ready) = client.clone().ready().await else {
            break;
        };
        let Ok((_response, mut stream)) =
            ready.send_request(get(&format!("http://app.test/hold?{i}")), true)
        else {
            break;
        };
        let reached = eventually(Duration::from_secs(5), async || {
            seen.load(Ordering::SeqCst) > i || conn.is_finished()
        })
        .await;
        assert!(reached, "stream {i} never reached the member");
        if conn.is_finished() {
            break;
        }
        stream.send_reset(h2::Reason::CANCEL);
        resets += 1;
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the server ends the connection")
        .unwrap();
    let error = ended.expect_err("ended by the server");
    assert!(
        error.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) || error.is_io(),
        "{error:?}"
    );
    // The budget (100) and the streams in flight when it ran out.
    assert!(resets <= 110, "{resets} resets taken");
    release.add_permits(10_000);
}

#[tokio::test]
async fn connect_and_oversized_heads_are_refused() {
    let (b, seen) = echo_backend(Arc::new(Semaphore::new(10_000))).await;
    let (_dp, vip) = h2c_listener(b).await;
    let (mut client, _conn) = h2_client(TcpStream::connect(vip).await.unwrap()).await;
    let connect = Request::builder()
        .method("CONNECT")
        .uri("app.test:443")
        .body(())
        .unwrap();
    let (parts, _) = send(&mut client, connect, None).await.unwrap();
    assert_eq!(parts.status, StatusCode::NOT_IMPLEMENTED);
    // 150 fields: within the header list size, past `max_headers` (100).
    let mut many = Request::builder().uri("http://app.test/");
    for i in 0..150 {
        many = many.header(format!("x-f{i}"), "v");
    }
    let (parts, _) = send(&mut client, many.body(()).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(parts.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // Past the advertised header list size: refused by h2 itself, the
    // stream or the whole connection, never served.
    let huge = Request::builder()
        .uri("http://app.test/")
        .header("x-big", "v".repeat(64 * 1024))
        .body(())
        .unwrap();
    let refused = send(&mut client, huge, None).await;
    assert!(
        !matches!(&refused, Ok((p, _)) if p.status == StatusCode::OK),
        "{refused:?}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_stopped_listener_sends_goaway_and_lets_streams_finish() {
    let release = Arc::new(Semaphore::new(0));
    let (b, _) = echo_backend(release.clone()).await;
    let (dp, vip) = h2c_listener(b).await;
    let (mut client, conn) = h2_client(TcpStream::connect(vip).await.unwrap()).await;
    let mut ready = client.clone().ready().await.unwrap();
    let (held, _) = ready
        .send_request(get("http://app.test/hold"), true)
        .unwrap();
    // The held request reached the member before the listener stops.
    let (parts, _) = send(&mut client, get("http://app.test/"), None)
        .await
        .unwrap();
    assert_eq!(parts.status, StatusCode::OK);
    dp.apply(Arc::new(weir_core::topology::Topology {
        revision: 2,
        ..Default::default()
    }));
    // GOAWAY reached the client: new streams are refused...
    let refused = async {
        loop {
            if send(&mut client, get("http://app.test/"), None)
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("new streams refused after the stop");
    // ...while the one in flight finishes.
    release.add_permits(10_000);
    let held = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held stream answered")
        .unwrap();
    assert_eq!(held.status(), StatusCode::OK);
    let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
    assert!(ended.is_ok(), "the connection closed after its streams");
}
