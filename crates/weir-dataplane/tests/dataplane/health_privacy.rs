//! What a failed probe tells: a coarse reason, no errno text, no latency
//! of a refused probe — so health checks cannot map a network's ports.

use std::time::Duration;

use weir_core::model::{CheckKind, HealthCheck, Protocol, Scheduler};
use weir_core::status::{BackendState, FailureReason};

use crate::support::*;

fn check(kind: CheckKind) -> HealthCheck {
    HealthCheck {
        kind,
        interval_ms: 50,
        timeout_ms: 1000,
        rise: 1,
        fall: 1,
        port: None,
    }
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> std::net::SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_probe_reads_connection_failed_with_no_latency() {
    let dp = dataplane();
    let v = vip();
    let closed = closed_port();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("closed", closed, 1)],
        Some(check(CheckKind::Tcp)),
        1000,
    ));
    assert!(
        eventually(Duration::from_secs(5), async || dp
            .backend_live(&"closed".into())
            .unwrap()
            .state
            == BackendState::Unhealthy)
        .await
    );
    let live = dp.backend_live(&"closed".into()).unwrap();
    assert_eq!(
        live.reason.as_deref(),
        Some(FailureReason::ConnectionFailed.as_str()),
        "no errno text such as \"Connection refused (os error 111)\""
    );
    assert!(metric(&dp, "weir_backend_checks_total", "closed").is_some_and(|n| n > 0));
    assert_eq!(
        metric(&dp, "weir_backend_check_latency_microseconds", "closed"),
        Some(0),
        "a refused probe's latency is not recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_http_answer_reads_unexpected_response() {
    let dp = dataplane();
    let v = vip();
    // The TCP backend answers with its tag, not HTTP.
    let (addr, _task) = tcp_backend("not-http").await;
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("not-http", addr, 1)],
        Some(check(CheckKind::Http {
            path: "/health".into(),
            expected: vec![(200, 299)],
            request: Default::default(),
        })),
        1000,
    ));
    assert!(
        eventually(Duration::from_secs(5), async || dp
            .backend_live(&"not-http".into())
            .unwrap()
            .state
            == BackendState::Unhealthy)
        .await
    );
    assert_eq!(
        dp.backend_live(&"not-http".into())
            .unwrap()
            .reason
            .as_deref(),
        Some(FailureReason::UnexpectedResponse.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_without_checks_reads_connection_failed() {
    let dp = dataplane();
    let v = vip();
    let closed = closed_port();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("gone", closed, 1)],
        None,
        1000,
    ));
    assert_eq!(tag_of(v).await, None, "nothing to serve the client");
    let live = dp.backend_live(&"gone".into()).unwrap();
    assert_eq!(live.state, BackendState::Unhealthy, "ejected");
    assert_eq!(
        live.reason.as_deref(),
        Some(FailureReason::ConnectionFailed.as_str())
    );
}
