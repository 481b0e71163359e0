//! Latency histograms through real sockets: a request through an HTTP
//! listener lands in the listener's request-duration buckets, and each
//! connection the data plane opens to a member in the member's
//! connect-duration histogram. Only lower bounds are asserted (a reply
//! held back 300 ms cannot be counted under 0.25 s), never how fast
//! anything was.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_core::model::{Protocol, Scheduler};
use weir_dataplane::DataPlane;

use crate::support::*;

/// How long the backend holds back its answer to `/slow`.
const SLOW: Duration = Duration::from_millis(300);

/// A keep-alive HTTP backend answering `ok`, after [`SLOW`] for `/slow`;
/// counts the connections it accepted.
async fn timed_backend() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                // At most a few requests per connection in this test.
                for _ in 0..16 {
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head: Vec<u8> = seen.drain(..end).collect();
                    if head.starts_with(b"GET /slow") {
                        tokio::time::sleep(SLOW).await;
                    }
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if stream.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

/// One keep-alive GET of `path` on `conn`; the reply's status line.
async fn get(conn: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !seen.ends_with(b"\r\n\r\nok") && !seen.ends_with(b"\n") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed mid-reply");
            seen.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&seen).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

/// `{family}{labels}` sample values, e.g. `("…_bucket", "listener=\"listener\",le=\"0.25\"")`.
fn sample(dp: &DataPlane, family: &str, labels: &str) -> f64 {
    let mut text = String::new();
    dp.render_metrics(&mut text);
    let prefix = format!("{family}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_land_in_the_listeners_latency_buckets_and_connects_in_the_backends() {
    let dp = dataplane();
    let (addr, accepted) = timed_backend().await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("a", addr, 1)],
        None,
        1000,
    ));
    let family = "weir_listener_request_duration_seconds";
    let bucket = |le: &str| {
        sample(
            &dp,
            &format!("{family}_bucket"),
            &format!("listener=\"listener\",le=\"{le}\""),
        )
    };
    assert_eq!(bucket("+Inf"), 0.0, "nothing counted before a request");

    let mut conn = TcpStream::connect(v).await.unwrap();
    assert_eq!(get(&mut conn, "/fast").await, "HTTP/1.1 200 OK");
    assert_eq!(get(&mut conn, "/slow").await, "HTTP/1.1 200 OK");

    let count = sample(&dp, &format!("{family}_count"), "listener=\"listener\"");
    assert_eq!(count, 2.0);
    assert_eq!(bucket("+Inf"), 2.0);
    // The slow answer took at least 300 ms: it is in no bucket below.
    assert!(bucket("0.25") <= 1.0, "slow request counted under 0.25 s");
    assert!(
        bucket("0.00025") <= bucket("0.25"),
        "buckets are cumulative"
    );
    let sum = sample(&dp, &format!("{family}_sum"), "listener=\"listener\"");
    assert!(
        sum >= SLOW.as_secs_f64(),
        "sum {sum} < the slow reply's wait"
    );

    // One connect per connection the backend accepted (the second
    // request reused the idle one), each counted once.
    let connects = sample(
        &dp,
        "weir_backend_connect_duration_seconds_count",
        "backend=\"a\"",
    );
    let accepted = accepted.load(Ordering::SeqCst) as f64;
    assert!(accepted >= 1.0);
    assert_eq!(connects, accepted);
    assert_eq!(
        sample(
            &dp,
            "weir_backend_connect_duration_seconds_bucket",
            "backend=\"a\",le=\"+Inf\""
        ),
        accepted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirs_own_502_is_counted_and_a_refused_connect_is_not_a_connect_time() {
    let dp = dataplane();
    // A port nothing listens on: the connect is refused.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("dead", dead, 1)],
        None,
        1000,
    ));
    let mut conn = TcpStream::connect(v).await.unwrap();
    let status = get(&mut conn, "/").await;
    assert!(status.starts_with("HTTP/1.1 502"), "{status}");
    let count = sample(
        &dp,
        "weir_listener_request_duration_seconds_count",
        "listener=\"listener\"",
    );
    assert_eq!(count, 1.0, "Weir's own answer is a response head too");
    assert_eq!(
        sample(
            &dp,
            "weir_backend_connect_duration_seconds_count",
            "backend=\"dead\""
        ),
        0.0
    );
    assert!(metric(&dp, "weir_backend_connect_failures_total", "dead").unwrap() >= 1);
}
