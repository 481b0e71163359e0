//! Gray failures: backends that accept a connection and then fail the
//! request (reset, close, garbage, silence) while a health check would pass
//! them. Idempotent requests must route around them and they must be
//! ejected; a request that may have been acted on is never sent twice.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_core::model::{Protocol, Scheduler};
use weir_dataplane::http::HttpSettings;
use weir_dataplane::pool::Ejection;
use weir_dataplane::DataPlane;

use crate::smuggling::{recording_backend, Recording};
use crate::support::*;

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Reads the request and resets the connection (SO_LINGER 0).
    Reset,
    /// Reads the request and closes its side without a word.
    HalfOpen,
    /// Answers bytes that are not HTTP.
    Garbage,
    /// Reads the request and never answers.
    Stall,
}

/// A backend with one fault; counts the requests it read.
async fn faulty_backend(fault: Fault) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                match fault {
                    Fault::Reset => {
                        // Linger 0 makes the close an RST; it cannot block.
                        #[allow(deprecated)]
                        let _ = stream.set_linger(Some(Duration::ZERO));
                    }
                    Fault::HalfOpen => {
                        let _ = stream.shutdown().await;
                        let _ = stream.read(&mut buf).await;
                    }
                    Fault::Garbage => {
                        let _ = stream.write_all(b"\x16\x03\x01 not http\r\n\r\n").await;
                    }
                    Fault::Stall => {
                        // Until the proxy gives up on it (bounded).
                        let _ =
                            tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
                                .await;
                    }
                }
            });
        }
    });
    (addr, requests)
}

/// Requests whose line starts with `prefix` that a recording backend read.
fn requests_seen(recording: &Recording, prefix: &str) -> usize {
    let all = recording.lock().unwrap();
    all.iter()
        .map(|connection| {
            // A body runs straight into the next request line.
            String::from_utf8_lossy(&connection.bytes)
                .matches(prefix)
                .count()
        })
        .sum()
}

fn gray_dataplane() -> DataPlane {
    dataplane_with(|config| {
        config.http = HttpSettings {
            response_timeout: Duration::from_millis(200),
            ..HttpSettings::default()
        };
        config.ejection = Ejection {
            after_failures: 3,
            period: Duration::from_secs(30),
        };
    })
}

/// Sends `request` on its own connection; the status and the whole answer.
async fn exchange(vip: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(vip).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut seen)).await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_requests_route_around_gray_failures_and_eject_them() {
    let dp = gray_dataplane();
    let faults = [Fault::Reset, Fault::HalfOpen, Fault::Garbage, Fault::Stall];
    let mut backends = Vec::new();
    let mut counters = Vec::new();
    for (i, fault) in faults.into_iter().enumerate() {
        let (addr, count) = faulty_backend(fault).await;
        backends.push(backend(&format!("bad{i}"), addr, 1));
        counters.push((fault, count));
    }
    let (good, recording) = recording_backend().await;
    backends.push(backend("good", good, 1));
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        backends,
        None,
        1000,
    ));

    let requests = 40;
    for i in 0..requests {
        let (status, text) = exchange(
            v,
            &format!("GET /r{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 200, "request {i} failed: {text:?}");
    }
    assert_eq!(
        requests_seen(&recording, "GET /r"),
        requests,
        "every request reached the healthy backend once"
    );
    for (i, (fault, count)) in counters.iter().enumerate() {
        // Three failures in a row eject a backend; it gets nothing after.
        assert_eq!(count.load(Ordering::SeqCst), 3, "{fault:?} backend");
        let failed = metric(
            &dp,
            "weir_backend_failed_responses_total",
            &format!("bad{i}"),
        );
        assert_eq!(failed, Some(3), "{fault:?} backend's failed responses");
    }
    assert_eq!(
        metric(&dp, "weir_backend_failed_responses_total", "good"),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_may_have_been_acted_on_goes_to_one_backend_only() {
    let dp = gray_dataplane();
    let (bad, bad_count) = faulty_backend(Fault::HalfOpen).await;
    let (good, recording) = recording_backend().await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("bad", bad, 1), backend("good", good, 1)],
        None,
        1000,
    ));
    let mut refused = 0;
    for i in 0..6 {
        let request = format!(
            "POST /p{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
        );
        let (status, text) = exchange(v, &request).await;
        match status {
            200 => {}
            502 => refused += 1,
            _ => panic!("POST {i}: {text:?}"),
        }
    }
    // Round robin sends every other POST to the bad backend until it is
    // ejected: each of those is answered 502, none is sent again.
    assert_eq!(refused, 3);
    assert_eq!(bad_count.load(Ordering::SeqCst), 3);
    assert_eq!(requests_seen(&recording, "POST /p"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_backend_is_a_504_after_the_response_timeout() {
    let dp = gray_dataplane();
    let (stall, _) = faulty_backend(Fault::Stall).await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("stall", stall, 1)],
        None,
        1000,
    ));
    let started = Instant::now();
    let (status, text) = exchange(
        v,
        "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 504, "{text:?}");
    assert!(text.contains("did not answer within 200 ms"), "{text:?}");
    // Well before the backend's own 10 s: the proxy's timeout answered.
    assert!(started.elapsed() < Duration::from_secs(5));
}
